/**
 * What model analysis needs from a dataset version's ground-truth events, gathered in one pass
 * over the event stream: the distribution (events, data units, data types, classes, splits) and,
 * when predictions are to be scored, the evaluation targets — boxes per image for detection, one
 * label per image for classification.
 *
 * The boxes are the ones the COCO export writes, read by the same reader (GroundTruthReader.ts):
 * the same image ids, the same image sizes (file entry, else the image file's header, downloaded
 * when a downloader is given), annotations inline in either form or from `data_meta_*` files,
 * every box clipped to its image and rounded, degenerate shapes skipped with the export's reasons
 * (listed in `unusableAnnotations`), the same areas, and category ids numbered as the export
 * numbers them. Predictions made from an export therefore score against exactly what it holds.
 * Several events on one image are annotation passes over it, so their boxes are pooled. A
 * classification label is the event's `data.label` (or the native `classification` tool's class);
 * when passes disagree, the label of the pass whose largest object is largest wins (that is what
 * `data.label` means) and the disagreement is counted.
 */
import { Chunk, Effect, Schema, Stream } from "effect"
import type { FileEntry } from "../schemas/Common.js"
import type { GroundTruthEvent, NativeEntries } from "../schemas/GroundTruth.js"
import {
  eventImage,
  fileNameOf,
  nativeKey,
  preparedOut,
  prepareInto,
  scratchSource,
  type SourceAnnotation
} from "./Annotations.js"
import type { DetectionDataset, EvalGroundTruth } from "./DetectionMetrics.js"
import { allFinite, polygonsBbox, shoelaceArea } from "./Geometry.js"
import { CategoryTable, type EventRead, EventReader, forEachAnnotation } from "./GroundTruthReader.js"
import { IdSizeMap } from "./IdSet.js"

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
  /** Annotations not usable as evaluation boxes, by reason (the export's skip reasons). */
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
  /** The class's index in the collector's `CategoryTable`. */
  readonly category: number
  readonly bbox: readonly [number, number, number, number]
  readonly area: number
  readonly iscrowd: 0 | 1
}

interface UnitLabel {
  label: string
  weight: number
  eventId: number
  conflicting: boolean
}

/**
 * The size of an annotation as given (its `area`, else its box's or polygons' area, 0 when its
 * numbers allow none): what decides which annotation pass's label is the image's.
 */
const givenSize = (a: SourceAnnotation): number => {
  if (a.area !== undefined && Number.isFinite(a.area)) return a.area
  const b = a.bbox
  if (b !== undefined) return b.length === 4 && allFinite(b) ? b[2] * b[3] : 0
  const polygons = a.polygons
  if (polygons === undefined || polygons.length === 0) return 0
  for (const p of polygons) if (!allFinite(p) || p.length % 2 !== 0) return 0
  const numeric = polygons as ReadonlyArray<ReadonlyArray<number>>
  return polygonsBbox(numeric) === undefined ? 0 : numeric.reduce((sum, p) => sum + shoelaceArea(p), 0)
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

/** An image's file entry, its local path when it was downloaded, and its size when known. */
export interface ImageFile {
  readonly entry: FileEntry
  readonly path: string | undefined
  readonly width: number | undefined
  readonly height: number | undefined
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
  private readonly categories = new CategoryTable(undefined)
  private readonly sizes = new IdSizeMap()
  private readonly unitLabels = new Map<number, UnitLabel>()
  private readonly fileNames = new Map<string, number | null>()
  private readonly imageFiles = new Map<number, ImageFile>()
  private readonly unread: Record<string, number> = {}
  private readonly scratch = scratchSource()
  private readonly out = preparedOut()

  /** @param keepBoxes keep every box in memory (only needed to score detections). */
  constructor(private readonly keepBoxes: boolean) {}

  /**
   * A reader of events against this collector's table of image sizes, downloading through
   * `fetchFile` (images of unknown size, `data_meta_*` files) when given; pass what it reads to
   * {@link addRead}.
   */
  reader<E>(fetchFile?: (entry: FileEntry) => Effect.Effect<string, E>): EventReader<E> {
    return new EventReader(this.sizes, fetchFile)
  }

  /**
   * Adds one event without downloading anything. `fromFiles` are its annotations read from its
   * `data_meta_*` files, when the caller has them; without them such an event is counted as unread.
   * An image whose size neither its file entry nor an earlier event gives has no usable boxes
   * (`image_size_unknown`): {@link readGroundTruth} with a downloader reads the size from the file.
   */
  add(event: GroundTruthEvent, fromFiles?: ReadonlyArray<SourceAnnotation>): void {
    const read = this.reader<never>().read(event, eventImage(event), "all", false) as EventRead
    this.addRead(read.unread && fromFiles !== undefined ? { ...read, sources: fromFiles, unread: false } : read)
  }

  /** Adds one event read by {@link reader}. */
  addRead(read: EventRead): void {
    this.events++
    const event = read.event
    const data = event.data ?? undefined
    const annotations = data?.annotations
    const native = typeof annotations === "object" && annotations !== null && !Array.isArray(annotations) &&
      Object.keys(annotations).length > 0
    // The native form says no `type`; it is keyed by media type, which is what `type` names.
    bump(this.dataTypes, data?.type ?? (native && data?.type === undefined ? "image" : "unknown"))
    bump(this.splits, event.category ?? "unassigned")
    const unit = read.imageId
    if (unit !== undefined && !this.units.has(unit)) {
      this.units.add(unit)
      if (read.image !== undefined) {
        this.imageFiles.set(unit, { entry: read.image, path: read.imagePath, width: read.width, height: read.height })
      }
      const files = event.data_unit?.files ?? undefined
      const entries = files !== undefined ? Object.values(files) : read.image !== undefined ? [read.image] : []
      for (const entry of entries) {
        const name = fileNameOf(entry)
        if (name === undefined) continue
        // A name shared by two data units identifies neither.
        const seen = this.fileNames.get(name)
        this.fileNames.set(name, seen === undefined || seen === unit ? unit : null)
      }
    }
    if (read.unread) bump(this.unread, "data_meta_files")
    const keep = this.keepBoxes
    // An event unusable as a whole for a reason of its own (not one per annotation) counts once.
    const eventSkip = read.skip !== undefined && read.skip !== "no_image" ? read.skip : undefined
    if (keep && eventSkip !== undefined) bump(this.unusable, eventSkip)
    const width = read.width, height = read.height
    const out = this.out
    let largest = -1
    forEachAnnotation(read, this.scratch, (a) => {
      if (a.unusable !== undefined) {
        // Not an annotation of the image (an unsupported tool, no coordinate, not an object).
        if (keep) bump(this.unusable, a.unusable)
        return
      }
      bump(this.classes, a.categoryName ?? (a.categoryId !== undefined ? `#${a.categoryId}` : "unknown"))
      const size = givenSize(a)
      if (size > largest) largest = size
      if (!keep || eventSkip !== undefined) return
      if (unit === undefined) return bump(this.unusable, "no_image")
      if (width === undefined || height === undefined) return bump(this.unusable, "image_size_unknown")
      const reason = prepareInto(a, width, height, out)
      if (reason !== undefined) return bump(this.unusable, reason)
      const name = this.categories.nameOf(a)
      if (name === undefined) return bump(this.unusable, "unknown_class")
      this.boxes.push({
        image_id: unit,
        category: this.categories.indexOf(name, a),
        bbox: [out.x, out.y, out.w, out.h],
        area: out.area,
        iscrowd: out.iscrowd
      })
    })
    const label = data?.label ?? (native ? nativeLabel(event, read.fileKey) : undefined)
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

  /** The image file of an image id and its size, as its first event gave them. */
  imageFile(imageId: number): ImageFile | undefined {
    return this.imageFiles.get(imageId)
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

  /**
   * The detection evaluation target: every image seen, the categories with boxes under the ids the
   * export gives them, and the boxes as the export writes them.
   */
  detectionDataset(): DetectionDataset {
    const { categories, ids } = this.categories.finalize()
    const annotations: Array<EvalGroundTruth> = this.boxes.map((b) => ({
      image_id: b.image_id,
      category_id: ids[b.category]!,
      bbox: b.bbox,
      area: b.area,
      iscrowd: b.iscrowd
    }))
    return { images: [...this.units], categories, annotations }
  }
}

/** Options of {@link readGroundTruth}. */
export interface ReadGroundTruthOptions<E> {
  /** Downloads a file entry (images of unknown size, `data_meta_*` files); without it nothing is downloaded. */
  readonly fetchFile?: ((entry: FileEntry) => Effect.Effect<string, E>) | undefined
  /** Called after each page with the number of events added so far. */
  readonly onPage?: ((eventsDone: number) => void) | undefined
  /** Files downloaded at once. Default 8. */
  readonly concurrency?: number
}

/**
 * Collects a stream of events: each page is read first (downloads with bounded concurrency), then
 * its events are added in order.
 */
export const readGroundTruth = <E, R>(
  events: Stream.Stream<GroundTruthEvent, E, R>,
  keepBoxes: boolean,
  options: ReadGroundTruthOptions<E> = {}
): Effect.Effect<GroundTruthCollector, E, R> =>
  Effect.gen(function*() {
    const collector = new GroundTruthCollector(keepBoxes)
    const reader = collector.reader(options.fetchFile)
    let done = 0
    yield* Stream.runForEachChunk(events, (chunk) =>
      Effect.gen(function*() {
        const page = Chunk.toReadonlyArray(chunk)
        const reads: Array<EventRead> = new Array(page.length)
        const pending: Array<Effect.Effect<void, E>> = []
        page.forEach((event, i) => {
          const read = reader.read(event, eventImage(event), "all", false)
          if (Effect.isEffect(read)) pending.push(Effect.map(read, (r) => void (reads[i] = r)))
          else reads[i] = read
        })
        yield* Effect.all(pending, { concurrency: options.concurrency ?? 8, discard: true })
        for (const read of reads) collector.addRead(read)
        done += page.length
        options.onPage?.(done)
      }))
    return collector
  })
