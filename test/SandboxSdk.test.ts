/**
 * `SandboxSdk.layer()`: an SDK program runs as it is on a sandbox with demo data, with no account
 * and no configuration, and the sandbox with its data directory is gone once the program ends.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Stream } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { GroundTruths, Models, SynapseClient } from "../src/index.js"
import { SandboxSdk } from "../src/sandbox.js"

/** What the README's quick start does: a model, a dataset version and its events, by demo ids. */
const program = Effect.gen(function*() {
  const models = yield* Models.Models
  const groundTruths = yield* GroundTruths.GroundTruths
  const page = yield* models.list({ page_size: 5 })
  const model = yield* models.get(103)
  const version = yield* groundTruths.getVersion(303)
  const events = yield* Stream.runCount(groundTruths.streamEvents({ ground_truth_dataset_versions: [303] }))
  const sandbox = yield* SandboxSdk.RunningSandbox
  const client = yield* SynapseClient.SynapseClient
  return { page, model, version, events, sandbox, baseUrl: client.baseUrl }
})

const freshDirs = () =>
  new Set(Fs.readdirSync(Os.tmpdir()).filter((name) => name.startsWith("synapse-ml-mcp-sandbox-")))

describe("SandboxSdk.layer", () => {
  it.effect("runs an SDK program on demo data, then stops the sandbox and removes its directory", () =>
    Effect.gen(function*() {
      const cache = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-sandbox-sdk-"))
      const before = freshDirs()
      const out = yield* program.pipe(
        Effect.provide(SandboxSdk.layer({ fileCache: { dir: cache }, chunkedUpload: { stateDir: cache } })),
        // A configured real backend is never used: the program stays on the sandbox.
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["SYNAPSE_BASE_URL", "https://synapse.invalid"]])))
      )
      expect(out.page.results).toHaveLength(5)
      expect(out.page.count).toBeGreaterThan(5)
      expect(out.model.id).toBe(103)
      expect(out.version.id).toBe(303)
      expect(out.events).toBeGreaterThan(0)
      expect(out.baseUrl).toBe(out.sandbox.url)
      expect(out.sandbox.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1$/)
      expect(Path.basename(out.sandbox.dataDir)).toMatch(/^synapse-ml-mcp-sandbox-/)
      // Stopped: nothing listens any more, and the fresh directory is gone.
      const after = yield* Effect.promise(() => fetch(`${out.sandbox.url}/models/`).then(() => "up", () => "down"))
      expect(after).toBe("down")
      expect(Fs.existsSync(out.sandbox.dataDir)).toBe(false)
      expect([...freshDirs()].filter((name) => !before.has(name))).toStrictEqual([])
      Fs.rmSync(cache, { recursive: true, force: true })
    }))

  it.effect("keeps a given data directory, and refuses bad sandbox options with a SandboxError", () =>
    Effect.gen(function*() {
      const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-sandbox-sdk-kept-"))
      try {
        const count = yield* Effect.gen(function*() {
          const models = yield* Models.Models
          return (yield* models.list({ page_size: 1 })).count
        }).pipe(Effect.provide(SandboxSdk.layer({ dataDir, seed: "none" })))
        expect(count).toBe(0)
        expect(Fs.existsSync(Path.join(dataDir, "sandbox.sqlite"))).toBe(true)
        const bad = yield* Effect.flip(Effect.provide(Effect.void, SandboxSdk.layer({ dataDir, port: 70_000 })))
        expect(bad._tag).toBe("SandboxError")
        expect(bad.message).toBe("port must be a whole number from 0 to 65535, got 70000")
      } finally {
        Fs.rmSync(dataDir, { recursive: true, force: true })
      }
    }))
})
