import { describe, expect, it } from "@effect/vitest"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { allTools } from "../../src/mcp/tools/index.js"
import { useMcp } from "./fixture.js"
import { connect, textOf } from "./harness.js"

const mcp = useMcp()
const exported = () => path.join(mcp().outputDir, "schemas", "annotations", "instances_all.json")
const ajv = new AjvJsonSchemaValidator()

/** Ids the sample calls use, read from the sandbox once. */
interface Ids {
  readonly model: number
  readonly other: number
  readonly project: number
  readonly version: number
}

/**
 * One successful call per tool, in an order where later calls can use what earlier ones made
 * (validate_coco reads the export's file). A tool missing here fails the test.
 */
const samples: Record<string, (ids: Ids) => Record<string, unknown>> = {
  get_context: () => ({}),
  list_models: () => ({ page_size: 3 }),
  get_model: (ids) => ({ id: ids.model, expand: ["versions"], include_file: true }),
  list_ground_truth_events: (ids) => ({ ground_truth_dataset_versions: [ids.version], page_size: 2 }),
  list_ground_truths: () => ({ page_size: 2 }),
  list_ground_truth_versions: () => ({ page_size: 2 }),
  get_ground_truth_version: (ids) => ({ id: ids.version }),
  analyze_model_performance: (ids) => ({ model_id: ids.model, ground_truth_version_id: ids.version }),
  compare_models: (ids) => ({ model_ids: [ids.model, ids.other], metric: "mAP" }),
  export_ground_truth: (ids) => ({ dataset_version_ids: [ids.version], format: "coco", output_name: "schemas" }),
  validate_coco: () => ({ path: "schemas/annotations/instances_all.json", max_findings: 3 }),
  // The export's first box, predicted back.
  find_model_errors: (ids) => ({
    model_id: ids.model,
    ground_truth_version_id: ids.version,
    predictions: JSON.stringify(
      (JSON.parse(fs.readFileSync(exported(), "utf8")) as { annotations: Array<Record<string, unknown>> }).annotations
        .slice(0, 1).map(({ bbox, category_id, image_id }) => ({ image_id, category_id, bbox, score: 0.9 }))
    )
  }),
  prepare_training_data: (ids) => ({ dataset_version_ids: [ids.version], test: 0.1 }),
  create_model: (ids) => ({ name: "schemas-created", model_type: "detection", project: ids.project }),
  update_model: (ids) => ({ id: ids.other, description: "checked against its schema" }),
  deploy_model: (ids) => ({ name: "schemas-deployed", type: "detection", project_id: ids.project }),
  start_job: (ids) => ({
    tool: "prepare_training_data",
    arguments: { dataset_version_ids: [ids.version] }
  }),
  job: () => ({ action: "list" })
}

const firstIds = (client: Client) =>
  Effect.promise(async () => {
    const page = async (name: string, args: Record<string, unknown>) =>
      (await client.callTool({ name, arguments: args })).structuredContent as {
        results: Array<{ id: number; project?: number }>
      }
    const models = (await page("list_models", { page_size: 2, fields: ["id", "project"] })).results
    const versions = (await page("list_ground_truth_versions", { page_size: 1, fields: ["id"] })).results
    return { model: models[0]!.id, other: models[1]!.id, project: models[0]!.project!, version: versions[0]!.id }
  })

describe("every tool's result matches its published output schema", () => {
  it.scoped("structuredContent validates against the listed outputSchema; the text is the same JSON", () =>
    Effect.gen(function*() {
      const client = yield* connect(mcp().factory)
      const { tools } = yield* Effect.promise(() => client.listTools())
      expect(allTools.map((t) => t.name).filter((name) => samples[name] === undefined)).toStrictEqual([])
      const ids = yield* firstIds(client)
      const checked: Array<string> = []
      for (const [name, sample] of Object.entries(samples)) {
        const tool = tools.find((t) => t.name === name)
        if (tool === undefined) continue
        const result = yield* Effect.promise(() => client.callTool({ name, arguments: sample(ids) }))
        expect({ name, error: result.isError === true ? textOf(result) : undefined }).toStrictEqual({
          name,
          error: undefined
        })
        const verdict = ajv.getValidator(tool.outputSchema as never)(result.structuredContent)
        expect({ name, valid: verdict.valid, why: verdict.errorMessage }).toStrictEqual({
          name,
          valid: true,
          why: undefined
        })
        expect(JSON.parse(textOf(result))).toStrictEqual(result.structuredContent)
        checked.push(name)
      }
      expect(checked.sort()).toStrictEqual(tools.map((t) => t.name).sort())
      expect(fs.existsSync(exported())).toBe(true)
    }))
})
