/**
 * `npm run example` as a newcomer runs it: the seed's complete ML workflow script, spawned through
 * tsx with no backend configured, so it starts its own demo sandbox. It must finish, print each of
 * its six steps on stdout, and deploy through the gate (the new model the only active detector).
 */
import { describe, expect, it } from "vitest"
import { type CliResult, runNode } from "../support/cli.js"
import { isRich } from "../support/profile.js"

const runExample = (): Promise<CliResult> => {
  const env: Record<string, string | undefined> = { ...process.env }
  // The script's sandbox fallback is what `npm run example` exercises on a fresh checkout.
  delete env.SYNAPSE_BASE_URL
  delete env.SYNAPSE_ACCESS_TOKEN
  return runNode(["--import", "tsx", "examples/complete-ml-workflow.ts"], env)
}

describe("examples/complete-ml-workflow.ts", () => {
  it("runs end to end on its own sandbox, printing every step", async () => {
    const r = await runExample()
    expect(r.stderr).not.toContain("complete-ml-workflow failed")
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("=== ML Workflow Started ===")
    expect(r.stderr).toContain("local sandbox with demo data")
    if (!isRich()) {
      // Steps 3-6 improve on the project's active detector: evidenced models do not say which is
      // active (no is_active, model_type or project), so the script stops after listing them.
      expect(r.stdout).toContain("1. Analyzing ground truth data")
      expect(r.stdout).toContain("2. Checking existing models")
      expect(r.stdout).not.toContain("3. Evaluating")
      expect(r.stdout).toContain("The backend does not say which model is active")
      expect(r.stdout).toContain("(type not sent) metrics not sent")
      expect(r.stdout).not.toContain("undefined")
      return
    }
    for (
      const step of [
        "1. Analyzing ground truth data",
        "2. Checking existing models",
        "3. Evaluating",
        "4. Evaluating the new model",
        "5. Deploying the new model",
        "6. Comparing model performance"
      ]
    ) {
      expect(r.stdout).toContain(step)
    }
    expect(r.stdout).toMatch(/Deployed model: (\d+); active detection models now: \1\n/)
    expect(r.stdout).toContain("=== ML Workflow Completed ===")
    expect(r.stderr).toContain("local sandbox with demo data")
  }, 120_000)
})
