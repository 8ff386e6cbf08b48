/**
 * Ground-truth read tools: events, ground truths with their file manifest, dataset versions. Rows
 * are summarised by default (annotation counts and class names instead of every polygon), since a
 * page of raw events would not fit a model's context; `fields` brings the raw parts back.
 */
import { Effect, Schema } from "effect"
import { DataUnit, FileMap, Id, JsonObject, withUndeclaredFields } from "../../schemas/Common.js"
import { DatasetVersion } from "../../schemas/DatasetVersion.js"
import { Category, DatasetRef, EventData, type GroundTruth, type GroundTruthEvent } from "../../schemas/GroundTruth.js"
import { GroundTruths } from "../../services/GroundTruths.js"
import type { SynapseError } from "../../services/SynapseError.js"
import { inlineAnnotations } from "../../workflows/Annotations.js"
import { toToolError } from "../Errors.js"
import { isoDate, listTool } from "../Paging.js"
import * as Tool from "../Tool.js"
import { publishedRow } from "../ToolList.js"

const versionIds = Schema.Array(Id).pipe(Schema.minItems(1), Schema.maxItems(50))
const categoryInput = Category.annotations({ description: "Only this split." })

/** The id of a dataset reference (an id, or `{id, name}`), if any. */
const datasetIdOf = (ref: DatasetRef | null | undefined): number | undefined => typeof ref === "number" ? ref : ref?.id

/**
 * Why a filter by dataset versions matched nothing: the ids that do not exist (one request per id,
 * at most 50, four at a time). Undefined when they all exist (the filters just match nothing).
 */
export const missingVersions = (ids: ReadonlyArray<number> | undefined) =>
  Effect.gen(function*() {
    if (ids === undefined) return undefined
    const gt = yield* GroundTruths
    const missing = yield* Effect.filter(
      ids,
      (id) =>
        gt.getVersion(id).pipe(
          Effect.as(false),
          Effect.catchAll((error) => Effect.succeed(error._tag === "NotFoundError"))
        ),
      { concurrency: 4 }
    )
    return missing.length === 0 ?
      undefined :
      `dataset version${missing.length === 1 ? "" : "s"} ${missing.join(", ")} ${
        missing.length === 1 ? "does" : "do"
      } not exist; find ids with list_ground_truth_versions.`
  })

/**
 * Why a filter by dataset matched nothing, when no version names that dataset: the datasets the
 * newest versions belong to (one request).
 */
const unknownDataset = (dataset: number | undefined) =>
  Effect.gen(function*() {
    if (dataset === undefined) return undefined
    const gt = yield* GroundTruths
    const own = yield* gt.listVersions({ ground_truth_dataset: dataset, page_size: 1 })
    if (own.count > 0) return undefined
    const newest = yield* gt.listVersions({ page_size: 100 })
    const known = [...new Set(newest.results.map((v) => datasetIdOf(v.ground_truth_dataset)))]
      .filter((id): id is number => id !== undefined).sort((a, b) => a - b)
    return `no dataset version belongs to dataset ${dataset}: it does not exist or is empty. ` +
      `Datasets with versions: ${known.join(", ") || "none"} (list_ground_truth_versions).`
  })

/** The first reason among `reasons` (run in order, stopping at the first), or undefined. */
const firstReason = <R>(
  ...reasons: ReadonlyArray<Effect.Effect<string | undefined, SynapseError, R>>
): Effect.Effect<string | undefined, never, R> =>
  Effect.reduce(
    reasons,
    undefined as string | undefined,
    (found, next) => found !== undefined ? Effect.succeed(found) : next
  )
    .pipe(Effect.orElseSucceed(() => undefined))

/** Event row fields; the derived ones (data_type … classes) summarise `data` and `data_unit`. */
export const EVENT_FIELDS = [
  "id",
  "ground_truth_dataset_version",
  "category",
  "created_at",
  "data_type",
  "data_unit_id",
  "annotation_count",
  "classes",
  "data",
  "data_unit",
  "files",
  "metadata"
] as const
/** The default event row. */
export const EVENT_COMPACT_FIELDS = [
  "id",
  "ground_truth_dataset_version",
  "category",
  "data_type",
  "data_unit_id",
  "annotation_count",
  "classes"
] as const

const EventRow = Schema.Struct({
  id: Schema.optional(Schema.Int),
  ground_truth_dataset_version: Schema.optional(Schema.NullOr(Schema.Int)),
  category: Schema.optional(Schema.NullOr(Schema.String)),
  created_at: Schema.optional(Schema.NullOr(Schema.String)),
  data_type: Schema.optional(Schema.NullOr(Schema.String)).annotations({ description: "data.type (image, …)." }),
  data_unit_id: Schema.optional(Schema.NullOr(Schema.Int)).annotations({ description: "The annotated item's id." }),
  annotation_count: Schema.optional(Schema.Int),
  classes: Schema.optional(Schema.Array(Schema.String)).annotations({ description: "Distinct class names annotated." }),
  data: Schema.optional(Schema.NullOr(EventData)),
  data_unit: Schema.optional(Schema.NullOr(DataUnit)),
  files: Schema.optional(FileMap),
  metadata: Schema.optional(Schema.NullOr(JsonObject))
})

const summariseEvent = (event: GroundTruthEvent) => {
  // Either form of `data` (the rich list or the native record); entries that are no annotation are not counted.
  const annotations = inlineAnnotations(event).filter((a) => a.unusable === undefined)
  const classes = new Set<string>()
  for (const a of annotations) if (a.categoryName !== undefined) classes.add(a.categoryName)
  if (typeof event.data?.label === "string") classes.add(event.data.label)
  return {
    ...event,
    data_type: event.data?.type ?? null,
    data_unit_id: event.data_unit?.id ?? null,
    annotation_count: annotations.length,
    classes: [...classes].sort()
  }
}

/** `list_ground_truth_events`. */
export const listGroundTruthEvents = listTool({
  name: "list_ground_truth_events",
  title: "List ground-truth events",
  description: "List ground-truth events (one data unit's annotations), a page at a time, summarised; `fields` " +
    "with `data` adds the annotations. For whole datasets use export_ground_truth.",
  filters: {
    ground_truth_dataset_versions: Schema.optional(
      versionIds.annotations({ description: "Only events of these dataset versions." })
    ),
    project: Schema.optional(Id.annotations({ description: "Only events of this project." })),
    category: Schema.optional(categoryInput),
    data_type: Schema.optional(
      Schema.String.pipe(Schema.maxLength(50)).annotations({
        description: "Only this data type, e.g. image."
      })
    ),
    created_after: Schema.optional(isoDate("Only events created after this ISO date (-time).")),
    search: Schema.optional(
      Schema.String.pipe(Schema.maxLength(200)).annotations({ description: "Text in the event data." })
    )
  },
  fields: EVENT_FIELDS,
  compact: EVENT_COMPACT_FIELDS,
  row: publishedRow(EventRow, "An event"),
  what: "events",
  action: "Listing ground-truth events",
  fetch: (request) => Effect.flatMap(GroundTruths, (gt) => gt.listEvents(request, { urlConversion: false })),
  summarise: summariseEvent,
  explainEmpty: (filters) =>
    firstReason(
      Effect.map(missingVersions(filters.ground_truth_dataset_versions), (why) =>
        why !== undefined ? `No event matched: ${why}` : undefined)
    ),
  toolset: "datasets"
})

/** Ground-truth row fields. */
export const GROUND_TRUTH_FIELDS = [
  "id",
  "ground_truth_dataset",
  "ground_truth_dataset_versions",
  "category",
  "data_unit_id",
  "file_keys",
  "files",
  "data_unit",
  "data"
] as const
/** The default ground-truth row. */
export const GROUND_TRUTH_COMPACT_FIELDS = [
  "id",
  "ground_truth_dataset",
  "ground_truth_dataset_versions",
  "category",
  "data_unit_id",
  "file_keys"
] as const

const GroundTruthRow = Schema.Struct({
  id: Schema.optional(Schema.Int),
  ground_truth_dataset: Schema.optional(Schema.NullOr(DatasetRef)),
  ground_truth_dataset_versions: Schema.optional(Schema.Array(Schema.Int)),
  category: Schema.optional(Schema.NullOr(Schema.String)),
  data_unit_id: Schema.optional(Schema.NullOr(Schema.Int)),
  file_keys: Schema.optional(Schema.Array(Schema.String)).annotations({
    description: "Roles of the files in the manifest (image_1, data_meta_1 …); add `files` to fields for their URLs."
  }),
  files: Schema.optional(FileMap),
  data_unit: Schema.optional(Schema.NullOr(DataUnit)),
  data: Schema.optional(Schema.NullOr(JsonObject))
})

const summariseGroundTruth = (row: GroundTruth) => ({
  ...row,
  data_unit_id: row.data_unit?.id ?? null,
  file_keys: Object.keys(row.files ?? {}).sort()
})

/** `list_ground_truths`. */
export const listGroundTruths = listTool({
  name: "list_ground_truths",
  title: "List ground truths",
  description: "List ground truths with their file manifest (images, data_meta JSON), a page at a time. Rows " +
    "list file roles; `fields` with `files` gives the URLs.",
  filters: {
    ground_truth_dataset: Schema.optional(Id.annotations({ description: "Only this dataset." })),
    ground_truth_dataset_versions: Schema.optional(
      versionIds.annotations({ description: "Only these dataset versions." })
    ),
    category: Schema.optional(categoryInput)
  },
  fields: GROUND_TRUTH_FIELDS,
  compact: GROUND_TRUTH_COMPACT_FIELDS,
  row: publishedRow(GroundTruthRow, "A ground truth"),
  what: "ground truths",
  action: "Listing ground truths",
  fetch: (request) =>
    // No url conversion: listing must not download every file of the page.
    Effect.flatMap(GroundTruths, (gt) => gt.list(request, { urlConversion: false, pageSize: request.page_size })),
  summarise: summariseGroundTruth,
  explainEmpty: (filters) =>
    firstReason(
      Effect.map(missingVersions(filters.ground_truth_dataset_versions), (why) =>
        why !== undefined ? `No ground truth matched: ${why}` : undefined),
      Effect.map(unknownDataset(filters.ground_truth_dataset), (why) =>
        why !== undefined ? `No ground truth matched: ${why}` : undefined)
    ),
  toolset: "datasets"
})

/** Dataset version row fields. */
export const VERSION_FIELDS = [
  "id",
  "version",
  "name",
  "ground_truth_dataset",
  "event_count",
  "is_active",
  "is_archived",
  "created_at",
  "description",
  "statistics"
] as const
/** The default dataset version row. */
export const VERSION_COMPACT_FIELDS = [
  "id",
  "version",
  "name",
  "ground_truth_dataset",
  "event_count",
  "is_active",
  "is_archived",
  "created_at"
] as const

/** `list_ground_truth_versions`. */
export const listGroundTruthVersions = listTool({
  name: "list_ground_truth_versions",
  title: "List dataset versions",
  description: "List dataset versions, a page at a time. Their ids are what the event, export, analysis and " +
    "split tools take.",
  filters: {
    ground_truth_dataset: Schema.optional(Id.annotations({ description: "Only this dataset." })),
    is_archived: Schema.optional(
      Schema.Boolean.annotations({ description: "Only archived (true) or current (false) versions." })
    )
  },
  fields: VERSION_FIELDS,
  compact: VERSION_COMPACT_FIELDS,
  row: publishedRow(Schema.partial(DatasetVersion), "A dataset version"),
  what: "dataset versions",
  action: "Listing dataset versions",
  fetch: (request) => Effect.flatMap(GroundTruths, (gt) => gt.listVersions(request)),
  explainEmpty: (filters) => firstReason(unknownDataset(filters.ground_truth_dataset)),
  toolset: "datasets"
})

/** `get_ground_truth_version`. */
export const getGroundTruthVersion = Tool.make({
  name: "get_ground_truth_version",
  title: "Get a dataset version",
  description: "One dataset version as the backend sent it: name, dataset, event count, flags and statistics " +
    "(class counts).",
  input: Schema.Struct({
    id: Id.annotations({ description: "Dataset version id." })
  }),
  output: withUndeclaredFields(DatasetVersion),
  annotations: Tool.readOnly,
  toolset: "datasets",
  write: false,
  run: (input) =>
    Effect.gen(function*() {
      const gt = yield* GroundTruths
      return yield* gt.getVersion(input.id).pipe(
        Effect.mapError(toToolError({
          action: `Getting dataset version ${input.id}`,
          notFound: `dataset version ${input.id} does not exist. Find ids with list_ground_truth_versions.`
        }))
      )
    })
})
