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
import type { GroundTruthEvent } from "../../src/schemas/GroundTruth.js"
import { eventImage } from "../../src/workflows/Annotations.js"

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

/**
 * The image id the workflows give each event of dataset version `version` on `sandbox`, by event
 * id: the `image_id` a COCO export writes and detection predictions must carry. It is the data unit
 * id when the sandbox sends one (rich); an evidenced event names no data unit, and the id is then
 * derived from its image file's URL, which holds the answering sandbox's origin: so the events are
 * read from the sandbox under test, not from its rich view.
 */
export const imageIdsByEvent = async (
  sandbox: { readonly url: string; readonly headers: Record<string, string> },
  version: number
): Promise<Map<number, number>> => {
  const ids = new Map<number, number>()
  let next: string | null =
    `${sandbox.url}/sdk/ground_truth_events/?ground_truth_dataset_versions=${version}&page_size=1000`
  while (next !== null) {
    const response = await fetch(next, { headers: sandbox.headers })
    if (!response.ok) throw new Error(`imageIdsByEvent: HTTP ${response.status} for ${next}`)
    const page = (await response.json()) as {
      next: string | null
      results: Array<GroundTruthEvent & { readonly id: number }>
    }
    for (const event of page.results) {
      const image = eventImage(event).id
      if (image === undefined) throw new Error(`imageIdsByEvent: event ${event.id} names no image`)
      ids.set(event.id, image)
    }
    next = page.next
  }
  return ids
}
