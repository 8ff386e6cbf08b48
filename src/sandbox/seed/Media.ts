/**
 * Writing seed files under the sandbox's `media/` folder and describing them the way the database
 * stores file references (a `media` path relative to that folder, never a URL; see Database.ts),
 * plus the fixed clock seed timestamps are derived from (seed data must not depend on the date).
 */
import { createHash } from "node:crypto"
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"

/** What the seeders record about a file they wrote. */
export interface WrittenFile {
  /** Path relative to the media folder, with `/` separators. */
  readonly media: string
  readonly name: string
  readonly size: number
  /** md5 hex of the bytes, as a file entry's `checksum` (docs/wire-protocol.md "Files"). */
  readonly checksum: string
}

/** Writes files under one media folder, creating directories once, and counts what it wrote. */
export class MediaWriter {
  private readonly madeDirs = new Set<string>()
  /** Files written so far. */
  files = 0
  /** Bytes written so far. */
  bytes = 0

  constructor(readonly mediaDir: string) {}

  /** Writes `bytes` at `media` (relative, `/`-separated) and returns its description. */
  write(media: string, bytes: Uint8Array | string): WrittenFile {
    const target = join(this.mediaDir, ...media.split("/"))
    const dir = dirname(target)
    if (!this.madeDirs.has(dir)) {
      mkdirSync(dir, { recursive: true })
      this.madeDirs.add(dir)
    }
    const data = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes
    writeFileSync(target, data)
    this.files += 1
    this.bytes += data.byteLength
    return {
      media,
      name: media.slice(media.lastIndexOf("/") + 1),
      size: data.byteLength,
      checksum: createHash("md5").update(data).digest("hex")
    }
  }
}

/** Midnight UTC on 2026-01-05: every seed timestamp is an offset from it. */
export const BASE_TIME_MS = Date.UTC(2026, 0, 5)

/** The last instant seed data may carry (late November 2026). */
export const END_TIME_MS = Date.UTC(2026, 10, 20)

/** An ISO 8601 UTC timestamp without milliseconds, as the API shows them (`2026-11-01T10:00:00Z`; docs/wire-protocol.md "Resources"). */
export const isoAt = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z")

/** One hour and one day in milliseconds. */
export const HOUR_MS = 3_600_000
export const DAY_MS = 24 * HOUR_MS
