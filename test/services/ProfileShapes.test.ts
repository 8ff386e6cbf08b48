/**
 * Every read of the SDK on both sandbox profiles (the rich documented shapes and the evidence
 * profile's E-only shapes): each call succeeds, and what it returns is exactly what the server
 * sent, fetched again over plain HTTP from the very URL the SDK asked for. That is decoding with
 * nothing required beyond the `id`, nothing dropped (fields the SDK does not declare included) and
 * nothing added. Partial records asked with `fields=` come back with only those fields and the id.
 */
import { Chunk, Effect, Stream } from "effect"
import { describe, expect, it } from "vitest"
import type { SandboxProfile } from "../../src/sandbox/Context.js"
import { GroundTruths } from "../../src/services/GroundTruths.js"
import { Models } from "../../src/services/Models.js"
import { call } from "../support/http.js"
import { useSandbox } from "../support/sandbox.js"
import { sandboxSdk } from "./SandboxSdk.js"

const PROFILES: ReadonlyArray<SandboxProfile> = ["rich", "evidence"]

for (const profile of PROFILES) {
  describe(`SDK reads on the ${profile} profile`, () => {
    const sandbox = useSandbox({ seed: "demo", profile })

    const run = <A, E>(sdk: ReturnType<typeof sandboxSdk>, effect: Effect.Effect<A, E, Models | GroundTruths>) =>
      Effect.runPromise(effect.pipe(Effect.provide(sdk.layer)))
    /** The page the server answers at `url`, over plain HTTP. */
    const raw = async (
      url: string
    ): Promise<{ count: number; next: string | null; results: Array<Record<string, unknown>> }> => {
      const answer = await call(url, { headers: sandbox().headers })
      expect(answer.status).toBe(200)
      return answer.body
    }
    /** Every row of a listing, following `next` over plain HTTP. */
    const rawAll = async (url: string) => {
      const rows: Array<Record<string, unknown>> = []
      for (let next: string | null = url; next !== null;) {
        const page = await raw(next)
        rows.push(...page.results)
        next = page.next
      }
      return rows
    }

    it("models: list, stream and get return the server's records unchanged", async () => {
      const sdk = sandboxSdk(sandbox())
      const page = await run(sdk, Effect.flatMap(Models, (m) => m.list({ page_size: 7 })))
      expect(page.results.length).toBe(7)
      const sent = await raw(sdk.sent[0]!)
      expect(page).toStrictEqual({ results: sent.results, count: sent.count })
      if (profile === "evidence") {
        // E fields only: the documented ones are absent, and that is not an error.
        for (const model of page.results) {
          expect(
            Object.keys(model).every((k) =>
              ["id", "name", "category", "file", "plugin", "version", "configuration", "description", "is_released"]
                .includes(k)
            )
          ).toBe(true)
          expect(model.model_type).toBeUndefined()
        }
      }
      const streamed = await run(sdk, Effect.flatMap(Models, (m) => Stream.runCollect(m.stream({ page_size: 5 }))))
      expect(Chunk.toReadonlyArray(streamed)).toStrictEqual(await rawAll(`${sandbox().url}/models/?page_size=5`))
      const first = page.results[0]!
      const got = await run(sdk, Effect.flatMap(Models, (m) => m.get(first.id)))
      const one = await call(sdk.sent.at(-1)!, { headers: sandbox().headers })
      expect(got).toStrictEqual(one.body)
    })

    it("dataset versions: list, stream and get", async () => {
      const sdk = sandboxSdk(sandbox())
      const page = await run(sdk, Effect.flatMap(GroundTruths, (g) => g.listVersions()))
      expect(page.results.length).toBeGreaterThan(0)
      const sent = await raw(sdk.sent[0]!)
      expect(page).toStrictEqual({ results: sent.results, count: sent.count })
      if (profile === "evidence") {
        for (const v of page.results) expect(Object.keys(v).sort()).toStrictEqual(["id", "is_archived", "name"])
      }
      const streamed = await run(
        sdk,
        Effect.flatMap(GroundTruths, (g) => Stream.runCollect(g.streamVersions({ page_size: 2 })))
      )
      expect(Chunk.toReadonlyArray(streamed)).toStrictEqual(
        await rawAll(`${sandbox().url}/ground_truth_dataset_versions/?page_size=2`)
      )
      const got = await run(sdk, Effect.flatMap(GroundTruths, (g) => g.getVersion(page.results[0]!.id)))
      expect(got).toStrictEqual((await call(sdk.sent.at(-1)!, { headers: sandbox().headers })).body)
    })

    it("events: listEvents, streamEvents and listAllEvents, whole and as partial records", async () => {
      const sdk = sandboxSdk(sandbox())
      const version = (await run(sdk, Effect.flatMap(GroundTruths, (g) => g.listVersions()))).results[0]!.id
      const params = { ground_truth_dataset_versions: [version] }
      const page = await run(sdk, Effect.flatMap(GroundTruths, (g) => g.listEvents(params)))
      const sent = await raw(sdk.sent.at(-1)!)
      expect(page).toStrictEqual({ results: sent.results, count: sent.count })
      expect(page.count).toBeGreaterThan(0)
      const streamed = await run(
        sdk,
        Effect.flatMap(GroundTruths, (g) => Stream.runCollect(g.streamEvents(params, { pageSize: 50 })))
      )
      const everything = await rawAll(
        `${sandbox().url}/sdk/ground_truth_events/?ground_truth_dataset_versions=${version}&page_size=50`
      )
      expect(Chunk.toReadonlyArray(streamed)).toStrictEqual(everything)
      const all = await run(
        sdk,
        Effect.flatMap(
          GroundTruths,
          (g) =>
            Effect.flatMap(
              g.listAllEvents(params, { pageSize: 50 }),
              ({ count, stream }) => Effect.map(Stream.runCollect(stream), (c) => ({ count, n: Chunk.size(c) }))
            )
        )
      )
      expect(all).toStrictEqual({ count: everything.length, n: everything.length })

      // E's training and export code asks for three fields; the SDK adds the id it needs.
      const fields = ["category", "files", "data"]
      const partial = await run(
        sdk,
        Effect.flatMap(GroundTruths, (g) => g.listEvents({ ...params, extra: { fields } }, { pageSize: 50 }))
      )
      const partialUrl = new URL(sdk.sent.at(-1)!)
      expect(partialUrl.searchParams.getAll("fields")).toStrictEqual([...fields, "id"])
      expect(partial.results.length).toBe(Math.min(50, everything.length))
      partial.results.forEach((event, i) => {
        const whole = everything[i]!
        expect(event).toStrictEqual(
          Object.fromEntries(Object.entries(whole).filter(([k]) => ["id", ...fields].includes(k)))
        )
      })
      if (profile === "evidence") {
        expect(everything.every((e) => "data_unit" in e)).toBe(true)
        expect(partial.results.every((e) => !("data_unit" in e))).toBe(true)
      }
    })

    it("ground truths: list and stream (file URLs kept)", async () => {
      const sdk = sandboxSdk(sandbox())
      const page = await run(
        sdk,
        Effect.flatMap(GroundTruths, (g) => g.list({}, { urlConversion: false, pageSize: 20 }))
      )
      const sent = await raw(sdk.sent[0]!)
      expect(page).toStrictEqual({ results: sent.results, count: sent.count })
      if (profile === "evidence") {
        for (const row of page.results) expect(Object.keys(row).sort()).toStrictEqual(["files", "id"])
      }
      const streamed = await run(
        sdk,
        Effect.flatMap(GroundTruths, (g) => Stream.runCollect(g.stream({}, { urlConversion: false, pageSize: 100 })))
      )
      expect(Chunk.size(streamed)).toBe(sent.count)
    })
  })
}
