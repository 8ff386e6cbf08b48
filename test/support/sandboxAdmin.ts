/**
 * Test helper: the sandbox's `/_sandbox/` admin endpoints (request statistics, fault injection) as
 * Effects, for tests that count the requests a client made or make the sandbox misbehave.
 *
 *   yield* resetStats(sb)
 *   yield* setFaults(sb, "reset@chunk=1", 7)
 *   const { requests } = yield* stats(sb)
 */
import { Effect } from "effect"
import type { TestSandbox } from "./sandbox.js"

/** Sends a JSON request to `route` (from the sandbox's origin) with its token; answers the JSON body. */
export const sandboxJson = (sb: TestSandbox, route: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(`${sb.origin}${route}`, { ...init, headers: { ...sb.headers, "content-type": "application/json" } })
    return (await response.json()) as Record<string, any>
  })

/** The sandbox's request statistics since the last reset. */
export const stats = (sb: TestSandbox) => sandboxJson(sb, "/_sandbox/stats")

/** Starts the request statistics over. */
export const resetStats = (sb: TestSandbox) => sandboxJson(sb, "/_sandbox/stats", { method: "DELETE" })

/** Replaces the fault spec; `randSeed` makes which requests fail reproducible. */
export const setFaults = (sb: TestSandbox, spec: string, randSeed: number) =>
  sandboxJson(sb, "/_sandbox/faults", { method: "PUT", body: JSON.stringify({ spec, rand_seed: randSeed }) })
