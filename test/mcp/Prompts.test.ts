import { describe, expect, it } from "@effect/vitest"
import { ResourceListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js"
import { Effect } from "effect"
import { useMcp } from "./fixture.js"
import { connect } from "./harness.js"

const mcp = useMcp()

const textOfPrompt = (result: { messages: Array<{ content: unknown }> }) =>
  (result.messages[0]!.content as { text: string }).text

describe("prompts and completions", () => {
  it.scoped("lists the flows and expands one with its arguments; a missing one is -32602", () =>
    Effect.gen(function*() {
      const client = yield* connect(mcp().factory)
      const { prompts } = yield* Effect.promise(() => client.listPrompts())
      expect(prompts.map((p) => p.name)).toStrictEqual(["evaluate_model", "prepare_training_split", "deploy_with_gate"])
      const prompt = yield* Effect.promise(() =>
        client.getPrompt({
          name: "deploy_with_gate",
          arguments: { model_id: "3", dataset_version_id: "7", min_metric: "0.5" }
        })
      )
      const text = textOfPrompt(prompt)
      expect(text).toContain("analyze_model_performance {\"model_id\": 3, \"ground_truth_version_id\": 7}")
      expect(text).toContain("at least 0.5")
      expect(text).toContain("plan_id only after I approve")
      const missing = yield* Effect.promise(() =>
        client.getPrompt({ name: "evaluate_model", arguments: { model_id: "3" } }).then(
          () => undefined,
          (e: unknown) => e as { code: number; message: string }
        )
      )
      expect(missing?.code).toBe(-32602)
      expect(missing?.message).toContain("Prompt evaluate_model needs dataset_version_id")
    }))

  it.scoped("completes model and dataset-version ids from the backend, and export names", () =>
    Effect.gen(function*() {
      const client = yield* connect(mcp().factory)
      const models = yield* Effect.promise(() =>
        client.callTool({ name: "list_models", arguments: { page_size: 100 } })
      )
      const ids = (models.structuredContent as { results: Array<{ id: number }> }).results.map((m) => String(m.id))
      const all = yield* Effect.promise(() =>
        client.complete({
          ref: { type: "ref/prompt", name: "evaluate_model" },
          argument: { name: "model_id", value: "" }
        })
      )
      expect([...all.completion.values].sort()).toStrictEqual([...ids].sort())
      const prefix = ids[0]!.slice(0, 1)
      const some = yield* Effect.promise(() =>
        client.complete({
          ref: { type: "ref/resource", uri: "synapse://models/{id}" },
          argument: { name: "id", value: prefix }
        })
      )
      expect(some.completion.values.length).toBeGreaterThan(0)
      expect(some.completion.values.every((v) => v.startsWith(prefix))).toBe(true)
      const versions = yield* Effect.promise(() =>
        client.complete({
          ref: { type: "ref/prompt", name: "evaluate_model" },
          argument: { name: "dataset_version_id", value: "" }
        })
      )
      expect(versions.completion.values.length).toBeGreaterThan(0)
      expect(versions.completion.values.every((v) => /^\d+$/.test(v))).toBe(true)
      const formats = yield* Effect.promise(() =>
        client.complete({
          ref: { type: "ref/prompt", name: "prepare_training_split" },
          argument: { name: "format", value: "y" }
        })
      )
      expect(formats.completion.values).toStrictEqual(["yolo"])
    }))

  it.scoped("a write that produced files sends notifications/resources/list_changed", () =>
    Effect.gen(function*() {
      const client = yield* connect(mcp().factory)
      let changed = 0
      client.setNotificationHandler(ResourceListChangedNotificationSchema, () => void changed++)
      const versions = yield* Effect.promise(() =>
        client.callTool({ name: "list_ground_truth_versions", arguments: { page_size: 1 } })
      )
      expect(changed).toBe(0)
      const id = (versions.structuredContent as { results: Array<{ id: number }> }).results[0]!.id
      yield* Effect.promise(() =>
        client.callTool({
          name: "export_ground_truth",
          arguments: { dataset_version_ids: [id], format: "coco", output_name: "notified" }
        })
      )
      expect(changed).toBe(1)
      const names = yield* Effect.promise(() =>
        client.complete({
          ref: { type: "ref/resource", uri: "synapse://exports/{name}/{+path}" },
          argument: { name: "name", value: "noti" }
        })
      )
      expect(names.completion.values).toStrictEqual(["notified"])
    }))
})
