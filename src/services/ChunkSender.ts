/**
 * The wire half of a chunked upload (docs/wire-protocol.md "Chunked upload"): the three requests
 * of the protocol and how their answers are read, in either dialect the server may speak (the rich
 * sandbox's, or drf-chunked-upload's as the platform and the evidence profile answer).
 *
 * Guarantees:
 * - `create` opens an upload without a chunk (for an empty file); `sendChunk` sends one byte range
 *   as a multipart `PUT` with `Content-Range`; `finish` sends the whole file's md5.
 * - Every answer is read into one of a few outcomes: accepted; refused at another offset (the server
 *   names it, as `expected_offset` or `offset`); "already marked as complete" (an earlier finish
 *   went through: `alreadyComplete` turns that into the result, in one place); a file over the
 *   server's limit as `PayloadTooLargeError` (a `413`, or drf-chunked-upload's `400`).
 * - An answer cut short (the request was performed, its answer unreadable) is a `ConnectionError`,
 *   so the client's retry policy sends it again: both requests are idempotent (a chunk by its
 *   range, the finish by its md5), and the server then says where it is.
 * - Each attempt of a chunk re-reads its range from disk (except the first, which may take bytes
 *   read ahead): a retry never replays a consumed body. Its md5 continues from a copy of the
 *   running hash, so a failed attempt never counts.
 * - Each attempt runs within its own timeout (`TimeoutError` naming what was not answered), and
 *   error details are scrubbed of tokens (chunk answers are read here, not by the client).
 * - While a chunk's body goes out, `onSent` is called every `PROGRESS_STEP` bytes with the
 *   absolute file position handed to the connection: progress moves within a chunk.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Duration, Effect, Either, Option, Schema, Stream } from "effect"
import type { Hash } from "node:crypto"
import {
  ALREADY_COMPLETE_PATTERN,
  ChunkedUploadComplete,
  ChunkedUploadState,
  expectedOffset,
  OffsetMismatch,
  SIZE_LIMIT_PATTERN,
  type UploadId
} from "../schemas/ChunkedUpload.js"
import { decoder, parseJson } from "./Decoding.js"
import { fromHttpClientError } from "./ErrorMapping.js"
import type { Service as Client } from "./SynapseClient.js"
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
import { hashBytes, multipartBody, readRange, type SourceFileError, type UploadSourceFile } from "./UploadSource.js"

/** Bytes of a chunk's body handed to the connection between two `onSent` calls: 1 MiB. */
export const PROGRESS_STEP = 1024 * 1024

/** An upload the server knows: its id exactly as the server sent it, and its URL. */
export interface Session {
  readonly id: UploadId
  readonly url: string
}

/** A finished upload as the server describes it (`file` is `null` when only "already complete" was heard). */
export interface CompletedUpload {
  readonly id: UploadId
  readonly url: string
  readonly file: string | null
  readonly checksum: string
  readonly size: number
}

/**
 * The answer to one chunk PUT: accepted (the server's new state, and the md5 continued over the
 * chunk); refused because the server's offset is elsewhere; or refused because the upload was
 * already finished (by this client's own finish, whose answer or state file was lost).
 */
export type ChunkOutcome =
  | { readonly _tag: "Accepted"; readonly state: ChunkedUploadState; readonly hash: Hash }
  | { readonly _tag: "Mismatch"; readonly offset: number }
  | { readonly _tag: "AlreadyComplete" }

/** One chunk to send: the byte range `[start, end)` of `source`, to `session` (a new upload when absent). */
export interface Chunk {
  readonly source: UploadSourceFile
  readonly filename: string
  readonly session: Session | undefined
  readonly start: number
  readonly end: number
  /** The md5 of `[0, start)`: continued (on a copy) over the chunk's bytes. */
  readonly base: Hash
  /** The bytes read ahead for the first attempt; every retry reads them from disk again. */
  readonly prefetched?: Effect.Effect<Buffer, SynapseError> | undefined
  /** Called with the file position reached as the body goes out (not at `end`: acknowledgement says that). */
  readonly onSent?: ((position: number) => void) | undefined
}

/** The requests of the chunked upload protocol over one client. */
export interface ChunkSender {
  /** `PUT chunked_upload/` without a chunk: a new, empty upload. */
  readonly create: (filename: string) => Effect.Effect<Session, SynapseError>
  /** Sends one chunk, retried on transient failures within `timeout` per attempt. */
  readonly sendChunk: (chunk: Chunk, timeout: Duration.Duration) => Effect.Effect<ChunkOutcome, SynapseError>
  /** `POST {url}` with the md5, retried like a chunk (see the module comment). */
  readonly finish: (session: Session, md5: string, size: number) => Effect.Effect<CompletedUpload, SynapseError>
  /** The result when the server says the upload is already complete: logged, and `file` unknown. */
  readonly alreadyComplete: (session: Session, md5: string, size: number) => Effect.Effect<CompletedUpload>
  /** A refusal this client cannot act on, as a `ValidationError` naming the request. */
  readonly refused: (detail: string, method: string, url: string) => ValidationError
}

/** An answer to a chunk or finish, read in either dialect. */
type Answer<A> = A | { readonly mismatch: number } | { readonly complete: true }

const decodeMismatch = Schema.decodeUnknownOption(OffsetMismatch)
const decodeState = decoder(ChunkedUploadState)
const decodeComplete = decoder(ChunkedUploadComplete)

/** A 400 saying the upload was already finished (drf-chunked-upload's answer to a chunk or a second finish). */
const isAlreadyComplete = (error: SynapseError): boolean =>
  error._tag === "ValidationError" && error.status_code === 400 && ALREADY_COMPLETE_PATTERN.test(error.detail)

const contentRange = (start: number, end: number, total: number): string => `bytes ${start}-${end - 1}/${total}`

/** A local file failure as the public error: a `ValidationError` on the `file` field. */
export const sourceError = (error: SourceFileError): ValidationError =>
  new ValidationError({ detail: error.detail, field: "file" })

/**
 * The body's bytes in pieces of `PROGRESS_STEP`, each reported as it is pulled by the connection
 * (a piece is pulled once the previous one was written); the last piece is not reported.
 */
const piecesOf = (bytes: Buffer, start: number, onSent: ((position: number) => void) | undefined) => {
  if (onSent === undefined || bytes.length <= PROGRESS_STEP) return undefined
  const pieces: Array<Buffer> = []
  for (let at = 0; at < bytes.length; at += PROGRESS_STEP) {
    pieces.push(bytes.subarray(at, Math.min(at + PROGRESS_STEP, bytes.length)))
  }
  let position = start
  return Stream.fromIterable(pieces).pipe(
    Stream.tap((piece) =>
      Effect.sync(() => {
        position += piece.length
        if (position < start + bytes.length) onSent(position)
      })
    )
  )
}

/** Builds the protocol's requests over `client`. */
export const makeChunkSender = (client: Client): ChunkSender => {
  // Error bodies of chunk PUTs are read here, not by the client: keep tokens out of them too.
  const redactError = (error: SynapseError): SynapseError => {
    const detail = client.redact(error.detail)
    if (detail === error.detail) return error
    const fields: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(error)) if (key !== "_tag") fields[key] = value
    return new (error.constructor as new(fields: object) => SynapseError)({ ...fields, detail })
  }

  const where = (method: string, url: string) => ({ method, url: stripQuery(client.resolveUrl(url)) })

  const refused = (detail: string, method: string, url: string) =>
    new ValidationError({ status_code: 400, detail, ...where(method, url) })

  /** `self` within `timeout`, else a `TimeoutError` saying that `what` was not answered in time. */
  const within = <A>(
    self: Effect.Effect<A, SynapseError>,
    timeout: Duration.Duration,
    what: string,
    method: string,
    url: string
  ) =>
    Effect.timeoutFail(self, {
      duration: timeout,
      onTimeout: () =>
        new TimeoutError({
          detail: `${what} within ${Duration.format(timeout)}`,
          ...where(method, url),
          timeoutMs: Duration.toMillis(timeout)
        })
    })

  /**
   * Sends one upload request and reads its answer: the 2xx body decoded with `decode`; an offset
   * error as `{ mismatch }`; "already marked as complete" as `{ complete }`; drf-chunked-upload's
   * 400 for a file over its limit as `PayloadTooLargeError`; an answer cut short as `ConnectionError`.
   */
  const exchange = <A>(
    request: HttpClientRequest.HttpClientRequest,
    decode: (json: unknown) => Either.Either<A, DecodeError>
  ): Effect.Effect<Answer<A>, SynapseError> => {
    const at = where(request.method, request.url)
    const read = (
      status: number,
      text: string,
      retryAfter: string | undefined
    ): Either.Either<Answer<A>, SynapseError> => {
      const parsed = parseJson(text, status)
      if (Either.isLeft(parsed) && parsed.left.truncated === true) {
        return Either.left(
          new ConnectionError({
            detail: `the answer was cut short (${parsed.left.detail})`,
            status_code: status,
            ...at
          })
        )
      }
      if (status >= 200 && status < 300) {
        return Either.mapLeft(Either.flatMap(parsed, decode), (error) => new DecodeError({ ...error, ...at }))
      }
      if (status === 400) {
        const mismatch = decodeMismatch(Either.getOrUndefined(parsed))
        const expected = Option.isSome(mismatch) ? expectedOffset(mismatch.value) : undefined
        if (expected !== undefined) return Either.right({ mismatch: expected })
      }
      const error = fromResponse({
        status,
        body: text,
        retryAfter,
        method: request.method,
        url: client.resolveUrl(request.url)
      })
      if (isAlreadyComplete(error)) return Either.right({ complete: true } as const)
      // drf-chunked-upload refuses a file over its limit with a 400, not a 413.
      if (error._tag === "ValidationError" && SIZE_LIMIT_PATTERN.test(error.detail)) {
        return Either.left(new PayloadTooLargeError({ status_code: 400, detail: error.detail, ...at }))
      }
      return Either.left(error)
    }
    return client.httpClient.execute(request).pipe(
      Effect.flatMap((response) =>
        Effect.map(response.text, (text) => read(response.status, text, response.headers["retry-after"]))
      ),
      Effect.mapError(fromHttpClientError),
      Effect.flatten
    )
  }

  const create = (filename: string) =>
    Effect.map(
      client.json(
        HttpClientRequest.put("chunked_upload/").pipe(HttpClientRequest.bodyUnsafeJson({ filename })),
        ChunkedUploadState
      ),
      (created): Session => ({ id: created.id, url: created.url })
    )

  const sendChunk = (chunk: Chunk, timeout: Duration.Duration): Effect.Effect<ChunkOutcome, SynapseError> => {
    const { end, source, start } = chunk
    const url = chunk.session?.url ?? "chunked_upload/"
    let first = chunk.prefetched
    const attempt = Effect.gen(function*() {
      const read = first ?? readRange(source, start, end).pipe(Effect.mapError(sourceError))
      first = undefined
      const bytes = yield* read
      const body = multipartBody(chunk.filename, bytes, piecesOf(bytes, start, chunk.onSent))
      const request = HttpClientRequest.put(url).pipe(
        HttpClientRequest.setHeader("Content-Range", contentRange(start, end, source.size)),
        HttpClientRequest.bodyStream(body.stream, { contentType: body.contentType, contentLength: body.contentLength })
      )
      // The md5 continues on a copy, hashed while the socket sends the same bytes.
      const hash = chunk.base.copy()
      const send = within(
        exchange(request, decodeState),
        timeout,
        `chunk ${start}-${end - 1} was not acknowledged`,
        "PUT",
        url
      )
      const [answer] = yield* Effect.all([send, hashBytes(hash, bytes)], { concurrency: 2 })
      return "mismatch" in answer
        ? { _tag: "Mismatch", offset: answer.mismatch } as const
        : "complete" in answer
        ? { _tag: "AlreadyComplete" } as const
        : { _tag: "Accepted", state: answer, hash } as const
    })
    return client.retry(attempt).pipe(Effect.mapError(redactError))
  }

  const alreadyComplete = (session: Session, md5: string, size: number): Effect.Effect<CompletedUpload> =>
    Effect.logInfo("the server says the upload is already complete: an earlier finish went through").pipe(
      Effect.annotateLogs({ upload: String(session.id) }),
      Effect.as({ id: session.id, url: session.url, file: null, checksum: md5, size })
    )

  const finish = (session: Session, md5: string, size: number): Effect.Effect<CompletedUpload, SynapseError> => {
    // The server reads the whole file back to check the md5 before answering: allow for it (at
    // least 50 MiB/s) on top of the usual timeouts.
    const timeout = Duration.sum(
      Duration.sum(client.timeouts.connect, client.timeouts.read),
      Duration.seconds(Math.ceil(size / (50 * 1024 * 1024)))
    )
    const request = HttpClientRequest.post(session.url).pipe(HttpClientRequest.bodyUnsafeJson({ md5 }))
    const attempt = within(
      exchange(request, decodeComplete),
      timeout,
      "the finish was not answered",
      "POST",
      session.url
    )
      .pipe(
        Effect.flatMap((answer): Effect.Effect<CompletedUpload, SynapseError> => {
          if ("mismatch" in answer) {
            // The server holds less than the whole file: nothing this client sent can be finished.
            return Effect.fail(
              refused(
                `the server holds ${answer.mismatch} of the file's ${size} bytes and cannot finish the upload`,
                "POST",
                session.url
              )
            )
          }
          if ("complete" in answer) return alreadyComplete(session, md5, size)
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

  return { create, sendChunk, finish, alreadyComplete, refused }
}
