import { describe, expect, it } from "vitest"
import { type DetectionDataset, type EvalDetection, evaluateDetections } from "../../src/workflows/DetectionMetrics.js"
import {
  analyzeClassificationErrors,
  analyzeDetectionErrors,
  ClassificationErrors,
  DetectionErrors
} from "../../src/workflows/ErrorAnalysis.js"
import { expectDescribed } from "../support/schema.js"

// Three images, a car and a person class. Worked out by hand:
// - image 1: the car is found (0.9); a second car box on it (0.8) is a duplicate false positive; a car
//   box on the person (0.7) is a confusion person→car, and the person is missed;
// - image 2: a car box inside a crowd region (0.95) is ignored; a person box on the car (0.6) is a
//   confusion car→person, and the car is missed;
// - image 3: the person is missed, nothing covers it.
const dataset: DetectionDataset = {
  images: [1, 2, 3],
  categories: [{ id: 1, name: "car" }, { id: 2, name: "person" }],
  annotations: [
    { image_id: 1, category_id: 1, bbox: [0, 0, 10, 10] },
    { image_id: 1, category_id: 2, bbox: [50, 50, 10, 10] },
    { image_id: 2, category_id: 1, bbox: [0, 0, 20, 20] },
    { image_id: 2, category_id: 1, bbox: [100, 100, 50, 50], iscrowd: 1 },
    { image_id: 3, category_id: 2, bbox: [0, 0, 10, 10] }
  ]
}
const detections: ReadonlyArray<EvalDetection> = [
  { image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], score: 0.9 },
  { image_id: 1, category_id: 1, bbox: [1, 0, 10, 10], score: 0.8 },
  { image_id: 1, category_id: 1, bbox: [50, 50, 10, 10], score: 0.7 },
  { image_id: 2, category_id: 1, bbox: [110, 110, 10, 10], score: 0.95 },
  { image_id: 2, category_id: 2, bbox: [0, 0, 20, 20], score: 0.6 }
]

describe("detection error analysis", () => {
  it("counts, lists and tabulates a hand-worked case", () => {
    const e = analyzeDetectionErrors(dataset, detections)
    expectDescribed(DetectionErrors, e)
    expect(e.per_image).toStrictEqual([
      { image_id: 1, tp: 1, fp: 2, fn: 1 },
      { image_id: 2, tp: 0, fp: 1, fn: 1 },
      { image_id: 3, tp: 0, fp: 0, fn: 1 }
    ])
    expect(e.worst_images.map((i) => i.image_id)).toStrictEqual([1, 2, 3])
    expect(e.confusion_matrix).toStrictEqual({
      labels: ["car", "person", "background"],
      matrix: [[1, 1, 0], [1, 0, 1], [1, 0, 0]]
    })
    expect(e.confusions).toStrictEqual([
      { actual: "car", predicted: "person", count: 1 },
      { actual: "person", predicted: "car", count: 1 }
    ])
    expect(e.confident_false_positives).toStrictEqual([
      {
        image_id: 1,
        category_id: 1,
        category: "car",
        bbox: [1, 0, 10, 10],
        score: 0.8,
        iou_same_class: 90 / 110,
        confused_with: null
      },
      {
        image_id: 1,
        category_id: 1,
        category: "car",
        bbox: [50, 50, 10, 10],
        score: 0.7,
        iou_same_class: 0,
        confused_with: { category_id: 2, category: "person", iou: 1 }
      },
      {
        image_id: 2,
        category_id: 2,
        category: "person",
        bbox: [0, 0, 20, 20],
        score: 0.6,
        iou_same_class: 0,
        confused_with: { category_id: 1, category: "car", iou: 1 }
      }
    ])
    expect(e.largest_misses).toStrictEqual([
      { image_id: 2, category_id: 1, category: "car", bbox: [0, 0, 20, 20], area: 400 },
      { image_id: 1, category_id: 2, category: "person", bbox: [50, 50, 10, 10], area: 100 },
      { image_id: 3, category_id: 2, category: "person", bbox: [0, 0, 10, 10], area: 100 }
    ])
    expect(e.threshold_curve).toStrictEqual([
      { threshold: 0.6, precision: 0.25, recall: 0.25, f1: 0.25 },
      { threshold: 0.7, precision: 1 / 3, recall: 0.25, f1: 2 / 7 },
      { threshold: 0.8, precision: 0.5, recall: 0.25, f1: 1 / 3 },
      { threshold: 0.9, precision: 1, recall: 0.25, f1: 0.4 }
    ])
    expect(e.best_f1).toStrictEqual({ threshold: 0.9, precision: 1, recall: 0.25, f1: 0.4 })
  })

  it("counts only detections at or above the score threshold", () => {
    const e = analyzeDetectionErrors(dataset, detections, { scoreThreshold: 0.75 })
    expect(e.score_threshold).toBe(0.75)
    expect(e.per_image).toStrictEqual([
      { image_id: 1, tp: 1, fp: 1, fn: 1 },
      { image_id: 2, tp: 0, fp: 0, fn: 1 },
      { image_id: 3, tp: 0, fp: 0, fn: 1 }
    ])
    expect(e.confusion_matrix.matrix).toStrictEqual([[1, 0, 1], [0, 0, 2], [1, 0, 0]])
    expect(e.confusions).toStrictEqual([])
    // The curve does not depend on the threshold.
    expect(e.threshold_curve).toHaveLength(4)
  })

  it("has nothing to list without detections", () => {
    const e = analyzeDetectionErrors(dataset, [])
    expect(e.per_image.map((i) => i.fn)).toStrictEqual([2, 1, 1])
    expect(e.threshold_curve).toStrictEqual([])
    expect(e.best_f1).toBeNull()
    expect(e.confident_false_positives).toStrictEqual([])
  })

  it("agrees with the COCO evaluator's per-class counts at IoU 0.5 on random data", () => {
    let seed = 7
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed / 2147483648
    }
    for (let round = 0; round < 20; round++) {
      const images = Array.from({ length: 12 }, (_, i) => i + 1)
      const categories = [{ id: 1, name: "a" }, { id: 2, name: "b" }, { id: 3, name: "c" }]
      const box = () => [
        Math.floor(rand() * 80),
        Math.floor(rand() * 80),
        5 + Math.floor(rand() * 30),
        5 + Math.floor(rand() * 30)
      ]
      const annotations = Array.from({ length: 40 }, () => ({
        image_id: 1 + Math.floor(rand() * 12),
        category_id: 1 + Math.floor(rand() * 3),
        bbox: box(),
        iscrowd: rand() < 0.05 ? 1 : 0
      }))
      // Half the detections jitter a ground-truth box (maybe relabelled), half are anywhere.
      const dets: Array<EvalDetection> = Array.from({ length: 60 }, () => {
        const g = annotations[Math.floor(rand() * annotations.length)]
        const near = rand() < 0.5
        return {
          image_id: near ? g.image_id : 1 + Math.floor(rand() * 12),
          category_id: near && rand() < 0.8 ? g.category_id : 1 + Math.floor(rand() * 3),
          bbox: near ? g.bbox.map((v) => v + Math.floor(rand() * 4)) : box(),
          score: Math.round(rand() * 100) / 100
        }
      })
      const data = { images, categories, annotations }
      const threshold = round % 2 === 0 ? 0 : 0.5
      const coco = evaluateDetections(data, dets, { scoreThreshold: threshold })
      const errors = analyzeDetectionErrors(data, dets, { scoreThreshold: threshold })
      const m = errors.confusion_matrix.matrix
      categories.forEach((c, k) => {
        const cls = coco.perClass.find((p) => p.category_id === c.id)!
        expect(m[k][k]).toBe(cls.tp)
        // Column: every judged detection of the class; row: every non-crowd box of the class.
        expect(m.reduce((sum, row) => sum + row[k], 0)).toBe(cls.tp + cls.fp)
        expect(m[k].reduce((sum, v) => sum + v, 0)).toBe(cls.support)
      })
      const sum = (key: "tp" | "fp" | "fn") => errors.per_image.reduce((s, i) => s + i[key], 0)
      const total = (key: "tp" | "fp" | "fn") => coco.perClass.reduce((s, c) => s + c[key], 0)
      expect([sum("tp"), sum("fp"), sum("fn")]).toStrictEqual([total("tp"), total("fp"), total("fn")])
    }
  })
})

describe("classification error analysis", () => {
  it("lists the wrong predictions by confidence and the confused pairs", () => {
    const e = analyzeClassificationErrors(
      [
        { data_unit: 1, actual: "cat", predicted: "cat", score: 0.9 },
        { data_unit: 2, actual: "cat", predicted: "dog", score: 0.6 },
        { data_unit: 3, actual: "dog", predicted: "cat", score: 0.95 },
        { data_unit: 4, actual: "dog", predicted: "cat" },
        { data_unit: 5, actual: "dog", predicted: "dog", score: 0.4 }
      ],
      { labels: ["cat", "dog"], matrix: [[1, 1], [2, 1]] }
    )
    expectDescribed(ClassificationErrors, e)
    expect(e).toStrictEqual({
      task: "classification",
      misclassified_count: 3,
      misclassified: [
        { data_unit: 3, actual: "dog", predicted: "cat", score: 0.95 },
        { data_unit: 2, actual: "cat", predicted: "dog", score: 0.6 },
        { data_unit: 4, actual: "dog", predicted: "cat", score: null }
      ],
      confusions: [
        { actual: "dog", predicted: "cat", count: 2 },
        { actual: "cat", predicted: "dog", count: 1 }
      ]
    })
  })
})
