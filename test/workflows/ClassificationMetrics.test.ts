import { ConfusionMatrix } from "ml-confusion-matrix"
import { describe, expect, it } from "vitest"
import { classificationMetrics, type LabelPair } from "../../src/workflows/ClassificationMetrics.js"

const mulberry32 = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

describe("classificationMetrics", () => {
  it("agrees with ml-confusion-matrix on random data", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rand = mulberry32(seed)
      const classes = ["ant", "bee", "cat", "dog", "eel", "fox"].slice(0, 2 + (seed % 5))
      // Some seeds never predict the last class, to exercise zero division.
      const predictable = seed % 3 === 0 ? classes.slice(0, -1) : classes
      const n = 50 + Math.floor(rand() * 200)
      const pairs: Array<LabelPair> = []
      for (let i = 0; i < n; i++) {
        const actual = classes[Math.floor(rand() * classes.length)]
        const predicted = rand() < 0.6 && predictable.includes(actual)
          ? actual
          : predictable[Math.floor(rand() * predictable.length)]
        pairs.push({ actual, predicted })
      }
      const ours = classificationMetrics(pairs)
      const theirs = ConfusionMatrix.fromLabels(
        pairs.map((p) => p.actual),
        pairs.map((p) => p.predicted),
        { labels: [...ours.labels] }
      )
      expect(ours.confusionMatrix).toStrictEqual(theirs.getMatrix())
      expect(ours.accuracy).toBeCloseTo(theirs.getAccuracy(), 12)
      expect(ours.samples).toBe(theirs.getTotalCount())
      for (const c of ours.perClass) {
        expect(c.support).toBe(theirs.getPositiveCount(c.label))
        expect(c.tp).toBe(theirs.getTruePositiveCount(c.label))
        expect(c.fp).toBe(theirs.getFalsePositiveCount(c.label))
        expect(c.fn).toBe(theirs.getFalseNegativeCount(c.label))
        const precision = theirs.getPositivePredictiveValue(c.label)
        // ml-confusion-matrix answers NaN (0/0) where our policy answers 0 and says so.
        if (Number.isNaN(precision)) {
          expect(c.precision).toBe(0)
          expect(ours.zeroDivisions).toContainEqual({ label: c.label, metric: "precision" })
        } else expect(c.precision).toBeCloseTo(precision, 12)
        expect(c.recall).toBeCloseTo(theirs.getTruePositiveRate(c.label), 12)
        expect(c.f1).toBeCloseTo(theirs.getF1Score(c.label), 12)
      }
      const labels = ours.labels
      const macroRecall = labels.reduce((s, l) => s + theirs.getTruePositiveRate(l), 0) / labels.length
      expect(ours.macro.recall).toBeCloseTo(macroRecall, 12)
      const weightedF1 = labels.reduce((s, l) => s + theirs.getF1Score(l) * theirs.getPositiveCount(l), 0) / n
      expect(ours.weighted.f1).toBeCloseTo(weightedF1, 12)
      // Weighted recall is accuracy by construction: a check independent of both libraries.
      expect(ours.weighted.recall).toBeCloseTo(ours.accuracy, 12)
    }
  })

  it("applies the zero-division policy and lists where it did", () => {
    const pairs: Array<LabelPair> = [
      { actual: "cat", predicted: "cat" },
      { actual: "cat", predicted: "dog" },
      { actual: "bird", predicted: "dog" }
    ]
    const zero = classificationMetrics(pairs, { labels: ["cat", "dog", "bird", "eel"] })
    expect(zero.labels).toStrictEqual(["cat", "dog", "bird", "eel"])
    expect(zero.confusionMatrix).toStrictEqual([
      [1, 1, 0, 0],
      [0, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 0, 0]
    ])
    const byLabel = Object.fromEntries(zero.perClass.map((c) => [c.label, c]))
    expect(byLabel.cat).toMatchObject({ precision: 1, recall: 0.5, support: 2 })
    expect(byLabel.dog).toMatchObject({ precision: 0, recall: 0, f1: 0, support: 0 })
    expect(byLabel.bird).toMatchObject({ precision: 0, recall: 0, f1: 0, support: 1 })
    expect(zero.zeroDivisions).toStrictEqual([
      { label: "dog", metric: "recall" },
      { label: "bird", metric: "precision" },
      { label: "eel", metric: "precision" },
      { label: "eel", metric: "recall" },
      { label: "eel", metric: "f1" }
    ])
    const one = classificationMetrics(pairs, { labels: ["cat", "dog", "bird", "eel"], zeroDivision: 1 })
    const byLabel1 = Object.fromEntries(one.perClass.map((c) => [c.label, c]))
    expect(byLabel1.dog).toMatchObject({ precision: 0, recall: 1, f1: 0 })
    expect(byLabel1.eel).toMatchObject({ precision: 1, recall: 1, f1: 1 })
    expect(one.accuracy).toBeCloseTo(1 / 3, 12)
    // Weighted means only count classes with support, so the policy does not move them here.
    expect(one.weighted.recall).toBeCloseTo(zero.weighted.recall, 12)
  })
})
