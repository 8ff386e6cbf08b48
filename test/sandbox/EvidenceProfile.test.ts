/**
 * The sandbox's evidence profile over real HTTP (docs/wire-protocol.md "Profiles"): every resource
 * with exactly the evidenced fields, events in the native annotation form (checked against the
 * stored rows by a conversion written here, independently of the sandbox's), `fields=` partial
 * records, DRF leniency, Django's 301 for a missing slash, `WWW-Authenticate` on 401, and the
 * profile in health and stats. The converter itself is checked on inputs the seeds never write,
 * and the MCP server's embedded sandbox on the profile it is given.
 */
import { describe, expect, it } from "@effect/vitest"
import type Database from "better-sqlite3"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll } from "vitest"
import * as Backend from "../../src/mcp/Backend.js"
import * as Main from "../../src/mcp/Main.js"
import { nativeData, toNativeAnnotations } from "../../src/sandbox/Evidence.js"
import * as Sandbox from "../../src/sandbox/Sandbox.js"
import { toDataMeta } from "../../src/sandbox/seed/Scenes.js"
import { allRows, call, jsonInit } from "../support/http.js"
import { startTestSandbox, type TestSandbox, useSandbox } from "../support/sandbox.js"

const sandbox = useSandbox({ seed: "demo", profile: "evidence" })
let db: Database.Database
beforeAll(() => {
  db = sandbox().openDb()
})
afterAll(() => db?.close())

const get = (path: string, headers?: Record<string, string>) =>
  call(`${sandbox().url}/${path}`, { headers: headers ?? sandbox().headers })
const one = <T>(sql: string, ...params: Array<unknown>): T => db.prepare(sql).get(...params) as T
const count = (sql: string, ...params: Array<unknown>): number => one<{ n: number }>(sql, ...params).n

/** Every row of a listing, following `next`. */
const all = (path: string): Promise<Array<any>> => allRows(`${sandbox().url}/${path}`, sandbox().headers)

const MODEL_KEYS = [
  "id",
  "name",
  "category",
  "file",
  "plugin",
  "version",
  "configuration",
  "description",
  "is_released"
]
const SIGNED = /^http:\/\/127\.0\.0\.1:\d+\/media\/.+\?expires=\d+&signature=[0-9a-f]{64}$/

/** The native form of a stored `data` text, written here from the contract, not from the sandbox. */
const expectedNative = (dataText: string) => {
  const data = JSON.parse(dataText) as { annotations: Array<any>; label?: string }
  const identities: Array<unknown> = []
  const geometry: Array<unknown> = []
  for (const a of data.annotations) {
    if (Array.isArray(a.segmentation)) {
      identities.push({ id: `a${a.id}`, tool: "polygon", classification: { class: a.category } })
      const ring = a.segmentation[0] as Array<number>
      geometry.push({
        id: `a${a.id}`,
        coordinate: ring.flatMap((v, i) => (i % 2 === 0 ? [{ x: v, y: ring[i + 1] }] : []))
      })
    } else {
      identities.push({ id: `a${a.id}`, tool: "bounding_box", classification: { class: a.category } })
      const [x, y, width, height] = a.bbox
      geometry.push({ id: `a${a.id}`, coordinate: { x, y, width, height } })
    }
  }
  if (data.label !== undefined) {
    identities.push({ id: "label", tool: "classification", classification: { class: data.label } })
    geometry.push({ id: "label" })
  }
  return { annotations: { image: identities }, annotationsData: { image: geometry } }
}

describe("models", () => {
  it("lists and details models with only the evidenced fields, is_released from the active flag", async () => {
    const page = await get("models/?page_size=1000")
    expect(page.status).toBe(200)
    expect(page.body.count).toBe(count("SELECT COUNT(*) AS n FROM models"))
    for (const m of page.body.results) {
      expect(Object.keys(m)).toStrictEqual(MODEL_KEYS)
      const row = one<any>(
        "SELECT name, category, plugin, version, configuration, description, is_active, file_media FROM models WHERE id = ?",
        m.id
      )
      expect(m).toStrictEqual({
        id: m.id,
        name: row.name,
        category: row.category,
        file: row.file_media === null ? null : expect.stringMatching(SIGNED),
        plugin: row.plugin,
        version: row.version,
        configuration: JSON.parse(row.configuration),
        description: row.description,
        is_released: row.is_active === 1
      })
    }
    const released = page.body.results.find((m: any) => m.is_released === true)
    expect(released).toBeDefined()
    // The file URL is presigned: fetched with no auth header at all.
    const withFile = page.body.results.find((m: any) => m.file !== null)
    expect((await call(withFile.file)).status).toBe(200)
    // The detail is the same record, whatever expansions are asked for.
    for (const query of ["", "?expand=evaluations,versions,metrics", "?expand=bogus&include_file=true"]) {
      const detail = await get(`models/${released.id}/${query}`)
      expect(detail.status, query).toBe(200)
      expect(detail.body, query).toStrictEqual(released)
    }
    expect((await get("models/999999/")).status).toBe(404)
  })

  it("still applies the filters a real backend may apply, and is DRF-lenient about the rest", async () => {
    const ids = async (query: string) =>
      (await get(`models/?${query}&page_size=1000`)).body.results.map((m: any) => m.id)
    const sqlIds = (where: string) =>
      (db.prepare(`SELECT id FROM models WHERE ${where} ORDER BY id`).all() as Array<{ id: number }>).map((r) => r.id)
    expect(await ids("project=2")).toStrictEqual(sqlIds("project = 2"))
    expect(await ids("model_type=detection")).toStrictEqual(sqlIds("model_type = 'detection'"))
    expect(await ids("is_active=True")).toStrictEqual(sqlIds("is_active = 1"))
    expect(await ids("is_active=maybe")).toStrictEqual(sqlIds("1 = 1"))
    expect(await ids("ordering=bogus")).toStrictEqual(sqlIds("1 = 1"))
    expect(await ids("ordering=-id")).toStrictEqual(sqlIds("1 = 1").reverse())
    const small = await get("models/?page_size=ten")
    expect(small.status).toBe(200)
    expect(small.body.results.length).toBe(Math.min(100, count("SELECT COUNT(*) AS n FROM models")))
    // A filter value a DRF filterset rejects stays a 400 naming the field.
    const bad = await get("models/?project=abc")
    expect(bad.status).toBe(400)
    expect(Object.keys(bad.body)).toStrictEqual(["project"])
    const past = await get("models/?page=999")
    expect(past.status).toBe(404)
    expect(past.body).toStrictEqual({ detail: "Invalid page." })
  })
})

describe("ground-truth events", () => {
  it("answers id, category, files, data (native, keyed image) and data_unit {files}, checked against the stored rows", async () => {
    const rows = await all("sdk/ground_truth_events/?ground_truth_dataset_versions=303&page_size=37")
    expect(rows.map((e) => e.id)).toStrictEqual(
      (db.prepare("SELECT id FROM ground_truth_events WHERE version_id = 303 ORDER BY id").all() as Array<
        { id: number }
      >).map((r) => r.id)
    )
    let polygons = 0
    let labels = 0
    for (const event of rows) {
      expect(Object.keys(event)).toStrictEqual(["id", "category", "files", "data", "data_unit"])
      const row = one<any>(
        "SELECT e.category, e.data, e.files, u.files AS unit_files FROM ground_truth_events e JOIN data_units u ON u.id = e.data_unit_id WHERE e.id = ?",
        event.id
      )
      expect(event.category).toBe(row.category)
      expect(event.data).toStrictEqual(expectedNative(row.data))
      const files = JSON.parse(row.files)
      expect(Object.keys(event.files)).toStrictEqual(Object.keys(files))
      expect(event.files.image_1).toStrictEqual({
        url: expect.stringMatching(SIGNED),
        file_type: "image",
        is_primary: true
      })
      expect(event.files.data_meta_1).toStrictEqual({ url: expect.stringMatching(SIGNED) })
      expect(event.data_unit).toStrictEqual({ files: { image: { url: event.files.image_1.url } } })
      polygons += event.data.annotations.image.filter((a: any) => a.tool === "polygon").length
      labels += event.data.annotations.image.filter((a: any) => a.tool === "classification").length
    }
    // The version has both shapes and classification labels, so every branch above was checked.
    expect(polygons).toBeGreaterThan(0)
    expect(labels).toBeGreaterThan(0)
  })

  it("serves data_meta files that say what the inline data says, keyed image_1 and without the label", async () => {
    const [event] = (await get("sdk/ground_truth_events/?ground_truth_dataset_versions=303&page_size=1")).body.results
    const file = await call(event.files.data_meta_1.url)
    expect(file.status).toBe(200)
    const notLabel = (list: Array<any>) => list.filter((a) => a.id !== "label")
    expect(file.body).toStrictEqual({
      annotations: { image_1: notLabel(event.data.annotations.image) },
      annotationsData: { image_1: notLabel(event.data.annotationsData.image) }
    })
    // And the image itself, whose size readers take from its header (no width/height is sent).
    const image = await call(event.files.image_1.url)
    expect(image.status).toBe(200)
    expect(image.headers.get("content-type")).toBe("image/png")
  })

  it("answers partial records for fields=, without data_unit unless it is named", async () => {
    const full = (await get("sdk/ground_truth_events/?page_size=3")).body
    const cases: Array<[string, Array<string>]> = [
      ["fields=category&fields=files&fields=data", ["category", "files", "data"]],
      ["fields=id,category", ["id", "category"]],
      ["fields=data_unit&fields=id", ["id", "data_unit"]],
      ["fields=metadata&fields=created_at", []]
    ]
    for (const [query, keys] of cases) {
      const page = await get(`sdk/ground_truth_events/?page_size=3&${query}`)
      expect(page.status, query).toBe(200)
      expect(page.body.count, query).toBe(full.count)
      expect(new URL(page.body.next).searchParams.getAll("fields"), query).toStrictEqual(
        new URLSearchParams(query).getAll("fields")
      )
      page.body.results.forEach((event: any, i: number) => {
        expect(Object.keys(event), query).toStrictEqual(keys)
        expect(event, query).toStrictEqual(Object.fromEntries(keys.map((k) => [k, full.results[i][k]])))
      })
    }
  })

  it("serves concurrent pages from several page threads in the same shapes as one by one", async () => {
    const path = "sdk/ground_truth_events/?page_size=50"
    const sequential = await all(path)
    const total = sequential.length
    const pages = Math.ceil(total / 50)
    const parallel = await Promise.all(Array.from({ length: pages }, (_, i) => get(`${path}&page=${i + 1}`)))
    expect(parallel.flatMap((p) => p.body.results)).toStrictEqual(sequential)
    expect(total).toBe(count("SELECT COUNT(*) AS n FROM ground_truth_events"))
  })
})

describe("ground truths and dataset versions", () => {
  it("answers ground truths as id and files", async () => {
    const rows = await all("ground_truths/?ground_truth_dataset=201&page_size=40")
    expect(rows.length).toBe(count("SELECT COUNT(*) AS n FROM ground_truths WHERE dataset_id = 201"))
    for (const gt of rows) {
      expect(Object.keys(gt)).toStrictEqual(["id", "files"])
      expect(gt.files).toStrictEqual({
        image_1: { url: expect.stringMatching(SIGNED), file_type: "image", is_primary: true },
        data_meta_1: { url: expect.stringMatching(SIGNED) }
      })
    }
  })

  it("answers dataset versions as id, name, is_archived, in the list and in detail, filters applied", async () => {
    const page = await get("ground_truth_dataset_versions/?page_size=100")
    const stored = db.prepare(
      "SELECT id, coalesce(name, version) AS name, is_archived FROM ground_truth_dataset_versions ORDER BY id"
    ).all() as Array<any>
    const expected = stored.map((v) => ({ id: v.id, name: v.name, is_archived: v.is_archived === 1 }))
    expect(page.body.results).toStrictEqual(expected)
    expect((await get("ground_truth_dataset_versions/302/")).body).toStrictEqual(expected.find((v) => v.id === 302))
    expect((await get("ground_truth_dataset_versions/?is_archived=True")).body.results).toStrictEqual(
      expected.filter((v) => v.is_archived)
    )
    expect(
      (await get("ground_truth_dataset_versions/?ground_truth_dataset=201&is_archived=false")).body.results.map((
        v: any
      ) => v.id)
    ).toStrictEqual(
      (db.prepare("SELECT id FROM ground_truth_dataset_versions WHERE dataset_id = 201 AND is_archived = 0 ORDER BY id")
        .all() as Array<any>).map((r) => r.id)
    )
  })
})

describe("transport", () => {
  it("answers a path missing its trailing slash 301 to the slashed path, query kept, before authentication", async () => {
    const cases: Array<[string, string]> = [
      ["models?page_size=1", "/api/v1/models/?page_size=1"],
      ["models/101", "/api/v1/models/101/"],
      [
        "sdk/ground_truth_events?fields=id&fields=category",
        "/api/v1/sdk/ground_truth_events/?fields=id&fields=category"
      ],
      ["ground_truth_dataset_versions/302", "/api/v1/ground_truth_dataset_versions/302/"]
    ]
    for (const [path, location] of cases) {
      // No token: Django's middleware redirects before the view authenticates.
      const r = await call(`${sandbox().url}/${path}`, { redirect: "manual" })
      expect(r.status, path).toBe(301)
      expect(r.headers.get("location"), path).toBe(location)
      expect(r.text, path).toBe("")
    }
    // A client that follows the redirect gets the page.
    const followed = await call(`${sandbox().url}/models?page_size=2`, { headers: sandbox().headers })
    expect(followed.status).toBe(200)
    expect(followed.body.results.length).toBe(2)
    // Paths that exist with neither spelling stay 404.
    expect((await call(`${sandbox().url}/no_such_thing`, { headers: sandbox().headers, redirect: "manual" })).status)
      .toBe(404)
    expect((await call(`${sandbox().url}/models/101/nope`, { headers: sandbox().headers, redirect: "manual" })).status)
      .toBe(404)
  })

  it("answers 401 with WWW-Authenticate: Token", async () => {
    for (const headers of [{}, { "Synapse-Access-Token": "Token nope" }]) {
      const r = await get("models/", headers)
      expect(r.status).toBe(401)
      expect(r.headers.get("www-authenticate")).toBe("Token")
    }
  })

  it("says its profile in health and stats", async () => {
    expect((await call(`${sandbox().origin}/_sandbox/health`)).body).toStrictEqual({
      status: "ok",
      profile: "evidence"
    })
    expect((await call(`${sandbox().origin}/_sandbox/stats`, { headers: sandbox().headers })).body.profile).toBe(
      "evidence"
    )
    expect(sandbox().profile).toBe("evidence")
  })
})

describe("rows the seeds never write", () => {
  let sb: TestSandbox
  beforeAll(async () => {
    sb = await startTestSandbox({
      seed: "none",
      profile: "evidence",
      fixture: (fdb) => {
        fdb.prepare("INSERT INTO ground_truth_datasets (id, name, project) VALUES (1, 'fixture', 1)").run()
        fdb.prepare(
          "INSERT INTO ground_truth_dataset_versions (id, dataset_id, version, created_at) VALUES (1, 1, 'v1', '2026-01-01T00:00:00Z')"
        ).run()
        fdb.prepare(
          "INSERT INTO data_units (id, project, files) VALUES (1, 1, '{\"image\":{\"url\":\"https://cdn.example/a.png\"}}')"
        ).run()
        const event = fdb.prepare(
          "INSERT INTO ground_truth_events (id, version_id, data_unit_id, project, category, created_at, data, files) VALUES (?, 1, 1, 1, ?, '2026-01-01T00:00:00Z', ?, ?)"
        )
        // A classification-only event: a label and no geometry.
        event.run(
          1,
          "train",
          JSON.stringify({ type: "image", annotations: [], label: "dog" }),
          JSON.stringify({ image_1: { url: "https://cdn.example/a.png", file_type: "image" } })
        )
        // An RLE mask with no bbox cannot be said natively; a box without an id gets its position.
        event.run(
          2,
          null,
          JSON.stringify({
            annotations: [{ category: "car", segmentation: { size: [4, 4], counts: [0, 16] } }, {
              category_id: 3,
              bbox: [1, 2, 3, 4]
            }]
          }),
          "{}"
        )
        // Stored text that is not JSON, or not the COCO-like shape, answers an empty native form.
        event.run(3, "test", "not json", "[]")
        event.run(4, "test", JSON.stringify({ annotations: { image: [] } }), "{}")
      }
    })
  })
  afterAll(async () => {
    await sb?.close()
  })

  it("renders each without failing the page, in the native form", async () => {
    const page = await call(`${sb.url}/sdk/ground_truth_events/`, { headers: sb.headers })
    expect(page.status).toBe(200)
    const empty = { annotations: { image: [] }, annotationsData: { image: [] } }
    expect(page.body.results).toStrictEqual([
      {
        id: 1,
        category: "train",
        files: { image_1: { url: "https://cdn.example/a.png", file_type: "image" } },
        data: {
          annotations: { image: [{ id: "label", tool: "classification", classification: { class: "dog" } }] },
          annotationsData: { image: [{ id: "label" }] }
        },
        data_unit: { files: { image: { url: "https://cdn.example/a.png" } } }
      },
      {
        id: 2,
        category: null,
        files: {},
        data: {
          annotations: { image: [{ id: "a2", tool: "bounding_box", classification: { class: "3" } }] },
          annotationsData: { image: [{ id: "a2", coordinate: { x: 1, y: 2, width: 3, height: 4 } }] }
        },
        data_unit: { files: { image: { url: "https://cdn.example/a.png" } } }
      },
      {
        id: 3,
        category: "test",
        files: {},
        data: empty,
        data_unit: { files: { image: { url: "https://cdn.example/a.png" } } }
      },
      {
        id: 4,
        category: "test",
        files: {},
        data: empty,
        data_unit: { files: { image: { url: "https://cdn.example/a.png" } } }
      }
    ])
  })
})

describe("the native converter", () => {
  it("writes the seeds' data_meta text exactly as before it was shared", () => {
    const annotations = [
      { id: 7, category_id: 1, category: "car", bbox: [1, 2, 3, 4], area: 12, iscrowd: 0 as const },
      {
        id: 8,
        category_id: 2,
        category: "person",
        bbox: [0, 0, 2, 2],
        area: 2,
        iscrowd: 0 as const,
        segmentation: [[0, 0, 2, 0, 2, 2]]
      }
    ]
    expect(toDataMeta(annotations)).toBe(
      "{\"annotations\":{\"image_1\":[{\"id\":\"a7\",\"tool\":\"bounding_box\",\"classification\":{\"class\":\"car\"}},{\"id\":\"a8\",\"tool\":\"polygon\",\"classification\":{\"class\":\"person\"}}]}," +
        "\"annotationsData\":{\"image_1\":[{\"id\":\"a7\",\"coordinate\":{\"x\":1,\"y\":2,\"width\":3,\"height\":4}},{\"id\":\"a8\",\"coordinate\":[{\"x\":0,\"y\":0},{\"x\":2,\"y\":0},{\"x\":2,\"y\":2}]}]}}"
    )
  })

  it("keys by the given media key and appends a label as a classification", () => {
    expect(toNativeAnnotations([{ id: 1, category: "bus", bbox: [0, 0, 1, 1] }], "video", "bus")).toStrictEqual({
      annotations: {
        video: [{ id: "a1", tool: "bounding_box", classification: { class: "bus" } }, {
          id: "label",
          tool: "classification",
          classification: { class: "bus" }
        }]
      },
      annotationsData: { video: [{ id: "a1", coordinate: { x: 0, y: 0, width: 1, height: 1 } }, { id: "label" }] }
    })
    expect(nativeData(null)).toStrictEqual({ annotations: { image: [] }, annotationsData: { image: [] } })
    expect(nativeData("{\"annotations\":[null, 3, {\"id\":\"x\",\"bbox\":[1,1,1,1]}]}").annotations.image)
      .toStrictEqual([
        { id: "ax", tool: "bounding_box", classification: { class: "" } }
      ])
  })
})

describe("the MCP server's embedded sandbox", () => {
  const backend = (env: Record<string, string>, options: Sandbox.SandboxOptions) =>
    Effect.gen(function*() {
      const info = yield* Backend.Backend
      // The sandbox it started answers in the profile it describes.
      const health = yield* Effect.promise(() => call(`${new URL(info.baseUrl).origin}/_sandbox/health`))
      return { description: info.description, profile: health.body.profile as string }
    }).pipe(Effect.provide(Main.backendLayer(env, options).pipe(Layer.provide(Main.httpClientLayer))), Effect.scoped)

  it.effect("without a data directory, each server run gets a fresh one, removed when it stops", () =>
    Effect.gen(function*() {
      const fresh = () =>
        new Set(Fs.readdirSync(Os.tmpdir()).filter((name) => name.startsWith(Main.FRESH_SANDBOX_PREFIX)))
      const before = fresh()
      const run = Effect.gen(function*() {
        const info = yield* Backend.Backend
        const created = fresh()
        const mine = [...created].filter((name) => !before.has(name))
        const headers = {
          "Synapse-Access-Token": `Token ${process.env.SYNAPSE_SANDBOX_TOKEN || Sandbox.SANDBOX_DEV_TOKEN}`
        }
        const count = (yield* Effect.promise(() => call(`${info.baseUrl}/models/?page_size=1`, { headers }))).body
          .count as number
        // A model registered in this run must not be there in the next one.
        yield* Effect.promise(() =>
          call(
            `${info.baseUrl}/models/`,
            jsonInit("POST", { name: "left behind", model_type: "detection", project: 1 }, headers)
          )
        )
        return { mine, count }
      }).pipe(
        Effect.provide(Main.backendLayer({}, { seed: "demo" }).pipe(Layer.provide(Main.httpClientLayer))),
        Effect.scoped
      )
      const first = yield* run
      const second = yield* run
      expect(first.mine).toHaveLength(1)
      expect(second.mine).toHaveLength(1)
      expect(second.mine).not.toStrictEqual(first.mine)
      expect(second.count).toBe(first.count)
      // Both are gone once their servers stopped.
      expect([...fresh()].filter((name) => !before.has(name))).toStrictEqual([])
    }))

  it.effect("takes its profile from SYNAPSE_SANDBOX_PROFILE or the options, says it, and refuses an unknown one", () =>
    Effect.gen(function*() {
      const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-mcp-profile-"))
      try {
        const fromEnv = yield* backend({ SYNAPSE_SANDBOX_PROFILE: "evidence" }, { dataDir, seed: "none" })
        expect(fromEnv).toStrictEqual({
          description:
            "the local Synapse sandbox started by this server, with generated demo data in its evidence profile (not a real deployment)",
          profile: "evidence"
        })
        // The option (`start --sandbox-profile`) wins over the variable.
        expect(
          (yield* backend({ SYNAPSE_SANDBOX_PROFILE: "evidence" }, { dataDir, seed: "none", profile: "rich" })).profile
        ).toBe("rich")
        const bad = yield* Effect.flip(backend({ SYNAPSE_SANDBOX_PROFILE: "strict" }, { dataDir, seed: "none" }))
        expect(bad.message).toBe(
          "SYNAPSE_BASE_URL is not set and the sandbox could not start: SYNAPSE_SANDBOX_PROFILE must be one of rich, evidence, got \"strict\""
        )
      } finally {
        Fs.rmSync(dataDir, { recursive: true, force: true })
      }
    }))
})
