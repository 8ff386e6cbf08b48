// Helpers of sdk-stream.bench.mjs (not a benchmark itself: the runner only picks *.bench.mjs).
import * as path from "node:path"
import { pathToFileURL } from "node:url"

/** The baseline: sequential fetch + JSON.parse following `next`, counting events. */
export const rawCount = async (url, token, pageSize = 100) => {
  const headers = { "Synapse-Access-Token": `Token ${token}`, accept: "application/json" }
  let next = `${url}/sdk/ground_truth_events/?page_size=${pageSize}`
  let count = 0
  while (next !== null) {
    const response = await fetch(next, { headers })
    if (!response.ok) throw new Error(`HTTP ${response.status}`)
    const page = JSON.parse(await response.text())
    count += page.results.length
    next = page.next
  }
  return count
}

const load = async (root) => {
  const imp = (p) => import(pathToFileURL(path.join(root, p)).href)
  const [{ Effect, Layer, Redacted, Stream }, NodeHttpClient, Synapse, GroundTruths] = await Promise.all([
    import("effect"),
    import("@effect/platform-node/NodeHttpClient"),
    imp("dist/services/Synapse.js"),
    imp("dist/services/GroundTruths.js")
  ])
  return { Effect, Layer, Redacted, Stream, NodeHttpClient, Synapse, GroundTruths }
}

// transport "node" is node:http with connections kept alive (as the `synapse-ml` command has it),
// "node-default" NodeHttpClient.layer as is (its agent opens a connection per request), "undici"
// NodeHttpClient.layerUndici
const transportLayer = (m, transport) =>
  transport === "undici"
    ? m.NodeHttpClient.layerUndici
    : transport === "node-default"
    ? m.NodeHttpClient.layer
    : m.NodeHttpClient.layerWithoutAgent.pipe(m.Layer.provide(m.NodeHttpClient.makeAgentLayer({ keepAlive: true })))
const layerFor = (m, url, token, transport = "node") =>
  m.Synapse.layer({ baseUrl: url, accessToken: m.Redacted.make(token) }).pipe(
    m.Layer.provide(transportLayer(m, transport))
  )

/**
 * The SDK: streamEvents over every event, counted. `pageSize` and `prefetch` undefined: the SDK's
 * defaults (100 per page, `DEFAULT_PREFETCH` pages at once); `prefetch` 1 follows `next`.
 */
export const sdkCount = async (root, url, token, pageSize, prefetch, transport) => {
  const m = await load(root)
  const program = m.Effect.flatMap(
    m.GroundTruths.GroundTruths,
    (g) =>
      m.Stream.runCount(
        g.streamEvents(
          pageSize === undefined ? {} : { page_size: pageSize },
          prefetch === undefined ? {} : { prefetch }
        )
      )
  )
  return m.Effect.runPromise(program.pipe(m.Effect.provide(layerFor(m, url, token, transport))))
}

/**
 * Streams every event (`mode` "sdk") or runs the baseline loop ("raw"), sampling peak RSS every
 * 1 000 events and recording it every 10 000 with the heap in use after a forced collection;
 * prints the samples as JSON.
 */
export const runRssChild = async (root, url, token, pageSize, mode) => {
  const samples = []
  let peak = 0
  let n = 0
  const tick = () => {
    n++
    if (n % 1000 === 0) peak = Math.max(peak, process.memoryUsage().rss)
    if (n % 10_000 === 0) {
      // heap still in use after a full collection: what the stream retains, free of GC timing
      globalThis.gc?.()
      samples.push({
        events: n,
        rssMb: Number((peak / 2 ** 20).toFixed(1)),
        heapMb: Number((process.memoryUsage().heapUsed / 2 ** 20).toFixed(1))
      })
    }
  }
  if (mode === "raw") {
    const headers = { "Synapse-Access-Token": `Token ${token}`, accept: "application/json" }
    let next = `${url}/sdk/ground_truth_events/?page_size=${pageSize}`
    while (next !== null) {
      const page = JSON.parse(await (await fetch(next, { headers })).text())
      for (const _ of page.results) tick()
      next = page.next
    }
  } else {
    const m = await load(root)
    // the SDK's default walk (pages by number, DEFAULT_PREFETCH at once): memory must stay flat
    const program = m.Effect.flatMap(
      m.GroundTruths.GroundTruths,
      (g) => g.streamEvents({ page_size: pageSize }).pipe(m.Stream.runForEach(() => m.Effect.sync(tick)))
    )
    await m.Effect.runPromise(program.pipe(m.Effect.provide(layerFor(m, url, token))))
  }
  console.log(JSON.stringify(samples))
}
