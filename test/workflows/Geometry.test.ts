import { describe, expect, it } from "@effect/vitest"
import { clipBox, clipPolygon, polygonsBbox, shoelaceArea } from "../../src/workflows/Geometry.js"
import { HashedStringSet, IdSet, IdSizeMap } from "../../src/workflows/IdSet.js"
import { sizeFromHeader } from "../../src/workflows/ImageSize.js"

describe("shoelaceArea (hand-computed values)", () => {
  it("unit square, either winding order", () => {
    expect(shoelaceArea([0, 0, 1, 0, 1, 1, 0, 1])).toBe(1)
    expect(shoelaceArea([0, 0, 0, 1, 1, 1, 1, 0])).toBe(1)
  })
  it("right triangle with legs 4 and 3 has area 6", () => {
    expect(shoelaceArea([0, 0, 4, 0, 0, 3])).toBe(6)
  })
  it("L-shape: 3x3 square minus a 2x2 corner = 5", () => {
    expect(shoelaceArea([0, 0, 3, 0, 3, 1, 1, 1, 1, 3, 0, 3])).toBe(5)
  })
  it("trapezoid (10,20)-(110,20)-(90,70)-(30,70): (100+60)/2*50 = 4000", () => {
    expect(shoelaceArea([10, 20, 110, 20, 90, 70, 30, 70])).toBe(4000)
  })
  it("fewer than 3 points and collinear points have no area", () => {
    expect(shoelaceArea([0, 0, 5, 5])).toBe(0)
    expect(shoelaceArea([0, 0, 1, 1, 2, 2])).toBe(0)
  })
})

describe("clipping", () => {
  it("clips a box to the image and drops one outside it", () => {
    expect(clipBox([-10, -5, 30, 20], 100, 50)).toEqual([0, 0, 20, 15])
    expect(clipBox([90, 40, 20, 20], 100, 50)).toEqual([90, 40, 10, 10])
    expect(clipBox([200, 10, 5, 5], 100, 50)).toBeUndefined()
    expect(clipBox([100, 10, 5, 5], 100, 50)).toBeUndefined()
  })
  it("clips a polygon with Sutherland–Hodgman: a square half outside keeps its inside half", () => {
    const clipped = clipPolygon([-10, 0, 10, 0, 10, 10, -10, 10], 100, 100)
    expect(shoelaceArea(clipped)).toBe(100)
    expect(polygonsBbox([clipped])).toEqual([0, 0, 10, 10])
  })
  it("a triangle crossing a corner is cut along both edges", () => {
    // Triangle (90,90)-(110,90)-(90,110) in a 100x100 image keeps the 10x10 square corner.
    const clipped = clipPolygon([90, 90, 110, 90, 90, 110], 100, 100)
    expect(shoelaceArea(clipped)).toBe(100)
  })
  it("a polygon entirely outside comes back with fewer than 3 points", () => {
    expect(clipPolygon([200, 200, 210, 200, 210, 210], 100, 100).length).toBeLessThan(6)
  })
})

describe("compact sets", () => {
  it("IdSet dedupes across pages and counts", () => {
    const s = new IdSet()
    expect(s.add(1)).toBe(true)
    expect(s.add(1)).toBe(false)
    expect(s.add(65536 * 3 + 5)).toBe(true)
    expect(s.has(65536 * 3 + 5)).toBe(true)
    expect(s.has(2)).toBe(false)
    expect(s.size).toBe(2)
  })
  it("IdSizeMap keeps sizes exactly and reports unknown ids", () => {
    const m = new IdSizeMap()
    m.set(7, 640, 480)
    m.set(100_000, 4000, 3000)
    expect(m.get(7)).toEqual([640, 480])
    expect(m.get(100_000)).toEqual([4000, 3000])
    expect(m.get(8)).toBeUndefined()
  })
  it("HashedStringSet", () => {
    const s = new HashedStringSet()
    expect(s.add("a.png")).toBe(true)
    expect(s.add("a.png")).toBe(false)
    expect(s.has("b.png")).toBe(false)
  })
})

describe("image headers", () => {
  it("reads PNG, GIF and JPEG sizes", () => {
    const png = Buffer.alloc(24)
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(png)
    png.writeUInt32BE(640, 16)
    png.writeUInt32BE(480, 20)
    expect(sizeFromHeader(png)).toEqual({ width: 640, height: 480 })
    const gif = Buffer.from([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x20, 0x01, 0xf0, 0x00])
    expect(sizeFromHeader(gif)).toEqual({ width: 288, height: 240 })
    // SOI, an APP0 segment of length 4, then SOF0 with height 300, width 400.
    const jpeg = Buffer.from([
      0xff,
      0xd8,
      0xff,
      0xe0,
      0x00,
      0x04,
      0x00,
      0x00,
      0xff,
      0xc0,
      0x00,
      0x11,
      0x08,
      0x01,
      0x2c,
      0x01,
      0x90,
      0x03,
      0,
      0,
      0
    ])
    expect(sizeFromHeader(jpeg)).toEqual({ width: 400, height: 300 })
    expect(sizeFromHeader(Buffer.from("not an image at all, sorry"))).toBeUndefined()
  })
})
