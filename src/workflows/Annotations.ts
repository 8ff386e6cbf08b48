/**
 * Reading an event's image and annotations in every form the platform produces, and turning an
 * annotation into COCO geometry (docs/wire-protocol.md "Native annotations"):
 * - the rich form: `data.annotations` as a COCO-like list (`bbox`, `segmentation`,
 *   `category_id`/`category`);
 * - the native form, inline in `data` or in `data_meta_*` files: `annotations` and
 *   `annotationsData` records keyed by media (`image`) or file key (`image_1`), joined by id;
 *   `bounding_box` and `polygon` tools are read, other tools are reported as unsupported;
 * - the image: the data unit's when the event has one, else the primary image of `files`.
 * Nothing here fails on a malformed entry: each one becomes a skip reason that the workflows count.
 * Degenerate input is never repaired silently: `prepare` either returns clipped, rounded geometry
 * with a positive area, or a skip reason that the exporter counts in its report.
 */
import { Either, Schema } from "effect"
import type { FileEntry, FileMap } from "../schemas/Common.js"
import { type GroundTruthEvent, NativeDocument, type NativeEntries } from "../schemas/GroundTruth.js"
import { allFinite, type Box, clipPolygon, polygonsBbox, round2, shoelaceArea } from "./Geometry.js"
import { syntheticImageId } from "./IdSet.js"

/** Why an item was left out of an export. Every skip is counted under one of these. */
export const SKIP_REASONS = [
  "image_size_unknown",
  "missing_data_unit",
  "no_image",
  "non_positive_size",
  "unknown_class",
  "outside_image",
  "polygon_too_few_points",
  "invalid_geometry",
  "unsupported_tool",
  "coordinate_missing",
  "unmatched_annotation_data",
  "malformed_annotation",
  "data_meta_unreadable",
  "no_split",
  "not_in_manifest",
  "in_earlier_version"
] as const
export const SkipReason = Schema.Literal(...SKIP_REASONS)
export type SkipReason = typeof SkipReason.Type

/** What each skip reason means, for reports and help text. */
export const SKIP_REASON_TEXT: Readonly<Record<SkipReason, string>> = {
  image_size_unknown:
    "the image's width/height are neither in its file entry nor readable from the image file's header",
  missing_data_unit: "the event names no data unit (not produced: an event without one is placed by its image file)",
  no_image:
    "the event names neither a data unit nor an image file (no `image_*` entry, `file_type: image` or primary file in `files`)",
  non_positive_size: "the box or polygon has no positive width, height or area",
  unknown_class: "the annotation names no class, or a class not in the category map",
  outside_image: "the geometry lies outside the image",
  polygon_too_few_points: "the polygon has fewer than 3 points",
  invalid_geometry: "the box or polygon is not made of finite numbers in the expected shape",
  unsupported_tool: "a native annotation drawn with a tool other than bounding_box or polygon",
  coordinate_missing: "a native annotation has no `annotationsData` entry with its id (no coordinate)",
  unmatched_annotation_data: "an `annotationsData` entry whose id no native annotation has",
  malformed_annotation: "an annotation entry that is not an object, or a native list that is not a list",
  data_meta_unreadable: "a `data_meta_*` file is not JSON or not in the native form",
  no_split: "split by category, and the event has none",
  not_in_manifest: "split by a manifest that does not list the event's image",
  in_earlier_version: "the image was exported from an earlier listed dataset version"
}

/** An annotation as read from either form, before any checking. */
export interface SourceAnnotation {
  readonly categoryId: number | undefined
  readonly categoryName: string | undefined
  readonly bbox: ReadonlyArray<unknown> | undefined
  readonly polygons: ReadonlyArray<ReadonlyArray<unknown>> | undefined
  readonly rle: { readonly size: unknown; readonly counts: unknown } | undefined
  readonly iscrowd: number | undefined
  readonly area: number | undefined
  /** Set when the source is unusable as a whole (an unsupported native tool, no coordinate). */
  readonly unusable?: SkipReason | undefined
  /** The native tool, when the annotation came from the native form. */
  readonly tool?: string | undefined
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
export type Prepared = { readonly _tag: "ok"; readonly geometry: PreparedGeometry } | {
  readonly _tag: "skip"
  readonly reason: SkipReason
}

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
  unusable: SkipReason | undefined
}

/** A blank `MutableSourceAnnotation` to pass to `readEventAnnotation`. */
export const scratchSource = (): MutableSourceAnnotation => ({
  categoryId: undefined,
  categoryName: undefined,
  bbox: undefined,
  polygons: undefined,
  rle: undefined,
  iscrowd: undefined,
  area: undefined,
  unusable: undefined
})

/**
 * Reads one entry of an event's `data.annotations` list into `out` (overwriting every field): the
 * export's hot path reuses one object instead of allocating one per annotation. Entries are not
 * decoded by the schema, so every field is checked here; a field of the wrong type counts as absent.
 */
export const readEventAnnotation = (a: unknown, out: MutableSourceAnnotation): MutableSourceAnnotation => {
  if (!isRecord(a)) {
    out.categoryId =
      out.categoryName =
      out.bbox =
      out.polygons =
      out.rle =
      out.iscrowd =
      out.area =
        undefined
    out.unusable = "malformed_annotation"
    return out
  }
  const seg = a.segmentation
  let polygons: ReadonlyArray<ReadonlyArray<unknown>> | undefined
  let rle: SourceAnnotation["rle"]
  if (Array.isArray(seg) && seg.length > 0) {
    // A flat list of numbers is one polygon written without the outer list; accept both.
    polygons = seg.every(Array.isArray) ? (seg as ReadonlyArray<ReadonlyArray<unknown>>) : [seg]
  } else if (isRecord(seg) && "counts" in seg) {
    rle = { size: seg.size, counts: seg.counts }
  }
  const category = a.category
  out.categoryId = typeof a.category_id === "number" ? a.category_id : undefined
  out.categoryName = typeof category === "string" && category.length > 0 ? category : undefined
  out.bbox = Array.isArray(a.bbox) ? a.bbox : undefined
  out.polygons = polygons
  out.rle = rle
  out.iscrowd = typeof a.iscrowd === "number" ? a.iscrowd : undefined
  out.area = typeof a.area === "number" ? a.area : undefined
  out.unusable = undefined
  return out
}

/** Reads an event's `data.annotations` list entries. */
export const fromEventAnnotations = (annotations: ReadonlyArray<unknown>): Array<SourceAnnotation> =>
  annotations.map((a) => readEventAnnotation(a, scratchSource()))

/** The file key (`image_1`) of an event's primary image, if its file map says. */
export const primaryImageKey = (files: FileMap | undefined): string | undefined => {
  if (files === undefined || files === null) return undefined
  let first: string | undefined
  // for…in rather than Object.entries: same order, no [key, value] pair per entry (runs per event).
  for (const key in files) {
    if (!Object.prototype.hasOwnProperty.call(files, key)) continue
    const entry = files[key]
    if (!isRecord(entry)) continue
    if (entry.is_primary === true && entry.file_type !== "data_meta" && !key.startsWith("data_meta")) return key
    const isImage = entry.file_type === "image" || key.startsWith("image")
    if (!isImage) continue
    if (first === undefined || key < first) first = key
  }
  return first
}

/** The `data_meta_*` entries of a file map, in key order. */
export const dataMetaKeys = (files: FileMap | undefined): Array<string> =>
  files === undefined || files === null
    ? []
    : Object.keys(files)
      .filter((k) => k.startsWith("data_meta") || (isRecord(files[k]) && files[k]!.file_type === "data_meta"))
      .sort()

/** An event's image: its id (for COCO `image_id`, splits and predictions) and its file entry. */
export interface EventImage {
  /**
   * The data unit id when the event names one; else an id derived from the image file (see
   * `imageIdentity` and `syntheticImageId`); `undefined` when the event names no image at all.
   */
  readonly id: number | undefined
  /** The data unit id, only when the event carries one. */
  readonly dataUnit: number | undefined
  /** The image's file entry (the data unit's, else the event's), if any. */
  readonly entry: FileEntry | undefined
  /** The key of the image in the event's `files` (`image_1`), to pick native annotations by. */
  readonly fileKey: string | undefined
}

/**
 * What identifies an image file across listings: its URL without the query (a presigned URL's
 * query holds the signature and expiry, which change between answers; the path names the stored
 * object), else its local path, else its checksum, else its name.
 */
export const imageIdentity = (entry: FileEntry | undefined): string | undefined => {
  if (entry === undefined) return undefined
  if (typeof entry.url === "string" && entry.url.length > 0) {
    const cut = entry.url.search(/[?#]/)
    return `url:${cut >= 0 ? entry.url.slice(0, cut) : entry.url}`
  }
  if (typeof entry.path === "string" && entry.path.length > 0) return `path:${entry.path}`
  if (typeof entry.checksum === "string" && entry.checksum.length > 0) return `checksum:${entry.checksum}`
  if (typeof entry.name === "string" && entry.name.length > 0) return `name:${entry.name}`
  return undefined
}

/**
 * The file name of an entry: its `name`, else the last segment of its URL's path (the evidenced
 * file entries carry a presigned URL only), decoded.
 */
export const fileNameOf = (entry: FileEntry | undefined): string | undefined => {
  if (entry === undefined) return undefined
  if (typeof entry.name === "string" && entry.name.length > 0) return entry.name
  if (typeof entry.url !== "string") return undefined
  try {
    const last = new URL(entry.url, "http://x/").pathname.split("/").pop() ?? ""
    const name = decodeURIComponent(last)
    return name.length > 0 ? name : undefined
  } catch {
    return undefined
  }
}

/**
 * An event's image. With a data unit (the rich form, or an evidenced event listed without
 * `fields=`), the image is the data unit and its file the unit's primary image (or the event's).
 * Without one (an event listed with `fields=category&fields=files&fields=data`), the image is the
 * primary image of `files` (`is_primary: true`, else `file_type: "image"` or an `image_*` key,
 * lowest key first) and its id is derived from the file, so that every event of the same image
 * gets the same id in every run.
 */
export const eventImage = (event: GroundTruthEvent): EventImage => {
  const du = event.data_unit ?? undefined
  const unitId: unknown = du?.id
  const dataUnit = typeof unitId === "number" && Number.isSafeInteger(unitId) && unitId > 0 ? unitId : undefined
  const files = event.files ?? undefined
  const fileKey = primaryImageKey(files)
  const unitKey = primaryImageKey(du?.files ?? undefined)
  const entry = unitKey !== undefined ? du!.files![unitKey] : fileKey !== undefined ? files![fileKey] : undefined
  if (dataUnit !== undefined) return { id: dataUnit, dataUnit, entry, fileKey }
  const identity = imageIdentity(entry)
  return { id: identity === undefined ? undefined : syntheticImageId(identity), dataUnit: undefined, entry, fileKey }
}

/**
 * Which key of a native record holds the annotations of an event's image: the image's own file
 * key (`image_1`) when present; else the media type `image`; else the only key; else the lowest
 * `image*` key, else the lowest key. `data_meta_*` files are seen keyed either way, inline `data`
 * by media type, so an exact file-key match is preferred and the rest is a deterministic fallback.
 */
export const nativeKey = (record: NativeEntries, imageKey: string | undefined): string | undefined => {
  if (imageKey !== undefined && Object.prototype.hasOwnProperty.call(record, imageKey)) return imageKey
  if (Object.prototype.hasOwnProperty.call(record, "image")) return "image"
  const keys = Object.keys(record).sort()
  if (keys.length <= 1) return keys[0]
  return keys.find((k) => k.startsWith("image")) ?? keys[0]
}

const NO_GEOMETRY = {
  categoryId: undefined,
  bbox: undefined,
  polygons: undefined,
  rle: undefined,
  iscrowd: 0,
  area: undefined
} as const

const idKey = (v: unknown): string | undefined =>
  (typeof v === "string" && v.length > 0) || typeof v === "number" ? String(v) : undefined

/**
 * Reads the native form: the annotations under the key `nativeKey` picks, joined with their
 * coordinates by id. Every entry becomes one `SourceAnnotation`; those that cannot be used carry
 * the reason (`unsupported_tool`, `coordinate_missing`, `malformed_annotation`), and each
 * `annotationsData` entry no annotation claims is one `unmatched_annotation_data` item.
 */
export const fromNative = (
  annotations: NativeEntries,
  annotationsData: NativeEntries | undefined,
  imageKey: string | undefined
): Array<SourceAnnotation> => {
  const key = nativeKey(annotations, imageKey)
  if (key === undefined) return []
  const out: Array<SourceAnnotation> = []
  const list = annotations[key]
  const dataKey = annotationsData === undefined
    ? undefined
    : Object.prototype.hasOwnProperty.call(annotationsData, key)
    ? key
    : nativeKey(annotationsData, imageKey)
  const dataList = dataKey === undefined ? undefined : annotationsData![dataKey]
  const coords = new Map<string, { coordinate: unknown; used: boolean }>()
  let unmatched = 0
  if (Array.isArray(dataList)) {
    for (const d of dataList) {
      const id = isRecord(d) ? idKey(d.id) : undefined
      if (id === undefined || coords.has(id)) unmatched++
      else coords.set(id, { coordinate: (d as Record<string, unknown>).coordinate, used: false })
    }
  } else if (dataList !== undefined && dataList !== null) {
    out.push({ ...NO_GEOMETRY, categoryName: undefined, unusable: "malformed_annotation" })
  }
  if (!Array.isArray(list)) {
    if (list !== undefined && list !== null) {
      out.push({ ...NO_GEOMETRY, categoryName: undefined, unusable: "malformed_annotation" })
    }
  } else {
    for (const a of list) {
      if (!isRecord(a)) {
        out.push({ ...NO_GEOMETRY, categoryName: undefined, unusable: "malformed_annotation" })
        continue
      }
      const classification = a.classification
      const cls = isRecord(classification) ? classification.class : undefined
      const categoryName = typeof cls === "string" && cls.length > 0 ? cls : undefined
      const named = typeof a.tool === "string" ? a.tool : undefined
      // `bbox` is a name the platform's own exporter also reads for `bounding_box`.
      const tool = named === "bbox" ? "bounding_box" : named
      const id = idKey(a.id)
      const found = id === undefined ? undefined : coords.get(id)
      if (found !== undefined) found.used = true
      const coordinate = found?.coordinate
      // An image-level label (the native form's counterpart of `data.label`): no geometry, and
      // not an object annotation, so neither exported nor counted as skipped.
      if (tool === "classification") continue
      if (tool !== "bounding_box" && tool !== "polygon") {
        out.push({ ...NO_GEOMETRY, categoryName, unusable: "unsupported_tool", tool: tool ?? "(none)" })
      } else if (coordinate === undefined || coordinate === null) {
        out.push({ ...NO_GEOMETRY, categoryName, unusable: "coordinate_missing", tool })
      } else if (tool === "bounding_box") {
        const c = isRecord(coordinate) ? coordinate : {}
        // A wrong shape leaves undefined members, which prepareBox reports as invalid_geometry.
        out.push({ ...NO_GEOMETRY, categoryName, bbox: [c.x, c.y, c.width, c.height], tool })
      } else {
        // A list of points, or (as the platform's own exporter also reads) `{points: [...]}`.
        const points = Array.isArray(coordinate)
          ? coordinate
          : isRecord(coordinate) && Array.isArray(coordinate.points)
          ? coordinate.points
          : undefined
        const flat: Array<unknown> = []
        if (points !== undefined) {
          for (const p of points) flat.push(isRecord(p) ? p.x : undefined, isRecord(p) ? p.y : undefined)
        } else flat.push(undefined)
        out.push({ ...NO_GEOMETRY, categoryName, polygons: [flat], tool })
      }
    }
  }
  for (const c of coords.values()) if (!c.used) unmatched++
  for (let i = 0; i < unmatched; i++) {
    out.push({ ...NO_GEOMETRY, categoryName: undefined, unusable: "unmatched_annotation_data" })
  }
  return out
}

const decodeDataMeta = Schema.decodeUnknownEither(NativeDocument)

/**
 * Reads a native `data_meta` document: the annotations of image `imageKey` (see `nativeKey` for the
 * key chosen), joined with their coordinates by id.
 */
export const fromDataMeta = (
  json: unknown,
  imageKey: string | undefined
): Either.Either<Array<SourceAnnotation>, SkipReason> => {
  const decoded = decodeDataMeta(json)
  if (Either.isLeft(decoded)) return Either.left("data_meta_unreadable")
  return Either.right(fromNative(decoded.right.annotations, decoded.right.annotationsData, imageKey))
}

/**
 * Stamps `version` on an event that does not say which dataset version it belongs to (listed with
 * `fields=`, or from a backend that does not send it); an event that says so is left as it is.
 */
export const withVersion = (version: number) => (event: GroundTruthEvent): GroundTruthEvent =>
  event.ground_truth_dataset_version === undefined || event.ground_truth_dataset_version === null
    ? { ...event, ground_truth_dataset_version: version }
    : event

/** Where an event's annotations are: which form, read how. */
export type EventAnnotations =
  /** The rich list, read entry by entry with `readEventAnnotation` (no copy per event). */
  | { readonly _tag: "list"; readonly list: ReadonlyArray<unknown> }
  /** The native form inline in `data`, already read. */
  | { readonly _tag: "native"; readonly sources: ReadonlyArray<SourceAnnotation> }
  /** Only in `data_meta_*` files, which must be downloaded and read with `fromDataMeta`. */
  | { readonly _tag: "files"; readonly keys: ReadonlyArray<string> }
  /** None. */
  | { readonly _tag: "none" }

const NONE: EventAnnotations = { _tag: "none" }

/**
 * Finds an event's annotations: a non-empty rich list; else a native record with at least one key
 * (inline `data.annotations`/`data.annotationsData`); else the `data_meta_*` files; else none. An
 * inline form, when present, is the same annotation pass as the files, so it is preferred.
 */
export const eventAnnotations = (event: GroundTruthEvent, imageKey: string | undefined): EventAnnotations => {
  // (dataMetaOnly below is the same decision without reading the native form.)
  const data = event.data ?? undefined
  const annotations = data?.annotations
  if (Array.isArray(annotations)) {
    if (annotations.length > 0) return { _tag: "list", list: annotations }
  } else if (isRecord(annotations) && Object.keys(annotations).length > 0) {
    const annotationsData = isRecord(data!.annotationsData) ? (data!.annotationsData as NativeEntries) : undefined
    return { _tag: "native", sources: fromNative(annotations as NativeEntries, annotationsData, imageKey) }
  }
  const keys = dataMetaKeys(event.files ?? undefined)
  return keys.length > 0 ? { _tag: "files", keys } : NONE
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
export const prepareBox = (
  b: ReadonlyArray<unknown> | undefined,
  width: number,
  height: number,
  out: BoxOut
): SkipReason | undefined => {
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
    const area = typeof a.area === "number" && a.area > 0
      ? a.area
      : Array.isArray(counts)
      ? rleArea(counts as ReadonlyArray<number>)
      : bbox[2] * bbox[3]
    if (!(area > 0)) return skip("non_positive_size")
    return {
      _tag: "ok",
      geometry: {
        bbox,
        area: round2(area),
        iscrowd,
        rle: { size: [height, width], counts: counts as string | ReadonlyArray<number> }
      }
    }
  }
  return { _tag: "ok", geometry: { bbox, area: round2(bbox[2] * bbox[3]), iscrowd } }
}

/** An annotation prepared for writing, overwritten in place by `prepareInto`. */
export interface PreparedOut extends BoxOut {
  area: number
  iscrowd: 0 | 1
  /** Clipped polygons, when the annotation has a segmentation of polygons. */
  polygons: ReadonlyArray<ReadonlyArray<number>> | undefined
  /** The run-length mask, when the annotation has one. */
  rle: PreparedGeometry["rle"]
}

/** A blank `PreparedOut`. */
export const preparedOut = (): PreparedOut => ({
  x: 0,
  y: 0,
  w: 0,
  h: 0,
  area: 0,
  iscrowd: 0,
  polygons: undefined,
  rle: undefined
})

/**
 * `prepare` into `out` for an image of `width` × `height`: the box (clipped, rounded), the area,
 * the crowd flag and any segmentation; returns the skip reason when the annotation cannot be used.
 * Box-only annotations (the common case) allocate nothing; the numbers are those of `prepare`.
 */
export const prepareInto = (
  a: SourceAnnotation,
  width: number,
  height: number,
  out: PreparedOut
): SkipReason | undefined => {
  if (a.polygons === undefined && a.rle === undefined && a.unusable === undefined) {
    const reason = prepareBox(a.bbox, width, height, out)
    if (reason !== undefined) return reason
    out.area = round2(out.w * out.h)
    out.iscrowd = a.iscrowd === 1 ? 1 : 0
    out.polygons = undefined
    out.rle = undefined
    return undefined
  }
  const prepared = prepare(a, width, height)
  if (prepared._tag === "skip") return prepared.reason
  const g = prepared.geometry
  out.x = g.bbox[0]
  out.y = g.bbox[1]
  out.w = g.bbox[2]
  out.h = g.bbox[3]
  out.area = g.area
  out.iscrowd = g.iscrowd
  out.polygons = g.polygons
  out.rle = g.rle
  return undefined
}

/**
 * An event's inline annotations in either form (the rich list, or the native record), read;
 * annotations only in `data_meta_*` files are not downloaded here, so they are not included.
 */
export const inlineAnnotations = (event: GroundTruthEvent): ReadonlyArray<SourceAnnotation> => {
  const found = eventAnnotations(event, eventImage(event).fileKey)
  return found._tag === "list" ? fromEventAnnotations(found.list) : found._tag === "native" ? found.sources : []
}

/**
 * Whether `eventAnnotations` would send the event to its `data_meta_*` files, decided without
 * reading an inline native form (for callers that only need to know what to download).
 */
export const dataMetaOnly = (event: GroundTruthEvent): boolean => {
  const annotations = event.data?.annotations
  if (
    Array.isArray(annotations)
      ? annotations.length > 0
      : isRecord(annotations) && Object.keys(annotations).length > 0
  ) return false
  return dataMetaKeys(event.files ?? undefined).length > 0
}
