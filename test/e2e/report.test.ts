/**
 * `synapse-ml models analyze/compare --report/--charts` as a user runs them against a demo
 * sandbox: predictions made from the COCO export with mistakes, the report and the PNG charts
 * written, the result's error lists in `--json`; and the bad inputs — predictions for unknown
 * images or classes, empty predictions, an unwritable report path — each a clear message and the
 * documented exit code. (A version with no usable annotations is in test/workflows/Report.test.ts.)
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CliResult, runCli } from "../support/cli.js"
import { call } from "../support/http.js"
import { isRich } from "../support/profile.js"
import { useSandbox } from "../support/sandbox.js"

const sandbox = useSandbox({ seed: "demo" })
const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "e2e-report-"))
afterAll(() => Fs.rmSync(tmp, { recursive: true, force: true }))

const cli = (args: ReadonlyArray<string>): Promise<CliResult> => {
  const sb = sandbox()
  return runCli(args, {
    SYNAPSE_BASE_URL: sb.url,
    SYNAPSE_ACCESS_TOKEN: sb.token,
    SYNAPSE_CACHE_DIR: Path.join(tmp, "cache"),
    SYNAPSE_UPLOAD_STATE_DIR: Path.join(tmp, "uploads"),
    NO_COLOR: "1"
  })
}

let detector: number
let predictionsFile: string
beforeAll(async () => {
  const sb = sandbox()
  const page = await call(`${sb.url}/models/?project=1&model_type=detection&is_active=true`, { headers: sb.headers })
  detector = page.body.results[0].id
  const out = Path.join(tmp, "coco")
  const exported = await cli(["export", "--dataset-version", "303", "--format", "coco", "-o", out])
  expect(exported.code).toBe(0)
  const coco = JSON.parse(Fs.readFileSync(Path.join(out, "annotations", "instances_all.json"), "utf8"))
  const rows = coco.annotations.filter((a: any) => a.iscrowd === 0).map((a: any, i: number) => {
    const [x, y, w, h] = a.bbox
    return i % 4 === 0
      ? { image_id: a.image_id, category_id: a.category_id, bbox: [x + w, y + h, w, h], score: 0.9 }
      : { image_id: a.image_id, category_id: a.category_id, bbox: a.bbox, score: 0.6 }
  })
  // Rows for an image and a class the version does not have: counted as skipped, never dropped quietly.
  rows.push({ image_id: 987654, category_id: 1, bbox: [0, 0, 10, 10], score: 0.5 })
  rows.push({ image_id: coco.images[0].id, category_id: 999, bbox: [0, 0, 10, 10], score: 0.5 })
  predictionsFile = Path.join(tmp, "predictions.json")
  Fs.writeFileSync(predictionsFile, JSON.stringify(rows))
}, 120_000)

describe("synapse-ml models … --report", () => {
  it("writes the HTML report and the PNG charts, and says where", async () => {
    const html = Path.join(tmp, "analysis.html")
    const charts = Path.join(tmp, "charts")
    const r = await cli([
      "models",
      "analyze",
      String(detector),
      "--dataset-version",
      "303",
      "--predictions",
      predictionsFile,
      "--report",
      html,
      "--charts",
      charts
    ])
    expect(r.stderr).not.toMatch(/Error/)
    expect(r.code).toBe(0)
    // An evidenced model carries no metrics: nothing reported to set against the computed ones.
    const drawn = [
      "ap-by-size",
      "ap-per-class",
      "confusion",
      "pr-50",
      "pr-75",
      "reported-vs-computed",
      "score-threshold"
    ]
      .filter((c) => isRich() || c !== "reported-vs-computed")
    const size = Math.ceil(Fs.statSync(html).size / 1024)
    expect(r.stdout).toContain(`Report: ${html} (${size} KiB); ${drawn.length} PNG charts in ${charts}`)
    expect(Fs.readdirSync(charts).sort()).toStrictEqual(drawn.map((c) => `${c}.png`))
    const page = Fs.readFileSync(html, "utf8")
    expect(page).toContain("<h2>Errors</h2>")
    expect(page).toContain("2 skipped")
    expect(page).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/)
  })

  it("puts the error lists in --json", async () => {
    const r = await cli([
      "models",
      "analyze",
      String(detector),
      "--dataset-version",
      "303",
      "--predictions",
      predictionsFile,
      "--json"
    ])
    expect(r.code).toBe(0)
    const result = JSON.parse(r.stdout)
    expect(result.computed.predictions.skipped.byReason).toStrictEqual({
      unknown_image: { count: 1, rows: [expect.any(Number)] },
      unknown_category: { count: 1, rows: [expect.any(Number)] }
    })
    const errors = result.computed.errors
    expect(errors.confident_false_positives[0].score).toBe(0.9)
    expect(errors.per_image.reduce((s: number, i: any) => s + i.tp, 0))
      .toBe(result.computed.metrics.perClass.reduce((s: number, c: any) => s + c.tp, 0))
    expect(result.report).toBeUndefined()
  })

  it("empty predictions and predictions that match nothing are clear usage errors (exit 2)", async () => {
    const empty = Path.join(tmp, "empty.json")
    Fs.writeFileSync(empty, "")
    const stray = Path.join(tmp, "stray.json")
    Fs.writeFileSync(stray, JSON.stringify([{ image_id: 987654, category_id: 1, bbox: [0, 0, 1, 1], score: 1 }]))
    for (const [file, message] of [[empty, "is empty"], [stray, "unknown_image"]] as const) {
      const html = Path.join(tmp, `${Path.basename(file)}.html`)
      const r = await cli(
        ["models", "analyze", String(detector), "--dataset-version", "303", "--predictions", file, "--report", html]
      )
      expect(r.code).toBe(2)
      expect(r.stderr).toContain(message)
      expect(Fs.existsSync(html)).toBe(false)
    }
  })

  it("an unwritable report path exits 5 naming it", async () => {
    const blocker = Path.join(tmp, "a-file")
    Fs.writeFileSync(blocker, "")
    const r = await cli(
      ["models", "analyze", String(detector), "--dataset-version", "303", "--report", Path.join(blocker, "a.html")]
    )
    expect(r.code).toBe(5)
    expect(r.stderr).toContain(`ReportError: report ${Path.join(blocker, "a.html")}`)
  })
})
