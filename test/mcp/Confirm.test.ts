import { describe, expect, it } from "@effect/vitest"
import type { ElicitRequest, ElicitResult } from "@modelcontextprotocol/sdk/types.js"
import { Effect } from "effect"
import { isRich } from "../support/profile.js"
import { useMcp } from "./fixture.js"
import { connect, textOf } from "./harness.js"

const mcp = useMcp()
const readOnly = useMcp({ readOnly: true })

interface Answer {
  readonly status: string
  readonly plan_id?: string
  readonly expires_at?: string
  readonly next?: string
  readonly plan?: Record<string, unknown>
  readonly model?: { readonly id: number; readonly is_active?: boolean }
}

/** Calls a tool with a client that can (given `elicit`) or cannot ask its user. */
const call = (
  name: string,
  args: Record<string, unknown>,
  options: { readonly elicit?: (request: ElicitRequest["params"]) => Promise<ElicitResult>; readonly ro?: boolean } = {}
) =>
  Effect.gen(function*() {
    const client = yield* connect((options.ro === true ? readOnly : mcp)().factory, { elicit: options.elicit })
    // Listing first makes the client validate structuredContent against each output schema.
    yield* Effect.promise(() => client.listTools())
    const result = yield* Effect.promise(() => client.callTool({ name, arguments: args }))
    return { result, answer: result.structuredContent as unknown as Answer, text: textOf(result) }
  })

const named = (name: string) => mcp().sandbox.query<{ id: number }>("SELECT id FROM models WHERE name = ?", name)

/** A project with an active detection model, and the ids of its active detection models. */
const activeDetection = Effect.gen(function*() {
  const { answer } = yield* call("list_models", {
    is_active: true,
    model_type: "detection",
    page_size: 100,
    fields: ["id", "project"]
  })
  const rows = (answer as unknown as { results: Array<{ id: number; project: number }> }).results
  const project = rows[0]!.project
  return { project, active: rows.filter((r) => r.project === project).map((r) => r.id).sort() }
})

const activeIds = (project: number) =>
  Effect.map(
    call("list_models", { project, is_active: true, model_type: "detection", page_size: 100, fields: ["id"] }),
    ({ answer }) => (answer as unknown as { results: Array<{ id: number }> }).results.map((r) => r.id).sort()
  )

describe.runIf(isRich())("confirmations of service-changing calls", () => {
  it.scoped("deploy_model: a plan_id executes the plan once; confirm: true alone changes nothing", () =>
    Effect.gen(function*() {
      const { active, project } = yield* activeDetection
      const args = {
        name: "confirm-once",
        type: "detection",
        project_id: project,
        metrics: { mAP: 0.99 },
        replace_active: true
      }
      const eager = yield* call("deploy_model", { ...args, confirm: true })
      expect(eager.answer.status).toBe("planned")
      expect(eager.answer.next).toMatch(/^Nothing was changed: confirm: true alone does not execute/)
      expect(named("confirm-once")).toStrictEqual([])

      const planned = yield* call("deploy_model", args)
      expect(planned.answer).toMatchObject({ status: "planned", steps: [] })
      expect(planned.answer.plan).toMatchObject({
        wouldDeactivate: active.map((id) => expect.objectContaining({ id }))
      })
      const planId = planned.answer.plan_id!
      expect(planId).toMatch(/^[0-9a-z]+\.[\w-]{16}\.[\w-]{22}\.[\w-]{43}$/)
      expect(Date.parse(planned.answer.expires_at!) - Date.now()).toBeGreaterThan(9 * 60_000)
      expect(yield* activeIds(project)).toStrictEqual(active)

      const done = yield* call("deploy_model", { ...args, plan_id: planId })
      expect(done.answer.status).toBe("deployed")
      const created = named("confirm-once")
      expect(created).toHaveLength(1)
      expect(yield* activeIds(project)).toStrictEqual([created[0]!.id])

      const again = yield* call("deploy_model", { ...args, plan_id: planId })
      expect(again.result.isError).toBe(true)
      expect(again.text).toMatch(/^plan_id was already used: a plan executes once\. Nothing was changed\. Plan again/)
      expect(named("confirm-once")).toHaveLength(1)
    }))

  it.scoped("deploy_model: a changed backend or other arguments invalidate the plan_id", () =>
    Effect.gen(function*() {
      const { project } = yield* activeDetection
      const args = { name: "confirm-stale", type: "detection", project_id: project, replace_active: true }
      const planned = yield* call("deploy_model", args)
      const planId = planned.answer.plan_id!

      const other = yield* call("deploy_model", { ...args, name: "confirm-other", plan_id: planId })
      expect(other.text).toMatch(/^plan_id does not belong to a deploy_model plan with these arguments/)
      const forged = yield* call("deploy_model", { ...args, plan_id: "deploy-now" })
      expect(forged.text).toMatch(/^plan_id "deploy-now" is not a plan handle\./)

      // Another model of the type becomes active: the plan the user saw would not deactivate it.
      const { answer } = yield* call("create_model", { name: "confirm-newcomer", model_type: "detection", project })
      const newcomer = answer as unknown as { id: number; is_active: boolean }
      expect(newcomer.is_active).toBe(false)
      const activation = yield* call("update_model", { id: newcomer.id, is_active: true })
      expect(activation.answer.status).toBe("planned")
      const activated = yield* call("update_model", {
        id: newcomer.id,
        is_active: true,
        plan_id: activation.answer.plan_id
      })
      expect(activated.answer).toMatchObject({ status: "updated", model: { id: newcomer.id, is_active: true } })
      const stale = yield* call("deploy_model", { ...args, plan_id: planId })
      expect(stale.result.isError).toBe(true)
      expect(stale.text).toMatch(/^The plan no longer matches the backend: it changed since the plan was made/)
      expect(stale.text).toContain("Plan again: call deploy_model without plan_id")
      expect(named("confirm-stale")).toStrictEqual([])
    }))

  it.scoped("create_model registers inactive models; an active one is refused, naming the planned ways", () =>
    Effect.gen(function*() {
      const { active, project } = yield* activeDetection
      const refused = yield* call("create_model", {
        name: "confirm-active",
        model_type: "detection",
        project,
        is_active: true
      })
      expect(refused.text).toMatch(
        /^create_model registers models inactive: .* Use deploy_model .*Nothing was changed\.$/
      )
      expect(named("confirm-active")).toStrictEqual([])
      const created = yield* call("create_model", { name: "confirm-inactive", model_type: "detection", project })
      expect(created.answer).toMatchObject({ name: "confirm-inactive", is_active: false })
      expect(yield* activeIds(project)).toStrictEqual(active)
    }))

  it.scoped("update_model: deactivation is planned first; other fields apply at once", () =>
    Effect.gen(function*() {
      const { active, project } = yield* activeDetection
      const id = active[0]!
      const planned = yield* call("update_model", { id, is_active: false })
      expect(planned.answer).toMatchObject({
        status: "planned",
        plan: { model: { id, is_active: true }, change: { is_active: { from: true, to: false } } }
      })
      expect(yield* activeIds(project)).toContain(id)
      const wrong = yield* call("update_model", { id, is_active: false, version: "x", plan_id: planned.answer.plan_id })
      expect(wrong.text).toMatch(/^plan_id does not belong to a update_model plan with these arguments/)
      const done = yield* call("update_model", { id, is_active: false, plan_id: planned.answer.plan_id })
      expect(done.answer).toMatchObject({ status: "updated", model: { id, is_active: false } })
      expect(yield* activeIds(project)).not.toContain(id)

      const plain = yield* call("update_model", { id, description: "no plan needed" })
      expect(plain.answer).toMatchObject({ status: "updated", model: { id, description: "no plan needed" } })
      // Setting the value it has changes nothing that serves: no plan.
      const same = yield* call("update_model", { id, is_active: false })
      expect(same.answer.status).toBe("updated")
      const stray = yield* call("update_model", { id, version: "2", plan_id: "x" })
      expect(stray.text).toMatch(/^plan_id is only for a change of is_active/)
    }))

  it.scoped("a client that can ask its user: the server asks, and only an accept executes", () =>
    Effect.gen(function*() {
      const { project } = yield* activeDetection
      const asked: Array<ElicitRequest["params"]> = []
      const answer = (action: ElicitResult["action"]) => async (request: ElicitRequest["params"]) => {
        asked.push(request)
        return { action }
      }
      const args = { name: "confirm-asked", type: "detection", project_id: project, confirm: true }
      const declined = yield* call("deploy_model", args, { elicit: answer("decline") })
      expect(declined.answer).toMatchObject({ status: "declined" })
      expect(declined.answer.next).toMatch(/^Nothing was changed: the user declined the request\./)
      expect(asked).toHaveLength(1)
      expect(asked[0]!.message).toMatch(/^Deploy "confirm-asked" \(detection\) to project \d+: .*\n\nProceed\?$/s)
      const cancelled = yield* call("deploy_model", args, { elicit: answer("cancel") })
      expect(cancelled.answer.status).toBe("cancelled")
      expect(named("confirm-asked")).toStrictEqual([])

      // Planning alone asks nothing; executing a plan_id asks too.
      const planned = yield* call("deploy_model", { ...args, confirm: undefined }, { elicit: answer("accept") })
      expect(planned.answer.status).toBe("planned")
      expect(asked).toHaveLength(2)
      const accepted = yield* call("deploy_model", { ...args, confirm: undefined, plan_id: planned.answer.plan_id }, {
        elicit: answer("accept")
      })
      expect(accepted.answer.status).toBe("deployed")
      expect(asked).toHaveLength(3)
      expect(named("confirm-asked")).toHaveLength(1)
    }))

  it.scoped("read-only: deploy_model and prepare_training_data plan, but execute nothing", () =>
    Effect.gen(function*() {
      const { project } = yield* activeDetection
      const args = { name: "confirm-readonly", type: "detection", project_id: project }
      const planned = yield* call("deploy_model", args, { ro: true })
      expect(planned.answer.status).toBe("planned")
      expect(planned.answer.plan_id).toBeUndefined()
      expect(planned.answer.next).toMatch(/This server is read-only: the plan cannot be executed here/)
      const refused = yield* call("deploy_model", { ...args, plan_id: "x" }, { ro: true })
      expect(refused.text).toMatch(/^deploy_model cannot execute a plan: the server runs in read-only mode/)
      const versions = yield* call("list_ground_truth_versions", { page_size: 1 }, { ro: true })
      const version = (versions.answer as unknown as { results: Array<{ id: number }> }).results[0]!.id
      const dry = yield* call("prepare_training_data", { dataset_version_ids: [version] }, { ro: true })
      expect({ error: dry.result.isError ?? false, text: dry.result.isError === true ? dry.text : "" }).toStrictEqual({
        error: false,
        text: ""
      })
      const write = yield* call("prepare_training_data", { dataset_version_ids: [version], dry_run: false }, {
        ro: true
      })
      expect(write.text).toMatch(/^prepare_training_data cannot write a split: the server runs in read-only mode/)
    }))
})
