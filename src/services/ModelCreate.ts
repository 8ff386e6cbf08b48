/**
 * The write side of `Models`: registering a model (the seed's `create_model(data)`, with its file
 * uploaded through `ChunkedUpload`), a partial update (`PATCH models/{id}/`) and the activation
 * switch that the seed's deploy workflow notes it lacks.
 *
 * Everything is validated before any request: a create with a missing name, a metric that is not a
 * number or an unknown `model_type` never reaches the network, and neither does the upload.
 *
 * `POST models/` is not idempotent, so it is never retried blindly. When its outcome is unknown (a
 * timeout, a reset, a 5xx: the model may or may not exist), the models of the same name and project
 * created since the call started are listed, and compared with the ones that existed before the
 * POST; only if none is new is the POST sent again. A flaky network never registers a model twice.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Clock, Effect, Schema } from "effect"
import { Id } from "../schemas/Common.js"
import { Model, ModelCreateBody, ModelPatchBody, MODEL_TYPES } from "../schemas/Model.js"
import { Page } from "../schemas/Page.js"
import type * as ChunkedUpload from "./ChunkedUpload.js"
import { decoder, type Service as Client, validate } from "./SynapseClient.js"
import { isTransient, type SynapseError, ValidationError } from "./SynapseError.js"

/**
 * What `Models.create` accepts: the seed's model data. `file` is a local path, uploaded with the
 * chunked upload protocol before the model is registered; without it the model has no file.
 *
 * The other fields are the create body's own (one definition of the wire contract); `name` only
 * adds a message, and the field order is kept because it is the order error messages list them in.
 */
export const ModelCreateInput = Schema.Struct({
  name: Schema.String.pipe(Schema.minLength(1, { message: () => "must not be empty" })),
  ...ModelCreateBody.pick("model_type", "project", "description", "metrics", "configuration", "is_active").fields,
  file: Schema.optional(Schema.String.pipe(Schema.minLength(1, { message: () => "must be the path of a local file" }))),
  ...ModelCreateBody.pick("plugin", "version").fields
})
export type ModelCreateInput = typeof ModelCreateInput.Type

/** What `Models.update` accepts: any subset of the writable fields. */
export type ModelPatch = typeof ModelPatchBody.Type

/** Options of `Models.create`. */
export interface CreateOptions {
  /** Passed to the upload of `file`: chunk size, progress callback, abort signal, resume. */
  readonly upload?: ChunkedUpload.UploadOptions | undefined
}

/** The write operations, added to the `Models` service. */
export interface Writes {
  /** Uploads `data.file` (if any) and registers the model; answers the created model. */
  readonly create: (data: ModelCreateInput, options?: CreateOptions) => Effect.Effect<Model, SynapseError>
  /** `PATCH models/{id}/` with any subset of the writable fields; answers the updated model. */
  readonly update: (id: number, patch: ModelPatch) => Effect.Effect<Model, SynapseError>
  /** Activates or deactivates a model (a `PATCH` of `is_active`). */
  readonly setActive: (id: number, active: boolean) => Effect.Effect<Model, SynapseError>
}

/**
 * How far the server's clock may lag ours. The lookup after an unknown outcome asks for models
 * created since the call started minus this margin; models that existed before the POST are told
 * apart by id, so the margin costs nothing in precision.
 */
export const CLOCK_SKEW_ALLOWANCE_MS = 10 * 60 * 1000

const CREATE_KEYS = Object.keys(ModelCreateInput.fields)
const PATCH_KEYS = Object.keys(ModelPatchBody.fields)

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** Rejects keys the server would refuse (`{"field": ["Unknown field."]}`), before any request. */
const rejectUnknownKeys = (input: unknown, allowed: ReadonlyArray<string>, what: string) => {
  if (!isRecord(input)) {
    return Effect.fail(new ValidationError({ detail: `${what} must be an object`, field: what }))
  }
  const unknown = Object.keys(input).filter((key) => !allowed.includes(key) && input[key] !== undefined)
  return unknown.length === 0
    ? Effect.void
    : Effect.fail(new ValidationError({
      detail: `unknown field ${JSON.stringify(unknown[0])} in ${what}; the fields are ${allowed.join(", ")}`,
      field: unknown[0]!,
      allowed: [...allowed]
    }))
}

/** The outcome of a failed POST is unknown unless the server said it refused it (4xx, 429). */
const outcomeUnknown = (error: SynapseError): boolean => isTransient(error) && error._tag !== "RateLimitError"

/** Builds the write operations over the configured client and the uploader. */
export const makeWrites = (client: Client, uploader: ChunkedUpload.Service): Writes => {
  const decodeModel = decoder(Model)
  const decodePage = decoder(Page(Model))

  /** Models of this name and project created since `since`, newest first. */
  const recent = (body: ModelCreateBody, since: string) => {
    const url = new URL(client.resolveUrl("models/"))
    url.searchParams.set("name", body.name)
    url.searchParams.set("project", String(body.project))
    url.searchParams.set("created_after", since)
    url.searchParams.set("ordering", "-created_at")
    url.searchParams.set("page_size", "100")
    return client.jsonWith(HttpClientRequest.get(url.toString()), decodePage).pipe(Effect.map((page) => page.results))
  }

  /** `POST models/` at most once per attempt the server may have performed. */
  const register = (body: ModelCreateBody) =>
    Effect.gen(function*() {
      const startedMs = yield* Clock.currentTimeMillis
      const since = new Date(startedMs - CLOCK_SKEW_ALLOWANCE_MS).toISOString()
      const before = new Set((yield* recent(body, since)).map((model) => model.id))
      const post = client.jsonWith(
        HttpClientRequest.post("models/").pipe(HttpClientRequest.bodyUnsafeJson(body)),
        decodeModel,
        { retry: false }
      )
      const attempt = post.pipe(
        Effect.catchIf(outcomeUnknown, (error) =>
          recent(body, since).pipe(
            Effect.flatMap((models) => {
              const created = models.find((model) =>
                !before.has(model.id) && model.model_type === body.model_type &&
                (model.version ?? null) === (body.version ?? null)
              )
              if (created !== undefined) {
                return Effect.logInfo("the answer to POST models/ was lost, but the model was created").pipe(
                  Effect.annotateLogs({ id: created.id }),
                  Effect.as(created)
                )
              }
              // Not created: failing with the (transient) error lets the retry policy POST again.
              return Effect.fail(error)
            })
          ))
      )
      return yield* client.retry(attempt)
    })

  const create = Effect.fn("Models.create")(function*(data: ModelCreateInput, options?: CreateOptions) {
    yield* rejectUnknownKeys(data, CREATE_KEYS, "data")
    const input = yield* validate(ModelCreateInput, data, { prefix: "data", allowed: { model_type: MODEL_TYPES } })
    const { file, ...fields } = input
    const upload = file !== undefined ? yield* uploader.upload(file, options?.upload) : undefined
    const body: ModelCreateBody = upload !== undefined ? { ...fields, chunked_upload: upload.id } : fields
    return yield* register(body)
  })

  const update = Effect.fn("Models.update")(function*(id: number, patch: ModelPatch) {
    const pk = yield* validate(Id, id, { prefix: "id" })
    yield* rejectUnknownKeys(patch, PATCH_KEYS, "patch")
    const body = yield* validate(ModelPatchBody, patch, { prefix: "patch" })
    // A PATCH of absolute values is idempotent: sending it twice leaves the same model, so it
    // may be retried like a PUT.
    return yield* client.jsonWith(
      HttpClientRequest.patch(`models/${pk}/`).pipe(HttpClientRequest.bodyUnsafeJson(body)),
      decodeModel,
      { retry: true }
    )
  })

  const setActive = Effect.fn("Models.setActive")(function*(id: number, active: boolean) {
    if (typeof active !== "boolean") {
      return yield* new ValidationError({ detail: "active must be true or false", field: "active" })
    }
    return yield* update(id, { is_active: active })
  })

  return { create, update, setActive }
}
