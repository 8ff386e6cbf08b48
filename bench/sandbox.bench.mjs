// Sandbox throughput and latency with `large` data (100 000 events), measured from a separate
// process: the sandbox runs as `synapse-ml sandbox` (the built command) in a child process, and
// autocannon loads it from this one.
// Baseline, measured in the same run against the same server: `GET /_sandbox/health`, a trivial
// unauthenticated JSON route (no database), i.e. the cost of HTTP + Effect routing alone.
// Measured: `models/?page_size=100`, `sdk/ground_truth_events/?page_size=100` (page 1 and a deep
// page 900), with the access token. Target: each page answered well under 50 ms at p50.
// Last line: events page throughput / baseline throughput.
// Run after `npm run build`: node bench/sandbox.bench.mjs [events]
// The seeded data directory is kept in the OS temp dir and reused by later runs.
import autocannon from "autocannon"
import { startLargeSandbox, stopSandbox } from "./sandbox-process.mjs"

const EVENTS = Number(process.argv[2] ?? 100_000)
const DURATION = Number(process.env.BENCH_DURATION ?? 5)
const CONNECTIONS = 4

const sandbox = await startLargeSandbox(EVENTS)
const { url, token } = sandbox
console.log(`sandbox ready in ${sandbox.seconds} s (${EVENTS} events, data dir ${sandbox.dataDir})`)
const origin = new URL(url).origin
const headers = { "Synapse-Access-Token": `Token ${token}` }

const run = (title, target, withToken) =>
  new Promise((resolve, reject) => {
    autocannon(
      { url: target, connections: CONNECTIONS, duration: DURATION, headers: withToken ? headers : {} },
      (error, result) => {
        if (error) return reject(error)
        if (result.non2xx > 0 || result.errors > 0) {
          return reject(new Error(`${title}: ${result.non2xx} non-2xx, ${result.errors} errors`))
        }
        const line = `${title.padEnd(44)} ${result.requests.average.toFixed(0).padStart(6)} req/s   p50 ${
          String(result.latency.p50).padStart(4)
        } ms   p99 ${String(result.latency.p99).padStart(4)} ms`
        console.log(line)
        resolve(result)
      }
    )
  })

try {
  // Warm-up: fills the COUNT cache and the prepared statements, as any client's first page does.
  for (
    const p of [
      "models/?page_size=100",
      "sdk/ground_truth_events/?page_size=100",
      "sdk/ground_truth_events/?page_size=100&page=900"
    ]
  ) {
    await (await fetch(`${url}/${p}`, { headers })).text()
  }
  const health = await run("baseline GET /_sandbox/health", `${origin}/_sandbox/health`, false)
  await run("GET models/?page_size=100", `${url}/models/?page_size=100`, true)
  const events = await run(
    "GET sdk/ground_truth_events/?page_size=100",
    `${url}/sdk/ground_truth_events/?page_size=100`,
    true
  )
  await run(
    "GET sdk/ground_truth_events/?page_size=100&page=900",
    `${url}/sdk/ground_truth_events/?page_size=100&page=900`,
    true
  )
  console.log(
    `ratio events page / health baseline (req/s): ${(events.requests.average / health.requests.average).toFixed(3)}`
  )
} finally {
  await stopSandbox(sandbox.child)
}
