/**
 * The SDK on an embedded sandbox, with no account: a layer that starts a local Synapse-compatible
 * sandbox with demo data and provides every SDK service over it, so that any SDK program runs as it
 * is with `Effect.provide(program, SandboxSdk.layer())`. The sandbox listens on 127.0.0.1 on a free
 * port, keeps its data in a fresh temporary directory (removed when the layer is released) unless
 * given `dataDir`, and stops with the layer. It never reads `SYNAPSE_BASE_URL`: programs on it never
 * touch a real registry.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Models } from "synapse-ml"
 * import { SandboxSdk } from "synapse-ml/sandbox"
 *
 * const program = Effect.gen(function*() {
 *   const models = yield* Models.Models
 *   return yield* models.list({ page_size: 5 })
 * })
 * Effect.runPromise(program.pipe(Effect.provide(SandboxSdk.layer()))).then(console.log)
 * ```
 */
import { type ConfigError, Context, Effect, Layer, Redacted } from "effect"
import * as App from "./App.js"
import * as Sandbox from "./sandbox/Sandbox.js"
import type * as ChunkedUpload from "./services/ChunkedUpload.js"
import type * as FileCache from "./services/FileCache.js"
import * as Synapse from "./services/Synapse.js"

/** The running sandbox (base URL, token, profile, data directory), for programs that want to show it. */
export class RunningSandbox extends Context.Tag("synapse-ml/RunningSandbox")<RunningSandbox, Sandbox.SandboxInfo>() {}

/** Options: the sandbox's own (seed, profile, faults, data directory, …) and the SDK's file settings. */
export interface Options extends Sandbox.SandboxOptions {
  /** The SDK's file cache (default: the per-user cache directory). */
  readonly fileCache?: FileCache.Options | undefined
  /** The SDK's upload settings (default: the per-user resume state directory). */
  readonly chunkedUpload?: ChunkedUpload.LayerOptions | undefined
}

/**
 * Every SDK service (`Synapse.Services`) over a sandbox started for the layer's lifetime, plus the
 * sandbox's description (`RunningSandbox`). Fails with a `SandboxError` when the sandbox cannot start.
 */
export const layer = (
  options: Options = {}
): Layer.Layer<Synapse.Services | RunningSandbox, Sandbox.SandboxError | ConfigError.ConfigError> => {
  const { chunkedUpload, dataDir, fileCache, ...sandboxOptions } = options
  return Layer.unwrapScoped(
    Effect.gen(function*() {
      // The profile, token and faults may come from the environment; the data directory only from
      // the options, so that a program never writes into a directory kept for something else.
      const info = yield* Sandbox.start({
        seed: "demo",
        ...sandboxOptions,
        dataDir: dataDir ?? (yield* App.freshDataDir)
      })
      return Layer.merge(
        Synapse.layer({ baseUrl: info.url, accessToken: Redacted.make(info.token), fileCache, chunkedUpload }),
        Layer.succeed(RunningSandbox, info)
      )
    })
  ).pipe(Layer.provide(App.httpClientLayer))
}
