/**
 * `synapse-ml models analyze | compare | deploy | rollback`: the model workflows at a terminal.
 * Results print as a readable report on stdout (or the full result as JSON with `--json`);
 * progress and errors go to stderr. Exit codes: 0 done, 2 bad arguments or input files
 * (predictions, unknown metric, deploy preconditions), 3 API failure, 4 deployment rejected by its
 * gate, 6 a deployment step failed (the report and the rollback command are printed).
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { MODEL_TYPES } from "../../schemas/Model.js"
import {
  type Analysis,
  type AnalyzeInput,
  analyzeModel,
  EVALUATION_TASKS,
  modelLabel,
  type ModelSummary,
  type ReportWritten
} from "../../workflows/Analyze.js"
import { type CompareInput, compareModels, type Comparison } from "../../workflows/Compare.js"
import { type DeployInput, deployModel, type DeployResult, rollbackDeployment } from "../../workflows/Deploy.js"
import { EXIT, parseIdList, progressReporter, runCommand, sdkLayer, UsageError } from "./workflowSupport.js"

const json = Options.boolean("json").pipe(Options.withDescription("print the whole result as JSON instead of a report"))
// Plain text: @effect/cli's file options probe the path first and fail with a defect on ENOTDIR.
const reportFile = Options.text("report").pipe(
  Options.withPseudoName("FILE"),
  Options.optional,
  Options.withDescription("also write a self-contained HTML report (charts, error lists) to this file")
)
const chartsDir = Options.text("charts").pipe(
  Options.withPseudoName("DIR"),
  Options.optional,
  Options.withDescription("also write each chart as a PNG file into this directory")
)
/** The report options as the workflows take them, or undefined when neither was given. */
const reportRequest = (o: { readonly report: Option.Option<string>; readonly charts: Option.Option<string> }) =>
  Option.isNone(o.report) && Option.isNone(o.charts)
    ? undefined
    : { path: Option.getOrUndefined(o.report), chartsDir: Option.getOrUndefined(o.charts) }
/** The line that says where the report went. */
const reportLine = (r: { readonly report?: ReportWritten }): string =>
  r.report === undefined ? "" : `\nReport: ${
    [
      ...(r.report.path === null ? [] : [`${r.report.path} (${Math.ceil(r.report.bytes / 1024)} KiB)`]),
      ...(r.report.charts.length === 0
        ? []
        : [`${r.report.charts.length} PNG charts in ${Path.dirname(r.report.charts[0]!)}`])
    ].join("; ")
  }${r.report.missing.length === 0 ? "" : `\n  not shown: ${r.report.missing.join("; ")}`}`

const fmt = (
  v: number | null | undefined,
  digits = 3
): string => (v === null || v === undefined ? "—" : v.toFixed(digits))
/** A field as printed: `—` when the backend did not send it. */
const shown = (
  v: string | number | null | undefined
): string => (v === null || v === undefined || v === "" ? "—" : String(v))
/** A model in a list: `name version (id 12)`, the name `—` when the backend sent none. */
const modelLine = (m: ModelSummary): string =>
  `${shown(m.name)}${m.version !== null ? ` ${m.version}` : ""} (id ${m.id})`
const pairs = (record: Readonly<Record<string, number>>): string =>
  Object.entries(record).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(", ") || "none"

/** Our workflow errors: their own exit codes and full messages (a deploy report spans lines). */
const MODEL_ERRORS: Record<string, number> = {
  PredictionsError: EXIT.usage,
  ReportError: EXIT.io,
  UnknownMetricError: EXIT.usage,
  DeployPreconditionError: EXIT.usage,
  DeploymentFailed: 6
}
const run = <A, E, R>(name: string, body: Effect.Effect<A, E, R>) =>
  runCommand(
    name,
    body.pipe(
      Effect.catchIf(
        (e): e is E & { readonly _tag: string; readonly message: string } =>
          typeof e === "object" && e !== null && "_tag" in e && typeof e._tag === "string" && e._tag in MODEL_ERRORS,
        (e) =>
          Console.error(`synapse-ml ${name}: ${e._tag}: ${e.message}`).pipe(
            Effect.zipRight(Effect.sync(() => void (process.exitCode = MODEL_ERRORS[e._tag])))
          )
      ),
      Effect.provide(sdkLayer())
    )
  )

const readText = (file: string) =>
  Effect.try({
    try: () => Fs.readFileSync(file, "utf8"),
    catch: (e) => new UsageError(`cannot read ${file}: ${(e as Error).message}`)
  })

const parseJsonOption = (name: string, text: string) =>
  Effect.try({
    try: () => JSON.parse(text) as unknown,
    catch: () => new UsageError(`--${name} must be JSON, e.g. '{"mAP": 0.87}'`)
  })

/** At most 4 decimals, as the seed's stored metrics have (computed ones are full floats). */
const round = (x: number): number => Number(x.toFixed(4))

const analysisReport = (a: Analysis): string => {
  const lines: Array<string> = []
  const m = a.model
  const activity = m.is_active === null ? "active: —" : m.is_active ? "active" : "inactive"
  lines.push(
    `Model ${m.id} ${m.name !== null ? `"${m.name}"` : "—"}${m.version !== null ? ` ${m.version}` : ""} (${
      shown(m.model_type)
    }, project ${shown(m.project)}, ${activity})`
  )
  const v = a.datasetVersion
  lines.push(`Dataset version ${v.id}: ${shown(v.dataset)} ${shown(v.version ?? v.name)}`)
  lines.push("", "Reported metrics (typed in by the model's uploader, not verified):")
  for (const [k, val] of Object.entries(a.reported.metrics)) lines.push(`  ${k.padEnd(16)} ${val}`)
  if (Object.keys(a.reported.metrics).length === 0) lines.push("  none")
  const g = a.groundTruth
  lines.push("", `Ground truth: ${g.events} events over ${g.dataUnits} data units`)
  lines.push(`  data types: ${pairs(g.dataTypes)}`)
  lines.push(`  splits:     ${pairs(g.splits)}`)
  lines.push(`  classes:    ${pairs(g.classes)}`)
  if (Object.keys(g.labels).length > 0) {
    lines.push(
      `  labels:     ${pairs(g.labels)}${
        g.conflictingLabels > 0 ? ` (${g.conflictingLabels} units with disagreeing passes)` : ""
      }`
    )
  }
  const c = a.computed
  if (c !== undefined) {
    const p = c.predictions
    lines.push(
      "",
      `Computed from predictions (${p.used} of ${p.rows} rows used${
        p.skipped.total > 0
          ? `; skipped: ${
            Object.entries(p.skipped.byReason).map(([r, s]) =>
              `${r} ×${s.count} (rows ${s.rows.join(", ")}${s.count > s.rows.length ? ", …" : ""})`
            ).join(", ")
          }`
          : ""
      }):`
    )
    if (c.task === "detection") {
      const d = c.metrics
      lines.push(
        `  AP ${fmt(d.AP)}  AP50 ${fmt(d.AP50)}  AP75 ${fmt(d.AP75)}  AP small/medium/large ${fmt(d.AP_small)}/${
          fmt(d.AP_medium)
        }/${fmt(d.AP_large)}`
      )
      lines.push(
        `  AR@1 ${fmt(d.AR1)}  AR@10 ${fmt(d.AR10)}  AR@100 ${fmt(d.AR100)}  AR small/medium/large ${fmt(d.AR_small)}/${
          fmt(d.AR_medium)
        }/${fmt(d.AR_large)}`
      )
      lines.push(`  at IoU 0.5: precision ${fmt(d.precision)}  recall ${fmt(d.recall)}  F1 ${fmt(d.f1)}`)
      lines.push(
        `  ${"class".padEnd(16)} ${"AP".padStart(6)} ${"AP50".padStart(6)} ${"P@.5".padStart(6)} ${
          "R@.5".padStart(6)
        } ${"F1".padStart(6)} ${"gt".padStart(6)} ${"dets".padStart(6)}`
      )
      for (const k of d.perClass) {
        lines.push(
          `  ${k.name.slice(0, 16).padEnd(16)} ${fmt(k.ap).padStart(6)} ${fmt(k.ap50).padStart(6)} ${
            fmt(k.precision).padStart(6)
          } ${fmt(k.recall).padStart(6)} ${fmt(k.f1).padStart(6)} ${String(k.support).padStart(6)} ${
            String(k.detections).padStart(6)
          }`
        )
      }
    } else {
      const k = c.metrics
      lines.push(
        `  accuracy ${fmt(k.accuracy)} on ${k.samples} samples${
          c.unpredicted > 0 ? ` (${c.unpredicted} labelled data units had no prediction)` : ""
        }`
      )
      lines.push(`  macro    P ${fmt(k.macro.precision)}  R ${fmt(k.macro.recall)}  F1 ${fmt(k.macro.f1)}`)
      lines.push(`  weighted P ${fmt(k.weighted.precision)}  R ${fmt(k.weighted.recall)}  F1 ${fmt(k.weighted.f1)}`)
      lines.push(
        `  ${"class".padEnd(16)} ${"P".padStart(6)} ${"R".padStart(6)} ${"F1".padStart(6)} ${"support".padStart(8)}`
      )
      for (const x of k.perClass) {
        lines.push(
          `  ${x.label.slice(0, 16).padEnd(16)} ${fmt(x.precision).padStart(6)} ${fmt(x.recall).padStart(6)} ${
            fmt(x.f1).padStart(6)
          } ${String(x.support).padStart(8)}`
        )
      }
      if (k.zeroDivisions.length > 0) {
        lines.push(
          `  zero division (${k.zeroDivisionPolicy} used): ${
            k.zeroDivisions.map((z) => `${z.metric} of ${z.label}`).join(", ")
          }`
        )
      }
    }
    lines.push("", `Reported vs computed (tolerance ${a.tolerance}):`)
    for (const x of a.comparisons) {
      lines.push(
        `  ${x.agrees ? "agrees  " : "DIFFERS "} ${x.metric} reported ${x.reported}, computed ${x.computedAs} ${
          fmt(x.computed, 4)
        } (${x.difference >= 0 ? "+" : ""}${x.difference.toFixed(4)})${x.note !== undefined ? `; ${x.note}` : ""}`
      )
    }
    if (a.comparisons.length === 0) lines.push("  no reported metric has a computed counterpart")
    if (a.uncompared.length > 0) lines.push(`  not comparable: ${a.uncompared.join(", ")}`)
  }
  if (a.notes.length > 0) lines.push("", ...a.notes.map((n) => `note: ${n}`))
  return lines.join("\n")
}

const analyze = Command.make(
  "analyze",
  {
    modelId: Args.integer({ name: "model-id" }).pipe(Args.withDescription("the model to analyze")),
    version: Options.integer("dataset-version").pipe(Options.withDescription("ground-truth dataset version id")),
    predictions: Options.file("predictions", { exists: "yes" }).pipe(
      Options.optional,
      Options.withDescription(
        "predictions file: COCO results JSON (detection) or JSONL {data_unit, label} (classification)"
      )
    ),
    task: Options.choice("task", EVALUATION_TASKS).pipe(
      Options.optional,
      Options.withDescription("read predictions as this task (default: from the model type)")
    ),
    tolerance: Options.float("tolerance").pipe(
      Options.withDefault(0.01),
      Options.withDescription("largest reported/computed difference that still agrees")
    ),
    zeroDivision: Options.choice("zero-division", ["0", "1"]).pipe(
      Options.withDefault("0" as const),
      Options.withDescription("value of an undefined precision/recall")
    ),
    scoreThreshold: Options.float("score-threshold").pipe(
      Options.optional,
      Options.withDescription("detection: minimum score for per-class P/R/F1")
    ),
    report: reportFile,
    charts: chartsDir,
    json
  },
  (o) =>
    run(
      "models analyze",
      Effect.gen(function*() {
        const text = Option.isSome(o.predictions) ? yield* readText(o.predictions.value) : undefined
        const input: AnalyzeInput = {
          model_id: o.modelId,
          ground_truth_version_id: o.version,
          tolerance: o.tolerance,
          zero_division: o.zeroDivision === "1" ? 1 : 0,
          ...(text !== undefined && Option.isSome(o.predictions)
            ? { predictions: text, predictions_name: Path.basename(o.predictions.value) }
            : {}),
          ...(Option.isSome(o.task) ? { task: o.task.value } : {}),
          ...(Option.isSome(o.scoreThreshold) ? { score_threshold: o.scoreThreshold.value } : {})
        }
        const progress = progressReporter("analyze")
        const result = yield* analyzeModel(input, {
          report: reportRequest(o),
          onProgress: (p) =>
            progress.report({
              phase: p.stage === "ground_truth" ? "ground truth" : "scoring",
              done: p.done,
              total: p.total,
              unit: p.stage === "ground_truth" ? "events" : "",
              extra: ""
            })
        }).pipe(Effect.ensuring(Effect.sync(() => progress.end())))
        yield* Console.log(o.json ? JSON.stringify(result, null, 2) : analysisReport(result) + reportLine(result))
      })
    )
).pipe(
  Command.withDescription(
    "Analyze a model on a ground-truth dataset version: reported metrics, ground truth, metrics computed from predictions, discrepancies."
  )
)

const comparisonReport = (c: Comparison): string => {
  const lines = [
    `Models ranked by ${c.metric} (${c.direction} is better${
      c.directionSource === "default" ? ", by default" : ""
    }; ${c.source} values):`
  ]
  for (const r of c.ranking) {
    lines.push(
      `  ${String(r.rank).padStart(2)}. ${modelLine(r.model)}: ${round(r.value)}${
        r.reported !== undefined ? ` (reported ${round(r.reported)})` : ""
      }`
    )
  }
  if (c.missing.length > 0) {
    lines.push("Not ranked:")
    for (const m of c.missing) lines.push(`  - ${modelLine(m.model)}: ${m.reason}`)
  }
  if (c.notes.length > 0) lines.push("", ...c.notes.map((n) => `note: ${n}`))
  return lines.join("\n")
}

const compare = Command.make(
  "compare",
  {
    modelIds: Args.integer({ name: "model-id" }).pipe(Args.atLeast(1), Args.withDescription("models to compare")),
    metric: Options.text("metric").pipe(
      Options.withDefault("accuracy"),
      Options.withDescription(
        "metric to rank by (default accuracy; detection models store e.g. mAP — an unknown name lists the ones that exist)"
      )
    ),
    direction: Options.choice("direction", ["higher", "lower"]).pipe(
      Options.optional,
      Options.withDescription("which way is better (default: lower for loss/error)")
    ),
    recompute: Options.integer("recompute-on").pipe(
      Options.optional,
      Options.withDescription("ground-truth version to recompute every model's metrics on")
    ),
    // Parsed here rather than with Options.keyValueMap, whose error for a missing "=" ("text options
    // do not have a default value") does not say what is expected.
    predictions: Options.text("predictions").pipe(
      Options.repeated,
      Options.withDefault([]),
      Options.withDescription(
        "with --recompute-on: model-id=file, repeatable (e.g. --predictions 101=a.json --predictions 103=b.json)"
      )
    ),
    report: reportFile,
    charts: chartsDir,
    json
  },
  (o) =>
    run(
      "models compare",
      Effect.gen(function*() {
        let recompute: CompareInput["recompute"] | undefined
        if (Option.isSome(o.recompute)) {
          const files: Array<[string, string]> = []
          for (const entry of o.predictions) {
            const match = /^\s*(\d+)\s*=(.+)$/.exec(entry)
            if (match === null) {
              return yield* Effect.fail(
                new UsageError(
                  `--predictions expects model-id=file, e.g. --predictions 101=a.json; got ${JSON.stringify(entry)}`
                )
              )
            }
            files.push([match[1]!, match[2]!])
          }
          if (files.length === 0) {
            return yield* Effect.fail(
              new UsageError("--recompute-on needs --predictions model-id=file for at least one model")
            )
          }
          const predictions: Record<string, string> = {}
          for (const [id, file] of files) predictions[id] = yield* readText(file)
          recompute = { ground_truth_version_id: o.recompute.value, predictions }
        } else if (o.predictions.length > 0) {
          return yield* Effect.fail(new UsageError("--predictions needs --recompute-on <version id>"))
        }
        const progress = progressReporter("compare")
        const result = yield* compareModels({
          model_ids: o.modelIds,
          metric: o.metric,
          ...(Option.isSome(o.direction) ? { direction: o.direction.value } : {}),
          ...(recompute !== undefined ? { recompute } : {})
        }, {
          report: reportRequest(o),
          onProgress: (p) =>
            progress.report({
              phase: p.stage === "ground_truth" ? "ground truth" : "scoring",
              done: p.done,
              total: p.total,
              unit: p.stage === "ground_truth" ? "events" : "models",
              extra: ""
            })
        }).pipe(Effect.ensuring(Effect.sync(() => progress.end())))
        yield* Console.log(o.json ? JSON.stringify(result, null, 2) : comparisonReport(result) + reportLine(result))
      })
    )
).pipe(
  Command.withDescription("Rank models by a metric (reported, or recomputed on one dataset version from predictions).")
)

const deployReport = (r: DeployResult): string => {
  const p = r.plan
  const lines = [
    r.status === "planned"
      ? "Deployment plan (dry run: nothing changed):"
      : r.status === "gate_rejected"
      ? "Deployment rejected by its gate (nothing changed):"
      : `Deployed model ${r.model?.id} ${r.model?.name != null ? `"${r.model.name}"` : "—"}:`,
    `  project ${p.create.project}; active ${p.scope === "type" ? `${p.create.model_type} models` : "models"} ${
      r.status === "deployed" ? "before" : "now"
    }: ${p.activeModels.map((m) => modelLabel({ id: m.id, name: m.name })).join(", ") || "none"}`
  ]
  if (p.gate !== null) lines.push(`  gate: ${p.gate.passed ? "passed" : "REJECTED"}: ${p.gate.reason}`)
  if (r.status === "deployed") {
    for (const s of r.steps) {
      lines.push(
        `  ${s.status.padEnd(7)} ${s.step}${s.modelId !== null ? ` model ${s.modelId}` : ""}${
          s.detail !== undefined ? ` (${s.detail})` : ""
        }`
      )
    }
  } else {
    lines.push("  steps:", ...p.steps.map((s, i) => `    ${i + 1}. ${s}`))
  }
  return lines.join("\n")
}

const deploy = Command.make(
  "deploy",
  {
    name: Options.text("name").pipe(Options.withDescription("model name")),
    type: Options.choice("type", MODEL_TYPES).pipe(Options.withDescription("model type")),
    project: Options.integer("project").pipe(Options.withDescription("project id")),
    description: Options.text("description").pipe(Options.optional),
    metrics: Options.text("metrics").pipe(
      Options.optional,
      Options.withDescription(`candidate metrics as JSON, e.g. '{"mAP": 0.87}'`)
    ),
    configuration: Options.text("configuration").pipe(
      Options.optional,
      Options.withDescription("configuration as a JSON object")
    ),
    version: Options.text("model-version").pipe(
      Options.optional,
      Options.withDescription("version label of the model")
    ),
    file: Options.file("file", { exists: "yes" }).pipe(
      Options.optional,
      Options.withDescription("model file to upload")
    ),
    replaceActive: Options.boolean("replace-active").pipe(
      Options.withDescription("deactivate the other active models in scope")
    ),
    scope: Options.choice("scope", ["type", "project"]).pipe(
      Options.withDefault("type" as const),
      Options.withDescription("replace (and gate against) the project's active models of the same type, or all of them")
    ),
    gateMetric: Options.text("gate-metric").pipe(
      Options.optional,
      Options.withDescription("require an improvement over the active model on this metric")
    ),
    gateMin: Options.float("gate-min-improvement").pipe(
      Options.optional,
      Options.withDescription("with --gate-metric: the improvement required (default 0)")
    ),
    gateDirection: Options.choice("gate-direction", ["higher", "lower"]).pipe(
      Options.optional,
      Options.withDescription(
        "with --gate-metric: which way is better (default: lower for loss- and error-like names, else higher)"
      )
    ),
    dryRun: Options.boolean("dry-run").pipe(Options.withDescription("plan and check only; change nothing")),
    rollbackOnFailure: Options.boolean("rollback-on-failure").pipe(
      Options.withDescription("if a step fails midway, restore the previous active models at once")
    ),
    json
  },
  (o) =>
    run(
      "models deploy",
      Effect.gen(function*() {
        const metrics = Option.isSome(o.metrics) ? yield* parseJsonOption("metrics", o.metrics.value) : undefined
        const configuration = Option.isSome(o.configuration)
          ? yield* parseJsonOption("configuration", o.configuration.value)
          : undefined
        // Gate settings without a gate would be ignored: the deploy would go ahead ungated.
        if (Option.isNone(o.gateMetric) && (Option.isSome(o.gateMin) || Option.isSome(o.gateDirection))) {
          return yield* Effect.fail(
            new UsageError(
              `${Option.isSome(o.gateMin) ? "--gate-min-improvement" : "--gate-direction"} needs --gate-metric NAME`
            )
          )
        }
        const input = {
          name: o.name,
          type: o.type,
          project_id: o.project,
          replace_active: o.replaceActive,
          scope: o.scope,
          dry_run: o.dryRun,
          rollback_on_failure: o.rollbackOnFailure,
          ...(Option.isSome(o.description) ? { description: o.description.value } : {}),
          ...(metrics !== undefined ? { metrics } : {}),
          ...(configuration !== undefined ? { configuration } : {}),
          ...(Option.isSome(o.version) ? { version: o.version.value } : {}),
          ...(Option.isSome(o.file) ? { model_path: o.file.value } : {}),
          ...(Option.isSome(o.gateMetric)
            ? {
              gate: {
                against: "active",
                metric: o.gateMetric.value,
                min_improvement: Option.getOrElse(o.gateMin, () => 0),
                ...(Option.isSome(o.gateDirection) ? { direction: o.gateDirection.value } : {})
              }
            }
            : {})
        } as DeployInput // metrics/configuration are checked by deployModel's own validation
        const progress = progressReporter("deploy")
        const result = yield* deployModel(input, {
          upload: {
            onProgress: (p) =>
              progress.report({ phase: "upload", done: p.bytesSent, total: p.totalBytes, unit: "bytes", extra: "" })
          },
          onStep: (step, id) => {
            progress.end()
            process.stderr.write(`deploy: ${step}${id !== null ? ` model ${id}` : ""}\n`)
          }
        }).pipe(
          Effect.tapError((e) =>
            e._tag === "DeploymentFailed" && e.rollback !== null && e.rolledBack?.complete !== true
              ? Console.error(
                `to roll back: synapse-ml models rollback --project ${e.rollback.project_id}${
                  e.rollback.reactivate.map((id) => ` --reactivate ${id}`).join("")
                }${e.rollback.deactivate.map((id) => ` --deactivate ${id}`).join("")}`
              )
              : Effect.void
          ),
          Effect.ensuring(Effect.sync(() => progress.end()))
        )
        yield* Console.log(o.json ? JSON.stringify(result, null, 2) : deployReport(result))
        if (result.status === "gate_rejected") process.exitCode = 4
      })
    )
).pipe(
  Command.withDescription("Deploy a model: plan, gate, create (with upload), activate, deactivate the others, verify.")
)

const rollback = Command.make(
  "rollback",
  {
    project: Options.integer("project"),
    // Text parsed by parseIdList: @effect/cli's repeated integer option refuses a single occurrence.
    reactivate: Options.text("reactivate").pipe(
      Options.repeated,
      Options.withDefault([]),
      Options.withDescription("models to re-activate first (repeat, or separate with commas)")
    ),
    deactivate: Options.text("deactivate").pipe(
      Options.repeated,
      Options.withDefault([]),
      Options.withDescription("models to deactivate after (repeat, or separate with commas)")
    ),
    json
  },
  (o) =>
    run(
      "models rollback",
      Effect.gen(function*() {
        const reactivate = yield* parseIdList("--reactivate", o.reactivate)
        const deactivate = yield* parseIdList("--deactivate", o.deactivate)
        if (reactivate.length + deactivate.length === 0) {
          return yield* Effect.fail(
            new UsageError("give --reactivate ID or --deactivate ID (the deploy's failure report prints the command)")
          )
        }
        const result = yield* rollbackDeployment({ project_id: o.project, reactivate, deactivate })
        yield* Console.log(
          o.json
            ? JSON.stringify(result, null, 2)
            : [
              ...result.steps.map((s) => `  ${s.status.padEnd(7)} ${s.step} model ${s.modelId}`),
              `active now: ${result.activeAfter.join(", ") || "none"}`
            ].join("\n")
        )
      })
    )
).pipe(
  Command.withDescription("Undo a failed deployment: re-activate the previous models, then deactivate the new one.")
)

/** `synapse-ml models`. */
export const modelsCommand = Command.make("models").pipe(
  Command.withDescription("Model workflows: analyze, compare, deploy, rollback."),
  Command.withSubcommands([analyze, compare, deploy, rollback])
)
