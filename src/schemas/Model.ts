/**
 * Models in the registry: the resource `models/` lists and `models/{id}/` returns, its expansions
 * (`evaluations`, `versions`, `file_info`) and the body `POST models/` accepts. The resource and its
 * expansions decode when they have an `id`; every other field is optional (docs/wire-protocol.md
 * "Resources").
 */
import { Schema } from "effect"
import { UploadId } from "./ChunkedUpload.js"
import { Id, JsonObject, Timestamp } from "./Common.js"

/** The three kinds of model Synapse knows. */
export const MODEL_TYPES = ["classification", "detection", "segmentation"] as const
export const ModelType = Schema.Literal(...MODEL_TYPES)
export type ModelType = typeof ModelType.Type

/**
 * Metrics as stored: names to numbers. Values are decoded as unknown so that one odd value on a
 * real backend does not make a whole listing undecodable; `numericMetrics` picks the numbers.
 */
export const Metrics = Schema.Record({ key: Schema.String, value: Schema.Unknown })
export type Metrics = typeof Metrics.Type

/** Metrics as sent when creating a model: every value must be a finite number. */
export const MetricsInput = Schema.Record({ key: Schema.String, value: Schema.Number.pipe(Schema.finite()) })
export type MetricsInput = typeof MetricsInput.Type

/** An evaluation of a model on a ground-truth dataset version (`expand=evaluations`). */
export const ModelEvaluation = Schema.Struct({
  id: Id,
  ground_truth_dataset_version: Schema.optional(Schema.NullOr(Schema.Int)),
  metrics: Schema.optional(Schema.NullOr(Metrics)),
  created_at: Schema.optional(Schema.NullOr(Timestamp))
})
export type ModelEvaluation = typeof ModelEvaluation.Type

/** Another model of the same project and name (`expand=versions`). */
export const ModelVersionRef = Schema.Struct({
  id: Id,
  version: Schema.optional(Schema.NullOr(Schema.String)),
  is_active: Schema.optional(Schema.NullOr(Schema.Boolean)),
  created_at: Schema.optional(Schema.NullOr(Timestamp))
})
export type ModelVersionRef = typeof ModelVersionRef.Type

/** What `include_file` adds: the stored file's name, size and md5. */
export const ModelFileInfo = Schema.Struct({
  name: Schema.optional(Schema.NullOr(Schema.String)),
  size: Schema.optional(Schema.NullOr(Schema.Number)),
  checksum: Schema.optional(Schema.NullOr(Schema.String))
})
export type ModelFileInfo = typeof ModelFileInfo.Type

/**
 * A model as the server returns it (docs/wire-protocol.md "Resources"). Only `id` is needed to
 * carry on: every other field is optional, typed when present, so that a backend answering the
 * evidenced fields alone (`id, name, category, file, plugin, version, configuration, description,
 * is_released`) decodes, and so does a partial record. Fields not declared here are kept as they
 * arrived. A workflow that needs a field the backend did not send says so itself
 * (`IncompleteRecordError`), rather than this schema failing a whole listing.
 */
export const Model = Schema.Struct({
  id: Id,
  name: Schema.optional(Schema.NullOr(Schema.String)),
  description: Schema.optional(Schema.NullOr(Schema.String)),
  model_type: Schema.optional(Schema.NullOr(Schema.String)),
  project: Schema.optional(Schema.NullOr(Schema.Int)),
  /** A presigned URL (or a local path after url conversion); `null` when the model has no file. */
  file: Schema.optional(Schema.NullOr(Schema.String)),
  metrics: Schema.optional(Schema.NullOr(Metrics)),
  configuration: Schema.optional(Schema.NullOr(JsonObject)),
  is_active: Schema.optional(Schema.NullOr(Schema.Boolean)),
  is_released: Schema.optional(Schema.NullOr(Schema.Boolean)),
  created_at: Schema.optional(Schema.NullOr(Timestamp)),
  category: Schema.optional(Schema.NullOr(Schema.String)),
  /** The plugin's id as the create body sends it; kept as received when a backend expands it. */
  plugin: Schema.optional(Schema.NullOr(Schema.Union(Schema.Int, Schema.String, JsonObject))),
  version: Schema.optional(Schema.NullOr(Schema.String)),
  evaluations: Schema.optional(Schema.NullOr(Schema.Array(ModelEvaluation))),
  versions: Schema.optional(Schema.NullOr(Schema.Array(ModelVersionRef))),
  file_info: Schema.optional(Schema.NullOr(ModelFileInfo))
})
export type Model = typeof Model.Type

/**
 * The documented keys of the JSON body of `POST models/` (docs/wire-protocol.md "Creating a model"), typed
 * when present. The official SDK sends `{name, plugin?, version?, chunked_upload?}`; its v1 line sent
 * every key of the caller's data, so only `name` is required and other keys pass through.
 */
export const ModelCreateBody = Schema.Struct({
  name: Schema.String.pipe(Schema.minLength(1)),
  model_type: Schema.optional(ModelType),
  project: Schema.optional(Id),
  description: Schema.optional(Schema.NullOr(Schema.String)),
  metrics: Schema.optional(MetricsInput),
  configuration: Schema.optional(JsonObject),
  is_active: Schema.optional(Schema.Boolean),
  /** The finished upload's id, as its upload answered it (an integer, or a string). */
  chunked_upload: Schema.optional(UploadId),
  plugin: Schema.optional(Schema.NullOr(Id)),
  version: Schema.optional(Schema.NullOr(Schema.String))
})
export type ModelCreateBody = typeof ModelCreateBody.Type

/** The JSON body of `PATCH models/{id}/`: any subset of the writable fields. */
export const ModelPatchBody = Schema.Struct({
  name: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  description: Schema.optional(Schema.String),
  metrics: Schema.optional(MetricsInput),
  configuration: Schema.optional(JsonObject),
  is_active: Schema.optional(Schema.Boolean),
  version: Schema.optional(Schema.NullOr(Schema.String))
})
export type ModelPatchBody = typeof ModelPatchBody.Type

/** The numeric metrics of a model (non-numbers and NaN left out). */
export const numericMetrics = (model: Pick<Model, "metrics">): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const [key, value] of Object.entries(model.metrics ?? {})) {
    if (typeof value === "number" && Number.isFinite(value)) out[key] = value
  }
  return out
}
