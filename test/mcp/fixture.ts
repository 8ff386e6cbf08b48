/**
 * A complete MCP server for tests: a real sandbox (demo data, ephemeral port), the real SDK
 * services over HTTP, the real tool table, temporary upload and output directories. Tests connect
 * an SDK `Client` to it with `connect(factory)` from the harness.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Layer, ManagedRuntime, Redacted } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import * as Backend from "../../src/mcp/Backend.js"
import type * as Config from "../../src/mcp/Config.js"
import { serverLayer } from "../../src/mcp/Main.js"
import { McpServer, type ServerFactory } from "../../src/mcp/Server.js"
import * as SynapseClient from "../../src/services/SynapseClient.js"
import { startTestSandbox, type TestSandbox, type TestSandboxOptions } from "../support/sandbox.js"

/** What a test gets. */
export interface McpFixture {
  readonly factory: ServerFactory
  readonly sandbox: TestSandbox
  readonly uploadDir: string
  readonly outputDir: string
  readonly settings: Config.McpSettings
}

/** Test settings: everything in `dir`, a budget large enough for a page of compact rows. */
export const testSettings = (dir: string, overrides: Partial<Config.McpSettings> = {}): Config.McpSettings => ({
  readOnly: false,
  uploadRoots: [path.join(dir, "uploads")],
  outputDir: path.join(dir, "out"),
  outputBudget: 25_000,
  http: { host: "127.0.0.1", port: 0, token: undefined, allowedHosts: [], allowedOrigins: [] },
  ...overrides
})

/** Starts a sandbox and a server factory for the test file; both stop after it. */
export const useMcp = (
  overrides: Partial<Config.McpSettings> = {},
  sandboxOptions: TestSandboxOptions = {}
): () => McpFixture => {
  let fixture: McpFixture | undefined
  let runtime: ManagedRuntime.ManagedRuntime<McpServer, unknown> | undefined
  let dir: string | undefined
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-mcp-"))
    fs.mkdirSync(path.join(dir, "uploads"))
    fs.mkdirSync(path.join(dir, "out"))
    const sandbox = await startTestSandbox(sandboxOptions)
    const settings = testSettings(dir, overrides)
    const backend = Layer.merge(
      SynapseClient.layer({ baseUrl: sandbox.url, accessToken: Redacted.make(sandbox.token) }).pipe(
        Layer.provide(NodeHttpClient.layer)
      ),
      Backend.layer({ baseUrl: sandbox.url, sandbox: true, description: "test sandbox" })
    )
    process.env.SYNAPSE_CACHE_DIR = path.join(dir, "cache")
    runtime = ManagedRuntime.make(serverLayer(settings, backend, [sandbox.token]))
    const factory = await runtime.runPromise(McpServer)
    fixture = { factory, sandbox, uploadDir: path.join(dir, "uploads"), outputDir: path.join(dir, "out"), settings }
  })
  afterAll(async () => {
    await runtime?.dispose()
    await fixture?.sandbox.close()
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })
  return () => {
    if (fixture === undefined) throw new Error("useMcp(): only available inside tests")
    return fixture
  }
}
