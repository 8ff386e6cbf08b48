/**
 * Events in the evidenced shapes, in memory: annotations inline in the platform's native form
 * (`annotations` + `annotationsData` joined by id) and in `data_meta_*` files keyed `image` or
 * `image_1`, events with no data unit (the image taken from `files`, its size from the header),
 * and every way a native annotation or an image can be unusable, each a counted reason. The same
 * units written in the rich form must export to the same COCO content.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema, Stream } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import type { FileEntry } from "../../src/schemas/Common.js"
import type { DatasetVersion } from "../../src/schemas/DatasetVersion.js"
import { GroundTruthEvent } from "../../src/schemas/GroundTruth.js"
import { FileCache } from "../../src/services/FileCache.js"
import { GroundTruths } from "../../src/services/GroundTruths.js"
import { collectGroundTruth } from "../../src/workflows/Analyze.js"
import { eventImage, fromNative, imageIdentity, nativeKey } from "../../src/workflows/Annotations.js"
import { validate } from "../../src/workflows/Coco.js"
import { exportEvents, type ExportOptions, type ExportRun } from "../../src/workflows/Export.js"
import { GroundTruthCollector, readGroundTruth } from "../../src/workflows/GroundTruthSummary.js"
import { IdSet, IdSizeMap, syntheticImageId } from "../../src/workflows/IdSet.js"
import { readImageSize, sizeFromHeader } from "../../src/workflows/ImageSize.js"
import { splitEvents } from "../../src/workflows/Split.js"

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "native-test-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))
let n = 0
const outDir = () => Path.join(root, `out-${++n}`)

const version: DatasetVersion = { id: 7, name: "v1" }

/** The first bytes of a PNG of `width` x `height`: all the header reader needs. */
const pngHeader = (width: number, height: number): Buffer => {
  const b = Buffer.alloc(33)
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b, 0)
  b.writeUInt32BE(13, 8)
  b.write("IHDR", 12, "latin1")
  b.writeUInt32BE(width, 16)
  b.writeUInt32BE(height, 20)
  return b
}

/** Files the fake downloader serves, by URL without the query (a presigned URL's query varies). */
const served = new Map<string, string>()
const serve = (url: string, content: Buffer | string): string => {
  const file = Path.join(root, `file-${served.size + 1}`)
  Fs.writeFileSync(file, content)
  served.set(url, file)
  return url
}
const downloads: Array<string> = []
const fetchFile = (entry: FileEntry) =>
  Effect.sync(() => {
    const url = entry.url!.split("?")[0]!
    downloads.push(url)
    const file = served.get(url)
    if (file === undefined) throw new Error(`unexpected download ${url}`)
    return file
  })

const run = (events: ReadonlyArray<GroundTruthEvent>, options: Partial<ExportOptions> = {}, extra: ExportRun = {}) => {
  const outputDir = options.outputDir ?? outDir()
  return exportEvents({ versions: [version], events: Stream.fromIterable(events), fetchFile }, {
    format: "coco",
    outputDir,
    ...options
  }, extra).pipe(
    Effect.map((summary) => ({
      summary,
      outputDir,
      coco: JSON.parse(Fs.readFileSync(Path.join(outputDir, "annotations", "instances_all.json"), "utf8"))
    }))
  )
}

type Box = readonly [number, number, number, number]
interface Shape {
  readonly cls: string
  readonly box?: Box
  readonly polygon?: ReadonlyArray<number>
}

/** The native form of shapes, under `key`, as the platform writes it. */
const native = (shapes: ReadonlyArray<Shape>, key = "image") => ({
  annotations: {
    [key]: shapes.map((s, i) => ({
      id: `a${i + 1}`,
      tool: s.polygon ? "polygon" : "bounding_box",
      classification: { class: s.cls }
    }))
  },
  annotationsData: {
    [key]: shapes.map((s, i) => ({
      id: `a${i + 1}`,
      coordinate: s.polygon
        ? Array.from({ length: s.polygon.length / 2 }, (_, k) => ({ x: s.polygon![2 * k], y: s.polygon![2 * k + 1] }))
        : { x: s.box![0], y: s.box![1], width: s.box![2], height: s.box![3] }
    }))
  }
})

/** The rich form of the same shapes. */
const rich = (shapes: ReadonlyArray<Shape>) =>
  shapes.map((s) => {
    if (s.polygon === undefined) return { category: s.cls, bbox: [...s.box!] }
    const xs = s.polygon.filter((_, i) => i % 2 === 0), ys = s.polygon.filter((_, i) => i % 2 === 1)
    const x = Math.min(...xs), y = Math.min(...ys)
    return { category: s.cls, bbox: [x, y, Math.max(...xs) - x, Math.max(...ys) - y], segmentation: [[...s.polygon]] }
  })

let eventId = 500
const decode = Schema.decodeUnknownSync(GroundTruthEvent)

/** An event as the evidenced `fields=category&fields=files&fields=data` listing answers it: no data unit, no version. */
const evidenceEvent = (image: string, data: unknown, files: Record<string, unknown> = {}): GroundTruthEvent =>
  decode({
    id: ++eventId,
    category: "train",
    files: {
      image_1: { url: `${image}?expires=${eventId}&signature=x`, file_type: "image", is_primary: true },
      ...files
    },
    data
  })

const units: ReadonlyArray<
  { readonly image: string; readonly width: number; readonly height: number; readonly shapes: ReadonlyArray<Shape> }
> = [
  {
    image: "https://s3.example/bucket/img/1.png",
    width: 200,
    height: 100,
    shapes: [{ cls: "car", box: [10, 10, 50, 30] }, { cls: "person", polygon: [5, 5, 40, 5, 40, 60, 5, 60] }]
  },
  {
    image: "https://s3.example/bucket/img/2.png",
    width: 64,
    height: 48,
    shapes: [{ cls: "car", box: [50, 40, 30, 30] }]
  },
  {
    image: "https://s3.example/bucket/img/3.png",
    width: 300,
    height: 200,
    shapes: [{ cls: "dog", box: [0.5, 0.25, 10.125, 20] }, { cls: "car", box: [100, 100, 20, 20] }]
  }
]
for (const u of units) serve(u.image, pngHeader(u.width, u.height))

describe("native form, no data unit: export", () => {
  it.effect("exports the same COCO content as the rich form of the same units; sizes come from the image headers", () =>
    Effect.gen(function*() {
      // The rich events name their data units and sizes; the evidenced ones only their files.
      const richEvents: Array<GroundTruthEvent> = units.map((u, i) => ({
        id: ++eventId,
        ground_truth_dataset_version: 7,
        category: "train",
        data: { type: "image", annotations: rich(u.shapes) },
        data_unit: {
          id: i + 1,
          files: { image: { name: `${i + 1}.png`, url: u.image, width: u.width, height: u.height } }
        }
      }))
      const evidenceEvents = units.map((u) => evidenceEvent(u.image, native(u.shapes)))
      downloads.length = 0
      const a = yield* run(richEvents)
      expect(downloads).toStrictEqual([])
      const b = yield* run(evidenceEvents)
      expect(downloads.sort()).toStrictEqual(units.map((u) => u.image).sort())
      expect(b.summary.skipped).toStrictEqual({
        events: {},
        annotations: {},
        meaning: {},
        unsupportedTools: {},
        examples: []
      })
      expect(b.coco.images.map((i: any) => [i.file_name, i.width, i.height])).toStrictEqual(
        a.coco.images.map((i: any) => [i.file_name, i.width, i.height])
      )
      expect(b.coco.images.map((i: any) => i.id)).toStrictEqual(units.map((u) => syntheticImageId(`url:${u.image}`)))
      const strip = (c: any) => c.annotations.map(({ image_id: _i, ...rest }: any) => rest)
      expect(strip(b.coco)).toStrictEqual(strip(a.coco))
      expect(b.coco.categories).toStrictEqual(a.coco.categories)
      expect(b.summary.valid).toBe(true)
      expect(validate(b.coco).valid).toBe(true)
    }))

  it.effect("two passes over one image (presigned URLs differing in the query) are one image; data_meta files keyed image_1 or image are read", () =>
    Effect.gen(function*() {
      const u = units[0]!
      const metaA = serve(
        "https://s3.example/bucket/meta/a.json",
        JSON.stringify(native(u.shapes.slice(0, 1), "image_1"))
      )
      const metaB = serve("https://s3.example/bucket/meta/b.json", JSON.stringify(native(u.shapes.slice(1), "image")))
      const first = evidenceEvent(u.image, {}, { data_meta_1: { url: `${metaA}?sig=1` } })
      const second = evidenceEvent(u.image, null, { data_meta_1: { url: `${metaB}?sig=2` } })
      const { coco, summary } = yield* run([first, second])
      expect(coco.images.length).toBe(1)
      expect(coco.annotations.map((a: any) => [a.image_id, a.bbox])).toStrictEqual([
        [coco.images[0].id, [10, 10, 50, 30]],
        [coco.images[0].id, [5, 5, 35, 55]]
      ])
      expect(summary.classCounts).toStrictEqual({ car: 1, person: 1 })
    }))

  it.effect("what cannot be used is a counted reason: unsupported tool, no coordinate, orphan coordinate, malformed entries, no size, no image", () =>
    Effect.gen(function*() {
      const u = units[1]!
      const data = {
        annotations: {
          image: [
            { id: "k", tool: "keypoint", classification: { class: "car" } },
            { id: "nocoord", tool: "bounding_box", classification: { class: "car" } },
            { id: "ok", tool: "bounding_box", classification: { class: "car" } },
            { id: "label", tool: "classification", classification: { class: "street" } },
            42
          ]
        },
        annotationsData: {
          image: [
            { id: "k", coordinate: [{ x: 1, y: 1 }] },
            { id: "ok", coordinate: { x: 1, y: 2, width: 3, height: 4 } },
            { id: "orphan", coordinate: { x: 0, y: 0, width: 1, height: 1 } },
            { id: "label" }
          ]
        }
      }
      const usable = evidenceEvent(u.image, data)
      // An image whose entry has no size and whose file is no image.
      const notAnImage = serve("https://s3.example/bucket/img/text.png", "not an image at all")
      const sizeless = evidenceEvent(notAnImage, native([{ cls: "car", box: [1, 1, 2, 2] }]))
      // An event naming no image at all (no data unit, no image entry).
      const imageless = decode({
        id: ++eventId,
        category: "train",
        files: { data_meta_1: { url: "https://s3.example/x.json" } },
        data: native([{ cls: "car", box: [1, 1, 2, 2] }])
      })
      const { summary, coco } = yield* run([usable, sizeless, imageless])
      expect(summary.skipped.annotations).toStrictEqual({
        unsupported_tool: 1,
        coordinate_missing: 1,
        unmatched_annotation_data: 1,
        malformed_annotation: 1
      })
      expect(summary.skipped.unsupportedTools).toStrictEqual({ keypoint: 1 })
      expect(Object.keys(summary.skipped.meaning!)).toStrictEqual([
        "image_size_unknown",
        "no_image",
        "unsupported_tool",
        "coordinate_missing",
        "unmatched_annotation_data",
        "malformed_annotation"
      ])
      expect(summary.skipped.meaning!.coordinate_missing).toBe(
        "a native annotation has no `annotationsData` entry with its id (no coordinate)"
      )
      expect(summary.skipped.events).toStrictEqual({ image_size_unknown: 1, no_image: 1 })
      expect(summary.skipped.examples.map((e) => [e.event, e.dataUnit, e.reason])).toStrictEqual([
        [usable.id, null, "unsupported_tool"],
        [usable.id, null, "coordinate_missing"],
        [usable.id, null, "malformed_annotation"],
        [usable.id, null, "unmatched_annotation_data"],
        [sizeless.id, null, "image_size_unknown"],
        [imageless.id, null, "no_image"]
      ])
      expect(coco.annotations.map((a: any) => a.bbox)).toStrictEqual([[1, 2, 3, 4]])
    }))

  it("a malformed native entry decodes (one bad annotation never fails a page); the list and the record both decode", () => {
    const event = decode({
      id: 1,
      data: { annotations: { image: [7, null, { tool: 3 }], image_2: "x" }, annotationsData: { image: "nope" } }
    })
    expect(Array.isArray(event.data!.annotations)).toBe(false)
    // `annotationsData.image` is not a list, 7 and null are not objects; an object without a tool is an unsupported tool.
    expect(
      fromNative(event.data!.annotations as any, event.data!.annotationsData, undefined).map((
        a
      ) => [a.unusable, a.tool])
    ).toStrictEqual([
      ["malformed_annotation", undefined],
      ["malformed_annotation", undefined],
      ["malformed_annotation", undefined],
      ["unsupported_tool", "(none)"]
    ])
    const listed = decode({ id: 2, data: { annotations: [{ bbox: "not a box" }, 5] } })
    expect(listed.data!.annotations).toStrictEqual([{ bbox: "not a box" }, 5])
  })
})

describe("reading rules", () => {
  it("`bbox` reads as `bounding_box`, and a polygon's points may come as `{points: [...]}`", () => {
    const read = fromNative(
      {
        image: [{ id: 1, tool: "bbox", classification: { class: "car" } }, {
          id: 2,
          tool: "polygon",
          classification: { class: "dog" }
        }]
      },
      {
        image: [{ id: 1, coordinate: { x: 1, y: 2, width: 3, height: 4 } }, {
          id: 2,
          coordinate: { points: [{ x: 0, y: 0 }, { x: 4, y: 0 }, { x: 4, y: 3 }] }
        }]
      },
      undefined
    )
    expect(read.map((a) => [a.tool, a.categoryName, a.bbox, a.polygons, a.unusable])).toStrictEqual([
      ["bounding_box", "car", [1, 2, 3, 4], undefined, undefined],
      ["polygon", "dog", undefined, [[0, 0, 4, 0, 4, 3]], undefined]
    ])
  })

  it("the native key: the image's file key, else `image`, else the only key, else the lowest image key", () => {
    expect(nativeKey({ image_1: [], image: [] }, "image_1")).toBe("image_1")
    expect(nativeKey({ image_1: [], image: [] }, "image_2")).toBe("image")
    expect(nativeKey({ pcd_1: [] }, "image_1")).toBe("pcd_1")
    expect(nativeKey({ video: [], image_3: [], image_2: [] }, undefined)).toBe("image_2")
    expect(nativeKey({}, "image_1")).toBe(undefined)
  })

  it("the image: the data unit when named, else the primary file (is_primary, file_type image, image_* key), identified by its URL without the query", () => {
    const withUnit = decode({
      id: 1,
      data_unit: { id: 9, files: { image: { url: "u" } } },
      files: { image_1: { url: "v" } }
    })
    expect(eventImage(withUnit)).toMatchObject({ id: 9, dataUnit: 9, fileKey: "image_1", entry: { url: "u" } })
    const unitFilesOnly = decode({ id: 2, data_unit: { files: { image: { url: "https://h/a.png?x=1" } } } })
    expect(eventImage(unitFilesOnly).id).toBe(syntheticImageId("url:https://h/a.png"))
    const primary = decode({
      id: 3,
      files: {
        image_2: { url: "https://h/b.png" },
        data_meta_1: { url: "m" },
        photo: { url: "https://h/c.png", is_primary: true }
      }
    })
    expect(eventImage(primary)).toMatchObject({ fileKey: "photo", id: syntheticImageId("url:https://h/c.png") })
    const typed = decode({
      id: 4,
      files: { scan: { url: "https://h/d.png", file_type: "image" }, data_meta_1: { url: "m" } }
    })
    expect(eventImage(typed).fileKey).toBe("scan")
    expect(eventImage(decode({ id: 5, files: { data_meta_1: { url: "m" } } })).id).toBe(undefined)
    expect(imageIdentity({ checksum: "abc" })).toBe("checksum:abc")
    expect(syntheticImageId("url:x")).toBeGreaterThanOrEqual(2 ** 52)
    expect(Number.isSafeInteger(syntheticImageId("url:x"))).toBe(true)
  })

  it("IdSet and IdSizeMap keep scattered (derived) ids without a bitmap page each", () => {
    const ids = new IdSet()
    const sizes = new IdSizeMap()
    const big = syntheticImageId("url:a")
    expect(ids.add(big)).toBe(true)
    expect(ids.add(big)).toBe(false)
    expect(ids.has(big)).toBe(true)
    expect(ids.has(big + 1)).toBe(false)
    expect(ids.add(5)).toBe(true)
    expect(ids.size).toBe(2)
    sizes.set(big, 640.5, 480)
    expect(sizes.get(big)).toStrictEqual([640.5, 480])
    expect([sizes.width(big), sizes.height(big)]).toStrictEqual([640.5, 480])
    expect(sizes.get(big + 1)).toBe(undefined)
    expect(Number.isNaN(sizes.width(big + 1))).toBe(true)
  })
})

describe("image sizes from the file header", () => {
  /** A JPEG: SOI, `metadata` APP segments of `segment` bytes each (a fill byte and RST0 between), then SOF0 (height 300, width 400). */
  const jpeg = (metadata: number, segment: number): Buffer => {
    const parts: Array<Buffer> = [Buffer.from([0xff, 0xd8])]
    for (let i = 0; i < metadata; i++) {
      const app = Buffer.alloc(2 + segment)
      app.writeUInt16BE(0xffe1, 0)
      app.writeUInt16BE(segment, 2)
      parts.push(app, Buffer.from([0xff, 0xff, 0xd0]))
    }
    parts.push(Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08, 0x01, 0x2c, 0x01, 0x90, 0x03, 0, 0, 0]), Buffer.alloc(64))
    return Buffer.concat(parts)
  }
  const write = (name: string, bytes: Buffer) => {
    const file = Path.join(root, name)
    Fs.writeFileSync(file, bytes)
    return file
  }

  it("a JPEG whose frame marker lies past the first 64 KiB (large EXIF/ICC segments) is still measured", async () => {
    expect(sizeFromHeader(jpeg(1, 100))).toStrictEqual({ width: 400, height: 300 })
    const far = jpeg(3, 60_000)
    expect(far.length).toBeGreaterThan(65536)
    expect(sizeFromHeader(far.subarray(0, 65536))).toBe(undefined)
    expect(await readImageSize(write("far.jpg", far))).toStrictEqual({ width: 400, height: 300 })
  })

  it("a truncated JPEG, scan data before any frame, or no image at all: size unknown (the export's image_size_unknown)", async () => {
    expect(await readImageSize(write("cut.jpg", jpeg(3, 60_000).subarray(0, 100_000)))).toBe(undefined)
    expect(await readImageSize(write("scan.jpg", Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, 1, 2, 3])))).toBe(
      undefined
    )
    expect(await readImageSize(write("text.jpg", Buffer.from("plain text")))).toBe(undefined)
    expect(await readImageSize(write("empty.jpg", Buffer.alloc(0)))).toBe(undefined)
  })
})

describe("native form, no data unit: split and analysis", () => {
  it.effect("split groups the passes of one image and the export places them by the manifest", () =>
    Effect.gen(function*() {
      const events = units.flatMap((
        u
      ) => [evidenceEvent(u.image, native(u.shapes)), evidenceEvent(u.image, native([]))])
      const { summary, manifest } = yield* splitEvents({
        events: Stream.fromIterable(events),
        inputs: { dataset_versions: [7] }
      }, { seed: 3, ratios: { train: 0.67, validation: 0.33 } })
      expect(summary.total).toStrictEqual({ images: 3, events: 6, annotations: 5 })
      expect(summary.leakedImages).toBe(0)
      const ids = Object.values(manifest.splits).flatMap((s) => s.data_units).sort()
      expect(ids).toStrictEqual(units.map((u) => syntheticImageId(`url:${u.image}`)).sort())
      const outputDir = outDir()
      const exported = yield* exportEvents({ versions: [version], events: Stream.fromIterable(events), fetchFile }, {
        format: "coco",
        outputDir,
        splitBy: "manifest"
      }, { manifest })
      expect(exported.skipped.events).toStrictEqual({})
      for (const [name, s] of Object.entries(manifest.splits)) {
        if (s.images === 0) continue
        expect(exported.splits[name]!.images).toBe(s.images)
        expect(exported.splits[name]!.annotations).toBe(s.annotations)
      }
    }))

  it.effect("analysis reads inline native annotations: classes, boxes under the export's ids, category ids in name order, the classification label", () =>
    Effect.gen(function*() {
      const labelled = (u: (typeof units)[number], label: string) => {
        const data = native(u.shapes)
        data.annotations.image.push({ id: "label", tool: "classification", classification: { class: label } })
        return evidenceEvent(u.image, data)
      }
      const events = [
        ...units.map((u, i) => labelled(u, i === 1 ? "night" : "day")),
        evidenceEvent("https://s3.example/only-meta.png", {}, { data_meta_1: { url: "https://s3.example/m.json" } })
      ]
      // Without a downloader the image sizes (not in the file entries) stay unknown: no boxes, as
      // the export would write none; with one, the sizes come from the image headers.
      const offline = new GroundTruthCollector(true)
      for (const e of events) offline.add(e)
      expect(offline.detectionDataset().annotations).toStrictEqual([])
      expect(offline.stats().unusableAnnotations).toStrictEqual({ image_size_unknown: 5 })
      const collector = yield* readGroundTruth(Stream.fromIterable(events.slice(0, 3)), true, { fetchFile })
      collector.add(events[3]!)
      const stats = collector.stats()
      expect(stats.events).toBe(4)
      expect(stats.dataUnits).toBe(4)
      expect(stats.dataTypes).toStrictEqual({ image: 3, unknown: 1 })
      expect(stats.classes).toStrictEqual({ car: 3, person: 1, dog: 1 })
      expect(stats.labels).toStrictEqual({ day: 2, night: 1 })
      expect(stats.unreadEvents).toStrictEqual({ data_meta_files: 1 })
      expect(stats.unusableAnnotations).toStrictEqual({})
      const dataset = collector.detectionDataset()
      expect(dataset.categories).toStrictEqual([{ id: 1, name: "car" }, { id: 2, name: "dog" }, {
        id: 3,
        name: "person"
      }])
      const first = syntheticImageId(`url:${units[0]!.image}`)
      expect(dataset.annotations.filter((a) => a.image_id === first)).toStrictEqual([
        { image_id: first, category_id: 1, bbox: [10, 10, 50, 30], area: 1500, iscrowd: 0 },
        { image_id: first, category_id: 3, bbox: [5, 5, 35, 55], area: 35 * 55, iscrowd: 0 }
      ])
      // Clipped to the 64 x 48 image, as the export clips it.
      const second = syntheticImageId(`url:${units[1]!.image}`)
      expect(dataset.annotations.filter((a) => a.image_id === second)).toStrictEqual([
        { image_id: second, category_id: 1, bbox: [50, 40, 14, 8], area: 112, iscrowd: 0 }
      ])
    }))

  it.effect("analysis downloads data_meta files when the file cache is there, and says which events it could not read otherwise", () =>
    Effect.gen(function*() {
      const u = units[0]!
      const meta = serve("https://s3.example/bucket/meta/collect.json", JSON.stringify(native(u.shapes, "image_1")))
      const broken = serve("https://s3.example/bucket/meta/broken.json", "{ not json")
      const events = [
        evidenceEvent(u.image, {}, { data_meta_1: { url: `${meta}?s=1` } }),
        evidenceEvent(units[1]!.image, native(units[1]!.shapes)),
        evidenceEvent(units[2]!.image, {}, { data_meta_1: { url: broken } })
      ]
      // Only what collectGroundTruth uses of the services.
      const groundTruths = Layer.succeed(
        GroundTruths,
        {
          listAllEvents: () => Effect.succeed({ count: events.length, stream: Stream.fromIterable(events) })
        } as unknown as GroundTruths["Type"]
      )
      const cache = Layer.succeed(
        FileCache,
        {
          download: (url: string) => fetchFile({ url })
        } as unknown as FileCache["Type"]
      )
      const withFiles = yield* collectGroundTruth(7, true).pipe(Effect.provide(Layer.merge(groundTruths, cache)))
      expect(withFiles.stats().classes).toStrictEqual({ car: 2, person: 1 })
      expect(withFiles.stats().unusableAnnotations).toStrictEqual({ data_meta_unreadable: 1 })
      expect(withFiles.stats().unreadEvents).toBe(undefined)
      expect(withFiles.detectionDataset().annotations.length).toBe(3)
      const without = yield* collectGroundTruth(7, true).pipe(Effect.provide(groundTruths))
      expect(without.stats().classes).toStrictEqual({ car: 1 })
      expect(without.stats().unreadEvents).toStrictEqual({ data_meta_files: 2 })
    }))
})
