/**
 * Test helper: a real sandbox on an ephemeral port in a fresh temporary data directory, torn down
 * (server stopped, directory removed) after the test file.
 *
 *   const sandbox = useSandbox()                 // demo data, in beforeAll/afterAll
 *   it("…", async () => { const { url, token } = sandbox() … })
 *
 * or, for full control, `const sb = await startTestSandbox({ seed: "none", fixture: (db) => … })`
 * and `await sb.close()`. A `fixture` writes rows into the new database (already created with the
 * sandbox DDL) before the server opens it; use it with `seed: "none"`.
 */
import Database from "better-sqlite3"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll } from "vitest"
import { SCHEMA_SQL } from "../../src/sandbox/Database.js"
import { type SandboxHandle, type SandboxOptions, startSandbox } from "../../src/sandbox/Sandbox.js"

/** Options of a test sandbox: the sandbox's own, plus a fixture writer. */
export interface TestSandboxOptions extends SandboxOptions {
  readonly fixture?: (db: Database.Database) => void
}

/** A running test sandbox; `close()` also deletes its data directory (unless one was given). */
export interface TestSandbox extends SandboxHandle {
  /** Opens the sandbox database directly (for assertions or to age rows); close it after use. */
  readonly openDb: () => Database.Database
  /** Default headers for API calls (the access token). */
  readonly headers: Record<string, string>
}

/** Starts a sandbox on port 0 in a new temporary directory (or `options.dataDir`). */
export const startTestSandbox = async (options: TestSandboxOptions = {}): Promise<TestSandbox> => {
  const ownDir = options.dataDir === undefined
  const dataDir = options.dataDir ?? Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-test-"))
  if (options.fixture !== undefined) {
    const db = new Database(Path.join(dataDir, "sandbox.sqlite"))
    try {
      db.exec(SCHEMA_SQL)
      options.fixture(db)
    } finally {
      db.close()
    }
  }
  const { fixture: _fixture, ...rest } = options
  const handle = await startSandbox({ seed: "demo", ...rest, dataDir, port: options.port ?? 0, host: options.host ?? "127.0.0.1" })
  return {
    ...handle,
    headers: { "Synapse-Access-Token": `Token ${handle.token}` },
    openDb: () => new Database(Path.join(dataDir, "sandbox.sqlite")),
    close: async () => {
      await handle.close()
      if (ownDir) Fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

/**
 * Registers a sandbox for the current test file (or `describe` block): started in `beforeAll`,
 * stopped in `afterAll`. Returns an accessor, valid inside tests.
 */
export const useSandbox = (options: TestSandboxOptions = {}): (() => TestSandbox) => {
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
