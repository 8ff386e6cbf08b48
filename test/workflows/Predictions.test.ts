import { describe, expect, it } from "vitest"
import type { GroundTruthEvent } from "../../src/schemas/GroundTruth.js"
import { GroundTruthCollector } from "../../src/workflows/GroundTruthSummary.js"
import { parseClassifications, parseDetections, PredictionsError } from "../../src/workflows/Predictions.js"
import { compareReported, scoreClassifications, scoreDetections } from "../../src/workflows/Scoring.js"

const event = (id: number, unit: number, data: GroundTruthEvent["data"], category = "train"): GroundTruthEvent => ({
  id,
  ground_truth_dataset_version: 1,
  category,
  data,
  data_unit: { id: unit, files: { image: { name: `${String(unit).padStart(6, "0")}.png`, width: 640, height: 480 } } }
})

const detectionEvents: Array<GroundTruthEvent> = [
  event(1, 10, {
    type: "image",
    annotations: [{ category_id: 1, category: "car", bbox: [0, 0, 50, 50], area: 2500, iscrowd: 0 }]
  }),
  // A second pass over the same image: its boxes are pooled with the first pass's.
  event(2, 10, {
    type: "image",
    annotations: [{ category_id: 2, category: "person", bbox: [100, 100, 20, 40], area: 800, iscrowd: 0 }]
  }),
  event(3, 11, {
    type: "image",
    annotations: [{ category: "person", bbox: [10, 10, 20, 40] }, { category_id: 1, bbox: [0, 0, 0, 5] }]
  }, "test"),
  event(4, 12, { type: "image", annotations: [] }, "validation")
]

const collect = (events: ReadonlyArray<GroundTruthEvent>, keepBoxes = true): GroundTruthCollector => {
  const c = new GroundTruthCollector(keepBoxes)
  for (const e of events) c.add(e)
  return c
}

describe("parsing predictions", () => {
  it("rejects text that is neither a JSON array nor JSON Lines, naming the line", () => {
    const r = parseDetections("{\"image_id\": 1}\nnot json at all\n")
    expect(r).toBeInstanceOf(PredictionsError)
    expect((r as PredictionsError).message).toMatch(/line 2 is not JSON/)
    expect(parseDetections("   ")).toBeInstanceOf(PredictionsError)
    expect((parseDetections("[1, 2") as PredictionsError).message).toMatch(/not valid JSON/)
    const dataset = parseDetections(JSON.stringify({ images: [], annotations: [], categories: [] }, null, 2))
    expect((dataset as PredictionsError).message).toMatch(/COCO dataset/)
  })

  it("reads a COCO results array and JSON Lines alike, skipping bad rows with reasons", () => {
    const rows = [
      { image_id: 10, category_id: 1, bbox: [0, 0, 50, 50], score: 0.9 },
      { image_id: 10, category_id: 1, bbox: [0, 0, 0, 50], score: 0.9 },
      { image_id: 10, category_id: 1, bbox: [0, 0, 5, 5], score: 1.5 },
      { image_id: 10, category_id: 1, bbox: [0, 0, 5], score: 0.5 },
      { image_id: "10", category_id: 1, bbox: [0, 0, 5, 5], score: 0.5 },
      42
    ]
    const json = parseDetections(JSON.stringify(rows))
    const jsonl = parseDetections(rows.map((r) => JSON.stringify(r)).join("\n"))
    for (const r of [json, jsonl]) {
      if (r instanceof PredictionsError) throw r
      expect(r.rows).toHaveLength(1)
      expect(r.skipped).toStrictEqual({
        total: 5,
        byReason: {
          non_positive_size: { count: 1, rows: [2] },
          score_out_of_range: { count: 1, rows: [3] },
          invalid_bbox: { count: 1, rows: [4] },
          invalid_image_id: { count: 1, rows: [5] },
          not_an_object: { count: 1, rows: [6] }
        }
      })
    }
    expect((json as { format: string }).format).toBe("json")
    expect((jsonl as { format: string }).format).toBe("jsonl")
  })
})

describe("ground truth collection", () => {
  it("counts events, units, types, classes and splits, and pools passes per data unit", () => {
    const c = collect(detectionEvents)
    expect(c.stats()).toStrictEqual({
      events: 4,
      dataUnits: 3,
      dataTypes: { image: 4 },
      classes: { car: 1, person: 2, "#1": 1 },
      splits: { train: 2, test: 1, validation: 1 },
      labels: {},
      unusableAnnotations: { non_positive_size: 1 },
      conflictingLabels: 0
    })
    const d = c.detectionDataset()
    expect(d.categories).toStrictEqual([{ id: 1, name: "car" }, { id: 2, name: "person" }])
    expect(d.images).toStrictEqual([10, 11, 12])
    // The name-only "person" box took person's id.
    expect(d.annotations.map((a) => [a.image_id, a.category_id])).toStrictEqual([[10, 1], [10, 2], [11, 2]])
  })
})

describe("scoring", () => {
  it("skips detections on unknown images and categories, and fails when nothing is left", () => {
    const dataset = collect(detectionEvents).detectionDataset()
    const parsed = parseDetections(
      JSON.stringify([
        { image_id: 10, category_id: 1, bbox: [0, 0, 50, 50], score: 0.9 },
        { image_id: 10, category_id: 2, bbox: [100, 100, 20, 40], score: 0.8 },
        { image_id: 11, category_id: 2, bbox: [10, 10, 20, 40], score: 0.7 },
        { image_id: 999, category_id: 1, bbox: [0, 0, 5, 5], score: 0.5 },
        { image_id: 10, category_id: 9, bbox: [0, 0, 5, 5], score: 0.5 }
      ])
    )
    if (parsed instanceof PredictionsError) throw parsed
    const score = scoreDetections(parsed, dataset)
    if (score instanceof PredictionsError) throw score
    expect(score.metrics.AP).toBeCloseTo(1, 12)
    expect(score.predictions).toStrictEqual({
      rows: 5,
      used: 3,
      skipped: {
        total: 2,
        byReason: { unknown_image: { count: 1, rows: [4] }, unknown_category: { count: 1, rows: [5] } }
      }
    })
    const none = parseDetections(JSON.stringify([{ image_id: 999, category_id: 1, bbox: [0, 0, 5, 5], score: 0.5 }]))
    if (none instanceof PredictionsError) throw none
    const failed = scoreDetections(none, dataset, { name: "preds.json" })
    expect(failed).toBeInstanceOf(PredictionsError)
    expect((failed as PredictionsError).message).toMatch(/preds.json has no usable row.*unknown_image ×1 \(rows 1\)/)
  })

  it("matches classification predictions by data unit id or file name", () => {
    const events = [
      event(1, 20, {
        type: "image",
        label: "cat",
        annotations: [{ category: "cat", bbox: [0, 0, 10, 10], area: 100 }]
      }),
      // A second pass disagrees; its object is larger, so its label wins and the conflict counts.
      event(2, 20, {
        type: "image",
        label: "dog",
        annotations: [{ category: "dog", bbox: [0, 0, 30, 30], area: 900 }]
      }),
      event(3, 21, { type: "image", label: "cat" }),
      event(4, 22, { type: "image", label: "bird" })
    ]
    const gt = collect(events, false)
    expect(gt.stats()).toMatchObject({ labels: { dog: 1, cat: 1, bird: 1 }, conflictingLabels: 1 })
    const parsed = parseClassifications(
      [
        { data_unit: 20, label: "dog" },
        { data_unit: "000021.png", label: "dog" },
        { data_unit: 20, label: "cat" },
        { data_unit: 77, label: "cat" },
        { file_name: "000022.png" }
      ].map((r) => JSON.stringify(r)).join("\n")
    )
    if (parsed instanceof PredictionsError) throw parsed
    const score = scoreClassifications(parsed, gt)
    if (score instanceof PredictionsError) throw score
    expect(score.metrics.samples).toBe(2)
    expect(score.metrics.accuracy).toBe(0.5)
    expect(score.metrics.labels).toStrictEqual(["bird", "cat", "dog"])
    expect(score.unpredicted).toBe(1)
    expect(score.predictions.skipped.byReason).toStrictEqual({
      invalid_label: { count: 1, rows: [5] },
      duplicate_prediction: { count: 1, rows: [3] },
      unknown_data_unit: { count: 1, rows: [4] }
    })
    const { comparisons, uncompared } = compareReported({ accuracy: 0.93, f1_score: 0.5, epochs: 30 }, score, 0.01)
    expect(uncompared).toStrictEqual(["epochs"])
    expect(comparisons.map((c) => [c.metric, c.computedAs, c.agrees])).toStrictEqual([
      ["accuracy", "accuracy", false],
      ["f1_score", "f1_macro", false]
    ])
    expect(comparisons[0].difference).toBeCloseTo(-0.43, 12)
  })
})
