/**
 * Assembles the MCP server on the composition root (`src/App.ts`): the settings (read-only mode,
 * toolsets, roots, budget, HTTP binding; `Config.ts`), the backend the root chooses (a real Synapse
 * from `SYNAPSE_BASE_URL`, or else the sandbox with demo data started in-process, in a fresh
 * directory per run unless one is given), the SDK services over it, the tool table and resources,
 * and one of the two transports. The `synapse-ml mcp` and `start` commands are thin wrappers around
 * `run`.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { type ConfigError, Effect, Either, Layer, Logger, Redacted } from "effect"
import * as App from "../App.js"
import * as AppConfig from "../AppConfig.js"
import { providerOf } from "../platform/Env.js"
import { stderrLoggerLayer } from "../platform/Logging.js"
import * as Synapse from "../services/Synapse.js"
import type * as SynapseClient from "../services/SynapseClient.js"
import * as Backend from "./Backend.js"
import * as Config from "./Config.js"
import * as Http from "./Http.js"
import { makeResources } from "./Resources.js"
import * as Server from "./Server.js"
import * as Stdio from "./Stdio.js"
import { checkSelection } from "./ToolList.js"
import { allTools } from "./tools/index.js"

/** A start-up failure: configuration or backend. The message names the variable to fix. */
export class McpStartError extends Error {
  override readonly name = "McpStartError"
}

/** The name prefix of the data directory an embedded sandbox gets when none is given. */
export const FRESH_SANDBOX_PREFIX = App.FRESH_SANDBOX_PREFIX

/** A backend that could not be set up, as one line naming what to fix. */
const startErrorOf = (error: App.BackendError): McpStartError => {
  if (error._tag === "SandboxError") {
    return new McpStartError(`SYNAPSE_BASE_URL is not set and the sandbox could not start: ${error.detail}`)
  }
  const problem = Config.fromConfigError(error)
  // The SDK's messages name their variable already; a bad base URL needs no more words.
  const named = problem.detail.startsWith(problem.variable) ? problem.detail : problem.message
  return new McpStartError(
    problem.variable === "SYNAPSE_BASE_URL" ? named : `invalid Synapse configuration: ${named}`
  )
}

/**
 * The server's backend (`App.backendLayer`): with `SYNAPSE_BASE_URL` unset, the sandbox with demo
 * data (in `sandboxOptions.dataDir` or `SYNAPSE_SANDBOX_DIR`, else in a fresh temporary directory
 * removed when the layer is released; the profile of `sandboxOptions` or `SYNAPSE_SANDBOX_PROFILE`),
 * said on stderr. Reads the `ConfigProvider` in force, or `env` when given.
 */
export const backendLayer = (
  env?: Record<string, string | undefined> | undefined,
  sandboxOptions: App.SandboxOptions = {}
): Layer.Layer<SynapseClient.SynapseClient | Backend.Backend, McpStartError, HttpClient.HttpClient> => {
  const layer = App.backendLayer({
    sandbox: sandboxOptions,
    dataDir: "fresh",
    startedBy: "this server",
    announce: ({ fresh, info }) =>
      Effect.logInfo(
        `SYNAPSE_BASE_URL is not set: using the sandbox with demo data (profile ${info.profile}) at ${info.url} (data in ${info.dataDir}, ${
          fresh ? "a fresh directory for this run, removed when the server stops" : "kept across runs"
        }). Set SYNAPSE_BASE_URL and SYNAPSE_ACCESS_TOKEN to use a real Synapse.`
      )
  }).pipe(Layer.mapError(startErrorOf))
  return env === undefined ? layer : layer.pipe(Layer.provide(Layer.setConfigProvider(providerOf(env))))
}

/** The HTTP client of the executables (`App.httpClientLayer`). */
export const httpClientLayer = App.httpClientLayer

/** The SDK services the tools use, over a `SynapseClient`. */
export const servicesLayer = Synapse.layerServicesConfig()

/** Everything the tools need besides the settings and the backend. */
export type ToolServices = Layer.Layer.Success<typeof servicesLayer>

/** The server factory over a given backend layer. */
export const serverLayer = <E>(
  settings: Config.McpSettings,
  backend: Layer.Layer<SynapseClient.SynapseClient | Backend.Backend, E, never>,
  secrets: ReadonlyArray<string> = []
) =>
  Layer.unwrapEffect(
    Effect.gen(function*() {
      const resources = makeResources()
      return Server.layer(allTools, resources, {
        secrets: [...secrets, ...(settings.http.token !== undefined ? [Redacted.value(settings.http.token)] : [])]
      })
    })
  ).pipe(
    Layer.provideMerge(servicesLayer.pipe(Layer.mapError((error: ConfigError.ConfigError) => startErrorOf(error)))),
    Layer.provideMerge(Config.layer(settings)),
    Layer.provideMerge(backend)
  )

/** How to run the server. */
export interface RunOptions {
  readonly transport: "stdio" | "http"
  /** The variables to read instead of the `ConfigProvider` in force (the process environment by default). */
  readonly env?: Record<string, string | undefined> | undefined
  readonly overrides?: Config.McpOverrides | undefined
  /** Options of the in-process sandbox (used only when `SYNAPSE_BASE_URL` is unset). */
  readonly sandbox?: App.SandboxOptions | undefined
  /** Called once the HTTP endpoint listens (the `start` command prints its banner here). */
  readonly onListening?:
    | ((endpoint: Http.HttpEndpoint, backend: Backend.BackendInfo) => Effect.Effect<void>)
    | undefined
}

/** Reads the settings, failing with a message that names the variable at fault. */
export const loadSettings = (options: Pick<RunOptions, "env" | "overrides" | "transport">) =>
  Effect.gen(function*() {
    const settings = yield* readConfig(Config.load(options.overrides ?? {}), options.env).pipe(
      Effect.mapError((error) => new McpStartError(error.message))
    )
    const checks: ReadonlyArray<Either.Either<unknown, Config.McpConfigError>> = [
      Config.checkUploadRoots(settings),
      checkSelection(allTools, settings),
      ...(options.transport === "http" ? [Config.checkHttpSettings(settings)] : [])
    ]
    for (const check of checks) {
      if (Either.isLeft(check)) return yield* Effect.fail(new McpStartError(check.left.message))
    }
    return settings
  })

/** Reads `config` from `env` when given, else from the `ConfigProvider` in force. */
const readConfig = <A, E>(config: Effect.Effect<A, E>, env: RunOptions["env"]): Effect.Effect<A, E> =>
  env === undefined ? config : Effect.withConfigProvider(config, providerOf(env))

/** Runs the server until its transport ends (stdio) or the fiber is interrupted (HTTP). */
export const run = (options: RunOptions) =>
  Effect.gen(function*() {
    const settings = yield* loadSettings(options)
    const secrets = (yield* readConfig(AppConfig.secrets, options.env).pipe(
      Effect.mapError((error) => new McpStartError(Config.fromConfigError(error).message))
    )).map(Redacted.value)
    const program = Effect.gen(function*() {
      const factory = yield* Server.McpServer
      const backend = yield* Backend.Backend
      if (options.transport === "stdio") {
        yield* Effect.logInfo(
          `MCP server on stdio (${factory.tools.length} tools${settings.readOnly ? ", read-only" : ""})`
        )
        return yield* Stdio.serve(factory)
      }
      const endpoint = yield* Http.serve(factory, settings)
      yield* Effect.logInfo(
        `MCP server on ${endpoint.url} (${factory.tools.length} tools${settings.readOnly ? ", read-only" : ""})`
      )
      if (options.onListening !== undefined) yield* options.onListening(endpoint, backend)
      return yield* Effect.never
    })
    return yield* program.pipe(
      Effect.provide(
        serverLayer(
          settings,
          backendLayer(options.env, options.sandbox).pipe(Layer.provide(App.httpClientLayer)),
          secrets
        )
      ),
      Effect.scoped,
      // Whatever loggers the caller installed, none may write to stdout: stdio belongs to the protocol.
      Effect.provide(Layer.merge(Logger.remove(Logger.prettyLoggerDefault), stderrLoggerLayer))
    )
  })
