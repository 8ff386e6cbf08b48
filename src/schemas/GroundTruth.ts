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
 * One annotation in an event's `data.annotations` list (the rich, COCO-like form). `bbox` is
 * `[x, y, w, h]` in pixels; `segmentation` is a list of polygons or an RLE object. Events do not
 * decode their list entries with this schema (see `EventData`): it documents the form, and callers
 * that build events in memory use its type.
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

/**
 * The native form's entries keyed by media (`image`) or file key (`image_1`): a list per key.
 * Values are kept as they come; the workflows read each entry and count what they cannot use.
 */
export const NativeEntries = Schema.Record({ key: Schema.String, value: Schema.Unknown })
export type NativeEntries = typeof NativeEntries.Type

/**
 * An event's `data` (docs/wire-protocol.md "Ground-truth events"): the data type, the annotations
 * and, for classification, a `label`. `annotations` comes in two forms: the rich list
 * (`[{category_id, category, bbox, area, iscrowd, segmentation}]`) or the platform's native record
 * (`{"image": [{id, tool, classification: {class}}]}`, geometry in `annotationsData` joined by id).
 * Entries are not decoded one by one: one malformed annotation must not fail a page of events, so
 * the workflows read each entry and report the ones they cannot use, by reason.
 */
export const EventData = Schema.Struct({
  type: Schema.optional(Schema.String),
  annotations: Schema.optional(Schema.Union(Schema.Array(Schema.Unknown), NativeEntries)),
  annotationsData: Schema.optional(NativeEntries),
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
  created_at: Schema.optional(Schema.NullOr(Timestamp)),
  data: Schema.optional(Schema.NullOr(EventData)),
  data_unit: Schema.optional(Schema.NullOr(DataUnit)),
  files: Schema.optional(Schema.NullOr(FileMap)),
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
  ground_truth_dataset_versions: Schema.optional(Schema.NullOr(Schema.Array(Schema.Int))),
  category: Schema.optional(Schema.NullOr(Schema.String)),
  data_unit: Schema.optional(Schema.NullOr(DataUnit)),
  files: Schema.optional(Schema.NullOr(FileMap)),
  data: Schema.optional(Schema.NullOr(JsonObject))
})
export type GroundTruth = typeof GroundTruth.Type

/** A point of a native polygon. */
export const NativePoint = Schema.Struct({ x: Schema.Number, y: Schema.Number })
/** A native box. */
export const NativeBox = Schema.Struct({
  x: Schema.Number,
  y: Schema.Number,
  width: Schema.Number,
  height: Schema.Number
})

/**
 * One annotation's identity in the native form: its id, tool (`bounding_box`, `polygon`, …) and
 * class. Documents the form: readers check entries one at a time (see `EventData`).
 */
export const NativeAnnotation = Schema.Struct({
  id: Schema.Union(Schema.String, Schema.Number),
  tool: Schema.String,
  classification: Schema.optional(Schema.Struct({ class: Schema.String }))
})
export type NativeAnnotation = typeof NativeAnnotation.Type
/** One annotation's geometry in the native form, joined to its `NativeAnnotation` by `id`: a box or a polygon. */
export const NativeAnnotationData = Schema.Struct({
  id: Schema.Union(Schema.String, Schema.Number),
  coordinate: Schema.Union(NativeBox, Schema.Array(NativePoint))
})
export type NativeAnnotationData = typeof NativeAnnotationData.Type

/**
 * A `data_meta_*` file in the platform's native form: per key (`image`, `image_1`), the annotations
 * and, joined by `id`, their coordinates. The well-formed document, entry by entry (the sandbox
 * writes it, tests check it); readers use the tolerant `NativeDocument`.
 */
export const DataMeta = Schema.Struct({
  annotations: Schema.Record({ key: Schema.String, value: Schema.Array(NativeAnnotation) }),
  annotationsData: Schema.Record({ key: Schema.String, value: Schema.Array(NativeAnnotationData) })
})
export type DataMeta = typeof DataMeta.Type

/**
 * The native form as readers take it, from a `data_meta_*` file or inline in `data`: only the
 * `annotations` record is required, and entries are read one at a time, so that one malformed
 * entry is reported, not the whole document refused.
 */
export const NativeDocument = Schema.Struct({
  annotations: NativeEntries,
  annotationsData: Schema.optional(NativeEntries)
})
export type NativeDocument = typeof NativeDocument.Type
