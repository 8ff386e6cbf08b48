/**
 * Demo ground truth: two datasets of synthetic street images with real PNGs, several versions each
 * (one archived), events made of one or two annotation passes per data unit, `data_meta` files in
 * the native form, ground truths with their version memberships, and per-version statistics.
 * One version deliberately carries a few broken annotations so that exporters' skip reports are
 * exercised; every other version is clean.
 */
import type BetterSqlite3 from "better-sqlite3"
import { BASE_TIME_MS, DAY_MS, HOUR_MS, isoAt, type MediaWriter, type WrittenFile } from "./Media.js"
import { encodePng, fillPolygon, fillRect, gradientRaster, type Rgb } from "./Png.js"
import type { Rng } from "./Random.js"
import {
  classNamed,
  IMAGE_SIZES,
  largestLabel,
  makeScene,
  type ObjectClass,
  type SceneObject,
  toDataMeta,
  toWireAnnotation,
  type WireAnnotation
} from "./Scenes.js"

/** Next free ids per table, shared by the generators so that later ones continue the sequences. */
export interface IdCounters {
  dataset: number
  version: number
  dataUnit: number
  event: number
  groundTruth: number
  annotation: number
}

/** The kinds of broken annotation the degenerate version carries. */
export type DegenerateKind = "zero_size_box" | "box_outside_image" | "two_point_polygon"

/** A deliberately broken annotation: where it is and what is wrong with it. */
export interface DegenerateAnnotation {
  readonly eventId: number
  readonly annotationId: number
  readonly kind: DegenerateKind
}

/** Rows written per ground-truth table; the seed summary reports the same counts. */
export interface GroundTruthCounts {
  readonly datasets: number
  readonly versions: number
  readonly dataUnits: number
  readonly events: number
  readonly annotations: number
  readonly groundTruths: number
}

/** What seeding the demo ground truth produced. */
export interface GroundTruthSeeded extends GroundTruthCounts {
  /** Version ids by dataset name then version string, e.g. `versionIds["Street scenes"]["v2.0"]`. */
  readonly versionIds: Readonly<Record<string, Readonly<Record<string, number>>>>
  /** The version holding the broken annotations, and those annotations. */
  readonly degenerate: { readonly versionId: number; readonly annotations: ReadonlyArray<DegenerateAnnotation> }
  /** Data units whose image entries omit width/height (readers must use the PNG header). */
  readonly unitsWithoutSize: ReadonlyArray<number>
  /** Every version with its dataset and creation time, oldest first per dataset. */
  readonly versionList: ReadonlyArray<{ readonly id: number; readonly dataset: string; readonly createdMs: number }>
}

interface VersionSpec {
  readonly version: string
  readonly description: string
  readonly createdAt: string // YYYY-MM-DD; a seeded hour is added
  /** The version holds the dataset's first `units` data units. */
  readonly units: number
  /** Share of those units annotated in two passes (two events). */
  readonly twoPassRate: number
  readonly archived?: boolean
  readonly degenerate?: boolean
}

interface DatasetSpec {
  readonly name: string
  readonly project: number
  readonly classes: ReadonlyArray<string>
  readonly weights: ReadonlyArray<number>
  readonly units: number
  readonly versions: ReadonlyArray<VersionSpec>
}

const DATASETS: ReadonlyArray<DatasetSpec> = [
  {
    name: "Street scenes",
    project: 1,
    classes: ["car", "person", "bicycle", "truck", "traffic_light", "dog", "bus", "motorcycle"],
    weights: [10, 8, 3, 3, 4, 1.5, 1.5, 2],
    units: 160,
    versions: [
      {
        version: "v1.0",
        description: "First labelled batch (daytime only).",
        createdAt: "2026-02-10",
        units: 100,
        twoPassRate: 0,
        archived: true
      },
      {
        version: "v1.1",
        description: "Adds night images; imported from a legacy tool, not yet cleaned.",
        createdAt: "2026-05-20",
        units: 130,
        twoPassRate: 0.2,
        degenerate: true
      },
      {
        version: "v2.0",
        description: "Full relabel with a review pass; the reference version.",
        createdAt: "2026-09-15",
        units: 160,
        twoPassRate: 0.3
      }
    ]
  },
  {
    name: "Intersection cameras",
    project: 2,
    classes: ["car", "person", "bicycle", "bus", "traffic_light", "motorcycle"],
    weights: [8, 10, 4, 2, 3, 3],
    units: 80,
    versions: [
      {
        version: "v1.0",
        description: "Four intersections, one week of footage.",
        createdAt: "2026-03-30",
        units: 60,
        twoPassRate: 0
      },
      {
        version: "v1.1",
        description: "Adds two intersections; pedestrians double-checked.",
        createdAt: "2026-08-05",
        units: 80,
        twoPassRate: 0.25
      }
    ]
  }
]

const DATASET_ANNOTATORS = ["annotator_1", "annotator_2", "annotator_3", "annotator_4", "annotator_5"]

/** A data unit as generated: its image file, size, split and objects. */
interface Unit {
  readonly id: number
  readonly width: number
  readonly height: number
  readonly image: WrittenFile
  /** Whether the image entries state width/height. */
  readonly sized: boolean
  readonly category: "train" | "validation" | "test"
  readonly objects: ReadonlyArray<SceneObject>
}

/** The image entry of a unit, as `data_unit.files.image` and events' `image_1` carry it. */
const imageEntry = (unit: Unit, extra: Record<string, unknown>): Record<string, unknown> => ({
  name: unit.image.name,
  media: unit.image.media,
  ...extra,
  ...(unit.sized ? { width: unit.width, height: unit.height } : {}),
  size: unit.image.size,
  checksum: unit.image.checksum
})

const dataMetaEntry = (file: WrittenFile): Record<string, unknown> => ({
  name: file.name,
  media: file.media,
  file_type: "data_meta",
  size: file.size,
  checksum: file.checksum
})

/** Draws a unit's objects as filled shapes on a sky-to-road gradient and encodes the PNG. */
const drawImage = (rng: Rng, width: number, height: number, objects: ReadonlyArray<SceneObject>): Buffer => {
  const sky: Rgb = [rng.int(90, 170), rng.int(140, 200), rng.int(200, 250)]
  const road: Rgb = [rng.int(70, 110), rng.int(70, 110), rng.int(70, 110)]
  const raster = gradientRaster(width, height, sky, road)
  // Largest first, so small objects stay visible on top of big ones.
  const ordered = [...objects].sort((a, b) => b.area - a.area)
  for (const object of ordered) {
    if (object.polygon !== undefined) fillPolygon(raster, object.polygon, object.cls.color)
    else fillRect(raster, object.bbox[0], object.bbox[1], object.bbox[2], object.bbox[3], object.cls.color)
  }
  return encodePng(raster)
}

/** A broken annotation of `kind` on a `width` x `height` image. */
const degenerateAnnotation = (
  rng: Rng,
  kind: DegenerateKind,
  cls: ObjectClass,
  id: number,
  width: number,
  height: number
): WireAnnotation => {
  switch (kind) {
    case "zero_size_box": {
      const x = rng.int(0, width - 10)
      const y = rng.int(0, height - 20)
      return { id, category_id: cls.id, category: cls.name, bbox: [x, y, 0, rng.int(5, 20)], area: 0, iscrowd: 0 }
    }
    case "box_outside_image": {
      const w = rng.int(30, 60)
      const h = rng.int(20, 40)
      const x = width - Math.floor(w / 2)
      const y = rng.int(0, height - h)
      return { id, category_id: cls.id, category: cls.name, bbox: [x, y, w, h], area: w * h, iscrowd: 0 }
    }
    case "two_point_polygon": {
      const x1 = rng.int(0, width - 1)
      const y1 = rng.int(0, height - 1)
      const x2 = rng.int(0, width - 1)
      const y2 = rng.int(0, height - 1)
      return {
        id,
        category_id: cls.id,
        category: cls.name,
        bbox: [Math.min(x1, x2), Math.min(y1, y2), Math.abs(x2 - x1), Math.abs(y2 - y1)],
        area: 0,
        iscrowd: 0,
        segmentation: [[x1, y1, x2, y2]]
      }
    }
  }
}

const DEGENERATE_KINDS: ReadonlyArray<DegenerateKind> = ["zero_size_box", "box_outside_image", "two_point_polygon"]

/** Statistics of a version, as `ground_truth_dataset_versions.statistics` holds them. */
export class VersionStatistics {
  private readonly classCounts = new Map<string, number>()
  private readonly categoryCounts = new Map<string, number>()
  private units = 0
  private lastUnit = -1
  annotations = 0
  events = 0

  /** Counts one event. */
  add(category: string, dataUnitId: number, annotations: ReadonlyArray<{ readonly category: string }>): void {
    this.addNames(category, dataUnitId, annotations.map((a) => a.category))
  }

  /** Counts one event given its annotations' class names. */
  addNames(category: string, dataUnitId: number, classNames: ReadonlyArray<string>): void {
    this.events += 1
    // Units arrive in order, so remembering the last one counts distinct units without a set.
    if (dataUnitId !== this.lastUnit) {
      this.units += 1
      this.lastUnit = dataUnitId
    }
    this.categoryCounts.set(category, (this.categoryCounts.get(category) ?? 0) + 1)
    for (const name of classNames) {
      this.annotations += 1
      this.classCounts.set(name, (this.classCounts.get(name) ?? 0) + 1)
    }
  }

  /** The JSON the column stores: class counts (class id order), event categories, totals. */
  toJson(): string {
    const classCounts: Record<string, number> = {}
    const names = [...this.classCounts.keys()].sort((a, b) => classNamed(a).id - classNamed(b).id)
    for (const name of names) classCounts[name] = this.classCounts.get(name)!
    const categoryCounts: Record<string, number> = {}
    for (const name of ["train", "validation", "test"]) {
      const n = this.categoryCounts.get(name)
      if (n !== undefined) categoryCounts[name] = n
    }
    return JSON.stringify({
      class_counts: classCounts,
      category_counts: categoryCounts,
      annotation_count: this.annotations,
      data_unit_count: this.units
    })
  }
}

/** Prepared inserts for the ground-truth tables, shared with the large generator. */
export interface GroundTruthStatements {
  readonly dataset: BetterSqlite3.Statement
  readonly version: BetterSqlite3.Statement
  readonly versionTotals: BetterSqlite3.Statement
  readonly dataUnit: BetterSqlite3.Statement
  readonly event: BetterSqlite3.Statement
  readonly groundTruth: BetterSqlite3.Statement
  readonly member: BetterSqlite3.Statement
}

/** Prepares {@link GroundTruthStatements} on a database. */
export const groundTruthStatements = (db: BetterSqlite3.Database): GroundTruthStatements => ({
  dataset: db.prepare(`INSERT INTO ground_truth_datasets (id, name, project) VALUES (?, ?, ?)`),
  version: db.prepare(
    `INSERT INTO ground_truth_dataset_versions (id, dataset_id, version, name, description, is_active, is_archived, created_at, event_count, statistics)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, '{}')`
  ),
  versionTotals: db.prepare(`UPDATE ground_truth_dataset_versions SET event_count = ?, statistics = ? WHERE id = ?`),
  dataUnit: db.prepare(`INSERT INTO data_units (id, project, files) VALUES (?, ?, ?)`),
  event: db.prepare(
    `INSERT INTO ground_truth_events (id, version_id, data_unit_id, project, category, data_type, created_at, data, files, metadata)
     VALUES (?, ?, ?, ?, ?, 'image', ?, ?, ?, ?)`
  ),
  groundTruth: db.prepare(
    `INSERT INTO ground_truths (id, dataset_id, data_unit_id, category, files, data) VALUES (?, ?, ?, ?, ?, ?)`
  ),
  member: db.prepare(`INSERT INTO ground_truth_version_members (version_id, ground_truth_id) VALUES (?, ?)`)
})

/** A split drawn 70/20/10. */
export const drawCategory = (rng: Rng): "train" | "validation" | "test" =>
  rng.weighted(["train", "validation", "test"] as const, [70, 20, 10])

/** Seeds the demo datasets (call inside a transaction). */
export const seedGroundTruthDemo = (
  db: BetterSqlite3.Database,
  media: MediaWriter,
  rng: Rng,
  ids: IdCounters
): GroundTruthSeeded => {
  const sql = groundTruthStatements(db)
  const versionIds: Record<string, Record<string, number>> = {}
  const versionList: Array<{ id: number; dataset: string; createdMs: number }> = []
  const degenerate: Array<DegenerateAnnotation> = []
  let degenerateVersionId = 0
  const unitsWithoutSize: Array<number> = []
  let versions = 0
  let dataUnits = 0
  let events = 0
  let annotations = 0
  let groundTruths = 0

  for (const spec of DATASETS) {
    const datasetId = ids.dataset++
    const drng = rng.fork(`dataset:${spec.name}`)
    const classes = spec.classes.map(classNamed)
    sql.dataset.run(datasetId, spec.name, spec.project)

    // A handful of units state no width/height; chosen up front so there are always five.
    const unsized = new Set<number>()
    while (unsized.size < Math.min(5, spec.units)) unsized.add(drng.int(0, spec.units - 1))

    const units: Array<Unit> = []
    for (let index = 0; index < spec.units; index++) {
      const id = ids.dataUnit++
      const urng = drng.fork(`unit:${index}`)
      const [width, height] = urng.pick(IMAGE_SIZES)
      const objects = makeScene(urng, classes, spec.weights, width, height)
      const image = media.write(`images/${String(id).padStart(6, "0")}.png`, drawImage(urng, width, height, objects))
      const unit: Unit = { id, width, height, image, sized: !unsized.has(index), category: drawCategory(urng), objects }
      if (!unit.sized) unitsWithoutSize.push(id)
      units.push(unit)
      sql.dataUnit.run(id, spec.project, JSON.stringify({ image: imageEntry(unit, {}) }))
      dataUnits += 1
    }

    // Which versions each unit belongs to, for ground-truth memberships.
    const memberships = new Map<number, Array<number>>()
    versionIds[spec.name] = {}
    for (const vspec of spec.versions) {
      const versionId = ids.version++
      versions += 1
      versionIds[spec.name]![vspec.version] = versionId
      const vrng = drng.fork(`version:${vspec.version}`)
      const versionMs = Date.parse(`${vspec.createdAt}T00:00:00Z`) + vrng.int(9, 17) * HOUR_MS
      versionList.push({ id: versionId, dataset: spec.name, createdMs: versionMs })
      sql.version.run(
        versionId,
        datasetId,
        vspec.version,
        vspec.version,
        vspec.description,
        vspec.archived === true ? 0 : 1,
        vspec.archived === true ? 1 : 0,
        isoAt(versionMs)
      )
      const stats = new VersionStatistics()

      // Broken annotations go on the first event of a few units of the degenerate version.
      const brokenAt = new Map<number, DegenerateKind>()
      if (vspec.degenerate === true) {
        degenerateVersionId = versionId
        let k = 0
        while (brokenAt.size < 6) {
          const index = vrng.int(0, vspec.units - 1)
          if (!brokenAt.has(index)) brokenAt.set(index, DEGENERATE_KINDS[k++ % DEGENERATE_KINDS.length]!)
        }
      }

      for (let index = 0; index < vspec.units; index++) {
        const unit = units[index]!
        const list = memberships.get(unit.id) ?? []
        list.push(versionId)
        memberships.set(unit.id, list)

        const passes = unit.objects.length >= 2 && vrng.chance(vspec.twoPassRate) ? 2 : 1
        for (let pass = 0; pass < passes; pass++) {
          const eventId = ids.event++
          // Two passes split the objects: each pass labelled a disjoint share of them.
          const mine = unit.objects.filter((_, i) => passes === 1 || i % 2 === pass)
          const wire: Array<WireAnnotation> = mine.map((object) => toWireAnnotation(object, ids.annotation++))
          const broken = pass === 0 ? brokenAt.get(index) : undefined
          if (broken !== undefined) {
            const annotationId = ids.annotation++
            wire.push(degenerateAnnotation(vrng, broken, vrng.pick(classes), annotationId, unit.width, unit.height))
            degenerate.push({ eventId, annotationId, kind: broken })
          }
          const label = largestLabel(wire)
          const data = { type: "image", annotations: wire, ...(label === undefined ? {} : { label }) }
          const meta = media.write(`data_meta/events/${eventId}.json`, toDataMeta(wire))
          const files = {
            image_1: imageEntry(unit, { file_type: "image", is_primary: true }),
            data_meta_1: dataMetaEntry(meta)
          }
          const createdMs = Math.max(BASE_TIME_MS, versionMs - vrng.int(1, 30) * DAY_MS - vrng.int(0, 23) * HOUR_MS)
          const metadata = {
            annotator: vrng.pick(DATASET_ANNOTATORS),
            pass: pass + 1,
            review_status: vrng.chance(0.85) ? "approved" : "needs_review",
            source: spec.name
          }
          sql.event.run(
            eventId,
            versionId,
            unit.id,
            spec.project,
            unit.category,
            isoAt(createdMs),
            JSON.stringify(data),
            JSON.stringify(files),
            JSON.stringify(metadata)
          )
          stats.add(unit.category, unit.id, wire)
          events += 1
          annotations += wire.length
        }
      }
      sql.versionTotals.run(stats.events, stats.toJson(), versionId)
    }

    // One ground truth per unit: the clean, complete labelling of its image.
    for (const unit of units) {
      const gtId = ids.groundTruth++
      const wire = unit.objects.map((object) => toWireAnnotation(object, ids.annotation++))
      const label = largestLabel(wire)
      const meta = media.write(`data_meta/ground_truths/${gtId}.json`, toDataMeta(wire))
      const files = {
        image_1: imageEntry(unit, { file_type: "image", is_primary: true }),
        data_meta_1: dataMetaEntry(meta)
      }
      const data = { type: "image", annotations: wire, ...(label === undefined ? {} : { label }) }
      sql.groundTruth.run(gtId, datasetId, unit.id, unit.category, JSON.stringify(files), JSON.stringify(data))
      for (const versionId of memberships.get(unit.id) ?? []) sql.member.run(versionId, gtId)
      groundTruths += 1
    }
  }

  return {
    datasets: DATASETS.length,
    versions,
    dataUnits,
    events,
    annotations,
    groundTruths,
    versionIds,
    degenerate: { versionId: degenerateVersionId, annotations: degenerate },
    unitsWithoutSize,
    versionList
  }
}
