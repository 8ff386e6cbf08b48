/**
 * `SynapseClient`: the one place where the `HttpClient` is configured for Synapse (docs/architecture.md "Services").
 * It holds the base URL, the auth headers (from `Redacted` config), the user agent, the timeouts, the
 * retry policy and the call deadline, and maps every failure once into the `SynapseError` union. Operations
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
 *
 * The pieces live in their own modules, re-exported here: `ClientConfig` (options, defaults, the
 * environment), `Decoding` (JSON parsing and schema checks), `ErrorMapping` (transport failures and
 * statuses into errors), `CallPolicy` (retries, timeouts, the deadline) and `Parameters` (checking
 * and encoding query parameters).
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Clock, type ConfigError, Context, Duration, Effect, Either, Layer, Redacted, type Schema } from "effect"
import * as CallPolicy from "./CallPolicy.js"
import {
  type Options,
  optionsConfig,
  type RequestOptions,
  resolve,
  type Timeouts,
  validateDuration
} from "./ClientConfig.js"
import { type Decoder, decoder, isCutShort, parseJson } from "./Decoding.js"
import { checkStatus, fromHttpClientError } from "./ErrorMapping.js"
import { DecodeError, isTransient, scrub, scrubError, stripQuery, type SynapseError } from "./SynapseError.js"
import { VERSION } from "./Version.js"

export {
  DEFAULT_DEADLINE,
  DEFAULT_TIMEOUTS,
  defaultRetrySchedule,
  type Options,
  optionsConfig,
  parseBaseUrl,
  type RequestOptions,
  type Timeouts
} from "./ClientConfig.js"
export { type Decoder, decoder, parseJson } from "./Decoding.js"
export { fromHttpClientError } from "./ErrorMapping.js"
export { type ExtraParams, queryParams, type QueryValue, validate } from "./Parameters.js"
/** The SDK version sent in the default user agent. */
export { VERSION } from "./Version.js"

/** The configured client that every SDK service issues requests through. */
export interface Service {
  /** The base URL, without a trailing `/`. */
  readonly baseUrl: string
  /** The effective timeouts. */
  readonly timeouts: Timeouts
  /** The total time a call may take, all attempts included. */
  readonly deadline: Duration.Duration
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
   * covers the whole exchange, body included (not the parsing); a body cut short is a transient
   * failure, asked for again like a 5xx where the request may be retried.
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
   * the timeout and retries); the effect it succeeds with parses and decodes that body (asking again,
   * within the call's deadline, if the body was cut short). Prefetching runs the first step concurrently and the second
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
   * timeouts, broken connections) with the configured schedule, waiting at least `Retry-After`,
   * starting no retry past the deadline from now (`options.deadline`, default the client's). A bad
   * `deadline` is a `ValidationError`.
   */
  readonly retry: <A, R>(
    self: Effect.Effect<A, SynapseError, R>,
    options?: { readonly deadline?: Duration.DurationInput | undefined }
  ) => Effect.Effect<A, SynapseError, R>
  /** Removes the configured secrets from a text (for messages built by callers). */
  readonly redact: (text: string) => string
}

/** The `SynapseClient` service. */
export class SynapseClient extends Context.Tag("synapse-ml/SynapseClient")<SynapseClient, Service>() {}

const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"])

/** The names of the auth headers, for redaction in spans. */
const SECRET_HEADERS = ["synapse-access-token", "authorization", "synapse-tenant", "synapse-agent"]

const isAbsolute = (url: string): boolean => /^[a-z][a-z0-9+.-]*:/i.test(url)

/** A 2xx answer's status and body text, read within the attempt's timeout and parsed after it. */
class Body {
  constructor(readonly status: number, readonly text: string) {}
}

/** What a JSON call retries: the transient failures, and an answer cut short. */
const transientOrCutShort = (error: SynapseError): boolean => isTransient(error) || isCutShort(error)

/** Builds the client from options; fails with a `ConfigError` naming the first unusable option. */
export const make = (options: Options): Effect.Effect<Service, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const config = yield* resolve(options)
    const { baseUrl, timeouts } = config
    const base = yield* HttpClient.HttpClient
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

    const policy = CallPolicy.make({
      baseUrl,
      schedule: config.schedule,
      maxRetryAfter: config.maxRetryAfter,
      redact
    })

    // Errors are scrubbed before the policy sees them, so that its log lines are clean too.
    const clean = <A, R>(self: Effect.Effect<A, SynapseError, R>) =>
      Effect.mapError(self, (error) => scrubError(error, secrets))

    const retry: Service["retry"] = (self, options) =>
      Either.match(validateDuration("deadline", options?.deadline), {
        onLeft: Effect.fail,
        onRight: (deadline) => withRedactedHeaders(policy.retry(clean(self), deadline ?? config.deadline))
      })

    /** A call's settings from its options, or the `ValidationError` of a bad option value. */
    const callOf = (
      request: HttpClientRequest.HttpClientRequest,
      options: RequestOptions | undefined,
      startedAtMs?: number
    ) =>
      Either.gen(function*() {
        const timeout = (yield* validateDuration("timeout", options?.timeout)) ?? config.attemptTimeout
        const deadline = (yield* validateDuration("deadline", options?.deadline)) ??
          (options?.timeout !== undefined ? Duration.max(config.deadline, timeout) : config.deadline)
        const info: CallPolicy.CallInfo = {
          method: request.method,
          url: resolveUrl(request.url),
          retry: options?.retry ?? SAFE_METHODS.has(request.method),
          deadline,
          startedAtMs
        }
        return { info, timeout }
      })

    /** One attempt: send, and turn a non-2xx status into its error (reading the error body). */
    const sendOnce = (request: HttpClientRequest.HttpClientRequest, url: string) =>
      httpClient.execute(request).pipe(
        Effect.mapError(fromHttpClientError),
        Effect.flatMap((response) => checkStatus(response, request.method, url))
      )

    const within = (budget: CallPolicy.AttemptBudget) => <A, R>(self: Effect.Effect<A, SynapseError, R>) =>
      Effect.timeoutFail(self, { duration: budget.timeout, onTimeout: budget.timeoutError })

    const execute: Service["execute"] = (request, options) =>
      Either.match(callOf(request, options), {
        onLeft: Effect.fail,
        onRight: ({ info, timeout }) =>
          withRedactedHeaders(
            policy.run(info, timeout, isTransient, (budget) => clean(sendOnce(request, info.url).pipe(within(budget))))
          )
      })

    // The timeout bounds the network part (answer and body text) only; parsing and decoding run
    // after it, in the caller's fiber. `timeoutFail` runs its effect in a forked fiber, and a value
    // a fiber completes with stays reachable, for V8's young-generation collector, from the dead
    // fiber until the next full collection: a parsed page (megabytes of small objects) returned from
    // there was copied and promoted by every scavenge, 3-4x the scavenge work of a plain fetch loop.
    // The body text is one large string, which scavenges do not copy.
    const readBody = (request: HttpClientRequest.HttpClientRequest, url: string, budget: CallPolicy.AttemptBudget) =>
      sendOnce(request, url).pipe(
        Effect.flatMap((response) =>
          Effect.map(Effect.mapError(response.text, fromHttpClientError), (text) => new Body(response.status, text))
        ),
        within(budget)
      )

    const decodeBody = <A>(request: HttpClientRequest.HttpClientRequest, decode: Decoder<A>) => {
      const method = request.method
      const url = stripQuery(resolveUrl(request.url))
      return (body: Body): Either.Either<A, SynapseError> => {
        const parsed = parseJson(body.text, body.status)
        const decoded: Either.Either<A, DecodeError> = Either.isLeft(parsed)
          ? Either.left(parsed.left)
          : Either.mapLeft(decode(parsed.right), (error) => new DecodeError({ ...error, status_code: body.status }))
        return Either.mapLeft(
          decoded,
          (error) => scrubError(error.url === undefined ? new DecodeError({ ...error, method, url }) : error, secrets)
        )
      }
    }

    const jsonWith: Service["jsonWith"] = (request, decode, options) =>
      Either.match(callOf(request, options), {
        onLeft: Effect.fail,
        onRight: ({ info, timeout }) => {
          const decodeOne = decodeBody(request, decode)
          // Parsed within the call's attempts, not as a second step after them as `jsonLater` does:
          // following `next` that way, the export's peak RSS at 1M annotations rose from ~250 to
          // ~375 MB in two runs of three (the pages retained for the young-generation collector).
          return withRedactedHeaders(
            policy.run(info, timeout, transientOrCutShort, (budget) =>
              Effect.flatMap(clean(readBody(request, info.url, budget)), decodeOne))
          )
        }
      })

    const jsonLater: Service["jsonLater"] = (request, decode, options) =>
      Effect.flatMap(Clock.currentTimeMillis, (startedAtMs) =>
        Either.match(callOf(request, options, startedAtMs), {
          onLeft: Effect.fail,
          onRight: ({ info, timeout }) => {
            const decodeOne = decodeBody(request, decode)
            const read = (retryable: (error: SynapseError) => boolean) =>
              withRedactedHeaders(
                policy.run(info, timeout, retryable, (budget) => clean(readBody(request, info.url, budget)))
              )
            return Effect.map(read(isTransient), (body) =>
              Effect.suspend(() => {
                const decoded = decodeOne(body)
                // A body cut short is asked for again, as `jsonWith` does, within the same deadline.
                if (Either.isLeft(decoded) && isCutShort(decoded.left) && info.retry) {
                  return withRedactedHeaders(
                    policy.run(
                      info,
                      timeout,
                      transientOrCutShort,
                      (budget) => Effect.flatMap(clean(readBody(request, info.url, budget)), decodeOne)
                    )
                  )
                }
                return decoded
              }))
          }
        }))

    const json: Service["json"] = (request, schema, options) => jsonWith(request, decoder(schema), options)

    return SynapseClient.of({
      baseUrl,
      timeouts,
      deadline: config.deadline,
      prefetch: config.prefetch,
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
