/**
 * Settings of the MCP server: which tools it offers (read-only mode, toolsets, tool names), where it
 * may read uploads from and write exports to, how much text one result may carry, and how the HTTP
 * transport binds and authenticates. Described as one Effect `Config` over the `SYNAPSE_MCP_*`
 * variables (plus command-line overrides) and read once at start-up, so that a missing or malformed
 * value stops start-up with a message naming the variable, instead of surfacing later as a confusing
 * tool failure.
 */
import { Config, ConfigError, Context, Effect, Either, Layer, Option, Redacted } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { providerOf } from "../platform/Env.js"

/** Default per-call output budget, in characters of JSON text. */
export const DEFAULT_OUTPUT_BUDGET = 25_000
/** Default HTTP port of `synapse-ml mcp --http`. */
export const DEFAULT_HTTP_PORT = 3333
/** Default bind address: loopback only, so nothing else on the network can reach the server. */
export const DEFAULT_HTTP_HOST = "127.0.0.1"

/** The resolved settings. */
export interface McpSettings {
  /** When true, write tools are not registered at all. */
  readonly readOnly: boolean
  /** Directories (absolute) that `create_model` may read model files from; empty = uploads refused. */
  readonly uploadRoots: ReadonlyArray<string>
  /** Directory (absolute) under which exports and splits are written. */
  readonly outputDir: string
  /** Maximum characters of JSON one tool result may carry before it is truncated. */
  readonly outputBudget: number
  /** Names of the toolsets offered; `undefined` offers every toolset. */
  readonly toolsets?: ReadonlyArray<string> | undefined
  /** Names of the tools offered; `undefined` offers every tool. */
  readonly tools?: ReadonlyArray<string> | undefined
  /** HTTP transport settings (used only by `--http`). */
  readonly http: {
    readonly host: string
    readonly port: number
    /** Bearer token clients must send; required when `host` is not a loopback address. */
    readonly token: Redacted.Redacted<string> | undefined
    /** Extra `Host` header values accepted besides the loopback names and the bind address. */
    readonly allowedHosts: ReadonlyArray<string>
    /** Extra `Origin` values accepted besides `http://localhost:<port>` and `http://127.0.0.1:<port>`. */
    readonly allowedOrigins: ReadonlyArray<string>
  }
}

/** The settings as a service, so tools and transports read the same values. */
export class McpConfig extends Context.Tag("synapse-ml/McpConfig")<McpConfig, McpSettings>() {}

/** A configuration problem, naming the variable (or flag) at fault. */
export class McpConfigError extends Error {
  override readonly name = "McpConfigError"
  constructor(readonly variable: string, readonly detail: string) {
    super(`${variable}: ${detail}`)
  }
}

/** Command-line overrides; each wins over its environment variable when given. */
export interface McpOverrides {
  readonly readOnly?: boolean | undefined
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly outputDir?: string | undefined
  /** Comma-separated toolset names (`--toolsets`); empty offers all. */
  readonly toolsets?: string | undefined
  /** Comma-separated tool names (`--tools`); empty offers all. */
  readonly tools?: string | undefined
}

const TRUE = new Set(["1", "true", "yes", "on"])
const FALSE = new Set(["", "0", "false", "no", "off"])

/** A variable's raw text; `undefined` when it is not set. */
const optionalText = (name: string): Config.Config<string | undefined> =>
  Config.string(name).pipe(Config.option, Config.map(Option.getOrUndefined))

/** A problem with the variable `name`, whose detail a person can act on. */
const invalid = (name: string, detail: string): ConfigError.ConfigError => ConfigError.InvalidData([name], detail)

const booleanVar = (name: string): Config.Config<boolean> =>
  optionalText(name).pipe(Config.mapOrFail((raw) => {
    const value = (raw ?? "").trim().toLowerCase()
    if (TRUE.has(value)) return Either.right(true)
    if (FALSE.has(value)) return Either.right(false)
    return Either.left(invalid(name, `expected 1/0 or true/false, got ${JSON.stringify(raw)}`))
  }))

/** An integer within bounds; blank or unset gives `fallback`. */
const integerVar = (name: string, fallback: number, min: number, max: number): Config.Config<number> =>
  optionalText(name).pipe(Config.mapOrFail((raw) => {
    if (raw === undefined || raw.trim() === "") return Either.right(fallback)
    const n = Number(raw.trim())
    return Number.isInteger(n) && n >= min && n <= max
      ? Either.right(n)
      : Either.left(invalid(name, `expected an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`))
  }))

const list = (raw: string | undefined, separator: string): ReadonlyArray<string> =>
  (raw ?? "").split(separator).map((s) => s.trim()).filter((s) => s.length > 0)

/** A comma-separated selection of names; empty or unset selects everything (`undefined`). */
const selection = (raw: string | undefined): ReadonlyArray<string> | undefined => {
  const names = list(raw, ",")
  return names.length > 0 ? names : undefined
}

/** True for addresses only this machine can reach. */
export const isLoopback = (host: string): boolean =>
  host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host)

/**
 * The settings as an Effect `Config`, for whatever `ConfigProvider` is in force (the environment by
 * default). Variables: `SYNAPSE_MCP_READ_ONLY`, `SYNAPSE_MCP_UPLOAD_ROOTS` (path-delimiter
 * separated, relative to `cwd`), `SYNAPSE_MCP_OUTPUT_DIR`, `SYNAPSE_MCP_OUTPUT_BUDGET`,
 * `SYNAPSE_MCP_HOST`, `SYNAPSE_MCP_PORT`, `SYNAPSE_MCP_HTTP_TOKEN`, `SYNAPSE_MCP_ALLOWED_HOSTS`,
 * `SYNAPSE_MCP_ALLOWED_ORIGINS`, `SYNAPSE_MCP_TOOLSETS`, `SYNAPSE_MCP_TOOLS` (comma separated).
 * Each override wins over its variable. A bad value fails with a `ConfigError` naming the variable
 * (or the flag) in its path.
 */
export const settingsConfig = (
  overrides: McpOverrides = {},
  cwd: string = process.cwd()
): Config.Config<McpSettings> =>
  Config.all({
    readOnly: overrides.readOnly === true ? Config.succeed(true) : booleanVar("SYNAPSE_MCP_READ_ONLY"),
    outputBudget: integerVar("SYNAPSE_MCP_OUTPUT_BUDGET", DEFAULT_OUTPUT_BUDGET, 1_000, 10_000_000),
    port: overrides.port !== undefined
      ? Config.succeed(overrides.port).pipe(
        Config.validate({
          message: `expected an integer between 0 and 65535, got ${overrides.port}`,
          validation: (port) => Number.isInteger(port) && port >= 0 && port <= 65_535
        }),
        Config.nested("--port")
      )
      : integerVar("SYNAPSE_MCP_PORT", DEFAULT_HTTP_PORT, 0, 65_535),
    host: (overrides.host !== undefined ? Config.succeed(overrides.host) : optionalText("SYNAPSE_MCP_HOST")).pipe(
      Config.mapOrFail((raw) => {
        const host = (raw ?? DEFAULT_HTTP_HOST).trim()
        return host === "" ? Either.left(invalid("SYNAPSE_MCP_HOST", "must not be empty")) : Either.right(host)
      })
    ),
    token: optionalText("SYNAPSE_MCP_HTTP_TOKEN").pipe(Config.mapOrFail((raw) => {
      const token = raw?.trim()
      if (token === undefined || token === "") return Either.right(undefined)
      return token.length < 16
        ? Either.left(invalid("SYNAPSE_MCP_HTTP_TOKEN", "must be at least 16 characters"))
        : Either.right(Redacted.make(token))
    })),
    uploadRoots: optionalText("SYNAPSE_MCP_UPLOAD_ROOTS").pipe(
      Config.map((raw) => list(raw, path.delimiter).map((p) => path.resolve(cwd, p)))
    ),
    outputDir: (overrides.outputDir !== undefined
      ? Config.succeed(overrides.outputDir)
      : optionalText("SYNAPSE_MCP_OUTPUT_DIR")).pipe(
        // The temporary directory is always writable, unlike the working directory of a desktop client.
        Config.map((raw) =>
          raw !== undefined && raw.trim() !== ""
            ? path.resolve(cwd, raw.trim())
            : path.join(os.tmpdir(), "synapse-ml-exports")
        )
      ),
    toolsets: (overrides.toolsets !== undefined
      ? Config.succeed(overrides.toolsets)
      : optionalText("SYNAPSE_MCP_TOOLSETS")).pipe(Config.map(selection)),
    tools: (overrides.tools !== undefined ? Config.succeed(overrides.tools) : optionalText("SYNAPSE_MCP_TOOLS")).pipe(
      Config.map(selection)
    ),
    allowedHosts: optionalText("SYNAPSE_MCP_ALLOWED_HOSTS").pipe(Config.map((raw) => list(raw, ","))),
    allowedOrigins: optionalText("SYNAPSE_MCP_ALLOWED_ORIGINS").pipe(Config.map((raw) => list(raw, ",")))
  }).pipe(
    Config.map(({ allowedHosts, allowedOrigins, host, port, token, ...rest }): McpSettings => ({
      ...rest,
      http: { host, port, token, allowedHosts, allowedOrigins }
    }))
  )

/** The first problem a `ConfigError` reports, as an `McpConfigError` naming the variable. */
export const fromConfigError = (error: ConfigError.ConfigError): McpConfigError => {
  switch (error._op) {
    case "And":
    case "Or":
      return fromConfigError(error.left)
    case "InvalidData":
    case "MissingData":
    case "SourceUnavailable":
    case "Unsupported":
      return new McpConfigError(error.path.join("."), error.message)
  }
}

/** Reads the settings from the `ConfigProvider` in force, failing with the variable at fault. */
export const load = (
  overrides: McpOverrides = {},
  cwd: string = process.cwd()
): Effect.Effect<McpSettings, McpConfigError> => Effect.mapError(settingsConfig(overrides, cwd), fromConfigError)

/**
 * Reads the settings from a record of variables (tests, programs that hold their own environment)
 * rather than from the `ConfigProvider` in force.
 */
export const settingsFromEnv = (
  env: Record<string, string | undefined>,
  overrides: McpOverrides = {},
  cwd: string = process.cwd()
): Either.Either<McpSettings, McpConfigError> =>
  Effect.runSync(Effect.either(Effect.withConfigProvider(load(overrides, cwd), providerOf(env))))

/**
 * Checks what only matters for HTTP: a non-loopback bind without a token would expose the
 * registry to anyone on the network, so it is refused rather than warned about.
 */
export const checkHttpSettings = (settings: McpSettings): Either.Either<McpSettings, McpConfigError> =>
  !isLoopback(settings.http.host) && settings.http.token === undefined
    ? Either.left(
      new McpConfigError(
        "SYNAPSE_MCP_HTTP_TOKEN",
        `required when binding to the non-loopback address ${settings.http.host}; set a random secret of at least 16 characters`
      )
    )
    : Either.right(settings)

/**
 * Checks that every upload root is an existing directory: a mistyped root would otherwise start a
 * server whose every upload is refused, surfacing as a tool failure far from its cause.
 */
export const checkUploadRoots = (settings: McpSettings): Either.Either<McpSettings, McpConfigError> => {
  for (const root of settings.uploadRoots) {
    const stat = fs.statSync(root, { throwIfNoEntry: false })
    if (stat === undefined || !stat.isDirectory()) {
      return Either.left(
        new McpConfigError(
          "SYNAPSE_MCP_UPLOAD_ROOTS",
          `${JSON.stringify(root)} ${
            stat === undefined ? "does not exist" : "is not a directory"
          }; give existing directories separated by "${path.delimiter}"`
        )
      )
    }
  }
  return Either.right(settings)
}

/** Provides fixed settings (tests, programs that configure the server themselves). */
export const layer = (settings: McpSettings): Layer.Layer<McpConfig> => Layer.succeed(McpConfig, settings)
