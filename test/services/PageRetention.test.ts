/**
 * A listing page the SDK returned must be garbage as soon as the caller drops it, for V8's
 * young-generation collector too. A parsed page is megabytes of small objects: when something the
 * scavenger treats as live still reaches it (a page returned from the fiber that `timeoutFail`
 * forks, as `jsonWith` once did), every scavenge copies and promotes it, and streaming events cost
 * 3-4x the scavenge time of a plain fetch loop. This measures what two minor collections move to
 * old space right after a page is dropped.
 *
 * The sandbox runs in its own process: in this one, the server's own short-lived objects (rows,
 * the answer being written) would be measured too.
 */
import { HttpClientRequest } from "@effect/platform"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect, Layer, ManagedRuntime, Redacted, Stream } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { GroundTruthEvent } from "../../src/schemas/GroundTruth.js"
import { Page } from "../../src/schemas/Page.js"
import { GroundTruths } from "../../src/services/GroundTruths.js"
import * as Synapse from "../../src/services/Synapse.js"
import { decoder, SynapseClient } from "../../src/services/SynapseClient.js"
import { cliEntry, repoRoot } from "../support/cli.js"

// `gc` without restarting the worker with --expose-gc: the flag applies to contexts made after it
v8.setFlagsFromString("--expose-gc")
const gc = vm.runInNewContext("gc") as (options?: { readonly type: "minor" | "major" }) => void

const oldSpaceUsed = () =>
  v8.getHeapSpaceStatistics().find((space) => space.space_name === "old_space")!.space_used_size

/** Bytes that two minor collections move to old space: what the scavenger still finds alive. */
const promotedByMinorGcs = () => {
  const before = oldSpaceUsed()
  gc({ type: "minor" })
  gc({ type: "minor" })
  return oldSpaceUsed() - before
}

const MB = 2 ** 20

interface Sandbox {
  readonly child: ChildProcess
  readonly url: string
  readonly token: string
}

const startSandboxProcess = (dataDir: string): Promise<Sandbox> =>
  new Promise((resolve, reject) => {
    const args = ["sandbox", "--seed", "large", "--events", "5000", "--port", "0", "--data-dir", dataDir]
    const child = spawn(process.execPath, [...cliEntry, ...args], {
      cwd: repoRoot,
      env: { ...process.env, SYNAPSE_SANDBOX_FAULTS: "", SYNAPSE_SANDBOX_TOKEN: "" },
      stdio: ["ignore", "ignore", "pipe"]
    })
    let stderr = ""
    child.stderr!.on("data", (d) => {
      stderr += d
      const url = /SYNAPSE_BASE_URL=(\S+)/.exec(stderr)
      const token = /SYNAPSE_ACCESS_TOKEN=(\S+)/.exec(stderr)
      if (url && token) resolve({ child, url: url[1]!, token: token[1]! })
    })
    child.on("exit", (code) => reject(new Error(`the sandbox exited with ${code} before listening:\n${stderr}`)))
  })

describe("pages returned by the SDK", () => {
  let sandbox: Sandbox
  let dataDir: string
  let runtime: ManagedRuntime.ManagedRuntime<GroundTruths | SynapseClient, unknown>
  beforeAll(async () => {
    dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-retention-"))
    sandbox = await startSandboxProcess(dataDir)
    runtime = ManagedRuntime.make(
      Synapse.layer({ baseUrl: sandbox.url, accessToken: Redacted.make(sandbox.token) }).pipe(
        Layer.provide(NodeHttpClient.layer)
      )
    )
  })
  afterAll(async () => {
    await runtime?.dispose()
    if (sandbox !== undefined && sandbox.child.exitCode === null) {
      const exited = new Promise((resolve) => sandbox.child.once("exit", resolve))
      sandbox.child.kill("SIGTERM")
      await exited
    }
    Fs.rmSync(dataDir, { recursive: true, force: true })
  })

  /**
   * Fetches five pages with `listPage` in one long-lived fiber, as a stream consumer does (a fiber
   * that completes with a page, such as the one `runPromise` starts, keeps it alive the same way:
   * that one is the caller's). The first is kept while measured: the control, showing the size a
   * page kept alive has. The others are dropped before measuring.
   */
  const measure = <E, R extends GroundTruths | SynapseClient>(
    listPage: Effect.Effect<{ readonly results: ReadonlyArray<unknown> }, E, R>
  ) =>
    runtime.runPromise(Effect.gen(function*() {
      const settle = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
      yield* listPage // warm up: code, connection
      yield* settle
      let held: { readonly results: ReadonlyArray<unknown> } | undefined = yield* listPage
      yield* settle
      const heldBytes = promotedByMinorGcs()
      // lengths only: `expect(page…)` would itself keep the page reachable
      const lengths = [held.results.length]
      held = undefined
      const dropped: Array<number> = []
      for (let i = 0; i < 4; i++) {
        let page: { readonly results: ReadonlyArray<unknown> } | undefined = yield* listPage
        lengths.push(page.results.length)
        page = undefined
        yield* settle
        dropped.push(promotedByMinorGcs())
      }
      const report = `MB promoted after dropping each page: ${
        dropped.map((b) => (b / MB).toFixed(2)).join(" ")
      }; a held page: ${(heldBytes / MB).toFixed(2)}`
      return { heldBytes, dropped, report, lengths }
    }))

  it("SynapseClient.jsonWith: a dropped page is not kept alive by the young-generation collector", async () => {
    const decode = decoder(Page(GroundTruthEvent))
    const { dropped, heldBytes, lengths, report } = await measure(
      Effect.flatMap(
        SynapseClient,
        (client) => client.jsonWith(HttpClientRequest.get("sdk/ground_truth_events/?page_size=1000"), decode)
      )
    )
    expect(lengths).toEqual([1000, 1000, 1000, 1000, 1000])
    // the control: a page kept alive is promoted by this measurement at megabytes
    expect(heldBytes, report).toBeGreaterThan(2 * MB)
    // a few kilobytes of SDK and connection state may survive; before the fix the page's events
    // did, 1.8 MB every time
    expect(Math.max(...dropped), report).toBeLessThan(0.5 * MB)
  })

  it("prefetching keeps no more pages alive than following next, once a stream has ended", async () => {
    // The requests of a prefetching stream run in fibers forked by the stream. They complete with
    // the body text only, and pages are parsed in the stream's own fiber, as when following `next`.
    // (Parsed in the forked fibers, the pages stayed reachable for the scavenger: 9.3 MB promoted
    // here after most prefetching streams, against at most 3.1 MB after a `next`-following one.)
    const events = (prefetch: number | undefined) =>
      Effect.flatMap(
        GroundTruths,
        (g) => Stream.runCount(g.streamEvents({ page_size: 1000 }, prefetch === undefined ? {} : { prefetch }))
      )
    const promotedAfter = (prefetch: number | undefined) =>
      runtime.runPromise(Effect.gen(function*() {
        const settle = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
        yield* events(prefetch) // warm up
        yield* settle
        const counts: Array<number> = []
        const promoted: Array<number> = []
        for (let i = 0; i < 5; i++) {
          counts.push(yield* events(prefetch))
          yield* settle
          promoted.push(promotedByMinorGcs())
        }
        return { counts, promoted }
      }))
    const following = await promotedAfter(1)
    // the default walk (pages by number, DEFAULT_PREFETCH at once) and a smaller one
    const prefetching = await promotedAfter(undefined)
    const prefetching4 = await promotedAfter(4)
    const mb = (bytes: Array<number>) => bytes.map((b) => (b / MB).toFixed(2)).join(" ")
    const report = `MB promoted after each stream: default ${mb(prefetching.promoted)}; prefetch 4 ${
      mb(prefetching4.promoted)
    }; following next ${mb(following.promoted)}`
    // the large seed adds a few events to the count asked for: about 5 pages, the same every run
    expect(following.counts[0]).toBeGreaterThanOrEqual(5000)
    expect([...following.counts, ...prefetching.counts, ...prefetching4.counts]).toEqual(
      Array.from({ length: 15 }, () => following.counts[0])
    )
    // medians against the worst case: a scavenge may land mid-stream in any single run
    const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[2]!
    expect(median(prefetching.promoted), report).toBeLessThan(Math.max(...following.promoted) + 0.5 * MB)
    expect(median(prefetching4.promoted), report).toBeLessThan(Math.max(...following.promoted) + 0.5 * MB)
  })
})
