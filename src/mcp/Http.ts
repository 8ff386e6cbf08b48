/**
 * The Streamable HTTP transport, stateless: every POST to `/mcp` gets a fresh MCP server and SDK
 * transport, so no session state lives between requests and any number of clients can share the
 * process. Before the SDK sees a request, this module enforces what makes a local HTTP server safe
 * to run: the `Host` header must name this server (DNS-rebinding defence), a browser `Origin` must
 * be a local one, and a bearer token is required whenever a token is configured (always when
 * bound to a non-loopback address). Failures answer 403 / 401 with a JSON-RPC error body. The
 * client's `Authorization` header is consumed here and never reaches the Synapse client.
 *
 * Statelessness and what is kept per process: the answer to `initialize` carries an `Mcp-Session-Id`
 * token holding what the client negotiated (see `Protocol.ts`), so any process can serve any later
 * request. Two things cannot be stateless, because the protocol sends them on a separate POST to
 * the process running the request: `notifications/cancelled` (this process keeps its in-flight
 * requests by session scope and request id, and cancelling one closes that request's stream, which
 * interrupts its work) and the client's answer to an elicitation request (routed to the request
 * that asked). Behind a load balancer these need affinity on `Mcp-Session-Id`; a client that
 * closes the request's stream instead cancels on any process.
 */
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import { Effect, Redacted } from "effect"
import { timingSafeEqual } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import type { McpSettings } from "./Config.js"
import { headerProblem, INNER_ERA, isModern, sessionOf, toInner, toModern } from "./Era2026.js"
import {
  type ClientSession,
  decodeSession,
  encodeSession,
  invalidMessageAnswer,
  jsonRpcProblem,
  newSession,
  parseErrorResponse
} from "./Protocol.js"
import { SERVER_INFO, type ServerFactory } from "./Server.js"

/** The header carrying the session token (Node lower-cases header names). */
const SESSION_HEADER = "mcp-session-id"

/** The header naming the revision a request speaks. */
const VERSION_HEADER = "mcp-protocol-version"

/**
 * The requests this process is running, by session scope and request id, and the server-to-client
 * requests (elicitation) waiting for the client's answer, by the id they were sent with.
 */
export interface InFlight {
  /** Cancels a running request: closes its stream, which interrupts its handler. */
  readonly running: Map<string, () => void>
  /** Where the answer to an outgoing request goes: the transport that sent it and its own id. */
  readonly awaiting: Map<string, { readonly deliver: (message: JSONRPCMessage) => void; readonly id: string | number }>
}

const runningKey = (scope: string, id: unknown): string => `${scope}\u0000${JSON.stringify(id)}`

const messagesOf = (body: unknown): ReadonlyArray<Record<string, unknown>> =>
  (Array.isArray(body) ? body : [body]) as ReadonlyArray<Record<string, unknown>>

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
export const makeHandler = (
  factory: ServerFactory,
  settings: McpSettings,
  port: () => number,
  inFlight: InFlight = { running: new Map(), awaiting: new Map() }
) => {
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
      return answer(res, 400, parseErrorResponse("the body is not JSON."))
    }
    const messages = messagesOf(parsed)
    for (const message of messages) {
      const problem = jsonRpcProblem(message)
      if (problem !== undefined) return answer(res, 400, invalidMessageAnswer(message, problem))
    }
    // A 2026-07-28 request carries everything about its client itself and is served, translated, as a
    // request of the revision the SDK speaks (see `Era2026.ts`).
    const modern = isModern(headerOf(req, VERSION_HEADER), messages)
    if (modern) {
      const problem = headerProblem({
        version: headerOf(req, VERSION_HEADER),
        method: headerOf(req, "mcp-method"),
        name: headerOf(req, "mcp-name")
      }, messages)
      if (problem !== undefined) return answer(res, 400, invalidMessageAnswer(messages[0], problem))
      replaceHeader(req, VERSION_HEADER, INNER_ERA)
    }
    let session = modern ? sessionOf(messages) : decodeSession(headerOf(req, SESSION_HEADER))
    const opening = modern ? undefined : messages.find((m) => m["method"] === "initialize" && "id" in m)
    if (opening !== undefined) {
      const params = opening["params"] as { protocolVersion?: unknown; capabilities?: object } | undefined
      session = newSession(params?.protocolVersion, params?.capabilities)
      res.setHeader(SESSION_HEADER, encodeSession(session))
    }
    if (session !== undefined) cancelNamed(inFlight, session, messages)
    // Answers to this process's elicitation requests go to the request that asked, not to a new server.
    const remaining = messages.filter((m) => !deliverAnswer(inFlight, m))
    const rest = modern ? remaining.map(toInner) : remaining
    if (rest.length === 0) {
      res.writeHead(202).end()
      return
    }
    const server = factory.create({ session })
    // Without a progress token nothing but the answer will be sent, so it goes as plain JSON; an SSE
    // stream is opened only when progress notifications or requests to the client may follow.
    const transport = new StreamableHTTPServerTransport({ enableJsonResponse: !wantsStream(rest, session) }) // no sessionIdGenerator: stateless
    routeOutgoing(inFlight, transport)
    if (modern) answerModern(transport, remaining)
    const keys = session === undefined
      ? []
      : rest.filter((m) => "id" in m && "method" in m).map((m) => runningKey(session.scope, m["id"]))
    const cancel = () => void transport.close()
    for (const key of keys) inFlight.running.set(key, cancel)
    res.on("close", () => {
      for (const key of keys) if (inFlight.running.get(key) === cancel) inFlight.running.delete(key)
      void transport.close()
      void server.close()
    })
    try {
      await server.connect(transport)
      await transport.handleRequest(req, res, Array.isArray(parsed) ? rest : rest[0])
    } catch {
      reject(res, 500, "Internal error while handling the MCP request (see the server log).")
    }
  }
}

const answer = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" })
  res.end(JSON.stringify(body))
}

const headerOf = (req: http.IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name]
  return typeof value === "string" ? value : undefined
}

/** Rewrites a request header before the SDK transport reads it (it reads both header views). */
const replaceHeader = (req: http.IncomingMessage, name: string, value: string) => {
  req.headers[name] = value
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === name) req.rawHeaders[i + 1] = value
  }
}

/** Puts the answers `transport` sends to the 2026 requests among `requests` into 2026 shape. */
const answerModern = (transport: StreamableHTTPServerTransport, requests: ReadonlyArray<Record<string, unknown>>) => {
  const methods = new Map<string, string>()
  for (const request of requests) {
    if ("id" in request && typeof request["method"] === "string") {
      methods.set(JSON.stringify(request["id"]), request["method"])
    }
  }
  const send = transport.send.bind(transport)
  transport.send = (message, options) =>
    "id" in message && !("method" in message)
      ? send(
        toModern(
          methods.get(JSON.stringify(message.id)),
          message as unknown as Record<string, unknown>,
          SERVER_INFO
        ) as unknown as JSONRPCMessage,
        options
      )
      : send(message, options)
}

/** Cancels the running requests that `notifications/cancelled` messages in the body name. */
const cancelNamed = (inFlight: InFlight, session: ClientSession, messages: ReadonlyArray<Record<string, unknown>>) => {
  for (const message of messages) {
    if (message["method"] !== "notifications/cancelled") continue
    const requestId = (message["params"] as { requestId?: unknown } | undefined)?.requestId
    if (requestId !== undefined) inFlight.running.get(runningKey(session.scope, requestId))?.()
  }
}

/** Hands a client's answer to the request waiting for it; false when nothing here is waiting. */
const deliverAnswer = (inFlight: InFlight, message: Record<string, unknown>): boolean => {
  if ("method" in message || !("result" in message || "error" in message)) return false
  const key = JSON.stringify(message["id"])
  const waiting = inFlight.awaiting.get(key)
  if (waiting === undefined) return false
  inFlight.awaiting.delete(key)
  waiting.deliver({ ...message, id: waiting.id } as unknown as JSONRPCMessage)
  return true
}

let outgoing = 0
const processTag = Math.random().toString(36).slice(2, 8)

/**
 * Gives the requests `transport` sends to the client ids unique in this process (each per-request
 * server numbers its own from 0), and notes where their answers must go.
 */
const routeOutgoing = (inFlight: InFlight, transport: StreamableHTTPServerTransport) => {
  const send = transport.send.bind(transport)
  const sent = new Set<string>()
  transport.send = (message, options) => {
    if ("method" in message && "id" in message) {
      const id = `${processTag}-${++outgoing}`
      const key = JSON.stringify(id)
      sent.add(key)
      inFlight.awaiting.set(key, { id: message.id, deliver: (answer) => transport.onmessage?.(answer) })
      return send({ ...message, id }, options)
    }
    return send(message, options)
  }
  const close = transport.onclose
  transport.onclose = () => {
    for (const key of sent) inFlight.awaiting.delete(key)
    close?.()
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

/**
 * Whether the answer needs an SSE stream: a request carries a progress token, or a tool call may ask
 * the client for input (an elicitation request travels on the call's stream).
 */
const wantsStream = (messages: ReadonlyArray<Record<string, unknown>>, session: ClientSession | undefined): boolean =>
  messages.some((message) => {
    const meta = (message as { params?: { _meta?: { progressToken?: unknown } } } | null)?.params?._meta
    return meta?.progressToken !== undefined || (session?.elicitation === true && message["method"] === "tools/call")
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
