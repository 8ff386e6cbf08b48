/**
 * Test helper: the sandbox's `/_sandbox/` admin endpoints (request statistics, fault injection) as
 * Effects, for tests that count the requests a client made or make the sandbox misbehave.
 *
 *   yield* resetStats(sb)
 *   yield* setFaults(sb, "reset@chunk=1", 7)
 *   const { requests } = yield* stats(sb)
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Effect } from "effect"
import type { TestSandbox } from "./sandbox.js"

/** Sends a JSON request to `route` (from the sandbox's origin) with its token; answers the JSON body. */
export const sandboxJson = (sb: TestSandbox, route: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(`${sb.origin}${route}`, {
      ...init,
      headers: { ...sb.headers, "content-type": "application/json" }
    })
    return (await response.json()) as Record<string, any>
  })

/** The sandbox's request statistics since the last reset. */
export const stats = (sb: TestSandbox) => sandboxJson(sb, "/_sandbox/stats")

/** Starts the request statistics over. */
export const resetStats = (sb: TestSandbox) => sandboxJson(sb, "/_sandbox/stats", { method: "DELETE" })

/** Replaces the fault spec; `randSeed` makes which requests fail reproducible. */
export const setFaults = (sb: TestSandbox, spec: string, randSeed: number) =>
  sandboxJson(sb, "/_sandbox/faults", { method: "PUT", body: JSON.stringify({ spec, rand_seed: randSeed }) })

/**
 * A client transform that puts the sandbox's fault `spec` in force for the first request `matches`
 * picks (e.g. `loseResponse=1,paths=models` or `status5xx=1,paths=models`), and turns faults off
 * before the next request goes out, so exactly that one request meets the fault. `phase()` is
 * "done" once that next request was sent.
 */
export const faultFirst = (
  sb: TestSandbox,
  options: {
    readonly matches: (request: HttpClientRequest.HttpClientRequest) => boolean
    readonly spec: string
    readonly randSeed: number
  }
) => {
  let phase: "idle" | "armed" | "done" = "idle"
  const transformClient = (client: HttpClient.HttpClient): HttpClient.HttpClient =>
    HttpClient.mapRequestEffect(client, (request) => {
      if (phase === "idle" && options.matches(request)) {
        phase = "armed"
        return Effect.as(setFaults(sb, options.spec, options.randSeed), request)
      }
      if (phase === "armed") {
        phase = "done"
        return Effect.as(setFaults(sb, "", options.randSeed), request)
      }
      return Effect.succeed(request)
    })
  return { transformClient, phase: () => phase }
}

/**
 * A client transform that makes the sandbox lose the answer to the first request `matches` picks
 * (the sandbox's loseResponse fault for `paths`: performed, then its socket destroyed), and turns
 * faults off before the next request goes out, so exactly one answer is lost. `phase()` is "done"
 * once that next request was sent.
 */
export const loseFirstAnswer = (
  sb: TestSandbox,
  options: {
    readonly matches: (request: HttpClientRequest.HttpClientRequest) => boolean
    readonly paths: string
    readonly randSeed: number
  }
) =>
  faultFirst(sb, {
    matches: options.matches,
    spec: `loseResponse=1,paths=${options.paths}`,
    randSeed: options.randSeed
  })
