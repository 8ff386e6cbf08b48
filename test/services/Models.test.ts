/**
 * `Models` against a real sandbox: every filter reaches the server as docs/wire-protocol.md "Endpoints" says (checked on the
 * sent URL) and the server's answer matches the same filter run on its database.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Chunk, Effect, Stream } from "effect"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import type { ListParams } from "../../src/services/Models.js"
import { Models } from "../../src/services/Models.js"
import { SynapseClient } from "../../src/services/SynapseClient.js"
import { UnexpectedStatusError, ValidationError } from "../../src/services/SynapseError.js"
import { isRich } from "../support/profile.js"
import { useSandbox } from "../support/sandbox.js"
import { queryOf, sandboxSdk } from "./SandboxSdk.js"

const sandbox = useSandbox()

interface Row {
  id: number
  name: string
  description: string | null
  model_type: string
  project: number
  is_active: number
  created_at: string
}

const rows = (): Array<Row> => {
  const db = sandbox().openDb()
  try {
    return db.prepare(
      "SELECT id, name, description, model_type, project, is_active, created_at FROM models ORDER BY id"
    ).all() as Array<Row>
  } finally {
    db.close()
  }
}

const run = <A, E>(sdk: ReturnType<typeof sandboxSdk>, f: (models: typeof Models.Service) => Effect.Effect<A, E>) =>
  Effect.runPromise(Effect.flatMap(Models, f).pipe(Effect.provide(sdk.layer)))

const streamIds = (sdk: ReturnType<typeof sandboxSdk>, params: ListParams) =>
  run(sdk, (models) => Stream.runCollect(models.stream({ page_size: 4, ...params }))).then((c) =>
    Chunk.toReadonlyArray(c).map((m) => m.id)
  )

describe("Models.list / stream against the sandbox", () => {
  it("lists one page with the total count", async () => {
    const sdk = sandboxSdk(sandbox())
    const all = rows()
    const page = await run(sdk, (m) => m.list({ page_size: 5 }))
    expect(page.count).toBe(all.length)
    expect(page.results.map((m) => m.id)).toStrictEqual(all.slice(0, 5).map((r) => r.id))
    expect(sdk.sent).toStrictEqual([`${sandbox().url}/models/?page_size=5`])
  })

  it("streams every model across pages, each once, in order", async () => {
    const sdk = sandboxSdk(sandbox())
    expect(await streamIds(sdk, {})).toStrictEqual(rows().map((r) => r.id))
    expect(sdk.sent.length).toBe(Math.ceil(rows().length / 4))
  })

  const all = () => rows()
  const cases: Array<[string, ListParams, Array<[string, string]>, (r: Row) => boolean]> = [
    ["project", { project: 2 }, [["project", "2"]], (r) => r.project === 2],
    [
      "model_type",
      { model_type: "segmentation" },
      [["model_type", "segmentation"]],
      (r) => r.model_type === "segmentation"
    ],
    ["is_active=false", { is_active: false }, [["is_active", "false"]], (r) => r.is_active === 0],
    ["is_active=true", { is_active: true }, [["is_active", "true"]], (r) => r.is_active === 1],
    [
      "search (name and description, case-insensitive)",
      { search: "DETECT" },
      [["search", "DETECT"]],
      (r) => r.name.toLowerCase().includes("detect") || (r.description ?? "").toLowerCase().includes("detect")
    ]
  ]
  for (const [name, params, query, predicate] of cases) {
    it(`filter ${name} reaches the server and selects exactly the matching models`, async () => {
      const sdk = sandboxSdk(sandbox())
      const expected = all().filter(predicate).map((r) => r.id)
      expect(expected.length).toBeGreaterThan(0)
      expect(expected.length).toBeLessThan(all().length)
      expect(await streamIds(sdk, params)).toStrictEqual(expected)
      expect(queryOf(sdk.sent[0]!)).toStrictEqual([...query, ["page_size", "4"]])
    })
  }

  it("filter created_after (ISO 8601) selects models created at or after it", async () => {
    const sorted = all().map((r) => r.created_at).sort()
    const pivot = sorted[Math.floor(sorted.length / 2)]!
    const sdk = sandboxSdk(sandbox())
    const ids = await streamIds(sdk, { created_after: pivot })
    expect(ids).toStrictEqual(all().filter((r) => r.created_at >= pivot).map((r) => r.id))
    expect(queryOf(sdk.sent[0]!)[0]).toStrictEqual(["created_after", pivot])
  })

  it("filter name is an exact match", async () => {
    const name = all()[0]!.name
    const sdk = sandboxSdk(sandbox())
    expect(await streamIds(sdk, { name })).toStrictEqual(all().filter((r) => r.name === name).map((r) => r.id))
    expect(queryOf(sdk.sent[0]!)[0]).toStrictEqual(["name", name])
  })

  it("ordering -created_at orders newest first", async () => {
    const sdk = sandboxSdk(sandbox())
    const models = await run(sdk, (m) => Stream.runCollect(m.stream({ ordering: "-created_at", page_size: 50 }))).then(
      Chunk.toReadonlyArray
    )
    const stamps = models.map((m) => m.created_at)
    expect(stamps).toStrictEqual([...stamps].sort().reverse())
    expect(queryOf(sdk.sent[0]!)).toStrictEqual([["ordering", "-created_at"], ["page_size", "50"]])
  })

  it("page and page_size select a page by number", async () => {
    const sdk = sandboxSdk(sandbox())
    const page = await run(sdk, (m) => m.list({ page: 2, page_size: 5 }))
    expect(page.results.map((m) => m.id)).toStrictEqual(all().slice(5, 10).map((r) => r.id))
  })

  it("unknown extra params are passed through", async () => {
    const sdk = sandboxSdk(sandbox())
    await run(sdk, (m) => m.list({ project: 1, extra: { tag: ["a", "b"], flag: true } }))
    expect(queryOf(sdk.sent[0]!)).toStrictEqual([["project", "1"], ["tag", "a"], ["tag", "b"], ["flag", "true"]])
  })

  it("the prefetch mode yields the same models in the same order", async () => {
    const sdk = sandboxSdk(sandbox())
    const ids = await run(sdk, (m) => Stream.runCollect(m.stream({ page_size: 3 }, { prefetch: 4 }))).then((c) =>
      Chunk.toReadonlyArray(c).map((m) => m.id)
    )
    expect(ids).toStrictEqual(all().map((r) => r.id))
  })
})

describe("Models.get against the sandbox", () => {
  const withFile = () => {
    const db = sandbox().openDb()
    try {
      return db.prepare(
        "SELECT id, file_name, file_size, file_checksum FROM models WHERE file_media IS NOT NULL ORDER BY id LIMIT 1"
      ).get() as {
        id: number
        file_name: string
        file_size: number
        file_checksum: string
      }
    } finally {
      db.close()
    }
  }

  it("expands evaluations and versions and includes file info", async () => {
    const row = withFile()
    const sdk = sandboxSdk(sandbox())
    const model = await run(
      sdk,
      (m) => m.get(row.id, { params: { expand: ["evaluations", "versions"], include_file: true } })
    )
    expect(model.id).toBe(row.id)
    if (isRich()) {
      expect(model.file_info).toStrictEqual({ name: row.file_name, size: row.file_size, checksum: row.file_checksum })
      expect(Array.isArray(model.evaluations)).toBe(true)
      expect(model.versions?.some((v) => v.id === row.id)).toBe(true)
    } else {
      // `expand` and `include_file` are not evidenced: a backend ignoring them answers the plain record.
      expect([model.file_info, model.evaluations, model.versions]).toStrictEqual([undefined, undefined, undefined])
    }
    expect(queryOf(sdk.sent[0]!)).toStrictEqual([["expand", "evaluations"], ["expand", "versions"], [
      "include_file",
      "true"
    ]])
  })

  it("url conversion downloads the model file into the cache, once", async () => {
    const row = withFile()
    const sdk = sandboxSdk(sandbox())
    const first = await run(sdk, (m) => m.get(row.id, { urlConversion: { filesFields: ["file"] } }))
    const local = first.file!
    expect(Path.dirname(local)).toBe(Fs.realpathSync(sdk.cacheDir))
    const bytes = Fs.readFileSync(local)
    expect(bytes.length).toBe(row.file_size)
    expect(createHash("md5").update(bytes).digest("hex")).toBe(row.file_checksum)
    const downloads = () => sdk.sent.filter((u) => u.includes("/media/")).length
    expect(downloads()).toBe(1)
    const second = await run(sdk, (m) => m.get(row.id, { urlConversion: { filesFields: ["file"] } }))
    expect(second.file).toBe(local)
    expect(downloads()).toBe(1)
  })

  it("the seed's lambda form rewrites the URL without downloading", async () => {
    const row = withFile()
    const sdk = sandboxSdk(sandbox())
    const model = await run(
      sdk,
      (m) =>
        m.get(row.id, {
          urlConversion: { filesFields: ["file"], convert: (url) => `https://cdn.example.com${new URL(url).pathname}` }
        })
    )
    expect(model.file).toMatch(/^https:\/\/cdn\.example\.com\/media\//)
    expect(sdk.sent.filter((u) => u.includes("/media/"))).toHaveLength(0)
  })

  it("a missing model is a NotFoundError with status 404", async () => {
    const sdk = sandboxSdk(sandbox())
    const error = await run(sdk, (m) => Effect.flip(m.get(987654)))
    expect(error).toMatchObject({ _tag: "NotFoundError", status_code: 404 })
  })

  it("a wrong token is an AuthenticationError that does not contain the token", async () => {
    const sdk = sandboxSdk({ ...sandbox(), token: "wrong-token-value" })
    const error = await run(sdk, (m) => Effect.flip(m.list()))
    expect(error).toMatchObject({ _tag: "AuthenticationError", status_code: 401 })
    expect(JSON.stringify(error) + String(error)).not.toContain("wrong-token-value")
  })
})

const MODEL_FILTERS = [
  "project",
  "model_type",
  "is_active",
  "created_after",
  "search",
  "name",
  "ordering",
  "page",
  "page_size",
  "limit",
  "offset"
]

describe("Models rejects bad input before any request", () => {
  const cases: Array<
    [string, (m: typeof Models.Service) => Effect.Effect<unknown, unknown>, string, ReadonlyArray<string> | undefined]
  > = [
    ["a negative id", (m) => m.get(-3), "id", undefined],
    ["a non-integer id", (m) => m.get(1.5), "id", undefined],
    ["an unknown model_type", (m) => m.list({ model_type: "regression" as never }), "model_type", [
      "classification",
      "detection",
      "segmentation"
    ]],
    ["page_size 0", (m) => m.list({ page_size: 0 }), "page_size", undefined],
    ["page_size 1001", (m) => m.list({ page_size: 1001 }), "page_size", undefined],
    ["a malformed created_after", (m) => m.list({ created_after: "last tuesday" }), "created_after", undefined],
    ["an impossible created_after", (m) => m.list({ created_after: "2026-13-45" }), "created_after", undefined],
    ["an unknown expansion", (m) => m.get(1, { params: { expand: ["owner" as never] } }), "params.expand", [
      "metrics",
      "evaluations",
      "versions"
    ]],
    [
      "a files_fields path that is not a dotted name",
      (m) => m.get(1, { urlConversion: { filesFields: ["../etc/passwd"] } }),
      "urlConversion.filesFields",
      undefined
    ],
    ["a misspelt filter", (m) => m.list({ projekt: 1 } as ListParams), "projekt", MODEL_FILTERS],
    [
      "a misspelt filter of a stream",
      (m) => Stream.runDrain(m.stream({ is_activ: true } as ListParams)),
      "is_activ",
      MODEL_FILTERS
    ],
    ["a misspelt get parameter", (m) => m.get(1, { params: { expnd: "metrics" } as never }), "params.expnd", [
      "expand",
      "include_file"
    ]],
    ["an extra that is not a record", (m) => m.list({ extra: "projekt=1" as never }), "extra", undefined],
    ["an unknown ordering", (m) => m.list({ ordering: "size" as never }), "ordering", [
      "created_at",
      "-created_at",
      "name",
      "-name",
      "id",
      "-id"
    ]]
  ]
  for (const [name, call, field, allowed] of cases) {
    it(`${name}: ValidationError naming ${field}`, async () => {
      const sdk = sandboxSdk(sandbox())
      const error = await run(sdk, (m) => Effect.flip(call(m)))
      expect(error).toMatchObject({ _tag: "ValidationError", field })
      if (allowed !== undefined) expect((error as { allowed: unknown }).allowed).toStrictEqual(allowed)
      expect((error as { status_code?: number }).status_code).toBeUndefined()
      expect(sdk.sent).toStrictEqual([])
    })
  }
})

describe("Models reports every bad parameter at once", () => {
  it("two bad fields: both in fieldErrors and in detail, the first in field/allowed, nothing sent", async () => {
    const sdk = sandboxSdk(sandbox())
    const error = await run(sdk, (m) => Effect.flip(m.list({ model_type: "nope" as never, page_size: 5000 })))
    const types = "classification, detection, segmentation"
    expect(error).toStrictEqual(
      new ValidationError({
        detail: `model_type must be one of ${types} (got "nope"); page_size: must be an integer between 1 and 1000`,
        field: "model_type",
        allowed: ["classification", "detection", "segmentation"],
        fieldErrors: {
          model_type: [`must be one of ${types} (got "nope")`],
          page_size: ["must be an integer between 1 and 1000"]
        }
      })
    )
    expect(sdk.sent).toStrictEqual([])
  })

  it("one bad field reads as before; a list parameter with several bad elements is one problem", async () => {
    const sdk = sandboxSdk(sandbox())
    const one = await run(sdk, (m) => Effect.flip(m.list({ page_size: 0 })))
    expect(one).toMatchObject({ detail: "page_size: must be an integer between 1 and 1000", field: "page_size" })
    expect((one as ValidationError).fieldErrors).toStrictEqual({ page_size: ["must be an integer between 1 and 1000"] })
    const expand = await run(
      sdk,
      (m) => Effect.flip(m.get(1, { params: { expand: ["owner", "x"] as never, include_file: "yes" as never } }))
    )
    expect(Object.keys((expand as ValidationError).fieldErrors ?? {})).toStrictEqual([
      "params.expand",
      "params.include_file"
    ])
    expect(sdk.sent).toStrictEqual([])
  })
})

describe("SynapseClient against the sandbox", () => {
  it("maps a 405 (a method the path does not serve) to UnexpectedStatusError with the server's detail", async () => {
    const sdk = sandboxSdk(sandbox())
    const id = rows()[0]!.id
    const error = await Effect.runPromise(
      Effect.flatMap(SynapseClient, (client) => client.execute(HttpClientRequest.del(`models/${id}/`))).pipe(
        Effect.flip,
        Effect.provide(sdk.layer)
      )
    )
    expect(error).toStrictEqual(
      new UnexpectedStatusError({
        status_code: 405,
        detail: "Method \"DELETE\" not allowed.",
        method: "DELETE",
        url: `${sandbox().url}/models/${id}/`
      })
    )
    // Not retried: a wrong method stays wrong.
    expect(sdk.sent).toStrictEqual([`${sandbox().url}/models/${id}/`])
  })
})

describe("Models filters the SDK does not know", () => {
  it("a misspelt filter names itself and the known ones, instead of listing everything", async () => {
    const sdk = sandboxSdk(sandbox())
    const error = await run(sdk, (m) => Effect.flip(m.list({ projekt: 1 } as ListParams)))
    const known = `${MODEL_FILTERS.join(", ")} (pass other query parameters through \`extra\`)`
    expect(error).toStrictEqual(
      new ValidationError({
        detail: `unknown parameter "projekt"; the parameters are ${known}`,
        field: "projekt",
        allowed: MODEL_FILTERS,
        fieldErrors: { projekt: [`is not a known parameter; the parameters are ${known}`] }
      })
    )
    expect(sdk.sent).toStrictEqual([])
  })

  it("passed through extra, it reaches the server as given", async () => {
    const sdk = sandboxSdk(sandbox())
    await run(sdk, (m) => m.list({ page_size: 2, extra: { projekt: 1 } }))
    expect(queryOf(sdk.sent[0]!)).toStrictEqual([["page_size", "2"], ["projekt", "1"]])
  })
})

describe("Models with answers cut short", () => {
  // A 200 whose body ends early is a transient failure of a safe request: asked for again on the
  // retry schedule, for every read (one page, a stream, one model), never returned as an error.
  const truncating = useSandbox({ faults: "truncate=0.3,paths=models", randSeed: 5 })

  it("list, stream and get under 30% truncated bodies: every answer whole, the faults really injected", async () => {
    const sdk = sandboxSdk(truncating(), { fastRetry: true })
    const stats = () =>
      fetch(`${truncating().origin}/_sandbox/stats`, { headers: truncating().headers }).then((r) =>
        r.json()
      ) as Promise<
        { faults_injected: Record<string, number> }
      >
    const before = (await stats()).faults_injected.truncate ?? 0
    const expected = truncating().query<{ id: number }>("SELECT id FROM models ORDER BY id").map((r) => r.id)
    for (let round = 0; round < 5; round++) {
      const page = await run(sdk, (m) => m.list({ page_size: 5 }))
      expect(page.results.map((m) => m.id)).toStrictEqual(expected.slice(0, 5))
      const streamed = await run(sdk, (m) => Stream.runCollect(m.stream({ page_size: 3 }, { prefetch: 4 })))
      expect(Chunk.toReadonlyArray(streamed).map((m) => m.id)).toStrictEqual(expected)
      const one = await run(sdk, (m) => m.get(expected[round]!))
      expect(one.id).toBe(expected[round])
    }
    expect(((await stats()).faults_injected.truncate ?? 0) - before).toBeGreaterThan(5)
  })
})
