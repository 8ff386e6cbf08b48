/**
 * Ground truth: events (`sdk/ground_truth_events/`), ground truths with their file manifest
 * (`ground_truths/`) and dataset versions (`ground_truth_dataset_versions/`). The official Python SDK's
 * `list_ground_truth_events`, `list_ground_truths`, `list_ground_truth_versions` and
 * `get_ground_truth_version`, each in a one-page form (`{ results, count }`) and a streaming form
 * (the official Python SDK's `list_all=True`), plus `listAllEvents`/`listAll` for callers who want the count
 * before consuming the stream (page 1 is fetched once either way).
 *
 * Event and ground-truth listings send `page_size=100` unless the caller gives one, as the official
 * SDK does (docs/wire-protocol.md "Pagination"); streams request later pages several at once by
 * default (`SynapseClient`'s `prefetch`, see `Pagination`).
 *
 * Filters are checked before any request: an unknown key is a `ValidationError` naming the known
 * filters; query parameters the SDK does not know go through `extra`.
 *
 * Listings use the long read timeout (60 s by default) since ground-truth pages are large. URL
 * conversion is applied page by page while streaming, so a consumer never waits for the whole
 * dataset's files. `list`/`stream` convert `files` by default (as the official Python SDK does); pass
 * `urlConversion: false` to keep the URLs.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Context, Duration, Effect, Layer, type Schema, Stream } from "effect"
import { Id } from "../schemas/Common.js"
import { DatasetVersion } from "../schemas/DatasetVersion.js"
import { GroundTruth, GroundTruthEvent } from "../schemas/GroundTruth.js"
import { DEFAULT_PAGE_SIZE, Page, type Page as PageOf } from "../schemas/Page.js"
import {
  ALLOWED,
  DatasetVersionListParams,
  GroundTruthEventListParams,
  GroundTruthListParams,
  PageSize
} from "../schemas/Params.js"
import { validateDuration } from "./ClientConfig.js"
import { FileCache, type UrlConversion, validateConversion } from "./FileCache.js"
import * as Pagination from "./Pagination.js"
import { type ExtraParams, toQuery, validate, validatePrefetch } from "./Parameters.js"
import { type Decoder, decoder, SynapseClient } from "./SynapseClient.js"
import type { SynapseError } from "./SynapseError.js"

/** Filters of the event listing; `extra` is passed through unvalidated. */
export type EventParams = GroundTruthEventListParams & { readonly extra?: ExtraParams | undefined }
/** Filters of the ground-truth listing. */
export type GroundTruthParams = GroundTruthListParams & { readonly extra?: ExtraParams | undefined }
/** Filters of the dataset-version listing. */
export type VersionParams = DatasetVersionListParams & { readonly extra?: ExtraParams | undefined }

/** Options of the listing calls (the official Python SDK's `url_conversion`, `page_size`, `timeout`). */
export interface ListOptions {
  /** Downloads (or rewrites) file URLs; `false` keeps them. Events: none by default; ground truths: `files`. */
  readonly urlConversion?: UrlConversion | false | undefined
  /** Items per page, 1..1000 (overrides `params.page_size`). Events and ground truths default to 100. */
  readonly pageSize?: number | undefined
  /** Read timeout of each page request (default `SynapseClient.timeouts.listing`, 60 s). */
  readonly timeout?: Duration.DurationInput | undefined
}

/** Options of the streaming calls. */
export interface StreamOptions extends ListOptions {
  /**
   * Pages requested at once (1..16) once page 1 has given `count` and more than two pages remain;
   * 1 follows `next` one page at a time. Default: the client's `prefetch` (`$SYNAPSE_PREFETCH`, 8).
   */
  readonly prefetch?: number | undefined
}

/** A stream together with the listing's total count (known from page 1, fetched once). */
export interface StreamWithCount<A> {
  readonly stream: Stream.Stream<A, SynapseError>
  readonly count: number
}

/** The ground-truth operations. */
export interface Service {
  /** One page of events and the total count. */
  readonly listEvents: (
    params?: EventParams,
    options?: ListOptions
  ) => Effect.Effect<Pagination.ListResult<GroundTruthEvent>, SynapseError>
  /** Every event, page by page as the stream is pulled (the official Python SDK's `list_all=True`). */
  readonly streamEvents: (
    params?: EventParams,
    options?: StreamOptions
  ) => Stream.Stream<GroundTruthEvent, SynapseError>
  /** Page 1's count, and a stream of every event that starts with page 1 (not fetched again). */
  readonly listAllEvents: (
    params?: EventParams,
    options?: StreamOptions
  ) => Effect.Effect<StreamWithCount<GroundTruthEvent>, SynapseError>
  /** One page of ground truths (default 100 per page, `files` converted). */
  readonly list: (
    params?: GroundTruthParams,
    options?: ListOptions
  ) => Effect.Effect<Pagination.ListResult<GroundTruth>, SynapseError>
  /** Every ground truth, page by page. */
  readonly stream: (params?: GroundTruthParams, options?: StreamOptions) => Stream.Stream<GroundTruth, SynapseError>
  /** The official Python SDK's `list_ground_truths(list_all=True)`: `{ stream, count }`. */
  readonly listAll: (
    params?: GroundTruthParams,
    options?: StreamOptions
  ) => Effect.Effect<StreamWithCount<GroundTruth>, SynapseError>
  /** One page of dataset versions. */
  readonly listVersions: (params?: VersionParams) => Effect.Effect<Pagination.ListResult<DatasetVersion>, SynapseError>
  /** Every dataset version matching the filters. */
  readonly streamVersions: (
    params?: VersionParams,
    options?: { readonly prefetch?: number | undefined }
  ) => Stream.Stream<DatasetVersion, SynapseError>
  /** One dataset version by id. */
  readonly getVersion: (id: number) => Effect.Effect<DatasetVersion, SynapseError>
}

/** The `GroundTruths` service. */
export class GroundTruths extends Context.Tag("synapse-ml/GroundTruths")<GroundTruths, Service>() {}

/** The conversion `list`/`stream` apply when none is given. */
export const DEFAULT_GROUND_TRUTH_CONVERSION: UrlConversion = { filesFields: ["files"] }

interface Listing<A> {
  readonly path: string
  readonly decode: Decoder<PageOf<A>>
  readonly defaultConversion: UrlConversion | undefined
  readonly defaultPageSize: number | undefined
}

/** Builds the service over the configured client and file cache. */
export const make: Effect.Effect<Service, never, SynapseClient | FileCache> = Effect.gen(function*() {
  const client = yield* SynapseClient
  const files = yield* FileCache
  const listingTimeout = Duration.sum(client.timeouts.connect, client.timeouts.listing)

  const events: Listing<GroundTruthEvent> = {
    path: "sdk/ground_truth_events/",
    decode: decoder(Page(GroundTruthEvent)),
    defaultConversion: undefined,
    // as the official SDK: a page size the backend is known to serve, whatever its own default
    defaultPageSize: DEFAULT_PAGE_SIZE
  }
  const groundTruths: Listing<GroundTruth> = {
    path: "ground_truths/",
    decode: decoder(Page(GroundTruth)),
    defaultConversion: DEFAULT_GROUND_TRUTH_CONVERSION,
    defaultPageSize: DEFAULT_PAGE_SIZE
  }
  const versions: Listing<DatasetVersion> = {
    path: "ground_truth_dataset_versions/",
    decode: decoder(Page(DatasetVersion)),
    defaultConversion: undefined,
    defaultPageSize: undefined
  }
  const decodeVersion = decoder(DatasetVersion)

  /**
   * Everything a listing call needs, validated before any request: the first page's absolute URL
   * and a page fetcher that applies the timeout and the url conversion.
   */
  const prepare = <A, P>(
    listing: Listing<A>,
    schema: Schema.Schema<P, any, never>,
    params: Readonly<Record<string, unknown>> | undefined,
    options: ListOptions | undefined
  ) =>
    Effect.gen(function*() {
      const valid = (yield* validate(schema, params, { allowed: ALLOWED, closed: true })) as Readonly<
        Record<string, unknown>
      >
      const pageSize = options?.pageSize !== undefined
        ? yield* validate(PageSize, options.pageSize, { prefix: "pageSize" })
        : (valid.page_size as number | undefined) ?? listing.defaultPageSize
      const conversion = options?.urlConversion === false
        ? undefined
        : options?.urlConversion !== undefined
        ? yield* validateConversion(options.urlConversion)
        : listing.defaultConversion
      const read = yield* validateDuration("timeout", options?.timeout)
      const timeout = read !== undefined ? Duration.sum(client.timeouts.connect, read) : listingTimeout
      const query = yield* toQuery({ ...valid, ...(pageSize !== undefined ? { page_size: pageSize } : {}) })
      const url = Pagination.withQuery(client.resolveUrl(listing.path), query)
      const convert = conversion === undefined
        ? undefined
        : (page: PageOf<A>): Effect.Effect<PageOf<A>, SynapseError> =>
          Effect.map(files.convertAll(page.results, conversion), (results) => ({ ...page, results }))
      const fetch = Pagination.fetchPage(
        (pageUrl) => {
          const page = client.jsonWith(HttpClientRequest.get(pageUrl), listing.decode, { timeout })
          return convert === undefined ? page : Effect.flatMap(page, convert)
        },
        (pageUrl) => {
          const later = client.jsonLater(HttpClientRequest.get(pageUrl), listing.decode, { timeout })
          // Downloads are network work too: with url conversion the whole page is fetched in the
          // first step, so that prefetched pages download their files concurrently.
          return convert === undefined
            ? later
            : Effect.map(Effect.flatMap(Effect.flatten(later), convert), Effect.succeed)
        }
      )
      return { url, fetch }
    })

  const listOf = <A, P>(
    listing: Listing<A>,
    schema: Schema.Schema<P, any, never>,
    params: Readonly<Record<string, unknown>> | undefined,
    options: ListOptions | undefined
  ) =>
    Effect.gen(function*() {
      const { fetch, url } = yield* prepare(listing, schema, params, options)
      const page = yield* fetch(url)
      return { results: page.results, count: page.count }
    })

  const streamOf = <A, P>(
    listing: Listing<A>,
    schema: Schema.Schema<P, any, never>,
    params: Readonly<Record<string, unknown>> | undefined,
    options: StreamOptions | undefined
  ) =>
    Stream.unwrap(
      Effect.gen(function*() {
        const prefetch = yield* validatePrefetch(options?.prefetch, client.prefetch)
        const { fetch, url } = yield* prepare(listing, schema, params, options)
        return Pagination.stream(url, fetch, { prefetch })
      })
    )

  const listAllOf = <A, P>(
    listing: Listing<A>,
    schema: Schema.Schema<P, any, never>,
    params: Readonly<Record<string, unknown>> | undefined,
    options: StreamOptions | undefined
  ) =>
    Effect.gen(function*() {
      const prefetch = yield* validatePrefetch(options?.prefetch, client.prefetch)
      const { fetch, url } = yield* prepare(listing, schema, params, options)
      const first = yield* fetch(url)
      return { stream: Pagination.fromFirstPage(url, first, fetch, { prefetch }), count: first.count }
    })

  return GroundTruths.of({
    listEvents: Effect.fn("GroundTruths.listEvents")(function*(params?: EventParams, options?: ListOptions) {
      return yield* listOf(events, GroundTruthEventListParams, params, options)
    }),
    streamEvents: (params, options) =>
      streamOf(events, GroundTruthEventListParams, params, options).pipe(Stream.withSpan("GroundTruths.streamEvents")),
    listAllEvents: Effect.fn("GroundTruths.listAllEvents")(function*(params?: EventParams, options?: StreamOptions) {
      return yield* listAllOf(events, GroundTruthEventListParams, params, options)
    }),
    list: Effect.fn("GroundTruths.list")(function*(params?: GroundTruthParams, options?: ListOptions) {
      return yield* listOf(groundTruths, GroundTruthListParams, params, options)
    }),
    stream: (params, options) =>
      streamOf(groundTruths, GroundTruthListParams, params, options).pipe(Stream.withSpan("GroundTruths.stream")),
    listAll: Effect.fn("GroundTruths.listAll")(function*(params?: GroundTruthParams, options?: StreamOptions) {
      return yield* listAllOf(groundTruths, GroundTruthListParams, params, options)
    }),
    listVersions: Effect.fn("GroundTruths.listVersions")(function*(params?: VersionParams) {
      return yield* listOf(versions, DatasetVersionListParams, params, { timeout: client.timeouts.read })
    }),
    streamVersions: (params, options) =>
      streamOf(versions, DatasetVersionListParams, params, {
        timeout: client.timeouts.read,
        prefetch: options?.prefetch
      }).pipe(
        Stream.withSpan("GroundTruths.streamVersions")
      ),
    getVersion: Effect.fn("GroundTruths.getVersion")(function*(id: number) {
      const pk = yield* validate(Id, id, { prefix: "id" })
      return yield* client.jsonWith(
        HttpClientRequest.get(client.resolveUrl(`ground_truth_dataset_versions/${pk}/`)),
        decodeVersion
      )
    })
  })
})

/** The `GroundTruths` layer; needs `SynapseClient` and `FileCache`. */
export const layer: Layer.Layer<GroundTruths, never, SynapseClient | FileCache> = Layer.effect(GroundTruths, make)
