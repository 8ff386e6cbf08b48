import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { outputSchemaOf } from "../../src/mcp/Server.js"
import { allTools } from "../../src/mcp/tools/index.js"
import { isRich } from "../support/profile.js"
import { useMcp } from "./fixture.js"
import { connect, textOf } from "./harness.js"

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
      const page = result.structuredContent as {
        count: number
        next_page: number | null
        results: Array<Record<string, unknown>>
      }
      expect(page.count).toBeGreaterThan(5)
      expect(page.next_page).toBe(2)
      expect(page.results).toHaveLength(5)
      expect(Object.keys(page.results[0]!).sort()).toStrictEqual(
        ["created_at", "id", "is_active", "metrics", "model_type", "name", "project", "version"].filter((k) =>
          k in page.results[0]!
        ).sort()
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
      if (isRich()) {
        for (const row of page.results) expect(Object.keys(row).sort()).toStrictEqual(["id", "model_type"])
        for (const row of page.results) expect(row.model_type).toBe("detection")
      } else {
        // An evidenced model has no `model_type`: a chosen field the backend does not send is absent, not null.
        for (const row of page.results) expect(Object.keys(row)).toStrictEqual(["id"])
      }
    }))

  it.scoped("list_models rejects an unknown model_type listing the valid ones", () =>
    Effect.gen(function*() {
      const result = yield* call("list_models", { model_type: "regression" })
      expect(result.isError).toBe(true)
      expect(textOf(result)).toContain(
        `model_type: got "regression"; expected one of "classification", "detection", "segmentation"`
      )
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

describe("ground-truth tools on the sandbox", () => {
  it.scoped("dataset versions: list and get", () =>
    Effect.gen(function*() {
      const list = yield* call("list_ground_truth_versions", {})
      const page = list.structuredContent as { count: number; results: Array<{ id: number; event_count?: number }> }
      expect(page.count).toBeGreaterThan(0)
      const id = page.results[0]!.id
      const one = yield* call("get_ground_truth_version", { id })
      expect(one.structuredContent).toMatchObject({ id })
      const missing = yield* call("get_ground_truth_version", { id: 99999 })
      expect(missing.isError).toBe(true)
      expect(textOf(missing)).toContain("list_ground_truth_versions")
    }))

  it.scoped("events are summarised by default and raw on request", () =>
    Effect.gen(function*() {
      const versions = yield* call("list_ground_truth_versions", {})
      const id = (versions.structuredContent as { results: Array<{ id: number }> }).results[0]!.id
      const result = yield* call("list_ground_truth_events", { ground_truth_dataset_versions: [id], page_size: 10 })
      const page = result.structuredContent as { count: number; results: Array<Record<string, unknown>> }
      expect(page.count).toBeGreaterThan(10)
      expect(page.results).toHaveLength(10)
      for (const row of page.results) {
        // An evidenced event does not say its version: the row leaves it out rather than guessing.
        if (isRich()) expect(row.ground_truth_dataset_version).toBe(id)
        else expect(row).not.toHaveProperty("ground_truth_dataset_version")
        expect(typeof row.annotation_count).toBe("number")
        expect(row).not.toHaveProperty("data")
      }
      // The summary reads either form of `data` (the rich list, the native record).
      expect(
        page.results.some((row) => (row.annotation_count as number) > 0 && (row.classes as Array<string>).length > 0)
      ).toBe(true)
      const raw = yield* call("list_ground_truth_events", {
        ground_truth_dataset_versions: [id],
        page_size: 2,
        fields: ["id", "data"]
      })
      const rows = (raw.structuredContent as { results: Array<Record<string, unknown>> }).results
      expect(Object.keys(rows[0]!).sort()).toStrictEqual(["data", "id"])
    }))

  it.scoped("ground truths list their file roles", () =>
    Effect.gen(function*() {
      const result = yield* call("list_ground_truths", { page_size: 3 })
      const page = result.structuredContent as { results: Array<{ file_keys: Array<string> }> }
      expect(page.results.length).toBeGreaterThan(0)
      expect(page.results[0]!.file_keys.some((k) => k.startsWith("image"))).toBe(true)
    }))

  it.scoped("an unknown id in a list filter gives an empty page with a hint naming it", () =>
    Effect.gen(function*() {
      const hintOf = (name: string, args: Record<string, unknown>) =>
        Effect.map(call(name, args), (result) => result.structuredContent as { count: number; hint?: string })
      const events = yield* hintOf("list_ground_truth_events", { ground_truth_dataset_versions: [99999] })
      expect(events).toMatchObject({ count: 0, results: [] })
      expect(events.hint).toBe(
        "No event matched: dataset version 99999 does not exist; find ids with list_ground_truth_versions."
      )
      const truths = yield* hintOf("list_ground_truths", { ground_truth_dataset_versions: [99998, 99999] })
      expect(truths.hint).toBe(
        "No ground truth matched: dataset versions 99998, 99999 do not exist; find ids with list_ground_truth_versions."
      )
      if (!isRich()) return
      const models = yield* hintOf("list_models", { project: 99999 })
      expect(models.hint).toMatch(
        /^No model matched: project 99999 has no models \(it does not exist or is empty\)\. Projects with models: \d+(, \d+)*\.$/
      )
      const versions = yield* hintOf("list_ground_truth_versions", { ground_truth_dataset: 99999 })
      expect(versions.hint).toMatch(
        /^no dataset version belongs to dataset 99999: it does not exist or is empty\. Datasets with versions: \d+/
      )
      // Filters that exist but match nothing need no hint.
      const none = yield* hintOf("list_models", { project: 1, search: "no-such-model-anywhere" })
      expect(none).toStrictEqual({ count: 0, page: 1, page_size: 20, next_page: null, results: [] })
    }))
})
