/**
 * Deterministic pseudo-random numbers for the seed generators. Seed data must be byte-identical for
 * a given `randSeed` (tests and benchmarks compare runs), so nothing here touches `Math.random`.
 * Independent streams are forked by label so that adding draws to one generator (say, models) does
 * not shift every value another generator (say, images) produces.
 */

/** A seeded random source. */
export interface Rng {
  /** A float in [0, 1). */
  readonly next: () => number
  /** An integer in [min, max] (both inclusive). */
  readonly int: (min: number, max: number) => number
  /** A float in [min, max). */
  readonly float: (min: number, max: number) => number
  /** True with probability `p`. */
  readonly chance: (p: number) => boolean
  /** One element of a non-empty array. */
  readonly pick: <A>(items: ReadonlyArray<A>) => A
  /** An element chosen with the given relative weights (same length as `items`). */
  readonly weighted: <A>(items: ReadonlyArray<A>, weights: ReadonlyArray<number>) => A
  /** An independent stream derived from this one's seed and a label. */
  readonly fork: (label: string) => Rng
}

/** 32-bit FNV-1a of a string, used to turn labels into seeds. */
const fnv1a = (text: string, basis = 0x811c9dc5): number => {
  let hash = basis >>> 0
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash
}

/**
 * A mulberry32 generator: tiny, fast (the large seed draws millions of values) and good enough for
 * synthetic data; cryptographic quality is not a goal.
 */
export const makeRng = (seed: number): Rng => {
  // Mixing the seed once keeps seeds 1 and 2 from producing visibly related first values.
  const origin = fnv1a(String(seed >>> 0) + ":" + String(Math.floor(seed / 0x1_0000_0000)))
  let state = origin
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1))
  const rng: Rng = {
    next,
    int,
    float: (min, max) => min + next() * (max - min),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)]!,
    weighted: (items, weights) => {
      let total = 0
      for (const w of weights) total += w
      let r = next() * total
      for (let i = 0; i < items.length; i++) {
        r -= weights[i]!
        if (r < 0) return items[i]!
      }
      return items[items.length - 1]!
    },
    fork: (label) => makeRng(fnv1a(label, origin))
  }
  return rng
}
