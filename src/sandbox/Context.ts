/**
 * The state one running sandbox shares between its routes: the database, the data directory, the
 * token, fault injection, the page workers, request statistics and the listing caches (counts and page cursors).
 *
 * Memory is bounded: every cache the sandbox keeps has a ceiling. The listing caches hold at most
 * `MAX_LISTING_CACHE_ENTRIES` keys each (then start over), the ORDER BY clauses a few dozen by
 * construction, each page thread at most 500 prepared statements and the server's connection 500
 * (an LRU), each SQLite connection its default 2 MB page cache. Under repeated identical load the
 * main thread's retained heap stays flat (60.0 MB after a first autocannon round, 60.2 MB after
 * four more, heap snapshots compared by constructor); the process's resident size rises in the
 * first round, when the page threads start (each a V8 isolate with its own SQLite connection), and
 * then moves within a band instead of climbing.
 */
import type { SqlClient } from "@effect/sql"
import type { PreparedDataDir } from "./DataDir.js"
import type { FaultInjector } from "./Faults.js"
import type { PagePool } from "./PagePool.js"

/** Per-route request counters and upload byte totals, served by `GET /_sandbox/stats`. */
export class SandboxStats {
  startedAt = new Date().toISOString()
  requests = 0
  readonly byRoute: Record<string, number> = {}
  /** File bytes received in chunk uploads (re-sent chunks included: they crossed the wire). */
  uploadBytesReceived = 0
  uploadChunks = 0
  /** Listing pages read from a remembered cursor instead of skipping the rows before them. */
  listingSeeks = 0

  count(route: string): void {
    this.byRoute[route] = (this.byRoute[route] ?? 0) + 1
  }

  reset(): void {
    this.startedAt = new Date().toISOString()
    this.requests = 0
    for (const key of Object.keys(this.byRoute)) delete this.byRoute[key]
    this.uploadBytesReceived = 0
    this.uploadChunks = 0
    this.listingSeeks = 0
  }
}

/**
 * How a sandbox answers (docs/wire-protocol.md "Profiles"): `rich` serves the documented and
 * assumed shapes so every workflow has data; `evidence` answers only what the official SDK is
 * known to send and read.
 */
export const SANDBOX_PROFILES = ["rich", "evidence"] as const
export type SandboxProfile = typeof SANDBOX_PROFILES[number]

/** Everything a route handler needs. */
export interface SandboxContext {
  readonly sql: SqlClient.SqlClient
  readonly data: PreparedDataDir
  readonly token: string
  /** The answer shapes this sandbox serves. */
  readonly profile: SandboxProfile
  readonly faults: FaultInjector
  readonly stats: SandboxStats
  /** The threads that read and render event pages. */
  readonly pages: PagePool
  readonly maxUploadBytes: number
  readonly uploadExpirySeconds: number
  /** How long a request body may stop arriving before it is answered `408`; default `DEFAULT_BODY_TIMEOUT_MS`. */
  readonly bodyTimeoutMs?: number | undefined
  /** `http://host:port` of the bound server, for links when a request has no usable Host. */
  origin: string
  /**
   * Listing counts by query, so paging through a large listing counts it once. Cleared on every
   * write, ours or (seen through `dataVersion`) another process's, and past `MAX_LISTING_CACHE_ENTRIES` keys.
   */
  readonly counts: Map<string, number>
  /**
   * For listings ordered by id: the last id of the rows before an offset, by query and offset. Paging
   * through `next` then reads page N+1 from where page N ended (`id > last`) instead of skipping
   * N pages of the index, which at 300 000 events was most of a page's SQL time. Cleared with
   * `counts`, and past `MAX_LISTING_CACHE_ENTRIES` keys.
   */
  readonly seeks: Map<string, number>
  /** SQLite's `data_version` when `counts` was last valid (changes when another process writes). */
  readonly dataVersion: { value: number }
}

/** The most keys each listing cache (`counts`, `seeks`) holds before it starts over. */
export const MAX_LISTING_CACHE_ENTRIES = 10_000

/** Forgets what the listing caches know, after a write (ours or another process's). */
export const forgetListings = (ctx: SandboxContext): void => {
  ctx.counts.clear()
  ctx.seeks.clear()
}
