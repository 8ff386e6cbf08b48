/**
 * Evaluation reports, opened in a real browser: an analysis of predictions made from the demo
 * ground truth with known mistakes (dropped, shifted and relabelled boxes, stray boxes), written as
 * HTML and PNG, then loaded from disk in the system's Chromium with no network. The page must log
 * no error, hold every chart, and each chart's screenshot must have ink in it.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type Browser, chromium } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Synapse from "../../src/services/Synapse.js"
import { analyzeModel } from "../../src/workflows/Analyze.js"
import { compareModels } from "../../src/workflows/Compare.js"
import { parseDetections, PredictionsError } from "../../src/workflows/Predictions.js"
import { planAnalysisReport, writeReport } from "../../src/workflows/report/Report.js"
import { scoreDetections } from "../../src/workflows/Scoring.js"
import { call } from "../support/http.js"
import { imageIdsByEvent, isRich } from "../support/profile.js"
import { type TestSandbox, useSandbox } from "../support/sandbox.js"
import { ok, runEither, sdkLayer } from "../support/sdk.js"

const CHROMIUM = "/usr/bin/chromium"
const work = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-report-test-"))
let browser: Browser
beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (.ci/run does)`)
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] })
})
afterAll(async () => {
  await browser?.close()
  if (process.env.KEEP_REPORTS === undefined) fs.rmSync(work, { recursive: true, force: true })
})

const run = <A, E>(sb: TestSandbox, effect: Effect.Effect<A, E, Synapse.Services>) =>
  runEither(sdkLayer(sb, work), effect)

/** Opens a report from disk with the network cut off; returns the page and what it logged. */
const open = async (file: string) => {
  const context = await browser.newContext({ offline: true })
  await context.route("**/*", (route) => route.request().url().startsWith("file:") ? route.continue() : route.abort())
  const page = await context.newPage()
  const problems: Array<string> = []
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`)
  })
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`))
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`))
  await page.goto(`file://${file}`)
  return { page, problems, context }
}

/** The share of a screenshot's pixels that are not (near) white, measured in the page itself. */
const ink = async (page: import("playwright-core").Page, png: Buffer): Promise<number> =>
  page.evaluate(async (b64) => {
    // Runs in the page: the DOM is there, though this project's TypeScript settings do not describe it.
    const { Image, document } = globalThis as any
    const img = new Image()
    img.src = `data:image/png;base64,${b64}`
    await img.decode()
    const canvas = document.createElement("canvas")
    canvas.width = img.width
    canvas.height = img.height
    const g = canvas.getContext("2d")!
    g.drawImage(img, 0, 0)
    const data = g.getImageData(0, 0, img.width, img.height).data
    let dark = 0
    for (let i = 0; i < data.length; i += 4) if (data[i] + data[i + 1] + data[i + 2] < 600) dark++
    return dark / (data.length / 4)
  }, png.toString("base64"))

describe("evaluation reports", () => {
  const sandbox = useSandbox()

  /** Predictions from the ground truth with mistakes of every kind the error lists report. */
  const predictionsWithMistakes = async (sb: TestSandbox) => {
    const view = await sb.richView()
    const versions = (await call(`${view.url}/ground_truth_dataset_versions/?page_size=100`, { headers: view.headers }))
      .body.results
    const version = versions.find((v: any) => v.ground_truth_dataset.name === "Street scenes" && v.version === "v2.0")
    const events = (await call(
      `${view.url}/sdk/ground_truth_events/?ground_truth_dataset_versions=${version.id}&page_size=1000`,
      { headers: view.headers }
    )).body.results
    const detector = (await call(`${view.url}/models/?project=1&model_type=detection&is_active=true`, {
      headers: view.headers
    })).body.results[0]
    const images = await imageIdsByEvent(sb, version.id)
    const names = [...new Set(events.flatMap((e: any) => e.data.annotations.map((a: any) => a.category as string)))]
      .sort() as Array<string>
    const categoryId = (a: any): number => (isRich() ? a.category_id : names.indexOf(a.category) + 1)
    const rows: Array<any> = []
    let n = 0
    for (const e of events) {
      for (const a of e.data.annotations) {
        if (a.iscrowd === 1 && isRich()) continue
        n++
        const image_id = images.get(e.id)
        const [x, y, w, h] = a.bbox
        if (n % 7 === 0) continue // missed
        if (n % 11 === 0) rows.push({ image_id, category_id: categoryId(a), bbox: [x + w, y + h, w, h], score: 0.97 })
        else if (n % 13 === 0) {
          rows.push({ image_id, category_id: (categoryId(a) % names.length) + 1, bbox: a.bbox, score: 0.9 })
        } else rows.push({ image_id, category_id: categoryId(a), bbox: a.bbox, score: 0.4 + (n % 50) / 100 })
      }
    }
    return { version, detector, rows }
  }

  it("writes an analysis report that opens offline with every chart drawn, and PNG charts", async () => {
    const sb = sandbox()
    const { version, detector, rows } = await predictionsWithMistakes(sb)
    const file = path.join(work, "analysis.html")
    const charts = path.join(work, "charts")
    const a = ok(
      await run(
        sb,
        analyzeModel(
          { model_id: detector.id, ground_truth_version_id: version.id, predictions: JSON.stringify(rows) },
          { report: { path: file, chartsDir: charts } }
        )
      )
    )
    expect(a.computed?.task).toBe("detection")
    if (a.computed?.task !== "detection") return
    const e = a.computed.errors
    expect(e.worst_images.length).toBeGreaterThan(0)
    expect(e.confident_false_positives[0].score).toBe(0.97)
    expect(e.confusions.length).toBeGreaterThan(0)
    expect(e.best_f1).not.toBeNull()
    const ids = ["reported-vs-computed", "pr-50", "pr-75", "ap-per-class", "score-threshold", "ap-by-size", "confusion"]
      .filter((id) => id !== "reported-vs-computed" || a.comparisons.length > 0)
    expect(a.report).toStrictEqual({
      path: file,
      bytes: fs.statSync(file).size,
      charts: ids.map((id) => path.join(charts, `${id}.png`)),
      missing: []
    })
    for (const png of a.report!.charts) expect(fs.readFileSync(png).subarray(1, 4).toString()).toBe("PNG")

    const { page, problems, context } = await open(file)
    try {
      expect(await page.locator("figure.chart").evaluateAll((els) => els.map((el) => el.getAttribute("data-chart"))))
        .toStrictEqual(ids)
      for (const id of ids) {
        const chart = page.locator(`#chart-${id} svg`)
        expect(await chart.count()).toBe(1)
        expect(await ink(page, await chart.screenshot())).toBeGreaterThan(0.01)
      }
      // Thumbnails of the worst images, each with its boxes drawn over it.
      const thumbs = page.locator("figure.thumb")
      expect(await thumbs.count()).toBe(Math.min(8, e.worst_images.length))
      expect(await ink(page, await thumbs.first().screenshot())).toBeGreaterThan(0.05)
      expect(await page.locator("text=Most confident false positives").count()).toBe(1)
      expect(problems).toStrictEqual([])
    } finally {
      await context.close()
    }
  })

  it("says what it cannot show: no predictions, and a comparison without recompute", async () => {
    const sb = sandbox()
    const { version, detector } = await predictionsWithMistakes(sb)
    const file = path.join(work, "plain.html")
    const a = ok(
      await run(
        sb,
        analyzeModel({ model_id: detector.id, ground_truth_version_id: version.id }, { report: { path: file } })
      )
    )
    expect(a.report?.missing).toStrictEqual([
      "computed metrics, curves, confusion and errors: no predictions were given"
    ])
    const compared = path.join(work, "compare.html")
    const c = ok(
      await run(sb, compareModels({ model_ids: [detector.id], metric: "mAP" }, { report: { path: compared } }))
    )
    expect(c.report?.missing).toStrictEqual([
      "per-class differences: the metrics were not recomputed from predictions (use recompute)"
    ])
    for (const f of [file, compared]) {
      const { page, problems, context } = await open(f)
      try {
        expect(await page.locator(".missing li").count()).toBe(1)
        expect(problems).toStrictEqual([])
      } finally {
        await context.close()
      }
    }
  })

  it("draws per-class differences when models are recomputed", async () => {
    const sb = sandbox()
    const { version, detector, rows } = await predictionsWithMistakes(sb)
    const view = await sb.richView()
    const other = (await call(`${view.url}/models/?project=1&model_type=detection&page_size=5`, {
      headers: view.headers
    })).body.results.find((m: any) => m.id !== detector.id)
    const file = path.join(work, "recompute.html")
    const c = ok(
      await run(
        sb,
        compareModels(
          {
            model_ids: [detector.id, other.id],
            metric: "AP",
            recompute: {
              ground_truth_version_id: version.id,
              predictions: {
                [detector.id]: JSON.stringify(rows),
                [other.id]: JSON.stringify(rows.filter((_, i) => i % 3 !== 0))
              }
            }
          },
          { report: { path: file } }
        )
      )
    )
    expect(c.perClass?.metric).toBe("AP")
    expect(c.report?.missing).toStrictEqual([])
    const { page, problems, context } = await open(file)
    try {
      for (const id of ["ranking", "per-class", "per-class-difference"]) {
        expect(await ink(page, await page.locator(`#chart-${id} svg`).screenshot())).toBeGreaterThan(0.01)
      }
      expect(problems).toStrictEqual([])
    } finally {
      await context.close()
    }
  })

  it("a version with no usable annotations: predictions fail clearly, the report lists what it lacks", async () => {
    const dataset = { images: [1, 2], categories: [], annotations: [] }
    const parsed = parseDetections(JSON.stringify([{ image_id: 1, category_id: 1, bbox: [0, 0, 5, 5], score: 0.5 }]))
    if (parsed instanceof PredictionsError) throw parsed
    const failed = scoreDetections(parsed, dataset)
    expect(failed).toBeInstanceOf(PredictionsError)
    expect((failed as PredictionsError).detail).toContain("unknown_category")
    const plan = planAnalysisReport({
      model: { id: 1, name: null, model_type: null, project: null, version: null, is_active: null },
      datasetVersion: { id: 9, name: null, version: null, dataset: null, event_count: 2 },
      reported: {
        source: "reported by the model's uploader; not computed by this analysis",
        metrics: {},
        nonNumeric: [],
        evaluationsOnVersion: []
      },
      groundTruth: {
        events: 2,
        dataUnits: 2,
        dataTypes: { image: 2 },
        classes: {},
        splits: {},
        labels: {},
        unusableAnnotations: { polygon_too_few_points: 3 },
        conflictingLabels: 0
      },
      comparisons: [],
      discrepancies: [],
      uncompared: [],
      tolerance: 0.01,
      notes: []
    })
    expect(plan.charts).toStrictEqual([])
    expect(plan.missing).toStrictEqual(["computed metrics, curves, confusion and errors: no predictions were given"])
    const file = path.join(work, "no-annotations.html")
    await Effect.runPromise(writeReport(file, plan))
    const { page, problems, context } = await open(file)
    try {
      expect(await page.locator("td", { hasText: "polygon_too_few_points" }).count()).toBe(1)
      expect(await page.locator(".missing li").count()).toBe(1)
      expect(problems).toStrictEqual([])
    } finally {
      await context.close()
    }
  })

  it("fails clearly when the report cannot be written, and writes nothing else", async () => {
    const sb = sandbox()
    const { version, detector } = await predictionsWithMistakes(sb)
    const blocker = path.join(work, "a-file")
    fs.writeFileSync(blocker, "")
    const result = await run(
      sb,
      analyzeModel({ model_id: detector.id, ground_truth_version_id: version.id }, {
        report: { path: path.join(blocker, "report.html") }
      })
    )
    expect(result._tag).toBe("Left")
    if (result._tag === "Left") {
      expect(result.left).toMatchObject({ _tag: "ReportError", path: path.join(blocker, "report.html") })
    }
  })
})
