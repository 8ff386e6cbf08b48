/**
 * What the data-workflow commands (`export`, `split`, `coco validate`) share: the SDK over the
 * configured backend (or the embedded sandbox when `SYNAPSE_BASE_URL` is unset), progress on
 * stderr (a redrawn bar on a terminal, plain lines otherwise), and exit codes that tell usage
 * errors, API errors and validation failures apart.
 */
import { Cause, Console, Effect } from "effect"
import * as App from "../../App.js"
import { isSynapseError, type SynapseError } from "../../services/SynapseError.js"

/** Exit codes of the workflow commands. */
export const EXIT = {
  ok: 0,
  /** Something unexpected (a bug): the cause is printed. */
  unexpected: 1,
  /** Bad arguments or configuration. */
  usage: 2,
  /** The Synapse API failed (network, auth, 4xx/5xx, undecodable answers). */
  api: 3,
  /** The work was done but a COCO file failed validation. */
  invalid: 4,
  /** Reading or writing local files failed. */
  io: 5
} as const

/** A usage problem found by a command itself (missing option, contradictory options). */
export class UsageError extends Error {
  readonly _tag = "UsageError"
}

/**
 * Parses a repeatable id option (`--x 303 --x 304`, `--x 303,304` or both) into distinct ids in the
 * order given; anything else is a usage error naming the option.
 */
export const parseIdList = (
  option: string,
  values: ReadonlyArray<string>
): Effect.Effect<Array<number>, UsageError> => {
  const parts = values.flatMap((text) => text.split(",")).map((s) => s.trim()).filter((s) => s !== "")
  const ids = parts.map(Number)
  const bad = parts.find((_, i) => !Number.isSafeInteger(ids[i]) || ids[i]! < 1)
  return bad !== undefined
    ? Effect.fail(new UsageError(`${option}: "${bad}" is not an id (an integer ≥ 1)`))
    : Effect.succeed([...new Set(ids)])
}

/**
 * Every SDK service (`App.sdkLayer`), over `SYNAPSE_BASE_URL` when set, else over an in-process
 * sandbox with demo data in the per-user data directory (or `SYNAPSE_SANDBOX_DIR`), answering in the
 * `SYNAPSE_SANDBOX_PROFILE` profile (said on stderr, so nobody mistakes it for their real backend;
 * an unknown profile is a usage error).
 */
export const sdkLayer = () =>
  App.sdkLayer({
    dataDir: "user",
    startedBy: "this command",
    announce: ({ info }) =>
      Console.error(
        `synapse-ml: SYNAPSE_BASE_URL is not set: using the local sandbox with demo data (profile ${info.profile}) at ${info.url}`
      )
  })

const tagOf = (e: unknown): string | undefined =>
  typeof e === "object" && e !== null && "_tag" in e && typeof (e as { _tag: unknown })._tag === "string"
    ? (e as { _tag: string })._tag
    : undefined

/** The kinds of resource a 404 can be about, by the URL segment before the id. */
const RESOURCE_NAMES: Record<string, string> = {
  models: "model",
  ground_truth_dataset_versions: "dataset version",
  ground_truths: "ground truth",
  ground_truth_events: "ground-truth event"
}

/** "model 99999 does not exist: " for a 404 on `…/models/99999/`, else nothing. */
const missingResource = (e: SynapseError): string => {
  if (e._tag !== "NotFoundError" || e.url === undefined || !URL.canParse(e.url)) return ""
  const segments = new URL(e.url).pathname.split("/").filter((s) => s !== "")
  const [kind, id] = segments.slice(-2)
  const name = kind !== undefined ? RESOURCE_NAMES[kind] : undefined
  return name !== undefined && id !== undefined && /^\d+$/.test(id) ? `${name} ${id} does not exist: ` : ""
}

const detailOf = (e: unknown): string => {
  if (typeof e === "object" && e !== null) {
    const o = e as { detail?: unknown; message?: unknown }
    // An API error's message adds the status and the request (method, URL without query) to its
    // detail: "Not found." alone does not say which id was missing.
    if (isSynapseError(e) && typeof o.message === "string" && o.message !== "") {
      return `${missingResource(e)}${o.message}`
    }
    if (typeof o.detail === "string") return o.detail
    if (typeof o.message === "string" && o.message !== "") return o.message
  }
  return String(e)
}

/** The exit code for a failure of a workflow command. */
export const exitCodeOf = (e: unknown): number => {
  const tag = tagOf(e)
  if (e instanceof UsageError) return EXIT.usage
  // A SplitError is bad input (ratios, no source) unless the manifest could not be written.
  if (tag === "SplitError" && (e as { path?: unknown }).path === undefined) return EXIT.usage
  if (tag === "ValidationError" || tag === "ConfigError" || tag === "SandboxError") return EXIT.usage
  if (isSynapseError(e)) return EXIT.api
  if (tag === "ExportError" || tag === "CocoFileError" || tag === "ManifestError" || tag === "SplitError") {
    return EXIT.io
  }
  return EXIT.unexpected
}

/**
 * Runs a command body: failures are printed on stderr as one actionable line and become the exit
 * code (the command itself succeeds, so the runtime does not override the code with 1).
 */
export const runCommand = <A, E, R>(name: string, body: Effect.Effect<A, E, R>) =>
  body.pipe(
    // Ctrl-C: the finalizers have run (an export's partial files are gone); say so, and exit 130
    // as shells expect, so that a script does not take the command for done.
    Effect.onInterrupt(() =>
      Effect.sync(() => {
        process.stderr.write(`\nsynapse-ml ${name}: interrupted\n`)
        process.exitCode = 130
      })
    ),
    Effect.catchAllCause((cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.sync(() => void (process.exitCode = 130))
      const failure = Cause.failureOption(cause)
      if (failure._tag === "Some") {
        const e = failure.value
        const code = exitCodeOf(e)
        const tag = tagOf(e)
        return Console.error(
          `synapse-ml ${name}: ${tag !== undefined && tag !== "UsageError" ? `${tag}: ` : ""}${detailOf(e)}`
        ).pipe(
          Effect.zipRight(Effect.sync(() => void (process.exitCode = code)))
        )
      }
      return Console.error(`synapse-ml ${name}: unexpected failure\n${Cause.pretty(cause)}`).pipe(
        Effect.zipRight(Effect.sync(() => void (process.exitCode = EXIT.unexpected)))
      )
    })
  )

/** Counters a progress display shows. */
export interface ProgressState {
  readonly phase: string
  readonly done: number
  readonly total: number | undefined
  readonly unit: string
  readonly extra: string
}

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`
/** Bytes in a human unit. */
export const formatBytes = mb

/**
 * A progress reporter on stderr: on a terminal a bar redrawn in place (at most 10 times a second);
 * otherwise a plain line every 2 seconds and at each phase change, so logs stay readable. A
 * phase's last state is always shown, before the next phase or at `end`: a short phase would
 * otherwise only ever show its start ("0/201 events").
 */
export const progressReporter = (label: string, stream: NodeJS.WriteStream = process.stderr) => {
  const tty = stream.isTTY === true
  let last = 0
  let lastPhase = ""
  let drawn = false
  // The newest state not shown yet (throttled).
  let unshown: ProgressState | undefined
  const show = (s: ProgressState) => {
    const count = s.total !== undefined ? `${s.done}/${s.total} ${s.unit}` : `${s.done} ${s.unit}`
    if (tty) {
      const width = 24
      const frac = s.total !== undefined && s.total > 0 ? Math.min(1, s.done / s.total) : 0
      const filled = Math.round(frac * width)
      const bar = s.total !== undefined
        ? `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(Math.round(frac * 100)).padStart(3)}% `
        : ""
      stream.write(`\r\x1b[2K${label} ${s.phase}: ${bar}${count}${s.extra ? ` · ${s.extra}` : ""}`)
      drawn = true
    } else {
      stream.write(`${label} ${s.phase}: ${count}${s.extra ? `, ${s.extra}` : ""}\n`)
    }
  }
  const report = (s: ProgressState) => {
    const now = Date.now()
    const phaseChanged = s.phase !== lastPhase
    if (!phaseChanged && now - last < (tty ? 100 : 2000)) {
      unshown = s
      return
    }
    if (phaseChanged) {
      if (unshown !== undefined) show(unshown)
      if (tty && drawn) stream.write("\n") // the finished phase stays on screen
    }
    unshown = undefined
    last = now
    lastPhase = s.phase
    show(s)
  }
  const end = () => {
    if (unshown !== undefined) show(unshown)
    unshown = undefined
    if (tty && drawn) stream.write("\n")
    drawn = false
  }
  return { report, end }
}
