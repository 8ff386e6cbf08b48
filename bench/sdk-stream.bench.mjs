// SDK listing throughput and memory against a `large` sandbox (100 000 events) running as the built
// `synapse-ml sandbox` command in a separate process.
//
// Two parts, each against baselines measured in the same run:
//
// 1. No added latency, pages of BENCH_PAGE_SIZE (default 1000): the SDK's cost.
//    Baseline: a hand-written loop of `fetch` + `JSON.parse` that follows `next` sequentially (no
//    validation, no Effect). Measured: `GroundTruths.streamEvents` following `next` (`prefetch: 1`)
//    target: wall time ratio <= 1.15; the SDK's default walk, and `prefetch: 1` over
//    NodeHttpClient.layerUndici (to separate the transport's cost from the SDK's).
// 2. BENCH_LATENCY_MS (default 20) added by the sandbox to every events request (its `latency`
//    fault: a non-blocking wait in the server, as a round trip to a remote backend is), with the
//    SDK's default page size (100, as the official SDK). Baseline: `streamEvents` with `prefetch: 1`
//    (sequential `next` following). Measured: `streamEvents` with the defaults (pages by number,
//    DEFAULT_PREFETCH at once) target >= 3x faster; with `prefetch: 16` (the highest) target >= 5x;
//    and the fetch loop for reference. Then once each at page_size 1000 (is a larger page faster?).
//    BENCH_SWEEP (e.g. "2,4,8,12,16") adds one round of those prefetch values (how the default was chosen).
// 3. Peak RSS of a fresh process streaming all events with the SDK's default walk, sampled every
//    10 000 events (with the heap in use after a forced GC): flat, and compared with a fresh process
//    running the baseline loop.
//
// The contenders of a part run interleaved, BENCH_RUNS (default 5) rounds for part 1 and
// BENCH_LATENCY_RUNS (default 3) for part 2 (the machine is shared, so noise spreads over all of
// them); wall time is the best run, client CPU time (user + system of this process) the median.
// Each ratio is also given as the median of the rounds' own ratios: a round runs the contenders back
// to back, so a slow phase of the host slows both sides of its ratio, where the best-of ratio can
// pair one contender's luckiest run with the other's ordinary one. The targets are judged on the
// paired medians.
//
// The sandbox reads and renders event pages on its page threads (up to BENCH_PAGE_THREADS, default
// the sandbox's own: the cores, at most 4), so concurrent requests are served in parallel while
// following `next` keeps one thread busy at a time. On a 2-core machine the server and the client
// share the cores: concurrency beyond what hides the round trip only adds CPU contention.
// Last line: every ratio with its target.
// Run after `npm run build`: node bench/sdk-stream.bench.mjs [events] [pageSize]
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { startLargeSandbox, stopSandbox } from "./sandbox-process.mjs"

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.dirname(here)

// ---- child mode: stream every event with the SDK in a fresh process and report RSS samples ----
if (process.argv[2] === "--rss-child") {
  const [, , , url, token, pageSize, mode] = process.argv
  const { runRssChild } = await import(path.join(here, "sdk-stream.shared.mjs"))
  await runRssChild(root, url, token, Number(pageSize), mode)
  process.exit(0)
}

const EVENTS = Number(process.argv[2] ?? 100_000)
const PAGE_SIZE = Number(process.argv[3] ?? process.env.BENCH_PAGE_SIZE ?? 1000)
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const LATENCY_RUNS = Number(process.env.BENCH_LATENCY_RUNS ?? 3)
const PAGE_THREADS = process.env.BENCH_PAGE_THREADS === undefined ? undefined : Number(process.env.BENCH_PAGE_THREADS)
// Round trip emulated for the concurrency comparison (a nearby cloud region is 10-40 ms away).
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 20)

const { DEFAULT_PREFETCH, MAX_PREFETCH } = await import(
  pathToFileURL(path.join(root, "dist/services/Pagination.js")).href
)
const { DEFAULT_PAGE_SIZE } = await import(pathToFileURL(path.join(root, "dist/schemas/Page.js")).href)

const sandbox = await startLargeSandbox(EVENTS, { pageThreads: PAGE_THREADS })
const { url, token } = sandbox
console.log(
  `${new Date().toISOString()} on ${os.cpus().length} x ${os.cpus()[0]?.model ?? "?"}, load ${
    os.loadavg().map((l) => l.toFixed(2)).join(" ")
  }, node ${process.version}`
)
console.log(
  `sandbox ready in ${sandbox.seconds} s (data dir ${sandbox.dataDir}, page threads ${PAGE_THREADS ?? "default"}); ` +
    `part 1: page_size ${PAGE_SIZE}, ${RUNS} rounds; part 2: ${LATENCY_MS} ms, default page_size (${DEFAULT_PAGE_SIZE}), ${LATENCY_RUNS} rounds`
)

const { sdkCount, rawCount } = await import(path.join(here, "sdk-stream.shared.mjs"))

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** The sandbox process's CPU time so far in ms (user + system, all its threads), where /proc has it. */
const serverCpuMs = () => {
  try {
    const fields = fs.readFileSync(`/proc/${sandbox.child.pid}/stat`, "utf8").split(") ")[1].split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return Number.NaN
  }
}

/**
 * Runs the contenders interleaved for `rounds` rounds; every contender must count `expected`
 * events (when given). Returns per contender the wall times, client CPU times and the count.
 */
const race = async (contenders, rounds, expected) => {
  const results = contenders.map(() => ({ wall: [], cpu: [], server: [], count: 0 }))
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < contenders.length; i++) {
      const c0 = process.cpuUsage()
      const s0 = serverCpuMs()
      const t0 = performance.now()
      const count = await contenders[i][1]()
      results[i].wall.push(performance.now() - t0)
      results[i].server.push(serverCpuMs() - s0)
      const c = process.cpuUsage(c0)
      results[i].cpu.push((c.user + c.system) / 1000)
      results[i].count = count
      if (expected !== undefined && count !== expected) {
        throw new Error(`${contenders[i][0]} counted ${count} events, not ${expected}`)
      }
    }
  }
  results.forEach((r, i) => {
    const best = Math.min(...r.wall)
    console.log(
      `${contenders[i][0].padEnd(52)} wall best ${(best / 1000).toFixed(2).padStart(6)} s, median ${
        (median(r.wall) / 1000).toFixed(2).padStart(6)
      } s   ` +
        `client CPU ${(median(r.cpu) / 1000).toFixed(2).padStart(5)} s   sandbox CPU ${
          (median(r.server) / 1000).toFixed(2).padStart(5)
        } s   ` +
        `${r.count} events   ${Math.round(r.count / (best / 1000))} events/s`
    )
  })
  return results
}

/** The median over rounds of `slow`'s wall time over `fast`'s in the same round: how many times faster `fast` is. */
const speedup = (slow, fast) => median(slow.wall.map((wall, round) => wall / fast.wall[round]))
const bestSpeedup = (slow, fast) => Math.min(...slow.wall) / Math.min(...fast.wall)

const rssOf = (mode) => {
  const out = spawnSync(process.execPath, [
    "--expose-gc",
    fileURLToPath(import.meta.url),
    "--rss-child",
    url,
    token,
    String(PAGE_SIZE),
    mode
  ], { encoding: "utf8" })
  if (out.status !== 0) throw new Error(`rss child failed: ${out.stderr}`)
  return JSON.parse(out.stdout.trim().split("\n").pop())
}

const setLatency = async (ms) => {
  const response = await fetch(`${new URL(url).origin}/_sandbox/faults`, {
    method: "PUT",
    headers: { "Synapse-Access-Token": `Token ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ spec: ms > 0 ? `latency=${ms},paths=ground_truth_events` : "", rand_seed: 1 })
  })
  if (!response.ok) throw new Error(`setting sandbox latency failed: HTTP ${response.status} ${await response.text()}`)
}

try {
  // ---- part 1: no added latency ----
  await setLatency(0)
  // warm the server (COUNT cache, prepared statements, page cache) so every contender sees the same
  const total = await rawCount(url, token, PAGE_SIZE)
  await sdkCount(root, url, token, PAGE_SIZE, 1)
  console.log(`\npart 1: no added latency, page_size ${PAGE_SIZE}`)
  const [raw, seq, def, und] = await race(
    [
      ["baseline: fetch + JSON.parse, next sequential", () => rawCount(url, token, PAGE_SIZE)],
      ["streamEvents, prefetch 1 (next sequential)", () => sdkCount(root, url, token, PAGE_SIZE, 1)],
      [`streamEvents, default (prefetch ${DEFAULT_PREFETCH})`, () => sdkCount(root, url, token, PAGE_SIZE, undefined)],
      ["streamEvents, prefetch 1, layerUndici", () => sdkCount(root, url, token, PAGE_SIZE, 1, "undici")]
    ],
    RUNS,
    total
  )
  const seqOverRaw = 1 / speedup(raw, seq)
  console.log(
    `prefetch 1 / fetch loop (wall): ${seqOverRaw.toFixed(3)} paired median, ${
      (Math.min(...seq.wall) / Math.min(...raw.wall)).toFixed(3)
    } best-of; client CPU ${(median(seq.cpu) / median(raw.cpu)).toFixed(3)}`
  )
  console.log(
    `over layerUndici: ${(1 / speedup(raw, und)).toFixed(3)} paired; default vs fetch loop without latency: ${
      speedup(raw, def).toFixed(2)
    }x faster (paired)`
  )

  // ---- part 2: a remote backend's round trip ----
  await setLatency(LATENCY_MS)
  console.log(`\npart 2: ${LATENCY_MS} ms added per events request, default page_size (${DEFAULT_PAGE_SIZE})`)
  const [lseq, ldef, lmax, lraw] = await race(
    [
      ["streamEvents, prefetch 1 (next sequential)", () => sdkCount(root, url, token, undefined, 1)],
      [`streamEvents, default (prefetch ${DEFAULT_PREFETCH})`, () => sdkCount(root, url, token, undefined, undefined)],
      [`streamEvents, prefetch ${MAX_PREFETCH}`, () => sdkCount(root, url, token, undefined, MAX_PREFETCH)],
      ["fetch + JSON.parse, next sequential", () => rawCount(url, token, DEFAULT_PAGE_SIZE)]
    ],
    LATENCY_RUNS,
    total
  )
  const defaultSpeedup = speedup(lseq, ldef)
  const maxSpeedup = speedup(lseq, lmax)
  console.log(
    `default vs prefetch 1: ${defaultSpeedup.toFixed(2)}x paired, ${
      bestSpeedup(lseq, ldef).toFixed(2)
    }x best-of; vs the fetch loop ${speedup(lraw, ldef).toFixed(2)}x paired`
  )
  console.log(
    `prefetch ${MAX_PREFETCH} vs prefetch 1: ${maxSpeedup.toFixed(2)}x paired, ${
      bestSpeedup(lseq, lmax).toFixed(2)
    }x best-of; vs the fetch loop ${speedup(lraw, lmax).toFixed(2)}x paired`
  )
  // Client and sandbox share the machine's cores: a walk cannot take less than their CPU time
  // over the cores, however many pages are in flight.
  const cpuBound = (r) => (median(r.cpu) + median(r.server)) / os.cpus().length
  console.log(
    `CPU floor ((client + sandbox CPU) / ${os.cpus().length} cores): default ${
      (cpuBound(ldef) / 1000).toFixed(2)
    } s, prefetch ${MAX_PREFETCH} ${(cpuBound(lmax) / 1000).toFixed(2)} s; ` +
      `so at most ${(median(lseq.wall) / cpuBound(lmax)).toFixed(2)}x over prefetch 1's median ${
        (median(lseq.wall) / 1000).toFixed(2)
      } s on an otherwise idle machine (load now ${os.loadavg()[0].toFixed(2)})`
  )

  // BENCH_SWEEP="2,4,8,12,16": each prefetch once more, interleaved with prefetch 1, to choose the default
  const sweep = (process.env.BENCH_SWEEP ?? "").split(",").filter((v) => v.trim() !== "").map(Number)
  if (sweep.length > 0) {
    console.log(`\nsweep: ${LATENCY_MS} ms, default page_size, one round each`)
    const swept = await race(
      [
        ["streamEvents, prefetch 1", () => sdkCount(root, url, token, undefined, 1)],
        ...sweep.map((n) => [`streamEvents, prefetch ${n}`, () => sdkCount(root, url, token, undefined, n)])
      ],
      1,
      total
    )
    console.log(
      `sweep, speed-up over prefetch 1 of the same round: ${
        sweep.map((n, i) => `${n}: ${(swept[0].wall[0] / swept[i + 1].wall[0]).toFixed(2)}x`).join(", ")
      }`
    )
  }

  console.log(`\npart 2b: ${LATENCY_MS} ms, page_size 1000, one round (is a larger page faster?)`)
  const [bigSeq, bigDef] = await race(
    [
      ["streamEvents, page_size 1000, prefetch 1", () => sdkCount(root, url, token, 1000, 1)],
      [
        `streamEvents, page_size 1000, default (prefetch ${DEFAULT_PREFETCH})`,
        () => sdkCount(root, url, token, 1000, undefined)
      ]
    ],
    1,
    total
  )
  console.log(
    `page_size 1000 vs ${DEFAULT_PAGE_SIZE}, default prefetch: ${
      (Math.min(...ldef.wall) / Math.min(...bigDef.wall)).toFixed(2)
    }x faster; prefetch 1: ${(Math.min(...lseq.wall) / Math.min(...bigSeq.wall)).toFixed(2)}x faster`
  )
  await setLatency(0)

  // ---- part 3: memory ----
  const sdkRss = rssOf("sdk")
  const rawRss = rssOf("raw")
  const at = (samples, events) => samples.find((s) => s.events === events) ?? samples[samples.length - 1]
  const last = (samples) => samples[samples.length - 1]
  console.log(
    `\npeak RSS (MB), SDK default walk, by events streamed: ${
      sdkRss.map((s) => `${s.events / 1000}k ${s.rssMb}`).join(", ")
    }`
  )
  console.log(
    `peak RSS (MB), baseline loop, by events:            ${
      rawRss.map((s) => `${s.events / 1000}k ${s.rssMb}`).join(", ")
    }`
  )
  console.log(
    `heap in use after GC (MB), SDK stream: ${sdkRss.map((s) => `${s.events / 1000}k ${s.heapMb}`).join(", ")}`
  )
  console.log(
    `SDK peak RSS growth 30k -> ${last(sdkRss).events / 1000}k events: ${
      (last(sdkRss).rssMb / at(sdkRss, 30_000).rssMb).toFixed(2)
    }x; SDK / baseline peak RSS at the end: ${(last(sdkRss).rssMb / last(rawRss).rssMb).toFixed(2)}x`
  )

  const verdict = (ok) => (ok ? "ok" : "MISSED")
  console.log(
    `ratios (paired medians): ${LATENCY_MS} ms, default (prefetch ${DEFAULT_PREFETCH}) vs prefetch 1 ${
      defaultSpeedup.toFixed(2)
    }x (>= 3: ${verdict(defaultSpeedup >= 3)}); ` +
      `prefetch ${MAX_PREFETCH} vs prefetch 1 ${maxSpeedup.toFixed(2)}x (>= 5: ${verdict(maxSpeedup >= 5)}); ` +
      `no latency, prefetch 1 / fetch loop ${seqOverRaw.toFixed(3)} (<= 1.15: ${verdict(seqOverRaw <= 1.15)})`
  )
} finally {
  await stopSandbox(sandbox.child)
}
