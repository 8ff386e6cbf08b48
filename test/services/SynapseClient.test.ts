import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { describe, expect, it } from "@effect/vitest"
import {
  ConfigProvider,
  Duration,
  Effect,
  Exit,
  Fiber,
  HashMap,
  Layer,
  Logger,
  LogLevel,
  Redacted,
  Schedule,
  Schema,
  TestClock
} from "effect"
import { GroundTruthEvent } from "../../src/schemas/GroundTruth.js"
import * as SynapseClient from "../../src/services/SynapseClient.js"
import {
  AuthenticationError,
  AuthorizationError,
  DecodeError,
  NotFoundError,
  parseRetryAfter,
  PayloadTooLargeError,
  RateLimitError,
  ServerError,
  TimeoutError,
  UnexpectedStatusError,
  ValidationError
} from "../../src/services/SynapseError.js"
import { clientLayer, fakeHttp, jsonResponse, reset, TOKEN } from "./FakeHttp.js"

const Item = Schema.Struct({ id: Schema.Int, name: Schema.String })
const BASE = "https://synapse.test/api/v1"

const withClient = <A, E>(
  fake: ReturnType<typeof fakeHttp>,
  f: (client: SynapseClient.Service) => Effect.Effect<A, E>,
  options: Partial<SynapseClient.Options> = {}
) => Effect.flatMap(SynapseClient.SynapseClient, f).pipe(Effect.provide(clientLayer(fake, options)))

/** Waits, without moving the test clock, until the fake backend has received `n` requests. */
const sentAtLeast = (fake: { readonly seen: ReadonlyArray<unknown> }, n: number) =>
  Effect.gen(function*() {
    while (fake.seen.length < n) yield* Effect.yieldNow()
  })

describe("SynapseClient requests", () => {
  it.effect("sends every configured auth header, JSON accept and user agent; resolves relative paths", () =>
    Effect.gen(function*() {
      const fake = fakeHttp(() => jsonResponse({ id: 1, name: "a" }))
      yield* withClient(fake, (client) => client.json(HttpClientRequest.get("models/1/"), Item), {
        authorizationToken: Redacted.make("legacy-token"),
        tenant: Redacted.make("Token tenant-code"),
        agentToken: Redacted.make("agent-token"),
        userAgent: "test-agent/1"
      })
      expect(fake.seen).toHaveLength(1)
      const [seen] = fake.seen
      expect(seen!.url).toBe(`${BASE}/models/1/`)
      expect(seen!.headers["synapse-access-token"]).toBe(`Token ${TOKEN}`)
      expect(seen!.headers["authorization"]).toBe("Token legacy-token")
      // a value that already has the prefix is not prefixed twice
      expect(seen!.headers["synapse-tenant"]).toBe("Token tenant-code")
      expect(seen!.headers["synapse-agent"]).toBe("Token agent-token")
      expect(seen!.headers["accept"]).toBe("application/json")
      expect(seen!.headers["user-agent"]).toBe("test-agent/1")
    }))

  it.effect("sends no header for a token that is not configured", () =>
    Effect.gen(function*() {
      const fake = fakeHttp(() => jsonResponse({ id: 1, name: "a" }))
      yield* withClient(fake, (client) => client.json(HttpClientRequest.get("models/1/"), Item), {
        accessToken: undefined
      })
      expect(
        Object.keys(fake.seen[0]!.headers).filter((h) =>
          /token|authorization|tenant|agent$/i.test(h) && h !== "user-agent"
        )
      ).toStrictEqual([])
    }))

  it.effect("follows absolute URLs verbatim, with the auth headers", () =>
    Effect.gen(function*() {
      const fake = fakeHttp(() => jsonResponse({ id: 1, name: "a" }))
      const next = "https://synapse.test/api/v1/models/?page=2&page_size=5&model_type=detection"
      yield* withClient(fake, (client) => client.json(HttpClientRequest.get(next), Item))
      expect(fake.seen[0]!.url).toBe(next)
      expect(fake.seen[0]!.headers["synapse-access-token"]).toBe(`Token ${TOKEN}`)
    }))

  it.effect("the file client sends no token and no trace headers", () =>
    Effect.gen(function*() {
      const fake = fakeHttp(() => new Response("bytes"))
      yield* withClient(fake, (client) =>
        client.fileClient.execute(HttpClientRequest.get("https://files.test/a.png?sig=1")))
      const headers = fake.seen[0]!.headers
      expect(
        Object.values(headers).some((v) =>
          v.includes(TOKEN)
        )
      ).toBe(false)
      expect(Object.keys(headers).sort()).toStrictEqual(["user-agent"])
    }))

  it.effect("keeps unknown fields and decodes the known ones", () =>
    Effect.gen(function*() {
      const fake = fakeHttp(() => jsonResponse({ id: 1, name: "a", future_field: [1, 2] }))
      const item = yield* withClient(fake, (client) => client.json(HttpClientRequest.get("x/"), Item))
      expect(item).toStrictEqual({ id: 1, name: "a", future_field: [1, 2] })
    }))
})

describe("SynapseClient error classification", () => {
  const cases: Array<[string, Response, unknown]> = [
    [
      "401",
      jsonResponse({ detail: "Invalid token." }, 401),
      new AuthenticationError({ status_code: 401, detail: "Invalid token.", method: "GET", url: `${BASE}/models/9/` })
    ],
    [
      "403",
      jsonResponse({ detail: "Forbidden." }, 403),
      new AuthorizationError({ status_code: 403, detail: "Forbidden.", method: "GET", url: `${BASE}/models/9/` })
    ],
    [
      "404",
      jsonResponse({ detail: "Not found." }, 404),
      new NotFoundError({ status_code: 404, detail: "Not found.", method: "GET", url: `${BASE}/models/9/` })
    ],
    [
      "400 with field errors",
      jsonResponse({ name: ["This field is required."], project: ["Unknown project."] }, 400),
      new ValidationError({
        status_code: 400,
        detail: "name: This field is required.; project: Unknown project.",
        method: "GET",
        url: `${BASE}/models/9/`,
        fieldErrors: { name: ["This field is required."], project: ["Unknown project."] }
      })
    ],
    [
      "422",
      jsonResponse({ detail: "Unprocessable." }, 422),
      new ValidationError({ status_code: 422, detail: "Unprocessable.", method: "GET", url: `${BASE}/models/9/` })
    ],
    [
      "413",
      jsonResponse({ detail: "Too large." }, 413),
      new PayloadTooLargeError({ status_code: 413, detail: "Too large.", method: "GET", url: `${BASE}/models/9/` })
    ],
    [
      "429",
      jsonResponse({ detail: "Throttled." }, 429, { "retry-after": "7" }),
      new RateLimitError({
        status_code: 429,
        detail: "Throttled.",
        method: "GET",
        url: `${BASE}/models/9/`,
        retryAfter: 7
      })
    ],
    [
      "502 with an HTML body from a proxy",
      new Response("<html><head><title>502</title></head><body><h1>Bad Gateway</h1> nginx</body></html>", {
        status: 502,
        headers: { "content-type": "text/html" }
      }),
      new ServerError({ status_code: 502, detail: "502 Bad Gateway nginx", method: "GET", url: `${BASE}/models/9/` })
    ],
    [
      "503 with an empty body",
      new Response("", { status: 503 }),
      new ServerError({
        status_code: 503,
        detail: "the server answered 503 with an empty body",
        method: "GET",
        url: `${BASE}/models/9/`
      })
    ],
    [
      "405",
      jsonResponse({ detail: "Method not allowed." }, 405),
      new UnexpectedStatusError({
        status_code: 405,
        detail: "Method not allowed.",
        method: "GET",
        url: `${BASE}/models/9/`
      })
    ]
  ]
  for (const [name, response, expected] of cases) {
    it.effect(`classifies ${name}`, () =>
      Effect.gen(function*() {
        const fake = fakeHttp(() => response.clone())
        const error = yield* Effect.flip(
          withClient(fake, (client) => client.json(HttpClientRequest.get("models/9/?expand=x"), Item, { retry: false }))
        )
        expect(error).toStrictEqual(expected)
        expect(fake.seen).toHaveLength(1)
      }))
  }

  it.effect("never lets a token into an error, even when the server echoes it", () =>
    Effect.gen(function*() {
      const fake = fakeHttp((_, __, n) =>
        n === 1
          ? jsonResponse({ detail: `Token ${TOKEN} is not valid` }, 401)
          : new Response(`<html>debug: synapse-access-token=${TOKEN}</html>`, { status: 200 })
      )
      const [auth, decode] = yield* withClient(fake, (client) =>
        Effect.all([
          Effect.flip(client.json(HttpClientRequest.get("a/"), Item)),
          Effect.flip(client.json(HttpClientRequest.get("b/"), Item))
        ]))
      expect(auth._tag).toBe("AuthenticationError")
      expect(decode._tag).toBe("DecodeError")
      for (const error of [auth, decode]) {
        const everything = `${String(error)} ${error.message} ${JSON.stringify(error)} ${
          JSON.stringify(Exit.fail(error))
        }`
        expect(everything).not.toContain(TOKEN)
        expect(everything).toContain("[redacted]")
      }
    }))

  it.effect("never lets a token into a log line, even when a retried error echoes it", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const capture = Logger.make(({ annotations, message }) => {
        lines.push(`${String(message)} ${JSON.stringify(HashMap.toEntries(annotations))}`)
      })
      const fake = fakeHttp((_, __, n) => (n === 1
        ? jsonResponse({ detail: `upstream rejected Token ${TOKEN}` }, 503)
        : jsonResponse({ id: 1, name: "a" }))
      )
      const fiber = yield* Effect.fork(
        withClient(fake, (client) => client.json(HttpClientRequest.get("x/"), Item)).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
          Logger.withMinimumLogLevel(LogLevel.Debug)
        )
      )
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(fiber)
      expect(lines.length).toBeGreaterThan(0)
      expect(lines.join("\n")).toContain("[redacted]")
      expect(lines.join("\n")).not.toContain(TOKEN)
    }))

  it("parses Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-11-27T12:00:00Z")
    expect(parseRetryAfter("120", now)).toBe(120)
    expect(parseRetryAfter("Fri, 27 Nov 2026 12:00:30 GMT", now)).toBe(30)
    expect(parseRetryAfter("soon", now)).toBeUndefined()
  })
})

describe("SynapseClient decoding", () => {
  it.effect("an answer that does not match the schema names the field and shows the value", () =>
    Effect.gen(function*() {
      const fake = fakeHttp(() => jsonResponse({ results: [{ id: 1, name: "a" }, { id: "two", name: "b" }] }))
      const error = yield* Effect.flip(
        withClient(
          fake,
          (client) => client.json(HttpClientRequest.get("x/"), Schema.Struct({ results: Schema.Array(Item) }))
        )
      )
      expect(error._tag).toBe("DecodeError")
      const decode = error as DecodeError
      expect(decode.path).toBe("results.1.id")
      expect(decode.excerpt).toBe("\"two\"")
      expect(decode.message).toBe(
        `HTTP 200: the answer does not match the expected schema: Expected number, actual "two" at results.1.id; received: "two" (GET ${BASE}/x/)`
      )
      expect(decode.status_code).toBe(200)
      expect(fake.seen).toHaveLength(1)
    }))

  it.effect("HTML with status 200 is a DecodeError with a readable excerpt, not retried", () =>
    Effect.gen(function*() {
      const fake = fakeHttp(() =>
        new Response("<!doctype html><html><body><p>Please log in</p></body></html>", { status: 200 })
      )
      const error = yield* Effect.flip(withClient(fake, (client) => client.json(HttpClientRequest.get("x/"), Item)))
      expect(error).toMatchObject({ _tag: "DecodeError", status_code: 200, excerpt: "Please log in", truncated: false })
      expect(fake.seen).toHaveLength(1)
    }))

  it.effect("truncated JSON is asked for again on the retry schedule, then succeeds", () =>
    Effect.gen(function*() {
      const fake = fakeHttp((
        _,
        __,
        n
      ) => (n <= 2 ? new Response("{\"id\": 1, \"na", { status: 200 }) : jsonResponse({ id: 1, name: "a" })))
      const fiber = yield* Effect.fork(withClient(fake, (client) => client.json(HttpClientRequest.get("x/"), Item)))
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(fiber)).toStrictEqual({ id: 1, name: "a" })
      expect(fake.seen).toHaveLength(3)
    }))

  it.effect("truncated JSON every time is a DecodeError marked truncated once the retry schedule is spent", () =>
    Effect.gen(function*() {
      const fake = fakeHttp(() => new Response("{\"results\": [{\"id\": 1}, {\"id\"", { status: 200 }))
      const fiber = yield* Effect.fork(
        Effect.flip(withClient(fake, (client) => client.json(HttpClientRequest.get("x/"), Item)))
      )
      yield* TestClock.adjust("10 minutes")
      expect(yield* Fiber.join(fiber)).toMatchObject({ _tag: "DecodeError", truncated: true })
      // The first attempt and the default schedule's six retries.
      expect(fake.seen).toHaveLength(7)
    }))

  it.effect("a POST answered with truncated JSON is not sent again: asking again would repeat its effect", () =>
    Effect.gen(function*() {
      const fake = fakeHttp((
        _,
        __,
        n
      ) => (n === 1 ? new Response("{\"id\": 1, \"na", { status: 201 }) : jsonResponse({ id: 2, name: "b" })))
      const error = yield* Effect.flip(withClient(fake, (client) => client.json(HttpClientRequest.post("x/"), Item)))
      expect(error).toMatchObject({ _tag: "DecodeError", truncated: true, status_code: 201 })
      expect(fake.seen).toHaveLength(1)
      // Unless the caller says the request may be retried.
      const again = yield* withClient(
        fake,
        (client) => client.json(HttpClientRequest.post("x/"), Item, { retry: true })
      )
      expect(again).toStrictEqual({ id: 2, name: "b" })
    }))

  it.effect("an empty 200 body is a DecodeError", () =>
    Effect.gen(function*() {
      const fake = fakeHttp(() => new Response("", { status: 200 }))
      const error = yield* Effect.flip(withClient(fake, (client) => client.json(HttpClientRequest.get("x/"), Item)))
      expect(error).toMatchObject({ _tag: "DecodeError", status_code: 200 })
    }))
})

describe("SynapseClient retries (TestClock)", () => {
  it.effect("waits for Retry-After before retrying a 429", () =>
    Effect.gen(function*() {
      const fake = fakeHttp((_, __, n) => (n === 1
        ? jsonResponse({ detail: "slow down" }, 429, { "retry-after": "5" })
        : jsonResponse({ id: 1, name: "a" }))
      )
      const fiber = yield* Effect.fork(withClient(fake, (client) => client.json(HttpClientRequest.get("x/"), Item)))
      yield* TestClock.adjust("4900 millis")
      expect(fake.seen).toHaveLength(1)
      yield* TestClock.adjust("100 millis")
      const item = yield* Fiber.join(fiber)
      expect(item.id).toBe(1)
      expect(fake.seen).toHaveLength(2)
    }))

  it.effect("does not park for a Retry-After beyond maxRetryAfter: returns the RateLimitError", () =>
    Effect.gen(function*() {
      const fake = fakeHttp(() => jsonResponse({ detail: "come back later" }, 429, { "retry-after": "3600" }))
      const error = yield* Effect.flip(withClient(fake, (client) => client.json(HttpClientRequest.get("x/"), Item)))
      expect(error).toMatchObject({ _tag: "RateLimitError", retryAfter: 3600 })
      expect(fake.seen).toHaveLength(1)
    }))

  it.effect("retries a 503 and a reset connection on GET", () =>
    Effect.gen(function*() {
      const fake = fakeHttp((request, _, n) =>
        n === 1 ? new Response("", { status: 503 }) : n === 2 ? reset(request) : jsonResponse({ id: 3, name: "c" })
      )
      const fiber = yield* Effect.fork(withClient(fake, (client) => client.json(HttpClientRequest.get("x/"), Item)))
      yield* TestClock.adjust("10 seconds")
      const item = yield* Fiber.join(fiber)
      expect(item.id).toBe(3)
      expect(fake.seen).toHaveLength(3)
    }))

  it.effect("retries a PUT (idempotent) but never a POST or a PATCH", () =>
    Effect.gen(function*() {
      const fake = fakeHttp((request) => (request.method === "PUT" && fakeCount.put++ === 0
        ? new Response("", { status: 502 })
        : request.method === "PUT"
        ? jsonResponse({ id: 1, name: "a" })
        : reset(request))
      )
      const fakeCount = { put: 0 }
      const fiber = yield* Effect.fork(withClient(fake, (client) =>
        Effect.all([
          client.json(HttpClientRequest.put("u/"), Item),
          Effect.flip(client.json(HttpClientRequest.post("models/"), Item)),
          Effect.flip(client.json(HttpClientRequest.patch("models/1/"), Item))
        ])))
      yield* TestClock.adjust("10 seconds")
      const [put, post, patch] = yield* Fiber.join(fiber)
      expect(put.id).toBe(1)
      expect(post._tag).toBe("ConnectionError")
      expect(patch._tag).toBe("ConnectionError")
      expect(fake.seen.map((s) => s.method)).toStrictEqual(["PUT", "PUT", "POST", "PATCH"])
    }))

  it.effect("gives up after the schedule's retries with the last error, status kept", () =>
    Effect.gen(function*() {
      const fake = fakeHttp(() => jsonResponse({ detail: "down" }, 504))
      const fiber = yield* Effect.fork(
        Effect.flip(withClient(fake, (client) => client.json(HttpClientRequest.get("x/"), Item)))
      )
      yield* TestClock.adjust("5 minutes")
      const error = yield* Fiber.join(fiber)
      expect(error).toStrictEqual(
        new ServerError({ status_code: 504, detail: "down", method: "GET", url: `${BASE}/x/` })
      )
      expect(fake.seen).toHaveLength(7)
    }))

  it.effect("a caller-supplied schedule replaces the default", () =>
    Effect.gen(function*() {
      const fake = fakeHttp(() => new Response("", { status: 500 }))
      const error = yield* Effect.flip(
        withClient(fake, (client) => client.json(HttpClientRequest.get("x/"), Item), { retry: Schedule.recurs(1) })
      )
      expect(error).toMatchObject({ _tag: "ServerError", status_code: 500 })
      expect(fake.seen).toHaveLength(2)
    }))
})

describe("SynapseClient timeouts (TestClock)", () => {
  it.effect("a GET that never answers times out after connect + read, then is retried", () =>
    Effect.gen(function*() {
      const fake = fakeHttp((_, __, n) => (n === 1 ? Effect.never : jsonResponse({ id: 1, name: "a" })))
      const fiber = yield* Effect.fork(withClient(fake, (client) => client.json(HttpClientRequest.get("x/"), Item)))
      yield* TestClock.adjust("19 seconds")
      expect(fake.seen).toHaveLength(1)
      yield* TestClock.adjust("10 seconds")
      const item = yield* Fiber.join(fiber)
      expect(item.id).toBe(1)
      expect(fake.seen).toHaveLength(2)
    }))

  it.effect("a POST that never answers fails with TimeoutError after the per-call timeout, once", () =>
    Effect.gen(function*() {
      const fake = fakeHttp(() => Effect.never)
      const fiber = yield* Effect.fork(
        Effect.flip(
          withClient(fake, (client) => client.json(HttpClientRequest.post("models/"), Item, { timeout: "3 seconds" }))
        )
      )
      yield* TestClock.adjust("3 seconds")
      const error = yield* Fiber.join(fiber)
      expect(error).toStrictEqual(
        new TimeoutError({
          detail: "no complete answer within 3s",
          method: "POST",
          url: `${BASE}/models/`,
          timeoutMs: 3000
        })
      )
      expect(fake.seen).toHaveLength(1)
    }))
})

describe("SynapseClient configuration", () => {
  const fromEnv = (env: Record<string, string>) => {
    const fake = fakeHttp(() => jsonResponse({ id: 1, name: "a" }))
    const program = Effect.flatMap(
      SynapseClient.SynapseClient,
      (client) => Effect.as(client.json(HttpClientRequest.get("models/1/"), Item), client)
    ).pipe(
      Effect.provide(SynapseClient.layerConfig().pipe(Layer.provide(fake.layer))),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
    )
    return { fake, program }
  }

  it.effect("reads the environment: base URL, tokens, timeouts", () =>
    Effect.gen(function*() {
      const { fake, program } = fromEnv({
        SYNAPSE_BASE_URL: "http://127.0.0.1:9/api/v1/",
        SYNAPSE_ACCESS_TOKEN: "env-token",
        SYNAPSE_TENANT: "tenant-1",
        SYNAPSE_TIMEOUT_READ: "2.5",
        SYNAPSE_TIMEOUT_LISTING: "90 seconds"
      })
      const client = yield* program
      expect(client.baseUrl).toBe("http://127.0.0.1:9/api/v1")
      expect(Duration.toMillis(client.timeouts.read)).toBe(2500)
      expect(Duration.toMillis(client.timeouts.listing)).toBe(90_000)
      expect(Duration.toMillis(client.timeouts.connect)).toBe(5000)
      expect(fake.seen[0]!.url).toBe("http://127.0.0.1:9/api/v1/models/1/")
      expect(fake.seen[0]!.headers["synapse-access-token"]).toBe("Token env-token")
      expect(fake.seen[0]!.headers["synapse-tenant"]).toBe("Token tenant-1")
      expect(fake.seen[0]!.headers["authorization"]).toBeUndefined()
    }))

  for (
    const [name, value] of [["not a URL", "api.synapse.sh"], ["a non-http scheme", "ftp://x/"], [
      "a query",
      "https://x/?a=1"
    ]] as const
  ) {
    it.effect(`a bad SYNAPSE_BASE_URL (${name}) fails at layer construction, naming the variable`, () =>
      Effect.gen(function*() {
        const { fake, program } = fromEnv({ SYNAPSE_BASE_URL: value })
        const error = yield* Effect.flip(program)
        expect(String(error)).toContain("SYNAPSE_BASE_URL")
        expect(fake.seen).toHaveLength(0)
      }))
  }

  it.effect("a missing SYNAPSE_BASE_URL is reported by name", () =>
    Effect.gen(function*() {
      const { program } = fromEnv({})
      expect(String(yield* Effect.flip(program))).toContain("SYNAPSE_BASE_URL")
    }))

  it.effect("a bad timeout variable is reported by name", () =>
    Effect.gen(function*() {
      const { program } = fromEnv({ SYNAPSE_BASE_URL: "https://x", SYNAPSE_TIMEOUT_READ: "fast" })
      expect(String(yield* Effect.flip(program))).toContain("SYNAPSE_TIMEOUT_READ")
    }))
})

describe("decoder (compiled guard for bulk rows)", () => {
  const valid = {
    id: 9001,
    ground_truth_dataset_version: 123,
    category: "train",
    created_at: "2026-11-01T10:00:00Z",
    data: {
      type: "image",
      annotations: [{
        id: 1,
        category_id: 3,
        category: "car",
        bbox: [10, 20, 100, 50],
        area: 5000,
        iscrowd: 0,
        segmentation: [[1, 2]]
      }]
    },
    data_unit: {
      id: 77,
      files: { image: { name: "a.png", url: "http://h/a.png", width: 640, height: 480, size: 12, checksum: "x" } }
    },
    files: { image_1: { url: "http://h/a.png", file_type: "image", is_primary: true } },
    metadata: { annotator: "z" },
    unknown_extra: { kept: true }
  }
  const mutations: Array<[string, (e: any) => void]> = [
    ["id as a string", (e) => (e.id = "9001")],
    ["id not an integer", (e) => (e.id = 1.5)],
    ["id zero", (e) => (e.id = 0)],
    ["missing ground_truth_dataset_version", (e) => delete e.ground_truth_dataset_version],
    ["null ground_truth_dataset_version (allowed)", (e) => (e.ground_truth_dataset_version = null)],
    ["bbox with a string", (e) => (e.data.annotations[0].bbox = [1, "2", 3, 4])],
    ["annotations not a list", (e) => (e.data.annotations = {})],
    ["annotation id as a string (allowed)", (e) => (e.data.annotations[0].id = "a1")],
    ["data_unit without id", (e) => delete e.data_unit.id],
    ["a file entry with numeric url", (e) => (e.files.image_1.url = 5)],
    ["files as a list", (e) => (e.files = [])],
    ["metadata null (allowed)", (e) => (e.metadata = null)],
    ["created_at missing (allowed)", (e) => delete e.created_at],
    ["explicit undefined on an optional field (allowed)", (e) => (e.category = undefined)],
    ["the whole row null", (e) => Object.keys(e).forEach((k) => delete e[k])]
  ]
  const decode = SynapseClient.decoder(GroundTruthEvent)
  const is = Schema.is(GroundTruthEvent)
  it("accepts a valid row as is, unknown fields kept, without copying", () => {
    const row = structuredClone(valid)
    const result = decode(row)
    expect(result._tag).toBe("Right")
    expect(result._tag === "Right" && result.right).toBe(row)
  })
  for (const [name, mutate] of mutations) {
    it(`agrees with Schema.is: ${name}`, () => {
      const row = structuredClone(valid) as any
      mutate(row)
      expect(decode(row)._tag === "Right").toBe(is(row))
    })
  }
})

describe("SynapseClient call deadline (TestClock)", () => {
  it.effect("a GET that never answers ends at the deadline, the last attempt cut to it", () =>
    Effect.gen(function*() {
      const fake = fakeHttp(() => Effect.never)
      const fiber = yield* Effect.fork(
        Effect.flip(
          withClient(fake, (client) => client.json(HttpClientRequest.get("x/"), Item), { deadline: "50 seconds" })
        )
      )
      // The clock moves only once the first attempt is on the wire (its timeout is running): a
      // loaded machine may start the forked call after this fiber would have moved the clock.
      yield* sentAtLeast(fake, 1)
      yield* TestClock.adjust("49 seconds")
      expect(fiber.unsafePoll()).toBeNull()
      // attempts of 20 s each at 0 s and after the first waits; the third is cut to the deadline
      expect(fake.seen).toHaveLength(3)
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toStrictEqual(
        new TimeoutError({
          detail: "no complete answer within the call's deadline of 50 s (3 attempts)",
          method: "GET",
          url: `${BASE}/x/`,
          timeoutMs: 50_000
        })
      )
    }))

  it.effect("a per-call deadline wins over the client's; a longer per-call timeout extends the default", () =>
    Effect.gen(function*() {
      const fake = fakeHttp(() => Effect.never)
      const short = yield* Effect.fork(Effect.flip(withClient(
        fake,
        (client) => client.json(HttpClientRequest.get("x/"), Item, { deadline: "3 seconds" })
      )))
      const long = yield* Effect.fork(Effect.flip(withClient(
        fake,
        (client) => client.json(HttpClientRequest.post("x/"), Item, { timeout: "200 seconds" })
      )))
      yield* sentAtLeast(fake, 2)
      yield* TestClock.adjust("3 seconds")
      expect(yield* Fiber.join(short)).toMatchObject({ _tag: "TimeoutError", timeoutMs: 3000 })
      yield* TestClock.adjust("196 seconds")
      expect(long.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(long)).toMatchObject({ detail: "no complete answer within 3m 20s" })
    }))

  it.effect("a retried failure that cannot connect says how many attempts it made in how long", () =>
    Effect.gen(function*() {
      const fake = fakeHttp((request) => reset(request))
      const fiber = yield* Effect.fork(
        Effect.flip(withClient(fake, (client) => client.json(HttpClientRequest.get("x/"), Item)))
      )
      yield* TestClock.adjust("5 minutes")
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("ConnectionError")
      expect(error._tag === "ConnectionError" && error.detail).toMatch(
        /^the connection was reset \(ECONNRESET\); gave up after 7 attempts in \d+(\.\d)? s$/
      )
    }))

  it.effect("client.retry starts no retry past its deadline; a bad deadline is a ValidationError", () =>
    Effect.gen(function*() {
      const fake = fakeHttp(() => jsonResponse({ id: 1, name: "a" }))
      let attempts = 0
      const failing = Effect.suspend(() => {
        attempts++
        return Effect.fail(new ServerError({ status_code: 503, detail: "busy" }))
      })
      const fiber = yield* Effect.fork(
        Effect.flip(withClient(fake, (client) => client.retry(failing, { deadline: "1 second" })))
      )
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(fiber)).toStrictEqual(new ServerError({ status_code: 503, detail: "busy" }))
      // waits of about 250 ms and 500 ms fit in 1 s, the next (about 1 s) does not
      expect(attempts).toBeGreaterThanOrEqual(2)
      expect(attempts).toBeLessThanOrEqual(3)
      const bad = yield* withClient(fake, (client) => Effect.flip(client.retry(failing, { deadline: "soon" as never })))
      expect(bad).toMatchObject({ _tag: "ValidationError", field: "deadline" })
    }))

  it.effect("the client's deadline is 120 s by default", () =>
    Effect.gen(function*() {
      const fake = fakeHttp(() => jsonResponse({ id: 1, name: "a" }))
      const deadline = yield* withClient(fake, (client) => Effect.succeed(client.deadline))
      expect(Duration.toMillis(deadline)).toBe(120_000)
    }))
})

describe("SynapseClient per-call options", () => {
  for (
    const [name, options, field] of [
      ["timeout: \"soon\"", { timeout: "soon" }, "timeout"],
      ["timeout: -1", { timeout: -1 }, "timeout"],
      ["deadline: \"never\"", { deadline: "never" }, "deadline"]
    ] as const
  ) {
    it.effect(`${name} is a ValidationError naming the option, before any request`, () =>
      Effect.gen(function*() {
        const fake = fakeHttp(() => jsonResponse({ id: 1, name: "a" }))
        const opts = options as SynapseClient.RequestOptions
        const errors = yield* withClient(fake, (client) =>
          Effect.all([
            Effect.flip(client.json(HttpClientRequest.get("x/"), Item, opts)),
            Effect.flip(client.execute(HttpClientRequest.get("x/"), opts)),
            Effect.flip(client.jsonLater(HttpClientRequest.get("x/"), SynapseClient.decoder(Item), opts))
          ]))
        for (const error of errors) {
          expect(error).toMatchObject({ _tag: "ValidationError", field })
          expect(error.detail).toContain(`${field} must be a positive duration`)
        }
        expect(fake.seen).toHaveLength(0)
      }))
  }
})

describe("SynapseClient: a body cut short is a transient failure", () => {
  it.effect("cut-short bodies and 503s share one retry budget (the schedule's six retries)", () =>
    Effect.gen(function*() {
      const fake = fakeHttp((_, __, n) =>
        n % 2 === 1 ? new Response("{\"id\": 1, \"na", { status: 200 }) : new Response("", { status: 503 })
      )
      const fiber = yield* Effect.fork(
        Effect.flip(withClient(fake, (client) => client.json(HttpClientRequest.get("x/"), Item)))
      )
      yield* TestClock.adjust("10 minutes")
      expect(yield* Fiber.join(fiber)).toMatchObject({ _tag: "DecodeError", truncated: true })
      expect(fake.seen).toHaveLength(7)
    }))

  it.effect("jsonLater asks again for a page cut short, within the same call", () =>
    Effect.gen(function*() {
      const fake = fakeHttp((_, __, n) =>
        n <= 2 ? new Response("{\"id\": 1, \"na", { status: 200 }) : jsonResponse({ id: 1, name: "a" })
      )
      const fiber = yield* Effect.fork(withClient(fake, (client) =>
        Effect.flatten(client.jsonLater(HttpClientRequest.get("x/"), SynapseClient.decoder(Item)))))
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(fiber)).toStrictEqual({ id: 1, name: "a" })
      expect(fake.seen).toHaveLength(3)
    }))
})
