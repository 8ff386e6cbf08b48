/**
 * Settings of the MCP server: which tools it offers (read-only mode), where it may read uploads
 * from and write exports to, how much text one result may carry, and how the HTTP transport binds
 * and authenticates. Read once from the environment (plus command-line overrides) so that a missing
 * or malformed value stops start-up with a message naming the variable, instead of surfacing later
 * as a confusing tool failure.
 */
import { Context, Either, Layer, Redacted } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

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
  constructor(readonly variable: string, detail: string) {
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

const parseBool = (name: string, raw: string | undefined): Either.Either<boolean, McpConfigError> => {
  const value = (raw ?? "").trim().toLowerCase()
  if (TRUE.has(value)) return Either.right(true)
  if (FALSE.has(value)) return Either.right(false)
  return Either.left(new McpConfigError(name, `expected 1/0 or true/false, got ${JSON.stringify(raw)}`))
}

const parseInt = (
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number
): Either.Either<number, McpConfigError> => {
  if (raw === undefined || raw.trim() === "") return Either.right(fallback)
  const n = Number(raw.trim())
  if (!Number.isInteger(n) || n < min || n > max) {
    return Either.left(
      new McpConfigError(name, `expected an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`)
    )
  }
  return Either.right(n)
}

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
 * Reads the settings from `env` (normally `process.env`). Variables:
 * `SYNAPSE_MCP_READ_ONLY`, `SYNAPSE_MCP_UPLOAD_ROOTS` (path-delimiter separated),
 * `SYNAPSE_MCP_OUTPUT_DIR`, `SYNAPSE_MCP_OUTPUT_BUDGET`, `SYNAPSE_MCP_HOST`, `SYNAPSE_MCP_PORT`,
 * `SYNAPSE_MCP_HTTP_TOKEN`, `SYNAPSE_MCP_ALLOWED_HOSTS`, `SYNAPSE_MCP_ALLOWED_ORIGINS`,
 * `SYNAPSE_MCP_TOOLSETS`, `SYNAPSE_MCP_TOOLS` (comma separated).
 */
export const settingsFromEnv = (
  env: Record<string, string | undefined>,
  overrides: McpOverrides = {},
  cwd: string = process.cwd()
): Either.Either<McpSettings, McpConfigError> =>
  Either.gen(function*() {
    const readOnly = overrides.readOnly === true
      ? true
      : yield* parseBool("SYNAPSE_MCP_READ_ONLY", env.SYNAPSE_MCP_READ_ONLY)
    const outputBudget = yield* parseInt(
      "SYNAPSE_MCP_OUTPUT_BUDGET",
      env.SYNAPSE_MCP_OUTPUT_BUDGET,
      DEFAULT_OUTPUT_BUDGET,
      1_000,
      10_000_000
    )
    const port = overrides.port ??
      (yield* parseInt("SYNAPSE_MCP_PORT", env.SYNAPSE_MCP_PORT, DEFAULT_HTTP_PORT, 0, 65_535))
    if (!Number.isInteger(port) || port < 0 || port > 65_535) {
      return yield* Either.left(new McpConfigError("--port", `expected an integer between 0 and 65535, got ${port}`))
    }
    const host = (overrides.host ?? env.SYNAPSE_MCP_HOST ?? DEFAULT_HTTP_HOST).trim()
    if (host === "") return yield* Either.left(new McpConfigError("SYNAPSE_MCP_HOST", "must not be empty"))
    const rawToken = env.SYNAPSE_MCP_HTTP_TOKEN?.trim()
    if (rawToken !== undefined && rawToken !== "" && rawToken.length < 16) {
      return yield* Either.left(new McpConfigError("SYNAPSE_MCP_HTTP_TOKEN", "must be at least 16 characters"))
    }
    const uploadRoots = list(env.SYNAPSE_MCP_UPLOAD_ROOTS, path.delimiter).map((p) => path.resolve(cwd, p))
    const outputRaw = overrides.outputDir ?? env.SYNAPSE_MCP_OUTPUT_DIR
    // The temporary directory is always writable, unlike the working directory of a desktop client.
    const outputDir = outputRaw !== undefined && outputRaw.trim() !== ""
      ? path.resolve(cwd, outputRaw.trim())
      : path.join(os.tmpdir(), "synapse-ml-exports")
    return {
      readOnly,
      uploadRoots,
      outputDir,
      outputBudget,
      toolsets: selection(overrides.toolsets ?? env.SYNAPSE_MCP_TOOLSETS),
      tools: selection(overrides.tools ?? env.SYNAPSE_MCP_TOOLS),
      http: {
        host,
        port,
        token: rawToken !== undefined && rawToken !== "" ? Redacted.make(rawToken) : undefined,
        allowedHosts: list(env.SYNAPSE_MCP_ALLOWED_HOSTS, ","),
        allowedOrigins: list(env.SYNAPSE_MCP_ALLOWED_ORIGINS, ",")
      }
    }
  })

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
