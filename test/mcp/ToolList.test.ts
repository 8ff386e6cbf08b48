import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer } from "effect"
import * as Backend from "../../src/mcp/Backend.js"
import * as Config from "../../src/mcp/Config.js"
import { loadSettings } from "../../src/mcp/Main.js"
import { makeResources } from "../../src/mcp/Resources.js"
import * as Server from "../../src/mcp/Server.js"
import { TOOLSETS } from "../../src/mcp/Tool.js"
import { checkSelection, instructionsFor, selectTools } from "../../src/mcp/ToolList.js"
import { allTools } from "../../src/mcp/tools/index.js"
import { testSettings } from "./fixture.js"
import { connect, textOf } from "./harness.js"

// Listing runs no tool, so the services the tools need are never touched: an empty context is
// enough to build the factory.
const factory = (readOnly: boolean, selection: Partial<Pick<Config.McpSettings, "toolsets" | "tools">> = {}) =>
  Server.make(allTools, makeResources()).pipe(
    Effect.provide(Layer.mergeAll(
      Config.layer(testSettings("/tmp/synapse-ml-tool-list", { readOnly, ...selection })),
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
  "find_model_errors",
  "validate_coco"
]
const WRITE_TOOLS = ["create_model", "update_model", "export_ground_truth", "prepare_training_data", "deploy_model"]
// Neither read-only nor writing themselves: they run and follow other tools as jobs.
const JOB_TOOLS = ["start_job", "job"]

describe("tool list", () => {
  it.scoped("matches the committed snapshot (names, schemas, annotations, descriptions)", () =>
    Effect.gen(function*() {
      const client = yield* connect(yield* factory(false))
      const { tools } = yield* Effect.promise(() => client.listTools())
      expect(tools.map((t) => t.name).sort()).toStrictEqual([...READ_TOOLS, ...WRITE_TOOLS, ...JOB_TOOLS].sort())
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
      // An absent hint is MCP's default: not idempotent.
      const hints = Object.fromEntries(tools.map((tool) => [tool.name, tool.annotations?.idempotentHint ?? false]))
      // Each writes a new output directory (or registers a new model) per call, dry runs aside.
      for (const name of ["prepare_training_data", "export_ground_truth", "create_model", "deploy_model"]) {
        expect({ name, idempotent: hints[name] }).toStrictEqual({ name, idempotent: false })
      }
    }))

  it.scoped("read-only mode lists no write tool but the planners, which say they only plan", () =>
    Effect.gen(function*() {
      const client = yield* connect(yield* factory(true))
      const { tools } = yield* Effect.promise(() => client.listTools())
      expect(tools.map((t) => t.name).sort()).toStrictEqual([...READ_TOOLS, ...PLANNERS, ...JOB_TOOLS].sort())
      for (const tool of tools.filter((t) => PLANNERS.includes(t.name))) {
        expect({ name: tool.name, annotations: tool.annotations }).toStrictEqual({
          name: tool.name,
          annotations: { readOnlyHint: true }
        })
        expect(tool.description).toMatch(/On this read-only server it only plans: nothing is changed\.$/)
      }
    }))

  it.scoped("the whole tool list fits in 30 000 characters of JSON", () =>
    Effect.gen(function*() {
      const client = yield* connect(yield* factory(false))
      const { tools } = yield* Effect.promise(() => client.listTools())
      const size = JSON.stringify({ tools }).length
      expect({ size, fits: size <= 30_000 }).toStrictEqual({ size, fits: true })
    }))

  it.scoped("every tool is in a toolset; a toolset selection offers its tools and get_context", () =>
    Effect.gen(function*() {
      expect(Object.fromEntries(TOOLSETS.map((set) => [set, toolsetOf(set)]))).toStrictEqual({
        context: ["get_context"],
        models: ["list_models", "get_model", "create_model", "update_model"],
        datasets: [
          "list_ground_truth_events",
          "list_ground_truths",
          "list_ground_truth_versions",
          "get_ground_truth_version",
          "validate_coco",
          "export_ground_truth",
          "prepare_training_data"
        ],
        evaluation: ["analyze_model_performance", "compare_models", "find_model_errors"],
        deploy: ["deploy_model"],
        jobs: JOB_TOOLS
      })
      const client = yield* connect(yield* factory(false, { toolsets: ["evaluation"], tools: ["get_model"] }))
      const { tools } = yield* Effect.promise(() => client.listTools())
      expect(tools.map((t) => t.name)).toStrictEqual(["get_context", "get_model", ...toolsetOf("evaluation")])
      const refused = yield* Effect.promise(() => client.callTool({ name: "list_models", arguments: {} }))
      expect(textOf(refused)).toBe(
        "Tool list_models is not available: this server offers only the toolsets and tools it was started with " +
          "(SYNAPSE_MCP_TOOLSETS / --toolsets, SYNAPSE_MCP_TOOLS / --tools). Available tools: get_context, get_model, " +
          "analyze_model_performance, compare_models, find_model_errors."
      )
    }))

  it.scoped("a selected write tool stays hidden in read-only mode, saying why", () =>
    Effect.gen(function*() {
      const client = yield* connect(yield* factory(true, { tools: ["create_model", "deploy_model"] }))
      const { tools } = yield* Effect.promise(() => client.listTools())
      expect(tools.map((t) => t.name)).toStrictEqual(["get_context", "deploy_model"])
      const refused = yield* Effect.promise(() => client.callTool({ name: "create_model", arguments: {} }))
      expect(textOf(refused)).toBe(
        "Tool create_model is not available: the server runs in read-only mode (SYNAPSE_MCP_READ_ONLY / --read-only). " +
          "Available tools: get_context, deploy_model."
      )
    }))

  it("unknown toolset or tool names fail at start-up, listing the valid ones", () => {
    expect(checkSelection(allTools, { toolsets: ["models", "deploy", "evals"], tools: undefined })).toStrictEqual(
      Either.left(
        new Config.McpConfigError(
          "SYNAPSE_MCP_TOOLSETS / --toolsets",
          "unknown toolset \"evals\"; valid toolsets: context, models, datasets, evaluation, deploy, jobs"
        )
      )
    )
    const unknown = checkSelection(allTools, { toolsets: undefined, tools: ["get_model", "getModel", "x"] })
    expect(Either.isLeft(unknown) && unknown.left.message).toBe(
      `SYNAPSE_MCP_TOOLS / --tools: unknown tools "getModel", "x"; valid tools: ${
        allTools.map((t) => t.name).join(", ")
      }`
    )
    expect(checkSelection(allTools, { toolsets: ["deploy"], tools: ["get_model"] })).toStrictEqual(Either.void)
  })

  it.effect("the server does not start with an unknown toolset in SYNAPSE_MCP_TOOLSETS", () =>
    Effect.gen(function*() {
      const failure = yield* Effect.flip(
        loadSettings({ env: { SYNAPSE_MCP_TOOLSETS: "models, evals" }, transport: "stdio" })
      )
      expect(failure.message).toBe(
        `SYNAPSE_MCP_TOOLSETS / --toolsets: unknown toolset "evals"; valid toolsets: ${TOOLSETS.join(", ")}`
      )
      const settings = yield* loadSettings({ env: { SYNAPSE_MCP_TOOLS: "get_model,deploy_model" }, transport: "stdio" })
      expect(selectTools(allTools, settings).enabled.map((t) => t.name)).toStrictEqual([
        "get_context",
        "get_model",
        "deploy_model"
      ])
    }))

  it.scoped("the instructions name only tools the server offers", () =>
    Effect.gen(function*() {
      const names = (yield* factory(true)).tools.map((t) => t.name)
      const text = instructionsFor(names, true)
      const mentioned = allTools.map((t) => t.name).filter((name) => text.includes(name))
      expect(mentioned.filter((name) => !names.includes(name))).toStrictEqual([])
      expect(text).toContain("deploy_model only plan on this read-only server.")
      const client = yield* connect(yield* factory(false, { toolsets: ["datasets"] }))
      const instructions = client.getInstructions() ?? ""
      expect(allTools.map((t) => t.name).filter((name) => instructions.includes(name)).sort()).toStrictEqual(
        ["get_context", "prepare_training_data"]
      )
    }))
})

const PLANNERS = ["deploy_model", "prepare_training_data"]

const toolsetOf = (set: string) => allTools.filter((t) => t.toolset === set).map((t) => t.name)
