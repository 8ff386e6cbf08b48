/**
 * The long-running commands with their default ports held by another program, as happens when a
 * user runs `npm start` next to `npm run sandbox` or anything else on 3333 or 8765: a default that
 * is taken gives way to a free port that the command prints and serves on; a port the user chose
 * that is taken is refused with exit status 2 and a message naming the flag that picks another.
 * `start`'s embedded sandbox never takes the sandbox command's port.
 *
 * Runs in the `rich` project only: the profile does not matter here, and the file holds fixed
 * ports, which two copies running at once would contend for.
 */
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runCli, startCli } from "../support/cli.js"
import { isRich } from "../support/profile.js"

/** Binds `port` on 127.0.0.1 until `close`; a port someone else already holds counts as held. */
const hold = (port: number): Promise<() => Promise<void>> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", (error: NodeJS.ErrnoException) =>
      error.code === "EADDRINUSE" ? resolve(async () => {}) : reject(error))
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () =>
      resolve(() =>
        new Promise((done) =>
          server.close(() => done())
        )
      ))
  })

const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "e2e-ports-"))
// No SYNAPSE_BASE_URL or port variables from the developer's shell: the defaults are under test.
const env = {
  SYNAPSE_BASE_URL: "",
  SYNAPSE_MCP_PORT: "",
  SYNAPSE_SANDBOX_DIR: Path.join(tmp, "sandbox"),
  SYNAPSE_MCP_OUTPUT_DIR: Path.join(tmp, "out")
}
const releases: Array<() => Promise<void>> = []

beforeAll(async () => {
  releases.push(await hold(3333), await hold(8765))
})
afterAll(async () => {
  await Promise.all(releases.map((release) => release()))
  Fs.rmSync(tmp, { recursive: true, force: true })
})

describe.skipIf(!isRich())("default ports held by another program", () => {
  it("`sandbox` moves to a free port, says so, and serves there", async () => {
    const server = await startCli(["sandbox"], env, /listening on http:\/\/127\.0\.0\.1:(\d+)/)
    try {
      const port = Number(server.match[1])
      expect(port).not.toBe(8765)
      expect(server.output()).toContain(
        `synapse-ml sandbox: port 8765 is in use, so this server listens on ${port} (choose one with --port N)`
      )
      const response = await fetch(`http://127.0.0.1:${port}/api/v1/models/?page_size=1`, {
        headers: { "Synapse-Access-Token": "Token synapse-sandbox-dev-token" }
      })
      expect(response.status).toBe(200)
    } finally {
      await server.stop()
    }
  })

  it("`sandbox --port 8765` is refused, naming the flag", async () => {
    const result = await runCli(["sandbox", "--port", "8765"], env)
    expect(result.code).toBe(2)
    expect(result.stderr.trim()).toBe(
      "synapse-ml sandbox: port 8765 on 127.0.0.1 is in use by another program: choose another with --port N, or --port 0 for any free port"
    )
  })

  it("`start` moves the MCP server to a free port; its sandbox takes neither default", async () => {
    const server = await startCli(["start"], env, /Ctrl-C stops the server/)
    try {
      const out = server.output()
      const mcp = /listening on http:\/\/127\.0\.0\.1:(\d+)\/mcp/.exec(out)
      const backend = /^\s+http:\/\/127\.0\.0\.1:(\d+)\/api\/v1$/m.exec(out)
      expect(mcp).not.toBeNull()
      expect(backend).not.toBeNull()
      expect([Number(mcp![1]), Number(backend![1])]).not.toContain(3333)
      expect(Number(backend![1])).not.toBe(8765)
      expect(out).toContain(`port 3333 is in use, so this server listens on ${mcp![1]} (choose one with --port N)`)
      const response = await fetch(`http://127.0.0.1:${mcp![1]}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} })
      })
      expect(response.status).toBe(200)
    } finally {
      await server.stop()
    }
  })

  it("`start --port 3333` and `start --sandbox-port 8765` are refused, each naming its flag", async () => {
    const mcp = await runCli(["start", "--port", "3333"], env)
    expect(mcp.code).toBe(2)
    expect(mcp.stderr).toContain(
      "synapse-ml start: port 3333 on 127.0.0.1 is in use by another program: choose another with --port N, or --port 0 for any free port"
    )
    const sandbox = await runCli(["start", "--sandbox-port", "8765"], env)
    expect(sandbox.code).toBe(2)
    expect(sandbox.stderr).toContain(
      "synapse-ml start: port 8765 on 127.0.0.1 is in use by another program: choose another with --sandbox-port N, or --sandbox-port 0 for any free port"
    )
  })

  it("`mcp --http` moves to a free port and says so; $SYNAPSE_MCP_PORT is taken as chosen", async () => {
    const server = await startCli(
      ["mcp", "--http"],
      env,
      /synapse-ml mcp: listening on http:\/\/127\.0\.0\.1:(\d+)\/mcp/
    )
    try {
      expect(server.match[1]).not.toBe("3333")
      expect(server.output()).toContain(
        `synapse-ml mcp: port 3333 is in use, so this server listens on ${server.match[1]} (choose one with --port N)`
      )
    } finally {
      await server.stop()
    }
    const chosen = await runCli(["mcp", "--http"], { ...env, SYNAPSE_MCP_PORT: "3333" })
    expect(chosen.code).toBe(2)
    expect(chosen.stderr).toContain("synapse-ml mcp: port 3333 on 127.0.0.1 is in use by another program")
  })
})
