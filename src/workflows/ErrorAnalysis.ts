/**
 * Where a model goes wrong, not only how much: the lists and tables a person reads before trusting
 * a detector or a classifier.
 *
 * Detection is judged at IoU 0.5 on all object sizes, with pycocotools' matching rules (per image
 * and category, detections by descending score, at most 100, each taking the best still-free
 * ground truth; a detection that only matches a crowd region is ignored, as COCO ignores it), so
 * that the per-class counts here equal the per-class `tp`/`fp`/`fn` of `evaluateDetections`.
 * Matching is done once with every detection: a detection's match depends only on the detections
 * scored above it, so the counts at any score threshold come from the same matching, which is what
 * makes the score-threshold curve cheap.
 *
 * Pure and synchronous, linear in the boxes apart from the per-cell IoU matrices.
 */
import { Schema } from "effect"
import type { LabelPair } from "./ClassificationMetrics.js"
import { boxIou, type DetectionDataset, type EvalDetection, isCrowd, MAX_DETS } from "./DetectionMetrics.js"

/** How many entries each "worst" list keeps. */
export const ERROR_LIST_LENGTH = 20

/** The IoU at which detections are judged here. */
export const ERROR_IOU = 0.5

/** One image's counts at IoU 0.5 and the score threshold. */
export const ImageErrors = Schema.Struct({
  image_id: Schema.Number,
  tp: Schema.Number.annotations({ description: "Detections that found a ground-truth object of their class." }),
  fp: Schema.Number.annotations({ description: "Detections that found none (false alarms and confusions)." }),
  fn: Schema.Number.annotations({ description: "Ground-truth objects no detection of their class found." })
})
export type ImageErrors = typeof ImageErrors.Type

/** A false positive, with the ground truth it overlaps most, if any. */
export const FalsePositive = Schema.Struct({
  image_id: Schema.Number,
  category_id: Schema.Number,
  category: Schema.String,
  bbox: Schema.Array(Schema.Number).annotations({ description: "[x, y, width, height] in pixels." }),
  score: Schema.Number,
  iou_same_class: Schema.Number.annotations({
    description: "Best IoU with any ground-truth box of its class in the image (below 0.5, or that box was taken)."
  }),
  confused_with: Schema.NullOr(
    Schema.Struct({ category_id: Schema.Number, category: Schema.String, iou: Schema.Number })
  ).annotations({
    description: "The other-class ground truth it covers at IoU ≥ 0.5, when there is one: a class confusion."
  })
})
export type FalsePositive = typeof FalsePositive.Type

/** A ground-truth object no detection of its class found. */
export const MissedObject = Schema.Struct({
  image_id: Schema.Number,
  category_id: Schema.Number,
  category: Schema.String,
  bbox: Schema.Array(Schema.Number).annotations({ description: "[x, y, width, height] in pixels." }),
  area: Schema.Number
})
export type MissedObject = typeof MissedObject.Type

/** One cell of the class confusion: how often ground truth of `actual` was detected as `predicted`. */
export const Confusion = Schema.Struct({
  actual: Schema.String,
  predicted: Schema.String,
  count: Schema.Number
})
export type Confusion = typeof Confusion.Type

/** Precision, recall and F1 counting only detections scored at least `threshold`. */
export const ThresholdPoint = Schema.Struct({
  threshold: Schema.Number,
  precision: Schema.Number,
  recall: Schema.Number,
  f1: Schema.Number
})
export type ThresholdPoint = typeof ThresholdPoint.Type

/**
 * A confusion matrix whose rows are the actual classes and whose columns the predicted ones, each
 * with a last `background` entry. Every non-crowd ground-truth box is counted once in its row (as
 * found, confused or missed) and every judged detection once in its column (as a true positive, a
 * confusion or a false alarm on background).
 */
export const ConfusionTable = Schema.Struct({
  labels: Schema.Array(Schema.String).annotations({ description: "The classes, then background." }),
  matrix: Schema.Array(Schema.Array(Schema.Number)).annotations({
    description: "Rows: actual class; columns: predicted class; both in labels order."
  })
})
export type ConfusionTable = typeof ConfusionTable.Type

/** Error analysis of detections. */
export const DetectionErrors = Schema.Struct({
  task: Schema.Literal("detection"),
  iou_threshold: Schema.Number,
  score_threshold: Schema.Number,
  per_image: Schema.Array(ImageErrors).annotations({ description: "Every image of the version, in id order." }),
  worst_images: Schema.Array(ImageErrors).annotations({
    description: "The images with the most errors (false positives + misses), worst first."
  }),
  confident_false_positives: Schema.Array(FalsePositive).annotations({
    description: "The false positives with the highest scores."
  }),
  largest_misses: Schema.Array(MissedObject).annotations({
    description: "The largest ground-truth objects that were missed."
  }),
  confusions: Schema.Array(Confusion).annotations({
    description: "Off-diagonal, non-background cells of the confusion table, most frequent first."
  }),
  confusion_matrix: ConfusionTable,
  threshold_curve: Schema.Array(ThresholdPoint).annotations({
    description: "Precision, recall and F1 as the score threshold rises (at most 101 points, ascending)."
  }),
  best_f1: Schema.NullOr(ThresholdPoint).annotations({
    description: "The point of the curve with the highest F1 (the lowest such threshold), null without detections."
  })
})
export type DetectionErrors = typeof DetectionErrors.Type

/** A classification row the model got wrong. */
export const Misclassified = Schema.Struct({
  data_unit: Schema.Number,
  actual: Schema.String,
  predicted: Schema.String,
  score: Schema.NullOr(Schema.Number).annotations({
    description: "The prediction's confidence, when the predictions carried one."
  })
})
export type Misclassified = typeof Misclassified.Type

/** Error analysis of classifications. */
export const ClassificationErrors = Schema.Struct({
  task: Schema.Literal("classification"),
  misclassified_count: Schema.Number,
  misclassified: Schema.Array(Misclassified).annotations({
    description: "The wrong predictions, the most confident first (those without a score last)."
  }),
  confusions: Schema.Array(Confusion).annotations({
    description: "Off-diagonal cells of the confusion matrix, most frequent first."
  })
})
export type ClassificationErrors = typeof ClassificationErrors.Type

/** Either kind. */
export const ErrorAnalysis = Schema.Union(DetectionErrors, ClassificationErrors)
export type ErrorAnalysis = typeof ErrorAnalysis.Type

type GroundTruthBox = DetectionDataset["annotations"][number]

const ratio = (num: number, den: number): number => (den === 0 ? 0 : num / den)

/** How one judged detection ended. */
interface Judged {
  readonly detection: EvalDetection
  /** true positive, false positive, or ignored (matched a crowd region). */
  readonly outcome: "tp" | "fp" | "ignored"
  readonly bestSameClassIou: number
  /** The ground truth a true positive took. */
  readonly matched?: GroundTruthBox
}

/** Sorts by a numeric key, descending, with ties in input order, and keeps the first `n`. */
const top = <A>(items: ReadonlyArray<A>, key: (a: A) => number, n: number): Array<A> =>
  items.map((item, i) => [item, i] as const)
    .sort((a, b) => key(b[0]) - key(a[0]) || a[1] - b[1])
    .slice(0, n)
    .map(([item]) => item)

/** The confusion cells off the diagonal, most frequent first, then by name. */
const offDiagonal = (
  labels: ReadonlyArray<string>,
  matrix: ReadonlyArray<ReadonlyArray<number>>,
  skipLast: boolean
) => {
  const out: Array<Confusion> = []
  const n = skipLast ? labels.length - 1 : labels.length
  for (let a = 0; a < n; a++) {
    for (let p = 0; p < n; p++) {
      if (a !== p && matrix[a][p] > 0) out.push({ actual: labels[a], predicted: labels[p], count: matrix[a][p] })
    }
  }
  return out.sort((x, y) =>
    y.count - x.count || x.actual.localeCompare(y.actual) || x.predicted.localeCompare(y.predicted)
  )
}

/**
 * Precision/recall/F1 at every distinct score (counting detections scored at least that), thinned
 * to at most 101 points spread evenly over the scores, always keeping the best-F1 point.
 */
const thresholdCurve = (
  judged: ReadonlyArray<Judged>,
  groundTruth: number
): { curve: Array<ThresholdPoint>; best: ThresholdPoint | null } => {
  const counted = judged.filter((j) => j.outcome !== "ignored")
    .map((j) => ({ score: j.detection.score, tp: j.outcome === "tp" }))
    .sort((a, b) => b.score - a.score)
  const points: Array<ThresholdPoint> = []
  let tp = 0
  let fp = 0
  for (let i = 0; i < counted.length; i++) {
    if (counted[i].tp) tp++
    else fp++
    // One point per distinct score, after every detection with that score is counted.
    if (i + 1 < counted.length && counted[i + 1].score === counted[i].score) continue
    const precision = ratio(tp, tp + fp)
    const recall = ratio(tp, groundTruth)
    points.push({ threshold: counted[i].score, precision, recall, f1: ratio(2 * tp, 2 * tp + fp + (groundTruth - tp)) })
  }
  points.reverse()
  let best: ThresholdPoint | null = null
  for (const p of points) if (best === null || p.f1 > best.f1) best = p
  if (points.length <= 101) return { curve: points, best }
  const keep = new Set<number>()
  for (let i = 0; i <= 100; i++) keep.add(Math.round((i * (points.length - 1)) / 100))
  const curve = points.filter((p, i) => keep.has(i) || p === best)
  return { curve, best }
}

/**
 * Analyzes detections against ground truth at IoU 0.5. Detections of images or categories not in
 * the dataset are left out (the scorer has already skipped and counted them).
 */
export const analyzeDetectionErrors = (
  dataset: DetectionDataset,
  detections: ReadonlyArray<EvalDetection>,
  options: { readonly scoreThreshold?: number; readonly listLength?: number } = {}
): DetectionErrors => {
  const scoreThreshold = options.scoreThreshold ?? 0
  const listLength = options.listLength ?? ERROR_LIST_LENGTH
  const categories = [...dataset.categories].sort((a, b) => a.id - b.id)
  const catIndex = new Map(categories.map((c, k) => [c.id, k]))
  const images = [...new Set(dataset.images)].sort((a, b) => a - b)
  const imageSet = new Set(images)
  const cellKey = (image: number, category: number) => `${image}:${category}`
  const gtByCell = new Map<string, Array<GroundTruthBox>>()
  const gtByImage = new Map<number, Array<GroundTruthBox>>()
  for (const g of dataset.annotations) {
    if (!catIndex.has(g.category_id) || !imageSet.has(g.image_id)) continue
    const key = cellKey(g.image_id, g.category_id)
    const cell = gtByCell.get(key)
    if (cell) cell.push(g)
    else gtByCell.set(key, [g])
    const img = gtByImage.get(g.image_id)
    if (img) img.push(g)
    else gtByImage.set(g.image_id, [g])
  }
  const dtByCell = new Map<string, Array<EvalDetection>>()
  for (const d of detections) {
    if (!catIndex.has(d.category_id) || !imageSet.has(d.image_id)) continue
    const key = cellKey(d.image_id, d.category_id)
    const cell = dtByCell.get(key)
    if (cell) cell.push(d)
    else dtByCell.set(key, [d])
  }

  // Matching per cell, every detection (the score threshold applies when counting).
  const judged: Array<Judged> = []
  const maxDet = MAX_DETS[MAX_DETS.length - 1]
  for (const [key, dts] of dtByCell) {
    const gts = gtByCell.get(key) ?? []
    const sorted = [...dts].sort((a, b) => b.score - a.score).slice(0, maxDet)
    const taken = new Set<number>()
    for (const d of sorted) {
      let best = -1
      let bestIou = ERROR_IOU
      let bestSame = 0
      for (let g = 0; g < gts.length; g++) {
        if (isCrowd(gts[g])) continue
        const iou = boxIou(d.bbox, gts[g].bbox, false)
        if (iou > bestSame) bestSame = iou
        if (taken.has(g) || iou < bestIou) continue
        bestIou = iou
        best = g
      }
      if (best >= 0) {
        taken.add(best)
        judged.push({ detection: d, outcome: "tp", bestSameClassIou: bestIou, matched: gts[best] })
        continue
      }
      const inCrowd = gts.some((g) => isCrowd(g) && boxIou(d.bbox, g.bbox, true) >= ERROR_IOU)
      judged.push({ detection: d, outcome: inCrowd ? "ignored" : "fp", bestSameClassIou: bestSame })
    }
  }
  const nonCrowd = dataset.annotations.filter((g) =>
    !isCrowd(g) && catIndex.has(g.category_id) && imageSet.has(g.image_id)
  )
  const { curve, best } = thresholdCurve(judged, nonCrowd.length)

  // Counting at the score threshold: a box is found when the detection that matched it is kept.
  const kept = judged.filter((j) => j.detection.score >= scoreThreshold && j.outcome !== "ignored")
  const foundAtThreshold = new Set<GroundTruthBox>()
  for (const j of kept) if (j.matched !== undefined) foundAtThreshold.add(j.matched)

  const labels = [...categories.map((c) => c.name), "background"]
  const K = categories.length
  const matrix: Array<Array<number>> = labels.map(() => labels.map(() => 0))
  const perImage = new Map<number, { tp: number; fp: number; fn: number }>(
    images.map((id) => [id, { tp: 0, fp: 0, fn: 0 }])
  )
  const falsePositives: Array<FalsePositive> = []
  const explained = new Set<GroundTruthBox>()
  for (const j of kept) {
    const d = j.detection
    const k = catIndex.get(d.category_id)!
    const counts = perImage.get(d.image_id)!
    if (j.outcome === "tp") {
      counts.tp++
      matrix[k][k]++
      continue
    }
    counts.fp++
    // The missed other-class object this false positive covers best, counted once as a confusion.
    let confused: GroundTruthBox | undefined
    let confusedIou = ERROR_IOU
    for (const g of gtByImage.get(d.image_id) ?? []) {
      if (g.category_id === d.category_id || isCrowd(g) || foundAtThreshold.has(g) || explained.has(g)) continue
      const iou = boxIou(d.bbox, g.bbox, false)
      if (iou < confusedIou) continue
      confusedIou = iou
      confused = g
    }
    if (confused !== undefined) {
      explained.add(confused)
      matrix[catIndex.get(confused.category_id)!][k]++
    } else matrix[K][k]++
    falsePositives.push({
      image_id: d.image_id,
      category_id: d.category_id,
      category: categories[k].name,
      bbox: d.bbox,
      score: d.score,
      iou_same_class: j.bestSameClassIou,
      confused_with: confused === undefined ? null : {
        category_id: confused.category_id,
        category: categories[catIndex.get(confused.category_id)!].name,
        iou: confusedIou
      }
    })
  }
  const misses: Array<MissedObject> = []
  for (const g of nonCrowd) {
    if (foundAtThreshold.has(g)) continue
    perImage.get(g.image_id)!.fn++
    const k = catIndex.get(g.category_id)!
    if (!explained.has(g)) matrix[k][K]++
    const area = typeof g.area === "number" && Number.isFinite(g.area) ? g.area : g.bbox[2] * g.bbox[3]
    misses.push({ image_id: g.image_id, category_id: g.category_id, category: categories[k].name, bbox: g.bbox, area })
  }
  const perImageList = images.map((image_id) => ({ image_id, ...perImage.get(image_id)! }))
  return {
    task: "detection",
    iou_threshold: ERROR_IOU,
    score_threshold: scoreThreshold,
    per_image: perImageList,
    worst_images: top(perImageList.filter((i) => i.fp + i.fn > 0), (i) => i.fp + i.fn, listLength),
    confident_false_positives: top(falsePositives, (f) => f.score, listLength),
    largest_misses: top(misses, (m) => m.area, listLength),
    confusions: offDiagonal(labels, matrix, true),
    confusion_matrix: { labels, matrix },
    threshold_curve: curve,
    best_f1: best
  }
}

/** A classification prediction with the data unit it is about. */
export interface UnitPrediction extends LabelPair {
  readonly data_unit: number
  readonly score?: number | undefined
}

/** Analyzes classification predictions: the wrong ones by confidence, and the confused pairs. */
export const analyzeClassificationErrors = (
  predictions: ReadonlyArray<UnitPrediction>,
  confusion: { readonly labels: ReadonlyArray<string>; readonly matrix: ReadonlyArray<ReadonlyArray<number>> },
  options: { readonly listLength?: number } = {}
): ClassificationErrors => {
  const wrong = predictions.filter((p) => p.actual !== p.predicted)
    .map((p): Misclassified => ({
      data_unit: p.data_unit,
      actual: p.actual,
      predicted: p.predicted,
      score: p.score ?? null
    }))
  return {
    task: "classification",
    misclassified_count: wrong.length,
    misclassified: top(wrong, (m) => m.score ?? -1, options.listLength ?? ERROR_LIST_LENGTH),
    confusions: offDiagonal(confusion.labels, confusion.matrix, false)
  }
}
