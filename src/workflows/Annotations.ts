/**
 * Reading annotations in both forms the platform produces, and turning one into COCO geometry:
 * - an event's `data.annotations` list (COCO-like: `bbox`, `segmentation`, `category_id`/`category`);
 * - native `data_meta_*` files (`annotations` + `annotationsData` joined by id; `bounding_box` and
 *   `polygon` tools).
 * Degenerate input is never repaired silently: `prepare` either returns clipped, rounded geometry
 * with a positive area, or a skip reason that the exporter counts in its report.
 */
import { Either, Schema } from "effect"
import type { FileMap } from "../schemas/Common.js"
import { type Annotation, DataMeta } from "../schemas/GroundTruth.js"
import { allFinite, type Box, clipPolygon, polygonsBbox, round2, shoelaceArea } from "./Geometry.js"

/** Why an item was left out of an export. Every skip is counted under one of these. */
export const SKIP_REASONS = [
  "image_size_unknown",
  "missing_data_unit",
  "non_positive_size",
  "unknown_class",
  "outside_image",
  "polygon_too_few_points",
  "invalid_geometry",
  "unsupported_tool",
  "data_meta_unreadable",
  "no_split",
  "not_in_manifest",
  "in_earlier_version"
] as const
export const SkipReason = Schema.Literal(...SKIP_REASONS)
export type SkipReason = typeof SkipReason.Type

/** An annotation as read from either form, before any checking. */
export interface SourceAnnotation {
  readonly categoryId: number | undefined
  readonly categoryName: string | undefined
  readonly bbox: ReadonlyArray<unknown> | undefined
  readonly polygons: ReadonlyArray<ReadonlyArray<unknown>> | undefined
  readonly rle: { readonly size: unknown; readonly counts: unknown } | undefined
  readonly iscrowd: number | undefined
  readonly area: number | undefined
  /** Set when the source is unusable as a whole (an unsupported native tool). */
  readonly unusable?: SkipReason
}

/** Geometry ready to write: clipped to the image, rounded, positive area. */
export interface PreparedGeometry {
  readonly bbox: Box
  readonly area: number
  readonly iscrowd: 0 | 1
  readonly polygons?: ReadonlyArray<ReadonlyArray<number>>
  readonly rle?: { readonly size: readonly [number, number]; readonly counts: string | ReadonlyArray<number> }
}

/** Either geometry or the reason it was skipped. */
export type Prepared = { readonly _tag: "ok"; readonly geometry: PreparedGeometry } | { readonly _tag: "skip"; readonly reason: SkipReason }

const skip = (reason: SkipReason): Prepared => ({ _tag: "skip", reason })

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/** A `SourceAnnotation` whose fields are overwritten for each annotation read (`readEventAnnotation`). */
export interface MutableSourceAnnotation {
  categoryId: number | undefined
  categoryName: string | undefined
  bbox: ReadonlyArray<unknown> | undefined
  polygons: ReadonlyArray<ReadonlyArray<unknown>> | undefined
  rle: { readonly size: unknown; readonly counts: unknown } | undefined
  iscrowd: number | undefined
  area: number | undefined
  unusable?: SkipReason
}

/** A blank `MutableSourceAnnotation` to pass to `readEventAnnotation`. */
export const scratchSource = (): MutableSourceAnnotation => ({
  categoryId: undefined,
  categoryName: undefined,
  bbox: undefined,
  polygons: undefined,
  rle: undefined,
  iscrowd: undefined,
  area: undefined
})

/**
 * Reads one entry of an event's `data.annotations` into `out` (overwriting every field): the
 * export's hot path reuses one object instead of allocating one per annotation.
 */
export const readEventAnnotation = (a: Annotation, out: MutableSourceAnnotation): MutableSourceAnnotation => {
  const seg = a.segmentation
  let polygons: ReadonlyArray<ReadonlyArray<unknown>> | undefined
  let rle: SourceAnnotation["rle"]
  if (Array.isArray(seg) && seg.length > 0) {
    // A flat list of numbers is one polygon written without the outer list; accept both.
    polygons = seg.every(Array.isArray) ? (seg as ReadonlyArray<ReadonlyArray<unknown>>) : [seg]
  } else if (isRecord(seg) && "counts" in seg) {
    rle = { size: seg.size, counts: seg.counts }
  }
  out.categoryId = typeof a.category_id === "number" ? a.category_id : undefined
  out.categoryName = typeof a.category === "string" && a.category.length > 0 ? a.category : undefined
  out.bbox = a.bbox ?? undefined
  out.polygons = polygons
  out.rle = rle
  out.iscrowd = a.iscrowd ?? undefined
  out.area = a.area ?? undefined
  return out
}

/** Reads an event's `data.annotations` entries. */
export const fromEventAnnotations = (annotations: ReadonlyArray<Annotation>): Array<SourceAnnotation> =>
  annotations.map((a) => readEventAnnotation(a, scratchSource()))

/** The file key (`image_1`) of an event's primary image, if its file map says. */
export const primaryImageKey = (files: FileMap | undefined): string | undefined => {
  if (files === undefined) return undefined
  let first: string | undefined
  // for…in rather than Object.entries: same order, no [key, value] pair per entry (runs per event).
  for (const key in files) {
    if (!Object.prototype.hasOwnProperty.call(files, key)) continue
    const entry = files[key]!
    const isImage = entry.file_type === "image" || key.startsWith("image")
    if (!isImage) continue
    if (entry.is_primary === true) return key
    if (first === undefined || key < first) first = key
  }
  return first
}

/** The `data_meta_*` entries of a file map, in key order. */
export const dataMetaKeys = (files: FileMap | undefined): Array<string> =>
  files === undefined
    ? []
    : Object.keys(files)
        .filter((k) => k.startsWith("data_meta") || files[k]!.file_type === "data_meta")
        .sort()

const decodeDataMeta = Schema.decodeUnknownEither(DataMeta)

/**
 * Reads a native `data_meta` document: the annotations of image `imageKey` (or, when the document
 * has no such key, of its only / first image key), joined with their coordinates by id.
 */
export const fromDataMeta = (json: unknown, imageKey: string | undefined): Either.Either<Array<SourceAnnotation>, SkipReason> => {
  const decoded = decodeDataMeta(json)
  if (Either.isLeft(decoded)) return Either.left("data_meta_unreadable")
  const meta = decoded.right
  const keys = Object.keys(meta.annotations).sort()
  const key = imageKey !== undefined && imageKey in meta.annotations ? imageKey : keys[0]
  if (key === undefined) return Either.right([])
  const coords = new Map<string, unknown>()
  for (const d of meta.annotationsData[key] ?? []) coords.set(d.id, d.coordinate)
  const out: Array<SourceAnnotation> = []
  for (const a of meta.annotations[key] ?? []) {
    const coordinate = coords.get(a.id)
    const base = { categoryId: undefined, categoryName: a.classification?.class, rle: undefined, iscrowd: 0, area: undefined }
    if (a.tool === "bounding_box" && isRecord(coordinate)) {
      out.push({ ...base, bbox: [coordinate.x, coordinate.y, coordinate.width, coordinate.height], polygons: undefined })
    } else if (a.tool === "polygon" && Array.isArray(coordinate)) {
      const flat: Array<unknown> = []
      for (const p of coordinate as ReadonlyArray<{ x: unknown; y: unknown }>) flat.push(p.x, p.y)
      out.push({ ...base, bbox: undefined, polygons: [flat] })
    } else {
      out.push({ ...base, bbox: undefined, polygons: undefined, unusable: coordinate === undefined ? "invalid_geometry" : "unsupported_tool" })
    }
  }
  return Either.right(out)
}

/** Area of an uncompressed RLE (`counts` a list: runs of 0s and 1s alternating, 0s first). */
const rleArea = (counts: ReadonlyArray<number>): number => {
  let area = 0
  for (let i = 1; i < counts.length; i += 2) area += counts[i]!
  return area
}

/** A prepared box, written in place by `prepareBox`. */
export interface BoxOut {
  x: number
  y: number
  w: number
  h: number
}

/** A blank `BoxOut`. */
export const boxOut = (): BoxOut => ({ x: 0, y: 0, w: 0, h: 0 })

const boxScratch = boxOut()

/**
 * The box part of `prepare`, allocation-free: checks `b`, clips it to the image and rounds it into
 * `out`; returns the skip reason when it cannot be written. The export calls it directly for
 * box-only annotations (the common case), whose area is then `round2(out.w * out.h)`.
 */
export const prepareBox = (b: ReadonlyArray<unknown> | undefined, width: number, height: number, out: BoxOut): SkipReason | undefined => {
  if (b === undefined || b.length !== 4 || !allFinite(b)) return "invalid_geometry"
  if (!(b[2] > 0) || !(b[3] > 0)) return "non_positive_size"
  // clipBox, inline (no tuple); the same operations in the same order, so the same numbers.
  const cx = Math.max(0, b[0]), cy = Math.max(0, b[1])
  const ex = Math.min(width, b[0] + b[2]), ey = Math.min(height, b[1] + b[3])
  if (!(ex > cx) || !(ey > cy)) return "outside_image"
  const cw = ex - cx, ch = ey - cy
  const x0 = round2(cx), y0 = round2(cy)
  const x1 = round2(cx + cw), y1 = round2(cy + ch)
  const w = round2(x1 - x0), h = round2(y1 - y0)
  if (!(w > 0) || !(h > 0)) return "outside_image"
  out.x = x0
  out.y = y0
  out.w = w
  out.h = h
  return undefined
}

/**
 * Checks and converts one annotation's geometry for an image of `width` × `height`: polygons are
 * clipped (Sutherland–Hodgman) and measured with the shoelace formula, boxes clipped, everything
 * rounded to 2 decimals; what cannot be made valid is skipped with a reason.
 */
export const prepare = (a: SourceAnnotation, width: number, height: number): Prepared => {
  if (a.unusable !== undefined) return skip(a.unusable)
  const iscrowd: 0 | 1 = a.iscrowd === 1 ? 1 : 0
  if (a.polygons !== undefined) {
    const kept: Array<Array<number>> = []
    for (const poly of a.polygons) {
      if (!allFinite(poly)) return skip("invalid_geometry")
      if (poly.length % 2 !== 0) return skip("invalid_geometry")
      if (poly.length < 6) return skip("polygon_too_few_points")
      const clipped = clipPolygon(poly, width, height).map(round2)
      if (clipped.length >= 6 && shoelaceArea(clipped) > 0) kept.push(clipped)
    }
    if (kept.length === 0) return skip(a.polygons.length === 0 ? "invalid_geometry" : "outside_image")
    const area = round2(kept.reduce((s, p) => s + shoelaceArea(p), 0))
    const box = polygonsBbox(kept)!
    const bbox: Box = [box[0], box[1], round2(box[2]), round2(box[3])]
    if (!(area > 0) || !(bbox[2] > 0) || !(bbox[3] > 0)) return skip("non_positive_size")
    return { _tag: "ok", geometry: { bbox, area, iscrowd, polygons: kept } }
  }
  const reason = prepareBox(a.bbox, width, height, boxScratch)
  if (reason !== undefined) return skip(reason)
  const bbox: Box = [boxScratch.x, boxScratch.y, boxScratch.w, boxScratch.h]
  if (a.rle !== undefined) {
    const size = a.rle.size
    const counts = a.rle.counts
    const sizeOk = Array.isArray(size) && size.length === 2 && size[0] === height && size[1] === width
    const countsOk = typeof counts === "string" || (Array.isArray(counts) && allFinite(counts))
    if (!sizeOk || !countsOk) return skip("invalid_geometry")
    const area = typeof a.area === "number" && a.area > 0 ? a.area : Array.isArray(counts) ? rleArea(counts as ReadonlyArray<number>) : bbox[2] * bbox[3]
    if (!(area > 0)) return skip("non_positive_size")
    return { _tag: "ok", geometry: { bbox, area: round2(area), iscrowd, rle: { size: [height, width], counts: counts as string | ReadonlyArray<number> } } }
  }
  return { _tag: "ok", geometry: { bbox, area: round2(bbox[2] * bbox[3]), iscrowd } }
}
