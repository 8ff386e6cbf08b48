/**
 * compareModels against a real sandbox: models registered here with hand-picked metrics, so the
 * expected ranking is known; missing metrics listed apart, lower-is-better defaults, stable ties,
 * an unknown metric, and recomputation from predictions on a demo dataset version.
 */
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { Models } from "../../src/services/Models.js"
import * as Synapse from "../../src/services/Synapse.js"
import { compareModels, Comparison, defaultDirection, rank } from "../../src/workflows/Compare.js"
import { call } from "../support/http.js"
import { isRich } from "../support/profile.js"
import { type TestSandbox, useSandbox } from "../support/sandbox.js"
import { expectDescribed } from "../support/schema.js"
import { ok, runEither, sdkLayer } from "../support/sdk.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-compare-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

const run = <A, E>(sb: TestSandbox, effect: Effect.Effect<A, E, Synapse.Services>) =>
  runEither(sdkLayer(sb, work), effect)

describe("rank", () => {
  it("is stable on ties, shares their rank, and follows the direction", () => {
    const items = [{ id: "a", value: 0.9 }, { id: "b", value: 0.95 }, { id: "c", value: 0.9 }, { id: "d", value: 0.1 }]
    expect(rank(items, "higher").map((r) => `${r.rank}${r.id}`)).toStrictEqual(["1b", "2a", "2c", "4d"])
    expect(rank(items, "lower").map((r) => `${r.rank}${r.id}`)).toStrictEqual(["1d", "2a", "2c", "4b"])
  })
  it("defaults loss- and error-like metrics to lower is better", () => {
    expect(["loss", "val_loss", "error_rate", "RMSE", "latency_ms"].map(defaultDirection)).toStrictEqual([
      "lower",
      "lower",
      "lower",
      "lower",
      "lower"
    ])
    expect(["accuracy", "mAP", "f1_score", "recall"].map(defaultDirection)).toStrictEqual([
      "higher",
      "higher",
      "higher",
      "higher"
    ])
  })
})

describe("compareModels", () => {
  const sandbox = useSandbox()
  let ids: Array<number> = []
  const register = async (sb: TestSandbox) => {
    if (ids.length > 0) return ids
    const specs: Array<[string, Record<string, number>]> = [
      ["A", { accuracy: 0.9, loss: 0.3 }],
      ["B", { accuracy: 0.95 }],
      ["C", { accuracy: 0.9, loss: 0.2 }],
      ["D", {}]
    ]
    ids = ok(
      await run(
        sb,
        Effect.gen(function*() {
          const models = yield* Models
          return yield* Effect.forEach(
            specs,
            ([name, metrics]) =>
              models.create({
                name: `compare ${name}`,
                model_type: "classification",
                project: 3,
                metrics,
                is_active: false
              }).pipe(
                Effect.map((m) => m.id)
              )
          )
        })
      )
    )
    return ids
  }

  // Stored metrics are not evidenced (an evidenced model has no `metrics`): ranking by them runs on
  // the rich profile; the evidence answer, an UnknownMetricError, is asserted below.
  it.skipIf(!isRich())(
    "ranks by the metric, lists models without it apart, and keeps ties in input order",
    async () => {
      const sb = sandbox()
      const [a, b, c, d] = await register(sb)
      const r = ok(await run(sb, compareModels({ model_ids: [a, b, c, d], metric: "accuracy" })))
      expect(r.direction).toBe("higher")
      expect(r.directionSource).toBe("default")
      expect(r.ranking.map((x) => [x.rank, x.model.id, x.value])).toStrictEqual([[1, b, 0.95], [2, a, 0.9], [
        2,
        c,
        0.9
      ]])
      expect(r.missing.map((x) => x.model.id)).toStrictEqual([d])
      expect(r.best?.model.id).toBe(b)
      expect(r.availableMetrics).toStrictEqual(["accuracy", "loss"])
      // Input order decides among ties: C before A when given first.
      const swapped = ok(await run(sb, compareModels({ model_ids: [c, a, b], metric: "accuracy" })))
      expect(swapped.ranking.map((x) => x.model.id)).toStrictEqual([b, c, a])
    }
  )

  it.skipIf(!isRich())("ranks loss lower-is-better by default, and follows an explicit direction", async () => {
    const sb = sandbox()
    const [a, b, c, d] = await register(sb)
    const r = ok(await run(sb, compareModels({ model_ids: [a, b, c, d], metric: "loss" })))
    expect(r.direction).toBe("lower")
    expect(r.ranking.map((x) => x.model.id)).toStrictEqual([c, a])
    expect(r.missing.map((x) => x.model.id)).toStrictEqual([b, d])
    const higher = ok(await run(sb, compareModels({ model_ids: [a, b, c, d], metric: "loss", direction: "higher" })))
    expect(higher.ranking.map((x) => x.model.id)).toStrictEqual([a, c])
    expect(higher.directionSource).toBe("given")
  })

  it("names the metrics that exist when asked for one no model has", async () => {
    const sb = sandbox()
    const [a, b] = await register(sb)
    const r = await run(sb, compareModels({ model_ids: [a, b], metric: "f1_score" }))
    expect(Either.isLeft(r)).toBe(true)
    if (Either.isRight(r)) return
    expect(r.left._tag).toBe("UnknownMetricError")
    expect(r.left.message).toBe(
      isRich()
        ? "no model has a metric named \"f1_score\" stored on it; metrics that exist: accuracy, loss"
        : "no model has a metric named \"f1_score\" stored on it; metrics that exist: none; the backend sent no metrics for any of these models: recompute them from predictions on a dataset version instead"
    )
  })

  it("recomputes every model on one dataset version from supplied predictions", async () => {
    const sb = sandbox()
    const [a, b, c] = await register(sb)
    // Expectations are read in the documented shapes, whatever profile the comparison runs against.
    const view = await sb.richView()
    const versions =
      (await call(`${view.url}/ground_truth_dataset_versions/?page_size=100`, { headers: view.headers })).body.results
    const version = versions.find((v: any) =>
      v.ground_truth_dataset.name === "Intersection cameras" && v.version === "v1.1"
    )
    const events =
      (await call(`${view.url}/sdk/ground_truth_events/?ground_truth_dataset_versions=${version.id}&page_size=1000`, {
        headers: view.headers
      })).body.results
    const units = new Map<number | string, string>()
    // The last pass per unit; the analysis picks one label per unit by its own rule, so build
    // predictions that are right or wrong whatever the label: the class itself, or a non-class.
    // Evidenced events name no data unit: predictions name the image file instead.
    for (const e of events) units.set(isRich() ? e.data_unit.id : e.data_unit.files.image.name, e.data.label)
    const perfect = [...units].map(([u, label]) => JSON.stringify({ data_unit: u, label })).join("\n")
    const allWrong = [...units].map(([u]) => JSON.stringify({ data_unit: u, label: "nothing" })).join("\n")
    const r = ok(
      await run(
        sb,
        compareModels({
          model_ids: [a, b, c],
          metric: "accuracy",
          // An evidenced model has no model_type: the task is given, else the lines would be read as detection.
          recompute: {
            ground_truth_version_id: version.id,
            predictions: { [String(a)]: allWrong, [String(b)]: perfect },
            ...(isRich() ? {} : { task: "classification" as const })
          }
        })
      )
    )
    expect(r.source).toBe("computed")
    expectDescribed(Comparison, r)
    expect(r.perClass?.metric).toBe("f1")
    expect(r.ranking.map((x) => x.model.id)).toStrictEqual([b, a])
    expect(r.ranking[0].value).toBeGreaterThan(0.8)
    expect(r.ranking[0].reported).toBe(isRich() ? 0.95 : undefined)
    expect(r.ranking[1].value).toBe(0)
    expect(r.missing).toStrictEqual([{
      model: expect.objectContaining({ id: c }),
      reason: "no predictions supplied for this model"
    }])
    expect(r.availableMetrics).toContain("f1_macro")
  })

  it("refuses predictions keyed by a model that is not compared, naming it", async () => {
    const sb = sandbox()
    const [a, b] = await register(sb)
    const r = await run(
      sb,
      compareModels({
        model_ids: [a, b],
        metric: "accuracy",
        recompute: { ground_truth_version_id: 1, predictions: { "999999": "" } }
      })
    )
    expect(Either.isLeft(r)).toBe(true)
    if (Either.isRight(r)) return
    expect(r.left._tag).toBe("PredictionsError")
    expect(r.left.message).toBe(
      `predictions were given for "999999", which is not among the compared models (${a}, ${b}); key predictions by the id of a compared model`
    )
  })
})
