/**
 * Presigned media URLs for the sandbox. The database stores `media` paths relative to the data
 * directory's `media/` folder; every answer turns them into absolute, signed, expiring URLs
 * (`/media/<path>?expires=<unix seconds>&signature=<hex>`), which clients fetch without any auth
 * header, just as they fetch a real backend's S3/GCS presigned URLs. The signature is
 * HMAC-SHA256 over `<path>\n<expires>` with a per-data-directory secret kept in the `meta` table.
 */
import { createHmac, timingSafeEqual } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Transform, type TransformCallback } from "node:stream"

/** How long a presigned URL stays valid. */
export const URL_TTL_SECONDS = 6 * 3600

/** The HMAC of one media path and expiry, hex encoded. */
export const signMediaPath = (secret: string, mediaPath: string, expires: number): string =>
  createHmac("sha256", secret).update(`${mediaPath}\n${expires}`).digest("hex")

/**
 * The expiry stamped on URLs issued now: rounded up to a whole hour, so URLs of the same file are
 * identical for an hour (friendly to caches and to clients comparing answers), and always at least
 * `URL_TTL_SECONDS - 1h` in the future.
 */
export const currentExpiry = (nowMs: number = Date.now()): number =>
  Math.ceil(nowMs / 1000 / 3600) * 3600 + URL_TTL_SECONDS - 3600

const encodePath = (mediaPath: string): string => mediaPath.split("/").map(encodeURIComponent).join("/")

/** The presigned absolute URL of a media path. */
export const presign = (origin: string, secret: string, mediaPath: string, expires: number): string =>
  `${origin}/media/${encodePath(mediaPath)}?expires=${expires}&signature=${signMediaPath(secret, mediaPath, expires)}`

// Signed URL tails (`/media/<encoded path>?expires=…&signature=…`) by secret and expiry, then by
// media path. URLs carry an expiry rounded to the hour, so one listing page after another signs the
// same paths again: caching the whole tail (not only the HMAC) makes that one lookup and one
// concatenation; encoding the path segment by segment was the largest per-row cost left.
const signatureCache = new Map<string, Map<string, string>>()
const MAX_CACHED_SIGNATURES = 200_000

const signaturesFor = (secret: string, expires: number): Map<string, string> => {
  const key = `${secret}:${expires}`
  let cache = signatureCache.get(key)
  if (cache === undefined || cache.size > MAX_CACHED_SIGNATURES) {
    // A new hour (or an overfull cache): old entries are never needed again.
    for (const k of signatureCache.keys()) if (k.startsWith(`${secret}:`)) signatureCache.delete(k)
    cache = new Map()
    signatureCache.set(key, cache)
  }
  return cache
}

/** Makes a function turning media paths into presigned URLs for one answer. */
export const makeSigner = (origin: string, secret: string) => {
  const expires = currentExpiry()
  const cache = signaturesFor(secret, expires)
  return (mediaPath: string): string => {
    let tail = cache.get(mediaPath)
    if (tail === undefined) {
      tail = `/media/${encodePath(mediaPath)}?expires=${expires}&signature=${signMediaPath(secret, mediaPath, expires)}`
      cache.set(mediaPath, tail)
    }
    return origin + tail
  }
}

const MEDIA_KEY = /"media"\s*:\s*"((?:[^"\\]|\\.)*)"/g

/**
 * `signFileMap` on JSON text, for hot listings: replaces each `"media": "<path>"` member with
 * `"url": "<presigned>"` in place, without parsing and re-serializing the whole map. Valid for the
 * file-map columns, where `media` only ever appears as a file entry's key.
 */
export const signFilesJson = (text: string, sign: (mediaPath: string) => string): string => {
  // The stored maps are written by JSON.stringify: `"media":"<path>"`, no spaces. They are scanned
  // for that form with indexOf (a third of the time of the regular expression, which runs twice per
  // event row); a path with escapes, or any other spelling, takes the general path.
  let out = ""
  let from = 0
  for (let at = text.indexOf(COMPACT_MEDIA); at >= 0; at = text.indexOf(COMPACT_MEDIA, from)) {
    const start = at + COMPACT_MEDIA.length
    const end = text.indexOf("\"", start)
    if (end < 0) return signFilesJsonGeneral(text, sign)
    const raw = text.slice(start, end)
    const before = text.slice(from, at)
    if (raw.includes("\\") || before.includes("\"media\"")) return signFilesJsonGeneral(text, sign)
    out += `${before}"url":${JSON.stringify(sign(raw))}`
    from = end + 1
  }
  const rest = text.slice(from)
  return rest.includes("\"media\"") ? signFilesJsonGeneral(text, sign) : out + rest
}

const COMPACT_MEDIA = "\"media\":\""

const signFilesJsonGeneral = (text: string, sign: (mediaPath: string) => string): string =>
  text.replace(
    MEDIA_KEY,
    (_match, raw: string) =>
      `"url":${JSON.stringify(sign(raw.includes("\\") ? (JSON.parse(`"${raw}"`) as string) : raw))}`
  )

/**
 * Rewrites a JSON map of file entries (`{"image_1": {"media": …, …}}`): each entry keeps its keys
 * and order, `media` is replaced by `url`. Entries without `media` are left as they are.
 */
export const signFileMap = (files: unknown, sign: (mediaPath: string) => string): unknown => {
  if (files === null || typeof files !== "object" || Array.isArray(files)) return files
  const out: Record<string, unknown> = {}
  for (const [role, entry] of Object.entries(files as Record<string, unknown>)) {
    out[role] = signEntry(entry, sign)
  }
  return out
}

const signEntry = (entry: unknown, sign: (mediaPath: string) => string): unknown => {
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) return entry
  const record = entry as Record<string, unknown>
  if (typeof record.media !== "string") return entry
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(record)) {
    if (key === "media") out.url = sign(value as string)
    else out[key] = value
  }
  return out
}

/** Why a media request was refused. */
export type MediaCheck =
  | { readonly _tag: "Ok"; readonly mediaPath: string; readonly file: string }
  | { readonly _tag: "Forbidden"; readonly detail: string }
  | { readonly _tag: "NotFound" }

/**
 * Checks a `/media/…` request: canonical path inside `mediaDir`, valid unexpired signature, file
 * present. Path traversal is refused before any signature work.
 */
export const checkMediaRequest = (
  mediaDir: string,
  secret: string,
  rawPath: string,
  query: URLSearchParams,
  nowMs: number = Date.now()
): MediaCheck => {
  let mediaPath: string
  try {
    mediaPath = rawPath.split("/").map(decodeURIComponent).join("/")
  } catch {
    return { _tag: "NotFound" }
  }
  const segments = mediaPath.split("/")
  if (
    mediaPath === "" ||
    segments.some((s) => s === "" || s === "." || s === ".." || s.includes("\0") || s.includes("\\"))
  ) {
    return { _tag: "NotFound" }
  }
  const expiresRaw = query.get("expires")
  const signature = query.get("signature")
  if (expiresRaw === null || signature === null) {
    return {
      _tag: "Forbidden",
      detail: "Missing signature: media URLs must be presigned (expires and signature query parameters)."
    }
  }
  const expires = /^\d{1,12}$/.test(expiresRaw) ? Number(expiresRaw) : NaN
  if (!Number.isFinite(expires)) return { _tag: "Forbidden", detail: "Invalid expires parameter." }
  const expected = Buffer.from(signMediaPath(secret, mediaPath, expires), "hex")
  const given = /^[0-9a-f]{64}$/i.test(signature) ? Buffer.from(signature, "hex") : Buffer.alloc(0)
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { _tag: "Forbidden", detail: "Signature does not match." }
  }
  if (expires * 1000 < nowMs) return { _tag: "Forbidden", detail: "Request has expired." }
  const file = Path.join(mediaDir, ...segments)
  try {
    if (!Fs.statSync(file).isFile()) return { _tag: "NotFound" }
  } catch {
    return { _tag: "NotFound" }
  }
  return { _tag: "Ok", mediaPath, file }
}

/** A byte range to serve, inclusive `end`. */
export interface ByteRange {
  readonly start: number
  readonly end: number
}

/**
 * Parses a single-range `Range: bytes=a-b` header (`a-`, `-n` suffix form too) against a file size.
 * Returns `undefined` when absent or in a form we do not serve (multi-range: the whole file is
 * sent, as RFC 9110 allows), and `"unsatisfiable"` for a range outside the file (416).
 */
export const parseRange = (header: string | undefined, size: number): ByteRange | "unsatisfiable" | undefined => {
  if (header === undefined) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (m === null) return undefined
  const [, a = "", b = ""] = m
  if (a === "" && b === "") return undefined
  if (a === "") {
    const suffix = Number(b)
    if (suffix === 0) return "unsatisfiable"
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(a)
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1)
  if (start >= size || end < start) return "unsatisfiable"
  return { start, end }
}

/**
 * A transform that passes bytes through at no more than `bytesPerSecond`, used for the
 * `slowFiles` fault: it lets tests exercise download timeouts and cancellation on real sockets.
 */
export const throttle = (bytesPerSecond: number): Transform => {
  const slice = Math.max(1, Math.floor(bytesPerSecond / 20))
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      let offset = 0
      const next = () => {
        if (offset >= chunk.length) return callback()
        const piece = chunk.subarray(offset, offset + slice)
        offset += piece.length
        this.push(piece)
        setTimeout(next, (piece.length / bytesPerSecond) * 1000)
      }
      next()
    }
  })
}
