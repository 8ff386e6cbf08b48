/**
 * Dataset tools that work on files: `export_ground_truth` (COCO/YOLO written under the output
 * directory), `prepare_training_data` (a reproducible, leak-free split, planned by default) and
 * `validate_coco` (checks a COCO file against the format's rules). Results carry summaries, paths
 * and resource links, never the dataset itself.
 */
import { Effect, Runtime, Schema, Struct } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Id } from "../../schemas/Common.js"
import { isSynapseError, type SynapseError } from "../../services/SynapseError.js"
import { CocoValidation, validateFile } from "../../workflows/Coco.js"
import { ExportFormat, exportGroundTruth, type ExportProgress, ExportSummary } from "../../workflows/Export.js"
import { SplitMethod } from "../../workflows/Manifest.js"
import { prepareTrainingData, SplitSummary } from "../../workflows/Split.js"
import { McpConfig } from "../Config.js"
import { toToolError } from "../Errors.js"
import { EXPORT_SUMMARY_FILE, exportUri, mimeTypeOf } from "../Resources.js"
import { prepareOutputDir, resolveOutputFile, resolveUploadFile, SAFE_NAME } from "../Roots.js"
import * as Tool from "../Tool.js"

/** The manifest file a split writes into its output directory. */
export const SPLIT_MANIFEST_FILE = "split-manifest.json"

const ResourceLink = Schema.Struct({
  uri: Schema.String,
  name: Schema.String,
  mimeType: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String)
})

const outputName = Schema.String.pipe(Schema.pattern(SAFE_NAME), Schema.maxLength(100)).annotations({
  description: "New directory under the output directory."
})

const stamp = () => new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-")

/** Fails when `name` was already used: outputs are never overwritten. */
const freshOutput = (outputDir: string, name: string) =>
  Effect.gen(function*() {
    const existing = yield* Effect.promise(() =>
      fs.readdir(path.join(outputDir, name)).catch(() => [] as Array<string>)
    )
    if (existing.length > 0) {
      return yield* new Tool.ToolError({
        message: `output_name ${
          JSON.stringify(name)
        } already exists under ${outputDir}; choose another name (outputs are never overwritten).`
      })
    }
    return yield* prepareOutputDir(outputDir, name)
  })

const removeOnFailure = (dir: string) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.onError(self, () => Effect.promise(() => fs.rm(dir, { recursive: true, force: true })))

const mapWorkflowError =
  (action: string) => (error: { readonly _tag: string; readonly message: string } | SynapseError): Tool.ToolError =>
    isSynapseError(error)
      ? toToolError({
        action,
        notFound:
          "a dataset version or model id does not exist. Find ids with list_ground_truth_versions / list_models."
      })(error)
      : new Tool.ToolError({
        message: `${action} failed: ${
          "detail" in error && typeof error.detail === "string" ? error.detail : error.message
        }`
      })

/**
 * The tool's result: the export workflow's own summary (file paths relative to `outputDir`, the
 * first findings of each validated file), with the name to find it by and links to its files.
 */
const ExportOutput = Schema.Struct({
  output_name: Schema.String.annotations({
    description: "The export's directory name; its files are synapse://exports/{output_name}/…"
  }),
  ...ExportSummary.fields,
  files: ExportSummary.fields.files.annotations({ description: "Relative to outputDir (first 200)." }),
  staleFiles: ExportSummary.fields.staleFiles.annotations({ description: "An earlier export's files, left in place." }),
  resource_links: Schema.Array(ResourceLink)
})

/** Findings listed per validated file; all are counted in findingCounts. */
const FINDINGS_SHOWN = 5

const PHASES: Record<ExportProgress["phase"], number> = { reading: 0, assembling: 1, validating: 2, done: 3 }

/** Turns an export summary into the tool's output (relative paths, a few findings per file). */
const exportOutput = (name: string, dir: string, summary: ExportSummary): typeof ExportOutput.Type => {
  const rel = (file: string) => path.relative(dir, file)
  const files = summary.files.map(rel)
  const topLevel = files.filter((f) => !f.includes(path.sep) || f.split(path.sep).length <= 2).slice(0, 20)
  return {
    output_name: name,
    ...summary,
    splits: Object.fromEntries(Object.entries(summary.splits).map(([k, v]) => [k, { ...v, files: v.files.map(rel) }])),
    files: files.slice(0, 200),
    staleFiles: summary.staleFiles.map(rel),
    validation: Object.fromEntries(
      Object.entries(summary.validation).map(([split, v]) => [split, {
        ...v,
        findings: v.findings.slice(0, FINDINGS_SHOWN),
        truncated: v.truncated || v.findings.length > FINDINGS_SHOWN
      }])
    ),
    resource_links: [EXPORT_SUMMARY_FILE, ...topLevel.filter((f) => f.endsWith(".json") || f.endsWith(".yaml"))].map((
      f
    ) => ({
      uri: exportUri(name, f),
      name: `${name}/${f}`,
      mimeType: mimeTypeOf(f)
    }))
  }
}

/** `export_ground_truth`. */
export const exportGroundTruthTool = Tool.make({
  name: "export_ground_truth",
  title: "Export ground truth (COCO / YOLO / VOC)",
  description: "Export dataset versions to COCO JSON, a YOLO dataset or Pascal VOC XML in a new directory under the " +
    "output directory, optionally per split and with images. Returns counts, skips, validation, paths and resource " +
    "links, never the data. Sends progress; a cancelled export leaves nothing.",
  input: Schema.Struct({
    dataset_version_ids: Schema.Array(Id).pipe(Schema.minItems(1), Schema.maxItems(20)).annotations({
      description: "Dataset versions; a data unit in several is exported once, from the first listed."
    }),
    format: ExportFormat.annotations({
      description:
        "coco: annotations/instances_<split>.json; yolo: images/, labels/, data.yaml; voc: Annotations/<split>/*.xml."
    }),
    split_by: Schema.optional(
      Schema.Literal("none", "category", "manifest").annotations({
        description: "Files per split: none (default: 'all'), the events' category, or a prepare_training_data " +
          "manifest (split_name)."
      })
    ),
    split_name: Schema.optional(outputName.annotations({
      description: "The output_name of a written prepare_training_data split."
    })),
    include_images: Schema.optional(
      Schema.Boolean.annotations({
        description: "Also download the images (default false)."
      })
    ),
    output_name: Schema.optional(outputName)
  }),
  output: ExportOutput,
  truncationHint: "The complete summary is the resource synapse://exports/{output_name}/synapse-export.json.",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  toolset: "datasets",
  write: true,
  run: (input, context) =>
    Effect.gen(function*() {
      const config = yield* McpConfig
      const name = input.output_name ?? `export-${input.dataset_version_ids.join("_")}-${input.format}-${stamp()}`
      if (input.split_by === "manifest" && input.split_name === undefined) {
        return yield* new Tool.ToolError({
          message:
            "split_by=manifest needs split_name: the output_name of a prepare_training_data run with dry_run false."
        })
      }
      const manifestPath = input.split_by === "manifest"
        ? yield* resolveOutputFile(config.outputDir, input.split_name!, SPLIT_MANIFEST_FILE)
        : undefined
      const dir = yield* freshOutput(config.outputDir, name)
      const runtime = yield* Effect.runtime<never>()
      const report = (p: ExportProgress) => {
        const total = (p.eventsTotal ?? p.eventsRead) + 3
        const done = p.phase === "reading" ? p.eventsRead : (p.eventsTotal ?? p.eventsRead) + PHASES[p.phase]
        Runtime.runFork(runtime)(
          context.progress(done, total, `${p.phase}: ${p.eventsRead} events, ${p.annotationsWritten} annotations`)
        )
      }
      const summary = yield* exportGroundTruth({
        datasetVersionIds: input.dataset_version_ids as [number, ...Array<number>],
        format: input.format,
        outputDir: dir,
        ...(input.split_by !== undefined ? { splitBy: input.split_by } : {}),
        ...(manifestPath !== undefined ? { manifestPath } : {}),
        ...(input.include_images !== undefined ? { includeImages: input.include_images } : {})
      }, { onProgress: report }).pipe(
        Effect.mapError(mapWorkflowError(`Exporting dataset versions ${input.dataset_version_ids.join(", ")}`)),
        removeOnFailure(dir)
      )
      const output = exportOutput(name, dir, summary)
      // Written last: its presence marks the export finished (resources list only finished ones).
      yield* Effect.promise(() => fs.writeFile(path.join(dir, EXPORT_SUMMARY_FILE), JSON.stringify(output, null, 2)))
      return output
    })
})

const SplitOutput = Schema.Struct({
  ...SplitSummary.fields,
  maxDeviation: SplitSummary.fields.maxDeviation.annotations({ description: "Largest class-share gap to a ratio." }),
  leakedImages: SplitSummary.fields.leakedImages.annotations({ description: "Images in two splits (always 0)." }),
  notes: SplitSummary.fields.notes.annotations({ description: "What the figures leave out." }),
  imageDeviations: SplitSummary.fields.imageDeviations.annotations({ description: "Per split: images vs. ratio." }),
  maxImageDeviation: SplitSummary.fields.maxImageDeviation.annotations({
    description: "Largest image-count gap to a ratio."
  }),
  output_name: Schema.NullOr(Schema.String).annotations({ description: "null for a dry run." }),
  resource_links: Schema.Array(ResourceLink)
})

/** `prepare_training_data`. */
export const prepareTrainingDataTool = Tool.make({
  name: "prepare_training_data",
  title: "Split ground truth into train/validation/test",
  description: "Split events into train/validation(/test) by image, stratified by class, reproducible from " +
    "`seed`. A dry run unless dry_run is false, which writes a manifest export_ground_truth can export by.",
  input: Schema.Struct({
    project: Schema.optional(
      Id.annotations({ description: "Split this project's events (or give dataset_version_ids)." })
    ),
    dataset_version_ids: Schema.optional(
      Schema.Array(Id).pipe(Schema.minItems(1), Schema.maxItems(20)).annotations({
        description: "Split these dataset versions' events."
      })
    ),
    train: Schema.optional(
      Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(1)).annotations({
        description: "Share for training (default 0.8); the shares add up to 1."
      })
    ),
    validation: Schema.optional(
      Schema.Number.pipe(Schema.between(0, 1)).annotations({ description: "Share for validation (default: the rest)." })
    ),
    test: Schema.optional(
      Schema.Number.pipe(Schema.between(0, 1)).annotations({ description: "Share for test (default 0)." })
    ),
    seed: Schema.optional(
      Schema.Int.pipe(Schema.between(0, 2 ** 31 - 1)).annotations({
        description: "Same seed and data, same split (default 0)."
      })
    ),
    method: Schema.optional(
      SplitMethod.annotations({
        description: "stratified (default), random, or hash (stable as data grows)."
      })
    ),
    dry_run: Schema.optional(
      Schema.Boolean.annotations({
        description: "false: also write the manifest (default true)."
      })
    ),
    output_name: Schema.optional(outputName)
  }),
  output: SplitOutput,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  toolset: "datasets",
  write: true,
  plansInReadOnly: true,
  run: (input) =>
    Effect.gen(function*() {
      const config = yield* McpConfig
      if (config.readOnly && input.dry_run === false) {
        return yield* new Tool.ToolError({
          message: "prepare_training_data cannot write a split: the server runs in read-only mode " +
            "(SYNAPSE_MCP_READ_ONLY / --read-only), where it only computes dry runs. Call it without dry_run: false."
        })
      }
      if (input.project === undefined && input.dataset_version_ids === undefined) {
        return yield* new Tool.ToolError({ message: "Give project or dataset_version_ids: the events to split." })
      }
      const train = input.train ?? 0.8
      const test = input.test ?? 0
      const validation = input.validation ?? Math.max(0, 1 - train - test)
      if (Math.abs(train + validation + test - 1) > 1e-6) {
        return yield* new Tool.ToolError({
          message: `train + validation + test must add up to 1; got ${train} + ${validation} + ${test}.`
        })
      }
      const dryRun = input.dry_run ?? true
      const name = dryRun
        ? undefined
        : input.output_name ??
          `split-${
            input.project !== undefined ? `project${input.project}` : input.dataset_version_ids!.join("_")
          }-${stamp()}`
      const dir = name !== undefined ? yield* freshOutput(config.outputDir, name) : undefined
      const { summary } = yield* prepareTrainingData({
        ...(input.project !== undefined ? { project: input.project } : {}),
        ...(input.dataset_version_ids !== undefined ? { datasetVersionIds: input.dataset_version_ids } : {}),
        ratios: { train, validation, ...(test > 0 ? { test } : {}) },
        ...(input.seed !== undefined ? { seed: input.seed } : {}),
        ...(input.method !== undefined ? { method: input.method } : {}),
        ...(dir !== undefined ? { manifestPath: path.join(dir, SPLIT_MANIFEST_FILE) } : {}),
        dryRun
      }).pipe(
        Effect.mapError(mapWorkflowError("Preparing training data")),
        dir !== undefined ? removeOnFailure(dir) : (self) => self
      )
      const links = name !== undefined
        ? [SPLIT_MANIFEST_FILE, EXPORT_SUMMARY_FILE].map((f) => ({
          uri: exportUri(name, f),
          name: `${name}/${f}`,
          mimeType: "application/json"
        }))
        : []
      const output = { ...summary, output_name: name ?? null, resource_links: links }
      if (dir !== undefined) {
        yield* Effect.promise(() => fs.writeFile(path.join(dir, EXPORT_SUMMARY_FILE), JSON.stringify(output, null, 2)))
      }
      return output
    })
})

/** `validate_coco`. */
export const validateCoco = Tool.make({
  name: "validate_coco",
  title: "Validate a COCO file",
  description: "Check a COCO JSON file (under the output directory or an upload root) against the format's " +
    "rules: ids, references, boxes, areas, polygons, RLE. Returns counts and findings with rule, JSON path and fix.",
  input: Schema.Struct({
    path: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1000)).annotations({
      description: "Relative to the output directory, or absolute in it or an upload root."
    }),
    max_findings: Schema.optional(
      Schema.Int.pipe(Schema.between(1, 200)).annotations({
        description: "Findings to list (default 50)."
      })
    )
  }),
  output: Schema.Struct({
    path: Schema.String,
    ...Struct.omit(CocoValidation.fields, "truncated"),
    findings_truncated: Schema.Boolean
  }),
  annotations: { ...Tool.readOnly, openWorldHint: false },
  toolset: "datasets",
  write: false,
  run: (input) =>
    Effect.gen(function*() {
      const config = yield* McpConfig
      const file = yield* resolveUploadFile(
        [config.outputDir, ...config.uploadRoots],
        input.path,
        "the output directory and upload roots",
        "path"
      )
      const result = yield* validateFile(file, { maxFindings: input.max_findings ?? 50 }).pipe(
        Effect.mapError((error) => new Tool.ToolError({ message: `Validating ${input.path} failed: ${error.detail}` }))
      )
      const { truncated, ...rest } = result
      return { path: file, ...rest, findings_truncated: truncated }
    })
})
