/**
 * The package's entry points, as an installed package resolves them (`package.json` `exports`,
 * by package self-reference from the repository): what each subpath offers, and what it loads. A
 * fresh Node process imports the built subpath with a resolve hook that records every module
 * resolved; `synapse-ml` must load neither the MCP SDK nor SQLite, `synapse-ml/sandbox` not the
 * MCP SDK. Needs `dist/` (`npm run build`, which `npm test` runs first).
 */
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, describe, expect, it } from "vitest"

const ROOT = Path.resolve(import.meta.dirname, "..")
const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-entry-"))
afterAll(() => Fs.rmSync(work, { recursive: true, force: true }))

// Runs in the loader thread: appends every resolved URL to the file named by the registration data.
const HOOKS = `
import { appendFileSync } from "node:fs"
let log
export const initialize = (data) => { log = data.log }
export const resolve = async (specifier, context, next) => {
  const result = await next(specifier, context)
  appendFileSync(log, result.url + "\\n")
  return result
}
`

const REGISTER = `
import { register } from "node:module"
register(${JSON.stringify(`file://${work}/hooks.mjs`)}, { data: { log: process.env.ENTRY_LOG } })
`

Fs.writeFileSync(Path.join(work, "hooks.mjs"), HOOKS)
Fs.writeFileSync(Path.join(work, "register.mjs"), REGISTER)

/** Imports `specifier` in a fresh Node process; its export names and every module it loaded. */
const load = (specifier: string) =>
  new Promise<{ exports: Array<string>; modules: Array<string> }>((resolve, reject) => {
    const log = Path.join(work, `${specifier.replace(/\W/g, "_")}.log`)
    const script = `
      import { createRequire } from "node:module"
      const m = await import(${JSON.stringify(specifier)})
      // Packages loaded through require() (CommonJS inside CommonJS) bypass the resolve hook.
      const cjs = Object.keys(createRequire(import.meta.url).cache)
      process.stdout.write(JSON.stringify({ exports: Object.keys(m), cjs }))
    `
    execFile(
      process.execPath,
      ["--import", Path.join(work, "register.mjs"), "--input-type=module", "--eval", script],
      { cwd: ROOT, env: { ...process.env, ENTRY_LOG: log } },
      (error, stdout, stderr) => {
        if (error !== null) return reject(new Error(`${error.message}\n${stderr}`))
        const out = JSON.parse(stdout) as { exports: Array<string>; cjs: Array<string> }
        const resolved = Fs.readFileSync(log, "utf8").split("\n").filter((line) => line !== "")
        resolve({ exports: out.exports, modules: [...resolved, ...out.cjs] })
      }
    )
  })

const MCP_SDK = /node_modules\/@modelcontextprotocol\//
const SQLITE = /node_modules\/(better-sqlite3|@effect\/sql)/

describe("entry points", () => {
  it("synapse-ml: the SDK and the workflows, without the MCP SDK or SQLite", async () => {
    const { exports, modules } = await load("synapse-ml")
    expect(exports).toStrictEqual([
      "ChunkedUpload",
      "Coco",
      "FileCache",
      "GroundTruths",
      "Logging",
      "Models",
      "Pagination",
      "Schemas",
      "Synapse",
      "SynapseClient",
      "SynapseError",
      "Version",
      "Workflows"
    ])
    // The hook saw the SDK itself, so an empty match below means "not loaded", not "not watched".
    expect(modules.some((url) => url.endsWith("/dist/services/Models.js"))).toBe(true)
    expect(modules.some((url) => url.includes("/node_modules/effect/"))).toBe(true)
    expect(modules.filter((url) => MCP_SDK.test(url))).toStrictEqual([])
    expect(modules.filter((url) => SQLITE.test(url))).toStrictEqual([])
    expect(modules.filter((url) => /\/dist\/(mcp|sandbox|cli)\//.test(url))).toStrictEqual([])
  })

  it("synapse-ml/sandbox: the sandbox and the SDK over it, without the MCP SDK", async () => {
    const { exports, modules } = await load("synapse-ml/sandbox")
    expect(exports).toStrictEqual(["Sandbox", "SandboxSdk"])
    expect(modules.some((url) => SQLITE.test(url))).toBe(true)
    expect(modules.filter((url) => MCP_SDK.test(url))).toStrictEqual([])
  })

  it("synapse-ml/mcp: the MCP server", async () => {
    const { exports, modules } = await load("synapse-ml/mcp")
    expect(exports).toStrictEqual(["Mcp", "McpBackend", "McpConfig", "McpServer", "McpTool"])
    expect(modules.some((url) => MCP_SDK.test(url))).toBe(true)
  })

  it("no other subpath is exported", async () => {
    await expect(load("synapse-ml/dist/mcp/Main.js")).rejects.toThrow(/ERR_PACKAGE_PATH_NOT_EXPORTED/)
  })
})
