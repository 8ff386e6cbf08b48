/**
 * Golden exports of the sandbox demo data, COCO and YOLO, checked three ways: by the validator, by
 * the version's own statistics, and by an independent reading that rebuilds the expected content
 * from the raw events (fetched with plain `fetch`, not the SDK) and compares image by image. Also
 * split determinism, leakage and stratification on the demo data, and export by manifest.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import * as Synapse from "../../src/services/Synapse.js"
import { collectGroundTruth, scorePredictions } from "../../src/workflows/Analyze.js"
import { validate } from "../../src/workflows/Coco.js"
import { COCO_SUMMARY_KEYS, type DetectionDataset, evaluateDetections } from "../../src/workflows/DetectionMetrics.js"
import {
  exportGroundTruth,
  type ExportGroundTruthInput,
  type ExportProgress,
  type ExportRun
} from "../../src/workflows/Export.js"
import { readManifest } from "../../src/workflows/Manifest.js"
import { prepareTrainingData, type PrepareTrainingDataInput } from "../../src/workflows/Split.js"
import { imageIdsByEvent, isRich } from "../support/profile.js"
import { useSandbox } from "../support/sandbox.js"

const sandbox = useSandbox({ seed: "demo" })
const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "golden-"))
afterAll(() => Fs.rmSync(tmp, { recursive: true, force: true }))
let k = 0
const fresh = () => Path.join(tmp, `out-${++k}`)

const layer = () => {
  const sb = sandbox()
  return Synapse.layer({
    baseUrl: sb.url,
    accessToken: Redacted.make(sb.token),
    fileCache: { dir: Path.join(tmp, "cache") }
  }).pipe(
    Layer.provide(NodeHttpClient.layer),
    Layer.orDie
  )
}
const doExport = (input: ExportGroundTruthInput, run?: ExportRun) =>
  Effect.runPromise(exportGroundTruth(input, run).pipe(Effect.provide(layer())))
const doSplit = (input: PrepareTrainingDataInput) =>
  Effect.runPromise(prepareTrainingData(input).pipe(Effect.provide(layer())))

interface RawEvent {
  id: number
  category: string | null
  data_unit: { id: number; files: { image: { name: string; width?: number; height?: number } } }
  data: {
    annotations?: Array<
      {
        category: string
        category_id: number
        bbox: [number, number, number, number]
        segmentation?: Array<Array<number>>
      }
    >
  }
}

// The independent reading is done in the documented shapes, whatever profile the export reads.
const rawJson = async (path: string): Promise<any> => {
  const sb = await sandbox().richView()
  const res = await fetch(`${sb.url}/${path}`, { headers: sb.headers })
  expect(res.status).toBe(200)
  return res.json()
}
// The image id an export gives an event's image: its data unit id; on the evidence profile, where
// events name no data unit, the id derived from the image file (collected by rawEvents).
const imageIds = new Map<number, number>()
const imageOf = (e: RawEvent): number => (isRich() ? e.data_unit.id : imageIds.get(e.id)!)
const rawEvents = async (query: string): Promise<Array<RawEvent>> => {
  if (!isRich()) {
    const version = Number(new URLSearchParams(query).get("ground_truth_dataset_versions"))
    for (const [event, image] of await imageIdsByEvent(sandbox(), version)) imageIds.set(event, image)
  }
  const out: Array<RawEvent> = []
  for (let page = 1;; page++) {
    const body = await rawJson(`sdk/ground_truth_events/?${query}&page_size=200&page=${page}`)
    out.push(...body.results)
    if (body.next === null) return out
  }
}
const versions = async (): Promise<
  Array<{ id: number; statistics: any; is_archived: boolean; ground_truth_dataset: { name: string } }>
> => (await rawJson("ground_truth_dataset_versions/?page_size=100")).results

/** The expected written annotations of one event, per the rules in the issue, computed independently. */
const expectedOf = (e: RawEvent, width: number, height: number) => {
  const out: Array<string> = []
  let skipped = 0
  for (const a of e.data.annotations ?? []) {
    const poly = a.segmentation?.[0]
    if (poly !== undefined && poly.length < 6) {
      skipped++
      continue
    }
    const [x, y, w, h] = a.bbox
    if (!(w > 0 && h > 0)) {
      skipped++
      continue
    }
    const x0 = Math.max(0, x), y0 = Math.max(0, y), x1 = Math.min(width, x + w), y1 = Math.min(height, y + h)
    if (!(x1 > x0 && y1 > y0)) {
      skipped++
      continue
    }
    out.push(`${a.category}:${x0},${y0},${x1 - x0},${y1 - y0}`)
  }
  return { out, skipped }
}

const pngSize = (file: string) => {
  const b = Fs.readFileSync(file)
  return [b.readUInt32BE(16), b.readUInt32BE(20)]
}

describe("golden COCO export of the demo data", () => {
  it("every demo version: valid, statistics match, content matches an independent reading", async () => {
    for (const v of await versions()) {
      const outputDir = fresh()
      const summary = await doExport({
        datasetVersionIds: [v.id],
        format: "coco",
        outputDir,
        splitBy: "category",
        includeImages: true
      })
      expect(summary.valid).toBe(true)
      const stats = v.statistics
      const skipped = Object.values(summary.skipped.annotations).reduce((s, n) => s + n, 0)
      expect(summary.annotations + skipped).toBe(stats.annotation_count)
      expect(summary.images).toBe(stats.data_unit_count)
      expect(summary.events).toBe(
        Object.values(stats.category_counts as Record<string, number>).reduce((s, n) => s + n, 0)
      )

      // Independent reading: rebuild per image the expected annotations from the raw events.
      const events = await rawEvents(`ground_truth_dataset_versions=${v.id}`)
      const expected = new Map<string, Array<string>>()
      let expectedSkipped = 0
      const written = new Map<string, Array<string>>()
      for (const split of Object.keys(summary.splits)) {
        const file = Path.join(outputDir, "annotations", `instances_${split}.json`)
        const coco = JSON.parse(Fs.readFileSync(file, "utf8"))
        expect(validate(coco).valid).toBe(true)
        expect(coco.annotations.every((a: any) => a.id >= 1 && a.area > 0)).toBe(true)
        const names = new Map<number, string>(coco.categories.map((c: any) => [c.id, c.name]))
        const sizes = new Map<number, [number, number]>()
        for (const img of coco.images) {
          // width/height are the real image's, including units whose file entry omits them
          expect(pngSize(Path.join(outputDir, "images", split, img.file_name))).toEqual([img.width, img.height])
          sizes.set(img.id, [img.width, img.height])
          written.set(`${split}/${img.id}`, [])
        }
        for (const a of coco.annotations) {
          written.get(`${split}/${a.image_id}`)!.push(`${names.get(a.category_id)}:${a.bbox.join(",")}`)
        }
        for (const e of events.filter((e) => e.category === split)) {
          const [w, h] = sizes.get(imageOf(e))!
          const { out, skipped: s } = expectedOf(e, w, h)
          expectedSkipped += s
          const key = `${split}/${imageOf(e)}`
          expected.set(key, [...(expected.get(key) ?? []), ...out])
        }
        // the platform's category ids are kept (evidenced annotations name their class only)
        if (isRich()) {
          for (const e of events) {
            for (const a of e.data.annotations ?? []) {
              if (names.has(a.category_id)) expect(names.get(a.category_id)).toBe(a.category)
            }
          }
        }
      }
      const sortAll = (m: Map<string, Array<string>>) => new Map([...m].map(([key, l]) => [key, [...l].sort()]))
      expect(sortAll(written)).toEqual(sortAll(expected))
      expect(skipped).toBe(expectedSkipped)
    }
  })

  it("the demo's deliberately broken annotations are counted in the report, not written", async () => {
    const reasons: Record<string, number> = {}
    for (const v of await versions()) {
      const summary = await doExport({ datasetVersionIds: [v.id], format: "coco", outputDir: fresh(), validate: false })
      for (const [r, n] of Object.entries(summary.skipped.annotations)) reasons[r] = (reasons[r] ?? 0) + n
    }
    expect(reasons.non_positive_size).toBeGreaterThan(0)
    expect(reasons.polygon_too_few_points).toBeGreaterThan(0)
  })
})

describe("COCO export of several dataset versions", () => {
  // Versions of one dataset are snapshots: v1.1 holds v1.0's data units, each through an event of
  // its own (docs/wire-protocol.md "Ground-truth events": an event belongs to one version) carrying the same boxes. Merging the
  // versions' events would write each of those boxes twice. A shared data unit is exported once,
  // with the annotations of the first listed version that has it (within a version, every event of
  // a unit counts: they are separate annotation passes).
  const exportPair = async (ids: [number, number], perVersion: Array<Array<RawEvent>>) => {
    const outputDir = fresh()
    let last: ExportProgress | undefined
    const summary = await doExport({ datasetVersionIds: ids, format: "coco", outputDir }, {
      onProgress: (p) => void (last = p)
    })
    expect(summary.valid).toBe(true)
    expect(summary.datasetVersions).toStrictEqual(ids)
    expect(last).toMatchObject({
      phase: "done",
      eventsRead: perVersion.flat().length,
      eventsTotal: perVersion.flat().length
    })
    const coco = JSON.parse(Fs.readFileSync(Path.join(outputDir, "annotations", "instances_all.json"), "utf8"))
    expect(validate(coco).valid).toBe(true)
    const imageIds = coco.images.map((i: any) => i.id as number)
    expect(new Set(imageIds).size).toBe(imageIds.length)

    // Independent reading: per image, the annotations of its events in the first version listed.
    const sizes = new Map<number, [number, number]>(coco.images.map((i: any) => [i.id, [i.width, i.height]]))
    const names = new Map<number, string>(coco.categories.map((c: any) => [c.id, c.name]))
    const owner = new Map<number, number>()
    for (const [index, events] of perVersion.entries()) {
      for (const e of events) if (!owner.has(imageOf(e))) owner.set(imageOf(e), index)
    }
    const expected = new Map<number, Array<string>>()
    let expectedSkipped = 0
    let laterEvents = 0
    for (const [index, events] of perVersion.entries()) {
      for (const e of events) {
        if (owner.get(imageOf(e)) !== index) {
          laterEvents++
          continue
        }
        const [w, h] = sizes.get(imageOf(e))!
        const { out, skipped } = expectedOf(e, w, h)
        expectedSkipped += skipped
        expected.set(imageOf(e), [...(expected.get(imageOf(e)) ?? []), ...out])
      }
    }
    const written = new Map<number, Array<string>>(imageIds.map((id: number) => [id, []]))
    for (const a of coco.annotations) written.get(a.image_id)!.push(`${names.get(a.category_id)}:${a.bbox.join(",")}`)
    const sortAll = (m: Map<number, Array<string>>) => new Map([...m].map(([key, l]) => [key, [...l].sort()]))
    expect(sortAll(written)).toEqual(sortAll(expected))
    expect(new Set(imageIds)).toStrictEqual(new Set(owner.keys()))
    expect(summary.images).toBe(owner.size)
    expect(summary.events).toBe(perVersion.flat().length)
    expect(laterEvents).toBeGreaterThan(0)
    expect(summary.skipped.events).toStrictEqual({ in_earlier_version: laterEvents })
    expect(Object.values(summary.skipped.annotations).reduce((s, n) => s + n, 0)).toBe(expectedSkipped)
    return { summary, written }
  }

  it("two versions sharing data units: each image once, its boxes once, from the first version listed; valid", async () => {
    const pair = (await versions()).filter((v) => v.ground_truth_dataset.name === "Intersection cameras")
    expect(pair).toHaveLength(2)
    const ids = pair.map((v) => v.id) as [number, number]
    const perVersion = await Promise.all(ids.map((id) => rawEvents(`ground_truth_dataset_versions=${id}`)))
    // The versions really share data units, and not events.
    const unitsOf = (events: Array<RawEvent>) => new Set(events.map((e) => imageOf(e)))
    const [unitsA, unitsB] = perVersion.map(unitsOf) as [Set<number>, Set<number>]
    expect([...unitsA].filter((u) => unitsB.has(u)).length).toBeGreaterThan(0)
    const all = perVersion.flat()
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length)

    const forward = await exportPair(ids, perVersion)
    const backward = await exportPair([ids[1], ids[0]], [perVersion[1]!, perVersion[0]!])
    // The same images whichever order; only the boxes of shared units depend on it.
    expect(new Set(forward.written.keys())).toStrictEqual(new Set(backward.written.keys()))
    // Repeating a version exports it once.
    const repeated = await doExport({ datasetVersionIds: [ids[0], ids[0]], format: "coco", outputDir: fresh() })
    expect(repeated.datasetVersions).toStrictEqual([ids[0]])
    expect(repeated.events).toBe(perVersion[0]!.length)
    expect(repeated.skipped.events).toStrictEqual({})
  })
})

describe("golden YOLO export of the demo data", () => {
  it("labels match the COCO export annotation for annotation; images and data.yaml in place", async () => {
    const [v] = (await versions()).filter((v) => !v.is_archived)
    const yoloDir = fresh()
    const summary = await doExport({
      datasetVersionIds: [v!.id],
      format: "yolo",
      outputDir: yoloDir,
      splitBy: "category",
      includeImages: true
    })
    const cocoDir = fresh()
    await doExport({ datasetVersionIds: [v!.id], format: "coco", outputDir: cocoDir, splitBy: "category" })
    const yaml = Fs.readFileSync(Path.join(yoloDir, "data.yaml"), "utf8")
    const names = [...yaml.matchAll(/^ {2}(\d+): "(.*)"$/gm)].map((m) => m[2])
    expect(yaml).toMatch(/^train: images\/train$/m)
    expect(yaml).toMatch(/^val: images\/validation$/m)
    let lines = 0
    for (const split of Object.keys(summary.splits)) {
      const coco = JSON.parse(Fs.readFileSync(Path.join(cocoDir, "annotations", `instances_${split}.json`), "utf8"))
      const catName = new Map<number, string>(coco.categories.map((c: any) => [c.id, c.name]))
      for (const img of coco.images) {
        const stem = img.file_name.replace(/\.[^.]+$/, "")
        expect(Fs.existsSync(Path.join(yoloDir, "images", split, img.file_name))).toBe(true)
        const label = Fs.readFileSync(Path.join(yoloDir, "labels", split, `${stem}.txt`), "utf8").split("\n").filter((
          l
        ) => l !== "")
        const fromYolo = label.map((l) => {
          const [c, cx, cy, w, h] = l.split(" ").map(Number) as [number, number, number, number, number]
          for (const x of [cx, cy, w, h]) expect(x >= 0 && x <= 1).toBe(true)
          return `${names[c]}:${Math.round((cx - w / 2) * img.width)},${Math.round((cy - h / 2) * img.height)},${
            Math.round(w * img.width)
          },${Math.round(h * img.height)}`
        })
        const fromCoco = coco.annotations
          .filter((a: any) => a.image_id === img.id)
          .map((a: any) => `${catName.get(a.category_id)}:${a.bbox.map(Math.round).join(",")}`)
        expect(fromYolo.sort()).toEqual(fromCoco.sort())
        lines += label.length
      }
    }
    expect(lines).toBe(summary.annotations)
  })
})

const manifestOf = (path: string) => JSON.parse(Fs.readFileSync(path, "utf8"))

describe("splits of the demo data", () => {
  it("deterministic, leak-free, stratified within 0.05 per class; the manifest drives a per-split export", async () => {
    const manifestPath = Path.join(tmp, "manifest.json")
    const input = { project: 1, seed: 7, ratios: { train: 0.7, validation: 0.2, test: 0.1 }, manifestPath } as const
    const a = await doSplit(input)
    const b = await doSplit({ ...input, manifestPath: Path.join(tmp, "manifest-b.json") })
    expect(b.summary.assignmentSha256).toBe(a.summary.assignmentSha256)
    expect(Fs.readFileSync(Path.join(tmp, "manifest-b.json"), "utf8")).toBe(Fs.readFileSync(manifestPath, "utf8"))
    const other = await doSplit({ ...input, seed: 8, dryRun: true })
    expect(other.summary.assignmentSha256).not.toBe(a.summary.assignmentSha256)
    // The project's versions repeat its data units; each image's boxes count once, from the newest
    // version (which here holds every image of the project).
    const streetVersions = (await versions()).filter((v) => v.ground_truth_dataset.name === "Street scenes")
    const newest = streetVersions.reduce((x, y) => (y.id > x.id ? y : x))
    expect(newest.statistics.data_unit_count).toBe(a.summary.total.images)
    if (isRich()) expect(a.summary.total.annotations).toBe(newest.statistics.annotation_count)
    else {
      // Evidenced events do not say their version: each version's copy of a unit counts, as a note says,
      // as the export of that version writes it (degenerate annotations left out).
      let exported = 0
      for (const v of streetVersions) {
        exported += (await doExport({ datasetVersionIds: [v.id], format: "coco", outputDir: fresh() })).annotations
      }
      expect(a.summary.total.annotations).toBe(exported)
      expect(a.summary.notes?.join(" ")).toContain("do not say their dataset version")
    }

    const manifest = await Effect.runPromise(readManifest(manifestPath))
    const seen = new Set<number>()
    for (const s of Object.values(manifest.splits)) {
      for (const id of s.data_units) {
        expect(seen.has(id)).toBe(false)
        seen.add(id)
      }
    }
    expect(a.summary.leakedImages).toBe(0)
    expect(seen.size).toBe(a.summary.total.images)
    for (const row of Object.values(a.summary.deviations)) {
      for (const d of Object.values(row)) expect(d).toBeLessThanOrEqual(0.05)
    }
    expect(a.summary.maxDeviation).toBeLessThanOrEqual(0.05)
    // Every split within one image of its ratio, next to the class deviations, with any seed.
    for (const seed of [1, 7]) {
      const s = seed === 7 ? a : await doSplit({ ...input, seed, dryRun: true })
      expect(s.summary.maxImageDeviation).toBeLessThan(1)
      for (const [name, d] of Object.entries(s.summary.imageDeviations)) {
        expect(d.images).toBe(s.summary.splits[name]!.images)
        expect(Math.abs(d.images - d.target)).toBeLessThan(1)
      }
    }
    expect(manifestOf(manifestPath).image_deviations).toStrictEqual(a.summary.imageDeviations)

    // The official SDK's form: split_ratio only.
    const seedForm = await doSplit({ project: 1, splitRatio: 0.8, dryRun: true })
    expect(Object.keys(seedForm.summary.splits)).toEqual(["train", "validation"])
    expect(seedForm.summary.manifestPath).toBeNull()

    // Export the same project's versions by the manifest: each image lands in its manifest split.
    const vs = (await versions()).filter((v) => v.ground_truth_dataset.name === "Street scenes").map((v) => v.id)
    const out = fresh()
    const summary = await doExport({
      datasetVersionIds: vs as [number, ...Array<number>],
      format: "coco",
      outputDir: out,
      splitBy: "manifest",
      manifestPath
    })
    expect(summary.valid).toBe(true)
    for (const [split, s] of Object.entries(manifest.splits)) {
      const coco = JSON.parse(Fs.readFileSync(Path.join(out, "annotations", `instances_${split}.json`), "utf8"))
      const ids = coco.images.map((i: any) => i.id).sort((x: number, y: number) => x - y)
      expect(ids.every((id: number) => s.data_units.includes(id))).toBe(true)
    }
  })
})

describe("analysis scores against what the export writes", () => {
  const SUMMARY = COCO_SUMMARY_KEYS

  it(
    "predictions made from the COCO export of every demo version score AP 1 and AR 1; any predictions score the same against the export file",
    async () => {
      for (const version of await versions()) {
        const out = fresh()
        await doExport({ datasetVersionIds: [version.id], format: "coco", outputDir: out })
        const coco = JSON.parse(Fs.readFileSync(Path.join(out, "annotations", "instances_all.json"), "utf8"))
        const collector = await Effect.runPromise(collectGroundTruth(version.id, true).pipe(Effect.provide(layer())))
        const dataset = collector.detectionDataset()
        // The same boxes, areas, crowd flags and category ids as the file, image by image.
        const key = (a: any) => JSON.stringify([a.image_id, a.category_id, a.bbox, a.area, a.iscrowd])
        const fromFile = coco.annotations.map((a: any) => key(a)).sort()
        expect(dataset.annotations.map(key).sort()).toStrictEqual(fromFile)
        expect(dataset.categories).toStrictEqual(coco.categories.map((c: any) => ({ id: c.id, name: c.name })))
        expect([...dataset.images].sort()).toStrictEqual(coco.images.map((i: any) => i.id).sort())

        // Every ground-truth box as a detection with score 1.
        const perfect = coco.annotations.map((a: any) => ({
          image_id: a.image_id,
          category_id: a.category_id,
          bbox: a.bbox,
          score: 1
        }))
        const score = await Effect.runPromise(scorePredictions(JSON.stringify(perfect), "detection", collector, {}))
        if (score.task !== "detection") throw new Error("expected a detection score")
        expect({ version: version.id, AP: score.metrics.AP, AR100: score.metrics.AR100 }).toStrictEqual({
          version: version.id,
          AP: 1,
          AR100: 1
        })

        // Imperfect predictions (shifted, some missing, some extra) give every summary figure,
        // AR_small included, equal to an evaluation against the export file itself.
        const imperfect = perfect.filter((_: unknown, i: number) => i % 7 !== 3).map((p: any, i: number) => ({
          ...p,
          bbox: [p.bbox[0] + (i % 5), p.bbox[1] - (i % 3), p.bbox[2] * (1 + (i % 4) / 10), p.bbox[3]],
          score: ((i * 37) % 100) / 100
        }))
        const rows = imperfect.map((p: any, i: number) => ({ row: i, ...p }))
        const fileDataset: DetectionDataset = {
          images: coco.images.map((i: any) => i.id),
          categories: coco.categories.map((c: any) => ({ id: c.id, name: c.name })),
          annotations: coco.annotations
        }
        const fromExport = evaluateDetections(fileDataset, rows)
        const fromAnalysis = evaluateDetections(dataset, rows)
        for (const k of SUMMARY) expect({ k, v: fromAnalysis[k] }).toStrictEqual({ k, v: fromExport[k] })
      }
    },
    120_000
  )
})
