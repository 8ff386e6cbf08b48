import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { outputSchemaOf } from "../../src/mcp/Server.js"
import { allTools } from "../../src/mcp/tools/index.js"
import { connect, textOf } from "./harness.js"
import { useMcp } from "./fixture.js"

const mcp = useMcp()

const call = (name: string, args: Record<string, unknown>, onprogress?: (p: { progress: number; total?: number | undefined }) => void) =>
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
  call("list_models", { page_size: 100, fields: ["id", "project", "is_active", "metrics", "model_type"], ...args }).pipe(
    Effect.map((r) => (r.structuredContent as { results: Array<{ id: number; project: number; is_active: boolean; metrics: Record<string, number>; model_type: string }> }).results)
  )

describe("model workflow tools on the sandbox", () => {
  it.scoped("analyze_model_performance reports stored metrics as reported and the ground truth's distribution", () =>
    Effect.gen(function*() {
      const model = (yield* models({ model_type: "detection" }))[0]!
      const versions = yield* call("list_ground_truth_versions", {})
      const version = (versions.structuredContent as { results: Array<{ id: number }> }).results[0]!.id
      const result = yield* call("analyze_model_performance", { model_id: model.id, ground_truth_version_id: version })
      expect(result.isError).toBeFalsy()
      const analysis = result.structuredContent as { model: { id: number }; groundTruth: { events: number }; reported: { source: string } }
      expect(analysis.model.id).toBe(model.id)
      expect(analysis.groundTruth.events).toBeGreaterThan(0)
      expect(analysis.reported.source).toContain("not computed")
    }))

  it.scoped("compare_models ranks by a metric; an unknown metric lists the available ones", () =>
    Effect.gen(function*() {
      const detectors = (yield* models({ model_type: "detection" })).slice(0, 4)
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
      expect((withFile.structuredContent as { file_info?: { size: number } }).file_info?.size).toBe(3 * 1024 * 1024)

      const outside = yield* call("create_model", { name: "x", model_type: "detection", project: 1, file_path: "/etc/hostname" })
      expect(outside.isError).toBe(true)
      expect(textOf(outside)).toMatch(/outside the upload roots|does not exist in the upload roots/)
      const badType = yield* call("create_model", { name: "x", model_type: "regression", project: 1 })
      expect(textOf(badType)).toContain(`"classification", "detection", "segmentation"`)
    }))

  it.scoped("update_model changes fields; an empty patch is refused", () =>
    Effect.gen(function*() {
      const model = (yield* models({}))[0]!
      const result = yield* call("update_model", { id: model.id, description: "updated through MCP" })
      expect(result.structuredContent).toMatchObject({ id: model.id, description: "updated through MCP" })
      const empty = yield* call("update_model", { id: model.id })
      expect(textOf(empty)).toContain("Nothing to update")
    }))

  it.scoped("deploy_model returns a plan and changes nothing until confirm: true", () =>
    Effect.gen(function*() {
      const project = (yield* models({}))[0]!.project
      // Deployment replaces the active model of the same type in the project.
      const activeBefore = (yield* models({ project, is_active: true, model_type: "detection" })).map((m) => m.id).sort()
      const args = { name: "mcp-deployed", type: "detection", project_id: project, metrics: { mAP: 0.99 }, replace_active: true }
      const plan = yield* call("deploy_model", args)
      expect(plan.structuredContent).toMatchObject({ status: "planned", dryRun: true })
      expect(textOf(plan)).toContain("confirm: true")
      expect((yield* models({ project, is_active: true, model_type: "detection" })).map((m) => m.id).sort()).toStrictEqual(activeBefore)

      const done = yield* call("deploy_model", { ...args, confirm: true })
      expect(done.structuredContent).toMatchObject({ status: "deployed", dryRun: false })
      const activeAfter = (yield* models({ project, is_active: true, model_type: "detection" })).map((m) => m.id)
      expect(activeAfter).toHaveLength(1)
      expect(activeBefore).not.toContain(activeAfter[0])
    }))
})
