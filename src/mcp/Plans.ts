/**
 * Plan handles: the `plan_id` a service-changing tool (deploy_model, update_model when it changes
 * which model serves) returns with its plan, and that executing the plan requires. A handle is
 * opaque, expires, can be used once, and is bound to the call's arguments and to the plan's content
 * together with the backend state it was computed from: executing plans again, and a plan that
 * came out differently (an active model changed, the file changed) no longer matches its handle.
 *
 * A handle is `<issued>.<nonce>.<arguments MAC>.<plan MAC>`: HMAC-SHA256 with a random key made when
 * the process starts, over a canonical JSON (sorted keys) of the arguments, and of the arguments
 * plus the plan. Nothing is stored per plan but the handles already used (until they expire), so
 * handles cost no memory until used and a restarted server refuses every earlier one.
 */
import { Clock, Effect } from "effect"
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import { ToolError } from "./Tool.js"

/** How long a plan can be executed after it was made. */
export const PLAN_TTL_MILLIS = 10 * 60 * 1000

/** JSON text with object keys sorted, so that equal values give equal text. */
export const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
        Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      )
      : v)

/** What a plan is bound to: the tool, its arguments (without the execution fields), the plan. */
export interface PlanBinding {
  /** The tool issuing the plan, e.g. "deploy_model"; a handle is not valid for another tool. */
  readonly tool: string
  readonly args: unknown
  /** The plan and the backend state it was computed from. */
  readonly plan: unknown
}

/** A handle and when it stops being valid. */
export interface IssuedPlan {
  readonly plan_id: string
  readonly expires_at: string
}

/** Issues and redeems plan handles. */
export interface PlanStore {
  /** A fresh handle for `binding`. */
  readonly issue: (binding: PlanBinding) => Effect.Effect<IssuedPlan>
  /**
   * Checks `planId` against `binding` (the plan made again now) and marks it used. Fails with a
   * ToolError saying why and to plan again: not a handle, for other arguments or another tool,
   * expired, already used, or the plan or backend state changed.
   */
  readonly redeem: (planId: string, binding: PlanBinding) => Effect.Effect<void, ToolError>
}

/** Options of {@link make}. */
export interface PlanStoreOptions {
  readonly ttlMillis?: number | undefined
  /** The HMAC key; random by default (tests give one). */
  readonly key?: Buffer | undefined
}

const HANDLE = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/

/** A plan store with its own key and used-handle set. */
export const make = (options: PlanStoreOptions = {}): PlanStore => {
  const key = options.key ?? randomBytes(32)
  const ttl = options.ttlMillis ?? PLAN_TTL_MILLIS
  /** Used handles' nonces → when they expire (then they are refused as expired anyway). */
  const used = new Map<string, number>()
  const mac = (...parts: ReadonlyArray<string>) =>
    createHmac("sha256", key).update(parts.join("\u0000")).digest("base64url")
  const argsMac = (issued: string, nonce: string, binding: PlanBinding) =>
    mac("args", issued, nonce, binding.tool, canonicalJson(binding.args)).slice(0, 22)
  const planMac = (issued: string, nonce: string, binding: PlanBinding) =>
    mac("plan", issued, nonce, binding.tool, canonicalJson(binding.args), canonicalJson(binding.plan))
  const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b))
  const again = (tool: string) =>
    `Nothing was changed. Plan again: call ${tool} without plan_id, show the new plan to the user, and execute it with its plan_id.`

  return {
    issue: (binding) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const issued = now.toString(36)
        const nonce = randomBytes(12).toString("base64url")
        return {
          plan_id: `${issued}.${nonce}.${argsMac(issued, nonce, binding)}.${planMac(issued, nonce, binding)}`,
          expires_at: new Date(now + ttl).toISOString()
        }
      }),
    redeem: (planId, binding) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        for (const [nonce, expiry] of used) if (expiry < now) used.delete(nonce)
        const fail = (message: string) => Effect.fail(new ToolError({ message }))
        const parts = HANDLE.exec(planId)
        if (parts === null) {
          return fail(`plan_id ${JSON.stringify(planId.slice(0, 80))} is not a plan handle. ${again(binding.tool)}`)
        }
        const [, issued, nonce, argsPart, planPart] = parts as unknown as [string, string, string, string, string]
        if (!same(argsPart, argsMac(issued, nonce, binding))) {
          return fail(
            `plan_id does not belong to a ${binding.tool} plan with these arguments (or was made by another run of ` +
              `the server). Execute a plan with exactly the arguments it was made with. ${again(binding.tool)}`
          )
        }
        const expiry = parseInt(issued, 36) + ttl
        if (now > expiry) {
          return fail(
            `plan_id expired at ${new Date(expiry).toISOString()} (plans are valid for ${
              Math.round(ttl / 60_000)
            } minutes). ${again(binding.tool)}`
          )
        }
        if (used.has(nonce)) return fail(`plan_id was already used: a plan executes once. ${again(binding.tool)}`)
        if (!same(planPart, planMac(issued, nonce, binding))) {
          return fail(
            "The plan no longer matches the backend: it changed since the plan was made (e.g. the active models, " +
              `a gate metric or the model file), so the plan the user saw is not what would run. ${again(binding.tool)}`
          )
        }
        used.set(nonce, expiry)
        return Effect.void
      })
  }
}

/** The store of this process: handles are valid only on the server run that issued them. */
export const processPlans: PlanStore = make()
