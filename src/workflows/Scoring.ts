/**
 * Scoring predictions against a dataset version's ground truth, and comparing the result with
 * what the model's uploader reported. Pure functions between the parsers (`Predictions`), the
 * ground-truth collector and the metric computations; the analyze and compare workflows call them.
 */
import { Schema } from "effect"
import { ClassificationMetrics, classificationMetrics } from "./ClassificationMetrics.js"
import { COCO_SUMMARY_KEYS, type DetectionDataset, DetectionMetrics, evaluateDetections } from "./DetectionMetrics.js"
import {
  analyzeClassificationErrors,
  analyzeDetectionErrors,
  ClassificationErrors,
  DetectionErrors,
  type UnitPrediction
} from "./ErrorAnalysis.js"
import type { GroundTruthCollector } from "./GroundTruthSummary.js"
import {
  type ClassificationRow,
  type DetectionRow,
  type Parsed,
  PredictionsError,
  requireUsable,
  SkipCounter,
  SkippedRows
} from "./Predictions.js"

/** Options shared by both kinds of scoring. */
export interface ScoringOptions {
  /** Value of a ratio whose denominator is 0. Default 0. */
  readonly zeroDivision?: 0 | 1
  /** Detection only: minimum score counted in per-class precision/recall/F1. Default 0. */
  readonly scoreThreshold?: number
  /** Name used in error messages (the file name). */
  readonly name?: string
}

/** How many prediction rows were read, scored, and skipped (by reason). */
export const PredictionCounts = Schema.Struct({
  rows: Schema.Number.annotations({ description: "Rows read." }),
  used: Schema.Number.annotations({ description: "Rows scored." }),
  skipped: SkippedRows.annotations({ description: "Rows left out, by reason, with the first row numbers." })
})
export type PredictionCounts = typeof PredictionCounts.Type

/** Detection predictions scored. */
export const DetectionScore = Schema.Struct({
  task: Schema.Literal("detection"),
  metrics: DetectionMetrics.annotations({
    description: "The COCO figures, with each class's precision-recall curves."
  }),
  predictions: PredictionCounts,
  errors: DetectionErrors.annotations({
    description: "Where the detector goes wrong, at IoU 0.5 and the score threshold."
  })
})
export type DetectionScore = typeof DetectionScore.Type

/** Classification predictions scored. */
export const ClassificationScore = Schema.Struct({
  task: Schema.Literal("classification"),
  metrics: ClassificationMetrics,
  predictions: PredictionCounts,
  unpredicted: Schema.Number.annotations({
    description: "Data units with a ground-truth label but no prediction (left out of the metrics)."
  }),
  errors: ClassificationErrors.annotations({
    description: "The wrong predictions by confidence, and the confused classes."
  })
})
export type ClassificationScore = typeof ClassificationScore.Type

/** Either kind. */
export const Score = Schema.Union(DetectionScore, ClassificationScore)
export type Score = typeof Score.Type

/**
 * Scores detection rows. Rows whose image is no data unit of the version, or whose category has no
 * ground truth in it, are skipped and counted (they could not be evaluated, and dropping them
 * quietly would flatter the model).
 */
export const scoreDetections = (
  parsed: Parsed<DetectionRow>,
  dataset: DetectionDataset,
  options: ScoringOptions = {}
): DetectionScore | PredictionsError => {
  const images = new Set(dataset.images)
  const categories = new Set(dataset.categories.map((c) => c.id))
  const skips = new SkipCounter()
  skips.merge(parsed.skipped)
  const used: Array<DetectionRow> = []
  for (const r of parsed.rows) {
    if (!images.has(r.image_id)) skips.add("unknown_image", r.row)
    else if (!categories.has(r.category_id)) skips.add("unknown_category", r.row)
    else used.push(r)
  }
  const skipped = skips.result()
  const unusable = requireUsable({ ...parsed, skipped }, used.length, options.name)
  if (unusable) return unusable
  const metrics = evaluateDetections(dataset, used, {
    curves: true,
    ...(options.zeroDivision !== undefined ? { zeroDivision: options.zeroDivision } : {}),
    ...(options.scoreThreshold !== undefined ? { scoreThreshold: options.scoreThreshold } : {})
  })
  return {
    task: "detection",
    metrics,
    predictions: { rows: parsed.rows.length + parsed.skipped.total, used: used.length, skipped },
    errors: analyzeDetectionErrors(dataset, used, {
      ...(options.scoreThreshold !== undefined ? { scoreThreshold: options.scoreThreshold } : {})
    })
  }
}

/**
 * Scores classification rows: each row's data unit (an id, or a file name) must be a data unit of
 * the version with a ground-truth label; a second prediction for the same unit is skipped.
 */
export const scoreClassifications = (
  parsed: Parsed<ClassificationRow>,
  groundTruth: GroundTruthCollector,
  options: ScoringOptions = {}
): ClassificationScore | PredictionsError => {
  const labels = groundTruth.labels()
  if (labels.size === 0) {
    return new PredictionsError({
      detail:
        "the dataset version has no classification labels (no event carries data.label): nothing to score predictions against"
    })
  }
  const skips = new SkipCounter()
  skips.merge(parsed.skipped)
  const pairs: Array<UnitPrediction> = []
  const predicted = new Set<number>()
  for (const r of parsed.rows) {
    const unit = typeof r.data_unit === "number" ? r.data_unit : groundTruth.unitByFileName(r.data_unit)
    const actual = unit === undefined ? undefined : labels.get(unit)
    if (unit === undefined || actual === undefined) skips.add("unknown_data_unit", r.row)
    else if (predicted.has(unit)) skips.add("duplicate_prediction", r.row)
    else {
      predicted.add(unit)
      pairs.push({ actual, predicted: r.label, data_unit: unit, score: r.score })
    }
  }
  const skipped = skips.result()
  const unusable = requireUsable({ ...parsed, skipped }, pairs.length, options.name)
  if (unusable) return unusable
  // Every ground-truth class gets a row, also one the model never predicted and no sample used.
  const classes = [...new Set(labels.values())].sort()
  const metrics = classificationMetrics(pairs, {
    labels: classes,
    ...(options.zeroDivision !== undefined ? { zeroDivision: options.zeroDivision } : {})
  })
  return {
    task: "classification",
    metrics,
    predictions: { rows: parsed.rows.length + parsed.skipped.total, used: pairs.length, skipped },
    unpredicted: labels.size - predicted.size,
    errors: analyzeClassificationErrors(pairs, { labels: metrics.labels, matrix: metrics.confusionMatrix })
  }
}

/** The headline numbers of a score, flat: the names `compare` ranks by and discrepancies use. */
export const flatMetrics = (score: Score): Record<string, number> => {
  const out: Record<string, number> = {}
  if (score.task === "detection") {
    const m = score.metrics
    for (const key of COCO_SUMMARY_KEYS) {
      const v = m[key]
      if (v !== null) out[key] = v
    }
    out.precision = m.precision
    out.recall = m.recall
    out.f1 = m.f1
  } else {
    const m = score.metrics
    out.accuracy = m.accuracy
    out.precision_macro = m.macro.precision
    out.recall_macro = m.macro.recall
    out.f1_macro = m.macro.f1
    out.precision_weighted = m.weighted.precision
    out.recall_weighted = m.weighted.recall
    out.f1_weighted = m.weighted.f1
  }
  return out
}

const normalise = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]/g, "")

/** Reported metric names (normalised) and the computed metric each corresponds to. */
const ALIASES: Record<Score["task"], Record<string, string>> = {
  detection: {
    map: "AP",
    ap: "AP",
    map5095: "AP",
    ap5095: "AP",
    bboxmap: "AP",
    mapcoco: "AP",
    map50: "AP50",
    ap50: "AP50",
    bboxmap50: "AP50",
    map75: "AP75",
    ap75: "AP75",
    bboxmap75: "AP75",
    apsmall: "AP_small",
    mapsmall: "AP_small",
    apmedium: "AP_medium",
    mapmedium: "AP_medium",
    aplarge: "AP_large",
    maplarge: "AP_large",
    ar1: "AR1",
    mar1: "AR1",
    ar10: "AR10",
    mar10: "AR10",
    ar100: "AR100",
    mar100: "AR100",
    ar: "AR100",
    precision: "precision",
    recall: "recall",
    f1: "f1",
    f1score: "f1"
  },
  classification: {
    accuracy: "accuracy",
    acc: "accuracy",
    top1: "accuracy",
    top1accuracy: "accuracy",
    precision: "precision_macro",
    precisionmacro: "precision_macro",
    macroprecision: "precision_macro",
    recall: "recall_macro",
    recallmacro: "recall_macro",
    macrorecall: "recall_macro",
    f1: "f1_macro",
    f1score: "f1_macro",
    f1macro: "f1_macro",
    macrof1: "f1_macro",
    precisionweighted: "precision_weighted",
    weightedprecision: "precision_weighted",
    recallweighted: "recall_weighted",
    weightedrecall: "recall_weighted",
    f1weighted: "f1_weighted",
    weightedf1: "f1_weighted"
  }
}

/** One reported metric set against its computed counterpart. */
export const MetricComparison = Schema.Struct({
  metric: Schema.String.annotations({ description: "The name the model reports it under." }),
  reported: Schema.Number,
  computedAs: Schema.String.annotations({
    description: "The computed metric it was compared with (e.g. mAP is compared with AP)."
  }),
  computed: Schema.Number,
  difference: Schema.Number.annotations({ description: "computed − reported." }),
  agrees: Schema.Boolean.annotations({ description: "Whether the difference is within the tolerance." }),
  note: Schema.optionalWith(Schema.String, { exact: true }).annotations({
    description: "Why the two may differ (a reported percentage)."
  })
})
export type MetricComparison = typeof MetricComparison.Type

/**
 * Compares reported metrics with computed ones, by name (with the usual aliases: `mAP` is
 * AP@[.50:.95], `f1_score` is macro F1 for classification). Reported metrics without a computed
 * counterpart are listed in `uncompared`.
 */
export const compareReported = (
  reported: Readonly<Record<string, number>>,
  score: Score,
  tolerance: number
): { readonly comparisons: ReadonlyArray<MetricComparison>; readonly uncompared: ReadonlyArray<string> } => {
  const computed = flatMetrics(score)
  const aliases = ALIASES[score.task]
  const comparisons: Array<MetricComparison> = []
  const uncompared: Array<string> = []
  for (const [metric, value] of Object.entries(reported)) {
    const key = aliases[normalise(metric)] ?? (metric in computed ? metric : undefined)
    const c = key === undefined ? undefined : computed[key]
    if (key === undefined || c === undefined) {
      uncompared.push(metric)
      continue
    }
    const difference = c - value
    const agrees = Math.abs(difference) <= tolerance
    comparisons.push({
      metric,
      reported: value,
      computedAs: key,
      computed: c,
      difference,
      agrees,
      ...(value > 1 && c <= 1 ? { note: "the reported value is above 1: perhaps a percentage" } : {})
    })
  }
  return { comparisons, uncompared }
}
