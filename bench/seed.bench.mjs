// Seed generation speed for `large` data: `seedDatabase(kind: "large")` with 100 000 events
// (3 boxes each, the sandbox default, then 10 each, the export benchmark's 1 000 000 annotations),
// against a baseline measured in the same run: the same number of rows written to a fresh
// database with better-sqlite3 in the same batched transactions, but with constant pre-serialised
// JSON copied from the seeded rows, i.e. the cost of SQLite alone without generating anything.
// Last line: seed time / baseline time for 100 000 events x 3 boxes.
// Run after `npm run build`: node bench/seed.bench.mjs [events]
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const { SCHEMA_SQL } = await import(path.join(root, "dist/sandbox/Database.js"))
const { seedDatabase } = await import(path.join(root, "dist/sandbox/seed/index.js"))

const EVENTS = Number(process.argv[2] ?? 100_000)
const work = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-seed-bench-"))

const cpuMs = (since) => {
  const u = process.cpuUsage(since)
  return (u.user + u.system) / 1000
}

const freshDb = (name) => {
  const dir = path.join(work, name)
  fs.mkdirSync(path.join(dir, "media"), { recursive: true })
  const db = new Database(path.join(dir, "sandbox.sqlite"))
  db.exec(SCHEMA_SQL)
  return { db, dir }
}

const seedRun = (perEvent) => {
  const { db, dir } = freshDb(`large-${perEvent}`)
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  const summary = seedDatabase(db, {
    mediaDir: path.join(dir, "media"),
    kind: "large",
    randSeed: 1,
    events: EVENTS,
    annotationsPerEvent: perEvent
  })
  const ms = performance.now() - t0
  const used = cpuMs(cpu)
  const sample = db.prepare("SELECT * FROM ground_truth_events WHERE version_id = ? LIMIT 1").get(
    summary.large.versionId
  )
  const gt = db.prepare("SELECT * FROM ground_truths ORDER BY id DESC LIMIT 1").get()
  const unit = db.prepare("SELECT * FROM data_units ORDER BY id DESC LIMIT 1").get()
  db.close()
  const bytes = fs.statSync(path.join(dir, "sandbox.sqlite")).size +
    (fs.existsSync(path.join(dir, "sandbox.sqlite-wal")) ? fs.statSync(path.join(dir, "sandbox.sqlite-wal")).size : 0)
  console.log(
    `seed large ${EVENTS} events x ${perEvent} boxes: ${(ms / 1000).toFixed(1)} s wall, ${
      (used / 1000).toFixed(1)
    } s CPU, ` +
      `${Math.round(EVENTS / (ms / 1000))} events/s, ${summary.annotations} annotations, database ${
        (bytes / 1e6).toFixed(0)
      } MB, ` +
      `media ${(summary.mediaBytes / 1e6).toFixed(1)} MB in ${summary.mediaFiles} files, rss ${
        (process.memoryUsage().rss / 1e6).toFixed(0)
      } MB`
  )
  return { ms, summary, sample, gt, unit }
}

/** The same rows as the large part of a seed, constant JSON, same batch size: SQLite's floor. */
const baselineRun = ({ sample, gt, unit }) => {
  const { db } = freshDb("baseline")
  const insertUnit = db.prepare("INSERT INTO data_units (id, project, files) VALUES (?, ?, ?)")
  const insertEvent = db.prepare(
    "INSERT INTO ground_truth_events (id, version_id, data_unit_id, project, category, data_type, created_at, data, files, metadata) VALUES (?, ?, ?, ?, ?, 'image', ?, ?, ?, ?)"
  )
  const insertGt = db.prepare(
    "INSERT INTO ground_truths (id, dataset_id, data_unit_id, category, files, data) VALUES (?, ?, ?, ?, ?, ?)"
  )
  const insertMember = db.prepare(
    "INSERT INTO ground_truth_version_members (version_id, ground_truth_id) VALUES (?, ?)"
  )
  db.prepare("INSERT INTO projects (id, name) VALUES (1, 'p')").run()
  db.prepare("INSERT INTO ground_truth_datasets (id, name, project) VALUES (1, 'd', 1)").run()
  db.prepare(
    "INSERT INTO ground_truth_dataset_versions (id, dataset_id, version, created_at) VALUES (1, 1, 'v', '2026-01-01T00:00:00Z')"
  ).run()
  const units = Math.ceil(EVENTS / 2)
  const batch = db.transaction((from, to) => {
    for (let u = from; u < to; u++) {
      insertUnit.run(u + 1, 1, unit.files)
      for (let pass = 0; pass < Math.min(2, EVENTS - 2 * u); pass++) {
        insertEvent.run(
          2 * u + pass + 1,
          1,
          u + 1,
          1,
          sample.category,
          sample.created_at,
          sample.data,
          sample.files,
          sample.metadata
        )
      }
      insertGt.run(u + 1, 1, u + 1, gt.category, gt.files, gt.data)
      insertMember.run(1, u + 1)
    }
  })
  const t0 = performance.now()
  for (let from = 0; from < units; from += 2000) batch(from, Math.min(units, from + 2000))
  const ms = performance.now() - t0
  db.close()
  console.log(`baseline: same rows, constant JSON: ${(ms / 1000).toFixed(1)} s wall`)
  return ms
}

try {
  const three = seedRun(3)
  const baseline = baselineRun(three)
  seedRun(10)
  console.log(`seed / baseline (100k x 3): ${(three.ms / baseline).toFixed(2)}`)
} finally {
  fs.rmSync(work, { recursive: true, force: true })
}
