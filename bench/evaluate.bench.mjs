// Detection evaluation throughput and linearity: COCO-style evaluation of N images × 20
// predictions (≈ 8 ground-truth boxes per image, 10 categories), for N = 5 000 and 10 000.
// The baseline is the 5 000-image run measured in the same process; the last line is the
// 10 000 / 5 000 CPU-time ratio, which must stay ≤ 2.2 (linear, allowing the per-category sort).
// CPU time of this process is the figure compared: wall time on a shared machine measures the
// neighbours as much as the code (both are printed).
// Run after `npm run build`: node bench/evaluate.bench.mjs
import { evaluateDetections } from "../dist/workflows/DetectionMetrics.js"

const mulberry32 = (seed) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const CATEGORIES = Array.from({ length: 10 }, (_, i) => ({ id: i + 1, name: `class_${i + 1}` }))
const PREDICTIONS_PER_IMAGE = 20

const makeData = (images, seed) => {
  const rand = mulberry32(seed)
  const annotations = []
  const detections = []
  for (let img = 1; img <= images; img++) {
    const boxes = 4 + Math.floor(rand() * 9)
    for (let i = 0; i < boxes; i++) {
      const size = [10, 25, 50, 120, 250][Math.floor(rand() * 5)]
      const w = size * (0.6 + rand() * 0.8)
      const h = size * (0.6 + rand() * 0.8)
      const x = rand() * (640 - w)
      const y = rand() * (480 - h)
      annotations.push({
        image_id: img,
        category_id: 1 + Math.floor(rand() * 10),
        bbox: [x, y, w, h],
        area: w * h,
        iscrowd: rand() < 0.02 ? 1 : 0
      })
    }
    const own = annotations.slice(annotations.length - boxes)
    for (let p = 0; p < PREDICTIONS_PER_IMAGE; p++) {
      if (p < own.length && rand() < 0.8) {
        const g = own[p]
        const [x, y, w, h] = g.bbox
        detections.push({
          image_id: img,
          category_id: rand() < 0.9 ? g.category_id : 1 + Math.floor(rand() * 10),
          bbox: [
            x + (rand() - 0.5) * w * 0.2,
            y + (rand() - 0.5) * h * 0.2,
            w * (0.85 + rand() * 0.3),
            h * (0.85 + rand() * 0.3)
          ],
          score: rand()
        })
      } else {
        const w = 10 + rand() * 150
        const h = 10 + rand() * 150
        detections.push({
          image_id: img,
          category_id: 1 + Math.floor(rand() * 10),
          bbox: [rand() * (640 - w), rand() * (480 - h), w, h],
          score: rand() * 0.6
        })
      }
    }
  }
  return {
    dataset: { images: Array.from({ length: images }, (_, i) => i + 1), categories: CATEGORIES, annotations },
    detections
  }
}

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
