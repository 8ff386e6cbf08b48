/**
 * The composition root of the executables (the `synapse-ml` command and the MCP server): the one
 * place that picks the HTTP transport, decides which backend the SDK talks to, and wires the SDK's
 * services over it. Configuration is read through Effect `Config` (`AppConfig.ts`, the SDK's own
 * `SynapseClient.optionsConfig`), so whatever `ConfigProvider` is in force decides.
 *
 * The backend is a real Synapse when `SYNAPSE_BASE_URL` is set, else an embedded sandbox with demo
 * data, started for the lifetime of the layer and announced by the caller (on stderr), so that
 * nobody mistakes it for their real registry (docs/architecture.md "Composition roots").
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import { type ConfigError, Effect, Layer, Redacted, type Scope } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as AppConfig from "./AppConfig.js"
import * as Backend from "./mcp/Backend.js"
import * as Sandbox from "./sandbox/Sandbox.js"
import * as Synapse from "./services/Synapse.js"
import * as SynapseClient from "./services/SynapseClient.js"

/** The sandbox's start options, for callers that pass command-line flags through. */
export type SandboxOptions = Sandbox.SandboxOptions

/**
 * The HTTP client of the executables: Node's `node:http` client with connections kept alive.
 * `NodeHttpClient.layer`'s agent opens a connection per request, so every listing page and every
 * downloaded file would pay a TCP (and, against a real backend, TLS) handshake.
 */
export const httpClientLayer: Layer.Layer<HttpClient.HttpClient> = NodeHttpClient.layerWithoutAgent.pipe(
  Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: true }))
)

/** The name prefix of a fresh data directory (`dataDir: "fresh"`) in the temporary directory. */
export const FRESH_SANDBOX_PREFIX = "synapse-ml-mcp-sandbox-"

/** An embedded sandbox that has started, as announced to the user. */
export interface EmbeddedSandbox {
  readonly info: Sandbox.SandboxInfo
  /** True when its data directory was made for this run and is removed when the layer is released. */
  readonly fresh: boolean
}

/** How the executables' backend is chosen and set up. */
export interface BackendOptions {
  /** Start options of an embedded sandbox (command-line flags); they win over the environment. */
  readonly sandbox?: SandboxOptions | undefined
  /**
   * Where an embedded sandbox keeps its data when neither `sandbox.dataDir` nor
   * `SYNAPSE_SANDBOX_DIR` says: `user`, the per-user data directory (kept across runs and shared by
   * the one-shot commands); `fresh`, a new temporary directory removed when the layer is released (a
   * server's, so that servers never share or grow one registry).
   */
  readonly dataDir: "user" | "fresh"
  /** Who starts the sandbox, for the backend's description ("this server"). */
  readonly startedBy: string
  /** Tells the user that the embedded sandbox is in use, and where (stderr: stdout may be a protocol). */
  readonly announce: (sandbox: EmbeddedSandbox) => Effect.Effect<void>
}

/** Why the backend could not be set up: a bad setting, or a sandbox that could not start. */
export type BackendError = ConfigError.ConfigError | Sandbox.SandboxError

/**
 * A data directory made for this scope in the temporary directory, removed when the scope closes
 * (after the sandbox using it, which the scope closes first).
 */
export const freshDataDir: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), FRESH_SANDBOX_PREFIX))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/**
 * Starts an embedded sandbox with demo data for the current scope, from `options` and, where they
 * are silent, the `SYNAPSE_SANDBOX_*` settings (`Sandbox.environment`).
 */
export const startSandbox = Effect.fn("App.startSandbox")(function*(
  options: Pick<BackendOptions, "sandbox" | "dataDir">
) {
  const given = options.sandbox?.dataDir ?? (yield* Sandbox.environment).dataDir
  const dataDir = given ?? (options.dataDir === "fresh" ? yield* freshDataDir : undefined)
  const info = yield* Sandbox.start({ seed: "demo", ...options.sandbox, dataDir })
  return { info, fresh: given === undefined && options.dataDir === "fresh" } satisfies EmbeddedSandbox
})

/**
 * The `SynapseClient` and the description of the backend it talks to: the Synapse at
 * `SYNAPSE_BASE_URL` (with the tokens, timeouts and user agent of `SynapseClient.optionsConfig`),
 * else an embedded sandbox with demo data for the lifetime of the layer.
 */
export const backendLayer = (
  options: BackendOptions
): Layer.Layer<SynapseClient.SynapseClient | Backend.Backend, BackendError, HttpClient.HttpClient> =>
  Layer.unwrapScoped(
    Effect.gen(function*() {
      const configured = yield* AppConfig.baseUrl
      if (configured !== undefined) {
        const baseUrl = yield* SynapseClient.parseBaseUrl(configured, "SYNAPSE_BASE_URL")
        return Layer.merge(
          SynapseClient.layerConfig(),
          Backend.layer({ baseUrl, sandbox: false, description: `the Synapse API at ${baseUrl}` })
        )
      }
      const sandbox = yield* startSandbox(options)
      yield* options.announce(sandbox)
      const { info } = sandbox
      return Layer.merge(
        SynapseClient.layer({ baseUrl: info.url, accessToken: Redacted.make(info.token) }),
        Backend.layer({
          baseUrl: info.url,
          sandbox: true,
          description:
            `the local Synapse sandbox started by ${options.startedBy}, with generated demo data in its ${info.profile} profile (not a real deployment)`
        })
      )
    })
  )

/** Every SDK service over the backend `backendLayer` chooses, on the executables' HTTP client. */
export const sdkLayer = (
  options: BackendOptions
): Layer.Layer<Synapse.Services | Backend.Backend, BackendError> =>
  Synapse.layerServicesConfig().pipe(
    Layer.provideMerge(backendLayer(options)),
    Layer.provide(httpClientLayer)
  )
