import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, ConfigProvider, Effect, Exit, Fiber, Layer, Logger, Schedule, Stream, TestClock } from "effect"
import * as FileCache from "../../src/services/FileCache.js"
import { GroundTruths, layer as groundTruthsLayer } from "../../src/services/GroundTruths.js"
import { layer as modelsLayer, Models } from "../../src/services/Models.js"
import { DEFAULT_PREFETCH } from "../../src/services/Pagination.js"
import * as SynapseClient from "../../src/services/SynapseClient.js"
import { clientLayer, fakeHttp, jsonResponse } from "./FakeHttp.js"

const model = (id: number) => ({
  id,
  name: `m${id}`,
  model_type: "detection",
  is_active: true,
  created_at: "2026-11-01T10:00:00Z"
})
const event = (id: number) => ({
  id,
  ground_truth_dataset_version: 1,
  category: "train",
  data: { type: "image", annotations: [] }
})

interface PagedOptions {
  readonly count?: number
  readonly next?: (url: URL, page: number, pageSize: number) => string | null
  readonly results?: (page: number, items: ReadonlyArray<unknown>) => ReadonlyArray<unknown>
  readonly delay?: (page: number) => number
  readonly fail?: (page: number, attempt: number) => Response | undefined
}

/** A DRF-style paged endpoint over `items`, honouring `page` and `page_size`. */
const paged = (items: ReadonlyArray<unknown>, options: PagedOptions = {}) => {
  const pageAttempts = new Map<number, number>()
  let inFlight = 0
  let maxInFlight = 0
  const fake = fakeHttp((_, url) => {
    const page = Number(url.searchParams.get("page") ?? "1")
    const pageSize = Number(url.searchParams.get("page_size") ?? "100")
    const attempt = (pageAttempts.get(page) ?? 0) + 1
    pageAttempts.set(page, attempt)
    const failure = options.fail?.(page, attempt)
    if (failure !== undefined) return failure
    const slice = items.slice((page - 1) * pageSize, page * pageSize)
    const hasMore = page * pageSize < items.length
    const nextUrl = new URL(url)
    nextUrl.searchParams.set("page", String(page + 1))
    const body = {
      count: options.count ?? items.length,
      next: options.next !== undefined ? options.next(url, page, pageSize) : hasMore ? nextUrl.toString() : null,
      previous: null,
      results: options.results !== undefined ? options.results(page, slice) : slice
    }
    const delay = options.delay?.(page) ?? 0
    return Effect.gen(function*() {
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      if (delay > 0) yield* Effect.sleep(delay)
      inFlight--
      return jsonResponse(body)
    })
  })
  return { fake, pageAttempts, maxInFlight: () => maxInFlight }
}

const services = (fake: ReturnType<typeof fakeHttp>) => {
  const client = clientLayer(fake, { retry: Schedule.recurs(3) })
  return Layer.mergeAll(modelsLayer, groundTruthsLayer).pipe(
    Layer.provide(FileCache.layer({ dir: "/nonexistent-never-used" })),
    Layer.provide(client)
  )
}

const range = (n: number, f: (i: number) => unknown) => Array.from({ length: n }, (_, i) => f(i + 1))

describe("Pagination (next following)", () => {
  it.effect("an empty listing: no items, one request", () =>
    Effect.gen(function*() {
      const { fake } = paged([])
      const items = yield* Effect.flatMap(Models, (m) => Stream.runCollect(m.stream())).pipe(
        Effect.provide(services(fake))
      )
      expect(Chunk.size(items)).toBe(0)
      expect(fake.seen).toHaveLength(1)
    }))

  it.effect("one page: every item, one request", () =>
    Effect.gen(function*() {
      const { fake } = paged(range(3, model))
      const items = yield* Effect.flatMap(Models, (m) => Stream.runCollect(m.stream())).pipe(
        Effect.provide(services(fake))
      )
      expect(Chunk.toReadonlyArray(items).map((m) => m.id)).toStrictEqual([1, 2, 3])
      expect(fake.seen).toHaveLength(1)
    }))

  it.effect("several pages: every item in order, each page fetched once, `next` followed verbatim", () =>
    Effect.gen(function*() {
      const { fake } = paged(range(25, model))
      const items = yield* Effect.flatMap(
        Models,
        (m) => Stream.runCollect(m.stream({ page_size: 10, model_type: "detection" }))
      ).pipe(
        Effect.provide(services(fake))
      )
      expect(Chunk.toReadonlyArray(items).map((m) => m.id)).toStrictEqual(range(25, (i) => i))
      expect(fake.seen.map((s) => s.url)).toStrictEqual([
        "https://synapse.test/api/v1/models/?model_type=detection&page_size=10",
        "https://synapse.test/api/v1/models/?model_type=detection&page_size=10&page=2",
        "https://synapse.test/api/v1/models/?model_type=detection&page_size=10&page=3"
      ])
    }))

  it.effect("Stream.take fetches only the pages it needs (prefetch 1)", () =>
    Effect.gen(function*() {
      const { fake } = paged(range(100, model))
      const layer = services(fake)
      const five = yield* Effect.flatMap(Models, (m) =>
        Stream.runCollect(m.stream({ page_size: 10 }, { prefetch: 1 }).pipe(Stream.take(5)))).pipe(
          Effect.provide(layer)
        )
      expect(Chunk.size(five)).toBe(5)
      expect(fake.seen).toHaveLength(1)
      const fifteen = yield* Effect.flatMap(Models, (m) =>
        Stream.runCollect(m.stream({ page_size: 10 }, { prefetch: 1 }).pipe(Stream.take(15)))).pipe(
          Effect.provide(layer)
        )
      expect(Chunk.size(fifteen)).toBe(15)
      expect(fake.seen).toHaveLength(3)
    }))

  it.effect("a `next` link that points back to a visited page ends the stream with a DecodeError", () =>
    Effect.gen(function*() {
      const { fake } = paged(range(30, model), {
        next: (url, page) => {
          const next = new URL(url)
          next.searchParams.set("page", page === 2 ? "1" : String(page + 1))
          if (page === 2) next.searchParams.delete("page")
          return next.toString()
        }
      })
      const error = yield* Effect.flip(
        Effect.flatMap(Models, (m) => Stream.runCollect(m.stream({ page_size: 10 }))).pipe(
          Effect.provide(services(fake))
        )
      )
      expect(error).toMatchObject({ _tag: "DecodeError" })
      expect(error).toMatchObject({ detail: expect.stringContaining("already visited") })
      expect(fake.seen).toHaveLength(2)
    }))

  it.effect("a `next` equal to the current URL is caught at once", () =>
    Effect.gen(function*() {
      const { fake } = paged(range(30, model), { next: (url) => url.toString() })
      const error = yield* Effect.flip(
        Effect.flatMap(Models, (m) => Stream.runCollect(m.stream({ page_size: 10 }))).pipe(
          Effect.provide(services(fake))
        )
      )
      expect(error).toMatchObject({ detail: expect.stringContaining("already visited") })
      expect(fake.seen).toHaveLength(1)
    }))

  it.effect("an empty page before `count` is reached is an error, not a silent end", () =>
    Effect.gen(function*() {
      const { fake } = paged(range(30, model), { results: (page, slice) => (page === 2 ? [] : slice) })
      const error = yield* Effect.flip(
        Effect.flatMap(Models, (m) => Stream.runCollect(m.stream({ page_size: 10 }))).pipe(
          Effect.provide(services(fake))
        )
      )
      expect(error).toMatchObject({ _tag: "DecodeError" })
      expect(error).toMatchObject({ detail: expect.stringContaining("empty after 10 of 30") })
    }))

  it.effect("a failing page is retried on its own; earlier pages are not fetched again", () =>
    Effect.gen(function*() {
      const { fake, pageAttempts } = paged(range(30, event), {
        fail: (page, attempt) => (page === 2 && attempt <= 2 ? new Response("", { status: 503 }) : undefined)
      })
      const items = yield* Effect.flatMap(GroundTruths, (g) => Stream.runCollect(g.streamEvents({ page_size: 10 })))
        .pipe(Effect.provide(services(fake)))
      expect(Chunk.toReadonlyArray(items).map((e) => e.id)).toStrictEqual(range(30, (i) => i))
      expect([...pageAttempts.entries()].sort()).toStrictEqual([[1, 1], [2, 3], [3, 1]])
    }))

  it.effect("listAllEvents gives the count up front and fetches page 1 once", () =>
    Effect.gen(function*() {
      const { fake, pageAttempts } = paged(range(25, event))
      const { count, stream } = yield* Effect.flatMap(GroundTruths, (g) => g.listAllEvents({ page_size: 10 })).pipe(
        Effect.provide(services(fake))
      )
      expect(count).toBe(25)
      expect(fake.seen).toHaveLength(1)
      const items = yield* Stream.runCollect(stream)
      expect(Chunk.size(items)).toBe(25)
      expect([...pageAttempts.entries()].sort()).toStrictEqual([[1, 1], [2, 1], [3, 1]])
    }))
})

describe("Pagination (prefetch by page number)", () => {
  it.effect("emits items in order although later pages answer first, with bounded concurrency", () =>
    Effect.gen(function*() {
      // page k takes (12 - k) * 10 ms: the last pages are the fastest
      const { fake, maxInFlight, pageAttempts } = paged(range(95, event), { delay: (page) => (12 - page) * 10 })
      const fiber = yield* Effect.fork(
        Effect.flatMap(GroundTruths, (g) => Stream.runCollect(g.streamEvents({ page_size: 10 }, { prefetch: 4 }))).pipe(
          Effect.provide(services(fake))
        )
      )
      yield* TestClock.adjust("2 seconds")
      const items = yield* Fiber.join(fiber)
      expect(Chunk.toReadonlyArray(items).map((e) => e.id)).toStrictEqual(range(95, (i) => i))
      expect(maxInFlight()).toBe(4)
      expect(fake.seen).toHaveLength(10)
      expect([...pageAttempts.values()].every((n) => n === 1)).toBe(true)
      // pages requested by number with the page size the first page revealed
      expect(fake.seen[9]!.url).toBe("https://synapse.test/api/v1/sdk/ground_truth_events/?page_size=10&page=10")
    }))

  it.effect("uses the server's real page size when it caps page_size", () =>
    Effect.gen(function*() {
      // the server serves at most 7 per page whatever was asked
      const items = range(20, event)
      const fake = fakeHttp((_, url) => {
        const page = Number(url.searchParams.get("page") ?? "1")
        const slice = items.slice((page - 1) * 7, page * 7)
        const next = new URL(url)
        next.searchParams.set("page", String(page + 1))
        return jsonResponse({ count: 20, next: page * 7 < 20 ? next.toString() : null, results: slice })
      })
      const out = yield* Effect.flatMap(GroundTruths, (g) =>
        Stream.runCollect(g.streamEvents({ page_size: 50 }, { prefetch: 3 }))).pipe(Effect.provide(services(fake)))
      expect(
        Chunk.toReadonlyArray(out).map((e) =>
          e.id
        )
      ).toStrictEqual(range(20, (i) => i))
      expect(fake.seen).toHaveLength(3)
    }))

  it.effect("an empty page in prefetch mode is an error", () =>
    Effect.gen(function*() {
      const { fake } = paged(range(60, event), { results: (page, slice) => (page === 3 ? [] : slice) })
      const error = yield* Effect.flip(
        Effect.flatMap(GroundTruths, (g) => Stream.runCollect(g.streamEvents({ page_size: 10 }, { prefetch: 2 }))).pipe(
          Effect.provide(services(fake))
        )
      )
      expect(error).toMatchObject({ _tag: "DecodeError" })
    }))

  it.effect("rejects a prefetch outside 1..16 before any request", () =>
    Effect.gen(function*() {
      const { fake } = paged(range(3, event))
      const error = yield* Effect.flip(
        Effect.flatMap(GroundTruths, (g) => Stream.runCollect(g.streamEvents({}, { prefetch: 64 }))).pipe(
          Effect.provide(services(fake))
        )
      )
      expect(error).toMatchObject({ _tag: "ValidationError", field: "prefetch" })
      expect(fake.seen).toHaveLength(0)
    }))
})

/**
 * A DRF-style listing over a list that can change between requests: each request is answered after
 * `delay(page)` ms from the list as it is then, and `after(page)` runs once that page is answered.
 * Out-of-range pages are `404 {"detail": "Invalid page."}` as in DRF.
 */
const live = (
  items: Array<unknown>,
  options: {
    readonly delay?: (page: number) => number
    readonly after?: (page: number) => void
    readonly nextOf?: (url: URL, page: number) => string
  } = {}
) => {
  let inFlight = 0
  let maxInFlight = 0
  const fake = fakeHttp((_, url) =>
    Effect.gen(function*() {
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      // a cursor `c<n>` stands for page n (a cursor-paginated view)
      const page = Number(url.searchParams.get("cursor")?.slice(1) ?? url.searchParams.get("page") ?? "1")
      const size = Number(url.searchParams.get("page_size") ?? "100")
      yield* Effect.sleep(options.delay?.(page) ?? 1)
      inFlight--
      if ((page - 1) * size >= items.length && page > 1) return jsonResponse({ detail: "Invalid page." }, 404)
      const next = new URL(url)
      next.searchParams.set("page", String(page + 1))
      const body = {
        count: items.length,
        next: page * size < items.length ? (options.nextOf?.(url, page) ?? next.toString()) : null,
        previous: null,
        results: items.slice((page - 1) * size, page * size)
      }
      options.after?.(page)
      return jsonResponse(body)
    })
  )
  return { fake, maxInFlight: () => maxInFlight }
}

const idsOf = (items: Chunk.Chunk<{ readonly id: unknown }>) => Chunk.toReadonlyArray(items).map((item) => item.id)

const eventIds = <E>(layer: Layer.Layer<GroundTruths, E>, pageSize: number, prefetch?: number) =>
  Effect.flatMap(
    GroundTruths,
    (g) => Stream.runCollect(g.streamEvents({ page_size: pageSize }, prefetch === undefined ? {} : { prefetch }))
  ).pipe(
    Effect.map(idsOf),
    Effect.provide(layer)
  )

const groundTruthServices = (fake: ReturnType<typeof fakeHttp>, options: Partial<SynapseClient.Options> = {}) =>
  groundTruthsLayer.pipe(
    Layer.provide(FileCache.layer({ dir: "/nonexistent-never-used" })),
    Layer.provide(clientLayer(fake, { retry: Schedule.recurs(3), ...options }))
  )

/** Runs `self` with the test clock moving on until it is done. */
const withClockRunning = <A, E>(self: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(self)
    for (let i = 0; i < 200 && fiber.unsafePoll() === null; i++) yield* TestClock.adjust("10 millis")
    return yield* Fiber.join(fiber)
  })

describe("Pagination defaults", () => {
  it.effect(`streams request ${DEFAULT_PREFETCH} pages at once by default, in order, each page once`, () =>
    Effect.gen(function*() {
      const { fake, maxInFlight } = live(range(200, event), { delay: (page) => (page % 3) * 5 + 1 })
      const ids = yield* withClockRunning(eventIds(groundTruthServices(fake), 10))
      expect(ids).toStrictEqual(range(200, (i) => i))
      expect(maxInFlight()).toBe(DEFAULT_PREFETCH)
      expect(fake.seen).toHaveLength(20)
      expect(new Set(fake.seen.map((s) => s.url)).size).toBe(20)
    }))

  it.effect("Models.stream fetches by number by default too", () =>
    Effect.gen(function*() {
      const { fake, maxInFlight } = live(range(60, model))
      const ids = yield* withClockRunning(
        Effect.flatMap(Models, (m) => Stream.runCollect(m.stream({ page_size: 5 }))).pipe(
          Effect.map(idsOf),
          Effect.provide(services(fake))
        )
      )
      expect(ids).toStrictEqual(range(60, (i) => i))
      expect(maxInFlight()).toBe(DEFAULT_PREFETCH)
    }))

  it.effect("the layer option sets the default: 1 follows `next`, 3 requests 3 at once; a call's prefetch wins", () =>
    Effect.gen(function*() {
      const off = live(range(100, event))
      expect(yield* withClockRunning(eventIds(groundTruthServices(off.fake, { prefetch: 1 }), 10))).toStrictEqual(
        range(100, (i) => i)
      )
      expect(off.maxInFlight()).toBe(1)
      const three = live(range(100, event))
      expect(yield* withClockRunning(eventIds(groundTruthServices(three.fake, { prefetch: 3 }), 10))).toStrictEqual(
        range(100, (i) => i)
      )
      expect(three.maxInFlight()).toBe(3)
      const call = live(range(100, event))
      expect(yield* withClockRunning(eventIds(groundTruthServices(call.fake, { prefetch: 1 }), 10, 5))).toStrictEqual(
        range(100, (i) => i)
      )
      expect(call.maxInFlight()).toBe(5)
    }))

  it.effect("SYNAPSE_PREFETCH sets the default through layerConfig; 1 switches prefetching off", () =>
    Effect.gen(function*() {
      const run = (value: string) => {
        const { fake, maxInFlight } = live(range(100, event))
        const layer = groundTruthsLayer.pipe(
          Layer.provide(FileCache.layer({ dir: "/nonexistent-never-used" })),
          Layer.provide(SynapseClient.layerConfig().pipe(Layer.provide(fake.layer)))
        )
        const env = new Map([["SYNAPSE_BASE_URL", "https://synapse.test/api/v1"], ["SYNAPSE_PREFETCH", value]])
        return withClockRunning(eventIds(layer, 10).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(env)))).pipe(
          Effect.map((ids) => ({ ids, maxInFlight: maxInFlight() }))
        )
      }
      expect(yield* run("1")).toStrictEqual({ ids: range(100, (i) => i), maxInFlight: 1 })
      expect(yield* run(" 2 ")).toStrictEqual({ ids: range(100, (i) => i), maxInFlight: 2 })
      expect(yield* run("16")).toStrictEqual({ ids: range(100, (i) => i), maxInFlight: 9 })
      expect(yield* run("")).toStrictEqual({ ids: range(100, (i) => i), maxInFlight: DEFAULT_PREFETCH })
    }))

  it.effect("a bad SYNAPSE_PREFETCH or layer option fails when the layer is built, naming it", () =>
    Effect.gen(function*() {
      const fake = fakeHttp(() => jsonResponse({}))
      for (const value of ["0", "17", "2.5", "four", "-3"]) {
        const env = new Map([["SYNAPSE_BASE_URL", "https://synapse.test/api/v1"], ["SYNAPSE_PREFETCH", value]])
        const exit = yield* Effect.exit(
          Effect.provide(SynapseClient.SynapseClient, SynapseClient.layerConfig().pipe(Layer.provide(fake.layer))).pipe(
            Effect.withConfigProvider(ConfigProvider.fromMap(env))
          )
        )
        expect(Exit.isFailure(exit), value).toBe(true)
        const message = Exit.isFailure(exit) ? Cause.pretty(exit.cause) : ""
        expect(message, value).toContain("SYNAPSE_PREFETCH must be an integer between 1 and 16")
        expect(message, value).toContain(JSON.stringify(Number.isFinite(Number(value)) ? Number(value) : value))
      }
      for (const prefetch of [0, 17, 1.5, Number.NaN]) {
        const error = yield* Effect.flip(Effect.provide(SynapseClient.SynapseClient, clientLayer(fake, { prefetch })))
        expect(error._tag, String(prefetch)).toBe("ConfigError")
        expect(String(error), String(prefetch)).toContain("prefetch must be an integer between 1 and 16")
      }
      expect(fake.seen).toStrictEqual([])
    }))

  it.effect("a call's bad prefetch is a ValidationError before any request", () =>
    Effect.gen(function*() {
      const { fake } = live(range(10, model))
      for (const prefetch of [0, 17, 2.5]) {
        const error = yield* Effect.flip(
          Effect.flatMap(Models, (m) => Stream.runCollect(m.stream({}, { prefetch }))).pipe(
            Effect.provide(services(fake))
          )
        )
        expect(error).toMatchObject({
          _tag: "ValidationError",
          field: "prefetch",
          detail: expect.stringContaining("between 1 and 16")
        })
      }
      expect(fake.seen).toStrictEqual([])
    }))
})

describe("Pagination by page number: when it applies, and changes while paging", () => {
  it.effect("two pages left after page 1: `next` is followed, one request at a time", () =>
    Effect.gen(function*() {
      const { fake, maxInFlight } = live(range(30, event))
      expect(yield* withClockRunning(eventIds(groundTruthServices(fake), 10, 16))).toStrictEqual(range(30, (i) => i))
      expect(maxInFlight()).toBe(1)
      expect(fake.seen).toHaveLength(3)
    }))

  it.effect("a `next` that is not numbered with `page=` (a cursor) is followed verbatim", () =>
    Effect.gen(function*() {
      const { fake, maxInFlight } = live(range(100, event), {
        nextOf: (url, page) => {
          const next = new URL(url)
          next.searchParams.delete("page")
          next.searchParams.set("cursor", `c${page + 1}`)
          return next.toString()
        }
      })
      expect(yield* withClockRunning(eventIds(groundTruthServices(fake), 10, 8))).toStrictEqual(range(100, (i) => i))
      expect(maxInFlight()).toBe(1)
      expect(fake.seen.slice(1).map((s) => new URL(s.url).searchParams.get("cursor"))).toStrictEqual(
        range(9, (i) => `c${i + 1}`)
      )
      expect(fake.seen.some((s) => new URL(s.url).searchParams.has("page"))).toBe(false)
    }))

  it.effect("page numbers are put into page 1's `next` link (its host and parameters kept)", () =>
    Effect.gen(function*() {
      const { fake } = live(range(100, event), {
        nextOf: (url, page) => {
          const next = new URL(url)
          next.searchParams.set("page", String(page + 1))
          next.searchParams.set("signed", "x1")
          return next.toString()
        }
      })
      expect(yield* withClockRunning(eventIds(groundTruthServices(fake), 10, 4))).toStrictEqual(range(100, (i) => i))
      expect(fake.seen.slice(1).map((s) => new URL(s.url).searchParams.get("signed"))).toStrictEqual(
        Array.from({ length: 9 }, () => "x1")
      )
    }))

  it.effect("the listing grows at its end while read: the pages past page 1's count are followed by `next`", () =>
    Effect.gen(function*() {
      const items = range(95, event)
      const { fake } = live(items, { after: (page) => page === 1 && items.push(...range(12, (i) => event(95 + i))) })
      expect(yield* withClockRunning(eventIds(groundTruthServices(fake), 10, 4))).toStrictEqual(range(107, (i) => i))
      const pages = fake.seen.map((s) => Number(new URL(s.url).searchParams.get("page") ?? "1"))
      expect(pages.sort((a, b) => a - b)).toStrictEqual(range(11, (i) => i))
    }))

  it.effect("items inserted before the position: the repeated items are dropped, and the change is logged", () =>
    Effect.gen(function*() {
      const items = range(100, event)
      const { fake } = live(items, {
        after: (page) => page === 1 && items.unshift(...range(4, (i) => event(1000 + i)))
      })
      const logs: Array<string> = []
      const logger = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ logLevel, message }) => logs.push(`${logLevel.label} ${String(message)}`))
      )
      const ids = yield* withClockRunning(eventIds(groundTruthServices(fake), 10, 4).pipe(Effect.provide(logger)))
      // 1..10 from page 1; every later page starts 4 items late: 7..10 come again and are dropped
      expect(ids).toStrictEqual(range(100, (i) => i))
      expect(logs.filter((l) => l.startsWith("WARN"))).toHaveLength(1)
      expect(logs.find((l) => l.startsWith("WARN"))).toContain("the listing changed while it was read")
    }))

  it.effect("the same duplicates are dropped when following `next`", () =>
    Effect.gen(function*() {
      const items = range(100, event)
      const { fake } = live(items, { after: (page) => page === 3 && items.unshift(event(1000)) })
      expect(yield* withClockRunning(eventIds(groundTruthServices(fake), 10, 1))).toStrictEqual(range(100, (i) => i))
    }))

  it.effect("the listing shrinks at its end while read: it ends at the page whose `next` is null; the 404s past it are not errors", () =>
    Effect.gen(function*() {
      const items = range(100, event)
      // page 1 first, then every other page fetched after 25 items have gone
      const { fake } = live(items, { after: (page) => page === 1 && items.splice(75) })
      expect(yield* withClockRunning(eventIds(groundTruthServices(fake), 10, 8))).toStrictEqual(range(75, (i) => i))
    }))

  it.effect("a page gone although the page before linked to it is a DecodeError, not a silent end", () =>
    Effect.gen(function*() {
      const items = range(100, event)
      // page 5 answers first (listing still 100 long, so it links to page 6), then 55 items go
      const { fake } = live(items, {
        delay: (page) => (page === 5 ? 5 : 50),
        after: (page) => page === 5 && items.splice(45)
      })
      const error = yield* withClockRunning(Effect.flip(eventIds(groundTruthServices(fake), 10, 8)))
      expect(error).toMatchObject({
        _tag: "DecodeError",
        status_code: 404,
        detail: expect.stringContaining("page 6 is gone (404) although page 5 linked to it")
      })
    }))

  it.effect("pages held are bounded by the pages in flight when the consumer stalls", () =>
    Effect.gen(function*() {
      const { fake } = live(range(500, event))
      const started = yield* Effect.scoped(Effect.gen(function*() {
        const stream = yield* Effect.flatMap(GroundTruths, (g) =>
          Effect.succeed(g.streamEvents({ page_size: 10 }, { prefetch: 4 }))).pipe(
            Effect.provide(groundTruthServices(fake))
          )
        const pull = yield* Stream.toPull(stream)
        // the consumer takes two chunks, then stops pulling while time passes
        yield* withClockRunning(pull)
        yield* withClockRunning(pull)
        yield* TestClock.adjust("5 seconds")
        return fake.seen.length
      }))
      // page 1, the page consumed, and at most 4 more requested or waiting for their turn (+1 slack), of 50 pages
      expect(started).toBeGreaterThanOrEqual(6)
      expect(started).toBeLessThanOrEqual(1 + 1 + 4 + 1)
    }))
})

describe("Pagination by page number: the page size", () => {
  it.effect("pages are asked at the size page 1 really had when the server capped the size asked", () =>
    Effect.gen(function*() {
      // the server serves at most 7 per page whatever was asked; its `next` repeats the size asked
      const items = range(50, event)
      const fake = fakeHttp((_, url) => {
        const page = Number(url.searchParams.get("page") ?? "1")
        const size = Math.min(7, Number(url.searchParams.get("page_size") ?? "7"))
        const next = new URL(url)
        next.searchParams.set("page", String(page + 1))
        if ((page - 1) * size >= items.length) return jsonResponse({ detail: "Invalid page." }, 404)
        return jsonResponse({
          count: 50,
          next: page * size < 50 ? next.toString() : null,
          results: items.slice((page - 1) * size, page * size)
        })
      })
      const out = yield* Effect.flatMap(
        GroundTruths,
        (g) => Stream.runCollect(g.streamEvents({ page_size: 50 }, { prefetch: 3 }))
      ).pipe(Effect.provide(services(fake)))
      expect(idsOf(out)).toStrictEqual(range(50, (i) => i))
      expect(fake.seen.slice(1).map((s) => new URL(s.url).searchParams.get("page_size"))).toStrictEqual(
        Array.from({ length: 7 }, () => "7")
      )
    }))
})
