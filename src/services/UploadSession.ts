/**
 * One upload session: sends an opened file chunk by chunk from wherever the server has it to the
 * end, then finishes it. The wire requests are `ChunkSender`'s, the resume state `UploadResume`'s;
 * this module decides which chunk goes next.
 *
 * Guarantees:
 * - The file is read by offset from disk one chunk at a time, the next while the current one is on
 *   the wire, into two buffers used in turn: memory stays at two chunks whatever the file size.
 * - The md5 of the whole file is computed while the chunks are sent; a chunk's bytes count only
 *   once its PUT was acknowledged.
 * - An offset mismatch (the server holds more or less than this client thinks) continues from the
 *   server's offset; a server that keeps refusing a chunk at the very offset it asks for fails
 *   after `MAX_REFUSALS_IN_PLACE` refusals instead of looping.
 * - An upload the server no longer has (`404`, `410`) starts over, once per call.
 * - "Already complete" on a chunk means an earlier finish went through: nothing more is sent.
 * - Progress: `hashing` while a resumed part is re-read, `uploading` as chunk bytes go out (every
 *   `PROGRESS_STEP`) and when each chunk is acknowledged, `finalizing` before the finish.
 * - Aborting the `signal` stops before the next chunk; the upload stays resumable.
 */
import { Duration, Effect, Either, Fiber, Option } from "effect"
import type { UploadId } from "../schemas/ChunkedUpload.js"
import type { ChunkSender, Session } from "./ChunkSender.js"
import { sourceError } from "./ChunkSender.js"
import type { Service as Client } from "./SynapseClient.js"
import type { SynapseError, ValidationError } from "./SynapseError.js"
import { findResumePoint, makePrefixHash, type ResumeStore } from "./UploadResume.js"
import { readRange, type UploadSourceFile } from "./UploadSource.js"

/** 1 MiB: the smallest chunk accepted (smaller chunks only multiply requests). */
export const MIN_CHUNK_SIZE = 1024 * 1024
/** 50 MiB: the chunk size of the reference SDK. */
export const DEFAULT_CHUNK_SIZE = 50 * 1024 * 1024

/** How many times in a row a chunk refused at the offset the server then asks for is sent again. */
export const MAX_REFUSALS_IN_PLACE = 5

/** How many times one `upload` call starts over after the server lost its upload. */
const MAX_RESTARTS = 1

/** Where an upload is: re-reading the part already sent, sending chunks, or asking the server to finish. */
export type UploadPhase = "hashing" | "uploading" | "finalizing"

/**
 * A progress report. `bytesSent` is how far the phase got: bytes hashed while `hashing`; while
 * `uploading`, bytes the server holds plus those of the chunk in flight handed to the connection
 * so far (a retried chunk starts again from its first byte). `chunk` is the 1-based chunk being
 * sent or just completed, out of `chunks`.
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

/** How one session runs, resolved from the caller's options. */
export interface SessionSettings {
  readonly chunkSize: number
  readonly filename: string
  /** Time allowed for one chunk PUT attempt. */
  readonly chunkTimeout: Duration.Duration
  readonly onProgress?: ((progress: UploadProgress) => void) | undefined
  readonly signal?: AbortSignal | undefined
}

/** The default time for one chunk PUT: the client's connect + read timeouts plus one second per MiB. */
export const defaultChunkTimeout = (client: Client, chunkSize: number): Duration.Duration =>
  Duration.sum(
    Duration.sum(client.timeouts.connect, client.timeouts.read),
    Duration.seconds(Math.ceil(chunkSize / MIN_CHUNK_SIZE))
  )

/** `onProgress` for one file, filling in the totals and the chunk number. */
const progressReporter = (total: number, settings: SessionSettings) => {
  const chunks = Math.max(1, Math.ceil(total / settings.chunkSize))
  return (phase: UploadPhase, bytesSent: number) =>
    settings.onProgress?.({
      phase,
      bytesSent,
      totalBytes: total,
      chunk: total === 0 ? 1 : Math.min(chunks, Math.ceil(bytesSent / settings.chunkSize)),
      chunks
    })
}

/**
 * Two chunk buffers used in turn: chunk n is read into buffer n % 2 while chunk n - 1 is on the
 * wire, so disk and network overlap and memory stays flat (fresh 50 MiB buffers pile up faster than
 * the collector returns them). A retry reads into a fresh buffer instead (`ChunkSender`): a failed
 * request is not trusted to be done with its bytes.
 */
const makeReader = (source: UploadSourceFile, chunkSize: number) => {
  const pool: Array<Buffer | undefined> = [undefined, undefined]
  const slot = (n: number) => (pool[n % 2] ??= Buffer.allocUnsafe(Math.min(chunkSize, source.size)))
  let ahead:
    | { readonly start: number; readonly end: number; readonly fiber: Fiber.Fiber<Buffer, ValidationError> }
    | undefined
  const readInto = (n: number, from: number, to: number) =>
    readRange(source, from, to, slot(n)).pipe(Effect.mapError(sourceError))
  /** The bytes of chunk number `n` (`[start, end)`), and the next chunk's read started in the background. */
  const take = (n: number, start: number, end: number) =>
    Effect.gen(function*() {
      let bytes: Effect.Effect<Buffer, ValidationError>
      if (ahead !== undefined && ahead.start === start && ahead.end === end) {
        bytes = Fiber.join(ahead.fiber)
      } else {
        // A read ahead of the wrong range (the server moved the offset) is awaited, not
        // interrupted: the file read it started would still write into the buffer.
        if (ahead !== undefined) yield* Fiber.await(ahead.fiber)
        bytes = readInto(n, start, end)
      }
      const nextEnd = Math.min(end + chunkSize, source.size)
      ahead = end < source.size
        ? { start: end, end: nextEnd, fiber: yield* Effect.forkScoped(readInto(n + 1, end, nextEnd)) }
        : undefined
      return bytes
    })
  return { take }
}

/**
 * Runs one upload of `source` to its end and finishes it. Needs a scope: the read-ahead fiber
 * lives in it.
 */
export const runSession = (
  client: Client,
  sender: ChunkSender,
  source: UploadSourceFile,
  store: ResumeStore,
  settings: SessionSettings
) =>
  Effect.gen(function*() {
    const total = source.size
    const report = progressReporter(total, settings)
    const prefix = makePrefixHash(source, (position) => report("hashing", position))
    const resumed = yield* findResumePoint(client, source, store, prefix).pipe(Effect.mapError(sourceError))
    let session: Session | undefined = Option.getOrUndefined(Option.map(resumed, (point) => point.session))
    let offset = Option.match(resumed, { onNone: () => 0, onSome: (point) => point.offset })
    let resumedFrom = offset
    let bytesSent = 0

    if (session === undefined && total === 0) {
      // An empty file has no byte range to send: create the upload without a chunk, then finish it.
      session = yield* sender.create(settings.filename)
      report("uploading", 0)
    }
    const reader = makeReader(source, settings.chunkSize)
    let sent = 0
    // Refusals of a chunk at the very offset the server then asks for (e.g. a body cut short on
    // the way): a few are resent, but a server that keeps refusing must not loop forever.
    let refusedInPlace = 0
    let restarts = 0
    // Set when the server says the upload is already complete: nothing is left to send or finish.
    let finished = false
    while (session === undefined || offset < total) {
      if (settings.signal?.aborted === true) return yield* Effect.interrupt
      yield* prefix.moveTo(offset).pipe(Effect.mapError(sourceError))
      const start = offset
      const end = Math.min(start + settings.chunkSize, total)
      const prefetched = yield* reader.take(sent, start, end)
      const answer = yield* Effect.either(
        sender.sendChunk({
          source,
          filename: settings.filename,
          session,
          start,
          end,
          base: prefix.hash(),
          prefetched,
          // Cut into pieces only for someone listening: otherwise the body goes out whole.
          onSent: settings.onProgress !== undefined ? (position) => report("uploading", position) : undefined
        }, settings.chunkTimeout)
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
          yield* store.clear
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
          return yield* sender.refused("the server says a new upload is already complete", "PUT", "chunked_upload/")
        }
        finished = true
        break
      }
      if (outcome._tag === "Mismatch") {
        const url = session?.url ?? "chunked_upload/"
        if (session === undefined || outcome.offset > total) {
          return yield* sender.refused(
            `the server refused the chunk at ${start} and expects offset ${outcome.offset}`,
            "PUT",
            url
          )
        }
        refusedInPlace = outcome.offset === start ? refusedInPlace + 1 : 0
        if (refusedInPlace > MAX_REFUSALS_IN_PLACE) {
          return yield* sender.refused(
            `the server refused the chunk at ${start} ${refusedInPlace} times in a row while asking for that same offset`,
            "PUT",
            url
          )
        }
        yield* Effect.logInfo("the server holds a different part of the upload: continuing from its offset").pipe(
          Effect.annotateLogs({ sent: start, server: outcome.offset })
        )
        offset = outcome.offset
        continue
      }
      refusedInPlace = 0
      prefix.advance(outcome.hash, end)
      bytesSent += end - start
      session = { id: outcome.state.id, url: outcome.state.url }
      offset = outcome.state.offset
      yield* prefix.moveTo(offset).pipe(Effect.mapError(sourceError))
      yield* store.save(session, offset, prefix.digest())
      report("uploading", offset)
    }

    yield* prefix.moveTo(total).pipe(Effect.mapError(sourceError))
    const md5 = prefix.digest()
    report("finalizing", total)
    const complete = finished
      ? yield* sender.alreadyComplete(session, md5, total)
      : yield* sender.finish(session, md5, total)
    yield* store.clear
    const result: UploadResult = { ...complete, bytesSent, resumedFrom }
    return result
  })

/** An answer saying the server no longer has the upload (removed, or expired). */
const isGone = (error: SynapseError): boolean => error._tag === "NotFoundError" || error.status_code === 410
