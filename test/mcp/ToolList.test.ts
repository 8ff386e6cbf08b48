import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Backend from "../../src/mcp/Backend.js"
import * as Config from "../../src/mcp/Config.js"
import { makeResources } from "../../src/mcp/Resources.js"
import * as Server from "../../src/mcp/Server.js"
import { allTools } from "../../src/mcp/tools/index.js"
import { testSettings } from "./fixture.js"
import { connect } from "./harness.js"

// Listing runs no tool, so the services the tools need are never touched: an empty context is
// enough to build the factory.
const factory = (readOnly: boolean) =>
  Server.make(allTools, makeResources()).pipe(
    Effect.provide(Layer.mergeAll(
      Config.layer(testSettings("/tmp/synapse-ml-tool-list", { readOnly })),
      Backend.layer({ baseUrl: "http://127.0.0.1:1/api/v1", sandbox: true, description: "unused" })
    ))
  ) as unknown as Effect.Effect<Server.ServerFactory>

const READ_TOOLS = [
  "get_context",
  "list_models",
  "get_model",
  "list_ground_truth_events",
  "list_ground_truths",
  "list_ground_truth_versions",
  "get_ground_truth_version",
  "analyze_model_performance",
  "compare_models",
  "validate_coco"
]
const WRITE_TOOLS = ["create_model", "update_model", "export_ground_truth", "prepare_training_data", "deploy_model"]

describe("tool list", () => {
  it.scoped("matches the committed snapshot (names, schemas, annotations, descriptions)", () =>
    Effect.gen(function*() {
      const client = yield* connect(yield* factory(false))
      const { tools } = yield* Effect.promise(() => client.listTools())
      expect(tools.map((t) => t.name).sort()).toStrictEqual([...READ_TOOLS, ...WRITE_TOOLS].sort())
      yield* Effect.promise(() =>
        expect(JSON.stringify(tools, null, 2) + "\n").toMatchFileSnapshot("./tools-list.snapshot.json")
      )
    }))

  it.scoped("every tool is described for a model and every input field is described", () =>
    Effect.gen(function*() {
      const client = yield* connect(yield* factory(false))
      const { tools } = yield* Effect.promise(() => client.listTools())
      for (const tool of tools) {
        expect(tool.name).toMatch(/^[a-z][a-z0-9_]*$/)
        expect(tool.title?.length ?? 0).toBeGreaterThan(3)
        expect(tool.description?.length ?? 0).toBeGreaterThan(80)
        expect(tool.inputSchema.type).toBe("object")
        expect(tool.outputSchema?.type).toBe("object")
        expect(tool.annotations?.readOnlyHint).toBe(READ_TOOLS.includes(tool.name))
        for (const [field, schema] of Object.entries(tool.inputSchema.properties ?? {})) {
          expect({
            tool: tool.name,
            field,
            described: typeof (schema as { description?: unknown }).description === "string"
          })
            .toStrictEqual({ tool: tool.name, field, described: true })
        }
      }
    }))

  it.scoped("a tool that writes a new directory or model on every call does not claim to be idempotent", () =>
    Effect.gen(function*() {
      const client = yield* connect(yield* factory(false))
      const { tools } = yield* Effect.promise(() => client.listTools())
      const hints = Object.fromEntries(tools.map((tool) => [tool.name, tool.annotations?.idempotentHint]))
      // Each writes a new output directory (or registers a new model) per call, dry runs aside.
      for (const name of ["prepare_training_data", "export_ground_truth", "create_model", "deploy_model"]) {
        expect({ name, idempotent: hints[name] }).toStrictEqual({ name, idempotent: false })
      }
    }))

  it.scoped("read-only mode lists no write tool", () =>
    Effect.gen(function*() {
      const client = yield* connect(yield* factory(true))
      const { tools } = yield* Effect.promise(() => client.listTools())
      expect(tools.map((t) => t.name).sort()).toStrictEqual([...READ_TOOLS].sort())
    }))
})
