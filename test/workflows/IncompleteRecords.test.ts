/**
 * Workflows on records that lack fields they need: deploy and rollback fail with an
 * `IncompleteRecordError` naming the model, the field and the workflow (never a `DecodeError`,
 * never a silently wrong plan), before changing anything; compare and analyze say what they
 * assumed. The backend is a scripted real HTTP server answering evidence-shaped records, so the
 * whole SDK path runs; the CLI and the MCP server render the same error as a clear message.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect, Either, Layer, ManagedRuntime, Redacted, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { exitCodeOf } from "../../src/cli/commands/workflowSupport.js"
import * as Backend from "../../src/mcp/Backend.js"
import { toToolError } from "../../src/mcp/Errors.js"
import { serverLayer } from "../../src/mcp/Main.js"
import { McpServer, outputSchemaOf } from "../../src/mcp/Server.js"
import { getModel } from "../../src/mcp/tools/Models.js"
import * as SynapseClient from "../../src/services/SynapseClient.js"
import { IncompleteRecordError, isSynapseError } from "../../src/services/SynapseError.js"
import { analyzeModel } from "../../src/workflows/Analyze.js"
import { compareModels } from "../../src/workflows/Compare.js"
import { type DeployInput, deployModel, rollbackDeployment } from "../../src/workflows/Deploy.js"
import { testSettings } from "../mcp/fixture.js"
import { connect, textOf } from "../mcp/harness.js"
import { runCli } from "../support/cli.js"
import { call } from "../support/http.js"
import { useSandbox } from "../support/sandbox.js"
import {
  API,
  onePage,
  type ScriptedRequest,
  type ScriptedServer,
  startScriptedServer
} from "../support/scriptedServer.js"
import { ok, runEither, sdkLayer } from "../support/sdk.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-incomplete-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

let server: ScriptedServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

/**
 * A backend whose `models/` listing ignores its filters (they are documented, not evidenced) and
 * answers `models`; `POST models/` refuses the project probe's upload id as DRF would (the project
 * is valid); `PATCH` is recorded and answered with the model.
 */
const serveModels = async (models: ReadonlyArray<Record<string, unknown>>) => {
  server = await startScriptedServer((req: ScriptedRequest) => {
    if (req.method === "POST" && req.path === `${API}/models/`) {
      return { status: 400, json: { chunked_upload: ["Invalid pk \"0\" - object does not exist."] } }
    }
    if (req.method === "GET" && req.path === `${API}/models/`) return { json: onePage(models) }
    const one = /^\/api\/v1\/models\/(\d+)\/$/.exec(req.path)
    const model = one !== null ? models.find((m) => m.id === Number(one[1])) : undefined
    return model !== undefined ? { json: model } : undefined
  })
  return server
}

const run = <A, E>(effect: Effect.Effect<A, E, any>) =>
  runEither(sdkLayer({ url: server!.url, token: "t0ken" }, work), effect as Effect.Effect<A, E, never>)

const DEPLOY: DeployInput = { name: "candidate", type: "detection", project_id: 2, replace_active: true, dry_run: true }

const incomplete = (id: number, field: string, neededBy: string) => ({
  _tag: "IncompleteRecordError",
  resource: "model",
  id,
  field,
  needed_by: neededBy
})
const shapeOf = (e: unknown) => {
  const o = e as Record<string, unknown>
  return { _tag: o._tag, resource: o.resource, id: o.id, field: o.field, needed_by: o.needed_by }
}
const changes = () =>
  server!.requests.filter((r) =>
    r.method === "PATCH" || (r.method === "POST" && !r.body.includes("synapse-ml project check"))
  )

describe("deploy on models that lack what it needs", () => {
  it("a listed active model without project fails the plan with IncompleteRecordError naming it; nothing changes", async () => {
    await serveModels([{ id: 456, name: "current", model_type: "detection", is_active: true }])
    const result = await run(deployModel(DEPLOY))
    expect(Either.isLeft(result)).toBe(true)
    const error = (result as Either.Left<unknown, unknown>).left
    expect(error).toBeInstanceOf(IncompleteRecordError)
    expect(isSynapseError(error)).toBe(true)
    expect(shapeOf(error)).toStrictEqual(incomplete(456, "project", "deploy"))
    expect((error as IncompleteRecordError).message).toBe(
      "model 456 has no `project`: deploy needs it, and the backend did not send it (to know the active models of project 2)"
    )
    expect(changes()).toStrictEqual([])
  })

  it("without is_active, and without model_type when scoped by type; scope project does not need the type", async () => {
    await serveModels([{ id: 457, name: "unknown state", project: 2, model_type: "detection" }])
    const stateless = await run(deployModel(DEPLOY))
    expect(Either.isLeft(stateless) && shapeOf(stateless.left)).toStrictEqual(incomplete(457, "is_active", "deploy"))
    await server!.close()
    await serveModels([{ id: 458, name: "untyped", project: 2, is_active: true, metrics: { mAP: 0.5 } }])
    const typed = await run(deployModel(DEPLOY))
    expect(Either.isLeft(typed) && shapeOf(typed.left)).toStrictEqual(incomplete(458, "model_type", "deploy"))
    expect(Either.isLeft(typed) && typed.left.message).toContain("scope \"project\" does not need it")
    const plan = ok(await run(deployModel({ ...DEPLOY, scope: "project" })))
    expect(plan.plan.activeModels).toStrictEqual([{
      id: 458,
      name: "untyped",
      model_type: null,
      project: 2,
      version: null,
      is_active: true
    }])
    expect(plan.plan.steps).toContain("deactivate model 458 (untyped)")
  })

  it("models of other projects and inactive ones are left out on the client when the backend ignores the filters", async () => {
    await serveModels([
      { id: 1, name: "other project", project: 9, model_type: "detection", is_active: true },
      { id: 2, name: "inactive, nothing else known", is_active: false },
      { id: 3, name: "a classifier", project: 2, model_type: "classification", is_active: true },
      { id: 4, project: 2, model_type: "detection", is_active: true, version: "2" }
    ])
    const plan = ok(await run(deployModel(DEPLOY)))
    expect(plan.plan.activeModels.map((m) => m.id)).toStrictEqual([4])
    // A model without a name is named by its id (and version), never "undefined".
    expect(plan.plan.steps).toContain("deactivate model 4 (2)")
    expect(JSON.stringify(plan)).not.toContain("undefined")
  })

  it("a gate against an active model the backend sent no metrics for says so", async () => {
    await serveModels([{ id: 5, name: "bare", project: 2, model_type: "detection", is_active: true }])
    const result = await run(
      deployModel({ ...DEPLOY, metrics: { mAP: 0.9 }, gate: { against: "active", metric: "mAP" } })
    )
    expect(Either.isLeft(result) && result.left._tag).toBe("DeployPreconditionError")
    expect(Either.isLeft(result) && result.left.message).toContain(
      "5 (bare) lacks (the backend sent no metrics for them)"
    )
  })

  it("rollback refuses a model without project before switching anything", async () => {
    await serveModels([{ id: 456, name: "current", is_active: false }, { id: 500, project: 2, is_active: true }])
    const result = await run(rollbackDeployment({ project_id: 2, reactivate: [456], deactivate: [500] }))
    expect(Either.isLeft(result) && shapeOf(result.left)).toStrictEqual(incomplete(456, "project", "rollback"))
    expect(changes()).toStrictEqual([])
  })

  it("rollback refuses before switching anything when the project's listing cannot say which models are active", async () => {
    await serveModels([{ id: 456, project: 2, is_active: false }, { id: 500, project: 2, is_active: true }, {
      id: 9,
      name: "stateless",
      project: 2
    }])
    const result = await run(rollbackDeployment({ project_id: 2, reactivate: [456], deactivate: [500] }))
    expect(Either.isLeft(result) && shapeOf(result.left)).toStrictEqual(incomplete(9, "is_active", "rollback"))
    expect(changes()).toStrictEqual([])
  })
})

describe("deploy on the sandbox's evidence profile", () => {
  const evidence = useSandbox({ seed: "demo", profile: "evidence" })

  it("stops at the first model that does not say whether it is active, and creates nothing", async () => {
    const countModels = async () =>
      (await call(`${evidence().url}/models/?page_size=1`, { headers: evidence().headers })).body.count as number
    const before = await countModels()
    const result = await runEither(
      sdkLayer({ url: evidence().url, token: evidence().token }, work),
      deployModel({ name: "candidate", type: "detection", project_id: 1, replace_active: true, dry_run: true })
    )
    expect(Either.isLeft(result) && result.left._tag).toBe("IncompleteRecordError")
    expect(Either.isLeft(result) && result.left.message).toMatch(/^model \d+ has no `is_active`: deploy needs it/)
    expect(await countModels()).toBe(before)
  })
})

describe("compare on models without metrics or type", () => {
  it("says the backend sent no metrics, per model and when no model has any", async () => {
    await serveModels([
      { id: 1, name: "with", metrics: { accuracy: 0.8 } },
      { id: 2, name: "without" }
    ])
    const compared = ok(await run(compareModels({ model_ids: [1, 2], metric: "accuracy" })))
    expect(compared.ranking.map((r) => r.model.id)).toStrictEqual([1])
    expect(compared.missing).toStrictEqual([
      {
        model: { id: 2, name: "without", model_type: null, project: null, version: null, is_active: null },
        reason: "the backend sent no metrics for this model"
      }
    ])
    expect(compared.notes).toStrictEqual([])
    const none = await run(compareModels({ model_ids: [2], metric: "accuracy" }))
    expect(Either.isLeft(none) && none.left._tag).toBe("UnknownMetricError")
    expect(Either.isLeft(none) && none.left.message).toContain(
      "the backend sent no metrics for this model: recompute them from predictions"
    )
  })

  it("recomputing, a model without model_type is scored as detection, and the result says so", async () => {
    await serveOneBox({ 1: { id: 1, name: "untyped" }, 2: { id: 2, name: "typed", model_type: "detection" } })
    const compared = ok(
      await run(compareModels({
        model_ids: [1, 2],
        metric: "AP50",
        recompute: { ground_truth_version_id: 303, predictions: { "1": predictions, "2": predictions } }
      }))
    )
    // COCO's 101-point interpolation sums to just under 1 for a perfect detection.
    expect(compared.ranking.map((r) => [r.model.id, r.rank, Number(r.value.toFixed(6))])).toStrictEqual([[1, 1, 1], [
      2,
      1,
      1
    ]])
    expect(compared.notes).toStrictEqual([
      "model 1 has no model_type (the backend did not send it): its predictions are read as detection; pass task to choose"
    ])
  })
})

/** Serves `models` by id, dataset version 303 and one event with one car box on data unit 5. */
const serveOneBox = async (models: Record<number, object>) => {
  server = await startScriptedServer((req) => {
    const model = /^\/api\/v1\/models\/(\d+)\/$/.exec(req.path)
    if (model !== null) return models[Number(model[1])] !== undefined ? { json: models[Number(model[1])] } : undefined
    if (req.path === `${API}/ground_truth_dataset_versions/303/`) return { json: { id: 303, name: "v3" } }
    if (req.path === `${API}/sdk/ground_truth_events/`) {
      return {
        json: onePage([{
          id: 1,
          data_unit: { id: 5, files: { image: { url: "https://files.example/5.jpg", width: 100, height: 80 } } },
          data: {
            type: "image",
            annotations: [{ category_id: 1, category: "car", bbox: [10, 10, 20, 20], area: 400, iscrowd: 0 }]
          }
        }])
      }
    }
    return undefined
  })
}
/** A perfect detection of that box. */
const predictions = JSON.stringify([{ image_id: 5, category_id: 1, bbox: [10, 10, 20, 20], score: 0.9 }])

describe("compare recomputing by a reported metric name", () => {
  it("mAP is ranked by the computed AP, says so, and keeps the stored mAP as reported", async () => {
    await serveOneBox({ 2: { id: 2, name: "typed", model_type: "detection", metrics: { mAP: 0.5 } } })
    const compared = ok(
      await run(
        compareModels({
          model_ids: [2],
          metric: "mAP",
          recompute: { ground_truth_version_id: 303, predictions: { "2": predictions } }
        })
      )
    )
    expect(compared.metric).toBe("AP")
    expect(compared.ranking.map((r) => [r.model.id, Number(r.value.toFixed(6)), r.reported])).toStrictEqual([[
      2,
      1,
      0.5
    ]])
    expect(compared.notes).toStrictEqual([
      "\"mAP\" is ranked by the computed AP (mean over classes of the average precision at IoU 0.50:0.95)"
    ])
  })
})

describe("analyze on a model without type or metrics", () => {
  /** A model with only an id and a name, a version with only E fields, one event in the rich form. */
  const serveAnalysis = async () => {
    server = await startScriptedServer((req) => {
      if (req.path === `${API}/models/77/`) return { json: { id: 77, name: "bare", is_released: true } }
      if (req.path === `${API}/ground_truth_dataset_versions/303/`) {
        return { json: { id: 303, name: "v3", is_archived: false } }
      }
      if (req.path === `${API}/sdk/ground_truth_events/`) {
        return {
          json: onePage([{
            id: 1,
            category: "test",
            data_unit: { id: 5, files: { image: { url: "https://files.example/5.jpg", width: 100, height: 80 } } },
            data: {
              type: "image",
              annotations: [{ category_id: 1, category: "car", bbox: [10, 10, 20, 20], area: 400, iscrowd: 0 }]
            }
          }])
        }
      }
      return undefined
    })
  }
  const predictions = JSON.stringify([{ image_id: 5, category_id: 1, bbox: [10, 10, 20, 20], score: 0.9 }])

  it("scores as detection and says why, notes the missing metrics, summarises absent fields as null", async () => {
    await serveAnalysis()
    const analysis = ok(await run(analyzeModel({ model_id: 77, ground_truth_version_id: 303, predictions })))
    expect(analysis.model).toStrictEqual({
      id: 77,
      name: "bare",
      model_type: null,
      project: null,
      version: null,
      is_active: null
    })
    expect(analysis.datasetVersion).toStrictEqual({
      id: 303,
      name: "v3",
      version: null,
      dataset: null,
      event_count: null
    })
    expect(analysis.computed?.task).toBe("detection")
    expect(analysis.notes).toContain(
      "model 77 has no model_type (the backend did not send it): its predictions are read as detection; pass task to choose"
    )
    expect(analysis.notes).toContain(
      "the backend sent no metrics for model 77: there are no reported metrics to show or compare"
    )
    // Told the task, nothing is assumed.
    const told = ok(
      await run(analyzeModel({ model_id: 77, ground_truth_version_id: 303, predictions, task: "detection" }))
    )
    expect(told.notes.some((n) => n.includes("has no model_type"))).toBe(false)
  })

  it("classification predictions read as detection fail with the hint to pass the task", async () => {
    await serveAnalysis()
    const labels = JSON.stringify([{ data_unit: 5, label: "car" }])
    const failed = await run(analyzeModel({ model_id: 77, ground_truth_version_id: 303, predictions: labels }))
    if (Either.isRight(failed)) throw new Error("expected a PredictionsError")
    expect(failed.left).toMatchObject({ _tag: "PredictionsError" })
    expect((failed.left as { detail: string }).detail).toMatch(
      /; note: model 77 has no model_type \(the backend did not send it\): its predictions are read as detection; pass task to choose$/
    )
    // Told the task, the failure is the file's own, with nothing about a guess.
    const told = await run(
      analyzeModel({ model_id: 77, ground_truth_version_id: 303, predictions: labels, task: "classification" })
    )
    if (Either.isRight(told)) throw new Error("expected a PredictionsError: the version has no labels")
    expect((told.left as { detail: string }).detail).not.toContain("note:")
  })

  it("the CLI report prints — for what the backend did not send", async () => {
    await serveAnalysis()
    const result = await runCli(["models", "analyze", "77", "--dataset-version", "303"], {
      SYNAPSE_BASE_URL: server!.url,
      SYNAPSE_ACCESS_TOKEN: "t0ken"
    })
    expect(result.code).toBe(0)
    const lines = result.stdout.split("\n")
    expect(lines.slice(0, 2)).toStrictEqual([
      "Model 77 \"bare\" (—, project —, active: —)",
      "Dataset version 303: — v3"
    ])
    expect(result.stdout).not.toContain("undefined")
    expect(result.stdout).toContain("note: the backend sent no metrics for model 77")
  }, 60_000)
})

describe("the error at the boundaries", () => {
  const error = new IncompleteRecordError({
    resource: "model",
    id: 456,
    field: "project",
    needed_by: "deploy",
    detail: "model 456 has no `project`: deploy needs it, and the backend did not send it"
  })

  it("MCP: an actionable tool error; CLI: an API failure (exit 3)", () => {
    expect(toToolError({ action: "Deploying \"x\" to project 2" })(error).message).toBe(
      "Deploying \"x\" to project 2 failed: model 456 has no `project`: deploy needs it, and the backend did not send it. " +
        "The backend answers records without this field, so this operation cannot be done on it as asked; retrying will not help."
    )
    expect(exitCodeOf(error)).toBe(3)
  })

  it("the CLI prints it on one line and exits 3", async () => {
    await serveModels([{ id: 456, name: "current", model_type: "detection", is_active: true }])
    const result = await runCli(
      [
        "models",
        "deploy",
        "--name",
        "candidate",
        "--type",
        "detection",
        "--project",
        "2",
        "--replace-active",
        "--dry-run"
      ],
      { SYNAPSE_BASE_URL: server!.url, SYNAPSE_ACCESS_TOKEN: "t0ken" }
    )
    expect({ code: result.code, stdout: result.stdout }).toStrictEqual({ code: 3, stdout: "" })
    expect(result.stderr).toContain(
      "synapse-ml models deploy: IncompleteRecordError: model 456 has no `project`: deploy needs it, and the backend did not send it"
    )
  }, 60_000)

  it("the MCP server answers deploy_model with it as an error result, and get_model with the record as sent", async () => {
    const model = {
      id: 456,
      name: "current",
      model_type: "detection",
      is_active: true,
      owner: { id: 3 },
      is_released: false
    }
    await serveModels([model])
    const backend = Layer.merge(
      SynapseClient.layer({ baseUrl: server!.url, accessToken: Redacted.make("t0ken") }).pipe(
        Layer.provide(NodeHttpClient.layer)
      ),
      Backend.layer({ baseUrl: server!.url, sandbox: false, description: "scripted backend" })
    )
    const dir = fs.mkdtempSync(path.join(work, "mcp-"))
    process.env.SYNAPSE_CACHE_DIR = path.join(dir, "cache")
    const runtime = ManagedRuntime.make(serverLayer(testSettings(dir), backend, ["t0ken"]))
    try {
      const factory = await runtime.runPromise(McpServer)
      await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const client = yield* connect(factory)
        const deployed = yield* Effect.promise(() =>
          client.callTool({
            name: "deploy_model",
            arguments: { name: "candidate", type: "detection", project_id: 2, replace_active: true, confirm: true }
          })
        )
        expect(deployed.isError).toBe(true)
        expect(textOf(deployed)).toContain("model 456 has no `project`: deploy needs it")
        const got = yield* Effect.promise(() => client.callTool({ name: "get_model", arguments: { id: 456 } }))
        expect(got.isError).toBeFalsy()
        expect(got.structuredContent).toStrictEqual(model)
        // The published output schema allows what the backend added.
        expect(Schema.decodeUnknownSync(outputSchemaOf(getModel), { onExcessProperty: "error" })(got.structuredContent))
          .toStrictEqual(model)
        const listed = yield* Effect.promise(() =>
          client.callTool({ name: "list_models", arguments: { fields: ["id", "name", "project", "is_released"] } })
        )
        expect((listed.structuredContent as { results: unknown }).results).toStrictEqual([{
          id: 456,
          name: "current",
          is_released: false
        }])
      })))
    } finally {
      await runtime.dispose()
    }
  })
})
