/**
 * Pascal VOC export: a golden file for hand-computed events (1-based pixel convention, clipping
 * as `truncated`, crowd as `difficult`, polygons as their box, XML escaping), every file checked
 * by a real XML parser, and the boxes read back from the XML equal to the COCO export's, on
 * in-memory events and on the sandbox demo data.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Stream } from "effect"
import { XMLParser, XMLValidator } from "fast-xml-parser"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import type { DatasetVersion } from "../../src/schemas/DatasetVersion.js"
import type { GroundTruthEvent } from "../../src/schemas/GroundTruth.js"
import * as Synapse from "../../src/services/Synapse.js"
import { exportEvents, exportGroundTruth, type ExportOptions } from "../../src/workflows/Export.js"
import { escapeXml } from "../../src/workflows/export/VocWriter.js"
import { useSandbox } from "../support/sandbox.js"

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "voc-test-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))
let n = 0
const outDir = () => Path.join(root, `out-${++n}`)

const version: DatasetVersion = { id: 7, version: "v1", name: "v1" }

let eventId = 0
const event = (
  dataUnit: number,
  annotations: ReadonlyArray<Record<string, unknown>>,
  category = "train",
  size: readonly [number, number] = [200, 100]
): GroundTruthEvent =>
  ({
    id: ++eventId,
    ground_truth_dataset_version: 7,
    category,
    data: { type: "image", annotations },
    data_unit: {
      id: dataUnit,
      files: { image: { name: `${dataUnit}.png`, url: `mem://${dataUnit}.png`, width: size[0], height: size[1] } }
    }
  }) as unknown as GroundTruthEvent

const run = (events: ReadonlyArray<GroundTruthEvent>, options: Partial<ExportOptions>) => {
  const outputDir = options.outputDir ?? outDir()
  return exportEvents(
    { versions: [version], events: Stream.fromIterable(events), fetchFile: () => Effect.dieMessage("no downloads") },
    { format: "voc", outputDir, ...options }
  ).pipe(Effect.map((summary) => ({ summary, outputDir })))
}

const parser = new XMLParser({ parseTagValue: false, isArray: (name) => name === "object" })

interface VocObject {
  readonly name: string
  readonly truncated: number
  readonly difficult: number
  /** Back in COCO's 0-based `[x, y, w, h]`. */
  readonly bbox: readonly [number, number, number, number]
}

/** Parses one VOC file strictly (well-formed XML, the expected elements) and reads its boxes back. */
const readVoc = (file: string) => {
  const text = Fs.readFileSync(file, "utf8")
  expect(XMLValidator.validate(text)).toBe(true)
  const a = parser.parse(text).annotation
  const r2 = (v: number) => Math.round(v * 100) / 100
  const objects: Array<VocObject> = (a.object ?? []).map((o: any) => {
    const [xmin, ymin, xmax, ymax] = ["xmin", "ymin", "xmax", "ymax"].map((k) => Number(o.bndbox[k]))
    const x = r2(xmin! - 1), y = r2(ymin! - 1)
    expect(o.pose).toBe("Unspecified")
    return {
      name: o.name,
      truncated: Number(o.truncated),
      difficult: Number(o.difficult),
      bbox: [x, y, r2(xmax! - x), r2(ymax! - y)]
    }
  })
  return {
    folder: String(a.folder),
    filename: String(a.filename),
    size: [Number(a.size.width), Number(a.size.height), Number(a.size.depth)],
    objects
  }
}

/** Every image's boxes of a COCO file, by file name, as VOC objects would hold them. */
const cocoBoxes = (file: string) => {
  const coco = JSON.parse(Fs.readFileSync(file, "utf8"))
  const names = new Map<number, string>(coco.categories.map((c: any) => [c.id, c.name]))
  const byImage = new Map<number, { name: string; size: Array<number>; objects: Array<unknown> }>()
  for (const i of coco.images) byImage.set(i.id, { name: i.file_name, size: [i.width, i.height, 3], objects: [] })
  for (const a of coco.annotations) {
    byImage.get(a.image_id)!.objects.push({ name: names.get(a.category_id), difficult: a.iscrowd, bbox: a.bbox })
  }
  return [...byImage.values()]
}

describe("Pascal VOC export", () => {
  it.effect("writes the golden file: 1-based pixels, clipped as truncated, crowd as difficult, polygon as its box", () =>
    Effect.gen(function*() {
      const events = [
        event(1, [
          { category: "car", category_id: 1, bbox: [10, 20, 30, 40] },
          { category: "a&b <c> \"d\" 'e'", category_id: 2, bbox: [190, 90, 20, 20] },
          { category: "car", category_id: 1, bbox: [0.25, 0.5, 10.5, 4], iscrowd: 1 },
          { category: "car", category_id: 1, segmentation: [[50, 10, 80, 10, 80, 60, 50, 60]] }
        ]),
        event(2, []),
        event(1, [{ category: "car", category_id: 1, bbox: [1, 1, 2, 2] }])
      ]
      const { outputDir, summary } = yield* run(events, { splitBy: "category" })
      const file = Path.join(outputDir, "Annotations", "train", "1.xml")
      expect(Fs.readFileSync(file, "utf8")).toBe(
        `<annotation>
  <folder>train</folder>
  <filename>1.png</filename>
  <size>
    <width>200</width>
    <height>100</height>
    <depth>3</depth>
  </size>
  <segmented>0</segmented>
  <object>
    <name>car</name>
    <pose>Unspecified</pose>
    <truncated>0</truncated>
    <difficult>0</difficult>
    <bndbox>
      <xmin>11</xmin>
      <ymin>21</ymin>
      <xmax>40</xmax>
      <ymax>60</ymax>
    </bndbox>
  </object>
  <object>
    <name>a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos;</name>
    <pose>Unspecified</pose>
    <truncated>1</truncated>
    <difficult>0</difficult>
    <bndbox>
      <xmin>191</xmin>
      <ymin>91</ymin>
      <xmax>200</xmax>
      <ymax>100</ymax>
    </bndbox>
  </object>
  <object>
    <name>car</name>
    <pose>Unspecified</pose>
    <truncated>0</truncated>
    <difficult>1</difficult>
    <bndbox>
      <xmin>1.25</xmin>
      <ymin>1.5</ymin>
      <xmax>10.75</xmax>
      <ymax>4.5</ymax>
    </bndbox>
  </object>
  <object>
    <name>car</name>
    <pose>Unspecified</pose>
    <truncated>0</truncated>
    <difficult>0</difficult>
    <bndbox>
      <xmin>51</xmin>
      <ymin>11</ymin>
      <xmax>80</xmax>
      <ymax>60</ymax>
    </bndbox>
  </object>
  <object>
    <name>car</name>
    <pose>Unspecified</pose>
    <truncated>0</truncated>
    <difficult>0</difficult>
    <bndbox>
      <xmin>2</xmin>
      <ymin>2</ymin>
      <xmax>3</xmax>
      <ymax>3</ymax>
    </bndbox>
  </object>
</annotation>
`
      )
      // An image without annotations still has its file; the split lists its images' stems.
      expect(readVoc(Path.join(outputDir, "Annotations", "train", "2.xml"))).toStrictEqual({
        folder: "train",
        filename: "2.png",
        size: [200, 100, 3],
        objects: []
      })
      expect(Fs.readFileSync(Path.join(outputDir, "ImageSets", "Main", "train.txt"), "utf8")).toBe("1\n2\n")
      expect(summary.format).toBe("voc")
      expect(summary.files).toStrictEqual([
        Path.join(outputDir, "Annotations", "train"),
        Path.join(outputDir, "ImageSets", "Main", "train.txt")
      ])
      expect(summary.splits).toStrictEqual({ train: { images: 2, annotations: 5, files: summary.files } })
      expect(summary.validation).toStrictEqual({})
      // Nothing of the work directory is left.
      expect(Fs.readdirSync(outputDir).sort()).toStrictEqual(["Annotations", "ImageSets"])
    }))

  it("escapes XML's five special characters and nothing else", () => {
    expect(escapeXml(`<a href="x">&'ü</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&amp;&apos;ü&lt;/a&gt;")
  })

  it.effect("the boxes read back from the XML are the COCO export's, image by image", () =>
    Effect.gen(function*() {
      const events = [
        event(1, [
          { category: "car", category_id: 1, bbox: [10.33, 20.5, 30.25, 40] },
          { category: "person", category_id: 2, bbox: [-5, -5, 20, 20] }
        ], "train"),
        event(2, [{ category: "person", category_id: 2, bbox: [0, 0, 64, 48], iscrowd: 1 }], "test", [64, 48]),
        event(3, [{ category: "car", category_id: 1, segmentation: [[-10, 5, 30, 5, 30, 40]] }], "train")
      ]
      const voc = yield* run(events, { splitBy: "category" })
      const coco = yield* run(events, { splitBy: "category", format: "coco" })
      for (const split of ["train", "test"]) {
        const dir = Path.join(voc.outputDir, "Annotations", split)
        const fromXml = Fs.readdirSync(dir).sort().map((f) => {
          const v = readVoc(Path.join(dir, f))
          return { name: v.filename, size: v.size, objects: v.objects.map(({ truncated: _, ...o }) => o) }
        })
        expect(fromXml).toStrictEqual(
          cocoBoxes(Path.join(coco.outputDir, "annotations", `instances_${split}.json`))
        )
      }
    }))
})

describe("Pascal VOC export of the demo data", () => {
  const sandbox = useSandbox({ seed: "demo" })
  const layer = () => {
    const sb = sandbox()
    return Synapse.layer({
      baseUrl: sb.url,
      accessToken: Redacted.make(sb.token),
      fileCache: { dir: Path.join(root, "cache") }
    }).pipe(Layer.provide(NodeHttpClient.layer), Layer.orDie)
  }

  it("every file parses, and holds the COCO export's images and boxes", async () => {
    for (const id of [301, 302, 303]) {
      const input = { datasetVersionIds: [id] as [number], splitBy: "category" as const }
      const voc = await Effect.runPromise(
        exportGroundTruth({ ...input, format: "voc", outputDir: outDir() }).pipe(Effect.provide(layer()))
      )
      const coco = await Effect.runPromise(
        exportGroundTruth({ ...input, format: "coco", outputDir: outDir() }).pipe(Effect.provide(layer()))
      )
      expect({ ...voc.splits, format: "" }).toStrictEqual({
        ...Object.fromEntries(Object.entries(coco.splits).map(([k, s]) => [k, { ...s, files: voc.splits[k]!.files }])),
        format: ""
      })
      for (const split of Object.keys(coco.splits)) {
        const dir = Path.join(voc.outputDir, "Annotations", split)
        const fromXml = Fs.readFileSync(Path.join(voc.outputDir, "ImageSets", "Main", `${split}.txt`), "utf8")
          .split("\n").filter((s) => s !== "").map((stem) => {
            const v = readVoc(Path.join(dir, `${stem}.xml`))
            return { name: v.filename, size: v.size, objects: v.objects.map(({ truncated: _, ...o }) => o) }
          })
        expect(fromXml).toStrictEqual(
          cocoBoxes(Path.join(coco.outputDir, "annotations", `instances_${split}.json`))
        )
      }
    }
  }, 120_000)
})
