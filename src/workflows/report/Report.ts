/**
 * Evaluation reports: one self-contained HTML file per analysis or comparison.
 *
 * The file needs nothing but itself: charts are inline SVG, thumbnails are data URIs, styles are
 * inline, and there is no script, so it opens from disk, offline, in any browser, and prints. Each
 * section that cannot be shown (no predictions, no size-specific ground truth, no image files…)
 * says so in its place and again in the closing list, so a short report is never mistaken for a
 * good one.
 */
import { Effect, Schema } from "effect"
import * as Fsp from "node:fs/promises"
import * as Path from "node:path"
import type { Analysis } from "../Analyze.js"
import type { Comparison } from "../Compare.js"
import type { DetectionErrors } from "../ErrorAnalysis.js"
import type { ClassificationScore, DetectionScore } from "../Scoring.js"
import { flatMetrics } from "../Scoring.js"
import {
  apBySizeChart,
  apPerClassChart,
  type Chart,
  confusionChart,
  perClassComparisonCharts,
  precisionRecallChart,
  rankingChart,
  renderPng,
  renderSvg,
  reportedVsComputedChart,
  thresholdChart
} from "./Charts.js"

/** A report could not be drawn or written. */
export class ReportError extends Schema.TaggedError<ReportError>()("ReportError", {
  path: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `report ${this.path}: ${this.detail}`
  }
}

/** An image shown next to an error list: a small picture with the boxes drawn over it. */
export interface Thumbnail {
  /** A `data:` URI of the image. */
  readonly dataUri: string
  readonly width: number
  readonly height: number
  /** The file the picture comes from, shown as its caption. */
  readonly source: string
}

/** What a report is drawn from besides the result itself. */
export interface ReportOptions {
  /** Thumbnails of images, by image id (detection) — only the images the error lists name are asked for. */
  readonly thumbnails?: ReadonlyMap<number, Thumbnail>
  /** The moment written in the header; the current time by default. */
  readonly generatedAt?: Date
}

/** The charts and the text of a report, before rendering. */
export interface ReportPlan {
  readonly title: string
  readonly charts: ReadonlyArray<Chart>
  readonly sections: ReadonlyArray<Section>
  /** What the report could not show, and why. */
  readonly missing: ReadonlyArray<string>
}

/** A part of the page: a heading, then charts (by id) and HTML fragments, in order. */
interface Section {
  readonly heading: string
  readonly parts: ReadonlyArray<{ readonly chart: string } | { readonly html: string }>
}

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c]!)

const fmt = (v: number | null | undefined): string =>
  v === null || v === undefined ? "—" : Number.isInteger(v) ? String(v) : v.toFixed(3)

const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number | null>>): string =>
  `<table><thead><tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>${
    rows.map((r) =>
      `<tr>${r.map((c) => `<td>${typeof c === "number" || c === null ? fmt(c) : escapeHtml(c)}</td>`).join("")}</tr>`
    ).join("")
  }</tbody></table>`

const note = (text: string): string => `<p class="note">${escapeHtml(text)}</p>`

/** A thumbnail with boxes: ground truth green, false positives red, dashed for misses. */
const thumbnail = (
  thumb: Thumbnail,
  boxes: ReadonlyArray<{ readonly bbox: ReadonlyArray<number>; readonly kind: "gt" | "fp" | "miss" }>
): string => {
  const colours = { gt: "#16a34a", fp: "#dc2626", miss: "#f59e0b" }
  const stroke = Math.max(1, Math.round(Math.max(thumb.width, thumb.height) / 120))
  const rects = boxes.map((b) =>
    `<rect x="${b.bbox[0]}" y="${b.bbox[1]}" width="${b.bbox[2]}" height="${b.bbox[3]}" fill="none" stroke="${
      colours[b.kind]
    }" stroke-width="${stroke}"${b.kind === "miss" ? ` stroke-dasharray="${stroke * 3}"` : ""}/>`
  ).join("")
  return `<figure class="thumb"><svg viewBox="0 0 ${thumb.width} ${thumb.height}" width="200" role="img">` +
    `<image href="${thumb.dataUri}" width="${thumb.width}" height="${thumb.height}"/>${rects}</svg>` +
    `<figcaption>${escapeHtml(thumb.source)}</figcaption></figure>`
}

/** The detection part of an analysis: curves, per-class AP, thresholds, sizes, confusion, errors. */
const detectionSections = (
  score: DetectionScore,
  options: ReportOptions,
  charts: Array<Chart>,
  missing: Array<string>
): Array<Section> => {
  const m = score.metrics
  const e = score.errors
  const sections: Array<Section> = []
  const curves = m.curves ?? []
  if (curves.length > 0) {
    charts.push(precisionRecallChart(curves, 0.5), precisionRecallChart(curves, 0.75))
    sections.push({ heading: "Precision–recall", parts: [{ chart: "pr-50" }, { chart: "pr-75" }] })
  } else missing.push("precision–recall curves: no class has ground truth boxes")
  const withAp = m.perClass.filter((c) => c.ap !== null)
  if (withAp.length > 0) {
    charts.push(apPerClassChart(withAp))
    sections.push({
      heading: "Per class",
      parts: [
        { chart: "ap-per-class" },
        {
          html: table(
            [
              "class",
              "ground truth",
              "detections",
              "AP",
              "AP50",
              "AP75",
              "TP",
              "FP",
              "FN",
              "precision",
              "recall",
              "F1"
            ],
            m.perClass.map((c) => [
              c.name,
              c.support,
              c.detections,
              c.ap,
              c.ap50,
              c.ap75,
              c.tp,
              c.fp,
              c.fn,
              c.precision,
              c.recall,
              c.f1
            ])
          )
        }
      ]
    })
  }
  if (e.threshold_curve.length > 0) {
    charts.push(thresholdChart(e.threshold_curve, e.best_f1))
    sections.push({
      heading: "Score threshold",
      parts: [
        { chart: "score-threshold" },
        {
          html: e.best_f1 === null ? "" : note(
            `Best F1 ${fmt(e.best_f1.f1)} at score ≥ ${e.best_f1.threshold} (precision ${fmt(e.best_f1.precision)}, ` +
              `recall ${fmt(e.best_f1.recall)}).`
          )
        }
      ]
    })
  } else missing.push("score-threshold curve: no detection could be judged")
  const sizes = (["small", "medium", "large"] as const).flatMap((size) => {
    const ap = m[`AP_${size}`]
    return ap === null ? [] : [{ size, ap }]
  })
  if (sizes.length > 0) {
    charts.push(apBySizeChart(sizes))
    sections.push({ heading: "Object size", parts: [{ chart: "ap-by-size" }] })
  } else missing.push("AP by object size: no ground truth in any size range")
  charts.push(confusionChart(e.confusion_matrix, "Confusion at IoU 0.5 (rows actual, columns predicted)"))
  sections.push({
    heading: "Confusion between classes",
    parts: [
      { chart: "confusion" },
      {
        html: e.confusions.length === 0 ? note("No class was detected as another.") : table(
          ["actual", "detected as", "count"],
          e.confusions.map((c) => [c.actual, c.predicted, c.count])
        )
      }
    ]
  })
  sections.push(errorSection(e, options, missing))
  return sections
}

/** The error lists of a detection analysis, with thumbnails of the images they name when given. */
const errorSection = (e: DetectionErrors, options: ReportOptions, missing: Array<string>): Section => {
  const thumbs = options.thumbnails
  if (thumbs === undefined || thumbs.size === 0) {
    missing.push("image thumbnails: no image files were available to the report")
  }
  const picture = (imageId: number, boxes: Parameters<typeof thumbnail>[1]) => {
    const t = thumbs?.get(imageId)
    return t === undefined ? "" : thumbnail(t, boxes)
  }
  const worst = e.worst_images.length === 0
    ? note("Every image is free of errors at this threshold.")
    : table(["image", "TP", "FP", "FN"], e.worst_images.map((i) => [String(i.image_id), i.tp, i.fp, i.fn])) +
      `<div class="thumbs">${
        e.worst_images.slice(0, 8).map((i) =>
          picture(i.image_id, [
            ...e.confident_false_positives.filter((f) => f.image_id === i.image_id).map((f) => ({
              bbox: f.bbox,
              kind: "fp" as const
            })),
            ...e.largest_misses.filter((x) => x.image_id === i.image_id).map((x) => ({
              bbox: x.bbox,
              kind: "miss" as const
            }))
          ])
        ).join("")
      }</div>`
  const fps = e.confident_false_positives.length === 0 ? note("No false positives.") : table(
    ["image", "class", "score", "best IoU with its class", "covers", "box [x, y, w, h]"],
    e.confident_false_positives.map((f) => [
      String(f.image_id),
      f.category,
      f.score,
      f.iou_same_class,
      f.confused_with === null ? "background" : `${f.confused_with.category} (IoU ${fmt(f.confused_with.iou)})`,
      `[${f.bbox.map((v) => fmt(v)).join(", ")}]`
    ])
  )
  const misses = e.largest_misses.length === 0 ? note("No object was missed.") : table(
    ["image", "class", "area", "box [x, y, w, h]"],
    e.largest_misses.map((x) => [String(x.image_id), x.category, x.area, `[${x.bbox.map((v) => fmt(v)).join(", ")}]`])
  )
  return {
    heading: "Errors",
    parts: [
      { html: `<h3>Images with the most errors</h3>${worst}` },
      { html: `<h3>Most confident false positives</h3>${fps}` },
      { html: `<h3>Largest missed objects</h3>${misses}` }
    ]
  }
}

/** The classification part of an analysis: confusion matrix, per-class table, wrong predictions. */
const classificationSections = (score: ClassificationScore, charts: Array<Chart>): Array<Section> => {
  const m = score.metrics
  charts.push(confusionChart({ labels: m.labels, matrix: m.confusionMatrix }, "Confusion matrix (rows actual)"))
  return [
    { heading: "Confusion between classes", parts: [{ chart: "confusion" }] },
    {
      heading: "Per class",
      parts: [{
        html: table(
          ["class", "support", "precision", "recall", "F1"],
          m.perClass.map((c) => [c.label, c.support, c.precision, c.recall, c.f1])
        )
      }]
    },
    {
      heading: "Errors",
      parts: [{
        html: `<h3>Misclassified, most confident first (${score.errors.misclassified_count} in all)</h3>` +
          (score.errors.misclassified.length === 0 ? note("Every prediction is right.") : table(
            ["data unit", "actual", "predicted", "score"],
            score.errors.misclassified.map((x) => [String(x.data_unit), x.actual, x.predicted, x.score])
          ))
      }]
    }
  ]
}

/** Plans the report of an analysis: which charts, which tables, what is missing. */
export const planAnalysisReport = (analysis: Analysis, options: ReportOptions = {}): ReportPlan => {
  const charts: Array<Chart> = []
  const missing: Array<string> = []
  const sections: Array<Section> = []
  const a = analysis
  const label = [a.model.name, a.model.version].filter((w) => w !== null).join(" ")
  const title = `Model ${a.model.id}${label === "" ? "" : ` (${label})`} on dataset version ${a.datasetVersion.id}`
  const overview: Array<string> = []
  if (a.computed !== undefined) {
    const flat = flatMetrics(a.computed)
    overview.push(table(["computed metric", "value"], Object.entries(flat).map(([k, v]) => [k, v])))
    overview.push(
      note(
        `${a.computed.predictions.used} of ${a.computed.predictions.rows} prediction rows used; ` +
          `${a.computed.predictions.skipped.total} skipped.`
      )
    )
  } else {
    missing.push("computed metrics, curves, confusion and errors: no predictions were given")
  }
  const reported = Object.entries(a.reported.metrics)
  overview.push(
    reported.length === 0
      ? note("The model has no reported metrics.")
      : table(["reported metric (by the uploader)", "value"], reported.map(([k, v]) => [k, v]))
  )
  sections.push({ heading: "Overview", parts: overview.map((html) => ({ html })) })
  if (a.comparisons.length > 0) {
    charts.push(reportedVsComputedChart(a.comparisons.map((c) => ({
      metric: c.metric === c.computedAs ? c.metric : `${c.metric} (${c.computedAs})`,
      reported: c.reported,
      computed: c.computed
    }))))
    sections.push({
      heading: "Reported vs computed",
      parts: [
        { chart: "reported-vs-computed" },
        {
          html: table(
            ["metric", "reported", "computed as", "computed", "difference", "agrees"],
            a.comparisons.map((c) => [
              c.metric,
              c.reported,
              c.computedAs,
              c.computed,
              c.difference,
              c.agrees ? "yes" : "NO"
            ])
          )
        }
      ]
    })
  } else if (a.computed !== undefined) {
    missing.push("reported vs computed: no reported metric has a computed counterpart")
  }
  if (a.computed?.task === "detection") sections.push(...detectionSections(a.computed, options, charts, missing))
  if (a.computed?.task === "classification") sections.push(...classificationSections(a.computed, charts))
  const gt = a.groundTruth
  sections.push({
    heading: "Ground truth",
    parts: [
      {
        html: note(`${gt.events} events on ${gt.dataUnits} data units.`) +
          table(["class", "annotations"], Object.entries(gt.classes).sort((x, y) => y[1] - x[1])) +
          (Object.keys(gt.unusableAnnotations).length === 0 ? "" : table(
            ["unusable annotations", "count"],
            Object.entries(gt.unusableAnnotations)
          ))
      }
    ]
  })
  if (a.notes.length > 0) sections.push({ heading: "Notes", parts: a.notes.map((n) => ({ html: note(n) })) })
  return { title, charts, sections, missing }
}

/** Plans the report of a comparison: the ranking and, when recomputed, the per-class differences. */
export const planComparisonReport = (comparison: Comparison): ReportPlan => {
  const c = comparison
  const charts: Array<Chart> = []
  const missing: Array<string> = []
  const name = (m: { readonly id: number; readonly name: string | null }) => `${m.id}${m.name ? ` ${m.name}` : ""}`
  const sections: Array<Section> = []
  if (c.ranking.length > 0) {
    charts.push(rankingChart(c.metric, c.ranking.map((r) => ({ model: name(r.model), value: r.value }))))
  }
  sections.push({
    heading: "Ranking",
    parts: [
      ...(c.ranking.length > 0 ? [{ chart: "ranking" }] : []),
      {
        html: table(
          ["rank", "model", c.metric, ...(c.source === "computed" ? ["reported"] : [])],
          c.ranking.map((r) => [
            r.rank,
            name(r.model),
            r.value,
            ...(c.source === "computed" ? [r.reported ?? null] : [])
          ])
        ) + note(
          `${c.source === "computed" ? "Computed from predictions" : "As reported by the uploaders"}; ` +
            `${c.direction} is better (${c.directionSource}).`
        )
      },
      ...(c.missing.length === 0 ? [] : [{
        html: table(["not ranked", "why"], c.missing.map((m) => [name(m.model), m.reason]))
      }])
    ]
  })
  const perClass = c.perClass
  if (perClass !== undefined && perClass.rows.length > 0) {
    const models = new Map([...c.ranking, ...c.missing].map((r) => [r.model.id, name(r.model)]))
    const rows = perClass.rows.map((r) => ({
      model: models.get(r.model_id) ?? String(r.model_id),
      class: r.class,
      value: r.value
    }))
    const reference = c.best === null ? rows[0].model : name(c.best.model)
    const classCharts = perClassComparisonCharts(perClass.metric, rows, reference)
    charts.push(...classCharts)
    sections.push({ heading: "Per class", parts: classCharts.map((ch) => ({ chart: ch.id })) })
  } else {
    missing.push("per-class differences: the metrics were not recomputed from predictions (use recompute)")
  }
  if (c.notes.length > 0) sections.push({ heading: "Notes", parts: c.notes.map((n) => ({ html: note(n) })) })
  return {
    title: `Comparison of ${c.ranking.length + c.missing.length} models by ${c.metric}`,
    charts,
    sections,
    missing
  }
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#111}
h1{font-size:1.5rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}h3{font-size:1rem;margin-top:1.2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}
th{background:#f4f4f5}td{font-variant-numeric:tabular-nums}.note{color:#444}.chart{margin:1rem 0}
.thumbs{display:flex;flex-wrap:wrap;gap:.5rem}.thumb{margin:0}.thumb figcaption{font-size:11px;color:#555}
.missing li{color:#92400e}`

/** Renders a planned report into one HTML document. */
export const renderReport = async (plan: ReportPlan, options: ReportOptions = {}): Promise<string> => {
  const svgs = new Map<string, string>()
  for (const chart of plan.charts) svgs.set(chart.id, await renderSvg(chart))
  const body = plan.sections.map((s) =>
    `<section><h2>${escapeHtml(s.heading)}</h2>${
      s.parts.map((p) =>
        "chart" in p
          ? `<figure class="chart" id="chart-${p.chart}" data-chart="${p.chart}">${svgs.get(p.chart) ?? ""}</figure>`
          : p.html
      ).join("")
    }</section>`
  ).join("\n")
  const missing = plan.missing.length === 0
    ? note("Everything the report covers could be shown.")
    : `<ul class="missing">${plan.missing.map((m) => `<li>${escapeHtml(m)}</li>`).join("")}</ul>`
  const when = (options.generatedAt ?? new Date()).toISOString()
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(plan.title)}</title>` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>` +
    `<body><h1>${escapeHtml(plan.title)}</h1><p class="note">synapse-ml evaluation report, ${when}</p>\n${body}\n` +
    `<section><h2>Not shown</h2>${missing}</section></body></html>\n`
}

/** Writes a file atomically (a temporary file beside it, then a rename). */
const writeAtomically = (path: string, data: string | Uint8Array) =>
  Effect.tryPromise({
    try: async () => {
      await Fsp.mkdir(Path.dirname(Path.resolve(path)), { recursive: true })
      const temp = `${path}.${process.pid}.tmp`
      try {
        await Fsp.writeFile(temp, data)
        await Fsp.rename(temp, path)
      } catch (e) {
        await Fsp.rm(temp, { force: true })
        throw e
      }
    },
    catch: (e) => new ReportError({ path, detail: (e as Error).message })
  })

/** Draws a planned report and writes it to `path` as one HTML file; returns its size in bytes. */
export const writeReport = (
  path: string,
  plan: ReportPlan,
  options: ReportOptions = {}
): Effect.Effect<number, ReportError> =>
  Effect.tryPromise({
    try: () => renderReport(plan, options),
    catch: (e) => new ReportError({ path, detail: `drawing the charts failed: ${(e as Error).message}` })
  }).pipe(Effect.tap((html) => writeAtomically(path, html)), Effect.map((html) => Buffer.byteLength(html)))

/** Draws each chart of a plan as PNG, by chart id. */
export const chartImages = (
  plan: ReportPlan
): Effect.Effect<ReadonlyArray<{ id: string; title: string; png: Uint8Array }>, ReportError> =>
  Effect.tryPromise({
    try: async () => {
      const out: Array<{ id: string; title: string; png: Uint8Array }> = []
      for (const chart of plan.charts) {
        out.push({ id: chart.id, title: chart.title, png: await renderPng(await renderSvg(chart)) })
      }
      return out
    },
    catch: (e) => new ReportError({ path: "(charts)", detail: `drawing the charts failed: ${(e as Error).message}` })
  })

/** Writes each chart of a plan as `<dir>/<id>.png`; returns the paths. */
export const writeChartImages = (dir: string, plan: ReportPlan): Effect.Effect<ReadonlyArray<string>, ReportError> =>
  chartImages(plan).pipe(
    Effect.flatMap((images) =>
      Effect.forEach(images, (image) => {
        const path = Path.join(dir, `${image.id}.png`)
        return writeAtomically(path, image.png).pipe(Effect.as(path))
      })
    )
  )
