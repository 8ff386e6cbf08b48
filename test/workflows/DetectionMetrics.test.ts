import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import {
  boxIou,
  type DetectionDataset,
  type EvalDetection,
  type EvalGroundTruth,
  evaluateDetections
} from "../../src/workflows/DetectionMetrics.js"

/** Deterministic PRNG so that random fixtures are the same on every run. */
const mulberry32 = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const shuffle = <A>(xs: ReadonlyArray<A>, rand: () => number): Array<A> => {
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

const cats = [
  { id: 1, name: "car" },
  { id: 2, name: "person" }
]
const gt = (image_id: number, category_id: number, bbox: Array<number>, iscrowd = 0): EvalGroundTruth => ({
  image_id,
  category_id,
  bbox,
  iscrowd
})
const dt = (image_id: number, category_id: number, bbox: Array<number>, score: number): EvalDetection => ({
  image_id,
  category_id,
  bbox,
  score
})

interface Reference {
  images: Array<{ id: number }>
  categories: Array<{ id: number; name: string }>
  annotations: Array<EvalGroundTruth>
  detections: Array<EvalDetection>
  expected: Record<string, number | null>
}
const reference: Reference = JSON.parse(
  readFileSync(new URL("./fixtures/coco-reference.json", import.meta.url), "utf8")
)
const referenceDataset: DetectionDataset = {
  images: reference.images.map((i) => i.id),
  categories: reference.categories,
  annotations: reference.annotations
}

describe("boxIou", () => {
  it("is intersection over union, and over the detection's own area for a crowd region", () => {
    expect(boxIou([0, 0, 10, 10], [5, 0, 10, 10], false)).toBeCloseTo(50 / 150, 12)
    expect(boxIou([10, 10, 10, 10], [0, 0, 100, 100], false)).toBeCloseTo(0.01, 12)
    expect(boxIou([10, 10, 10, 10], [0, 0, 100, 100], true)).toBe(1)
    expect(boxIou([0, 0, 10, 10], [10, 0, 10, 10], false)).toBe(0)
  })
})

describe("evaluateDetections", () => {
  it("agrees with pycocotools on a random dataset with crowds, all area ranges and empty images", () => {
    const r = evaluateDetections(referenceDataset, reference.detections)
    for (const [name, value] of Object.entries(reference.expected)) {
      const got = (r as unknown as Record<string, number | null>)[name]
      if (value === null) expect(got, name).toBeNull()
      else expect(Math.abs((got ?? NaN) - value), name).toBeLessThan(1e-9)
    }
    // Sanity that the fixture exercises what it claims: AR@1 < AR@10 < AR@100, an excluded class.
    expect(r.AR1!).toBeLessThan(r.AR10!)
    expect(r.AR10!).toBeLessThan(r.AR100!)
    expect(r.excludedCategories).toStrictEqual([{ id: 7, name: "truck" }])
  })

  it("gives 1 for perfect predictions", () => {
    const dataset: DetectionDataset = {
      images: [1, 2],
      categories: cats,
      annotations: [gt(1, 1, [0, 0, 50, 50]), gt(1, 2, [100, 100, 20, 40]), gt(2, 1, [10, 10, 200, 150])]
    }
    const r = evaluateDetections(
      dataset,
      dataset.annotations.map((a, i) => dt(a.image_id, a.category_id, [...a.bbox], 0.5 + i / 10))
    )
    // Precision is tp / (tp + fp + ε) as in pycocotools, so "1" is 1 - 2e-16.
    for (const v of [r.AP, r.AP50, r.AP75, r.AR1, r.AR10, r.AR100, r.AP_small, r.AP_medium, r.AP_large]) {
      expect(v).toBeCloseTo(1, 12)
    }
    expect([r.precision, r.recall, r.f1]).toStrictEqual([1, 1, 1])
    expect(r.excludedCategories).toStrictEqual([])
  })

  it("halves AP when one false positive outranks the only true positive", () => {
    // Sorted: FP (0.9) then TP (0.8): precision 0 at recall 0, 0.5 at recall 1, envelope 0.5.
    const r = evaluateDetections({ images: [1], categories: cats, annotations: [gt(1, 1, [0, 0, 50, 50])] }, [
      dt(1, 1, [300, 300, 50, 50], 0.9),
      dt(1, 1, [0, 0, 50, 50], 0.8)
    ])
    expect(r.AP).toBeCloseTo(0.5, 12)
    expect(r.AP50).toBeCloseTo(0.5, 12)
    expect(r.AR1).toBe(0) // the single detection kept is the false positive
    expect(r.AR10).toBe(1)
    expect(r.perClass[0]).toMatchObject({ tp: 1, fp: 1, fn: 0, precision: 0.5, recall: 1 })
    // Person has neither ground truth nor detections: excluded, never averaged as 0.
    expect(r.excludedCategories).toStrictEqual([{ id: 2, name: "person" }])
  })

  it("ignores detections matched to crowd regions, which may absorb several", () => {
    const dataset: DetectionDataset = {
      images: [1],
      categories: cats,
      annotations: [gt(1, 1, [0, 0, 50, 50]), gt(1, 1, [200, 200, 200, 200], 1)]
    }
    const inCrowd = [dt(1, 1, [210, 210, 20, 20], 0.95), dt(1, 1, [300, 300, 40, 40], 0.9)]
    const tp = dt(1, 1, [0, 0, 50, 50], 0.5)
    const r = evaluateDetections(dataset, [...inCrowd, tp])
    expect(r.AP).toBeCloseTo(1, 12)
    expect(r.perClass[0]).toMatchObject({ tp: 1, fp: 0, support: 1 })
    // The same boxes without the crowd flag: both detections become false positives.
    const notCrowd = evaluateDetections(
      { ...dataset, annotations: [gt(1, 1, [0, 0, 50, 50]), gt(1, 1, [200, 200, 200, 200], 0)] },
      [...inCrowd, tp]
    )
    expect(notCrowd.AP!).toBeLessThan(1)
    expect(notCrowd.perClass[0]).toMatchObject({ tp: 1, fp: 2, support: 2 })
  })

  it("counts detections on an image without ground truth as false positives", () => {
    const dataset: DetectionDataset = { images: [1, 2], categories: cats, annotations: [gt(1, 1, [0, 0, 50, 50])] }
    const r = evaluateDetections(dataset, [dt(1, 1, [0, 0, 50, 50], 0.5), dt(2, 1, [0, 0, 50, 50], 0.9)])
    expect(r.AP).toBeCloseTo(0.5, 12)
    expect(r.images).toBe(2)
  })

  it("excludes a class without ground truth from every mean", () => {
    const dataset: DetectionDataset = { images: [1], categories: cats, annotations: [gt(1, 1, [0, 0, 50, 50])] }
    const base = evaluateDetections(dataset, [dt(1, 1, [0, 0, 50, 50], 0.5)])
    const withPersons = evaluateDetections(dataset, [
      dt(1, 1, [0, 0, 50, 50], 0.5),
      dt(1, 2, [0, 0, 50, 50], 0.99),
      dt(1, 2, [60, 0, 50, 50], 0.98)
    ])
    const { perClass: _a, detections: _b, ...summaryBase } = base
    const { perClass: pc, detections: _c, ...summaryWith } = withPersons
    expect(summaryWith).toStrictEqual(summaryBase)
    expect(pc[1]).toMatchObject({ name: "person", ap: null, fp: 2, support: 0 })
  })

  it("never increases AP as false positives are added", () => {
    const rand = mulberry32(7)
    const dets = [...reference.detections]
    let previous = evaluateDetections(referenceDataset, dets)
    for (let step = 0; step < 8; step++) {
      for (let i = 0; i < 5; i++) {
        const img = reference.images[Math.floor(rand() * reference.images.length)].id
        // Far outside every image: overlaps no ground truth, so it can only be a false positive.
        dets.push(dt(img, 1 + Math.floor(rand() * 3), [5000 + rand() * 100, 5000, 30, 30], rand()))
      }
      const next = evaluateDetections(referenceDataset, dets)
      expect(next.AP!).toBeLessThanOrEqual(previous.AP!)
      expect(next.AP50!).toBeLessThanOrEqual(previous.AP50!)
      previous = next
    }
    expect(previous.AP!).toBeLessThan(reference.expected.AP!)
  })

  it("does not depend on the order of images, boxes or detections (distinct scores)", () => {
    const rand = mulberry32(11)
    // pycocotools breaks score ties by input order; with distinct scores order must not matter.
    const dets = reference.detections.map((d, i) => ({ ...d, score: d.score * 0.999 + i * 1e-7 }))
    const a = evaluateDetections(referenceDataset, dets)
    const b = evaluateDetections(
      {
        images: shuffle(referenceDataset.images, rand),
        categories: shuffle(referenceDataset.categories, rand),
        annotations: shuffle(referenceDataset.annotations, rand)
      },
      shuffle(dets, rand)
    )
    expect(b).toStrictEqual(a)
  })

  it("keeps at most 100 detections per image and category, and says how many it dropped", () => {
    const dets = Array.from({ length: 120 }, (_, i) => dt(1, 1, [i * 10, 0, 8, 8], 0.5 + i / 1000))
    const r = evaluateDetections({ images: [1], categories: cats, annotations: [gt(1, 1, [0, 0, 8, 8])] }, dets)
    expect(r.detectionsBeyondMaxDets).toBe(20)
    // The true positive has the lowest score, so it is among the dropped ones.
    expect(r.AP).toBe(0)
    expect(r.perClass[0]).toMatchObject({ tp: 0, fp: 100, fn: 1 })
  })

  it("reports area ranges without ground truth as null, as pycocotools' -1", () => {
    const r = evaluateDetections({ images: [1], categories: cats, annotations: [gt(1, 1, [0, 0, 10, 10])] }, [
      dt(1, 1, [0, 0, 10, 10], 0.9)
    ])
    expect(r.AP_small).toBeCloseTo(1, 12)
    expect([r.AP_medium, r.AP_large, r.AR_medium, r.AR_large]).toStrictEqual([null, null, null, null])
  })

  it("applies the score threshold to per-class counts only", () => {
    const dataset: DetectionDataset = { images: [1], categories: cats, annotations: [gt(1, 1, [0, 0, 50, 50])] }
    const dets = [dt(1, 1, [0, 0, 50, 50], 0.9), dt(1, 1, [100, 100, 50, 50], 0.2)]
    const all = evaluateDetections(dataset, dets)
    const confident = evaluateDetections(dataset, dets, { scoreThreshold: 0.5 })
    expect(all.perClass[0]).toMatchObject({ tp: 1, fp: 1, precision: 0.5 })
    expect(confident.perClass[0]).toMatchObject({ tp: 1, fp: 0, precision: 1 })
    expect(confident.AP).toBe(all.AP)
  })
})
