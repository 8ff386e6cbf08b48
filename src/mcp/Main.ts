/**
 * Assembles the MCP server from configuration: the settings (read-only mode, roots, budget, HTTP
 * binding), the backend (a real Synapse from `SYNAPSE_BASE_URL`, or else the sandbox with demo data
 * started in-process), the SDK services over it, the tool table and resources, and one of the two
 * transports. The `synapse-ml mcp` and `start` commands are thin wrappers around `run`.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect, Either, Layer, Logger, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { stderrLoggerLayer } from "../platform/Logging.js"
import * as Sandbox from "../sandbox/Sandbox.js"
import * as ChunkedUpload from "../services/ChunkedUpload.js"
import * as FileCache from "../services/FileCache.js"
import * as GroundTruths from "../services/GroundTruths.js"
import * as Models from "../services/Models.js"
import * as SynapseClient from "../services/SynapseClient.js"
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

const SECRET_VARIABLES = [
  "SYNAPSE_ACCESS_TOKEN",
  "SYNAPSE_AUTHORIZATION_TOKEN",
  "SYNAPSE_TENANT",
  "SYNAPSE_AGENT_TOKEN",
  "SYNAPSE_MCP_HTTP_TOKEN"
]

/** The name prefix of the data directory an embedded sandbox gets when none is given. */
export const FRESH_SANDBOX_PREFIX = "synapse-ml-mcp-sandbox-"

/**
 * The Synapse client and backend description. With `SYNAPSE_BASE_URL` unset, starts the sandbox
 * (demo data; in `sandboxOptions.dataDir` or `SYNAPSE_SANDBOX_DIR`, else in a fresh temporary
 * directory removed when the layer is released; an ephemeral port; the profile of `sandboxOptions`
 * or `SYNAPSE_SANDBOX_PROFILE`) for the lifetime of the layer and says so on stderr.
 */
export const backendLayer = (env: Record<string, string | undefined>, sandboxOptions: Sandbox.SandboxOptions = {}) =>
  Layer.unwrapScoped(
    Effect.gen(function*() {
      const baseUrl = env.SYNAPSE_BASE_URL?.trim()
      if (baseUrl !== undefined && baseUrl !== "") {
        const parsed = SynapseClient.parseBaseUrl(baseUrl, "SYNAPSE_BASE_URL")
        if (Either.isLeft(parsed)) {
          return yield* Effect.fail(new McpStartError(String(parsed.left.message ?? parsed.left)))
        }
        return Layer.merge(
          SynapseClient.layerConfig().pipe(
            Layer.mapError((error) => new McpStartError(`invalid Synapse configuration: ${String(error)}`))
          ),
          Backend.layer({ baseUrl: parsed.right, sandbox: false, description: `the Synapse API at ${parsed.right}` })
        )
      }
      // A directory given (`start --data-dir`, SYNAPSE_SANDBOX_DIR) is kept across runs; otherwise
      // each server run gets its own, removed when it stops, so that servers and users never share
      // (and grow) one registry. The directory is released after the sandbox, which the scope
      // closes first.
      const given = sandboxOptions.dataDir ?? (env.SYNAPSE_SANDBOX_DIR?.trim() || undefined)
      const dataDir = given ?? (yield* Effect.acquireRelease(
        Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), FRESH_SANDBOX_PREFIX))),
        (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
      ))
      const sandbox = yield* Sandbox.parseProfile(env.SYNAPSE_SANDBOX_PROFILE, "SYNAPSE_SANDBOX_PROFILE").pipe(
        Effect.flatMap((profile) =>
          Sandbox.start({ seed: "demo", ...sandboxOptions, profile: sandboxOptions.profile ?? profile, dataDir })
        ),
        Effect.mapError((error) =>
          new McpStartError(`SYNAPSE_BASE_URL is not set and the sandbox could not start: ${error.detail}`)
        )
      )
      const kept = given !== undefined
        ? "kept across runs"
        : "a fresh directory for this run, removed when the server stops"
      yield* Effect.logInfo(
        `SYNAPSE_BASE_URL is not set: using the sandbox with demo data (profile ${sandbox.profile}) at ${sandbox.url} (data in ${sandbox.dataDir}, ${kept}). ` +
          "Set SYNAPSE_BASE_URL and SYNAPSE_ACCESS_TOKEN to use a real Synapse."
      )
      return Layer.merge(
        SynapseClient.layer({ baseUrl: sandbox.url, accessToken: Redacted.make(sandbox.token) }).pipe(
          Layer.mapError((error) => new McpStartError(String(error)))
        ),
        Backend.layer({
          baseUrl: sandbox.url,
          sandbox: true,
          description:
            `the local Synapse sandbox started by this server, with generated demo data in its ${sandbox.profile} profile (not a real deployment)`
        })
      )
    })
  )

/**
 * The HTTP client of the executables (this server and the `synapse-ml` workflow commands): Node's
 * client (docs/architecture.md "Composition roots": not undici) with connections kept alive. `NodeHttpClient.layer`'s agent opens
 * a connection per request, so every listing page and every downloaded file would pay a TCP (and,
 * against a real backend, TLS) handshake.
 */
export const httpClientLayer = NodeHttpClient.layerWithoutAgent.pipe(
  Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: true }))
)

/** The SDK services the tools use, over a `SynapseClient`. */
export const servicesLayer = Layer.mergeAll(Models.layer, GroundTruths.layer).pipe(
  Layer.provideMerge(Layer.merge(FileCache.layerConfig().pipe(Layer.orDie), ChunkedUpload.layerConfig()))
)

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
    Layer.provideMerge(servicesLayer),
    Layer.provideMerge(Config.layer(settings)),
    Layer.provideMerge(backend)
  )

/** How to run the server. */
export interface RunOptions {
  readonly transport: "stdio" | "http"
  readonly env: Record<string, string | undefined>
  readonly overrides?: Config.McpOverrides | undefined
  /** Options of the in-process sandbox (used only when `SYNAPSE_BASE_URL` is unset). */
  readonly sandbox?: Sandbox.SandboxOptions | undefined
  /** Called once the HTTP endpoint listens (the `start` command prints its banner here). */
  readonly onListening?:
    | ((endpoint: Http.HttpEndpoint, backend: Backend.BackendInfo) => Effect.Effect<void>)
    | undefined
}

/** Reads the settings, failing with a message that names the variable at fault. */
export const loadSettings = (options: Pick<RunOptions, "env" | "overrides" | "transport">) =>
  Effect.gen(function*() {
    const settings = Config.settingsFromEnv(options.env, options.overrides ?? {})
    if (Either.isLeft(settings)) return yield* Effect.fail(new McpStartError(settings.left.message))
    const roots = Config.checkUploadRoots(settings.right)
    if (Either.isLeft(roots)) return yield* Effect.fail(new McpStartError(roots.left.message))
    const selection = checkSelection(allTools, settings.right)
    if (Either.isLeft(selection)) return yield* Effect.fail(new McpStartError(selection.left.message))
    if (options.transport === "http") {
      const checked = Config.checkHttpSettings(settings.right)
      if (Either.isLeft(checked)) return yield* Effect.fail(new McpStartError(checked.left.message))
    }
    return settings.right
  })

/** Runs the server until its transport ends (stdio) or the fiber is interrupted (HTTP). */
export const run = (options: RunOptions) =>
  Effect.gen(function*() {
    const settings = yield* loadSettings(options)
    const secrets = SECRET_VARIABLES.map((name) => options.env[name]?.trim() ?? "").filter((s) => s.length > 0)
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
        serverLayer(settings, backendLayer(options.env, options.sandbox).pipe(Layer.provide(httpClientLayer)), secrets)
      ),
      Effect.scoped,
      // Whatever loggers the caller installed, none may write to stdout: stdio belongs to the protocol.
      Effect.provide(Layer.merge(Logger.remove(Logger.prettyLoggerDefault), stderrLoggerLayer))
    )
  })
