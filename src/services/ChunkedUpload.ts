/**
 * `ChunkedUpload`: sends a local file to Synapse with the chunked upload protocol
 * (docs/wire-protocol.md "Chunked upload") so that model files of many gigabytes get through flaky
 * networks and process restarts without starting over. It speaks drf-chunked-upload, which the
 * platform's endpoint is built on, as well as the rich sandbox's kinder dialect:
 *
 * - The requests are the official SDK's: `PUT chunked_upload/` then `PUT {url}` (multipart `file`
 *   + `filename`, `Content-Range: bytes a-b/total`), then `POST {url}` with `{"md5"}`. The upload
 *   id is kept exactly as the server sent it (an integer there, a string elsewhere).
 * - A chunk re-sent after its answer was lost is refused by drf-chunked-upload as an offset
 *   mismatch (`expected_offset`, or `offset` in older forks): the upload continues from the offset
 *   the server names. A finish re-sent after its answer was lost is refused as "already marked as
 *   complete": that means done. The finish answer (the stored file's URL) is then unknown, so the
 *   result's `file` is `null`; the upload id, all that registering a model needs, is known.
 * - A file over the server's limit fails with `PayloadTooLargeError`, whether the server says so
 *   with `413` or with drf-chunked-upload's `400 "Size of file exceeds the limit"`.
 * - An answer cut short (a chunk or a finish performed, its answer unreadable) is sent again like a
 *   lost one: both requests are safe to repeat, since the server then says where it is.
 * - The file is read by offset from disk one chunk at a time (the next while the current one is on
 *   the wire, into two buffers used in turn): it is never held whole in memory, and a retried
 *   chunk re-reads its bytes from disk (never a consumed stream).
 * - The md5 of the whole file, which the server checks when the upload is finished, is computed
 *   while the chunks are sent; a chunk's bytes count only once its PUT was acknowledged.
 * - Chunk PUTs go through the client's retry policy: a retried chunk the server already took is
 *   answered with its offset (above), so nothing is written twice. An offset mismatch (the server
 *   has more or less than we think) continues from the server's offset.
 * - After every acknowledged chunk a small state file (upload url and id, file path/size/mtime, md5
 *   of the part sent) is saved under the cache directory; a later `upload` of the same, unchanged
 *   file picks the upload up where the server has it. Where it is, `GET {url}` says (the rich
 *   sandbox); where that request fails (the platform need not route it: the official SDK never
 *   sends it), the next chunk is sent at the remembered offset and the server's offset error, if
 *   any, says where to continue. An upload the server no longer has (`404`, `410`) starts over,
 *   once. A changed file starts over.
 * - Progress goes to an optional callback, or comes as a `Stream` of events. Interrupting the fiber
 *   (or aborting the `signal`, checked between chunks) leaves the upload resumable.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Config, Context, Duration, Effect, Either, Fiber, Layer, Option, Schema, Stream } from "effect"
import type { Hash } from "node:crypto"
import * as os from "node:os"
import * as nodePath from "node:path"
import {
  ALREADY_COMPLETE_PATTERN,
  ChunkedUploadComplete,
  ChunkedUploadState,
  expectedOffset,
  isComplete,
  OffsetMismatch,
  SIZE_LIMIT_PATTERN,
  type UploadId
} from "../schemas/ChunkedUpload.js"
import { decoder, fromHttpClientError, parseJson, SynapseClient } from "./SynapseClient.js"
import {
  ConnectionError,
  DecodeError,
  fromResponse,
  PayloadTooLargeError,
  stripQuery,
  type SynapseError,
  TimeoutError,
  ValidationError
} from "./SynapseError.js"
import {
  hashBytes,
  hashRange,
  multipartBody,
  newMd5,
  openSource,
  peekDigest,
  readRange,
  readState,
  removeState,
  type ResumeState,
  sameIdentity,
  type SourceFileError,
  statePath,
  type UploadSourceFile,
  writeState
} from "./UploadSource.js"

/** 1 MiB: the smallest chunk accepted (smaller chunks only multiply requests). */
export const MIN_CHUNK_SIZE = 1024 * 1024
/** 50 MiB: the chunk size of the reference SDK. */
export const DEFAULT_CHUNK_SIZE = 50 * 1024 * 1024

/** How many times in a row a chunk refused at the offset the server then asks for is sent again. */
const MAX_REFUSALS_IN_PLACE = 5

/** Where an upload is: re-reading the part already sent, sending chunks, or asking the server to finish. */
export type UploadPhase = "hashing" | "uploading" | "finalizing"

/**
 * A progress report. `bytesSent` is how far the phase got (bytes hashed while `hashing`, bytes the
 * server holds while `uploading`); `chunk` is the 1-based chunk just completed out of `chunks`.
 */
export interface UploadProgress {
  readonly phase: UploadPhase
  readonly bytesSent: number
  readonly totalBytes: number
  readonly chunk: number
  readonly chunks: number
}

/** What `upload` returns: the finished upload, plus what this call did. */
export interface UploadResult {
  /** The upload id exactly as the server sent it (an integer or a string): `chunked_upload` of a create. */
  readonly id: UploadId
  /** The upload's URL. */
  readonly url: string
  /**
   * The stored file's URL from the finish answer; `null` when that answer was lost and the server
   * then said the upload was already complete (drf-chunked-upload does not repeat it).
   */
  readonly file: string | null
  /** The md5 of the file (the server's when it sent one; the same value, computed here, otherwise). */
  readonly checksum: string
  /** The file's size in bytes. */
  readonly size: number
  /** File bytes this call sent (a chunk sent twice counts twice; a resumed part not at all). */
  readonly bytesSent: number
  /** The offset a previous, interrupted upload of the same file was picked up at (0 for a fresh one). */
  readonly resumedFrom: number
}

/** The events of `uploadStream`: progress, then one `done` with the result. */
export type UploadEvent = UploadProgress | { readonly phase: "done"; readonly result: UploadResult }

/** Options of one upload. */
export interface UploadOptions {
  /** Bytes per chunk, at least `MIN_CHUNK_SIZE` (default `DEFAULT_CHUNK_SIZE`). */
  readonly chunkSize?: number | undefined
  /** Pick up an unfinished upload of the same file, and remember this one (default `true`). */
  readonly resume?: boolean | undefined
  /** The name the server stores the file under (default: the file's base name). */
  readonly filename?: string | undefined
  /** Called on every progress event. */
  readonly onProgress?: ((progress: UploadProgress) => void) | undefined
  /** Aborting stops the upload before its next chunk (the upload stays resumable). */
  readonly signal?: AbortSignal | undefined
  /**
   * Time allowed for one chunk PUT (default: the client's connect + read timeouts plus one second
   * per MiB of chunk, i.e. a link of at least 1 MiB/s).
   */
  readonly chunkTimeout?: Duration.DurationInput | undefined
}

/** The chunked upload service. */
export interface Service {
  /** Uploads a local file; succeeds with the finished upload (its id goes into `Models.create`). */
  readonly upload: (path: string, options?: UploadOptions) => Effect.Effect<UploadResult, SynapseError>
  /** The same upload as a stream of progress events ending with `{ phase: "done", result }`. */
  readonly uploadStream: (path: string, options?: UploadOptions) => Stream.Stream<UploadEvent, SynapseError>
}

/** The `ChunkedUpload` service tag. */
export class ChunkedUpload extends Context.Tag("synapse-ml/ChunkedUpload")<ChunkedUpload, Service>() {}

/** Options of the layer. */
export interface LayerOptions {
  /** The directory of resume state files (default `<cache dir>/uploads`). */
  readonly stateDir?: string | undefined
}

/** The cache directory used when none is configured: `$XDG_CACHE_HOME/synapse-ml` or `~/.cache/synapse-ml`. */
export const defaultCacheDir = (): string =>
  nodePath.join(process.env.XDG_CACHE_HOME ?? nodePath.join(os.homedir(), ".cache"), "synapse-ml")

/**
 * The answer to one chunk PUT: accepted; refused because the server's offset is elsewhere; or
 * refused because the upload was already finished (by this client's own finish, whose answer or
 * state file was lost: only a finish with the whole file's md5 completes an upload).
 */
type ChunkOutcome =
  | { readonly _tag: "Accepted"; readonly state: ChunkedUploadState; readonly hash: Hash }
  | { readonly _tag: "Mismatch"; readonly offset: number }
  | { readonly _tag: "AlreadyComplete" }

const decodeMismatch = Schema.decodeUnknownOption(OffsetMismatch)
const decodeState = decoder(ChunkedUploadState)
const decodeComplete = decoder(ChunkedUploadComplete)

/** A 400 saying the upload was already finished (drf-chunked-upload's answer to a chunk or a second finish). */
const isAlreadyComplete = (error: SynapseError): boolean =>
  error._tag === "ValidationError" && error.status_code === 400 && ALREADY_COMPLETE_PATTERN.test(error.detail)

/** An answer saying the server no longer has the upload (removed, or expired). */
const isGone = (error: SynapseError): boolean => error._tag === "NotFoundError" || error.status_code === 410

/** How many times one `upload` call starts over after the server lost its upload. */
const MAX_RESTARTS = 1

const contentRange = (start: number, end: number, total: number): string => `bytes ${start}-${end - 1}/${total}`

const sourceError = (error: SourceFileError): ValidationError =>
  new ValidationError({ detail: error.detail, field: "file" })

/** Builds the service over the configured client. */
export const make = (options: LayerOptions = {}): Effect.Effect<Service, never, SynapseClient> =>
  Effect.gen(function*() {
    const client = yield* SynapseClient
    const stateDir = options.stateDir ?? nodePath.join(defaultCacheDir(), "uploads")

    // Error bodies of chunk PUTs are read here, not by the client: keep tokens out of them too.
    const redactError = (error: SynapseError): SynapseError => {
      const detail = client.redact(error.detail)
      if (detail === error.detail) return error
      const fields: Record<string, unknown> = {}
      for (const [key, value] of Object.entries(error)) if (key !== "_tag") fields[key] = value
      return new (error.constructor as new(fields: object) => SynapseError)({ ...fields, detail })
    }

    /**
     * Sends one upload request (a chunk PUT or the finish POST) and reads its answer in either
     * dialect: the 2xx body decoded with `decode`; an offset error (`expected_offset` or `offset`)
     * as `{ mismatch }`; "already marked as complete" as `{ complete }`; drf-chunked-upload's 400 for
     * a file over its limit as `PayloadTooLargeError`. An answer cut short (the request was
     * performed, what it answered cannot be read) is a `ConnectionError`, so the retry policy sends
     * it again, which is safe for both requests: the server then says where it is.
     */
    const exchange = <A>(
      request: HttpClientRequest.HttpClientRequest,
      decode: (json: unknown) => Either.Either<A, DecodeError>
    ): Effect.Effect<A | { readonly mismatch: number } | { readonly complete: true }, SynapseError> => {
      const url = stripQuery(client.resolveUrl(request.url))
      const cutShort = (error: DecodeError) =>
        new ConnectionError({
          detail: `the answer was cut short (${error.detail})`,
          status_code: error.status_code,
          method: request.method,
          url
        })
      return client.httpClient.execute(request).pipe(
        Effect.mapError(fromHttpClientError),
        Effect.flatMap((response) =>
          response.text.pipe(
            Effect.mapError(fromHttpClientError),
            Effect.flatMap(
              (text): Effect.Effect<A | { readonly mismatch: number } | { readonly complete: true }, SynapseError> => {
                const parsed = parseJson(text, response.status)
                if (Either.isLeft(parsed) && parsed.left.truncated === true) return Effect.fail(cutShort(parsed.left))
                if (response.status >= 200 && response.status < 300) {
                  const decoded = Either.flatMap(parsed, decode)
                  return Either.isLeft(decoded)
                    ? Effect.fail(new DecodeError({ ...decoded.left, method: request.method, url }))
                    : Effect.succeed(decoded.right)
                }
                if (response.status === 400) {
                  const mismatch = decodeMismatch(Either.getOrUndefined(parsed))
                  const expected = Option.isSome(mismatch) ? expectedOffset(mismatch.value) : undefined
                  if (expected !== undefined) return Effect.succeed({ mismatch: expected })
                }
                const error = fromResponse({
                  status: response.status,
                  body: text,
                  retryAfter: response.headers["retry-after"],
                  method: request.method,
                  url: client.resolveUrl(request.url)
                })
                if (isAlreadyComplete(error)) return Effect.succeed({ complete: true } as const)
                // drf-chunked-upload refuses a file over its limit with a 400, not a 413.
                if (error._tag === "ValidationError" && SIZE_LIMIT_PATTERN.test(error.detail)) {
                  return Effect.fail(
                    new PayloadTooLargeError({ status_code: 400, detail: error.detail, method: request.method, url })
                  )
                }
                return Effect.fail(error)
              }
            )
          )
        )
      )
    }

    /** One chunk, retried on transient failures; every attempt re-reads the range from disk. */
    const sendChunk = (
      source: UploadSourceFile,
      filename: string,
      url: string,
      start: number,
      end: number,
      base: Hash,
      timeout: Duration.Duration,
      prefetched: Effect.Effect<Buffer, SynapseError> | undefined
    ): Effect.Effect<ChunkOutcome, SynapseError> => {
      const send = (request: HttpClientRequest.HttpClientRequest) =>
        exchange(request, decodeState).pipe(
          Effect.timeoutFail({
            duration: timeout,
            onTimeout: () =>
              new TimeoutError({
                detail: `chunk ${start}-${end - 1} was not acknowledged within ${Duration.format(timeout)}`,
                method: "PUT",
                url: stripQuery(client.resolveUrl(url)),
                timeoutMs: Duration.toMillis(timeout)
              })
          })
        )

      let first = prefetched
      const attempt = Effect.gen(function*() {
        // The first attempt takes the bytes read ahead while the previous chunk was sent; every
        // retry reads them from disk again: a retry never replays a consumed stream.
        const read = first ?? readRange(source, start, end).pipe(Effect.mapError(sourceError))
        first = undefined
        const bytes = yield* read
        const body = multipartBody(filename, bytes)
        const request = HttpClientRequest.put(url).pipe(
          HttpClientRequest.setHeader("Content-Range", contentRange(start, end, source.size)),
          HttpClientRequest.bodyStream(body.stream, {
            contentType: body.contentType,
            contentLength: body.contentLength
          })
        )
        // The md5 continues from a copy (a failed attempt must not count), hashed while the
        // socket sends the same bytes.
        const hash = base.copy()
        const [answer] = yield* Effect.all([send(request), hashBytes(hash, bytes)], { concurrency: 2 })
        return "mismatch" in answer
          ? { _tag: "Mismatch", offset: answer.mismatch } as const
          : "complete" in answer
          ? { _tag: "AlreadyComplete" } as const
          : { _tag: "Accepted", state: answer, hash } as const
      })
      return client.retry(attempt).pipe(Effect.mapError(redactError))
    }

    /**
     * `POST {url}` with the md5. Sending it again after a lost answer is safe on both dialects: the
     * rich sandbox answers the same result again, drf-chunked-upload answers "already marked as
     * complete", which means done (without the file URL, which only the lost answer carried). So a
     * finish whose outcome is unknown goes through the retry policy like a chunk.
     */
    const finish = (
      session: { readonly id: UploadId; readonly url: string },
      md5: string,
      size: number
    ): Effect.Effect<Omit<UploadResult, "bytesSent" | "resumedFrom">, SynapseError> => {
      // The server reads the whole file back to check the md5 before answering: allow for it
      // (at least 50 MiB/s) on top of the usual timeouts.
      const timeout = Duration.sum(
        Duration.sum(client.timeouts.connect, client.timeouts.read),
        Duration.seconds(Math.ceil(size / (50 * MIN_CHUNK_SIZE)))
      )
      const request = HttpClientRequest.post(session.url).pipe(HttpClientRequest.bodyUnsafeJson({ md5 }))
      const attempt = exchange(request, decodeComplete).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new TimeoutError({
              detail: `the finish was not answered within ${Duration.format(timeout)}`,
              method: "POST",
              url: stripQuery(client.resolveUrl(session.url)),
              timeoutMs: Duration.toMillis(timeout)
            })
        }),
        Effect.flatMap((answer) => {
          if ("mismatch" in answer) {
            // The server holds less than the whole file: nothing this client sent can be finished.
            return Effect.fail(
              new ValidationError({
                status_code: 400,
                detail: `the server holds ${answer.mismatch} of the file's ${size} bytes and cannot finish the upload`,
                method: "POST",
                url: stripQuery(client.resolveUrl(session.url))
              })
            )
          }
          if ("complete" in answer) {
            return Effect.logInfo("the server says the upload is already complete: an earlier finish went through")
              .pipe(
                Effect.annotateLogs({ upload: String(session.id) }),
                Effect.as({ id: session.id, url: session.url, file: null, checksum: md5, size })
              )
          }
          return Effect.succeed({
            id: answer.id,
            url: session.url,
            file: answer.file ?? null,
            checksum: answer.checksum ?? md5,
            size: answer.size ?? size
          })
        })
      )
      return client.retry(attempt).pipe(Effect.mapError(redactError))
    }

    const upload = Effect.fn("ChunkedUpload.upload")(function*(path: string, uploadOptions: UploadOptions = {}) {
      const chunkSize = uploadOptions.chunkSize ?? DEFAULT_CHUNK_SIZE
      if (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE) {
        return yield* new ValidationError({
          detail: `chunkSize must be an integer of at least ${MIN_CHUNK_SIZE} bytes (1 MiB), got ${chunkSize}`,
          field: "chunkSize"
        })
      }
      return yield* Effect.scoped(run(path, chunkSize, uploadOptions))
    })

    const run = (path: string, chunkSize: number, uploadOptions: UploadOptions) =>
      Effect.gen(function*() {
        const source = yield* openSource(path).pipe(Effect.mapError(sourceError))
        const total = source.size
        const chunks = Math.max(1, Math.ceil(total / chunkSize))
        const filename = uploadOptions.filename ?? nodePath.basename(source.path)
        const resume = uploadOptions.resume !== false
        const stateFile = statePath(stateDir, client.baseUrl, source.path)
        const timeout = uploadOptions.chunkTimeout !== undefined
          ? Duration.decode(uploadOptions.chunkTimeout)
          : Duration.sum(
            Duration.sum(client.timeouts.connect, client.timeouts.read),
            Duration.seconds(Math.ceil(chunkSize / MIN_CHUNK_SIZE))
          )
        const report = (phase: UploadPhase, bytesSent: number) =>
          uploadOptions.onProgress?.({
            phase,
            bytesSent,
            totalBytes: total,
            chunk: total === 0 ? 1 : Math.min(chunks, Math.ceil(bytesSent / chunkSize)),
            chunks
          })

        // The md5 of [0, hashed): moved forward (or restarted) to wherever the next chunk starts.
        let hash = newMd5()
        let hashed = 0
        const hashTo = (to: number) =>
          Effect.suspend(() => {
            if (to < hashed) {
              hash = newMd5()
              hashed = 0
            }
            if (to === hashed) return Effect.void
            return hashRange(source, hash, hashed, to, (position) => report("hashing", position)).pipe(
              Effect.mapError(sourceError),
              Effect.tap(() => {
                hashed = to
              })
            )
          })

        let session: { readonly id: UploadId; readonly url: string } | undefined
        let offset = 0

        if (resume) {
          const remembered = yield* readState(stateFile)
          if (Option.isSome(remembered)) {
            const state = remembered.value
            if (!sameIdentity(state, source)) {
              yield* Effect.logInfo("the file changed since its upload was interrupted: starting over").pipe(
                Effect.annotateLogs({ path: source.path })
              )
              yield* removeState(stateFile)
            } else {
              const status = yield* client.json(HttpClientRequest.get(state.url), ChunkedUploadState).pipe(
                Effect.either
              )
              // The status says where the server is; a server without one (405, 404) is asked by
              // the next chunk instead, at the remembered offset.
              const at = Either.isRight(status)
                ? status.right.offset <= total && (!isComplete(status.right) || status.right.offset === total)
                  ? Option.some(status.right.offset)
                  : Option.none()
                : Option.some(state.offset)
              if (Either.isLeft(status)) {
                yield* Effect.logInfo("no status for the interrupted upload: continuing at the remembered offset").pipe(
                  Effect.annotateLogs({ path: source.path, offset: state.offset, reason: status.left.detail })
                )
              }
              if (Option.isSome(at)) {
                yield* hashTo(state.offset)
                if (peekDigest(hash) === state.prefixMd5) {
                  yield* hashTo(at.value)
                  // The id as the state file has it: the server's own value and type.
                  session = { id: state.id, url: state.url }
                  offset = at.value
                  yield* Effect.logInfo("resuming an interrupted upload").pipe(
                    Effect.annotateLogs({ path: source.path, offset, total })
                  )
                } else {
                  yield* Effect.logInfo("the file's content changed since its upload was interrupted: starting over")
                    .pipe(
                      Effect.annotateLogs({ path: source.path })
                    )
                }
              } else {
                yield* Effect.logInfo("the interrupted upload cannot be continued: starting over").pipe(
                  Effect.annotateLogs({ path: source.path })
                )
              }
              if (session === undefined) yield* removeState(stateFile)
            }
          }
        }

        let resumedFrom = offset
        let bytesSent = 0
        if (session === undefined && total === 0) {
          // An empty file has no byte range to send: create the upload without a chunk, then finish it.
          const created = yield* client.json(
            HttpClientRequest.put("chunked_upload/").pipe(HttpClientRequest.bodyUnsafeJson({ filename })),
            ChunkedUploadState
          )
          session = { id: created.id, url: created.url }
          report("uploading", 0)
        }
        // Two chunk buffers for the whole upload, used in turn: chunk n is read into buffer n % 2
        // while chunk n - 1 is on the wire, so disk and network overlap and memory stays flat
        // (fresh 50 MiB buffers pile up faster than the collector returns them). A retry reads
        // into a fresh buffer instead: a failed request is not trusted to be done with its bytes.
        const pool: Array<Buffer | undefined> = [undefined, undefined]
        const slot = (n: number) => (pool[n % 2] ??= Buffer.allocUnsafe(Math.min(chunkSize, total)))
        let sent = 0
        // Refusals of a chunk at the very offset the server then asks for (e.g. a body cut short on
        // the way): a few are resent, but a server that keeps refusing must not loop forever.
        let refusedInPlace = 0
        let restarts = 0
        // Set when the server says the upload is already complete: nothing is left to send or finish.
        let finished = false
        let readAhead: {
          readonly start: number
          readonly end: number
          readonly fiber: Fiber.Fiber<Buffer, ValidationError>
        } | undefined
        const readInto = (n: number, from: number, to: number) =>
          readRange(source, from, to, slot(n)).pipe(Effect.mapError(sourceError))
        while (session === undefined || offset < total) {
          if (uploadOptions.signal?.aborted === true) return yield* Effect.interrupt
          yield* hashTo(offset)
          const start = offset
          const end = Math.min(start + chunkSize, total)
          let first: Effect.Effect<Buffer, ValidationError>
          if (readAhead !== undefined && readAhead.start === start && readAhead.end === end) {
            first = Fiber.join(readAhead.fiber)
          } else {
            // A read ahead of the wrong range (the server moved the offset) is awaited, not
            // interrupted: the file read it started would still write into the buffer.
            if (readAhead !== undefined) yield* Fiber.await(readAhead.fiber)
            first = readInto(sent, start, end)
          }
          const nextEnd = Math.min(end + chunkSize, total)
          readAhead = end < total
            ? { start: end, end: nextEnd, fiber: yield* Effect.forkScoped(readInto(sent + 1, end, nextEnd)) }
            : undefined
          const answer = yield* Effect.either(
            sendChunk(source, filename, session?.url ?? "chunked_upload/", start, end, hash, timeout, first)
          )
          sent++
          if (Either.isLeft(answer)) {
            // The server no longer has the upload (expired, removed, or a remembered one it never
            // knew): start a new one, once.
            if (session !== undefined && isGone(answer.left) && restarts < MAX_RESTARTS) {
              restarts++
              yield* Effect.logInfo("the server no longer has the upload: starting over").pipe(
                Effect.annotateLogs({ path: source.path, reason: answer.left.detail })
              )
              if (resume) yield* removeState(stateFile)
              session = undefined
              offset = 0
              resumedFrom = 0
              continue
            }
            return yield* Effect.fail(answer.left)
          }
          const outcome = answer.right
          if (outcome._tag === "AlreadyComplete") {
            if (session === undefined) {
              return yield* new ValidationError({
                status_code: 400,
                detail: "the server says a new upload is already complete",
                method: "PUT",
                url: stripQuery(client.resolveUrl("chunked_upload/"))
              })
            }
            yield* Effect.logInfo("the server says the upload is already complete: an earlier finish went through")
              .pipe(
                Effect.annotateLogs({ upload: String(session.id) })
              )
            finished = true
            break
          }
          if (outcome._tag === "Mismatch") {
            if (session === undefined || outcome.offset > total) {
              return yield* new ValidationError({
                status_code: 400,
                detail: `the server refused the chunk at ${start} and expects offset ${outcome.offset}`,
                method: "PUT",
                url: stripQuery(client.resolveUrl(session?.url ?? "chunked_upload/"))
              })
            }
            refusedInPlace = outcome.offset === start ? refusedInPlace + 1 : 0
            if (refusedInPlace > MAX_REFUSALS_IN_PLACE) {
              return yield* new ValidationError({
                status_code: 400,
                detail:
                  `the server refused the chunk at ${start} ${refusedInPlace} times in a row while asking for that same offset`,
                method: "PUT",
                url: stripQuery(client.resolveUrl(session.url))
              })
            }
            yield* Effect.logInfo("the server holds a different part of the upload: continuing from its offset").pipe(
              Effect.annotateLogs({ sent: start, server: outcome.offset })
            )
            offset = outcome.offset
            continue
          }
          refusedInPlace = 0
          hash = outcome.hash
          hashed = end
          bytesSent += end - start
          session = { id: outcome.state.id, url: outcome.state.url }
          offset = outcome.state.offset
          if (resume) {
            yield* hashTo(offset)
            const state: ResumeState = {
              version: 1,
              server: client.baseUrl,
              url: session.url,
              id: session.id,
              path: source.path,
              size: source.size,
              mtimeMs: source.mtimeMs,
              offset,
              prefixMd5: peekDigest(hash)
            }
            yield* writeState(stateFile, state)
          }
          report("uploading", offset)
        }

        yield* hashTo(total)
        const md5 = peekDigest(hash)
        report("finalizing", total)
        const complete = finished
          ? { id: session.id, url: session.url, file: null, checksum: md5, size: total }
          : yield* finish(session, md5, total)
        if (resume) yield* removeState(stateFile)
        const result: UploadResult = { ...complete, bytesSent, resumedFrom }
        return result
      })

    const uploadStream = (path: string, uploadOptions: UploadOptions = {}): Stream.Stream<UploadEvent, SynapseError> =>
      Stream.asyncPush<UploadEvent, SynapseError>((emit) =>
        upload(path, {
          ...uploadOptions,
          onProgress: (progress) => {
            uploadOptions.onProgress?.(progress)
            emit.single(progress)
          }
        }).pipe(
          Effect.matchCauseEffect({
            onSuccess: (result) =>
              Effect.sync(() => {
                emit.single({ phase: "done", result })
                emit.end()
              }),
            onFailure: (cause) => Effect.sync(() => emit.halt(cause))
          }),
          Effect.forkScoped
        ), { bufferSize: "unbounded" })

    return ChunkedUpload.of({ upload, uploadStream })
  })

/** The service over `SynapseClient`, with explicit options. */
export const layer = (options: LayerOptions = {}): Layer.Layer<ChunkedUpload, never, SynapseClient> =>
  Layer.effect(ChunkedUpload, make(options))

/**
 * The service with its state directory from the environment: `SYNAPSE_UPLOAD_STATE_DIR`, else
 * `$SYNAPSE_CACHE_DIR/uploads`, else `~/.cache/synapse-ml/uploads`.
 */
export const makeConfig: Effect.Effect<Service, never, SynapseClient> = Effect.gen(function*() {
  const stateDir = yield* Config.string("SYNAPSE_UPLOAD_STATE_DIR").pipe(
    Config.option,
    Effect.orElseSucceed(() => Option.none<string>())
  )
  const cacheDir = yield* Config.string("SYNAPSE_CACHE_DIR").pipe(
    Config.option,
    Effect.orElseSucceed(() => Option.none<string>())
  )
  return yield* make({
    stateDir: Option.getOrElse(stateDir, () => nodePath.join(Option.getOrElse(cacheDir, defaultCacheDir), "uploads"))
  })
})

/** `makeConfig` as a layer. */
export const layerConfig = (): Layer.Layer<ChunkedUpload, never, SynapseClient> =>
  Layer.effect(ChunkedUpload, makeConfig)
