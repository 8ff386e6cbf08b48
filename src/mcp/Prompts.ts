/**
 * MCP prompts and completions. Prompts are the common flows as a user starts them from a client's
 * prompt menu: evaluate a model on a dataset version, prepare a training split, deploy behind a
 * gate. Each expands to one user message naming the tools to call, in order, with the arguments
 * filled in. Completions suggest ids for prompt arguments and resource templates: model and
 * dataset-version ids from the backend (one page of at most `MAX_COMPLETIONS`, newest first, those
 * starting with what was typed) and export names from the output directory.
 */
import type { CompleteResult, GetPromptResult, Prompt } from "@modelcontextprotocol/sdk/types.js"
import { Effect } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { GroundTruths } from "../services/GroundTruths.js"
import { Models } from "../services/Models.js"
import { McpConfig } from "./Config.js"
import { EXPORT_SUMMARY_FILE } from "./Resources.js"
import { SAFE_NAME } from "./Roots.js"
import { ToolError } from "./Tool.js"

/** Most values one completion answers (MCP's own limit). */
export const MAX_COMPLETIONS = 100

/** What a completion request names: a prompt's argument or a resource template's variable. */
export type CompletionRef =
  | { readonly type: "ref/prompt"; readonly name: string }
  | { readonly type: "ref/resource"; readonly uri: string }

/** Prompts and completions as the adapter serves them. */
export interface PromptCatalog<R> {
  readonly prompts: ReadonlyArray<Prompt>
  /** The messages of prompt `name` with `args`, or a ToolError naming what is missing. */
  readonly get: (
    name: string,
    args: Readonly<Record<string, string>>
  ) => Effect.Effect<GetPromptResult, ToolError, R>
  /** Suggestions for `argument` (what the user typed so far in `value`); never fails. */
  readonly complete: (
    ref: CompletionRef,
    argument: string,
    value: string
  ) => Effect.Effect<CompleteResult["completion"], never, R>
}

const PROMPTS: ReadonlyArray<Prompt> = [
  {
    name: "evaluate_model",
    title: "Evaluate a model on a dataset version",
    description: "Checks a model's reported metrics against a ground-truth dataset version and compares it with " +
      "the other models evaluated there.",
    arguments: [
      { name: "model_id", description: "The model to evaluate.", required: true },
      { name: "dataset_version_id", description: "The ground-truth dataset version to evaluate on.", required: true }
    ]
  },
  {
    name: "prepare_training_split",
    title: "Prepare a training split",
    description: "Plans a train/validation/test split of dataset versions, shows it, and writes it once approved.",
    arguments: [
      {
        name: "dataset_version_ids",
        description: "Dataset version ids, separated by commas.",
        required: true
      },
      { name: "format", description: "coco or yolo (default coco).", required: false }
    ]
  },
  {
    name: "deploy_with_gate",
    title: "Deploy a model behind a quality gate",
    description: "Evaluates a model, compares it with the model in service, and deploys it only if it passes the " +
      "gate and the user approves the plan.",
    arguments: [
      { name: "model_id", description: "The model to deploy.", required: true },
      { name: "dataset_version_id", description: "The dataset version the gate is measured on.", required: true },
      { name: "min_metric", description: "The gate: least value of the main metric, e.g. 0.5.", required: false }
    ]
  }
]

const ID = /^\d{1,12}$/

const need = (prompt: string, args: Readonly<Record<string, string>>, name: string, pattern: RegExp, what: string) =>
  Effect.suspend(() => {
    const value = args[name]?.trim()
    if (value === undefined || value === "") {
      return Effect.fail(new ToolError({ message: `Prompt ${prompt} needs ${name}: ${what}.` }))
    }
    if (!pattern.test(value)) {
      return Effect.fail(
        new ToolError({ message: `Prompt ${prompt}: ${name} ${JSON.stringify(value.slice(0, 40))} is not ${what}.` })
      )
    }
    return Effect.succeed(value)
  })

const userText = (description: string, text: string): GetPromptResult => ({
  description,
  messages: [{ role: "user", content: { type: "text", text } }]
})

const getPrompt = (name: string, args: Readonly<Record<string, string>>) =>
  Effect.gen(function*() {
    switch (name) {
      case "evaluate_model": {
        const model = yield* need(name, args, "model_id", ID, "a model id (digits)")
        const version = yield* need(name, args, "dataset_version_id", ID, "a dataset version id (digits)")
        return userText(
          `Evaluate model ${model} on dataset version ${version}`,
          [
            `Evaluate Synapse model ${model} on ground-truth dataset version ${version}.`,
            `1. get_model {"id": ${model}}: what the model is and the metrics it reports.`,
            `2. analyze_model_performance {"model_id": ${model}, "ground_truth_version_id": ${version}}: ` +
            "whether the reported metrics agree with the ground truth (add predictions if I give you some).",
            `3. compare_models with model ${model} and the other models evaluated on version ${version}.`,
            "Report which metrics are verified, which are only reported, and how the model ranks."
          ].join("\n")
        )
      }
      case "prepare_training_split": {
        const ids = yield* need(
          name,
          args,
          "dataset_version_ids",
          /^\d{1,12}(\s*,\s*\d{1,12})*$/,
          "ids separated by commas"
        )
        const format = args["format"]?.trim() || "coco"
        if (format !== "coco" && format !== "yolo") {
          return yield* new ToolError({
            message: `Prompt ${name}: format must be coco or yolo; got ${JSON.stringify(format)}.`
          })
        }
        const list = `[${ids.split(",").map((s) => s.trim()).join(", ")}]`
        return userText(
          `Prepare a ${format} training split of dataset versions ${list}`,
          [
            `Prepare a training split of ground-truth dataset versions ${list} in ${format} format.`,
            `1. prepare_training_data {"dataset_version_ids": ${list}, "format": "${format}"} as a dry run: ` +
            "show me the split (sizes per split, class balance) before anything is written.",
            "2. Only when I approve it, run it again with dry_run: false (use start_job for a large one).",
            "3. Give me the output directory and the resource links of the manifests."
          ].join("\n")
        )
      }
      case "deploy_with_gate": {
        const model = yield* need(name, args, "model_id", ID, "a model id (digits)")
        const version = yield* need(name, args, "dataset_version_id", ID, "a dataset version id (digits)")
        const gate = args["min_metric"]?.trim()
        if (gate !== undefined && gate !== "" && !/^(0(\.\d+)?|1(\.0+)?)$/.test(gate)) {
          return yield* new ToolError({ message: `Prompt ${name}: min_metric must be a number from 0 to 1.` })
        }
        return userText(
          `Deploy model ${model} if it passes the gate on dataset version ${version}`,
          [
            `Deploy Synapse model ${model}, but only behind a quality gate measured on dataset version ${version}.`,
            `1. analyze_model_performance {"model_id": ${model}, "ground_truth_version_id": ${version}}.`,
            "2. compare_models with the model currently in service on the same version.",
            gate !== undefined && gate !== ""
              ? `3. The gate: the main metric must be at least ${gate} and not worse than the model in service.`
              : "3. The gate: the main metric must not be worse than the model in service.",
            `4. If it passes, call deploy_model for model ${model} to get the plan, show me the plan, and execute it ` +
            "with its plan_id only after I approve. If it fails the gate, do not deploy: tell me why."
          ].join("\n")
        )
      }
      default:
        return yield* new ToolError({
          message: `Unknown prompt ${JSON.stringify(name)}; prompts: ${PROMPTS.map((p) => p.name).join(", ")}.`
        })
    }
  })

const answer = (values: ReadonlyArray<string>, more: boolean): CompleteResult["completion"] => ({
  values: values.slice(0, MAX_COMPLETIONS),
  total: values.length,
  hasMore: more || values.length > MAX_COMPLETIONS
})

const NONE = answer([], false)

/** Model ids starting with `typed`, newest first. */
const modelIds = (typed: string) =>
  Effect.gen(function*() {
    const models = yield* Models
    const page = yield* models.list({ page_size: MAX_COMPLETIONS, ordering: "-created_at" })
    return answer(
      page.results.map((m) => String(m.id)).filter((id) => id.startsWith(typed)),
      page.count > page.results.length
    )
  })

/** Dataset version ids starting with `typed`. */
const versionIds = (typed: string) =>
  Effect.gen(function*() {
    const groundTruths = yield* GroundTruths
    const page = yield* groundTruths.listVersions({ page_size: MAX_COMPLETIONS })
    return answer(
      page.results.map((v) => String(v.id)).filter((id) => id.startsWith(typed)),
      page.count > page.results.length
    )
  })

/** Names of finished exports starting with `typed`. */
const exportNames = (typed: string) =>
  Effect.gen(function*() {
    const config = yield* McpConfig
    const entries = yield* Effect.promise(() => fs.readdir(config.outputDir, { withFileTypes: true }).catch(() => []))
    const names: Array<string> = []
    for (const entry of entries) {
      if (!entry.isDirectory() || !SAFE_NAME.test(entry.name) || !entry.name.startsWith(typed)) continue
      const finished = yield* Effect.promise(() =>
        fs.access(path.join(config.outputDir, entry.name, EXPORT_SUMMARY_FILE)).then(() => true, () => false)
      )
      if (finished) names.push(entry.name)
    }
    return answer(names.sort(), false)
  })

/** The prompts and completions of the server. */
export const makePrompts = (): PromptCatalog<Models | GroundTruths | McpConfig> => ({
  prompts: PROMPTS,
  get: getPrompt,
  complete: (ref, argument, value) => {
    const typed = value.trim()
    const suggest: Effect.Effect<CompleteResult["completion"], unknown, Models | GroundTruths | McpConfig> =
      ref.type === "ref/prompt"
        ? argument === "model_id"
          ? modelIds(typed)
          : argument === "dataset_version_id" || argument === "dataset_version_ids"
          ? versionIds(typed.split(",").pop()?.trim() ?? "")
          : argument === "format"
          ? Effect.succeed(answer(["coco", "yolo"].filter((f) => f.startsWith(typed)), false))
          : Effect.succeed(NONE)
        : ref.uri === "synapse://models/{id}" && argument === "id"
        ? modelIds(typed)
        : ref.uri.startsWith("synapse://exports/") && argument === "name"
        ? exportNames(typed)
        : Effect.succeed(NONE)
    // A suggestion is a convenience: a backend failure suggests nothing rather than failing.
    return suggest.pipe(Effect.timeout("3 seconds"), Effect.orElseSucceed(() => NONE))
  }
})
