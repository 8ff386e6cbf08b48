/**
 * Models in the registry (`models/`): the official Python SDK's `list_models` and `get_model`, as Effect
 * programs. `list` returns one page as `{ results, count }`; `stream` walks every page lazily;
 * `get` fetches one model with optional expansions and url conversion of its `file`.
 *
 * Parameters are validated before any request (a bad `model_type` is a `ValidationError` listing
 * the allowed values, an unknown filter one listing the known filters; several bad parameters are
 * all reported in one); filters the SDK does not know go through `extra`. The service closes over
 * `SynapseClient` and `FileCache` when its layer is built, so every operation has no requirements.
 *
 * The write operations (`create`, `update`, `setActive`) live in `ModelCreate.ts`; `create` uploads
 * through the `ChunkedUpload` service when one is provided, else one configured from the environment.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Context, Effect, Layer, Stream } from "effect"
import { Id } from "../schemas/Common.js"
import { Model } from "../schemas/Model.js"
import { Page } from "../schemas/Page.js"
import { ALLOWED, ModelGetParams, ModelListParams } from "../schemas/Params.js"
import * as ChunkedUpload from "./ChunkedUpload.js"
import { FileCache, type UrlConversion, validateConversion } from "./FileCache.js"
import { makeWrites, type Writes } from "./ModelCreate.js"
import * as Pagination from "./Pagination.js"
import { type ExtraParams, toQuery, validate, validatePrefetch } from "./Parameters.js"
import { decoder, SynapseClient } from "./SynapseClient.js"
import type { SynapseError } from "./SynapseError.js"

/** Filters of `Models.list`/`stream`; `extra` is passed through unvalidated. */
export type ListParams = ModelListParams & { readonly extra?: ExtraParams | undefined }

/** Options of `Models.stream`. */
export interface StreamOptions {
  /**
   * Pages requested at once (1..16) once page 1 has given `count` and more than two pages remain;
   * 1 follows `next` one page at a time. Default: the client's `prefetch` (`$SYNAPSE_PREFETCH`, 8).
   */
  readonly prefetch?: number | undefined
}

/** Options of `Models.get` (the official Python SDK's `get_model(pk, params, url_conversion)`). */
export interface GetOptions {
  /** `expand` (`metrics`, `evaluations`, `versions`) and `include_file`; `extra` passed through. */
  readonly params?: (ModelGetParams & { readonly extra?: ExtraParams | undefined }) | undefined
  /** Downloads (or rewrites) the model's `file` URL: e.g. `{ filesFields: ["file"] }`. */
  readonly urlConversion?: UrlConversion | undefined
}

export type { CreateOptions, ModelCreateInput, ModelPatch } from "./ModelCreate.js"

/** The model operations: reads here, writes (`create`, `update`, `setActive`) from `ModelCreate`. */
export interface Service extends Writes {
  /** One page of models and the total count (the official Python SDK's `(models_list, total_count)`). */
  readonly list: (params?: ListParams) => Effect.Effect<Pagination.ListResult<Model>, SynapseError>
  /** Every model matching the filters, fetched page by page as the stream is pulled. */
  readonly stream: (params?: ListParams, options?: StreamOptions) => Stream.Stream<Model, SynapseError>
  /** One model by id. */
  readonly get: (id: number, options?: GetOptions) => Effect.Effect<Model, SynapseError>
}

/** The `Models` service. */
export class Models extends Context.Tag("synapse-ml/Models")<Models, Service>() {}

export {
  /** Validated params as query pairs (shared with `GroundTruths`); see `Parameters.toQuery`. */
  toQuery,
  /** A call's prefetch, validated, or the client's default (shared with `GroundTruths`). */
  validatePrefetch
} from "./Parameters.js"

/** Builds the service over the configured client and file cache. */
export const make: Effect.Effect<Service, never, SynapseClient | FileCache> = Effect.gen(function*() {
  const client = yield* SynapseClient
  const files = yield* FileCache
  const decodePage = decoder(Page(Model))
  const decodeModel = decoder(Model)
  const listUrl = client.resolveUrl("models/")

  const fetchPage = Pagination.fetchPage(
    (url) => client.jsonWith(HttpClientRequest.get(url), decodePage),
    (url) => client.jsonLater(HttpClientRequest.get(url), decodePage)
  )

  const firstUrl = (params: ListParams | undefined) =>
    validate(ModelListParams, params, { allowed: ALLOWED, closed: true }).pipe(
      Effect.flatMap(toQuery),
      Effect.map((query) => Pagination.withQuery(listUrl, query))
    )

  const list = Effect.fn("Models.list")(function*(params?: ListParams) {
    const url = yield* firstUrl(params)
    const page = yield* fetchPage(url)
    return { results: page.results, count: page.count }
  })

  const stream = (params?: ListParams, options?: StreamOptions): Stream.Stream<Model, SynapseError> =>
    Stream.unwrap(
      Effect.gen(function*() {
        const prefetch = yield* validatePrefetch(options?.prefetch, client.prefetch)
        const url = yield* firstUrl(params)
        return Pagination.stream(url, fetchPage, { prefetch })
      })
    ).pipe(Stream.withSpan("Models.stream"))

  const get = Effect.fn("Models.get")(function*(id: number, options?: GetOptions) {
    const pk = yield* validate(Id, id, { prefix: "id" })
    const params = yield* validate(ModelGetParams, options?.params, {
      prefix: "params",
      allowed: { expand: ["metrics", "evaluations", "versions"] },
      closed: true
    })
    const conversion = options?.urlConversion !== undefined
      ? yield* validateConversion(options.urlConversion)
      : undefined
    const query = yield* toQuery(params)
    const model = yield* client.jsonWith(
      HttpClientRequest.get(Pagination.withQuery(client.resolveUrl(`models/${pk}/`), query)),
      decodeModel
    )
    return conversion !== undefined ? yield* files.convert(model, conversion) : model
  })

  // Optional so that the read-only layers built before the write path existed keep their requirements.
  const uploader = yield* Effect.serviceOption(ChunkedUpload.ChunkedUpload).pipe(
    Effect.flatMap((provided) => provided._tag === "Some" ? Effect.succeed(provided.value) : ChunkedUpload.makeConfig)
  )

  return Models.of({ list, stream, get, ...makeWrites(client, uploader) })
})

/** The `Models` layer; needs `SynapseClient` and `FileCache`. */
export const layer: Layer.Layer<Models, never, SynapseClient | FileCache> = Layer.effect(Models, make)
