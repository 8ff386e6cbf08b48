/**
 * Single-label classification metrics computed from (actual, predicted) pairs: accuracy, a
 * confusion matrix, per-class precision/recall/F1/support and their macro and weighted averages.
 *
 * Zero division is a policy, not an accident: a class that is never predicted has an undefined
 * precision, a class that never occurs an undefined recall. Those take the configured value
 * (default 0, as scikit-learn's `zero_division`) and are listed in `zeroDivisions`, so that a 0 that
 * means "undefined" can be told from a 0 that means "always wrong". F1 is 2·TP / (2·TP + FP + FN),
 * which is defined for every class that occurs or is predicted.
 */
import { Schema } from "effect"

/** Options of {@link classificationMetrics}. */
export interface ClassificationOptions {
  /** Value of a ratio whose denominator is 0. Default 0. */
  readonly zeroDivision?: 0 | 1
  /**
   * Labels in the order of the matrix (e.g. every class of the dataset). Labels seen in the pairs
   * but not given follow, sorted; labels given that never occur still get a row (support 0).
   */
  readonly labels?: ReadonlyArray<string>
}

/** Figures of one class. */
export const ClassMetrics = Schema.Struct({
  label: Schema.String,
  precision: Schema.Number,
  recall: Schema.Number,
  f1: Schema.Number,
  support: Schema.Number.annotations({ description: "How many samples actually have this label." }),
  tp: Schema.Number,
  fp: Schema.Number,
  fn: Schema.Number
})
export type ClassMetrics = typeof ClassMetrics.Type

/** Precision, recall and F1 averaged over classes. */
export const AveragedMetrics = Schema.Struct({
  precision: Schema.Number,
  recall: Schema.Number,
  f1: Schema.Number
})
export type AveragedMetrics = typeof AveragedMetrics.Type

/** The result of {@link classificationMetrics}. */
export const ClassificationMetrics = Schema.Struct({
  samples: Schema.Number,
  accuracy: Schema.Number,
  labels: Schema.Array(Schema.String),
  confusionMatrix: Schema.Array(Schema.Array(Schema.Number)).annotations({
    description: "Rows are actual labels, columns predicted labels, both in labels order."
  }),
  perClass: Schema.Array(ClassMetrics),
  macro: AveragedMetrics.annotations({ description: "Unweighted mean over labels." }),
  weighted: AveragedMetrics.annotations({ description: "Mean over labels weighted by support." }),
  zeroDivisionPolicy: Schema.Literal(0, 1).annotations({
    description: "The value a precision or recall with a zero denominator takes."
  }),
  zeroDivisions: Schema.Array(
    Schema.Struct({ label: Schema.String, metric: Schema.Literal("precision", "recall", "f1") })
  ).annotations({ description: "Which ratios were undefined and took the policy's value." })
})
export type ClassificationMetrics = typeof ClassificationMetrics.Type

/** One classified sample. */
export interface LabelPair {
  readonly actual: string
  readonly predicted: string
}

/** Computes classification metrics from (actual, predicted) pairs. */
export const classificationMetrics = (
  pairs: ReadonlyArray<LabelPair>,
  options: ClassificationOptions = {}
): ClassificationMetrics => {
  const zeroDivision = options.zeroDivision ?? 0
  const seen = new Set<string>(options.labels ?? [])
  for (const p of pairs) {
    seen.add(p.actual)
    seen.add(p.predicted)
  }
  // Given labels keep their order; labels seen but not given follow, sorted.
  const given = [...new Set(options.labels ?? [])]
  const givenSet = new Set(given)
  const labels = [...given, ...[...seen].filter((l) => !givenSet.has(l)).sort()]
  const index = new Map<string, number>()
  labels.forEach((l, i) => index.set(l, i))
  const L = labels.length
  const matrix = Array.from({ length: L }, () => new Array<number>(L).fill(0))
  let correct = 0
  for (const p of pairs) {
    const a = index.get(p.actual)!
    const b = index.get(p.predicted)!
    matrix[a][b]++
    if (a === b) correct++
  }
  const zeroDivisions: Array<{ label: string; metric: "precision" | "recall" | "f1" }> = []
  const ratio = (label: string, metric: "precision" | "recall" | "f1", num: number, den: number): number => {
    if (den > 0) return num / den
    zeroDivisions.push({ label, metric })
    return zeroDivision
  }
  const perClass: Array<ClassMetrics> = []
  for (let i = 0; i < L; i++) {
    const tp = matrix[i][i]
    let support = 0
    let predicted = 0
    for (let j = 0; j < L; j++) {
      support += matrix[i][j]
      predicted += matrix[j][i]
    }
    const fp = predicted - tp
    const fn = support - tp
    perClass.push({
      label: labels[i],
      precision: ratio(labels[i], "precision", tp, tp + fp),
      recall: ratio(labels[i], "recall", tp, tp + fn),
      f1: ratio(labels[i], "f1", 2 * tp, 2 * tp + fp + fn),
      support,
      tp,
      fp,
      fn
    })
  }
  const average = (weight: (c: ClassMetrics) => number): AveragedMetrics => {
    let total = 0
    let p = 0
    let r = 0
    let f = 0
    for (const c of perClass) {
      const w = weight(c)
      total += w
      p += w * c.precision
      r += w * c.recall
      f += w * c.f1
    }
    // No class at all, or all supports 0 for the weighted mean: the average itself is undefined.
    if (total === 0) return { precision: zeroDivision, recall: zeroDivision, f1: zeroDivision }
    return { precision: p / total, recall: r / total, f1: f / total }
  }
  return {
    samples: pairs.length,
    accuracy: pairs.length === 0 ? zeroDivision : correct / pairs.length,
    labels,
    confusionMatrix: matrix,
    perClass,
    macro: average(() => 1),
    weighted: average((c) => c.support),
    zeroDivisionPolicy: zeroDivision,
    zeroDivisions
  }
}
