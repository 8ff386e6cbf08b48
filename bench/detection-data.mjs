// Synthetic detection data for the evaluation benchmarks: N images of 640×480 with 4–12 boxes each
// in 10 categories and 20 predictions per image (most of them near a ground-truth box, some
// relabelled, the rest anywhere), drawn from a seeded generator so every run measures the same data.
const mulberry32 = (seed) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

export const CATEGORIES = Array.from({ length: 10 }, (_, i) => ({ id: i + 1, name: `class_${i + 1}` }))
export const PREDICTIONS_PER_IMAGE = 20

export const makeData = (images, seed) => {
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
