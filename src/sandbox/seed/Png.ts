/**
 * A minimal PNG writer and a tiny raster to draw on, so that the sandbox serves real images whose
 * header agrees with the `width`/`height` the database claims (exporters read the header when the
 * metadata lacks them). Only what seed images need: 8-bit RGB, no interlace, unfiltered rows
 * (flat synthetic scenes compress to a few KB), zlib from `node:zlib`.
 */
import { deflateSync } from "node:zlib"

/** An RGB colour, each channel 0..255. */
export type Rgb = readonly [number, number, number]

/** An 8-bit RGB raster. */
export interface Raster {
  readonly width: number
  readonly height: number
  /** Row-major RGB bytes, `width * height * 3` long. */
  readonly pixels: Uint8Array
}

/**
 * Paints `count` pixels from byte `offset`: one pixel written, then copied over doubling spans,
 * which is several times faster than a per-byte loop for the wide flat spans seed images have.
 */
const fillSpan = (pixels: Uint8Array, offset: number, count: number, r: number, g: number, b: number): void => {
  if (count <= 0) return
  pixels[offset] = r
  pixels[offset + 1] = g
  pixels[offset + 2] = b
  const end = offset + count * 3
  for (let filled = 3; offset + filled < end; filled *= 2) {
    pixels.copyWithin(offset + filled, offset, Math.min(offset + filled, end - filled))
  }
}

/** A raster filled with a vertical gradient from `top` to `bottom` (looks like sky over road). */
export const gradientRaster = (width: number, height: number, top: Rgb, bottom: Rgb): Raster => {
  const pixels = new Uint8Array(width * height * 3)
  for (let y = 0; y < height; y++) {
    const t = height > 1 ? y / (height - 1) : 0
    const r = Math.round(top[0] + (bottom[0] - top[0]) * t)
    const g = Math.round(top[1] + (bottom[1] - top[1]) * t)
    const b = Math.round(top[2] + (bottom[2] - top[2]) * t)
    fillSpan(pixels, y * width * 3, width, r, g, b)
  }
  return { width, height, pixels }
}

/** Fills the part of the rectangle `[x, y, w, h]` that lies inside the raster. */
export const fillRect = (raster: Raster, x: number, y: number, w: number, h: number, color: Rgb): void => {
  const x0 = Math.max(0, Math.floor(x))
  const y0 = Math.max(0, Math.floor(y))
  const x1 = Math.min(raster.width, Math.ceil(x + w))
  const y1 = Math.min(raster.height, Math.ceil(y + h))
  for (let row = y0; row < y1; row++) {
    fillSpan(raster.pixels, (row * raster.width + x0) * 3, x1 - x0, color[0], color[1], color[2])
  }
}

/**
 * Fills a polygon given as flat `[x1, y1, x2, y2, …]` with the even-odd rule, sampling pixel
 * centres, clipped to the raster. Polygons of fewer than 3 points draw nothing.
 */
export const fillPolygon = (raster: Raster, flat: ReadonlyArray<number>, color: Rgb): void => {
  const n = Math.floor(flat.length / 2)
  if (n < 3) return
  let minY = Infinity
  let maxY = -Infinity
  for (let i = 0; i < n; i++) {
    minY = Math.min(minY, flat[2 * i + 1]!)
    maxY = Math.max(maxY, flat[2 * i + 1]!)
  }
  const rowStart = Math.max(0, Math.floor(minY))
  const rowEnd = Math.min(raster.height - 1, Math.ceil(maxY))
  const crossings: Array<number> = []
  for (let row = rowStart; row <= rowEnd; row++) {
    const cy = row + 0.5
    crossings.length = 0
    for (let i = 0; i < n; i++) {
      const ax = flat[2 * i]!
      const ay = flat[2 * i + 1]!
      const bx = flat[2 * ((i + 1) % n)]!
      const by = flat[2 * ((i + 1) % n) + 1]!
      // Half-open rule on y so that a vertex shared by two edges is counted once.
      if ((ay <= cy && by > cy) || (by <= cy && ay > cy)) {
        crossings.push(ax + ((cy - ay) / (by - ay)) * (bx - ax))
      }
    }
    crossings.sort((a, b) => a - b)
    for (let k = 0; k + 1 < crossings.length; k += 2) {
      const from = Math.max(0, Math.ceil(crossings[k]! - 0.5))
      const to = Math.min(raster.width - 1, Math.floor(crossings[k + 1]! - 0.5))
      fillSpan(raster.pixels, (row * raster.width + from) * 3, to - from + 1, color[0], color[1], color[2])
    }
  }
}

/** CRC-32 (ISO 3309, as PNG chunks use), table built once. */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

/** The CRC-32 of `bytes`. */
export const crc32 = (bytes: Uint8Array): number => {
  let c = 0xffffffff
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

const chunk = (type: string, data: Uint8Array): Buffer => {
  const out = Buffer.alloc(12 + data.length)
  out.writeUInt32BE(data.length, 0)
  out.write(type, 4, "latin1")
  out.set(data, 8)
  // The CRC covers the chunk type and data, not the length.
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length)
  return out
}

/** The 8-byte PNG signature. */
export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/**
 * Encodes a raster as a PNG file (8-bit RGB). Rows use filter type 0 (None): on flat synthetic
 * scenes deflate finds the repeats by itself, compressing better and faster than the Sub filter.
 */
export const encodePng = (raster: Raster): Buffer => {
  const { width, height, pixels } = raster
  const stride = width * 3
  const filtered = Buffer.alloc((stride + 1) * height) // zero-filled: each row's filter byte is 0
  for (let y = 0; y < height; y++) filtered.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1)
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // colour type: truecolour RGB
  ihdr[10] = 0 // compression: deflate
  ihdr[11] = 0 // filter method 0
  ihdr[12] = 0 // no interlace
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk("IHDR", ihdr),
    // Level 1: every sandbox start seeds ~250 images; smaller files are not worth double the time.
    chunk("IDAT", deflateSync(filtered, { level: 1 })),
    chunk("IEND", new Uint8Array(0))
  ])
}

/** Reads width and height from a PNG's IHDR, or undefined when `bytes` is not a PNG. */
export const readPngSize = (bytes: Uint8Array): { readonly width: number; readonly height: number } | undefined => {
  if (bytes.length < 24) return undefined
  for (let i = 0; i < 8; i++) if (bytes[i] !== PNG_SIGNATURE[i]) return undefined
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.toString("latin1", 12, 16) !== "IHDR") return undefined
  return { width: view.readUInt32BE(16), height: view.readUInt32BE(20) }
}
