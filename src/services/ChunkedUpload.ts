/**
 * `ChunkedUpload`: sends a local file to Synapse with the chunked upload protocol
 * (docs/wire-protocol.md "Chunked upload") so that model files of many gigabytes get through flaky
 * networks and process restarts without starting over. It speaks drf-chunked-upload, which the
 * platform's endpoint is built on, as well as the rich sandbox's kinder dialect.
 *
 * This module is the public face: the service, its options and layers. The work is done by three
 * pieces, each with its own guarantees:
 * - `ChunkSender`: the protocol's requests (`PUT chunked_upload/`, `PUT {url}` with
 *   `Content-Range`, `POST {url}` with the md5) and how their answers read in either dialect;
 *   transient failures and answers cut short are retried (every request is idempotent).
 * - `UploadSession`: which chunk goes next (offsets, read-ahead into two buffers, restarts,
 *   refusals), the md5 computed while sending, and progress.
 * - `UploadResume`: the state file that lets a later `upload` of the same, unchanged file pick up
 *   where the server has it.
 *
 * The file is checked to be a regular file before it is opened (`UploadSource`), so a named pipe or
 * a device fails at once instead of blocking. Interrupting the fiber (or aborting the `signal`,
 * checked between chunks) leaves the upload resumable.
 */
import { Config, Context, Duration, Effect, Layer, Option, Stream } from "effect"
import * as os from "node:os"
import * as nodePath from "node:path"
import { makeChunkSender, sourceError } from "./ChunkSender.js"
import { SynapseClient } from "./SynapseClient.js"
import { type SynapseError, ValidationError } from "./SynapseError.js"
import { resumeStore } from "./UploadResume.js"
import {
  DEFAULT_CHUNK_SIZE,
  defaultChunkTimeout,
  MIN_CHUNK_SIZE,
  runSession,
  type UploadProgress,
  type UploadResult
} from "./UploadSession.js"
import { openSource } from "./UploadSource.js"

export { PROGRESS_STEP } from "./ChunkSender.js"
export {
  DEFAULT_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
  type UploadPhase,
  type UploadProgress,
  type UploadResult
} from "./UploadSession.js"

/** The events of `uploadStream`: progress, then one `done` with the result. */
export type UploadEvent = UploadProgress | { readonly phase: "done"; readonly result: UploadResult }

/** Options of one upload. */
export interface UploadOptions {
  /** Bytes per chunk, at least `MIN_CHUNK_SIZE` (default `DEFAULT_CHUNK_SIZE`). */
  readonly chunkSize?: number | undefined
  /** Pick up an unfinished upload of the same file, and remember this one (default `true`). */
  readonly resume?: boolean | undefined
  /** The name the server stores the file under (default: the file's base name). */
  readonly filename?: string | undefined
  /**
   * Called on every progress event: while uploading, every `PROGRESS_STEP` (1 MiB) handed to the
   * connection and once each chunk is acknowledged.
   */
  readonly onProgress?: ((progress: UploadProgress) => void) | undefined
  /** Aborting stops the upload before its next chunk (the upload stays resumable). */
  readonly signal?: AbortSignal | undefined
  /**
   * Time allowed for one chunk PUT (default: the client's connect + read timeouts plus one second
   * per MiB of chunk, i.e. a link of at least 1 MiB/s).
   */
  readonly chunkTimeout?: Duration.DurationInput | undefined
}

/** The chunked upload service. */
export interface Service {
  /** Uploads a local file; succeeds with the finished upload (its id goes into `Models.create`). */
  readonly upload: (path: string, options?: UploadOptions) => Effect.Effect<UploadResult, SynapseError>
  /** The same upload as a stream of progress events ending with `{ phase: "done", result }`. */
  readonly uploadStream: (path: string, options?: UploadOptions) => Stream.Stream<UploadEvent, SynapseError>
}

/** The `ChunkedUpload` service tag. */
export class ChunkedUpload extends Context.Tag("synapse-ml/ChunkedUpload")<ChunkedUpload, Service>() {}

/** Options of the layer. */
export interface LayerOptions {
  /** The directory of resume state files (default `<cache dir>/uploads`). */
  readonly stateDir?: string | undefined
}

/** The cache directory used when none is configured: `$XDG_CACHE_HOME/synapse-ml` or `~/.cache/synapse-ml`. */
export const defaultCacheDir = (): string =>
  nodePath.join(process.env.XDG_CACHE_HOME ?? nodePath.join(os.homedir(), ".cache"), "synapse-ml")

/** Builds the service over the configured client. */
export const make = (options: LayerOptions = {}): Effect.Effect<Service, never, SynapseClient> =>
  Effect.gen(function*() {
    const client = yield* SynapseClient
    const stateDir = options.stateDir ?? nodePath.join(defaultCacheDir(), "uploads")
    const sender = makeChunkSender(client)

    const upload = Effect.fn("ChunkedUpload.upload")(function*(path: string, uploadOptions: UploadOptions = {}) {
      const chunkSize = uploadOptions.chunkSize ?? DEFAULT_CHUNK_SIZE
      if (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE) {
        return yield* new ValidationError({
          detail: `chunkSize must be an integer of at least ${MIN_CHUNK_SIZE} bytes (1 MiB), got ${chunkSize}`,
          field: "chunkSize"
        })
      }
      const chunkTimeout = uploadOptions.chunkTimeout === undefined
        ? Option.some(defaultChunkTimeout(client, chunkSize))
        : Option.filter(Duration.decodeUnknown(uploadOptions.chunkTimeout), Duration.greaterThan(Duration.zero))
      if (Option.isNone(chunkTimeout)) {
        return yield* new ValidationError({
          detail: `chunkTimeout must be a positive duration (milliseconds, or e.g. "2 minutes"), got ${
            JSON.stringify(uploadOptions.chunkTimeout)
          }`,
          field: "chunkTimeout"
        })
      }
      return yield* Effect.scoped(Effect.gen(function*() {
        const source = yield* openSource(path).pipe(
          Effect.mapError(sourceError)
        )
        const store = resumeStore(stateDir, client, source, uploadOptions.resume !== false)
        return yield* runSession(client, sender, source, store, {
          chunkSize,
          filename: uploadOptions.filename ?? nodePath.basename(source.path),
          chunkTimeout: chunkTimeout.value,
          onProgress: uploadOptions.onProgress,
          signal: uploadOptions.signal
        })
      }))
    })

    const uploadStream = (path: string, uploadOptions: UploadOptions = {}): Stream.Stream<UploadEvent, SynapseError> =>
      Stream.asyncPush<UploadEvent, SynapseError>((emit) =>
        upload(path, {
          ...uploadOptions,
          onProgress: (progress) => {
            uploadOptions.onProgress?.(progress)
            emit.single(progress)
          }
        }).pipe(
          Effect.matchCauseEffect({
            onSuccess: (result) =>
              Effect.sync(() => {
                emit.single({ phase: "done", result })
                emit.end()
              }),
            onFailure: (cause) => Effect.sync(() => emit.halt(cause))
          }),
          Effect.forkScoped
        ), { bufferSize: "unbounded" })

    return ChunkedUpload.of({ upload, uploadStream })
  })

/** The service over `SynapseClient`, with explicit options. */
export const layer = (options: LayerOptions = {}): Layer.Layer<ChunkedUpload, never, SynapseClient> =>
  Layer.effect(ChunkedUpload, make(options))

/**
 * The service with its state directory from the environment: `SYNAPSE_UPLOAD_STATE_DIR`, else
 * `$SYNAPSE_CACHE_DIR/uploads`, else `~/.cache/synapse-ml/uploads`.
 */
export const makeConfig: Effect.Effect<Service, never, SynapseClient> = Effect.gen(function*() {
  const stateDir = yield* Config.string("SYNAPSE_UPLOAD_STATE_DIR").pipe(
    Config.option,
    Effect.orElseSucceed(() => Option.none<string>())
  )
  const cacheDir = yield* Config.string("SYNAPSE_CACHE_DIR").pipe(
    Config.option,
    Effect.orElseSucceed(() => Option.none<string>())
  )
  return yield* make({
    stateDir: Option.getOrElse(stateDir, () => nodePath.join(Option.getOrElse(cacheDir, defaultCacheDir), "uploads"))
  })
})

/** `makeConfig` as a layer. */
export const layerConfig = (): Layer.Layer<ChunkedUpload, never, SynapseClient> =>
  Layer.effect(ChunkedUpload, makeConfig)
