/**
 * The sandbox's HTTP application: the router of every docs/wire-protocol.md endpoint under `/api/v1/`, presigned
 * files under `/media/`, test/ops endpoints under `/_sandbox/`, and the middleware in front of
 * them (token check, fault injection, statistics). A known path asked with a method it does not
 * serve answers DRF's `405` with `Allow`; an unknown path `404`. Every failure becomes a JSON
 * answer: handlers fail (or throw, from synchronous parsing) with `ApiError`; a client that hung up
 * is logged at debug level; anything else is logged as an error and answered as a 500 JSON body,
 * never a dropped connection (unless a fault asks for one). A 401 names its scheme
 * (`WWW-Authenticate: Token`); the evidence profile also answers a path missing its trailing slash
 * with Django's `301` to the slashed path.
 *
 * Bad input is a 4xx, never a 500 or a hang: a path with a `;` or `#` (which the router would cut
 * off, answering for a shorter path) is a 404 and one with malformed percent-encoding a 400; a
 * request body that stops arriving for `bodyTimeoutMs` is answered `408` and its connection closed
 * (the handler is interrupted, so an upload keeps its offset and resumes with the next PUT); and a
 * body the handler did not read is drained before the answer goes out, so that closing the
 * connection never resets it under the client's feet.
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { toIncomingMessage, toServerResponse } from "@effect/platform-node/NodeHttpServerRequest"
import { Cause, Effect, Option } from "effect"
import { timingSafeEqual } from "node:crypto"
import * as Fs from "node:fs"
import type * as Http from "node:http"
import { pipeline } from "node:stream"
import type { SandboxContext } from "./Context.js"
import { FaultSpecError, formatFaultSpec, parseFaultSpec } from "./Faults.js"
import { ApiError, detailError, errorResponse, json, parseJsonBody, pathOf, queryOf } from "./Http.js"
import { checkMediaRequest, parseRange, throttle } from "./Media.js"
import * as Resources from "./Resources.js"
import * as Uploads from "./Uploads.js"

/** The path prefix of the API: the sandbox's base URL is `http://host:port/api/v1`. */
export const API_PREFIX = "/api/v1"

/** How long a request body may stop arriving before the sandbox answers `408`, unless configured. */
export const DEFAULT_BODY_TIMEOUT_MS = 30_000

/**
 * Node server options that bound how long a request may take to arrive: its headers within the
 * body timeout (a client trickling headers holds a connection as surely as one trickling a body),
 * the whole request within ten minutes (a safety net: a stalled body is caught sooner by the idle
 * check of `makeApp`, and a steady one of the size a chunk has arrives well within it), both
 * checked every second instead of Node's thirty.
 */
export const nodeServerTimeouts = (bodyTimeoutMs: number = DEFAULT_BODY_TIMEOUT_MS) => ({
  headersTimeout: bodyTimeoutMs,
  requestTimeout: Math.max(600_000, bodyTimeoutMs),
  connectionsCheckingInterval: Math.min(1_000, bodyTimeoutMs)
})

type Respond = Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, HttpServerRequest.HttpServerRequest>

const findApiError = (cause: Cause.Cause<unknown>): ApiError | undefined => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure) && failure.value instanceof ApiError) return failure.value
  for (const defect of Cause.defects(cause)) if (defect instanceof ApiError) return defect
  return undefined
}

/** Turns any failure of a handler into a JSON answer. */
const handled = (
  self: Respond
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest> =>
  Effect.catchAllCause(self, (cause) => {
    const apiError = findApiError(cause)
    if (apiError !== undefined) return Effect.succeed(errorResponse(apiError))
    if (Cause.isInterruptedOnly(cause)) {
      // The client hung up (the platform interrupts the handler when its socket closes): normal
      // operation, not a sandbox failure. Nobody is left to read an answer; handlers that keep
      // state (uploads) log what they kept themselves.
      return Effect.logDebug("sandbox: the client disconnected before its answer was sent").pipe(
        Effect.as(json({ detail: "Client closed the request." }, 499))
      )
    }
    return Effect.logError("sandbox: unexpected failure", cause).pipe(
      Effect.as(json({ detail: "Internal server error in the sandbox (see its log)." }, 500))
    )
  })

/** Builds the router; `route` names the counter a request is recorded under. */
const makeRouter = (ctx: SandboxContext) => {
  const counted = (route: string, handler: (params: Readonly<Record<string, string | undefined>>) => Respond) =>
    Effect.gen(function*() {
      ctx.stats.count(route)
      const params = yield* HttpRouter.params
      return yield* handled(Effect.suspend(() => handler(params)))
    })
  return HttpRouter.empty.pipe(
    HttpRouter.get(`${API_PREFIX}/models/`, counted("GET models/", () => Resources.listModels(ctx))),
    HttpRouter.post(`${API_PREFIX}/models/`, counted("POST models/", () => Resources.createModel(ctx))),
    HttpRouter.get(`${API_PREFIX}/models/:id/`, counted("GET models/{id}/", (p) => Resources.getModel(ctx, p.id))),
    HttpRouter.patch(
      `${API_PREFIX}/models/:id/`,
      counted("PATCH models/{id}/", (p) => Resources.patchModel(ctx, p.id))
    ),
    HttpRouter.get(
      `${API_PREFIX}/sdk/ground_truth_events/`,
      counted("GET sdk/ground_truth_events/", () => Resources.listEvents(ctx))
    ),
    HttpRouter.get(
      `${API_PREFIX}/ground_truths/`,
      counted("GET ground_truths/", () => Resources.listGroundTruths(ctx))
    ),
    HttpRouter.get(
      `${API_PREFIX}/ground_truth_dataset_versions/`,
      counted("GET ground_truth_dataset_versions/", () => Resources.listVersions(ctx))
    ),
    HttpRouter.get(
      `${API_PREFIX}/ground_truth_dataset_versions/:id/`,
      counted("GET ground_truth_dataset_versions/{id}/", (p) => Resources.getVersion(ctx, p.id))
    ),
    HttpRouter.put(`${API_PREFIX}/chunked_upload/`, counted("PUT chunked_upload/", () => Uploads.startUpload(ctx))),
    HttpRouter.put(
      `${API_PREFIX}/chunked_upload/:id/`,
      counted("PUT chunked_upload/{id}/", (p) => Uploads.putChunk(ctx, p.id))
    ),
    HttpRouter.get(
      `${API_PREFIX}/chunked_upload/:id/`,
      counted("GET chunked_upload/{id}/", (p) => Uploads.uploadStatus(ctx, p.id))
    ),
    HttpRouter.post(
      `${API_PREFIX}/chunked_upload/:id/`,
      counted("POST chunked_upload/{id}/", (p) => Uploads.finishUpload(ctx, p.id))
    ),
    HttpRouter.get("/media/*", counted("GET media", () => serveMedia(ctx))),
    HttpRouter.head("/media/*", counted("HEAD media", () => serveMedia(ctx))),
    HttpRouter.get("/_sandbox/health", Effect.sync(() => json({ status: "ok", profile: ctx.profile }))),
    HttpRouter.get("/_sandbox/stats", counted("GET _sandbox/stats", () => Effect.sync(() => json(statsBody(ctx))))),
    HttpRouter.del(
      "/_sandbox/stats",
      counted("DELETE _sandbox/stats", () => Effect.sync(() => (ctx.stats.reset(), json(statsBody(ctx)))))
    ),
    HttpRouter.get("/_sandbox/faults", counted("GET _sandbox/faults", () => Effect.sync(() => json(faultsBody(ctx))))),
    HttpRouter.put("/_sandbox/faults", counted("PUT _sandbox/faults", () => replaceFaults(ctx)))
  )
}

const statsBody = (ctx: SandboxContext) => ({
  profile: ctx.profile,
  started_at: ctx.stats.startedAt,
  requests: ctx.stats.requests,
  requests_by_route: ctx.stats.byRoute,
  upload_bytes_received: ctx.stats.uploadBytesReceived,
  upload_chunks: ctx.stats.uploadChunks,
  listing_seeks: ctx.stats.listingSeeks,
  // page threads running now (they start on demand, up to the sandbox's limit)
  page_threads: ctx.pages.threads(),
  faults_injected: ctx.faults.injected
})

const faultsBody = (ctx: SandboxContext) => ({ spec: formatFaultSpec(ctx.faults.current), ...ctx.faults.current })

/** `PUT /_sandbox/faults`: body `{"spec": "…", "rand_seed"?: n}` or the bare spec as text. */
const replaceFaults = (ctx: SandboxContext): Respond =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const text = yield* request.text.pipe(Effect.mapError(() => detailError(400, "Could not read the body.")))
    let spec = text
    let seed: number | undefined
    if (text.trim().startsWith("{")) {
      const parsed = parseJsonBody(text)
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw detailError(400, "Expected {\"spec\": \"status5xx=0.1,…\"}.")
      }
      const body = parsed as { spec?: unknown; rand_seed?: unknown }
      if (typeof body.spec !== "string") throw detailError(400, "Expected {\"spec\": \"status5xx=0.1,…\"}.")
      spec = body.spec
      if (body.rand_seed !== undefined) {
        if (typeof body.rand_seed !== "number" || !Number.isInteger(body.rand_seed)) {
          throw detailError(400, "rand_seed must be an integer.")
        }
        seed = body.rand_seed
      }
    }
    try {
      ctx.faults.replace(parseFaultSpec(spec), seed)
    } catch (e) {
      if (e instanceof FaultSpecError) {
        throw detailError(400, e.message)
      }
      throw e
    }
    return json(faultsBody(ctx))
  })

/** `GET /media/…`: presigned, Range-aware, throttled under the `slowFiles` fault. */
const serveMedia = (ctx: SandboxContext): Respond =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const check = checkMediaRequest(
      ctx.data.mediaDir,
      ctx.data.secret,
      pathOf(request).slice("/media/".length),
      queryOf(request)
    )
    if (check._tag === "Forbidden") throw detailError(403, check.detail)
    if (check._tag === "NotFound") throw detailError(404, "Not found.")
    const size = Fs.statSync(check.file).size
    const range = parseRange(request.headers["range"], size)
    if (range === "unsatisfiable") {
      return json({ detail: "Requested range not satisfiable." }, 416, { "content-range": `bytes */${size}` })
    }
    const start = range?.start ?? 0
    const end = range?.end ?? size - 1
    const headers: Record<string, string> = { "accept-ranges": "bytes", "cache-control": "private, max-age=3600" }
    if (range !== undefined) headers["content-range"] = `bytes ${start}-${end}/${size}`
    const status = range !== undefined ? 206 : 200
    const contentType = contentTypeOf(check.mediaPath)
    if (size === 0 || request.method === "HEAD") {
      return HttpServerResponse.empty({
        status,
        headers: { ...headers, "content-length": String(end - start + 1), "content-type": contentType }
      })
    }
    const stream = Fs.createReadStream(check.file, { start, end })
    const slow = ctx.faults.current.slowFiles
    // pipeline (not pipe) so that a client hanging up mid-download also closes the file.
    const body = slow > 0 && ctx.faults.applies(pathOf(request)) ? pipeline(stream, throttle(slow), () => {}) : stream
    return HttpServerResponse.raw(body, { status, headers, contentType, contentLength: end - start + 1 })
  })

const CONTENT_TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  json: "application/json",
  txt: "text/plain"
}
const contentTypeOf = (path: string): string =>
  CONTENT_TYPES[path.split(".").pop()?.toLowerCase() ?? ""] ?? "application/octet-stream"

const tokenMatches = (given: string, expected: string): boolean => {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * A 401 as DRF's token authentication answers it: the detail, and `WWW-Authenticate: Token`
 * naming the scheme (docs/wire-protocol.md "Transport").
 */
const unauthorized = (detail: string): ApiError =>
  new ApiError({ status: 401, body: { detail }, headers: { "www-authenticate": "Token" } })

/** The token check: either header of docs/wire-protocol.md "Transport", with or without the `Token ` prefix. */
const authorize = (ctx: SandboxContext, request: HttpServerRequest.HttpServerRequest): ApiError | undefined => {
  const candidates = [request.headers["synapse-access-token"], request.headers["authorization"]]
    .filter((v): v is string => v !== undefined && v.trim() !== "")
    .map((v) => v.trim().replace(/^(Token|Bearer)\s+/i, "").trim())
  if (candidates.length === 0) return unauthorized("Authentication credentials were not provided.")
  if (!candidates.some((c) => tokenMatches(c, ctx.token))) return unauthorized("Invalid token.")
  return undefined
}

/**
 * Django's `APPEND_SLASH`, which the evidence profile follows: a path that no route serves but
 * that a route serves with a trailing slash is answered `301` to the slashed path, query kept, with
 * an empty body, before authentication (Django's middleware runs before the view). The `Location`
 * is the path as Django writes it (relative); clients follow it for a GET.
 */
const slashRedirect = (
  request: HttpServerRequest.HttpServerRequest,
  allowedMethods: (path: string) => ReadonlyArray<string>
): HttpServerResponse.HttpServerResponse | undefined => {
  const path = pathOf(request)
  if (!path.startsWith(`${API_PREFIX}/`) || path.endsWith("/")) return undefined
  if (allowedMethods(path).length > 0 || allowedMethods(`${path}/`).length === 0) return undefined
  const q = request.url.indexOf("?")
  const location = `${path}/${q < 0 ? "" : request.url.slice(q)}`
  return HttpServerResponse.empty({ status: 301, headers: { location } })
}

/** Django's `http_method_names` order, so an `Allow` header reads as a real backend's would. */
const DRF_METHOD_ORDER = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]

/**
 * The methods each route path answers, from the router's own table, so a known path asked with
 * another method gets DRF's `405` with an `Allow` header rather than a misleading `404` (and no
 * route has to say so itself). Answers `[]` for a path no route knows.
 */

const makeAllowedMethods = (routes: Iterable<{ readonly method: string; readonly path: string }>) => {
  const byPattern = new Map<string, { readonly pattern: RegExp; readonly methods: Set<string> }>()
  for (const route of routes) {
    let entry = byPattern.get(route.path)
    if (entry === undefined) {
      // Router syntax: `:name` is one path segment, a trailing `*` anything below.
      const source = route.path
        .split("/")
        .map((
          segment
        ) => (segment.startsWith(":")
          ? "[^/]+"
          : segment === "*"
          ? ".*"
          : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        )
        .join("/")
      entry = { pattern: new RegExp(`^${source}$`), methods: new Set() }
      byPattern.set(route.path, entry)
    }
    entry.methods.add(route.method)
  }
  const entries = [...byPattern.values()]
  return (path: string): Array<string> => {
    const allowed = new Set<string>()
    for (const { pattern, methods } of entries) if (pattern.test(path)) { for (const m of methods) allowed.add(m) }
    // The router answers HEAD with the GET route, so a GET path allows HEAD too.
    if (allowed.has("GET")) allowed.add("HEAD")
    return DRF_METHOD_ORDER.filter((m) => allowed.has(m))
  }
}

const needsToken = (path: string): boolean => path !== "/_sandbox/health" && !path.startsWith("/media/")

/**
 * The whole application: statistics, then fault injection (in front, as a flaky proxy would be),
 * then the token check, then the router.
 */
export const makeApp = (ctx: SandboxContext) => {
  const router = makeRouter(ctx)
  const allowedMethods = makeAllowedMethods(router.routes)
  const routed = router.pipe(
    Effect.catchTag("RouteNotFound", ({ request }) => {
      const allowed = allowedMethods(pathOf(request))
      // A method the path allows that still found no route: the router read the path otherwise
      // than the table does, so nothing here serves it.
      if (allowed.length === 0 || allowed.includes(request.method)) {
        return Effect.succeed(json({ detail: "Not found." }, 404))
      }
      return Effect.succeed(
        json({ detail: `Method "${request.method}" not allowed.` }, 405, { allow: allowed.join(", ") })
      )
    }),
    handled
  )
  const authed = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const malformed = checkPath(pathOf(request))
    if (malformed !== undefined) return errorResponse(malformed)
    const redirect = ctx.profile === "evidence" ? slashRedirect(request, allowedMethods) : undefined
    if (redirect !== undefined) return redirect
    const denied = needsToken(pathOf(request)) ? authorize(ctx, request) : undefined
    if (denied !== undefined) return errorResponse(denied)
    return yield* routed
  })
  const answer = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const decision = ctx.faults.decide(pathOf(request))
    if (decision.latency > 0) yield* Effect.sleep(decision.latency)
    switch (decision.kind) {
      case undefined:
        return yield* authed
      case "status5xx":
        return json({ detail: `Injected fault: ${decision.status}.` }, decision.status)
      case "status429":
        return json({ detail: "Request was throttled (injected fault)." }, 429, {
          "retry-after": String(ctx.faults.current.retryAfter)
        })
      case "reset":
      case "truncate":
      case "loseResponse": {
        const response = yield* authed
        return sabotage(request, response, decision.kind)
      }
    }
  })
  const bodyTimeoutMs = ctx.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS
  return Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    ctx.stats.requests++
    const incoming = toIncomingMessage(request)
    const settled = Effect.flatMap(answer, (response) => settleBody(request, incoming, response))
    // A request whose body has fully arrived (every GET) cannot stall: no watch, no timer.
    if (incoming.complete) return yield* settled
    // The application runs uninterruptibly (the platform's choice); the race needs its loser
    // interruptible, as route handlers are anyway.
    return yield* Effect.interruptible(Effect.raceFirst(
      settled,
      bodyStalled(incoming, bodyTimeoutMs).pipe(
        Effect.zipRight(
          Effect.logInfo(
            `sandbox: ${request.method} ${pathOf(request)}: no body bytes for ${bodyTimeoutMs} ms; answered 408`
          )
        ),
        Effect.zipRight(answerStalled(request, bodyTimeoutMs))
      )
    ))
  })
}

/**
 * A path the router must not see: one with `;` or `#`, which it would cut off (answering
 * `models/101;DROP TABLE models/` as model 101), is not found; malformed percent-encoding is a 400.
 */
const checkPath = (path: string): ApiError | undefined => {
  if (path.includes(";") || path.includes("#")) return detailError(404, "Not found.")
  try {
    decodeURIComponent(path)
  } catch {
    return detailError(400, "Malformed percent-encoding in the request path.")
  }
  return undefined
}

/**
 * Answers `408` to a request whose body stopped arriving, and closes its connection. Written to the
 * socket here, before the race interrupts the handler: interrupting a handler that was reading the
 * body destroys the request, and the connection with it, so the answer must already be on its way.
 */
const answerStalled = (
  request: HttpServerRequest.HttpServerRequest,
  bodyTimeoutMs: number
): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Effect.async((resume) => {
    const body = { detail: `The request body stopped arriving for ${bodyTimeoutMs / 1000} s; send the request again.` }
    const response = json(body, 408, { connection: "close" })
    const nodeResponse = toServerResponse(request)
    if (nodeResponse.headersSent) {
      nodeResponse.destroy()
      return resume(Effect.succeed(response))
    }
    const text = JSON.stringify(body)
    nodeResponse.writeHead(408, {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(text)),
      connection: "close"
    })
    nodeResponse.end(text, () => resume(Effect.succeed(response)))
  })

/**
 * Completes once a request body has stopped arriving for `idleMs`: no new bytes on the socket while
 * the server holds none of them unread (a handler busy elsewhere is not the client's stall). Never
 * completes for a body that arrives whole; the interval stops when it does or when interrupted.
 */
const bodyStalled = (incoming: Http.IncomingMessage, idleMs: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    let seen = incoming.socket.bytesRead
    let quietSince = Date.now()
    const timer = setInterval(() => {
      if (incoming.complete || incoming.destroyed) return clearInterval(timer)
      const read = incoming.socket.bytesRead
      if (read !== seen || incoming.readableLength > 0) {
        seen = read
        quietSince = Date.now()
      } else if (Date.now() - quietSince >= idleMs) {
        clearInterval(timer)
        resume(Effect.void)
      }
    }, Math.max(20, Math.min(1_000, idleMs / 5)))
    timer.unref()
    return Effect.sync(() => clearInterval(timer))
  })

/**
 * Reads and discards a body the handler answered without reading (a 404, 405, 401 or injected
 * fault) before the answer goes out: a connection closed with unread bytes in flight (a client
 * that sent `Connection: close`) is reset, and the client, still sending, loses the answer with it.
 * The whole body is read, however large: a body that stops arriving is the stall watch's to end.
 */
const settleBody = (
  request: HttpServerRequest.HttpServerRequest,
  incoming: Http.IncomingMessage,
  response: HttpServerResponse.HttpServerResponse
): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
  if (incoming.complete || incoming.readableDidRead || toServerResponse(request).writableEnded) {
    return Effect.succeed(response)
  }
  return Effect.async<HttpServerResponse.HttpServerResponse>((resume) => {
    const onData = () => {}
    const onEnd = () => {
      done()
      resume(Effect.succeed(response))
    }
    const done = () => {
      incoming.off("data", onData).off("end", onEnd).off("close", onEnd)
    }
    incoming.on("data", onData).on("end", onEnd).on("close", onEnd)
    return Effect.sync(done)
  })
}

/**
 * Performs a response-level fault on an answer the handler already produced (so the request's
 * effect, e.g. a created model, has happened): cut the body, reset mid-body, or lose it all.
 */
const sabotage = (
  request: HttpServerRequest.HttpServerRequest,
  response: HttpServerResponse.HttpServerResponse,
  kind: "reset" | "truncate" | "loseResponse"
): HttpServerResponse.HttpServerResponse => {
  // Answers held in memory: bytes, or JSON text (`jsonText`); anything else is a file stream.
  const body = response.body._tag === "Uint8Array"
    ? response.body.body
    : response.body._tag === "Raw" && typeof response.body.body === "string"
    ? Buffer.from(response.body.body)
    : undefined
  if (kind === "truncate") {
    if (body === undefined) return response
    const cut = body.subarray(0, Math.floor(body.length / 2))
    return HttpServerResponse.uint8Array(cut, {
      status: response.status,
      headers: response.headers,
      contentType: response.body._tag === "Uint8Array" || response.body._tag === "Raw"
        ? response.body.contentType
        : "application/json"
    })
  }
  const nodeResponse = toServerResponse(request)
  const socket = nodeResponse.socket
  if (response.body._tag === "Raw" && body === undefined) {
    // A file stream that will never be sent: close it now rather than leak its descriptor.
    const raw = response.body.body as { destroy?: () => void } | null
    if (raw !== null && typeof raw === "object" && typeof raw.destroy === "function") raw.destroy()
  }
  if (kind === "loseResponse" || body === undefined) {
    socket?.destroy()
  } else {
    nodeResponse.writeHead(response.status, {
      ...response.headers,
      "content-type": "application/json",
      "content-length": String(body.length)
    })
    nodeResponse.write(body.subarray(0, Math.floor(body.length / 2)), () => {
      if (socket && typeof socket.resetAndDestroy === "function") socket.resetAndDestroy()
      else socket?.destroy()
    })
  }
  // Marks the response finished so the server does not try to answer on the broken socket.
  try {
    nodeResponse.end()
  } catch {
    // already torn down
  }
  return response
}
