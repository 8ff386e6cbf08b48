/**
 * What model analysis needs from a dataset version's ground-truth events, gathered in one pass
 * over the event stream: the distribution (events, data units, data types, classes, splits) and,
 * when predictions are to be scored, the evaluation targets — boxes per data unit for detection,
 * one label per data unit for classification.
 *
 * Conventions, matching the COCO export: an image is a data unit, or for an event without one the
 * image file it names, with the same id the export gives it (several events on one image are
 * annotation passes over it, so their boxes are pooled); a category is the annotation's
 * `category_id`, named by its `category`; classes known by name only (the native form) get ids
 * after the largest known one, in name order, as the export numbers them. Annotations are read in
 * the rich list form and in the native form inline in `data`; annotations only in `data_meta_*`
 * files are read when the caller downloaded them (see `collectGroundTruth`), else the events are
 * counted as unread. A
 * classification label is the event's `data.label` (or the native `classification` tool's class);
 * when passes disagree, the label of the pass whose largest object is largest wins (that is what
 * `data.label` means) and the disagreement is counted.
 */
import { Schema } from "effect"
import type { GroundTruthEvent, NativeEntries } from "../schemas/GroundTruth.js"
import {
  type EventAnnotations,
  eventAnnotations,
  eventImage,
  fileNameOf,
  nativeKey,
  readEventAnnotation,
  scratchSource,
  type SourceAnnotation
} from "./Annotations.js"
import type { DetectionDataset, EvalCategory, EvalGroundTruth } from "./DetectionMetrics.js"
import { allFinite, polygonsBbox, shoelaceArea } from "./Geometry.js"

/** The distribution of a dataset version's ground truth. */
export const GroundTruthStats = Schema.Struct({
  events: Schema.Int,
  dataUnits: Schema.Int,
  /** Events per `data.type` ("unknown" when absent). */
  dataTypes: Schema.Record({ key: Schema.String, value: Schema.Int }),
  /** Annotations per class name. */
  classes: Schema.Record({ key: Schema.String, value: Schema.Int }),
  /** Events per split (`train`, `validation`, `test`, or "unassigned"). */
  splits: Schema.Record({ key: Schema.String, value: Schema.Int }),
  /** Data units per classification label (only when events carry labels). */
  labels: Schema.Record({ key: Schema.String, value: Schema.Int }),
  /** Annotations not usable as evaluation boxes, by reason. */
  unusableAnnotations: Schema.Record({ key: Schema.String, value: Schema.Int }),
  /** Data units whose annotation passes disagree on the label. */
  conflictingLabels: Schema.Int,
  /** Events whose annotations were not read, by reason. */
  unreadEvents: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Int })).annotations({
    description:
      "Events whose annotations were not read, by reason: data_meta_files (only in data_meta_* files, and no file cache to download them with)"
  })
})
export type GroundTruthStats = typeof GroundTruthStats.Type

interface PendingBox {
  readonly image_id: number
  readonly categoryId: number | undefined
  readonly categoryName: string | undefined
  readonly bbox: readonly [number, number, number, number]
  readonly area: number | undefined
  readonly iscrowd: number
}

interface UnitLabel {
  label: string
  weight: number
  eventId: number
  conflicting: boolean
}

/** An annotation's box (its `bbox`, else its polygons' extent) and area, when its numbers allow one. */
const boxOf = (
  a: SourceAnnotation
):
  | { readonly bbox: readonly [number, number, number, number]; readonly area: number; readonly fromPolygon: boolean }
  | undefined =>
{
  const b = a.bbox
  if (b !== undefined) {
    if (b.length !== 4 || !allFinite(b)) return undefined
    return { bbox: [b[0], b[1], b[2], b[3]], area: b[2] * b[3], fromPolygon: false }
  }
  const polygons = a.polygons
  if (polygons === undefined || polygons.length === 0) return undefined
  for (const p of polygons) if (!allFinite(p) || p.length % 2 !== 0) return undefined
  const numeric = polygons as ReadonlyArray<ReadonlyArray<number>>
  const extent = polygonsBbox(numeric)
  if (extent === undefined) return undefined
  return { bbox: extent, area: numeric.reduce((sum, p) => sum + shoelaceArea(p), 0), fromPolygon: true }
}

/** The class of a native `classification` annotation: the image-level label of the native form. */
const nativeLabel = (event: GroundTruthEvent, imageKey: string | undefined): string | undefined => {
  const annotations = event.data?.annotations
  if (annotations === undefined || Array.isArray(annotations)) return undefined
  const key = nativeKey(annotations as NativeEntries, imageKey)
  const list = key === undefined ? undefined : (annotations as NativeEntries)[key]
  if (!Array.isArray(list)) return undefined
  for (const a of list) {
    if (typeof a !== "object" || a === null || (a as { tool?: unknown }).tool !== "classification") continue
    const cls = (a as { classification?: { class?: unknown } }).classification?.class
    if (typeof cls === "string" && cls.length > 0) return cls
  }
  return undefined
}

const bump = (m: Record<string, number>, key: string, by = 1): void => {
  m[key] = (m[key] ?? 0) + by
}

/** Accumulates events; call {@link stats}, {@link detectionDataset} or {@link labels} at the end. */
export class GroundTruthCollector {
  private events = 0
  private readonly units = new Set<number>()
  private readonly dataTypes: Record<string, number> = {}
  private readonly classes: Record<string, number> = {}
  private readonly splits: Record<string, number> = {}
  private readonly unusable: Record<string, number> = {}
  private readonly boxes: Array<PendingBox> = []
  private readonly unitLabels = new Map<number, UnitLabel>()
  private readonly fileNames = new Map<string, number | null>()
  private readonly unread: Record<string, number> = {}
  private readonly scratch = scratchSource()

  /** @param keepBoxes keep every box in memory (only needed to score detections). */
  constructor(private readonly keepBoxes: boolean) {}

  /**
   * Adds one event. `fromFiles` are its annotations read from its `data_meta_*` files, when the
   * caller downloaded them; without them such an event is counted as unread.
   */
  add(event: GroundTruthEvent, fromFiles?: ReadonlyArray<SourceAnnotation>): void {
    this.events++
    const data = event.data ?? undefined
    const img = eventImage(event)
    const inline = eventAnnotations(event, img.fileKey)
    const found: EventAnnotations = inline._tag === "files" && fromFiles !== undefined
      ? { _tag: "native", sources: fromFiles }
      : inline
    // The native form says no `type`; it is keyed by media type, which is what `type` names.
    const nativeImage = inline._tag === "native" && data?.type === undefined
    bump(this.dataTypes, data?.type ?? (nativeImage ? "image" : "unknown"))
    bump(this.splits, event.category ?? "unassigned")
    const unit = img.id
    if (unit !== undefined && !this.units.has(unit)) {
      this.units.add(unit)
      const files = event.data_unit?.files ?? undefined
      const entries = files !== undefined ? Object.values(files) : img.entry !== undefined ? [img.entry] : []
      for (const entry of entries) {
        const name = fileNameOf(entry)
        if (name === undefined) continue
        // A name shared by two data units identifies neither.
        const seen = this.fileNames.get(name)
        this.fileNames.set(name, seen === undefined || seen === unit ? unit : null)
      }
    }
    if (found._tag === "files") bump(this.unread, "data_meta_files")
    let largest = -1
    const n = found._tag === "list" ? found.list.length : found._tag === "native" ? found.sources.length : 0
    for (let k = 0; k < n; k++) {
      const a: SourceAnnotation = found._tag === "list"
        ? readEventAnnotation(found.list[k], this.scratch)
        : (found as { sources: ReadonlyArray<SourceAnnotation> }).sources[k]!
      if (a.unusable !== undefined) {
        // Not an annotation of the image (an unsupported tool, no coordinate, not an object).
        if (this.keepBoxes) bump(this.unusable, a.unusable)
        continue
      }
      const name = a.categoryName ?? (a.categoryId !== undefined ? `#${a.categoryId}` : "unknown")
      bump(this.classes, name)
      const box = boxOf(a)
      const area = a.area !== undefined && Number.isFinite(a.area) ? a.area : box !== undefined ? box.area : 0
      if (area > largest) largest = area
      if (!this.keepBoxes) continue
      if (unit === undefined) {
        bump(this.unusable, "no_image")
        continue
      }
      if (box === undefined) {
        bump(this.unusable, "invalid_bbox")
        continue
      }
      const b = box.bbox
      if (b[2] <= 0 || b[3] <= 0) {
        bump(this.unusable, "non_positive_size")
        continue
      }
      const categoryId = a.categoryId !== undefined && Number.isInteger(a.categoryId) ? a.categoryId : undefined
      const categoryName = a.categoryName
      if (categoryId === undefined && categoryName === undefined) {
        bump(this.unusable, "unknown_class")
        continue
      }
      const givenArea = a.area !== undefined && Number.isFinite(a.area) && a.area > 0 ? a.area : undefined
      this.boxes.push({
        image_id: unit,
        categoryId,
        categoryName,
        bbox: b,
        area: givenArea ?? (box.fromPolygon ? box.area : undefined),
        iscrowd: a.iscrowd === 1 ? 1 : 0
      })
    }
    const label = data?.label ?? (inline._tag === "native" ? nativeLabel(event, img.fileKey) : undefined)
    if (unit !== undefined && typeof label === "string" && label.length > 0) {
      const previous = this.unitLabels.get(unit)
      if (previous === undefined) {
        this.unitLabels.set(unit, { label, weight: largest, eventId: event.id, conflicting: false })
      } else {
        const conflicting = previous.conflicting || previous.label !== label
        const wins = largest > previous.weight || (largest === previous.weight && event.id > previous.eventId)
        this.unitLabels.set(
          unit,
          wins ? { label, weight: largest, eventId: event.id, conflicting } : { ...previous, conflicting }
        )
      }
    }
  }

  /** The distribution. */
  stats(): GroundTruthStats {
    const labels: Record<string, number> = {}
    let conflicting = 0
    for (const l of this.unitLabels.values()) {
      bump(labels, l.label)
      if (l.conflicting) conflicting++
    }
    return {
      events: this.events,
      dataUnits: this.units.size,
      dataTypes: { ...this.dataTypes },
      classes: { ...this.classes },
      splits: { ...this.splits },
      labels,
      unusableAnnotations: { ...this.unusable },
      conflictingLabels: conflicting,
      // Only when some were left unread: rich data never has any.
      ...(Object.keys(this.unread).length > 0 ? { unreadEvents: { ...this.unread } } : {})
    }
  }

  /** Every data unit id seen. */
  dataUnitIds(): ReadonlySet<number> {
    return this.units
  }

  /** The data unit a file name belongs to, or undefined (unknown or shared by several units). */
  unitByFileName(name: string): number | undefined {
    return this.fileNames.get(name) ?? undefined
  }

  /** The label of each data unit that has one. */
  labels(): ReadonlyMap<number, string> {
    const out = new Map<number, string>()
    for (const [unit, l] of this.unitLabels) out.set(unit, l.label)
    return out
  }

  /** The detection evaluation target: every data unit as an image, categories, boxes. */
  detectionDataset(): DetectionDataset {
    const names = new Map<number, string>()
    for (const b of this.boxes) {
      if (b.categoryId !== undefined && !names.has(b.categoryId)) {
        names.set(b.categoryId, b.categoryName ?? `#${b.categoryId}`)
      }
    }
    const idByName = new Map<string, number>()
    for (const [id, name] of names) if (!idByName.has(name)) idByName.set(name, id)
    // Classes known by name only are numbered after the largest known id in name order, as the
    // export numbers them, so predictions written against an export's category ids match.
    let next = Math.max(0, ...names.keys()) + 1
    const unnamed = [
      ...new Set(
        this.boxes.filter((b) => b.categoryId === undefined && !idByName.has(b.categoryName!)).map((b) =>
          b.categoryName!
        )
      )
    ].sort()
    for (const name of unnamed) {
      idByName.set(name, next)
      names.set(next++, name)
    }
    const annotations: Array<EvalGroundTruth> = []
    for (const b of this.boxes) {
      const id = b.categoryId ?? idByName.get(b.categoryName!)!
      annotations.push({
        image_id: b.image_id,
        category_id: id,
        bbox: b.bbox,
        ...(b.area !== undefined ? { area: b.area } : {}),
        iscrowd: b.iscrowd
      })
    }
    const categories: Array<EvalCategory> = [...names].map(([id, name]) => ({ id, name })).sort((a, b) => a.id - b.id)
    return { images: [...this.units], categories, annotations }
  }
}
