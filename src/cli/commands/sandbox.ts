/**
 * `synapse-ml sandbox`: runs the local Synapse-compatible backend until SIGINT/SIGTERM. The base
 * URL and token go to stderr (stdout stays free for programs that wrap the command), in the form
 * of the environment variables the SDK reads, ready to copy, with the answer profile it serves
 * (`--profile rich|evidence`, docs/wire-protocol.md "Profiles").
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { SANDBOX_PROFILES } from "../../sandbox/Context.js"
import * as Sandbox from "../../sandbox/Sandbox.js"
import { addressInUseMessage, choosePort, displacedNote, isAddressInUse } from "../Ports.js"

/**
 * The port the command listens on unless told otherwise; when another program holds it, the
 * command takes any free port and says which (`--port 0` always picks a free one).
 */
export const DEFAULT_SANDBOX_PORT = 8765

/** The sandbox's command-line options, shared with commands that embed it (`start`). */
export const sandboxOptions = {
  port: Options.integer("port").pipe(
    Options.optional,
    Options.withDescription(
      `TCP port (default ${DEFAULT_SANDBOX_PORT}, or any free port when it is taken; 0: any free port)`
    )
  ),
  host: Options.text("host").pipe(Options.withDefault("127.0.0.1"), Options.withDescription("interface to bind")),
  dataDir: Options.text("data-dir").pipe(
    Options.optional,
    Options.withDescription(
      "data directory (default $SYNAPSE_SANDBOX_DIR or ~/.local/share/synapse-ml/sandbox); reused across restarts"
    )
  ),
  seed: Options.choice("seed", ["demo", "large", "none"] as const).pipe(
    Options.withDefault("demo" as const),
    Options.withDescription("data set for a new data directory")
  ),
  randSeed: Options.integer("rand-seed").pipe(
    Options.withDefault(42),
    Options.withDescription("seed of the data generators and fault injection")
  ),
  events: Options.integer("events").pipe(
    Options.optional,
    Options.withDescription("number of events of the large data set (default 100000)")
  ),
  faults: Options.text("faults").pipe(
    Options.optional,
    Options.withDescription(
      "fault spec, e.g. status5xx=0.1,status429=0.05,latency=20 (default $SYNAPSE_SANDBOX_FAULTS)"
    )
  ),
  // Text checked by the sandbox rather than a choice: the refusal then names the option.
  profile: Options.text("profile").pipe(
    Options.optional,
    Options.withDescription(
      `answer shapes, ${
        SANDBOX_PROFILES.join(" or ")
      }: rich serves the documented shapes, evidence only what the official SDK is known to read (default $SYNAPSE_SANDBOX_PROFILE or rich)`
    )
  ),
  token: Options.text("token").pipe(
    Options.optional,
    Options.withDescription(`access token (default $SYNAPSE_SANDBOX_TOKEN or ${Sandbox.SANDBOX_DEV_TOKEN})`)
  ),
  maxUploadBytes: Options.integer("max-upload-bytes").pipe(
    Options.optional,
    Options.withDescription("upload size limit in bytes (413 above it)")
  ),
  pageThreads: Options.integer("page-threads").pipe(
    Options.optional,
    Options.withDescription(
      `most threads serving event pages at once, 1 to ${Sandbox.MAX_PAGE_THREADS} (default: the number of cores, at most 4)`
    )
  )
}

/** Parsed sandbox options. */
export interface SandboxCliOptions {
  readonly port: Option.Option<number>
  readonly host: string
  readonly dataDir: Option.Option<string>
  readonly seed: "demo" | "large" | "none"
  readonly randSeed: number
  readonly events: Option.Option<number>
  readonly faults: Option.Option<string>
  readonly profile: Option.Option<string>
  readonly token: Option.Option<string>
  readonly maxUploadBytes: Option.Option<number>
  readonly pageThreads: Option.Option<number>
}

/** Starts a sandbox for the current scope from command-line options, reporting on stderr. */
export const startFromCli = (options: SandboxCliOptions) =>
  Effect.gen(function*() {
    // Unset: $SYNAPSE_SANDBOX_DIR, else the per-user data directory (the sandbox's default).
    const dataDir = Option.getOrUndefined(options.dataDir)
    let lastReport = 0
    // An explicit blank value is a mistake, not "unset": it must not fall back to the environment.
    const profile = yield* Sandbox.parseProfile(Option.getOrUndefined(options.profile), "--profile", {
      blankIsUnset: false
    })
    const requested = Option.getOrUndefined(options.port)
    const choice = yield* choosePort(requested, DEFAULT_SANDBOX_PORT, options.host)
    const info = yield* Sandbox.start({
      profile,
      port: choice.port,
      host: options.host,
      dataDir,
      seed: options.seed,
      randSeed: options.randSeed,
      events: Option.getOrUndefined(options.events),
      faults: Option.getOrUndefined(options.faults),
      token: Option.getOrUndefined(options.token),
      maxUploadBytes: Option.getOrUndefined(options.maxUploadBytes),
      pageThreads: Option.getOrUndefined(options.pageThreads),
      onSeedProgress: (done, total) => {
        const now = Date.now()
        if (now - lastReport > 1000 || done === total) {
          lastReport = now
          process.stderr.write(`synapse-ml sandbox: seeding ${done}/${total} events\n`)
        }
      }
    }).pipe(
      Effect.mapError((error) =>
        isAddressInUse(error.detail)
          ? new Sandbox.SandboxError({
            detail: addressInUseMessage(choice.port, options.host, "--port"),
            cause: error
          })
          : error
      )
    )
    yield* Console.error(
      [
        `synapse-ml sandbox: ${
          info.seeded ? `seeded ${options.seed} data in` : "serving existing data from"
        } ${info.dataDir}`,
        ...displacedNote(choice, info.port, "--port").map((line) => `synapse-ml sandbox: ${line}`),
        `synapse-ml sandbox: listening on ${info.origin} (profile ${info.profile})`,
        `  SYNAPSE_BASE_URL=${info.url}`,
        `  SYNAPSE_ACCESS_TOKEN=${info.token}`,
        `  try: curl -H 'Synapse-Access-Token: Token ${info.token}' '${info.url}/models/?page_size=2'`
      ].join("\n")
    )
    return info
  })

/** `synapse-ml sandbox`. */
export const sandboxCommand = Command.make("sandbox", sandboxOptions, (options) =>
  Effect.scoped(
    Effect.gen(function*() {
      yield* startFromCli(options)
      yield* Effect.addFinalizer(() => Console.error("synapse-ml sandbox: stopped"))
      return yield* Effect.never
    })
  ).pipe(
    // A bad option or an unusable directory: one line saying why, exit status 2, no stack trace.
    Effect.catchTag("SandboxError", (error) =>
      Console.error(`synapse-ml sandbox: ${error.detail}`).pipe(
        Effect.zipRight(
          Effect.sync(() => {
            process.exitCode = 2
          })
        )
      ))
  )).pipe(
    Command.withDescription("Run the local Synapse-compatible sandbox backend (SQLite + demo data) until interrupted.")
  )
