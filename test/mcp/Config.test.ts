import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Redacted } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import * as Config from "../../src/mcp/Config.js"

const ok = (env: Record<string, string>, overrides: Config.McpOverrides = {}) => {
  const result = Config.settingsFromEnv(env, overrides, "/work")
  if (Either.isLeft(result)) throw result.left
  return result.right
}
const problem = (env: Record<string, string>, overrides: Config.McpOverrides = {}) =>
  Either.match(Config.settingsFromEnv(env, overrides, "/work"), { onLeft: (e) => e.message, onRight: () => "no error" })

describe("MCP settings", () => {
  it("defaults: loopback, port 3333, 25 000 characters, no upload roots", () => {
    const settings = ok({})
    expect(settings.readOnly).toBe(false)
    expect(settings.uploadRoots).toStrictEqual([])
    expect(settings.outputBudget).toBe(25_000)
    expect(settings.http.host).toBe("127.0.0.1")
    expect(settings.http.port).toBe(3333)
    expect(settings.http.token).toBeUndefined()
  })

  it("reads every variable; flags win over the environment", () => {
    const settings = ok({
      SYNAPSE_MCP_READ_ONLY: "true",
      SYNAPSE_MCP_UPLOAD_ROOTS: `models${path.delimiter}/data/weights`,
      SYNAPSE_MCP_OUTPUT_DIR: "out",
      SYNAPSE_MCP_OUTPUT_BUDGET: "5000",
      SYNAPSE_MCP_PORT: "4000",
      SYNAPSE_MCP_HTTP_TOKEN: "a-long-enough-secret",
      SYNAPSE_MCP_ALLOWED_HOSTS: "mcp.internal, other:8080"
    }, { port: 5000 })
    expect(settings.readOnly).toBe(true)
    expect(settings.uploadRoots).toStrictEqual(["/work/models", "/data/weights"])
    expect(settings.outputDir).toBe("/work/out")
    expect(settings.outputBudget).toBe(5000)
    expect(settings.http.port).toBe(5000)
    expect(Redacted.value(settings.http.token!)).toBe("a-long-enough-secret")
    expect(settings.http.allowedHosts).toStrictEqual(["mcp.internal", "other:8080"])
  })

  it("toolsets and tools: comma-separated names, empty or unset offers all, flags win", () => {
    expect(ok({}).toolsets).toBeUndefined()
    expect(ok({}).tools).toBeUndefined()
    expect(ok({ SYNAPSE_MCP_TOOLSETS: " , " }).toolsets).toBeUndefined()
    const settings = ok({ SYNAPSE_MCP_TOOLSETS: "models, ground_truth", SYNAPSE_MCP_TOOLS: "list_models" })
    expect(settings.toolsets).toStrictEqual(["models", "ground_truth"])
    expect(settings.tools).toStrictEqual(["list_models"])
    const flagged = ok({ SYNAPSE_MCP_TOOLSETS: "models" }, { toolsets: "export", tools: "get_context,list_models" })
    expect(flagged.toolsets).toStrictEqual(["export"])
    expect(flagged.tools).toStrictEqual(["get_context", "list_models"])
  })

  it("names the variable at fault", () => {
    expect(problem({ SYNAPSE_MCP_READ_ONLY: "maybe" })).toBe(
      "SYNAPSE_MCP_READ_ONLY: expected 1/0 or true/false, got \"maybe\""
    )
    expect(problem({ SYNAPSE_MCP_OUTPUT_BUDGET: "10" })).toBe(
      "SYNAPSE_MCP_OUTPUT_BUDGET: expected an integer between 1000 and 10000000, got \"10\""
    )
    expect(problem({ SYNAPSE_MCP_OUTPUT_BUDGET: "lots" })).toBe(
      "SYNAPSE_MCP_OUTPUT_BUDGET: expected an integer between 1000 and 10000000, got \"lots\""
    )
    expect(problem({ SYNAPSE_MCP_PORT: "70000" })).toBe(
      "SYNAPSE_MCP_PORT: expected an integer between 0 and 65535, got \"70000\""
    )
    expect(problem({ SYNAPSE_MCP_PORT: "80.5" })).toBe(
      "SYNAPSE_MCP_PORT: expected an integer between 0 and 65535, got \"80.5\""
    )
    expect(problem({}, { port: 70_000 })).toBe("--port: expected an integer between 0 and 65535, got 70000")
    expect(problem({ SYNAPSE_MCP_HTTP_TOKEN: "short" })).toBe("SYNAPSE_MCP_HTTP_TOKEN: must be at least 16 characters")
    expect(problem({ SYNAPSE_MCP_HOST: "  " })).toBe("SYNAPSE_MCP_HOST: must not be empty")
    expect(problem({}, { host: "" })).toBe("SYNAPSE_MCP_HOST: must not be empty")
    // The first of several problems is reported, naming its variable.
    expect(problem({ SYNAPSE_MCP_READ_ONLY: "maybe", SYNAPSE_MCP_PORT: "x" })).toMatch(/^SYNAPSE_MCP_READ_ONLY: /)
  })

  it("blank values are defaults; booleans take 1/0, true/false, yes/no, on/off in any case", () => {
    const blank = ok({ SYNAPSE_MCP_READ_ONLY: "", SYNAPSE_MCP_OUTPUT_BUDGET: " ", SYNAPSE_MCP_PORT: "" })
    expect([blank.readOnly, blank.outputBudget, blank.http.port]).toStrictEqual([false, 25_000, 3333])
    for (const yes of ["1", "TRUE", " yes ", "On"]) expect(ok({ SYNAPSE_MCP_READ_ONLY: yes }).readOnly).toBe(true)
    for (const no of ["0", "False", "no", "OFF"]) expect(ok({ SYNAPSE_MCP_READ_ONLY: no }).readOnly).toBe(false)
    expect(ok({ SYNAPSE_MCP_READ_ONLY: "0" }, { readOnly: true }).readOnly).toBe(true)
    expect(ok({ SYNAPSE_MCP_OUTPUT_DIR: "  " }).outputDir).toBe(path.join(os.tmpdir(), "synapse-ml-exports"))
    expect(ok({ SYNAPSE_MCP_ALLOWED_ORIGINS: "https://a.example, ,https://b.example" }).http.allowedOrigins)
      .toStrictEqual(["https://a.example", "https://b.example"])
  })

  it.effect("load reads the ConfigProvider in force (the environment by default)", () =>
    Effect.gen(function*() {
      const settings = yield* Config.load({}, "/work").pipe(
        Effect.withConfigProvider(
          ConfigProvider.fromMap(new Map([["SYNAPSE_MCP_PORT", "4100"], ["SYNAPSE_MCP_UPLOAD_ROOTS", "w"]]))
        )
      )
      expect([settings.http.port, settings.uploadRoots]).toStrictEqual([4100, ["/work/w"]])
      const error = yield* Effect.flip(
        Config.load().pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["SYNAPSE_MCP_READ_ONLY", "perhaps"]])))
        )
      )
      expect(error).toBeInstanceOf(Config.McpConfigError)
      expect([error.variable, error.message]).toStrictEqual([
        "SYNAPSE_MCP_READ_ONLY",
        "SYNAPSE_MCP_READ_ONLY: expected 1/0 or true/false, got \"perhaps\""
      ])
    }))

  it("upload roots must be existing directories", () => {
    const missing = Config.checkUploadRoots(ok({ SYNAPSE_MCP_UPLOAD_ROOTS: "/no/such/dir" }))
    expect(Either.isLeft(missing) && missing.left.message).toMatch(
      /^SYNAPSE_MCP_UPLOAD_ROOTS: "\/no\/such\/dir" does not exist/
    )
    const file = Config.checkUploadRoots(ok({ SYNAPSE_MCP_UPLOAD_ROOTS: import.meta.filename }))
    expect(Either.isLeft(file) && file.left.message).toContain("is not a directory")
    expect(Either.isRight(Config.checkUploadRoots(ok({ SYNAPSE_MCP_UPLOAD_ROOTS: import.meta.dirname })))).toBe(true)
  })

  it("a non-loopback bind needs a token", () => {
    expect(Config.isLoopback("127.0.0.1")).toBe(true)
    expect(Config.isLoopback("::1")).toBe(true)
    expect(Config.isLoopback("0.0.0.0")).toBe(false)
    const open = Config.checkHttpSettings(ok({}, { host: "0.0.0.0" }))
    expect(Either.isLeft(open) && open.left.variable).toBe("SYNAPSE_MCP_HTTP_TOKEN")
    const guarded = Config.checkHttpSettings(
      ok({ SYNAPSE_MCP_HTTP_TOKEN: "a-long-enough-secret" }, { host: "0.0.0.0" })
    )
    expect(Either.isRight(guarded)).toBe(true)
  })
})
