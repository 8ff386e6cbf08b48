/**
 * The public API of synapse-ml, the SDK: namespaces only, one per module. It loads neither the MCP
 * SDK nor SQLite; the MCP server is `synapse-ml/mcp` and the local sandbox `synapse-ml/sandbox`.
 *
 * ```ts
 * import { GroundTruths, Models, Synapse } from "synapse-ml"
 * ```
 */
export * as Logging from "./platform/Logging.js"
export * as Schemas from "./schemas/index.js"
export * as ChunkedUpload from "./services/ChunkedUpload.js"
export * as FileCache from "./services/FileCache.js"
export * as GroundTruths from "./services/GroundTruths.js"
export * as Models from "./services/Models.js"
export * as Pagination from "./services/Pagination.js"
export * as Synapse from "./services/Synapse.js"
export * as SynapseClient from "./services/SynapseClient.js"
export * as SynapseError from "./services/SynapseError.js"
export * as Version from "./services/Version.js"
export * as Coco from "./workflows/Coco.js"
export * as Workflows from "./workflows/index.js"
