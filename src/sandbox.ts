/**
 * `synapse-ml/sandbox`: the local Synapse-compatible backend (HTTP server on SQLite with demo data),
 * and `SandboxSdk.layer()`, which starts one and provides every SDK service over it, so any SDK
 * program runs with no account. Loads SQLite, never the MCP SDK.
 *
 * ```ts
 * import { Sandbox, SandboxSdk } from "synapse-ml/sandbox"
 * ```
 */
export * as Sandbox from "./sandbox/Sandbox.js"
export * as SandboxSdk from "./SandboxSdk.js"
