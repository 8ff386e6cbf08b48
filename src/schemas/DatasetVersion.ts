/**
 * Ground-truth dataset versions (`ground_truth_dataset_versions/`). A version decodes when it has an
 * `id`: the evidenced fields are `id, name, is_archived`, the documented ones (`version`,
 * `ground_truth_dataset`, `event_count`, …) are optional (docs/wire-protocol.md "Resources").
 */
import { Schema } from "effect"
import { Id, JsonObject, Timestamp } from "./Common.js"
import { DatasetRef } from "./GroundTruth.js"

/** A version of a ground-truth dataset, with its event count and statistics when the backend sends them. */
export const DatasetVersion = Schema.Struct({
  id: Id,
  version: Schema.optional(Schema.NullOr(Schema.String)),
  name: Schema.optional(Schema.NullOr(Schema.String)),
  ground_truth_dataset: Schema.optional(Schema.NullOr(DatasetRef)),
  event_count: Schema.optional(Schema.NullOr(Schema.Int)),
  description: Schema.optional(Schema.NullOr(Schema.String)),
  is_active: Schema.optional(Schema.NullOr(Schema.Boolean)),
  is_archived: Schema.optional(Schema.NullOr(Schema.Boolean)),
  created_at: Schema.optional(Schema.NullOr(Timestamp)),
  statistics: Schema.optional(Schema.NullOr(JsonObject))
})
export type DatasetVersion = typeof DatasetVersion.Type
