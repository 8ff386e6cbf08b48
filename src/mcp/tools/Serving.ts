/**
 * The tools that change which model serves: `update_model` (any field of a model; a change of
 * `is_active` goes through a plan) and `deploy_model` (register, activate, replace, behind a
 * gate). A service-changing call first returns a plan with a `plan_id` bound to it and to the
 * backend state it read; it executes only with that `plan_id` back, or when the user accepts the
 * server's own question (see `Confirm.ts`). Plans only read, so `deploy_model` plans in read-only
 * mode too.
 */
import { Chunk, Effect, Runtime, Schema, Stream } from "effect"
import * as fs from "node:fs"
import { Id, JsonObject, withUndeclaredFields } from "../../schemas/Common.js"
import { MetricsInput, type Model, Model as ModelSchema, ModelType } from "../../schemas/Model.js"
import { Models } from "../../services/Models.js"
import { modelLabel, summarizeModel } from "../../workflows/Analyze.js"
import { DeployGate, deployModel, DeployResult } from "../../workflows/Deploy.js"
import { McpConfig } from "../Config.js"
import { toToolError } from "../Errors.js"
import { resolveUploadFile } from "../Roots.js"
import * as Tool from "../Tool.js"
import { consent } from "./Confirm.js"
import { mapError, uploadProgress } from "./ModelWorkflows.js"

const Obj = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/** The execution fields every service-changing tool takes. */
const consentFields = {
  plan_id: Schema.optional(
    Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)).annotations({
      description: "Execute the plan this call returned."
    })
  ),
  confirm: Schema.optional(
    Schema.Boolean.annotations({
      description: "Ask the user, then execute."
    })
  )
}

/** What a consent-gated call answered besides its own result. */
const consentOutput = {
  plan_id: Schema.optional(Schema.String).annotations({ description: "Pass back to execute (once)." }),
  expires_at: Schema.optional(Schema.String),
  next: Schema.String
}

const Status = Schema.Literal("planned", "declined", "cancelled")

/** A model in a plan: what a user needs to recognise it. */
const brief = (m: Model) => ({ ...summarizeModel(m), label: modelLabel({ id: m.id, name: m.name ?? null }) })

/** The active models of `project` (of `modelType`), read with the same filters deploy uses. */
const activeModels = (project: number, modelType: string | undefined) =>
  Effect.gen(function*() {
    const models = yield* Models
    const listed = yield* Stream.runCollect(models.stream({
      project,
      is_active: true,
      page_size: 1000,
      ...(modelType !== undefined ? { model_type: modelType as ModelType } : {})
    }))
    // The filters are documented, not evidenced (docs/wire-protocol.md): the rows are checked too.
    return Chunk.toReadonlyArray(listed).filter((m) =>
      m.is_active === true && m.project === project && (modelType === undefined || m.model_type === modelType)
    )
  })

const updateFields = {
  id: Id.annotations({ description: "The model to update." }),
  name: Schema.optional(
    Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)).annotations({ description: "New name." })
  ),
  description: Schema.optional(
    Schema.String.pipe(Schema.maxLength(5000)).annotations({ description: "New description." })
  ),
  metrics: Schema.optional(MetricsInput.annotations({ description: "New metrics (replaces the stored object)." })),
  configuration: Schema.optional(
    JsonObject.annotations({ description: "New configuration (replaces the stored object)." })
  ),
  is_active: Schema.optional(
    Schema.Boolean.annotations({ description: "Activate (true) or deactivate (false): planned first." })
  ),
  version: Schema.optional(
    Schema.String.pipe(Schema.maxLength(100)).annotations({ description: "New version label." })
  )
}

/** `update_model`. */
export const updateModel = Tool.make({
  name: "update_model",
  title: "Update a model",
  description: "Change fields of a model. A change of is_active (which model serves) first returns a plan and " +
    "a plan_id: show the plan to the user, then call again with the plan_id.",
  input: Schema.Struct({ ...updateFields, ...consentFields }),
  output: Schema.Struct({
    status: Schema.Literal("updated", "planned", "declined", "cancelled"),
    model: Schema.optional(withUndeclaredFields(ModelSchema).annotations({ jsonSchema: { type: "object" } })),
    plan: Schema.optional(Obj),
    ...consentOutput,
    next: Schema.optional(Schema.String)
  }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  toolset: "models",
  write: true,
  run: (input, context) =>
    Effect.gen(function*() {
      const models = yield* Models
      const { id, plan_id, confirm, ...patch } = input
      if (Object.keys(patch).length === 0) {
        return yield* new Tool.ToolError({
          message:
            "Nothing to update: give at least one of name, description, metrics, configuration, is_active, version."
        })
      }
      const failed = toToolError({
        action: `Updating model ${id}`,
        notFound: `model ${id} does not exist. Find ids with list_models.`
      })
      const apply = models.update(id, patch).pipe(
        Effect.mapError(failed),
        Effect.map((model) => ({ status: "updated" as const, model }))
      )
      if (patch.is_active === undefined) {
        if (plan_id !== undefined) {
          return yield* new Tool.ToolError({
            message: "plan_id is only for a change of is_active; this update applies without one. Nothing was changed."
          })
        }
        return yield* apply
      }
      const current = yield* models.get(id).pipe(Effect.mapError(failed))
      if (current.is_active === patch.is_active && plan_id === undefined) return yield* apply
      const project = typeof current.project === "number" ? current.project : null
      const type = typeof current.model_type === "string" ? current.model_type : undefined
      const active = project !== null ? yield* activeModels(project, type).pipe(Effect.mapError(failed)) : []
      const after = patch.is_active
        ? [...new Set([...active.map((m) => m.id), id])]
        : active.map((m) => m.id).filter((m) => m !== id)
      const label = modelLabel({ id, name: current.name ?? null })
      const plan = {
        model: brief(current),
        change: Object.fromEntries(
          Object.entries(patch).map(([field, to]) => [field, { from: current[field as keyof Model] ?? null, to }])
        ),
        effect: patch.is_active
          ? `model ${label} starts serving`
          : `model ${label} stops serving${
            after.length === 0 ? ": the project has no other active model of its type" : ""
          }`,
        active_before: active.map(brief),
        active_after: after
      }
      const summary = `Update model ${label} (project ${project ?? "unknown"}): ${plan.effect}. Active ${
        type ?? ""
      } models before: ${active.map((m) => m.id).join(", ") || "none"}; after: ${after.join(", ") || "none"}.`
      const decision = yield* consent(
        { plan_id, confirm },
        {
          tool: "update_model",
          args: { ...input, plan_id: undefined, confirm: undefined },
          plan
        },
        summary,
        context
      )
      if (decision._tag === "execute") return { ...(yield* apply), plan }
      const { _tag, ...rest } = decision
      return { status: _tag, plan, ...rest }
    })
})

/** `deploy_model`. */
export const deployModelTool = Tool.make({
  name: "deploy_model",
  title: "Deploy a model (plan, then execute)",
  description: "Register a model and make it the project's active one (optionally replacing the others, behind " +
    "a gate). Without plan_id it returns the plan and a plan_id: show the plan to the user, then call again with " +
    "the plan_id.",
  input: Schema.Struct({
    name: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)).annotations({ description: "Model name." }),
    type: ModelType.annotations({ description: "Model type." }),
    project_id: Id.annotations({ description: "Project id." }),
    description: Schema.optional(Schema.String.pipe(Schema.maxLength(5000)).annotations({ description: "About it." })),
    metrics: Schema.optional(MetricsInput.annotations({ description: "e.g. {\"mAP\": 0.87}." })),
    configuration: Schema.optional(JsonObject.annotations({ description: "Configuration." })),
    version: Schema.optional(Schema.String.pipe(Schema.maxLength(100)).annotations({ description: "Version label." })),
    model_path: Schema.optional(
      Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1000)).annotations({
        description: "The model file, in an upload root."
      })
    ),
    replace_active: Schema.optional(
      Schema.Boolean.annotations({ description: "Deactivate the other active models (default false)." })
    ),
    gate: Schema.optional(
      Schema.Struct({
        ...DeployGate.fields,
        against: DeployGate.fields.against.annotations({ description: "The active model(s)." }),
        metric: DeployGate.fields.metric.annotations({ description: "The metric compared." }),
        min_improvement: DeployGate.fields.min_improvement.annotations({ description: "Least gain (default 0)." }),
        direction: DeployGate.fields.direction.annotations({ description: "Which is better (default from the name)." })
      }).annotations({ description: "Deploy only if it beats the active model on metric." })
    ),
    ...consentFields
  }),
  // The deployment's result (without dryRun: a call that plans says so by its status), or a plan
  // waiting for its plan_id.
  output: Schema.Struct({
    status: Schema.Union(Status, Schema.Literal("gate_rejected", "deployed")),
    ...DeployResult.omit("status", "dryRun").fields,
    ...consentOutput
  }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  toolset: "deploy",
  write: true,
  plansInReadOnly: true,
  run: (input, context) =>
    Effect.gen(function*() {
      const config = yield* McpConfig
      const file = input.model_path !== undefined
        ? yield* resolveUploadFile(config.uploadRoots, input.model_path, "the upload roots", "model_path")
        : undefined
      const runtime = yield* Effect.runtime<never>()
      const { confirm, model_path: _m, plan_id, ...rest } = input
      const deployInput = { ...rest, ...(file !== undefined ? { model_path: file } : {}) }
      const failed = mapError(
        `Deploying ${JSON.stringify(input.name)} to project ${input.project_id}`,
        `project ${input.project_id} does not exist.`
      )
      const planned = yield* deployModel({ ...deployInput, dry_run: true }).pipe(Effect.mapError(failed))
      const plan = planned.plan
      const result = { plan, steps: [] }
      if (plan.gate !== null && !plan.gate.passed) {
        return {
          status: "gate_rejected" as const,
          ...result,
          next: `Nothing was changed: the candidate does not pass the gate (${plan.gate.reason}).`
        }
      }
      // The file is part of the state a plan is bound to: a replaced file is a different deployment.
      const fileState = file !== undefined
        ? yield* Effect.sync(() => {
          const stat = fs.statSync(file, { throwIfNoEntry: false })
          return stat === undefined ? null : { size: stat.size, mtimeMs: stat.mtimeMs }
        })
        : null
      const summary = `Deploy "${plan.create.name}"${
        plan.create.version !== null ? ` ${plan.create.version}` : ""
      } (${plan.create.model_type}) to project ${plan.create.project}: ${plan.steps.join("; ")}.${
        plan.gate !== null ? ` Gate: ${plan.gate.reason}.` : ""
      }`
      const decision = yield* consent(
        { plan_id, confirm },
        {
          tool: "deploy_model",
          args: { ...input, plan_id: undefined, confirm: undefined },
          plan: { plan, file: fileState }
        },
        summary,
        context
      )
      if (decision._tag !== "execute") {
        const { _tag, ...answer } = decision
        return { status: _tag, ...result, ...answer }
      }
      const done = yield* deployModel(
        { ...deployInput, dry_run: false },
        {
          upload: { onProgress: uploadProgress(context, runtime) },
          onStep: (step, id) =>
            Runtime.runFork(runtime)(Effect.logInfo(`deploy step ${step}${id !== null ? ` (model ${id})` : ""}`))
        }
      ).pipe(Effect.mapError(failed))
      const next = done.status === "gate_rejected"
        ? "Nothing was changed: the candidate no longer passes the gate."
        : "Deployed. The new model is active; activeAfter lists the active models in the deployment's scope (plan.scope)."
      return {
        status: done.status,
        plan: done.plan,
        ...(done.model !== undefined ? { model: done.model } : {}),
        steps: done.steps,
        ...(done.activeAfter !== undefined ? { activeAfter: done.activeAfter } : {}),
        next
      }
    })
})
