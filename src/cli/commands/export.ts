/**
 * `synapse-ml export`: ground truth of one or more dataset versions to COCO, YOLO or Pascal VOC, streamed
 * page by page with progress on stderr and the summary on stdout (text, or `--json`). Exits 4
 * when the written COCO files fail validation (the files are kept for inspection).
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { exportGroundTruth, type ExportSummary } from "../../workflows/Export.js"
import {
  EXIT,
  formatBytes,
  parseIdList,
  progressReporter,
  runCommand,
  sdkLayer,
  UsageError
} from "./workflowSupport.js"

const options = {
  versions: Options.text("dataset-version").pipe(
    Options.repeated,
    Options.withDescription("dataset version id(s) to export: repeat the option or separate with commas (303,304)")
  ),
  format: Options.choice("format", ["coco", "yolo", "voc"] as const).pipe(
    Options.withDefault("coco" as const),
    Options.withDescription("output format")
  ),
  out: Options.text("out").pipe(Options.withAlias("o"), Options.withDescription("output directory")),
  splitBy: Options.choice("split-by", ["none", "category", "manifest"] as const).pipe(
    Options.optional,
    Options.withDescription(
      "per-split files: none, the events' category, or a split manifest (default: manifest when --manifest is given, else none)"
    )
  ),
  manifest: Options.text("manifest").pipe(
    Options.optional,
    Options.withDescription("split manifest written by `synapse-ml split`")
  ),
  images: Options.boolean("images").pipe(Options.withDescription("download images into images/<split>/")),
  categoryMap: Options.text("category-map").pipe(
    Options.optional,
    Options.withDescription("class name to category id override, e.g. car=1,person=2 (unlisted classes are skipped)")
  ),
  noValidate: Options.boolean("no-validate").pipe(Options.withDescription("skip validating the written COCO files")),
  json: Options.boolean("json").pipe(Options.withDescription("print the summary as JSON"))
}

const parseCategoryMap = (text: string): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const pair of text.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    const eq = pair.lastIndexOf("=")
    const name = pair.slice(0, eq).trim()
    const id = Number(pair.slice(eq + 1))
    if (eq <= 0 || name === "" || !Number.isSafeInteger(id) || id < 1) {
      throw new UsageError(`--category-map: "${pair}" is not name=id with an integer id ≥ 1`)
    }
    out[name] = id
  }
  return out
}

/** The summary as a person reads it. */
export const formatExportSummary = (s: ExportSummary): string => {
  const lines = [
    `Exported ${s.images} images, ${s.annotations} annotations, ${s.categories.length} categories (${s.format}) to ${s.outputDir}`,
    ...Object.entries(s.splits).map(([name, x]) => `  ${name}: ${x.images} images, ${x.annotations} annotations`),
    `  classes: ${Object.entries(s.classCounts).map(([k, v]) => `${k} ${v}`).join(", ") || "none"}`
  ]
  const skippedEvents = Object.entries(s.skipped.events)
  const skippedAnnotations = Object.entries(s.skipped.annotations)
  if (skippedEvents.length + skippedAnnotations.length > 0) {
    lines.push(
      `  skipped: ${
        [
          ...skippedAnnotations.map(([r, n]) => `${n} annotations (${r})`),
          ...skippedEvents.map(([r, n]) => `${n} events (${r})`)
        ].join(", ")
      }`
    )
  }
  for (const [name, v] of Object.entries(s.validation)) {
    lines.push(
      `  validation ${name}: ${v.valid ? "valid" : `INVALID (${v.errors} errors)`}${
        v.warnings > 0 ? `, ${v.warnings} warnings` : ""
      }`
    )
    for (const f of v.findings.slice(0, 5)) lines.push(`    ${f.severity} ${f.rule} at ${f.path}: ${f.message}`)
  }
  lines.push(`  files: ${s.files.join(", ")}`)
  if (s.images === 0 && s.events > 0) {
    lines.push(`  note: nothing was exported: every one of the ${s.events} events was skipped (reasons above)`)
  }
  if (s.staleFiles.length > 0) {
    lines.push(
      `  note: ${s.outputDir} also holds ${s.staleFiles.length} file(s) of an earlier export, not replaced by this one: ${
        s.staleFiles.join(", ")
      }`
    )
  }
  return lines.join("\n")
}

/** `synapse-ml export`. */
export const exportCommand = Command.make("export", options, (o) =>
  runCommand(
    "export",
    Effect.gen(function*() {
      const versions = yield* parseIdList("--dataset-version", o.versions)
      if (versions.length === 0) return yield* Effect.fail(new UsageError("give at least one --dataset-version ID"))
      if (o.out.trim() === "") {
        return yield* Effect.fail(new UsageError("--out must name a directory (\".\" for this one)"))
      }
      const mapText = Option.getOrUndefined(o.categoryMap)
      const categoryMap = mapText !== undefined
        ? yield* Effect.try({ try: () => parseCategoryMap(mapText), catch: (e) => e as UsageError })
        : undefined
      if (Option.getOrUndefined(o.splitBy) === "manifest" && Option.isNone(o.manifest)) {
        return yield* Effect.fail(new UsageError("--split-by manifest needs --manifest FILE"))
      }
      if (Option.isSome(o.splitBy) && o.splitBy.value !== "manifest" && Option.isSome(o.manifest)) {
        return yield* Effect.fail(
          new UsageError(
            `--manifest is only read with --split-by manifest (the default when --manifest is given), not --split-by ${o.splitBy.value}`
          )
        )
      }
      const progress = progressReporter("export")
      const summary = yield* exportGroundTruth(
        {
          datasetVersionIds: [versions[0]!, ...versions.slice(1)],
          format: o.format,
          outputDir: o.out,
          includeImages: o.images,
          validate: !o.noValidate,
          ...(Option.isSome(o.splitBy) ? { splitBy: o.splitBy.value } : {}),
          ...(Option.isSome(o.manifest) ? { manifestPath: o.manifest.value } : {}),
          ...(categoryMap !== undefined ? { categoryMap } : {})
        },
        {
          onProgress: (p) =>
            progress.report({
              phase: p.phase,
              done: p.eventsRead,
              total: p.eventsTotal,
              unit: "events",
              extra: `${p.annotationsWritten} annotations, ${formatBytes(p.bytesWritten)} written${
                p.imagesDownloaded > 0 ? `, ${p.imagesDownloaded} images downloaded` : ""
              }`
            })
        }
      ).pipe(Effect.ensuring(Effect.sync(progress.end)), Effect.provide(sdkLayer()))
      yield* Console.log(o.json ? JSON.stringify(summary, null, 2) : formatExportSummary(summary))
      if (!summary.valid) process.exitCode = EXIT.invalid
    })
  )).pipe(
    Command.withDescription(
      "Export ground truth of dataset versions to COCO, YOLO or Pascal VOC (streamed, validated)."
    )
  )
