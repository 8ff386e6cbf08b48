/**
 * The index of the local file cache: where the file of a URL lives in the cache directory, whether
 * it is there already, and how bytes get in.
 *
 * Guarantees:
 * - The key of a URL is the sha256 of the URL without its query (signatures change, the file does
 *   not), or of the whole `data:` URL; the local name is that key plus a sanitised extension, never
 *   a server-supplied name, so nothing is written outside the cache directory.
 * - A file is in the cache only once complete: bytes go to a temporary name in the same directory
 *   and are renamed into place (`writeAtomically`, or the downloader's own rename). A file whose
 *   size is not the expected one is not a hit.
 * - One URL is fetched by one caller at a time (`withKeyLock`): a second caller waits, then finds
 *   the file in the cache. The lock table holds only keys in use.
 */
import { Effect } from "effect"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { makeDirectory } from "../platform/Directories.js"
import { ConnectionError, stripQuery } from "./SynapseError.js"

/** What is known in advance about a file, to verify the download. */
export interface Expected {
  readonly size?: number | null | undefined
  readonly checksum?: string | null | undefined
}

/** `$XDG_CACHE_HOME/synapse-ml`, else `~/.cache/synapse-ml`. */
export const defaultDir = (): string => {
  const xdg = process.env.XDG_CACHE_HOME
  return path.join(xdg !== undefined && xdg !== "" ? xdg : path.join(os.homedir(), ".cache"), "synapse-ml")
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

/** A file system failure as the public error, naming what was being done. */
export const fsError = (detail: string, cause: unknown) =>
  new ConnectionError({ detail: `${detail}: ${cause instanceof Error ? cause.message : String(cause)}` })

/** A temporary name next to `target`, unique to one writer. */
export const temporaryName = (target: string): string => `${target}.${randomBytes(6).toString("hex")}.part`

/** The cache directory's index: paths, hits, atomic writes and per-URL locks. */
export interface CacheIndex {
  /** The absolute cache directory. */
  readonly dir: string
  /** The cache file of `url` and its key. */
  readonly entryOf: (url: string) => { readonly key: string; readonly target: string }
  /** Creates the directory (once). */
  readonly ensureDir: Effect.Effect<void, ConnectionError>
  /** Whether `target` is a complete cache file (a regular file of the expected size, when known). */
  readonly has: (target: string, expected?: Expected) => Effect.Effect<boolean>
  /** Writes `bytes` to `target` atomically. */
  readonly writeAtomically: (target: string, bytes: Uint8Array) => Effect.Effect<void, ConnectionError>
  /** Runs `self` holding the lock of `key`. */
  readonly withKeyLock: <A, E>(key: string, self: Effect.Effect<A, E>) => Effect.Effect<A, E>
}

/** The index of the cache directory `dir` (resolved to an absolute path). */
export const makeCacheIndex = (dir: string): CacheIndex => {
  const root = path.resolve(dir)
  const locks = new Map<string, { readonly lock: Effect.Semaphore; users: number }>()
  let dirReady = false

  const ensureDir: Effect.Effect<void, ConnectionError> = Effect.suspend(() =>
    dirReady ? Effect.void : Effect.tryPromise({
      try: async () => {
        await makeDirectory(root)
        dirReady = true
      },
      catch: (cause) => fsError(`cannot create the cache directory ${root}`, cause)
    })
  )

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

  const has = (target: string, expected?: Expected): Effect.Effect<boolean> =>
    Effect.promise(() =>
      fs.stat(target).then(
        (stat) => stat.isFile() && (typeof expected?.size !== "number" || stat.size === expected.size),
        () => false
      )
    )

  const writeAtomically = (target: string, bytes: Uint8Array) =>
    Effect.tryPromise({
      try: async () => {
        const temp = temporaryName(target)
        try {
          await fs.writeFile(temp, bytes, { flag: "wx" })
          await fs.rename(temp, target)
        } finally {
          await fs.rm(temp, { force: true })
        }
      },
      catch: (cause) => fsError(`cannot write to the cache directory ${root}`, cause)
    })

  const entryOf = (url: string) => {
    const key = cacheKey(url)
    return { key, target: path.join(root, `${key}${safeExtension(url)}`) }
  }

  return { dir: root, entryOf, ensureDir, has, writeAtomically, withKeyLock }
}
