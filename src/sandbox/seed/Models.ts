/**
 * Demo models: a hand-written catalogue (so names, versions and projects read like a real
 * registry) with seeded metrics, configurations, dates and small model files. The catalogue is
 * shaped for the SDK's workflows: several versions under one name (`expand=versions`), one active
 * model per project and type at most, models without a file or without a metric, and evaluations.
 */
import type BetterSqlite3 from "better-sqlite3"
import { BASE_TIME_MS, DAY_MS, END_TIME_MS, HOUR_MS, isoAt, type MediaWriter } from "./Media.js"
import type { Rng } from "./Random.js"

type ModelType = "classification" | "detection" | "segmentation"
type Framework = "pytorch" | "tensorflow" | "onnx"

interface CatalogueEntry {
  readonly project: number
  readonly name: string
  readonly type: ModelType
  readonly version: string
  readonly active: boolean
  readonly framework: Framework
  readonly architecture: string
  readonly numClasses: number
  /** Registered without a file. */
  readonly noFile?: boolean
  /** A metric the model was registered without (old training scripts forgot it). */
  readonly missing?: string
  readonly category: "base" | "fine-tuned"
  readonly plugin?: number
  readonly description: string
}

/** The demo projects: id and name. */
export const DEMO_PROJECTS: ReadonlyArray<{ readonly id: number; readonly name: string }> = [
  { id: 1, name: "Autonomous Driving" },
  { id: 2, name: "Smart City Cameras" },
  { id: 3, name: "Warehouse Robotics" }
]

/** First model id: ids in another range than other resources so that mixed-up ids fail loudly. */
export const FIRST_MODEL_ID = 101

// Entries of one name are listed oldest version first: dates are assigned in that order.
const CATALOGUE: ReadonlyArray<CatalogueEntry> = [
  {
    project: 1,
    name: "Street Object Detector",
    type: "detection",
    version: "1.0.0",
    active: false,
    framework: "pytorch",
    architecture: "yolov8s",
    numClasses: 8,
    category: "base",
    plugin: 12,
    description: "YOLOv8-small baseline on the first labelled street images."
  },
  {
    project: 1,
    name: "Street Object Detector",
    type: "detection",
    version: "1.1.0",
    active: false,
    framework: "pytorch",
    architecture: "yolov8s",
    numClasses: 8,
    category: "fine-tuned",
    plugin: 12,
    description: "Fine-tuned with night images added."
  },
  {
    project: 1,
    name: "Street Object Detector",
    type: "detection",
    version: "2.0.0",
    active: true,
    framework: "pytorch",
    architecture: "yolov8m",
    numClasses: 8,
    category: "fine-tuned",
    plugin: 12,
    description: "YOLOv8-medium on the relabelled street images; current production detector."
  },
  {
    project: 1,
    name: "Street Object Detector",
    type: "detection",
    version: "2.1.0-rc1",
    active: false,
    framework: "onnx",
    architecture: "yolov8m",
    numClasses: 8,
    category: "fine-tuned",
    plugin: 12,
    description: "Release candidate exported to ONNX, pending evaluation."
  },
  {
    project: 1,
    name: "Pedestrian Detector",
    type: "detection",
    version: "0.9.0",
    active: false,
    framework: "tensorflow",
    architecture: "ssd_mobilenet_v2",
    numClasses: 1,
    noFile: true,
    category: "base",
    description: "Early pedestrian-only experiment; weights were not kept."
  },
  {
    project: 1,
    name: "Scene Classifier",
    type: "classification",
    version: "1.0.0",
    active: false,
    framework: "pytorch",
    architecture: "resnet50",
    numClasses: 8,
    category: "base",
    description: "Dominant-object classifier for street images."
  },
  {
    project: 1,
    name: "Scene Classifier",
    type: "classification",
    version: "1.1.0",
    active: true,
    framework: "pytorch",
    architecture: "efficientnet_b0",
    numClasses: 8,
    category: "fine-tuned",
    description: "EfficientNet-B0, smaller and more accurate than 1.0.0."
  },
  {
    project: 1,
    name: "Traffic Light Classifier",
    type: "classification",
    version: "1.0.0",
    active: false,
    framework: "tensorflow",
    architecture: "mobilenet_v3_small",
    numClasses: 3,
    missing: "f1_score",
    category: "base",
    description: "Red/amber/green state of cropped traffic lights."
  },
  {
    project: 1,
    name: "Road Segmenter",
    type: "segmentation",
    version: "0.9.0",
    active: false,
    framework: "pytorch",
    architecture: "unet",
    numClasses: 4,
    category: "base",
    description: "Drivable area, lane, sidewalk, background."
  },
  {
    project: 1,
    name: "Road Segmenter",
    type: "segmentation",
    version: "1.0.0",
    active: true,
    framework: "pytorch",
    architecture: "deeplabv3_resnet50",
    numClasses: 4,
    category: "fine-tuned",
    description: "DeepLabV3 drivable-area segmentation."
  },
  {
    project: 2,
    name: "Intersection Detector",
    type: "detection",
    version: "1.0.0",
    active: false,
    framework: "pytorch",
    architecture: "faster_rcnn_r50",
    numClasses: 6,
    category: "base",
    plugin: 14,
    description: "Faster R-CNN on intersection camera footage."
  },
  {
    project: 2,
    name: "Intersection Detector",
    type: "detection",
    version: "1.2.0",
    active: true,
    framework: "onnx",
    architecture: "yolov8s",
    numClasses: 6,
    category: "fine-tuned",
    plugin: 14,
    description: "YOLOv8-small exported to ONNX for the edge boxes."
  },
  {
    project: 2,
    name: "Bike Lane Detector",
    type: "detection",
    version: "0.1.0",
    active: false,
    framework: "pytorch",
    architecture: "yolov5n",
    numClasses: 2,
    noFile: true,
    missing: "mAP",
    category: "base",
    description: "Prototype; registered for tracking only."
  },
  {
    project: 2,
    name: "Vehicle Type Classifier",
    type: "classification",
    version: "1.0.0",
    active: true,
    framework: "tensorflow",
    architecture: "efficientnet_b2",
    numClasses: 5,
    category: "base",
    description: "Car, truck, bus, motorcycle, bicycle crops."
  },
  {
    project: 2,
    name: "Vehicle Type Classifier",
    type: "classification",
    version: "1.0.1",
    active: false,
    framework: "tensorflow",
    architecture: "efficientnet_b2",
    numClasses: 5,
    category: "fine-tuned",
    description: "Recalibrated 1.0.0; awaiting sign-off."
  },
  {
    project: 2,
    name: "Crowd Segmenter",
    type: "segmentation",
    version: "1.0.0",
    active: true,
    framework: "pytorch",
    architecture: "segformer_b1",
    numClasses: 2,
    category: "base",
    description: "Person / background masks for crowd density."
  },
  {
    project: 3,
    name: "Package Detector",
    type: "detection",
    version: "1.0.0",
    active: true,
    framework: "pytorch",
    architecture: "yolov8n",
    numClasses: 3,
    category: "base",
    plugin: 21,
    description: "Boxes, pallets and envelopes on conveyors."
  },
  {
    project: 3,
    name: "Forklift Detector",
    type: "detection",
    version: "1.3.0",
    active: false,
    framework: "onnx",
    architecture: "rtdetr_l",
    numClasses: 2,
    category: "fine-tuned",
    plugin: 21,
    description: "Forklifts and people near them; retired."
  },
  {
    project: 3,
    name: "Shelf Product Classifier",
    type: "classification",
    version: "1.0.0",
    active: false,
    framework: "pytorch",
    architecture: "vit_b16",
    numClasses: 40,
    category: "base",
    description: "Product SKUs from shelf crops."
  },
  {
    project: 3,
    name: "Shelf Product Classifier",
    type: "classification",
    version: "2.0.0",
    active: true,
    framework: "pytorch",
    architecture: "convnext_tiny",
    numClasses: 42,
    category: "fine-tuned",
    description: "ConvNeXt-Tiny, two new SKUs."
  },
  {
    project: 3,
    name: "Floor Segmenter",
    type: "segmentation",
    version: "1.0.0",
    active: false,
    framework: "tensorflow",
    architecture: "unet",
    numClasses: 3,
    missing: "dice",
    category: "base",
    description: "Free floor, racks, obstacles."
  },
  {
    project: 3,
    name: "Floor Segmenter",
    type: "segmentation",
    version: "1.1.0",
    active: false,
    framework: "onnx",
    architecture: "unet",
    numClasses: 3,
    category: "fine-tuned",
    description: "ONNX export of the retrained floor model."
  }
]

const round4 = (x: number): number => Math.round(x * 10_000) / 10_000
const clamp01 = (x: number): number => Math.min(0.999, Math.max(0.01, x))

/** Seeded metrics of the usual family for a model type; `quality` (0..1) lifts them all. */
const makeMetrics = (rng: Rng, type: ModelType, quality: number): Record<string, number> => {
  switch (type) {
    case "classification": {
      const accuracy = clamp01(0.78 + 0.17 * quality + rng.float(-0.02, 0.02))
      const precision = clamp01(accuracy + rng.float(-0.04, 0.03))
      const recall = clamp01(accuracy + rng.float(-0.04, 0.03))
      const f1 = (2 * precision * recall) / (precision + recall)
      return { accuracy: round4(accuracy), precision: round4(precision), recall: round4(recall), f1_score: round4(f1) }
    }
    case "detection": {
      const mAP50 = clamp01(0.55 + 0.3 * quality + rng.float(-0.03, 0.03))
      const mAP = clamp01(mAP50 * rng.float(0.58, 0.7))
      const precision = clamp01(mAP50 + rng.float(0.02, 0.1))
      const recall = clamp01(mAP50 + rng.float(-0.06, 0.04))
      return { mAP: round4(mAP), mAP50: round4(mAP50), precision: round4(precision), recall: round4(recall) }
    }
    case "segmentation": {
      const mIoU = clamp01(0.6 + 0.25 * quality + rng.float(-0.03, 0.03))
      const dice = (2 * mIoU) / (1 + mIoU)
      return { mIoU: round4(mIoU), dice: round4(dice) }
    }
  }
}

const INPUT_SIZE: Record<ModelType, readonly [number, number]> = {
  classification: [224, 224],
  detection: [640, 640],
  segmentation: [512, 512]
}

const FILE_NAME: Record<Framework, string> = { pytorch: "model.pt", tensorflow: "model.keras", onnx: "model.onnx" }

/**
 * A small but real model file: a readable header (format, architecture, version) followed by seeded
 * "weights", so downloads, md5 checks and caches work on bytes that differ per model.
 */
const modelFileBytes = (rng: Rng, entry: CatalogueEntry, id: number): Buffer => {
  const header = Buffer.from(
    `SYNAPSE-SANDBOX-MODEL 1\n${
      JSON.stringify({
        id,
        name: entry.name,
        version: entry.version,
        framework: entry.framework,
        architecture: entry.architecture
      })
    }\n`,
    "utf8"
  )
  const weights = Buffer.alloc(rng.int(2, 24) * 1024)
  for (let i = 0; i < weights.length; i += 4) weights.writeUInt32LE((rng.next() * 0x1_0000_0000) >>> 0, i)
  return Buffer.concat([header, weights])
}

/** What seeding models produced, for the summary and for evaluations of dataset versions. */
export interface ModelsSeeded {
  readonly models: number
  readonly modelFiles: number
  readonly evaluations: number
  readonly activeModelIds: ReadonlyArray<number>
}

/**
 * Inserts the demo projects' models (and their files and evaluations). `evaluationVersions` are
 * the versions of project 1's detection dataset that evaluations may point at, with their dates.
 */
export const seedModels = (
  db: BetterSqlite3.Database,
  media: MediaWriter,
  rng: Rng,
  evaluationVersions: ReadonlyArray<{ readonly id: number; readonly createdMs: number }>
): ModelsSeeded => {
  const insertModel = db.prepare(
    `INSERT INTO models (id, name, description, model_type, project, file_media, file_name, file_size, file_checksum,
       metrics, configuration, is_active, created_at, category, plugin, version)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
  )
  const insertEvaluation = db.prepare(
    `INSERT INTO model_evaluations (id, model_id, ground_truth_dataset_version, metrics, created_at) VALUES (?, ?, ?, ?, ?)`
  )

  // Versions of one name get increasing dates, so "latest" and version order agree.
  const span = END_TIME_MS - BASE_TIME_MS - 10 * DAY_MS
  const versionIndex = new Map<string, number>()
  const versionTotal = new Map<string, number>()
  for (const entry of CATALOGUE) {
    const key = `${entry.project}/${entry.name}`
    versionTotal.set(key, (versionTotal.get(key) ?? 0) + 1)
  }
  const groupStart = new Map<string, number>()
  const groupCount = versionTotal.size

  let modelFiles = 0
  let evaluations = 0
  let evaluationId = 1
  const activeModelIds: Array<number> = []

  CATALOGUE.forEach((entry, index) => {
    const id = FIRST_MODEL_ID + index
    const key = `${entry.project}/${entry.name}`
    const nth = versionIndex.get(key) ?? 0
    versionIndex.set(key, nth + 1)
    const total = versionTotal.get(key)!
    if (!groupStart.has(key)) {
      // Stratified over the year (group g of G starts in the g-th slice) so that every seed spreads
      // registrations over many months; names with several versions start in the first half.
      const g = groupStart.size
      groupStart.set(key, BASE_TIME_MS + ((g + rng.next()) / groupCount) * span * (total > 1 ? 0.5 : 1))
    }
    const start = groupStart.get(key)!
    // Later versions spread over what is left of the year after the first one.
    const createdMs = total > 1
      ? start + ((END_TIME_MS - 5 * DAY_MS - start) * nth) / total + rng.float(0, 5 * DAY_MS)
      : start
    const createdAt = isoAt(createdMs + rng.int(8, 18) * HOUR_MS)

    const quality = Math.min(1, 0.25 + 0.2 * nth + rng.float(0, 0.4))
    const metrics: Record<string, number> = makeMetrics(rng, entry.type, quality)
    if (entry.missing !== undefined) delete metrics[entry.missing]
    if (rng.chance(0.45)) metrics.loss = round4(rng.float(0.08, 0.6) * (1.2 - quality))

    const configuration: Record<string, unknown> = {
      framework: entry.framework,
      architecture: entry.architecture,
      input_size: INPUT_SIZE[entry.type],
      num_classes: entry.numClasses,
      batch_size: rng.pick([8, 16, 32, 64]),
      epochs: rng.pick([30, 50, 100, 150]),
      learning_rate: rng.pick([0.01, 0.001, 0.0005, 0.0001]),
      optimizer: rng.pick(["sgd", "adam", "adamw"])
    }
    if (entry.type === "detection") configuration.confidence_threshold = rng.pick([0.25, 0.3, 0.4, 0.5])

    let file: { media: string; name: string; size: number; checksum: string } | undefined
    if (entry.noFile !== true) {
      file = media.write(`models/${id}/${FILE_NAME[entry.framework]}`, modelFileBytes(rng, entry, id))
      modelFiles += 1
    }

    insertModel.run(
      id,
      entry.name,
      entry.description,
      entry.type,
      entry.project,
      file?.media ?? null,
      file?.name ?? null,
      file?.size ?? null,
      file?.checksum ?? null,
      JSON.stringify(metrics),
      JSON.stringify(configuration),
      entry.active ? 1 : 0,
      createdAt,
      entry.category,
      entry.plugin ?? null,
      entry.version
    )
    if (entry.active) activeModelIds.push(id)

    // Project 1's detectors were evaluated, a few days after registration, on the (at most two)
    // latest Street scenes versions that existed by then.
    if (entry.project === 1 && entry.type === "detection" && entry.noFile !== true) {
      const existing = evaluationVersions.filter((v) => v.createdMs < createdMs).slice(-2)
      existing.forEach((version, k) => {
        const evalMetrics = makeMetrics(rng, entry.type, Math.max(0, quality - rng.float(0, 0.1)))
        insertEvaluation.run(
          evaluationId++,
          id,
          version.id,
          JSON.stringify(evalMetrics),
          isoAt(createdMs + (k + 1) * 2 * DAY_MS)
        )
        evaluations += 1
      })
    }
  })

  return { models: CATALOGUE.length, modelFiles, evaluations, activeModelIds }
}
