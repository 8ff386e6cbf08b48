/**
 * The seed generators' building blocks: the PNG writer (decoded back independently here: chunk
 * CRCs, zlib stream, row filters, pixels), the seeded random source and the hand-written
 * annotation serialiser the large generator relies on.
 */
import { describe, expect, it } from "@effect/vitest"
import { inflateSync } from "node:zlib"
import { crc32, encodePng, fillPolygon, fillRect, gradientRaster, readPngSize } from "../../../src/sandbox/seed/Png.js"
import { makeRng } from "../../../src/sandbox/seed/Random.js"
import { annotationJson, CLASSES, makeObject, toWireAnnotation } from "../../../src/sandbox/seed/Scenes.js"

/** A small independent PNG reader: 8-bit RGB, filters 0–4, checks every CRC. */
const decodePng = (png: Buffer): { width: number; height: number; pixels: Uint8Array } => {
  expect([...png.subarray(0, 8)]).toStrictEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  let offset = 8
  let width = 0
  let height = 0
  const idat: Array<Buffer> = []
  const types: Array<string> = []
  while (offset < png.length) {
    const length = png.readUInt32BE(offset)
    const type = png.toString("latin1", offset + 4, offset + 8)
    const data = png.subarray(offset + 8, offset + 8 + length)
    const crc = png.readUInt32BE(offset + 8 + length)
    expect(crc).toBe(crc32(png.subarray(offset + 4, offset + 8 + length)))
    types.push(type)
    if (type === "IHDR") {
      width = data.readUInt32BE(0)
      height = data.readUInt32BE(4)
      expect([...data.subarray(8)]).toStrictEqual([8, 2, 0, 0, 0])
    }
    if (type === "IDAT") idat.push(data)
    offset += 12 + length
  }
  expect(types[0]).toBe("IHDR")
  expect(types[types.length - 1]).toBe("IEND")
  const raw = inflateSync(Buffer.concat(idat))
  const stride = width * 3
  expect(raw.length).toBe((stride + 1) * height)
  const pixels = new Uint8Array(stride * height)
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i]!
      const a = i >= 3 ? pixels[y * stride + i - 3]! : 0
      const b = y > 0 ? pixels[(y - 1) * stride + i]! : 0
      const c = i >= 3 && y > 0 ? pixels[(y - 1) * stride + i - 3]! : 0
      const p = a + b - c
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c)
        ? a
        : Math.abs(p - b) <= Math.abs(p - c)
        ? b
        : c
      const predictor = [0, a, b, (a + b) >> 1, paeth][filter]
      expect(predictor).toBeDefined()
      pixels[y * stride + i] = (x + predictor!) & 0xff
    }
  }
  return { width, height, pixels }
}

const pixelAt = (image: { width: number; pixels: Uint8Array }, x: number, y: number): Array<number> => {
  const o = (y * image.width + x) * 3
  return [image.pixels[o]!, image.pixels[o + 1]!, image.pixels[o + 2]!]
}

describe("Png", () => {
  it("computes the standard CRC-32", () => {
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926)
    expect(crc32(Buffer.from("IEND"))).toBe(0xae426082)
  })

  it("encodes rasters that decode back to the same pixels", () => {
    const raster = gradientRaster(37, 23, [10, 200, 250], [90, 90, 90])
    fillRect(raster, 3, 4, 10, 6, [200, 40, 40])
    fillRect(raster, 30, 20, 50, 50, [1, 2, 3]) // clipped at the edges
    fillPolygon(raster, [20, 2, 34, 2, 27, 12], [240, 200, 40])
    const png = encodePng(raster)
    const decoded = decodePng(png)
    expect(decoded.width).toBe(37)
    expect(decoded.height).toBe(23)
    expect(Buffer.from(decoded.pixels).equals(Buffer.from(raster.pixels))).toBe(true)
    expect(pixelAt(decoded, 5, 5)).toStrictEqual([200, 40, 40])
    expect(pixelAt(decoded, 36, 22)).toStrictEqual([1, 2, 3])
    expect(pixelAt(decoded, 27, 5)).toStrictEqual([240, 200, 40])
    expect(pixelAt(decoded, 0, 0)).toStrictEqual([10, 200, 250])
    expect(pixelAt(decoded, 0, 22)).toStrictEqual([90, 90, 90])
    expect(readPngSize(png)).toStrictEqual({ width: 37, height: 23 })
    expect(readPngSize(Buffer.from("not a png at all, really not"))).toBeUndefined()
  })

  it("draws nothing for a polygon of two points", () => {
    const raster = gradientRaster(8, 8, [0, 0, 0], [0, 0, 0])
    fillPolygon(raster, [0, 0, 7, 7], [255, 255, 255])
    expect(raster.pixels.every((v) => v === 0)).toBe(true)
  })
})

describe("Random", () => {
  it("repeats for a seed, differs across seeds and across forks", () => {
    const draw = (seed: number, label?: string) => {
      const base = makeRng(seed)
      const rng = label === undefined ? base : base.fork(label)
      return Array.from({ length: 8 }, () => rng.int(0, 1_000_000))
    }
    expect(draw(1)).toStrictEqual(draw(1))
    expect(draw(1)).not.toStrictEqual(draw(2))
    expect(draw(1, "a")).toStrictEqual(draw(1, "a"))
    expect(draw(1, "a")).not.toStrictEqual(draw(1, "b"))
    const rng = makeRng(3)
    for (let i = 0; i < 1000; i++) {
      const n = rng.int(-2, 2)
      expect(n >= -2 && n <= 2 && Number.isInteger(n)).toBe(true)
    }
  })
})

describe("Scenes", () => {
  it("serialises annotations exactly like JSON.stringify", () => {
    const rng = makeRng(11)
    let polygons = 0
    for (let i = 0; i < 400; i++) {
      const object = makeObject(rng, rng.pick(CLASSES), rng.int(160, 640), rng.int(120, 480), 0.3)
      const wire = toWireAnnotation(object, i + 1)
      if (wire.segmentation !== undefined) polygons++
      expect(annotationJson(wire)).toBe(JSON.stringify(wire))
    }
    expect(polygons).toBeGreaterThan(50)
  })

  it("keeps objects inside the image", () => {
    const rng = makeRng(5)
    for (let i = 0; i < 500; i++) {
      const [w, h] = [rng.int(160, 640), rng.int(120, 480)]
      const o = makeObject(rng, rng.pick(CLASSES), w, h, 0.2)
      const [x, y, bw, bh] = o.bbox
      expect(x >= 0 && y >= 0 && bw > 0 && bh > 0 && x + bw <= w && y + bh <= h).toBe(true)
      expect(o.area).toBeGreaterThan(0)
    }
  })
})
