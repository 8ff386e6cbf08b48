/**
 * analyzeModel against a real sandbox with the demo data: reported metrics labelled as such, the
 * ground-truth distribution cross-checked with the raw API, computed metrics from predictions built
 * out of the ground truth itself (so the expected values are known), and bad predictions.
 */
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import * as Synapse from "../../src/services/Synapse.js"
import { Analysis, type AnalyzeInput, analyzeModel } from "../../src/workflows/Analyze.js"
import { call } from "../support/http.js"
import { imageIdsByEvent, isRich } from "../support/profile.js"
import { type TestSandbox, useSandbox } from "../support/sandbox.js"
import { expectDescribed } from "../support/schema.js"
import { ok, runEither, sdkLayer } from "../support/sdk.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-analyze-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

const run = <A, E>(sb: TestSandbox, effect: Effect.Effect<A, E, Synapse.Services>) =>
  runEither(sdkLayer(sb, work), effect)
const analyze = async (sb: TestSandbox, input: AnalyzeInput) => run(sb, analyzeModel(input))

// Expectations are read in the documented shapes, whatever profile the analysis runs against.
const get = async (sb: TestSandbox, route: string) => {
  const view = await sb.richView()
  const answer = await call(`${view.url}/${route}`, { headers: view.headers })
  expect(answer.status).toBe(200)
  return answer.body
}

describe("analyzeModel", () => {
  const sandbox = useSandbox()
  let fixture: {
    detector: any
    classifier: any
    version: any
    events: Array<any>
  }
  const load = async () => {
    if (fixture) return fixture
    const sb = sandbox()
    const versions = (await get(sb, "ground_truth_dataset_versions/?page_size=100")).results
    const version = versions.find((v: any) => v.ground_truth_dataset.name === "Street scenes" && v.version === "v2.0")
    const detector = (await get(sb, "models/?project=1&model_type=detection&is_active=true")).results[0]
    const classifier = (await get(sb, "models/?project=1&model_type=classification&is_active=true")).results[0]
    const events =
      (await get(sb, `sdk/ground_truth_events/?ground_truth_dataset_versions=${version.id}&page_size=1000`)).results
    fixture = { detector, classifier, version, events }
    return fixture
  }

  it("labels stored metrics as reported and summarises the ground truth like the raw API", async () => {
    const sb = sandbox()
    const { detector, version, events } = await load()
    const a = ok(await analyze(sb, { model_id: detector.id, ground_truth_version_id: version.id }))
    // An evidenced model says neither its activity nor its metrics: none are reported, and a note says so.
    expect(a.model).toMatchObject(
      isRich() ? { id: detector.id, name: detector.name, is_active: true } : { id: detector.id, name: detector.name }
    )
    expect(a.reported.source).toMatch(/reported by the model's uploader/)
    expect(a.reported.metrics).toStrictEqual(isRich() ? detector.metrics : {})
    if (!isRich()) {
      expect(a.notes).toContain(
        `the backend sent no metrics for model ${detector.id}: there are no reported metrics to show or compare`
      )
    }
    expect(a.computed).toBeUndefined()
    expectDescribed(Analysis, a)
    expect(a.discrepancies).toStrictEqual([])
    expect(a.groundTruth.events).toBe(events.length)
    expect(a.groundTruth.events).toBe(version.event_count)
    expect(a.groundTruth.dataUnits).toBe(new Set(events.map((e) => e.data_unit.id)).size)
    const splits: Record<string, number> = {}
    for (const e of events) splits[e.category] = (splits[e.category] ?? 0) + 1
    expect(a.groundTruth.splits).toStrictEqual(splits)
    const annotations = events.reduce((n, e) => n + e.data.annotations.length, 0)
    expect(Object.values(a.groundTruth.classes).reduce((x, y) => x + y, 0)).toBe(annotations)
    expect(a.notes.join(" ")).toMatch(/no predictions given/)
  })

  it("computes AP 1 from predictions equal to the ground truth, and lists discrepancies", async () => {
    const sb = sandbox()
    const { detector, version, events } = await load()
    // Evidenced events name images and classes only: the ids are those an export gives them (the
    // image file's derived id; classes numbered from 1 in name order).
    const images = await imageIdsByEvent(sb, version.id)
    const names = [...new Set(events.flatMap((e) => e.data.annotations.map((a: any) => a.category as string)))].sort()
    const categoryId = (a: any): number => (isRich() ? a.category_id : names.indexOf(a.category) + 1)
    const rows = events.flatMap((e) =>
      e.data.annotations
        // The native form cannot say `iscrowd`: an evidenced crowd region is an ordinary box to find.
        .filter((a: any) => a.iscrowd !== 1 || !isRich())
        .map((a: any, i: number) => ({
          image_id: images.get(e.id),
          category_id: categoryId(a),
          bbox: a.bbox,
          score: 0.5 + ((e.id * 7 + i) % 50) / 100
        }))
    )
    const progress: Array<string> = []
    const a = ok(
      await run(
        sb,
        analyzeModel(
          {
            model_id: detector.id,
            ground_truth_version_id: version.id,
            predictions: JSON.stringify(rows),
            tolerance: 0.05
          },
          { onProgress: (p) => progress.push(`${p.stage}:${p.done}/${p.total}`) }
        )
      )
    )
    expect(a.computed?.task).toBe("detection")
    expectDescribed(Analysis, a)
    if (a.computed?.task !== "detection") return
    expect(a.computed.metrics.AP).toBeCloseTo(1, 9)
    expect(a.computed.metrics.AR100).toBeCloseTo(1, 9)
    expect(a.computed.predictions).toMatchObject({ rows: rows.length, used: rows.length, skipped: { total: 0 } })
    expect(progress[0]).toBe(`ground_truth:0/${events.length}`)
    expect(progress).toContain(`ground_truth:${events.length}/${events.length}`)
    expect(progress.at(-1)).toBe("scoring:1/1")
    // Every reported metric the analysis knows is compared; those off by more than 0.05 are listed.
    for (const c of a.comparisons) expect(c.agrees).toBe(Math.abs(c.computed - c.reported) <= 0.05)
    expect(a.discrepancies).toStrictEqual(a.comparisons.filter((c) => !c.agrees))
    expect(a.comparisons.length + a.uncompared.length).toBe(isRich() ? Object.keys(detector.metrics).length : 0)
  })

  it("scores classification predictions matched by file name", async () => {
    const sb = sandbox()
    const { classifier, version, events } = await load()
    const byUnit = new Map<number, any>()
    for (const e of events) byUnit.set(e.data_unit.id, e)
    // Wrong on every fourth unit, right elsewhere; matched by the image's file name.
    const lines = [...byUnit.values()].map((e, i) => {
      const name = Object.values(e.data_unit.files as Record<string, any>)[0].name
      return JSON.stringify({ data_unit: name, label: i % 4 === 0 ? "not_a_class" : e.data.label })
    })
    // An evidenced model has no model_type: the task is given, else the lines would be read as detection.
    const task = isRich() ? {} : { task: "classification" as const }
    const a = ok(
      await analyze(sb, {
        model_id: classifier.id,
        ground_truth_version_id: version.id,
        predictions: lines.join("\n"),
        ...task
      })
    )
    if (a.computed?.task !== "classification") throw new Error("expected classification")
    expectDescribed(Analysis, a)
    const units = byUnit.size
    const wrong = Math.ceil(units / 4)
    // Some units have two passes that disagree on the label: those may count as wrong too.
    expect(a.computed.metrics.samples).toBe(units)
    expect(a.computed.metrics.accuracy).toBeLessThanOrEqual((units - wrong) / units)
    expect(a.computed.metrics.accuracy).toBeGreaterThanOrEqual(
      (units - wrong - a.groundTruth.conflictingLabels) / units
    )
    expect(a.computed.metrics.labels).toContain("not_a_class")
    expect(a.computed.unpredicted).toBe(0)
  })

  it("fails clearly on a file that is not JSON, and on one whose rows match no data unit", async () => {
    const sb = sandbox()
    const { detector, version } = await load()
    const notJson = await analyze(sb, {
      model_id: detector.id,
      ground_truth_version_id: version.id,
      predictions: "id,label\n1,car\n",
      predictions_name: "preds.csv"
    })
    expect(Either.isLeft(notJson) && notJson.left._tag).toBe("PredictionsError")
    expect(Either.isLeft(notJson) && notJson.left.message).toMatch(/preds.csv is neither a JSON array nor JSON Lines/)
    const nowhere = await analyze(sb, {
      model_id: detector.id,
      ground_truth_version_id: version.id,
      predictions: JSON.stringify([{ image_id: 999999, category_id: 1, bbox: [0, 0, 10, 10], score: 0.5 }])
    })
    expect(Either.isLeft(nowhere) && nowhere.left.message).toMatch(/no usable row.*unknown_image/)
    const missing = await analyze(sb, { model_id: 999999, ground_truth_version_id: version.id })
    expect(Either.isLeft(missing) && missing.left._tag).toBe("NotFoundError")
  })
})
