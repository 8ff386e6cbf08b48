/**
 * The large dataset: one dataset version holding N events (100 000 by default) for benchmarks and
 * scale tests, generated in well under a minute with flat memory. It keeps the demo's shape with
 * three economies, all on purpose:
 * - images come from a pool of 32 PNGs that data units share (disk stays small), so the drawn
 *   shapes do not match the annotations (boxes are still inside the image's bounds); each unit's
 *   entry still has its own `name` (`001241.png`) with the pool file's `media`, size and md5;
 * - each data unit gets two events (two annotation passes, `annotationsPerEvent` objects each) and
 *   one ground truth holding both passes;
 * - no `data_meta` files: creating one file per event or per data unit costs more than all the
 *   database work together on this machine's file system, so large events and ground truths carry
 *   `image_1` only (annotations are in `data.annotations`). The demo data has them.
 * Rows are written in transactions of a few thousand, so memory does not grow with N.
 */
import type BetterSqlite3 from "better-sqlite3"
import { drawCategory, groundTruthStatements, type IdCounters, VersionStatistics } from "./GroundTruthDemo.js"
import { BASE_TIME_MS, DAY_MS, HOUR_MS, isoAt, type MediaWriter } from "./Media.js"
import { encodePng, fillPolygon, fillRect, gradientRaster } from "./Png.js"
import type { Rng } from "./Random.js"
import { annotationJson, CLASSES, IMAGE_SIZES, makeObject, makeScene, toWireAnnotation } from "./Scenes.js"

/** Options of the large generator. */
export interface LargeOptions {
  readonly events: number
  readonly annotationsPerEvent: number
  /** Called after each batch with events written so far (including `progressOffset`). */
  readonly onProgress?: ((done: number, total: number) => void) | undefined
  readonly progressOffset: number
  readonly progressTotal: number
}

/** What the large generator produced. */
export interface LargeSeeded {
  readonly datasetId: number
  readonly versionId: number
  readonly dataUnits: number
  readonly events: number
  readonly annotations: number
  readonly groundTruths: number
}

/** The name of the large dataset. */
export const LARGE_DATASET_NAME = "Street scenes (large)"

const POOL_SIZE = 32
/** Data units per transaction (two events each). */
const UNITS_PER_BATCH = 2000

const CLASS_WEIGHTS = [10, 8, 3, 3, 4, 1.5, 1.5, 2]

interface PoolImage {
  readonly width: number
  readonly height: number
  /** The image entry's JSON after its `name` (`"media":…,"width":…,…}`), built once. */
  readonly unitEntryTail: string
  /** The same for `image_1` entries (adds `file_type` and `is_primary`). */
  readonly eventEntryTail: string
}

/** `{"name":"<name>",` + tail: entries are built by concatenation, not per-row stringify. */
const withName = (name: string, tail: string): string => `{"name":"${name}",${tail}`

const makePool = (media: MediaWriter, rng: Rng): Array<PoolImage> => {
  const pool: Array<PoolImage> = []
  for (let p = 0; p < POOL_SIZE; p++) {
    const [width, height] = IMAGE_SIZES[p % IMAGE_SIZES.length]!
    const objects = makeScene(rng, CLASSES, CLASS_WEIGHTS, width, height)
    const raster = gradientRaster(width, height, [rng.int(90, 170), rng.int(140, 200), rng.int(200, 250)], [90, 90, 95])
    for (const o of objects) {
      if (o.polygon !== undefined) fillPolygon(raster, o.polygon, o.cls.color)
      else fillRect(raster, o.bbox[0], o.bbox[1], o.bbox[2], o.bbox[3], o.cls.color)
    }
    const file = media.write(`images/pool/pool_${String(p).padStart(2, "0")}.png`, encodePng(raster))
    const unitEntry = JSON.stringify({ media: file.media, width, height, size: file.size, checksum: file.checksum })
    const eventEntry = JSON.stringify({
      media: file.media,
      file_type: "image",
      is_primary: true,
      width,
      height,
      size: file.size,
      checksum: file.checksum
    })
    pool.push({ width, height, unitEntryTail: unitEntry.slice(1), eventEntryTail: eventEntry.slice(1) })
  }
  return pool
}

/** Seeds the large dataset in batches (must not be called inside a transaction). */
export const seedLarge = (
  db: BetterSqlite3.Database,
  media: MediaWriter,
  rng: Rng,
  ids: IdCounters,
  options: LargeOptions
): LargeSeeded => {
  const sql = groundTruthStatements(db)
  const total = Math.max(0, Math.floor(options.events))
  const perEvent = Math.max(0, Math.floor(options.annotationsPerEvent))
  const unitCount = Math.ceil(total / 2)
  const datasetId = ids.dataset++
  const versionId = ids.version++
  const project = 1
  const versionMs = Date.parse("2026-10-20T12:00:00Z")
  const stats = new VersionStatistics()
  let eventsDone = 0
  let annotations = 0

  const pool = db.transaction(() => {
    sql.dataset.run(datasetId, LARGE_DATASET_NAME, project)
    sql.version.run(
      versionId,
      datasetId,
      "v1.0",
      "v1.0",
      `${total} events for scale tests and benchmarks.`,
      1,
      0,
      isoAt(versionMs)
    )
    return makePool(media, rng.fork("pool"))
  })()

  const annotators = ["annotator_1", "annotator_2", "annotator_3", "annotator_4", "annotator_5", "annotator_6"]
  const metadataJson = annotators.map((annotator) =>
    [1, 2].map((pass) => JSON.stringify({ annotator, pass, review_status: "approved", source: LARGE_DATASET_NAME }))
  )
  const spanMs = versionMs - BASE_TIME_MS - DAY_MS
  const parts: Array<string> = []
  const classNames: Array<string> = []

  const writeBatch = db.transaction((from: number, to: number) => {
    for (let u = from; u < to; u++) {
      const unitId = ids.dataUnit++
      const image = pool[rng.int(0, POOL_SIZE - 1)]!
      const category = drawCategory(rng)
      // Each unit names its image after itself, as the demo does: exporters that name output files
      // by `name` must not see 50 000 units called pool_07.png. The bytes are the pool's.
      const name = `${String(unitId).padStart(6, "0")}.png`
      const eventFilesJson = `{"image_1":${withName(name, image.eventEntryTail)}}`
      sql.dataUnit.run(unitId, project, `{"image":${withName(name, image.unitEntryTail)}}`)
      const passes = Math.min(2, total - 2 * u)
      // The ground truth is the union of the unit's passes; its label is the largest object's class.
      const unionParts: Array<string> = []
      let unionLabel: string | undefined
      let unionArea = -1
      for (let pass = 0; pass < passes; pass++) {
        const eventId = ids.event++
        parts.length = 0
        classNames.length = 0
        let label: string | undefined
        let largest = -1
        for (let k = 0; k < perEvent; k++) {
          const object = makeObject(rng, rng.weighted(CLASSES, CLASS_WEIGHTS), image.width, image.height, 0.1)
          const json = annotationJson(toWireAnnotation(object, ids.annotation++))
          parts.push(json)
          unionParts.push(json)
          classNames.push(object.cls.name)
          if (object.area > largest) {
            largest = object.area
            label = object.cls.name
          }
          if (object.area > unionArea) {
            unionArea = object.area
            unionLabel = object.cls.name
          }
        }
        const data = `{"type":"image","annotations":[${parts.join(",")}]${
          label === undefined ? "" : `,"label":"${label}"`
        }}`
        // Events spread over the year before the version, in id order (like a real labelling queue).
        const createdMs = BASE_TIME_MS + Math.floor((spanMs * u) / Math.max(1, unitCount)) + pass * HOUR_MS
        const metadata = metadataJson[rng.int(0, annotators.length - 1)]![pass]!
        sql.event.run(eventId, versionId, unitId, project, category, isoAt(createdMs), data, eventFilesJson, metadata)
        stats.addNames(category, unitId, classNames)
        annotations += perEvent
        eventsDone += 1
      }
      const gtId = ids.groundTruth++
      const data = `{"type":"image","annotations":[${unionParts.join(",")}]${
        unionLabel === undefined ? "" : `,"label":"${unionLabel}"`
      }}`
      sql.groundTruth.run(gtId, datasetId, unitId, category, eventFilesJson, data)
      sql.member.run(versionId, gtId)
    }
  })

  for (let from = 0; from < unitCount; from += UNITS_PER_BATCH) {
    writeBatch(from, Math.min(unitCount, from + UNITS_PER_BATCH))
    options.onProgress?.(options.progressOffset + eventsDone, options.progressTotal)
  }
  sql.versionTotals.run(stats.events, stats.toJson(), versionId)

  return { datasetId, versionId, dataUnits: unitCount, events: eventsDone, annotations, groundTruths: unitCount }
}
