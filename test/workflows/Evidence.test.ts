/**
 * Export, split and analysis of the same demo data served in both sandbox profiles: the rich one
 * (data units, sizes, COCO-like lists, versions on events) and the evidence one (events with
 * native inline annotations, `data_unit` as `{files}` without an id, files without sizes, no
 * version on events). Same seed, so the same images and boxes: the figures must agree.
 *
 * What the native form cannot carry makes the only differences, and they are checked as such:
 * image ids (data unit ids against ids derived from the image files), category ids (the
 * platform's against ids in name order) and `iscrowd` (the native form has none).
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { FileCache } from "../../src/services/FileCache.js"
import { GroundTruths } from "../../src/services/GroundTruths.js"
import type * as Synapse from "../../src/services/Synapse.js"
import { analyzeModel } from "../../src/workflows/Analyze.js"
import { exportEvents, exportGroundTruth, type ExportSummary } from "../../src/workflows/Export.js"
import { prepareTrainingData, splitEvents } from "../../src/workflows/Split.js"
import { call } from "../support/http.js"
import { type TestSandbox, useSandbox } from "../support/sandbox.js"
import { ok, runEither, sdkLayer } from "../support/sdk.js"

const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-evidence-test-"))
afterAll(() => Fs.rmSync(work, { recursive: true, force: true }))
let k = 0
const fresh = () => Path.join(work, `out-${++k}`)

const richSandbox = useSandbox({ seed: "demo", profile: "rich" })
const evidenceSandbox = useSandbox({ seed: "demo", profile: "evidence" })

const run = <A, E>(sb: TestSandbox, effect: Effect.Effect<A, E, Synapse.Services>) =>
  runEither(sdkLayer(sb, Path.join(work, String(sb.url.length + sb.token.length))), effect)

const get = async (sb: TestSandbox, route: string) => {
  const answer = await call(`${sb.url}/${route}`, { headers: sb.headers })
  expect(answer.status).toBe(200)
  return answer.body
}

/** Street scenes' versions, oldest first, from the rich listing (the evidence one names no dataset). */
const streetVersions = async (): Promise<Array<number>> => {
  const versions = (await get(richSandbox(), "ground_truth_dataset_versions/?page_size=100")).results
  return versions.filter((v: any) => v.ground_truth_dataset.name === "Street scenes").map((v: any) => v.id).sort((
    a: number,
    b: number
  ) => a - b)
}

const readCoco = (summary: ExportSummary, split = "all") =>
  JSON.parse(Fs.readFileSync(Path.join(summary.outputDir, "annotations", `instances_${split}.json`), "utf8"))

/** What must agree between the profiles' exports. */
const figures = (s: ExportSummary) => ({
  events: s.events,
  images: s.images,
  annotations: s.annotations,
  categories: s.categories.map((c) => c.name).sort(),
  classCounts: s.classCounts,
  skipped: { events: s.skipped.events, annotations: s.skipped.annotations },
  splits: Object.fromEntries(
    Object.entries(s.splits).map(([name, x]) => [name, { images: x.images, annotations: x.annotations }])
  ),
  valid: s.valid
})

/** A COCO file's content keyed by what both profiles share: file name, class name, geometry. */
const content = (coco: any) => {
  const files = new Map<number, string>(coco.images.map((i: any) => [i.id, `${i.file_name} ${i.width}x${i.height}`]))
  const names = new Map<number, string>(coco.categories.map((c: any) => [c.id, c.name]))
  return coco.annotations
    .map((a: any) =>
      `${files.get(a.image_id)} ${names.get(a.category_id)} ${JSON.stringify(a.bbox)} ${a.area} ${
        JSON.stringify(a.segmentation ?? null)
      }`
    )
    .sort()
}

describe("the same demo data in both profiles", () => {
  it(
    "export: every Street scenes version, then all of them together, gives the same figures and the same content",
    async () => {
      const versions = await streetVersions()
      expect(versions.length).toBeGreaterThan(1)
      for (const ids of [...versions.map((v) => [v]), [...versions].reverse()]) {
        const input = {
          datasetVersionIds: ids as [number, ...Array<number>],
          format: "coco" as const,
          splitBy: "category" as const
        }
        const rich = ok(await run(richSandbox(), exportGroundTruth({ ...input, outputDir: fresh() })))
        const evidence = ok(await run(evidenceSandbox(), exportGroundTruth({ ...input, outputDir: fresh() })))
        expect(figures(evidence)).toStrictEqual(figures(rich))
        expect(rich.imagesDownloaded).toBe(0)
        for (const split of Object.keys(rich.splits)) {
          const richCoco = readCoco(rich, split)
          const evidenceCoco = readCoco(evidence, split)
          expect(content(evidenceCoco)).toStrictEqual(content(richCoco))
          // The rich form has person crowds; the native form carries no iscrowd.
          expect(evidenceCoco.annotations.every((a: any) => a.iscrowd === 0)).toBe(true)
          // Evidenced events name no data unit id: their image ids are derived from the image files.
          expect(evidenceCoco.images.every((i: any) => i.id >= 2 ** 52 && Number.isSafeInteger(i.id))).toBe(true)
          // Evidenced versions carry only id, name and is_archived: the info names them by name.
          const names = await Promise.all(
            ids.map(async (id) => (await get(evidenceSandbox(), `ground_truth_dataset_versions/${id}/`)).name)
          )
          expect(evidenceCoco.info.version).toBe(names.join("+"))
          expect(evidenceCoco.info.name).toBe(names.join("; "))
          expect(evidenceCoco.info.dataset_versions).toStrictEqual(ids)
        }
      }
    },
    120_000
  )

  it("split by dataset versions: the same totals and class counts; leak-free", async () => {
    const versions = await streetVersions()
    const input = { datasetVersionIds: versions, seed: 7, dryRun: true }
    const rich = ok(await run(richSandbox(), prepareTrainingData(input))).summary
    const evidence = ok(await run(evidenceSandbox(), prepareTrainingData(input))).summary
    expect(evidence.total).toStrictEqual(rich.total)
    const classTotals = (s: typeof rich) => {
      const out: Record<string, number> = {}
      for (const split of Object.values(s.splits)) {
        for (const [c, v] of Object.entries(split.class_counts)) out[c] = (out[c] ?? 0) + v
      }
      return out
    }
    expect(classTotals(evidence)).toStrictEqual(classTotals(rich))
    expect(evidence.leakedImages).toBe(0)
    // The assignment itself differs (the images' ids differ), not its quality.
    expect(evidence.maxDeviation).toBeLessThan(0.1)
    expect(evidence.notes).toBeUndefined()
  }, 60_000)

  it(
    "split over a project: evidenced events do not say their version, and the summary says what that does to the counts",
    async () => {
      const rich = ok(await run(richSandbox(), prepareTrainingData({ project: 1, dryRun: true }))).summary
      const evidence = ok(await run(evidenceSandbox(), prepareTrainingData({ project: 1, dryRun: true }))).summary
      expect(rich.notes).toBeUndefined()
      expect(evidence.total.images).toBe(rich.total.images)
      expect(evidence.total.events).toBe(rich.total.events)
      expect(evidence.total.annotations).toBeGreaterThan(rich.total.annotations)
      expect(evidence.notes).toStrictEqual([
        `${evidence.total.events} of ${evidence.total.events} events do not say their dataset version, so a data unit's annotations are counted once per ` +
        "version that holds it (versions repeat most units): split by datasetVersionIds (--dataset-version) for counts from one version each"
      ])
    },
    60_000
  )

  it("analysis: the same distribution, and the same detection metrics for predictions of the same boxes", async () => {
    const versions = await streetVersions()
    const version = versions[versions.length - 1]!
    const detector = (await get(richSandbox(), "models/?project=1&model_type=detection&is_active=true")).results[0]
    const rich = ok(
      await run(richSandbox(), exportGroundTruth({ datasetVersionIds: [version], format: "coco", outputDir: fresh() }))
    )
    const evidence = ok(
      await run(
        evidenceSandbox(),
        exportGroundTruth({ datasetVersionIds: [version], format: "coco", outputDir: fresh() })
      )
    )
    const richCoco = readCoco(rich)
    const evidenceCoco = readCoco(evidence)
    // Predictions of the rich export's boxes (some dropped, all moved a little), then the same
    // predictions in each profile's ids: image by file name, category by class name.
    const fileOf = new Map<number, string>(richCoco.images.map((i: any) => [i.id, i.file_name]))
    const classOf = new Map<number, string>(richCoco.categories.map((c: any) => [c.id, c.name]))
    const boxes = richCoco.annotations
      .filter((a: any, i: number) => i % 5 !== 0 && a.iscrowd === 0)
      .map((a: any, i: number) => ({
        file: fileOf.get(a.image_id)!,
        cls: classOf.get(a.category_id)!,
        bbox: [a.bbox[0] + (i % 3) - 1, a.bbox[1] + ((i * 7) % 3) - 1, a.bbox[2], a.bbox[3]],
        // Distinct scores: with ties, the order of equal scores follows the image ids, which differ.
        score: 0.3 + ((i * 7919) % 10007) / 20014
      }))
    const predictionsFor = (coco: any) => {
      const imageOf = new Map<string, number>(coco.images.map((i: any) => [i.file_name, i.id]))
      const categoryOf = new Map<string, number>(coco.categories.map((c: any) => [c.name, c.id]))
      return JSON.stringify(
        boxes.map((b: any) => ({
          image_id: imageOf.get(b.file),
          category_id: categoryOf.get(b.cls),
          bbox: b.bbox,
          score: b.score
        }))
      )
    }
    const analyze = (sb: TestSandbox, predictions: string) =>
      run(sb, analyzeModel({ model_id: detector.id, ground_truth_version_id: version, task: "detection", predictions }))
    const a = ok(await analyze(richSandbox(), predictionsFor(richCoco)))
    const b = ok(await analyze(evidenceSandbox(), predictionsFor(evidenceCoco)))
    const dist = (x: typeof a) => ({
      events: x.groundTruth.events,
      dataUnits: x.groundTruth.dataUnits,
      classes: x.groundTruth.classes,
      splits: x.groundTruth.splits
    })
    expect(dist(b)).toStrictEqual(dist(a))
    expect(a.computed!.task).toBe("detection")
    expect(b.computed!.task).toBe("detection")
    const metrics = (x: typeof a) => (x.computed as any).metrics
    // Classes without crowds (every class but person) score the same; person differs only by the
    // crowd boxes the native form cannot mark.
    const perClass = (x: typeof a) =>
      Object.fromEntries(
        metrics(x).perClass.filter((c: any) => c.name !== "person").map((
          c: any
        ) => [c.name, { ...c, category_id: undefined }])
      )
    expect(perClass(b)).toStrictEqual(perClass(a))
    expect(metrics(b).images).toBe(metrics(a).images)
    expect(metrics(b).detections).toBe(metrics(a).detections)
  }, 120_000)

  it(
    "analysis: classification labels (the native classification tool) and predictions by file name score the same",
    async () => {
      const versions = await streetVersions()
      const version = versions[versions.length - 1]!
      const classifier =
        (await get(richSandbox(), "models/?project=1&model_type=classification&is_active=true")).results[0]
      const events =
        (await get(richSandbox(), `sdk/ground_truth_events/?ground_truth_dataset_versions=${version}&page_size=1000`))
          .results
      // One prediction per image, by file name: its first pass's label, every fourth one wrong.
      const byName = new Map<string, string>()
      for (const e of events) {
        if (typeof e.data.label === "string" && !byName.has(e.data_unit.files.image.name)) {
          byName.set(
            e.data_unit.files.image.name,
            e.data.label
          )
        }
      }
      expect(byName.size).toBeGreaterThan(10)
      const rows = [...byName].map(([name, label], i) =>
        JSON.stringify({ data_unit: name, label: i % 4 === 0 ? "not-a-label" : label })
      ).join("\n")
      const analyze = (sb: TestSandbox) =>
        run(
          sb,
          analyzeModel({
            model_id: classifier.id,
            ground_truth_version_id: version,
            task: "classification",
            predictions: rows
          })
        )
      const a = ok(await analyze(richSandbox()))
      const b = ok(await analyze(evidenceSandbox()))
      expect(b.groundTruth.labels).toStrictEqual(a.groundTruth.labels)
      expect(b.groundTruth.conflictingLabels).toBe(a.groundTruth.conflictingLabels)
      expect((b.computed as any).predictions).toStrictEqual((a.computed as any).predictions)
      expect((b.computed as any).metrics).toStrictEqual((a.computed as any).metrics)
      expect((a.computed as any).predictions.used).toBe(byName.size)
    },
    60_000
  )

  it(
    "events listed as the official SDK's export code lists them (fields=category&fields=files&fields=data: no data unit at all) export and split the same",
    async () => {
      const versions = await streetVersions()
      const version = versions[versions.length - 1]!
      const rich = ok(
        await run(
          richSandbox(),
          exportGroundTruth({ datasetVersionIds: [version], format: "coco", outputDir: fresh(), splitBy: "category" })
        )
      )
      const partial = Effect.gen(function*() {
        const gt = yield* GroundTruths
        const cache = yield* FileCache
        const params = { ground_truth_dataset_versions: [version], extra: { fields: ["category", "files", "data"] } }
        const first = yield* gt.listEvents(params, { pageSize: 1, urlConversion: false })
        expect(Object.keys(first.results[0]!).sort()).toStrictEqual(["category", "data", "files", "id"])
        const events = gt.streamEvents(params, { pageSize: 100, urlConversion: false })
        const fetchFile = (entry: { readonly url?: string | null | undefined }) => cache.download(entry.url!)
        const exported = yield* exportEvents({ versions: [{ id: version }], events, fetchFile }, {
          format: "coco",
          outputDir: fresh(),
          splitBy: "category"
        })
        const split = yield* splitEvents({ events, fetchFile, inputs: { dataset_versions: [version] } }, {
          seed: 1,
          dryRun: true
        })
        return { exported, split: split.summary }
      })
      const evidence = ok(await run(evidenceSandbox(), partial))
      expect(figures(evidence.exported)).toStrictEqual({ ...figures(rich), events: rich.events })
      for (const split of Object.keys(rich.splits)) {
        expect(content(readCoco(evidence.exported, split))).toStrictEqual(content(readCoco(rich, split)))
      }
      const richSplit =
        ok(await run(richSandbox(), prepareTrainingData({ datasetVersionIds: [version], seed: 1, dryRun: true })))
          .summary
      expect(evidence.split.total).toStrictEqual(richSplit.total)
    },
    60_000
  )
})
