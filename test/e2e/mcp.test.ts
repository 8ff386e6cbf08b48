/**
 * End-to-end: the built command (`node dist/cli/main.js mcp`, what `synapse-ml mcp` runs) driven
 * by a client nobody here wrote — the MCP inspector's CLI (`mcp-inspector-cli`) — over stdio and
 * over Streamable HTTP, plus a raw stdio session checking that stdout carries only JSON-RPC, and
 * start-up failures on bad configuration. Each server runs on its own sandbox (no SYNAPSE_BASE_URL).
 * Needs `npm run build` first (`npm test` does it).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { allTools } from "../../src/mcp/tools/index.js"
import { isRich, sandboxProfile } from "../support/profile.js"

const ROOT = path.resolve(import.meta.dirname, "..", "..")
const MAIN = path.join(ROOT, "dist", "cli", "main.js")
const INSPECTOR_BUILD = path.join(ROOT, "node_modules", "@modelcontextprotocol", "inspector-cli", "build")
const INSPECTOR = path.join(INSPECTOR_BUILD, "cli.js")

let dir = ""
let env: Record<string, string> = {}

beforeAll(() => {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`)
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-e2e-"))
  env = {
    SYNAPSE_SANDBOX_DIR: path.join(dir, "sandbox"),
    SYNAPSE_MCP_OUTPUT_DIR: path.join(dir, "out"),
    SYNAPSE_MCP_UPLOAD_ROOTS: path.join(dir, "uploads"),
    SYNAPSE_CACHE_DIR: path.join(dir, "cache"),
    SYNAPSE_UPLOAD_STATE_DIR: path.join(dir, "upload-state")
  }
  fs.mkdirSync(env.SYNAPSE_MCP_UPLOAD_ROOTS!)
})
afterAll(() => {
  if (dir !== "") fs.rmSync(dir, { recursive: true, force: true })
})

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a process to completion. `SYNAPSE_BASE_URL` is removed so servers use their own sandbox. */
const run = (args: ReadonlyArray<string>, extraEnv: Record<string, string> = {}, timeoutMs = 60_000): Promise<Run> =>
  new Promise((resolve, reject) => {
    const { SYNAPSE_BASE_URL: _drop, ...base } = process.env
    const child = spawn(process.execPath, args, {
      // The inspector finds its own package.json as "../package.json" from the working directory.
      cwd: args[0] === INSPECTOR ? INSPECTOR_BUILD : ROOT,
      env: { ...base, ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c))
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`timed out: ${args.join(" ")}\n${stderr}`))
    }, timeoutMs)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

/** The inspector CLI against our stdio server: the environment goes through `-e` as a user would pass it. */
const inspectStdio = async (...method: ReadonlyArray<string>) => {
  const envArgs = Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`])
  const result = await run([INSPECTOR, "--cli", ...envArgs, process.execPath, MAIN, "mcp", ...method])
  expect({ code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toStrictEqual({ code: 0, stderr: "" })
  return JSON.parse(result.stdout) as Record<string, unknown>
}

describe("built `synapse-ml mcp` with the MCP inspector CLI", () => {
  it("stdio: tools/list, tools/call, resources/read", async () => {
    const listed = await inspectStdio("--method", "tools/list")
    expect((listed.tools as Array<{ name: string }>).map((t) => t.name)).toContain("export_ground_truth")

    const context = await inspectStdio("--method", "tools/call", "--tool-name", "get_context")
    expect(context.structuredContent).toMatchObject({ backend: { sandbox: true }, read_only: false })
    // The server's own sandbox follows SYNAPSE_SANDBOX_PROFILE, which the test run sets per project.
    expect((context.structuredContent as { backend: { description: string } }).backend.description).toContain(
      `in its ${sandboxProfile()} profile`
    )

    const models = await inspectStdio(
      "--method",
      "tools/call",
      "--tool-name",
      "list_models",
      "--tool-arg",
      "page_size=3",
      "model_type=detection"
    )
    const page = models.structuredContent as { results: Array<{ id: number; model_type: string }> }
    expect(page.results).toHaveLength(3)
    // The filter is applied either way; only the rich profile says a model's type.
    if (isRich()) expect(page.results.every((m) => m.model_type === "detection")).toBe(true)
    else expect(page.results.every((m) => !("model_type" in m))).toBe(true)

    const bad = await inspectStdio(
      "--method",
      "tools/call",
      "--tool-name",
      "list_models",
      "--tool-arg",
      "model_type=regression"
    )
    expect(bad.isError).toBe(true)

    const versions = await inspectStdio("--method", "tools/call", "--tool-name", "list_ground_truth_versions")
    const version = (versions.structuredContent as { results: Array<{ id: number }> }).results[0]!.id
    const exported = await inspectStdio(
      "--method",
      "tools/call",
      "--tool-name",
      "export_ground_truth",
      "--tool-arg",
      `dataset_version_ids=[${version}]`,
      "format=coco",
      "output_name=e2e-coco"
    )
    expect(exported.isError).toBeFalsy()
    const cocoFile = (exported.structuredContent as { files: Array<string> }).files.find((f) => f.endsWith(".json"))!

    // A new server process reads the export back as a resource.
    const read = await inspectStdio("--method", "resources/read", "--uri", `synapse://exports/e2e-coco/${cocoFile}`)
    const coco = JSON.parse((read.contents as Array<{ text: string }>)[0]!.text) as {
      images: Array<unknown>
      annotations: Array<unknown>
    }
    expect(coco.images.length).toBeGreaterThan(0)
    const model = await inspectStdio("--method", "resources/read", "--uri", `synapse://models/${page.results[0]!.id}`)
    expect(JSON.parse((model.contents as Array<{ text: string }>)[0]!.text)).toMatchObject({ id: page.results[0]!.id })
  }, 240_000)

  // The transports do not depend on the answer shapes (the stdio test above covers the data path
  // on both profiles): run once, under rich.
  it.skipIf(!isRich())("Streamable HTTP: tools/list and tools/call against `mcp --http`", async () => {
    const { SYNAPSE_BASE_URL: _drop, ...base } = process.env
    const server: ChildProcess = spawn(process.execPath, [MAIN, "mcp", "--http", "--port", "0"], {
      cwd: ROOT,
      env: { ...base, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let stderr = ""
        const timer = setTimeout(() => reject(new Error(`no endpoint announced:\n${stderr}`)), 60_000)
        server.stderr!.setEncoding("utf8").on("data", (c: string) => {
          stderr += c
          const match = /listening on (http:\/\/\S+\/mcp)/.exec(stderr)
          if (match !== null) {
            clearTimeout(timer)
            resolve(match[1]!)
          }
        })
      })
      const listed = await run([INSPECTOR, "--cli", url, "--transport", "http", "--method", "tools/list"])
      expect(listed.code).toBe(0)
      expect((JSON.parse(listed.stdout) as { tools: Array<unknown> }).tools).toHaveLength(allTools.length)
      const called = await run([
        INSPECTOR,
        "--cli",
        url,
        "--transport",
        "http",
        "--method",
        "tools/call",
        "--tool-name",
        "get_model",
        "--tool-arg",
        "id=101"
      ])
      expect(called.code).toBe(0)
      expect((JSON.parse(called.stdout) as { structuredContent: { id: number } }).structuredContent.id).toBe(101)
      const resources = await run([
        INSPECTOR,
        "--cli",
        url,
        "--transport",
        "http",
        "--method",
        "resources/templates/list"
      ])
      expect(resources.stdout).toContain("synapse://models/{id}")
      const read = await run([
        INSPECTOR,
        "--cli",
        url,
        "--transport",
        "http",
        "--method",
        "resources/read",
        "--uri",
        "synapse://models/101"
      ])
      expect(read.code).toBe(0)
      const contents = (JSON.parse(read.stdout) as { contents: Array<{ text: string }> }).contents
      expect(JSON.parse(contents[0]!.text)).toMatchObject({ id: 101 })
    } finally {
      server.kill("SIGTERM")
    }
  }, 180_000)
})

// What stdout carries does not depend on the answer shapes: run once, under rich.
describe.skipIf(!isRich())("built `synapse-ml mcp` on stdio", () => {
  it("writes nothing but JSON-RPC messages to stdout and exits when stdin closes", async () => {
    const { SYNAPSE_BASE_URL: _drop, ...base } = process.env
    const child = spawn(process.execPath, [MAIN, "mcp"], {
      cwd: ROOT,
      env: { ...base, ...env },
      stdio: ["pipe", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c))
    const send = (message: object) => child.stdin.write(JSON.stringify(message) + "\n")
    const answered = (id: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer to ${id}:\n${stdout}\n${stderr}`)), 60_000)
        const check = () => {
          // By the message's own id: a result's data may hold `"id":7` too.
          const ids = stdout.split("\n").filter((line) => line.endsWith("}")).map((line) =>
            (JSON.parse(line) as { id?: unknown }).id
          )
          if (ids.includes(id)) {
            clearTimeout(timer)
            child.stdout.off("data", check)
            resolve()
          }
        }
        child.stdout.on("data", check)
        check()
      })
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c))
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve))

    send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "0" } }
    })
    await answered(1)
    send({ jsonrpc: "2.0", method: "notifications/initialized" })
    send({ jsonrpc: "2.0", id: 2, method: "tools/list" })
    send({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "list_models", arguments: { page_size: 2 } } })
    send({ jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "get_model", arguments: { id: 999999 } } })
    send({ jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "list_ground_truth_versions", arguments: {} } })
    await Promise.all([answered(2), answered(3), answered(4), answered(5)])
    const versions = stdout.split("\n").filter((line) => line.endsWith("}")).map((line) => JSON.parse(line) as unknown)
      .find((message) => (message as { id?: unknown }).id === 5) as {
        result: { structuredContent: { results: Array<{ id: number }> } }
      }
    const version = versions.result.structuredContent.results[0]!.id
    // With a progress token, progress notifications go to stdout too: they must be JSON-RPC as well.
    send({
      jsonrpc: "2.0",
      id: 6,
      method: "tools/call",
      params: {
        name: "export_ground_truth",
        arguments: { dataset_version_ids: [version], format: "yolo" },
        _meta: { progressToken: "export-1" }
      }
    })
    await answered(6)
    expect(stdout).toContain(`"method":"notifications/progress"`)
    // Malformed input is answered, not dropped: a parse error for a line that is not JSON, invalid
    // params naming the field for a call without a tool name.
    child.stdin.write("{not json\n")
    send({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { arguments: {} } })
    await answered(7)
    const answers = stdout.split("\n").filter((line) => line.length > 0).map((line) =>
      JSON.parse(line) as { id?: unknown; error?: { code: number; message: string } }
    )
    expect(answers.find((a) => a.id === null)?.error?.code).toBe(-32700)
    expect(answers.find((a) => a.id === 7)?.error).toStrictEqual({
      code: -32602,
      message: "Invalid params for tools/call: params.name is required: the name of a tool from tools/list."
    })
    child.stdin.end()
    expect(await exited).toBe(0)

    const lines = stdout.split("\n").filter((line) => line.length > 0)
    expect(lines.length).toBeGreaterThanOrEqual(5)
    for (const line of lines) {
      const message = JSON.parse(line) as { jsonrpc?: string }
      expect(message.jsonrpc).toBe("2.0")
    }
    // The logs went to stderr instead.
    expect(stderr).toContain("sandbox")
  }, 120_000)
})

// The configuration is refused before any sandbox starts: run once, under rich.
describe.skipIf(!isRich())("start-up configuration errors", () => {
  it("exit non-zero with a message naming the variable", async () => {
    const budget = await run([MAIN, "mcp"], { ...env, SYNAPSE_MCP_OUTPUT_BUDGET: "lots" })
    expect(budget.code).toBe(2)
    expect(budget.stderr).toContain("SYNAPSE_MCP_OUTPUT_BUDGET")
    expect(budget.stdout).toBe("")
    const exposed = await run([MAIN, "mcp", "--http", "--host", "0.0.0.0"], env)
    expect(exposed.code).toBe(2)
    expect(exposed.stderr).toContain("SYNAPSE_MCP_HTTP_TOKEN")
    const url = await run([MAIN, "mcp"], { ...env, SYNAPSE_BASE_URL: "not a url" })
    expect(url.code).toBe(2)
    expect(url.stderr).toContain("SYNAPSE_BASE_URL")
  }, 120_000)
})
