/**
 * Gated model deployment (the seed's `deploy_model(model_path, model_config)` with
 * `replace_active`), done completely: the seed registers the model and then only prints the models
 * it "would deactivate" for lack of an update call.
 *
 * A deployment is planned first — the model to create, the active models it would replace, the
 * gate's verdict — and everything that can be checked without changing anything is checked then:
 * the project exists, the file exists, the gate metric exists on the candidate and on every active
 * model. A dry run stops there. Executing runs create (file via chunked upload) → activate →
 * deactivate every other active model → verify, in an order that never leaves the project without
 * an active model when it had one: the new model is active before any other is demoted. "Other"
 * means the project's active models of the same type by default (`scope: "project"`: all of them,
 * as the seed's script does), since deploying a detector should not switch off the classifier. A failed
 * step ends the deployment with a report of each step (done, failed, not run) and the rollback
 * that would restore the previous state, which {@link rollbackDeployment} performs.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Chunk, Effect, Schema, Stream } from "effect"
import * as Fs from "node:fs"
import { Id, JsonObject } from "../schemas/Common.js"
import { MetricsInput, type Model, ModelType, numericMetrics } from "../schemas/Model.js"
import type * as ChunkedUpload from "../services/ChunkedUpload.js"
import { Models } from "../services/Models.js"
import { SynapseClient, validate } from "../services/SynapseClient.js"
import { incompleteRecord, type IncompleteRecordError, type SynapseError } from "../services/SynapseError.js"
import { modelLabel, ModelSummary, summarizeModel } from "./Analyze.js"
import { defaultDirection, Direction } from "./Compare.js"

/** The quality gate: the candidate must beat the active model(s) on a metric. */
export const DeployGate = Schema.Struct({
  against: Schema.Literal("active").annotations({
    description: "What the candidate is compared with: the project's active model(s)."
  }),
  metric: Schema.String.pipe(Schema.minLength(1)).annotations({
    description: "The metric compared (from the candidate's `metrics` and the active models' stored metrics).",
    // Without a message, a refinement's error reads "Expected <its description>".
    message: () => "must be a metric name, not empty"
  }),
  min_improvement: Schema.optional(Schema.Number.pipe(Schema.finite())).annotations({
    description:
      "Least improvement over the best active model, in the metric's units, in its better direction. Default 0 (at least as good)."
  }),
  direction: Schema.optional(Direction).annotations({
    description: "Whether higher or lower is better; default from the metric's name (loss/error: lower)."
  })
})
export type DeployGate = typeof DeployGate.Type

/** Input of {@link deployModel}: the seed's deploy config plus file, gate and dry run. */
export const DeployInput = Schema.Struct({
  name: Schema.String.pipe(Schema.minLength(1)).annotations({
    description: "Name of the model to register.",
    message: () => "must not be empty"
  }),
  description: Schema.optional(Schema.String).annotations({ description: "Description of the model." }),
  type: ModelType.annotations({ description: "Model type: classification, detection or segmentation." }),
  project_id: Id.annotations({ description: "The project to deploy into." }),
  metrics: Schema.optional(MetricsInput).annotations({ description: "The candidate's metrics (numbers)." }),
  configuration: Schema.optional(JsonObject).annotations({
    description: "Model configuration (input size, framework…)."
  }),
  version: Schema.optional(Schema.String).annotations({ description: "Version label of the model." }),
  model_path: Schema.optional(Schema.String.pipe(Schema.minLength(1))).annotations({
    description:
      "Local path of the model file, uploaded with the chunked upload protocol. Without it the model is registered without a file."
  }),
  replace_active: Schema.optional(Schema.Boolean).annotations({
    description: "Deactivate every other active model in scope once the new one is active. Default false."
  }),
  scope: Schema.optional(Schema.Literal("type", "project")).annotations({
    description:
      "Which active models the deployment replaces and its gate compares with: those of the project with the same model type (default; a detector does not replace the project's classifier), or every active model of the project."
  }),
  gate: Schema.optional(DeployGate),
  dry_run: Schema.optional(Schema.Boolean).annotations({
    description: "Only plan and check: change nothing. Default false."
  }),
  rollback_on_failure: Schema.optional(Schema.Boolean).annotations({
    description:
      "When a step fails midway, restore the previous active models at once instead of only offering the rollback. Default false."
  })
})
export type DeployInput = typeof DeployInput.Type

/** A deployment could not start: nothing was changed. */
export class DeployPreconditionError extends Schema.TaggedError<DeployPreconditionError>()("DeployPreconditionError", {
  reason: Schema.Literal(
    "project_not_found",
    "file_not_found",
    "gate_metric_missing",
    "model_not_in_project",
    "nothing_to_do"
  ),
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.detail} (nothing was changed)`
  }
}

/** The gate's verdict. */
export const GateVerdict = Schema.Struct({
  metric: Schema.String,
  direction: Direction,
  candidate: Schema.Number.annotations({ description: "The candidate's value of the metric." }),
  baseline: Schema.NullOr(Schema.Struct({ model: ModelSummary, value: Schema.Number })).annotations({
    description: "The best active model on the metric; null when the project has no active model."
  }),
  improvement: Schema.NullOr(Schema.Number).annotations({
    description: "Candidate minus baseline, signed so that positive is better."
  }),
  minImprovement: Schema.Number,
  passed: Schema.Boolean,
  reason: Schema.String
})
export type GateVerdict = typeof GateVerdict.Type

/** What a deployment would do. */
export const DeployPlan = Schema.Struct({
  create: Schema.Struct({
    name: Schema.String,
    model_type: ModelType,
    project: Schema.Number,
    version: Schema.NullOr(Schema.String),
    metrics: Schema.Record({ key: Schema.String, value: Schema.Number }),
    file: Schema.NullOr(Schema.Struct({ path: Schema.String, size: Schema.Number }))
  }).annotations({ description: "The model to register." }),
  scope: Schema.Literal("type", "project").annotations({
    description: "Which active models are in scope: the project's of the same type, or all of the project's."
  }),
  activeModels: Schema.Array(ModelSummary).annotations({ description: "Active models in scope now." }),
  wouldDeactivate: Schema.Array(ModelSummary).annotations({
    description: "The active models that would be deactivated (replace_active)."
  }),
  gate: Schema.NullOr(GateVerdict),
  steps: Schema.Array(Schema.String).annotations({ description: "The steps executing would run, in order." })
})
export type DeployPlan = typeof DeployPlan.Type

/** One step of an execution. */
export const StepReport = Schema.Struct({
  step: Schema.Literal("create", "activate", "deactivate", "verify", "reactivate"),
  modelId: Schema.NullOr(Schema.Number),
  status: Schema.Literal("done", "failed", "not_run"),
  detail: Schema.optionalWith(Schema.String, { exact: true })
})
export type StepReport = typeof StepReport.Type

/** What restores the state before a failed deployment: re-activate first, then deactivate. */
export const RollbackPlan = Schema.Struct({
  project_id: Id,
  reactivate: Schema.Array(Id).annotations({ description: "Models that were active before and were deactivated." }),
  deactivate: Schema.Array(Id).annotations({ description: "Models the deployment activated (the new model)." })
})
export type RollbackPlan = typeof RollbackPlan.Type

/**
 * The result of {@link deployModel} when no step failed. The MCP tool publishes it, so the
 * descriptions of its top-level fields are part of the tool list: they stay short.
 */
export const DeployResult = Schema.Struct({
  status: Schema.Literal("planned", "gate_rejected", "deployed"),
  dryRun: Schema.Boolean,
  plan: DeployPlan.annotations({ description: "Model to create, active models, models to deactivate, gate, steps." }),
  /** The registered model (after activation). */
  model: Schema.optionalWith(ModelSummary, { exact: true }),
  steps: Schema.Array(StepReport),
  /** Active models of the project after the deployment, as verified. */
  activeAfter: Schema.optionalWith(Schema.Array(Schema.Int), { exact: true })
})
export type DeployResult = typeof DeployResult.Type

/** One step as {@link DeploymentFailed} carries it, for the deployment and for its rollback alike. */
const StepRecord = Schema.Struct({
  step: Schema.String,
  modelId: Schema.NullOr(Schema.Number),
  status: Schema.Literal("done", "failed", "not_run"),
  detail: Schema.optional(Schema.String)
})

/** A deployment step failed: what was done and what was not, and how to undo it. */
export class DeploymentFailed extends Schema.TaggedError<DeploymentFailed>()("DeploymentFailed", {
  detail: Schema.String,
  /** Every step with its status. */
  steps: Schema.Array(StepRecord),
  /** The created model, if the create step succeeded. */
  createdModelId: Schema.NullOr(Schema.Number),
  /** Restores the previous active set; null when nothing needs undoing. */
  rollback: Schema.NullOr(RollbackPlan),
  /** With `rollback_on_failure`: what the rollback did. */
  rolledBack: Schema.optional(Schema.Struct({
    complete: Schema.Boolean,
    steps: Schema.Array(StepRecord),
    activeAfter: Schema.Array(Schema.Number),
    detail: Schema.optional(Schema.String)
  }))
}) {
  override get message(): string {
    const lines = this.steps.map((s) =>
      `  ${s.status.padEnd(7)} ${s.step}${s.modelId !== null ? ` model ${s.modelId}` : ""}${
        s.detail !== undefined ? `: ${s.detail}` : ""
      }`
    )
    const undo = this.rollback === null
      ? "nothing to roll back"
      : this.rolledBack !== undefined
      ? this.rolledBack.complete
        ? `rolled back: active now ${this.rolledBack.activeAfter.join(", ") || "none"}`
        : `rollback did not complete (${this.rolledBack.detail ?? "see rolledBack.steps"}); still to do: re-activate ${
          this.rollback.reactivate.join(", ") || "none"
        }, then deactivate ${this.rollback.deactivate.join(", ") || "none"}`
      : `rollback available: re-activate ${
        this.rollback.reactivate.length > 0 ? this.rollback.reactivate.join(", ") : "none"
      }, then deactivate ${this.rollback.deactivate.join(", ") || "none"}`
    return `${this.detail}\n${lines.join("\n")}\n${undo}`
  }
}

/** Options that are not data. */
export interface DeployOptions {
  /** Passed to the upload of `model_path` (chunk size, progress, abort). */
  readonly upload?: ChunkedUpload.UploadOptions | undefined
  /** Called before each step. */
  readonly onStep?: ((step: StepReport["step"], modelId: number | null) => void) | undefined
}

/**
 * Which of the listed models are active models of `project` (of `modelType` when given). The
 * listing's `project`/`is_active`/`model_type` filters are documented, not evidenced: a backend may
 * ignore them, so every listed model is checked here, and one that lacks a field this decision
 * needs fails it with `IncompleteRecordError` rather than being silently left out (which would
 * leave it active, or judge the gate against nothing).
 */
export const activeIn = (
  listed: ReadonlyArray<Model>,
  project: number,
  modelType: ModelType | undefined,
  neededBy: string
): Effect.Effect<Array<Model>, IncompleteRecordError> => {
  const active: Array<Model> = []
  const why = `to know the active models of project ${project}`
  for (const m of listed) {
    if (typeof m.is_active !== "boolean") {
      return Effect.fail(incompleteRecord("model", m.id, "is_active", neededBy, why))
    }
    if (!m.is_active) continue
    if (typeof m.project !== "number") return Effect.fail(incompleteRecord("model", m.id, "project", neededBy, why))
    if (m.project !== project) continue
    if (modelType !== undefined) {
      if (typeof m.model_type !== "string") {
        return Effect.fail(
          incompleteRecord(
            "model",
            m.id,
            "model_type",
            neededBy,
            `${why} of type ${modelType}; scope "project" does not need it`
          )
        )
      }
      if (m.model_type !== modelType) continue
    }
    active.push(m)
  }
  return Effect.succeed(active)
}

/** Active models of a project, of one type when `modelType` is given. */
const activeModelsOf = (project: number, modelType: ModelType | undefined, neededBy: string) =>
  Effect.gen(function*() {
    const models = yield* Models
    const chunk = yield* Stream.runCollect(
      models.stream({
        project,
        is_active: true,
        page_size: 1000,
        ...(modelType !== undefined ? { model_type: modelType } : {})
      })
    )
    return yield* activeIn(Chunk.toReadonlyArray(chunk), project, modelType, neededBy)
  })

// A syntactically valid upload id that no server has: the probe below can never create a model.
const NO_SUCH_UPLOAD = "00000000-0000-0000-0000-000000000000"

/**
 * Whether a project exists, without changing anything: there is no projects endpoint (nor a read
 * that says whether a project exists: a `project` filter naming none answers an empty page), so a
 * model is posted that no server can create (it references an upload that does not exist). A DRF
 * backend validates every field before refusing, so the refusal says whether `project` was valid
 * too. Since the POST cannot create anything, sending it again is safe: it goes through the
 * client's retry policy like a read, so a transient 5xx, 429, reset or timeout is retried instead of
 * failing the deployment before anything was done.
 */
const projectExists = (project: number, modelType: ModelType) =>
  Effect.gen(function*() {
    const client = yield* SynapseClient
    const body = {
      name: "synapse-ml project check",
      model_type: modelType,
      project,
      is_active: false,
      chunked_upload: NO_SUCH_UPLOAD
    }
    const outcome = yield* client
      .execute(HttpClientRequest.post("models/").pipe(HttpClientRequest.bodyUnsafeJson(body)), { retry: true })
      .pipe(Effect.either)
    if (outcome._tag === "Right") {
      // Not possible on a backend that refuses an unknown upload (docs/wire-protocol.md "Creating a model"); say so rather than pretend it was fine.
      yield* Effect.logWarning(
        "the project check unexpectedly created a model; it is inactive and named \"synapse-ml project check\""
      )
      return true
    }
    const error = outcome.left
    if (error._tag === "ValidationError") return error.fieldErrors?.project === undefined
    return yield* Effect.fail(error)
  })

const gateVerdict = (
  gate: DeployGate,
  candidateMetrics: Readonly<Record<string, number>>,
  active: ReadonlyArray<Model>
) =>
  Effect.gen(function*() {
    const direction = gate.direction ?? defaultDirection(gate.metric)
    const minImprovement = gate.min_improvement ?? 0
    const candidate = candidateMetrics[gate.metric]
    if (candidate === undefined) {
      return yield* new DeployPreconditionError({
        reason: "gate_metric_missing",
        detail: `the gate compares "${gate.metric}", but the candidate's metrics do not include it (it has: ${
          Object.keys(candidateMetrics).join(", ") || "none"
        })`
      })
    }
    const lacking = active.filter((m) => numericMetrics(m)[gate.metric] === undefined)
    if (lacking.length > 0) {
      return yield* new DeployPreconditionError({
        reason: "gate_metric_missing",
        detail: `the gate compares "${gate.metric}", which the active model${lacking.length > 1 ? "s" : ""} ${
          lacking.map((m) => modelLabel({ id: m.id, name: m.name })).join(", ")
        } lack${lacking.length > 1 ? "" : "s"}${
          lacking.some((m) => m.metrics === undefined || m.metrics === null)
            ? " (the backend sent no metrics for them)"
            : ""
        }: the gate cannot be judged`
      })
    }
    const signed = (v: number) => (direction === "higher" ? v : -v)
    let baseline: { model: ModelSummary; value: number } | null = null
    for (const m of active) {
      const value = numericMetrics(m)[gate.metric]!
      if (baseline === null || signed(value) > signed(baseline.value)) baseline = { model: summarizeModel(m), value }
    }
    if (baseline === null) {
      return {
        metric: gate.metric,
        direction,
        candidate,
        baseline: null,
        improvement: null,
        minImprovement,
        passed: true,
        reason: "the project has no active model: nothing to beat"
      } satisfies GateVerdict
    }
    const improvement = signed(candidate) - signed(baseline.value)
    const passed = improvement >= minImprovement
    return {
      metric: gate.metric,
      direction,
      candidate,
      baseline,
      improvement,
      minImprovement,
      passed,
      reason:
        `${gate.metric} ${candidate} vs ${baseline.value} of active model ${baseline.model.id} (${direction} is better): ` +
        `improvement ${improvement.toPrecision(4)} ${passed ? "≥" : "<"} required ${minImprovement}`
    } satisfies GateVerdict
  })

/**
 * Plans, checks and (unless `dry_run`) executes a deployment. Fails with
 * `DeployPreconditionError` before changing anything, or `DeploymentFailed` with the step report
 * and the rollback plan when a step fails midway.
 */
export const deployModel: (
  input: DeployInput,
  options?: DeployOptions
) => Effect.Effect<DeployResult, SynapseError | DeployPreconditionError | DeploymentFailed, Models | SynapseClient> =
  Effect.fn(
    "Workflows.deployModel"
  )(function*(rawInput: DeployInput, options: DeployOptions = {}) {
    const input = yield* validate(DeployInput, rawInput)
    const models = yield* Models
    const project = input.project_id
    const metrics = input.metrics ?? {}

    let file: { path: string; size: number } | null = null
    if (input.model_path !== undefined) {
      const stat = yield* Effect.sync(() => Fs.statSync(input.model_path!, { throwIfNoEntry: false }))
      if (stat === undefined || !stat.isFile()) {
        return yield* new DeployPreconditionError({
          reason: "file_not_found",
          detail: `model file ${input.model_path} does not exist or is not a file`
        })
      }
      file = { path: input.model_path, size: stat.size }
    }
    if (!(yield* projectExists(project, input.type))) {
      return yield* new DeployPreconditionError({
        reason: "project_not_found",
        detail: `project ${project} does not exist`
      })
    }
    const scopeType = (input.scope ?? "type") === "type" ? input.type : undefined
    const active = yield* activeModelsOf(project, scopeType, "deploy")
    const gate = input.gate !== undefined ? yield* gateVerdict(input.gate, metrics, active) : null
    const replace = input.replace_active ?? false
    const wouldDeactivate = replace ? active.map(summarizeModel) : []
    const plan: DeployPlan = {
      create: { name: input.name, model_type: input.type, project, version: input.version ?? null, metrics, file },
      scope: scopeType !== undefined ? "type" : "project",
      activeModels: active.map(summarizeModel),
      wouldDeactivate,
      gate,
      steps: [
        file !== null
          ? `upload ${file.path} (${file.size} bytes) and register "${input.name}" inactive`
          : `register "${input.name}" inactive, without a file`,
        "activate the new model",
        ...wouldDeactivate.map((m) => `deactivate model ${modelLabel(m)}`),
        replace
          ? `verify that the new model is the only active ${
            scopeType !== undefined ? `${scopeType} model` : "model"
          } of the project`
          : "verify that the new model is active"
      ]
    }
    if (input.dry_run === true) return { status: "planned", dryRun: true, plan, steps: [] } satisfies DeployResult
    if (gate !== null && !gate.passed) {
      return { status: "gate_rejected", dryRun: false, plan, steps: [] } satisfies DeployResult
    }

    // Execution. `steps` records every step as it ends; the ones never reached are added on failure.
    const steps: Array<StepReport> = []
    const pending: Array<Omit<StepReport, "status">> = [
      { step: "create", modelId: null },
      { step: "activate", modelId: null },
      ...active.filter(() => replace).map((m) => ({ step: "deactivate" as const, modelId: m.id })),
      { step: "verify", modelId: null }
    ]
    const deactivated: Array<number> = []
    let created: Model | null = null
    const fail = (index: number, error: { readonly message: string }) =>
      Effect.gen(function*() {
        steps.push({
          ...pending[index],
          ...(created !== null && pending[index].modelId === null ? { modelId: created.id } : {}),
          status: "failed",
          detail: error.message
        })
        for (const rest of pending.slice(index + 1)) steps.push({ ...rest, status: "not_run" })
        // From the activation on, the new model may be active (a failed answer is not a failed
        // change): deactivating it again is harmless, and it comes after every re-activation.
        const rollback: RollbackPlan | null = created === null
          ? null
          : { project_id: project, reactivate: [...deactivated], deactivate: index >= 1 ? [created.id] : [] }
        const needed = rollback !== null && (rollback.reactivate.length > 0 || rollback.deactivate.length > 0)
        const fields = {
          detail: `deployment of "${input.name}" to project ${project} failed at step ${index + 1} (${
            pending[index].step
          })`,
          steps,
          createdModelId: created?.id ?? null,
          rollback: needed ? rollback : null
        }
        if (!needed || input.rollback_on_failure !== true) return yield* new DeploymentFailed(fields)
        const undone = yield* rollbackDeployment(rollback).pipe(Effect.either)
        return yield* new DeploymentFailed({
          ...fields,
          rolledBack: undone._tag === "Right"
            ? { complete: true, steps: undone.right.steps, activeAfter: undone.right.activeAfter }
            : {
              complete: false,
              steps: undone.left._tag === "DeploymentFailed" ? undone.left.steps : [],
              activeAfter: [],
              detail: undone.left.message
            }
        })
      })

    options.onStep?.("create", null)
    const createInput = {
      name: input.name,
      model_type: input.type,
      project,
      metrics,
      is_active: false,
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.configuration !== undefined ? { configuration: input.configuration } : {}),
      ...(input.version !== undefined ? { version: input.version } : {}),
      ...(file !== null ? { file: file.path } : {})
    }
    const made = yield* models.create(
      createInput,
      options.upload !== undefined ? { upload: options.upload } : undefined
    ).pipe(Effect.either)
    if (made._tag === "Left") return yield* fail(0, made.left)
    created = made.right
    steps.push({ step: "create", modelId: created.id, status: "done" })

    options.onStep?.("activate", created.id)
    const activated = yield* models.setActive(created.id, true).pipe(Effect.either)
    if (activated._tag === "Left") return yield* fail(1, activated.left)
    created = activated.right
    steps.push({ step: "activate", modelId: created.id, status: "done" })

    for (let i = 2; i < pending.length - 1; i++) {
      const id = pending[i].modelId!
      options.onStep?.("deactivate", id)
      const demoted = yield* models.setActive(id, false).pipe(Effect.either)
      if (demoted._tag === "Left") return yield* fail(i, demoted.left)
      deactivated.push(id)
      steps.push({ step: "deactivate", modelId: id, status: "done" })
    }

    options.onStep?.("verify", created.id)
    const after = yield* activeModelsOf(project, scopeType, "deploy").pipe(Effect.either)
    if (after._tag === "Left") return yield* fail(pending.length - 1, after.left)
    const activeAfter = after.right.map((m) => m.id)
    const ok = replace ? activeAfter.length === 1 && activeAfter[0] === created.id : activeAfter.includes(created.id)
    if (!ok) {
      return yield* fail(pending.length - 1, {
        message: replace
          ? `expected model ${created.id} to be the only active model in scope, found active: ${
            activeAfter.join(", ") || "none"
          }`
          : `expected model ${created.id} to be active, found active: ${activeAfter.join(", ") || "none"}`
      })
    }
    steps.push({ step: "verify", modelId: created.id, status: "done", detail: `active: ${activeAfter.join(", ")}` })
    return {
      status: "deployed",
      dryRun: false,
      plan,
      model: summarizeModel(created),
      steps,
      activeAfter
    } satisfies DeployResult
  })

/** The result of {@link rollbackDeployment}. */
export interface RollbackResult {
  readonly steps: ReadonlyArray<StepReport>
  readonly activeAfter: ReadonlyArray<number>
}

/**
 * Restores the active set before a failed deployment: re-activates the models it demoted first,
 * then deactivates the models it activated, so the project is never left without an active model.
 * Every step is attempted; the first failure is reported with the others' outcomes.
 */
export const rollbackDeployment: (
  plan: RollbackPlan
) => Effect.Effect<RollbackResult, SynapseError | DeployPreconditionError | DeploymentFailed, Models> = Effect.fn(
  "Workflows.rollbackDeployment"
)(function*(rawPlan: RollbackPlan) {
  const plan = yield* validate(RollbackPlan, rawPlan)
  const models = yield* Models
  const named = [...new Set([...plan.reactivate, ...plan.deactivate])]
  if (named.length === 0) {
    return yield* new DeployPreconditionError({
      reason: "nothing_to_do",
      detail: "the rollback names no model to re-activate or deactivate"
    })
  }
  // Every model is looked up before anything changes: an unknown id fails with NotFoundError, and
  // a mistyped one that exists in another project must not switch that project's model.
  const found = yield* Effect.forEach(named, (id) => models.get(id), { concurrency: 4 })
  const unknown = found.find((m) => typeof m.project !== "number")
  if (unknown !== undefined) {
    return yield* incompleteRecord(
      "model",
      unknown.id,
      "project",
      "rollback",
      `to check that it belongs to project ${plan.project_id} before switching it`
    )
  }
  const foreign = found.filter((m) => m.project !== plan.project_id)
  if (foreign.length > 0) {
    return yield* new DeployPreconditionError({
      reason: "model_not_in_project",
      detail: `${
        foreign.map((m) => `model ${m.id} is in project ${m.project ?? "none"}`).join(", ")
      }, not in project ${plan.project_id}`
    })
  }
  // The active set is read again at the end; a listing that cannot say which models are active
  // must fail now, not after the switches, where it would hide what was done.
  yield* activeModelsOf(plan.project_id, undefined, "rollback")
  const steps: Array<StepReport> = []
  const todo: Array<[StepReport["step"], number, boolean]> = [
    ...plan.reactivate.map((id) => ["reactivate", id, true] as [StepReport["step"], number, boolean]),
    ...plan.deactivate.map((id) => ["deactivate", id, false] as [StepReport["step"], number, boolean])
  ]
  let failed = false
  let reactivationFailed = false
  for (const [step, id, active] of todo) {
    // Never demote the new model when a previous one could not be re-activated: that could leave
    // the project with no active model at all. A failed deactivation does not stop the others.
    if (reactivationFailed && !active) {
      steps.push({ step, modelId: id, status: "not_run", detail: "skipped: an earlier re-activation failed" })
      continue
    }
    const r = yield* models.setActive(id, active).pipe(Effect.either)
    if (r._tag === "Left") {
      failed = true
      if (active) reactivationFailed = true
      steps.push({ step, modelId: id, status: "failed", detail: r.left.message })
    } else steps.push({ step, modelId: id, status: "done" })
  }
  const activeAfter = (yield* activeModelsOf(plan.project_id, undefined, "rollback")).map((m) => m.id)
  if (failed) {
    return yield* new DeploymentFailed({
      detail: `rollback in project ${plan.project_id} did not complete`,
      steps,
      createdModelId: null,
      rollback: plan
    })
  }
  return { steps, activeAfter }
})
