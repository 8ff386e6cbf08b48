/**
 * The write side of `Models`: registering a model (the official SDK's `create_model(data, file=)`,
 * with its file uploaded through `ChunkedUpload`), a partial update (`PATCH models/{id}/`) and the
 * activation switch that the deploy workflow needs.
 *
 * `create` sends what the official SDK sends (docs/wire-protocol.md "Creating a model"): the upload's
 * requests, then one `POST models/` whose body is the caller's data without `file`, plus the
 * upload's id as `chunked_upload` exactly as the upload answered it (an integer or a string). Only
 * `name` is required, and a readable `file` when one is given; the documented keys are typed when
 * present; any other key is sent as given, as the v1 line did. Bad input never reaches the network.
 * No other request is made unless an answer is lost.
 *
 * `POST models/` is not idempotent, so it is never retried blindly. When its answer is lost (a
 * timeout, a dropped connection, a 5xx: the model may or may not exist), what can be decided, and how:
 *
 * - The only evidence is a listing of `models/` after the fact. Its `name` and `project` filters,
 *   and `created_at` itself, are not guaranteed (a backend may ignore the filters and omit the
 *   field), and nothing may be listed before the POST (the official SDK never does, and a create
 *   that works must not cost a listing). So the listing is compared on the client: a candidate is a
 *   model whose `name` and whichever of `project`, `model_type`, `version`, `plugin`, `description`
 *   and `file` (present or not) it carries agree with the body. At most `MAX_LOOKUP_PAGES` pages are
 *   read: a bigger listing cannot be checked, and that is said rather than guessed.
 * - A candidate whose stored file is at the very path of this create's finished upload is the one
 *   created: an upload belongs to one create call, so this is decisive whenever the backend keeps
 *   the upload's path (the sandbox does; the upload's file URL is known unless its answer was lost).
 * - A candidate whose `created_at` is older than the call's start (less a clock-skew allowance) was
 *   there before: it is not the one. With no candidate left, in a complete listing, the POST did not
 *   happen, and it is sent again (the retry policy decides when). Exactly one candidate left, dated
 *   after the start, and no undated one: it is the one created (the residual assumption being that
 *   nobody else registered an identical model in the same minutes).
 * - Anything else — an undated candidate (the official SDK's model has no `created_at`, so any
 *   model of the same name is one), several, an incomplete listing, a listing that failed — cannot
 *   be decided: `OutcomeUnknownError` names the candidates and what to check. The caller, who knows
 *   whether such a model existed before, decides. (Ids do not help: with nothing listed before the
 *   POST, a namesake's id, however high, says nothing of whether it was there before.)
 * - A 2xx whose body is cut short or unreadable leaves the model created but unknown: the same
 *   listing says which it is, and nothing is sent again, whatever it shows.
 *
 * Never a second model (nothing is re-sent unless no model can be the one created), and never a
 * blocked create (nothing is refused, and nothing extra is sent, when no answer was lost).
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Clock, Duration, Effect, Either, Schema } from "effect"
import { Id } from "../schemas/Common.js"
import { Model, MODEL_TYPES, ModelCreateBody, ModelPatchBody } from "../schemas/Model.js"
import { Page } from "../schemas/Page.js"
import type * as ChunkedUpload from "./ChunkedUpload.js"
import { decoder, fromHttpClientError, parseJson, type Service as Client, validate } from "./SynapseClient.js"
import {
  DecodeError,
  isTransient,
  OutcomeUnknownError,
  stripQuery,
  type SynapseError,
  TimeoutError,
  ValidationError
} from "./SynapseError.js"

/**
 * The documented keys of `Models.create`'s data, typed when present (`name` is required): the create
 * body's own keys (one definition of the wire contract) and `file`, a local path uploaded with the
 * chunked upload protocol before the model is registered. Key order is the order error messages
 * list problems in.
 */
export const ModelCreateFields = Schema.Struct({
  name: Schema.String.pipe(Schema.minLength(1, { message: () => "must not be empty" })),
  ...ModelCreateBody.pick("model_type", "project", "description", "metrics", "configuration", "is_active").fields,
  file: Schema.optional(Schema.String.pipe(Schema.minLength(1, { message: () => "must be the path of a local file" }))),
  ...ModelCreateBody.pick("plugin", "version", "chunked_upload").fields
})

/**
 * What `Models.create` accepts: the model's data, as the official SDK's `create_model` takes it,
 * with the file's path in `file` (without it the model has no file; `chunked_upload` instead names
 * an upload finished elsewhere). Any other key is sent as given.
 */
export type ModelCreateInput = typeof ModelCreateFields.Type & { readonly [key: string]: unknown }

/** What `Models.update` accepts: any subset of the writable fields. */
export type ModelPatch = typeof ModelPatchBody.Type

/** Options of `Models.create`. */
export interface CreateOptions {
  /** Passed to the upload of `file`: chunk size, progress callback, abort signal, resume. */
  readonly upload?: ChunkedUpload.UploadOptions | undefined
}

/** The write operations, added to the `Models` service. */
export interface Writes {
  /**
   * Uploads `data.file` (if any) and registers the model; answers the created model. Fails with
   * `OutcomeUnknownError` when the answer to the create was lost and whether it happened cannot be
   * told (see the module comment).
   */
  readonly create: (data: ModelCreateInput, options?: CreateOptions) => Effect.Effect<Model, SynapseError>
  /** `PATCH models/{id}/` with any subset of the writable fields; answers the updated model. */
  readonly update: (id: number, patch: ModelPatch) => Effect.Effect<Model, SynapseError>
  /** Activates or deactivates a model (a `PATCH` of `is_active`). */
  readonly setActive: (id: number, active: boolean) => Effect.Effect<Model, SynapseError>
}

/**
 * How far the server's clock may lag ours. A candidate created before the call's start minus this
 * margin existed before the call; one created after it may be the call's.
 */
export const CLOCK_SKEW_ALLOWANCE_MS = 10 * 60 * 1000

/** How many pages of `models/` (at `page_size=100`) the check after a lost answer reads at most. */
export const MAX_LOOKUP_PAGES = 10

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
    : Effect.fail(
      new ValidationError({
        detail: `unknown field ${JSON.stringify(unknown[0])} in ${what}; the fields are ${allowed.join(", ")}`,
        field: unknown[0]!,
        allowed: [...allowed]
      })
    )
}

/** Whether a value survives `JSON.stringify` as itself (no functions, symbols, bigints, NaN, cycles). */
const isJson = (value: unknown, depth = 0): boolean => {
  if (depth > 64) return false
  if (value === null || typeof value === "string" || typeof value === "boolean") return true
  if (typeof value === "number") return Number.isFinite(value)
  if (Array.isArray(value)) return value.every((item) => isJson(item, depth + 1))
  if (isRecord(value)) return Object.values(value).every((item) => item === undefined || isJson(item, depth + 1))
  return false
}

/** The outcome of a failed POST is unknown unless the server said it refused it (4xx, 429). */
const outcomeUnknown = (error: SynapseError): boolean => isTransient(error) && error._tag !== "RateLimitError"

/** Whether a listed model's value for `key` agrees with the body's, when both have one. */
const agrees = (
  model: Readonly<Record<string, unknown>>,
  body: Readonly<Record<string, unknown>>,
  key: string
): boolean => {
  const mine = body[key]
  const theirs = model[key]
  if (mine === undefined || theirs === undefined) return true
  // A backend may expand a reference (`plugin: {id, …}`): compare what can be compared.
  if (isRecord(theirs) && typeof mine === "number") return theirs.id === undefined || theirs.id === mine
  return (mine ?? null) === (theirs ?? null)
}

/** Builds the write operations over the configured client and the uploader. */
export const makeWrites = (client: Client, uploader: ChunkedUpload.Service): Writes => {
  const decodeModel = decoder(Model)
  const decodePage = decoder(Page(Model))

  /** Whether a listed model could be the one `body` creates. */
  const isCandidate = (model: Model, body: Readonly<Record<string, unknown>>): boolean => {
    const fields = model as unknown as Readonly<Record<string, unknown>>
    if (model.name !== undefined && model.name !== null && model.name !== body.name) return false
    for (const key of ["project", "model_type", "version", "plugin", "description"]) {
      if (!agrees(fields, body, key)) return false
    }
    // With an upload the model has a file; without one it has none.
    if (model.file !== undefined && (model.file !== null) !== (body.chunked_upload !== undefined)) return false
    return true
  }

  /**
   * The models that could be the one `body` creates, read from `models/` (filters as hints only),
   * `complete` when every page was read.
   */
  const candidates = (body: Readonly<Record<string, unknown>>) =>
    Effect.gen(function*() {
      const url = new URL(client.resolveUrl("models/"))
      url.searchParams.set("name", String(body.name))
      if (typeof body.project === "number") url.searchParams.set("project", String(body.project))
      url.searchParams.set("page_size", "100")
      const found: Array<Model> = []
      const seen = new Set<string>()
      let next: string | null = url.toString()
      while (next !== null) {
        if (seen.size === MAX_LOOKUP_PAGES || seen.has(next)) {
          return { found, complete: false, count: undefined as number | undefined }
        }
        seen.add(next)
        const page: Page<Model> = yield* client.jsonWith(HttpClientRequest.get(next), decodePage)
        for (const model of page.results) {
          if (isCandidate(model, body)) {
            found.push(model)
          }
        }
        if (seen.size === 1 && page.count > MAX_LOOKUP_PAGES * Math.max(page.results.length, 1) && page.next !== null) {
          return { found, complete: false, count: page.count }
        }
        next = page.next
      }
      return { found, complete: true, count: undefined as number | undefined }
    })

  /**
   * After a lost answer: the created model, or the (transient) `error` again when the POST did not
   * happen (the retry policy then sends it again), or `OutcomeUnknownError` (see the module comment).
   */
  const resolveLost = (
    body: Readonly<Record<string, unknown>>,
    uploadFile: string | null,
    startedMs: number,
    error: SynapseError,
    answered: boolean
  ): Effect.Effect<Model, SynapseError> =>
    Effect.gen(function*() {
      const name = String(body.name)
      const unknown = (why: string, ids: ReadonlyArray<number>) =>
        new OutcomeUnknownError({
          detail:
            `the answer to POST models/ was lost (${error.message}), and ${why}: a model named ${
              JSON.stringify(name)
            } ` +
            `may have been created${
              ids.length > 0 ? ` (candidates: ${ids.join(", ")})` : ""
            }; check the models named ` +
            `${JSON.stringify(name)} before creating it again`,
          method: "POST",
          url: stripQuery(client.resolveUrl("models/")),
          candidates: [...ids]
        })
      const listed = yield* Effect.either(candidates(body))
      if (Either.isLeft(listed)) {
        return yield* unknown(`listing the models to check failed (${listed.left.message})`, [])
      }
      const { complete, count, found } = listed.right
      const ids = found.map((model) => model.id)
      if (uploadFile !== null) {
        const created = found.find((model) =>
          typeof model.file === "string" && stripQuery(model.file) === stripQuery(uploadFile)
        )
        if (created !== undefined) {
          return yield* Effect.logInfo(
            "the answer to POST models/ was lost, but the model was created (it holds this upload's file)"
          ).pipe(
            Effect.annotateLogs({ id: created.id }),
            Effect.as(created)
          )
        }
      }
      const since = startedMs - CLOCK_SKEW_ALLOWANCE_MS
      const dated = (model: Model) => (typeof model.created_at === "string" ? Date.parse(model.created_at) : Number.NaN)
      const open = found.filter((model) => !(dated(model) < since))
      if (!complete) {
        return yield* unknown(
          count !== undefined
            ? `the ${count} models listed are more than the ${MAX_LOOKUP_PAGES} pages this check reads`
            : `the models listed are more than the ${MAX_LOOKUP_PAGES} pages this check reads`,
          open.map((model) => model.id)
        )
      }
      // A 2xx said the model was created: never send it again, even if the listing does not show it.
      if (open.length === 0 && answered) {
        return yield* unknown("no model of that name is listed, though the server answered 2xx", [])
      }
      if (open.length === 0) {
        yield* Effect.logInfo("the answer to POST models/ was lost and no model was created: sending it again").pipe(
          Effect.annotateLogs({ name, olderNamesakes: ids.length })
        )
        return yield* Effect.fail(error)
      }
      if (open.length === 1 && Number.isFinite(dated(open[0]!))) {
        return yield* Effect.logInfo("the answer to POST models/ was lost, but the model was created").pipe(
          Effect.annotateLogs({ id: open[0]!.id }),
          Effect.as(open[0]!)
        )
      }
      return yield* unknown(
        open.length === 1
          ? "the model of that name found does not say when it was created"
          : `${open.length} models of that name could be the one`,
        open.map((model) => model.id)
      )
    })

  /** `POST models/` at most once per attempt the server may have performed. */
  const register = (body: Readonly<Record<string, unknown>>, uploadFile: string | null) =>
    Effect.gen(function*() {
      const startedMs = yield* Clock.currentTimeMillis
      // Sent and read here rather than with `client.json`: a 2xx whose body does not arrive whole
      // still proves the model exists (the listing then says which it is), where `client.json`
      // would report a transient error after which the POST could be sent again.
      const post = Effect.gen(function*() {
        const response = yield* client.execute(
          HttpClientRequest.post("models/").pipe(HttpClientRequest.bodyUnsafeJson(body)),
          { retry: false }
        )
        const text = yield* Effect.either(response.text.pipe(
          Effect.mapError(fromHttpClientError),
          Effect.timeoutFail({
            duration: client.timeouts.read,
            onTimeout: () =>
              new TimeoutError({
                detail: `the answer's body did not arrive within ${Duration.format(client.timeouts.read)}`,
                method: "POST",
                url: stripQuery(client.resolveUrl("models/"))
              })
          })
        ))
        const decoded = Either.flatMap(text, (t) =>
          Either.mapLeft(Either.flatMap(parseJson(t, response.status), decodeModel), (e) =>
            new DecodeError({ ...e, method: "POST", url: stripQuery(client.resolveUrl("models/")) })))
        if (Either.isRight(decoded)) {
          return decoded.right
        }
        return yield* resolveLost(body, uploadFile, startedMs, decoded.left, true)
      })
      const attempt = post.pipe(Effect.catchIf(outcomeUnknown, (error) =>
        resolveLost(body, uploadFile, startedMs, error, false)))
      return yield* client.retry(attempt)
    })

  const create = Effect.fn("Models.create")(function*(data: ModelCreateInput, options?: CreateOptions) {
    if (!isRecord(data)) return yield* new ValidationError({ detail: "data must be an object", field: "data" })
    const input = yield* validate(ModelCreateFields, data, { prefix: "data", allowed: { model_type: MODEL_TYPES } })
    const { file, ...rest } = input as Readonly<Record<string, unknown>>
    const body: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(rest)) {
      if (value === undefined) continue
      if (!isJson(value)) {
        return yield* new ValidationError({
          detail: `data.${key}: must be JSON (a string, number, boolean, null, list or object)`,
          field: `data.${key}`
        })
      }
      body[key] = value
    }
    if (file !== undefined && body.chunked_upload !== undefined) {
      return yield* new ValidationError({
        detail:
          "data.chunked_upload: give either file (uploaded here) or chunked_upload (an upload finished elsewhere), not both",
        field: "data.chunked_upload"
      })
    }
    const upload = typeof file === "string" ? yield* uploader.upload(file, options?.upload) : undefined
    if (upload !== undefined) body.chunked_upload = upload.id
    return yield* register(body, upload?.file ?? null)
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
