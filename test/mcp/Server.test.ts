import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import * as Backend from "../../src/mcp/Backend.js"
import * as Config from "../../src/mcp/Config.js"
import * as Server from "../../src/mcp/Server.js"
import * as Tool from "../../src/mcp/Tool.js"
import { getContext } from "../../src/mcp/tools/Context.js"
import { connect, textOf } from "./harness.js"

const settings = (overrides: Partial<Config.McpSettings> = {}): Config.McpSettings => ({
  readOnly: false,
  uploadRoots: [],
  outputDir: "/tmp/synapse-ml-test-out",
  outputBudget: 2_000,
  http: { host: "127.0.0.1", port: 0, token: undefined, allowedHosts: [], allowedOrigins: [] },
  ...overrides
})

const echo = Tool.make({
  name: "echo_rows",
  title: "Echo rows",
  description: "Returns `count` rows.",
  input: Schema.Struct({
    count: Schema.Int.pipe(Schema.between(0, 1000)).annotations({ description: "How many rows." }),
    kind: Schema.optional(Schema.Literal("short", "long").annotations({ description: "Row size." }))
  }),
  output: Schema.Struct({ results: Schema.Array(Schema.Struct({ id: Schema.Int, text: Schema.String })) }),
  annotations: Tool.readOnly,
  toolset: "context",
  write: false,
  run: ({ count, kind }) =>
    Effect.succeed({
      results: Array.from({ length: count }, (_, i) => ({ id: i + 1, text: kind === "long" ? "x".repeat(100) : "r" }))
    })
})

const failing = Tool.make({
  name: "always_fails",
  title: "Fails",
  description: "Fails with an actionable error.",
  input: Schema.Struct({}),
  output: Schema.Struct({}),
  annotations: Tool.readOnly,
  toolset: "context",
  write: true,
  run: () => Effect.fail(new Tool.ToolError({ message: "Model 999 does not exist; list models with list_models." }))
})

const crashing = Tool.make({
  name: "crashes",
  title: "Crashes",
  description: "Dies with a defect holding a secret.",
  input: Schema.Struct({}),
  output: Schema.Struct({}),
  annotations: Tool.readOnly,
  toolset: "context",
  write: false,
  run: () => Effect.die(new Error("boom secret-token-123456"))
})

const tools = [getContext, echo, failing, crashing]
const noResources: Server.ResourceProvider<never> = {
  templates: [],
  list: () => Effect.succeed({ resources: [] }),
  read: (uri) => Effect.fail(new Tool.ToolError({ message: `no resource ${uri}` }))
}

const factory = (s: Config.McpSettings) =>
  Server.make(tools, noResources, { secrets: ["secret-token-123456"] }).pipe(
    Effect.provide(Layer.mergeAll(
      Config.layer(s),
      Backend.layer({ baseUrl: "http://127.0.0.1:9/api/v1", sandbox: true, description: "the sandbox" })
    ))
  )

describe("MCP adapter", () => {
  it.scoped("lists tools with JSON Schemas and annotations", () =>
    Effect.gen(function*() {
      const client = yield* connect(yield* factory(settings()))
      const { tools } = yield* Effect.promise(() => client.listTools())
      expect(tools.map((t) => t.name)).toStrictEqual(["get_context", "echo_rows", "always_fails", "crashes"])
      const echoInfo = tools.find((t) => t.name === "echo_rows")!
      expect(echoInfo.inputSchema).toMatchObject({
        type: "object",
        required: ["count"],
        properties: {
          count: { type: "integer", minimum: 0, maximum: 1000, description: "How many rows." },
          kind: { enum: ["short", "long"], description: "Row size." }
        },
        additionalProperties: false
      })
      // The truncation note is described once, in the instructions, not in every tool's schema.
      expect(echoInfo.outputSchema?.properties).not.toHaveProperty("truncated")
      // Hints equal to MCP's defaults, or meaningless for a read-only tool, are left out.
      expect(echoInfo.annotations).toStrictEqual({ readOnlyHint: true })
    }))

  it.scoped("returns structuredContent and the same JSON as text", () =>
    Effect.gen(function*() {
      const client = yield* connect(yield* factory(settings()))
      yield* Effect.promise(() => client.listTools())
      const result = yield* Effect.promise(() => client.callTool({ name: "echo_rows", arguments: { count: 2 } }))
      expect(result.isError).toBeFalsy()
      expect(result.structuredContent).toStrictEqual({ results: [{ id: 1, text: "r" }, { id: 2, text: "r" }] })
      expect(JSON.parse(textOf(result))).toStrictEqual(result.structuredContent)
      const context = yield* Effect.promise(() => client.callTool({ name: "get_context", arguments: {} }))
      expect(context.structuredContent).toMatchObject({ backend: { sandbox: true }, read_only: false })
    }))

  it.scoped("truncates beyond the output budget and says how to get the rest", () =>
    Effect.gen(function*() {
      const client = yield* connect(yield* factory(settings()))
      yield* Effect.promise(() => client.listTools())
      const result = yield* Effect.promise(() =>
        client.callTool({ name: "echo_rows", arguments: { count: 200, kind: "long" } })
      )
      expect(result.isError).toBeFalsy()
      const text = textOf(result)
      expect(text.length).toBeLessThanOrEqual(2_000)
      const structured = result.structuredContent as {
        results: Array<unknown>
        truncated: { omitted: Array<unknown>; message: string }
      }
      expect(structured.results.length).toBeGreaterThan(0)
      expect(structured.results.length).toBeLessThan(200)
      expect(structured.truncated.omitted).toStrictEqual([
        { path: "results", kept: structured.results.length, omitted: 200 - structured.results.length }
      ])
      expect(structured.truncated.message).toContain("next_page")
    }))

  it.scoped("bad arguments give an isError result naming the field and the allowed values", () =>
    Effect.gen(function*() {
      const client = yield* connect(yield* factory(settings()))
      const result = yield* Effect.promise(() =>
        client.callTool({ name: "echo_rows", arguments: { count: 5000, kind: "medium", extra: 1 } })
      )
      expect(result.isError).toBe(true)
      const text = textOf(result)
      expect(text).toContain("Invalid arguments for echo_rows")
      expect(text).toContain("- count: got 5000; expected an integer from 0 to 1000")
      expect(text).toContain(`- kind: got "medium"; expected one of "short", "long"`)
      expect(text).toContain("- extra: unknown argument; allowed: count, kind")
    }))

  it("nested fields (objects, list items, optional objects) are phrased from their own schema", () => {
    const input = Schema.Struct({
      gate: Schema.optional(
        Schema.Struct({
          metric: Schema.String.pipe(Schema.minLength(1)).annotations({ description: "The metric compared." })
        })
      ),
      ids: Schema.Array(Schema.Int)
    })
    const args = { gate: { metric: "" }, ids: [1, "x"] }
    const parsed = Schema.decodeUnknownEither(input, { errors: "all" })(args)
    if (parsed._tag === "Right") throw new Error("expected a parse error")
    const text = Server.formatParseError(parsed.left, Server.jsonSchemaOf(input), args)
    expect(text).toContain(`- gate.metric: got ""; expected a string of length ≥ 1`)
    expect(text).toContain(`- ids.1: got "x"; expected an integer`)
    expect(text).not.toContain("- gate:")
    expect(text).not.toContain("The metric compared")
  })

  it.scoped("tool failures are actionable; defects hide stack and secrets", () =>
    Effect.gen(function*() {
      const client = yield* connect(yield* factory(settings()))
      const failed = yield* Effect.promise(() => client.callTool({ name: "always_fails", arguments: {} }))
      expect(failed).toStrictEqual({
        content: [{ type: "text", text: "Model 999 does not exist; list models with list_models." }],
        isError: true
      })
      const crashed = yield* Effect.promise(() => client.callTool({ name: "crashes", arguments: {} }))
      expect(crashed.isError).toBe(true)
      expect(textOf(crashed)).toContain("internal error")
      expect(textOf(crashed)).not.toContain("secret-token")
      expect(textOf(crashed)).not.toMatch(/at .*\.ts:\d+/)
    }))

  it.scoped("read-only mode neither lists nor runs write tools", () =>
    Effect.gen(function*() {
      const client = yield* connect(yield* factory(settings({ readOnly: true })))
      const { tools } = yield* Effect.promise(() => client.listTools())
      expect(tools.map((t) => t.name)).not.toContain("always_fails")
      const result = yield* Effect.promise(() => client.callTool({ name: "always_fails", arguments: {} }))
      expect(result.isError).toBe(true)
      expect(textOf(result)).toContain("read-only")
    }))
})
