/**
 * Evaluation through MCP with the official client: find_model_errors names the images a model
 * gets wrong with files an assistant can open, and analyze/compare return charts as images and the
 * report as an embedded resource when asked, leaving the structured result as it is.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import { outputSchemaOf } from "../../src/mcp/Server.js"
import { allTools } from "../../src/mcp/tools/index.js"
import { call as http } from "../support/http.js"
import { imageIdsByEvent } from "../support/profile.js"
import { useMcp } from "./fixture.js"
import { connect } from "./harness.js"

const mcp = useMcp({ outputBudget: 200_000 })

/** The temporary report directories that exist now. */
const reportDirs = () => fs.readdirSync(os.tmpdir()).filter((d) => /^synapse-ml-report-[A-Za-z0-9]{6}$/.test(d)).sort()

const call = (name: string, args: Record<string, unknown>) =>
  Effect.gen(function*() {
    const client = yield* connect(mcp().factory)
    const result = yield* Effect.promise(() => client.callTool({ name, arguments: args }))
    if (result.isError !== true) {
      const tool = allTools.find((t) => t.name === name)!
      Schema.decodeUnknownSync(outputSchemaOf(tool), { onExcessProperty: "error" })(result.structuredContent)
    }
    return result
  })

/** The street-scenes version, its active detector, and predictions with every third box moved off. */
const fixture = () =>
  Effect.promise(async () => {
    const sb = mcp().sandbox
    const view = await sb.richView()
    const get = async (route: string) => (await http(`${view.url}/${route}`, { headers: view.headers })).body
    const version = (await get("ground_truth_dataset_versions/?page_size=100")).results
      .find((v: any) => v.ground_truth_dataset.name === "Street scenes" && v.version === "v2.0")
    const detector = (await get("models/?project=1&model_type=detection&is_active=true")).results[0]
    const events = (await get(`sdk/ground_truth_events/?ground_truth_dataset_versions=${version.id}&page_size=1000`))
      .results
    const images = await imageIdsByEvent(sb, version.id)
    const names = [...new Set(events.flatMap((e: any) => e.data.annotations.map((a: any) => a.category)))].sort()
    let n = 0
    const rows = events.flatMap((e: any) =>
      e.data.annotations.filter((a: any) => a.iscrowd !== 1).map((a: any) => {
        const [x, y, w, h] = a.bbox
        const moved = ++n % 3 === 0
        return {
          image_id: images.get(e.id),
          category_id: a.category_id ?? names.indexOf(a.category) + 1,
          bbox: moved ? [x + w, y + h, w, h] : a.bbox,
          score: moved ? 0.95 : 0.6
        }
      })
    )
    return { version, detector, rows }
  })

describe("evaluation over MCP", () => {
  it.scoped("find_model_errors names the worst images with files that exist", () =>
    Effect.gen(function*() {
      const { version, detector, rows } = yield* fixture()
      const result = yield* call("find_model_errors", {
        model_id: detector.id,
        ground_truth_version_id: version.id,
        predictions: JSON.stringify(rows),
        limit: 5
      })
      expect(result.isError).toBeUndefined()
      const out = result.structuredContent as any
      expect(out.errors.worst_images).toHaveLength(5)
      expect(out.errors.confident_false_positives.every((f: any) => f.score === 0.95)).toBe(true)
      const named = new Set<number>([
        ...out.errors.worst_images.map((i: any) => i.image_id),
        ...out.errors.confident_false_positives.map((f: any) => f.image_id),
        ...out.errors.largest_misses.map((m: any) => m.image_id)
      ])
      expect(new Set(out.images.map((i: any) => i.image_id))).toStrictEqual(named)
      for (const image of out.images) {
        expect(image.path).not.toBeNull()
        expect(fs.statSync(image.path).size).toBeGreaterThan(0)
      }
    }))

  it.scoped("find_model_errors refuses no predictions and both kinds at once", () =>
    Effect.gen(function*() {
      const { version, detector } = yield* fixture()
      for (const extra of [{}, { predictions: "[]", predictions_path: "p.json" }]) {
        const result = yield* call("find_model_errors", {
          model_id: detector.id,
          ground_truth_version_id: version.id,
          ...extra
        })
        expect(result.isError).toBe(true)
        expect((result.content as Array<any>)[0].text).toContain("Give predictions or predictions_path")
      }
    }))

  it.scoped("analyze_model_performance with charts attaches PNG charts and the HTML report", () =>
    Effect.gen(function*() {
      const { version, detector, rows } = yield* fixture()
      const args = { model_id: detector.id, ground_truth_version_id: version.id, predictions: JSON.stringify(rows) }
      const before = reportDirs()
      const plain = yield* call("analyze_model_performance", args)
      const charted = yield* call("analyze_model_performance", { ...args, charts: true })
      expect(charted.structuredContent).toStrictEqual(plain.structuredContent)
      expect((plain.content as Array<any>).map((b) => b.type)).toStrictEqual(["text"])
      const blocks = charted.content as Array<any>
      const images = blocks.filter((b) => b.type === "image")
      expect(images.length).toBeGreaterThanOrEqual(6)
      for (const image of images) {
        expect(image.mimeType).toBe("image/png")
        expect(Buffer.from(image.data, "base64").subarray(1, 4).toString()).toBe("PNG")
      }
      const report = blocks.find((b) => b.type === "resource")
      expect(report.resource.mimeType).toBe("text/html")
      expect(report.resource.uri).toBe(`synapse://reports/analysis-${detector.id}-${version.id}.html`)
      expect(report.resource.text).toContain("<svg")
      // The private directory the report was written to is gone.
      expect(reportDirs()).toStrictEqual(before)
    }))
})
