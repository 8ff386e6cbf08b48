/**
 * The 2026-07-28 revision of MCP, served by the SDK 1.x server through translation at the HTTP edge.
 *
 * A 2026 client opens no session: every request names its revision, client and capabilities in its
 * own `_meta` (`io.modelcontextprotocol/protocolVersion`, `…/clientInfo`, `…/clientCapabilities`) and
 * in the `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers, and it learns the server with
 * `server/discover` instead of `initialize`. This module recognises such a request, checks that its
 * headers agree with its body, and translates in both directions:
 * - in: `server/discover` becomes an `initialize` at `INNER_ERA`, and every other request is served
 *   as a request of `INNER_ERA` (the latest revision whose vocabulary the 2026 one keeps: structured
 *   results and output schemas, no 2025-11-25 task fields, which 2026 moved to an extension);
 * - out: every result gets `resultType: "complete"` and the server's identity in its `_meta`; the
 *   list and read results get the cache fields 2026 requires (`ttlMs: 0`, `cacheScope: "private"`:
 *   what a client sees depends on the server's configuration, so nothing is cached); the answer to
 *   `initialize` becomes the `server/discover` result (supported revisions, capabilities without the
 *   2025 task capability, instructions).
 *
 * Guarantees: a request of an earlier revision is never touched; a 2026 request is served with the
 * same tools, schemas and handlers as a 2025 one; tool order is the published order, the same on
 * every request. The server never sends a 2026 client a request of its own (no elicitation): tools
 * that need the user's consent answer a plan with a `plan_id`, as for clients that cannot be asked.
 * Cancelling is closing the request's stream, as for every HTTP request.
 */
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { ClientCapabilities, JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import { SUPPORTED_PROTOCOL_VERSIONS } from "@modelcontextprotocol/sdk/types.js"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { canElicit, type ClientSession, newSession } from "./Protocol.js"
import type { ElicitAction, ElicitSchema } from "./Tool.js"

/** The stateless revision served through translation. */
export const MODERN_VERSION = "2026-07-28"

/** The revision a 2026 request is served in by the 1.x server (see the module comment). */
export const INNER_ERA = "2025-06-18"

/** Every revision this server speaks, newest first, as `server/discover` lists them. */
export const SUPPORTED_VERSIONS: ReadonlyArray<string> = [
  MODERN_VERSION,
  ...[...SUPPORTED_PROTOCOL_VERSIONS].sort().reverse()
]

/** The reserved `_meta` keys of a 2026 request and result. */
export const META = {
  protocolVersion: "io.modelcontextprotocol/protocolVersion",
  clientInfo: "io.modelcontextprotocol/clientInfo",
  clientCapabilities: "io.modelcontextprotocol/clientCapabilities",
  serverInfo: "io.modelcontextprotocol/serverInfo"
} as const

/** The method a 2026 client learns the server with. */
export const DISCOVER = "server/discover"

/** Results a 2026 client may cache, which therefore carry `ttlMs` and `cacheScope`. */
const CACHEABLE = new Set([
  "tools/list",
  "prompts/list",
  "resources/list",
  "resources/templates/list",
  "resources/read"
])

type Message = Record<string, unknown>

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value)

const metaOf = (message: Message): Record<string, unknown> | undefined => {
  const params = message["params"]
  if (!isObject(params)) return undefined
  const meta = params["_meta"]
  return isObject(meta) ? meta : undefined
}

/**
 * True when a request body speaks 2026-07-28: its `MCP-Protocol-Version` header names it, or a
 * message's `_meta` does.
 */
export const isModern = (header: string | undefined, messages: ReadonlyArray<Message>): boolean =>
  header === MODERN_VERSION || messages.some((m) => metaOf(m)?.[META.protocolVersion] === MODERN_VERSION)

/**
 * Why the `MCP-Protocol-Version`, `Mcp-Method` or `Mcp-Name` header of a 2026 request disagrees with
 * its body (the `_meta` revision, the method, the tool name or resource URI), or undefined
 * when they agree (or are absent). A proxy routes on the headers, so a mismatch is refused rather
 * than served as the body says.
 */
export const headerProblem = (
  headers: {
    readonly version: string | undefined
    readonly method: string | undefined
    readonly name: string | undefined
  },
  messages: ReadonlyArray<Message>
): string | undefined => {
  const { method, name, version } = headers
  const request = messages.find((m) => typeof m["method"] === "string")
  if (request === undefined) return undefined
  const declared = metaOf(request)?.[META.protocolVersion]
  if (version !== undefined && declared !== undefined && version !== declared) {
    return `the MCP-Protocol-Version header ${JSON.stringify(version)} does not match the request's _meta ${
      JSON.stringify(declared)
    }.`
  }
  if (method !== undefined && method !== request["method"]) {
    return `the Mcp-Method header ${JSON.stringify(method)} does not match the body's method ${
      JSON.stringify(request["method"])
    }.`
  }
  if (name !== undefined) {
    const params = isObject(request["params"]) ? request["params"] : {}
    const named = params["name"] ?? params["uri"]
    if (named !== name) {
      return `the Mcp-Name header ${JSON.stringify(name)} does not match the body's ${JSON.stringify(named ?? null)}.`
    }
  }
  return undefined
}

/** What a 2026 request says about its client, as the per-request server needs it. */
export const sessionOf = (messages: ReadonlyArray<Message>): ClientSession => {
  const request = messages.find((m) => typeof m["method"] === "string")
  const capabilities = request === undefined ? undefined : metaOf(request)?.[META.clientCapabilities]
  // The server asks a 2026 client nothing (2026 asks through `input_required` results, which this
  // server does not produce), so the session never claims elicitation.
  const session = newSession(INNER_ERA, isObject(capabilities) ? capabilities as ClientCapabilities : undefined)
  return { ...session, elicitation: false }
}

/**
 * A 2026 message as the 1.x server serves it: `server/discover` becomes `initialize` at `INNER_ERA`
 * with the client named in the request's `_meta`; the answers of a retried call (`inputResponses`)
 * move into its `_meta`, which the SDK keeps whole (it drops unknown params); every other message is
 * unchanged.
 */
export const toInner = (message: Message): Message => {
  if (message["method"] !== DISCOVER) return carryResponses(message)
  const meta = metaOf(message) ?? {}
  const clientInfo = isObject(meta[META.clientInfo]) ? meta[META.clientInfo] : { name: "unknown", version: "0" }
  // No capabilities: a 2026 client takes no requests from the server (a connection that speaks 2026
  // drops them), so the server must not think it can ask for input or roots.
  return {
    jsonrpc: "2.0",
    id: message["id"],
    method: "initialize",
    params: { protocolVersion: INNER_ERA, capabilities: {}, clientInfo }
  }
}

/**
 * The 1.x server's answer to a 2026 request, in 2026 shape, naming `serverInfo` as the server. `method`
 * is the request's own method (`server/discover` for the translated `initialize`); errors and
 * notifications pass unchanged.
 */
export const toModern = (
  method: string | undefined,
  message: Message,
  serverInfo: { readonly name: string; readonly version: string }
): Message => {
  const result = message["result"]
  if (!isObject(result)) return message
  const meta = isObject(result["_meta"]) ? result["_meta"] : {}
  const identity = { ...meta, [META.serverInfo]: serverInfo }
  if (result["resultType"] === "input_required") {
    return {
      ...message,
      result: { resultType: "input_required", inputRequests: result["inputRequests"], _meta: identity }
    }
  }
  if (method === DISCOVER) {
    const { tasks: _tasks, ...capabilities } = isObject(result["capabilities"]) ? result["capabilities"] : {}
    return {
      ...message,
      result: {
        resultType: "complete",
        ttlMs: 0,
        cacheScope: "private",
        supportedVersions: SUPPORTED_VERSIONS,
        capabilities,
        ...(typeof result["instructions"] === "string" ? { instructions: result["instructions"] } : {}),
        _meta: identity
      }
    }
  }
  return {
    ...message,
    result: {
      ...result,
      resultType: "complete",
      _meta: identity,
      ...(method !== undefined && CACHEABLE.has(method) ? { ttlMs: 0, cacheScope: "private" } : {})
    }
  }
}

/**
 * Lets a server connected for a whole conversation (stdio) answer 2026 requests among 2025 ones:
 * 2026 requests go in through `toInner` (and, when no `initialize` came first, set the connection's
 * revision to `INNER_ERA`), and their answers go out through `toModern`. Call once the server has set
 * the transport's `onmessage`, before the transport delivers its first message.
 */
export const speakModern = (
  transport: Transport,
  connection: { negotiated: string | undefined },
  serverInfo: { readonly name: string; readonly version: string }
): void => {
  const inner = transport.onmessage
  const pending = new Map<string, string>()
  transport.onmessage = (message, extra) => {
    const record = message as unknown as Message
    if ("method" in message && isModern(undefined, [record])) {
      if ("id" in message) pending.set(JSON.stringify(message.id), message.method)
      connection.negotiated ??= INNER_ERA
      inner?.(toInner(record) as unknown as JSONRPCMessage, extra)
      return
    }
    inner?.(message, extra)
  }
  const send = transport.send.bind(transport)
  transport.send = (message, options) => {
    if ("id" in message && !("method" in message)) {
      const key = JSON.stringify(message.id)
      const method = pending.get(key)
      if (method !== undefined) {
        pending.delete(key)
        return send(toModern(method, message as unknown as Message, serverInfo) as unknown as JSONRPCMessage, options)
      }
    }
    return send(message, options)
  }
}

/** Where `toInner` carries a retried call's `inputResponses` (in `_meta`, which the SDK keeps whole). */
const RESPONSES_KEY = "synapse-ml/inputResponses"

const carryResponses = (message: Message): Message => {
  const params = message["params"]
  if (!isObject(params) || params["inputResponses"] === undefined) return message
  const { inputResponses, requestState: _state, ...rest } = params
  return { ...message, params: { ...rest, _meta: { ...(metaOf(message) ?? {}), [RESPONSES_KEY]: inputResponses } } }
}

/** The key of a question in `inputRequests`: made from the question, so a changed plan is asked anew. */
const questionKey = (message: string, requestedSchema: ElicitSchema): string =>
  `confirm-${createHash("sha256").update(JSON.stringify([message, requestedSchema])).digest("base64url").slice(0, 16)}`

const ACTIONS: ReadonlyArray<unknown> = ["accept", "decline", "cancel"]

/** Questions to a 2026 client's user, asked in rounds (`input_required` results) instead of requests. */
export interface InputRounds {
  /** `ToolContext.elicit`: the user's answer when the call carries it, else notes the question and answers `"cancel"`. */
  readonly elicit: (message: string, requestedSchema: ElicitSchema) => Effect.Effect<ElicitAction>
  /** The `input_required` result to answer instead of the tool's own, when it asked something not yet answered. */
  readonly pending: () => Record<string, unknown> | undefined
}

/**
 * Questions in rounds for a 2026 `tools/call` whose client declared form elicitation, or undefined
 * for any other call. A question the call does not carry the answer to makes the call answer
 * `input_required` with the question (the tool's own result is dropped: it only goes ahead on
 * `"accept"`, so answering `"cancel"` meanwhile changes nothing); the client asks its user and calls
 * again with the answer, and the tool, run again, finds it under the same key. A plan that changed
 * in between is a different question, so it is asked again.
 */
export const askInRounds = (params: Record<string, unknown> | undefined): InputRounds | undefined => {
  const meta = isObject(params?.["_meta"]) ? params["_meta"] : undefined
  if (meta?.[META.protocolVersion] !== MODERN_VERSION) return undefined
  // A plan_id is used up by the round that asks, so a call presenting one executes on it, as for a
  // client that cannot ask (the model has seen the plan); `confirm: true` is the way to be asked.
  const args = params?.["arguments"]
  if (isObject(args) && args["plan_id"] !== undefined) return undefined
  const capabilities = meta[META.clientCapabilities]
  if (!isObject(capabilities) || !canElicit(capabilities as ClientCapabilities)) return undefined
  const responses = isObject(meta[RESPONSES_KEY]) ? meta[RESPONSES_KEY] : {}
  const asked: Record<string, unknown> = {}
  return {
    elicit: (message, requestedSchema) =>
      Effect.sync(() => {
        const key = questionKey(message, requestedSchema)
        const answer = responses[key]
        if (isObject(answer) && ACTIONS.includes(answer["action"])) return answer["action"] as ElicitAction
        asked[key] = { method: "elicitation/create", params: { mode: "form", message, requestedSchema } }
        return "cancel"
      }),
    pending: () => Object.keys(asked).length === 0 ? undefined : { resultType: "input_required", inputRequests: asked }
  }
}
