/**
 * The `Workflows` namespace: programs composed from the SDK services. Each workflow module adds
 * its line here; `src/index.ts` re-exports this module as `Workflows` (and the COCO validator as
 * `Coco`).
 */
export * from "./Export.js"
export * from "./Manifest.js"
export * from "./Split.js"
