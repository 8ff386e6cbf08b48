/**
 * Query parameters of every list and detail call, typed. The SDK validates them before any request
 * (bad ids, unknown enum values, page sizes out of range are `ValidationError`s naming the field);
 * the sandbox parses the same names from the query string. A key these schemas do not declare is a
 * `ValidationError` naming the known ones (a misspelt filter must not mean "everything"); query
 * parameters a backend accepts beyond docs/wire-protocol.md "Endpoints" go through the SDK's `extra`.
 */
import { Schema } from "effect"
import { Id } from "./Common.js"
import { CATEGORIES, Category } from "./GroundTruth.js"
import { MODEL_TYPES, ModelType } from "./Model.js"
import { MAX_PAGE_SIZE } from "./Page.js"

/** An ISO 8601 date or date-time (`2026-11-01`, `2026-11-01T10:00:00Z`, with offset or fraction). */
export const IsoDateString = Schema.String.pipe(
  Schema.pattern(/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/, {
    message: () => "must be an ISO 8601 date or date-time, e.g. 2026-11-01 or 2026-11-01T10:00:00Z"
  }),
  Schema.filter((s) => !Number.isNaN(Date.parse(s)) || "is not a valid calendar date")
)

/** 1-based page number. */
export const PageNumber = Schema.Int.pipe(Schema.greaterThanOrEqualTo(1, { message: () => "must be an integer ≥ 1" }))
/** Page size, 1..1000. */
export const PageSize = Schema.Int.pipe(
  Schema.between(1, MAX_PAGE_SIZE, { message: () => `must be an integer between 1 and ${MAX_PAGE_SIZE}` })
)

/** Orderings `models/` accepts. */
export const MODEL_ORDERINGS = ["created_at", "-created_at", "name", "-name", "id", "-id"] as const
export const ModelOrdering = Schema.Literal(...MODEL_ORDERINGS)

const pagination = {
  page: Schema.optional(PageNumber),
  page_size: Schema.optional(PageSize)
}

/** Filters of `GET models/` (the official Python SDK's `list_models(params)`). */
export const ModelListParams = Schema.Struct({
  project: Schema.optional(Id),
  model_type: Schema.optional(ModelType),
  is_active: Schema.optional(Schema.Boolean),
  created_after: Schema.optional(IsoDateString),
  search: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  ordering: Schema.optional(ModelOrdering),
  ...pagination,
  limit: Schema.optional(PageSize),
  offset: Schema.optional(Schema.Int.pipe(Schema.nonNegative()))
})
export type ModelListParams = typeof ModelListParams.Type

/** Expansions of `GET models/{id}/`. */
export const MODEL_EXPANSIONS = ["metrics", "evaluations", "versions"] as const
export const ModelExpansion = Schema.Literal(...MODEL_EXPANSIONS)
export type ModelExpansion = typeof ModelExpansion.Type

/** Params of `GET models/{id}/` (the official Python SDK's `get_model(pk, params)`). */
export const ModelGetParams = Schema.Struct({
  expand: Schema.optional(Schema.Union(ModelExpansion, Schema.Array(ModelExpansion))),
  include_file: Schema.optional(Schema.Boolean)
})
export type ModelGetParams = typeof ModelGetParams.Type

/** Filters of `GET sdk/ground_truth_events/`. */
export const GroundTruthEventListParams = Schema.Struct({
  ground_truth_dataset_versions: Schema.optional(Schema.Array(Id)),
  project: Schema.optional(Id),
  created_after: Schema.optional(IsoDateString),
  data_type: Schema.optional(Schema.String),
  category: Schema.optional(Category),
  search: Schema.optional(Schema.String),
  ...pagination
})
export type GroundTruthEventListParams = typeof GroundTruthEventListParams.Type

/** Filters of `GET ground_truths/`. */
export const GroundTruthListParams = Schema.Struct({
  ground_truth_dataset: Schema.optional(Id),
  ground_truth_dataset_versions: Schema.optional(Schema.Array(Id)),
  category: Schema.optional(Category),
  ...pagination
})
export type GroundTruthListParams = typeof GroundTruthListParams.Type

/** Filters of `GET ground_truth_dataset_versions/`. */
export const DatasetVersionListParams = Schema.Struct({
  ground_truth_dataset: Schema.optional(Id),
  is_archived: Schema.optional(Schema.Boolean),
  ...pagination
})
export type DatasetVersionListParams = typeof DatasetVersionListParams.Type

/** Allowed values, for error messages that list them. */
export const ALLOWED = { model_type: MODEL_TYPES, category: CATEGORIES, ordering: MODEL_ORDERINGS } as const
