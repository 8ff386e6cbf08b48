/**
 * deployModel against a real sandbox (no demo data: every model here is registered by the test, so
 * active sets are known). Failures between steps are injected by a small HTTP proxy in front of the
 * sandbox that refuses one chosen request, so the SDK meets a real failed answer on a real socket.
 */
import { Effect, Either, Schedule } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { Models } from "../../src/services/Models.js"
import * as Synapse from "../../src/services/Synapse.js"
import { type DeployInput, deployModel, DeployResult, rollbackDeployment } from "../../src/workflows/Deploy.js"
import { call } from "../support/http.js"
import { type TestSandbox, useSandbox } from "../support/sandbox.js"
import { setFaults, stats } from "../support/sandboxAdmin.js"
import { expectDescribed } from "../support/schema.js"
import { runEither, sdkLayer } from "../support/sdk.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-deploy-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

const layerFor = (baseUrl: string, token: string) =>
  sdkLayer({ url: baseUrl, token }, work, {
    // setActive is idempotent and retried: keep the injected failures' retries fast.
    retry: Schedule.spaced("5 millis").pipe(Schedule.intersect(Schedule.recurs(3)))
  })

const run = <A, E>(baseUrl: string, token: string, effect: Effect.Effect<A, E, Synapse.Services>) =>
  runEither(layerFor(baseUrl, token), effect)

/** A proxy to the sandbox that answers 500 to every request `refuse` picks, instead of forwarding it. */
const startProxy = async (target: string, refuse: (method: string, url: string, body: string) => boolean) => {
  const refused: Array<string> = []
  const server = http.createServer((req, res) => {
    const parts: Array<Buffer> = []
    req.on("data", (c: Buffer) => parts.push(c))
    req.on("end", async () => {
      const body = Buffer.concat(parts)
      if (refuse(req.method ?? "", req.url ?? "", body.toString("utf8"))) {
        refused.push(`${req.method} ${req.url} ${body.toString("utf8")}`)
        res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ detail: "injected failure" }))
        return
      }
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(req.headers)) {
        // fetch sets framing headers itself.
        if (
          typeof v === "string" &&
          !["host", "content-length", "connection", "transfer-encoding", "keep-alive"].includes(k)
        ) headers[k] = v
      }
      const answer = await fetch(`${target}${req.url}`, {
        method: req.method ?? "GET",
        headers,
        ...(body.length > 0 ? { body } : {})
      }).catch(() => undefined)
      if (answer === undefined) {
        res.writeHead(502).end()
        return
      }
      const out = Buffer.from(await answer.arrayBuffer())
      const outHeaders: Record<string, string> = {}
      answer.headers.forEach((v, k) => {
        if (k !== "content-encoding" && k !== "transfer-encoding" && k !== "content-length") outHeaders[k] = v
      })
      res.writeHead(answer.status, outHeaders).end(out)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}/api/v1`,
    refused,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

type Proxy = Awaited<ReturnType<typeof startProxy>>

/** Runs `body` with a refusing proxy in front of the sandbox, closing the proxy however it ends. */
const withProxy = async (
  target: string,
  refuse: Parameters<typeof startProxy>[1],
  body: (proxy: Proxy) => Promise<void>
) => {
  const proxy = await startProxy(target, refuse)
  try {
    await body(proxy)
  } finally {
    await proxy.close()
  }
}

/** Picks the PATCH that deactivates `model`. */
const demotionOf = (model: number) => (method: string, url: string, body: string) =>
  method === "PATCH" && url.endsWith(`/models/${model}/`) && body.includes("false")

const modelsOf = async (sb: TestSandbox, project: number) =>
  (await call(`${sb.url}/models/?project=${project}&page_size=1000&ordering=id`, { headers: sb.headers })).body
    .results as Array<any>
const activeOf = async (sb: TestSandbox, project: number) =>
  (await modelsOf(sb, project)).filter((m) => m.is_active).map((m) => m.id)

/** Registers models in `project` with the given metrics and activity; answers their ids. */
const register = async (
  sb: TestSandbox,
  project: number,
  specs: Array<
    { name: string; metrics: Record<string, number>; active: boolean; type?: "detection" | "classification" }
  >
) => {
  const r = await run(
    sb.url,
    sb.token,
    Effect.gen(function*() {
      const models = yield* Models
      return yield* Effect.forEach(
        specs,
        (s) =>
          models.create({
            name: s.name,
            model_type: s.type ?? "detection",
            project,
            metrics: s.metrics,
            is_active: s.active
          }).pipe(
            Effect.map((m) => m.id)
          )
      )
    })
  )
  if (Either.isLeft(r)) throw r.left
  return r.right
}

const config = (project: number, extra: Partial<DeployInput> = {}): DeployInput => ({
  name: "Production Object Detector v3",
  description: "Latest object detection model for production",
  type: "detection",
  project_id: project,
  metrics: { accuracy: 0.94, mAP: 0.87 },
  configuration: { input_size: [640, 640], confidence_threshold: 0.5 },
  replace_active: true,
  ...extra
})

describe("deployModel", () => {
  const sandbox = useSandbox({ seed: "none" })

  it("plans without changing anything in a dry run", async () => {
    const sb = sandbox()
    const [a, b] = await register(sb, 1, [
      { name: "dry A", metrics: { mAP: 0.8 }, active: true },
      { name: "dry B", metrics: { mAP: 0.85 }, active: true }
    ])
    const before = await modelsOf(sb, 1)
    const r = await run(
      sb.url,
      sb.token,
      deployModel(config(1, { dry_run: true, gate: { against: "active", metric: "mAP", min_improvement: 0.01 } }))
    )
    if (Either.isLeft(r)) throw r.left
    expect(r.right.status).toBe("planned")
    expectDescribed(DeployResult, r.right)
    expect(r.right.plan.wouldDeactivate.map((m) => m.id)).toStrictEqual([a, b])
    expect(r.right.plan.gate).toMatchObject({
      passed: true,
      baseline: { model: { id: b }, value: 0.85 },
      candidate: 0.87
    })
    expect(r.right.plan.gate?.improvement).toBeCloseTo(0.02, 12)
    expect(r.right.plan.steps).toHaveLength(5)
    expect(await modelsOf(sb, 1)).toStrictEqual(before)
  })

  it("replaces the active models, uploading the file, and leaves exactly one active", async () => {
    const sb = sandbox()
    const [, , , classifier] = await register(sb, 2, [
      { name: "old A", metrics: { mAP: 0.8 }, active: true },
      { name: "old B", metrics: { mAP: 0.7 }, active: true },
      { name: "old C", metrics: { mAP: 0.6 }, active: false },
      { name: "classifier", metrics: { accuracy: 0.9 }, active: true, type: "classification" }
    ])
    // Project scope would also switch off the classifier (the seed's behaviour); type scope does not.
    const wide = await run(sb.url, sb.token, deployModel(config(2, { dry_run: true, scope: "project" })))
    if (Either.isLeft(wide)) throw wide.left
    expect(wide.right.plan.wouldDeactivate.map((m) => m.id)).toContain(classifier)
    const file = path.join(work, "model.pkl")
    fs.writeFileSync(file, Buffer.alloc(300_000, 7))
    const seen: Array<string> = []
    const r = await run(
      sb.url,
      sb.token,
      deployModel(config(2, { model_path: file, version: "3.0.0" }), { onStep: (s) => seen.push(s) })
    )
    if (Either.isLeft(r)) throw r.left
    const id = r.right.model!.id
    expect(r.right.status).toBe("deployed")
    expectDescribed(DeployResult, r.right)
    expect(r.right.steps.map((s) => `${s.step}:${s.status}`)).toStrictEqual([
      "create:done",
      "activate:done",
      "deactivate:done",
      "deactivate:done",
      "verify:done"
    ])
    expect(seen).toStrictEqual(["create", "activate", "deactivate", "deactivate", "verify"])
    expect(r.right.activeAfter).toStrictEqual([id])
    expect(await activeOf(sb, 2)).toStrictEqual([id, classifier].sort((x, y) => x - y))
    const stored = (await call(`${sb.url}/models/${id}/?include_file=true`, { headers: sb.headers })).body
    expect(stored).toMatchObject({
      name: "Production Object Detector v3",
      version: "3.0.0",
      metrics: { mAP: 0.87 },
      file_info: { size: 300_000 }
    })
  })

  it("rejects by the gate without changing anything, and refuses a gate metric the active model lacks", async () => {
    const sb = sandbox()
    const [a] = await register(sb, 3, [{ name: "gate A", metrics: { mAP: 0.9, loss: 0.1 }, active: true }])
    const before = await modelsOf(sb, 3)
    const rejected = await run(sb.url, sb.token, deployModel(config(3, { gate: { against: "active", metric: "mAP" } })))
    if (Either.isLeft(rejected)) throw rejected.left
    expect(rejected.right.status).toBe("gate_rejected")
    expect(rejected.right.plan.gate).toMatchObject({ passed: false, baseline: { model: { id: a } } })
    // loss is lower-is-better: 0.05 beats 0.1.
    const lossGate = await run(
      sb.url,
      sb.token,
      deployModel(config(3, { dry_run: true, metrics: { loss: 0.05 }, gate: { against: "active", metric: "loss" } }))
    )
    if (Either.isLeft(lossGate)) throw lossGate.left
    expect(lossGate.right.plan.gate).toMatchObject({ direction: "lower", passed: true })
    const lacking = await run(
      sb.url,
      sb.token,
      deployModel(config(3, { metrics: { f1: 0.9 }, gate: { against: "active", metric: "f1" } }))
    )
    expect(Either.isLeft(lacking) && lacking.left._tag).toBe("DeployPreconditionError")
    expect(Either.isLeft(lacking) && lacking.left.message).toMatch(/active model .*lacks.*nothing was changed/)
    const noName = await run(sb.url, sb.token, deployModel(config(3, { name: "" })))
    expect(Either.isLeft(noName) && noName.left.message).toMatch(/name: must not be empty/)
    const noMetric = await run(sb.url, sb.token, deployModel(config(3, { gate: { against: "active", metric: "" } })))
    expect(Either.isLeft(noMetric) && noMetric.left.message).toMatch(/gate\.metric: must be a metric name, not empty/)
    expect(await modelsOf(sb, 3)).toStrictEqual(before)
  })

  it("refuses a project that does not exist before changing anything", async () => {
    const sb = sandbox()
    const count = async () => (await call(`${sb.url}/models/?page_size=1`, { headers: sb.headers })).body.count
    const before = await count()
    for (const dry of [true, false]) {
      const r = await run(sb.url, sb.token, deployModel(config(999, { dry_run: dry })))
      expect(Either.isLeft(r) && r.left._tag).toBe("DeployPreconditionError")
      expect(Either.isLeft(r) && r.left.message).toBe("project 999 does not exist (nothing was changed)")
    }
    expect(await count()).toBe(before)
  })

  it("reports a failure between steps precisely, never leaves zero active, and rolls back", async () => {
    const sb = sandbox()
    const [a, b] = await register(sb, 1, [
      { name: "fail A", metrics: { mAP: 0.5 }, active: true },
      { name: "fail B", metrics: { mAP: 0.5 }, active: true }
    ])
    const original = await activeOf(sb, 1)
    expect(original).toEqual(expect.arrayContaining([a, b]))
    // Refuse the demotion of B: A is demoted already, the new model is active.
    await withProxy(sb.origin, demotionOf(b), async (proxy) => {
      const r = await run(proxy.url, sb.token, deployModel(config(1)))
      expect(Either.isLeft(r)).toBe(true)
      if (Either.isRight(r) || r.left._tag !== "DeploymentFailed") throw new Error("expected DeploymentFailed")
      const failure = r.left
      const created = failure.createdModelId!
      const others = original.filter((id) => id !== a && id !== b)
      expect(failure.steps.map((s) => `${s.step}:${s.modelId}:${s.status}`)).toStrictEqual([
        `create:${created}:done`,
        `activate:${created}:done`,
        ...[a, b, ...others].sort((x, y) => x - y).map((id) =>
          `deactivate:${id}:${id < b ? "done" : id === b ? "failed" : "not_run"}`
        ),
        "verify:null:not_run"
      ])
      expect(failure.message).toMatch(/failed at step \d+ \(deactivate\)/)
      expect(failure.message).toMatch(/injected failure/)
      const demoted = original.filter((id) => id < b)
      expect(failure.rollback).toStrictEqual({ project_id: 1, reactivate: demoted, deactivate: [created] })
      // Never zero active: the new model and B are active at the moment of failure.
      expect(await activeOf(sb, 1)).toEqual(expect.arrayContaining([created, b]))
      // Only B's demotion was refused (once per attempt: setActive is idempotent, hence retried).
      expect(proxy.refused.length).toBeGreaterThanOrEqual(1)
      for (const r of proxy.refused) expect(r).toMatch(new RegExp(`^PATCH /api/v1/models/${b}/ `))

      const undone = await run(sb.url, sb.token, rollbackDeployment(failure.rollback!))
      if (Either.isLeft(undone)) throw undone.left
      expect([...undone.right.activeAfter].sort()).toStrictEqual([...original].sort())
      expect(await activeOf(sb, 1)).toStrictEqual(original)
    })
  })

  it("leaves the previous models active when activation of the new one fails", async () => {
    const sb = sandbox()
    await register(sb, 3, [{ name: "act A", metrics: { mAP: 0.5 }, active: true }])
    const original = await activeOf(sb, 3)
    await withProxy(sb.origin, (method, _url, body) => method === "PATCH" && body.includes("true"), async (proxy) => {
      const r = await run(proxy.url, sb.token, deployModel(config(3)))
      if (Either.isRight(r) || r.left._tag !== "DeploymentFailed") throw new Error("expected DeploymentFailed")
      expect(r.left.steps.map((s) => `${s.step}:${s.status}`)).toStrictEqual([
        "create:done",
        "activate:failed",
        ...original.map(() => "deactivate:not_run"),
        "verify:not_run"
      ])
      // The activation may have happened although its answer failed: the rollback offers to undo it.
      expect(r.left.rollback).toStrictEqual({ project_id: 3, reactivate: [], deactivate: [r.left.createdModelId] })
      expect(await activeOf(sb, 3)).toStrictEqual(original)
    })
  })

  it("rolls back at once with rollback_on_failure", async () => {
    const sb = sandbox()
    const [a, b] = await register(sb, 2, [
      { name: "auto A", metrics: { mAP: 0.5 }, active: true },
      { name: "auto B", metrics: { mAP: 0.5 }, active: true }
    ])
    // Make sure both are active whatever earlier tests left in this project.
    const original = await activeOf(sb, 2)
    expect(original).toEqual(expect.arrayContaining([a, b]))
    await withProxy(sb.origin, demotionOf(b), async (proxy) => {
      const r = await run(proxy.url, sb.token, deployModel(config(2, { rollback_on_failure: true })))
      if (Either.isRight(r) || r.left._tag !== "DeploymentFailed") throw new Error("expected DeploymentFailed")
      expect(r.left.rolledBack?.complete).toBe(true)
      expect([...(r.left.rolledBack?.activeAfter ?? [])].sort()).toStrictEqual([...original].sort())
      expect(r.left.message).toMatch(/rolled back: active now/)
      expect(await activeOf(sb, 2)).toStrictEqual(original)
    })
  })
})

describe("rollbackDeployment", () => {
  const sandbox = useSandbox({ seed: "none" })

  it("refuses before changing anything: a model of another project, an unknown model, an empty plan", async () => {
    const sb = sandbox()
    const [mine] = await register(sb, 1, [{ name: "rb mine", metrics: { mAP: 0.5 }, active: true }])
    const [theirs] = await register(sb, 2, [{ name: "rb theirs", metrics: { mAP: 0.5 }, active: true }])
    const before = [await activeOf(sb, 1), await activeOf(sb, 2)]

    const foreign = await run(
      sb.url,
      sb.token,
      rollbackDeployment({ project_id: 1, reactivate: [], deactivate: [mine!, theirs!] })
    )
    if (Either.isRight(foreign) || foreign.left._tag !== "DeployPreconditionError") {
      throw new Error("expected DeployPreconditionError")
    }
    expect(foreign.left.reason).toBe("model_not_in_project")
    expect(foreign.left.message).toBe(`model ${theirs} is in project 2, not in project 1 (nothing was changed)`)

    const unknown = await run(
      sb.url,
      sb.token,
      rollbackDeployment({ project_id: 1, reactivate: [], deactivate: [mine!, 999_999] })
    )
    expect(Either.isLeft(unknown) && unknown.left._tag).toBe("NotFoundError")

    const empty = await run(sb.url, sb.token, rollbackDeployment({ project_id: 1, reactivate: [], deactivate: [] }))
    expect(Either.isLeft(empty) && empty.left._tag === "DeployPreconditionError" && empty.left.reason).toBe(
      "nothing_to_do"
    )

    expect([await activeOf(sb, 1), await activeOf(sb, 2)]).toStrictEqual(before)
  })

  it("a failed deactivation does not stop the others; a failed re-activation stops every deactivation", async () => {
    const sb = sandbox()
    const [a, b, c] = await register(sb, 3, [
      { name: "rb A", metrics: { mAP: 0.5 }, active: true },
      { name: "rb B", metrics: { mAP: 0.5 }, active: true },
      { name: "rb C", metrics: { mAP: 0.5 }, active: false }
    ])
    await withProxy(sb.origin, demotionOf(a!), async (proxy) => {
      const r = await run(
        proxy.url,
        sb.token,
        rollbackDeployment({ project_id: 3, reactivate: [], deactivate: [a!, b!] })
      )
      if (Either.isRight(r) || r.left._tag !== "DeploymentFailed") throw new Error("expected DeploymentFailed")
      expect(r.left.steps.map((s) => `${s.step}:${s.modelId}:${s.status}`)).toStrictEqual([
        `deactivate:${a}:failed`,
        `deactivate:${b}:done`
      ])
    })
    const promotionOf = (model: number) => (method: string, url: string, body: string) =>
      method === "PATCH" && url.endsWith(`/models/${model}/`) && body.includes("true")
    await withProxy(sb.origin, promotionOf(c!), async (proxy) => {
      const r = await run(
        proxy.url,
        sb.token,
        rollbackDeployment({ project_id: 3, reactivate: [c!], deactivate: [a!] })
      )
      if (Either.isRight(r) || r.left._tag !== "DeploymentFailed") throw new Error("expected DeploymentFailed")
      expect(r.left.steps.map((s) => `${s.step}:${s.modelId}:${s.status}`)).toStrictEqual([
        `reactivate:${c}:failed`,
        `deactivate:${a}:not_run`
      ])
    })
    const now = await activeOf(sb, 3)
    expect([a, b, c].map((id) => now.includes(id!))).toStrictEqual([true, false, false])
  })
})

describe("deployModel's project check under transient failures", () => {
  const sandbox = useSandbox({ seed: "none" })

  it("a 500 to the project check is retried: the deployment goes through", async () => {
    const sb = sandbox()
    let refusals = 0
    const firstProbe = (method: string, url: string, body: string) =>
      method === "POST" && url.endsWith("/models/") && body.includes("synapse-ml project check") && refusals++ === 0
    await withProxy(sb.origin, firstProbe, async (proxy) => {
      const r = await run(proxy.url, sb.token, deployModel(config(2, { name: "after a refused check" })))
      if (Either.isLeft(r)) throw new Error(`expected a deployment, got ${String(r.left)}`)
      expect(r.right.status).toBe("deployed")
      expect(proxy.refused.length).toBe(1)
    })
    expect((await modelsOf(sb, 2)).filter((m) => m.name === "after a refused check").length).toBe(1)
  })

  it("25 deploys under status5xx=0.3 on models/ all deploy, each registering exactly one model", async () => {
    const sb = sandbox()
    await Effect.runPromise(setFaults(sb, "status5xx=0.3,paths=models", 17))
    const layer = sdkLayer({ url: sb.url, token: sb.token }, work, {
      retry: Schedule.spaced("2 millis").pipe(Schedule.intersect(Schedule.recurs(12)))
    })
    const outcomes: Array<string> = []
    try {
      for (let i = 0; i < 25; i++) {
        const r = await runEither(layer, deployModel(config(3, { name: `soak deploy ${i}`, type: "classification" })))
        outcomes.push(Either.isRight(r) ? r.right.status : r.left._tag)
      }
    } finally {
      await Effect.runPromise(setFaults(sb, "", 17))
    }
    const injected = (await Effect.runPromise(stats(sb))).faults_injected.status5xx as number
    expect(injected).toBeGreaterThan(10)
    // With a retry budget of 12, a run of 13 refusals in a row (0.3^13) does not happen: every deploy goes through.
    expect(outcomes).toStrictEqual(Array.from({ length: 25 }, () => "deployed"))
    const names = (await modelsOf(sb, 3)).map((m) => m.name as string).filter((n) => n.startsWith("soak deploy "))
    expect(names.length).toBe(25)
    expect(new Set(names).size).toBe(25)
    expect(await activeOf(sb, 3)).toHaveLength(1)
  }, 120_000)
})
