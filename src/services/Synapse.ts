/**
 * The convenience layers that give every SDK service at once: `SynapseClient`, `FileCache`,
 * `Models`, `GroundTruths` and `ChunkedUpload`. Applications provide one of these plus an
 * `HttpClient` (`NodeHttpClient.layer`) and can call any SDK operation:
 *
 * ```ts
 * program.pipe(Effect.provide(Synapse.layerConfig()), Effect.provide(NodeHttpClient.layer))
 * ```
 *
 * These are the only places that assemble the SDK's services; the executables' composition root
 * (`src/App.ts`) and the sandbox quick start (`SandboxSdk`) build on them.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { type ConfigError, Layer } from "effect"
import * as ChunkedUpload from "./ChunkedUpload.js"
import * as FileCache from "./FileCache.js"
import * as GroundTruths from "./GroundTruths.js"
import * as Models from "./Models.js"
import * as SynapseClient from "./SynapseClient.js"

/** Every service the SDK offers. */
export type Services =
  | SynapseClient.SynapseClient
  | FileCache.FileCache
  | Models.Models
  | GroundTruths.GroundTruths
  | ChunkedUpload.ChunkedUpload

/** The SDK services over an already provided `SynapseClient`. */
export const layerServices = (options?: {
  readonly fileCache?: FileCache.Options | undefined
  readonly chunkedUpload?: ChunkedUpload.LayerOptions | undefined
}): Layer.Layer<Exclude<Services, SynapseClient.SynapseClient>, never, SynapseClient.SynapseClient> => {
  const files = options?.fileCache !== undefined ? FileCache.layer(options.fileCache) : FileCache.layer()
  const upload = options?.chunkedUpload !== undefined
    ? ChunkedUpload.layer(options.chunkedUpload)
    : ChunkedUpload.layer()
  // Models.create uploads through the same ChunkedUpload (same resume state directory).
  return Layer.mergeAll(Models.layer, GroundTruths.layer).pipe(Layer.provideMerge(Layer.merge(files, upload)))
}

/**
 * Every SDK service from explicit options (`SynapseClient.Options`: base URL, tokens, timeouts,
 * retry, `prefetch` — the pages listing streams request at once, 1 to follow `next` — and the
 * file cache and upload options).
 */
export const layer = (
  options: SynapseClient.Options & {
    readonly fileCache?: FileCache.Options | undefined
    readonly chunkedUpload?: ChunkedUpload.LayerOptions | undefined
  }
): Layer.Layer<Services, ConfigError.ConfigError, HttpClient.HttpClient> =>
  layerServices(options).pipe(Layer.provideMerge(SynapseClient.layer(options)))

/**
 * The SDK services over an already provided `SynapseClient`, with the file cache and upload
 * settings from the environment (`SYNAPSE_CACHE_DIR`, `SYNAPSE_DOWNLOAD_CONCURRENCY`,
 * `SYNAPSE_UPLOAD_STATE_DIR`): what an executable provides over the client it chose.
 */
export const layerServicesConfig = (): Layer.Layer<
  Exclude<Services, SynapseClient.SynapseClient>,
  ConfigError.ConfigError,
  SynapseClient.SynapseClient
> =>
  // Models.create uploads through the same ChunkedUpload (same resume state directory).
  Layer.mergeAll(Models.layer, GroundTruths.layer).pipe(
    Layer.provideMerge(Layer.merge(FileCache.layerConfig(), ChunkedUpload.layerConfig()))
  )

/**
 * Every SDK service from the environment: `SYNAPSE_BASE_URL`, the `SYNAPSE_*` tokens and timeouts,
 * `SYNAPSE_PREFETCH` (see `SynapseClient.layerConfig`), `SYNAPSE_CACHE_DIR`, `SYNAPSE_UPLOAD_STATE_DIR`.
 * `overrides` (a retry schedule, `transformClient`, `prefetch`, …) take precedence over the
 * environment; a bad value of either fails the layer with a `ConfigError` naming it.
 */
export const layerConfig = (
  overrides?: Partial<SynapseClient.Options>
): Layer.Layer<Services, ConfigError.ConfigError, HttpClient.HttpClient> =>
  layerServicesConfig().pipe(Layer.provideMerge(SynapseClient.layerConfig(overrides)))
