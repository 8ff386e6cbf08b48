/**
 * Synthetic street scenes: the object classes, seeded objects placed inside an image, and the two
 * annotation forms the wire carries for them (COCO-like `data.annotations` and the platform's
 * native `data_meta` JSON). Shared by the demo and large generators so both have the same shape.
 */
import { toNativeAnnotations } from "../Evidence.js"
import type { Rgb } from "./Png.js"
import type { Rng } from "./Random.js"

/** An object class: platform id (from 1), name, drawing colour and typical size. */
export interface ObjectClass {
  readonly id: number
  readonly name: string
  readonly color: Rgb
  /** Width as a fraction of the image width: [min, max]. */
  readonly widthFraction: readonly [number, number]
  /** Height / width: [min, max]. */
  readonly aspect: readonly [number, number]
}

/** Every class the sandbox knows, by platform id. */
export const CLASSES: ReadonlyArray<ObjectClass> = [
  { id: 1, name: "car", color: [200, 40, 40], widthFraction: [0.1, 0.35], aspect: [0.45, 0.75] },
  { id: 2, name: "person", color: [240, 200, 40], widthFraction: [0.04, 0.1], aspect: [1.8, 3] },
  { id: 3, name: "bicycle", color: [40, 160, 60], widthFraction: [0.08, 0.18], aspect: [0.6, 0.9] },
  { id: 4, name: "truck", color: [120, 60, 160], widthFraction: [0.2, 0.45], aspect: [0.55, 0.9] },
  { id: 5, name: "traffic_light", color: [30, 30, 30], widthFraction: [0.025, 0.05], aspect: [2, 3.2] },
  { id: 6, name: "dog", color: [150, 100, 50], widthFraction: [0.05, 0.12], aspect: [0.6, 1] },
  { id: 7, name: "bus", color: [240, 130, 20], widthFraction: [0.25, 0.5], aspect: [0.5, 0.8] },
  { id: 8, name: "motorcycle", color: [20, 120, 200], widthFraction: [0.06, 0.14], aspect: [0.7, 1.1] }
]

/** A class by name (throws on a typo in a generator, which is a bug). */
export const classNamed = (name: string): ObjectClass => {
  const found = CLASSES.find((c) => c.name === name)
  if (found === undefined) throw new Error(`unknown seed class ${name}`)
  return found
}

/** One object in a scene. `bbox` is `[x, y, w, h]` in pixels; polygons carry flat `[x1, y1, …]`. */
export interface SceneObject {
  readonly cls: ObjectClass
  readonly bbox: readonly [number, number, number, number]
  readonly polygon?: ReadonlyArray<number>
  readonly area: number
  readonly iscrowd: 0 | 1
}

/** Image sizes the generators draw from (160–640 px wide, the usual aspect ratios). */
export const IMAGE_SIZES: ReadonlyArray<readonly [number, number]> = [
  [160, 120],
  [200, 150],
  [240, 180],
  [256, 256],
  [320, 180],
  [320, 240],
  [384, 216],
  [400, 300],
  [480, 270],
  [512, 384],
  [640, 360],
  [640, 480]
]

/** Area of a flat polygon (shoelace). */
export const polygonArea = (flat: ReadonlyArray<number>): number => {
  const n = Math.floor(flat.length / 2)
  let twice = 0
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n
    twice += flat[2 * i]! * flat[2 * j + 1]! - flat[2 * j]! * flat[2 * i + 1]!
  }
  return Math.abs(twice) / 2
}

/**
 * One seeded object of class `cls` inside a `width` x `height` image: a box, or with probability
 * `polygonRate` a polygon (points on a jittered ellipse inside the box, bbox tight around them).
 */
export const makeObject = (
  rng: Rng,
  cls: ObjectClass,
  width: number,
  height: number,
  polygonRate: number
): SceneObject => {
  let w = Math.max(4, Math.round(width * rng.float(cls.widthFraction[0], cls.widthFraction[1])))
  let h = Math.max(4, Math.round(w * rng.float(cls.aspect[0], cls.aspect[1])))
  w = Math.min(w, width)
  h = Math.min(h, height)
  const x = rng.int(0, width - w)
  const y = rng.int(0, height - h)
  if (w >= 8 && h >= 8 && rng.chance(polygonRate)) {
    const points = rng.int(5, 8)
    const flat: Array<number> = []
    const cx = x + w / 2
    const cy = y + h / 2
    for (let k = 0; k < points; k++) {
      const angle = (2 * Math.PI * k) / points + rng.float(-0.2, 0.2)
      const radius = rng.float(0.7, 1)
      // Clamped to the box so the polygon (and the bbox derived from it) stays inside the image.
      flat.push(
        Math.min(x + w, Math.max(x, Math.round(cx + Math.cos(angle) * radius * (w / 2)))),
        Math.min(y + h, Math.max(y, Math.round(cy + Math.sin(angle) * radius * (h / 2))))
      )
    }
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity
    for (let k = 0; k < points; k++) {
      minX = Math.min(minX, flat[2 * k]!)
      maxX = Math.max(maxX, flat[2 * k]!)
      minY = Math.min(minY, flat[2 * k + 1]!)
      maxY = Math.max(maxY, flat[2 * k + 1]!)
    }
    return { cls, bbox: [minX, minY, maxX - minX, maxY - minY], polygon: flat, area: polygonArea(flat), iscrowd: 0 }
  }
  // A few person boxes are crowds (COCO's iscrowd), which exporters must pass through.
  const iscrowd = cls.name === "person" && rng.chance(0.04) ? 1 : 0
  return { cls, bbox: [x, y, w, h], area: w * h, iscrowd }
}

/** Seeded objects for one image: 1–7 objects, classes drawn with `weights` over `classes`. */
export const makeScene = (
  rng: Rng,
  classes: ReadonlyArray<ObjectClass>,
  weights: ReadonlyArray<number>,
  width: number,
  height: number
): Array<SceneObject> => {
  const count = rng.weighted([1, 2, 3, 4, 5, 6, 7], [2, 4, 5, 4, 3, 2, 1])
  const objects: Array<SceneObject> = []
  for (let i = 0; i < count; i++) objects.push(makeObject(rng, rng.weighted(classes, weights), width, height, 0.1))
  return objects
}

/** One annotation as `data.annotations` carries it. */
export interface WireAnnotation {
  readonly id: number
  readonly category_id: number
  readonly category: string
  readonly bbox: ReadonlyArray<number>
  readonly area: number
  readonly iscrowd: 0 | 1
  readonly segmentation?: ReadonlyArray<ReadonlyArray<number>>
}

/** The COCO-like annotation of an object under annotation id `id`. */
export const toWireAnnotation = (object: SceneObject, id: number): WireAnnotation =>
  object.polygon === undefined
    ? {
      id,
      category_id: object.cls.id,
      category: object.cls.name,
      bbox: object.bbox,
      area: object.area,
      iscrowd: object.iscrowd
    }
    : {
      id,
      category_id: object.cls.id,
      category: object.cls.name,
      bbox: object.bbox,
      area: object.area,
      iscrowd: object.iscrowd,
      segmentation: [object.polygon]
    }

/**
 * `JSON.stringify(annotation)` written out by hand: the large generator serialises millions of
 * annotations and this is several times faster (a test checks both give the same text).
 */
export const annotationJson = (a: WireAnnotation): string => {
  const head = `{"id":${a.id},"category_id":${a.category_id},"category":"${a.category}","bbox":[${
    a.bbox.join(",")
  }],"area":${a.area},"iscrowd":${a.iscrowd}`
  return a.segmentation === undefined
    ? head + "}"
    : `${head},"segmentation":[${a.segmentation.map((ring) => `[${ring.join(",")}]`).join(",")}]}`
}

/** The class of the largest annotation (what a classification view of the event calls it). */
export const largestLabel = (annotations: ReadonlyArray<WireAnnotation>): string | undefined => {
  let best: WireAnnotation | undefined
  for (const a of annotations) if (best === undefined || a.area > best.area) best = a
  return best?.category
}

/**
 * The `data_meta` JSON (the platform's native form, docs/wire-protocol.md "Native annotations") for
 * annotations on `image_1`: boxes become `{x, y, width, height}`, annotations with a segmentation
 * `polygon`s of `{x, y}` points. The evidence profile renders events' inline `data` with the same
 * converter, keyed `image`.
 */
export const toDataMeta = (annotations: ReadonlyArray<WireAnnotation>): string =>
  JSON.stringify(toNativeAnnotations(annotations, "image_1"))
