/**
 * Streaming export of ground truth to COCO, YOLO (Ultralytics layout) and Pascal VOC XML, fixing
 * what most exporters get wrong: one image entry per data unit, whose id is the data unit id (an
 * event listed without its data unit, as the evidenced `fields=` listing answers, is placed by
 * the image file it names, under an id derived from that file: see `eventImage`); boxes are
 * clipped to the image; degenerate input is counted, never written; categories are complete with
 * stable ids. Events are read by the reader analysis and split share (GroundTruthReader.ts), so the
 * three agree on images, sizes, boxes and classes.
 *
 * This module reads and decides (image, split, class, what is skipped and why); each format is a
 * `FormatModule` in `export/` that spools what it needs and assembles its files at the end (see
 * export/FormatWriter.ts). Memory stays flat whatever the dataset size: events are processed page
 * by page, per-image state is a bitmap bit plus 8 bytes of image size, and everything is written
 * inside a work directory in the output directory, renamed into place only when complete, so an
 * interrupted or failed export leaves no partial file behind (export/Workspace.ts).
 */
import { Chunk, Effect, Schema, Stream } from "effect"
import * as Fsp from "node:fs/promises"
import * as Path from "node:path"
import type { FileEntry } from "../schemas/Common.js"
import { Id } from "../schemas/Common.js"
import type { DatasetVersion } from "../schemas/DatasetVersion.js"
import type { GroundTruthEvent } from "../schemas/GroundTruth.js"
import { MAX_PAGE_SIZE } from "../schemas/Page.js"
import { FileCache } from "../services/FileCache.js"
import { GroundTruths } from "../services/GroundTruths.js"
import {
  eventImage,
  preparedOut,
  prepareInto,
  scratchSource,
  SKIP_REASON_TEXT,
  SKIP_REASONS,
  type SkipReason,
  type SourceAnnotation
} from "./Annotations.js"
import { type CocoValidation, CocoValidation as CocoValidationSchema, validateFile } from "./Coco.js"
import { coco } from "./export/CocoWriter.js"
import type { ExportImage, FormatModule, FormatWriter, LayoutEntry, Move } from "./export/FormatWriter.js"
import { pushImage } from "./export/Records.js"
import { safeName, SplitImages, stemOf } from "./export/Resolution.js"
import { voc } from "./export/VocWriter.js"
import { earlierOutputs, ExportError, moveIntoPlace, openWorkspace, toError } from "./export/Workspace.js"
import { yolo } from "./export/YoloWriter.js"
import {
  CategoryTable,
  type EventRead,
  EventReader,
  forEachAnnotation,
  skippedRead,
  versionEvents
} from "./GroundTruthReader.js"
import { IdSet, IdSizeMap } from "./IdSet.js"
import { assignmentOf, readManifest, type SplitManifest } from "./Manifest.js"
import { BufferedWriter } from "./Spool.js"

export { ExportError } from "./export/Workspace.js"

/** Output formats. */
export const ExportFormat = Schema.Literal("coco", "yolo", "voc")
export type ExportFormat = typeof ExportFormat.Type

/** Where per-split files come from: no split (`all`), the events' `category`, or a split manifest. */
export const SplitBy = Schema.Literal("none", "category", "manifest")
export type SplitBy = typeof SplitBy.Type

/** Export options (everything but the data source). */
export const ExportOptions = Schema.Struct({
  format: ExportFormat.annotations({
    description:
      "coco: annotations/instances_<split>.json; yolo: images/, labels/, data.yaml; voc: Annotations/<split>/*.xml, ImageSets/Main/<split>.txt"
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

// ---------------------------------------------------------------------------------------------
// The export

/** The writer of each format (one module each in `export/`). */
const FORMATS: Readonly<Record<ExportFormat, FormatModule>> = { coco, yolo, voc }

/** Every format's per-split outputs, and the images: an earlier export may have been in another format. */
const LAYOUT: ReadonlyArray<LayoutEntry> = [
  ...Object.values(FORMATS).flatMap((f) => f.layout),
  { dir: "images", kind: "dirs" }
]

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

/**
 * Exports events from any source (the SDK, or events in memory) to COCO, YOLO or VOC. See the
 * module comment for the guarantees. Interrupting the returned effect stops between pages and
 * removes the work directory.
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
    const work = yield* openWorkspace(outputDir)
    return yield* runExport(source, options, run, splitBy, assignment, outputDir, work)
  }).pipe(Effect.scoped, Effect.withSpan("Workflows.exportEvents"))

interface SplitState {
  readonly images: SplitImages
  /** The split's image records (Records.ts), which every format assembles from. */
  readonly imagesSpool: BufferedWriter
  imageCount: number
  annotationCount: number
}

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
    const module = FORMATS[format]
    const includeImages = options.includeImages === true
    const placeImages = includeImages || module.placesImages
    const categories = new CategoryTable(options.categoryMap)
    const reader = new EventReader<E>(new IdSizeMap(), source.fetchFile)
    // One version cannot repeat a data unit across versions: no bookkeeping then.
    const owners = source.versions.length > 1 ? new DataUnitOwners() : undefined
    const splits = new Map<string, SplitState>()
    const writers: Array<BufferedWriter> = []
    // File work decided while writing (placing images, per-image files), run after each page in order.
    const fileTasks: Array<{ readonly path: string; readonly run: () => Promise<unknown> }> = []
    const writer: FormatWriter = module.make({
      work,
      outputDir,
      versions: source.versions,
      schedule: (path, task) => void fileTasks.push({ path, run: task }),
      track: (w) => void writers.push(w)
    })
    const skippedEvents: Record<string, number> = {}
    const skippedAnnotations: Record<string, number> = {}
    const examples: Array<{ event: number; dataUnit: number | null; reason: string }> = []
    const unsupportedTools: Record<string, number> = {}
    let eventsRead = 0
    let annotationsWritten = 0
    let imagesWritten = 0
    let imagesDownloaded = 0
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
        const imagesSpool = yield* Effect.tryPromise({
          try: async () => {
            if (placeImages) await Fsp.mkdir(Path.join(work, "images", name), { recursive: true })
            const spool = await BufferedWriter.open(Path.join(work, `images-${name}.spool`))
            writers.push(spool)
            await writer.openSplit(name)
            return spool
          },
          catch: toError("cannot create spool files", work)
        })
        const state: SplitState = { images: new SplitImages(), imagesSpool, imageCount: 0, annotationCount: 0 }
        splits.set(name, state)
        return state
      })

    // Stage 1: per event, decide split and image, read annotations. Synchronous unless a file must
    // be downloaded (image without size, images requested, native data_meta): the common case
    // allocates no fiber, which is what keeps a million annotations fast.
    const resolve = (event: GroundTruthEvent): EventRead | Effect.Effect<EventRead, E> => {
      // The image is the data unit when the event names one, else the primary image of `files`
      // (events listed with `fields=` carry no data unit): see eventImage.
      const img = eventImage(event)
      const id = img.id
      const unit = img.dataUnit
      if (id === undefined) return skippedRead(event, undefined, undefined, "no_image")
      // Checked again when written (where the claim is made); here it spares the downloads.
      if (owners?.claimedElsewhere(event.ground_truth_dataset_version ?? null, id)) {
        return skippedRead(event, id, unit, "in_earlier_version")
      }
      let split = "all"
      if (splitBy === "category") {
        if (event.category == null) return skippedRead(event, id, unit, "no_split")
        split = event.category
      } else if (assignment !== undefined) {
        const s = assignment.get(id)
        if (s === undefined) return skippedRead(event, id, unit, "not_in_manifest")
        split = s
      }
      return reader.read(event, img, split, includeImages && !(splits.get(split)?.images.has(id) ?? false))
    }

    // Stage 2: write, strictly in event order. Synchronous: spool lines go to in-memory buffers.
    // One annotation record and one prepared geometry, overwritten for each annotation.
    const scratch = scratchSource()
    const g = preparedOut()
    let current: { image: ExportImage; state: SplitState; read: EventRead } | undefined
    const writeAnnotation = (a: SourceAnnotation): void => {
      const { image, state, read } = current!
      const reason = prepareInto(a, image.width, image.height, g)
      if (reason !== undefined) {
        noteSkip(skippedAnnotations, reason, read.event, read.dataUnit)
        if (reason === "unsupported_tool" && a.tool !== undefined) {
          unsupportedTools[a.tool] = (unsupportedTools[a.tool] ?? 0) + 1
        }
        return
      }
      const className = categories.nameOf(a)
      if (className === undefined) return noteSkip(skippedAnnotations, "unknown_class", read.event, read.dataUnit)
      const cat = categories.indexOf(className, a)
      categories.list[cat]!.count++
      annotationsWritten++
      state.annotationCount++
      writer.annotation(image, cat, g, a)
    }
    const write = (r: EventRead): void => {
      eventsRead++
      const { event } = r
      if (r.skip !== undefined) return noteSkip(skippedEvents, r.skip, event, r.dataUnit)
      const du = r.imageId!
      if (owners !== undefined && !owners.claim(event.ground_truth_dataset_version ?? null, du)) {
        return noteSkip(skippedEvents, "in_earlier_version", event, r.dataUnit)
      }
      if (r.width === undefined || r.height === undefined) {
        return noteSkip(skippedEvents, "image_size_unknown", event, r.dataUnit)
      }
      const state = splits.get(r.split)!
      const placed = state.images.place(du, safeName(r.image, du))
      const image: ExportImage = {
        id: du,
        split: r.split,
        width: r.width,
        height: r.height,
        name: placed.name,
        stem: stemOf(placed.name)
      }
      if (placed.added) {
        pushImage(state.imagesSpool, du, image.width, image.height, image.name)
        state.imageCount++
        imagesWritten++
        if (includeImages && r.imagePath !== undefined) {
          const from = r.imagePath
          const target = Path.join(work, "images", r.split, placed.name)
          fileTasks.push({ path: target, run: () => Fsp.link(from, target).catch(() => Fsp.copyFile(from, target)) })
          imagesDownloaded++
        }
        writer.image(image)
      }
      current = { image, state, read: r }
      forEachAnnotation(r, scratch, writeAnnotation)
    }

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
      // No read-ahead buffer: a page fetched while this one is written is parsed in a fiber of its
      // own, and a parsed page handed over from another fiber stays reachable for V8's
      // young-generation collector until the next full collection, which raises peak RSS for a few
      // percent of throughput.
      Stream.runForEachChunk((chunk) =>
        Effect.gen(function*() {
          const events = Chunk.toReadonlyArray(chunk)
          const resolved: Array<EventRead> = new Array(events.length)
          const downloads: Array<readonly [number, Effect.Effect<EventRead, E>]> = []
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
    const final = categories.finalize()
    yield* Effect.tryPromise({
      try: () => Promise.all(writers.map((w) => w.close())),
      catch: toError("cannot write spool files", work)
    })
    const names = [...splits.keys()].sort()
    const assembled = yield* Effect.tryPromise({
      try: (signal) =>
        writer.assemble({
          splits: names,
          categories: final,
          imageSpool: (name) => splits.get(name)!.imagesSpool.path
        }, signal),
      catch: toError(`cannot write the ${format} files`, work)
    })
    const files: Array<string> = []
    const moves: Array<Move> = []
    const splitSummaries: Record<string, { images: number; annotations: number; files: Array<string> }> = {}
    for (const name of names) {
      const s = splits.get(name)!
      const splitMoves = [...assembled.splits[name] ?? []]
      if (placeImages) {
        splitMoves.push({ from: Path.join(work, "images", name), to: Path.join(outputDir, "images", name), dir: true })
      }
      const splitFiles = splitMoves.map((m) => m.to)
      moves.push(...splitMoves)
      splitSummaries[name] = { images: s.imageCount, annotations: s.annotationCount, files: splitFiles }
      files.push(...splitFiles)
    }
    moves.push(...assembled.shared)
    files.push(...assembled.shared.map((m) => m.to))

    // Validate what was written (the files themselves, read back as a stream).
    const validation: Record<string, CocoValidation> = {}
    if (Object.keys(assembled.validate).length > 0 && options.validate !== false) {
      progress("validating")
      for (const name of names) {
        const path = assembled.validate[name]
        if (path === undefined) continue
        validation[name] = yield* validateFile(path).pipe(
          Effect.mapError((e) => new ExportError({ detail: e.detail, path: e.path }))
        )
      }
    }

    // Move into place: every file was complete before the first rename.
    yield* moveIntoPlace(moves, outputDir)
    const staleFiles = yield* Effect.promise(() => earlierOutputs(outputDir, new Set(files), LAYOUT))
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
      categories: final.categories,
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
 * The official SDK's `export_ground_truth_data`, done right: exports the events of one or more dataset
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
