/**
 * The chunked upload protocol (docs/wire-protocol.md "Chunked upload"), in the two dialects the
 * sandbox's profiles speak.
 *
 * Both profiles:
 * - `PUT chunked_upload/` with a multipart body (`file` part, `filename` field, `Content-Range:
 *   bytes a-b/total`, end inclusive) creates an upload holding that first chunk.
 * - `PUT chunked_upload/{id}/` appends a chunk whose start must be the server's offset.
 * - `POST chunked_upload/{id}/` with `{"md5": …}` verifies the whole file and completes it; the
 *   file moves to `media/uploads/{id}/{filename}`.
 * - Chunk bytes are streamed from the multipart parser straight into `uploads/{id}.part` at their
 *   offset, never buffered whole; the offset only advances (in the database, conditionally on the
 *   old offset) once the full declared range has arrived, so an interrupted chunk is simply resent.
 *   Uploads not completed within the expiry (24 h by default) answer `410`.
 *
 * `evidence` answers as drf-chunked-upload, the library the platform's upload endpoint is built on:
 * integer upload ids; an offset mismatch is `400 {"detail": "Offsets do not match",
 * "expected_offset", "provided_offset"}`, and so is a chunk re-sent after it was received; a chunk
 * or a finish on a completed upload is `400 {"detail": "Upload has already been marked as
 * \"complete\""}`; a declared total over the limit is `400 {"detail": "Size of file exceeds the
 * limit (n bytes)"}`; a malformed `Content-Range` is `400 "Error in request headers"`. There is no
 * status `GET {url}` (`405`): drf-chunked-upload's own view has one, but nothing the official
 * client does needs it, so a client must not either.
 *
 * `rich` (the default) is kinder, and keeps its own conventions: 32-hex string ids; a chunk wholly
 * below the offset (a re-send after a lost answer) is accepted again without writing, and a second
 * finish with the same md5 answers the same result; a total over the limit is `413`; `GET {url}`
 * answers the upload's state (a resume aid); `PUT chunked_upload/` without a body creates an empty
 * upload (filename from a JSON body or the `filename` query parameter); a total may be `*`.
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

type Handler = Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  ApiError | SqlError,
  HttpServerRequest.HttpServerRequest
>

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

/** drf-chunked-upload's answer to a chunk or finish on a completed upload. */
const ALREADY_COMPLETE = "Upload has already been marked as \"complete\""

/** Parses and sanity-checks a chunk's `Content-Range`; a lying or malformed one is a 400. */
export const parseContentRange = (header: string | undefined): ContentRange => {
  if (header === undefined) throw detailError(400, "Content-Range header is required: bytes {start}-{end}/{total}.")
  const m = /^bytes (\d{1,15})-(\d{1,15})\/(\d{1,15}|\*)$/.exec(header.trim())
  if (m === null) {
    throw detailError(400, `Malformed Content-Range "${excerpt(header)}": expected bytes {start}-{end}/{total}.`)
  }
  const start = Number(m[1])
  const end = Number(m[2])
  const total = m[3] === "*" ? undefined : Number(m[3])
  if (end < start) throw detailError(400, `Content-Range end ${end} is before its start ${start}.`)
  if (total !== undefined && end >= total) {
    throw detailError(400, `Content-Range end ${end} is past the declared total of ${total} bytes.`)
  }
  return { start, end, total }
}

/**
 * The `Content-Range` as drf-chunked-upload reads it: only `bytes a-b/total` with a numeric total,
 * else `400 "Error in request headers"`; an end past the total is refused with its message.
 */
const parseDrfContentRange = (header: string | undefined): ContentRange & { readonly total: number } => {
  const m = /^bytes (\d{1,15})-(\d{1,15})\/(\d{1,15})$/.exec(header ?? "")
  if (m === null) throw detailError(400, "Error in request headers")
  const start = Number(m[1])
  const end = Number(m[2])
  const total = Number(m[3])
  if (end >= total) throw detailError(400, `End of chunk exceeds reported total (${total} bytes)`)
  if (end < start) throw detailError(400, `File size doesn't match headers: ${start}-${end} is not a range`)
  return { start, end, total }
}

/** The range of a chunk as this sandbox's profile reads it, with the size limit applied. */
const chunkRange = (ctx: SandboxContext, header: string | undefined): ContentRange => {
  if (ctx.profile === "evidence") {
    const range = parseDrfContentRange(header)
    if (range.total > ctx.maxUploadBytes) {
      throw detailError(400, `Size of file exceeds the limit (${ctx.maxUploadBytes} bytes)`)
    }
    return range
  }
  const range = parseContentRange(header)
  if (range.total !== undefined && range.total > ctx.maxUploadBytes) {
    throw detailError(413, `Upload of ${range.total} bytes exceeds the limit of ${ctx.maxUploadBytes} bytes.`, {
      limit: ctx.maxUploadBytes
    })
  }
  if (range.end >= ctx.maxUploadBytes) {
    throw detailError(413, `Upload exceeds the limit of ${ctx.maxUploadBytes} bytes.`, { limit: ctx.maxUploadBytes })
  }
  return range
}

/** The offset mismatch answer: drf-chunked-upload's fields (evidence) or the sandbox's own `offset` (rich). */
const offsetMismatch = (ctx: SandboxContext, expected: number, provided: number): ApiError =>
  ctx.profile === "evidence"
    ? detailError(400, "Offsets do not match", { expected_offset: expected, provided_offset: provided })
    : detailError(400, "Offsets do not match", { offset: expected })

const sanitizeFilename = (name: string | undefined): string => {
  const base = Path.basename((name ?? "").replace(/\\/g, "/"))
    .replace(/[\u0000-\u001f\u007f/]/g, "")
    .trim()
  const safe = base === "" || base === "." || base === ".." ? "upload.bin" : base
  return safe.length > 200 ? safe.slice(safe.length - 200) : safe
}

const partPath = (ctx: SandboxContext, id: string): string => Path.join(ctx.data.uploadsDir, `${id}.part`)

/** Integer ids (the evidence profile's) are stored as their decimal text beside the rich profile's hex ids. */
const INTEGER_ID = /^[1-9]\d{0,14}$/

/** An upload id as the wire carries it: a number when it is one (evidence), else the string. */
const wireId = (id: string): string | number => (INTEGER_ID.test(id) ? Number(id) : id)

const stateJson = (ctx: SandboxContext, row: UploadRow, origin: string) => {
  const url = `${origin}/api/v1/chunked_upload/${row.id}/`
  if (ctx.profile === "evidence") {
    return {
      id: wireId(row.id),
      url,
      offset: row.offset,
      filename: row.filename,
      expires: row.status === "complete" ? null : row.expires_at
    }
  }
  return {
    id: row.id,
    url,
    offset: row.offset,
    filename: row.filename,
    status: row.status,
    expires: row.status === "complete" ? null : row.expires_at,
    ...(row.total !== null ? { total: row.total } : {})
  }
}

/** The upload a path names; either profile's id form is found (they share one table). */
const loadUpload = (ctx: SandboxContext, rawId: string | undefined) =>
  Effect.gen(function*() {
    if (rawId === undefined || !(/^[0-9a-f]{32}$/.test(rawId) || INTEGER_ID.test(rawId))) {
      throw detailError(404, "Not found.")
    }
    const rows = yield* ctx.sql.unsafe<UploadRow>("SELECT * FROM chunked_uploads WHERE id = ?", [rawId])
    const row = rows[0]
    if (row === undefined) {
      throw detailError(404, "Not found.")
    }
    return row
  })

const checkNotExpired = (ctx: SandboxContext, row: UploadRow): void => {
  if (row.status === "uploading" && Date.parse(row.expires_at) < Date.now()) {
    throw detailError(
      410,
      ctx.profile === "evidence" ? "Upload has expired" : "Upload has expired. Start a new upload."
    )
  }
}

/**
 * A new id: the next number of the `upload_numbers` sequence (evidence: AUTOINCREMENT never hands
 * a number out twice, even to two sandboxes on one directory) or 32 random hex digits.
 */
const newUploadId = (ctx: SandboxContext) =>
  ctx.profile === "evidence"
    ? ctx.sql
      .unsafe<{ n: number }>("INSERT INTO upload_numbers DEFAULT VALUES RETURNING n")
      .pipe(Effect.map((rows) => String(rows[0]!.n)))
    : Effect.succeed(randomBytes(16).toString("hex"))

const createUpload = (ctx: SandboxContext, filename: string) =>
  Effect.gen(function*() {
    const now = Date.now()
    const id = yield* newUploadId(ctx)
    yield* ctx.sql.unsafe(
      "INSERT INTO chunked_uploads (id, filename, offset, status, created_at, expires_at) VALUES (?, ?, 0, 'uploading', ?, ?)",
      [id, filename, new Date(now).toISOString(), new Date(now + ctx.uploadExpirySeconds * 1000).toISOString()]
    )
    yield* Effect.promise(() => FsP.writeFile(partPath(ctx, id), new Uint8Array(0)))
    const rows = yield* ctx.sql.unsafe<UploadRow>("SELECT * FROM chunked_uploads WHERE id = ?", [id])
    return rows[0]!
  })

const isMultipart = (request: HttpServerRequest.HttpServerRequest): boolean =>
  (request.headers["content-type"] ?? "").toLowerCase().startsWith("multipart/form-data")

/**
 * A multipart `Content-Type` must name its boundary (RFC 7578: 1 to 70 characters); without one
 * the body cannot be split into parts, which is the client's error (400), said before any byte is read.
 */
const checkBoundary = (ctx: SandboxContext, request: HttpServerRequest.HttpServerRequest): void => {
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))\s*(?:;|$)/i.exec(request.headers["content-type"] ?? "")
  if (m === null) {
    throw detailError(
      400,
      ctx.profile === "evidence"
        ? "Multipart form parse error - Invalid boundary in multipart: None"
        : "Malformed multipart body: the Content-Type names no boundary (multipart/form-data; boundary=…)."
    )
  }
}

/**
 * Receives one chunk into an upload. Every byte of the `file` part is written at its position in
 * the `.part` file as it arrives (or discarded for a re-sent chunk); the declared range is checked
 * against what actually arrived before the offset moves.
 */
const receiveChunk = (
  ctx: SandboxContext,
  request: HttpServerRequest.HttpServerRequest,
  upload: UploadRow,
  range: ContentRange
) =>
  Effect.gen(function*() {
    const evidence = ctx.profile === "evidence"
    if (!evidence && upload.total !== null && range.total !== undefined && range.total !== upload.total) {
      throw detailError(
        400,
        `Content-Range total ${range.total} differs from this upload's total of ${upload.total} bytes.`
      )
    }
    const length = range.end - range.start + 1
    // A chunk wholly below the offset was already received: its answer got lost. The rich profile
    // accepts it again; drf-chunked-upload refuses any chunk that does not start at the offset.
    const resend = !evidence && range.end < upload.offset
    if (!resend && range.start !== upload.offset) throw offsetMismatch(ctx, upload.offset, range.start)
    if (!isMultipart(request)) {
      throw detailError(
        400,
        evidence ? "No chunk file was submitted" : "A chunk must be multipart/form-data with a \"file\" part."
      )
    }
    checkBoundary(ctx, request)

    let received = 0
    let sawFile = false
    let filename: string | undefined
    // The part file opens with the first byte of the `file` part, not before: a body that turns out
    // malformed or empty, or never arrives, holds no descriptor.
    let handle: FsP.FileHandle | undefined
    const tooLarge = () =>
      detailError(
        400,
        evidence
          ? `File size doesn't match headers: file size is more than ${length} but ${length} reported`
          : `Chunk is larger than its Content-Range (${length} bytes declared).`
      )
    const writeBytes = (bytes: Uint8Array) =>
      Effect.suspend(() => {
        const position = range.start + received
        received += bytes.length
        ctx.stats.uploadBytesReceived += bytes.length
        if (received > length) return Effect.fail(tooLarge())
        if (resend) return Effect.void
        return Effect.promise(async () => {
          handle ??= await FsP.open(partPath(ctx, upload.id), "r+")
          await handle.write(bytes, 0, bytes.length, position)
        })
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
      Effect.ensuring(Effect.promise(async () => {
        await handle?.close()
        handle = undefined
      })),
      // A client that hangs up or stalls mid-chunk (a timeout, a cancelled upload, a dead process)
      // is normal operation. The offset has not moved, so the bytes written so far are simply
      // overwritten by the re-sent chunk; say where the upload stands, for whoever wonders why it stalled.
      Effect.onInterrupt(() =>
        Effect.logInfo(
          `sandbox: client disconnected or stalled during chunk bytes ${range.start}-${range.end} of upload ` +
            `${upload.id} after ${received} of ${length} bytes; the upload stays at offset ${upload.offset}, ` +
            "where the next PUT resumes."
        )
      )
    )
    if (!sawFile) {
      throw detailError(400, evidence ? "No chunk file was submitted" : "The multipart body has no \"file\" part.")
    }
    if (received !== length) {
      throw evidence
        ? detailError(400, `File size doesn't match headers: file size is ${received} but ${length} reported`)
        : detailError(400, `Content-Range declares ${length} bytes but the chunk carried ${received}.`, {
          offset: upload.offset
        })
    }
    ctx.stats.uploadChunks++
    if (!resend) {
      const total = range.total ?? upload.total
      const result = yield* ctx.sql.unsafe<{ id: string }>(
        "UPDATE chunked_uploads SET offset = ?, total = ?, bytes_received = bytes_received + ? WHERE id = ? AND offset = ? AND status = 'uploading' RETURNING id",
        [range.end + 1, total, received, upload.id, upload.offset]
      )
      if (result.length === 0) {
        // Another request moved the offset while this one streamed. The rich profile answers the
        // new state if that request was this same chunk (identical bytes); drf refuses it.
        const now = yield* loadUpload(ctx, upload.id)
        if (evidence || now.offset !== range.end + 1) {
          throw offsetMismatch(ctx, now.offset, range.start)
        }
      }
    }
    if (upload.offset === 0 && filename !== undefined && upload.filename === "upload.bin") {
      yield* ctx.sql.unsafe("UPDATE chunked_uploads SET filename = ? WHERE id = ?", [
        sanitizeFilename(filename),
        upload.id
      ])
    }
    return yield* loadUpload(ctx, upload.id)
  })

const multipartError = (e: Multipart.MultipartError | ApiError): ApiError =>
  e._tag === "ApiError" ? e : detailError(400, `Malformed multipart body: ${e.reason}.`)

/** `PUT chunked_upload/`. */
export const startUpload = (ctx: SandboxContext): Handler =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const origin = originOf(request, ctx.origin)
    const query = queryOf(request)
    if (isMultipart(request)) {
      // Validate the range before creating anything, so a rejected first chunk leaves no upload behind.
      const range = chunkRange(ctx, request.headers["content-range"])
      if (range.start !== 0) throw offsetMismatch(ctx, 0, range.start)
      checkBoundary(ctx, request)
      const upload = yield* createUpload(ctx, sanitizeFilename(query.get("filename") ?? undefined))
      const state = yield* receiveChunk(ctx, request, upload, range)
      return json(stateJson(ctx, state, origin))
    }
    // drf-chunked-upload creates an upload only with its first chunk.
    if (ctx.profile === "evidence") throw detailError(400, "No chunk file was submitted")
    let filename = query.get("filename") ?? undefined
    const length = Number(request.headers["content-length"] ?? "0")
    if (length > 0 || request.headers["transfer-encoding"] !== undefined) {
      const body = yield* readJsonObject
      if (typeof body.filename === "string") filename = body.filename
    }
    const upload = yield* createUpload(ctx, sanitizeFilename(filename))
    return json(stateJson(ctx, upload, origin))
  })

/** `PUT chunked_upload/{id}/`. */
export const putChunk = (ctx: SandboxContext, rawId: string | undefined): Handler =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    // drf-chunked-upload checks the headers and the limit before it looks the upload up.
    const range = chunkRange(ctx, request.headers["content-range"])
    const upload = yield* loadUpload(ctx, rawId)
    checkNotExpired(ctx, upload)
    if (upload.status === "complete") {
      throw detailError(
        400,
        ctx.profile === "evidence" ? ALREADY_COMPLETE : "Upload has already been marked as complete."
      )
    }
    const state = yield* receiveChunk(ctx, request, upload, range)
    return json(stateJson(ctx, state, originOf(request, ctx.origin)))
  })

/** `GET chunked_upload/{id}/`: the state (rich); not served by the evidence profile. */
export const uploadStatus = (ctx: SandboxContext, rawId: string | undefined): Handler =>
  Effect.gen(function*() {
    if (ctx.profile === "evidence") {
      throw new ApiError({
        status: 405,
        body: { detail: "Method \"GET\" not allowed." },
        headers: { allow: "PUT, POST, OPTIONS" }
      })
    }
    const request = yield* HttpServerRequest.HttpServerRequest
    const upload = yield* loadUpload(ctx, rawId)
    checkNotExpired(ctx, upload)
    return json(stateJson(ctx, upload, originOf(request, ctx.origin)))
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
  Effect.gen(function*() {
    const evidence = ctx.profile === "evidence"
    const request = yield* HttpServerRequest.HttpServerRequest
    const origin = originOf(request, ctx.origin)
    const upload = yield* loadUpload(ctx, rawId)
    // A DRF view parses a form body as well as JSON: a client posting `md5=…` is understood too.
    const form = (request.headers["content-type"] ?? "").toLowerCase().startsWith("application/x-www-form-urlencoded")
    const body: Record<string, unknown> = form
      ? Object.fromEntries(new URLSearchParams(yield* request.text.pipe(Effect.orElseSucceed(() => ""))))
      : yield* readJsonObject
    const md5 = body.md5
    if (typeof md5 !== "string" || !/^[0-9a-fA-F]{32}$/.test(md5)) {
      if (evidence && (typeof md5 !== "string" || md5 === "")) {
        throw detailError(400, "Checksum of type 'md5' is required")
      }
      if (!evidence) {
        throw new ApiError({
          status: 400,
          body: { md5: ["This field is required: the hex md5 of the whole file (32 hex digits)."] }
        })
      }
    }
    const sign = makeSigner(origin, ctx.data.secret)
    const done = (row: UploadRow) =>
      json({ id: evidence ? wireId(row.id) : row.id, file: sign(row.file_media!), checksum: row.md5, size: row.offset })
    checkNotExpired(ctx, upload)
    if (upload.status === "complete") {
      // drf-chunked-upload refuses a second finish; the rich profile answers the same result again.
      if (evidence) {
        throw detailError(400, ALREADY_COMPLETE)
      }
      if (upload.md5 !== (md5 as string).toLowerCase()) throw detailError(400, "md5 checksum does not match")
      return done(upload)
    }
    // drf-chunked-upload checks only the checksum of what it holds; the rich profile says what is missing.
    if (!evidence && upload.total !== null && upload.offset !== upload.total) {
      throw detailError(400, `Upload is incomplete: ${upload.offset} of ${upload.total} bytes received.`, {
        offset: upload.offset
      })
    }
    const actual = yield* md5OfFile(partPath(ctx, upload.id), upload.offset)
    if (actual !== (md5 as string).toLowerCase()) {
      throw detailError(400, evidence ? "checksum does not match" : "md5 checksum does not match")
    }
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
      Effect.catchAll((e) => (Fs.existsSync(target)
        ? Effect.void
        : Effect.fail(detailError(500, `Could not store the upload: ${String(e)}`)))
      )
    )
    const completed = yield* ctx.sql.unsafe<{ id: string }>(
      "UPDATE chunked_uploads SET status = 'complete', md5 = ?, file_media = ?, total = ? WHERE id = ? AND status = 'uploading' RETURNING id",
      [actual, mediaPath, upload.offset, upload.id]
    )
    if (evidence && completed.length === 0) throw detailError(400, ALREADY_COMPLETE)
    return done(yield* loadUpload(ctx, upload.id))
  })
