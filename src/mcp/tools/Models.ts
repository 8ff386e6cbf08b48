/**
 * Model registry tools: `list_models` and `get_model` (read), `create_model` and `update_model`
 * (write). Lists page and project; single models come whole, within the output budget.
 */
import { Effect, Schema } from "effect"
import { Id, withUndeclaredFields } from "../../schemas/Common.js"
import { Model, MODEL_TYPES, ModelType } from "../../schemas/Model.js"
import { MODEL_EXPANSIONS, MODEL_ORDERINGS, ModelExpansion, ModelOrdering } from "../../schemas/Params.js"
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

const modelId = Id.annotations({ description: "The model's id (from list_models)." })

/** `list_models`. */
export const listModels = listTool({
  name: "list_models",
  title: "List models",
  description: "List models in the Synapse registry, one page at a time, newest first unless `ordering` says " +
    "otherwise. Filter by project, model_type, is_active, created_after or a text search in name and description. " +
    "Returns compact rows (id, name, type, project, active flag, version, date, metrics); use get_model for one " +
    "model's full record, compare_models to rank several by a metric.",
  filters: {
    project: Schema.optional(Id.annotations({ description: "Only models of this project id." })),
    model_type: Schema.optional(
      ModelType.annotations({ description: `Only models of this type: ${MODEL_TYPES.join(", ")}.` })
    ),
    is_active: Schema.optional(
      Schema.Boolean.annotations({ description: "true: only active models; false: only inactive ones." })
    ),
    created_after: Schema.optional(
      isoDate("Only models created after this ISO 8601 date or date-time, e.g. 2026-11-01.")
    ),
    search: Schema.optional(
      Schema.String.pipe(Schema.maxLength(200)).annotations({
        description: "Text to find in model names and descriptions."
      })
    ),
    ordering: Schema.optional(
      ModelOrdering.annotations({
        description: `Sort order: ${MODEL_ORDERINGS.join(", ")} (a leading - means descending).`
      })
    )
  },
  fields: MODEL_FIELDS,
  compact: MODEL_COMPACT_FIELDS,
  row: ModelRow,
  what: "models",
  action: "Listing models",
  fetch: (request) => Effect.flatMap(Models, (models) => models.list(request)),
  toolset: "models"
})

/** `get_model`. */
export const getModel = Tool.make({
  name: "get_model",
  title: "Get a model",
  description: "Get one model's full record: description, type, project, metrics, configuration, active flag, " +
    "version and file URL, as the backend sent it (fields it did not send are absent; fields this server does not " +
    "know are kept). `expand` adds its evaluations on dataset versions and the other versions of the same " +
    "model; `include_file` adds the stored file's name, size and md5. The same record is readable as the " +
    "resource synapse://models/{id}.",
  input: Schema.Struct({
    id: modelId,
    expand: Schema.optional(
      Schema.Array(ModelExpansion).pipe(Schema.minItems(1), Schema.maxItems(MODEL_EXPANSIONS.length)).annotations({
        description: `Extra data to include: ${MODEL_EXPANSIONS.join(", ")}.`
      })
    ),
    include_file: Schema.optional(
      Schema.Boolean.annotations({ description: "Add file_info (name, size, md5 of the model file)." })
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
