/**
 * The consent step of a service-changing tool. A call without `plan_id` only plans and returns a
 * `plan_id` bound to that plan; executing needs the handle back (so the model has seen, and shown,
 * the plan) and fails when the plan has changed since. When the client can ask its user
 * (`ToolContext.elicit`), the server asks directly before executing, with `confirm: true` or a
 * `plan_id`, and goes ahead only on the user's accept. `confirm: true` alone never executes without
 * that accept. In read-only mode a tool only plans.
 */
import { Effect, Option } from "effect"
import { McpConfig } from "../Config.js"
import * as Plans from "../Plans.js"
import type { ElicitSchema, ToolContext } from "../Tool.js"
import { ToolError } from "../Tool.js"

/** What the caller asked for: execution fields of the tool's input. */
export interface ConsentRequest {
  readonly plan_id?: string | undefined
  readonly confirm?: boolean | undefined
}

/** The outcome of the consent step. */
export type Consent =
  | { readonly _tag: "execute" }
  | {
    readonly _tag: "planned"
    /** Absent in read-only mode, where a plan cannot be executed. */
    readonly plan_id?: string
    readonly expires_at?: string
    readonly next: string
  }
  | { readonly _tag: "declined" | "cancelled"; readonly next: string }

// The user answers with the dialog's accept or decline; there is nothing to fill in.
const NO_FIELDS: ElicitSchema = { type: "object", properties: {} }

/**
 * Decides whether a planned change executes now. `binding` is the plan made for this call (with the
 * backend state it read); `summary` is the plan in a sentence or two, shown to the user when asked.
 */
export const consent = (
  request: ConsentRequest,
  binding: Plans.PlanBinding,
  summary: string,
  context: ToolContext
): Effect.Effect<Consent, ToolError, McpConfig> =>
  Effect.gen(function*() {
    const { readOnly } = yield* McpConfig
    const tool = binding.tool
    if (readOnly) {
      if (request.plan_id !== undefined) {
        return yield* new ToolError({
          message: `${tool} cannot execute a plan: the server runs in read-only mode (SYNAPSE_MCP_READ_ONLY / ` +
            "--read-only), where it only plans. Nothing was changed."
        })
      }
      return {
        _tag: "planned",
        next: "Nothing was changed. This server is read-only: the plan cannot be executed here; a user can run it " +
          "on a server that is not read-only."
      } as const
    }
    if (request.plan_id !== undefined) yield* Plans.processPlans.redeem(request.plan_id, binding)
    const asked = request.plan_id !== undefined || request.confirm === true
    const elicit = Option.fromNullable(context.elicit)
    if (asked && Option.isSome(elicit)) {
      const answer = yield* elicit.value(`${summary}\n\nProceed?`, NO_FIELDS)
      if (answer === "accept") return { _tag: "execute" } as const
      return {
        _tag: answer === "decline" ? "declined" : "cancelled",
        next: `Nothing was changed: the user ${
          answer === "decline" ? "declined" : "dismissed"
        } the request. Do not retry unless the user asks to.`
      } as const
    }
    if (request.plan_id !== undefined) return { _tag: "execute" } as const
    const issued = yield* Plans.processPlans.issue(binding)
    return {
      _tag: "planned",
      ...issued,
      next: (request.confirm === true
        ? "Nothing was changed: confirm: true alone does not execute, the user has to see the plan first. "
        : "Nothing was changed. ") +
        `Show this plan to the user; if they approve, call ${tool} again with the same arguments and ` +
        `plan_id "${issued.plan_id}" (valid once, until ${issued.expires_at}, and only while the backend still ` +
        "matches the plan)."
    } as const
  })
