/** Ground-truth dataset versions (`ground_truth_dataset_versions/`). */
import { Schema } from "effect"
import { Id, JsonObject, Timestamp } from "./Common.js"
import { DatasetRef } from "./GroundTruth.js"

/** A version of a ground-truth dataset, with its event count and statistics. */
export const DatasetVersion = Schema.Struct({
  id: Id,
  version: Schema.String,
  name: Schema.optional(Schema.NullOr(Schema.String)),
  ground_truth_dataset: DatasetRef,
  event_count: Schema.optional(Schema.Int),
  description: Schema.optional(Schema.NullOr(Schema.String)),
  is_active: Schema.optional(Schema.Boolean),
  is_archived: Schema.optional(Schema.Boolean),
  created_at: Schema.optional(Timestamp),
  statistics: Schema.optional(Schema.NullOr(JsonObject))
})
export type DatasetVersion = typeof DatasetVersion.Type
