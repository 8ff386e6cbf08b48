/**
 * Model comparison (the seed's `compare_models`), without its two defects: a model that lacks the
 * metric is listed apart instead of being ranked as if it scored 0, and the direction is known
 * (loss and error are lower-is-better). Optionally every model is re-scored on one dataset version
 * from supplied predictions, so that models are ranked on the same data rather than on whatever
 * numbers their uploaders typed in.
 */
import { Effect, Schema } from "effect"
import { Id } from "../schemas/Common.js"
import { type Model, numericMetrics } from "../schemas/Model.js"
import { GroundTruths } from "../services/GroundTruths.js"
import { Models } from "../services/Models.js"
import { validate } from "../services/SynapseClient.js"
import type { SynapseError } from "../services/SynapseError.js"
import {
  collectGroundTruth,
  ModelSummary,
  type Progress,
  type ReportRequest,
  ReportWritten,
  scorePredictions,
  ScoringFields,
  summarizeModel,
  taskNote,
  taskOf,
  withTaskHint,
  writeRequested
} from "./Analyze.js"
import { PredictionsError } from "./Predictions.js"
import { planComparisonReport, type ReportError } from "./report/Report.js"
import { flatMetrics, type Score } from "./Scoring.js"

/** Which way a metric improves. */
export const Direction = Schema.Literal("higher", "lower")
export type Direction = typeof Direction.Type

const LOWER_IS_BETTER =
  /(loss|error|err$|^err|mse|mae|rmse|mape|wer|cer|latency|fpr|fnr|miss_?rate|perplexity|inference_time|eer)/i

/** The default direction of a metric: lower for losses, errors, latencies and the like; else higher. */
export const defaultDirection = (metric: string): Direction => (LOWER_IS_BETTER.test(metric) ? "lower" : "higher")

/**
 * Names under which models commonly report a metric that a recomputation computes under COCO's
 * name: a stored `mAP` is the mean over classes of AP at IoU 0.50:0.95, which is `AP`.
 */
const COMPUTED_NAMES: Readonly<Record<string, string>> = {
  mAP: "AP",
  map: "AP",
  "mAP@0.5:0.95": "AP",
  mAP50: "AP50",
  "mAP@0.5": "AP50",
  mAP75: "AP75",
  "mAP@0.75": "AP75"
}
const COMPUTED_MEANINGS: Readonly<Record<string, string>> = {
  AP: "mean over classes of the average precision at IoU 0.50:0.95",
  AP50: "mean over classes of the average precision at IoU 0.50",
  AP75: "mean over classes of the average precision at IoU 0.75"
}

/** A metric that none of the compared models has; `available` lists the ones that exist. */
export class UnknownMetricError extends Schema.TaggedError<UnknownMetricError>()("UnknownMetricError", {
  metric: Schema.String,
  /** Every metric name at least one of the models has. */
  available: Schema.Array(Schema.String),
  detail: Schema.String
}) {
  override get message(): string {
    return this.detail
  }
}

/** One model's figure for one class. */
interface ClassFigure {
  readonly metric: "AP" | "f1"
  readonly model_id: number
  readonly class: string
  readonly value: number
}

/** A score's per-class figures: AP of each class with ground truth, or each label's F1. */
const classFigures = (modelId: number, score: Score): ReadonlyArray<ClassFigure> =>
  score.task === "detection"
    ? score.metrics.perClass.flatMap((c) =>
      c.ap === null ? [] : [{ metric: "AP" as const, model_id: modelId, class: c.name, value: c.ap }]
    )
    : score.metrics.perClass.map((c) => ({ metric: "f1" as const, model_id: modelId, class: c.label, value: c.f1 }))

/** The per-class figures of the first figure's kind (models of another task are not comparable by class). */
const sameMetric = (rows: ReadonlyArray<ClassFigure>): NonNullable<Comparison["perClass"]> => {
  const metric = rows[0].metric
  return {
    metric,
    rows: rows.filter((r) => r.metric === metric).map((r) => ({ model_id: r.model_id, class: r.class, value: r.value }))
  }
}

/** Options of {@link compareModels}: progress, and the report to write. */
export interface CompareOptions {
  readonly onProgress?: ((progress: Progress) => void) | undefined
  /** Write a self-contained HTML report (and PNG charts) of the comparison. */
  readonly report?: ReportRequest | undefined
}

/** Input of {@link compareModels} (the seed's `compare_models(model_ids, metric)`). */
export const CompareInput = Schema.Struct({
  model_ids: Schema.Array(Id).pipe(Schema.minItems(1), Schema.maxItems(100)).annotations({
    description: "The models to compare (1..100)."
  }),
  metric: Schema.optional(Schema.String.pipe(Schema.minLength(1))).annotations({
    description:
      "The metric to rank by, e.g. accuracy, mAP, loss (computed metrics when recomputing: AP, AP50, accuracy, f1_macro…). Default accuracy, as in the seed."
  }),
  direction: Schema.optional(Direction).annotations({
    description: "Whether higher or lower is better. Default: lower for loss/error-like names, higher otherwise."
  }),
  recompute: Schema.optional(
    Schema.Struct({
      ground_truth_version_id: Id.annotations({ description: "The dataset version every model is scored on." }),
      predictions: Schema.Record({ key: Schema.String, value: Schema.String }).annotations({
        description:
          "Predictions text per model id (as analyze accepts). Models without an entry are listed as missing."
      }),
      ...ScoringFields
    })
  ).annotations({
    description: "Score every model on one dataset version from supplied predictions, and rank by the computed metric."
  })
})
export type CompareInput = typeof CompareInput.Type

/** A ranked model. Tied models share a rank and keep the order they were given in. */
export const RankedModel = Schema.Struct({
  rank: Schema.Number.annotations({ description: "1 is best; tied models share a rank (1, 1, 3)." }),
  model: ModelSummary,
  value: Schema.Number.annotations({ description: "The model's value of the metric ranked by." }),
  reported: Schema.optionalWith(Schema.Number, { exact: true }).annotations({
    description: "With recompute: the model's stored value of the same metric name, if any."
  })
})
export type RankedModel = typeof RankedModel.Type

/** A model left out of the ranking, and why. */
export const UnrankedModel = Schema.Struct({
  model: ModelSummary,
  reason: Schema.String
})
export type UnrankedModel = typeof UnrankedModel.Type

/** One model's figure for one class, as {@link Comparison} lists them. */
export const ClassFigureRow = Schema.Struct({ model_id: Schema.Number, class: Schema.String, value: Schema.Number })

/**
 * The result of {@link compareModels}. The MCP tool publishes it (without `perClass` and `report`),
 * so the descriptions of its top-level fields are part of the tool list: they stay short.
 */
export const Comparison = Schema.Struct({
  metric: Schema.String,
  direction: Direction,
  directionSource: Schema.Literal("given", "default"),
  source: Schema.Literal("reported", "computed"),
  ranking: Schema.Array(RankedModel).annotations({ description: "Best first: {rank, model, value}." }),
  missing: Schema.Array(UnrankedModel).annotations({ description: "Models without the metric, and why." }),
  best: Schema.NullOr(RankedModel),
  /** Every metric name present on at least one model (of the source compared). */
  availableMetrics: Schema.Array(Schema.String),
  /** What the comparison assumed for lack of data (a task chosen without a model type…). */
  notes: Schema.Array(Schema.String),
  perClass: Schema.optionalWith(
    Schema.Struct({ metric: Schema.Literal("AP", "f1"), rows: Schema.Array(ClassFigureRow) }),
    { exact: true }
  ).annotations({
    description: "With recompute: every scored model's per-class figure (AP for detection, F1 for classification)."
  }),
  /** The report written, when one was asked for. */
  report: Schema.optionalWith(ReportWritten, { exact: true })
})
export type Comparison = typeof Comparison.Type

/**
 * Ranks values with a direction: stable (ties keep input order) and with shared ranks for ties
 * (1, 1, 3). Pure, so callers can rank anything.
 */
export const rank = <A extends { readonly value: number }>(
  items: ReadonlyArray<A>,
  direction: Direction
): Array<A & { readonly rank: number }> => {
  const sorted = items
    .map((item, index) => ({ item, index }))
    .sort((a, b) =>
      (direction === "higher" ? b.item.value - a.item.value : a.item.value - b.item.value) || a.index - b.index
    )
  const out: Array<A & { readonly rank: number }> = []
  sorted.forEach(({ item }, i) => {
    const previous = out[i - 1]
    const r = previous !== undefined && previous.value === item.value ? previous.rank : i + 1
    out.push({ ...item, rank: r })
  })
  return out
}

/** Compares models by a metric, reported or recomputed on one dataset version. */
export const compareModels: (
  input: CompareInput,
  options?: CompareOptions
) => Effect.Effect<
  Comparison,
  SynapseError | PredictionsError | UnknownMetricError | ReportError,
  Models | GroundTruths
> = Effect.fn(
  "Workflows.compareModels"
)(function*(
  rawInput: CompareInput,
  options: CompareOptions = {}
) {
  const input = yield* validate(CompareInput, rawInput)
  const models = yield* Models
  const ids = [...new Set(input.model_ids)]
  const list: ReadonlyArray<Model> = yield* Effect.forEach(
    ids,
    (id) => models.get(id, { params: { expand: "metrics" } }),
    {
      concurrency: 4
    }
  )
  const requested = input.metric ?? "accuracy"
  const direction = input.direction ?? defaultDirection(requested)
  const directionSource = input.direction !== undefined ? "given" : "default"

  const values = new Map<number, Record<string, number>>()
  const reasons = new Map<number, string>()
  const notes: Array<string> = []
  // A backend that sends only the evidenced fields sends no metrics: say so, not "has no accuracy".
  const sentNoMetrics = (m: Model) => m.metrics === undefined || m.metrics === null
  const recompute = input.recompute
  const perClassRows: Array<ClassFigure> = []
  if (recompute === undefined) {
    for (const m of list) {
      values.set(m.id, numericMetrics(m))
      if (sentNoMetrics(m)) reasons.set(m.id, "the backend sent no metrics for this model")
    }
  } else {
    // Predictions keyed by a model that is not compared (a typo in an id) would otherwise be
    // ignored and surface as "no predictions supplied" or an unknown metric, far from the cause.
    const strays = Object.keys(recompute.predictions).filter((key) => !ids.some((id) => String(id) === key))
    if (strays.length > 0) {
      return yield* new PredictionsError({
        detail: `predictions were given for ${
          strays.map((k) => JSON.stringify(k)).join(", ")
        }, which ${strays.length === 1 ? "is" : "are"} not ` +
          `among the compared models (${ids.join(", ")}); key predictions by the id of a compared model`
      })
    }
    const predicted = list.filter((m) => String(m.id) in recompute.predictions)
    const tasks = new Set(predicted.map((m) => taskOf(m, recompute.task)))
    for (const m of predicted) {
      const note = taskNote(m, recompute.task)
      if (note !== undefined) notes.push(note)
    }
    // An unknown version lists no events: without this lookup every model's predictions would be
    // blamed ("no usable row: unknown_image") instead of the version id.
    const groundTruths = yield* GroundTruths
    yield* groundTruths.getVersion(recompute.ground_truth_version_id)
    // One pass over the ground truth serves every model.
    const collector = yield* collectGroundTruth(
      recompute.ground_truth_version_id,
      tasks.has("detection"),
      options.onProgress
    )
    let done = 0
    for (const m of list) {
      const text = recompute.predictions[String(m.id)]
      if (text === undefined) {
        reasons.set(m.id, "no predictions supplied for this model")
        continue
      }
      options.onProgress?.({ stage: "scoring", done, total: list.length, message: `scoring model ${m.id}` })
      const score = yield* scorePredictions(text, taskOf(m, recompute.task), collector, {
        name: `predictions of model ${m.id}`,
        zeroDivision: recompute.zero_division,
        scoreThreshold: recompute.score_threshold
      }).pipe(Effect.mapError(withTaskHint(taskNote(m, recompute.task))))
      values.set(m.id, flatMetrics(score))
      perClassRows.push(...classFigures(m.id, score))
      done++
    }
    options.onProgress?.({ stage: "scoring", done, total: list.length })
  }

  const available = [...new Set([...values.values()].flatMap((v) => Object.keys(v)))].sort()
  // A name models report (mAP) stands for the computed metric of the same definition (AP).
  const alias = recompute !== undefined && !available.includes(requested) ? COMPUTED_NAMES[requested] : undefined
  const metric = alias !== undefined && available.includes(alias) ? alias : requested
  if (metric !== requested) {
    notes.push(`"${requested}" is ranked by the computed ${metric} (${COMPUTED_MEANINGS[metric]})`)
  }
  const scored = list.filter((m) => values.get(m.id)?.[metric] !== undefined)
  if (scored.length === 0) {
    const where = recompute === undefined ? "stored on" : "computed for"
    const noMetrics = recompute === undefined && list.every(sentNoMetrics)
      ? `; the backend sent no metrics for ${
        list.length === 1 ? "this model" : "any of these models"
      }: recompute them from predictions on a dataset version instead`
      : ""
    return yield* new UnknownMetricError({
      metric,
      available,
      detail: `no model has a metric named "${metric}" ${where} it; metrics that exist: ${
        available.length > 0 ? available.join(", ") : "none"
      }${noMetrics}`
    })
  }
  const ranking = rank(
    scored.map((m) => {
      const stored = numericMetrics(m)
      const reported = stored[requested] ?? stored[metric]
      return {
        model: summarizeModel(m),
        value: values.get(m.id)![metric]!,
        ...(recompute !== undefined && reported !== undefined ? { reported } : {})
      }
    }),
    direction
  )
  const missing = list
    .filter((m) => values.get(m.id)?.[metric] === undefined)
    .map((m) => ({
      model: summarizeModel(m),
      reason: reasons.get(m.id) ?? `has no "${metric}" metric${recompute === undefined ? "" : " computed for its task"}`
    }))
  const comparison = {
    metric,
    direction,
    directionSource,
    source: recompute === undefined ? "reported" : "computed",
    ranking,
    missing,
    best: ranking[0] ?? null,
    availableMetrics: available,
    notes,
    ...(perClassRows.length > 0 ? { perClass: sameMetric(perClassRows) } : {})
  } satisfies Comparison
  if (options.report === undefined) return comparison
  const report = yield* writeRequested(options.report, planComparisonReport(comparison))
  return { ...comparison, report } satisfies Comparison
})
