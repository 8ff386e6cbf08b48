import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { outputSchemaOf } from "../../src/mcp/Server.js"
import { allTools } from "../../src/mcp/tools/index.js"
import { connect, textOf } from "./harness.js"
import { useMcp } from "./fixture.js"

const mcp = useMcp()

/** Calls a tool and checks its structured content against the declared output schema. */
const call = (name: string, args: Record<string, unknown>) =>
  Effect.gen(function*() {
    const client = yield* connect(mcp().factory)
    // Listing first makes the SDK client validate structuredContent against each outputSchema too.
    yield* Effect.promise(() => client.listTools())
    const result = yield* Effect.promise(() => client.callTool({ name, arguments: args }))
    if (result.isError !== true) {
      const tool = allTools.find((t) => t.name === name)!
      Schema.decodeUnknownSync(outputSchemaOf(tool), { onExcessProperty: "error" })(result.structuredContent)
      expect(JSON.parse(textOf(result))).toStrictEqual(result.structuredContent)
    }
    return result
  })

describe("model tools on the sandbox", () => {
  it.scoped("list_models pages compact rows", () =>
    Effect.gen(function*() {
      const result = yield* call("list_models", { page_size: 5 })
      const page = result.structuredContent as { count: number; next_page: number | null; results: Array<Record<string, unknown>> }
      expect(page.count).toBeGreaterThan(5)
      expect(page.next_page).toBe(2)
      expect(page.results).toHaveLength(5)
      expect(Object.keys(page.results[0]!).sort()).toStrictEqual(
        ["created_at", "id", "is_active", "metrics", "model_type", "name", "project", "version"].filter((k) => k in page.results[0]!).sort()
      )
      expect(page.results[0]).not.toHaveProperty("configuration")
      const last = yield* call("list_models", { page: Math.ceil(page.count / 5), page_size: 5 })
      expect((last.structuredContent as { next_page: unknown }).next_page).toBeNull()
    }))

  it.scoped("list_models filters and chooses fields", () =>
    Effect.gen(function*() {
      const result = yield* call("list_models", { model_type: "detection", fields: ["id", "model_type"] })
      const page = result.structuredContent as { results: Array<Record<string, unknown>> }
      expect(page.results.length).toBeGreaterThan(0)
      for (const row of page.results) expect(Object.keys(row).sort()).toStrictEqual(["id", "model_type"])
      for (const row of page.results) expect(row.model_type).toBe("detection")
    }))

  it.scoped("list_models rejects an unknown model_type listing the valid ones", () =>
    Effect.gen(function*() {
      const result = yield* call("list_models", { model_type: "regression" })
      expect(result.isError).toBe(true)
      expect(textOf(result)).toContain(`model_type: got "regression"; expected one of "classification", "detection", "segmentation"`)
    }))

  it.scoped("get_model returns the record; a missing id is actionable", () =>
    Effect.gen(function*() {
      const list = yield* call("list_models", { page_size: 1 })
      const id = (list.structuredContent as { results: Array<{ id: number }> }).results[0]!.id
      const result = yield* call("get_model", { id, expand: ["evaluations", "versions"] })
      expect(result.isError).toBeFalsy()
      expect(result.structuredContent).toMatchObject({ id })
      const missing = yield* call("get_model", { id: 987654 })
      expect(missing.isError).toBe(true)
      expect(textOf(missing)).toContain("model 987654 does not exist")
      expect(textOf(missing)).toContain("list_models")
    }))
})
