/**
 * Thumbnails for a report: the images an error list names, read from their files and embedded as
 * data URIs so the report stays one self-contained file.
 *
 * Only PNG, JPEG, GIF and WebP files up to {@link MAX_THUMBNAIL_BYTES} are embedded; an image that
 * cannot be fetched, is of another kind, is too large or has no known size is left out, and the
 * report lists how many were left out and why. A failed download never fails the report.
 */
import { Effect, Option } from "effect"
import * as Fsp from "node:fs/promises"
import * as Path from "node:path"
import { FileCache } from "../../services/FileCache.js"
import type { GroundTruthCollector } from "../GroundTruthSummary.js"
import { sizeFromHeader } from "../ImageSize.js"
import type { Thumbnail } from "./Report.js"

/** The largest image file embedded in a report. */
export const MAX_THUMBNAIL_BYTES = 2 * 1024 * 1024

/** The media type of an image file from its first bytes, or undefined for other kinds. */
const mediaType = (b: Uint8Array): string | undefined => {
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return "image/png"
  if (b[0] === 0xff && b[1] === 0xd8) return "image/jpeg"
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return "image/gif"
  if (b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45) {
    return "image/webp"
  }
  return undefined
}

/** Thumbnails found, and why the others are missing (reason → count). */
export interface Thumbnails {
  readonly images: ReadonlyMap<number, Thumbnail>
  readonly leftOut: Readonly<Record<string, number>>
}

/**
 * Loads thumbnails of the given images through the file cache (when the SDK layer provides one),
 * at most four downloads at a time.
 */
export const loadThumbnails = (
  collector: GroundTruthCollector,
  imageIds: ReadonlyArray<number>
): Effect.Effect<Thumbnails> =>
  Effect.gen(function*() {
    const cache = yield* Effect.serviceOption(FileCache)
    const images = new Map<number, Thumbnail>()
    const leftOut: Record<string, number> = {}
    const skip = (reason: string) => {
      leftOut[reason] = (leftOut[reason] ?? 0) + 1
    }
    yield* Effect.forEach([...new Set(imageIds)], (id) =>
      Effect.gen(function*() {
        const file = collector.imageFile(id)
        if (file === undefined) return skip("no image file")
        const url = file.entry.url
        const path = file.path ?? file.entry.path ?? (typeof url === "string" && Option.isSome(cache)
          ? yield* cache.value.download(url, { size: file.entry.size, checksum: file.entry.checksum }).pipe(
            Effect.option,
            Effect.map(Option.getOrUndefined)
          )
          : undefined)
        if (path === undefined) return skip("image file not available")
        const bytes = yield* Effect.promise(async (): Promise<Buffer | "too large" | undefined> => {
          try {
            const stat = await Fsp.stat(path)
            return stat.size <= MAX_THUMBNAIL_BYTES ? await Fsp.readFile(path) : "too large"
          } catch {
            return undefined
          }
        })
        if (bytes === undefined) return skip("image file not readable")
        if (bytes === "too large") return skip(`image file over ${MAX_THUMBNAIL_BYTES / 1024 / 1024} MiB`)
        const type = mediaType(bytes)
        if (type === undefined) return skip("not a PNG, JPEG, GIF or WebP file")
        const size = file.width !== undefined && file.height !== undefined
          ? { width: file.width, height: file.height }
          : sizeFromHeader(bytes)
        if (size === undefined) return skip("image size unknown")
        images.set(id, {
          dataUri: `data:${type};base64,${bytes.toString("base64")}`,
          width: size.width,
          height: size.height,
          source: file.entry.path ?? Path.basename(new URL(url ?? "file:///image").pathname)
        })
      }), { concurrency: 4, discard: true })
    return { images, leftOut }
  })
