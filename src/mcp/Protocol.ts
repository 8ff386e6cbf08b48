/**
 * The JSON-RPC and protocol-era edges of the MCP server, shared by every transport:
 * - `screenRequest` checks the parameters of the requests whose handlers need a shape (`tools/call`,
 *   `resources/read`, `prompts/get`, `completion/complete`) before the SDK parses them, so a malformed
 *   call gets `-32602` (invalid params) with a message naming the field, never `-32603` with a
 *   validator's dump.
 * - `parseErrorResponse` / `invalidRequestResponse` are the answers to a line or body that is not
 *   JSON (`-32700`) or not a JSON-RPC message (`-32600`), with `id: null` as JSON-RPC 2.0 requires.
 * - Eras: which protocol revision a request speaks decides which features its answer may use
 *   (`resource_link` blocks, `structuredContent`, output schemas: 2025-06-18 and later).
 * - Session tokens: a stateless HTTP server mints an opaque `Mcp-Session-Id` at `initialize` that
 *   carries what the client negotiated (revision, whether it can be asked for input) and a random
 *   part. Every later request presents it, so a fresh per-request server knows its client without
 *   the process storing anything, and the random part scopes request ids for cancellation.
 */
import {
  CallToolRequestSchema,
  type ClientCapabilities,
  DEFAULT_NEGOTIATED_PROTOCOL_VERSION,
  ErrorCode,
  type JSONRPCMessage,
  JSONRPCMessageSchema,
  LATEST_PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS
} from "@modelcontextprotocol/sdk/types.js"
import { randomBytes } from "node:crypto"

/** A JSON-RPC error answer (`id` null when the request's id could not be read). */
export interface ErrorAnswer {
  readonly jsonrpc: "2.0"
  readonly id: string | number | null
  readonly error: { readonly code: number; readonly message: string }
}

/** The first revision with `resource_link` content, `structuredContent` and tool output schemas. */
export const STRUCTURED_ERA = "2025-06-18"

/** The revision a client asking for `requested` gets: the same when supported, else the latest. */
export const negotiate = (requested: unknown): string =>
  typeof requested === "string" && SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : LATEST_PROTOCOL_VERSION

/** True when revision `version` has `resource_link` blocks, `structuredContent` and output schemas. */
export const hasStructuredResults = (version: string | undefined): boolean =>
  (version ?? DEFAULT_NEGOTIATED_PROTOCOL_VERSION) >= STRUCTURED_ERA

/** True when revision `version` has (experimental) tasks: 2025-11-25 and later. */
export const hasTasks = (version: string | undefined): boolean =>
  (version ?? DEFAULT_NEGOTIATED_PROTOCOL_VERSION) >= "2025-11-25"

/** True when revision `version` has `notifications/resources/list_changed` (every revision the SDK speaks). */
export const hasListChanged = (version: string | undefined): boolean =>
  (version ?? DEFAULT_NEGOTIATED_PROTOCOL_VERSION) >= "2024-11-05"

/** The answer to input that is not JSON. */
export const parseErrorResponse = (detail: string): ErrorAnswer => ({
  jsonrpc: "2.0",
  id: null,
  error: { code: ErrorCode.ParseError, message: `Parse error: ${detail}` }
})

/** The answer to JSON that is not a JSON-RPC 2.0 message. */
export const invalidRequestResponse = (detail: string): ErrorAnswer => ({
  jsonrpc: "2.0",
  id: null,
  error: { code: ErrorCode.InvalidRequest, message: `Invalid request: ${detail}` }
})

const idOf = (message: unknown): string | number | null => {
  const id = (message as { id?: unknown } | null)?.id
  return typeof id === "string" || typeof id === "number" ? id : null
}

const describe = (value: unknown): string =>
  value === null
    ? "null"
    : Array.isArray(value)
    ? "a list"
    : typeof value === "object"
    ? "an object"
    : typeof value === "string"
    ? `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`
    : `${typeof value} ${String(value)}`

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value)

/**
 * Why one JSON value is not a JSON-RPC 2.0 message, or undefined when it is one. Says which member
 * is missing or wrong, so a hand-written client can be fixed from the answer alone.
 */
export const jsonRpcProblem = (message: unknown): string | undefined => {
  if (!isObject(message)) return `a JSON-RPC message is an object; got ${describe(message)}.`
  if (message["jsonrpc"] !== "2.0") return `"jsonrpc" must be "2.0"; got ${describe(message["jsonrpc"])}.`
  if ("id" in message && typeof message["id"] !== "string" && typeof message["id"] !== "number") {
    return `"id" must be a string or a number; got ${describe(message["id"])}.`
  }
  if ("method" in message) {
    // Requests and notifications, the messages a client sends, are checked by hand: cheap, and the
    // answer can name the member that is wrong.
    if (typeof message["method"] !== "string") return `"method" must be a string; got ${describe(message["method"])}.`
    const params = message["params"]
    if (params === undefined) return undefined
    if (!isObject(params)) return `"params" must be an object; got ${describe(params)}.`
    return metaProblem(params)
  }
  if (JSONRPCMessageSchema.safeParse(message).success) return undefined
  return "a message is a request {jsonrpc, id, method, params?}, a notification {jsonrpc, method, params?} " +
    "or a response {jsonrpc, id, result | error}."
}

/** One malformed message as an answer: `-32600` naming the problem, with the message's id if readable. */
export const invalidMessageAnswer = (message: unknown, problem: string): ErrorAnswer => ({
  ...invalidRequestResponse(problem),
  id: idOf(message)
})

const invalidParams = (id: string | number, method: string, problem: string): ErrorAnswer => ({
  jsonrpc: "2.0",
  id,
  error: { code: ErrorCode.InvalidParams, message: `Invalid params for ${method}: ${problem}` }
})

/** Checks `_meta` as every request may carry it. */
const metaProblem = (params: Record<string, unknown>): string | undefined => {
  const meta = params["_meta"]
  if (meta === undefined) return undefined
  if (!isObject(meta)) return `params._meta must be an object; got ${describe(meta)}.`
  const token = meta["progressToken"]
  if (token !== undefined && typeof token !== "string" && typeof token !== "number") {
    return `params._meta.progressToken must be a string or a number; got ${describe(token)}.`
  }
  return undefined
}

const stringField = (params: Record<string, unknown>, field: string, what: string): string | undefined => {
  const value = params[field]
  if (value === undefined) return `params.${field} is required: ${what}.`
  if (typeof value !== "string") return `params.${field} must be a string (${what}); got ${describe(value)}.`
  return undefined
}

const objectField = (params: Record<string, unknown>, field: string, what: string): string | undefined => {
  const value = params[field]
  if (value === undefined || isObject(value)) return undefined
  return `params.${field} must be an object (${what}); got ${describe(value)}.`
}

/** Field checks per method; each returns the first problem or undefined. */
const CHECKS: Record<string, (params: Record<string, unknown>) => string | undefined> = {
  "tools/call": (params) =>
    stringField(params, "name", "the name of a tool from tools/list") ??
      objectField(params, "arguments", "the tool's arguments by name, as its inputSchema describes") ??
      // Whatever else the SDK's own schema refuses (a malformed task request), phrased by path;
      // checked only when there is something else, as an ordinary call has nothing else.
      (Object.keys(params).some((key) => key !== "name" && key !== "arguments" && key !== "_meta")
        ? zodProblem(CallToolRequestSchema.safeParse({ method: "tools/call", params }))
        : undefined),
  "resources/read": (params) => stringField(params, "uri", "a resource URI from resources/list or a template"),
  "prompts/get": (params) =>
    stringField(params, "name", "the name of a prompt from prompts/list") ??
      objectField(params, "arguments", "the prompt's arguments by name, each a string"),
  "completion/complete": (params) => {
    const ref = params["ref"]
    if (!isObject(ref)) return `params.ref is required: {type: "ref/prompt", name} or {type: "ref/resource", uri}.`
    const argument = params["argument"]
    if (!isObject(argument) || typeof argument["name"] !== "string" || typeof argument["value"] !== "string") {
      return "params.argument is required: {name, value}, both strings."
    }
    return undefined
  }
}

const zodProblem = (
  result: { success: true } | {
    success: false
    error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> }
  }
): string | undefined => {
  if (result.success) return undefined
  const issue = result.error.issues[0]
  return issue === undefined
    ? "the request does not have the expected shape."
    : `${issue.path.map(String).join(".")}: ${issue.message}.`
}

/**
 * The `-32602` answer for a request whose parameters the handler cannot use, or undefined when the
 * message may go on to the SDK (other methods, notifications and responses always may).
 */
export const screenRequest = (message: JSONRPCMessage): ErrorAnswer | undefined => {
  if (!("method" in message) || !("id" in message)) return undefined
  const check = CHECKS[message.method]
  if (check === undefined) return undefined
  // Absent params are checked as empty ones, so the answer names the first required field.
  const params: unknown = message.params ?? {}
  if (!isObject(params)) {
    return invalidParams(message.id, message.method, `params must be an object; got ${describe(params)}.`)
  }
  const problem = metaProblem(params) ?? check(params)
  return problem === undefined ? undefined : invalidParams(message.id, message.method, problem)
}

/** What a client negotiated at `initialize`, as a stateless server carries it between requests. */
export interface ClientSession {
  /** The revision agreed on at `initialize`. */
  readonly protocolVersion: string
  /** True when the client declared the form elicitation capability (the server may ask its user). */
  readonly elicitation: boolean
  /** Random; scopes the client's request ids (cancellation) without naming the client. */
  readonly scope: string
}

/** The session a client declaring `capabilities` at `initialize` with `requested` gets. */
export const newSession = (requested: unknown, capabilities: ClientCapabilities | undefined): ClientSession => ({
  protocolVersion: negotiate(requested),
  elicitation: canElicit(capabilities),
  scope: randomBytes(16).toString("base64url")
})

/** True when `capabilities` include form elicitation (an empty `elicitation` object means form). */
export const canElicit = (capabilities: ClientCapabilities | undefined): boolean => {
  const elicitation = capabilities?.elicitation as Record<string, unknown> | undefined
  if (elicitation === undefined) return false
  return Object.keys(elicitation).length === 0 || elicitation["form"] !== undefined
}

const TOKEN_PREFIX = "s1."

/** The `Mcp-Session-Id` value that carries `session` (visible ASCII, as the header requires). */
export const encodeSession = (session: ClientSession): string =>
  TOKEN_PREFIX +
  Buffer.from(JSON.stringify({ v: session.protocolVersion, e: session.elicitation ? 1 : 0, s: session.scope }))
    .toString("base64url")

/** The session a token carries, or undefined for a token this server did not mint. */
export const decodeSession = (token: string | undefined): ClientSession | undefined => {
  if (token === undefined || !token.startsWith(TOKEN_PREFIX) || token.length > 400) return undefined
  try {
    const value: unknown = JSON.parse(Buffer.from(token.slice(TOKEN_PREFIX.length), "base64url").toString("utf8"))
    if (!isObject(value)) return undefined
    const { e, s, v } = value
    if (typeof v !== "string" || typeof s !== "string" || s.length < 16) return undefined
    return { protocolVersion: negotiate(v), elicitation: e === 1, scope: s }
  } catch {
    return undefined
  }
}
