/**
 * Pagination over Django REST Framework page-number listings (WIRE.md "Pagination"), as lazy
 * `Stream`s. Two modes:
 *
 * - `next` following (the default, portable): each page is fetched only when the consumer pulls
 *   past the previous one, so `Stream.take(n)` fetches only the pages it needs. The `next` link is
 *   followed verbatim.
 * - prefetch (`prefetch: n`): once page 1 gives `count` and the page size, pages 2..N are requested
 *   by number with at most `n` requests in flight; their bodies are parsed, and items emitted, in order.
 *
 * Each page is one request with its own retries (done by the `fetch` function given here, through
 * `SynapseClient`), never a restart of the whole listing. Page 1 is fetched once, and can be handed
 * in already fetched (`fromFirstPage`) by callers that needed its `count` first. A `next` link seen
 * before, or an empty page before `count` items were emitted, ends the stream with a `DecodeError`
 * instead of looping or stopping silently.
 */
import { Chunk, Effect, Option, Stream } from "effect"
import type { Page } from "../schemas/Page.js"
import { DecodeError, stripQuery, type SynapseError } from "./SynapseError.js"

/** Fetches (and decodes, and url-converts) one page by its absolute URL. */
export interface FetchPage<A> {
  (url: string): Effect.Effect<Page<A>, SynapseError>
  /**
   * The same in two steps, for prefetching: the outer effect does the network part (the request,
   * its retries, reading the body), the effect it succeeds with the rest (parsing, decoding, url
   * conversion). Prefetching runs the first step for several pages at once and the second one page
   * after the other, in order: a parsed page that a forked fiber completed with stays in the young
   * generation's way until the next full collection (see `SynapseClient.jsonLater`).
   */
  readonly later: (url: string) => Effect.Effect<Effect.Effect<Page<A>, SynapseError>, SynapseError>
}

/** A `FetchPage` from its one-step and two-step forms. */
export const fetchPage = <A>(
  now: (url: string) => Effect.Effect<Page<A>, SynapseError>,
  later: FetchPage<A>["later"]
): FetchPage<A> => Object.assign((url: string) => now(url), { later })

/** How to walk the pages. */
export interface Options {
  /**
   * Request pages by number, at most this many at once, once page 1 has given `count`. Absent or 1:
   * follow `next` links one page at a time.
   */
  readonly prefetch?: number | undefined
}

const loopError = (url: string) =>
  new DecodeError({
    detail: "the server sent a `next` link that was already visited: stopping instead of looping",
    url: stripQuery(url)
  })

const shortPageError = (url: string, emitted: number, count: number) =>
  new DecodeError({
    detail: `a page came back empty after ${emitted} of ${count} items: the listing cannot be completed`,
    url: stripQuery(url)
  })

const chunkOf = <A>(results: ReadonlyArray<A>): Chunk.Chunk<A> =>
  // results come from a freshly decoded page that nothing else holds: no copy needed
  Chunk.unsafeFromArray(results as Array<A>)

type FollowState<A> =
  | { readonly _tag: "Have"; readonly url: string; readonly page: Page<A> }
  | { readonly _tag: "Fetch"; readonly url: string }
  | { readonly _tag: "Done" }

const follow = <A>(firstUrl: string, first: Page<A>, fetch: FetchPage<A>): Stream.Stream<A, SynapseError> =>
  Stream.suspend(() => {
    // per run of the stream: a stream value can be run more than once
    const seen = new Set<string>([firstUrl])
    let emitted = 0
    const emit = (url: string, page: Page<A>): Effect.Effect<Option.Option<readonly [Chunk.Chunk<A>, FollowState<A>]>, SynapseError> => {
      if (page.results.length === 0) {
        if (page.next !== null && emitted < page.count) return Effect.fail(shortPageError(url, emitted, page.count))
        return Effect.succeed(Option.none())
      }
      emitted += page.results.length
      let nextState: FollowState<A>
      if (page.next === null) {
        nextState = { _tag: "Done" }
      } else if (seen.has(page.next)) {
        return Effect.fail(loopError(page.next))
      } else {
        seen.add(page.next)
        nextState = { _tag: "Fetch", url: page.next }
      }
      return Effect.succeed(Option.some([chunkOf(page.results), nextState] as const))
    }
    return Stream.unfoldChunkEffect<FollowState<A>, A, SynapseError, never>(
      { _tag: "Have", url: firstUrl, page: first },
      (state) => {
        switch (state._tag) {
          case "Done":
            return Effect.succeed(Option.none())
          case "Have":
            return emit(state.url, state.page)
          case "Fetch":
            return Effect.flatMap(fetch(state.url), (page) => emit(state.url, page))
        }
      }
    )
  })

/** The URL of page `page` of the listing whose first URL is `firstUrl`, at `pageSize` per page. */
export const pageUrl = (firstUrl: string, page: number, pageSize: number): string => {
  const url = new URL(firstUrl)
  url.searchParams.set("page", String(page))
  url.searchParams.set("page_size", String(pageSize))
  return url.toString()
}

const byNumber = <A>(firstUrl: string, first: Page<A>, fetch: FetchPage<A>, concurrency: number): Stream.Stream<A, SynapseError> => {
  // The server may cap page_size: the first (full) page tells the real size.
  const pageSize = first.results.length
  const startPage = Number(new URL(firstUrl).searchParams.get("page") ?? "1")
  if (first.next === null || pageSize === 0 || !Number.isInteger(startPage) || startPage < 1) {
    return follow(firstUrl, first, fetch)
  }
  const lastPage = Math.ceil(first.count / pageSize)
  const rest: Array<number> = []
  for (let page = startPage + 1; page <= lastPage; page++) rest.push(page)
  return Stream.suspend(() => {
    let emitted = (startPage - 1) * pageSize + pageSize
    return Stream.fromChunk(chunkOf(first.results)).pipe(
      Stream.concat(
        Stream.fromIterable(rest).pipe(
          Stream.mapEffect((page) => {
            const url = pageUrl(firstUrl, page, pageSize)
            return Effect.map(fetch.later(url), (finish) => ({ url, finish }))
          }, { concurrency }),
          Stream.mapEffect(({ finish, url }) =>
            Effect.flatMap(finish, (result) => {
              if (result.results.length === 0 && emitted < result.count) {
                return Effect.fail(shortPageError(url, emitted, result.count))
              }
              emitted += result.results.length
              return Effect.succeed(chunkOf(result.results))
            })
          ),
          Stream.flattenChunks
        )
      )
    )
  })
}

/**
 * All items of a listing whose first page has already been fetched (so it is not fetched again),
 * continuing from `firstUrl` (the absolute URL that page came from).
 */
export const fromFirstPage = <A>(
  firstUrl: string,
  first: Page<A>,
  fetch: FetchPage<A>,
  options?: Options
): Stream.Stream<A, SynapseError> => {
  const concurrency = options?.prefetch ?? 1
  return concurrency > 1 ? byNumber(firstUrl, first, fetch, concurrency) : follow(firstUrl, first, fetch)
}

/** All items of a listing, fetching page 1 from `firstUrl` when the stream is first pulled. */
export const stream = <A>(firstUrl: string, fetch: FetchPage<A>, options?: Options): Stream.Stream<A, SynapseError> =>
  Stream.unwrap(Effect.map(fetch(firstUrl), (first) => fromFirstPage(firstUrl, first, fetch, options)))

/** One page of a listing as the list operations return it (the seed's `(results, total_count)`). */
export interface ListResult<A> {
  readonly results: ReadonlyArray<A>
  readonly count: number
}

/** The absolute URL of `path` with query `params` appended (repeated keys for lists). */
export const withQuery = (absoluteUrl: string, params: ReadonlyArray<readonly [string, string]>): string => {
  const url = new URL(absoluteUrl)
  for (const [key, value] of params) url.searchParams.append(key, value)
  return url.toString()
}
