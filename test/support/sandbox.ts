/**
 * Test helper: a real sandbox on an ephemeral port in a fresh temporary data directory, torn down
 * (server stopped, directory removed) after the test file.
 *
 *   const sandbox = useSandbox()                 // demo data, in beforeAll/afterAll
 *   it("…", async () => { const { url, token } = sandbox() … })
 *
 * or, for full control, `const sb = await startTestSandbox({ seed: "none", fixture: (db) => … })`
 * and `await sb.close()`. A `fixture` writes rows into the new database (already created with the
 * sandbox DDL and seeded: `none` seeds only the demo projects 1-3) before the server opens it.
 *
 * The profile is the options' `profile`, else `$SYNAPSE_SANDBOX_PROFILE` (the evidence project of
 * vitest.config.ts sets it), else `rich`. A test that works out its expected values from the API
 * reads them from `await sb.richView()`: the same data in the documented (rich) shapes, whatever
 * profile the sandbox under test answers in.
 */
import Database from "better-sqlite3"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll } from "vitest"
import { prepareDataDir } from "../../src/sandbox/DataDir.js"
import { type SandboxHandle, type SandboxOptions, startSandbox } from "../../src/sandbox/Sandbox.js"

/** Options of a test sandbox: the sandbox's own, plus a fixture writer. */
export interface TestSandboxOptions extends SandboxOptions {
  readonly fixture?: (db: Database.Database) => void
}

/** A running test sandbox; `close()` also deletes its data directory (unless one was given). */
export interface TestSandbox extends SandboxHandle {
  /** Opens the sandbox database directly (for assertions or to age rows); close it after use. */
  readonly openDb: () => Database.Database
  /** Runs a read query on the sandbox database (opened and closed around it): the expected rows. */
  readonly query: <T>(sql: string, ...params: Array<unknown>) => Array<T>
  /** Default headers for API calls (the access token). */
  readonly headers: Record<string, string>
  /**
   * The same data directory served in the rich profile: this sandbox when it is rich, else a
   * second sandbox on the directory, started on first use and stopped with `close()`. For
   * expectations read from the API (every documented field present), never for the calls under test.
   */
  readonly richView: () => Promise<RichView>
}

/** Where the rich reading of a test sandbox's data is served. */
export interface RichView {
  readonly url: string
  readonly origin: string
  readonly headers: Record<string, string>
}

/** Starts a sandbox on port 0 in a new temporary directory (or `options.dataDir`). */
export const startTestSandbox = async (options: TestSandboxOptions = {}): Promise<TestSandbox> => {
  const ownDir = options.dataDir === undefined
  const dataDir = options.dataDir ?? Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-test-"))
  const { fixture, ...rest } = options
  const seed = options.seed ?? "demo"
  if (fixture !== undefined) {
    // Seed first (so fixture rows can reference the seeded projects), then add the fixture; the
    // sandbox then serves the directory as it finds it.
    prepareDataDir({ dataDir, seed, randSeed: options.randSeed ?? 42, events: options.events })
    const db = new Database(Path.join(dataDir, "sandbox.sqlite"))
    try {
      fixture(db)
    } finally {
      db.close()
    }
  }
  const handle = await startSandbox({
    ...rest,
    seed,
    dataDir,
    port: options.port ?? 0,
    host: options.host ?? "127.0.0.1"
  })
  const openDb = () => new Database(Path.join(dataDir, "sandbox.sqlite"))
  const headers = { "Synapse-Access-Token": `Token ${handle.token}` }
  // Several sandboxes may serve one directory (the data directory's lock orders their start); the
  // view adds no faults, so expectations are read cleanly while the sandbox under test misbehaves.
  let view: Promise<SandboxHandle> | undefined
  const richView = async (): Promise<RichView> => {
    if (handle.profile === "rich") return { url: handle.url, origin: handle.origin, headers }
    view ??= startSandbox({
      seed,
      dataDir,
      port: 0,
      host: "127.0.0.1",
      token: handle.token,
      profile: "rich",
      faults: "",
      randSeed: options.randSeed,
      events: options.events
    })
    const v = await view
    return { url: v.url, origin: v.origin, headers }
  }
  return {
    ...handle,
    headers,
    richView,
    openDb,
    query: <T>(sql: string, ...params: Array<unknown>): Array<T> => {
      const db = openDb()
      try {
        return db.prepare(sql).all(...params) as Array<T>
      } finally {
        db.close()
      }
    },
    close: async () => {
      if (view !== undefined) await (await view).close()
      await handle.close()
      if (ownDir) Fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

/**
 * Registers a sandbox for the current test file (or `describe` block): started in `beforeAll`,
 * stopped in `afterAll`. Returns an accessor, valid inside tests.
 */
export const useSandbox = (options: TestSandboxOptions = {}): () => TestSandbox => {
  let sandbox: TestSandbox | undefined
  beforeAll(async () => {
    sandbox = await startTestSandbox(options)
  })
  afterAll(async () => {
    await sandbox?.close()
  })
  return () => {
    if (sandbox === undefined) throw new Error("useSandbox(): the sandbox is only available inside tests")
    return sandbox
  }
}
