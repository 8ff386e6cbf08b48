/**
 * Test helper: the whole SDK (`Synapse.layer`) against a test sandbox, or anything that speaks for
 * one (a proxy in front of it), over a real socket, with its file cache and upload state in a
 * directory the test owns; and running a program with it to an `Either`.
 *
 *   const layer = sdkLayer(sandbox(), work)
 *   const result = ok(await runEither(layer, analyzeModel(input)))
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import { Effect, Either, Layer, Redacted } from "effect"
import * as Path from "node:path"
import * as Synapse from "../../src/services/Synapse.js"
import type * as SynapseClient from "../../src/services/SynapseClient.js"

/** Where the SDK sends its requests: a sandbox's API URL and token. */
export interface SdkTarget {
  readonly url: string
  readonly token: string
}

/**
 * Every SDK service against `target`; the cache and upload state go in `workDir/cache` and
 * `workDir/state`. `options` adds client options (a fast retry schedule, `transformClient`, …);
 * `transport` is the `HttpClient` underneath (the SDK takes any: `NodeHttpClient.layerUndici`, …).
 * The layer closes its transport with its scope: use the services only while it is provided.
 */
export const sdkLayer = (
  target: SdkTarget,
  workDir: string,
  options: Omit<SynapseClient.Options, "baseUrl" | "accessToken"> = {},
  transport: Layer.Layer<HttpClient.HttpClient> = NodeHttpClient.layer
): Layer.Layer<Synapse.Services> =>
  Synapse.layer({
    baseUrl: target.url,
    accessToken: Redacted.make(target.token),
    ...options,
    fileCache: { dir: Path.join(workDir, "cache") },
    chunkedUpload: { stateDir: Path.join(workDir, "state") }
  }).pipe(Layer.provide(transport), Layer.orDie)

/** Runs `effect` with `layer`; a failure comes back as `Left` instead of rejecting. */
export const runEither = <A, E>(
  layer: Layer.Layer<Synapse.Services>,
  effect: Effect.Effect<A, E, Synapse.Services>
): Promise<Either.Either<A, E>> => Effect.runPromise(Effect.either(effect).pipe(Effect.provide(layer)))

/** The success inside `e`, or a thrown error naming the failure. */
export const ok = <A, E>(e: Either.Either<A, E>): A => {
  if (Either.isLeft(e)) throw new Error(`expected success, got ${String(e.left)}`)
  return e.right
}
