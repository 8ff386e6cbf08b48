/**
 * The state one running sandbox shares between its routes: the database, the data directory, the
 * token, fault injection, the page workers, request statistics and the listing caches (counts and page cursors).
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
   * write, ours or (seen through `dataVersion`) another process's.
   */
  readonly counts: Map<string, number>
  /**
   * For listings ordered by id: the last id of the rows before an offset, by query and offset. Paging
   * through `next` then reads page N+1 from where page N ended (`id > last`) instead of skipping
   * N pages of the index, which at 300 000 events was most of a page's SQL time. Cleared with `counts`.
   */
  readonly seeks: Map<string, number>
  /** SQLite's `data_version` when `counts` was last valid (changes when another process writes). */
  readonly dataVersion: { value: number }
}

/** Forgets what the listing caches know, after a write (ours or another process's). */
export const forgetListings = (ctx: SandboxContext): void => {
  ctx.counts.clear()
  ctx.seeks.clear()
}
