/**
 * The README's code blocks, run as a newcomer runs them, so that a snippet that no longer works
 * fails `npm test`:
 * - `sh` blocks run in order in one fresh directory, with `synapse-ml` on the PATH (as `npm link`
 *   puts it) and no Synapse settings, so every command uses the embedded sandbox, whose data
 *   directory is a temporary one here;
 * - `ts run` blocks are type-checked with the strictest settings a consumer might use and run;
 *   `ts` blocks are type-checked;
 * - `json` blocks parse.
 * `text` blocks (install lines, long-running servers) are shown, not run.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"

const root = path.resolve(import.meta.dirname, "../..")
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")

interface Block {
  readonly lang: string
  readonly run: boolean
  readonly code: string
  /** 1-based line of the opening fence, for messages. */
  readonly line: number
}

const blocks: Array<Block> = []
{
  const lines = readme.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)(?: (run))?\s*$/.exec(lines[i])
    if (open === null) continue
    const start = i
    const body: Array<string> = []
    for (i++; i < lines.length && lines[i] !== "```"; i++) body.push(lines[i])
    blocks.push({ lang: open[1], run: open[2] === "run", code: body.join("\n"), line: start + 1 })
  }
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-readme-"))
// TypeScript snippets live inside the package so that `synapse-ml` resolves to it by name.
const snippets = fs.mkdtempSync(path.join(root, "test", "docs", ".snippets-"))
afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true })
  fs.rmSync(snippets, { recursive: true, force: true })
})

const bin = path.join(work, "bin")
fs.mkdirSync(bin)
fs.writeFileSync(
  path.join(bin, "synapse-ml"),
  `#!/bin/sh\nexec "${process.execPath}" "${path.join(root, "dist", "cli", "main.js")}" "$@"\n`,
  { mode: 0o755 }
)
/** A newcomer's environment: no Synapse settings, the sandbox's and the caches' data kept here. */
const env = (): NodeJS.ProcessEnv => {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SYNAPSE_")))
  return {
    ...clean,
    PATH: `${bin}${path.delimiter}${process.env.PATH}`,
    XDG_DATA_HOME: path.join(work, "data"),
    XDG_CACHE_HOME: path.join(work, "cache"),
    NO_COLOR: "1"
  }
}

describe("README", () => {
  it("has the blocks this test knows how to check", () => {
    expect(blocks.length).toBeGreaterThan(5)
    for (const b of blocks) expect(["sh", "ts", "json", "text"], `block at line ${b.line}`).toContain(b.lang)
  })

  it("json blocks parse", () => {
    for (const b of blocks.filter((b) => b.lang === "json")) {
      expect(() => JSON.parse(b.code), `block at line ${b.line}`).not.toThrow()
    }
  })

  it("shell blocks run as written, in order, on the embedded sandbox", () => {
    const cwd = path.join(work, "tour")
    fs.mkdirSync(cwd)
    for (const b of blocks.filter((b) => b.lang === "sh")) {
      const result = spawnSync("bash", ["-euo", "pipefail", "-c", b.code], { cwd, env: env(), encoding: "utf8" })
      expect(result.status, `block at line ${b.line} failed:\n${result.stdout}\n${result.stderr}`).toBe(0)
    }
    // What the tour says it makes.
    for (const made of ["coco/annotations/instances_all.json", "split.json", "yolo/data.yaml", "report.html"]) {
      expect(fs.existsSync(path.join(cwd, made)), made).toBe(true)
    }
    expect(fs.readFileSync(path.join(cwd, "report.html"), "utf8")).toContain("Precision–recall")
  }, 300_000)

  it("TypeScript blocks compile for a strict consumer, and `ts run` blocks run", () => {
    const ts = blocks.filter((b) => b.lang === "ts")
    expect(ts.length).toBeGreaterThan(0)
    const files = ts.map((b, i) => {
      const file = path.join(snippets, `block-${i}-line-${b.line}.ts`)
      fs.writeFileSync(file, b.code)
      return { block: b, file }
    })
    fs.writeFileSync(
      path.join(snippets, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: false,
          noEmit: true,
          types: ["node"]
        },
        files: files.map((f) => path.basename(f.file))
      })
    )
    const tsc = spawnSync(process.execPath, [
      path.join(root, "node_modules", "typescript", "bin", "tsc"),
      "-p",
      snippets
    ], {
      cwd: root,
      encoding: "utf8"
    })
    expect(tsc.status, `tsc:\n${tsc.stdout}${tsc.stderr}`).toBe(0)
    for (const { block, file } of files.filter((f) => f.block.run)) {
      const run = spawnSync(process.execPath, [path.join(root, "node_modules", "tsx", "dist", "cli.mjs"), file], {
        cwd: root,
        env: env(),
        encoding: "utf8",
        timeout: 120_000
      })
      expect(run.status, `block at line ${block.line}:\n${run.stdout}\n${run.stderr}`).toBe(0)
      expect(run.stdout).toMatch(/active detector/)
    }
  }, 300_000)
})
