import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, TestClock } from "effect"
import * as Plans from "../../src/mcp/Plans.js"
import { ToolError } from "../../src/mcp/Tool.js"

const binding: Plans.PlanBinding = {
  tool: "deploy_model",
  args: { name: "m", project_id: 3, metrics: { mAP: 0.9, loss: 0.1 } },
  plan: { activeModels: [{ id: 7 }], wouldDeactivate: [7] }
}

const failure = <A>(effect: Effect.Effect<A, ToolError>) =>
  Effect.map(Effect.either(effect), (result) => Either.isLeft(result) ? result.left.message : "no failure")

describe("plan handles", () => {
  it.effect("a handle executes its plan once", () =>
    Effect.gen(function*() {
      const plans = Plans.make()
      const { expires_at, plan_id } = yield* plans.issue(binding)
      expect(expires_at).toBe(new Date(Plans.PLAN_TTL_MILLIS).toISOString())
      yield* plans.redeem(plan_id, binding)
      expect(yield* failure(plans.redeem(plan_id, binding))).toMatch(
        /^plan_id was already used: a plan executes once\./
      )
    }))

  it.effect("key order of the arguments and plan does not matter; their values do", () =>
    Effect.gen(function*() {
      const plans = Plans.make()
      const { plan_id } = yield* plans.issue(binding)
      const reordered = {
        tool: "deploy_model",
        args: { metrics: { loss: 0.1, mAP: 0.9 }, project_id: 3, name: "m" },
        plan: { wouldDeactivate: [7], activeModels: [{ id: 7 }] }
      }
      expect(yield* failure(plans.redeem(plan_id, { ...reordered, args: { ...reordered.args, name: "n" } })))
        .toMatch(/^plan_id does not belong to a deploy_model plan with these arguments/)
      expect(yield* failure(plans.redeem(plan_id, { ...reordered, tool: "update_model" })))
        .toMatch(/^plan_id does not belong to a update_model plan/)
      yield* plans.redeem(plan_id, reordered)
    }))

  it.effect("a changed plan or backend state invalidates the handle and says to plan again", () =>
    Effect.gen(function*() {
      const plans = Plans.make()
      const { plan_id } = yield* plans.issue(binding)
      const changed = { ...binding, plan: { activeModels: [{ id: 7 }, { id: 8 }], wouldDeactivate: [7, 8] } }
      expect(yield* failure(plans.redeem(plan_id, changed))).toBe(
        "The plan no longer matches the backend: it changed since the plan was made (e.g. the active models, a gate " +
          "metric or the model file), so the plan the user saw is not what would run. Nothing was changed. Plan " +
          "again: call deploy_model without plan_id, show the new plan to the user, and execute it with its plan_id."
      )
      // A refused handle is not used up: the unchanged plan still executes.
      yield* plans.redeem(plan_id, binding)
    }))

  it.effect("a handle expires after its time to live", () =>
    Effect.gen(function*() {
      const plans = Plans.make({ ttlMillis: 60_000 })
      const { plan_id } = yield* plans.issue(binding)
      yield* TestClock.adjust("61 seconds")
      expect(yield* failure(plans.redeem(plan_id, binding))).toMatch(
        /^plan_id expired at 1970-01-01T00:01:00\.000Z \(plans are valid for 1 minutes\)\. Nothing was changed\./
      )
    }))

  it.effect("a forged, truncated or foreign handle is refused", () =>
    Effect.gen(function*() {
      const plans = Plans.make()
      const other = Plans.make()
      const { plan_id } = yield* other.issue(binding)
      expect(yield* failure(plans.redeem(plan_id, binding))).toMatch(/^plan_id does not belong to a deploy_model plan/)
      expect(yield* failure(plans.redeem(plan_id.slice(0, -1), binding))).toMatch(
        /^plan_id ".*" is not a plan handle\. Nothing was changed\. Plan again: call deploy_model without plan_id/
      )
      expect(yield* failure(plans.redeem("yes", binding))).toMatch(/^plan_id "yes" is not a plan handle/)
    }))

  it("canonical JSON sorts keys at every depth and keeps array order", () => {
    expect(Plans.canonicalJson({ b: [{ d: 1, c: 2 }], a: null })).toBe("{\"a\":null,\"b\":[{\"c\":2,\"d\":1}]}")
  })
})
