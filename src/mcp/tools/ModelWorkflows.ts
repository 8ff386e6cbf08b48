/**
 * Model tools that do more than one read: `analyze_model_performance`, `compare_models` (read) and
 * `create_model` (write). Model files and prediction files are read only from the upload roots.
 * The tools that change which model serves are in `Serving.ts`.
 */
import { Effect, Runtime, Schema } from "effect"
import * as fs from "node:fs/promises"
import { Id, JsonObject, withUndeclaredFields } from "../../schemas/Common.js"
import { MetricsInput, Model, ModelType } from "../../schemas/Model.js"
import type { UploadProgress } from "../../services/ChunkedUpload.js"
import { Models } from "../../services/Models.js"
import { isSynapseError, type SynapseError } from "../../services/SynapseError.js"
import { Analysis, analyzeModel, ScoringFields } from "../../workflows/Analyze.js"
import { compareModels, Comparison, Direction } from "../../workflows/Compare.js"
import { McpConfig } from "../Config.js"
import { toToolError } from "../Errors.js"
import { resolveUploadFile } from "../Roots.js"
import * as Tool from "../Tool.js"
import { CHARTS_DESCRIPTION, withReportAttachments } from "./ReportAttachments.js"

/** A predictions file is read whole into memory, so one file may not be larger than this. */
const MAX_PREDICTIONS_BYTES = 64 * 1024 * 1024
/** All the prediction files of one compare_models call together, held in memory at once. */
const MAX_PREDICTIONS_TOTAL_BYTES = 4 * MAX_PREDICTIONS_BYTES
const mib = (bytes: number) => `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB`

/** Maps a workflow failure to a ToolError: SDK errors with advice, others with their message. */
export const mapError =
  (action: string, notFound: string) =>
  (error: SynapseError | { readonly _tag: string; readonly message: string }): Tool.ToolError =>
    isSynapseError(error)
      ? toToolError({ action, notFound })(error)
      : new Tool.ToolError({ message: `${action} failed: ${error.message}` })

/**
 * Finds a predictions file in the upload roots and checks its size, without reading it (so that
 * several files can be checked before any is read). `argument` names the file in errors.
 */
const locatePredictions = (requested: string, argument: string) =>
  Effect.gen(function*() {
    const config = yield* McpConfig
    const file = yield* resolveUploadFile(config.uploadRoots, requested, "the upload roots", argument)
    const { size } = yield* Effect.promise(() => fs.stat(file))
    if (size > MAX_PREDICTIONS_BYTES) {
      return yield* new Tool.ToolError({
        message:
          `${argument} ${JSON.stringify(requested)} is ${size} bytes (${
            mib(size)
          }); the limit is ${MAX_PREDICTIONS_BYTES} bytes ` +
          `(${
            mib(MAX_PREDICTIONS_BYTES)
          }) per predictions file. Give a smaller file, or ask the user to run the \`synapse-ml models\` ` +
          "command, which reads files of any size."
      })
    }
    return { requested, argument, file, size }
  })

const readLocated = (located: { readonly requested: string; readonly argument: string; readonly file: string }) =>
  Effect.tryPromise({
    try: () => fs.readFile(located.file, "utf8"),
    catch: (e) =>
      new Tool.ToolError({
        message: `${located.argument} ${JSON.stringify(located.requested)} cannot be read: ${
          e instanceof Error ? e.message : String(e)
        }.`
      })
  })

/** Reads a predictions file from the upload roots. */
export const readPredictions = (path: string) =>
  Effect.flatMap(locatePredictions(path, "predictions_path"), readLocated)

/** How predictions are scored, described for a tool list. */
const scoring = {
  task: ScoringFields.task.annotations({ description: "How to read predictions (default: the model's type)." }),
  zero_division: ScoringFields.zero_division.annotations({ description: "Precision/recall of 0/0 (default 0)." }),
  score_threshold: ScoringFields.score_threshold.annotations({
    description: "Detection: least score counted in precision/recall/F1 (not AP). Default 0."
  })
}

/** `analyze_model_performance`. */
export const analyzeModelPerformance = Tool.make({
  name: "analyze_model_performance",
  title: "Analyze a model on a dataset version",
  description: "Analyze a model on a dataset version: its stored (reported, unverified) metrics, the ground " +
    "truth's distribution and, given its predictions, computed metrics with every disagreeing reported one listed " +
    "as a discrepancy.",
  input: Schema.Struct({
    model_id: Id.annotations({ description: "Model id." }),
    ground_truth_version_id: Id.annotations({ description: "Dataset version id." }),
    predictions: Schema.optional(
      Schema.String.pipe(Schema.maxLength(2_000_000)).annotations({
        description: "Detection: COCO results (image_id = data unit id), JSON or JSON Lines; classification: " +
          "JSON Lines {data_unit, label}."
      })
    ),
    predictions_path: Schema.optional(
      Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1000)).annotations({
        description: "Or a predictions file in an upload root."
      })
    ),
    tolerance: Schema.optional(
      Schema.Number.pipe(Schema.between(0, 1)).annotations({
        description: "Largest reported − computed difference that agrees (default 0.01)."
      })
    ),
    charts: Schema.optional(Schema.Boolean.annotations({ description: CHARTS_DESCRIPTION })),
    ...scoring
  }),
  // The analysis without `report`, which names files the tool removes (see withReportAttachments).
  output: Analysis.omit("report"),
  // An analysis has no page to ask for: the default hint (page_size, next_page) would mislead.
  truncationHint:
    "An analysis is not paged: the left-out parts (per-class rows, comparisons, confusion matrix) need a " +
    "larger output budget (SYNAPSE_MCP_OUTPUT_BUDGET, set by the user) or `synapse-ml models analyze --json`.",
  annotations: Tool.readOnly,
  toolset: "evaluation",
  write: false,
  run: (input, context) =>
    Effect.gen(function*() {
      if (input.predictions !== undefined && input.predictions_path !== undefined) {
        return yield* new Tool.ToolError({ message: "Give predictions or predictions_path, not both." })
      }
      const predictions = input.predictions_path !== undefined
        ? yield* readPredictions(input.predictions_path)
        : input.predictions
      const runtime = yield* Effect.runtime<never>()
      const { charts, predictions: _p, predictions_path: _pp, ...rest } = input
      const name = `analysis-${input.model_id}-${input.ground_truth_version_id}`
      const analysis = yield* withReportAttachments(charts, context, name, (report) =>
        analyzeModel(
          { ...rest, ...(predictions !== undefined ? { predictions } : {}) },
          {
            report,
            onProgress: (p) =>
              Runtime.runFork(runtime)(
                context.progress(
                  p.stage === "ground_truth" ? p.done : p.total + p.done,
                  p.total * 2,
                  `${p.stage}: ${p.done}/${p.total}`
                )
              )
          }
        ).pipe(Effect.mapError(mapError(
          `Analyzing model ${input.model_id} on dataset version ${input.ground_truth_version_id}`,
          "the model or the dataset version does not exist. Check the ids with list_models and list_ground_truth_versions."
        ))))
      return analysis
    })
})

/**
 * A map keyed by model id, at most as many entries as compare_models takes models. Keys are
 * checked against the compared models by the tool (with a message naming the stray key), not by
 * the schema: a Record with a refined key would drop a mistyped key silently.
 */
const perModel = <A>(value: Schema.Schema<A, string>, description: string) =>
  Schema.Record({ key: Schema.String, value }).pipe(
    Schema.filter((entries) => Object.keys(entries).length <= 100 || "at most 100 entries (one per compared model)", {
      jsonSchema: { maxProperties: 100, propertyNames: { pattern: "^[1-9][0-9]*$" } }
    })
  ).annotations({ description })

/**
 * compare_models' `recompute` with every model's predictions as text: files named in
 * `predictions_paths` are found and size-checked first, then read, so that a wrong path or an
 * oversized file fails the call before anything is loaded.
 */
const recomputePredictions = (
  modelIds: ReadonlyArray<number>,
  recompute: {
    readonly ground_truth_version_id: number
    readonly predictions?: Readonly<Record<string, string>> | undefined
    readonly predictions_paths?: Readonly<Record<string, string>> | undefined
  } & Scoring
) =>
  Effect.gen(function*() {
    const inline = recompute.predictions ?? {}
    const paths = recompute.predictions_paths ?? {}
    if (Object.keys(inline).length === 0 && Object.keys(paths).length === 0) {
      return yield* new Tool.ToolError({
        message: "recompute needs predictions for at least one model: recompute.predictions (text per model id) or " +
          "recompute.predictions_paths (a file in an upload root per model id)."
      })
    }
    const strays = Object.keys(paths).filter((key) => !modelIds.some((id) => String(id) === key))
    if (strays.length > 0) {
      return yield* new Tool.ToolError({
        message: `recompute.predictions_paths has files for ${
          strays.map((k) => JSON.stringify(k)).join(", ")
        }, which ` +
          `${strays.length === 1 ? "is" : "are"} not among model_ids (${
            modelIds.join(", ")
          }); key each file by the id of a compared model.`
      })
    }
    const both = Object.keys(paths).filter((key) => key in inline)
    if (both.length > 0) {
      return yield* new Tool.ToolError({
        message: `${
          both.map((k) => `model ${k}`).join(", ")
        } ${both.length === 1 ? "has" : "have"} predictions both inline ` +
          `(recompute.predictions) and as a file (recompute.predictions_paths: ${
            both.map((k) => JSON.stringify(paths[k])).join(", ")
          }); ` +
          "give each model one or the other."
      })
    }
    const located = yield* Effect.forEach(Object.entries(paths), ([id, path]) =>
      locatePredictions(path, `recompute.predictions_paths[${JSON.stringify(id)}]`).pipe(
        Effect.map((l) => ({ id, ...l }))
      ))
    // A file named for several models is read once and counted once.
    const sizes = new Map(located.map((l) => [l.file, l.size]))
    const total = [...sizes.values()].reduce((a, b) => a + b, 0)
    if (total > MAX_PREDICTIONS_TOTAL_BYTES) {
      return yield* new Tool.ToolError({
        message:
          `The files in recompute.predictions_paths are ${total} bytes together (${
            mib(total)
          }); the limit for one call is ` +
          `${MAX_PREDICTIONS_TOTAL_BYTES} bytes (${mib(MAX_PREDICTIONS_TOTAL_BYTES)}). Sizes: ` +
          `${located.map((l) => `model ${l.id} ${mib(l.size)}`).join(", ")}. Compare fewer models per call.`
      })
    }
    const texts = new Map<string, string>()
    for (const l of located) {
      if (!texts.has(l.file)) texts.set(l.file, yield* readLocated(l))
    }
    const predictions: Record<string, string> = { ...inline }
    for (const l of located) predictions[l.id] = texts.get(l.file)!
    const { predictions: _inline, predictions_paths: _paths, ...rest } = recompute
    return { ...rest, predictions }
  })

/** How predictions are scored (`ScoringFields`): the task, zero_division and score_threshold. */
type Scoring = Schema.Struct.Type<typeof ScoringFields>

/** `compare_models`. */
export const compareModelsTool = Tool.make({
  name: "compare_models",
  title: "Rank models by a metric",
  description: "Rank models by one metric, best first (loss/error-like: lower is better); models without it are " +
    "listed apart. Uses the stored metrics, or with `recompute` scores each model's predictions on one dataset " +
    "version.",
  input: Schema.Struct({
    model_ids: Schema.Array(Id).pipe(Schema.minItems(1), Schema.maxItems(100)).annotations({
      description: "Model ids."
    }),
    metric: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(100)).annotations({
      description: "e.g. accuracy, mAP, f1_score, loss."
    }),
    direction: Schema.optional(
      Direction.annotations({ description: "Which is better (default from the name)." })
    ),
    recompute: Schema.optional(
      Schema.Struct({
        ground_truth_version_id: Id.annotations({ description: "Dataset version id." }),
        predictions: Schema.optional(perModel(
          Schema.String.pipe(Schema.maxLength(2_000_000)),
          "Per model id: predictions text, as analyze_model_performance takes."
        )),
        predictions_paths: Schema.optional(perModel(
          Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1000)),
          `Per model id: a predictions file in an upload root (≤ ${mib(MAX_PREDICTIONS_BYTES)}).`
        )),
        ...scoring
      }).annotations({
        description: "Rank by metrics computed from each model's predictions."
      })
    ),
    charts: Schema.optional(Schema.Boolean.annotations({ description: CHARTS_DESCRIPTION }))
  }),
  // The comparison without `report` (files the tool removes) and `perClass` (the encoder drops it:
  // the per-class figures are in the charts and in `synapse-ml models compare --json`).
  output: Comparison.omit("perClass", "report"),
  annotations: Tool.readOnly,
  toolset: "evaluation",
  write: false,
  run: (input, context) =>
    Effect.gen(function*() {
      const { charts, recompute: given, ...rest } = input
      const recompute = given !== undefined ? yield* recomputePredictions(input.model_ids, given) : undefined
      return yield* withReportAttachments(charts, context, `comparison-${input.model_ids.join("-")}`, (report) =>
        compareModels({ ...rest, ...(recompute !== undefined ? { recompute } : {}) }, { report })).pipe(
          Effect.mapError(
            mapError(
              `Comparing models ${input.model_ids.join(", ")}`,
              "one of the model ids does not exist. Check them with list_models."
            )
          )
        )
    })
})

/** Forwards upload progress to the caller as progress notifications. */
export const uploadProgress = (context: Tool.ToolContext, runtime: Runtime.Runtime<never>) => (p: UploadProgress) =>
  Runtime.runFork(runtime)(context.progress(p.bytesSent, p.totalBytes, `${p.phase}: chunk ${p.chunk}/${p.chunks}`))

/** `create_model`. */
export const createModel = Tool.make({
  name: "create_model",
  title: "Register a model",
  description: "Register an inactive model in a project, optionally uploading its file from an upload root " +
    "(resumable, with progress). To make it serve, use deploy_model (planned, gated).",
  input: Schema.Struct({
    name: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)).annotations({ description: "Model name." }),
    model_type: ModelType.annotations({ description: "Model type." }),
    project: Id.annotations({ description: "Project id." }),
    description: Schema.optional(
      Schema.String.pipe(Schema.maxLength(5000)).annotations({ description: "What the model is." })
    ),
    metrics: Schema.optional(
      MetricsInput.annotations({ description: "e.g. {\"accuracy\": 0.92}." })
    ),
    configuration: Schema.optional(
      JsonObject.annotations({ description: "Configuration (input size, framework …)." })
    ),
    is_active: Schema.optional(
      Schema.Boolean.annotations({ description: "Only false: a new model starts out of service." })
    ),
    version: Schema.optional(
      Schema.String.pipe(Schema.maxLength(100)).annotations({ description: "e.g. 1.2.0." })
    ),
    file_path: Schema.optional(
      Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1000)).annotations({
        description: "The model file, in an upload root (absolute or relative to one)."
      })
    )
  }),
  // Published as an object: get_model describes the record's fields.
  output: withUndeclaredFields(Model).annotations({
    jsonSchema: { type: "object", description: "The created model, as get_model returns it." }
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  toolset: "models",
  write: true,
  run: (input, context) =>
    Effect.gen(function*() {
      const config = yield* McpConfig
      const models = yield* Models
      // Registering an active model changes which model serves: that is deploy_model's planned step.
      if (input.is_active === true) {
        return yield* new Tool.ToolError({
          message: "create_model registers models inactive: an active one would change which model serves without " +
            "a plan. Use deploy_model (it plans first and asks for the plan_id), or register it here and activate " +
            "it with update_model is_active: true (also planned). Nothing was changed."
        })
      }
      const file = input.file_path !== undefined
        ? yield* resolveUploadFile(config.uploadRoots, input.file_path)
        : undefined
      const runtime = yield* Effect.runtime<never>()
      const { file_path: _f, ...data } = input
      // Sent explicitly: a backend's default may be active (the sandbox's is).
      return yield* models.create({ ...data, is_active: false, ...(file !== undefined ? { file } : {}) }, {
        upload: { onProgress: uploadProgress(context, runtime) }
      }).pipe(
        Effect.mapError(
          toToolError({
            action: `Creating model ${JSON.stringify(input.name)}`,
            notFound: `project ${input.project} does not exist.`
          })
        )
      )
    })
})
