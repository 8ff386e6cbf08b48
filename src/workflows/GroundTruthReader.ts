/**
 * The one reading of ground truth that export, split and analysis share, so that the three see the
 * same images, the same boxes and the same classes (docs/wire-protocol.md "Ground-truth events"
 * and "Native annotations"):
 * - `versionEvents`: the events of dataset versions, one version after another in the order given,
 *   each stamped with its version when it does not say;
 * - `EventReader.read`: an event's image (data unit, else the image file it names), the image's
 *   size (file entry, else a size already seen for that image, else the image file's header), and
 *   its annotations (inline in either form, else from its `data_meta_*` files);
 * - `readDataMeta`: the one loop that downloads and reads `data_meta_*` files;
 * - `forEachAnnotation` + `prepareInto` (Annotations.ts): every annotation checked, clipped to the
 *   image and rounded, or skipped with a reason;
 * - `CategoryTable`: class names and the final category ids, decided once every class is seen.
 * Reading never fails on malformed data: what cannot be used carries a skip reason.
 */
import { Chunk, Effect, Either, Stream } from "effect"
import * as Fsp from "node:fs/promises"
import type { FileEntry } from "../schemas/Common.js"
import type { GroundTruthEvent } from "../schemas/GroundTruth.js"
import { GroundTruths, type StreamOptions } from "../services/GroundTruths.js"
import {
  eventAnnotations,
  type EventImage,
  fromDataMeta,
  type MutableSourceAnnotation,
  readEventAnnotation,
  type SkipReason,
  type SourceAnnotation,
  withVersion
} from "./Annotations.js"
import type { IdSizeMap } from "./IdSet.js"
import { readImageSize } from "./ImageSize.js"

// ---------------------------------------------------------------------------------------------
// Events of dataset versions

/**
 * The events of dataset versions, one version after another in the order given (so that the first
 * listed version that has a data unit is the one a reader takes its annotations from), each event
 * stamped with the version being listed when it does not say (the evidenced `fields=` listing does
 * not). With `count`, their number too, for progress: several versions are counted with one-event
 * pages, so that no version's first page waits in memory for its turn.
 */
export const versionEvents = (ids: ReadonlyArray<number>, options: StreamOptions, count = true) =>
  Effect.gen(function*() {
    const gt = yield* GroundTruths
    if (ids.length === 1 && count) {
      return yield* gt.listAllEvents({ ground_truth_dataset_versions: ids }, options)
    }
    if (ids.length === 1) {
      return { count: undefined, stream: gt.streamEvents({ ground_truth_dataset_versions: ids }, options) }
    }
    const firstPages = count
      ? yield* Effect.forEach(
        ids,
        (id) => gt.listEvents({ ground_truth_dataset_versions: [id] }, { pageSize: 1, urlConversion: false }),
        { concurrency: 4 }
      )
      : undefined
    return {
      count: firstPages?.reduce((sum, page) => sum + page.count, 0),
      stream: Stream.concatAll(
        Chunk.fromIterable(
          ids.map((id) =>
            gt.streamEvents({ ground_truth_dataset_versions: [id] }, options).pipe(Stream.map(withVersion(id)))
          )
        )
      )
    }
  })

// ---------------------------------------------------------------------------------------------
// One event

/** An event read: its image, the image's size, and where its annotations are. */
export interface EventRead {
  readonly event: GroundTruthEvent
  /** Why the whole event cannot be used (`no_image`, `data_meta_unreadable`, or the caller's reason). */
  readonly skip: SkipReason | undefined
  /** The image id: the data unit id, or the id derived from the image file (see `eventImage`). */
  readonly imageId: number | undefined
  /** The data unit id when the event names one. */
  readonly dataUnit: number | undefined
  /** The key of the image in the event's `files` (`image_1`), which native annotations are keyed by. */
  readonly fileKey: string | undefined
  /** The split the caller placed the event in (`all` when it does not split). */
  readonly split: string
  readonly image: FileEntry | undefined
  /** The image file, when it was downloaded (its size was unknown, or the caller wants the file). */
  readonly imagePath: string | undefined
  /** The image's size, `undefined` when neither the file entry, an earlier event nor the header says. */
  readonly width: number | undefined
  readonly height: number | undefined
  /** Annotations already read (the inline native form, or the `data_meta_*` files). */
  readonly sources: ReadonlyArray<SourceAnnotation>
  /** The event's own `data.annotations` list, read one entry at a time by `forEachAnnotation`. */
  readonly raw: ReadonlyArray<unknown> | undefined
  /** True when the annotations are only in `data_meta_*` files and there was no downloader. */
  readonly unread: boolean
}

/** An event that cannot be used as a whole, for `reason`. */
export const skippedRead = (
  event: GroundTruthEvent,
  imageId: number | undefined,
  dataUnit: number | undefined,
  reason: SkipReason
): EventRead => ({
  event,
  skip: reason,
  imageId,
  dataUnit,
  fileKey: undefined,
  split: "all",
  image: undefined,
  imagePath: undefined,
  width: undefined,
  height: undefined,
  sources: [],
  raw: undefined,
  unread: false
})

const positive = (v: number | null | undefined): v is number => typeof v === "number" && Number.isFinite(v) && v > 0

/**
 * Reads the `data_meta_*` files `keys` of an event (downloaded through `fetchFile`, or from their
 * local `path`): the annotations of image `fileKey` in every readable file, and
 * `data_meta_unreadable` when one of them is not JSON in the native form.
 */
export const readDataMeta = <E>(
  event: GroundTruthEvent,
  keys: ReadonlyArray<string>,
  fileKey: string | undefined,
  fetchFile: (entry: FileEntry) => Effect.Effect<string, E>
): Effect.Effect<{ readonly sources: Array<SourceAnnotation>; readonly skip: SkipReason | undefined }, E> =>
  Effect.gen(function*() {
    const sources: Array<SourceAnnotation> = []
    let skip: SkipReason | undefined
    for (const key of keys) {
      const entry = event.files![key]!
      if (typeof entry.url !== "string" && entry.path === undefined) continue
      const path = entry.path ?? (yield* fetchFile(entry))
      const json = yield* Effect.promise(() =>
        Fsp.readFile(path, "utf8").then((t) => JSON.parse(t) as unknown).catch(() => undefined)
      )
      const read = fromDataMeta(json, fileKey)
      if (Either.isLeft(read)) skip = read.left
      else sources.push(...read.right)
    }
    return { sources, skip }
  })

/**
 * Reads events against one table of image sizes: an image's size, once known from a file entry or
 * a header, serves its later events. Synchronous unless a file must be downloaded (an image of
 * unknown size or one the caller wants, `data_meta_*` files): the common case allocates no fiber.
 * Without `fetchFile` nothing is downloaded: the size stays unknown and annotations only in files
 * are left unread (`unread`).
 */
export class EventReader<E> {
  constructor(
    private readonly sizes: IdSizeMap,
    private readonly fetchFile: ((entry: FileEntry) => Effect.Effect<string, E>) | undefined
  ) {}

  /** The first size seen for an image is the one its later events without a size get. */
  private remember(id: number, width: number, height: number): void {
    if (Number.isNaN(this.sizes.width(id))) this.sizes.set(id, width, height)
  }

  /**
   * Reads `event`, whose image is `img` (see `eventImage`); `split` is stored as given; `wantImage`
   * downloads the image file even when its size is known. An event without an image is read
   * (inline annotations only, for statistics) with the skip reason `no_image`.
   */
  read(event: GroundTruthEvent, img: EventImage, split: string, wantImage: boolean):
    | EventRead
    | Effect.Effect<
      EventRead,
      E
    >
  {
    const id = img.id
    const unit = img.dataUnit
    if (id === undefined) {
      const found = eventAnnotations(event, img.fileKey)
      return {
        ...skippedRead(event, undefined, unit, "no_image"),
        fileKey: img.fileKey,
        sources: found._tag === "native" ? found.sources : [],
        raw: found._tag === "list" ? found.list : undefined
      }
    }
    const image = img.entry
    let width = positive(image?.width) ? image.width : undefined
    let height = positive(image?.height) ? image.height : undefined
    if (width === undefined || height === undefined) {
      const known = this.sizes.get(id)
      width = known?.[0]
      height = known?.[1]
    }
    const needSize = width === undefined || height === undefined
    const fetchFile = this.fetchFile
    const needImage = fetchFile !== undefined && image !== undefined && (needSize || wantImage)
    const found = eventAnnotations(event, img.fileKey)
    const raw = found._tag === "list" ? found.list : undefined
    const inline = found._tag === "native" ? found.sources : []
    const metaKeys = found._tag === "files" ? found.keys : []
    if (!needImage && (metaKeys.length === 0 || fetchFile === undefined)) {
      if (!needSize) this.remember(id, width!, height!)
      return {
        event,
        skip: undefined,
        imageId: id,
        dataUnit: unit,
        fileKey: img.fileKey,
        split,
        image,
        imagePath: undefined,
        width,
        height,
        sources: inline,
        raw,
        unread: metaKeys.length > 0
      }
    }
    const remember = (w: number, h: number) => this.remember(id, w, h)
    return Effect.gen(function*() {
      let imagePath: string | undefined
      if (needImage && (typeof image!.url === "string" || image!.path !== undefined)) {
        imagePath = image!.path ?? (yield* fetchFile!(image!))
        if (needSize) {
          // An unreadable or unknown header leaves the size unknown: image_size_unknown for the caller.
          const header = yield* Effect.promise(() => readImageSize(imagePath!).catch(() => undefined))
          if (header !== undefined) {
            width = header.width
            height = header.height
          }
        }
      }
      if (width !== undefined && height !== undefined) remember(width, height)
      let sources: ReadonlyArray<SourceAnnotation> = inline
      let skip: SkipReason | undefined
      if (metaKeys.length > 0) {
        const meta = yield* readDataMeta(event, metaKeys, img.fileKey, fetchFile!)
        sources = meta.sources
        skip = meta.skip
      }
      return {
        event,
        skip,
        imageId: id,
        dataUnit: unit,
        fileKey: img.fileKey,
        split,
        image,
        imagePath,
        width,
        height,
        sources,
        raw,
        unread: false
      }
    })
  }
}

/**
 * Calls `f` with each annotation of an event read, in order: entries of the rich list are read
 * into `scratch` (one object for all of them), the others are passed as they are.
 */
export const forEachAnnotation = (
  read: EventRead,
  scratch: MutableSourceAnnotation,
  f: (a: SourceAnnotation) => void
): void => {
  const raw = read.raw
  if (raw !== undefined) {
    for (let k = 0; k < raw.length; k++) f(readEventAnnotation(raw[k]!, scratch))
  } else {
    const sources = read.sources
    for (let k = 0; k < sources.length; k++) f(sources[k]!)
  }
}

// ---------------------------------------------------------------------------------------------
// Categories

interface CategoryInfo {
  readonly name: string
  platformId: number | undefined
  conflict: boolean
  count: number
}

/** Classes seen while streaming, by first-seen index; final ids are decided at the end. */
export class CategoryTable {
  /** The classes registered so far, by local index; `count` is the caller's to keep. */
  readonly list: Array<CategoryInfo> = []
  private readonly byName = new Map<string, number>()
  private readonly nameById = new Map<number, string>()

  /** @param override class name → category id; classes not in it are unknown. */
  constructor(private readonly override: Readonly<Record<string, number>> | undefined) {}

  /**
   * The class name of an annotation, or `undefined` for an unknown class: its `category`, else the
   * name an earlier annotation gave its `category_id`, else `class_<id>`.
   */
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
    const byName = (a: number, b: number) =>
      this.list[a]!.name < this.list[b]!.name ? -1 : this.list[a]!.name > this.list[b]!.name ? 1 : 0
    const order = this.list.map((_, i) => i).sort(byName)
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
