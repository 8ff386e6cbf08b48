/**
 * Model registry tools: `list_models` and `get_model` (read), `create_model` and `update_model`
 * (write). Lists page and project; single models come whole, within the output budget.
 */
import { Effect, Schema } from "effect"
import { Id, withUndeclaredFields } from "../../schemas/Common.js"
import { Model, ModelType } from "../../schemas/Model.js"
import { MODEL_EXPANSIONS, ModelExpansion, ModelOrdering } from "../../schemas/Params.js"
import { Models } from "../../services/Models.js"
import { toToolError } from "../Errors.js"
import { isoDate, listTool } from "../Paging.js"
import * as Tool from "../Tool.js"
import { publishedRow } from "../ToolList.js"

/** Every field a model row can show. */
export const MODEL_FIELDS = [
  "id",
  "name",
  "description",
  "model_type",
  "project",
  "is_active",
  "version",
  "created_at",
  "metrics",
  "configuration",
  "category",
  "plugin",
  "file",
  "is_released"
] as const
/** The fields shown when the caller does not choose. */
export const MODEL_COMPACT_FIELDS = [
  "id",
  "name",
  "model_type",
  "project",
  "is_active",
  "version",
  "created_at",
  "metrics"
] as const

const ModelRow = publishedRow(Schema.partial(Model), "A model")

const modelId = Id.annotations({ description: "Model id." })

/** `list_models`. */
export const listModels = listTool({
  name: "list_models",
  title: "List models",
  description: "List models, a page at a time, newest first. Compact rows; get_model gives a full record, " +
    "compare_models ranks models by a metric.",
  filters: {
    project: Schema.optional(Id.annotations({ description: "Only models of this project id." })),
    model_type: Schema.optional(
      ModelType.annotations({ description: "Only models of this type." })
    ),
    is_active: Schema.optional(
      Schema.Boolean.annotations({ description: "Only active (true) or inactive (false) models." })
    ),
    created_after: Schema.optional(
      isoDate("Only models created after this ISO date (-time).")
    ),
    search: Schema.optional(
      Schema.String.pipe(Schema.maxLength(200)).annotations({
        description: "Text in name or description."
      })
    ),
    ordering: Schema.optional(
      ModelOrdering.annotations({
        description: "Sort order (- for descending)."
      })
    )
  },
  fields: MODEL_FIELDS,
  compact: MODEL_COMPACT_FIELDS,
  row: ModelRow,
  what: "models",
  action: "Listing models",
  fetch: (request) => Effect.flatMap(Models, (models) => models.list(request)),
  explainEmpty: (filters) =>
    filters.project === undefined ? Effect.succeed(undefined) : Effect.gen(function*() {
      // There is no projects endpoint: the projects of the newest models are the known ones.
      const models = yield* Models
      const own = yield* models.list({ project: filters.project, page_size: 1 })
      if (own.count > 0) return undefined
      const newest = yield* models.list({ page_size: 100 })
      const known = [...new Set(newest.results.map((m) => m.project))]
        .filter((id): id is number => typeof id === "number").sort((a, b) => a - b)
      return `No model matched: project ${filters.project} has no models (it does not exist or is empty). ` +
        `Projects with models: ${known.join(", ") || "none"}.`
    }).pipe(Effect.orElseSucceed(() => undefined)),
  toolset: "models"
})

/** `get_model`. */
export const getModel = Tool.make({
  name: "get_model",
  title: "Get a model",
  description: "One model's full record as the backend sent it (also the resource synapse://models/{id}); " +
    "`expand` adds its evaluations and other versions, `include_file` the file's name, size and md5.",
  input: Schema.Struct({
    id: modelId,
    expand: Schema.optional(
      Schema.Array(ModelExpansion).pipe(Schema.minItems(1), Schema.maxItems(MODEL_EXPANSIONS.length)).annotations({
        description: "Extra data to include."
      })
    ),
    include_file: Schema.optional(
      Schema.Boolean.annotations({ description: "Add file_info." })
    )
  }),
  output: withUndeclaredFields(Model),
  annotations: Tool.readOnly,
  toolset: "models",
  write: false,
  truncationHint: "Read the whole record as the resource synapse://models/{id} (resources/read).",
  run: (input) =>
    Effect.gen(function*() {
      const models = yield* Models
      return yield* models.get(input.id, {
        params: {
          ...(input.expand !== undefined ? { expand: input.expand } : {}),
          ...(input.include_file !== undefined ? { include_file: input.include_file } : {})
        }
      }).pipe(Effect.mapError(toToolError({
        action: `Getting model ${input.id}`,
        notFound: `model ${input.id} does not exist. Find model ids with list_models.`
      })))
    })
})
