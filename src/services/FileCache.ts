/**
 * URL conversion (the seed's `url_conversion`, docs/wire-protocol.md "Files"): file fields of a resource hold
 * presigned URLs; converting downloads each into a local content cache and puts the local path in
 * its place — a string field becomes the path, a file entry keeps its keys, gains `path` and loses
 * `url`.
 *
 * Guarantees, whatever the server sends:
 * - files are requested without auth headers (`SynapseClient.fileClient`): presigned URLs are
 *   authority enough, and a token must never reach a file host;
 * - the cache is keyed by the URL without its query (signatures change, the file does not) and the
 *   local name is a hash plus a sanitised extension, never a server-supplied name, so nothing is
 *   written outside the cache directory;
 * - bytes go to a temporary name and are renamed only once complete and verified (size against
 *   `Content-Length` and the entry's `size`, md5/sha256 against its `checksum`): a truncated or
 *   corrupted download is retried once and never served from the cache;
 * - `data:` URLs are decoded instead of downloaded;
 * - downloads run at most `concurrency` at a time across everything converted, and one URL is
 *   downloaded once even when several items of a page share it.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Config, type ConfigError, Context, Duration, Effect, Layer, Option, Predicate, Stream } from "effect"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { makeDirectory } from "../platform/Directories.js"
import { SynapseClient } from "./SynapseClient.js"
import {
  AuthorizationError,
  ConnectionError,
  DecodeError,
  fromResponse,
  stripQuery,
  type SynapseError,
  TimeoutError,
  ValidationError
} from "./SynapseError.js"

/**
 * Which fields to convert, and how. `filesFields` are dotted paths (`file`, `files`,
 * `data_unit.files`); lists met on the way are walked element by element. With `convert`, each URL
 * is replaced by `convert(url)` (the seed's lambda, e.g. a CDN rewrite) and nothing is downloaded.
 */
export interface UrlConversion {
  readonly filesFields: ReadonlyArray<string>
  readonly convert?: ((url: string) => string) | undefined
}

/** What is known in advance about a file, to verify the download. */
export interface Expected {
  readonly size?: number | null | undefined
  readonly checksum?: string | null | undefined
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

/** `$XDG_CACHE_HOME/synapse-ml`, else `~/.cache/synapse-ml`. */
export const defaultDir = (): string => {
  const xdg = process.env.XDG_CACHE_HOME
  return path.join(xdg !== undefined && xdg !== "" ? xdg : path.join(os.homedir(), ".cache"), "synapse-ml")
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

/** The cache key of a URL: sha256 of the URL without query (or of the whole `data:` URL). */
export const cacheKey = (url: string): string =>
  createHash("sha256").update(url.startsWith("data:") ? url : stripQuery(url)).digest("hex")

/** A safe extension from the URL's path (`.png`), or none: only letters and digits, at most 8. */
export const safeExtension = (url: string): string => {
  if (url.startsWith("data:")) return ""
  let pathname: string
  try {
    pathname = new URL(url).pathname
  } catch {
    return ""
  }
  const match = /\.([A-Za-z0-9]{1,8})$/.exec(pathname)
  return match !== null ? `.${match[1]!.toLowerCase()}` : ""
}

/** Decodes a `data:` URL (base64 or percent-encoded). */
const decodeDataUrl = (url: string): Buffer | undefined => {
  const comma = url.indexOf(",")
  if (comma === -1) return undefined
  const meta = url.slice(5, comma)
  const payload = url.slice(comma + 1)
  try {
    return meta.split(";").includes("base64")
      ? Buffer.from(decodeURIComponent(payload), "base64")
      : Buffer.from(decodeURIComponent(payload), "utf8")
  } catch {
    return undefined
  }
}

const fsError = (detail: string, cause: unknown) =>
  new ConnectionError({ detail: `${detail}: ${cause instanceof Error ? cause.message : String(cause)}` })

const causeMessage = (cause: unknown): string | undefined =>
  Predicate.hasProperty(cause, "code") && typeof cause.code === "string"
    ? cause.code
    : cause instanceof Error
    ? cause.message
    : undefined

const isEntry = (u: unknown): u is Record<string, unknown> & { url: string } =>
  Predicate.isRecord(u) && typeof u.url === "string"

/** Builds the cache over `SynapseClient.fileClient`. */
export const make = (options?: Options): Effect.Effect<Service, never, SynapseClient> =>
  Effect.gen(function*() {
    const client = yield* SynapseClient
    const dir = path.resolve(options?.dir ?? defaultDir())
    const downloads = yield* Effect.makeSemaphore(Math.max(1, options?.concurrency ?? 8))
    const locks = new Map<string, { readonly lock: Effect.Semaphore; users: number }>()
    let dirReady = false

    const ensureDir: Effect.Effect<void, ConnectionError> = Effect.suspend(() =>
      dirReady ? Effect.void : Effect.tryPromise({
        try: async () => {
          await makeDirectory(dir)
          dirReady = true
        },
        catch: (cause) => fsError(`cannot create the cache directory ${dir}`, cause)
      })
    )

    /** One URL at a time per key: the second caller waits, then finds the file in the cache. */
    const withKeyLock = <A, E>(key: string, self: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.acquireUseRelease(
        Effect.sync(() => {
          let entry = locks.get(key)
          if (entry === undefined) {
            entry = { lock: Effect.unsafeMakeSemaphore(1), users: 0 }
            locks.set(key, entry)
          }
          entry.users++
          return entry
        }),
        (entry) => entry.lock.withPermits(1)(self),
        (entry) =>
          Effect.sync(() => {
            entry.users--
            if (entry.users === 0) locks.delete(key)
          })
      )

    const cached = (target: string, expected?: Expected): Effect.Effect<boolean> =>
      Effect.promise(() =>
        fs.stat(target).then(
          (stat) => stat.isFile() && (typeof expected?.size !== "number" || stat.size === expected.size),
          () => false
        )
      )

    /** Writes bytes to `target` atomically: a temporary name in the same directory, then rename. */
    const writeAtomically = (target: string, bytes: Uint8Array) =>
      Effect.tryPromise({
        try: async () => {
          const temp = `${target}.${randomBytes(6).toString("hex")}.part`
          try {
            await fs.writeFile(temp, bytes, { flag: "wx" })
            await fs.rename(temp, target)
          } finally {
            await fs.rm(temp, { force: true })
          }
        },
        catch: (cause) => fsError(`cannot write to the cache directory ${dir}`, cause)
      })

    const verify = (
      url: string,
      bytes: number,
      md5: string,
      sha256: string,
      contentLength: number | undefined,
      expected?: Expected
    ): DecodeError | undefined => {
      const where = { method: "GET", url: stripQuery(url) }
      if (contentLength !== undefined && bytes !== contentLength) {
        return new DecodeError({
          ...where,
          detail: `download truncated: ${bytes} of ${contentLength} bytes received`,
          truncated: true
        })
      }
      if (typeof expected?.size === "number" && bytes !== expected.size) {
        return new DecodeError({
          ...where,
          detail: `downloaded ${bytes} bytes, the server announced ${expected.size}`,
          truncated: true
        })
      }
      const checksum = typeof expected?.checksum === "string" ? expected.checksum.trim().toLowerCase() : ""
      if (/^[0-9a-f]{32}$/.test(checksum) && checksum !== md5) {
        return new DecodeError({
          ...where,
          detail: `md5 of the download is ${md5}, the server announced ${checksum}`,
          truncated: true
        })
      }
      if (/^[0-9a-f]{64}$/.test(checksum) && checksum !== sha256) {
        return new DecodeError({
          ...where,
          detail: `sha256 of the download is ${sha256}, the server announced ${checksum}`,
          truncated: true
        })
      }
      return undefined
    }

    /** One download attempt into a temporary file; renamed into place only when verified. */
    const fetchOnce = (url: string, target: string, expected?: Expected): Effect.Effect<void, SynapseError> => {
      const where = { method: "GET", url: stripQuery(url) }
      const temp = `${target}.${randomBytes(6).toString("hex")}.part`
      const headersTimeout = Duration.sum(client.timeouts.connect, client.timeouts.read)
      return Effect.gen(function*() {
        const response = yield* client.fileClient.execute(HttpClientRequest.get(url)).pipe(
          Effect.mapError((error) =>
            error._tag === "RequestError"
              ? new ConnectionError({
                ...where,
                detail: `file download failed: ${causeMessage(error.cause) ?? error.reason}`
              })
              : new ConnectionError({
                ...where,
                status_code: error.response.status,
                detail: `file download failed (${error.reason})`
              })
          ),
          Effect.timeoutFail({
            duration: headersTimeout,
            onTimeout: () =>
              new TimeoutError({
                ...where,
                detail: "the file host did not answer in time",
                timeoutMs: Duration.toMillis(headersTimeout)
              })
          })
        )
        if (response.status < 200 || response.status >= 300) {
          const body = yield* Effect.orElseSucceed(response.text, () => "")
          const error = fromResponse({ status: response.status, body, ...where })
          if (error._tag === "AuthorizationError") {
            return yield* Effect.fail(
              new AuthorizationError({
                ...error,
                detail:
                  `the file host refused the download (${error.detail}); a presigned URL may have expired: fetch the resource again for a fresh one`
              })
            )
          }
          return yield* Effect.fail(error)
        }
        const lengthHeader = response.headers["content-length"]
        const contentLength = lengthHeader !== undefined && /^\d+$/.test(lengthHeader)
          ? Number(lengthHeader)
          : undefined
        const md5 = createHash("md5")
        const sha256 = createHash("sha256")
        let bytes = 0
        const handle = yield* Effect.tryPromise({
          try: () => fs.open(temp, "wx"),
          catch: (cause) => fsError(`cannot write to the cache directory ${dir}`, cause)
        })
        yield* Effect.gen(function*() {
          yield* response.stream.pipe(
            Stream.mapError((error) =>
              new ConnectionError({
                ...where,
                status_code: response.status,
                detail: `the download broke off after ${bytes} bytes (${error.reason})`
              })
            ),
            // an idle timeout: a large file may take long, a stalled one must not hang forever
            Stream.timeoutFail(
              () =>
                new TimeoutError({
                  ...where,
                  detail: `the download stalled after ${bytes} bytes`,
                  timeoutMs: Duration.toMillis(client.timeouts.read)
                }),
              client.timeouts.read
            ),
            Stream.runForEach((chunk) =>
              Effect.tryPromise({
                try: async () => {
                  md5.update(chunk)
                  sha256.update(chunk)
                  bytes += chunk.length
                  await handle.write(chunk)
                },
                catch: (cause) => fsError(`cannot write to the cache directory ${dir}`, cause)
              })
            )
          )
        }).pipe(Effect.ensuring(Effect.promise(() => handle.close().catch(() => undefined))))
        const problem = verify(url, bytes, md5.digest("hex"), sha256.digest("hex"), contentLength, expected)
        if (problem !== undefined) return yield* Effect.fail(problem)
        yield* Effect.tryPromise({
          try: () => fs.rename(temp, target),
          catch: (cause) => fsError(`cannot write to the cache directory ${dir}`, cause)
        })
      }).pipe(
        // whatever happened, no partial file stays behind
        Effect.ensuring(Effect.promise(() => fs.rm(temp, { force: true }).catch(() => undefined)))
      )
    }

    const download: Service["download"] = (url, expected) =>
      Effect.gen(function*() {
        const key = cacheKey(url)
        const target = path.join(dir, `${key}${safeExtension(url)}`)
        yield* ensureDir
        if (url.startsWith("data:")) {
          const bytes = decodeDataUrl(url)
          if (bytes === undefined) {
            return yield* Effect.fail(
              new DecodeError({ detail: "a data: URL could not be decoded", excerpt: url.slice(0, 60) })
            )
          }
          if (!(yield* cached(target))) yield* writeAtomically(target, bytes)
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
        return yield* withKeyLock(
          key,
          Effect.gen(function*() {
            if (yield* cached(target, expected)) return target
            yield* downloads.withPermits(1)(
              client.retry(
                Effect.retry(fetchOnce(url, target, expected), {
                  times: 1,
                  while: (error) => error._tag === "DecodeError" && error.truncated === true
                })
              )
            )
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

    return FileCache.of({ dir, download, convert, convertAll })
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
