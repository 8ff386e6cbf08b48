/**
 * Plane geometry for annotation export: polygon area (shoelace formula), clipping boxes and
 * polygons to the image rectangle, and bounding boxes of polygons. Pure functions over flat
 * coordinate lists (`[x1, y1, x2, y2, …]`, the COCO polygon form) so the hot export path allocates
 * little.
 */

/** A COCO box: `[x, y, width, height]` in absolute pixels. */
export type Box = readonly [number, number, number, number]

/** True when every value is a finite number. */
export const allFinite = (values: ReadonlyArray<unknown>): values is ReadonlyArray<number> => {
  for (const v of values) if (typeof v !== "number" || !Number.isFinite(v)) return false
  return true
}

/**
 * Area of a simple polygon given as a flat list, by the shoelace formula. The absolute value makes
 * it independent of winding order (annotation tools emit both).
 */
export const shoelaceArea = (flat: ReadonlyArray<number>): number => {
  const n = flat.length >> 1
  if (n < 3) return 0
  let twice = 0
  for (let i = 0; i < n; i++) {
    const j = i + 1 === n ? 0 : i + 1
    twice += flat[2 * i]! * flat[2 * j + 1]! - flat[2 * j]! * flat[2 * i + 1]!
  }
  return Math.abs(twice) / 2
}

/**
 * Intersection of a box with the image `[0, width] × [0, height]`; `undefined` when nothing of
 * positive area is left (the box lies outside the image or has no size).
 */
export const clipBox = (box: Box, width: number, height: number): Box | undefined => {
  const x0 = Math.max(0, box[0])
  const y0 = Math.max(0, box[1])
  const x1 = Math.min(width, box[0] + box[2])
  const y1 = Math.min(height, box[1] + box[3])
  if (!(x1 > x0) || !(y1 > y0)) return undefined
  return [x0, y0, x1 - x0, y1 - y0]
}

// One Sutherland–Hodgman pass against the half-plane `coord(axis) (≥|≤) limit`.
const clipAgainst = (pts: Array<number>, axis: 0 | 1, limit: number, keepAbove: boolean): Array<number> => {
  const n = pts.length >> 1
  const out: Array<number> = []
  if (n === 0) return out
  const inside = (i: number) => (keepAbove ? pts[2 * i + axis]! >= limit : pts[2 * i + axis]! <= limit)
  for (let i = 0; i < n; i++) {
    const prev = (i + n - 1) % n
    const curIn = inside(i)
    const prevIn = inside(prev)
    if (curIn !== prevIn) {
      const ax = pts[2 * prev]!, ay = pts[2 * prev + 1]!
      const bx = pts[2 * i]!, by = pts[2 * i + 1]!
      const a = axis === 0 ? ax : ay
      const b = axis === 0 ? bx : by
      const t = (limit - a) / (b - a)
      if (axis === 0) out.push(limit, ay + t * (by - ay))
      else out.push(ax + t * (bx - ax), limit)
    }
    if (curIn) out.push(pts[2 * i]!, pts[2 * i + 1]!)
  }
  return out
}

/**
 * A polygon clipped to the image rectangle (Sutherland–Hodgman: exact for the convex clip window).
 * Consecutive duplicate points produced by clipping along an edge are dropped, so a polygon lying
 * outside the image comes back with fewer than 3 points.
 */
export const clipPolygon = (flat: ReadonlyArray<number>, width: number, height: number): Array<number> => {
  let pts = Array.from(flat)
  pts = clipAgainst(pts, 0, 0, true)
  pts = clipAgainst(pts, 0, width, false)
  pts = clipAgainst(pts, 1, 0, true)
  pts = clipAgainst(pts, 1, height, false)
  const out: Array<number> = []
  const n = pts.length >> 1
  for (let i = 0; i < n; i++) {
    const x = pts[2 * i]!, y = pts[2 * i + 1]!
    const m = out.length
    if (m >= 2 && out[m - 2] === x && out[m - 1] === y) continue
    out.push(x, y)
  }
  if (out.length >= 4 && out[0] === out[out.length - 2] && out[1] === out[out.length - 1]) out.length -= 2
  return out
}

/** The bounding box of one or more flat polygons, or `undefined` for no points. */
export const polygonsBbox = (polygons: ReadonlyArray<ReadonlyArray<number>>): Box | undefined => {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity
  for (const p of polygons) {
    for (let i = 0; i + 1 < p.length; i += 2) {
      const x = p[i]!, y = p[i + 1]!
      if (x < minX) minX = x
      if (x > maxX) maxX = x
      if (y < minY) minY = y
      if (y > maxY) maxY = y
    }
  }
  if (minX === Infinity) return undefined
  return [minX, minY, maxX - minX, maxY - minY]
}

/**
 * Rounds to 2 decimals for output: sub-pixel noise from clipping (`99.99999999`) makes files
 * larger and golden comparisons brittle without carrying information.
 */
export const round2 = (v: number): number => Math.round(v * 100) / 100
