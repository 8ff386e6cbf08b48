/**
 * `synapse-ml/mcp`: the MCP server as a library. `Mcp.run` serves it (stdio or Streamable HTTP) on
 * the backend the environment chooses; `Mcp.serverLayer` builds it over a backend of the caller's;
 * `McpTool` is the shape of one tool and `McpServer` the adapter to the MCP SDK.
 *
 * ```ts
 * import { Mcp } from "synapse-ml/mcp"
 * ```
 */
export * as McpBackend from "./mcp/Backend.js"
export * as McpConfig from "./mcp/Config.js"
export * as Mcp from "./mcp/Main.js"
export * as McpServer from "./mcp/Server.js"
export * as McpTool from "./mcp/Tool.js"
