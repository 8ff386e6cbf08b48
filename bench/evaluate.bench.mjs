// Detection evaluation throughput and linearity: COCO-style evaluation of N images × 20
// predictions (≈ 8 ground-truth boxes per image, 10 categories), for N = 5 000 and 10 000.
// The baseline is the 5 000-image run measured in the same process; the last line is the
// 10 000 / 5 000 CPU-time ratio, which must stay ≤ 2.2 (linear, allowing the per-category sort).
// CPU time of this process is the figure compared: wall time on a shared machine measures the
// neighbours as much as the code (both are printed).
// Run after `npm run build`: node bench/evaluate.bench.mjs
import { evaluateDetections } from "../dist/workflows/DetectionMetrics.js"
import { makeData, PREDICTIONS_PER_IMAGE } from "./detection-data.mjs"

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const measure = (data) => {
  const start = process.hrtime.bigint()
  const cpu = process.cpuUsage()
  const result = evaluateDetections(data.dataset, data.detections)
  const used = process.cpuUsage(cpu)
  return { wall: Number(process.hrtime.bigint() - start) / 1e6, cpu: (used.user + used.system) / 1e3, result }
}

// Both sizes are generated first and then measured alternately, so that JIT warm-up, garbage
// left by the other size and the neighbours' load fall on both alike.
const sizes = [5000, 10000]
const data = sizes.map((images) => makeData(images, images))
for (const d of data) measure(d) // warm-up
const RUNS = 5
const samples = sizes.map(() => ({ wall: [], cpu: [] }))
const last = []
for (let r = 0; r < RUNS; r++) {
  data.forEach((d, i) => {
    const m = measure(d)
    samples[i].wall.push(m.wall)
    samples[i].cpu.push(m.cpu)
    last[i] = m.result
  })
}
const cpuOf = sizes.map((images, i) => {
  const d = data[i]
  const cpu = median(samples[i].cpu)
  const wall = median(samples[i].wall)
  console.log(
    `${images} images × ${PREDICTIONS_PER_IMAGE} predictions (${d.detections.length} detections, ${d.dataset.annotations.length} boxes): ` +
      `median of ${RUNS}: CPU ${cpu.toFixed(0)} ms (${((cpu * 1000) / images).toFixed(1)} µs per image), wall ${
        wall.toFixed(0)
      } ms (${((wall * 1000) / images).toFixed(1)} µs per image); AP ${last[i].AP.toFixed(3)}`
  )
  return cpu
})
const ratio = cpuOf[1] / cpuOf[0]
console.log(`ratio 10000/5000 images (CPU time): ${ratio.toFixed(2)} (linear ≤ 2.2: ${ratio <= 2.2 ? "yes" : "NO"})`)
