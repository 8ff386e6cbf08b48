/**
 * The write side of Models against a real sandbox, on both profiles: create with a multi-chunk file
 * that downloads back byte-identical, exactly the official SDK's requests (no listing before the
 * POST; the body as given, `chunked_upload` with the upload's own id type), invalid data refused
 * before any request, and a lost POST answer that never registers a second model: decided when it
 * can be (the upload's file, `created_at`), `OutcomeUnknownError` when it cannot (a backend without
 * `created_at`, one ignoring the listing filters with too many models), re-sent when nothing was
 * created. Then update and setActive (rich: PATCH is not in the evidence).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Schedule } from "effect"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import type { SandboxProfile } from "../../src/sandbox/Context.js"
import { MAX_LOOKUP_PAGES } from "../../src/services/ModelCreate.js"
import * as Models from "../../src/services/Models.js"
import { startTestSandbox, type TestSandbox, useSandbox } from "../support/sandbox.js"
import { faultFirst, loseFirstAnswer, resetStats, sandboxJson, setFaults, stats } from "../support/sandboxAdmin.js"
import { sdkLayer } from "../support/sdk.js"
import { killUploadMidway } from "./fixtures/killUpload.js"

const MiB = 1024 * 1024
const work = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-models-write-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex")
const fastRetry = Schedule.spaced("5 millis").pipe(Schedule.intersect(Schedule.recurs(20)))

/** Which requests the fault spec hits, fixed so that a failure reproduces. */
const FAULT_SEED = 11

/** Every model of the sandbox named `name`, read from its database (the profile shapes nothing here). */
const modelsNamed = (sb: TestSandbox, name: string) =>
  sb.query<{ id: number; file_media: string | null }>(
    "SELECT id, file_media FROM models WHERE name = ? ORDER BY id",
    name
  )

/**
 * The Models service over a client for `sb` (`transformClient` lets a test act around requests),
 * built in the test's scope: the service holds the transport, which its layer closes with the scope
 * (undici refuses every request after that with UND_ERR_DESTROYED), so it must not outlive it.
 */
const writes = (sb: TestSandbox, transformClient?: (client: HttpClient.HttpClient) => HttpClient.HttpClient) =>
  Layer.build(sdkLayer(sb, work, { retry: fastRetry, transformClient })).pipe(Effect.map(Context.get(Models.Models)))

/** The JSON bodies of the `POST models/` requests a client sends, in order. */
const recordCreates = () => {
  const bodies: Array<Record<string, unknown>> = []
  const transformClient = HttpClient.tapRequest((request: HttpClientRequest.HttpClientRequest) =>
    Effect.sync(() => {
      if (request.method === "POST" && request.url.endsWith("/models/") && request.body._tag === "Uint8Array") {
        bodies.push(JSON.parse(new TextDecoder().decode(request.body.body)))
      }
    })
  )
  return { bodies, transformClient }
}

const isModelsPost = (request: HttpClientRequest.HttpClientRequest) =>
  request.method === "POST" && new URL(request.url).pathname.endsWith("/models/")

let fileCounter = 0
const modelFile = (size: number) => {
  const bytes = randomBytes(size)
  const file = path.join(work, `model-${++fileCounter}.pt`)
  fs.writeFileSync(file, bytes)
  return { bytes, file }
}

/** The data each profile's create is given: the documented fields (rich) or the official SDK's (evidence). */
const dataFor = (profile: SandboxProfile, name: string): Models.ModelCreateInput =>
  profile === "rich"
    ? {
      name,
      description: "Improved object detection with better accuracy",
      model_type: "detection",
      project: 1,
      metrics: { accuracy: 0.92, precision: 0.89, recall: 0.94, f1_score: 0.91 },
      configuration: { input_size: [640, 640], num_classes: 10, framework: "pytorch" }
    }
    : { name, version: "1.0.0" }

describe.each(["rich", "evidence"] as const)("Models.create (%s profile)", (profile) => {
  const sandbox = useSandbox({ seed: "none", profile })

  it.scopedLive("create with a multi-chunk file sends exactly the official SDK's requests; the model's file downloads back byte-identical", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const { bytes, file } = modelFile(3 * MiB + 17)
      const recorded = recordCreates()
      const models = yield* writes(sb, recorded.transformClient)
      const progress: Array<string> = []
      yield* resetStats(sb)
      const model = yield* models.create(
        { ...dataFor(profile, "with file"), file, framework: "pytorch" },
        { upload: { chunkSize: MiB, onProgress: (e) => progress.push(e.phase) } }
      )
      const { "GET _sandbox/stats": _stats, ...routes } = (yield* stats(sb)).requests_by_route
      expect(routes).toStrictEqual({
        "PUT chunked_upload/": 1,
        "PUT chunked_upload/{id}/": 3,
        "POST chunked_upload/{id}/": 1,
        "POST models/": 1
      })
      // The caller's data as given, without `file`, plus the upload's id with its own type.
      const { chunked_upload: uploadId, ...sent } = recorded.bodies[0]!
      expect(sent).toStrictEqual({ ...dataFor(profile, "with file"), framework: "pytorch" })
      expect(typeof uploadId).toBe(profile === "evidence" ? "number" : "string")
      expect(progress).toContain("finalizing")
      expect(model.name).toBe("with file")
      const stored = new Uint8Array(yield* Effect.promise(() => fetch(model.file!).then((r) => r.arrayBuffer())))
      expect(stored.length).toBe(bytes.length)
      expect(md5(stored)).toBe(md5(bytes))
      expect(modelsNamed(sb, "with file")).toHaveLength(1)
    }))

  it.scopedLive("a create whose upload process was killed (SIGKILL) resumes the upload and registers the model once", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const { bytes, file } = modelFile(6 * MiB + 3)
      // The same state directory as the SDK layer's, so the create finds the killed upload.
      const stateDir = path.join(work, "state")
      yield* killUploadMidway(sb, file, stateDir, { chunkSize: MiB, killAfter: 2 * MiB, faultSeed: FAULT_SEED })

      const models = yield* writes(sb)
      yield* resetStats(sb)
      const model = yield* models.create({ ...dataFor(profile, "resumed upload"), file }, {
        upload: { chunkSize: MiB }
      })
      const after = yield* stats(sb)
      // Only what the killed process had not sent crossed the wire again (give or take the chunk
      // acknowledged just before the kill, which the evidence profile then refuses unread).
      expect(after.upload_bytes_received).toBeLessThanOrEqual(bytes.length - MiB)
      expect(after.requests_by_route["POST models/"]).toBe(1)
      expect(after.requests_by_route["GET models/"]).toBeUndefined()
      expect(modelsNamed(sb, "resumed upload").map((m) => m.id)).toStrictEqual([model.id])
      const stored = new Uint8Array(yield* Effect.promise(() => fetch(model.file!).then((r) => r.arrayBuffer())))
      expect(md5(stored)).toBe(md5(bytes))
    }))

  it.scopedLive("create without a file registers a model with no file, with one request", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const models = yield* writes(sb)
      yield* resetStats(sb)
      const model = yield* models.create(dataFor(profile, "no file"))
      expect(model.file ?? null).toBeNull()
      expect((yield* stats(sb)).requests_by_route["POST models/"]).toBe(1)
      expect(modelsNamed(sb, "no file")).toStrictEqual([{ id: model.id, file_media: null }])
    }))

  it.scopedLive("each kind of invalid data fails before any request (and before any upload)", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const models = yield* writes(sb)
      const file = path.join(work, "never-sent.bin")
      fs.writeFileSync(file, randomBytes(1000))
      yield* resetStats(sb)
      const base = dataFor("rich", "bad")
      const cases: Array<[unknown, Record<string, unknown>]> = [
        [{ ...base, name: undefined }, { field: "data.name" }],
        [{ ...base, name: "" }, { field: "data.name" }],
        [{ ...base, project: -3 }, { field: "data.project" }],
        [{ ...base, project: "123" }, { field: "data.project" }],
        [{ ...base, model_type: "regression" }, {
          field: "data.model_type",
          allowed: ["classification", "detection", "segmentation"]
        }],
        [{ ...base, metrics: { accuracy: "0.92" } }, { field: "data.metrics.accuracy" }],
        [{ ...base, metrics: { accuracy: Number.NaN } }, { field: "data.metrics.accuracy" }],
        [{ ...base, configuration: [1, 2] }, { field: "data.configuration" }],
        [{ ...base, is_active: "yes" }, { field: "data.is_active" }],
        [{ ...base, plugin: "seven" }, { field: "data.plugin" }],
        [{ ...base, chunked_upload: 7 }, { field: "data.chunked_upload" }],
        [{ ...base, extra: 10n }, { field: "data.extra" }],
        [{ ...base, extra: () => 1 }, { field: "data.extra" }],
        [{ ...base, file: path.join(work, "missing.bin") }, { field: "file" }],
        [{ ...base, file: work }, { field: "file" }]
      ]
      for (const [data, expected] of cases) {
        const given = data as Record<string, unknown>
        const error = yield* Effect.flip(
          models.create({ ...given, file: given.file ?? file } as Models.ModelCreateInput)
        )
        expect(
          { _tag: error._tag, field: (error as { field?: string }).field, status: error.status_code },
          String(Object.keys(given))
        )
          .toMatchObject({ _tag: "ValidationError", status: undefined, ...("allowed" in expected ? {} : expected) })
        if ("allowed" in expected) expect(error).toMatchObject(expected)
      }
      const after = yield* stats(sb)
      expect(after.requests).toBe(1) // the stats call itself
      expect(after.upload_bytes_received).toBe(0)
    }))

  it.scopedLive("a lost answer to a create with a file: the model holding this upload's file is the one created", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const { file } = modelFile(MiB + 5)
      const lost = loseFirstAnswer(sb, { matches: isModelsPost, paths: "/models/", randSeed: FAULT_SEED })
      const models = yield* writes(sb, lost.transformClient)
      yield* resetStats(sb)
      const model = yield* models.create({ ...dataFor(profile, "lost with file"), file }, {
        upload: { chunkSize: MiB }
      })
      const after = yield* stats(sb)
      expect(lost.phase()).toBe("done")
      expect(after.faults_injected.loseResponse).toBe(1)
      expect(after.requests_by_route["POST models/"]).toBe(1)
      expect(modelsNamed(sb, "lost with file").map((m) => m.id)).toStrictEqual([model.id])
    }))

  it.scopedLive("a lost answer to a create without a file: decided by created_at (rich), else OutcomeUnknownError naming the candidate", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const lost = loseFirstAnswer(sb, { matches: isModelsPost, paths: "/models/", randSeed: FAULT_SEED })
      const models = yield* writes(sb, lost.transformClient)
      yield* resetStats(sb)
      const outcome = yield* Effect.either(models.create(dataFor(profile, "lost answer")))
      const existing = modelsNamed(sb, "lost answer").map((m) => m.id)
      expect(existing).toHaveLength(1)
      expect((yield* stats(sb)).requests_by_route["POST models/"]).toBe(1)
      if (profile === "rich") {
        expect(outcome._tag === "Right" && outcome.right.id).toBe(existing[0])
      } else {
        // The evidence's models say nothing of when they were created: the one found may have
        // existed before, so the SDK says what to check rather than guess.
        expect(outcome._tag).toBe("Left")
        const error = outcome._tag === "Left" ? outcome.left : undefined
        expect(error).toMatchObject({ _tag: "OutcomeUnknownError", candidates: existing, method: "POST" })
        expect(error?.detail).toContain("check the models named \"lost answer\" before creating it again")
      }
    }))

  it.scopedLive("a 201 whose body is cut short is never sent again: the listing says which model it created", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const { file } = modelFile(2000)
      const cut = faultFirst(sb, { matches: isModelsPost, spec: "truncate=1,paths=/models/", randSeed: FAULT_SEED })
      const models = yield* writes(sb, cut.transformClient)
      const truncatedBefore = (yield* resetStats(sb)).faults_injected.truncate
      const model = yield* models.create({ ...dataFor(profile, "cut short"), file })
      const after = yield* stats(sb)
      expect(after.faults_injected.truncate - truncatedBefore).toBe(1)
      expect(after.requests_by_route["POST models/"]).toBe(1)
      expect(modelsNamed(sb, "cut short").map((m) => m.id)).toStrictEqual([model.id])
    }))

  it.scopedLive("a create refused with a 5xx before it was performed is sent again once: one model", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const failed = faultFirst(sb, { matches: isModelsPost, spec: "status5xx=1,paths=/models/", randSeed: FAULT_SEED })
      const models = yield* writes(sb, failed.transformClient)
      yield* resetStats(sb)
      const model = yield* models.create(dataFor(profile, "not performed"))
      const after = yield* stats(sb)
      expect(after.faults_injected.status5xx).toBe(1)
      expect(after.requests_by_route["POST models/"]).toBe(1) // the injected 5xx never reached the route
      expect(after.requests_by_route["GET models/"]).toBe(1) // the check
      expect(modelsNamed(sb, "not performed").map((m) => m.id)).toStrictEqual([model.id])
    }))

  it.scopedLive("under random lost, cut or reset answers and 5xx on models/, no create ever registers a second model", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const models = yield* writes(sb)
      const names = Array.from({ length: 10 }, (_, i) => `flaky ${i}`)
      const files = names.map(() => modelFile(1000).file)
      const before = (yield* stats(sb)).faults_injected
      yield* setFaults(sb, "loseResponse=0.25,status5xx=0.15,truncate=0.1,reset=0.1,paths=/models/", FAULT_SEED)
      const outcomes = yield* Effect.forEach(
        names,
        (name, i) =>
          Effect.either(models.create({ ...dataFor(profile, name), ...(i % 2 === 0 ? { file: files[i]! } : {}) }))
      ).pipe(
        Effect.ensuring(setFaults(sb, "", FAULT_SEED))
      )
      const injected = (yield* stats(sb)).faults_injected
      expect(injected.loseResponse - before.loseResponse).toBeGreaterThan(0)
      expect(injected.status5xx - before.status5xx).toBeGreaterThan(0)
      expect(injected.truncate - before.truncate + injected.reset - before.reset).toBeGreaterThan(0)
      for (const [i, name] of names.entries()) {
        const existing = modelsNamed(sb, name).map((m) => m.id)
        const outcome = outcomes[i]!
        expect(existing.length, name).toBeLessThanOrEqual(1)
        if (outcome._tag === "Right") expect(existing, name).toStrictEqual([outcome.right.id])
        else expect(outcome.left, name).toMatchObject({ _tag: "OutcomeUnknownError", candidates: existing })
      }
      // Creates with a file are always decided: the model holding the upload's file is the one.
      for (let i = 0; i < names.length; i += 2) expect(outcomes[i]!._tag, names[i]).toBe("Right")
      if (profile === "rich") expect(outcomes.every((o) => o._tag === "Right")).toBe(true)
    }))
})

describe("Models.create after a lost answer, on the rich profile's created_at", () => {
  const sandbox = useSandbox({ seed: "none" })

  /** What these creates send: exactly what `olderModel` stores, so only `created_at` tells them apart. */
  const minimal = (name: string): Models.ModelCreateInput => ({ name, model_type: "detection", project: 1 })

  /** A model named `name` created `agoMs` before now, written straight into the database. */
  const olderModel = (sb: TestSandbox, name: string, agoMs: number) => {
    const db = sb.openDb()
    try {
      db.prepare(
        "INSERT INTO models (name, model_type, project, created_at, is_active) VALUES (?, 'detection', 1, ?, 0)"
      )
        .run(name, new Date(Date.now() - agoMs).toISOString().replace(/\.\d{3}Z$/, "Z"))
    } finally {
      db.close()
    }
  }

  it.scopedLive("a namesake created long before is not the one: a performed create is found, an unperformed one sent again", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const data = minimal("namesake")
      olderModel(sb, "namesake", 3600_000)
      const lost = loseFirstAnswer(sb, { matches: isModelsPost, paths: "/models/", randSeed: FAULT_SEED })
      const found = yield* Effect.flatMap(writes(sb, lost.transformClient), (m) => m.create(data))
      const namesakes = modelsNamed(sb, "namesake").map((m) => m.id)
      expect(namesakes).toHaveLength(2)
      expect(namesakes[1]).toBe(found.id)

      olderModel(sb, "namesake 2", 3600_000)
      const failed = faultFirst(sb, { matches: isModelsPost, spec: "status5xx=1,paths=/models/", randSeed: FAULT_SEED })
      const resent = yield* Effect.flatMap(writes(sb, failed.transformClient), (m) => m.create(minimal("namesake 2")))
      const namesakes2 = modelsNamed(sb, "namesake 2").map((m) => m.id)
      expect(namesakes2).toHaveLength(2)
      expect(namesakes2[1]).toBe(resent.id)
    }))

  it.scopedLive("a namesake created within the clock-skew allowance makes the outcome unknown", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      olderModel(sb, "recent namesake", 60_000)
      const lost = loseFirstAnswer(sb, { matches: isModelsPost, paths: "/models/", randSeed: FAULT_SEED })
      const error = yield* Effect.flip(
        Effect.flatMap(writes(sb, lost.transformClient), (m) => m.create(minimal("recent namesake")))
      )
      const existing = modelsNamed(sb, "recent namesake").map((m) => m.id)
      expect(existing).toHaveLength(2)
      expect(error).toMatchObject({ _tag: "OutcomeUnknownError", candidates: existing })
    }))

  it.scopedLive("a backend that ignores the listing's filters is checked on the client", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const models = yield* writes(sb)
      for (const name of ["other a", "other b", "other c"]) yield* models.create(dataFor("rich", name))
      const lost = loseFirstAnswer(sb, { matches: isModelsPost, paths: "/models/", randSeed: FAULT_SEED })
      const gets: Array<string> = []
      const ignoreFilters = (client: HttpClient.HttpClient) =>
        HttpClient.mapRequest(lost.transformClient(client), (request) => {
          if (request.method !== "GET" || !request.url.includes("/models/")) return request
          const url = new URL(request.url)
          url.searchParams.delete("name")
          url.searchParams.delete("project")
          url.searchParams.set("page_size", "2")
          gets.push(url.toString())
          return HttpClientRequest.setUrl(request, url.toString())
        })
      const created = yield* Effect.flatMap(writes(sb, ignoreFilters), (m) => m.create(dataFor("rich", "unfiltered")))
      expect(gets.length).toBeGreaterThan(1) // every page of every model was read
      expect(modelsNamed(sb, "unfiltered").map((m) => m.id)).toStrictEqual([created.id])
    }))
})

describe("Models.create after a lost answer, with more models than the check reads", () => {
  it.scopedLive("fails with OutcomeUnknownError instead of reading without bound, and sends nothing again", () =>
    Effect.acquireUseRelease(
      Effect.promise(() =>
        startTestSandbox({
          seed: "none",
          fixture: (db) => {
            const insert = db.prepare(
              "INSERT INTO models (name, model_type, project, created_at, is_active) VALUES (?, 'detection', 1, ?, 0)"
            )
            const at = new Date(Date.now() - 3600_000).toISOString()
            db.transaction(() => {
              for (let i = 0; i < MAX_LOOKUP_PAGES * 100 + 1; i++) insert.run(`bulk ${i}`, at)
            })()
          }
        })
      ),
      (sb) =>
        Effect.gen(function*() {
          const lost = loseFirstAnswer(sb, { matches: isModelsPost, paths: "/models/", randSeed: FAULT_SEED })
          // A backend ignoring the `name` filter answers every model.
          const ignoreName = (client: HttpClient.HttpClient) =>
            HttpClient.mapRequest(lost.transformClient(client), (request) => {
              if (request.method !== "GET") return request
              const url = new URL(request.url)
              url.searchParams.delete("name")
              return HttpClientRequest.setUrl(request, url.toString())
            })
          yield* resetStats(sb)
          const error = yield* Effect.flip(
            Effect.flatMap(writes(sb, ignoreName), (m) => m.create(dataFor("rich", "crowded")))
          )
          expect(error).toMatchObject({ _tag: "OutcomeUnknownError" })
          expect(error.detail).toContain(`more than the ${MAX_LOOKUP_PAGES} pages`)
          const routes = (yield* stats(sb)).requests_by_route
          expect(routes["POST models/"]).toBe(1)
          expect(routes["GET models/"]).toBeLessThanOrEqual(MAX_LOOKUP_PAGES)
          expect(modelsNamed(sb, "crowded")).toHaveLength(1)
        }),
      (sb) => Effect.promise(() => sb.close())
    ))
})

describe("Models update and setActive (rich profile)", () => {
  const sandbox = useSandbox({ seed: "none" })

  it.scopedLive("update patches fields; setActive switches is_active; bad input is refused before any request", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const models = yield* writes(sb)
      const model = yield* models.create(dataFor("rich", "to update"))
      const updated = yield* models.update(model.id, {
        description: "better",
        metrics: { accuracy: 0.95 },
        version: "3"
      })
      expect(updated).toMatchObject({
        id: model.id,
        description: "better",
        metrics: { accuracy: 0.95 },
        version: "3",
        is_active: true
      })
      const inactive = yield* models.setActive(model.id, false)
      expect(inactive.is_active).toBe(false)
      const listed = yield* sandboxJson(sb, `/api/v1/models/?name=${encodeURIComponent("to update")}`)
      expect(listed.results[0].is_active).toBe(false)
      expect((yield* models.setActive(model.id, true)).is_active).toBe(true)

      yield* resetStats(sb)
      expect(yield* Effect.flip(models.update(-1, { is_active: true }))).toMatchObject({
        _tag: "ValidationError",
        field: "id"
      })
      expect(yield* Effect.flip(models.update(model.id, { model_type: "detection" } as never))).toMatchObject({
        _tag: "ValidationError",
        field: "model_type"
      })
      expect(yield* Effect.flip(models.update(model.id, { metrics: { accuracy: "high" } } as never))).toMatchObject({
        _tag: "ValidationError",
        field: "patch.metrics.accuracy"
      })
      expect(yield* Effect.flip(models.setActive(model.id, "no" as never))).toMatchObject({
        _tag: "ValidationError",
        field: "active"
      })
      expect((yield* stats(sb)).requests).toBe(1)

      const missing = yield* Effect.flip(models.setActive(999999, false))
      expect(missing).toMatchObject({ _tag: "NotFoundError", status_code: 404 })
    }))
})
