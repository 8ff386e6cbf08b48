/**
 * The SDK's one closed error union. Every failure an SDK operation can report — an HTTP status,
 * a timeout, a dropped connection, an answer that does not match the wire schema, a parameter the
 * SDK refused before sending anything, a record lacking a field a workflow needs — is one of these
 * `Schema.TaggedError` classes, mapped once at the client boundary (`SynapseClient`). Public
 * signatures never mention `HttpClientError` or `ParseError`.
 *
 * It plays the role of the official Python SDK's `ClientError`: each class carries `status_code`
 * when HTTP gave one and a `detail` a person can act on, and they share one message format
 * (`HTTP 404: Not found. (GET https://…/models/9/)`). Nothing here ever holds a request, its headers or a URL query
 * string, so no token can leak through an error or a log line (presigned file URLs carry their
 * signature in the query, which is why `url` is always stored without it).
 */
import { Duration, Predicate, Schema } from "effect"

const common = {
  /** The HTTP status, when the failure came from a response. */
  status_code: Schema.optional(Schema.Int),
  /** What went wrong, in words a person can act on. */
  detail: Schema.String,
  /** The request's method, when the failure came from a request. */
  method: Schema.optional(Schema.String),
  /** The request's URL without its query string. */
  url: Schema.optional(Schema.String)
}

/**
 * The message of every error class: `HTTP <status>: <detail>` followed by `at <path>` and
 * `; received: <excerpt>` when the error has them (a `DecodeError`), and `(<method> <url>)`.
 */
const describe = (
  self: {
    readonly detail: string
    readonly status_code?: number | undefined
    readonly method?: string | undefined
    readonly url?: string | undefined
    readonly path?: string | undefined
    readonly excerpt?: string | undefined
  }
): string => {
  const where = self.method !== undefined && self.url !== undefined ? ` (${self.method} ${self.url})` : ""
  const status = self.status_code !== undefined ? `HTTP ${self.status_code}: ` : ""
  const at = self.path !== undefined ? ` at ${self.path}` : ""
  const received = self.excerpt !== undefined ? `; received: ${self.excerpt}` : ""
  return `${status}${self.detail}${at}${received}${where}`
}

/** 401: no token, or a token the server does not accept. */
export class AuthenticationError extends Schema.TaggedError<AuthenticationError>()("AuthenticationError", common) {}

/** 403: the token is valid but may not do this (or a presigned file URL expired). */
export class AuthorizationError extends Schema.TaggedError<AuthorizationError>()("AuthorizationError", common) {}

/** 404: no such resource. */
export class NotFoundError extends Schema.TaggedError<NotFoundError>()("NotFoundError", common) {}

/**
 * 400/422 from the server (with its field errors), or a parameter the SDK rejected before sending
 * any request (then `status_code` is absent and `field`/`allowed` say what to fix).
 */
export class ValidationError extends Schema.TaggedError<ValidationError>()("ValidationError", {
  ...common,
  /**
   * Field errors as the server sent them (`{"name": ["This field is required."]}`), or, for a
   * rejection by the SDK itself, every bad parameter it found, each with its problem.
   */
  fieldErrors: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Array(Schema.String) })),
  /** The offending parameter (the first, when there are several), for a rejection by the SDK itself. */
  field: Schema.optional(Schema.String),
  /** The values the parameter accepts, when they form a closed set. */
  allowed: Schema.optional(Schema.Array(Schema.String))
}) {}

/** 413: the upload is larger than the server accepts. */
export class PayloadTooLargeError extends Schema.TaggedError<PayloadTooLargeError>()("PayloadTooLargeError", common) {}

/** 429: throttled. `retryAfter` is the server's `Retry-After`, in seconds, when it sent one. */
export class RateLimitError extends Schema.TaggedError<RateLimitError>()("RateLimitError", {
  ...common,
  retryAfter: Schema.optional(Schema.Number)
}) {}

/** 5xx: the server failed. The real status is kept (502 stays 502). */
export class ServerError extends Schema.TaggedError<ServerError>()("ServerError", common) {}

/**
 * Any other non-2xx status (405, 409, 410, an unfollowed 3xx…): nothing the SDK knows how to act on,
 * kept with its status and body excerpt rather than forced into a wrong class.
 */
export class UnexpectedStatusError
  extends Schema.TaggedError<UnexpectedStatusError>()("UnexpectedStatusError", common)
{}

/** No complete answer within the per-attempt timeout (or a 408 from the server). */
export class TimeoutError extends Schema.TaggedError<TimeoutError>()("TimeoutError", {
  ...common,
  /** The timeout that elapsed, in milliseconds. */
  timeoutMs: Schema.optional(Schema.Number)
}) {}

/** The connection could not be made, or broke before the answer was complete. */
export class ConnectionError extends Schema.TaggedError<ConnectionError>()("ConnectionError", common) {}

/**
 * The server answered something that does not follow the wire contract: a body that does not match
 * the schema (`path` names the field), HTML or truncated JSON with a 2xx status, a pagination that
 * loops or stops short, a downloaded file whose size or checksum is wrong. `excerpt` shows the start
 * of what arrived; `truncated` marks an answer cut short, which is worth one more attempt.
 */
export class DecodeError extends Schema.TaggedError<DecodeError>()("DecodeError", {
  ...common,
  path: Schema.optional(Schema.String),
  excerpt: Schema.optional(Schema.String),
  truncated: Schema.optional(Schema.Boolean)
}) {}

/**
 * A record the backend sent lacks a field that a workflow needs to carry on ("model 456 has no
 * `project`: deploy needs it"). Decoding accepts records with only an `id` (docs/wire-protocol.md
 * "Resources"), since a real backend may send few fields; the workflow that needs more says which
 * field of which record, instead of guessing or failing deep inside a listing.
 */
export class IncompleteRecordError extends Schema.TaggedError<IncompleteRecordError>()("IncompleteRecordError", {
  ...common,
  /** The kind of record: `model`, `dataset version`, `ground-truth event`, `ground truth`. */
  resource: Schema.String,
  /** The record's id. */
  id: Schema.Number,
  /** The field it lacks. */
  field: Schema.String,
  /** What needs the field (`deploy`, `rollback`, `compare`…). */
  needed_by: Schema.String
}) {}

/**
 * The `IncompleteRecordError` for record `id` of kind `resource` lacking `field`, with a detail
 * naming the record, the field and what needs it; `hint` adds why (or what to do instead).
 */
export const incompleteRecord = (
  resource: string,
  id: number,
  field: string,
  neededBy: string,
  hint?: string
): IncompleteRecordError =>
  new IncompleteRecordError({
    resource,
    id,
    field,
    needed_by: neededBy,
    detail: `${resource} ${id} has no \`${field}\`: ${neededBy} needs it, and the backend did not send it${
      hint !== undefined ? ` (${hint})` : ""
    }`
  })

/**
 * A write whose answer was lost (a timeout, a dropped connection, a 5xx) and whose outcome the SDK
 * could not establish afterwards: the server may or may not have performed it, and sending it again
 * could do it twice. `candidates` are the records that may be the one created (empty when there were
 * too many to check, or the check itself failed); `detail` says what to look for before trying again.
 */
export class OutcomeUnknownError extends Schema.TaggedError<OutcomeUnknownError>()("OutcomeUnknownError", {
  ...common,
  /** Ids of the records that may be the one the lost request created. */
  candidates: Schema.Array(Schema.Number)
}) {}

/** Every error class, listed once: the union, its schema, the tag check and the message derive from it. */
const CLASSES = [
  AuthenticationError,
  AuthorizationError,
  NotFoundError,
  ValidationError,
  PayloadTooLargeError,
  RateLimitError,
  ServerError,
  UnexpectedStatusError,
  TimeoutError,
  ConnectionError,
  DecodeError,
  IncompleteRecordError,
  OutcomeUnknownError
] as const

/** Every failure of an SDK operation. */
export type SynapseError = InstanceType<(typeof CLASSES)[number]>

/** The union as a schema (for MCP tool error shapes, serialisation across processes). */
export const SynapseError = Schema.Union(...CLASSES)

const TAGS: ReadonlySet<string> = new Set(CLASSES.map((Class) => Class._tag))

// One message for every class, defined as Effect defines its own default message of a tagged error
// (a non-enumerable getter on the prototype), so that it is never a field of the error.
for (const Class of CLASSES) {
  Object.defineProperty(Class.prototype, "message", {
    get(this: SynapseError) {
      return describe(this)
    },
    enumerable: false,
    configurable: true
  })
}

/** Whether a value is one of the SDK's errors. */
export const isSynapseError = (u: unknown): u is SynapseError =>
  Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" && TAGS.has(u._tag) && u instanceof Error

/** Statuses worth another attempt of a safe request (docs/architecture.md "Retries and timeouts"). */
export const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504])

/**
 * Whether another attempt of a safe request may succeed: 408/429/500/502/503/504, timeouts, broken
 * connections. A 2xx body cut short is not listed because the failure is the answer's, not the
 * request's: `SynapseClient` retries it too for the requests it reads and decodes itself.
 */
export const isTransient = (error: SynapseError): boolean => {
  switch (error._tag) {
    case "TimeoutError":
    case "ConnectionError":
    case "RateLimitError":
      return true
    case "ServerError":
      return error.status_code === undefined || TRANSIENT_STATUSES.has(error.status_code)
    default:
      return false
  }
}

/** The longest excerpt of a body kept in an error. */
export const EXCERPT_LENGTH = 200

/** The start of a body, on one line, HTML tags removed, for error messages. */
export const excerpt = (body: string, max = EXCERPT_LENGTH): string => {
  const text = body
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, " ")
    .replace(/<[^>]*>/g, " ")
    .replace(/\s+/g, " ")
    .trim()
  return text.length > max ? `${text.slice(0, max)}…` : text
}

/** A URL without its query and fragment (presigned signatures live in the query). */
export const stripQuery = (url: string): string => {
  const cut = url.search(/[?#]/)
  return cut === -1 ? url : url.slice(0, cut)
}

/**
 * `Retry-After` as seconds from `nowMs`: either delta-seconds or an HTTP date. Unparseable or
 * negative values are ignored, since the retry schedule still applies.
 */
export const parseRetryAfter = (value: string | undefined, nowMs: number): number | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed)
  const date = Date.parse(trimmed)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, (date - nowMs) / 1000)
}

/** `retryAfter` of an error as a Duration, when it is a rate-limit error that has one. */
export const retryAfterOf = (error: SynapseError): Duration.Duration | undefined =>
  error._tag === "RateLimitError" && error.retryAfter !== undefined ? Duration.seconds(error.retryAfter) : undefined

const isStringArray = (u: unknown): u is ReadonlyArray<string> =>
  Array.isArray(u) && u.every((x) => typeof x === "string")

/**
 * Reads a DRF error body: `{"detail": "…"}`, field errors `{"field": ["…"]}` (also nested
 * `non_field_errors` or a bare string), or anything else as an excerpt.
 */
const readErrorBody = (
  body: string
): { detail: string | undefined; fieldErrors: Record<string, ReadonlyArray<string>> | undefined } => {
  const trimmed = body.trim()
  if (trimmed === "") return { detail: undefined, fieldErrors: undefined }
  let json: unknown
  try {
    json = JSON.parse(trimmed)
  } catch {
    return { detail: excerpt(trimmed), fieldErrors: undefined }
  }
  if (typeof json === "string") return { detail: excerpt(json), fieldErrors: undefined }
  if (isStringArray(json)) return { detail: excerpt(json.join("; ")), fieldErrors: undefined }
  if (!Predicate.isRecord(json)) return { detail: excerpt(trimmed), fieldErrors: undefined }
  const detail = typeof json.detail === "string" ? json.detail : undefined
  const fieldErrors: Record<string, ReadonlyArray<string>> = {}
  for (const [key, value] of Object.entries(json)) {
    if (key === "detail") continue
    if (isStringArray(value)) fieldErrors[key] = value
    else if (typeof value === "string") fieldErrors[key] = [value]
  }
  const hasFields = Object.keys(fieldErrors).length > 0
  const fieldText = hasFields
    ? Object.entries(fieldErrors).map(([key, msgs]) => `${key}: ${msgs.join(" ")}`).join("; ")
    : undefined
  return {
    detail: detail ?? fieldText ?? excerpt(trimmed),
    fieldErrors: hasFields ? fieldErrors : undefined
  }
}

/** What `fromResponse` needs to know about a non-2xx answer. */
export interface ErrorResponse {
  readonly status: number
  readonly body: string
  readonly retryAfter?: string | undefined
  readonly method?: string | undefined
  readonly url?: string | undefined
  /** Used to turn an HTTP-date `Retry-After` into seconds. */
  readonly nowMs?: number | undefined
}

/**
 * Classifies a non-2xx answer. Always succeeds: an HTML page from a proxy or an empty body still
 * yields the right class with the real status and a short excerpt.
 */
export const fromResponse = (response: ErrorResponse): SynapseError => {
  const { status } = response
  const { detail, fieldErrors } = readErrorBody(response.body)
  const base = {
    status_code: status,
    detail: detail ?? `the server answered ${status} with an empty body`,
    ...(response.method !== undefined ? { method: response.method } : {}),
    ...(response.url !== undefined ? { url: stripQuery(response.url) } : {})
  }
  if (status === 401) return new AuthenticationError(base)
  if (status === 403) return new AuthorizationError(base)
  if (status === 404) return new NotFoundError(base)
  if (status === 400 || status === 422) {
    return new ValidationError(fieldErrors !== undefined ? { ...base, fieldErrors } : base)
  }
  if (status === 408) return new TimeoutError(base)
  if (status === 413) return new PayloadTooLargeError(base)
  if (status === 429) {
    const retryAfter = parseRetryAfter(response.retryAfter, response.nowMs ?? Date.now())
    return new RateLimitError(retryAfter !== undefined ? { ...base, retryAfter } : base)
  }
  if (status >= 500 && status <= 599) return new ServerError(base)
  return new UnexpectedStatusError(base)
}

/** What `scrub` writes in place of a secret. */
export const REDACTED = "[redacted]"

/**
 * The SDK's one secret scrubber: replaces every occurrence of each secret (tokens) in a text with
 * `[redacted]`. Secrets shorter than 4 characters are ignored (they would mangle ordinary words),
 * and longer ones are replaced first, so a secret containing another is removed whole. Servers
 * sometimes echo a header back in an error body; this runs on every detail and excerpt before it is
 * stored in an error, and on every text the MCP server returns.
 */
export const scrub = (text: string, secrets: ReadonlyArray<string>): string => {
  let out = text
  const ordered = secrets.length > 1 ? [...secrets].sort((a, b) => b.length - a.length) : secrets
  for (const secret of ordered) {
    if (secret.length >= 4 && out.includes(secret)) out = out.split(secret).join(REDACTED)
  }
  return out
}

/** Applies `scrub` to the free-text fields of an error. */
export const scrubError = <E extends SynapseError>(error: E, secrets: ReadonlyArray<string>): E => {
  if (secrets.length === 0) return error
  const detail = scrub(error.detail, secrets)
  const ex = error._tag === "DecodeError" && error.excerpt !== undefined ? scrub(error.excerpt, secrets) : undefined
  if (detail === error.detail && (ex === undefined || (error._tag === "DecodeError" && ex === error.excerpt))) {
    return error
  }
  const Ctor = error.constructor as new(fields: object) => E
  return new Ctor({ ...fieldsOf(error), detail, ...(ex !== undefined ? { excerpt: ex } : {}) })
}

const fieldsOf = (error: SynapseError): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(error)) {
    if (key !== "_tag") out[key] = value
  }
  return out
}
