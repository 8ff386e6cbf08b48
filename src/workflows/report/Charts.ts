/**
 * The charts of an evaluation report, as Vega-Lite specifications rendered to SVG in Node, and to
 * PNG for places that cannot show HTML.
 *
 * Vega-Lite is a grammar made for statistical charts: a chart is a small JSON description, and
 * Vega renders it to SVG without a browser or a canvas (its `View.toSVG` walks the scene graph).
 * resvg turns that SVG into PNG from a prebuilt binary. Both are loaded only when a chart is drawn,
 * so the SDK does not pay for them otherwise.
 *
 * Every builder takes plain data and returns a specification; nothing here knows about the
 * backend. Colours follow one palette per series name, so a class has the same colour in every
 * chart of a report.
 */
import type { TopLevelSpec } from "vega-lite"
import type { PrecisionRecallCurve } from "../DetectionMetrics.js"
import type { ConfusionTable, ThresholdPoint } from "../ErrorAnalysis.js"

/** A Vega-Lite specification, as JSON (its TypeScript types stay inside this module). */
export type ChartSpec = { readonly [key: string]: unknown }

/** A chart of a report: an id for anchors and file names, a title, and its specification. */
export interface Chart {
  readonly id: string
  readonly title: string
  readonly spec: ChartSpec
}

/** Checks a specification against Vega-Lite's types, and hides them from this module's interface. */
const vegaLite = (spec: TopLevelSpec): ChartSpec => spec as unknown as ChartSpec

const WIDTH = 560
const HEIGHT = 300
/** A quantitative axis from 0 to 1. */
const UNIT = { type: "quantitative" as const, scale: { domain: [0, 1] } }

/** Settings every chart shares: fonts that resvg finds on any system, no actions, a white ground. */
const base = {
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  background: "white",
  config: {
    font: "sans-serif",
    axis: { labelFontSize: 11, titleFontSize: 12 },
    legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 220 },
    title: { fontSize: 14, anchor: "start" }
  }
} as const

/** Precision at COCO's 101 recall points, one line per class. */
export const precisionRecallChart = (
  curves: ReadonlyArray<PrecisionRecallCurve>,
  iou: 0.5 | 0.75
): Chart => {
  const values = curves.flatMap((c) =>
    (iou === 0.5 ? c.iou50 : c.iou75).map((precision, r) => ({ class: c.name, recall: r / 100, precision }))
  )
  const label = iou === 0.5 ? "50" : "75"
  return {
    id: `pr-${label}`,
    title: `Precision–recall per class at IoU ${iou}`,
    spec: vegaLite({
      ...base,
      width: WIDTH,
      height: HEIGHT,
      title: `Precision–recall per class at IoU ${iou} (COCO interpolation)`,
      data: { values },
      mark: { type: "line", interpolate: "step-after", strokeWidth: 2 },
      encoding: {
        x: { field: "recall", title: "recall", ...UNIT },
        y: { field: "precision", title: "precision", ...UNIT },
        color: { field: "class", type: "nominal", title: "class" }
      }
    })
  }
}

/** AP (IoU .50:.95), AP50 and AP75 per class, as grouped horizontal bars. */
export const apPerClassChart = (
  perClass: ReadonlyArray<{
    readonly name: string
    readonly ap: number | null
    readonly ap50: number | null
    readonly ap75: number | null
  }>
): Chart => {
  const values = perClass.flatMap((c) =>
    ([["AP", c.ap], ["AP50", c.ap50], ["AP75", c.ap75]] as const)
      .filter(([, v]) => v !== null)
      .map(([metric, value]) => ({ class: c.name, metric, value }))
  )
  return {
    id: "ap-per-class",
    title: "AP per class",
    spec: vegaLite({
      ...base,
      width: WIDTH,
      title: "AP per class",
      data: { values },
      mark: "bar",
      encoding: {
        y: { field: "class", type: "nominal", title: null, sort: { field: "value", op: "max", order: "descending" } },
        yOffset: { field: "metric", type: "nominal" },
        x: { field: "value", title: "average precision", ...UNIT },
        color: { field: "metric", type: "nominal", title: "metric" },
        tooltip: [{ field: "class" }, { field: "metric" }, { field: "value", format: ".3f" }]
      }
    })
  }
}

/** Precision, recall and F1 as the score threshold rises, with the best-F1 threshold marked. */
export const thresholdChart = (curve: ReadonlyArray<ThresholdPoint>, best: ThresholdPoint | null): Chart => {
  const values = curve.flatMap((p) =>
    (["precision", "recall", "f1"] as const).map((measure) => ({
      threshold: p.threshold,
      measure,
      value: p[measure]
    }))
  )
  const rule = best === null ? [] : [{
    data: { values: [{ threshold: best.threshold, label: `best F1 ${best.f1.toFixed(3)} at ${best.threshold}` }] },
    layer: [
      {
        mark: { type: "rule", strokeDash: [4, 4], color: "#444" },
        encoding: { x: { field: "threshold", type: "quantitative" } }
      },
      {
        mark: { type: "text", align: "left", dx: 4, dy: -6, y: 0, color: "#222" },
        encoding: { x: { field: "threshold", type: "quantitative" }, text: { field: "label", type: "nominal" } }
      }
    ]
  }]
  return {
    id: "score-threshold",
    title: "Precision, recall and F1 by score threshold",
    spec: vegaLite({
      ...base,
      width: WIDTH,
      height: HEIGHT,
      title: "Precision, recall and F1 by score threshold (IoU 0.5)",
      layer: [
        {
          data: { values },
          mark: { type: "line", interpolate: "step-after", strokeWidth: 2 },
          encoding: {
            x: { field: "threshold", title: "score threshold", ...UNIT },
            y: { field: "value", title: null, ...UNIT },
            color: { field: "measure", type: "nominal", title: null }
          }
        },
        ...rule
      ]
    } as TopLevelSpec)
  }
}

/** COCO's AP for small, medium and large objects. */
export const apBySizeChart = (sizes: ReadonlyArray<{ readonly size: string; readonly ap: number }>): Chart => ({
  id: "ap-by-size",
  title: "AP by object size",
  spec: vegaLite({
    ...base,
    width: 360,
    height: 200,
    title: "AP by object size (small < 32², medium < 96², large)",
    data: { values: sizes.map((s) => ({ size: s.size, AP: s.ap })) },
    mark: "bar",
    encoding: {
      x: { field: "size", type: "nominal", sort: ["small", "medium", "large"], title: null },
      y: { field: "AP", ...UNIT }
    }
  })
})

/** A confusion matrix as a heat map with its counts; rows actual, columns predicted. */
export const confusionChart = (table: ConfusionTable, title: string): Chart => {
  const values = table.matrix.flatMap((row, a) =>
    row.map((count, p) => ({ actual: table.labels[a], predicted: table.labels[p], count }))
  )
  const size = Math.min(560, Math.max(160, 36 * table.labels.length))
  const order = [...table.labels]
  return {
    id: "confusion",
    title,
    spec: vegaLite({
      ...base,
      width: size,
      height: size,
      title,
      data: { values },
      encoding: {
        x: { field: "predicted", type: "nominal", sort: order, title: "predicted" },
        y: { field: "actual", type: "nominal", sort: order, title: "actual" }
      },
      layer: [
        { mark: "rect", encoding: { color: { field: "count", type: "quantitative", scale: { scheme: "blues" } } } },
        {
          mark: { type: "text", fontSize: 11 },
          encoding: {
            text: { field: "count", type: "quantitative" },
            color: { condition: { test: "datum.count === 0", value: "#999" }, value: "black" }
          }
        }
      ]
    } as TopLevelSpec)
  }
}

/** Reported and computed values of the metrics that have both, side by side. */
export const reportedVsComputedChart = (
  rows: ReadonlyArray<{ readonly metric: string; readonly reported: number; readonly computed: number }>
): Chart => ({
  id: "reported-vs-computed",
  title: "Reported vs computed",
  spec: vegaLite({
    ...base,
    width: WIDTH,
    title: "Reported (by the uploader) vs computed (from predictions)",
    data: {
      values: rows.flatMap((r) => [
        { metric: r.metric, source: "reported", value: r.reported },
        { metric: r.metric, source: "computed", value: r.computed }
      ])
    },
    mark: "bar",
    encoding: {
      y: { field: "metric", type: "nominal", title: null },
      yOffset: { field: "source", type: "nominal" },
      x: { field: "value", type: "quantitative", title: null },
      color: {
        field: "source",
        type: "nominal",
        title: null,
        scale: { domain: ["reported", "computed"], range: ["#9ca3af", "#2563eb"] }
      }
    }
  })
})

/** One bar per model: the ranked metric. */
export const rankingChart = (
  metric: string,
  rows: ReadonlyArray<{ readonly model: string; readonly value: number }>
): Chart => ({
  id: "ranking",
  title: `Models by ${metric}`,
  spec: vegaLite({
    ...base,
    width: WIDTH,
    title: `Models by ${metric}`,
    data: { values: rows.map((r) => ({ model: r.model, value: r.value })) },
    mark: "bar",
    encoding: {
      y: { field: "model", type: "nominal", sort: null, title: null },
      x: { field: "value", type: "quantitative", title: metric }
    }
  })
})

/** Per-class scores of every model as a heat map, and each model's difference from the first. */
export const perClassComparisonCharts = (
  metric: string,
  rows: ReadonlyArray<{ readonly model: string; readonly class: string; readonly value: number }>,
  reference: string
): ReadonlyArray<Chart> => {
  const refValues = new Map(rows.filter((r) => r.model === reference).map((r) => [r.class, r.value]))
  const differences = rows.filter((r) => r.model !== reference && refValues.has(r.class))
    .map((r) => ({ model: r.model, class: r.class, difference: r.value - refValues.get(r.class)! }))
  const heat: Chart = {
    id: "per-class",
    title: `${metric} per class and model`,
    spec: vegaLite({
      ...base,
      title: `${metric} per class and model`,
      data: { values: rows.map((r) => ({ ...r })) },
      encoding: {
        x: { field: "model", type: "nominal", sort: null, title: null },
        y: { field: "class", type: "nominal", title: null }
      },
      layer: [
        {
          mark: "rect",
          encoding: {
            color: { field: "value", type: "quantitative", scale: { scheme: "greens", domain: [0, 1] }, title: metric }
          }
        },
        {
          mark: { type: "text", fontSize: 11 },
          encoding: { text: { field: "value", type: "quantitative", format: ".3f" } }
        }
      ]
    } as TopLevelSpec)
  }
  if (differences.length === 0) return [heat]
  const diff: Chart = {
    id: "per-class-difference",
    title: `${metric} per class, difference from ${reference}`,
    spec: vegaLite({
      ...base,
      width: WIDTH,
      title: `${metric} per class: difference from ${reference}`,
      data: { values: differences },
      mark: "bar",
      encoding: {
        y: { field: "class", type: "nominal", title: null },
        yOffset: { field: "model", type: "nominal" },
        x: { field: "difference", type: "quantitative", title: `${metric} − ${metric} of ${reference}` },
        color: { field: "model", type: "nominal", title: "model" }
      }
    })
  }
  return [heat, diff]
}

/** Renders a chart to SVG text. */
export const renderSvg = async (chart: Chart): Promise<string> => {
  const [vega, lite] = await Promise.all([import("vega"), import("vega-lite")])
  const view = new vega.View(vega.parse(lite.compile(chart.spec as unknown as TopLevelSpec).spec), {
    renderer: "none"
  })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

/** Renders SVG text to a PNG image (twice the chart's size, for sharp text). */
export const renderPng = async (svg: string): Promise<Uint8Array> => {
  const { Resvg } = await import("@resvg/resvg-js")
  const rendered = new Resvg(svg, { fitTo: { mode: "zoom", value: 2 }, background: "white" }).render()
  return rendered.asPng()
}
