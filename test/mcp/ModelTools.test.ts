import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { outputSchemaOf } from "../../src/mcp/Server.js"
import { allTools } from "../../src/mcp/tools/index.js"
import { call as http } from "../support/http.js"
import { isRich } from "../support/profile.js"
import { useMcp } from "./fixture.js"
import { connect, textOf } from "./harness.js"

const mcp = useMcp()

const call = (
  name: string,
  args: Record<string, unknown>,
  onprogress?: (p: { progress: number; total?: number | undefined }) => void
) =>
  Effect.gen(function*() {
    const client = yield* connect(mcp().factory)
    yield* Effect.promise(() => client.listTools())
    const result = yield* Effect.promise(() =>
      client.callTool({ name, arguments: args }, undefined, onprogress !== undefined ? { onprogress } : {})
    )
    if (result.isError !== true) {
      const tool = allTools.find((t) => t.name === name)!
      Schema.decodeUnknownSync(outputSchemaOf(tool), { onExcessProperty: "error" })(result.structuredContent)
    }
    return result
  })

const models = (args: Record<string, unknown>) =>
  call("list_models", { page_size: 100, fields: ["id", "project", "is_active", "metrics", "model_type"], ...args })
    .pipe(
      Effect.map((r) =>
        (r.structuredContent as {
          results: Array<
            { id: number; project: number; is_active: boolean; metrics: Record<string, number>; model_type: string }
          >
        }).results
      )
    )

describe("model workflow tools on the sandbox", () => {
  it.scoped("a result over 4 000 characters keeps its whole JSON text: the error-text cap is for errors only", () =>
    Effect.gen(function*() {
      const result = yield* call("list_ground_truth_events", { page_size: 100 })
      expect(result.isError).toBeFalsy()
      const text = textOf(result)
      expect(text.length).toBeGreaterThan(4_000)
      expect(JSON.parse(text)).toStrictEqual(result.structuredContent)
    }))

  it.scoped("analyze_model_performance reports stored metrics as reported and the ground truth's distribution", () =>
    Effect.gen(function*() {
      const model = (yield* models({ model_type: "detection" }))[0]!
      const versions = yield* call("list_ground_truth_versions", {})
      const version = (versions.structuredContent as { results: Array<{ id: number }> }).results[0]!.id
      const result = yield* call("analyze_model_performance", { model_id: model.id, ground_truth_version_id: version })
      expect(result.isError).toBeFalsy()
      const analysis = result.structuredContent as {
        model: { id: number }
        groundTruth: { events: number }
        reported: { source: string }
      }
      expect(analysis.model.id).toBe(model.id)
      expect(analysis.groundTruth.events).toBeGreaterThan(0)
      expect(analysis.reported.source).toContain("not computed")
    }))

  it.scoped("compare_models ranks by a metric; an unknown metric lists the available ones", () =>
    Effect.gen(function*() {
      const detectors = (yield* models({ model_type: "detection" })).slice(0, 4)
      if (!isRich()) {
        // Evidenced models carry no `metrics`: ranking by a stored metric says so and points to recomputing.
        const none = yield* call("compare_models", { model_ids: detectors.map((m) => m.id), metric: "mAP" })
        expect(none.isError).toBe(true)
        expect(textOf(none)).toContain(
          `no model has a metric named "mAP" stored on it; metrics that exist: none; the backend sent no metrics for any of these models: recompute them from predictions`
        )
        const missing = yield* call("compare_models", { model_ids: [detectors[0]!.id, 987654], metric: "mAP" })
        expect(missing.isError).toBe(true)
        expect(textOf(missing)).toMatch(/does not exist.*\(HTTP 404 for GET \/api\/v1\/models\/987654\/\)/)
        return
      }
      const metric = Object.keys(detectors[0]!.metrics)[0]!
      const result = yield* call("compare_models", { model_ids: detectors.map((m) => m.id), metric })
      const comparison = result.structuredContent as { ranking: Array<{ rank: number }>; source: string }
      expect(comparison.source).toBe("reported")
      expect(comparison.ranking[0]!.rank).toBe(1)
      const unknown = yield* call("compare_models", { model_ids: detectors.map((m) => m.id), metric: "no_such_metric" })
      expect(unknown.isError).toBe(true)
      expect(textOf(unknown)).toContain(metric)
      const missing = yield* call("compare_models", { model_ids: [detectors[0]!.id, 987654], metric })
      expect(missing.isError).toBe(true)
      expect(textOf(missing)).toMatch(/does not exist.*\(HTTP 404 for GET \/api\/v1\/models\/987654\/\)/)
    }))

  // Predictions that score accuracy 1 and 0 on a dataset version, whatever label the analysis
  // picks per data unit: the unit's own label, or a label no class has. An evidenced event names
  // no data unit id and carries its label as a native `classification` annotation: its image is
  // then named by its file name, the last segment of the image URL's path.
  const classificationPredictions = Effect.promise(async () => {
    const sb = mcp().sandbox
    // Evidenced versions do not name their dataset: the database says which version is which.
    const [version] = sb.query<{ id: number }>(
      "SELECT v.id FROM ground_truth_dataset_versions v JOIN ground_truth_datasets d ON d.id = v.dataset_id WHERE d.name = ? AND v.version = ?",
      "Intersection cameras",
      "v1.1"
    )
    const events =
      (await http(`${sb.url}/sdk/ground_truth_events/?ground_truth_dataset_versions=${version!.id}&page_size=1000`, {
        headers: sb.headers
      })).body.results
    const units = new Map<number | string, string>()
    for (const e of events) {
      if (isRich()) units.set(e.data_unit.id, e.data.label)
      else {
        const label = e.data.annotations.image.find((a: any) => a.tool === "classification")?.classification.class
        if (label !== undefined) units.set(new URL(e.files.image_1.url).pathname.split("/").pop()!, label)
      }
    }
    expect(units.size).toBeGreaterThan(10)
    return {
      version: version.id as number,
      perfect: [...units].map(([u, label]) => JSON.stringify({ data_unit: u, label })).join("\n"),
      allWrong: [...units].map(([u]) => JSON.stringify({ data_unit: u, label: "nothing" })).join("\n")
    }
  })

  // An evidenced model has no `model_type`, so its predictions would be read as detection results:
  // the caller says the task, as the tool's note asks.
  const task = isRich() ? {} : { task: "classification" }

  it.scoped("compare_models recomputes from prediction files in the upload roots, alone or mixed with inline predictions", () =>
    Effect.gen(function*() {
      const [a, b, c] = (yield* models({ model_type: "classification" })).map((m) => m.id)
      const { version, perfect, allWrong } = yield* classificationPredictions
      fs.mkdirSync(path.join(mcp().uploadDir, "preds"), { recursive: true })
      fs.writeFileSync(path.join(mcp().uploadDir, "preds", "a.jsonl"), allWrong)
      const bFile = path.join(mcp().uploadDir, "preds", "b.jsonl")
      fs.writeFileSync(bFile, perfect)
      type Ranked = {
        ranking: Array<{ rank: number; model: { id: number }; value: number }>
        missing: Array<{ model: { id: number }; reason: string }>
        source: string
      }

      // One path relative to a root, one absolute inside it.
      const result = yield* call("compare_models", {
        model_ids: [a, b, c],
        metric: "accuracy",
        recompute: {
          ground_truth_version_id: version,
          predictions_paths: { [String(a)]: "preds/a.jsonl", [String(b)]: bFile },
          ...task
        }
      })
      expect(result.isError).toBeFalsy()
      const comparison = result.structuredContent as Ranked
      expect(comparison.source).toBe("computed")
      expect(comparison.ranking.map((r) => [r.rank, r.model.id])).toStrictEqual([[1, b], [2, a]])
      expect(comparison.ranking[0]!.value).toBeGreaterThan(0.8)
      expect(comparison.ranking[1]!.value).toBe(0)
      expect(comparison.missing.map((m) => [m.model.id, m.reason])).toStrictEqual([[
        c,
        "no predictions supplied for this model"
      ]])

      // The same ranking when one model's predictions come inline and the other's from a file.
      const mixed = yield* call("compare_models", {
        model_ids: [a, b],
        metric: "accuracy",
        recompute: {
          ground_truth_version_id: version,
          predictions: { [String(a)]: allWrong },
          predictions_paths: { [String(b)]: "preds/b.jsonl" },
          ...task
        }
      })
      expect(mixed.isError).toBeFalsy()
      expect((mixed.structuredContent as Ranked).ranking.map((r) => [r.model.id, r.value])).toStrictEqual(
        comparison.ranking.map((r) => [r.model.id, r.value])
      )
    }))

  it.scoped("compare_models passes the scoring options of recompute (task, zero_division, score_threshold) to the scoring", () =>
    Effect.gen(function*() {
      const [a, b] = (yield* models({ model_type: "classification" })).map((m) => m.id)
      const { version, perfect } = yield* classificationPredictions
      const compare = (scoring: Record<string, unknown>) =>
        call("compare_models", {
          model_ids: [a, b],
          metric: "accuracy",
          recompute: { ground_truth_version_id: version, predictions: { [String(b)]: perfect }, ...task, ...scoring }
        })
      const plain = yield* compare({ zero_division: 1, score_threshold: 0.5 })
      expect(plain.isError, JSON.stringify(plain.content)).toBeFalsy()
      // Read as detection results, classification lines are not predictions at all.
      const asDetection = yield* compare({ task: "detection" })
      expect(asDetection.isError).toBe(true)
      expect(JSON.stringify(asDetection.content)).toContain(`predictions of model ${b} has no usable row`)
      // Out of range: refused with the field named.
      const bad = yield* compare({ zero_division: 2 })
      expect(bad.isError).toBe(true)
      expect(JSON.stringify(bad.content)).toContain("recompute.zero_division")
    }))

  it.scoped("compare_models refuses prediction files outside the roots, too large, unkeyed, or given twice for a model, naming them", () =>
    Effect.gen(function*() {
      const [a, b] = (yield* models({ model_type: "classification" })).map((m) => m.id)
      const { version, perfect } = yield* classificationPredictions
      const recompute = (r: Record<string, unknown>) =>
        call("compare_models", {
          model_ids: [a, b],
          metric: "accuracy",
          recompute: { ground_truth_version_id: version, ...r }
        })
      fs.writeFileSync(path.join(mcp().uploadDir, "ok.jsonl"), perfect)

      // A real file, outside every upload root.
      const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-outside-"))
      const outsideFile = path.join(elsewhere, "preds.jsonl")
      fs.writeFileSync(outsideFile, perfect)
      try {
        const outside = yield* recompute({ predictions_paths: { [String(a)]: "ok.jsonl", [String(b)]: outsideFile } })
        expect(outside.isError).toBe(true)
        expect(textOf(outside)).toContain(
          `recompute.predictions_paths["${b}"] ${
            JSON.stringify(outsideFile)
          } resolves to a location outside the upload roots (${mcp().uploadDir})`
        )
      } finally {
        fs.rmSync(elsewhere, { recursive: true, force: true })
      }

      const both = yield* recompute({
        predictions: { [String(a)]: perfect },
        predictions_paths: { [String(a)]: "ok.jsonl", [String(b)]: "ok.jsonl" }
      })
      expect(both.isError).toBe(true)
      expect(textOf(both)).toContain(
        `model ${a} has predictions both inline (recompute.predictions) and as a file (recompute.predictions_paths: "ok.jsonl"); give each model one or the other.`
      )

      const stray = yield* recompute({ predictions_paths: { "999999": "ok.jsonl" } })
      expect(stray.isError).toBe(true)
      expect(textOf(stray)).toContain(
        `recompute.predictions_paths has files for "999999", which is not among model_ids (${a}, ${b})`
      )

      const nothing = yield* recompute({})
      expect(nothing.isError).toBe(true)
      expect(textOf(nothing)).toContain("recompute needs predictions for at least one model")

      // Sparse files: their size is checked before anything is read, so nothing is loaded.
      const big = path.join(mcp().uploadDir, "big.jsonl")
      fs.writeFileSync(big, "")
      fs.truncateSync(big, 64 * 1024 * 1024 + 1)
      const tooLarge = yield* recompute({ predictions_paths: { [String(a)]: "ok.jsonl", [String(b)]: "big.jsonl" } })
      expect(tooLarge.isError).toBe(true)
      expect(textOf(tooLarge)).toContain(
        `recompute.predictions_paths["${b}"] "big.jsonl" is ${64 * 1024 * 1024 + 1} bytes (64 MiB); the limit is ${
          64 * 1024 * 1024
        } bytes (64 MiB) per predictions file.`
      )
      // Five files of 60 MiB each pass the per-file limit, not the limit on one call.
      const ids = (yield* models({ model_type: "classification" })).map((m) => m.id).slice(0, 5)
      expect(ids.length).toBe(5)
      const sixty = ids.map((_, i) => `sixty-${i}.jsonl`)
      for (const name of sixty) {
        fs.writeFileSync(path.join(mcp().uploadDir, name), "")
        fs.truncateSync(path.join(mcp().uploadDir, name), 60 * 1024 * 1024)
      }
      const together = yield* call("compare_models", {
        model_ids: ids,
        metric: "accuracy",
        recompute: {
          ground_truth_version_id: version,
          predictions_paths: Object.fromEntries(ids.map((id, i) => [String(id), sixty[i]!]))
        }
      })
      expect(together.isError).toBe(true)
      expect(textOf(together)).toContain(
        `The files in recompute.predictions_paths are ${
          5 * 60 * 1024 * 1024
        } bytes together (300 MiB); the limit for one call is 268435456 bytes (256 MiB).`
      )
      for (const name of ["big.jsonl", ...sixty]) fs.rmSync(path.join(mcp().uploadDir, name))
    }))

  it.scoped("create_model uploads a file from an upload root with progress; outside the roots is refused", () =>
    Effect.gen(function*() {
      const file = path.join(mcp().uploadDir, "weights.bin")
      fs.writeFileSync(file, Buffer.alloc(3 * 1024 * 1024, 7))
      const progress: Array<number> = []
      const result = yield* call(
        "create_model",
        { name: "mcp-uploaded", model_type: "detection", project: 1, metrics: { mAP: 0.5 }, file_path: "weights.bin" },
        (p) => void progress.push(p.progress)
      )
      expect(result.isError).toBeFalsy()
      const created = result.structuredContent as { id: number; name: string; file?: string | null }
      expect(created.name).toBe("mcp-uploaded")
      expect(created.file).toBeTruthy()
      expect(progress.length).toBeGreaterThan(0)
      const withFile = yield* call("get_model", { id: created.id, include_file: true })
      if (isRich()) {
        expect((withFile.structuredContent as { file_info?: { size: number } }).file_info?.size).toBe(3 * 1024 * 1024)
      } else {
        // `file_info` is not evidenced: the uploaded bytes are checked at the model's file URL instead.
        expect(withFile.structuredContent).not.toHaveProperty("file_info")
        const url = (withFile.structuredContent as { file: string }).file
        const bytes = Buffer.from(yield* Effect.promise(() => fetch(url).then((r) => r.arrayBuffer())))
        expect(bytes.equals(Buffer.alloc(3 * 1024 * 1024, 7))).toBe(true)
      }

      const outside = yield* call("create_model", {
        name: "x",
        model_type: "detection",
        project: 1,
        file_path: "/etc/hostname"
      })
      expect(outside.isError).toBe(true)
      expect(textOf(outside)).toMatch(/outside the upload roots|does not exist in the upload roots/)
      const badType = yield* call("create_model", { name: "x", model_type: "regression", project: 1 })
      expect(textOf(badType)).toContain(`"classification", "detection", "segmentation"`)
    }))

  it.scoped("update_model changes fields; an empty patch is refused", () =>
    Effect.gen(function*() {
      const model = (yield* models({}))[0]!
      const result = yield* call("update_model", { id: model.id, description: "updated through MCP" })
      expect(result.structuredContent).toMatchObject({
        status: "updated",
        model: { id: model.id, description: "updated through MCP" }
      })
      const empty = yield* call("update_model", { id: model.id })
      expect(textOf(empty)).toContain("Nothing to update")
    }))

  it.scoped("deploy_model returns a plan and changes nothing until called with its plan_id", () =>
    Effect.gen(function*() {
      if (!isRich()) {
        // Evidenced models say nothing of their project, type or activity: deploy cannot know which
        // models it replaces, so it refuses, naming the missing field, and creates nothing.
        const args = {
          name: "mcp-deployed",
          type: "detection",
          project_id: 1,
          metrics: { mAP: 0.99 },
          replace_active: true
        }
        for (const confirm of [false, true]) {
          const refused = yield* call("deploy_model", { ...args, confirm })
          expect(refused.isError).toBe(true)
          expect(textOf(refused)).toMatch(
            /^Deploying "mcp-deployed" to project 1 failed: model \d+ has no `is_active`: deploy needs it, and the backend did not send it/
          )
        }
        expect(mcp().sandbox.query("SELECT id FROM models WHERE name = ?", "mcp-deployed")).toStrictEqual([])
        return
      }
      const project = (yield* models({}))[0]!.project
      // Deployment replaces the active model of the same type in the project.
      const activeBefore = (yield* models({ project, is_active: true, model_type: "detection" })).map((m) => m.id)
        .sort()
      const args = {
        name: "mcp-deployed",
        type: "detection",
        project_id: project,
        metrics: { mAP: 0.99 },
        replace_active: true
      }
      const plan = yield* call("deploy_model", args)
      expect(plan.structuredContent).toMatchObject({ status: "planned", steps: [] })
      const planId = (plan.structuredContent as { plan_id: string }).plan_id
      expect((plan.structuredContent as { next: string }).next).toContain(`plan_id "${planId}"`)
      expect((yield* models({ project, is_active: true, model_type: "detection" })).map((m) => m.id).sort())
        .toStrictEqual(activeBefore)

      const done = yield* call("deploy_model", { ...args, plan_id: planId })
      expect(done.structuredContent).toMatchObject({ status: "deployed" })
      const activeAfter = (yield* models({ project, is_active: true, model_type: "detection" })).map((m) => m.id)
      expect(activeAfter).toHaveLength(1)
      expect(activeBefore).not.toContain(activeAfter[0])
    }))
})
