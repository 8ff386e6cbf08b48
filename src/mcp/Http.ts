/**
 * The Streamable HTTP transport, stateless: every POST to `/mcp` gets a fresh MCP server and SDK
 * transport, so no session state lives between requests and any number of clients can share the
 * process. Before the SDK sees a request, this module enforces what makes a local HTTP server safe
 * to run: the `Host` header must name this server (DNS-rebinding defence), a browser `Origin` must
 * be a local one, and a bearer token is required whenever a token is configured (always when
 * bound to a non-loopback address). Failures answer 403 / 401 with a JSON-RPC error body. The
 * client's `Authorization` header is consumed here and never reaches the Synapse client.
 */
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import { Effect, Redacted } from "effect"
import { timingSafeEqual } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import type { McpSettings } from "./Config.js"
import type { ServerFactory } from "./Server.js"

/** The path the MCP endpoint is served on. */
export const MCP_PATH = "/mcp"

/** A running HTTP transport. */
export interface HttpEndpoint {
  /** `http://host:port/mcp`, with the actual port (useful when 0 was asked for). */
  readonly url: string
  readonly port: number
  readonly host: string
}

const WILDCARDS = new Set(["0.0.0.0", "::", "[::]"])

const bracket = (host: string): string => (host.includes(":") && !host.startsWith("[") ? `[${host}]` : host)

/** The `Host` header values this server answers to. */
export const allowedHostHeaders = (settings: McpSettings, port: number): Set<string> => {
  const names = ["localhost", "127.0.0.1", "[::1]"]
  if (!WILDCARDS.has(settings.http.host)) names.push(bracket(settings.http.host))
  const out = new Set(names.map((n) => `${n}:${port}`.toLowerCase()))
  for (const extra of settings.http.allowedHosts) {
    const value = extra.toLowerCase()
    out.add(value.includes(":") && !value.startsWith("[") ? value : `${value}:${port}`)
    if (value.includes(":")) out.add(value)
  }
  return out
}

/** The `Origin` header values accepted (requests without an Origin, from non-browser clients, pass). */
export const allowedOrigins = (settings: McpSettings, port: number): Set<string> => {
  const out = new Set([`http://localhost:${port}`, `http://127.0.0.1:${port}`, `http://[::1]:${port}`])
  for (const origin of settings.http.allowedOrigins) out.add(origin.replace(/\/+$/, "").toLowerCase())
  return out
}

const reject = (res: http.ServerResponse, status: number, message: string, headers: Record<string, string> = {}) => {
  if (res.headersSent) return
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }))
}

const tokenMatches = (expected: Redacted.Redacted<string>, header: string | undefined): boolean => {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? "")
  if (match === null) return false
  const given = Buffer.from(match[1]!.trim())
  const wanted = Buffer.from(Redacted.value(expected))
  // Constant-time comparison, so response timing does not reveal how much of a guess was right.
  return given.length === wanted.length && timingSafeEqual(given, wanted)
}

/** The request handler: checks, then hands the request to a fresh stateless SDK transport. */
export const makeHandler = (factory: ServerFactory, settings: McpSettings, port: () => number) => {
  // The allowed sets depend only on the settings and the port, so they are built once per port
  // rather than on every request (the port is known only once listening has begun).
  let cachedPort = -1
  let hosts = new Set<string>()
  let origins = new Set<string>()
  return async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://localhost")
    if (url.pathname !== MCP_PATH && url.pathname !== `${MCP_PATH}/`) {
      return reject(res, 404, `Not found: the MCP endpoint is ${MCP_PATH}.`)
    }
    const current = port()
    if (current !== cachedPort) {
      hosts = allowedHostHeaders(settings, current)
      origins = allowedOrigins(settings, current)
      cachedPort = current
    }
    const host = (req.headers.host ?? "").toLowerCase()
    if (!hosts.has(host)) {
      return reject(
        res,
        403,
        `Forbidden: Host header ${
          JSON.stringify(req.headers.host ?? "")
        } is not allowed (set SYNAPSE_MCP_ALLOWED_HOSTS).`
      )
    }
    const origin = req.headers.origin
    if (origin !== undefined && !origins.has(origin.toLowerCase())) {
      return reject(
        res,
        403,
        `Forbidden: Origin ${JSON.stringify(origin)} is not allowed (set SYNAPSE_MCP_ALLOWED_ORIGINS).`
      )
    }
    if (settings.http.token !== undefined && !tokenMatches(settings.http.token, req.headers.authorization)) {
      return reject(res, 401, "Unauthorized: send Authorization: Bearer <SYNAPSE_MCP_HTTP_TOKEN>.", {
        "www-authenticate": "Bearer"
      })
    }
    if (req.method !== "POST") {
      // Stateless: no session to stream server-initiated messages on, and nothing to delete.
      return reject(res, 405, "Method not allowed: this stateless server accepts POST only.", { allow: "POST" })
    }
    const body = await readBody(req)
    if (body === "too large") return reject(res, 413, `Request body over ${MAX_BODY_BYTES} bytes.`)
    let parsed: unknown
    try {
      parsed = JSON.parse(body)
    } catch {
      res.writeHead(400, { "content-type": "application/json" })
      res.end(
        JSON.stringify({
          jsonrpc: "2.0",
          error: { code: -32700, message: "Parse error: the body is not JSON." },
          id: null
        })
      )
      return
    }
    const server = factory.create()
    // Without a progress token nothing but the answer will be sent, so it goes as plain JSON; an SSE
    // stream is opened only when progress notifications may follow.
    const transport = new StreamableHTTPServerTransport({ enableJsonResponse: !wantsProgress(parsed) }) // no sessionIdGenerator: stateless
    res.on("close", () => {
      void transport.close()
      void server.close()
    })
    try {
      await server.connect(transport)
      await transport.handleRequest(req, res, parsed)
    } catch {
      reject(res, 500, "Internal error while handling the MCP request (see the server log).")
    }
  }
}

/** Largest request body read (the SDK's own default). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024

const readBody = (req: http.IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let size = 0
    req.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners("data")
        req.resume()
        resolve("too large")
        return
      }
      chunks.push(chunk)
    })
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

/** Whether any request in the body carries a progress token. */
const wantsProgress = (body: unknown): boolean =>
  (Array.isArray(body) ? body : [body]).some((message) => {
    const meta = (message as { params?: { _meta?: { progressToken?: unknown } } } | null)?.params?._meta
    return meta?.progressToken !== undefined
  })

/**
 * Serves `factory` over HTTP on the configured host and port for the lifetime of the scope, and
 * returns where it listens. Connections are closed when the scope closes.
 */
export const serve = (factory: ServerFactory, settings: McpSettings) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: http.Server; readonly endpoint: HttpEndpoint }, Error>((resume) => {
      let actualPort = settings.http.port
      const handler = makeHandler(factory, settings, () => actualPort)
      const server = http.createServer((req, res) => {
        void handler(req, res)
      })
      server.once("error", (error) => resume(Effect.fail(error)))
      server.listen(settings.http.port, settings.http.host, () => {
        actualPort = (server.address() as AddressInfo).port
        const shown = WILDCARDS.has(settings.http.host) ? "127.0.0.1" : bracket(settings.http.host)
        resume(Effect.succeed({
          server,
          endpoint: { url: `http://${shown}:${actualPort}${MCP_PATH}`, port: actualPort, host: settings.http.host }
        }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ endpoint }) => endpoint))
