import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { CocoScanner, validate, validateFile } from "../../src/workflows/Coco.js"

const good = () => ({
  info: { description: "t" },
  images: [
    { id: 1, file_name: "a.png", width: 100, height: 50 },
    { id: 2, file_name: "b.png", width: 10, height: 10 }
  ],
  categories: [{ id: 1, name: "car" }, { id: 2, name: "person" }],
  annotations: [
    { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], area: 100, iscrowd: 0 },
    { id: 2, image_id: 2, category_id: 2, bbox: [1, 1, 2, 2], area: 2, iscrowd: 0, segmentation: [[1, 1, 3, 1, 3, 3]] },
    {
      id: 3,
      image_id: 1,
      category_id: 2,
      bbox: [0, 0, 5, 5],
      area: 20,
      iscrowd: 1,
      segmentation: { size: [50, 100], counts: "abc" }
    }
  ]
})

const rules = (doc: unknown) => Object.keys(validate(doc).findingCounts).sort()

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "coco-test-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

describe("Coco.validate", () => {
  it("accepts a correct file", () => {
    const v = validate(good())
    expect(v.valid).toBe(true)
    expect(v.findings).toEqual([])
    expect([v.images, v.annotations, v.categories]).toEqual([2, 3, 2])
  })

  it("flags ids of 0 (pycocotools counts perfect matches as false positives)", () => {
    const doc = good()
    ;(doc.annotations[0] as { id: number }).id = 0
    ;(doc.images[0] as { id: number }).id = 0
    const v = validate(doc)
    expect(v.valid).toBe(false)
    expect(v.findingCounts.id_positive).toBe(2)
    expect(v.findings.map((f) => f.path)).toContain("annotations[0].id")
  })

  it("flags duplicate ids and dangling references", () => {
    const doc = good()
    doc.annotations[1]!.id = 1
    doc.annotations[2]!.image_id = 99
    doc.annotations[0]!.category_id = 7
    expect(rules(doc)).toEqual(["category_ref", "id_unique", "image_ref"])
  })

  it("flags an empty categories list", () => {
    const doc = { ...good(), categories: [], annotations: [] }
    const v = validate(doc)
    expect(v.valid).toBe(false)
    expect(v.findings[0]!.rule).toBe("categories_nonempty")
  })

  it("flags area 0, bad boxes, boxes outside the image, bad sizes", () => {
    const doc = good()
    doc.annotations[0]!.area = 0
    doc.annotations[1]!.bbox = [1, 1, 0, 2]
    doc.annotations[2]!.bbox = [95, 0, 10, 5]
    doc.images[1]!.width = 0
    expect(rules(doc)).toEqual(["area_positive", "bbox_inside", "bbox_size", "image_size"])
    const bad = good()
    ;(bad.annotations[0] as { bbox: unknown }).bbox = [1, 2, 3]
    ;(bad.annotations[1] as { bbox: unknown }).bbox = [1, 2, Number.NaN, 3]
    expect(validate(bad).findingCounts.bbox_format).toBe(2)
  })

  it("flags polygons with an odd count or fewer than 3 points, RLE size order, iscrowd", () => {
    const doc = good()
    ;(doc.annotations[1] as { segmentation: unknown }).segmentation = [[1, 1, 3, 1, 3], [1, 1, 2, 2]]
    ;(doc.annotations[2] as { segmentation: unknown }).segmentation = { size: [100, 50], counts: "abc" }
    ;(doc.annotations[0] as { iscrowd: unknown }).iscrowd = 2
    const v = validate(doc)
    expect(v.findingCounts).toEqual({ polygon_format: 2, rle_size: 1, iscrowd_value: 1 })
  })

  it("flags two image entries for one file_name", () => {
    const doc = good()
    doc.images[1]!.file_name = "a.png"
    expect(rules(doc)).toEqual(["file_name_unique"])
  })

  it("warns (without failing) on an empty segmentation list", () => {
    const doc = good()
    ;(doc.annotations[0] as { segmentation: unknown }).segmentation = []
    const v = validate(doc)
    expect(v.valid).toBe(true)
    expect(v.warnings).toBe(1)
  })

  it("caps the listed findings but counts all", () => {
    const doc = good()
    doc.annotations = Array.from(
      { length: 50 },
      (_, i) => ({ id: 0, image_id: 1, category_id: 1, bbox: [0, 0, 1, 1], area: 1, iscrowd: 0 + i * 0 })
    )
    const v = validate(doc, { maxFindings: 10 })
    expect(v.findings.length).toBe(10)
    expect(v.errors).toBe(50)
    expect(v.truncated).toBe(true)
  })
})

describe("Coco.validateFile (streaming)", () => {
  it.effect("agrees with the in-memory validator, whatever the key order", () =>
    Effect.gen(function*() {
      const doc = good()
      doc.annotations[2]!.image_id = 99
      const reordered = { annotations: doc.annotations, info: doc.info, images: doc.images, categories: doc.categories }
      const file = Path.join(dir, "reordered.json")
      Fs.writeFileSync(file, JSON.stringify(reordered, null, 2))
      const v = yield* validateFile(file)
      expect(v).toEqual(validate(doc))
    }))

  it.effect("reports a truncated file", () =>
    Effect.gen(function*() {
      const file = Path.join(dir, "truncated.json")
      Fs.writeFileSync(file, JSON.stringify(good()).slice(0, 200))
      const v = yield* validateFile(file)
      expect(v.valid).toBe(false)
      expect(v.findings.some((f) => f.rule === "structure")).toBe(true)
    }))

  it.effect("fails with CocoFileError for a missing file", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(validateFile(Path.join(dir, "nope.json")))
      expect(Exit.isFailure(exit)).toBe(true)
    }))

  it("scanner handles any chunking, strings with brackets and escapes", () => {
    const doc = {
      info: { s: "a]},\"{[" },
      images: [{ id: 1, file_name: "x,]\\\"y.png", width: 1, height: 1 }],
      nums: [1, 2.5, "s"],
      categories: []
    }
    const text = JSON.stringify(doc, null, 1)
    for (const size of [1, 2, 3, 7, 1000]) {
      const got: Array<[string, unknown]> = []
      const s = new CocoScanner({
        arrayStart: () => undefined,
        element: (k, v) => got.push([k, v]),
        arrayEnd: () => undefined,
        value: (k, v) => got.push([k, v]),
        syntax: (m) => got.push(["syntax", m])
      })
      for (let i = 0; i < text.length; i += size) s.push(text.slice(i, i + size))
      s.end()
      expect(got).toEqual([["info", doc.info], ["images", doc.images[0]], ["nums", 1], ["nums", 2.5], ["nums", "s"]])
    }
  })

  it("elements parsed together in one piece of text report a bad one by its own index, in order", () => {
    // One element is not JSON: the batch parse fails and each element is parsed alone, so the
    // others still arrive and the error names annotations[2], wherever the chunks are cut.
    const text = `{"annotations":[{"id":1},{"id":2},{"id":3,},{"id":4}],"images":[]}`
    for (const size of [1, 5, 16, 1000]) {
      const got: Array<unknown> = []
      const s = new CocoScanner({
        arrayStart: (k) => got.push(["start", k]),
        element: (k, v, i) => got.push([k, i, v]),
        arrayEnd: (k) => got.push(["end", k]),
        value: (k, v) => got.push([k, v]),
        syntax: (m) => got.push(["syntax", m.slice(0, 31)])
      })
      for (let i = 0; i < text.length; i += size) s.push(text.slice(i, i + size))
      s.end()
      expect(got).toEqual([
        ["start", "annotations"],
        ["annotations", 0, { id: 1 }],
        ["annotations", 1, { id: 2 }],
        ["syntax", "invalid JSON at annotations[2]:"],
        ["annotations", 2, undefined],
        ["annotations", 3, { id: 4 }],
        ["end", "annotations"],
        ["start", "images"],
        ["end", "images"]
      ])
    }
  })
})
