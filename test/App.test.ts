/**
 * The composition root: the backend is the Synapse at `SYNAPSE_BASE_URL` when set, else an
 * embedded sandbox whose data lives where the options, `SYNAPSE_SANDBOX_DIR` or the per-user data
 * directory say; every setting comes from the `ConfigProvider` in force.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as App from "../src/App.js"
import * as Backend from "../src/mcp/Backend.js"
import { userDataDir } from "../src/platform/Directories.js"
import * as Models from "../src/services/Models.js"
import { useSandbox } from "./support/sandbox.js"

const sandbox = useSandbox()

/** Runs a program on `App.sdkLayer` under the given variables; returns what it saw and what was announced. */
const onBackend = <A, E>(
  env: Record<string, string>,
  program: Effect.Effect<A, E, Models.Models | Backend.Backend>,
  dataDir: App.BackendOptions["dataDir"] = "user"
) => {
  const announced: Array<App.EmbeddedSandbox> = []
  const layer = App.sdkLayer({
    dataDir,
    startedBy: "this test",
    announce: (sandbox) => Effect.sync(() => void announced.push(sandbox))
  })
  return Effect.provide(program, layer).pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
    Effect.map((result) => ({ result, announced }))
  )
}

const describeBackend = Effect.gen(function*() {
  const backend = yield* Backend.Backend
  const models = yield* Models.Models
  return { backend, count: (yield* models.list({ page_size: 1 })).count }
})

describe("App.sdkLayer", () => {
  it.effect("uses SYNAPSE_BASE_URL and its token when set, starting no sandbox", () =>
    Effect.gen(function*() {
      const { announced, result } = yield* onBackend(
        { SYNAPSE_BASE_URL: ` ${sandbox().url}/ `, SYNAPSE_ACCESS_TOKEN: sandbox().token },
        describeBackend
      )
      expect(result.backend).toStrictEqual({
        baseUrl: sandbox().url,
        sandbox: false,
        description: `the Synapse API at ${sandbox().url}`
      })
      expect(result.count).toBeGreaterThan(0)
      expect(announced).toStrictEqual([])
    }))

  it.effect("refuses a bad SYNAPSE_BASE_URL with a ConfigError naming it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(onBackend({ SYNAPSE_BASE_URL: "not a url" }, describeBackend))
      expect(error._tag).toBe("ConfigError")
      expect(error.message).toBe(
        "SYNAPSE_BASE_URL must be an absolute http(s) URL such as https://api.synapse.sh, got \"not a url\""
      )
    }))

  it.effect("without a base URL, one-shot commands keep the sandbox in the per-user data directory", () =>
    Effect.gen(function*() {
      const home = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-app-xdg-"))
      try {
        const { announced, result } = yield* onBackend(
          { XDG_DATA_HOME: home, SYNAPSE_BASE_URL: " " },
          describeBackend
        )
        const dataDir = Path.join(home, "synapse-ml", "sandbox")
        expect(announced.map(({ fresh, info }) => ({ fresh, dataDir: info.dataDir }))).toStrictEqual([
          { fresh: false, dataDir }
        ])
        expect(result.backend.sandbox).toBe(true)
        expect(result.backend.description).toMatch(/^the local Synapse sandbox started by this test, with generated/)
        expect(result.count).toBeGreaterThan(0)
        // Kept after the run.
        expect(Fs.existsSync(Path.join(dataDir, "sandbox.sqlite"))).toBe(true)
        // SYNAPSE_SANDBOX_DIR wins over the per-user directory.
        const chosen = Path.join(home, "chosen")
        const again = yield* onBackend({ XDG_DATA_HOME: home, SYNAPSE_SANDBOX_DIR: chosen }, describeBackend, "fresh")
        expect(again.announced.map(({ fresh, info }) => ({ fresh, dataDir: info.dataDir }))).toStrictEqual([
          { fresh: false, dataDir: chosen }
        ])
      } finally {
        Fs.rmSync(home, { recursive: true, force: true })
      }
    }))

  it.effect("the sandbox refuses an unknown SYNAPSE_SANDBOX_PROFILE, naming it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        onBackend({ SYNAPSE_SANDBOX_PROFILE: "strict" }, describeBackend, "fresh")
      )
      expect(error._tag).toBe("SandboxError")
      expect(error.message).toBe("SYNAPSE_SANDBOX_PROFILE must be one of rich, evidence, got \"strict\"")
    }))
})

describe("userDataDir", () => {
  it("is $XDG_DATA_HOME/<app> when absolute, else ~/.local/share/<app>", () => {
    expect(userDataDir("synapse-ml", { XDG_DATA_HOME: "/data" }, "/home/u")).toBe("/data/synapse-ml")
    expect(userDataDir("synapse-ml", { XDG_DATA_HOME: "relative" }, "/home/u")).toBe(
      "/home/u/.local/share/synapse-ml"
    )
    expect(userDataDir("synapse-ml", {}, "/home/u")).toBe("/home/u/.local/share/synapse-ml")
  })
})
