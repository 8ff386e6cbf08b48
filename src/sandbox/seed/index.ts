/**
 * Seed data for the sandbox: fills a fresh database (on which `SCHEMA_SQL` has run) and its media
 * folder with deterministic demo or large data. Synchronous on purpose: better-sqlite3 is
 * synchronous and seeding runs once, before the server starts serving.
 *
 * Determinism: everything derives from `randSeed` through forked seeded streams and a fixed
 * calendar (2026-01..2026-11); the same seed gives identical rows and identical media bytes.
 *
 * Facts that hold for every `randSeed` (tests elsewhere may rely on them; values such as metrics,
 * boxes, event counts beyond the minimums and dates vary with the seed):
 * - projects 1 "Autonomous Driving", 2 "Smart City Cameras", 3 "Warehouse Robotics" (all kinds);
 * - models 101–122: active 103 (project 1 detection, "Street Object Detector" 2.0.0), 107, 110,
 *   112, 114, 116, 117, 120; no file: 105, 113; a metric missing: 108 (f1_score), 113 (mAP),
 *   121 (dice); shared names: 101–104, 106–107, 109–110, 111–112, 114–115, 119–120, 121–122;
 *   evaluations only for project 1 detectors, on Street scenes versions;
 * - datasets 201 "Street scenes" (project 1, 8 classes), 202 "Intersection cameras" (project 2,
 *   6 classes); versions 301 Street scenes v1.0 (archived, 100 units, one event each), 302 v1.1
 *   (130 units; the only version with broken annotations), 303 v2.0 (160 units, clean),
 *   304 Intersection cameras v1.0 (60 units, one event each), 305 v1.1 (80 units);
 * - data units 1001–1160 (Street scenes) and 1161–1240 (Intersection cameras), image
 *   `images/<id as 6 digits>.png`; events from 9001, ground truths from 20001;
 * - class ids: car 1, person 2, bicycle 3, truck 4, traffic_light 5, dog 6, bus 7, motorcycle 8;
 * - `large` adds dataset 203 "Street scenes (large)" with version 306 (project 1).
 */
import type BetterSqlite3 from "better-sqlite3"
import {
  type DegenerateAnnotation,
  type GroundTruthCounts,
  type IdCounters,
  seedGroundTruthDemo
} from "./GroundTruthDemo.js"
import { LARGE_DATASET_NAME, seedLarge } from "./Large.js"
import { MediaWriter } from "./Media.js"
import { DEMO_PROJECTS, seedModels } from "./Models.js"
import { makeRng } from "./Random.js"

export type { DegenerateAnnotation, DegenerateKind } from "./GroundTruthDemo.js"
export { LARGE_DATASET_NAME } from "./Large.js"
export { DEMO_PROJECTS } from "./Models.js"
export { CLASSES } from "./Scenes.js"

/** Which data to seed: the demo catalogue, the demo plus one large version, or projects only. */
export type SeedKind = "demo" | "large" | "none"

/** Options of {@link seedDatabase}. */
export interface SeedOptions {
  /** The data directory's `media/` folder; `media` paths in the database are relative to it. */
  readonly mediaDir: string
  readonly kind: SeedKind
  /** Same seed, same data (rows and file bytes). */
  readonly randSeed: number
  /** Events in the large version (`kind: "large"` only). Default 100 000. */
  readonly events?: number | undefined
  /** Boxes per large event (`kind: "large"` only). Default 3. */
  readonly annotationsPerEvent?: number | undefined
  /** Progress in events written, called after each batch (a few thousand events). */
  readonly onProgress?: ((done: number, total: number) => void) | undefined
}

/** What was seeded: counts per resource and the ids tests and examples need to find things. */
export interface SeedSummary extends GroundTruthCounts {
  readonly kind: SeedKind
  readonly randSeed: number
  readonly projects: number
  readonly models: number
  readonly modelFiles: number
  readonly evaluations: number
  readonly mediaFiles: number
  readonly mediaBytes: number
  /** Demo version ids by dataset name and version, e.g. `versionIds["Street scenes"]["v2.0"]`. */
  readonly versionIds: Readonly<Record<string, Readonly<Record<string, number>>>>
  /** The demo version with deliberately broken annotations (absent for `none`). */
  readonly degenerate?: { readonly versionId: number; readonly annotations: ReadonlyArray<DegenerateAnnotation> }
  /** Data units whose image entries lack width/height. */
  readonly unitsWithoutSize: ReadonlyArray<number>
  /** The large version (`kind: "large"` only). */
  readonly large?: {
    readonly datasetId: number
    readonly versionId: number
    readonly events: number
    readonly annotations: number
  }
}

/** Default number of events in the large version. */
export const DEFAULT_LARGE_EVENTS = 100_000
/** Default boxes per large event. */
export const DEFAULT_ANNOTATIONS_PER_EVENT = 3

// Id ranges differ per table so that a client confusing, say, an event id with a data unit id gets
// a 404 instead of silently reading the wrong row.
const firstIds = (): IdCounters => ({
  dataset: 201,
  version: 301,
  dataUnit: 1001,
  event: 9001,
  groundTruth: 20001,
  annotation: 1
})

/**
 * Fills a fresh sandbox database and its media folder. Throws (a bug or a full disk) rather than
 * leaving a half-seeded database silently: the demo part is one transaction.
 */
export const seedDatabase = (db: BetterSqlite3.Database, options: SeedOptions): SeedSummary => {
  const root = makeRng(options.randSeed)
  const media = new MediaWriter(options.mediaDir)
  const ids = firstIds()

  const insertProject = db.prepare(`INSERT INTO projects (id, name) VALUES (?, ?)`)
  // Projects exist even in an empty sandbox, so that creating a model has somewhere to go.
  db.transaction(() => {
    for (const p of DEMO_PROJECTS) insertProject.run(p.id, p.name)
  })()

  if (options.kind === "none") {
    return {
      kind: "none",
      randSeed: options.randSeed,
      projects: DEMO_PROJECTS.length,
      models: 0,
      modelFiles: 0,
      evaluations: 0,
      datasets: 0,
      versions: 0,
      dataUnits: 0,
      events: 0,
      annotations: 0,
      groundTruths: 0,
      mediaFiles: 0,
      mediaBytes: 0,
      versionIds: {},
      unitsWithoutSize: []
    }
  }

  const largeEvents = options.kind === "large" ? Math.max(0, Math.floor(options.events ?? DEFAULT_LARGE_EVENTS)) : 0
  const demo = db.transaction(() => {
    const gt = seedGroundTruthDemo(db, media, root.fork("ground-truth"), ids)
    const streetScenes = gt.versionList.filter((v) => v.dataset === "Street scenes")
    const models = seedModels(db, media, root.fork("models"), streetScenes)
    return { gt, models }
  })()
  const total = demo.gt.events + largeEvents
  options.onProgress?.(demo.gt.events, total)

  const large = options.kind === "large"
    ? seedLarge(db, media, root.fork("large"), ids, {
      events: largeEvents,
      annotationsPerEvent: options.annotationsPerEvent ?? DEFAULT_ANNOTATIONS_PER_EVENT,
      onProgress: options.onProgress,
      progressOffset: demo.gt.events,
      progressTotal: total
    })
    : undefined

  const versionIds: Record<string, Readonly<Record<string, number>>> = { ...demo.gt.versionIds }
  if (large !== undefined) versionIds[LARGE_DATASET_NAME] = { "v1.0": large.versionId }

  return {
    kind: options.kind,
    randSeed: options.randSeed,
    projects: DEMO_PROJECTS.length,
    models: demo.models.models,
    modelFiles: demo.models.modelFiles,
    evaluations: demo.models.evaluations,
    datasets: demo.gt.datasets + (large === undefined ? 0 : 1),
    versions: demo.gt.versions + (large === undefined ? 0 : 1),
    dataUnits: demo.gt.dataUnits + (large?.dataUnits ?? 0),
    events: demo.gt.events + (large?.events ?? 0),
    annotations: demo.gt.annotations + (large?.annotations ?? 0),
    groundTruths: demo.gt.groundTruths + (large?.groundTruths ?? 0),
    mediaFiles: media.files,
    mediaBytes: media.bytes,
    versionIds,
    degenerate: demo.gt.degenerate,
    unitsWithoutSize: demo.gt.unitsWithoutSize,
    ...(large === undefined
      ? {}
      : {
        large: {
          datasetId: large.datasetId,
          versionId: large.versionId,
          events: large.events,
          annotations: large.annotations
        }
      })
  }
}
