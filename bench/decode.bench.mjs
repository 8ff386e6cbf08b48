// Validation cost of event pages: the SDK's page decoder (`Decoding.decoder`, whose fast path is the
// generated guard of `schemas/Guard.ts`) against the baseline every page pays anyway, `JSON.parse`
// of its text, and against Effect's own `Schema.is`, which the guard is measured to beat.
//
// The pages are real: BENCH_PAGES (default 5) pages of 1 000 events fetched once from a `large`
// sandbox (the built `synapse-ml sandbox` command, as sdk-stream.bench.mjs starts it), which is then
// stopped; the rest runs in this process only. Each contender decodes BENCH_DECODES (default 1 000)
// pages, round-robin over the fetched ones, BENCH_RUNS (default 5) interleaved rounds; the figure is
// the best round. Contenders:
// - parse: `JSON.parse` of the page text (the baseline);
// - Schema.is: `Schema.is(Page(GroundTruthEvent))` on the parsed page (Effect's own check);
// - decoder: `decoder(Page(GroundTruthEvent))`, what `GroundTruths.streamEvents` runs per page;
// - full decode: `Schema.decodeUnknownEither` with unknown fields preserved (what runs without a
//   fast path);
// - and, when `dist/schemas/Guard.js` exports `guardOf`, the compiled guard it builds.
// Last line: the decoder's time per page as a ratio of `JSON.parse`'s (target <= 1.0: validating
// costs less than parsing) and Schema.is's ratio to the compiled guard when there is one.
// Run after `npm run build`: node bench/decode.bench.mjs
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { startLargeSandbox, stopSandbox } from "./sandbox-process.mjs"

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.dirname(here)
const imp = (p) => import(pathToFileURL(path.join(root, p)).href)

const PAGES = Number(process.env.BENCH_PAGES ?? 5)
const DECODES = Number(process.env.BENCH_DECODES ?? 1000)
const RUNS = Number(process.env.BENCH_RUNS ?? 5)

const { Schema, Either } = await import("effect")
const { Page } = await imp("dist/schemas/Page.js")
const { GroundTruthEvent } = await imp("dist/schemas/GroundTruth.js")
const { decoder } = await imp("dist/services/Decoding.js")
const guardModule = await imp("dist/schemas/Guard.js").catch(() => ({}))

const sandbox = await startLargeSandbox(100_000)
const texts = []
try {
  const headers = { "Synapse-Access-Token": `Token ${sandbox.token}`, accept: "application/json" }
  for (let page = 1; page <= PAGES; page++) {
    const response = await fetch(`${sandbox.url}/sdk/ground_truth_events/?page_size=1000&page=${page}`, { headers })
    if (!response.ok) throw new Error(`HTTP ${response.status}`)
    texts.push(await response.text())
  }
} finally {
  await stopSandbox(sandbox.child)
}
const parsed = texts.map((text) => JSON.parse(text))
console.log(
  `${new Date().toISOString()} on ${os.cpus().length} x ${os.cpus()[0]?.model ?? "?"}, load ${
    os.loadavg().map((l) => l.toFixed(2)).join(" ")
  }, node ${process.version}; ${PAGES} pages of ${parsed[0].results.length} events ` +
    `(${(texts[0].length / 1e6).toFixed(2)} MB each), ${DECODES} decodes per contender, ${RUNS} rounds`
)

const schema = Page(GroundTruthEvent)
const is = Schema.is(schema)
const decode = decoder(schema)
const full = Schema.decodeUnknownEither(schema, { onExcessProperty: "preserve" })
const guard = guardModule.guardOf?.(schema.ast)

const contenders = [
  ["parse", (i) => JSON.parse(texts[i % PAGES]) !== null],
  ["Schema.is", (i) => is(parsed[i % PAGES])],
  ["decoder", (i) => Either.isRight(decode(parsed[i % PAGES]))],
  ["full decode", (i) => Either.isRight(full(parsed[i % PAGES]))],
  ...(guard !== undefined ? [["compiled guard", (i) => guard(parsed[i % PAGES])]] : [])
]
for (const [name, run] of contenders) {
  if (!run(0)) throw new Error(`${name} rejects a valid page`)
}

const best = new Map()
for (let round = 0; round < RUNS; round++) {
  for (const [name, run] of contenders) {
    // the full decode is two orders slower: a tenth of the pages tells as much
    const n = name === "full decode" ? Math.max(1, Math.floor(DECODES / 10)) : DECODES
    const started = process.hrtime.bigint()
    for (let i = 0; i < n; i++) run(i)
    const perPage = Number(process.hrtime.bigint() - started) / 1e6 / n
    best.set(name, Math.min(best.get(name) ?? Infinity, perPage))
  }
}
for (const [name] of contenders) console.log(`${name.padEnd(16)} ${best.get(name).toFixed(3)} ms per page`)
const ratio = best.get("decoder") / best.get("parse")
const vsGuard = guard !== undefined
  ? `; Schema.is / compiled guard ${(best.get("Schema.is") / best.get("compiled guard")).toFixed(2)}`
  : ""
console.log(`decoder / JSON.parse ${ratio.toFixed(2)} (target <= 1.0)${vsGuard}`)
