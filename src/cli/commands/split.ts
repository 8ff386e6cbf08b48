/**
 * `synapse-ml split`: a reproducible, leak-free train/validation(/test) split of a project's or
 * dataset versions' ground truth, written as a manifest that `synapse-ml export --manifest` reads.
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { prepareTrainingData, type PrepareTrainingDataInput, type SplitSummary } from "../../workflows/Split.js"
import { parseIdList, progressReporter, runCommand, sdkLayer, UsageError } from "./workflowSupport.js"

const options = {
  project: Options.integer("project").pipe(
    Options.optional,
    Options.withDescription("split every event of this project")
  ),
  versions: Options.text("dataset-version").pipe(
    Options.repeated,
    Options.withDefault([]),
    Options.withDescription("…or of these dataset versions: repeat the option or separate with commas")
  ),
  train: Options.float("train").pipe(Options.optional, Options.withDescription("train share (default 0.8)")),
  validation: Options.float("validation").pipe(
    Options.optional,
    Options.withDescription("validation share (default: the rest)")
  ),
  test: Options.float("test").pipe(Options.optional, Options.withDescription("test share (default 0)")),
  seed: Options.text("seed").pipe(
    Options.withDefault("0"),
    Options.withDescription("PRNG seed (integer or text): same seed and data, same split")
  ),
  method: Options.choice("method", ["stratified", "random", "hash"] as const).pipe(
    Options.withDefault("stratified" as const),
    Options.withDescription("stratified (class shares kept), random, or hash (stable as the dataset grows)")
  ),
  manifest: Options.text("manifest").pipe(
    Options.optional,
    Options.withDescription("where to write the manifest JSON")
  ),
  dryRun: Options.boolean("dry-run").pipe(Options.withDescription("print the summary, write nothing")),
  json: Options.boolean("json").pipe(Options.withDescription("print the summary as JSON"))
}

/** How far a split's image count is from its ratio, e.g. `+0.4 vs 111.6`. */
const imageDrift = (s: SplitSummary, name: string): string => {
  const d = s.imageDeviations[name]
  return d === undefined ? "" : `${d.deviation >= 0 ? "+" : ""}${d.deviation} vs ${d.target}`
}

/** The summary as a person reads it. */
export const formatSplitSummary = (s: SplitSummary): string =>
  [
    `Split ${s.total.images} images (${s.total.events} events, ${s.total.annotations} annotations) by ${s.method}, seed ${s.seed}`,
    ...Object.entries(s.splits).map(
      ([name, x]) =>
        `  ${name} (${s.ratios[name]}): ${x.images} images (${
          imageDrift(s, name)
        }), ${x.events} events, ${x.annotations} annotations`
    ),
    `  largest class-share deviation: ${s.maxDeviation}; largest image-count deviation: ${s.maxImageDeviation}; images in two splits: ${s.leakedImages}`,
    `  assignment sha256: ${s.assignmentSha256}`,
    s.manifestPath !== null
      ? `  manifest: ${s.manifestPath}`
      : s.dryRun
      ? "  dry run: nothing written"
      : "  no --manifest given: nothing written"
  ].join("\n")

/** `synapse-ml split`. */
export const splitCommand = Command.make("split", options, (o) =>
  runCommand(
    "split",
    Effect.gen(function*() {
      const versions = yield* parseIdList("--dataset-version", o.versions)
      if (Option.isNone(o.project) && versions.length === 0) {
        return yield* Effect.fail(new UsageError("give --project ID or at least one --dataset-version ID"))
      }
      // Each given share on its own first: the message then names what was typed, not a computed rest.
      for (const [name, share] of [["--train", o.train], ["--validation", o.validation], ["--test", o.test]] as const) {
        if (Option.isSome(share) && !(share.value >= 0 && share.value <= 1)) {
          return yield* Effect.fail(new UsageError(`${name} is a share between 0 and 1 (e.g. 0.8), got ${share.value}`))
        }
      }
      const train = Option.getOrElse(o.train, () => 0.8)
      const test = Option.getOrElse(o.test, () => 0)
      const validation = Option.getOrElse(o.validation, () => Math.round((1 - train - test) * 1e9) / 1e9)
      if (!(train > 0) || validation < 0 || test < 0 || Math.abs(train + validation + test - 1) > 1e-6) {
        return yield* Effect.fail(
          new UsageError(
            `--train ${train} --validation ${validation} --test ${test} must be ≥ 0 (train > 0) and add up to 1`
          )
        )
      }
      const seed = /^-?\d+$/.test(o.seed) && Number.isSafeInteger(Number(o.seed)) ? Number(o.seed) : o.seed
      const input: PrepareTrainingDataInput = {
        ratios: { train, validation, ...(test > 0 ? { test } : {}) },
        seed,
        method: o.method,
        dryRun: o.dryRun,
        ...(Option.isSome(o.project) ? { project: o.project.value } : {}),
        ...(versions.length > 0 ? { datasetVersionIds: versions } : {}),
        ...(Option.isSome(o.manifest) ? { manifestPath: o.manifest.value } : {})
      }
      const progress = progressReporter("split")
      const { summary } = yield* prepareTrainingData(input, {
        onProgress: (p) =>
          progress.report({
            phase: "reading",
            done: p.eventsRead,
            total: undefined,
            unit: "events",
            extra: `${p.images} images`
          })
      }).pipe(Effect.ensuring(Effect.sync(progress.end)), Effect.provide(sdkLayer()))
      yield* Console.log(o.json ? JSON.stringify(summary, null, 2) : formatSplitSummary(summary))
    })
  )).pipe(
    Command.withDescription(
      "Split ground truth into train/validation(/test) by image: seeded, stratified, leak-free; writes a manifest."
    )
  )
