/**
 * Ground truth: events (`sdk/ground_truth_events/`), ground truths with their file manifest
 * (`ground_truths/`), the annotations they carry, and the platform's native `data_meta` form.
 */
import { Schema } from "effect"
import { DataUnit, FileMap, Id, JsonObject, Timestamp } from "./Common.js"

/** The splits an event can belong to. */
export const CATEGORIES = ["train", "validation", "test"] as const
export const Category = Schema.Literal(...CATEGORIES)
export type Category = typeof Category.Type

/**
 * One annotation in an event's `data.annotations` (COCO-like). `bbox` is `[x, y, w, h]` in pixels;
 * `segmentation` is a list of polygons or an RLE object, kept as unknown and checked by exporters.
 */
export const Annotation = Schema.Struct({
  id: Schema.optional(Schema.Union(Schema.Number, Schema.String)),
  category_id: Schema.optional(Schema.NullOr(Schema.Number)),
  category: Schema.optional(Schema.NullOr(Schema.String)),
  bbox: Schema.optional(Schema.NullOr(Schema.Array(Schema.Number))),
  area: Schema.optional(Schema.NullOr(Schema.Number)),
  iscrowd: Schema.optional(Schema.NullOr(Schema.Number)),
  segmentation: Schema.optional(Schema.Unknown)
})
export type Annotation = typeof Annotation.Type

/** An event's `data`: the data type and its annotations (classification events carry a `label`). */
export const EventData = Schema.Struct({
  type: Schema.optional(Schema.String),
  annotations: Schema.optional(Schema.Array(Annotation)),
  label: Schema.optional(Schema.String)
})
export type EventData = typeof EventData.Type

/**
 * A ground-truth event: one annotation pass over one data unit in one dataset version. Only `id` is
 * needed: a backend answering the evidenced fields (`id, category, files, data`, plus `data_unit`
 * without `fields=`) decodes, and so does a partial record asked for with
 * `fields=category&fields=files&fields=data` (docs/wire-protocol.md "Resources"). Undeclared fields
 * are kept as they arrived.
 */
export const GroundTruthEvent = Schema.Struct({
  id: Id,
  ground_truth_dataset_version: Schema.optional(Schema.NullOr(Schema.Int)),
  category: Schema.optional(Schema.NullOr(Schema.String)),
  created_at: Schema.optional(Timestamp),
  data: Schema.optional(Schema.NullOr(EventData)),
  data_unit: Schema.optional(Schema.NullOr(DataUnit)),
  files: Schema.optional(FileMap),
  metadata: Schema.optional(Schema.NullOr(JsonObject))
})
export type GroundTruthEvent = typeof GroundTruthEvent.Type

/** A dataset reference: an id, or `{id, name}` when expanded. */
export const DatasetRef = Schema.Union(Schema.Int, Schema.Struct({ id: Id, name: Schema.optional(Schema.String) }))
export type DatasetRef = typeof DatasetRef.Type

/**
 * A ground truth with its complete file manifest (images and `data_meta_*` JSON files). The
 * evidenced fields are `id` (needed) and `files`; everything else is optional.
 */
export const GroundTruth = Schema.Struct({
  id: Id,
  ground_truth_dataset: Schema.optional(Schema.NullOr(DatasetRef)),
  ground_truth_dataset_versions: Schema.optional(Schema.Array(Schema.Int)),
  category: Schema.optional(Schema.NullOr(Schema.String)),
  data_unit: Schema.optional(Schema.NullOr(DataUnit)),
  files: Schema.optional(FileMap),
  data: Schema.optional(Schema.NullOr(JsonObject))
})
export type GroundTruth = typeof GroundTruth.Type

/** A point of a native polygon. */
export const NativePoint = Schema.Struct({ x: Schema.Number, y: Schema.Number })
/** A native box. */
export const NativeBox = Schema.Struct({ x: Schema.Number, y: Schema.Number, width: Schema.Number, height: Schema.Number })

/** One annotation's identity in the native form: its tool and class. */
export const NativeAnnotation = Schema.Struct({
  id: Schema.String,
  tool: Schema.String,
  classification: Schema.optional(Schema.Struct({ class: Schema.String }))
})
/** One annotation's geometry in the native form: a box or a polygon. */
export const NativeAnnotationData = Schema.Struct({
  id: Schema.String,
  coordinate: Schema.Union(NativeBox, Schema.Array(NativePoint))
})

/**
 * A `data_meta_*` file in the platform's native form: per image key (`image_1`), the annotations
 * and, joined by `id`, their coordinates.
 */
export const DataMeta = Schema.Struct({
  annotations: Schema.Record({ key: Schema.String, value: Schema.Array(NativeAnnotation) }),
  annotationsData: Schema.Record({ key: Schema.String, value: Schema.Array(NativeAnnotationData) })
})
export type DataMeta = typeof DataMeta.Type
