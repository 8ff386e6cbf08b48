/**
 * The configuration the executables read besides the SDK's own (`SynapseClient.optionsConfig`,
 * `FileCache`, `ChunkedUpload`) and the MCP server's (`mcp/Config.ts`): where the backend is, the
 * embedded sandbox's settings, and which values are secrets to scrub from output. Every value is an
 * Effect `Config`, read from whatever `ConfigProvider` is in force (the environment by default), so a
 * program or a test supplies its own with `Effect.withConfigProvider`.
 */
import { Config, Option, Redacted } from "effect"

/** A variable's text; `undefined` when unset or blank. */
const optionalText = (name: string): Config.Config<string | undefined> =>
  Config.string(name).pipe(
    Config.option,
    Config.map((value) => Option.getOrUndefined(Option.filter(value, (text) => text.trim() !== "")))
  )

/** Where the SDK talks to, and how an embedded sandbox is set up when it talks to no real Synapse. */
export interface BackendSettings {
  /** `SYNAPSE_BASE_URL`, trimmed: a real Synapse; unset or blank starts an embedded sandbox. */
  readonly baseUrl: string | undefined
  /** `SYNAPSE_SANDBOX_DIR`: the embedded sandbox's data directory, kept across runs. */
  readonly sandboxDir: string | undefined
  /** `SYNAPSE_SANDBOX_PROFILE`, unchecked: the sandbox refuses an unknown one, naming the variable. */
  readonly sandboxProfile: string | undefined
  /** `SYNAPSE_SANDBOX_TOKEN`: the token the sandbox accepts (the sandbox's development token when unset). */
  readonly sandboxToken: string | undefined
  /** `SYNAPSE_SANDBOX_FAULTS`: the sandbox's fault spec. */
  readonly sandboxFaults: string | undefined
  /** `XDG_DATA_HOME`: the base of per-user data directories. */
  readonly xdgDataHome: string | undefined
}

/** The backend settings as one `Config`. */
export const backendSettings: Config.Config<BackendSettings> = Config.all({
  baseUrl: optionalText("SYNAPSE_BASE_URL").pipe(Config.map((url) => url?.trim())),
  sandboxDir: optionalText("SYNAPSE_SANDBOX_DIR").pipe(Config.map((dir) => dir?.trim())),
  sandboxProfile: Config.string("SYNAPSE_SANDBOX_PROFILE").pipe(Config.option, Config.map(Option.getOrUndefined)),
  // Not trimmed: the sandbox refuses a token of spaces rather than serving with another one.
  sandboxToken: Config.string("SYNAPSE_SANDBOX_TOKEN").pipe(
    Config.option,
    Config.map((token) => Option.getOrUndefined(Option.filter(token, (text) => text !== "")))
  ),
  sandboxFaults: Config.string("SYNAPSE_SANDBOX_FAULTS").pipe(Config.option, Config.map(Option.getOrUndefined)),
  xdgDataHome: optionalText("XDG_DATA_HOME")
})

/** The variables whose values never appear in a tool result or an error text. */
export const SECRET_VARIABLES = [
  "SYNAPSE_ACCESS_TOKEN",
  "SYNAPSE_AUTHORIZATION_TOKEN",
  "SYNAPSE_TENANT",
  "SYNAPSE_AGENT_TOKEN",
  "SYNAPSE_MCP_HTTP_TOKEN"
] as const

/** The configured secrets' values (trimmed, the unset and blank ones left out). */
export const secrets: Config.Config<ReadonlyArray<Redacted.Redacted<string>>> = Config.all(
  SECRET_VARIABLES.map((name) => Config.redacted(name).pipe(Config.option))
).pipe(
  Config.map((values) =>
    values.flatMap((value) =>
      Option.match(Option.map(value, (secret) => Redacted.value(secret).trim()), {
        onNone: () => [],
        onSome: (text) => text === "" ? [] : [Redacted.make(text)]
      })
    )
  )
)
