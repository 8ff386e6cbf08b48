/**
 * `synapse-ml coco validate FILE`: checks any COCO file (ours or a user's) for what breaks
 * pycocotools and training frameworks, streaming it so size does not matter. Findings go to
 * stdout (text or `--json`); exit 0 when valid, 4 when not, 5 when the file cannot be read.
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { type CocoValidation, validateFile } from "../../workflows/Coco.js"
import { EXIT, runCommand } from "./workflowSupport.js"

/** The verdict as a person reads it. */
export const formatValidation = (file: string, v: CocoValidation): string => {
  const lines = [
    `${file}: ${
      v.valid ? "valid" : "INVALID"
    } (${v.images} images, ${v.annotations} annotations, ${v.categories} categories; ${v.errors} errors, ${v.warnings} warnings)`
  ]
  for (const [rule, n] of Object.entries(v.findingCounts)) lines.push(`  ${rule}: ${n}`)
  for (const f of v.findings) lines.push(`  ${f.severity} ${f.rule} at ${f.path}: ${f.message}`)
  if (v.truncated) {
    lines.push(
      `  … ${
        v.errors + v.warnings - v.findings.length
      } more findings not listed (see the counts above; raise --max-findings)`
    )
  }
  return lines.join("\n")
}

const validateCommand = Command.make(
  "validate",
  {
    file: Args.text({ name: "FILE" }).pipe(Args.withDescription("the COCO JSON file")),
    json: Options.boolean("json").pipe(Options.withDescription("print the result as JSON")),
    maxFindings: Options.integer("max-findings").pipe(
      Options.withDefault(50),
      Options.withDescription("list at most this many findings (all are counted)")
    )
  },
  (o) =>
    runCommand(
      "coco validate",
      Effect.gen(function*() {
        const v = yield* validateFile(o.file, { maxFindings: Math.max(0, o.maxFindings) })
        yield* Console.log(o.json ? JSON.stringify(v, null, 2) : formatValidation(o.file, v))
        if (!v.valid) process.exitCode = EXIT.invalid
      })
    )
).pipe(
  Command.withDescription(
    "Validate a COCO file: ids ≥ 1 and unique, references, categories, boxes, areas, polygons, RLE sizes, iscrowd, one entry per file_name."
  )
)

/** `synapse-ml coco` (subcommands: `validate`). */
export const cocoCommand = Command.make("coco").pipe(
  Command.withDescription("COCO file tools."),
  Command.withSubcommands([validateCommand])
)
