/**
 * What model analysis needs from a dataset version's ground-truth events, gathered in one pass
 * over the event stream: the distribution (events, data units, data types, classes, splits) and,
 * when predictions are to be scored, the evaluation targets — boxes per data unit for detection,
 * one label per data unit for classification.
 *
 * Conventions, matching the COCO export: an image is a data unit (several events on one unit are
 * annotation passes over the same image, so their boxes are pooled); a category is the
 * annotation's `category_id`, named by its `category` (an annotation with a name only gets the id
 * its name has elsewhere, or a fresh one). A classification label is the event's `data.label`;
 * when passes disagree, the label of the pass whose largest object is largest wins (that is what
 * `data.label` means) and the disagreement is counted.
 */
import { Schema } from "effect"
import type { GroundTruthEvent } from "../schemas/GroundTruth.js"
import type { DetectionDataset, EvalCategory, EvalGroundTruth } from "./DetectionMetrics.js"

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
  conflictingLabels: Schema.Int
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

  /** @param keepBoxes keep every box in memory (only needed to score detections). */
  constructor(private readonly keepBoxes: boolean) {}

  /** Adds one event. */
  add(event: GroundTruthEvent): void {
    this.events++
    const data = event.data ?? undefined
    bump(this.dataTypes, data?.type ?? "unknown")
    bump(this.splits, event.category ?? "unassigned")
    const unit = event.data_unit ?? undefined
    if (unit !== undefined) {
      if (!this.units.has(unit.id)) {
        this.units.add(unit.id)
        for (const entry of Object.values(unit.files ?? {})) {
          if (entry.name === undefined || entry.name === "") continue
          // A name shared by two data units identifies neither.
          const seen = this.fileNames.get(entry.name)
          this.fileNames.set(entry.name, seen === undefined || seen === unit.id ? unit.id : null)
        }
      }
    }
    let largest = -1
    for (const a of data?.annotations ?? []) {
      const name = a.category ?? (typeof a.category_id === "number" ? `#${a.category_id}` : "unknown")
      bump(this.classes, name)
      const b = a.bbox
      const boxOk = Array.isArray(b) && b.length === 4 && b.every((x) => Number.isFinite(x))
      const area = typeof a.area === "number" && Number.isFinite(a.area) ? a.area : boxOk ? b![2] * b![3] : 0
      if (area > largest) largest = area
      if (!this.keepBoxes) continue
      if (unit === undefined) {
        bump(this.unusable, "missing_data_unit")
        continue
      }
      if (!boxOk) {
        bump(this.unusable, "invalid_bbox")
        continue
      }
      if (b![2] <= 0 || b![3] <= 0) {
        bump(this.unusable, "non_positive_size")
        continue
      }
      const categoryId = typeof a.category_id === "number" && Number.isInteger(a.category_id) ? a.category_id : undefined
      const categoryName = a.category ?? undefined
      if (categoryId === undefined && categoryName === undefined) {
        bump(this.unusable, "unknown_class")
        continue
      }
      this.boxes.push({
        image_id: unit.id,
        categoryId,
        categoryName,
        bbox: [b![0], b![1], b![2], b![3]],
        area: typeof a.area === "number" && Number.isFinite(a.area) && a.area > 0 ? a.area : undefined,
        iscrowd: a.iscrowd === 1 ? 1 : 0
      })
    }
    const label = data?.label
    if (unit !== undefined && typeof label === "string" && label.length > 0) {
      const previous = this.unitLabels.get(unit.id)
      if (previous === undefined) this.unitLabels.set(unit.id, { label, weight: largest, eventId: event.id, conflicting: false })
      else {
        const conflicting = previous.conflicting || previous.label !== label
        const wins = largest > previous.weight || (largest === previous.weight && event.id > previous.eventId)
        this.unitLabels.set(unit.id, wins ? { label, weight: largest, eventId: event.id, conflicting } : { ...previous, conflicting })
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
      conflictingLabels: conflicting
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
      if (b.categoryId !== undefined && !names.has(b.categoryId)) names.set(b.categoryId, b.categoryName ?? `#${b.categoryId}`)
    }
    const idByName = new Map<string, number>()
    for (const [id, name] of names) if (!idByName.has(name)) idByName.set(name, id)
    let next = Math.max(0, ...names.keys()) + 1
    const annotations: Array<EvalGroundTruth> = []
    for (const b of this.boxes) {
      let id = b.categoryId
      if (id === undefined) {
        id = idByName.get(b.categoryName!)
        if (id === undefined) {
          id = next++
          idByName.set(b.categoryName!, id)
          names.set(id, b.categoryName!)
        }
      }
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
