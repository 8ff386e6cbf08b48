/**
 * The local side of a chunked upload: the file being sent, read by offset straight from disk, the
 * incremental md5 of the whole file, and the small resume state file that lets a new process pick
 * up an unfinished upload of the same file. Nothing here talks HTTP; `ChunkedUpload` composes it
 * with the client.
 *
 * Why read by offset: a chunk that has to be sent again (a retry after a reset, a resume after a
 * crash) must carry the same bytes as the first attempt. Re-reading its range from disk gives that
 * for free; a consumed stream would be replayed empty and still "succeed".
 *
 * Why a whole chunk per read rather than a stream of small pieces: an Effect `Stream` element costs
 * a few milliseconds of scheduling on a busy machine, which made 1 MiB pieces the bottleneck of a
 * 1 GiB upload. A chunk read in a few large reads into a reused buffer, sent as one body part,
 * keeps memory at two chunks and the CPU for the md5.
 */
import { Effect, Option, Schema, Stream } from "effect"
import { createHash, type Hash, randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as nodePath from "node:path"
import { makeDirectory } from "../platform/Directories.js"
import { type NotRegularFileError, openRegularFile } from "./RegularFile.js"

/** How much is read from disk per read call, and hashed between two turns of the event loop. */
export const PIECE_SIZE = 4 * 1024 * 1024

/** A local file could not be opened, read or described. Mapped to the public error union by `ChunkedUpload`. */
export class SourceFileError extends Schema.TaggedError<SourceFileError>()("SourceFileError", {
  path: Schema.String,
  detail: Schema.String
}) {}

/** The identity of the file being uploaded: if any of these changed, bytes already sent are stale. */
export interface FileIdentity {
  readonly path: string
  readonly size: number
  readonly mtimeMs: number
}

/** An opened upload source: its identity and a handle that reads any range again on demand. */
export interface UploadSourceFile extends FileIdentity {
  readonly handle: fs.FileHandle
}

const describe = (path: string, cause: unknown): string => {
  const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : ""
  switch (code) {
    case "ENOENT":
      return `file ${path} does not exist`
    case "EACCES":
    case "EPERM":
      return `file ${path} is not readable (permission denied)`
    case "EISDIR":
      return `${path} is a directory, not a file`
    case "ENOTREG":
      return `${path} is ${(cause as NotRegularFileError).kind}, not a regular file: only regular files can be uploaded`
    default:
      return `file ${path} cannot be read: ${cause instanceof Error ? cause.message : String(cause)}`
  }
}

/**
 * Opens `path` for reading for the lifetime of the scope. Fails with `SourceFileError` (before any
 * request is made) when the file is missing, unreadable or not a regular file; a named pipe or a
 * device is refused without blocking (`openRegularFile`).
 */
export const openSource = (path: string) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async (): Promise<UploadSourceFile> => {
        const absolute = nodePath.resolve(path)
        const { handle, stat } = await openRegularFile(absolute)
        // Millisecond precision: what `utimes`, copies and archives preserve reliably.
        return { path: absolute, size: stat.size, mtimeMs: Math.trunc(stat.mtimeMs), handle }
      },
      catch: (cause) => new SourceFileError({ path, detail: describe(path, cause) })
    }),
    (source) => Effect.promise(() => source.handle.close().catch(() => undefined))
  )

/**
 * Reads `[start, end)` from disk, a few large reads at a time, into `into` (a buffer the caller
 * owns and knows to be free) or else a fresh one. A short read means the file shrank after it was
 * opened.
 */
export const readRange = (source: UploadSourceFile, start: number, end: number, into?: Buffer) =>
  Effect.tryPromise({
    try: async () => {
      const buffer = into !== undefined && into.length >= end - start
        ? into.subarray(0, end - start)
        : Buffer.allocUnsafe(end - start)
      let filled = 0
      while (filled < buffer.length) {
        const length = Math.min(PIECE_SIZE, buffer.length - filled)
        const { bytesRead } = await source.handle.read(buffer, filled, length, start + filled)
        if (bytesRead === 0) throw new Error(`file ended at byte ${start + filled}, expected ${source.size} bytes`)
        filled += bytesRead
      }
      return buffer
    },
    catch: (cause) => new SourceFileError({ path: source.path, detail: describe(source.path, cause) })
  })

/** One turn of the event loop (a macrotask), so that pending socket writes progress. */
const nextTurn = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

/**
 * Feeds `bytes` into `hash` one piece per turn of the event loop. md5 runs on the main thread: done
 * in one go for a 50 MiB chunk it would stall the socket sending that very chunk; in pieces, hashing
 * and sending overlap.
 */
export const hashBytes = (hash: Hash, bytes: Uint8Array): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let offset = 0; offset < bytes.length; offset += PIECE_SIZE) {
      hash.update(bytes.subarray(offset, Math.min(offset + PIECE_SIZE, bytes.length)))
      if (offset + PIECE_SIZE < bytes.length) yield* nextTurn
    }
  })

/** Feeds the bytes `[start, end)` of the file into `hash`, calling `onProgress` with the position reached. */
export const hashRange = (
  source: UploadSourceFile,
  hash: Hash,
  start: number,
  end: number,
  onProgress: (position: number) => void = () => {}
) =>
  Effect.gen(function*() {
    let position = start
    // One scratch buffer for the whole range: hashing is synchronous, so it is free again at once.
    const scratch = Buffer.allocUnsafe(Math.min(PIECE_SIZE * 4, Math.max(0, end - start)))
    while (position < end) {
      const next = Math.min(position + scratch.length, end)
      hash.update(yield* readRange(source, position, next, scratch))
      position = next
      onProgress(position)
    }
  })

/** A new md5 accumulator. */
export const newMd5 = (): Hash => createHash("md5")

/** The hex digest of an accumulator without finishing it (the upload keeps feeding the original). */
export const peekDigest = (hash: Hash): string => hash.copy().digest("hex")

// ---------------------------------------------------------------------------------------------
// Resume state
// ---------------------------------------------------------------------------------------------

/**
 * What is remembered about an unfinished upload, written after every acknowledged chunk. The
 * `prefixMd5` is the md5 of the bytes `[0, offset)` as they were sent: on resume the same range is
 * hashed again from disk and compared, so an edit that kept size and mtime still starts over.
 */
export const ResumeState = Schema.Struct({
  version: Schema.Literal(1),
  server: Schema.String,
  url: Schema.String,
  /** The upload id as the server sent it: an integer or a string, sent back unchanged. */
  id: Schema.Union(Schema.Int, Schema.String),
  path: Schema.String,
  size: Schema.Number,
  mtimeMs: Schema.Number,
  offset: Schema.Number,
  prefixMd5: Schema.String
})
export type ResumeState = typeof ResumeState.Type

const decodeState = Schema.decodeUnknownOption(Schema.parseJson(ResumeState))

/** The state file for uploads of `path` to `server`: one per (server, file), named by a hash. */
export const statePath = (stateDir: string, server: string, path: string): string =>
  nodePath.join(
    stateDir,
    `${createHash("sha256").update(server).update("\n").update(nodePath.resolve(path)).digest("hex").slice(0, 32)}.json`
  )

/** Reads a state file; a missing, unreadable or malformed one is simply no state (start over). */
export const readState = (file: string): Effect.Effect<Option.Option<ResumeState>> =>
  Effect.promise(() => fs.readFile(file, "utf8").catch(() => "")).pipe(
    Effect.map((text) => (text === "" ? Option.none() : decodeState(text)))
  )

/**
 * Writes a state file atomically (temporary name, then rename), so a crash mid-write leaves the
 * previous state, never a torn one. Failures are logged and ignored: resume is a convenience, the
 * upload itself must not fail because the cache directory is read-only.
 */
export const writeState = (file: string, state: ResumeState): Effect.Effect<void> =>
  Effect.tryPromise(async () => {
    await makeDirectory(nodePath.dirname(file))
    const temporary = `${file}.${process.pid}.${Date.now()}.tmp`
    await fs.writeFile(temporary, JSON.stringify(state))
    await fs.rename(temporary, file)
  }).pipe(
    Effect.catchAll((cause) => Effect.logWarning("could not save upload resume state", { file, cause: String(cause) }))
  )

/** Removes a state file (upload finished, or its state is no longer usable). */
export const removeState = (file: string): Effect.Effect<void> =>
  Effect.promise(() => fs.rm(file, { force: true }).catch(() => undefined))

/** Whether a remembered upload was of this very file (same path, size and modification time). */
export const sameIdentity = (state: ResumeState, file: FileIdentity): boolean =>
  state.path === file.path && state.size === file.size && state.mtimeMs === file.mtimeMs

// ---------------------------------------------------------------------------------------------
// Multipart body
// ---------------------------------------------------------------------------------------------

/**
 * A `multipart/form-data` body with a `filename` field and a `file` part holding `bytes`, as a
 * stream of pieces so the chunk is not copied into a bigger buffer (`pieces`, when given, are the
 * same bytes cut up, e.g. to see them go out). The content length is
 * exact, so the server sees a normal, non-chunked request. Built by hand so that it works over
 * any transport: `HttpClientRequest.bodyFormData` of Node 20's global `FormData` fails over
 * `NodeHttpClient.layerUndici` (undici 7 serializes only its own `FormData` class: a TypeError).
 */
export const multipartBody = (
  filename: string,
  bytes: Uint8Array,
  pieces?: Stream.Stream<Uint8Array>
) => {
  const boundary = `----synapse-ml-${randomBytes(16).toString("hex")}`
  // Quotes and line breaks cannot appear inside a quoted header parameter: percent-encode them as browsers do.
  const quoted = filename.replace(/"/g, "%22").replace(/\r/g, "%0D").replace(/\n/g, "%0A")
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="filename"\r\n\r\n${filename}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quoted}"\r\n` +
      `Content-Type: application/octet-stream\r\n\r\n`,
    "utf8"
  )
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, "utf8")
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    contentLength: head.length + bytes.length + tail.length,
    stream: pieces === undefined
      ? Stream.make<Array<Uint8Array>>(head, bytes, tail)
      : Stream.make<Array<Uint8Array>>(head).pipe(Stream.concat(pieces), Stream.concat(Stream.make(tail)))
  }
}
