/** `synapse-ml export`'s summary as a person reads it: the notes that point at a surprise. */
import { describe, expect, it } from "vitest"
import { formatExportSummary } from "../../src/cli/commands/export.js"
import type { ExportSummary } from "../../src/workflows/Export.js"

const summary = (extra: Partial<ExportSummary>): ExportSummary => ({
  format: "coco",
  outputDir: "/out",
  datasetVersions: [303],
  events: 0,
  images: 0,
  annotations: 0,
  categories: [],
  classCounts: {},
  skipped: { events: {}, annotations: {}, examples: [] },
  splits: {},
  files: [],
  staleFiles: [],
  imagesDownloaded: 0,
  bytesWritten: 0,
  validation: {},
  valid: true,
  ...extra
})

describe("formatExportSummary", () => {
  it("says when every event was skipped, and which earlier files were not replaced", () => {
    const text = formatExportSummary(summary({
      events: 201,
      skipped: { events: { not_in_manifest: 201 }, annotations: {}, examples: [] },
      staleFiles: ["/out/annotations/instances_train.json"]
    }))
    expect(text).toContain("  skipped: 201 events (not_in_manifest)")
    expect(text).toContain("  note: nothing was exported: every one of the 201 events was skipped (reasons above)")
    expect(text).toContain(
      "  note: /out also holds 1 file(s) of an earlier export, not replaced by this one: /out/annotations/instances_train.json"
    )
  })

  it("an empty version is not called skipped", () => {
    expect(formatExportSummary(summary({}))).not.toContain("note:")
  })
})
