/**
 * Image dimensions read from the file header (PNG, JPEG, GIF, BMP, WebP), for images whose file
 * entry lacks width/height. Only the first 64 KiB are read: enough for every header including
 * JPEGs with large EXIF blocks before the frame marker in practice.
 */
import * as Fsp from "node:fs/promises"

/** Width and height in pixels. */
export interface ImageSize {
  readonly width: number
  readonly height: number
}

/** Parses the dimensions out of the first bytes of an image; `undefined` for unknown formats. */
export const sizeFromHeader = (b: Uint8Array): ImageSize | undefined => {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  // PNG: signature, then the IHDR chunk (width, height as big-endian u32).
  if (b.length >= 24 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) {
    return { width: view.getUint32(16), height: view.getUint32(20) }
  }
  // GIF: "GIF8", then logical screen width/height as little-endian u16.
  if (b.length >= 10 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x38) {
    return { width: view.getUint16(6, true), height: view.getUint16(8, true) }
  }
  // BMP: "BM", BITMAPINFOHEADER width/height as little-endian i32 (height negative when top-down).
  if (b.length >= 26 && b[0] === 0x42 && b[1] === 0x4d) {
    return { width: Math.abs(view.getInt32(18, true)), height: Math.abs(view.getInt32(22, true)) }
  }
  // WebP: RIFF....WEBP with a VP8, VP8L or VP8X chunk.
  if (b.length >= 30 && b[0] === 0x52 && b[1] === 0x49 && b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50) {
    const kind = String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!)
    if (kind === "VP8 ") return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff }
    if (kind === "VP8L") {
      const bits = view.getUint32(21, true)
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 }
    }
    if (kind === "VP8X") {
      const w = 1 + (b[24]! | (b[25]! << 8) | (b[26]! << 16))
      const h = 1 + (b[27]! | (b[28]! << 8) | (b[29]! << 16))
      return { width: w, height: h }
    }
    return undefined
  }
  // JPEG: walk the marker segments to the first start-of-frame (SOF0..SOF15 except DHT/JPG/DAC).
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return undefined
      const marker = b[i + 1]!
      if (marker === 0xff) {
        i++
        continue
      }
      const len = view.getUint16(i + 2)
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { height: view.getUint16(i + 5), width: view.getUint16(i + 7) }
      }
      i += 2 + len
    }
  }
  return undefined
}

/** Reads the dimensions of an image file from its header; `undefined` when not recognised. */
export const readImageSize = async (path: string): Promise<ImageSize | undefined> => {
  const handle = await Fsp.open(path, "r")
  try {
    const buf = Buffer.alloc(65536)
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0)
    const size = sizeFromHeader(buf.subarray(0, bytesRead))
    return size !== undefined && size.width > 0 && size.height > 0 ? size : undefined
  } finally {
    await handle.close()
  }
}
