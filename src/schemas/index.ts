/** The wire contract (docs/wire-protocol.md) as Effect Schema, shared by the SDK and the sandbox. */
export * from "./ChunkedUpload.js"
export * from "./Common.js"
export * from "./DatasetVersion.js"
export * from "./GroundTruth.js"
export * from "./Model.js"
export * from "./Page.js"
export * from "./Params.js"
