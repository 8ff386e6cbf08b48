/**
 * The write side of Models against a real sandbox: create with a file that downloads back
 * byte-identical, every kind of invalid data refused before any request, a lost POST answer that
 * still registers exactly one model, update and setActive.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Schedule } from "effect"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import * as Models from "../../src/services/Models.js"
import { type TestSandbox, useSandbox } from "../support/sandbox.js"
import { loseFirstAnswer, resetStats, sandboxJson, setFaults, stats } from "../support/sandboxAdmin.js"
import { sdkLayer } from "../support/sdk.js"

const MiB = 1024 * 1024
const work = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-models-write-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex")
const fastRetry = Schedule.spaced("5 millis").pipe(Schedule.intersect(Schedule.recurs(20)))

/** Which requests the fault spec hits, fixed so that a failure reproduces. */
const FAULT_SEED = 11
const modelsNamed = (sb: TestSandbox, name: string) =>
  sandboxJson(sb, `/api/v1/models/?name=${encodeURIComponent(name)}&page_size=100`)

/**
 * The Models service over a client for `sb` (`transformClient` lets a test act around requests),
 * built in the test's scope: the service holds the transport, which its layer closes with the scope
 * (undici refuses every request after that with UND_ERR_DESTROYED), so it must not outlive it.
 */
const writes = (sb: TestSandbox, transformClient?: (client: HttpClient.HttpClient) => HttpClient.HttpClient) =>
  Layer.build(sdkLayer(sb, work, { retry: fastRetry, transformClient })).pipe(Effect.map(Context.get(Models.Models)))

const base: Models.ModelCreateInput = {
  name: "Object Detection Model v2",
  description: "Improved object detection with better accuracy",
  model_type: "detection",
  project: 1,
  metrics: { accuracy: 0.92, precision: 0.89, recall: 0.94, f1_score: 0.91 },
  configuration: { input_size: [640, 640], num_classes: 10, framework: "pytorch" }
}

describe("Models write operations", () => {
  const sandbox = useSandbox({ seed: "none" })

  it.scopedLive("create uploads the file and registers a model whose file downloads back byte-identical", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const bytes = randomBytes(2 * MiB + 17)
      const file = path.join(work, "model.pkl")
      fs.writeFileSync(file, bytes)
      const models = yield* writes(sb)
      const progress: Array<string> = []
      const model = yield* models.create(
        { ...base, name: "with file", file, is_active: false, version: "2.0.0" },
        { upload: { chunkSize: MiB, onProgress: (e) => progress.push(e.phase) } }
      )
      expect(model).toMatchObject({
        name: "with file",
        model_type: "detection",
        project: 1,
        is_active: false,
        version: "2.0.0",
        metrics: base.metrics,
        configuration: base.configuration
      })
      expect(progress).toContain("finalizing")
      const stored = new Uint8Array(yield* Effect.promise(() => fetch(model.file!).then((r) => r.arrayBuffer())))
      expect(stored.length).toBe(bytes.length)
      expect(md5(stored)).toBe(md5(bytes))
    }))

  it.scopedLive("create without a file registers a model with no file", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const model = yield* Effect.flatMap(writes(sb), (m) => m.create({ ...base, name: "no file" }))
      expect(model.file ?? null).toBeNull()
      expect(model.is_active).toBe(true)
    }))

  it.scopedLive("each kind of invalid data fails before any request (and before any upload)", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const models = yield* writes(sb)
      const file = path.join(work, "never-sent.bin")
      fs.writeFileSync(file, randomBytes(1000))
      yield* resetStats(sb)
      const { name: _name, ...noName } = base
      const { project: _project, ...noProject } = base
      const { model_type: _type, ...noType } = base
      const cases: Array<[unknown, Record<string, unknown>]> = [
        [noName, { field: "data.name" }],
        [{ ...base, name: "" }, { field: "data.name" }],
        [noProject, { field: "data.project" }],
        [{ ...base, project: -3 }, { field: "data.project" }],
        [{ ...base, project: "123" }, { field: "data.project" }],
        [noType, { field: "data.model_type" }],
        [{ ...base, model_type: "regression" }, { field: "data.model_type", allowed: ["classification", "detection", "segmentation"] }],
        [{ ...base, metrics: { accuracy: "0.92" } }, { field: "data.metrics.accuracy" }],
        [{ ...base, metrics: { accuracy: Number.NaN } }, { field: "data.metrics.accuracy" }],
        [{ ...base, configuration: [1, 2] }, { field: "data.configuration" }],
        [{ ...base, is_active: "yes" }, { field: "data.is_active" }],
        [{ ...base, type: "detection" }, { field: "type" }],
        [{ ...base, file: path.join(work, "missing.bin") }, { field: "file" }]
      ]
      for (const [data, expected] of cases) {
        const error = yield* Effect.flip(models.create({ ...(data as Models.ModelCreateInput), file: (data as any).file ?? file }))
        expect(error, JSON.stringify(data)).toMatchObject({ _tag: "ValidationError", ...expected })
        expect(error.status_code).toBeUndefined()
      }
      const after = yield* stats(sb)
      expect(after.requests).toBe(1) // the stats call itself
      expect(after.upload_bytes_received).toBe(0)
    }))

  it.scopedLive("a POST whose answer is lost registers exactly one model", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      // The first POST models/ meets the sandbox's loseResponse fault (performed, then the socket is
      // destroyed); faults are switched off again before the next request, the lookup.
      const lost = loseFirstAnswer(sb, {
        matches: (request) => request.method === "POST" && new URL(request.url).pathname.endsWith("/models/"),
        paths: "/models/",
        randSeed: FAULT_SEED
      })
      const models = yield* writes(sb, lost.transformClient)
      yield* resetStats(sb)
      const model = yield* models.create({ ...base, name: "lost answer" })
      const after = yield* stats(sb)
      expect(lost.phase()).toBe("done")
      expect(after.faults_injected.loseResponse).toBe(1)
      expect(after.requests_by_route["POST models/"]).toBe(1)
      const listed = yield* modelsNamed(sb, "lost answer")
      expect(listed.count).toBe(1)
      expect(listed.results[0].id).toBe(model.id)
    }))

  it.scopedLive("under random lost answers and 5xx on models/, every create registers exactly one model", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const models = yield* writes(sb)
      yield* resetStats(sb)
      yield* setFaults(sb, "loseResponse=0.3,status5xx=0.2,paths=/models/", FAULT_SEED)
      const names = Array.from({ length: 6 }, (_, i) => `flaky ${i}`)
      const created = yield* Effect.forEach(names, (name) => models.create({ ...base, name })).pipe(
        Effect.ensuring(setFaults(sb, "", FAULT_SEED))
      )
      const injected = (yield* stats(sb)).faults_injected
      expect(injected.loseResponse).toBeGreaterThan(0)
      expect(injected.status5xx).toBeGreaterThan(0)
      for (const [i, name] of names.entries()) {
        const listed = yield* modelsNamed(sb, name)
        expect(listed.count, name).toBe(1)
        expect(listed.results[0].id).toBe(created[i]!.id)
      }
    }))

  it.scopedLive("update patches fields; setActive switches is_active; bad input is refused before any request", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const models = yield* writes(sb)
      const model = yield* models.create({ ...base, name: "to update" })
      const updated = yield* models.update(model.id, { description: "better", metrics: { accuracy: 0.95 }, version: "3" })
      expect(updated).toMatchObject({ id: model.id, description: "better", metrics: { accuracy: 0.95 }, version: "3", is_active: true })
      const inactive = yield* models.setActive(model.id, false)
      expect(inactive.is_active).toBe(false)
      const listed = yield* modelsNamed(sb, "to update")
      expect(listed.results[0].is_active).toBe(false)
      expect((yield* models.setActive(model.id, true)).is_active).toBe(true)

      yield* resetStats(sb)
      expect(yield* Effect.flip(models.update(-1, { is_active: true }))).toMatchObject({ _tag: "ValidationError", field: "id" })
      expect(yield* Effect.flip(models.update(model.id, { model_type: "detection" } as never))).toMatchObject({ _tag: "ValidationError", field: "model_type" })
      expect(yield* Effect.flip(models.update(model.id, { metrics: { accuracy: "high" } } as never))).toMatchObject({ _tag: "ValidationError", field: "patch.metrics.accuracy" })
      expect(yield* Effect.flip(models.setActive(model.id, "no" as never))).toMatchObject({ _tag: "ValidationError", field: "active" })
      expect((yield* stats(sb)).requests).toBe(1)

      const missing = yield* Effect.flip(models.setActive(999999, false))
      expect(missing).toMatchObject({ _tag: "NotFoundError", status_code: 404 })
    }))
})
