/**
 * The exporter over in-memory events: each defect of the official SDK's example (and of exporters in
 * general) as a regression test, degenerate input, per-split output, both annotation forms, YOLO,
 * and interruption. Golden exports of the sandbox demo data are in Golden.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Exit, Fiber, Stream } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import type { DatasetVersion } from "../../src/schemas/DatasetVersion.js"
import type { GroundTruthEvent } from "../../src/schemas/GroundTruth.js"
import { validate } from "../../src/workflows/Coco.js"
import { exportEvents, type ExportOptions, type ExportRun } from "../../src/workflows/Export.js"

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "export-test-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))
let n = 0
const outDir = () => Path.join(root, `out-${++n}`)

const version: DatasetVersion = {
  id: 7,
  version: "v2.0",
  name: "v2.0",
  ground_truth_dataset: { id: 3, name: "Streets" },
  description: "street scenes",
  created_at: "2026-10-01T12:00:00Z"
}

type Ann = Record<string, unknown>
let eventId = 100
const event = (
  dataUnit: number,
  annotations: ReadonlyArray<Ann>,
  extra: Partial<GroundTruthEvent> & { width?: number | null; height?: number | null } = {}
): GroundTruthEvent => {
  const { width = 200, height = 100, ...rest } = extra
  return {
    id: ++eventId,
    ground_truth_dataset_version: 7,
    category: "train",
    data: {
      type: "image",
      annotations: annotations as GroundTruthEvent["data"] extends infer D
        ? D extends { annotations?: infer A } ? A : never
        : never
    },
    data_unit: {
      id: dataUnit,
      files: { image: { name: `${dataUnit}.png`, url: `mem://${dataUnit}.png`, width, height } }
    },
    ...rest
  } as GroundTruthEvent
}

const noFiles = () => Effect.dieMessage("no file downloads expected")

const run = (
  events: ReadonlyArray<GroundTruthEvent>,
  options: Partial<ExportOptions> = {},
  extra: ExportRun & { fetchFile?: (e: { url?: string | null | undefined }) => Effect.Effect<string> } = {}
) => {
  const outputDir = options.outputDir ?? outDir()
  return exportEvents(
    { versions: [version], events: Stream.fromIterable(events), fetchFile: extra.fetchFile ?? noFiles },
    { format: "coco", outputDir, ...options },
    extra
  ).pipe(Effect.map((summary) => ({ summary, outputDir })))
}

const readCoco = (dir: string, split = "all") =>
  JSON.parse(Fs.readFileSync(Path.join(dir, "annotations", `instances_${split}.json`), "utf8"))

describe("COCO export: the industry's bugs, as regressions", () => {
  it.effect("annotation ids start at 1 and images use the data unit id", () =>
    Effect.gen(function*() {
      const { outputDir } = yield* run([
        event(41, [{ category: "car", bbox: [1, 1, 5, 5] }, { category: "car", bbox: [10, 10, 5, 5] }])
      ])
      const coco = readCoco(outputDir)
      expect(coco.annotations.map((a: Ann) => a.id)).toEqual([1, 2])
      expect(coco.images.map((i: Ann) => i.id)).toEqual([41])
      expect(coco.annotations.every((a: Ann) => a.image_id === 41)).toBe(true)
    }))

  it.effect("categories are complete, with the platform's ids when given", () =>
    Effect.gen(function*() {
      const { outputDir, summary } = yield* run([
        event(1, [{ category: "person", category_id: 5, bbox: [0, 0, 5, 5] }]),
        event(2, [{ category: "car", category_id: 2, bbox: [0, 0, 5, 5] }, {
          category: "person",
          category_id: 5,
          bbox: [0, 0, 6, 6]
        }])
      ])
      const coco = readCoco(outputDir)
      expect(coco.categories).toEqual([{ id: 2, name: "car", supercategory: "" }, {
        id: 5,
        name: "person",
        supercategory: ""
      }])
      expect(coco.annotations.map((a: Ann) => a.category_id)).toEqual([5, 2, 5])
      expect(summary.classCounts).toEqual({ car: 1, person: 2 })
    }))

  it.effect("without platform ids, sorted names get 1..N whatever the order they appear in", () =>
    Effect.gen(function*() {
      const { outputDir } = yield* run([
        event(1, [{ category: "zebra", bbox: [0, 0, 5, 5] }]),
        event(2, [{ category: "apple", bbox: [0, 0, 5, 5] }, { category: "moose", bbox: [0, 0, 5, 5] }])
      ])
      const coco = readCoco(outputDir)
      expect(coco.categories.map((c: Ann) => [c.id, c.name])).toEqual([[1, "apple"], [2, "moose"], [3, "zebra"]])
      expect(coco.annotations.map((a: Ann) => a.category_id)).toEqual([3, 1, 2])
    }))

  it.effect("a category map overrides ids; unlisted classes are skipped as unknown", () =>
    Effect.gen(function*() {
      const { outputDir, summary } = yield* run([
        event(1, [{ category: "car", bbox: [0, 0, 5, 5] }, { category: "boat", bbox: [0, 0, 5, 5] }])
      ], {
        categoryMap: { car: 10, person: 11 }
      })
      const coco = readCoco(outputDir)
      expect(coco.categories.map((c: Ann) => [c.id, c.name])).toEqual([[10, "car"], [11, "person"]])
      expect(coco.annotations.map((a: Ann) => a.category_id)).toEqual([10])
      expect(summary.skipped.annotations).toEqual({ unknown_class: 1 })
    }))

  it.effect("area is the polygon's shoelace area, or w*h for boxes, never 0", () =>
    Effect.gen(function*() {
      const { outputDir } = yield* run([
        event(1, [
          { category: "a", area: 0, segmentation: [[10, 20, 110, 20, 90, 70, 30, 70]] },
          { category: "a", area: 0, bbox: [5, 5, 20, 10] },
          { category: "a", segmentation: [[0, 0, 4, 0, 0, 3]] }
        ])
      ])
      const coco = readCoco(outputDir)
      expect(coco.annotations.map((a: Ann) => a.area)).toEqual([4000, 200, 6])
      expect(coco.annotations[0].bbox).toEqual([10, 20, 100, 50])
    }))

  it.effect("one image entry per data unit, however many events annotate it", () =>
    Effect.gen(function*() {
      const { outputDir, summary } = yield* run([
        event(5, [{ category: "a", bbox: [0, 0, 5, 5] }]),
        event(6, [{ category: "a", bbox: [0, 0, 5, 5] }]),
        event(5, [{ category: "b", bbox: [1, 1, 5, 5] }])
      ])
      const coco = readCoco(outputDir)
      expect(coco.images.map((i: Ann) => i.id)).toEqual([5, 6])
      expect(coco.annotations.map((a: Ann) => a.image_id)).toEqual([5, 6, 5])
      expect(summary.images).toBe(2)
    }))

  it.effect("box-only annotations carry no segmentation; boxes are clipped to the image", () =>
    Effect.gen(function*() {
      const { outputDir } = yield* run([event(1, [{ category: "a", bbox: [-5, 90, 20, 30], segmentation: [] }])])
      const [a] = readCoco(outputDir).annotations
      expect("segmentation" in a).toBe(false)
      expect(a.bbox).toEqual([0, 90, 15, 10])
      expect(a.area).toBe(150)
      expect(a.iscrowd).toBe(0)
    }))

  it.effect("info comes from the dataset version; the output passes the validator", () =>
    Effect.gen(function*() {
      const { outputDir, summary } = yield* run([event(1, [{ category: "a", bbox: [0, 0, 5, 5] }])])
      const coco = readCoco(outputDir)
      expect(coco.info).toMatchObject({
        description: "street scenes",
        version: "v2.0",
        year: 2026,
        date_created: "2026-10-01T12:00:00Z"
      })
      expect(coco.licenses).toEqual([])
      expect(validate(coco).valid).toBe(true)
      expect(summary.valid).toBe(true)
      expect(summary.validation.all!.annotations).toBe(1)
    }))

  it.effect("re-exporting the same events gives byte-identical files", () =>
    Effect.gen(function*() {
      const events = [
        event(1, [{ category: "a", bbox: [0.123456, 0, 5.5, 5] }]),
        event(2, [{ category: "b", segmentation: [[0, 0, 9, 0, 9, 9]] }])
      ]
      const a = yield* run(events)
      const b = yield* run(events)
      expect(Fs.readFileSync(Path.join(a.outputDir, "annotations/instances_all.json"), "utf8")).toBe(
        Fs.readFileSync(Path.join(b.outputDir, "annotations/instances_all.json"), "utf8")
      )
    }))
})

describe("degenerate input is counted, never written", () => {
  const notAnImage = Path.join(root, "not-an-image.png")
  Fs.writeFileSync(notAnImage, "this is not a PNG")

  it.effect("zero/negative sizes, unknown class, outside the image, short polygons, unknown image size", () =>
    Effect.gen(function*() {
      const { outputDir, summary } = yield* run(
        [
          event(1, [
            { category: "a", bbox: [0, 0, 0, 5] },
            { category: "a", bbox: [0, 0, 5, -1] },
            { bbox: [0, 0, 5, 5] },
            { category: "a", bbox: [500, 500, 5, 5] },
            { category: "a", segmentation: [[0, 0, 5, 5]] },
            { category: "a", segmentation: [[300, 300, 310, 300, 310, 310]] },
            { category: "a", bbox: [0, 0, Number.NaN, 5] },
            { category: "a", bbox: [1, 1, 2, 2] }
          ]),
          event(2, [{ category: "a", bbox: [0, 0, 5, 5] }], { width: null, height: null }),
          { ...event(3, [{ category: "a", bbox: [0, 0, 5, 5] }]), data_unit: null }
        ],
        {},
        { fetchFile: () => Effect.succeed(notAnImage) }
      )
      expect(summary.annotations).toBe(1)
      expect(summary.skipped.annotations).toEqual({
        non_positive_size: 2,
        unknown_class: 1,
        outside_image: 2,
        polygon_too_few_points: 1,
        invalid_geometry: 1
      })
      expect(summary.skipped.events).toEqual({ image_size_unknown: 1, no_image: 1 })
      expect(summary.skipped.examples.length).toBe(9)
      const coco = readCoco(outputDir)
      expect(coco.annotations.length).toBe(1)
      expect(coco.images.map((i: Ann) => i.id)).toEqual([1])
    }))
})

describe("sizes and native annotations from files", () => {
  const png = (w: number, h: number) => {
    const b = Buffer.alloc(33)
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]).copy(b)
    b.writeUInt32BE(w, 16)
    b.writeUInt32BE(h, 20)
    return b
  }

  it.effect("reads width/height from the image header when the file entry lacks them, and copies images", () =>
    Effect.gen(function*() {
      const img = Path.join(root, "img-77.png")
      Fs.writeFileSync(img, png(64, 32))
      const downloads: Array<string> = []
      const { outputDir, summary } = yield* run(
        [event(77, [{ category: "a", bbox: [60, 30, 10, 10] }], { width: null, height: null })],
        { includeImages: true },
        {
          fetchFile: (entry) => Effect.sync(() => (downloads.push(String(entry.url)), img))
        }
      )
      const coco = readCoco(outputDir)
      expect(coco.images).toEqual([{ id: 77, file_name: "77.png", width: 64, height: 32 }])
      expect(coco.annotations[0].bbox).toEqual([60, 30, 4, 2])
      expect(Fs.readFileSync(Path.join(outputDir, "images/all/77.png"))).toEqual(png(64, 32))
      expect(summary.imagesDownloaded).toBe(1)
      expect(downloads).toEqual(["mem://77.png"])
    }))

  it.effect("reads native data_meta files (boxes and polygons) when data.annotations is empty", () =>
    Effect.gen(function*() {
      const meta = Path.join(root, "meta-1.json")
      Fs.writeFileSync(
        meta,
        JSON.stringify({
          annotations: {
            image_1: [{ id: "a1", tool: "bounding_box", classification: { class: "car" } }, {
              id: "a2",
              tool: "polygon",
              classification: { class: "tree" }
            }, { id: "a3", tool: "keypoint", classification: { class: "x" } }]
          },
          annotationsData: {
            image_1: [{ id: "a1", coordinate: { x: 10, y: 20, width: 100, height: 50 } }, {
              id: "a2",
              coordinate: [{ x: 0, y: 0 }, { x: 4, y: 0 }, { x: 0, y: 3 }]
            }, { id: "a3", coordinate: [{ x: 1, y: 1 }] }]
          }
        })
      )
      const e: GroundTruthEvent = {
        ...event(9, []),
        files: {
          image_1: { url: "mem://9.png", file_type: "image", is_primary: true },
          data_meta_1: { url: "mem://meta-1.json", file_type: "data_meta" }
        }
      }
      const { outputDir, summary } = yield* run([e], {}, { fetchFile: () => Effect.succeed(meta) })
      const coco = readCoco(outputDir)
      expect(coco.categories.map((c: Ann) => c.name)).toEqual(["car", "tree"])
      expect(coco.annotations.map((a: Ann) => [a.bbox, a.area])).toEqual([[[10, 20, 100, 50], 5000], [[0, 0, 4, 3], 6]])
      expect(coco.annotations[1].segmentation).toEqual([[0, 0, 4, 0, 0, 3]])
      expect(summary.skipped.annotations).toEqual({ unsupported_tool: 1 })
    }))
})

describe("per-split output", () => {
  it.effect("by event category: one file per split, each valid", () =>
    Effect.gen(function*() {
      const { outputDir, summary } = yield* run(
        [
          event(1, [{ category: "a", bbox: [0, 0, 5, 5] }]),
          event(2, [{ category: "b", bbox: [0, 0, 5, 5] }], { category: "validation" }),
          event(3, [{ category: "a", bbox: [0, 0, 5, 5] }], { category: null })
        ],
        { splitBy: "category" }
      )
      expect(Object.keys(summary.splits).sort()).toEqual(["train", "validation"])
      expect(readCoco(outputDir, "train").images.map((i: Ann) => i.id)).toEqual([1])
      expect(readCoco(outputDir, "validation").images.map((i: Ann) => i.id)).toEqual([2])
      // both files list every category, with the same ids
      expect(readCoco(outputDir, "train").categories).toEqual(readCoco(outputDir, "validation").categories)
      expect(summary.skipped.events).toEqual({ no_split: 1 })
      expect(Object.values(summary.validation).every((v) => v.valid)).toBe(true)
    }))
})

describe("several dataset versions", () => {
  const v8: DatasetVersion = { ...version, id: 8, version: "v2.1", name: "v2.1" }
  const inVersion = (id: number, e: GroundTruthEvent): GroundTruthEvent => ({ ...e, ground_truth_dataset_version: id })
  const exportOf = (versions: ReadonlyArray<DatasetVersion>, events: ReadonlyArray<GroundTruthEvent>) =>
    exportEvents({ versions, events: Stream.fromIterable(events), fetchFile: noFiles }, {
      format: "coco",
      outputDir: outDir()
    }).pipe(
      Effect.map((summary) => ({ summary, coco: readCoco(summary.outputDir) }))
    )
  const boxesOf = (coco: any) => coco.annotations.map((a: Ann) => [a.image_id, (a.bbox as Array<number>)[0]])

  it.effect("a data unit in two versions takes its annotations from the version whose events came first; a version's own passes all count", () =>
    Effect.gen(function*() {
      const events = [
        inVersion(7, event(1, [{ category: "car", bbox: [1, 1, 5, 5] }])),
        inVersion(7, event(1, [{ category: "person", bbox: [2, 2, 5, 5] }])), // a second pass in the same version
        inVersion(8, event(1, [{ category: "car", bbox: [3, 3, 5, 5] }])), // the snapshot's copy in the next version
        inVersion(8, event(2, [{ category: "car", bbox: [4, 4, 5, 5] }]))
      ]
      const { summary, coco } = yield* exportOf([version, v8], events)
      expect(boxesOf(coco)).toEqual([[1, 1], [1, 2], [2, 4]])
      expect(coco.images.map((i: Ann) => i.id)).toEqual([1, 2])
      expect(summary.skipped.events).toEqual({ in_earlier_version: 1 })
      expect(summary.skipped.examples).toEqual([{ event: events[2]!.id, dataUnit: 1, reason: "in_earlier_version" }])
      expect(summary.events).toBe(4)
    }))

  it.effect("one version: events of a unit under another version id are not second-guessed", () =>
    Effect.gen(function*() {
      const { summary, coco } = yield* exportOf([version], [
        inVersion(7, event(1, [{ category: "car", bbox: [1, 1, 5, 5] }])),
        inVersion(8, event(1, [{ category: "car", bbox: [3, 3, 5, 5] }]))
      ])
      expect(boxesOf(coco)).toEqual([[1, 1], [1, 3]])
      expect(summary.skipped.events).toEqual({})
    }))
})

describe("re-export into the same directory", () => {
  it.effect("an earlier export's other splits are reported, not deleted", () =>
    Effect.gen(function*() {
      const outputDir = outDir()
      const events = [
        event(1, [{ category: "car", bbox: [1, 1, 5, 5] }]),
        event(2, [{ category: "car", bbox: [1, 1, 5, 5] }], { category: "validation" })
      ]
      const first = yield* run(events, { outputDir, splitBy: "category" })
      expect(first.summary.staleFiles).toEqual([])
      const second = yield* run(events, { outputDir })
      const annotations = Path.join(outputDir, "annotations")
      expect(second.summary.files).toEqual([Path.join(annotations, "instances_all.json")])
      expect(second.summary.staleFiles).toEqual([
        Path.join(annotations, "instances_train.json"),
        Path.join(annotations, "instances_validation.json")
      ])
      expect(Fs.readdirSync(annotations).sort()).toEqual([
        "instances_all.json",
        "instances_train.json",
        "instances_validation.json"
      ])
    }))
})

describe("YOLO export", () => {
  it.effect("Ultralytics layout: labels/<split>/*.txt with 0-based classes and normalised centre boxes, data.yaml", () =>
    Effect.gen(function*() {
      const { outputDir, summary } = yield* run(
        [
          event(1, [{ category: "person", bbox: [50, 25, 100, 50] }]),
          event(2, [{ category: "car", bbox: [0, 0, 20, 10] }], { category: "validation" }),
          event(1, [{ category: "car", bbox: [190, 90, 20, 20] }]),
          event(3, [], { category: "validation" })
        ],
        { format: "yolo", splitBy: "category" }
      )
      expect(Fs.readFileSync(Path.join(outputDir, "labels/train/1.txt"), "utf8")).toBe(
        "1 0.5 0.5 0.5 0.5\n0 0.975 0.95 0.05 0.1\n"
      )
      expect(Fs.readFileSync(Path.join(outputDir, "labels/validation/2.txt"), "utf8")).toBe("0 0.05 0.05 0.1 0.1\n")
      // an image without annotations gets an empty label file (a background image)
      expect(Fs.readFileSync(Path.join(outputDir, "labels/validation/3.txt"), "utf8")).toBe("")
      const yaml = Fs.readFileSync(Path.join(outputDir, "data.yaml"), "utf8")
      expect(yaml).toContain("train: images/train\nval: images/validation\n")
      expect(yaml).toContain("nc: 2\nnames:\n  0: \"car\"\n  1: \"person\"\n")
      expect(summary.annotations).toBe(3)
    }))
})

describe("interruption and failure", () => {
  const leftovers = (dir: string) => (Fs.existsSync(dir) ? Fs.readdirSync(dir, { recursive: true }).map(String) : [])

  // YOLO writes a label file per image while the export runs: thousands of them, so that the
  // interruption lands among those writes.
  it.effect.each([["coco", 300], ["yolo", 3000]] as const)(
    "an interrupted %s export leaves no partial file",
    ([format, count]) =>
      Effect.gen(function*() {
        const outputDir = outDir()
        const started = yield* Deferred.make<void>()
        const first = Array.from({ length: count }, (_, i) => event(i + 1, [{ category: "a", bbox: [0, 0, 5, 5] }]))
        const events = Stream.concat(Stream.fromChunk(Chunk.fromIterable(first)), Stream.never)
        const fiber = yield* Effect.fork(
          exportEvents({ versions: [version], events, fetchFile: noFiles }, { format, outputDir }, {
            onProgress: (p) => {
              if (p.eventsRead > 0) Deferred.unsafeDone(started, Exit.void)
            }
          })
        )
        yield* Deferred.await(started)
        yield* Fiber.interrupt(fiber)
        expect(leftovers(outputDir)).toEqual([])
        // The export created the directory: it is gone too.
        expect(Fs.existsSync(outputDir)).toBe(false)
      })
  )

  it.effect("a failing source leaves no partial file and keeps its error", () =>
    Effect.gen(function*() {
      const outputDir = outDir()
      const events = Stream.concat(
        Stream.fromIterable([event(1, [{ category: "a", bbox: [0, 0, 5, 5] }])]),
        Stream.fail("page 2 failed" as const)
      )
      const exit = yield* Effect.exit(
        exportEvents({ versions: [version], events, fetchFile: noFiles }, { format: "yolo", outputDir })
      )
      expect(exit).toStrictEqual(Exit.fail("page 2 failed"))
      expect(leftovers(outputDir)).toEqual([])
      expect(Fs.existsSync(outputDir)).toBe(false)
    }))

  it.effect("a directory that existed is kept, with what was in it, when the export fails", () =>
    Effect.gen(function*() {
      const outputDir = outDir()
      Fs.mkdirSync(outputDir)
      Fs.writeFileSync(Path.join(outputDir, "notes.txt"), "mine")
      const events = Stream.fail("page 1 failed" as const)
      const exit = yield* Effect.exit(
        exportEvents({ versions: [version], events, fetchFile: noFiles }, { format: "coco", outputDir })
      )
      expect(exit).toStrictEqual(Exit.fail("page 1 failed"))
      expect(leftovers(outputDir)).toEqual(["notes.txt"])
      const empty = outDir()
      Fs.mkdirSync(empty)
      yield* Effect.exit(
        exportEvents({ versions: [version], events, fetchFile: noFiles }, { format: "coco", outputDir: empty })
      )
      expect(Fs.existsSync(empty)).toBe(true)
    }))
})
