/**
 * The MCP server's start-up on the composition root: a bad setting stops it with one line naming
 * the variable, before any sandbox starts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Main from "../../src/mcp/Main.js"

const startError = (env: Record<string, string>) =>
  Effect.flip(
    Effect.scoped(Layer.build(Main.backendLayer(env).pipe(Layer.provide(Main.httpClientLayer))))
  ).pipe(Effect.map((error) => error.message))

describe("MCP start-up", () => {
  it.effect("names the variable of a bad Synapse setting", () =>
    Effect.gen(function*() {
      expect(yield* startError({ SYNAPSE_BASE_URL: "ftp://synapse.example" })).toBe(
        "SYNAPSE_BASE_URL must use http or https, got \"ftp:\""
      )
      expect(yield* startError({ SYNAPSE_BASE_URL: "http://127.0.0.1:9", SYNAPSE_TIMEOUT_READ: "soon" })).toBe(
        "invalid Synapse configuration: SYNAPSE_TIMEOUT_READ must be a number of seconds (e.g. 30) or a duration such as \"30 seconds\", got \"soon\""
      )
      expect(yield* startError({ SYNAPSE_SANDBOX_FAULTS: "boom=1" })).toMatch(
        /^SYNAPSE_BASE_URL is not set and the sandbox could not start: bad fault spec: unknown fault "boom"/
      )
    }))

  it.effect("reads the settings from env when given, failing with the variable at fault", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Main.loadSettings({ env: { SYNAPSE_MCP_TOOLSETS: "models,nope" }, transport: "stdio" })
      )
      expect(error.message).toContain("nope")
      const settings = yield* Main.loadSettings({ env: { SYNAPSE_MCP_TOOLS: "list_models" }, transport: "stdio" })
      expect(settings.tools).toStrictEqual(["list_models"])
    }))
})
