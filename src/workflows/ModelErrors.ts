/**
 * The images a model gets wrong, with their files: the error analysis of a model's predictions on a
 * dataset version, where each image an error list names comes with its file (a local path when the
 * file cache could download it, else its URL), so that a person or an assistant can open it.
 */
import { Effect, Option, Schema } from "effect"
import { Id } from "../schemas/Common.js"
import { FileCache } from "../services/FileCache.js"
import { GroundTruths } from "../services/GroundTruths.js"
import { Models } from "../services/Models.js"
import { validate } from "../services/SynapseClient.js"
import type { SynapseError } from "../services/SynapseError.js"
import {
  collectGroundTruth,
  ModelSummary,
  scorePredictions,
  ScoringFields,
  summarizeModel,
  taskNote,
  taskOf,
  withTaskHint
} from "./Analyze.js"
import { fileNameOf } from "./Annotations.js"
import { ClassificationErrors, DetectionErrors } from "./ErrorAnalysis.js"
import type { GroundTruthCollector } from "./GroundTruthSummary.js"
import type { PredictionsError } from "./Predictions.js"

/** Input of {@link findModelErrors}. */
export const FindErrorsInput = Schema.Struct({
  model_id: Id.annotations({ description: "The model whose predictions are judged." }),
  ground_truth_version_id: Id.annotations({ description: "The dataset version they are judged on." }),
  predictions: Schema.String.annotations({ description: "The model's predictions, as analyze accepts them." }),
  predictions_name: Schema.optional(Schema.String),
  limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 100))).annotations({
    description: "Entries per list (default 20)."
  }),
  ...ScoringFields
})
export type FindErrorsInput = typeof FindErrorsInput.Type

/** An image's file, as found. */
export const ImageFileRef = Schema.Struct({
  image_id: Schema.Int,
  name: Schema.NullOr(Schema.String).annotations({ description: "The file name." }),
  path: Schema.NullOr(Schema.String).annotations({
    description: "A local path, when the file is on this machine (downloaded into the file cache)."
  }),
  url: Schema.NullOr(Schema.String).annotations({ description: "The backend's URL of the file, when it sent one." })
})
export type ImageFileRef = typeof ImageFileRef.Type

/**
 * The result of {@link findModelErrors}. The MCP tool publishes it, so the descriptions of its
 * top-level fields are part of the tool list: they stay short.
 */
export const ModelErrors = Schema.Struct({
  model: ModelSummary,
  ground_truth_version_id: Schema.Int,
  errors: Schema.Union(DetectionErrors, ClassificationErrors),
  /** Empty for classification. */
  images: Schema.Array(ImageFileRef).annotations({ description: "The files of the images the lists name." }),
  notes: Schema.Array(Schema.String)
})
export type ModelErrors = typeof ModelErrors.Type

/** The detection error lists cut to `limit` entries, without the per-image table (it names every image). */
const shorten = (errors: DetectionErrors, limit: number): DetectionErrors => ({
  ...errors,
  per_image: [],
  worst_images: errors.worst_images.slice(0, limit),
  confident_false_positives: errors.confident_false_positives.slice(0, limit),
  largest_misses: errors.largest_misses.slice(0, limit)
})

/** The files of the given images, downloaded through the file cache when there is one. */
const imageFiles = (collector: GroundTruthCollector, ids: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const cache = yield* Effect.serviceOption(FileCache)
    return yield* Effect.forEach([...new Set(ids)], (image_id) =>
      Effect.gen(function*() {
        const file = collector.imageFile(image_id)
        const url = typeof file?.entry.url === "string" ? file.entry.url : null
        const downloaded = url !== null && Option.isSome(cache)
          ? yield* cache.value.download(url, { size: file?.entry.size, checksum: file?.entry.checksum }).pipe(
            Effect.option,
            Effect.map(Option.getOrNull)
          )
          : null
        const name = fileNameOf(file?.entry) ?? null
        return { image_id, name, path: file?.path ?? downloaded, url } satisfies ImageFileRef
      }), { concurrency: 4 })
  })

/**
 * Judges a model's predictions on a dataset version and names the images it gets most wrong, with
 * their files.
 */
export const findModelErrors: (
  input: FindErrorsInput
) => Effect.Effect<ModelErrors, SynapseError | PredictionsError, Models | GroundTruths> = Effect.fn(
  "Workflows.findModelErrors"
)(function*(rawInput: FindErrorsInput) {
  const input = yield* validate(FindErrorsInput, rawInput)
  const models = yield* Models
  const groundTruths = yield* GroundTruths
  const [model, version] = yield* Effect.all(
    [models.get(input.model_id), groundTruths.getVersion(input.ground_truth_version_id)],
    { concurrency: 2 }
  )
  const task = taskOf(model, input.task)
  const chosen = taskNote(model, input.task)
  const collector = yield* collectGroundTruth(version.id, task === "detection")
  const score = yield* scorePredictions(input.predictions, task, collector, {
    name: input.predictions_name,
    zeroDivision: input.zero_division,
    scoreThreshold: input.score_threshold
  }).pipe(Effect.mapError(withTaskHint(chosen)))
  const limit = input.limit ?? 20
  const notes = chosen === undefined ? [] : [chosen]
  if (score.task === "classification") {
    return {
      model: summarizeModel(model),
      ground_truth_version_id: version.id,
      errors: { ...score.errors, misclassified: score.errors.misclassified.slice(0, limit) },
      images: [],
      notes
    } satisfies ModelErrors
  }
  const errors = shorten(score.errors, limit)
  const images = yield* imageFiles(collector, [
    ...errors.worst_images.map((i) => i.image_id),
    ...errors.confident_false_positives.map((f) => f.image_id),
    ...errors.largest_misses.map((m) => m.image_id)
  ])
  return {
    model: summarizeModel(model),
    ground_truth_version_id: version.id,
    errors,
    images,
    notes
  } satisfies ModelErrors
})
