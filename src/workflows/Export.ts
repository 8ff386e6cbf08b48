/**
 * Streaming export of ground truth to COCO and YOLO (Ultralytics layout), fixing what the seed's
 * example (and most exporters) get wrong: annotation ids start at 1; `categories` is complete with
 * stable ids; `area` is the polygon's shoelace area or the box area, never 0; one image entry per
 * data unit, whose id is the data unit id (an event listed without its data unit, as the evidenced
 * `fields=` listing answers, is placed by the image file it names, under an id derived from that
 * file: see `eventImage`); boxes are clipped to the image; box-only annotations carry no empty
 * `segmentation`; degenerate input is counted, never written. Annotations are read in the rich
 * list form and in the native form, inline in `data` or in `data_meta_*` files; image sizes come
 * from the file entry or, when it has none, from the image file's header.
 *
 * Memory stays flat whatever the dataset size: events are processed page by page; image entries
 * and annotations are spooled to temporary line files (category ids are only final once every
 * class has been seen) and assembled into the output at the end; per-image state is a bitmap bit
 * plus 8 bytes of image size. Everything is written inside a temporary work directory in the output
 * directory and renamed into place only when complete, so an interrupted or failed export leaves
 * no partial file behind.
 */
import { Chunk, Effect, Either, Exit, Schema, Stream } from "effect"
import { randomBytes } from "node:crypto"
import * as Fsp from "node:fs/promises"
import * as Path from "node:path"
import { makeDirectory } from "../platform/Directories.js"
import type { FileEntry } from "../schemas/Common.js"
import { Id } from "../schemas/Common.js"
import type { DatasetVersion } from "../schemas/DatasetVersion.js"
import type { GroundTruthEvent } from "../schemas/GroundTruth.js"
import { MAX_PAGE_SIZE } from "../schemas/Page.js"
import { FileCache } from "../services/FileCache.js"
import { GroundTruths, type StreamOptions } from "../services/GroundTruths.js"
import {
  boxOut,
  eventAnnotations,
  eventImage,
  fromDataMeta,
  prepare,
  prepareBox,
  type PreparedGeometry,
  readEventAnnotation,
  scratchSource,
  SKIP_REASON_TEXT,
  SKIP_REASONS,
  type SkipReason,
  type SourceAnnotation,
  withVersion
} from "./Annotations.js"
import { type CocoValidation, CocoValidation as CocoValidationSchema, validateFile } from "./Coco.js"
import { round2 } from "./Geometry.js"
import { HashedStringSet, IdSet, IdSizeMap } from "./IdSet.js"
import { readImageSize } from "./ImageSize.js"
import { assignmentOf, readManifest, type SplitManifest } from "./Manifest.js"
import { BufferedWriter, forEachLine } from "./Spool.js"

/** Output formats. */
export const ExportFormat = Schema.Literal("coco", "yolo")
export type ExportFormat = typeof ExportFormat.Type

/** Where per-split files come from: no split (`all`), the events' `category`, or a split manifest. */
export const SplitBy = Schema.Literal("none", "category", "manifest")
export type SplitBy = typeof SplitBy.Type

/** Export options (everything but the data source). */
export const ExportOptions = Schema.Struct({
  format: ExportFormat.annotations({
    description: "coco: annotations/instances_<split>.json; yolo: images/, labels/, data.yaml"
  }),
  outputDir: Schema.String.pipe(Schema.minLength(1)).annotations({
    description: "Directory to write into (created if missing)"
  }),
  splitBy: Schema.optional(SplitBy).annotations({
    description: "Per-split files: none (one split named 'all'), the events' category, or a split manifest"
  }),
  manifestPath: Schema.optional(Schema.String).annotations({
    description: "Split manifest written by prepare_training_data (splitBy=manifest)"
  }),
  includeImages: Schema.optional(Schema.Boolean).annotations({
    description: "Download images and place them under images/<split>/"
  }),
  categoryMap: Schema.optional(Schema.Record({ key: Schema.String, value: Id })).annotations({
    description: "Class name → category id override; classes not listed are skipped as unknown"
  }),
  validate: Schema.optional(Schema.Boolean).annotations({
    description: "Run the COCO validator on the written files (default true)"
  })
})
export type ExportOptions = typeof ExportOptions.Type

/** Counts of one split's output. */
export const ExportSplitSummary = Schema.Struct({
  images: Schema.Int,
  annotations: Schema.Int,
  files: Schema.Array(Schema.String)
})

/** What an export did. */
export const ExportSummary = Schema.Struct({
  format: ExportFormat,
  outputDir: Schema.String,
  datasetVersions: Schema.Array(Schema.Int),
  events: Schema.Int,
  images: Schema.Int,
  annotations: Schema.Int,
  categories: Schema.Array(Schema.Struct({ id: Schema.Int, name: Schema.String })),
  classCounts: Schema.Record({ key: Schema.String, value: Schema.Int }),
  skipped: Schema.Struct({
    events: Schema.Record({ key: Schema.String, value: Schema.Int }),
    annotations: Schema.Record({ key: Schema.String, value: Schema.Int }),
    meaning: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })).annotations({
      description: "What each skip reason that occurred means"
    }),
    unsupportedTools: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Int })).annotations({
      description:
        "Native annotations skipped as unsupported_tool, by their tool (only bounding_box and polygon are exported)"
    }),
    examples: Schema.Array(
      Schema.Struct({ event: Schema.Int, dataUnit: Schema.NullOr(Schema.Int), reason: Schema.String })
    )
  }),
  splits: Schema.Record({ key: Schema.String, value: ExportSplitSummary }),
  files: Schema.Array(Schema.String),
  staleFiles: Schema.Array(Schema.String).annotations({
    description:
      "Files in the output directory, in the export's own layout, that this export did not write (an earlier " +
      "export's other splits): left in place, and not part of this export"
  }),
  imagesDownloaded: Schema.Int,
  bytesWritten: Schema.Int,
  validation: Schema.Record({ key: Schema.String, value: CocoValidationSchema }),
  valid: Schema.Boolean
})
export type ExportSummary = typeof ExportSummary.Type

/** Progress of a running export, reported after every page and at each phase change. */
export interface ExportProgress {
  readonly phase: "reading" | "assembling" | "validating" | "done"
  readonly eventsRead: number
  readonly eventsTotal: number | undefined
  readonly annotationsWritten: number
  readonly imagesWritten: number
  readonly imagesDownloaded: number
  readonly bytesWritten: number
}

/** The data an export reads: the versions (for `info`), their events, and a file downloader. */
export interface ExportSource<E> {
  readonly versions: ReadonlyArray<DatasetVersion>
  readonly events: Stream.Stream<GroundTruthEvent, E>
  /** Downloads a file entry (presigned URL) and returns its local path. */
  readonly fetchFile: (entry: FileEntry) => Effect.Effect<string, E>
  /** The number of events expected, when known, for progress display. */
  readonly totalEvents?: number | undefined
}

/** Run-time knobs that are not part of the serialisable options. */
export interface ExportRun {
  readonly onProgress?: (progress: ExportProgress) => void
  /** A manifest already in memory (instead of `manifestPath`). */
  readonly manifest?: SplitManifest
  /** Concurrent file downloads (images, data_meta). Default 8. */
  readonly concurrency?: number
  /** Events per page requested from the API (1..1000). Default 1000. */
  readonly pageSize?: number
  /**
   * Pages fetched at once by number (`GroundTruths.streamEvents` prefetch). Default: the client's
   * setting (`SYNAPSE_PREFETCH`, 8 pages; docs/wire-protocol.md "Prefetch"); 1 follows `next` one
   * page at a time, so that at most one page is in memory. Pages fetched ahead wait as body text,
   * at most that many, until the export reaches them.
   */
  readonly prefetch?: number
}

/** Writing the export failed (file system), or the options contradict each other. */
export class ExportError extends Schema.TaggedError<ExportError>()("ExportError", {
  detail: Schema.String,
  path: Schema.optional(Schema.String)
}) {}

// ---------------------------------------------------------------------------------------------
// Categories

interface CategoryInfo {
  readonly name: string
  platformId: number | undefined
  conflict: boolean
  count: number
}

/** Classes seen while streaming, by first-seen index; final ids are decided at the end. */
class CategoryTable {
  readonly list: Array<CategoryInfo> = []
  private readonly byName = new Map<string, number>()
  private readonly nameById = new Map<number, string>()

  constructor(private readonly override: Readonly<Record<string, number>> | undefined) {}

  /** The class name of an annotation, or `undefined` for an unknown class. */
  nameOf(a: SourceAnnotation): string | undefined {
    let name = a.categoryName
    if (name === undefined && a.categoryId !== undefined) {
      name = this.nameById.get(a.categoryId) ?? (this.override ? this.nameForOverrideId(a.categoryId) : undefined) ??
        `class_${a.categoryId}`
    }
    if (name === undefined) return undefined
    if (this.override !== undefined && !(name in this.override)) return undefined
    return name
  }

  /** The local index of class `name` (registered on first use: only written classes are listed). */
  indexOf(name: string, a: SourceAnnotation): number {
    let idx = this.byName.get(name)
    if (idx === undefined) {
      idx = this.list.length
      this.list.push({ name, platformId: a.categoryId, conflict: false, count: 0 })
      this.byName.set(name, idx)
    } else if (a.categoryId !== undefined) {
      const info = this.list[idx]!
      if (info.platformId === undefined) info.platformId = a.categoryId
      else if (info.platformId !== a.categoryId) info.conflict = true
    }
    if (a.categoryId !== undefined && a.categoryName !== undefined && !this.nameById.has(a.categoryId)) {
      this.nameById.set(a.categoryId, a.categoryName)
    }
    return idx
  }

  private nameForOverrideId(id: number): string | undefined {
    for (const [name, v] of Object.entries(this.override!)) if (v === id) return name
    return undefined
  }

  /**
   * Final ids: the override when given; else the platform's ids where every class has one id
   * and no two classes share one; classes without a platform id follow, in name order. When the
   * platform's ids conflict, all classes are numbered 1..N in name order.
   */
  finalize(): { readonly ids: Array<number>; readonly categories: Array<{ id: number; name: string }> } {
    if (this.override !== undefined) {
      const ids = this.list.map((c) => this.override![c.name]!)
      const categories = Object.entries(this.override).map(([name, id]) => ({ id, name })).sort((a, b) => a.id - b.id)
      return { ids, categories }
    }
    const used = new Map<number, number>()
    let consistent = true
    for (const c of this.list) {
      if (c.conflict) consistent = false
      if (c.platformId !== undefined) {
        if (!Number.isSafeInteger(c.platformId) || c.platformId < 1 || used.has(c.platformId)) consistent = false
        used.set(c.platformId, 1)
      }
    }
    const order = this.list.map((_, i) => i).sort((
      a,
      b
    ) => (this.list[a]!.name < this.list[b]!.name ? -1 : this.list[a]!.name > this.list[b]!.name ? 1 : 0))
    const ids = new Array<number>(this.list.length)
    if (consistent) {
      let next = Math.max(0, ...used.keys()) + 1
      for (const i of order) ids[i] = this.list[i]!.platformId ?? next++
    } else {
      order.forEach((i, k) => (ids[i] = k + 1))
    }
    const categories = this.list.map((c, i) => ({ id: ids[i]!, name: c.name })).sort((a, b) => a.id - b.id)
    return { ids, categories }
  }
}

// ---------------------------------------------------------------------------------------------
// Per-event resolution (the only part that may download files)

interface Resolved {
  readonly event: GroundTruthEvent
  readonly skip: SkipReason | undefined
  /** The COCO image id: the data unit id, or the id derived from the image file (see eventImage). */
  readonly imageId: number | undefined
  /** The data unit id when the event names one (for skip examples). */
  readonly dataUnit: number | undefined
  readonly split: string
  readonly image: FileEntry | undefined
  readonly imagePath: string | undefined
  readonly width: number | undefined
  readonly height: number | undefined
  /** Annotations read from downloaded data_meta files (or converted already). */
  readonly sources: ReadonlyArray<SourceAnnotation>
  /** The event's own `data.annotations` list, read one at a time while writing (no copy per event). */
  readonly raw: ReadonlyArray<unknown> | undefined
}

const positive = (v: number | null | undefined): v is number => typeof v === "number" && Number.isFinite(v) && v > 0

// Output names must never come verbatim from the server: basename only, a safe character set.
// A name that the cleaning below would leave unchanged (the usual case), checked with one regex.
const ALREADY_SAFE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,119}$/

const safeName = (entry: FileEntry | undefined, dataUnit: number): string => {
  let raw = entry?.name ?? ""
  if (ALREADY_SAFE.test(raw)) return raw
  if (raw === "" && typeof entry?.url === "string") {
    try {
      raw = decodeURIComponent(new URL(entry.url, "http://x/").pathname.split("/").pop() ?? "")
    } catch {
      raw = ""
    }
  }
  const base = raw.split(/[\\/]/).pop() ?? ""
  const clean = base.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "").slice(-120)
  return clean.length > 0 ? clean : `${dataUnit}.jpg`
}

const stemOf = (name: string): string => {
  const dot = name.lastIndexOf(".")
  return dot > 0 ? name.slice(0, dot) : name
}

const r6 = (v: number): string => (Math.round(v * 1e6) / 1e6).toString()

// ---------------------------------------------------------------------------------------------
// The export

interface SplitState {
  readonly name: string
  readonly images: IdSet
  readonly stems: HashedStringSet
  readonly imagesSpool: BufferedWriter
  readonly annotationsSpool: BufferedWriter
  imageCount: number
  annotationCount: number
}

/**
 * Which dataset version a data unit's annotations come from when several versions are exported
 * together. Successive versions of a dataset repeat most of its data units, so merging their events
 * would write each box once per version. The first version whose events reach the exporter claims
 * the unit and its events in any other version are skipped; `exportGroundTruth` streams the
 * versions one after another in the order given, so that is the first version listed, and stamps
 * each version's events with it when they do not say (the evidenced listing does not). Events
 * given to `exportEvents` directly without a version all count as one version.
 */
class DataUnitOwners {
  private readonly byVersion = new Map<number | null, IdSet>()

  /** Whether a version other than `version` has claimed `dataUnit`. */
  claimedElsewhere(version: number | null, dataUnit: number): boolean {
    for (const [owner, units] of this.byVersion) if (owner !== version && units.has(dataUnit)) return true
    return false
  }

  /** Claims `dataUnit` for `version`; false when another version holds it. */
  claim(version: number | null, dataUnit: number): boolean {
    if (this.claimedElsewhere(version, dataUnit)) return false
    let units = this.byVersion.get(version)
    if (units === undefined) {
      units = new IdSet()
      this.byVersion.set(version, units)
    }
    units.add(dataUnit)
    return true
  }
}

const toError = (detail: string, path?: string) => (e: unknown) =>
  new ExportError({
    detail: `${detail}: ${e instanceof Error ? e.message : String(e)}`,
    ...(path !== undefined ? { path } : {})
  })

/**
 * Exports events from any source (the SDK, or events in memory) to COCO or YOLO. See the module
 * comment for the guarantees. Interrupting the returned effect stops between pages and removes
 * the work directory.
 */
export const exportEvents = <E>(source: ExportSource<E>, options: ExportOptions, run: ExportRun = {}) =>
  Effect.gen(function*() {
    const splitBy: SplitBy = options.splitBy ??
      (options.manifestPath !== undefined || run.manifest !== undefined ? "manifest" : "none")
    let assignment: Map<number, string> | undefined
    if (splitBy === "manifest") {
      const manifest = run.manifest ??
        (options.manifestPath !== undefined
          ? yield* readManifest(options.manifestPath).pipe(
            Effect.mapError((e) => new ExportError({ detail: e.detail, path: e.path }))
          )
          : undefined)
      if (manifest === undefined) {
        return yield* new ExportError({
          detail: "splitBy=manifest needs manifestPath (a split manifest from prepare_training_data)"
        })
      }
      assignment = assignmentOf(manifest)
    }
    const outputDir = Path.resolve(options.outputDir)
    const existed = yield* Effect.promise(() => Fsp.stat(outputDir).then(() => true, () => false))
    // An output directory this export created is removed again if the export does not complete
    // (only when empty: rmdir refuses anything else).
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => makeDirectory(outputDir),
        catch: toError("cannot create the output directory", outputDir)
      }),
      (
        _,
        exit
      ) => (Exit.isSuccess(exit) || existed
        ? Effect.void
        : Effect.promise(() => Fsp.rmdir(outputDir).catch(() => undefined)))
    )
    const work = Path.join(outputDir, `.synapse-export-${randomBytes(6).toString("hex")}`)
    yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => Fsp.mkdir(work), catch: toError("cannot create the work directory", work) }),
      // A file write still in flight when the export was interrupted can land while the tree is
      // removed (ENOTEMPTY): retried, so that an interrupted export leaves nothing behind.
      () =>
        Effect.promise(() =>
          Fsp.rm(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 }).catch(() => undefined)
        )
    )
    return yield* runExport(source, options, run, splitBy, assignment, outputDir, work)
  }).pipe(Effect.scoped, Effect.withSpan("Workflows.exportEvents"))

const runExport = <E>(
  source: ExportSource<E>,
  options: ExportOptions,
  run: ExportRun,
  splitBy: SplitBy,
  assignment: Map<number, string> | undefined,
  outputDir: string,
  work: string
): Effect.Effect<ExportSummary, E | ExportError> =>
  Effect.gen(function*() {
    const format = options.format
    const includeImages = options.includeImages === true
    const categories = new CategoryTable(options.categoryMap)
    const sizes = new IdSizeMap()
    // One version cannot repeat a data unit across versions: no bookkeeping then.
    const owners = source.versions.length > 1 ? new DataUnitOwners() : undefined
    const splits = new Map<string, SplitState>()
    const writers: Array<BufferedWriter> = []
    const skippedEvents: Record<string, number> = {}
    const skippedAnnotations: Record<string, number> = {}
    const examples: Array<{ event: number; dataUnit: number | null; reason: string }> = []
    const unsupportedTools: Record<string, number> = {}
    let eventsRead = 0
    let annotationsWritten = 0
    let imagesWritten = 0
    let imagesDownloaded = 0
    let nextAnnotationId = 1
    const labelsSpool = format === "yolo"
      ? yield* Effect.tryPromise({
        try: () => BufferedWriter.open(Path.join(work, "labels.spool")),
        catch: toError("cannot write", work)
      })
      : undefined
    if (labelsSpool) writers.push(labelsSpool)
    const bytes = () => writers.reduce((s, w) => s + w.bytes, 0)

    const progress = (phase: ExportProgress["phase"]) =>
      run.onProgress?.({
        phase,
        eventsRead,
        eventsTotal: source.totalEvents,
        annotationsWritten,
        imagesWritten,
        imagesDownloaded,
        bytesWritten: bytes()
      })

    const noteSkip = (
      table: Record<string, number>,
      reason: SkipReason,
      event: GroundTruthEvent,
      dataUnit: number | undefined,
      n = 1
    ) => {
      table[reason] = (table[reason] ?? 0) + n
      if (examples.length < 20) examples.push({ event: event.id, dataUnit: dataUnit ?? null, reason })
    }

    const splitState = (name: string) =>
      Effect.gen(function*() {
        const existing = splits.get(name)
        if (existing) return existing
        const dir = Path.join(work, "images", name)
        const state = yield* Effect.tryPromise({
          try: async () => {
            if (includeImages || format === "yolo") await Fsp.mkdir(dir, { recursive: true })
            if (format === "yolo") await Fsp.mkdir(Path.join(work, "labels", name), { recursive: true })
            const imagesSpool = await BufferedWriter.open(Path.join(work, `images-${name}.spool`))
            const annotationsSpool = await BufferedWriter.open(Path.join(work, `annotations-${name}.spool`))
            return {
              name,
              images: new IdSet(),
              stems: new HashedStringSet(),
              imagesSpool,
              annotationsSpool,
              imageCount: 0,
              annotationCount: 0
            }
          },
          catch: toError("cannot create spool files", work)
        })
        writers.push(state.imagesSpool, state.annotationsSpool)
        splits.set(name, state)
        return state
      })

    // Stage 1: per event, decide split and image, read annotations. Synchronous unless a file must
    // be downloaded (image without size, images requested, native data_meta): the common case
    // allocates no fiber, which is what keeps a million annotations fast.
    const skipped = (
      event: GroundTruthEvent,
      imageId: number | undefined,
      dataUnit: number | undefined,
      skip: SkipReason
    ): Resolved => ({
      event,
      skip,
      imageId,
      dataUnit,
      split: "all",
      image: undefined,
      imagePath: undefined,
      width: undefined,
      height: undefined,
      sources: [],
      raw: undefined
    })
    const resolve = (event: GroundTruthEvent): Resolved | Effect.Effect<Resolved, E> => {
      // The image is the data unit when the event names one, else the primary image of `files`
      // (events listed with `fields=` carry no data unit): see eventImage.
      const img = eventImage(event)
      const id = img.id
      const unit = img.dataUnit
      if (id === undefined) return skipped(event, undefined, undefined, "no_image")
      // Checked again when written (where the claim is made); here it spares the downloads.
      if (owners?.claimedElsewhere(event.ground_truth_dataset_version ?? null, id)) {
        return skipped(event, id, unit, "in_earlier_version")
      }
      let split = "all"
      if (splitBy === "category") {
        if (event.category == null) {
          return skipped(event, id, unit, "no_split")
        }
        split = event.category
      } else if (assignment !== undefined) {
        const s = assignment.get(id)
        if (s === undefined) {
          return skipped(event, id, unit, "not_in_manifest")
        }
        split = s
      }
      const image = img.entry
      let width = positive(image?.width) ? image.width : undefined
      let height = positive(image?.height) ? image.height : undefined
      if (width === undefined || height === undefined) {
        const known = sizes.get(id)
        width = known?.[0]
        height = known?.[1]
      }
      const needSize = width === undefined || height === undefined
      const needImage = image !== undefined && (needSize || (includeImages && !splits.get(split)?.images.has(id)))
      const found = eventAnnotations(event, img.fileKey)
      const raw = found._tag === "list" ? found.list : undefined
      const inline = found._tag === "native" ? found.sources : []
      const metaKeys = found._tag === "files" ? found.keys : []
      if (!needImage && metaKeys.length === 0) {
        return {
          event,
          skip: undefined,
          imageId: id,
          dataUnit: unit,
          split,
          image,
          imagePath: undefined,
          width,
          height,
          sources: inline,
          raw
        }
      }
      return Effect.gen(function*() {
        let imagePath: string | undefined
        if (needImage && image !== undefined && (typeof image.url === "string" || image.path !== undefined)) {
          imagePath = image.path ?? (yield* source.fetchFile(image))
          if (needSize) {
            // An unreadable or unknown header leaves the size unknown: image_size_unknown below.
            const header = yield* Effect.promise(() => readImageSize(imagePath!).catch(() => undefined))
            if (header !== undefined) {
              width = header.width
              height = header.height
            }
          }
        }
        let sources: ReadonlyArray<SourceAnnotation> = inline
        let skip: SkipReason | undefined
        if (metaKeys.length > 0) {
          const collected: Array<SourceAnnotation> = []
          for (const key of metaKeys) {
            const entry = event.files![key]!
            if (typeof entry.url !== "string" && entry.path === undefined) continue
            const path = entry.path ?? (yield* source.fetchFile(entry))
            const json = yield* Effect.promise(() =>
              Fsp.readFile(path, "utf8").then((t) => JSON.parse(t) as unknown).catch(() => undefined)
            )
            const read = fromDataMeta(json, img.fileKey)
            if (Either.isLeft(read)) skip = read.left
            else collected.push(...read.right)
          }
          sources = collected
        }
        return { event, skip, imageId: id, dataUnit: unit, split, image, imagePath, width, height, sources, raw }
      })
    }

    // File work decided while writing (placing images, creating YOLO label files), run after
    // each page in order.
    const fileTasks: Array<{ readonly path: string; readonly run: () => Promise<unknown> }> = []

    // Stage 2: write, strictly in event order. Synchronous: spool lines go to in-memory buffers.
    // One annotation record and one box, overwritten for each annotation.
    const scratch = scratchSource()
    const box = boxOut()
    const write = (r: Resolved): void => {
      eventsRead++
      const { event } = r
      if (r.skip !== undefined) return noteSkip(skippedEvents, r.skip, event, r.dataUnit)
      const du = r.imageId!
      const unit = r.dataUnit
      if (owners !== undefined && !owners.claim(event.ground_truth_dataset_version ?? null, du)) {
        return noteSkip(skippedEvents, "in_earlier_version", event, unit)
      }
      if (r.width === undefined || r.height === undefined) {
        return noteSkip(skippedEvents, "image_size_unknown", event, unit)
      }
      const width = r.width, height = r.height
      if (Number.isNaN(sizes.width(du))) {
        sizes.set(du, width, height)
      }
      const s = splits.get(r.split)!
      let name = safeName(r.image, du)
      if (s.images.add(du)) {
        if (!s.stems.add(stemOf(name))) {
          // Another data unit already uses this name: prefix the (unique) data unit id.
          name = `${du}_${name}`
          s.stems.add(stemOf(name))
          renamed.set(`${r.split}\t${du}`, name)
        }
        s.imagesSpool.push(`${du}\t${width}\t${height}\t${name}\n`)
        s.imageCount++
        imagesWritten++
        if (includeImages && r.imagePath !== undefined) {
          const from = r.imagePath
          const target = Path.join(work, "images", r.split, name)
          fileTasks.push({
            path: target,
            run: () => Fsp.link(from, target).catch(() => Fsp.copyFile(from, target))
          })
          imagesDownloaded++
        }
        if (format === "yolo") {
          const label = Path.join(work, "labels", r.split, `${stemOf(name)}.txt`)
          fileTasks.push({ path: label, run: () => Fsp.writeFile(label, "") })
        }
      } else if (renamed.size > 0) {
        name = renamed.get(`${r.split}\t${du}`) ?? name
      }
      const stem = format === "yolo" ? stemOf(name) : ""
      const raw = r.raw
      const n = raw !== undefined ? raw.length : r.sources.length
      for (let k = 0; k < n; k++) {
        const a: SourceAnnotation = raw !== undefined ? readEventAnnotation(raw[k]!, scratch) : r.sources[k]!
        // Box-only annotations (the common case) are prepared in place, without the geometry
        // objects `prepare` returns; the numbers are the same (prepare uses prepareBox too).
        let polygons: ReadonlyArray<ReadonlyArray<number>> | undefined
        let rle: PreparedGeometry["rle"]
        let area: number
        let iscrowd: 0 | 1
        if (a.polygons === undefined && a.rle === undefined && a.unusable === undefined) {
          const reason = prepareBox(a.bbox, width, height, box)
          if (reason !== undefined) {
            noteSkip(skippedAnnotations, reason, event, unit)
            continue
          }
          area = round2(box.w * box.h)
          iscrowd = a.iscrowd === 1 ? 1 : 0
        } else {
          const prepared = prepare(a, width, height)
          if (prepared._tag === "skip") {
            noteSkip(skippedAnnotations, prepared.reason, event, unit)
            if (prepared.reason === "unsupported_tool" && a.tool !== undefined) {
              unsupportedTools[a.tool] = (unsupportedTools[a.tool] ?? 0) + 1
            }
            continue
          }
          const g = prepared.geometry
          box.x = g.bbox[0]
          box.y = g.bbox[1]
          box.w = g.bbox[2]
          box.h = g.bbox[3]
          area = g.area
          iscrowd = g.iscrowd
          polygons = g.polygons
          rle = g.rle
        }
        const className = categories.nameOf(a)
        if (className === undefined) {
          noteSkip(skippedAnnotations, "unknown_class", event, unit)
          continue
        }
        const cat = categories.indexOf(className, a)
        categories.list[cat]!.count++
        annotationsWritten++
        s.annotationCount++
        if (format === "coco") {
          let tail = `"bbox":[${box.x},${box.y},${box.w},${box.h}],"area":${area},"iscrowd":${iscrowd}`
          if (polygons !== undefined) tail += `,"segmentation":${JSON.stringify(polygons)}`
          else if (rle !== undefined) tail += `,"segmentation":${JSON.stringify(rle)}`
          s.annotationsSpool.push(`${nextAnnotationId++}\t${du}\t${cat}\t${tail}}\n`)
        } else {
          const x = box.x, y = box.y, w = box.w, h = box.h
          labelsSpool!.push(
            `${r.split}\t${stem}\t${cat}\t${r6((x + w / 2) / width)} ${r6((y + h / 2) / height)} ${r6(w / width)} ${
              r6(h / height)
            }\n`
          )
        }
      }
    }

    // Names that had to be prefixed because of a collision (rare), so later events of the same
    // data unit find the same YOLO label file.
    const renamed = new Map<string, string>()

    const afterPage = Effect.tryPromise({
      try: async (signal) => {
        for (const task of fileTasks.splice(0)) {
          if (signal.aborted) throw new Error("interrupted")
          await task.run()
        }
        await Promise.all(writers.map((w) => w.maybeFlush()))
      },
      catch: toError("cannot write the export's files", work)
    })

    const concurrency = run.concurrency ?? 8
    yield* source.events.pipe(
      // No read-ahead buffer: one fetched while this page is written ran the listing in a fiber of
      // its own, and a parsed page handed over from another fiber stays reachable for V8's
      // young-generation collector until the next full collection (see readBody in SynapseClient.ts):
      // at 1M annotations it raised peak RSS from ~250 to 265-281 MB for 3-5 % more throughput.
      Stream.runForEachChunk((chunk) =>
        Effect.gen(function*() {
          const events = Chunk.toReadonlyArray(chunk)
          const resolved: Array<Resolved> = new Array(events.length)
          const downloads: Array<readonly [number, Effect.Effect<Resolved, E>]> = []
          for (let i = 0; i < events.length; i++) {
            const r = resolve(events[i]!)
            if (Effect.isEffect(r)) downloads.push([i, r])
            else resolved[i] = r
          }
          if (downloads.length > 0) {
            yield* Effect.forEach(downloads, ([i, eff]) => Effect.map(eff, (r) => void (resolved[i] = r)), {
              concurrency,
              discard: true
            })
          }
          for (const r of resolved) if (r.skip === undefined && !splits.has(r.split)) yield* splitState(r.split)
          for (const r of resolved) write(r)
          yield* afterPage
          progress("reading")
        })
      )
    )

    // Assemble the outputs from the spools, inside the work directory.
    progress("assembling")
    const { ids, categories: finalCategories } = categories.finalize()
    const files: Array<string> = []
    const splitSummaries: Record<string, { images: number; annotations: number; files: Array<string> }> = {}
    const moves: Array<{ from: string; to: string; dir: boolean }> = []
    yield* Effect.tryPromise({
      try: () => Promise.all(writers.map((w) => w.close())),
      catch: toError("cannot write spool files", work)
    })
    const names = [...splits.keys()].sort()
    const assembled: Record<string, string> = {}
    for (const name of names) {
      const s = splits.get(name)!
      const splitFiles: Array<string> = []
      if (format === "coco") {
        const tmp = Path.join(work, `instances_${name}.json`)
        const target = Path.join(outputDir, "annotations", `instances_${name}.json`)
        const written = yield* Effect.tryPromise({
          try: (signal) => assembleCoco(tmp, s, source.versions, finalCategories, ids, signal),
          catch: toError("cannot write the COCO file", tmp)
        })
        writers.push(written)
        assembled[name] = tmp
        moves.push({ from: tmp, to: target, dir: false })
        splitFiles.push(target)
      } else {
        moves.push({ from: Path.join(work, "labels", name), to: Path.join(outputDir, "labels", name), dir: true })
        splitFiles.push(Path.join(outputDir, "labels", name))
      }
      if (includeImages || format === "yolo") {
        moves.push({ from: Path.join(work, "images", name), to: Path.join(outputDir, "images", name), dir: true })
        splitFiles.push(Path.join(outputDir, "images", name))
      }
      splitSummaries[name] = { images: s.imageCount, annotations: s.annotationCount, files: splitFiles }
      files.push(...splitFiles)
    }
    if (format === "yolo") {
      yield* Effect.tryPromise({
        try: (signal) => distributeLabels(Path.join(work, "labels.spool"), work, ids, finalCategories, signal),
        catch: toError("cannot write YOLO labels", work)
      })
      const yaml = Path.join(work, "data.yaml")
      yield* Effect.tryPromise({
        try: () => Fsp.writeFile(yaml, dataYaml(outputDir, names, finalCategories)),
        catch: toError("cannot write data.yaml", yaml)
      })
      moves.push({ from: yaml, to: Path.join(outputDir, "data.yaml"), dir: false })
      files.push(Path.join(outputDir, "data.yaml"))
    }

    // Validate what was written (the files themselves, read back as a stream).
    const validation: Record<string, CocoValidation> = {}
    if (format === "coco" && options.validate !== false) {
      progress("validating")
      for (const name of names) {
        validation[name] = yield* validateFile(assembled[name]!).pipe(
          Effect.mapError((e) => new ExportError({ detail: e.detail, path: e.path }))
        )
      }
    }

    // Move into place: every file was complete before the first rename. Uninterruptible, so an
    // interruption cannot leave half of the splits moved (a few renames are quick).
    yield* Effect.uninterruptible(Effect.tryPromise({
      try: async () => {
        for (const m of moves) {
          await Fsp.mkdir(Path.dirname(m.to), { recursive: true })
          if (m.dir) await Fsp.rm(m.to, { recursive: true, force: true })
          await Fsp.rename(m.from, m.to)
        }
      },
      catch: toError("cannot move the export into place", outputDir)
    }))
    const staleFiles = yield* Effect.promise(() => earlierOutputs(outputDir, new Set(files)))
    progress("done")

    const classCounts: Record<string, number> = {}
    for (const c of [...categories.list].sort((a, b) => (a.name < b.name ? -1 : 1))) classCounts[c.name] = c.count
    return {
      format,
      outputDir,
      datasetVersions: source.versions.map((v) => v.id),
      events: eventsRead,
      images: imagesWritten,
      annotations: annotationsWritten,
      categories: finalCategories,
      classCounts,
      skipped: {
        events: skippedEvents,
        annotations: skippedAnnotations,
        meaning: meaningOf(skippedEvents, skippedAnnotations),
        unsupportedTools,
        examples
      },
      splits: splitSummaries,
      files,
      staleFiles,
      imagesDownloaded,
      bytesWritten: bytes(),
      validation,
      valid: Object.values(validation).every((v) => v.valid)
    } satisfies ExportSummary
  })

/** The meaning of each skip reason counted, in reason order. */
const meaningOf = (...tables: ReadonlyArray<Record<string, number>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const reason of SKIP_REASONS) if (tables.some((t) => reason in t)) out[reason] = SKIP_REASON_TEXT[reason]
  return out
}

/**
 * What an earlier export into the same directory left that this one did not replace: COCO files
 * and YOLO split directories of other splits. A re-export with other splits would otherwise sit
 * next to a stale `instances_train.json` that nothing points out. Reported, never deleted: the
 * directory may hold the user's own files.
 */
const earlierOutputs = async (outputDir: string, written: ReadonlySet<string>): Promise<Array<string>> => {
  const entries = (dir: string) => Fsp.readdir(dir, { withFileTypes: true }).catch(() => [])
  const stale: Array<string> = []
  for (const entry of await entries(Path.join(outputDir, "annotations"))) {
    const file = Path.join(outputDir, "annotations", entry.name)
    if (entry.isFile() && /^instances_.+\.json$/.test(entry.name) && !written.has(file)) stale.push(file)
  }
  for (const kind of ["labels", "images"]) {
    for (const entry of await entries(Path.join(outputDir, kind))) {
      const dir = Path.join(outputDir, kind, entry.name)
      if (entry.isDirectory() && !written.has(dir)) stale.push(dir)
    }
  }
  return stale.sort()
}

/** COCO `info` from the dataset version(s): deterministic, so re-exports are byte-identical. */
const cocoInfo = (versions: ReadonlyArray<DatasetVersion>) => {
  const first = versions[0]
  const datasetName = (
    v: DatasetVersion
  ) => (typeof v.ground_truth_dataset === "object" ? v.ground_truth_dataset?.name : undefined)
  // A version may carry only its id and name (docs/wire-protocol.md "Dataset versions").
  const label = (v: DatasetVersion) => v.version ?? v.name ?? `version ${v.id}`
  const created = first?.created_at ?? undefined
  return {
    description: versions.map((v) => v.description ?? datasetName(v) ?? label(v)).join("; "),
    version: versions.map(label).join("+"),
    name: versions.map((v) => [datasetName(v), label(v)].filter((x) => x != null).join(" ")).join("; "),
    year: created !== undefined && !Number.isNaN(Date.parse(created)) ? new Date(created).getUTCFullYear() : null,
    date_created: created ?? null,
    contributor: "synapse-ml",
    dataset_versions: versions.map((v) => v.id)
  }
}

/**
 * Calls `onRow` for each line of a spool with the positions of its first three tabs: every spool
 * (images, annotations, YOLO labels) holds one row a line as tab-separated fields, the fourth
 * running to the end of the line.
 */
const forEachRow = (
  spool: string,
  onRow: (line: string, t1: number, t2: number, t3: number) => void,
  between: () => Promise<void>,
  signal: AbortSignal
): Promise<void> =>
  forEachLine(
    spool,
    (line) => {
      const t1 = line.indexOf("\t")
      const t2 = line.indexOf("\t", t1 + 1)
      onRow(line, t1, t2, line.indexOf("\t", t2 + 1))
    },
    between,
    signal
  )

/** Writes one COCO file from a split's spools; category ids are spliced in as lines are copied. */
const assembleCoco = async (
  path: string,
  s: SplitState,
  versions: ReadonlyArray<DatasetVersion>,
  categories: ReadonlyArray<{ id: number; name: string }>,
  ids: ReadonlyArray<number>,
  signal: AbortSignal
): Promise<BufferedWriter> => {
  const out = await BufferedWriter.open(path)
  try {
    out.push(`{"info":${JSON.stringify(cocoInfo(versions))},\n"licenses":[],\n"categories":[`)
    out.push(categories.map((c) => `\n${JSON.stringify({ id: c.id, name: c.name, supercategory: "" })}`).join(","))
    out.push(`\n],\n"images":[`)
    const between = async () => {
      if (signal.aborted) throw new Error("interrupted")
      await out.maybeFlush()
    }
    // Each spooled row becomes one element of a JSON array, comma-separated.
    const copyRows = (spool: string, element: (line: string, t1: number, t2: number, t3: number) => string) => {
      let first = true
      return forEachRow(
        spool,
        (line, t1, t2, t3) => {
          out.push(`${first ? "" : ","}\n${element(line, t1, t2, t3)}`)
          first = false
        },
        between,
        signal
      )
    }
    await copyRows(
      s.imagesSpool.path,
      (line, t1, t2, t3) =>
        `{"id":${line.slice(0, t1)},"file_name":${JSON.stringify(line.slice(t3 + 1))},"width":${
          line.slice(t1 + 1, t2)
        },"height":${line.slice(t2 + 1, t3)}}`
    )
    out.push(`\n],\n"annotations":[`)
    await copyRows(
      s.annotationsSpool.path,
      (line, t1, t2, t3) =>
        `{"id":${line.slice(0, t1)},"image_id":${line.slice(t1 + 1, t2)},"category_id":${
          ids[Number(line.slice(t2 + 1, t3))]
        },${line.slice(t3 + 1)}`
    )
    out.push(`\n]}\n`)
    await out.close()
    return out
  } catch (e) {
    await out.abandon()
    throw e
  }
}

/** Appends spooled YOLO label lines to `labels/<split>/<stem>.txt`, grouping runs per file. */
const distributeLabels = async (
  spool: string,
  work: string,
  ids: ReadonlyArray<number>,
  categories: ReadonlyArray<{ id: number; name: string }>,
  signal: AbortSignal
): Promise<void> => {
  // YOLO class indices are 0-based positions in `names`, which lists categories in id order.
  const indexById = new Map<number, number>()
  categories.forEach((c, i) => indexById.set(c.id, i))
  let currentFile = ""
  let buffer: Array<string> = []
  const pending: Array<[string, string]> = []
  const flushRun = () => {
    if (buffer.length > 0) pending.push([currentFile, buffer.join("")])
    buffer = []
  }
  await forEachRow(
    spool,
    (line, t1, t2, t3) => {
      const file = Path.join(work, "labels", line.slice(0, t1), `${line.slice(t1 + 1, t2)}.txt`)
      if (file !== currentFile) {
        flushRun()
        currentFile = file
      }
      buffer.push(`${indexById.get(ids[Number(line.slice(t2 + 1, t3))]!)} ${line.slice(t3 + 1)}\n`)
    },
    () => appendAll(pending.splice(0), signal),
    signal
  )
  flushRun()
  await appendAll(pending.splice(0), signal)
}

/** Appends each text to its file in turn, stopping at once when `signal` is aborted. */
const appendAll = async (runs: ReadonlyArray<readonly [string, string]>, signal: AbortSignal): Promise<void> => {
  for (const [file, text] of runs) {
    if (signal.aborted) throw new Error("interrupted")
    await Fsp.appendFile(file, text)
  }
}

/** The Ultralytics dataset description. Names are JSON-quoted, which YAML reads as strings. */
const dataYaml = (
  outputDir: string,
  splits: ReadonlyArray<string>,
  categories: ReadonlyArray<{ id: number; name: string }>
): string => {
  const has = (s: string) => splits.includes(s)
  const train = has("train") ? "train" : splits[0] ?? "all"
  const val = has("validation") ? "validation" : has("val") ? "val" : train
  const lines = [
    "# Ultralytics YOLO dataset written by synapse-ml export",
    `path: ${JSON.stringify(outputDir)}`,
    `train: images/${train}`,
    `val: images/${val}`
  ]
  if (has("test")) lines.push("test: images/test")
  lines.push(`nc: ${categories.length}`, "names:")
  categories.forEach((c, i) => lines.push(`  ${i}: ${JSON.stringify(c.name)}`))
  return lines.join("\n") + "\n"
}

/** Every skip reason, for reports that list zeros too. */
export const skipReasons: ReadonlyArray<SkipReason> = SKIP_REASONS

// ---------------------------------------------------------------------------------------------
// Over the SDK

/** Input of `exportGroundTruth`: which dataset version(s), plus the export options. */
export const ExportGroundTruthInput = Schema.Struct({
  datasetVersionIds: Schema.NonEmptyArray(Id).annotations({
    description:
      "Dataset version ids to export. A data unit in several of them is exported once, with its annotations from the first listed version that has it"
  }),
  ...ExportOptions.fields
})
export type ExportGroundTruthInput = typeof ExportGroundTruthInput.Type

/**
 * The events of dataset versions, one version after another in the order given (the first listed
 * version that has a data unit is the one its annotations come from: see DataUnitOwners), and
 * their number for progress. Several versions are counted with one-event pages, so that no
 * version's first page waits in memory for its turn.
 */
const versionEvents = (ids: ReadonlyArray<number>, options: StreamOptions) =>
  Effect.gen(function*() {
    const gt = yield* GroundTruths
    if (ids.length === 1) return yield* gt.listAllEvents({ ground_truth_dataset_versions: ids }, options)
    const firstPages = yield* Effect.forEach(ids, (id) =>
      gt.listEvents({ ground_truth_dataset_versions: [id] }, { pageSize: 1, urlConversion: false }), {
      concurrency: 4
    })
    // Each version's events are stamped with it when they do not say (see DataUnitOwners).
    return {
      count: firstPages.reduce((sum, page) =>
        sum + page.count, 0),
      stream: Stream.concatAll(Chunk.fromIterable(ids.map((id) =>
        gt.streamEvents({ ground_truth_dataset_versions: [id] }, options).pipe(Stream.map(withVersion(id)))
      )))
    }
  })

/**
 * The seed's `export_ground_truth_data`, done right: exports the events of one or more dataset
 * versions through the SDK (pages fetched ahead with bounded concurrency, files through the cache).
 */
export const exportGroundTruth = Effect.fn("Workflows.exportGroundTruth")(
  function*(input: ExportGroundTruthInput, run: ExportRun = {}) {
    const gt = yield* GroundTruths
    const cache = yield* FileCache
    const ids = [...new Set(input.datasetVersionIds)]
    const versions = yield* Effect.forEach(ids, (id) => gt.getVersion(id), { concurrency: 4 })
    const { count, stream } = yield* versionEvents(ids, {
      pageSize: run.pageSize ?? MAX_PAGE_SIZE,
      prefetch: run.prefetch,
      urlConversion: false
    })
    const { datasetVersionIds: _ids, ...options } = input
    const fetchFile = (entry: FileEntry) => cache.download(entry.url!, { size: entry.size, checksum: entry.checksum })
    return yield* exportEvents({ versions, events: stream, fetchFile, totalEvents: count }, options, run)
  }
)