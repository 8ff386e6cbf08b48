/**
 * The sandbox's resource endpoints over real HTTP against demo data: every filter (cross-checked
 * against a direct SQL count of the same database), ordering, pagination edges, expansions,
 * create/patch validation, auth, and hostile input.
 */
import { describe, expect, it } from "@effect/vitest"
import type Database from "better-sqlite3"
import { afterAll, beforeAll } from "vitest"
import { allRows, call, jsonInit } from "../support/http.js"
import { useSandbox } from "../support/sandbox.js"

const sandbox = useSandbox({ seed: "demo" })
let db: Database.Database
beforeAll(() => {
  db = sandbox().openDb()
})
afterAll(() => db?.close())

const get = (path: string, headers?: Record<string, string>) =>
  call(`${sandbox().url}/${path}`, { headers: headers ?? sandbox().headers })
const sqlCount = (sql: string, ...params: Array<unknown>): number => (db.prepare(sql).get(...params) as { n: number }).n

/** Every row of a listing, following `next`. */
const all = (path: string): Promise<Array<any>> => allRows(`${sandbox().url}/${path}`, sandbox().headers)

describe("auth", () => {
  it("accepts every documented header form and refuses the rest with 401 JSON", async () => {
    const token = sandbox().token
    for (
      const headers of [
        { "Synapse-Access-Token": `Token ${token}` },
        { "synapse-access-token": token },
        { Authorization: `Token ${token}` },
        { AUTHORIZATION: token }
      ]
    ) {
      expect((await get("models/?page_size=1", headers)).status).toBe(200)
    }
    const missing = await get("models/", {})
    expect(missing.status).toBe(401)
    expect(missing.body).toStrictEqual({ detail: "Authentication credentials were not provided." })
    const wrong = await get("models/", { "Synapse-Access-Token": "Token nope" })
    expect(wrong.status).toBe(401)
    expect(wrong.body).toStrictEqual({ detail: "Invalid token." })
    // DRF's token authentication names its scheme on every 401.
    expect(missing.headers.get("www-authenticate")).toBe("Token")
    expect(wrong.headers.get("www-authenticate")).toBe("Token")
    expect((await call(`${sandbox().origin}/_sandbox/stats`)).status).toBe(401)
    // The default profile, said where an operator looks.
    expect((await call(`${sandbox().origin}/_sandbox/health`)).body).toStrictEqual({ status: "ok", profile: "rich" })
    expect((await call(`${sandbox().origin}/_sandbox/stats`, { headers: sandbox().headers })).body.profile).toBe("rich")
  })

  it("answers unknown paths with a 404 JSON body", async () => {
    const r = await get("no_such_thing/")
    expect(r.status).toBe(404)
    expect(r.body).toStrictEqual({ detail: "Not found." })
    // The rich profile serves a path missing its slash as the slashed one (the evidence profile
    // answers Django's 301 instead).
    const bare = await call(`${sandbox().url}/models?page_size=1`, { headers: sandbox().headers, redirect: "manual" })
    expect(bare.status).toBe(200)
    expect(bare.body.results.length).toBe(1)
  })

  it("answers a known path asked with another method 405 with Allow, as DRF does; unknown paths stay 404", async () => {
    const ask = (method: string, path: string, origin = sandbox().url) =>
      call(`${origin}/${path}`, {
        method,
        headers: { ...sandbox().headers, "content-type": "application/json" },
        ...(["GET", "HEAD", "DELETE"].includes(method) ? {} : { body: "{}" })
      })
    const model = (await get("models/?page_size=1")).body.results[0].id as number
    const cases: Array<[string, string, string]> = [
      ["DELETE", `models/${model}/`, "GET, PATCH, HEAD"],
      ["POST", "sdk/ground_truth_events/", "GET, HEAD"],
      ["PUT", "ground_truth_dataset_versions/1/", "GET, HEAD"],
      ["DELETE", "models/", "GET, POST, HEAD"],
      ["PATCH", "chunked_upload/", "PUT"],
      ["HEAD", "chunked_upload/", "PUT"],
      ["DELETE", "chunked_upload/0123456789abcdef0123456789abcdef/", "GET, POST, PUT, HEAD"]
    ]
    for (const [method, path, allow] of cases) {
      const r = await ask(method, path)
      expect(r.status, `${method} ${path}`).toBe(405)
      // (A HEAD answer has no body to carry the detail.)
      if (method !== "HEAD") expect(r.body).toStrictEqual({ detail: `Method "${method}" not allowed.` })
      expect(r.headers.get("allow")).toBe(allow)
    }
    // Nothing was deleted.
    expect((await get(`models/${model}/`)).status).toBe(200)
    // Outside the API too, and still only for paths that exist.
    expect((await ask("DELETE", "_sandbox/faults", sandbox().origin)).headers.get("allow")).toBe("GET, PUT, HEAD")
    expect((await ask("DELETE", "no_such_thing/")).status).toBe(404)
    expect((await ask("DELETE", `models/${model}/extra/`)).status).toBe(404)
    // Authentication comes first, as in DRF: no token, 401 whatever the method.
    expect((await call(`${sandbox().url}/models/${model}/`, { method: "DELETE" })).status).toBe(401)
  })
})

describe("models/", () => {
  it("filters by project, model_type, is_active (True/true), name, search and created_after", async () => {
    const cases: Array<[string, string, Array<unknown>]> = [
      ["project=2", "project = ?", [2]],
      ["model_type=detection", "model_type = ?", ["detection"]],
      ["model_type=detection,segmentation", "model_type IN (?, ?)", ["detection", "segmentation"]],
      ["model_type=detection&model_type=classification", "model_type IN (?, ?)", ["detection", "classification"]],
      ["is_active=True", "is_active = 1", []],
      ["is_active=false", "is_active = 0", []],
      [
        "project=1&is_active=true&model_type=detection",
        "project = 1 AND is_active = 1 AND model_type = 'detection'",
        []
      ],
      ["name=Street%20Object%20Detector", "name = ?", ["Street Object Detector"]],
      ["search=segmenter", "(lower(name) LIKE '%segmenter%' OR lower(description) LIKE '%segmenter%')", []],
      ["created_after=2026-06-01", "created_at >= ?", ["2026-06-01T00:00:00Z"]],
      ["created_after=2026-06-01T12:30:00%2B02:00", "created_at >= ?", ["2026-06-01T10:30:00Z"]]
    ]
    for (const [query, where, params] of cases) {
      const expected = sqlCount(`SELECT COUNT(*) AS n FROM models WHERE ${where}`, ...params)
      expect(expected, query).toBeGreaterThan(0)
      const r = await get(`models/?${query}`)
      expect(r.status, query).toBe(200)
      expect(r.body.count, query).toBe(expected)
      expect(r.body.results.length, query).toBe(expected)
    }
    const active = await get("models/?is_active=True&project=3")
    expect(active.body.results.every((m: any) => m.is_active === true && m.project === 3)).toBe(true)
  })

  it("orders by every allowed ordering, by several terms, and ignores unknown terms as DRF does", async () => {
    const rows = (await get("models/?page_size=1000")).body.results as Array<any>
    const by = (key: string, dir: 1 | -1) =>
      [...rows].sort((a, b) => (a[key] < b[key] ? -dir : a[key] > b[key] ? dir : dir * (a.id - b.id))).map((m) => m.id)
    expect((await get("models/?ordering=name")).body.results.map((m: any) => m.id)).toStrictEqual(by("name", 1))
    expect((await get("models/?ordering=-name")).body.results.map((m: any) => m.id)).toStrictEqual(by("name", -1))
    expect((await get("models/?ordering=created_at")).body.results.map((m: any) => m.id)).toStrictEqual(
      by("created_at", 1)
    )
    expect((await get("models/?ordering=-created_at")).body.results.map((m: any) => m.id)).toStrictEqual(
      by("created_at", -1)
    )
    expect((await get("models/?ordering=-id")).body.results.map((m: any) => m.id)).toStrictEqual(by("id", -1))
    const byId = by("id", 1)
    // An unknown term is dropped (DRF's OrderingFilter), leaving the default order or the valid terms.
    for (const ignored of ["password", "-password", "name;drop", ""]) {
      const r = await get(`models/?ordering=${encodeURIComponent(ignored)}`)
      expect(r.status, ignored).toBe(200)
      expect(r.body.results.map((m: any) => m.id), ignored).toStrictEqual(byId)
    }
    expect((await get("models/?ordering=password,-name")).body.results.map((m: any) => m.id)).toStrictEqual(
      by("name", -1)
    )
    // Several terms: by name, then newest first within a name.
    const twoKeys = [...rows]
      .sort((
        a,
        b
      ) => (a.name < b.name
        ? -1
        : a.name > b.name
        ? 1
        : a.created_at < b.created_at
        ? 1
        : a.created_at > b.created_at
        ? -1
        : b.id - a.id)
      )
      .map((m) => m.id)
    expect((await get("models/?ordering=name,-created_at")).body.results.map((m: any) => m.id)).toStrictEqual(twoKeys)
  })

  it("pages with page/page_size and limit/offset, with absolute next/previous that work", async () => {
    const total = sqlCount("SELECT COUNT(*) AS n FROM models")
    const first = await get("models/?page_size=5&ordering=id")
    expect(first.body.count).toBe(total)
    expect(first.body.previous).toBeNull()
    expect(first.body.next).toBe(`${sandbox().url}/models/?page_size=5&ordering=id&page=2`)
    const second = await call(first.body.next, { headers: sandbox().headers })
    expect(second.body.previous).toBe(`${sandbox().url}/models/?page_size=5&ordering=id`)
    expect(second.body.results[0].id).toBe((await get("models/?ordering=id&page_size=6")).body.results[5].id)
    const everything = await all("models/?page_size=5")
    expect(everything.length).toBe(total)
    expect(new Set(everything.map((m) => m.id)).size).toBe(total)

    const lo = await get("models/?limit=3&offset=3&ordering=id")
    expect(lo.body.results.map((m: any) => m.id)).toStrictEqual(everything.slice(3, 6).map((m) => m.id))
    expect(lo.body.next).toBe(`${sandbox().url}/models/?limit=3&offset=6&ordering=id`)
    expect(lo.body.previous).toBe(`${sandbox().url}/models/?limit=3&ordering=id`)
  })

  it("handles pagination edges: empty result, exactly one full page, last partial page, past the end", async () => {
    const empty = await get("models/?name=nothing-is-called-this")
    expect(empty.body).toStrictEqual({ count: 0, next: null, previous: null, results: [] })
    const total = sqlCount("SELECT COUNT(*) AS n FROM models")
    const full = await get(`models/?page_size=${total}`)
    expect(full.body.results.length).toBe(total)
    expect(full.body.next).toBeNull()
    const size = 5
    const lastPage = Math.ceil(total / size)
    const last = await get(`models/?page_size=${size}&page=${lastPage}`)
    expect(last.body.results.length).toBe(total - size * (lastPage - 1))
    expect(last.body.next).toBeNull()
    expect(last.body.previous).not.toBeNull()
    const past = await get(`models/?page_size=${size}&page=${lastPage + 1}`)
    expect(past.status).toBe(404)
    expect(past.body).toStrictEqual({ detail: "Invalid page." })
    const emptyPage2 = await get("models/?name=nothing&page=2")
    expect(emptyPage2.status).toBe(404)
  })

  it("answers detail with expand (repeated or comma-joined) and include_file", async () => {
    const id = (db.prepare("SELECT model_id AS id FROM model_evaluations LIMIT 1").get() as { id: number }).id
    const plain = await get(`models/${id}/`)
    expect(plain.status).toBe(200)
    expect(plain.body.evaluations).toBeUndefined()
    expect(plain.body.file_info).toBeUndefined()
    for (
      const q of [
        "expand=evaluations,versions&include_file=True",
        "expand=evaluations&expand=versions&expand=metrics&include_file=true"
      ]
    ) {
      const r = await get(`models/${id}/?${q}`)
      expect(r.status).toBe(200)
      expect(r.body.evaluations.length).toBe(
        sqlCount("SELECT COUNT(*) AS n FROM model_evaluations WHERE model_id = ?", id)
      )
      expect(r.body.versions.length).toBe(
        sqlCount("SELECT COUNT(*) AS n FROM models WHERE project = ? AND name = ?", r.body.project, r.body.name)
      )
      expect(r.body.versions.some((v: any) => v.id === id)).toBe(true)
      if (r.body.file !== null) {
        expect(r.body.file).toMatch(new RegExp(`^${sandbox().origin}/media/.+\\?expires=\\d+&signature=[0-9a-f]{64}$`))
        expect(r.body.file_info).toMatchObject({ name: expect.any(String), size: expect.any(Number) })
      }
    }
    const badExpand = await get(`models/${id}/?expand=secrets`)
    expect(badExpand.status).toBe(400)
    expect(Object.keys(badExpand.body)).toStrictEqual(["expand"])
  })

  it("404s unknown, negative, zero and non-numeric ids", async () => {
    for (const id of ["999999", "-1", "0", "abc", "1.5", "1e3", "%27%20OR%201%3D1"]) {
      const r = await get(`models/${id}/`)
      expect(r.status, id).toBe(404)
      expect(r.body, id).toStrictEqual({ detail: "Not found." })
    }
  })
})

describe("POST and PATCH models/", () => {
  const post = (body: unknown) => call(`${sandbox().url}/models/`, jsonInit("POST", body, sandbox().headers))

  it("creates a model and lists it", async () => {
    const data = {
      name: "Created in a test",
      model_type: "detection",
      project: 2,
      description: "ünïcødé ✓",
      metrics: { accuracy: 0.5 },
      configuration: { input_size: [1, 2] },
      is_active: false,
      version: "9.9.9"
    }
    const r = await post({ ...data, plugin: null })
    expect(r.status).toBe(201)
    // Every field sent comes back as sent; no file was uploaded.
    expect(r.body).toMatchObject({ ...data, file: null })
    const listed = await get(`models/?name=${encodeURIComponent("Created in a test")}`)
    expect(listed.body.count).toBe(1)
    expect((await get(`models/${r.body.id}/`)).body).toStrictEqual(r.body)
  })

  it("validates exactly: required, types, choices, existing project, finished upload; unknown keys ignored as DRF does", async () => {
    const missing = await post({ description: "x" })
    expect(missing.status).toBe(400)
    expect(missing.body).toStrictEqual({
      name: ["This field is required."],
      model_type: ["This field is required."],
      project: ["This field is required."]
    })
    // A serializer ignores keys it does not declare, and a read-only one such as `file`.
    const unknown = await post({ name: "a", model_type: "detection", project: 1, file: "/tmp/x.pkl", colour: "red" })
    expect(unknown.status).toBe(201)
    expect(unknown.body.file).toBeNull()
    expect("colour" in unknown.body).toBe(false)
    const types = await post({
      name: 5,
      model_type: "regression",
      project: "1",
      metrics: { a: "high" },
      is_active: "yes",
      configuration: []
    })
    expect(types.status).toBe(400)
    expect(Object.keys(types.body).sort()).toStrictEqual([
      "configuration",
      "is_active",
      "metrics",
      "model_type",
      "name",
      "project"
    ])
    const noProject = await post({ name: "a", model_type: "detection", project: 424242 })
    expect(noProject.status).toBe(400)
    expect(noProject.body.project[0]).toContain("does not exist")
    const noUpload = await post({
      name: "a",
      model_type: "detection",
      project: 1,
      chunked_upload: "0123456789abcdef0123456789abcdef"
    })
    expect(noUpload.status).toBe(400)
    expect(Object.keys(noUpload.body)).toStrictEqual(["chunked_upload"])
  })

  it("answers malformed bodies with 400 JSON, never 500", async () => {
    for (const body of ["{not json", "[1,2]", "null", "42", "\"text\"", ""]) {
      const r = await call(`${sandbox().url}/models/`, jsonInit("POST", body, sandbox().headers))
      expect(r.status, body).toBe(400)
      expect(typeof r.body, body).toBe("object")
    }
  })

  it("patches writable fields and rejects the rest", async () => {
    const created = await post({ name: "To patch", model_type: "classification", project: 1 })
    const url = `${sandbox().url}/models/${created.body.id}/`
    const r = await call(url, jsonInit("PATCH", { is_active: false, metrics: { f1: 0.7 } }, sandbox().headers))
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ is_active: false, metrics: { f1: 0.7 }, name: "To patch" })
    expect((await get(`models/${created.body.id}/`)).body.is_active).toBe(false)
    const bad = await call(url, jsonInit("PATCH", { project: 2 }, sandbox().headers))
    expect(bad.status).toBe(400)
    expect(bad.body).toStrictEqual({ project: ["Unknown field."] })
    const missing = await call(
      `${sandbox().url}/models/987654/`,
      jsonInit("PATCH", { is_active: true }, sandbox().headers)
    )
    expect(missing.status).toBe(404)
  })

  it("creates concurrently without losing or duplicating rows", async () => {
    const before = sqlCount("SELECT COUNT(*) AS n FROM models")
    const results = await Promise.all(
      Array.from(
        { length: 40 },
        (_, i) => post({ name: `Parallel ${i}`, model_type: "segmentation", project: 3, metrics: { i } })
      )
    )
    expect(results.every((r) => r.status === 201)).toBe(true)
    expect(new Set(results.map((r) => r.body.id)).size).toBe(40)
    expect(sqlCount("SELECT COUNT(*) AS n FROM models")).toBe(before + 40)
    expect((await get("models/?search=Parallel&page_size=1000")).body.count).toBe(40)
    expect((db.prepare("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check).toBe("ok")
  })
})

describe("ground truth", () => {
  it("filters events by versions (repeated and comma-joined), project, category, data_type, created_after, search", async () => {
    const cases: Array<[string, string, Array<unknown>]> = [
      ["ground_truth_dataset_versions=302", "version_id = 302", []],
      ["ground_truth_dataset_versions=301,302", "version_id IN (301, 302)", []],
      ["ground_truth_dataset_versions=301&ground_truth_dataset_versions=304", "version_id IN (301, 304)", []],
      ["project=1", "project = 1", []],
      ["category=validation", "category = 'validation'", []],
      [
        "category=train,test&ground_truth_dataset_versions=303",
        "category IN ('train', 'test') AND version_id = 303",
        []
      ],
      ["data_type=image", "data_type = 'image'", []],
      ["created_after=2026-05-01T00:00:00Z", "created_at >= ?", ["2026-05-01T00:00:00Z"]],
      ["search=needs_review", "instr(metadata, 'needs_review') > 0", []]
    ]
    for (const [query, where, params] of cases) {
      const expected = sqlCount(`SELECT COUNT(*) AS n FROM ground_truth_events WHERE ${where}`, ...params)
      expect(expected, query).toBeGreaterThan(0)
      const r = await get(`sdk/ground_truth_events/?${query}&page_size=1000`)
      expect(r.status, query).toBe(200)
      expect(r.body.count, query).toBe(expected)
      expect(r.body.results.length, query).toBe(expected)
    }
    const none = await get("sdk/ground_truth_events/?ground_truth_dataset_versions=999999")
    expect(none.body).toStrictEqual({ count: 0, next: null, previous: null, results: [] })
  })

  it("serves events in the rich shape with presigned file URLs", async () => {
    const r = await get("sdk/ground_truth_events/?page_size=2")
    const event = r.body.results[0]
    expect(Object.keys(event)).toStrictEqual([
      "id",
      "ground_truth_dataset_version",
      "category",
      "created_at",
      "data",
      "data_unit",
      "files",
      "metadata"
    ])
    expect(event.data.annotations.length).toBeGreaterThan(0)
    const image = event.data_unit.files.image
    expect(image.media).toBeUndefined()
    expect(image.url).toMatch(/\/media\/.+\?expires=\d+&signature=[0-9a-f]{64}$/)
    expect(typeof image.width).toBe("number")
    const fields = await get("sdk/ground_truth_events/?page_size=2&fields=id,category")
    expect(Object.keys(fields.body.results[0])).toStrictEqual(["id", "category"])
  })

  it("pages through every event exactly once", async () => {
    const version = 302
    const rows = await all(`sdk/ground_truth_events/?ground_truth_dataset_versions=${version}&page_size=40`)
    const expected = db.prepare("SELECT id FROM ground_truth_events WHERE version_id = ? ORDER BY id").all(version).map(
      (r: any) => r.id
    )
    expect(rows.map((e) => e.id)).toStrictEqual(expected)
  })

  it("reads page N+1 from where page N ended, with the same rows as skipping, and forgets after a write", async () => {
    const stats = async () =>
      (await call(`${new URL(sandbox().url).origin}/_sandbox/stats`, { headers: sandbox().headers })).body
    const ids = (sql: string) => db.prepare(sql).all().map((r: any) => r.id as number)
    const before = (await stats()).listing_seeks as number
    // Following `next`: every page after the first starts from the previous page's last id.
    const events = await all("sdk/ground_truth_events/?project=1&page_size=23")
    expect(events.map((e) => e.id)).toStrictEqual(
      ids("SELECT id FROM ground_truth_events WHERE project = 1 ORDER BY id")
    )
    const pages = Math.ceil(events.length / 23)
    expect((await stats()).listing_seeks - before).toBe(pages - 1)
    const truths = await all("ground_truths/?ground_truth_dataset=201&page_size=17")
    expect(truths.map((g) => g.id)).toStrictEqual(
      ids("SELECT id FROM ground_truths WHERE dataset_id = 201 ORDER BY id")
    )

    // Jumping in: a page nobody reached by `next` is read by offset, and is the same slice.
    const expected = ids("SELECT id FROM ground_truth_events WHERE category = 'train' ORDER BY id")
    const page = async (n: number) =>
      (await get(`sdk/ground_truth_events/?category=train&page_size=11&page=${n}`)).body.results.map((e: any) => e.id)
    const start = (await stats()).listing_seeks as number
    expect(await page(3)).toStrictEqual(expected.slice(22, 33))
    expect(await page(2)).toStrictEqual(expected.slice(11, 22))
    expect((await stats()).listing_seeks).toBe(start)
    expect(await page(4)).toStrictEqual(expected.slice(33, 44))
    expect((await stats()).listing_seeks).toBe(start + 1)
    // Another process writes: the remembered cursors may be stale, so page 4 is read by offset again.
    db.exec("CREATE TABLE IF NOT EXISTS test_scratch (x INTEGER); INSERT INTO test_scratch VALUES (1)")
    expect(await page(4)).toStrictEqual(expected.slice(33, 44))
    expect((await stats()).listing_seeks).toBe(start + 1)
  })

  it("filters ground truths by dataset, versions and category, listing their versions", async () => {
    const cases: Array<[string, string]> = [
      ["ground_truth_dataset=202", "dataset_id = 202"],
      ["category=test", "category = 'test'"],
      [
        "ground_truth_dataset_versions=301",
        "id IN (SELECT ground_truth_id FROM ground_truth_version_members WHERE version_id = 301)"
      ],
      [
        "ground_truth_dataset_versions=301,304&category=train",
        "category = 'train' AND id IN (SELECT ground_truth_id FROM ground_truth_version_members WHERE version_id IN (301, 304))"
      ]
    ]
    for (const [query, where] of cases) {
      const expected = sqlCount(`SELECT COUNT(*) AS n FROM ground_truths WHERE ${where}`)
      expect(expected, query).toBeGreaterThan(0)
      const r = await get(`ground_truths/?${query}&page_size=1000`)
      expect(r.body.count, query).toBe(expected)
    }
    const one = (await get("ground_truths/?ground_truth_dataset_versions=301&page_size=1")).body.results[0]
    expect(one.ground_truth_dataset_versions).toContain(301)
    expect(Object.keys(one.files).some((k) => k.startsWith("data_meta"))).toBe(true)
  })

  it("lists dataset versions by dataset and is_archived, and answers one version", async () => {
    expect((await get("ground_truth_dataset_versions/?ground_truth_dataset=201")).body.count).toBe(
      sqlCount("SELECT COUNT(*) AS n FROM ground_truth_dataset_versions WHERE dataset_id = 201")
    )
    const archived = await get("ground_truth_dataset_versions/?is_archived=True")
    expect(archived.body.count).toBe(
      sqlCount("SELECT COUNT(*) AS n FROM ground_truth_dataset_versions WHERE is_archived = 1")
    )
    expect(archived.body.results.every((v: any) => v.is_archived === true)).toBe(true)
    const one = await get("ground_truth_dataset_versions/302/")
    expect(one.status).toBe(200)
    expect(one.body).toMatchObject({
      id: 302,
      ground_truth_dataset: { id: 201, name: expect.any(String) },
      event_count: expect.any(Number)
    })
    expect((await get("ground_truth_dataset_versions/9999/")).status).toBe(404)
  })
})

describe("hostile input gets a clear 4xx, never a 500", () => {
  it("rejects malformed parameters naming the field", async () => {
    const cases: Array<[string, number, string]> = [
      ["models/?project=abc", 400, "project"],
      ["models/?project=-1", 400, "project"],
      ["models/?project=0", 400, "project"],
      ["models/?model_type=regression", 400, "model_type"],
      ["models/?created_after=yesterday", 400, "created_after"],
      ["models/?created_after=2026-13-45", 400, "created_after"],
      ["models/?page=0", 404, "detail"],
      ["models/?page=-1", 404, "detail"],
      ["models/?page=abc", 404, "detail"],
      ["sdk/ground_truth_events/?ground_truth_dataset_versions=1,x", 400, "ground_truth_dataset_versions"],
      ["sdk/ground_truth_events/?category=holdout", 400, "category"],
      ["sdk/ground_truth_events/?ground_truth_dataset_versions=0", 400, "ground_truth_dataset_versions"]
    ]
    for (const [path, status, key] of cases) {
      const r = await get(path)
      expect(r.status, path).toBe(status)
      expect(Object.keys(r.body), path).toContain(key)
    }
  })

  it("takes a bad page_size, limit or offset as DRF's paginators do: the default, never a 400", async () => {
    const total = sqlCount("SELECT COUNT(*) AS n FROM ground_truth_events")
    for (const size of ["0", "-5", "ten", "1.5", "%20"]) {
      const r = await get(`sdk/ground_truth_events/?page_size=${size}`)
      expect(r.status, size).toBe(200)
      expect(r.body.results.length, size).toBe(Math.min(100, total))
      expect(r.body.count, size).toBe(total)
    }
    const models = sqlCount("SELECT COUNT(*) AS n FROM models")
    const limitZero = await get("models/?limit=0")
    expect(limitZero.status).toBe(200)
    expect(limitZero.body.results.length).toBe(Math.min(100, models))
    const badOffset = await get("models/?limit=5&offset=-1&ordering=id")
    expect(badOffset.status).toBe(200)
    expect(badOffset.body.results.map((m: any) => m.id)).toStrictEqual(
      (await get("models/?limit=5&ordering=id")).body.results.map((m: any) => m.id)
    )
    // An out-of-range page stays DRF's 404.
    const past = await get("sdk/ground_truth_events/?page_size=ten&page=999999")
    expect(past.status).toBe(404)
    expect(past.body).toStrictEqual({ detail: "Invalid page." })
  })

  it("ignores a boolean filter value django-filter's BooleanWidget does not read (no filter, no 400)", async () => {
    const models = sqlCount("SELECT COUNT(*) AS n FROM models")
    const versions = sqlCount("SELECT COUNT(*) AS n FROM ground_truth_dataset_versions")
    for (const value of ["maybe", "2", "yes"]) {
      const m = await get(`models/?is_active=${value}&page_size=1000`)
      expect(m.status, value).toBe(200)
      expect(m.body.count, value).toBe(models)
      const v = await get(`ground_truth_dataset_versions/?is_archived=${value}`)
      expect(v.status, value).toBe(200)
      expect(v.body.count, value).toBe(versions)
    }
    expect((await get("ground_truth_dataset_versions/?is_archived=TRUE")).body.count).toBe(
      sqlCount("SELECT COUNT(*) AS n FROM ground_truth_dataset_versions WHERE is_archived = 1")
    )
  })

  it("caps huge page sizes at 1000", async () => {
    const r = await get("sdk/ground_truth_events/?page_size=999999999")
    expect(r.status).toBe(200)
    expect(r.body.results.length).toBe(Math.min(1000, r.body.count))
  })

  it("binds SQL metacharacters, unicode and very long strings in every filter", async () => {
    const nasty = ["' OR 1=1 --", "\"; DROP TABLE models; --", "%", "_", "\\", "🚗 车 ñ", "a".repeat(4000), "\u0000"]
    const contains = (column: string) => `instr(lower(coalesce(${column}, '')), lower(?)) > 0`
    for (const value of nasty) {
      const q = encodeURIComponent(value)
      const cases: Array<[string, number]> = [
        [
          `models/?search=${q}`,
          sqlCount(
            `SELECT COUNT(*) AS n FROM models WHERE ${contains("name")} OR ${contains("description")}`,
            value,
            value
          )
        ],
        [`models/?name=${q}`, 0],
        [
          `sdk/ground_truth_events/?search=${q}`,
          sqlCount(
            `SELECT COUNT(*) AS n FROM ground_truth_events WHERE ${contains("data")} OR ${contains("metadata")}`,
            value,
            value
          )
        ],
        [`sdk/ground_truth_events/?data_type=${q}`, 0]
      ]
      for (const [path, expected] of cases) {
        const r = await get(path)
        expect(r.status, path.slice(0, 60)).toBe(200)
        expect(r.body.count, path.slice(0, 60)).toBe(expected)
      }
    }
    // "%" and "_" are literal characters, not wildcards.
    expect((await get("models/?search=%25")).body.count).toBe(0)
    expect(sqlCount("SELECT COUNT(*) AS n FROM models")).toBeGreaterThan(0)
  })

  it("answers a query string over Node's header limit with a JSON 431, not a bare status line", async () => {
    const r = await get(`models/?search=${encodeURIComponent("é".repeat(5000))}`)
    expect(r.status).toBe(431)
    expect(r.headers.get("content-type")).toBe("application/json")
    expect(r.body.detail).toContain("shorten the query string")
    expect((await get("models/?page_size=1")).status).toBe(200) // the server is still up
  })
})
