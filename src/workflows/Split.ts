/**
 * Reproducible, leak-free train/validation/test splits (the official SDK's `prepare_training_data`, fixed):
 * - the unit of assignment is the data unit (image), never the event, so no image lands in two
 *   splits however many annotation passes it has;
 * - every random choice comes from a PRNG seeded by `seed`, over units in id order, so the same
 *   seed and data give the same split whatever order the server returns events in;
 * - `stratified` (default) is iterative stratification (Sechidis et al., 2011) over per-image class
 *   counts, so each class's share in every split is close to the target ratio; the largest
 *   deviation is reported;
 * - `hash` assigns each unit by a hash of (seed, id) alone, so assignments never move when the
 *   dataset grows; `random` is a seeded shuffle and cut.
 * The result is a manifest (see Manifest.ts) that the exporter consumes.
 */
import { Chunk, Effect, Schema, Stream } from "effect"
import { createHash } from "node:crypto"
import * as Fsp from "node:fs/promises"
import * as Path from "node:path"
import { makeDirectory } from "../platform/Directories.js"
import type { FileEntry } from "../schemas/Common.js"
import { Id } from "../schemas/Common.js"
import type { GroundTruthEvent } from "../schemas/GroundTruth.js"
import { MAX_PAGE_SIZE } from "../schemas/Page.js"
import { FileCache } from "../services/FileCache.js"
import { GroundTruths } from "../services/GroundTruths.js"
import { eventImage, preparedOut, prepareInto, scratchSource } from "./Annotations.js"
import { CategoryTable, type EventRead, EventReader, forEachAnnotation, versionEvents } from "./GroundTruthReader.js"
import { hash52, IdSizeMap } from "./IdSet.js"
import { assignmentHash, ImageDeviation, MANIFEST_FORMAT, type SplitManifest, SplitMethod } from "./Manifest.js"

/** Target shares of each split. `test` is optional; the shares must add up to 1. */
export const SplitRatios = Schema.Struct({
  train: Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(1)),
  validation: Schema.Number.pipe(Schema.between(0, 1)),
  test: Schema.optional(Schema.Number.pipe(Schema.between(0, 1)))
}).pipe(
  Schema.filter((r) =>
    Math.abs(r.train + r.validation + (r.test ?? 0) - 1) < 1e-6 || "train + validation + test must add up to 1"
  )
)
export type SplitRatios = typeof SplitRatios.Type

/** What `prepareTrainingData` takes. Give `project` or `datasetVersionIds`. */
export const PrepareTrainingDataInput = Schema.Struct({
  project: Schema.optional(Id).annotations({ description: "Split every ground-truth event of this project" }),
  datasetVersionIds: Schema.optional(Schema.Array(Id)).annotations({ description: "…or of these dataset versions" }),
  ratios: Schema.optional(SplitRatios).annotations({ description: "Target shares; default train 0.8, validation 0.2" }),
  splitRatio: Schema.optional(Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThan(1))).annotations({
    description: "The seed's split_ratio: train share, the rest validation (ignored when ratios is given)"
  }),
  seed: Schema.optional(Schema.Union(Schema.Int, Schema.String)).annotations({
    description: "PRNG seed: same seed and data give the same split (default 0)"
  }),
  method: Schema.optional(SplitMethod).annotations({
    description: "stratified (default), random, or hash (stable when the dataset grows)"
  }),
  manifestPath: Schema.optional(Schema.String).annotations({ description: "Where to write the manifest JSON" }),
  dryRun: Schema.optional(Schema.Boolean).annotations({
    description: "Compute and return the summary without writing anything"
  })
})
export type PrepareTrainingDataInput = typeof PrepareTrainingDataInput.Type

/** Per-split counts in the summary. */
export const SplitCounts = Schema.Struct({
  images: Schema.Int,
  events: Schema.Int,
  annotations: Schema.Int,
  class_counts: Schema.Record({ key: Schema.String, value: Schema.Int })
})

/** What `prepareTrainingData` returns. */
export const SplitSummary = Schema.Struct({
  method: SplitMethod,
  seed: Schema.Union(Schema.Int, Schema.String),
  ratios: Schema.Record({ key: Schema.String, value: Schema.Number }),
  total: Schema.Struct({ images: Schema.Int, events: Schema.Int, annotations: Schema.Int }),
  splits: Schema.Record({ key: Schema.String, value: SplitCounts }),
  maxDeviation: Schema.Number.annotations({
    description: "Largest |class share in a split − target ratio| over classes and splits"
  }),
  deviations: Schema.Record({ key: Schema.String, value: Schema.Record({ key: Schema.String, value: Schema.Number }) }),
  imageDeviations: Schema.Record({ key: Schema.String, value: ImageDeviation }).annotations({
    description: "Per split: its images, ratio × all images, and the difference"
  }),
  maxImageDeviation: Schema.Number.annotations({
    description:
      "Largest |images in a split − ratio × all images|: below 1 for stratified and random; hash follows the ratios on average only"
  }),
  leakedImages: Schema.Int.annotations({
    description: "Images in more than one split (always 0: kept as a checked invariant)"
  }),
  assignmentSha256: Schema.String,
  manifestPath: Schema.NullOr(Schema.String),
  dryRun: Schema.Boolean,
  notes: Schema.optional(Schema.Array(Schema.String)).annotations({
    description: "What the figures could not take into account, and how to get exact ones"
  })
})
export type SplitSummary = typeof SplitSummary.Type

/** Bad split input (ratios, missing source) or a manifest that could not be written. */
export class SplitError extends Schema.TaggedError<SplitError>()("SplitError", {
  detail: Schema.String,
  path: Schema.optional(Schema.String)
}) {}

// ---------------------------------------------------------------------------------------------
// Pure core

/** One data unit to assign: its id and per-class annotation counts. */
export interface SplitUnit {
  readonly id: number
  readonly classes: ReadonlyMap<string, number>
}

/** sfc32: a small, fast, well-distributed PRNG with 128-bit state; returns floats in [0, 1). */
export const prng = (seed: number | string): () => number => {
  const s = typeof seed === "number" ? seed : hash52(seed)
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = (s >>> 0) ^ Math.floor(s / 0x100000000)
  a ^= s >>> 0
  const next = () => {
    a >>>= 0
    b >>>= 0
    c >>>= 0
    d >>>= 0
    const t = (a + b) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    d = (d + 1) | 0
    const r = (t + d) | 0
    c = (c + r) | 0
    return (r >>> 0) / 4294967296
  }
  for (let i = 0; i < 16; i++) next()
  return next
}

const shuffle = <A>(items: Array<A>, rand: () => number): Array<A> => {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    const t = items[i]!
    items[i] = items[j]!
    items[j] = t
  }
  return items
}

/** The position of (seed, id) in [0, 1), from sha256: independent of every other unit. */
export const hashPosition = (seed: number | string, id: number): number => {
  const digest = createHash("sha256").update(`${seed}:${id}`).digest()
  return digest.readUIntBE(0, 6) / 2 ** 48
}

/**
 * Assigns units to splits. `ratios` maps split name → share (shares add up to 1, in the order
 * given). Deterministic for a given seed and set of units, whatever their input order.
 */
export const assignSplits = (
  units: ReadonlyArray<SplitUnit>,
  ratios: ReadonlyArray<readonly [string, number]>,
  method: SplitMethod,
  seed: number | string
): Map<number, string> => {
  const sorted = [...units].sort((a, b) => a.id - b.id)
  const out = new Map<number, string>()
  const names = ratios.map(([n]) => n)
  if (method === "hash") {
    for (const u of sorted) {
      const p = hashPosition(seed, u.id)
      let acc = 0
      let chosen = names[names.length - 1]!
      for (const [name, r] of ratios) {
        acc += r
        if (p < acc) {
          chosen = name
          break
        }
      }
      out.set(u.id, chosen)
    }
    return out
  }
  const rand = prng(seed)
  if (method === "random") {
    const order = shuffle(sorted.slice(), rand)
    let start = 0
    let acc = 0
    ratios.forEach(([name, r], k) => {
      acc += r
      const end = k === ratios.length - 1 ? order.length : Math.round(acc * order.length)
      for (let i = start; i < end; i++) out.set(order[i]!.id, name)
      start = end
    })
    return out
  }
  // Iterative stratification over annotation counts.
  const k = ratios.length
  const labelTotals = new Map<string, number>()
  for (const u of sorted) for (const [l, n] of u.classes) labelTotals.set(l, (labelTotals.get(l) ?? 0) + n)
  const labels = [...labelTotals.keys()].sort()
  const desired = new Map<string, Array<number>>()
  for (const l of labels) desired.set(l, ratios.map(([, r]) => r * labelTotals.get(l)!))
  const desiredUnits = ratios.map(([, r]) => r * sorted.length)
  const byLabel = new Map<string, Array<SplitUnit>>()
  for (const l of labels) byLabel.set(l, [])
  for (const u of sorted) for (const l of u.classes.keys()) byLabel.get(l)!.push(u)
  const done = new Set<number>()
  const assign = (u: SplitUnit, j: number) => {
    out.set(u.id, names[j]!)
    done.add(u.id)
    desiredUnits[j]! -= 1
    for (const [l, n] of u.classes) desired.get(l)![j]! -= n
  }
  const pick = (scores: ReadonlyArray<number>, second: ReadonlyArray<number>): number => {
    let best: Array<number> = []
    for (let j = 0; j < k; j++) {
      if (best.length === 0) best = [j]
      else {
        const b = best[0]!
        const cmp = scores[j]! - scores[b]! || second[j]! - second[b]!
        if (cmp > 1e-12) best = [j]
        else if (Math.abs(cmp) <= 1e-12) best.push(j)
      }
    }
    return best.length === 1 ? best[0]! : best[Math.floor(rand() * best.length)]!
  }
  const remaining = new Map<string, number>()
  for (const l of labels) remaining.set(l, byLabel.get(l)!.length)
  for (;;) {
    // The label with the fewest unassigned units goes first: rare classes are the hardest to spread.
    let fewest = Infinity
    const tied: Array<string> = []
    for (const l of labels) {
      const r = remaining.get(l)!
      if (r === 0) continue
      if (r < fewest) {
        fewest = r
        tied.length = 0
        tied.push(l)
      } else if (r === fewest) tied.push(l)
    }
    if (tied.length === 0) break
    const label = tied.length === 1 ? tied[0]! : tied[Math.floor(rand() * tied.length)]!
    const candidates = shuffle(byLabel.get(label)!.filter((u) => !done.has(u.id)), rand)
    for (const u of candidates) {
      assign(u, pick(desired.get(label)!, desiredUnits))
      for (const l of u.classes.keys()) remaining.set(l, remaining.get(l)! - 1)
    }
  }
  // Units without annotations only need the image ratio.
  for (const u of shuffle(sorted.filter((u) => !done.has(u.id)), rand)) assign(u, pick(desiredUnits, desiredUnits))
  balanceImageCounts(sorted, out, ratios, labels, labelTotals)
  refineBySwaps(sorted, out, ratios, labels, labelTotals, rand)
  return out
}

/**
 * The whole number of images each split should hold: `ratio × n` rounded so that the counts add
 * up to `n` (largest remainder; equal remainders go to the split listed first). Each differs from
 * `ratio × n` by less than one image.
 */
export const targetCounts = (n: number, ratios: ReadonlyArray<readonly [string, number]>): Array<number> => {
  const exact = ratios.map(([, r]) => r * n)
  const counts = exact.map((x) => Math.floor(x + 1e-9))
  let left = n - counts.reduce((a, b) => a + b, 0)
  const order = exact.map((x, j) => [x - counts[j]!, j] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1])
  for (const [, j] of order) {
    if (left <= 0) break
    counts[j]!++
    left--
  }
  return counts
}

/**
 * Greedy stratification balances classes, not images: a split can end several images away from
 * its share. Moves images, one at a time, from the split most over its target count (see
 * `targetCounts`) to the one most under it, each time the image whose move raises the sum of
 * squared class-share deviations least (images without annotations cost nothing; ties go to the
 * lowest id), until every split holds its target. Deterministic, and the swaps that follow keep
 * the counts.
 */
export const balanceImageCounts = (
  units: ReadonlyArray<SplitUnit>,
  out: Map<number, string>,
  ratios: ReadonlyArray<readonly [string, number]>,
  labels: ReadonlyArray<string>,
  labelTotals: ReadonlyMap<string, number>
): void => {
  const names = ratios.map(([name]) => name)
  const target = targetCounts(units.length, ratios)
  const count = names.map((name) => units.filter((u) => out.get(u.id) === name).length)
  const perSplit = names.map(() => new Map<string, number>(labels.map((l) => [l, 0])))
  for (const u of units) {
    const m = perSplit[names.indexOf(out.get(u.id)!)]!
    for (const [l, c] of u.classes) m.set(l, m.get(l)! + c)
  }
  const deviation = (j: number, l: string, c: number) => c / labelTotals.get(l)! - ratios[j]![1]
  const moveCost = (u: SplitUnit, from: number, to: number): number => {
    let change = 0
    for (const [l, c] of u.classes) {
      const a = perSplit[from]!.get(l)!, b = perSplit[to]!.get(l)!
      change += deviation(from, l, a - c) ** 2 - deviation(from, l, a) ** 2
      change += deviation(to, l, b + c) ** 2 - deviation(to, l, b) ** 2
    }
    return change
  }
  for (;;) {
    let from = -1, to = -1
    for (let j = 0; j < names.length; j++) {
      if (count[j]! > target[j]! && (from < 0 || count[j]! - target[j]! > count[from]! - target[from]!)) from = j
      if (count[j]! < target[j]! && (to < 0 || target[j]! - count[j]! > target[to]! - count[to]!)) to = j
    }
    if (from < 0 || to < 0) return
    let best: SplitUnit | undefined
    let bestCost = Infinity
    for (const u of units) {
      if (out.get(u.id) !== names[from]) continue
      const cost = moveCost(u, from, to)
      if (cost < bestCost - 1e-12) {
        best = u
        bestCost = cost
      }
    }
    out.set(best!.id, names[to]!)
    count[from]!--
    count[to]!++
    for (const [l, c] of best!.classes) {
      perSplit[from]!.set(l, perSplit[from]!.get(l)! - c)
      perSplit[to]!.set(l, perSplit[to]!.get(l)! + c)
    }
  }
}

/** Each split's image count against its ratio, and the largest distance in images. */
export const imageDeviations = (
  assignment: ReadonlyMap<number, string>,
  ratios: ReadonlyArray<readonly [string, number]>
): { readonly max: number; readonly bySplit: Record<string, ImageDeviation> } => {
  const n = assignment.size
  const counts = new Map<string, number>()
  for (const s of assignment.values()) counts.set(s, (counts.get(s) ?? 0) + 1)
  const r2 = (v: number) => Math.round(v * 100) / 100
  let max = 0
  const bySplit: Record<string, ImageDeviation> = {}
  for (const [name, r] of ratios) {
    const images = counts.get(name) ?? 0
    const d = images - r * n
    if (Math.abs(d) > max) max = Math.abs(d)
    bySplit[name] = { images, target: r2(r * n), deviation: r2(d) }
  }
  return { max: r2(max), bySplit }
}

/**
 * Greedy stratification settles the most frequent classes last, with whatever room is left; a
 * bounded hill-climb over swaps of two images between splits (image counts per split unchanged)
 * then lowers the sum of squared class-share deviations. Deterministic: driven by the seeded PRNG.
 */
const refineBySwaps = (
  units: ReadonlyArray<SplitUnit>,
  out: Map<number, string>,
  ratios: ReadonlyArray<readonly [string, number]>,
  labels: ReadonlyArray<string>,
  labelTotals: ReadonlyMap<string, number>,
  rand: () => number
): void => {
  const n = units.length
  const k = ratios.length
  if (n < 2 || k < 2 || labels.length === 0) return
  const labelIndex = new Map(labels.map((l, i) => [l, i]))
  const L = labels.length
  const splitIndex = new Map(ratios.map(([name], j) => [name, j]))
  const where = new Int32Array(n)
  const unitLabels: Array<Int32Array> = []
  const unitCounts: Array<Float64Array> = []
  const counts = new Float64Array(k * L)
  const totals = new Float64Array(L)
  labels.forEach((l, i) => (totals[i] = labelTotals.get(l)!))
  units.forEach((u, i) => {
    where[i] = splitIndex.get(out.get(u.id)!)!
    const ls = new Int32Array(u.classes.size)
    const cs = new Float64Array(u.classes.size)
    let m = 0
    for (const [l, c] of u.classes) {
      ls[m] = labelIndex.get(l)!
      cs[m++] = c
    }
    unitLabels.push(ls)
    unitCounts.push(cs)
    for (let t = 0; t < m; t++) counts[where[i]! * L + ls[t]!]! += cs[t]!
  })
  const target = ratios.map(([, r]) => r)
  const cost = (j: number, l: number, c: number) => {
    const d = c / totals[l]! - target[j]!
    return d * d
  }
  // Change in cost when `sign * unit i` is added to split j.
  const delta = (i: number, j: number, sign: number, scratch: Map<number, number>) => {
    const ls = unitLabels[i]!, cs = unitCounts[i]!
    for (let t = 0; t < ls.length; t++) {
      const key = j * L + ls[t]!
      scratch.set(key, (scratch.get(key) ?? 0) + sign * cs[t]!)
    }
  }
  const iterations = Math.min(200_000, 40 * n)
  const scratch = new Map<number, number>()
  for (let it = 0; it < iterations; it++) {
    const a = Math.floor(rand() * n)
    const b = Math.floor(rand() * n)
    const ja = where[a]!, jb = where[b]!
    if (ja === jb || unitLabels[a]!.length + unitLabels[b]!.length === 0) continue
    scratch.clear()
    delta(a, ja, -1, scratch)
    delta(a, jb, +1, scratch)
    delta(b, jb, -1, scratch)
    delta(b, ja, +1, scratch)
    let change = 0
    for (const [key, d] of scratch) {
      if (d === 0) continue
      const j = Math.floor(key / L), l = key % L
      change += cost(j, l, counts[key]! + d) - cost(j, l, counts[key]!)
    }
    if (change < -1e-12) {
      for (const [key, d] of scratch) counts[key]! += d
      where[a] = jb
      where[b] = ja
    }
  }
  units.forEach((u, i) => out.set(u.id, ratios[where[i]!]![0]))
}

/** |share of each class in each split − target| (shares by annotation count). */
export const deviations = (
  units: ReadonlyArray<SplitUnit>,
  assignment: ReadonlyMap<number, string>,
  ratios: ReadonlyArray<readonly [string, number]>
): { readonly max: number; readonly byClass: Record<string, Record<string, number>> } => {
  const totals = new Map<string, number>()
  const per = new Map<string, Map<string, number>>()
  for (const u of units) {
    const s = assignment.get(u.id)!
    for (const [l, n] of u.classes) {
      totals.set(l, (totals.get(l) ?? 0) + n)
      let m = per.get(l)
      if (!m) per.set(l, m = new Map())
      m.set(s, (m.get(s) ?? 0) + n)
    }
  }
  let max = 0
  const byClass: Record<string, Record<string, number>> = {}
  for (const l of [...totals.keys()].sort()) {
    const row: Record<string, number> = {}
    for (const [name, r] of ratios) {
      const d = Math.abs((per.get(l)!.get(name) ?? 0) / totals.get(l)! - r)
      row[name] = Math.round(d * 1e4) / 1e4
      if (d > max) max = d
    }
    byClass[l] = row
  }
  return { max: Math.round(max * 1e4) / 1e4, byClass }
}

// ---------------------------------------------------------------------------------------------
// Over events

/** Events to split, and optionally a downloader for native `data_meta` annotations. */
export interface SplitSource<E> {
  readonly events: Stream.Stream<GroundTruthEvent, E>
  readonly fetchFile?: (entry: FileEntry) => Effect.Effect<string, E>
  /** What the events were selected by, recorded in the manifest. */
  readonly inputs: { readonly project?: number; readonly dataset_versions?: ReadonlyArray<number> }
}

/** The ratios as an ordered list, from the input (defaults: 0.8 / 0.2). */
export const resolveRatios = (
  input: Pick<PrepareTrainingDataInput, "ratios" | "splitRatio">
): Array<readonly [string, number]> => {
  if (input.ratios !== undefined) {
    const out: Array<readonly [string, number]> = [["train", input.ratios.train], [
      "validation",
      input.ratios.validation
    ]]
    if (input.ratios.test !== undefined && input.ratios.test > 0) out.push(["test", input.ratios.test])
    return out
  }
  const train = input.splitRatio ?? 0.8
  return [["train", train], ["validation", Math.round((1 - train) * 1e9) / 1e9]]
}

/** Run-time knobs of a split. */
export interface SplitRun {
  /** Called after each page of events with the running counts. */
  readonly onProgress?: (progress: { readonly eventsRead: number; readonly images: number }) => void
}

interface MutableSplit {
  data_units: Array<number>
  images: number
  events: number
  annotations: number
  class_counts: Record<string, number>
}

interface UnitAcc {
  classes: Map<string, number>
  events: number
  /** The dataset version the class counts come from (see `versionRank`). */
  version: number | null
}

/**
 * Which of a data unit's dataset versions its class counts come from, lower rank first. Versions
 * of a dataset are snapshots that repeat most units with the same boxes, so adding every version's
 * annotations would count a unit's boxes once per version (the demo project: 1 468 for 592). With
 * versions given, the first listed wins, as in the export; over a project, the newest (highest id).
 */
const versionRank = (inputs: SplitSource<unknown>["inputs"]) => {
  const listed = inputs.dataset_versions
  if (listed !== undefined && listed.length > 0) {
    const order = new Map(listed.map((id, index) => [id, index]))
    return (version: number | null): number => (version === null ? Infinity : order.get(version) ?? Infinity)
  }
  return (version: number | null): number => (version === null ? Infinity : -version)
}

/**
 * Splits the events of `source` and (unless `dryRun` or no `manifestPath`) writes the manifest,
 * atomically. Events are aggregated per data unit as they stream; only per-image class counts are
 * kept.
 */
export const splitEvents = <E>(source: SplitSource<E>, input: PrepareTrainingDataInput, run: SplitRun = {}) =>
  Effect.gen(function*() {
    const ratios = resolveRatios(input)
    const method = input.method ?? "stratified"
    const seed = input.seed ?? 0
    const units = new Map<number, UnitAcc>()
    const rank = versionRank(source.inputs)
    let events = 0
    let withoutUnit = 0
    let withoutVersion = 0
    // Read as the export reads (GroundTruthReader.ts), so that the class counts are the annotations
    // an export by this manifest writes: sizes from the file entries or image headers, clipping,
    // degenerate shapes and unknown classes left out. Without a downloader, an image whose size is
    // unknown is checked against an unbounded image (nothing clipped, nothing outside).
    const reader = new EventReader<E>(new IdSizeMap(), source.fetchFile)
    const categories = new CategoryTable(undefined)
    const scratch = scratchSource()
    const g = preparedOut()
    const count = (read: EventRead): void => {
      events++
      const du = read.imageId
      if (du === undefined) {
        withoutUnit++
        return
      }
      const event = read.event
      const version = event.ground_truth_dataset_version ?? null
      if (version === null) withoutVersion++
      let acc = units.get(du)
      if (!acc) units.set(du, acc = { classes: new Map(), events: 0, version })
      acc.events++
      if (version !== acc.version) {
        if (rank(version) >= rank(acc.version)) return
        acc.version = version
        acc.classes = new Map()
      }
      // An event the export skips as a whole (an unreadable data_meta file) adds no annotations.
      if (read.skip !== undefined) return
      const width = read.width ?? Infinity, height = read.height ?? Infinity
      const classes = acc.classes
      forEachAnnotation(read, scratch, (a) => {
        if (prepareInto(a, width, height, g) !== undefined) return
        const name = categories.nameOf(a)
        if (name === undefined) return
        categories.indexOf(name, a)
        classes.set(name, (classes.get(name) ?? 0) + 1)
      })
    }
    yield* source.events.pipe(
      Stream.runForEachChunk((chunk) =>
        Effect.gen(function*() {
          const page = Chunk.toReadonlyArray(chunk)
          const reads: Array<EventRead> = new Array(page.length)
          const pending: Array<Effect.Effect<void, E>> = []
          page.forEach((event, i) => {
            const r = reader.read(event, eventImage(event), "all", false)
            if (Effect.isEffect(r)) pending.push(Effect.map(r, (done) => void (reads[i] = done)))
            else reads[i] = r
          })
          yield* Effect.all(pending, { concurrency: 8, discard: true })
          // Counted in event order, so that a unit's version is decided as the events come.
          for (const read of reads) count(read)
          run.onProgress?.({ eventsRead: events, images: units.size })
        })
      )
    )
    if (units.size === 0) {
      const versions = source.inputs.dataset_versions ?? []
      const what = versions.length > 1
        ? `dataset versions ${versions.join(", ")} have`
        : versions.length === 1
        ? `dataset version ${versions[0]} has`
        : `project ${source.inputs.project} has`
      const unitless = withoutUnit === 0 ? "" : ` (${withoutUnit} event${withoutUnit === 1 ? "" : "s"} without either)`
      return yield* new SplitError({
        detail: `nothing to split: ${what} no ground-truth events with a data unit or an image file${unitless}`
      })
    }
    const unitList: Array<SplitUnit> = [...units.entries()].map(([id, acc]) => ({ id, classes: acc.classes }))
    const assignment = assignSplits(unitList, ratios, method, seed)
    const dev = deviations(unitList, assignment, ratios)
    const imageDev = imageDeviations(assignment, ratios)

    const splits: Record<string, MutableSplit> = {}
    for (const [name] of ratios) {
      splits[name] = { data_units: [], images: 0, events: 0, annotations: 0, class_counts: {} }
    }
    let annotations = 0
    for (const [id, acc] of [...units.entries()].sort((a, b) => a[0] - b[0])) {
      const s = splits[assignment.get(id)!]!
      s.data_units.push(id)
      s.images++
      s.events += acc.events
      for (const [l, n] of acc.classes) {
        s.class_counts[l] = (s.class_counts[l] ?? 0) + n
        s.annotations += n
        annotations += n
      }
    }
    for (const s of Object.values(splits)) {
      const sorted: Record<string, number> = {}
      for (const l of Object.keys(s.class_counts).sort()) sorted[l] = s.class_counts[l]!
      s.class_counts = sorted
    }
    const seen = new Set<number>()
    let leaked = 0
    for (const s of Object.values(splits)) {
      for (const id of s.data_units) {
        if (seen.has(id)) leaked++
        else seen.add(id)
      }
    }

    const ratioRecord = Object.fromEntries(ratios)
    const sha = assignmentHash(assignment)
    const manifest: SplitManifest = {
      format: MANIFEST_FORMAT,
      method,
      seed,
      ratios: ratioRecord,
      inputs: {
        ...(source.inputs.project !== undefined ? { project: source.inputs.project } : {}),
        ...(source.inputs.dataset_versions !== undefined
          ? { dataset_versions: [...source.inputs.dataset_versions] }
          : {})
      },
      assignment_sha256: sha,
      max_deviation: dev.max,
      deviations: dev.byClass,
      image_deviations: imageDev.bySplit,
      splits
    }
    const dryRun = input.dryRun === true
    let written: string | null = null
    if (!dryRun && input.manifestPath !== undefined) {
      const target = Path.resolve(input.manifestPath)
      const tmp = `${target}.tmp-${process.pid}-${Date.now()}`
      yield* Effect.tryPromise({
        try: async () => {
          await makeDirectory(Path.dirname(target))
          await Fsp.writeFile(tmp, JSON.stringify(manifest, null, 2) + "\n")
          await Fsp.rename(tmp, target)
        },
        catch: (e) =>
          new SplitError({ detail: `cannot write the split manifest: ${(e as Error).message}`, path: target })
      }).pipe(Effect.onError(() => Effect.promise(() => Fsp.rm(tmp, { force: true }))))
      written = target
    }
    const notes: Array<string> = []
    // Over a project, a unit's events in several versions are told apart by their version only;
    // a backend answering the evidenced fields sends none, so each version's copy is counted.
    const versionsListed = source.inputs.dataset_versions !== undefined && source.inputs.dataset_versions.length === 1
    if (withoutVersion > 0 && !versionsListed) {
      notes.push(
        `${withoutVersion} of ${events} events do not say their dataset version, so a data unit's annotations are counted once per version ` +
          "that holds it (versions repeat most units): split by datasetVersionIds (--dataset-version) for counts from one version each"
      )
      yield* Effect.logWarning(`split: ${notes[notes.length - 1]}`)
    }
    if (imageDev.max >= 1) {
      // Only `hash` can get here: the other methods hold every split within one image of its share.
      notes.push(
        `image counts are up to ${imageDev.max} images from the ratios: ${method} places each image by its own hash ` +
          "so that assignments never move when the dataset grows, which follows the ratios on average only; " +
          "use stratified or random for counts within one image"
      )
    }
    if (withoutUnit > 0) {
      notes.push(`${withoutUnit} events naming neither a data unit nor an image file were left out`)
      yield* Effect.logWarning(`split: ${notes[notes.length - 1]}`)
    }
    const summary: SplitSummary = {
      method,
      seed,
      ratios: ratioRecord,
      total: { images: units.size, events, annotations },
      splits: Object.fromEntries(
        Object.entries(splits).map((
          [k, s]
        ) => [k, { images: s.images, events: s.events, annotations: s.annotations, class_counts: s.class_counts }])
      ),
      maxDeviation: dev.max,
      deviations: dev.byClass,
      imageDeviations: imageDev.bySplit,
      maxImageDeviation: imageDev.max,
      leakedImages: leaked,
      assignmentSha256: sha,
      manifestPath: written,
      dryRun,
      ...(notes.length > 0 ? { notes } : {})
    }
    return { summary, manifest }
  }).pipe(Effect.withSpan("Workflows.splitEvents"))

// ---------------------------------------------------------------------------------------------
// Over the SDK

/**
 * The official SDK's `prepare_training_data(project_id, split_ratio)`, reproducible and leak-free: splits
 * the events of a project or of dataset versions by data unit and writes the manifest.
 */
export const prepareTrainingData = Effect.fn("Workflows.prepareTrainingData")(
  function*(input: PrepareTrainingDataInput, run: SplitRun = {}) {
    const gt = yield* GroundTruths
    const cache = yield* FileCache
    const hasVersions = input.datasetVersionIds !== undefined && input.datasetVersionIds.length > 0
    if (input.project === undefined && !hasVersions) {
      return yield* new SplitError({ detail: "give a project or datasetVersionIds to split" })
    }
    // An unknown version lists no events; looked up, it fails with NotFoundError naming it.
    if (hasVersions) {
      yield* Effect.forEach(input.datasetVersionIds!, (id) => gt.getVersion(id), { concurrency: 4, discard: true })
    }
    const options = { pageSize: MAX_PAGE_SIZE, prefetch: 4, urlConversion: false } as const
    const versionIds = hasVersions ? [...new Set(input.datasetVersionIds!)] : []
    // Several versions are listed one after another, so that an event that does not say its version
    // (a backend answering only the evidenced fields) is known to belong to the one being listed:
    // a unit's classes come from one version only (see versionRank).
    const { stream: events } = hasVersions
      ? yield* versionEvents(versionIds, options, false)
      : { stream: gt.streamEvents({ project: input.project! }, options) }
    const fetchFile = (entry: FileEntry) => cache.download(entry.url!, { size: entry.size, checksum: entry.checksum })
    const inputs = hasVersions ? { dataset_versions: input.datasetVersionIds! } : { project: input.project! }
    return yield* splitEvents({ events, fetchFile, inputs }, input, run)
  }
)
