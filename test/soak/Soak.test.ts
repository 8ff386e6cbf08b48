/**
 * The short soak (`node scripts/soak.mjs --quick`): the built SDK against two sandbox processes
 * (rich and evidence) under every injected fault kind, a kill -9 of a client and of a sandbox
 * mid-upload, and the bad-input fuzz of every route. Nothing may be lost or duplicated, nothing may
 * hang, and no bad input may earn a 5xx. Needs `dist/` (`npm test` builds it first).
 */
import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "../..")

describe("the built sandbox in a node -e process", () => {
  // The soak runs its sandboxes this way; page threads inherit the process's options, and both
  // `--input-type` and a V8 flag such as `--expose-gc` once kept every one of them from starting.
  it("serves event pages from its page threads", () => {
    const script = `import { startSandbox } from ${JSON.stringify(Path.join(root, "dist/sandbox/Sandbox.js"))}
      import * as Fs from "node:fs"
      import * as Os from "node:os"
      import * as Path from "node:path"
      const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-soak-test-"))
      const sb = await startSandbox({ seed: "demo", dataDir })
      const r = await fetch(sb.url + "/sdk/ground_truth_events/?page_size=5", { headers: { "Synapse-Access-Token": "Token " + sb.token } })
      const body = await r.json()
      await sb.close()
      Fs.rmSync(dataDir, { recursive: true, force: true })
      console.log(JSON.stringify({ status: r.status, rows: body.results?.length }))`
    const run = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000
    })
    expect(JSON.parse(run.stdout.trim().split("\n").pop() ?? "{}")).toStrictEqual({ status: 200, rows: 5 })
  })
})

describe("soak --quick", () => {
  it("loses, duplicates and hangs nothing, and answers no bad input with a 5xx", () => {
    const run = spawnSync(process.execPath, [Path.join(root, "scripts/soak.mjs"), "--quick", "--json"], {
      cwd: root,
      encoding: "utf8",
      timeout: 280_000,
      maxBuffer: 64 * 1024 * 1024
    })
    const lines = run.stdout.trim().split("\n")
    const totals = JSON.parse(lines[lines.length - 1] ?? "{}") as Record<string, number>
    const summary = lines.filter((l) => l.startsWith("soak (") || l.startsWith("note:")).join("\n")
    expect({
      exit: run.status,
      lost: totals.lost,
      duplicated: totals.duplicated,
      hangs: totals.hangs,
      x5xxOnBadInput: totals.x5xxOnBadInput,
      summary: totals.lost === 0 && totals.hangs === 0 ? "" : summary
    }).toStrictEqual({ exit: 0, lost: 0, duplicated: 0, hangs: 0, x5xxOnBadInput: 0, summary: "" })
    expect(totals.fuzzTried).toBeGreaterThanOrEqual(700)
    expect(totals.tried - totals.fuzzTried).toBeGreaterThanOrEqual(34)
  }, 300_000)
})
