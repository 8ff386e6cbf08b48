/**
 * Image dimensions read from the file header (PNG, JPEG, GIF, BMP, WebP), for images whose file
 * entry lacks width/height (the evidenced file entries carry a URL only). The first 64 KiB are
 * read, which holds every header but a JPEG's whose metadata segments (EXIF thumbnails, ICC
 * profiles) push the frame marker further: there the segment chain is followed in the file, one
 * 4-byte segment header at a time, up to 16 MiB in.
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
  if (
    b.length >= 30 && b[0] === 0x52 && b[1] === 0x49 && b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 &&
    b[11] === 0x50
  ) {
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
  if (isJpeg(b)) {
    const found = jpegWalk((at, n) => (at + n <= b.length ? b.subarray(at, at + n) : undefined))
    return typeof found === "object" ? found : undefined
  }
  return undefined
}

const isJpeg = (b: Uint8Array): boolean => b.length >= 4 && b[0] === 0xff && b[1] === 0xd8

/** Start-of-frame markers SOF0..SOF15, except DHT, JPG and DAC, which share the range. */
const isFrame = (marker: number): boolean =>
  marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc

/** Markers that stand alone, without a length: TEM and RST0..RST7. */
const standalone = (marker: number): boolean => marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)

/**
 * Follows a JPEG's segment chain from offset 2 to its first start-of-frame. `read(at, n)` gives
 * `n` bytes at `at`, or `undefined` past what is available: the walk then answers the offset it
 * needs (so the caller can read further), and `undefined` when the data is not a JPEG chain.
 */
const jpegWalk = (read: (at: number, n: number) => Uint8Array | undefined): ImageSize | number | undefined => {
  let i = 2
  for (;;) {
    const head = read(i, 2)
    if (head === undefined) return i
    if (head[0] !== 0xff) return undefined
    const marker = head[1]!
    if (marker === 0xff) {
      i++ // fill byte
      continue
    }
    if (standalone(marker)) {
      i += 2
      continue
    }
    if (marker === 0xd9 || marker === 0xda) return undefined // end of image, or scan data before any frame
    const frame = isFrame(marker)
    const segment = read(i + 2, frame ? 7 : 2)
    if (segment === undefined) return i
    const view = new DataView(segment.buffer, segment.byteOffset, segment.byteLength)
    if (frame) return { height: view.getUint16(3), width: view.getUint16(5) }
    const len = view.getUint16(0)
    if (len < 2) return undefined
    i += 2 + len
  }
}

/** How far into a JPEG its segment chain is followed. */
const MAX_JPEG_WALK = 16 * 1024 * 1024

/**
 * A JPEG's size when its frame marker lies beyond the first bytes read: the segment chain followed
 * in the file, one segment header (up to 9 bytes) per read.
 */
const jpegFromFile = async (handle: Fsp.FileHandle): Promise<ImageSize | undefined> => {
  const b = Buffer.alloc(9)
  let i = 2
  while (i < MAX_JPEG_WALK) {
    const { bytesRead } = await handle.read(b, 0, 9, i)
    if (bytesRead < 2 || b[0] !== 0xff) return undefined
    const marker = b[1]!
    if (marker === 0xff) {
      i++
      continue
    }
    if (standalone(marker)) {
      i += 2
      continue
    }
    if (marker === 0xd9 || marker === 0xda) return undefined
    if (isFrame(marker)) return bytesRead >= 9 ? { height: b.readUInt16BE(5), width: b.readUInt16BE(7) } : undefined
    if (bytesRead < 4) return undefined
    const len = b.readUInt16BE(2)
    if (len < 2) return undefined
    i += 2 + len
  }
  return undefined
}

/** Reads the dimensions of an image file from its header; `undefined` when not recognised. */
export const readImageSize = async (path: string): Promise<ImageSize | undefined> => {
  const handle = await Fsp.open(path, "r")
  try {
    const buf = Buffer.alloc(65536)
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0)
    const head = buf.subarray(0, bytesRead)
    let size = sizeFromHeader(head)
    if (size === undefined && isJpeg(head) && bytesRead === buf.length) size = await jpegFromFile(handle)
    return size !== undefined && size.width > 0 && size.height > 0 ? size : undefined
  } finally {
    await handle.close()
  }
}
