/**
 * `SynapseClient`: the one place where the `HttpClient` is configured for Synapse (docs/architecture.md "Services").
 * It holds the base URL, the auth headers (from `Redacted` config), the user agent, the timeouts and
 * the retry policy, and maps every failure once into the `SynapseError` union. Operations
 * (`Models`, `GroundTruths`, `ChunkedUpload`, …) only build requests and hand them to it.
 *
 * How other services issue requests (get the service once, at layer build time, and close over it):
 *
 * ```ts
 * const client = yield* SynapseClient
 * // JSON in, schema-decoded JSON out, errors already SynapseError:
 * const model = yield* client.json(HttpClientRequest.get(`models/${id}/`), Model)
 * // absolute URLs (a `next` link, a chunked-upload `url`) are used verbatim, relative ones are
 * // resolved against the base URL; auth headers are added either way.
 * const body = multipartBody(filename, bytes) // from UploadSource (bodyFormData fails over undici)
 * const state = yield* client.json(
 *   HttpClientRequest.put(uploadUrl).pipe(HttpClientRequest.bodyStream(body.stream, { contentType: body.contentType, contentLength: body.contentLength })),
 *   ChunkedUploadState,
 *   { retry: true, timeout: "2 minutes" } // chunk PUTs are idempotent by range: retried
 * )
 * // POST/PATCH are never retried unless `retry: true` is passed explicitly.
 * const done = yield* client.json(HttpClientRequest.post(uploadUrl).pipe(HttpClientRequest.bodyUnsafeJson({ md5 })), ChunkedUploadComplete)
 * // The raw response (status already checked, errors mapped), e.g. to stream a body:
 * const response = yield* client.execute(request, { retry: false })
 * // The retry policy alone (transient errors only, Retry-After honoured), around any effect:
 * const resumed = yield* client.retry(sendChunkAndReadOffset)
 * ```
 *
 * `fileClient` is the same transport without auth headers, for presigned file URLs (FileCache).
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import {
  Clock,
  Config,
  ConfigError,
  Context,
  Duration,
  Effect,
  Either,
  Layer,
  Option,
  ParseResult,
  Predicate,
  Redacted,
  Schedule,
  Schema,
  SchemaAST
} from "effect"
import { firstIssue } from "../schemas/FirstIssue.js"
import { guardOf } from "../schemas/Guard.js"
import { DEFAULT_PREFETCH, prefetchProblem } from "./Pagination.js"
import {
  ConnectionError,
  DecodeError,
  excerpt,
  fromResponse,
  isTransient,
  retryAfterOf,
  scrub,
  scrubError,
  stripQuery,
  type SynapseError,
  TimeoutError,
  ValidationError
} from "./SynapseError.js"

/** The timeouts of the reference client (docs/wire-protocol.md "Transport"). */
export interface Timeouts {
  /** Time allowed to establish a connection. */
  readonly connect: Duration.Duration
  /** Time allowed to receive a complete answer once connected. */
  readonly read: Duration.Duration
  /** Read timeout of ground-truth listings, whose pages are large. */
  readonly listing: Duration.Duration
}

/** Defaults: connect 5 s, read 15 s, ground-truth listings 60 s. */
export const DEFAULT_TIMEOUTS: Timeouts = {
  connect: Duration.seconds(5),
  read: Duration.seconds(15),
  listing: Duration.seconds(60)
}

/**
 * The default retry schedule: exponential backoff from 250 ms, doubled each time, with jitter,
 * each delay capped at 8 s, at most 6 retries, and no retry started after 60 s in total.
 */
export const defaultRetrySchedule: Schedule.Schedule<unknown, SynapseError> = Schedule.exponential("250 millis", 2)
  .pipe(
    Schedule.jittered,
    // union takes the shorter delay of the two: this caps each wait at 8 s
    Schedule.union(Schedule.spaced("8 seconds")),
    Schedule.intersect(Schedule.recurs(6)),
    Schedule.upTo("60 seconds")
  )

/** Options of `make` / `layer`. Secrets are `Redacted` so they never print. */
export interface Options {
  /** `https://api.synapse.sh` or a sandbox URL; a trailing `/` is dropped. */
  readonly baseUrl: string | URL
  /** Sent as `Synapse-Access-Token: Token …` (the primary credential). */
  readonly accessToken?: Redacted.Redacted | undefined
  /** Sent as `Authorization: Token …` (legacy backends). */
  readonly authorizationToken?: Redacted.Redacted | undefined
  /** Sent as `Synapse-Tenant: Token …`. */
  readonly tenant?: Redacted.Redacted | undefined
  /** Sent as `SYNAPSE-Agent: Token …`. */
  readonly agentToken?: Redacted.Redacted | undefined
  /** Overrides of `DEFAULT_TIMEOUTS`. */
  readonly timeouts?: {
    readonly connect?: Duration.DurationInput | undefined
    readonly read?: Duration.DurationInput | undefined
    readonly listing?: Duration.DurationInput | undefined
  } | undefined
  /** The retry schedule for transient failures of safe requests (default `defaultRetrySchedule`). */
  readonly retry?: Schedule.Schedule<unknown, SynapseError> | undefined
  /**
   * A `Retry-After` longer than this is not waited for: the `RateLimitError` is returned instead, so
   * a caller is not silently parked for an hour. Default 60 s.
   */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
  /** The `User-Agent` header (default `synapse-ml/<version>`). */
  readonly userAgent?: string | undefined
  /**
   * Pages a listing stream requests at once once page 1 has given `count` (1..16; default
   * `DEFAULT_PREFETCH`, 8). 1 follows `next` one page at a time. A call's own `prefetch` wins.
   */
  readonly prefetch?: number | undefined
  /**
   * A last transformation of the configured clients (tracing, observing requests, a proxy…). It
   * applies to the file client too, so it must not add credentials: file hosts get none.
   */
  readonly transformClient?: ((client: HttpClient.HttpClient) => HttpClient.HttpClient) | undefined
}

/** Per-request options. */
export interface RequestOptions {
  /**
   * Retry transient failures with the configured policy. Default: yes for GET, HEAD, PUT, DELETE and
   * OPTIONS (safe or idempotent), no for POST and PATCH. Pass `true` for an idempotent POST.
   */
  readonly retry?: boolean | undefined
  /** Time allowed for one attempt, connection and complete answer (default connect + read). */
  readonly timeout?: Duration.DurationInput | undefined
}

/** A decoder prepared once for a schema: raw JSON in, decoded value or `DecodeError` out. */
export type Decoder<A> = (json: unknown) => Either.Either<A, DecodeError>

/** The configured client that every SDK service issues requests through. */
export interface Service {
  /** The base URL, without a trailing `/`. */
  readonly baseUrl: string
  /** The effective timeouts. */
  readonly timeouts: Timeouts
  /** Pages a listing stream requests at once unless a call says otherwise (1: follow `next`). */
  readonly prefetch: number
  /**
   * The underlying client with base URL resolution, auth headers, `Accept: application/json` and
   * the user agent; no status check, retry, timeout or error mapping. For special needs only.
   */
  readonly httpClient: HttpClient.HttpClient
  /** The transport without auth headers, for presigned file URLs; follows redirects. */
  readonly fileClient: HttpClient.HttpClient
  /** A path relative to the base URL (`models/1/`) as an absolute URL; absolute URLs unchanged. */
  readonly resolveUrl: (pathOrUrl: string) => string
  /**
   * Sends a request once or with retries (per `options.retry`), within the per-attempt timeout for
   * the response headers. Succeeds with a 2xx response; any other status becomes its `SynapseError`.
   */
  readonly execute: (
    request: HttpClientRequest.HttpClientRequest,
    options?: RequestOptions
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, SynapseError>
  /**
   * Sends a request and decodes its JSON answer with `schema` (unknown fields kept). The timeout
   * covers the whole exchange, body included (not the parsing); a truncated body gets one more attempt.
   */
  readonly json: <A, I>(
    request: HttpClientRequest.HttpClientRequest,
    schema: Schema.Schema<A, I, never>,
    options?: RequestOptions
  ) => Effect.Effect<A, SynapseError>
  /** `json` with a decoder from `decoder` (reuse one across pages). */
  readonly jsonWith: <A>(
    request: HttpClientRequest.HttpClientRequest,
    decode: Decoder<A>,
    options?: RequestOptions
  ) => Effect.Effect<A, SynapseError>
  /**
   * `jsonWith` in two steps: the outer effect sends the request and reads the answer's body (with
   * the timeout and retries); the effect it succeeds with parses and decodes that body (asking once
   * more if the body was cut short). Prefetching runs the first step concurrently and the second
   * in order: parsed pages are then never the result of a forked fiber, which costs the garbage
   * collector dearly (see the note where it is built).
   */
  readonly jsonLater: <A>(
    request: HttpClientRequest.HttpClientRequest,
    decode: Decoder<A>,
    options?: RequestOptions
  ) => Effect.Effect<Effect.Effect<A, SynapseError>, SynapseError>
  /**
   * The retry policy alone: retries `self` on transient failures (408, 429, 5xx except 501/505…,
   * timeouts, broken connections) with the configured schedule, waiting at least `Retry-After`.
   */
  readonly retry: <A, R>(self: Effect.Effect<A, SynapseError, R>) => Effect.Effect<A, SynapseError, R>
  /** Removes the configured secrets from a text (for messages built by callers). */
  readonly redact: (text: string) => string
}

/** The `SynapseClient` service. */
export class SynapseClient extends Context.Tag("synapse-ml/SynapseClient")<SynapseClient, Service>() {}

/** The SDK version sent in the default user agent. */
export { VERSION } from "./Version.js"
import { VERSION } from "./Version.js"

const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"])

/** The names of the auth headers, for redaction in spans. */
const SECRET_HEADERS = ["synapse-access-token", "authorization", "synapse-tenant", "synapse-agent"]

const isAbsolute = (url: string): boolean => /^[a-z][a-z0-9+.-]*:/i.test(url)

/**
 * Checks a base URL: an absolute http(s) URL, trailing `/` dropped. Fails with a message naming
 * the setting (`name`), so a typo in the environment is reported at layer construction.
 */
export const parseBaseUrl = (value: string | URL, name: string): Either.Either<string, ConfigError.ConfigError> => {
  const raw = String(value).trim()
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return Either.left(
      ConfigError.InvalidData(
        [name],
        `${name} must be an absolute http(s) URL such as https://api.synapse.sh, got ${
          JSON.stringify(raw.slice(0, 100))
        }`
      )
    )
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return Either.left(
      ConfigError.InvalidData([name], `${name} must use http or https, got ${JSON.stringify(url.protocol)}`)
    )
  }
  if (url.search !== "" || url.hash !== "") {
    return Either.left(ConfigError.InvalidData([name], `${name} must not contain a query or fragment`))
  }
  if (url.username !== "" || url.password !== "") {
    return Either.left(
      ConfigError.InvalidData([name], `${name} must not contain credentials: use SYNAPSE_ACCESS_TOKEN`)
    )
  }
  return Either.right(url.toString().replace(/\/+$/, ""))
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

const valueAt = (json: unknown, path: ReadonlyArray<PropertyKey>): unknown => {
  let current = json
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined
    current = (current as Record<PropertyKey, unknown>)[key]
  }
  return current
}

const short = (value: unknown): string => {
  let text: string
  try {
    text = value === undefined ? "undefined" : JSON.stringify(value) ?? String(value)
  } catch {
    text = String(value)
  }
  return text.length > 120 ? `${text.slice(0, 120)}…` : text
}

const decodeErrorFrom = (json: unknown, error: ParseResult.ParseError): DecodeError => {
  const first = firstIssue(error)
  const more = first.others > 0 ? ` (and ${first.others} more)` : ""
  return new DecodeError({
    detail: `the answer does not match the expected schema: ${first.message}${more}`,
    ...(first.where !== undefined ? { path: first.where } : {}),
    excerpt: short(valueAt(json, first.path))
  })
}

const decoders = new WeakMap<SchemaAST.AST, Decoder<unknown>>()

/**
 * A decoder for `schema`, built once per schema: unknown fields are kept (`onExcessProperty:
 * "preserve"`), and for schemas without transformations a fast validity check runs first, the
 * full decode only when it fails (to say which field is wrong).
 */
export const decoder = <A, I>(schema: Schema.Schema<A, I, never>): Decoder<A> => {
  const cached = decoders.get(schema.ast)
  if (cached !== undefined) return cached as Decoder<A>
  const decode = Schema.decodeUnknownEither(schema, { onExcessProperty: "preserve", errors: "all" })
  const slow: Decoder<A> = (json) => Either.mapLeft(decode(json), (error) => decodeErrorFrom(json, error))
  // Without transformations the validated JSON is the decoded value: a fast check, and the full
  // decode only to explain a failure.
  const guard = guardOf(schema.ast)
  const made: Decoder<A> = guard !== undefined ? (json) => (guard(json) ? Either.right(json as A) : slow(json)) : slow
  decoders.set(schema.ast, made as Decoder<unknown>)
  return made
}

/** A 2xx answer's status and body text, read within the request timeout and parsed after it. */
class Body {
  constructor(readonly status: number, readonly text: string) {}
}

/** Whether a JSON syntax error is an answer cut short rather than a wrong one. */
const isTruncatedJson = (text: string, error: unknown): boolean => {
  const message = error instanceof Error ? error.message : String(error)
  if (/end of JSON input|Unterminated/i.test(message)) return true
  const position = /position (\d+)/.exec(message)
  return position !== null && Number(position[1]) >= text.trimEnd().length
}

/** Parses a 2xx body as JSON, or says precisely why it is not JSON. */
export const parseJson = (text: string, status: number): Either.Either<unknown, DecodeError> => {
  // not text.trim(): that copies a whole (megabyte) page just to look at its first characters
  if (/^\s*$/.test(text)) {
    return Either.left(
      new DecodeError({ status_code: status, detail: "the server answered with an empty body where JSON was expected" })
    )
  }
  try {
    return Either.right(JSON.parse(text))
  } catch (error) {
    const truncated = isTruncatedJson(text, error)
    const html = /^\s*</.test(text)
    return Either.left(
      new DecodeError({
        status_code: status,
        detail: html
          ? "the server answered with HTML where JSON was expected (a proxy or login page?)"
          : truncated
          ? "the answer was cut short: truncated JSON"
          : `the answer is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
        excerpt: excerpt(text, 200),
        truncated
      })
    )
  }
}

// ---------------------------------------------------------------------------------------------
// Transport errors
// ---------------------------------------------------------------------------------------------

const causeText = (cause: unknown): string => {
  if (Predicate.hasProperty(cause, "code") && typeof cause.code === "string") {
    const code = cause.code
    if (code === "ECONNRESET") return "the connection was reset (ECONNRESET)"
    if (code === "ECONNREFUSED") return "the connection was refused (ECONNREFUSED): is the server running?"
    if (code === "ENOTFOUND") return "the host name does not resolve (ENOTFOUND)"
    if (code === "EPIPE") return "the connection was closed while sending (EPIPE)"
    if (code === "UND_ERR_SOCKET" || code === "ERR_STREAM_PREMATURE_CLOSE") {
      return `the connection closed early (${code})`
    }
    return `connection failure (${code})`
  }
  if (cause instanceof Error) {
    return cause.message === "aborted"
      ? "the connection closed before the answer was complete"
      : cause.message
  }
  return String(cause)
}

/**
 * Maps an `HttpClientError` to the union. Only strings are kept: the request (and its auth
 * headers) is never stored in the result.
 */
export const fromHttpClientError = (error: HttpClientError.HttpClientError): SynapseError => {
  const method = error.request.method
  const url = stripQuery(error.request.url)
  if (error._tag === "RequestError") {
    switch (error.reason) {
      case "InvalidUrl":
        return new ValidationError({ detail: `invalid request URL: ${url}`, field: "url", method, url })
      case "Encode":
        return new ValidationError({
          detail: `the request body could not be encoded: ${causeText(error.cause)}`,
          method,
          url
        })
      case "Transport":
        return new ConnectionError({ detail: causeText(error.cause), method, url })
    }
  }
  switch (error.reason) {
    case "StatusCode":
      return fromResponse({ status: error.response.status, body: "", method, url })
    case "EmptyBody":
      return new DecodeError({
        status_code: error.response.status,
        detail: "the server answered with an empty body",
        method,
        url
      })
    case "Decode":
      return new ConnectionError({
        status_code: error.response.status,
        detail: `reading the answer failed: ${causeText(error.cause)}`,
        method,
        url
      })
  }
}

// ---------------------------------------------------------------------------------------------
// make
// ---------------------------------------------------------------------------------------------

/** Builds the client from options; fails with a `ConfigError` naming `baseUrl` when it is unusable. */
export const make = (options: Options): Effect.Effect<Service, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const baseUrl = yield* parseBaseUrl(options.baseUrl, "baseUrl")
    const base = yield* HttpClient.HttpClient
    const timeouts: Timeouts = {
      connect: Duration.decode(options.timeouts?.connect ?? DEFAULT_TIMEOUTS.connect),
      read: Duration.decode(options.timeouts?.read ?? DEFAULT_TIMEOUTS.read),
      listing: Duration.decode(options.timeouts?.listing ?? DEFAULT_TIMEOUTS.listing)
    }
    const defaultTimeout = Duration.sum(timeouts.connect, timeouts.read)
    const prefetch = options.prefetch ?? DEFAULT_PREFETCH
    const prefetchIssue = prefetchProblem(prefetch)
    if (prefetchIssue !== undefined) {
      return yield* Effect.fail(ConfigError.InvalidData(["prefetch"], `prefetch ${prefetchIssue}`))
    }
    const schedule = options.retry ?? defaultRetrySchedule
    const maxRetryAfter = Duration.decode(options.maxRetryAfter ?? "60 seconds")
    const userAgent = options.userAgent ?? `synapse-ml/${VERSION} (effect; node ${process.versions.node})`

    const secrets: Array<string> = []
    const authHeaders: Record<string, string> = {}
    const addToken = (header: string, token: Redacted.Redacted | undefined) => {
      if (token === undefined) return
      const raw = Redacted.value(token) as unknown
      const value = typeof raw === "string" ? raw.trim() : ""
      if (value === "") return
      secrets.push(value.replace(/^Token\s+/i, ""))
      authHeaders[header] = /^Token\s/i.test(value) ? value : `Token ${value}`
    }
    addToken("Synapse-Access-Token", options.accessToken)
    addToken("Authorization", options.authorizationToken)
    addToken("Synapse-Tenant", options.tenant)
    addToken("SYNAPSE-Agent", options.agentToken)
    const redact = (text: string) => scrub(text, secrets)

    const resolveUrl = (pathOrUrl: string): string =>
      isAbsolute(pathOrUrl) ? pathOrUrl : `${baseUrl}/${pathOrUrl.replace(/^\/+/, "")}`

    const transform = options.transformClient ?? ((client: HttpClient.HttpClient) => client)
    const httpClient = transform(
      base.pipe(
        HttpClient.mapRequest((request) =>
          request.pipe(
            HttpClientRequest.setUrl(resolveUrl(request.url)),
            HttpClientRequest.acceptJson,
            HttpClientRequest.setHeader("user-agent", userAgent),
            HttpClientRequest.setHeaders(authHeaders)
          )
        )
      )
    )
    // File hosts get neither tokens nor trace headers: presigned URLs are authority enough.
    const fileClient = transform(
      base.pipe(
        HttpClient.mapRequest(HttpClientRequest.setHeader("user-agent", userAgent)),
        HttpClient.withTracerPropagation(false),
        HttpClient.followRedirects(5)
      )
    )

    // Spans record request headers: make sure the token headers are redacted there too.
    const withRedactedHeaders = <A, E, R>(self: Effect.Effect<A, E, R>) =>
      Effect.locallyWith(self, Headers.currentRedactedNames, (names) => [...names, ...SECRET_HEADERS])

    const policy = Schedule.intersect(schedule, Schedule.identity<SynapseError>()).pipe(
      Schedule.whileInput((error: SynapseError) => {
        if (!isTransient(error)) return false
        const wait = retryAfterOf(error)
        return wait === undefined || Duration.lessThanOrEqualTo(wait, maxRetryAfter)
      }),
      // Retry-After is a minimum: never retry sooner than the server asked.
      Schedule.modifyDelay(([, error], delay) => {
        const wait = retryAfterOf(error)
        return wait !== undefined && Duration.greaterThan(wait, delay) ? wait : delay
      })
    )

    // A body cut short (a proxy or a reset mid-body) is asked for again on the same schedule as a
    // transient failure: under concurrent paging one page may be cut twice in a row.
    const cutShort = (error: SynapseError) => error._tag === "DecodeError" && error.truncated === true
    const truncationPolicy = Schedule.intersect(schedule, Schedule.identity<SynapseError>()).pipe(
      Schedule.whileInput(cutShort)
    )

    const retry = <A, R>(self: Effect.Effect<A, SynapseError, R>): Effect.Effect<A, SynapseError, R> =>
      Effect.retry(
        self.pipe(
          Effect.tapError((error) =>
            isTransient(error)
              ? Effect.logDebug("synapse request failed, will retry if the budget allows").pipe(
                Effect.annotateLogs({
                  error: error._tag,
                  status: error.status_code ?? "-",
                  detail: redact(error.detail)
                })
              )
              : Effect.void
          )
        ),
        policy
      )

    const shouldRetry = (request: HttpClientRequest.HttpClientRequest, options?: RequestOptions) =>
      options?.retry ?? SAFE_METHODS.has(request.method)

    const withTimeout =
      (timeout: Duration.Duration, request: HttpClientRequest.HttpClientRequest) =>
      <A, R>(self: Effect.Effect<A, SynapseError, R>) =>
        Effect.timeoutFail(self, {
          duration: timeout,
          onTimeout: () =>
            new TimeoutError({
              detail: `no complete answer within ${Duration.format(timeout)}`,
              method: request.method,
              url: stripQuery(resolveUrl(request.url)),
              timeoutMs: Duration.toMillis(timeout)
            })
        })

    /** One attempt: send, and turn a non-2xx status into its error (reading the error body). */
    const sendOnce = (request: HttpClientRequest.HttpClientRequest) =>
      httpClient.execute(request).pipe(
        Effect.mapError(fromHttpClientError),
        Effect.flatMap((response) => {
          if (response.status >= 200 && response.status < 300) return Effect.succeed(response)
          return response.text.pipe(
            Effect.orElseSucceed(() => ""),
            Effect.flatMap((body) =>
              Clock.currentTimeMillis.pipe(
                Effect.flatMap((nowMs) =>
                  Effect.fail(fromResponse({
                    status: response.status,
                    body,
                    retryAfter: response.headers["retry-after"],
                    method: request.method,
                    url: resolveUrl(request.url),
                    nowMs
                  }))
                )
              )
            )
          )
        })
      )

    const finish = <A>(
      self: Effect.Effect<A, SynapseError>,
      request: HttpClientRequest.HttpClientRequest,
      options?: RequestOptions
    ) => {
      // scrubbed before the retry policy sees them, so that its log lines are clean too
      const clean = Effect.mapError(self, (error) => scrubError(error, secrets))
      return withRedactedHeaders(shouldRetry(request, options) ? retry(clean) : clean)
    }

    const execute: Service["execute"] = (request, options) => {
      const timeout = options?.timeout !== undefined ? Duration.decode(options.timeout) : defaultTimeout
      return finish(sendOnce(request).pipe(withTimeout(timeout, request)), request, options)
    }

    // The timeout bounds the network part (answer and body text) only; parsing and decoding run
    // after it, in the caller's fiber. `timeoutFail` runs its effect in a forked fiber, and a value
    // a fiber completes with stays reachable, for V8's young-generation collector, from the dead
    // fiber until the next full collection: a parsed page (megabytes of small objects) returned from
    // there was copied and promoted by every scavenge, 3-4x the scavenge work of a plain fetch loop.
    // The body text is one large string, which scavenges do not copy.
    const readBody = (request: HttpClientRequest.HttpClientRequest, options?: RequestOptions) =>
      sendOnce(request).pipe(
        Effect.flatMap((response) =>
          Effect.map(Effect.mapError(response.text, fromHttpClientError), (text) => new Body(response.status, text))
        ),
        withTimeout(options?.timeout !== undefined ? Duration.decode(options.timeout) : defaultTimeout, request)
      )

    const decodeBody = <A>(request: HttpClientRequest.HttpClientRequest, decode: Decoder<A>) => {
      const method = request.method
      const url = stripQuery(resolveUrl(request.url))
      return (body: Body): Either.Either<A, DecodeError> => {
        const parsed = parseJson(body.text, body.status)
        const decoded: Either.Either<A, DecodeError> = Either.isLeft(parsed)
          ? Either.left(parsed.left)
          : Either.mapLeft(decode(parsed.right), (error) => new DecodeError({ ...error, status_code: body.status }))
        return Either.mapLeft(
          decoded,
          (error) => (error.url === undefined ? new DecodeError({ ...error, method, url }) : error)
        )
      }
    }

    const jsonWith: Service["jsonWith"] = (request, decode, options) => {
      const decodeOne = decodeBody(request, decode)
      const attempt = Effect.flatMap(readBody(request, options), decodeOne)
      // Parsed within the retry policy's scope, not as a second step after it as `jsonLater` does:
      // following `next` that way, the export's peak RSS at 1M annotations rose from ~250 to ~375 MB
      // in two runs of three (the pages retained for the young-generation collector again).
      // Asking again for a body cut short sends the request again: only where a retry may.
      return finish(shouldRetry(request, options) ? Effect.retry(attempt, truncationPolicy) : attempt, request, options)
    }

    const jsonLater: Service["jsonLater"] = (request, decode, options) => {
      const decodeOne = decodeBody(request, decode)
      const read = finish(readBody(request, options), request, options)
      const decodeClean = (body: Body) =>
        Either.mapLeft(decodeOne(body), (error) => scrubError(error, secrets) as DecodeError)
      return Effect.map(read, (body) =>
        Effect.suspend(() => {
          const decoded = decodeClean(body)
          // A body cut short is asked for again, as `jsonWith` does.
          if (Either.isLeft(decoded) && decoded.left.truncated === true && shouldRetry(request, options)) {
            return Effect.retry(Effect.flatMap(read, decodeClean), truncationPolicy)
          }
          return decoded
        }))
    }

    const json: Service["json"] = (request, schema, options) => jsonWith(request, decoder(schema), options)

    return SynapseClient.of({
      baseUrl,
      timeouts,
      prefetch,
      httpClient,
      fileClient,
      resolveUrl,
      execute,
      json,
      jsonWith,
      jsonLater,
      retry,
      redact
    })
  })

/** A layer from explicit options. Requires an `HttpClient` (provide `NodeHttpClient.layer`). */
export const layer = (options: Options): Layer.Layer<SynapseClient, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(SynapseClient, make(options))

const optionalSecret = (name: string) =>
  Config.redacted(name).pipe(
    Config.option,
    Config.map(Option.filter((r) => String(Redacted.value(r)).trim() !== "")),
    Config.map(Option.getOrUndefined)
  )

/** A timeout variable: plain seconds (`30`, `2.5`) or an Effect duration (`30 seconds`, `500 millis`). */
const optionalTimeout = (name: string) =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const text = raw.trim()
      if (/^\d+(\.\d+)?$/.test(text)) return Either.right(Duration.seconds(Number(text)))
      const decoded = Duration.decodeUnknown(text)
      return Option.match(Option.filter(decoded, (d) => Duration.toMillis(d) > 0), {
        onNone: () =>
          Either.left(
            ConfigError.InvalidData(
              [],
              `${name} must be a number of seconds (e.g. 30) or a duration such as "30 seconds", got ${
                JSON.stringify(text)
              }`
            )
          ),
        onSome: Either.right
      })
    }),
    Config.option,
    Config.map(Option.getOrUndefined)
  )

/** `SYNAPSE_PREFETCH`: an integer 1..16, blank or absent for the default. */
const optionalPrefetch = (name: string) =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const text = raw.trim()
      if (text === "") return Either.right(undefined)
      const value = /^[+-]?\d+$/.test(text) ? Number(text) : text
      const problem = prefetchProblem(value)
      return problem === undefined
        ? Either.right(value as number)
        : Either.left(ConfigError.InvalidData([], `${name} ${problem}`))
    }),
    Config.option,
    Config.map((value) => Option.getOrUndefined(value))
  )

/**
 * The options read from the environment: `SYNAPSE_BASE_URL` (required), `SYNAPSE_ACCESS_TOKEN`,
 * `SYNAPSE_AUTHORIZATION_TOKEN`, `SYNAPSE_TENANT`, `SYNAPSE_AGENT_TOKEN`,
 * `SYNAPSE_TIMEOUT_CONNECT`, `SYNAPSE_TIMEOUT_READ`, `SYNAPSE_TIMEOUT_LISTING`, `SYNAPSE_USER_AGENT`,
 * `SYNAPSE_PREFETCH` (pages a listing stream requests at once, 1..16; 1 follows `next`).
 */
export const optionsConfig: Config.Config<Options> = Config.all({
  baseUrl: Config.string("SYNAPSE_BASE_URL").pipe(
    Config.mapOrFail((raw) => Either.mapLeft(parseBaseUrl(raw, "SYNAPSE_BASE_URL"), (e) => e))
  ),
  accessToken: optionalSecret("SYNAPSE_ACCESS_TOKEN"),
  authorizationToken: optionalSecret("SYNAPSE_AUTHORIZATION_TOKEN"),
  tenant: optionalSecret("SYNAPSE_TENANT"),
  agentToken: optionalSecret("SYNAPSE_AGENT_TOKEN"),
  connect: optionalTimeout("SYNAPSE_TIMEOUT_CONNECT"),
  read: optionalTimeout("SYNAPSE_TIMEOUT_READ"),
  listing: optionalTimeout("SYNAPSE_TIMEOUT_LISTING"),
  userAgent: Config.string("SYNAPSE_USER_AGENT").pipe(Config.option, Config.map(Option.getOrUndefined)),
  prefetch: optionalPrefetch("SYNAPSE_PREFETCH")
}).pipe(
  Config.map(({ connect, listing, prefetch, read, ...rest }): Options => ({
    ...rest,
    timeouts: { connect, read, listing },
    ...(prefetch !== undefined ? { prefetch } : {})
  }))
)

/**
 * A layer from the environment (see `optionsConfig`); `overrides` (retry schedule,
 * `transformClient`, …) take precedence. A bad `SYNAPSE_BASE_URL` fails here, naming the variable.
 */
export const layerConfig = (
  overrides?: Partial<Options>
): Layer.Layer<SynapseClient, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    SynapseClient,
    Effect.flatMap(optionsConfig, (options) => make({ ...options, ...overrides }))
  )

// ---------------------------------------------------------------------------------------------
// Parameters: validated before any request, encoded as docs/wire-protocol.md "Transport" says
// ---------------------------------------------------------------------------------------------

/** A query value: scalars, or lists sent as repeated keys. */
export type QueryValue = string | number | boolean | null | undefined | ReadonlyArray<string | number | boolean>

/** Extra query parameters passed through unvalidated (a backend may accept more filters). */
export type ExtraParams = Readonly<Record<string, QueryValue>>

/** The closed sets of values some parameters accept, for messages that list them. */
const allowedValues = (
  field: string,
  allowed: Readonly<Record<string, ReadonlyArray<string>>>
): ReadonlyArray<string> | undefined => allowed[field.split(".")[0] ?? field]

/** One parameter's problem, as `validate` reports it. */
interface ParamProblem {
  readonly field: string
  readonly allowed: ReadonlyArray<string> | undefined
  /** The problem without the field name (a `fieldErrors` entry). */
  readonly message: string
  /** The problem naming its field (a part of `detail`). */
  readonly detail: string
}

/**
 * Validates parameters with `schema` before anything is sent. Every bad parameter is reported at
 * once, so a caller fixes them in one round rather than one per attempt: the `ValidationError`
 * names the first in `field` (and, for enumerations, the values it accepts in `allowed`), lists
 * each in `fieldErrors`, and joins them in `detail` (`; `-separated; one problem reads as it
 * always did). Unknown keys are kept, to be passed through.
 */
export const validate = <A, I>(
  schema: Schema.Schema<A, I, never>,
  input: unknown,
  options?: { readonly prefix?: string; readonly allowed?: Readonly<Record<string, ReadonlyArray<string>>> }
): Effect.Effect<A, ValidationError> => {
  const result = Schema.decodeUnknownEither(schema, { onExcessProperty: "preserve", errors: "all" })(input ?? {})
  if (Either.isRight(result)) return Effect.succeed(result.right)
  // One problem per parameter. Every issue of a parameter is listed (each member an optional or
  // union field tried, each bad element of a list), and its first is the one that says best what is
  // wrong: the one a stop-at-the-first-error decode reports.
  const firstByParam = new Map<string, ParseResult.ArrayFormatterIssue>()
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(result.left)) {
    const param = issue.path.length > 0 ? String(issue.path[0]) : ""
    if (!firstByParam.has(param)) firstByParam.set(param, issue)
  }
  const describeIssue = (issue: ParseResult.ArrayFormatterIssue | undefined): ParamProblem => {
    const inner = issue !== undefined && issue.path.length > 0 ? issue.path.map(String).join(".") : undefined
    const field = options?.prefix !== undefined
      ? (inner !== undefined ? `${options.prefix}.${inner}` : options.prefix)
      : inner ?? "params"
    const allowed = inner !== undefined && options?.allowed !== undefined
      ? allowedValues(inner, options.allowed)
      : undefined
    const got = issue !== undefined ? short(valueAt(input, issue.path)) : short(input)
    return allowed !== undefined
      ? {
        field,
        allowed,
        message: `must be one of ${allowed.join(", ")} (got ${got})`,
        detail: `${field} must be one of ${allowed.join(", ")} (got ${got})`
      }
      : {
        field,
        allowed,
        message: issue?.message ?? result.left.message,
        detail: `${field}: ${issue?.message ?? result.left.message}`
      }
  }
  const problems = firstByParam.size === 0 ? [describeIssue(undefined)] : [...firstByParam.values()].map(describeIssue)
  const first = problems[0]!
  const fieldErrors: Record<string, Array<string>> = {}
  for (const problem of problems) (fieldErrors[problem.field] ??= []).push(problem.message)
  return Effect.fail(
    new ValidationError({
      detail: problems.map((p) => p.detail).join("; "),
      field: first.field,
      ...(first.allowed !== undefined ? { allowed: [...first.allowed] } : {}),
      fieldErrors
    })
  )
}

const isScalar = (u: unknown): u is string | number | boolean =>
  typeof u === "string" || (typeof u === "number" && Number.isFinite(u)) || typeof u === "boolean"

/**
 * Query parameters as `[key, value]` pairs: lists as repeated keys, booleans as `true`/`false`,
 * `undefined`/`null` left out. Nested objects cannot be expressed in a query and are rejected.
 */
export const queryParams = (
  params: Readonly<Record<string, unknown>>
): Effect.Effect<Array<[string, string]>, ValidationError> =>
  Effect.suspend(() => {
    const out: Array<[string, string]> = []
    for (const [key, value] of Object.entries(params)) {
      if (value === undefined || value === null) continue
      if (isScalar(value)) {
        out.push([key, String(value)])
      } else if (Array.isArray(value) && value.every(isScalar)) {
        for (const item of value) out.push([key, String(item)])
      } else {
        return Effect.fail(
          new ValidationError({
            detail: `${key}: a query parameter must be a string, number, boolean or a list of them`,
            field: key
          })
        )
      }
    }
    return Effect.succeed(out)
  })
