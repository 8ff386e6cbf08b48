/**
 * Where the command's sandbox keeps its data by default: `synapse-ml sandbox` and the one-shot
 * commands on the embedded sandbox share the per-user data directory
 * (`$XDG_DATA_HOME/synapse-ml/sandbox`), never a folder in the shared temporary directory.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { runCli, startCli } from "../support/cli.js"

const home = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-xdg-"))
afterAll(() => Fs.rmSync(home, { recursive: true, force: true }))

const env = { XDG_DATA_HOME: home, SYNAPSE_SANDBOX_DIR: "", SYNAPSE_BASE_URL: "", SYNAPSE_SANDBOX_FAULTS: "" }
const dataDir = Path.join(home, "synapse-ml", "sandbox")

describe("the sandbox's default data directory", () => {
  it("is the per-user one for one-shot commands, and `synapse-ml sandbox` serves the same", async () => {
    // The export runs first, on a new home: it seeds the per-user directory...
    const exported = await runCli(
      ["export", "--dataset-version", "303", "--out", Path.join(home, "out"), "--json"],
      env
    )
    expect(exported.code).toBe(0)
    expect(exported.stderr).toContain("synapse-ml: SYNAPSE_BASE_URL is not set: using the local sandbox")
    expect(Fs.existsSync(Path.join(dataDir, "sandbox.sqlite"))).toBe(true)
    // ...which the sandbox command then serves, rather than seeding another.
    const server = await startCli(["sandbox", "--port", "0"], env, /listening on (\S+)/, 120_000)
    try {
      expect(server.output()).toContain(`synapse-ml sandbox: serving existing data from ${dataDir}\n`)
    } finally {
      expect(await server.stop()).toBe(0)
    }
  }, 300_000)
})
