/**
 * The configuration the executables read besides the SDK's own (`SynapseClient.optionsConfig`,
 * `FileCache`, `ChunkedUpload`), the sandbox's (`Sandbox.environment`) and the MCP server's
 * (`mcp/Config.ts`): where the backend is, and which values are secrets to scrub from output. Every value is an
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

/**
 * `SYNAPSE_BASE_URL`, trimmed: the Synapse the executables talk to; unset or blank starts an
 * embedded sandbox instead (whose own settings are `Sandbox.environment`). Checked where it is used
 * (`SynapseClient.parseBaseUrl`), so the message names the variable.
 */
export const baseUrl: Config.Config<string | undefined> = optionalText("SYNAPSE_BASE_URL").pipe(
  Config.map((url) => url?.trim())
)

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
