import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Schedule, Stream, TestClock, Fiber } from "effect"
import * as FileCache from "../../src/services/FileCache.js"
import { GroundTruths, layer as groundTruthsLayer } from "../../src/services/GroundTruths.js"
import { Models, layer as modelsLayer } from "../../src/services/Models.js"
import { clientLayer, fakeHttp, jsonResponse } from "./FakeHttp.js"

const model = (id: number) => ({ id, name: `m${id}`, model_type: "detection", is_active: true, created_at: "2026-11-01T10:00:00Z" })
const event = (id: number) => ({ id, ground_truth_dataset_version: 1, category: "train", data: { type: "image", annotations: [] } })

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
      const items = yield* Effect.flatMap(Models, (m) => Stream.runCollect(m.stream())).pipe(Effect.provide(services(fake)))
      expect(Chunk.size(items)).toBe(0)
      expect(fake.seen).toHaveLength(1)
    }))

  it.effect("one page: every item, one request", () =>
    Effect.gen(function*() {
      const { fake } = paged(range(3, model))
      const items = yield* Effect.flatMap(Models, (m) => Stream.runCollect(m.stream())).pipe(Effect.provide(services(fake)))
      expect(Chunk.toReadonlyArray(items).map((m) => m.id)).toStrictEqual([1, 2, 3])
      expect(fake.seen).toHaveLength(1)
    }))

  it.effect("several pages: every item in order, each page fetched once, `next` followed verbatim", () =>
    Effect.gen(function*() {
      const { fake } = paged(range(25, model))
      const items = yield* Effect.flatMap(Models, (m) => Stream.runCollect(m.stream({ page_size: 10, model_type: "detection" }))).pipe(
        Effect.provide(services(fake))
      )
      expect(Chunk.toReadonlyArray(items).map((m) => m.id)).toStrictEqual(range(25, (i) => i))
      expect(fake.seen.map((s) => s.url)).toStrictEqual([
        "https://synapse.test/api/v1/models/?model_type=detection&page_size=10",
        "https://synapse.test/api/v1/models/?model_type=detection&page_size=10&page=2",
        "https://synapse.test/api/v1/models/?model_type=detection&page_size=10&page=3"
      ])
    }))

  it.effect("Stream.take fetches only the pages it needs", () =>
    Effect.gen(function*() {
      const { fake } = paged(range(100, model))
      const layer = services(fake)
      const five = yield* Effect.flatMap(Models, (m) => Stream.runCollect(m.stream({ page_size: 10 }).pipe(Stream.take(5)))).pipe(Effect.provide(layer))
      expect(Chunk.size(five)).toBe(5)
      expect(fake.seen).toHaveLength(1)
      const fifteen = yield* Effect.flatMap(Models, (m) => Stream.runCollect(m.stream({ page_size: 10 }).pipe(Stream.take(15)))).pipe(Effect.provide(layer))
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
      const error = yield* Effect.flip(Effect.flatMap(Models, (m) => Stream.runCollect(m.stream({ page_size: 10 }))).pipe(Effect.provide(services(fake))))
      expect(error).toMatchObject({ _tag: "DecodeError" })
      expect(error).toMatchObject({ detail: expect.stringContaining("already visited") })
      expect(fake.seen).toHaveLength(2)
    }))

  it.effect("a `next` equal to the current URL is caught at once", () =>
    Effect.gen(function*() {
      const { fake } = paged(range(30, model), { next: (url) => url.toString() })
      const error = yield* Effect.flip(Effect.flatMap(Models, (m) => Stream.runCollect(m.stream({ page_size: 10 }))).pipe(Effect.provide(services(fake))))
      expect(error).toMatchObject({ detail: expect.stringContaining("already visited") })
      expect(fake.seen).toHaveLength(1)
    }))

  it.effect("an empty page before `count` is reached is an error, not a silent end", () =>
    Effect.gen(function*() {
      const { fake } = paged(range(30, model), { results: (page, slice) => (page === 2 ? [] : slice) })
      const error = yield* Effect.flip(Effect.flatMap(Models, (m) => Stream.runCollect(m.stream({ page_size: 10 }))).pipe(Effect.provide(services(fake))))
      expect(error).toMatchObject({ _tag: "DecodeError" })
      expect(error).toMatchObject({ detail: expect.stringContaining("empty after 10 of 30") })
    }))

  it.effect("a failing page is retried on its own; earlier pages are not fetched again", () =>
    Effect.gen(function*() {
      const { fake, pageAttempts } = paged(range(30, event), {
        fail: (page, attempt) => (page === 2 && attempt <= 2 ? new Response("", { status: 503 }) : undefined)
      })
      const items = yield* Effect.flatMap(GroundTruths, (g) => Stream.runCollect(g.streamEvents({ page_size: 10 }))).pipe(Effect.provide(services(fake)))
      expect(Chunk.toReadonlyArray(items).map((e) => e.id)).toStrictEqual(range(30, (i) => i))
      expect([...pageAttempts.entries()].sort()).toStrictEqual([[1, 1], [2, 3], [3, 1]])
    }))

  it.effect("listAllEvents gives the count up front and fetches page 1 once", () =>
    Effect.gen(function*() {
      const { fake, pageAttempts } = paged(range(25, event))
      const { count, stream } = yield* Effect.flatMap(GroundTruths, (g) => g.listAllEvents({ page_size: 10 })).pipe(Effect.provide(services(fake)))
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
        Effect.flatMap(GroundTruths, (g) => Stream.runCollect(g.streamEvents({ page_size: 10 }, { prefetch: 4 }))).pipe(Effect.provide(services(fake)))
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
      const out = yield* Effect.flatMap(GroundTruths, (g) => Stream.runCollect(g.streamEvents({ page_size: 50 }, { prefetch: 3 }))).pipe(Effect.provide(services(fake)))
      expect(Chunk.toReadonlyArray(out).map((e) => e.id)).toStrictEqual(range(20, (i) => i))
      expect(fake.seen).toHaveLength(3)
    }))

  it.effect("an empty page in prefetch mode is an error", () =>
    Effect.gen(function*() {
      const { fake } = paged(range(30, event), { results: (page, slice) => (page === 3 ? [] : slice) })
      const error = yield* Effect.flip(
        Effect.flatMap(GroundTruths, (g) => Stream.runCollect(g.streamEvents({ page_size: 10 }, { prefetch: 2 }))).pipe(Effect.provide(services(fake)))
      )
      expect(error).toMatchObject({ _tag: "DecodeError" })
    }))

  it.effect("rejects a prefetch outside 1..16 before any request", () =>
    Effect.gen(function*() {
      const { fake } = paged(range(3, event))
      const error = yield* Effect.flip(
        Effect.flatMap(GroundTruths, (g) => Stream.runCollect(g.streamEvents({}, { prefetch: 64 }))).pipe(Effect.provide(services(fake)))
      )
      expect(error).toMatchObject({ _tag: "ValidationError", field: "prefetch" })
      expect(fake.seen).toHaveLength(0)
    }))
})
