/**
 * `npm run example` as a newcomer runs it: the seed's complete ML workflow script, spawned through
 * tsx with no backend configured, so it starts its own demo sandbox. It must finish, print each of
 * its six steps on stdout, and deploy through the gate (the new model the only active detector).
 */
import { spawn } from "node:child_process"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"

const root = Path.resolve(import.meta.dirname, "../..")

const runExample = (): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env }
    // The script's sandbox fallback is what `npm run example` exercises on a fresh checkout.
    delete env.SYNAPSE_BASE_URL
    delete env.SYNAPSE_ACCESS_TOKEN
    const child = spawn(process.execPath, ["--import", "tsx", "examples/complete-ml-workflow.ts"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.on("error", reject)
    child.on("exit", (code) => resolve({ code, stdout, stderr }))
  })

describe("examples/complete-ml-workflow.ts", () => {
  it("runs end to end on its own sandbox, printing every step", async () => {
    const r = await runExample()
    expect(r.stderr).not.toContain("complete-ml-workflow failed")
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("=== ML Workflow Started ===")
    for (const step of ["1. Analyzing ground truth data", "2. Checking existing models", "3. Evaluating", "4. Evaluating the new model", "5. Deploying the new model", "6. Comparing model performance"]) {
      expect(r.stdout).toContain(step)
    }
    expect(r.stdout).toMatch(/Deployed model: (\d+); active detection models now: \1\n/)
    expect(r.stdout).toContain("=== ML Workflow Completed ===")
    expect(r.stderr).toContain("local sandbox with demo data")
  }, 120_000)
})
