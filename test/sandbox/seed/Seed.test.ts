/**
 * Seed data as the sandbox server gets it: real SQLite databases (the sandbox DDL) and real media
 * folders in temporary directories, checked for determinism and for the invariants the SDK's
 * workflows and tests rely on (boxes inside images, PNG headers, checksums, statistics, data_meta).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Schema } from "effect"
import { createHash } from "node:crypto"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import { SCHEMA_SQL } from "../../../src/sandbox/Database.js"
import { CLASSES, seedDatabase, type SeedOptions, type SeedSummary } from "../../../src/sandbox/seed/index.js"
import { readPngSize } from "../../../src/sandbox/seed/Png.js"
import { DataMeta } from "../../../src/schemas/index.js"

const root = mkdtempSync(join(tmpdir(), "synapse-seed-test-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

interface Seeded {
  readonly db: Database.Database
  readonly mediaDir: string
  readonly summary: SeedSummary
}

const seed = (name: string, options: Omit<SeedOptions, "mediaDir">): Seeded => {
  const dir = join(root, name)
  const mediaDir = join(dir, "media")
  mkdirSync(mediaDir, { recursive: true })
  const db = new Database(join(dir, "sandbox.db"))
  db.exec(SCHEMA_SQL)
  const summary = seedDatabase(db, { ...options, mediaDir })
  return { db, mediaDir, summary }
}

/** Every table's rows, in primary-key order (SQLite's own bookkeeping tables left out). */
const dumpTables = (db: Database.Database): Record<string, unknown> => {
  const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as Array<
    { name: string }
  >).filter(({ name }) => !name.startsWith("sqlite_"))
  const order = (name: string) =>
    (db.prepare(`SELECT count(*) AS n FROM pragma_table_info(?)`).get(name) as { n: number }).n > 1
      ? "ORDER BY 1, 2"
      : "ORDER BY 1"
  return Object.fromEntries(
    tables.map(({ name }) => [name, db.prepare(`SELECT * FROM "${name}" ${order(name)}`).all()])
  )
}

/** Every media file's md5, by relative path. */
const dumpMedia = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {}
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name)
      if (entry.isDirectory()) walk(path)
      else out[relative(dir, path)] = createHash("md5").update(readFileSync(path)).digest("hex")
    }
  }
  walk(dir)
  return out
}

const md5 = (bytes: Buffer): string => createHash("md5").update(bytes).digest("hex")

interface FileEntryRow {
  name?: string
  media: string
  file_type?: string
  is_primary?: boolean
  width?: number
  height?: number
  size?: number
  checksum?: string
}
interface AnnotationRow {
  id: number
  category_id: number
  category: string
  bbox: [number, number, number, number]
  area: number
  iscrowd: number
  segmentation?: Array<Array<number>>
}
interface EventRow {
  id: number
  version_id: number
  data_unit_id: number
  project: number
  category: string
  data_type: string
  created_at: string
  data: { type: string; annotations: Array<AnnotationRow>; label?: string }
  files: Record<string, FileEntryRow>
  metadata: Record<string, unknown>
}

const events = (db: Database.Database, where = "1 = 1"): Array<EventRow> =>
  (db.prepare(`SELECT * FROM ground_truth_events WHERE ${where} ORDER BY id`).all() as Array<Record<string, unknown>>)
    .map((row) => ({
      ...(row as unknown as EventRow),
      data: JSON.parse(row.data as string),
      files: JSON.parse(row.files as string),
      metadata: JSON.parse(row.metadata as string)
    }))

const ISO = /^2026-(0[1-9]|1[01])-\d\dT\d\d:\d\d:\d\dZ$/

describe("seedDatabase", () => {
  let a: Seeded
  let again: Seeded
  let other: Seeded
  beforeAll(() => {
    a = seed("demo-a", { kind: "demo", randSeed: 7 })
    again = seed("demo-a-again", { kind: "demo", randSeed: 7 })
    other = seed("demo-b", { kind: "demo", randSeed: 8 })
  })
  afterAll(() => {
    for (const s of [a, again, other]) s.db.close()
  })

  describe("determinism", () => {
    it("gives identical rows and media bytes for the same randSeed", () => {
      expect(dumpTables(again.db)).toStrictEqual(dumpTables(a.db))
      expect(dumpMedia(again.mediaDir)).toStrictEqual(dumpMedia(a.mediaDir))
      expect(again.summary).toStrictEqual(a.summary)
    })

    it("gives different data for another randSeed", () => {
      const mine = dumpTables(a.db)
      const theirs = dumpTables(other.db)
      expect(theirs.models).not.toStrictEqual(mine.models)
      expect(theirs.ground_truth_events).not.toStrictEqual(mine.ground_truth_events)
      const mediaA = dumpMedia(a.mediaDir)
      const mediaB = dumpMedia(other.mediaDir)
      expect(mediaB["images/001001.png"]).toBeDefined()
      expect(mediaB["images/001001.png"]).not.toBe(mediaA["images/001001.png"])
    })
  })

  it("keeps the documented fixed facts whatever the randSeed", () => {
    for (const s of [a, other]) {
      const ids = (sql: string) => (s.db.prepare(sql).all() as Array<{ id: number }>).map((r) => r.id)
      expect(ids(`SELECT id FROM projects ORDER BY id`)).toStrictEqual([1, 2, 3])
      expect(ids(`SELECT id FROM models ORDER BY id`)).toStrictEqual(Array.from({ length: 22 }, (_, i) => 101 + i))
      expect(ids(`SELECT id FROM models WHERE is_active = 1 ORDER BY id`)).toStrictEqual([
        103,
        107,
        110,
        112,
        114,
        116,
        117,
        120
      ])
      expect(ids(`SELECT id FROM models WHERE file_media IS NULL ORDER BY id`)).toStrictEqual([105, 113])
      expect(s.db.prepare(`SELECT name, version, model_type, project FROM models WHERE id = 103`).get()).toStrictEqual({
        name: "Street Object Detector",
        version: "2.0.0",
        model_type: "detection",
        project: 1
      })
      expect(s.db.prepare(`SELECT id, name, project FROM ground_truth_datasets ORDER BY id`).all()).toStrictEqual([
        { id: 201, name: "Street scenes", project: 1 },
        { id: 202, name: "Intersection cameras", project: 2 }
      ])
      expect(
        s.db.prepare(`SELECT id, dataset_id, version, is_archived FROM ground_truth_dataset_versions ORDER BY id`).all()
      ).toStrictEqual([
        { id: 301, dataset_id: 201, version: "v1.0", is_archived: 1 },
        { id: 302, dataset_id: 201, version: "v1.1", is_archived: 0 },
        { id: 303, dataset_id: 201, version: "v2.0", is_archived: 0 },
        { id: 304, dataset_id: 202, version: "v1.0", is_archived: 0 },
        { id: 305, dataset_id: 202, version: "v1.1", is_archived: 0 }
      ])
      expect(s.summary.degenerate?.versionId).toBe(302)
      expect(s.summary.versionIds).toStrictEqual({
        "Street scenes": { "v1.0": 301, "v1.1": 302, "v2.0": 303 },
        "Intersection cameras": { "v1.0": 304, "v1.1": 305 }
      })
      const units = s.db.prepare(
        `SELECT version_id, count(DISTINCT data_unit_id) AS units, count(*) AS events, min(data_unit_id) AS lo, max(data_unit_id) AS hi FROM ground_truth_events GROUP BY version_id ORDER BY version_id`
      ).all()
      expect(units).toMatchObject([
        { version_id: 301, units: 100, events: 100, lo: 1001, hi: 1100 },
        { version_id: 302, units: 130, lo: 1001, hi: 1130 },
        { version_id: 303, units: 160, lo: 1001, hi: 1160 },
        { version_id: 304, units: 60, events: 60, lo: 1161, hi: 1220 },
        { version_id: 305, units: 80, lo: 1161, hi: 1240 }
      ])
      expect(ids(`SELECT min(id) AS id FROM ground_truth_events`)).toStrictEqual([9001])
      expect(ids(`SELECT min(id) AS id FROM ground_truths`)).toStrictEqual([20001])
    }
  })

  describe("demo models", () => {
    interface ModelRow {
      id: number
      name: string
      model_type: string
      project: number
      file_media: string | null
      file_name: string | null
      file_size: number | null
      file_checksum: string | null
      metrics: string
      configuration: string
      is_active: number
      created_at: string
      version: string | null
    }
    const models = (): Array<ModelRow> => a.db.prepare(`SELECT * FROM models ORDER BY id`).all() as Array<ModelRow>

    it("has at least 20 models of every type in three projects, with the metric families of their type", () => {
      const rows = models()
      expect(rows.length).toBeGreaterThanOrEqual(20)
      expect(a.summary.models).toBe(rows.length)
      expect(new Set(rows.map((m) => m.model_type))).toStrictEqual(
        new Set(["classification", "detection", "segmentation"])
      )
      expect(new Set(rows.map((m) => m.project))).toStrictEqual(new Set([1, 2, 3]))
      const family: Record<string, Array<string>> = {
        classification: ["accuracy", "precision", "recall", "f1_score"],
        detection: ["mAP", "mAP50", "precision", "recall"],
        segmentation: ["mIoU", "dice"]
      }
      let missing = 0
      let withLoss = 0
      for (const m of rows) {
        const metrics = JSON.parse(m.metrics) as Record<string, number>
        const keys = Object.keys(metrics).filter((k) => k !== "loss")
        for (const k of keys) expect(family[m.model_type]).toContain(k)
        if (keys.length < family[m.model_type]!.length) missing++
        if ("loss" in metrics) withLoss++
        for (const [k, v] of Object.entries(metrics)) {
          expect(Number.isFinite(v)).toBe(true)
          if (k !== "loss") expect(v > 0 && v < 1).toBe(true)
        }
        const configuration = JSON.parse(m.configuration) as Record<string, unknown>
        expect(typeof configuration.framework).toBe("string")
        expect(Array.isArray(configuration.input_size)).toBe(true)
        expect(typeof configuration.num_classes).toBe("number")
        expect(m.created_at).toMatch(ISO)
        expect(m.version).toMatch(/^\d+\.\d+\.\d+/)
      }
      expect(missing).toBeGreaterThanOrEqual(2)
      expect(withLoss).toBeGreaterThanOrEqual(3)
      // Spread over the year: at least six distinct months.
      expect(new Set(rows.map((m) => m.created_at.slice(0, 7))).size).toBeGreaterThanOrEqual(6)
    })

    it("has at most one active model per project and type, an active detector, inactive ones and shared names", () => {
      const rows = models()
      const active = rows.filter((m) => m.is_active === 1)
      const keys = active.map((m) => `${m.project}/${m.model_type}`)
      expect(new Set(keys).size).toBe(keys.length)
      expect(active.some((m) => m.model_type === "detection")).toBe(true)
      expect(rows.filter((m) => m.is_active === 0).length).toBeGreaterThanOrEqual(5)
      const names = new Map<string, Array<ModelRow>>()
      for (const m of rows) names.set(`${m.project}/${m.name}`, [...(names.get(`${m.project}/${m.name}`) ?? []), m])
      const shared = [...names.values()].filter((group) => group.length > 1)
      expect(shared.length).toBeGreaterThanOrEqual(3)
      // Within a name, newer versions were registered later.
      for (const group of shared) {
        const byDate = [...group].sort((x, y) => x.created_at.localeCompare(y.created_at))
        expect(byDate.map((m) => m.id)).toStrictEqual(group.map((m) => m.id))
      }
    })

    it("writes model files whose size and md5 match the rows, and leaves a few models without one", () => {
      const rows = models()
      const withFile = rows.filter((m) => m.file_media !== null)
      expect(rows.length - withFile.length).toBeGreaterThanOrEqual(2)
      expect(a.summary.modelFiles).toBe(withFile.length)
      for (const m of withFile) {
        expect(m.file_media).toBe(`models/${m.id}/${m.file_name}`)
        const bytes = readFileSync(join(a.mediaDir, m.file_media!))
        expect(bytes.length).toBe(m.file_size)
        expect(md5(bytes)).toBe(m.file_checksum)
      }
    })

    it("has evaluations of existing models on versions that existed before them", () => {
      const rows = a.db
        .prepare(
          `SELECT e.*, m.created_at AS model_created, v.created_at AS version_created
           FROM model_evaluations e JOIN models m ON m.id = e.model_id
           JOIN ground_truth_dataset_versions v ON v.id = e.ground_truth_dataset_version`
        )
        .all() as Array<{ metrics: string; created_at: string; model_created: string; version_created: string }>
      expect(rows.length).toBeGreaterThanOrEqual(3)
      expect(a.summary.evaluations).toBe(rows.length)
      for (const e of rows) {
        expect(e.version_created < e.created_at).toBe(true)
        expect(e.model_created < e.created_at).toBe(true)
        expect(Object.keys(JSON.parse(e.metrics))).toContain("mAP50")
      }
    })
  })

  describe("demo ground truth", () => {
    it("has two datasets with 2–3 versions, one archived, counts and statistics matching the events", () => {
      const datasets = a.db.prepare(`SELECT * FROM ground_truth_datasets`).all() as Array<
        { id: number; project: number }
      >
      expect(datasets.length).toBe(2)
      expect(new Set(datasets.map((d) => d.project)).size).toBe(2)
      const versions = a.db.prepare(`SELECT * FROM ground_truth_dataset_versions ORDER BY id`).all() as Array<{
        id: number
        dataset_id: number
        is_archived: number
        event_count: number
        statistics: string
        created_at: string
      }>
      for (const d of datasets) {
        const n = versions.filter((v) => v.dataset_id === d.id).length
        expect(n >= 2 && n <= 3).toBe(true)
      }
      expect(versions.filter((v) => v.is_archived === 1).length).toBe(1)
      for (const v of versions) {
        expect(v.created_at).toMatch(ISO)
        const rows = events(a.db, `version_id = ${v.id}`)
        expect(v.event_count).toBe(rows.length)
        const classCounts: Record<string, number> = {}
        const categoryCounts: Record<string, number> = {}
        for (const e of rows) {
          categoryCounts[e.category] = (categoryCounts[e.category] ?? 0) + 1
          for (const an of e.data.annotations) classCounts[an.category] = (classCounts[an.category] ?? 0) + 1
        }
        const statistics = JSON.parse(v.statistics) as {
          class_counts: Record<string, number>
          category_counts: Record<string, number>
          data_unit_count: number
        }
        expect(statistics.class_counts).toStrictEqual(classCounts)
        expect(statistics.category_counts).toStrictEqual(categoryCounts)
        expect(statistics.data_unit_count).toBe(new Set(rows.map((e) => e.data_unit_id)).size)
      }
    })

    it("has ≥ 500 events over ≥ 200 data units in ≥ 6 classes and all three splits, some units annotated twice", () => {
      const all = events(a.db)
      expect(all.length).toBeGreaterThanOrEqual(500)
      expect(a.summary.events).toBe(all.length)
      expect(a.summary.dataUnits).toBeGreaterThanOrEqual(200)
      expect((a.db.prepare(`SELECT count(*) AS n FROM data_units`).get() as { n: number }).n).toBe(a.summary.dataUnits)
      expect(new Set(all.map((e) => e.category))).toStrictEqual(new Set(["train", "validation", "test"]))
      const classes = new Set(all.flatMap((e) => e.data.annotations.map((an) => an.category)))
      expect(classes.size).toBeGreaterThanOrEqual(6)
      const perVersionUnit = new Map<string, number>()
      for (const e of all) {
        perVersionUnit.set(
          `${e.version_id}/${e.data_unit_id}`,
          (perVersionUnit.get(`${e.version_id}/${e.data_unit_id}`) ?? 0) + 1
        )
      }
      expect([...perVersionUnit.values()].filter((n) => n >= 2).length).toBeGreaterThanOrEqual(20)
      const annotations = all.flatMap((e) => e.data.annotations)
      const polygons = annotations.filter((an) => an.segmentation !== undefined).length
      expect(polygons / annotations.length).toBeGreaterThan(0.05)
      expect(polygons / annotations.length).toBeLessThan(0.2)
      expect(annotations.some((an) => an.iscrowd === 1)).toBe(true)
      expect(new Set(annotations.map((an) => an.id)).size).toBe(annotations.length)
      for (const e of all) {
        expect(e.data_type).toBe("image")
        expect(e.data.type).toBe("image")
        expect(e.created_at).toMatch(ISO)
        expect(e.data.annotations.length).toBeGreaterThan(0)
        // The label is the class of the largest annotation.
        const largest = [...e.data.annotations].sort((x, y) => y.area - x.area)[0]!
        expect(e.data.label).toBe(largest.category)
      }
    })

    it("keeps every annotation well-formed and inside its image, except the deliberate broken ones", () => {
      const degenerate = a.summary.degenerate!
      expect(degenerate.annotations.length).toBeGreaterThanOrEqual(3)
      expect(new Set(degenerate.annotations.map((d) => d.kind))).toStrictEqual(
        new Set(["zero_size_box", "box_outside_image", "two_point_polygon"])
      )
      const broken = new Set(degenerate.annotations.map((d) => d.annotationId))
      const units = new Map(
        (a.db.prepare(`SELECT id, files FROM data_units`).all() as Array<{ id: number; files: string }>).map((
          u
        ) => [u.id, JSON.parse(u.files).image as FileEntryRow])
      )
      const found: Array<number> = []
      for (const e of events(a.db)) {
        const size = readPngSize(readFileSync(join(a.mediaDir, units.get(e.data_unit_id)!.media)))!
        for (const an of e.data.annotations) {
          const byClass = CLASSES.find((c) => c.name === an.category)!
          expect(an.category_id).toBe(byClass.id)
          const [x, y, w, h] = an.bbox
          const points = an.segmentation?.[0]
          const ok = x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= size.width && y + h <= size.height &&
            (points === undefined ||
              (points.length >= 6 &&
                points.every((v, i) => (i % 2 === 0 ? v >= x && v <= x + w : v >= y && v <= y + h))))
          if (!ok) {
            found.push(an.id)
            expect(e.version_id).toBe(degenerate.versionId)
          } else {
            expect(an.area).toBeGreaterThan(0)
            if (points === undefined) expect(an.area).toBe(w * h)
          }
        }
      }
      expect(found.sort((x, y) => x - y)).toStrictEqual([...broken].sort((x, y) => x - y))
    })

    it("writes real PNGs whose header, size and md5 match the entries; a few entries omit width/height", () => {
      const units = a.db.prepare(`SELECT id, files FROM data_units`).all() as Array<{ id: number; files: string }>
      const widths = new Set<number>()
      const unsized: Array<number> = []
      for (const u of units) {
        const image = JSON.parse(u.files).image as FileEntryRow
        const bytes = readFileSync(join(a.mediaDir, image.media))
        const size = readPngSize(bytes)!
        expect(bytes.length).toBe(image.size)
        expect(md5(bytes)).toBe(image.checksum)
        expect(image.name).toBe(image.media.split("/").pop())
        if (image.width === undefined) {
          expect(image.height).toBeUndefined()
          unsized.push(u.id)
        } else {
          expect({ width: image.width, height: image.height }).toStrictEqual(size)
        }
        widths.add(size.width)
        expect(size.width >= 160 && size.width <= 640).toBe(true)
      }
      expect(widths.size).toBeGreaterThanOrEqual(5)
      expect(unsized.length).toBeGreaterThanOrEqual(3)
      expect(unsized.length).toBeLessThanOrEqual(12)
      expect(unsized.sort((x, y) => x - y)).toStrictEqual([...a.summary.unitsWithoutSize].sort((x, y) => x - y))
    })

    it("gives events image_1 (the unit's image) and data_meta_1 files that decode with DataMeta and match the annotations", () => {
      const decode = Schema.decodeUnknownSync(DataMeta)
      const units = new Map(
        (a.db.prepare(`SELECT id, files FROM data_units`).all() as Array<{ id: number; files: string }>).map((
          u
        ) => [u.id, JSON.parse(u.files).image as FileEntryRow])
      )
      for (const e of events(a.db)) {
        expect(Object.keys(e.files).sort()).toStrictEqual(["data_meta_1", "image_1"])
        const image = e.files.image_1!
        const unitImage = units.get(e.data_unit_id)!
        expect(image).toStrictEqual({ ...unitImage, file_type: "image", is_primary: true })
        const meta = e.files.data_meta_1!
        expect(meta.file_type).toBe("data_meta")
        const bytes = readFileSync(join(a.mediaDir, meta.media))
        expect(bytes.length).toBe(meta.size)
        expect(md5(bytes)).toBe(meta.checksum)
        const native = decode(JSON.parse(bytes.toString("utf8")))
        const identities = native.annotations.image_1!
        const geometry = native.annotationsData.image_1!
        expect(identities.length).toBe(e.data.annotations.length)
        e.data.annotations.forEach((an, i) => {
          expect(identities[i]).toStrictEqual({
            id: `a${an.id}`,
            tool: an.segmentation === undefined ? "bounding_box" : "polygon",
            classification: { class: an.category }
          })
          const coordinate = geometry[i]!.coordinate
          if (an.segmentation === undefined) {
            expect(coordinate).toStrictEqual({ x: an.bbox[0], y: an.bbox[1], width: an.bbox[2], height: an.bbox[3] })
          } else {
            expect((coordinate as ReadonlyArray<{ x: number; y: number }>).flatMap((p) => [p.x, p.y])).toStrictEqual(
              an.segmentation[0]
            )
          }
        })
      }
    })

    it("has one ground truth per data unit and dataset, members of exactly the versions holding the unit", () => {
      const gts = a.db.prepare(`SELECT * FROM ground_truths ORDER BY id`).all() as Array<
        { id: number; dataset_id: number; data_unit_id: number; category: string; files: string; data: string }
      >
      expect(gts.length).toBe(a.summary.dataUnits)
      expect(new Set(gts.map((g) => `${g.dataset_id}/${g.data_unit_id}`)).size).toBe(gts.length)
      const decode = Schema.decodeUnknownSync(DataMeta)
      for (const g of gts.slice(0, 40)) {
        const files = JSON.parse(g.files) as Record<string, FileEntryRow>
        expect(Object.keys(files).sort()).toStrictEqual(["data_meta_1", "image_1"])
        decode(JSON.parse(readFileSync(join(a.mediaDir, files.data_meta_1!.media), "utf8")))
        expect((JSON.parse(g.data) as { annotations: Array<unknown> }).annotations.length).toBeGreaterThan(0)
      }
      const members = a.db.prepare(`SELECT version_id, ground_truth_id FROM ground_truth_version_members`)
        .all() as Array<{ version_id: number; ground_truth_id: number }>
      const gtUnit = new Map(gts.map((g) => [g.id, g.data_unit_id]))
      const fromMembers = new Set(members.map((m) => `${m.version_id}/${gtUnit.get(m.ground_truth_id)}`))
      const fromEvents = new Set(events(a.db).map((e) => `${e.version_id}/${e.data_unit_id}`))
      expect(fromMembers).toStrictEqual(fromEvents)
    })
  })
})

describe("seedDatabase kinds", () => {
  it("none: only the projects, so the sandbox starts empty but usable", () => {
    const s = seed("none", { kind: "none", randSeed: 1 })
    try {
      expect(s.summary.projects).toBe(3)
      const counts = dumpTables(s.db) as Record<string, Array<unknown>>
      for (const [table, rows] of Object.entries(counts)) {
        expect(rows.length, table).toBe(table === "projects" ? 3 : 0)
      }
      expect(readdirSync(s.mediaDir)).toStrictEqual([])
    } finally {
      s.db.close()
    }
  })

  it("large: one version holding N events with the requested annotations each, in batches, plus the demo", () => {
    const progress: Array<[number, number]> = []
    const s = seed("large", {
      kind: "large",
      randSeed: 3,
      events: 2001,
      annotationsPerEvent: 4,
      onProgress: (done, total) => progress.push([done, total])
    })
    try {
      const large = s.summary.large!
      expect(large.events).toBe(2001)
      expect(large.annotations).toBe(2001 * 4)
      const version = s.db.prepare(`SELECT * FROM ground_truth_dataset_versions WHERE id = ?`).get(large.versionId) as {
        event_count: number
        statistics: string
      }
      expect(version.event_count).toBe(2001)
      const rows = events(s.db, `version_id = ${large.versionId}`)
      expect(rows.length).toBe(2001)
      expect(new Set(rows.map((e) => e.data_unit_id)).size).toBe(1001)
      const classCounts: Record<string, number> = {}
      for (const e of rows) {
        expect(e.data.annotations.length).toBe(4)
        expect(Object.keys(e.files)).toStrictEqual(["image_1"])
        const image = e.files.image_1!
        // Units share pool bytes but each names its image after itself.
        expect(image.name).toBe(`${String(e.data_unit_id).padStart(6, "0")}.png`)
        expect(image.media).toMatch(/^images\/pool\/pool_\d\d\.png$/)
        const bytes = readFileSync(join(s.mediaDir, image.media))
        expect(md5(bytes)).toBe(image.checksum)
        const size = readPngSize(bytes)!
        expect({ width: image.width, height: image.height }).toStrictEqual(size)
        for (const an of e.data.annotations) {
          const [x, y, w, h] = an.bbox
          expect(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= size.width && y + h <= size.height).toBe(true)
          classCounts[an.category] = (classCounts[an.category] ?? 0) + 1
        }
        expect(e.data.label).toBe([...e.data.annotations].sort((p, q) => q.area - p.area)[0]!.category)
      }
      expect(JSON.parse(version.statistics).class_counts).toStrictEqual(classCounts)
      const unitFiles = s.db.prepare(`SELECT files FROM data_units WHERE id = ?`)
      for (const e of rows.slice(0, 50)) {
        const { file_type, is_primary, ...rest } = e.files.image_1!
        expect([file_type, is_primary]).toStrictEqual(["image", true])
        expect(JSON.parse((unitFiles.get(e.data_unit_id) as { files: string }).files)).toStrictEqual({ image: rest })
      }
      // Each ground truth holds both passes of its unit, and belongs to the large version.
      const gts = s.db
        .prepare(
          `SELECT g.data_unit_id, g.data FROM ground_truths g JOIN ground_truth_version_members m ON m.ground_truth_id = g.id WHERE m.version_id = ?`
        )
        .all(large.versionId) as Array<{ data_unit_id: number; data: string }>
      expect(gts.length).toBe(1001)
      const byUnit = new Map<number, Array<number>>()
      for (const e of rows) {
        byUnit.set(e.data_unit_id, [
          ...(byUnit.get(e.data_unit_id) ?? []),
          ...e.data.annotations.map((an) => an.id)
        ])
      }
      for (const g of gts) {
        expect((JSON.parse(g.data) as { annotations: Array<{ id: number }> }).annotations.map((an) => an.id))
          .toStrictEqual(byUnit.get(g.data_unit_id))
      }
      // The pool keeps disk use small: 32 images, not one per unit.
      expect(readdirSync(join(s.mediaDir, "images", "pool")).length).toBe(32)
      // Progress is monotonic and ends at the total.
      const total = s.summary.events
      expect(progress.length).toBeGreaterThanOrEqual(2)
      expect(progress.every(([, t]) => t === total)).toBe(true)
      expect(progress.map(([d]) => d)).toStrictEqual([...progress.map(([d]) => d)].sort((x, y) => x - y))
      expect(progress[progress.length - 1]![0]).toBe(total)
    } finally {
      s.db.close()
    }
  })
})
