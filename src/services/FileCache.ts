/**
 * URL conversion (docs/wire-protocol.md "Files"): file fields of a resource hold presigned URLs;
 * converting downloads each into a local content cache and puts the local path in its place — a
 * string field becomes the path, a file entry keeps its keys, gains `path` and loses `url`.
 *
 * This module is the service and the walk over a resource's file fields. The cache itself is two
 * pieces, each with its own guarantees: `FileCacheIndex` (where a URL's file lives, hits, atomic
 * writes, one fetch per URL at a time) and `FileDownloader` (no auth headers, verified bytes,
 * retries, bounded concurrency). Whatever the server sends:
 * - nothing is written outside the cache directory, and nothing incomplete or corrupted is served;
 * - `data:` URLs are decoded instead of downloaded;
 * - downloads run at most `concurrency` at a time across everything converted, and one URL is
 *   downloaded once even when several items of a page share it.
 */
import { Config, type ConfigError, Context, Effect, Layer, Option, Predicate } from "effect"
import { defaultDir, type Expected, makeCacheIndex } from "./FileCacheIndex.js"
import { decodeDataUrl, makeFileDownloader } from "./FileDownloader.js"
import { SynapseClient } from "./SynapseClient.js"
import { DecodeError, stripQuery, type SynapseError, ValidationError } from "./SynapseError.js"

export { cacheKey, defaultDir, type Expected, safeExtension } from "./FileCacheIndex.js"

/**
 * Which fields to convert, and how. `filesFields` are dotted paths (`file`, `files`,
 * `data_unit.files`); lists met on the way are walked element by element. With `convert`, each URL
 * is replaced by `convert(url)` (the seed's lambda, e.g. a CDN rewrite) and nothing is downloaded.
 */
export interface UrlConversion {
  readonly filesFields: ReadonlyArray<string>
  readonly convert?: ((url: string) => string) | undefined
}

/** The file cache service. */
export interface Service {
  /** The absolute cache directory. */
  readonly dir: string
  /** Downloads (or decodes) a file URL into the cache, or finds it there; succeeds with the local path. */
  readonly download: (url: string, expected?: Expected) => Effect.Effect<string, SynapseError>
  /** Applies a url conversion to one resource. */
  readonly convert: <A>(item: A, conversion: UrlConversion) => Effect.Effect<A, SynapseError>
  /** Applies a url conversion to every item of a page (downloads bounded across the page). */
  readonly convertAll: <A>(
    items: ReadonlyArray<A>,
    conversion: UrlConversion
  ) => Effect.Effect<ReadonlyArray<A>, SynapseError>
}

/** The `FileCache` service. */
export class FileCache extends Context.Tag("synapse-ml/FileCache")<FileCache, Service>() {}

/** Options of `make` / `layer`. */
export interface Options {
  /** The cache directory (created when needed). Default `defaultDir()`. */
  readonly dir?: string | undefined
  /** Downloads in flight at once (default 8). */
  readonly concurrency?: number | undefined
}

const DOTTED = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/

/** Checks a conversion before any request: every `filesFields` entry must be a dotted name. */
export const validateConversion = (conversion: UrlConversion): Effect.Effect<UrlConversion, ValidationError> => {
  if (!Array.isArray(conversion.filesFields)) {
    return Effect.fail(
      new ValidationError({
        detail: "urlConversion.filesFields must be a list of dotted field names",
        field: "urlConversion.filesFields"
      })
    )
  }
  for (const field of conversion.filesFields) {
    if (typeof field !== "string" || !DOTTED.test(field)) {
      return Effect.fail(
        new ValidationError({
          detail: `urlConversion.filesFields: ${
            JSON.stringify(field)
          } is not a dotted field name (letters, digits, _ separated by dots, e.g. data_unit.files)`,
          field: "urlConversion.filesFields"
        })
      )
    }
  }
  return Effect.succeed(conversion)
}

const isEntry = (u: unknown): u is Record<string, unknown> & { url: string } =>
  Predicate.isRecord(u) && typeof u.url === "string"

/** Builds the cache over `SynapseClient.fileClient`. */
export const make = (options?: Options): Effect.Effect<Service, never, SynapseClient> =>
  Effect.gen(function*() {
    const client = yield* SynapseClient
    const index = makeCacheIndex(options?.dir ?? defaultDir())
    const downloader = yield* makeFileDownloader(client, index.dir, options?.concurrency ?? 8)

    const download: Service["download"] = (url, expected) =>
      Effect.gen(function*() {
        const { key, target } = index.entryOf(url)
        yield* index.ensureDir
        if (url.startsWith("data:")) {
          const bytes = decodeDataUrl(url)
          if (bytes === undefined) {
            return yield* Effect.fail(
              new DecodeError({ detail: "a data: URL could not be decoded", excerpt: url.slice(0, 60) })
            )
          }
          if (!(yield* index.has(target))) yield* index.writeAtomically(target, bytes)
          return target
        }
        let parsed: URL | undefined
        try {
          parsed = new URL(url)
        } catch {
          parsed = undefined
        }
        if (parsed === undefined || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
          return yield* Effect.fail(
            new ValidationError({
              detail: `a file URL must be http(s) or data:, got ${JSON.stringify(stripQuery(url).slice(0, 100))}`,
              field: "url"
            })
          )
        }
        return yield* index.withKeyLock(
          key,
          Effect.gen(function*() {
            if (!(yield* index.has(target, expected))) yield* downloader.fetch(url, target, expected)
            return target
          })
        )
      }).pipe(Effect.withSpan("FileCache.download"))

    const convertUrl = (
      url: string,
      conversion: UrlConversion,
      expected?: Expected
    ): Effect.Effect<string, SynapseError> =>
      conversion.convert !== undefined ? Effect.sync(() => conversion.convert!(url)) : download(url, expected)

    const convertEntry = (entry: Record<string, unknown> & { url: string }, conversion: UrlConversion) => {
      const expected: Expected = {
        size: typeof entry.size === "number" ? entry.size : undefined,
        checksum: typeof entry.checksum === "string" ? entry.checksum : undefined
      }
      return Effect.map(convertUrl(entry.url, conversion, expected), (local) => {
        if (conversion.convert !== undefined) return { ...entry, url: local }
        const { url: _url, ...rest } = entry
        return { ...rest, path: local }
      })
    }

    /** The value at the end of a files path: a URL, an entry, or a map/list of them. */
    const convertLeaf = (value: unknown, conversion: UrlConversion): Effect.Effect<unknown, SynapseError> => {
      if (typeof value === "string") return convertUrl(value, conversion)
      if (isEntry(value)) return convertEntry(value, conversion)
      if (Array.isArray(value)) {
        return Effect.forEach(value, (v) => convertLeaf(v, conversion), { concurrency: "inherit" })
      }
      if (Predicate.isRecord(value)) {
        return Effect.map(
          Effect.forEach(Object.entries(value), ([k, v]) =>
            typeof v === "string" || isEntry(v)
              ? Effect.map(convertLeaf(v, conversion), (c) => [k, c] as const)
              : Effect.succeed([k, v] as const), { concurrency: "inherit" }),
          (pairs) => Object.fromEntries(pairs)
        )
      }
      return Effect.succeed(value)
    }

    const convertAt = (
      value: unknown,
      segments: ReadonlyArray<string>,
      conversion: UrlConversion
    ): Effect.Effect<unknown, SynapseError> => {
      if (Array.isArray(value)) {
        return Effect.forEach(value, (v) => convertAt(v, segments, conversion), { concurrency: "inherit" })
      }
      if (segments.length === 0) return convertLeaf(value, conversion)
      const [head, ...rest] = segments as [string, ...Array<string>]
      if (!Predicate.isRecord(value) || !Object.prototype.hasOwnProperty.call(value, head)) return Effect.succeed(value)
      return Effect.map(convertAt(value[head], rest, conversion), (converted) => ({ ...value, [head]: converted }))
    }

    const convert: Service["convert"] = <A>(item: A, conversion: UrlConversion) =>
      Effect.flatMap(validateConversion(conversion), () =>
        Effect.reduce(conversion.filesFields, item as unknown, (acc, field) =>
          convertAt(acc, field.split("."), conversion))).pipe(
          // the structure walk may fan out; downloads themselves are bounded by the semaphore
          Effect.withConcurrency("unbounded"),
          Effect.map((value) =>
            value as A
          )
        )

    const convertAll: Service["convertAll"] = (items, conversion) =>
      Effect.forEach(items, (item) => convert(item, conversion), { concurrency: "unbounded" })

    return FileCache.of({ dir: index.dir, download, convert, convertAll })
  })

/** A cache with explicit options. */
export const layer = (options?: Options): Layer.Layer<FileCache, never, SynapseClient> =>
  Layer.effect(FileCache, make(options))

/** A cache in `SYNAPSE_CACHE_DIR` (else `defaultDir()`), `SYNAPSE_DOWNLOAD_CONCURRENCY` at once (8). */
export const layerConfig = (): Layer.Layer<FileCache, ConfigError.ConfigError, SynapseClient> =>
  Layer.effect(
    FileCache,
    Effect.gen(function*() {
      const dir = yield* Config.string("SYNAPSE_CACHE_DIR").pipe(Config.option)
      const concurrency = yield* Config.integer("SYNAPSE_DOWNLOAD_CONCURRENCY").pipe(
        Config.validate({
          message: "SYNAPSE_DOWNLOAD_CONCURRENCY must be between 1 and 64",
          validation: (n) => n >= 1 && n <= 64
        }),
        Config.option
      )
      return yield* make({
        dir: Option.getOrUndefined(Option.filter(dir, (d) => d.trim() !== "")),
        concurrency: Option.getOrUndefined(concurrency)
      })
    })
  )
