/**
 * The sandbox's data directory: `sandbox.sqlite` (WAL), `media/` (files served under `/media/…`)
 * and `uploads/` (chunked uploads in progress). Preparing it creates the layout, checks the schema
 * version, creates the signing secret, and seeds the database — only when the directory is new, so
 * data written by clients survives restarts. Seeding runs synchronously on a plain better-sqlite3
 * connection (the generators are synchronous and insert in big transactions); the server opens its
 * own `SqliteClient` afterwards.
 */
import Database from "better-sqlite3"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { makeDirectorySync, userDataDir } from "../platform/Directories.js"
import { SCHEMA_SQL, SCHEMA_VERSION } from "./Database.js"
import { seedDatabase } from "./seed/index.js"

/** Which data set a new data directory is filled with. */
export type SeedKind = "demo" | "large" | "none"

/**
 * The per-user default data directory, `$XDG_DATA_HOME/synapse-ml/sandbox`
 * (`~/.local/share/synapse-ml/sandbox`), so that the demo data and what a user adds to it are
 * theirs alone and survive reboots.
 */
export const defaultDataDir = (xdgDataHome?: string | undefined): string =>
  Path.join(userDataDir("synapse-ml", { XDG_DATA_HOME: xdgDataHome }), "sandbox")

/** What preparing a data directory found or did. */
export interface PreparedDataDir {
  readonly dataDir: string
  readonly dbPath: string
  readonly mediaDir: string
  readonly uploadsDir: string
  readonly secret: string
  /** Whether this run seeded the database (false: existing data reused). */
  readonly seeded: boolean
  /** The seed kind the directory was created with. */
  readonly seed: string
}

/** A data directory that cannot be used (other schema version, unreadable database, …). */
export class DataDirError extends Error {
  override readonly name = "DataDirError"
}

const getMeta = (db: Database.Database, key: string): string | undefined =>
  (db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined)?.value

const setMeta = (db: Database.Database, key: string, value: string): void => {
  db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(
    key,
    value
  )
}

/**
 * Creates (or reopens) a data directory. A directory whose seeding never completed (the process
 * died half way) is seeded again from scratch rather than served half-filled.
 */
export const prepareDataDir = (options: {
  readonly dataDir: string
  readonly seed: SeedKind
  readonly randSeed: number
  readonly events?: number | undefined
  readonly onProgress?: ((done: number, total: number) => void) | undefined
}): PreparedDataDir => {
  const dataDir = Path.resolve(options.dataDir)
  const mediaDir = Path.join(dataDir, "media")
  const uploadsDir = Path.join(dataDir, "uploads")
  const dbPath = Path.join(dataDir, "sandbox.sqlite")
  makeDirectorySync(mediaDir)
  makeDirectorySync(uploadsDir)

  // Several processes may start on one directory at once (the default one especially): the lock
  // makes one of them seed while the others wait, then find the data ready.
  const releaseLock = acquireLock(Path.join(dataDir, ".prepare.lock"))
  let db = new Database(dbPath)
  try {
    db.exec(SCHEMA_SQL)
    const version = getMeta(db, "schema_version")
    if (version !== undefined && version !== String(SCHEMA_VERSION)) {
      throw new DataDirError(
        `data directory ${dataDir} has schema version ${version}, this sandbox needs ${SCHEMA_VERSION}: use another --data-dir or delete it`
      )
    }
    if (version !== undefined && getMeta(db, "seed_complete") === undefined) {
      // An interrupted seed: start over with a fresh database file.
      db.close()
      for (const suffix of ["", "-wal", "-shm"]) Fs.rmSync(dbPath + suffix, { force: true })
      db = new Database(dbPath)
      db.exec(SCHEMA_SQL)
    }
    let seeded = false
    if (getMeta(db, "schema_version") === undefined) {
      setMeta(db, "schema_version", String(SCHEMA_VERSION))
      setMeta(db, "seed", options.seed)
      setMeta(db, "rand_seed", String(options.randSeed))
      setMeta(db, "signing_secret", randomBytes(32).toString("hex"))
      setMeta(db, "created_at", new Date().toISOString())
      {
        // "none" still runs the seeder: it creates the projects models must reference.
        seedDatabase(db, {
          mediaDir,
          kind: options.seed,
          randSeed: options.randSeed,
          ...(options.events !== undefined ? { events: options.events } : {}),
          ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {})
        })
      }
      setMeta(db, "seed_complete", new Date().toISOString())
      seeded = true
    }
    const secret = getMeta(db, "signing_secret") ?? randomBytes(32).toString("hex")
    if (getMeta(db, "signing_secret") === undefined) setMeta(db, "signing_secret", secret)
    // Fold the WAL back so the server starts from a compact file.
    db.pragma("wal_checkpoint(TRUNCATE)")
    return { dataDir, dbPath, mediaDir, uploadsDir, secret, seeded, seed: getMeta(db, "seed") ?? options.seed }
  } finally {
    db.close()
    releaseLock()
  }
}

const sleepSync = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * An exclusive lock file holding the owner's pid; waits (up to 5 minutes: seeding 100 000 events
 * takes a while) for another owner, and takes over a lock whose owner died.
 */
const acquireLock = (lockPath: string): () => void => {
  const deadline = Date.now() + 5 * 60_000
  for (;;) {
    try {
      Fs.writeFileSync(lockPath, String(process.pid), { flag: "wx" })
      return () => Fs.rmSync(lockPath, { force: true })
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
    }
    let owner = NaN
    try {
      owner = Number(Fs.readFileSync(lockPath, "utf8"))
    } catch {
      continue // released between our attempts
    }
    if (Number.isInteger(owner) && owner > 0 && !processAlive(owner)) {
      Fs.rmSync(lockPath, { force: true })
      continue
    }
    if (Date.now() > deadline) throw new DataDirError(`data directory is locked by process ${owner} (${lockPath})`)
    sleepSync(100)
  }
}
