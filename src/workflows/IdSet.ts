/**
 * Compact membership sets for streaming exports and validation, where a plain `Set` of every id
 * would make memory grow with the dataset: a paged bitmap for positive integer ids (one bit per id,
 * pages allocated only where ids occur) and a hashed set for strings such as file names.
 *
 * Ids from 2^32 up are scattered by construction (the image ids derived from a file when an event
 * has no data unit, see `syntheticImageId`): a bitmap page each would cost 8 KiB per id, so they
 * are kept in a plain `Set`/`Map` beside the pages instead.
 */

const PAGE_BITS = 16
const PAGE_SIZE = 1 << PAGE_BITS
const WORDS = PAGE_SIZE >>> 5
/** Ids from here up are kept in a hash set, not in bitmap pages. */
const SPARSE_FROM = 2 ** 32

/**
 * The image id of an event that names no data unit: 2^52 plus the 52-bit hash of what identifies
 * its image file, so it is a safe integer, the same in every run (a split manifest written from
 * one listing matches an export of another), and above any database key.
 */
export const syntheticImageId = (identity: string): number => 2 ** 52 + hash52(identity)

/**
 * A set of non-negative safe integers stored as bitmap pages of 65 536 ids (8 KiB each). Dense id
 * ranges, as databases hand out, cost about one bit per id.
 */
export class IdSet {
  private readonly pages = new Map<number, Uint32Array>()
  private readonly sparse = new Set<number>()
  private count = 0

  /** Number of ids in the set. */
  get size(): number {
    return this.count
  }

  /** Whether `id` is in the set. */
  has(id: number): boolean {
    if (id >= SPARSE_FROM) return this.sparse.has(id)
    const page = this.pages.get(Math.floor(id / PAGE_SIZE))
    if (page === undefined) return false
    const bit = id % PAGE_SIZE
    return (page[bit >>> 5]! & (1 << (bit & 31))) !== 0
  }

  /** Adds `id`; returns false when it was already present (so callers can dedupe in one call). */
  add(id: number): boolean {
    if (id >= SPARSE_FROM) {
      if (this.sparse.has(id)) return false
      this.sparse.add(id)
      this.count++
      return true
    }
    const key = Math.floor(id / PAGE_SIZE)
    let page = this.pages.get(key)
    if (page === undefined) {
      page = new Uint32Array(WORDS)
      this.pages.set(key, page)
    }
    const bit = id % PAGE_SIZE
    const word = bit >>> 5
    const mask = 1 << (bit & 31)
    if ((page[word]! & mask) !== 0) return false
    page[word] = page[word]! | mask
    this.count++
    return true
  }
}

/**
 * A 52-bit hash of a string (two independent 32-bit FNV-1a variants combined), exact as a JS
 * number. Collisions among a million names have a probability around 1e-4.
 */
export const hash52 = (s: string): number => {
  let h1 = 0x811c9dc5
  let h2 = 0x01000193 ^ s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 0x01000193)
    h2 = Math.imul(h2 ^ c, 0x5bd1e995)
    h2 ^= h2 >>> 15
  }
  return (h1 >>> 0) * 0x100000 + ((h2 >>> 0) & 0xfffff)
}

/** A set of strings kept as 52-bit hashes: a few bytes per entry instead of the string itself. */
export class HashedStringSet {
  private readonly hashes = new Set<number>()

  /** Number of distinct hashes stored. */
  get size(): number {
    return this.hashes.size
  }

  /** Whether `s` (or a string with the same hash) was added. */
  has(s: string): boolean {
    return this.hashes.has(hash52(s))
  }

  /** Adds `s`; false when it (or a colliding string) was already present. */
  add(s: string): boolean {
    const h = hash52(s)
    if (this.hashes.has(h)) return false
    this.hashes.add(h)
    return true
  }
}

const SIZE_PAGE = 1024

/**
 * Image width and height by image id, in float32 pages of 1 024 ids (8 bytes per id in dense
 * ranges). Integer sizes below 2^24 are stored exactly, which covers any real image.
 */
export class IdSizeMap {
  private readonly pages = new Map<number, Float32Array>()
  /** Sizes of scattered ids. */
  private readonly sparse = new Map<number, readonly [number, number]>()

  /** Records the size of image `id`. */
  set(id: number, width: number, height: number): void {
    if (id >= SPARSE_FROM) {
      this.sparse.set(id, [width, height])
      return
    }
    const key = Math.floor(id / SIZE_PAGE)
    let page = this.pages.get(key)
    if (page === undefined) {
      page = new Float32Array(SIZE_PAGE * 2).fill(Number.NaN)
      this.pages.set(key, page)
    }
    const slot = (id % SIZE_PAGE) * 2
    page[slot] = width
    page[slot + 1] = height
  }

  /** The width of image `id`, NaN when unknown (no tuple: for checks made per annotation). */
  width(id: number): number {
    if (id >= SPARSE_FROM) {
      return this.sparse.get(id)?.[0] ?? Number.NaN
    }
    const page = this.pages.get(Math.floor(id / SIZE_PAGE))
    return page === undefined ? Number.NaN : page[(id % SIZE_PAGE) * 2]!
  }

  /** The height of image `id`, NaN when unknown. */
  height(id: number): number {
    if (id >= SPARSE_FROM) {
      return this.sparse.get(id)?.[1] ?? Number.NaN
    }
    const page = this.pages.get(Math.floor(id / SIZE_PAGE))
    return page === undefined ? Number.NaN : page[(id % SIZE_PAGE) * 2 + 1]!
  }

  /** The size of image `id` as `[width, height]`, or `undefined` when unknown. */
  get(id: number): readonly [number, number] | undefined {
    if (id >= SPARSE_FROM) {
      return this.sparse.get(id)
    }
    const page = this.pages.get(Math.floor(id / SIZE_PAGE))
    if (page === undefined) return undefined
    const slot = (id % SIZE_PAGE) * 2
    const w = page[slot]!
    if (Number.isNaN(w)) return undefined
    return [w, page[slot + 1]!]
  }
}
