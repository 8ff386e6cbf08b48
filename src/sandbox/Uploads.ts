/**
 * The chunked upload protocol (WIRE.md), as the official backend speaks it:
 *
 * - `PUT chunked_upload/` starts an upload. With a multipart body (`file` part, `filename` field,
 *   `Content-Range`) it also takes the first chunk; with no body it only creates the upload
 *   (filename from a JSON body or the `filename` query parameter). Answers the upload state.
 * - `PUT chunked_upload/{id}/` appends a chunk: `Content-Range: bytes a-b/total` (end inclusive,
 *   total may be `*`). `a` must equal the server's offset, else `400 {"detail": "Offsets do not
 *   match", "offset": n}`; a chunk wholly below the offset (a re-send after a lost answer) is
 *   accepted again without writing. A total above the size limit is `413`.
 * - `GET chunked_upload/{id}/` answers the state (resume).
 * - `POST chunked_upload/{id}/` with `{"md5": …}` verifies the whole file and completes it; the
 *   file moves to `media/uploads/{id}/{filename}`. Repeating it with the same md5 answers the
 *   same result (a retried POST after a lost answer must not fail).
 *
 * Chunk bytes are streamed from the multipart parser straight into `uploads/{id}.part` at their
 * offset, never buffered whole; the offset only advances (in the database, conditionally on the
 * old offset) once the full declared range has arrived, so an interrupted chunk is simply resent.
 * Uploads not completed within the expiry (24 h by default) answer `410`.
 */
import { HttpServerRequest, type HttpServerResponse, type Multipart } from "@effect/platform"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Stream } from "effect"
import { createHash, randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as FsP from "node:fs/promises"
import * as Path from "node:path"
import type { SandboxContext } from "./Context.js"
import { ApiError, detailError, excerpt, json, originOf, queryOf } from "./Http.js"
import { makeSigner } from "./Media.js"
import { readJsonObject } from "./Resources.js"

type Handler = Effect.Effect<HttpServerResponse.HttpServerResponse, ApiError | SqlError, HttpServerRequest.HttpServerRequest>

interface UploadRow {
  readonly id: string
  readonly filename: string
  readonly offset: number
  readonly total: number | null
  readonly status: "uploading" | "complete"
  readonly created_at: string
  readonly expires_at: string
  readonly md5: string | null
  readonly file_media: string | null
}

/** A parsed `Content-Range: bytes a-b/total` (total undefined for `*`). */
export interface ContentRange {
  readonly start: number
  readonly end: number
  readonly total: number | undefined
}

/** Parses and sanity-checks a chunk's `Content-Range`; a lying or malformed one is a 400. */
export const parseContentRange = (header: string | undefined): ContentRange => {
  if (header === undefined) throw detailError(400, "Content-Range header is required: bytes {start}-{end}/{total}.")
  const m = /^bytes (\d{1,15})-(\d{1,15})\/(\d{1,15}|\*)$/.exec(header.trim())
  if (m === null) throw detailError(400, `Malformed Content-Range "${excerpt(header)}": expected bytes {start}-{end}/{total}.`)
  const start = Number(m[1])
  const end = Number(m[2])
  const total = m[3] === "*" ? undefined : Number(m[3])
  if (end < start) throw detailError(400, `Content-Range end ${end} is before its start ${start}.`)
  if (total !== undefined && end >= total) throw detailError(400, `Content-Range end ${end} is past the declared total of ${total} bytes.`)
  return { start, end, total }
}

const sanitizeFilename = (name: string | undefined): string => {
  const base = Path.basename((name ?? "").replace(/\\/g, "/"))
    .replace(/[\u0000-\u001f\u007f/]/g, "")
    .trim()
  const safe = base === "" || base === "." || base === ".." ? "upload.bin" : base
  return safe.length > 200 ? safe.slice(safe.length - 200) : safe
}

const partPath = (ctx: SandboxContext, id: string): string => Path.join(ctx.data.uploadsDir, `${id}.part`)

const stateJson = (row: UploadRow, origin: string) => ({
  id: row.id,
  url: `${origin}/api/v1/chunked_upload/${row.id}/`,
  offset: row.offset,
  filename: row.filename,
  status: row.status,
  expires: row.status === "complete" ? null : row.expires_at,
  ...(row.total !== null ? { total: row.total } : {})
})

const loadUpload = (ctx: SandboxContext, rawId: string | undefined) =>
  Effect.gen(function* () {
    if (rawId === undefined || !/^[0-9a-f]{32}$/.test(rawId)) throw detailError(404, "Not found.")
    const rows = yield* ctx.sql.unsafe<UploadRow>("SELECT * FROM chunked_uploads WHERE id = ?", [rawId])
    const row = rows[0]
    if (row === undefined) throw detailError(404, "Not found.")
    return row
  })

const checkNotExpired = (row: UploadRow): void => {
  if (row.status === "uploading" && Date.parse(row.expires_at) < Date.now()) {
    throw detailError(410, "Upload has expired. Start a new upload.")
  }
}

const createUpload = (ctx: SandboxContext, filename: string) =>
  Effect.gen(function* () {
    const id = randomBytes(16).toString("hex")
    const now = Date.now()
    yield* Effect.promise(() => FsP.writeFile(partPath(ctx, id), new Uint8Array(0)))
    yield* ctx.sql.unsafe(
      "INSERT INTO chunked_uploads (id, filename, offset, status, created_at, expires_at) VALUES (?, ?, 0, 'uploading', ?, ?)",
      [id, filename, new Date(now).toISOString(), new Date(now + ctx.uploadExpirySeconds * 1000).toISOString()]
    )
    const rows = yield* ctx.sql.unsafe<UploadRow>("SELECT * FROM chunked_uploads WHERE id = ?", [id])
    return rows[0]!
  })

const isMultipart = (request: HttpServerRequest.HttpServerRequest): boolean =>
  (request.headers["content-type"] ?? "").toLowerCase().startsWith("multipart/form-data")

/**
 * Receives one chunk into an upload. Every byte of the `file` part is written at its position in
 * the `.part` file as it arrives (or discarded for a re-sent chunk); the declared range is checked
 * against what actually arrived before the offset moves.
 */
const receiveChunk = (ctx: SandboxContext, request: HttpServerRequest.HttpServerRequest, upload: UploadRow) =>
  Effect.gen(function* () {
    const range = parseContentRange(request.headers["content-range"])
    if (range.total !== undefined && range.total > ctx.maxUploadBytes) {
      throw detailError(413, `Upload of ${range.total} bytes exceeds the limit of ${ctx.maxUploadBytes} bytes.`, { limit: ctx.maxUploadBytes })
    }
    if (range.end >= ctx.maxUploadBytes) {
      throw detailError(413, `Upload exceeds the limit of ${ctx.maxUploadBytes} bytes.`, { limit: ctx.maxUploadBytes })
    }
    if (upload.total !== null && range.total !== undefined && range.total !== upload.total) {
      throw detailError(400, `Content-Range total ${range.total} differs from this upload's total of ${upload.total} bytes.`)
    }
    const length = range.end - range.start + 1
    // A chunk wholly below the offset was already received: its answer got lost, accept it again.
    const resend = range.end < upload.offset
    if (!resend && range.start !== upload.offset) {
      throw detailError(400, "Offsets do not match", { offset: upload.offset })
    }
    if (!isMultipart(request)) throw detailError(400, "A chunk must be multipart/form-data with a \"file\" part.")

    let received = 0
    let sawFile = false
    let filename: string | undefined
    const handle = resend ? undefined : yield* Effect.promise(() => FsP.open(partPath(ctx, upload.id), "r+"))
    const writeBytes = (bytes: Uint8Array) =>
      Effect.suspend(() => {
        const position = range.start + received
        received += bytes.length
        ctx.stats.uploadBytesReceived += bytes.length
        if (received > length) {
          return Effect.fail(detailError(400, `Chunk is larger than its Content-Range (${length} bytes declared).`))
        }
        if (handle === undefined) return Effect.void
        return Effect.promise(() => handle.write(bytes, 0, bytes.length, position))
      })
    const consume = (part: Multipart.Part) => {
      if (part._tag === "Field") {
        if (part.key === "filename") filename = part.value
        return Effect.void
      }
      if (part.key !== "file" || sawFile) return Stream.runDrain(part.content).pipe(Effect.mapError(multipartError))
      sawFile = true
      filename ??= part.name
      return part.content.pipe(Stream.mapError(multipartError), Stream.runForEach(writeBytes))
    }
    yield* request.multipartStream.pipe(
      Stream.mapError(multipartError),
      Stream.runForEach(consume),
      Effect.ensuring(handle === undefined ? Effect.void : Effect.promise(() => handle.close())),
      // A client that hangs up mid-chunk (a timeout, a cancelled upload) is normal operation. The
      // offset has not moved, so the bytes written so far are simply overwritten by the re-sent
      // chunk; say where the upload stands, for whoever wonders why it stalled.
      Effect.onInterrupt(() =>
        Effect.logInfo(
          `sandbox: client disconnected during chunk bytes ${range.start}-${range.end} of upload ${upload.id} ` +
            `after ${received} of ${length} bytes; the upload stays at offset ${upload.offset}, where the next PUT resumes.`
        )
      )
    )
    if (!sawFile) throw detailError(400, "The multipart body has no \"file\" part.")
    if (received !== length) {
      throw detailError(400, `Content-Range declares ${length} bytes but the chunk carried ${received}.`, { offset: upload.offset })
    }
    ctx.stats.uploadChunks++
    if (!resend) {
      const total = range.total ?? upload.total
      const result = yield* ctx.sql.unsafe<{ id: string }>(
        "UPDATE chunked_uploads SET offset = ?, total = ?, bytes_received = bytes_received + ? WHERE id = ? AND offset = ? AND status = 'uploading' RETURNING id",
        [range.end + 1, total, received, upload.id, upload.offset]
      )
      if (result.length === 0) {
        // Another request moved the offset while this one streamed: if it was the same chunk,
        // the bytes are identical and the answer is simply the new state.
        const now = yield* loadUpload(ctx, upload.id)
        if (now.offset !== range.end + 1) throw detailError(400, "Offsets do not match", { offset: now.offset })
      }
    }
    if (upload.offset === 0 && filename !== undefined && upload.filename === "upload.bin") {
      yield* ctx.sql.unsafe("UPDATE chunked_uploads SET filename = ? WHERE id = ?", [sanitizeFilename(filename), upload.id])
    }
    return yield* loadUpload(ctx, upload.id)
  })

const multipartError = (e: Multipart.MultipartError | ApiError): ApiError =>
  e._tag === "ApiError" ? e : detailError(400, `Malformed multipart body: ${e.reason}.`)

/** `PUT chunked_upload/`. */
export const startUpload = (ctx: SandboxContext): Handler =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const origin = originOf(request, ctx.origin)
    const query = queryOf(request)
    if (isMultipart(request)) {
      // Validate the range before creating anything, so a rejected first chunk leaves no upload behind.
      const range = parseContentRange(request.headers["content-range"])
      if (range.start !== 0) throw detailError(400, "Offsets do not match", { offset: 0 })
      const upload = yield* createUpload(ctx, sanitizeFilename(query.get("filename") ?? undefined))
      const state = yield* receiveChunk(ctx, request, upload)
      return json(stateJson(state, origin))
    }
    let filename = query.get("filename") ?? undefined
    const length = Number(request.headers["content-length"] ?? "0")
    if (length > 0 || request.headers["transfer-encoding"] !== undefined) {
      const body = yield* readJsonObject
      if (typeof body.filename === "string") filename = body.filename
    }
    const upload = yield* createUpload(ctx, sanitizeFilename(filename))
    return json(stateJson(upload, origin))
  })

/** `PUT chunked_upload/{id}/`. */
export const putChunk = (ctx: SandboxContext, rawId: string | undefined): Handler =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const upload = yield* loadUpload(ctx, rawId)
    if (upload.status === "complete") throw detailError(400, "Upload has already been marked as complete.")
    checkNotExpired(upload)
    const state = yield* receiveChunk(ctx, request, upload)
    return json(stateJson(state, originOf(request, ctx.origin)))
  })

/** `GET chunked_upload/{id}/`. */
export const uploadStatus = (ctx: SandboxContext, rawId: string | undefined): Handler =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const upload = yield* loadUpload(ctx, rawId)
    checkNotExpired(upload)
    return json(stateJson(upload, originOf(request, ctx.origin)))
  })

const md5OfFile = (file: string, length: number) =>
  Effect.async<string, ApiError>((resume) => {
    const hash = createHash("md5")
    if (length === 0) return resume(Effect.succeed(hash.digest("hex")))
    const stream = Fs.createReadStream(file, { start: 0, end: length - 1 })
    stream.on("data", (chunk) => hash.update(chunk))
    stream.on("error", (e) => resume(Effect.fail(detailError(500, `Could not read the upload: ${e.message}`))))
    stream.on("end", () => resume(Effect.succeed(hash.digest("hex"))))
    return Effect.sync(() => stream.destroy())
  })

/** `POST chunked_upload/{id}/`. */
export const finishUpload = (ctx: SandboxContext, rawId: string | undefined): Handler =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const origin = originOf(request, ctx.origin)
    const upload = yield* loadUpload(ctx, rawId)
    const body = yield* readJsonObject
    const md5 = body.md5
    if (typeof md5 !== "string" || !/^[0-9a-fA-F]{32}$/.test(md5)) {
      throw new ApiError({ status: 400, body: { md5: ["This field is required: the hex md5 of the whole file (32 hex digits)."] } })
    }
    const sign = makeSigner(origin, ctx.data.secret)
    const done = (row: UploadRow) => json({ id: row.id, file: sign(row.file_media!), checksum: row.md5, size: row.offset })
    if (upload.status === "complete") {
      if (upload.md5 !== md5.toLowerCase()) throw detailError(400, "md5 checksum does not match")
      return done(upload)
    }
    checkNotExpired(upload)
    if (upload.total !== null && upload.offset !== upload.total) {
      throw detailError(400, `Upload is incomplete: ${upload.offset} of ${upload.total} bytes received.`, { offset: upload.offset })
    }
    const actual = yield* md5OfFile(partPath(ctx, upload.id), upload.offset)
    if (actual !== md5.toLowerCase()) throw detailError(400, "md5 checksum does not match")
    const mediaPath = `uploads/${upload.id}/${upload.filename}`
    const target = Path.join(ctx.data.mediaDir, "uploads", upload.id, upload.filename)
    yield* Effect.tryPromise({
      try: async () => {
        await FsP.mkdir(Path.dirname(target), { recursive: true })
        await FsP.truncate(partPath(ctx, upload.id), upload.offset)
        await FsP.rename(partPath(ctx, upload.id), target)
      },
      catch: (e) => e
    }).pipe(
      // Two finishes racing (a client retrying a POST whose answer was slow): the loser finds the
      // part file already moved, and answers the completed state like the winner.
      Effect.catchAll((e) => (Fs.existsSync(target) ? Effect.void : Effect.fail(detailError(500, `Could not store the upload: ${String(e)}`))))
    )
    yield* ctx.sql.unsafe("UPDATE chunked_uploads SET status = 'complete', md5 = ?, file_media = ?, total = ? WHERE id = ? AND status = 'uploading'", [
      actual,
      mediaPath,
      upload.offset,
      upload.id
    ])
    return done(yield* loadUpload(ctx, upload.id))
  })
