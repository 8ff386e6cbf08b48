/**
 * Test helper: the sandbox profile a test file runs under. The `evidence` project of
 * vitest.config.ts sets `SYNAPSE_SANDBOX_PROFILE=evidence`, so every sandbox the file starts (and
 * every CLI or MCP server it spawns) answers only the evidenced shapes (docs/wire-protocol.md
 * "Profiles"); without the variable the sandbox is `rich`. Tests use this to assert, under
 * evidence, what the evidence behaviour is (a field absent, a workflow's "has no `project`"
 * error) where the rich profile has a documented-only field.
 *
 *   if (sandboxProfile() === "rich") expect(model.model_type).toBe("detection")
 *   else expect(model.model_type).toBeUndefined()
 */
import type { SandboxProfile } from "../../src/sandbox/Context.js"

/** The profile sandboxes in this test process default to: `$SYNAPSE_SANDBOX_PROFILE`, else `rich`. */
export const sandboxProfile = (): SandboxProfile => {
  const raw = process.env.SYNAPSE_SANDBOX_PROFILE
  if (raw === undefined || raw === "" || raw === "rich") return "rich"
  if (raw === "evidence") return "evidence"
  throw new Error(`SYNAPSE_SANDBOX_PROFILE must be rich or evidence, got ${JSON.stringify(raw)}`)
}

/** True when the sandbox answers the documented (rich) shapes. */
export const isRich = (): boolean => sandboxProfile() === "rich"

/** `rich` under the rich profile, `evidence` under the evidence profile: the expectation in force. */
export const byProfile = <A, B = A>(expected: { readonly rich: A; readonly evidence: B }): A | B =>
  sandboxProfile() === "rich" ? expected.rich : expected.evidence
