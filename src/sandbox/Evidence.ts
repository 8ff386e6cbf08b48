/**
 * The evidence profile's answer shapes (docs/wire-protocol.md "Profiles"): what a resource looks
 * like when the sandbox answers only with what the official SDK is known to send and read.
 *
 * - The native annotation form (`annotations` + `annotationsData` joined by id, keyed by a media
 *   key), converted from the COCO-like list the database stores. The same converter writes the
 *   seeds' `data_meta` files (keyed `image_1`) and the evidence events' inline `data` (keyed
 *   `image`), so both forms of one annotation always agree.
 * - File maps reduced to what the evidence shows: `url` for every entry, plus `file_type` and
 *   `is_primary` on image entries.
 * - Events, models, ground truths and dataset versions with their evidenced fields only.
 *
 * Plain functions with no server state: the page worker threads import this module too.
 */

/** An annotation as stored in a row's `data.annotations` (COCO-like); nothing is trusted. */
interface StoredAnnotation {
  readonly id?: unknown
  readonly category?: unknown
  readonly category_id?: unknown
  readonly bbox?: unknown
  readonly segmentation?: unknown
}

/** The native form of one image's annotations, under one media key. */
export interface NativeAnnotations {
  readonly annotations: Record<string, Array<NativeIdentity>>
  readonly annotationsData: Record<string, Array<NativeGeometry>>
}

/** What an annotation is: its tool and class. */
interface NativeIdentity {
  readonly id: string
  readonly tool: "bounding_box" | "polygon" | "classification"
  readonly classification: { readonly class: string }
}

/** Where an annotation is: a box, a polygon's points, or nothing (a classification). */
interface NativeGeometry {
  readonly id: string
  readonly coordinate?: { x: unknown; y: unknown; width: unknown; height: unknown } | Array<{ x: unknown; y: unknown }>
}

/**
 * The id the native form gives an image-level classification label. A classification has no
 * geometry: its `annotationsData` entry carries the id alone, as the platform writes it.
 */
const LABEL_ANNOTATION_ID = "label"

const className = (a: StoredAnnotation): string =>
  typeof a.category === "string"
    ? a.category
    : a.category_id === undefined || a.category_id === null
    ? ""
    : String(a.category_id)

/**
 * Converts COCO-like annotations to the native form under `key`: an annotation with a polygon
 * `segmentation` (a list of flat `[x1, y1, …]` rings; the first ring is taken) becomes a `polygon`
 * of `{x, y}` points, one with a `bbox` a `bounding_box` of `{x, y, width, height}`. Geometry is
 * carried as stored, degenerate or not (a zero-size box stays one: readers must judge it). An
 * annotation with neither shape (an RLE mask without a bbox) cannot be said in this form and is
 * left out. With `label`, an image-level `classification` annotation is appended.
 */
export const toNativeAnnotations = (
  annotations: ReadonlyArray<StoredAnnotation>,
  key: string,
  label?: string
): NativeAnnotations => {
  const identities: Array<NativeIdentity> = []
  const geometry: Array<NativeGeometry> = []
  annotations.forEach((a, index) => {
    const id = `a${typeof a.id === "number" || typeof a.id === "string" ? a.id : index + 1}`
    const ring = Array.isArray(a.segmentation) && Array.isArray(a.segmentation[0])
      ? (a.segmentation[0] as ReadonlyArray<unknown>)
      : undefined
    if (ring !== undefined) {
      identities.push({ id, tool: "polygon", classification: { class: className(a) } })
      const points: Array<{ x: unknown; y: unknown }> = []
      for (let k = 0; k + 1 < ring.length; k += 2) points.push({ x: ring[k], y: ring[k + 1] })
      geometry.push({ id, coordinate: points })
    } else if (Array.isArray(a.bbox)) {
      identities.push({ id, tool: "bounding_box", classification: { class: className(a) } })
      geometry.push({ id, coordinate: { x: a.bbox[0], y: a.bbox[1], width: a.bbox[2], height: a.bbox[3] } })
    }
  })
  if (label !== undefined) {
    identities.push({ id: LABEL_ANNOTATION_ID, tool: "classification", classification: { class: label } })
    geometry.push({ id: LABEL_ANNOTATION_ID })
  }
  return { annotations: { [key]: identities }, annotationsData: { [key]: geometry } }
}

/** The media key of inline native data: annotations are keyed by media type, not by file role. */
const NATIVE_MEDIA_KEY = "image"

/** Whether `v` is a JSON object (not null, not an array). */
export const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v)

/** Stored JSON text as a value: `{}` for a missing, empty or malformed text (a hand-edited row). */
export const parseStored = (text: string | null | undefined): unknown => {
  if (text === null || text === undefined || text === "") return {}
  try {
    return JSON.parse(text)
  } catch {
    return {}
  }
}

/**
 * A stored row's `data` (`{type, annotations: [...], label?}`) in the native form keyed `image`,
 * with the row's classification `label` as a `classification` annotation.
 */
export const nativeData = (dataJson: string | null): NativeAnnotations => {
  const data = parseStored(dataJson)
  const list = isRecord(data) && Array.isArray(data.annotations)
    ? (data.annotations as Array<unknown>).filter(isRecord)
    : []
  const label = isRecord(data) && typeof data.label === "string" ? data.label : undefined
  return toNativeAnnotations(list as ReadonlyArray<StoredAnnotation>, NATIVE_MEDIA_KEY, label)
}

const isImageEntry = (key: string, entry: Record<string, unknown>): boolean =>
  entry.file_type === "image" || key.startsWith("image")

/**
 * A stored file map (`{"image_1": {"media", "name", "width", …}}`) as the evidence shows it: each
 * entry's presigned `url`, and on image entries `file_type` and `is_primary` when stored. Sizes,
 * names and checksums are not evidenced: readers take sizes from the image itself.
 */
export const evidenceFiles = (
  filesJson: string | null,
  sign: (mediaPath: string) => string
): Record<string, unknown> => {
  const files = parseStored(filesJson)
  const out: Record<string, unknown> = {}
  if (!isRecord(files)) return out
  for (const [key, entry] of Object.entries(files)) {
    if (!isRecord(entry)) continue
    const url = typeof entry.media === "string" ? sign(entry.media) : entry.url
    const reduced: Record<string, unknown> = { url }
    if (isImageEntry(key, entry)) {
      if (entry.file_type !== undefined) reduced.file_type = entry.file_type
      if (entry.is_primary !== undefined) reduced.is_primary = entry.is_primary
    }
    out[key] = reduced
  }
  return out
}

/**
 * One ground-truth event as the evidence shows it: `id`, `category`, `files`, `data` in the native
 * form, and `data_unit` (`{files}`, which the official export code reads) only when the request
 * named no `fields`. With `fields`, only the named members that exist are kept, as a dynamic-fields
 * serializer answers.
 */
export const renderEvidenceEvent = (
  id: number,
  category: string | null,
  dataJson: string,
  filesJson: string,
  unitFilesJson: string,
  sign: (mediaPath: string) => string,
  fields: ReadonlyArray<string>
): string => {
  const wanted = (name: string): boolean => (fields.length === 0 ? true : fields.includes(name))
  const out: Record<string, unknown> = {}
  if (wanted("id")) out.id = id
  if (wanted("category")) out.category = category
  if (wanted("files")) out.files = evidenceFiles(filesJson, sign)
  if (wanted("data")) out.data = nativeData(dataJson)
  if (wanted("data_unit")) out.data_unit = { files: evidenceFiles(unitFilesJson, sign) }
  return JSON.stringify(out)
}

/**
 * A model as the evidence shows it, from its rich rendering: the evidenced fields, and
 * `is_released` read from the active flag (the sandbox stores no separate release state).
 */
export const evidenceModel = (rich: Readonly<Record<string, unknown>>): Record<string, unknown> => ({
  id: rich.id,
  name: rich.name,
  category: rich.category ?? null,
  file: rich.file ?? null,
  plugin: rich.plugin ?? null,
  version: rich.version ?? null,
  configuration: rich.configuration ?? {},
  description: rich.description ?? null,
  is_released: rich.is_active === true
})

/** A ground truth as the evidence shows it: its id and its files. */
export const evidenceGroundTruth = (
  id: number,
  filesJson: string,
  sign: (mediaPath: string) => string
): Record<string, unknown> => ({
  id,
  files: evidenceFiles(filesJson, sign)
})

/** A dataset version as the evidence shows it. */
export const evidenceVersion = (
  rich: { readonly id: number; readonly name: string; readonly is_archived: boolean }
): Record<string, unknown> => ({
  id: rich.id,
  name: rich.name,
  is_archived: rich.is_archived
})
