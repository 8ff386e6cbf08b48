// Analysis with a report, 10 000 images against 5 000: parsing the predictions file, scoring
// (COCO evaluation, PR curves, error analysis at IoU 0.5) and drawing the HTML report with its
// charts, on the synthetic data of bench/detection-data.mjs. Each size runs in its own child
// process, so that its peak RSS is its own; sizes alternate over the rounds, and the ratio is the
// median of the rounds' CPU-time ratios (a slow phase of the machine slows both sides of a round).
// Goal: ratio ≤ 2.2 (linear). Peak RSS and the report's size are printed for each size.
// Run after `npm run build`: node bench/report.bench.mjs
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const child = process.argv[2] === "--size"

if (child) {
  const { Effect } = await import("effect")
  const { parseDetections } = await import("../dist/workflows/Predictions.js")
  const { scoreDetections } = await import("../dist/workflows/Scoring.js")
  const { planAnalysisReport, writeReport } = await import("../dist/workflows/report/Report.js")
  const { makeData } = await import("./detection-data.mjs")
  const images = Number(process.argv[3])
  const data = makeData(images, images)
  const text = JSON.stringify(data.detections)
  const file = path.join(os.tmpdir(), `synapse-ml-report-bench-${process.pid}.html`)
  const start = process.hrtime.bigint()
  const cpu = process.cpuUsage()
  const score = scoreDetections(parseDetections(text), data.dataset)
  const analysis = {
    model: { id: 1, name: "bench", version: "1", model_type: "detection", project: 1, is_active: true },
    datasetVersion: { id: 1, name: null, version: null, dataset: null, event_count: images },
    reported: { source: "", metrics: { mAP: 0.5 }, nonNumeric: [], evaluationsOnVersion: [] },
    groundTruth: {
      events: images,
      dataUnits: images,
      dataTypes: {},
      classes: {},
      splits: {},
      labels: {},
      unusableAnnotations: {},
      conflictingLabels: 0
    },
    computed: score,
    comparisons: [],
    discrepancies: [],
    uncompared: [],
    tolerance: 0.01,
    notes: []
  }
  const bytes = await Effect.runPromise(writeReport(file, planAnalysisReport(analysis)))
  const used = process.cpuUsage(cpu)
  fs.rmSync(file, { force: true })
  console.log(JSON.stringify({
    cpu: (used.user + used.system) / 1e3,
    wall: Number(process.hrtime.bigint() - start) / 1e6,
    rssMiB: process.resourceUsage().maxRSS / 1024,
    bytes,
    detections: data.detections.length,
    boxes: data.dataset.annotations.length
  }))
  process.exit(0)
}

const self = fileURLToPath(import.meta.url)
const run = (images) => {
  const out = spawnSync(process.execPath, [self, "--size", String(images)], { encoding: "utf8" })
  if (out.status !== 0) throw new Error(`child for ${images} images failed: ${out.stderr}`)
  return JSON.parse(out.stdout.trim().split("\n").at(-1))
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ROUNDS = 5
run(5000) // warm the file cache of the modules
const rounds = []
for (let r = 0; r < ROUNDS; r++) rounds.push([run(5000), run(10000)])
for (const [i, images] of [[0, 5000], [1, 10000]]) {
  const ms = rounds.map((round) => round[i])
  const last = ms.at(-1)
  console.log(
    `${images} images (${last.detections} detections, ${last.boxes} boxes): median of ${ROUNDS}: CPU ${
      median(ms.map((m) => m.cpu)).toFixed(0)
    } ms, wall ${median(ms.map((m) => m.wall)).toFixed(0)} ms, peak RSS ${
      median(ms.map((m) => m.rssMiB)).toFixed(0)
    } MiB, report ${(last.bytes / 1024).toFixed(0)} KiB`
  )
}
const ratio = median(rounds.map(([a, b]) => b.cpu / a.cpu))
console.log(
  `ratio 10000/5000 images (CPU time, median of rounds): ${ratio.toFixed(2)} (linear ≤ 2.2: ${
    ratio <= 2.2 ? "yes" : "NO"
  })`
)
