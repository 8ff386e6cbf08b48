/**
 * Charts and reports as MCP content: runs an analysis or comparison with a report written to a
 * private temporary directory, attaches its PNG charts as images and its HTML as an embedded
 * resource, and removes the directory. The structured result stays the same as without charts.
 */
import { Effect } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import type { ReportRequest, ReportWritten } from "../../workflows/Analyze.js"
import type { ToolContext } from "../Tool.js"

/** The input flag that asks for them, as analyze_model_performance and compare_models declare it. */
export const CHARTS_DESCRIPTION = "Also return the charts as PNG images and the HTML report as an embedded resource."

/**
 * Runs `work` with a report request when `wanted`, attaches what it wrote, and returns its result
 * without the `report` entry (which names files that no longer exist).
 */
export const withReportAttachments = <A extends { readonly report?: ReportWritten }, E, R>(
  wanted: boolean | undefined,
  context: ToolContext,
  name: string,
  work: (report: ReportRequest | undefined) => Effect.Effect<A, E, R>
): Effect.Effect<Omit<A, "report">, E, R> => {
  if (wanted !== true || context.attach === undefined) return work(undefined)
  const attach = context.attach
  return Effect.acquireUseRelease(
    Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "synapse-ml-report-"))),
    (dir) =>
      Effect.gen(function*() {
        const result = yield* work({ path: path.join(dir, `${name}.html`), chartsDir: path.join(dir, "charts") })
        const written = result.report
        if (written !== undefined) {
          for (const chart of written.charts) {
            const png = yield* Effect.promise(() => fs.readFile(chart))
            yield* attach({ type: "image", data: png.toString("base64"), mimeType: "image/png" })
          }
          if (written.path !== null) {
            const html = yield* Effect.promise(() => fs.readFile(written.path!, "utf8"))
            yield* attach({
              type: "resource",
              resource: { uri: `synapse://reports/${name}.html`, mimeType: "text/html", text: html }
            })
          }
        }
        const { report: _report, ...rest } = result
        return rest
      }),
    (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
  )
}
