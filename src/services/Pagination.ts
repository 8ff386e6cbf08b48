/**
 * Pagination over Django REST Framework page-number listings (docs/wire-protocol.md "Pagination"),
 * as lazy `Stream`s. Two ways to walk the pages:
 *
 * - `next` following (`prefetch: 1`): each page is fetched only when the consumer pulls past the
 *   previous one, so `Stream.take(n)` fetches only the pages it needs. The `next` link is followed
 *   verbatim.
 * - by page number (`prefetch: n`, n > 1): once page 1 has given `count`, the page size and a `next`
 *   link numbered with `page=`, the later pages are requested by number (that link with `page` set,
 *   and `page_size` set to the number of items page 1 carried, since a server may cap the size
 *   asked), at most `n` at once, and their items are emitted in page order. Only when more than
 *   two pages remain: for fewer, there is nothing to overlap. A `next` that is not `page=`
 *   numbering (a cursor, limit/offset) is followed as above.
 *
 * What a walk by number guarantees, compared with following `next` (a DRF `next` is a page number
 * too, so both read the same offsets, only at different moments):
 * - Memory: at most about `n + 2` page bodies are held at once (the requests in flight, the
 *   answers waiting for their turn, the page being emitted), whatever the listing's length.
 * - The end: the first page whose `next` is null ends the listing, and the requests still in flight
 *   are interrupted, so pages past a listing that shrank are never waited for (nor their
 *   `404 "Invalid page."`). A 404 for a page whose predecessor linked to it is an error (the listing
 *   shrank under the walk: items moved between pages), as it is when following `next`. A last
 *   planned page that still has a `next` (the listing grew) is followed by `next` from there.
 * - Changes while paging: every page's `count` is compared with page 1's; a change is logged as a
 *   warning once. Items inserted before the walk's position push items already emitted onto the
 *   next page: an item whose `id` the previous page emitted is dropped (both ways of walking do this;
 *   only the previous page's ids are kept, so memory stays bounded, and an insertion of more items
 *   than a page holds between two reads can still repeat some). Items removed before the position
 *   pull unseen items back onto a page already read: no page-number walk can see those; read again
 *   for a consistent snapshot.
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

/** The most pages a listing requests at once. */
export const MAX_PREFETCH = 16

/**
 * The pages a listing requests at once unless configured otherwise (`SynapseClient` option
 * `prefetch`, `$SYNAPSE_PREFETCH`) or given per call. Chosen by measurement: streaming 100 000
 * events from a sandbox 20 ms away (BENCHMARKS.md, "Session of 2026-12-06").
 */
export const DEFAULT_PREFETCH = 8

/**
 * Why `value` is not a usable prefetch (an integer 1..`MAX_PREFETCH`), or `undefined` when it is.
 * The one rule behind the layer option, the environment variable and the per-call option.
 */
export const prefetchProblem = (value: unknown): string | undefined =>
  typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= MAX_PREFETCH
    ? undefined
    : `must be an integer between 1 and ${MAX_PREFETCH} (1: follow \`next\` one page at a time), got ${
      typeof value === "number" || typeof value === "string" ? JSON.stringify(value) : typeof value
    }`

/** How to walk the pages. */
export interface Options {
  /**
   * Request pages by number, at most this many at once, once page 1 has given `count` (and more
   * than two pages remain). Absent or 1: follow `next` links one page at a time.
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

const shrankError = (url: string, page: number, emitted: number, count: number) =>
  new DecodeError({
    status_code: 404,
    detail: `page ${page} is gone (404) although page ${page - 1} linked to it, after ${emitted} of ${count} items: ` +
      "the listing shrank while it was read and items moved between pages; read it again",
    url: stripQuery(url)
  })

const chunkOf = <A>(results: ReadonlyArray<A>): Chunk.Chunk<A> =>
  // results come from a freshly decoded page that nothing else holds: no copy needed
  Chunk.unsafeFromArray(results as Array<A>)

type Id = string | number

const idOf = (item: unknown): Id | undefined => {
  if (item === null || typeof item !== "object") return undefined
  const id = (item as { readonly id?: unknown }).id
  return typeof id === "number" || typeof id === "string" ? id : undefined
}

/**
 * What one walk remembers across pages: the previous page's ids (to drop an item a shifted listing
 * serves again), page 1's `count` (to notice a change) and how many items were emitted.
 */
class Walk {
  emitted = 0
  private previousIds: ReadonlySet<Id> = new Set()
  private warned = false
  constructor(readonly count: number) {}

  /**
   * The page's items that the previous page did not emit, as a chunk; remembers this page's ids.
   * Items without an `id` (a partial record from `fields=`) are always kept.
   */
  take<A>(results: ReadonlyArray<A>): Chunk.Chunk<A> {
    const previous = this.previousIds
    const ids = new Set<Id>()
    let repeated = 0
    for (const item of results) {
      const id = idOf(item)
      if (id === undefined) continue
      if (previous.has(id)) repeated++
      ids.add(id)
    }
    this.previousIds = ids
    this.emitted += results.length - repeated
    if (repeated === 0) return chunkOf(results)
    return chunkOf(results.filter((item) => {
      const id = idOf(item)
      return id === undefined || !previous.has(id)
    }))
  }

  /** Logs, once per walk, that the listing's count changed under it. */
  checkCount(page: { readonly count: number }, url: string): Effect.Effect<void> {
    if (page.count === this.count || this.warned) return Effect.void
    this.warned = true
    return Effect.logWarning(
      "the listing changed while it was read: items inserted or removed before the current page move between pages; " +
        "repeated items are dropped, a removal may hide items: read again for a consistent snapshot"
    ).pipe(Effect.annotateLogs({ url: stripQuery(url), countAtFirstPage: this.count, countNow: page.count }))
  }
}

/** What one page gives a walk: its items (repeats dropped) and the listing's `next` link. */
interface Step<A> {
  readonly chunk: Chunk.Chunk<A>
  readonly next: string | null
}

/**
 * The rules every page obeys, whichever way the listing is walked: its `count` compared with page
 * 1's, an empty page before `count` items were emitted an error (`None`: an empty page ends the
 * listing), and its items taken through the walk (repeats of the previous page dropped).
 */
const stepOf = <A>(walk: Walk, url: string, page: Page<A>): Effect.Effect<Option.Option<Step<A>>, SynapseError> =>
  Effect.zipRight(
    walk.checkCount(page, url),
    Effect.suspend(() => {
      if (page.results.length > 0) {
        return Effect.succeed(Option.some({ chunk: walk.take(page.results), next: page.next }))
      }
      if (page.next !== null && walk.emitted < page.count) {
        return Effect.fail(shortPageError(url, walk.emitted, page.count))
      }
      return Effect.succeed(Option.none())
    })
  )

type FollowState<A> =
  | { readonly _tag: "Have"; readonly url: string; readonly page: Page<A> }
  | { readonly _tag: "Fetch"; readonly url: string }
  | { readonly _tag: "Done" }

/** Follows `next` from `start`; `seen` holds the URLs already visited (a revisit is a loop). */
const follow = <A>(
  start: FollowState<A>,
  fetch: FetchPage<A>,
  walk: Walk,
  seen: Set<string>
): Stream.Stream<A, SynapseError> => {
  const emit = (
    url: string,
    page: Page<A>
  ): Effect.Effect<Option.Option<readonly [Chunk.Chunk<A>, FollowState<A>]>, SynapseError> =>
    Effect.flatMap(stepOf(walk, url, page), (step) => {
      if (Option.isNone(step)) return Effect.succeed(Option.none())
      const { chunk, next } = step.value
      if (next === null) return Effect.succeed(Option.some([chunk, { _tag: "Done" }] as const))
      if (seen.has(next)) return Effect.fail(loopError(next))
      seen.add(next)
      return Effect.succeed(Option.some([chunk, { _tag: "Fetch", url: next }] as const))
    })
  return Stream.unfoldChunkEffect<FollowState<A>, A, SynapseError, never>(start, (state) => {
    switch (state._tag) {
      case "Done":
        return Effect.succeed(Option.none())
      case "Have":
        return emit(state.url, state.page)
      case "Fetch":
        return Effect.flatMap(fetch(state.url), (page) => emit(state.url, page))
    }
  })
}

/**
 * How a walk by number goes: pages `from`..`to` by number, built from page 1's `next` link (its
 * host and query kept) with `page_size` set to the number of items page 1 carried.
 */
interface Plan {
  readonly template: URL
  readonly from: number
  readonly to: number
}

const POSITIVE_INTEGER = /^[1-9]\d*$/

/**
 * The plan for a walk by number, or `None` when following `next` is the way: a single page, an
 * empty first page, a `next` that is not an absolute URL numbered with `page=` (a cursor,
 * limit/offset), or at most two pages left (nothing to overlap).
 */
const planOf = <A>(first: Page<A>): Option.Option<Plan> => {
  // The server may cap page_size: the first (full) page tells the real size.
  const pageSize = first.results.length
  if (first.next === null || pageSize === 0) return Option.none()
  let template: URL
  try {
    template = new URL(first.next)
  } catch {
    return Option.none()
  }
  const next = template.searchParams.getAll("page")
  if (
    next.length !== 1 || !POSITIVE_INTEGER.test(next[0]!) || template.searchParams.has("cursor") ||
    template.searchParams.has("offset")
  ) {
    return Option.none()
  }
  const from = Number(next[0])
  const to = Math.ceil(first.count / pageSize)
  // `from` is the page after the one in hand: from..to is what remains
  if (from < 2 || to - from + 1 <= 2) return Option.none()
  // the size page 1 really had, asked for explicitly: page N then starts where the plan says,
  // whatever the server made of the size asked first (a cap, a default)
  template.searchParams.set("page_size", String(pageSize))
  return Option.some({ template, from, to })
}

/** The `page`-th page's URL: the `next` link of page 1 with its page number replaced. */
const numbered = (template: URL, page: number): string => {
  const url = new URL(template)
  url.searchParams.set("page", String(page))
  return url.toString()
}

/** One answer of the concurrent step: the rest of its work, or a 404 to judge in order. */
type Fetched<A> =
  | {
    readonly _tag: "Body"
    readonly page: number
    readonly url: string
    readonly finish: Effect.Effect<Page<A>, SynapseError>
  }
  | { readonly _tag: "Gone"; readonly page: number; readonly url: string; readonly error: SynapseError }

/** What the in-order step made of one page: its items, and whether the listing ends with it. */
interface Emitted<A> {
  readonly chunk: Chunk.Chunk<A>
  readonly last: boolean
}

const byNumber = <A>(
  firstUrl: string,
  first: Page<A>,
  plan: Plan,
  fetch: FetchPage<A>,
  concurrency: number
): Stream.Stream<A, SynapseError> =>
  Stream.suspend(() => {
    // per run of the stream: a stream value can be run more than once
    const walk = new Walk(first.count)
    const seen = new Set<string>([firstUrl])
    // a `next` link past the planned pages: the listing grew while it was read
    let beyond: string | null = null
    const pages = Array.from({ length: plan.to - plan.from + 1 }, (_, i) => plan.from + i)

    const request = (page: number): Effect.Effect<Fetched<A>, SynapseError> => {
      const url = numbered(plan.template, page)
      return Effect.matchEffect(fetch.later(url), {
        // judged in order: a 404 after the page that ends the listing is never looked at
        onFailure: (error): Effect.Effect<Fetched<A>, SynapseError> =>
          error._tag === "NotFoundError" ? Effect.succeed({ _tag: "Gone", page, url, error }) : Effect.fail(error),
        onSuccess: (finish) => Effect.succeed({ _tag: "Body", page, url, finish })
      })
    }

    const inOrder = (fetched: Fetched<A>): Effect.Effect<Emitted<A>, SynapseError> => {
      if (fetched._tag === "Gone") return Effect.fail(shrankError(fetched.url, fetched.page, walk.emitted, walk.count))
      const { page: number, url } = fetched
      return Effect.flatMap(
        Effect.flatMap(fetched.finish, (page) => stepOf(walk, url, page)),
        (step): Effect.Effect<Emitted<A>, SynapseError> => {
          if (Option.isNone(step)) return Effect.succeed({ chunk: Chunk.empty(), last: true })
          const { chunk, next } = step.value
          if (next === null) return Effect.succeed({ chunk, last: true })
          if (number === plan.to) {
            if (seen.has(next)) return Effect.fail(loopError(next))
            beyond = next
          }
          return Effect.succeed({ chunk, last: false })
        }
      )
    }

    const rest = Stream.fromIterable(pages).pipe(
      Stream.mapEffect(request, { concurrency }),
      Stream.mapEffect(inOrder),
      Stream.takeUntil((emitted) => emitted.last),
      Stream.mapConcatChunk((emitted) => emitted.chunk)
    )
    // page 1 goes through the walk like the others (its ids, its count)
    const head = Stream.suspend(() => Stream.fromChunk(walk.take(first.results)))
    const tail = Stream.suspend(() => {
      if (beyond === null) return Stream.empty
      for (const page of pages) seen.add(numbered(plan.template, page))
      return follow<A>({ _tag: "Fetch", url: beyond }, fetch, walk, seen)
    })
    return head.pipe(Stream.concat(rest), Stream.concat(tail))
  })

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
  const plan = concurrency > 1 ? planOf(first) : Option.none()
  if (Option.isSome(plan)) return byNumber(firstUrl, first, plan.value, fetch, concurrency)
  return Stream.suspend(() => {
    const walk = new Walk(first.count)
    return follow<A>({ _tag: "Have", url: firstUrl, page: first }, fetch, walk, new Set([firstUrl]))
  })
}

/** All items of a listing, fetching page 1 from `firstUrl` when the stream is first pulled. */
export const stream = <A>(firstUrl: string, fetch: FetchPage<A>, options?: Options): Stream.Stream<A, SynapseError> =>
  Stream.unwrap(Effect.map(fetch(firstUrl), (first) => fromFirstPage(firstUrl, first, fetch, options)))

/** One page of a listing as the list operations return it (the official Python SDK's `(results, total_count)`). */
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
