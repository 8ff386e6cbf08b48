/**
 * Model performance analysis (the seed's `analyze_model_performance`), made honest: the model's
 * stored metrics are shown as what they are — numbers its uploader typed in — next to the ground
 * truth's distribution and, when predictions are supplied, metrics computed from them on the
 * dataset version, with every reported metric that disagrees with its computed counterpart listed.
 */
import { Effect, Option, Schema } from "effect"
import { Id } from "../schemas/Common.js"
import type { DatasetVersion } from "../schemas/DatasetVersion.js"
import { type Model, numericMetrics } from "../schemas/Model.js"
import { FileCache } from "../services/FileCache.js"
import { GroundTruths } from "../services/GroundTruths.js"
import { Models } from "../services/Models.js"
import { validate } from "../services/SynapseClient.js"
import type { SynapseError } from "../services/SynapseError.js"
import { type GroundTruthCollector, GroundTruthStats, readGroundTruth } from "./GroundTruthSummary.js"
import { parseClassifications, parseDetections, PredictionsError } from "./Predictions.js"
import {
  planAnalysisReport,
  type ReportError,
  type ReportPlan,
  writeChartImages,
  writeReport
} from "./report/Report.js"
import { loadThumbnails } from "./report/Thumbnails.js"
import { compareReported, MetricComparison, Score, scoreClassifications, scoreDetections } from "./Scoring.js"

/** The kinds of evaluation the workflows compute. Segmentation models are scored on their boxes. */
export const EVALUATION_TASKS = ["detection", "classification"] as const
export const EvaluationTask = Schema.Literal(...EVALUATION_TASKS)
export type EvaluationTask = typeof EvaluationTask.Type

/** Scoring knobs shared by analyze and compare. */
export const ScoringFields = {
  task: Schema.optional(EvaluationTask).annotations({
    description:
      "How to read the predictions; default from the model's type (segmentation is scored on boxes, as detection)."
  }),
  zero_division: Schema.optional(Schema.Literal(0, 1)).annotations({
    description:
      "Value of a precision/recall whose denominator is 0 (a class never predicted, or never present). Default 0; such cases are listed in the result."
  }),
  score_threshold: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))).annotations({
    description:
      "Detection: minimum score counted in per-class precision/recall/F1 at IoU 0.5 (AP ignores it). Default 0."
  })
}

/** Input of {@link analyzeModel} (the seed's `analyze_model_performance(model_id, ground_truth_version_id)`). */
export const AnalyzeInput = Schema.Struct({
  model_id: Id.annotations({ description: "The model to analyze." }),
  ground_truth_version_id: Id.annotations({ description: "The ground-truth dataset version to analyze it on." }),
  predictions: Schema.optional(Schema.String).annotations({
    description:
      "The model's predictions on that version, as text. Detection: a COCO results JSON array [{image_id, category_id, bbox: [x, y, w, h], score}] (image_id as in the COCO export: the data unit id, or for events listed without one the id derived from the image file) or the same rows as JSON Lines. Classification: JSON Lines {data_unit, label} (data_unit = id or file name)."
  }),
  predictions_name: Schema.optional(Schema.String).annotations({
    description: "Name of the predictions (file name) for messages."
  }),
  tolerance: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))).annotations({
    description: "Largest absolute difference between a reported and a computed metric that still agrees. Default 0.01."
  }),
  ...ScoringFields
})
export type AnalyzeInput = typeof AnalyzeInput.Type

/** Progress of a long step. */
export interface Progress {
  readonly stage: "ground_truth" | "scoring"
  readonly done: number
  readonly total: number
  readonly message?: string
}

/** Where to write a visual report: an HTML file, PNG charts, or both. */
export interface ReportRequest {
  /** The self-contained HTML file. */
  readonly path?: string | undefined
  /** Each chart as `<chartsDir>/<chart>.png`. */
  readonly chartsDir?: string | undefined
}

/** The report written, as the result names it. */
export const ReportWritten = Schema.Struct({
  path: Schema.NullOr(Schema.String).annotations({
    description: "The HTML file, null when only charts were asked for."
  }),
  bytes: Schema.Number.annotations({ description: "The HTML file's size in bytes (0 without it)." }),
  charts: Schema.Array(Schema.String).annotations({ description: "The PNG files written, one per chart." }),
  missing: Schema.Array(Schema.String).annotations({ description: "What the report could not show." })
})
export type ReportWritten = typeof ReportWritten.Type

/** Options that are not data: callbacks, and the report to write. */
export interface AnalyzeOptions {
  /** Called as ground-truth events arrive (about once per page) and around scoring. */
  readonly onProgress?: ((progress: Progress) => void) | undefined
  /** Write a self-contained HTML report (and PNG charts) of the analysis. */
  readonly report?: ReportRequest | undefined
}

/** The model, briefly. `null` stands for a field the backend did not send. */
export const ModelSummary = Schema.Struct({
  id: Schema.Int,
  name: Schema.NullOr(Schema.String),
  model_type: Schema.NullOr(Schema.String),
  project: Schema.NullOr(Schema.Int),
  version: Schema.NullOr(Schema.String),
  is_active: Schema.NullOr(Schema.Boolean)
})
export type ModelSummary = typeof ModelSummary.Type

/** The dataset version, briefly. `null` stands for a field the backend did not send. */
export const VersionSummary = Schema.Struct({
  id: Schema.Int,
  name: Schema.NullOr(Schema.String),
  version: Schema.NullOr(Schema.String),
  dataset: Schema.NullOr(Schema.String).annotations({ description: "The ground-truth dataset's name." }),
  event_count: Schema.NullOr(Schema.Number)
})
export type VersionSummary = typeof VersionSummary.Type

/** Metrics as stored on the model: not verified by anyone. */
export const ReportedMetrics = Schema.Struct({
  source: Schema.Literal("reported by the model's uploader; not computed by this analysis"),
  metrics: Schema.Record({ key: Schema.String, value: Schema.Number }).annotations({
    description: "The model's stored metrics that are finite numbers."
  }),
  nonNumeric: Schema.Array(Schema.String).annotations({
    description: "Stored metric entries that are not finite numbers (left out of every comparison)."
  }),
  evaluationsOnVersion: Schema.Array(Schema.Record({ key: Schema.String, value: Schema.Unknown })).annotations({
    description: "Evaluations stored for this dataset version, as the backend sent them."
  })
})
export type ReportedMetrics = typeof ReportedMetrics.Type

/**
 * The result of {@link analyzeModel}. The MCP tool publishes it (without `report`), so the
 * descriptions of its top-level fields are part of the tool list: they stay short.
 */
export const Analysis = Schema.Struct({
  model: ModelSummary,
  datasetVersion: VersionSummary,
  reported: ReportedMetrics.annotations({ description: "Stored on the model by its uploader, not verified." }),
  groundTruth: GroundTruthStats,
  computed: Schema.optionalWith(Score.annotations({ description: "From the predictions." }), { exact: true }),
  /** Reported metrics set against computed ones (empty without predictions). */
  comparisons: Schema.Array(MetricComparison),
  discrepancies: Schema.Array(MetricComparison).annotations({
    description: "Reported metrics off by more than the tolerance."
  }),
  /** Reported metrics with no computed counterpart. */
  uncompared: Schema.Array(Schema.String),
  tolerance: Schema.Number,
  notes: Schema.Array(Schema.String),
  /** The report written, when one was asked for. */
  report: Schema.optionalWith(ReportWritten, { exact: true })
})
export type Analysis = typeof Analysis.Type

/**
 * The task a model's predictions are read as: the one given, else from the model's type. A model
 * whose type the backend did not send is read as detection (the commonest kind); callers say so
 * in a note ({@link taskNote}) so that the choice is visible and `task` can override it.
 */
export const taskOf = (model: Pick<Model, "model_type">, override?: EvaluationTask): EvaluationTask =>
  override ?? (model.model_type === "classification" ? "classification" : "detection")

/** The note explaining a task chosen without a model type, or undefined when there is nothing to say. */
export const taskNote = (model: Pick<Model, "id" | "model_type">, override?: EvaluationTask): string | undefined =>
  override === undefined && (model.model_type === undefined || model.model_type === null)
    ? `model ${model.id} has no model_type (the backend did not send it): its predictions are read as detection; pass task to choose`
    : undefined

/**
 * Adds the guessed-task note to a predictions failure: predictions of another task fail as
 * unusable rows, and the note says how to read them as what they are.
 */
export const withTaskHint = (note: string | undefined) => (error: PredictionsError): PredictionsError =>
  note === undefined ? error : new PredictionsError({ ...error, detail: `${error.detail}; note: ${note}` })

/**
 * A model named for messages: `12 (yolo-v8 v3)`, `12 (yolo-v8)`, or `12` when the backend sent
 * neither a name nor a version.
 */
export const modelLabel = (
  m: { readonly id: number; readonly name?: string | null | undefined; readonly version?: string | null | undefined }
): string => {
  const words = [m.name, m.version].filter((w): w is string => typeof w === "string" && w !== "")
  return words.length > 0 ? `${m.id} (${words.join(" ")})` : String(m.id)
}

/** A model, briefly. */
export const summarizeModel = (m: Model): ModelSummary => ({
  id: m.id,
  name: m.name ?? null,
  model_type: m.model_type ?? null,
  project: m.project ?? null,
  version: m.version ?? null,
  is_active: m.is_active ?? null
})

const summarizeVersion = (v: DatasetVersion): VersionSummary => ({
  id: v.id,
  name: v.name ?? null,
  version: v.version ?? null,
  dataset: typeof v.ground_truth_dataset === "object" && v.ground_truth_dataset !== null
    ? v.ground_truth_dataset.name ?? null
    : null,
  event_count: v.event_count ?? null
})

/**
 * Streams every ground-truth event of a version into a collector (see `readGroundTruth`).
 * `keepBoxes` keeps the boxes in memory (needed to score detections only). With the file cache
 * (always there with the whole SDK layer), images of unknown size and `data_meta_*` files are
 * downloaded and read, as the export reads them; without it, such events are counted as unread.
 */
export const collectGroundTruth = Effect.fn("Workflows.collectGroundTruth")(function*(
  versionId: number,
  keepBoxes: boolean,
  onProgress?: ((progress: Progress) => void) | undefined
) {
  const groundTruths = yield* GroundTruths
  const { count, stream } = yield* groundTruths.listAllEvents(
    { ground_truth_dataset_versions: [versionId] },
    { pageSize: 1000, urlConversion: false }
  )
  // Optional, so that the requirements stay GroundTruths alone.
  const cache = yield* Effect.serviceOption(FileCache)
  onProgress?.({ stage: "ground_truth", done: 0, total: count })
  return yield* readGroundTruth(stream, keepBoxes, {
    fetchFile: Option.isSome(cache)
      ? (entry) => cache.value.download(entry.url!, { size: entry.size, checksum: entry.checksum })
      : undefined,
    onPage: (done) => onProgress?.({ stage: "ground_truth", done, total: Math.max(count, done) })
  })
})

/** Parses and scores predictions of one model on collected ground truth. */
export const scorePredictions = (
  text: string,
  task: EvaluationTask,
  groundTruth: GroundTruthCollector,
  options: {
    readonly name?: string | undefined
    readonly zeroDivision?: 0 | 1 | undefined
    readonly scoreThreshold?: number | undefined
  }
): Effect.Effect<Score, PredictionsError> =>
  Effect.suspend((): Effect.Effect<Score, PredictionsError> => {
    const name = options.name ?? "predictions"
    const scoring = {
      name,
      ...(options.zeroDivision !== undefined ? { zeroDivision: options.zeroDivision } : {}),
      ...(options.scoreThreshold !== undefined ? { scoreThreshold: options.scoreThreshold } : {})
    }
    if (task === "detection") {
      const parsed = parseDetections(text, name)
      if (parsed instanceof PredictionsError) return Effect.fail(parsed)
      const score = scoreDetections(parsed, groundTruth.detectionDataset(), scoring)
      return score instanceof PredictionsError ? Effect.fail(score) : Effect.succeed(score)
    }
    const parsed = parseClassifications(text, name)
    if (parsed instanceof PredictionsError) return Effect.fail(parsed)
    const score = scoreClassifications(parsed, groundTruth, scoring)
    return score instanceof PredictionsError ? Effect.fail(score) : Effect.succeed(score)
  })

/** Writes what a request asks for: the HTML report, the PNG charts, or both. */
export const writeRequested = (
  request: ReportRequest,
  plan: ReportPlan
): Effect.Effect<ReportWritten, ReportError> =>
  Effect.gen(function*() {
    const bytes = request.path === undefined ? 0 : yield* writeReport(request.path, plan)
    const charts = request.chartsDir === undefined ? [] : yield* writeChartImages(request.chartsDir, plan)
    return { path: request.path ?? null, bytes, charts, missing: plan.missing }
  })

/**
 * Writes the report of an analysis: thumbnails of the images its error lists name (when their
 * files can be read), the HTML file, and PNG charts when asked.
 */
const writeAnalysisReport = Effect.fn("Workflows.writeAnalysisReport")(function*(
  analysis: Analysis,
  collector: GroundTruthCollector,
  request: ReportRequest
) {
  const errors = analysis.computed?.task === "detection" ? analysis.computed.errors : undefined
  const thumbnails = errors === undefined
    ? undefined
    : yield* loadThumbnails(collector, errors.worst_images.slice(0, 8).map((i) => i.image_id))
  const plan = planAnalysisReport(analysis, thumbnails === undefined ? {} : { thumbnails: thumbnails.images })
  const missing = [
    ...plan.missing,
    ...Object.entries(thumbnails?.leftOut ?? {}).map(([reason, n]) => `${n} thumbnail(s): ${reason}`)
  ]
  return yield* writeRequested(request, { ...plan, missing })
})

/**
 * Analyzes a model on a ground-truth dataset version: reported metrics (labelled as such), the
 * ground truth's distribution, and — with predictions — computed metrics and the discrepancies
 * between reported and computed values.
 */
export const analyzeModel: (
  input: AnalyzeInput,
  options?: AnalyzeOptions
) => Effect.Effect<Analysis, SynapseError | PredictionsError | ReportError, Models | GroundTruths> = Effect.fn(
  "Workflows.analyzeModel"
)(
  function*(rawInput: AnalyzeInput, options: AnalyzeOptions = {}) {
    const input = yield* validate(AnalyzeInput, rawInput)
    const models = yield* Models
    const groundTruths = yield* GroundTruths
    const [model, version] = yield* Effect.all(
      [
        models.get(input.model_id, { params: { expand: ["metrics", "evaluations"] } }),
        groundTruths.getVersion(input.ground_truth_version_id)
      ],
      { concurrency: 2 }
    )
    const task = taskOf(model, input.task)
    const notes: Array<string> = []
    const chosen = input.predictions !== undefined ? taskNote(model, input.task) : undefined
    if (chosen !== undefined) notes.push(chosen)
    if (model.metrics === undefined || model.metrics === null) {
      notes.push(`the backend sent no metrics for model ${model.id}: there are no reported metrics to show or compare`)
    }
    if (input.predictions !== undefined && model.model_type === "segmentation" && input.task === undefined) {
      notes.push("segmentation model: predictions are scored on their bounding boxes (COCO iouType bbox)")
    }
    const collector = yield* collectGroundTruth(
      version.id,
      input.predictions !== undefined && task === "detection",
      options.onProgress
    )

    const reportedMetrics = numericMetrics(model)
    const nonNumeric = Object.keys(model.metrics ?? {}).filter((k) => !(k in reportedMetrics))
    const evaluationsOnVersion = (model.evaluations ?? [])
      .filter((e) => e.ground_truth_dataset_version === version.id)
      .map((e) => ({ ...e }))
    const tolerance = input.tolerance ?? 0.01

    let computed: Score | undefined
    let comparisons: ReadonlyArray<MetricComparison> = []
    let uncompared: ReadonlyArray<string> = Object.keys(reportedMetrics)
    if (input.predictions !== undefined) {
      options.onProgress?.({ stage: "scoring", done: 0, total: 1, message: `scoring ${task} predictions` })
      computed = yield* scorePredictions(input.predictions, task, collector, {
        name: input.predictions_name,
        zeroDivision: input.zero_division,
        scoreThreshold: input.score_threshold
      }).pipe(Effect.mapError(withTaskHint(chosen)))
      options.onProgress?.({ stage: "scoring", done: 1, total: 1 })
      const compared = compareReported(reportedMetrics, computed, tolerance)
      comparisons = compared.comparisons
      uncompared = compared.uncompared
      if (computed.predictions.skipped.total > 0) {
        notes.push(
          `${computed.predictions.skipped.total} prediction rows were skipped; see computed.predictions.skipped`
        )
      }
      if (computed.task === "detection" && computed.metrics.excludedCategories.length > 0) {
        notes.push(
          `categories without ground truth are excluded from the means: ${
            computed.metrics.excludedCategories.map((c) => c.name).join(", ")
          }`
        )
      }
    } else {
      notes.push("no predictions given: only the reported metrics are shown; pass predictions to compute metrics")
    }
    const stats = collector.stats()
    if (stats.events === 0) notes.push("the dataset version has no ground-truth events")
    const analysis = {
      model: summarizeModel(model),
      datasetVersion: summarizeVersion(version),
      reported: {
        source: "reported by the model's uploader; not computed by this analysis",
        metrics: reportedMetrics,
        nonNumeric,
        evaluationsOnVersion
      },
      groundTruth: stats,
      ...(computed !== undefined ? { computed } : {}),
      comparisons,
      discrepancies: comparisons.filter((c) => !c.agrees),
      uncompared,
      tolerance,
      notes
    } satisfies Analysis
    if (options.report === undefined) return analysis
    const report = yield* writeAnalysisReport(analysis, collector, options.report)
    return { ...analysis, report } satisfies Analysis
  }
)
