/**
 * `find_model_errors`: where a model goes wrong on a dataset version, image by image, with each
 * image's file (a local path, else its URL) so that an assistant can open and show it.
 */
import { Effect, Schema } from "effect"
import { Id } from "../../schemas/Common.js"
import { ScoringFields } from "../../workflows/Analyze.js"
import { findModelErrors, ModelErrors } from "../../workflows/ModelErrors.js"
import * as Tool from "../Tool.js"
import { mapError, readPredictions } from "./ModelWorkflows.js"

export const findModelErrorsTool = Tool.make({
  name: "find_model_errors",
  title: "Find a model's errors",
  description: "Where a model's predictions on a dataset version go wrong (IoU 0.5): images with most errors, " +
    "confident false positives, largest misses, confused classes (classification: wrong predictions by " +
    "confidence), each image with its file path or URL.",
  input: Schema.Struct({
    model_id: Id.annotations({ description: "Model id." }),
    ground_truth_version_id: Id.annotations({ description: "Dataset version id." }),
    predictions: Schema.optional(Schema.String.pipe(Schema.maxLength(2_000_000))).annotations({
      description: "Predictions as analyze_model_performance takes them."
    }),
    predictions_path: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1000))).annotations({
      description: "Instead: a predictions file inside an upload root."
    }),
    limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 100))).annotations({
      description: "Entries per list (default 20)."
    }),
    task: ScoringFields.task.annotations({ description: "How to read predictions (default: the model's type)." }),
    score_threshold: ScoringFields.score_threshold.annotations({ description: "Detection: least score counted." })
  }),
  output: ModelErrors,
  truncationHint: "Ask for a smaller limit.",
  annotations: Tool.readOnly,
  toolset: "evaluation",
  write: false,
  run: (input) =>
    Effect.gen(function*() {
      if ((input.predictions === undefined) === (input.predictions_path === undefined)) {
        return yield* new Tool.ToolError({ message: "Give predictions or predictions_path (one of them)." })
      }
      const predictions = input.predictions ?? (yield* readPredictions(input.predictions_path!))
      const { predictions_path: _path, ...rest } = input
      const found = yield* findModelErrors({ ...rest, predictions }).pipe(Effect.mapError(mapError(
        `Finding the errors of model ${input.model_id} on dataset version ${input.ground_truth_version_id}`,
        "the model or the dataset version does not exist. Check the ids with list_models and list_ground_truth_versions."
      )))
      return found
    })
})
