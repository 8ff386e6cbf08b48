/**
 * The split algorithms on synthetic data: determinism, grouping by data unit (the official SDK's unseeded
 * event split leaked images into both sets), stratification quality, stability of the `hash`
 * method as the dataset grows, and the manifest written atomically (or not at all on a dry run).
 * The demo-data checks (≤ 0.05 deviation, export by manifest) are in Golden.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema, Stream } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import type { GroundTruthEvent } from "../../src/schemas/GroundTruth.js"
import { assignmentHash } from "../../src/workflows/Manifest.js"
import {
  assignSplits,
  balanceImageCounts,
  deviations,
  imageDeviations,
  PrepareTrainingDataInput,
  prng,
  splitEvents,
  type SplitUnit,
  targetCounts
} from "../../src/workflows/Split.js"

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "split-test-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

const CLASSES = ["car", "person", "bike", "truck", "bus", "dog"]
const WEIGHTS = [0.4, 0.25, 0.12, 0.1, 0.08, 0.05]
const makeUnits = (count: number, seed: number, firstId = 1): Array<SplitUnit> => {
  const rand = prng(seed)
  return Array.from({ length: count }, (_, i) => {
    const classes = new Map<string, number>()
    const objects = 1 + Math.floor(rand() * 5)
    for (let k = 0; k < objects; k++) {
      let r = rand()
      let c = 0
      while (c < 5 && r > WEIGHTS[c]!) r -= WEIGHTS[c++]!
      classes.set(CLASSES[c]!, (classes.get(CLASSES[c]!) ?? 0) + 1)
    }
    return { id: firstId + i * 3, classes }
  })
}
const RATIOS = [["train", 0.7], ["validation", 0.2], ["test", 0.1]] as const

describe("assignSplits", () => {
  it("same seed and data give the same split, whatever the input order; another seed another split", () => {
    const units = makeUnits(300, 1)
    for (const method of ["stratified", "random", "hash"] as const) {
      const a = assignSplits(units, RATIOS, method, 42)
      const b = assignSplits([...units].reverse(), RATIOS, method, 42)
      expect(assignmentHash(b)).toBe(assignmentHash(a))
      expect(assignmentHash(assignSplits(units, RATIOS, method, 43))).not.toBe(assignmentHash(a))
      expect(a.size).toBe(units.length)
    }
  })

  it("stratified keeps every class's share close to the target, much closer than a random cut", () => {
    const units = makeUnits(400, 2)
    const strat = deviations(units, assignSplits(units, RATIOS, "stratified", 1), RATIOS).max
    const random = deviations(units, assignSplits(units, RATIOS, "random", 1), RATIOS).max
    expect(strat).toBeLessThanOrEqual(0.03)
    expect(strat).toBeLessThan(random)
  })

  it("random cuts image counts at the ratios", () => {
    const units = makeUnits(200, 3)
    const a = assignSplits(units, RATIOS, "random", 5)
    const count = (s: string) => [...a.values()].filter((x) => x === s).length
    expect([count("train"), count("validation"), count("test")]).toEqual([140, 40, 20])
  })

  it("hash: assignments of existing units never move when the dataset grows", () => {
    const before = makeUnits(200, 4)
    const grown = [...before, ...makeUnits(300, 5, 10_000)]
    const a = assignSplits(before, RATIOS, "hash", "s")
    const b = assignSplits(grown, RATIOS, "hash", "s")
    for (const [id, split] of a) expect(b.get(id)).toBe(split)
    // and it is still roughly at the ratios
    const train = [...b.values()].filter((s) => s === "train").length / b.size
    expect(Math.abs(train - 0.7)).toBeLessThan(0.06)
  })
})

describe("image counts", () => {
  const unit = (id: number, classes: Record<string, number>): SplitUnit => ({
    id,
    classes: new Map(Object.entries(classes))
  })

  it("targets: ratio × n rounded by largest remainder, adding up to n, ties to the split listed first", () => {
    expect(targetCounts(10, RATIOS)).toStrictEqual([7, 2, 1])
    expect(targetCounts(7, [["train", 0.5], ["validation", 0.5]])).toStrictEqual([4, 3])
    // 3.5, 1, 0.5: floors 3, 1, 0; the one image left goes to train (tied with test, listed first).
    expect(targetCounts(5, RATIOS)).toStrictEqual([4, 1, 0])
    // 112, 32, 16 for the demo project's 160 images.
    expect(targetCounts(160, RATIOS)).toStrictEqual([112, 32, 16])
  })

  it("deviations: each split's images against ratio × all images", () => {
    const assignment = new Map<number, string>()
    for (let id = 1; id <= 10; id++) assignment.set(id, id <= 6 ? "train" : id <= 9 ? "validation" : "test")
    expect(imageDeviations(assignment, RATIOS)).toStrictEqual({
      max: 1,
      bySplit: {
        train: { images: 6, target: 7, deviation: -1 },
        validation: { images: 3, target: 2, deviation: 1 },
        test: { images: 1, target: 1, deviation: 0 }
      }
    })
  })

  it("balancing moves, one at a time, the image that costs the class shares least", () => {
    // All four in train, 50/50 asked: two must move. Moving image 1 (class a) halves a's share
    // error, as would 2, 3 or 4: the lowest id goes. Then moving 2 would empty a from train, while
    // moving 3 balances b: 3 goes.
    const units = [unit(1, { a: 1 }), unit(2, { a: 1 }), unit(3, { b: 1 }), unit(4, { b: 1 })]
    const out = new Map(units.map((u) => [u.id, "train"]))
    const ratios = [["train", 0.5], ["validation", 0.5]] as const
    balanceImageCounts(units, out, ratios, ["a", "b"], new Map([["a", 2], ["b", 2]]))
    expect([...out]).toStrictEqual([[1, "validation"], [2, "train"], [3, "validation"], [4, "train"]])
  })

  it("an image without annotations moves first: it costs the class shares nothing", () => {
    const units = [unit(1, { a: 1 }), unit(2, { a: 1 }), unit(3, {})]
    const out = new Map<number, string>([[1, "train"], [2, "validation"], [3, "train"]])
    balanceImageCounts(units, out, [["train", 1 / 3], ["validation", 2 / 3]], ["a"], new Map([["a", 2]]))
    expect([...out]).toStrictEqual([[1, "train"], [2, "validation"], [3, "validation"]])
  })

  it("stratified and random hold every split within one image of its ratio, for any seed; hash says why not", () => {
    for (const seed of [1, 2, 3, 7, 42]) {
      const units = makeUnits(160 + seed, seed)
      for (const method of ["stratified", "random"] as const) {
        const assignment = assignSplits(units, RATIOS, method, seed)
        expect(imageDeviations(assignment, RATIOS).max).toBeLessThan(1)
        // The same seed gives the same split.
        expect(assignmentHash(assignSplits(units, RATIOS, method, seed))).toBe(assignmentHash(assignment))
      }
      // Balancing costs little class balance.
      expect(deviations(units, assignSplits(units, RATIOS, "stratified", seed), RATIOS).max).toBeLessThan(0.05)
    }
  })
})

describe("splitEvents", () => {
  let id = 0
  const ev = (dataUnit: number, classes: ReadonlyArray<string>): GroundTruthEvent => ({
    id: ++id,
    ground_truth_dataset_version: 1,
    category: "train",
    data: { annotations: classes.map((c) => ({ category: c, bbox: [0, 0, 1, 1] })) },
    data_unit: { id: dataUnit }
  })
  // Three annotation passes per image: an event-level shuffle would put most images in both sets.
  const events = Array.from(
    { length: 120 },
    (_, i) => [ev(i + 1, ["car"]), ev(i + 1, ["person"]), ev(i + 1, i % 3 === 0 ? ["dog"] : [])]
  ).flat()

  it.effect("groups by data unit: no image in two splits; counts add up", () =>
    Effect.gen(function*() {
      const manifestPath = Path.join(dir, "m.json")
      const { manifest, summary } = yield* splitEvents(
        { events: Stream.fromIterable(events), inputs: { project: 1 } },
        { seed: 3, manifestPath, splitRatio: 0.8 }
      )
      const train = new Set(manifest.splits.train!.data_units)
      expect(manifest.splits.validation!.data_units.some((u) => train.has(u))).toBe(false)
      expect(summary.total).toEqual({ images: 120, events: 360, annotations: 280 })
      expect(summary.splits.train!.images + summary.splits.validation!.images).toBe(120)
      expect(summary.splits.train!.events).toBe(summary.splits.train!.images * 3)
      expect(summary.leakedImages).toBe(0)
      const onDisk = JSON.parse(Fs.readFileSync(manifestPath, "utf8"))
      expect(onDisk).toEqual(manifest)
      expect(onDisk).toMatchObject({
        format: "synapse-ml/split-manifest@1",
        seed: 3,
        method: "stratified",
        inputs: { project: 1 }
      })
      expect(Fs.readdirSync(dir).filter((f) => f.includes(".tmp"))).toEqual([])
    }))

  it.effect("the summary and the manifest report each split's images against its ratio; hash says why it drifts", () =>
    Effect.gen(function*() {
      const { manifest, summary } = yield* splitEvents(
        { events: Stream.fromIterable(events), inputs: { project: 1 } },
        { seed: 1, ratios: { train: 0.7, validation: 0.2, test: 0.1 }, dryRun: true }
      )
      // 120 images: 84 / 24 / 12 exactly.
      const exact = {
        train: { images: 84, target: 84, deviation: 0 },
        validation: { images: 24, target: 24, deviation: 0 },
        test: { images: 12, target: 12, deviation: 0 }
      }
      expect(summary.imageDeviations).toStrictEqual(exact)
      expect(summary.maxImageDeviation).toBe(0)
      expect(manifest.image_deviations).toStrictEqual(exact)
      expect(summary.notes).toBeUndefined()
      const hashed = yield* splitEvents(
        { events: Stream.fromIterable(events), inputs: { project: 1 } },
        { seed: 1, ratios: { train: 0.7, validation: 0.2, test: 0.1 }, method: "hash", dryRun: true }
      )
      const drift = Object.values(hashed.summary.imageDeviations).map((d) => Math.abs(d.deviation))
      expect(hashed.summary.maxImageDeviation).toBe(Math.max(...drift))
      expect(hashed.summary.maxImageDeviation).toBeGreaterThanOrEqual(1)
      expect(hashed.summary.notes?.join(" ")).toContain("hash places each image by its own hash")
    }))

  it.effect("a dry run returns the summary and writes nothing", () =>
    Effect.gen(function*() {
      const manifestPath = Path.join(dir, "dry.json")
      const { summary } = yield* splitEvents({ events: Stream.fromIterable(events), inputs: { project: 1 } }, {
        manifestPath,
        dryRun: true
      })
      expect(summary.dryRun).toBe(true)
      expect(summary.manifestPath).toBeNull()
      expect(Fs.existsSync(manifestPath)).toBe(false)
    }))

  it.effect("a data unit in several versions is counted from one: the first listed, or over a project the newest", () =>
    Effect.gen(function*() {
      // Unit 1 in versions 4 and 5 (a snapshot with one more box), unit 2 only in 4; the stream
      // brings the older version first, as a project listing ordered by event id does.
      const inVersion = (version: number, e: GroundTruthEvent): GroundTruthEvent => ({
        ...e,
        ground_truth_dataset_version: version
      })
      const versioned = [
        inVersion(4, ev(1, ["car"])),
        inVersion(4, ev(1, ["person"])), // a second pass in the same version: counted
        inVersion(4, ev(2, ["dog"])),
        inVersion(5, ev(1, ["car", "person", "bus"]))
      ]
      const totalOf = (inputs: { project?: number; dataset_versions?: Array<number> }) =>
        splitEvents({ events: Stream.fromIterable(versioned), inputs }, { dryRun: true }).pipe(
          Effect.map(({ summary }) => summary.total)
        )
      expect(yield* totalOf({ project: 1 })).toEqual({ images: 2, events: 4, annotations: 4 })
      expect(yield* totalOf({ dataset_versions: [4, 5] })).toEqual({ images: 2, events: 4, annotations: 3 })
      expect(yield* totalOf({ dataset_versions: [5, 4] })).toEqual({ images: 2, events: 4, annotations: 4 })
    }))

  it.effect("nothing to split is an error naming the source, not an empty manifest", () =>
    Effect.gen(function*() {
      const manifestPath = Path.join(dir, "empty.json")
      const noUnit: GroundTruthEvent = { ...ev(1, ["car"]), data_unit: null }
      const error = yield* Effect.flip(
        splitEvents({ events: Stream.fromIterable([noUnit]), inputs: { project: 9 } }, { manifestPath })
      )
      expect(error.detail).toBe(
        "nothing to split: project 9 has no ground-truth events with a data unit or an image file (1 event without either)"
      )
      const none = yield* Effect.flip(
        splitEvents({ events: Stream.empty, inputs: { dataset_versions: [4, 5] } }, { manifestPath })
      )
      expect(none.detail).toBe(
        "nothing to split: dataset versions 4, 5 have no ground-truth events with a data unit or an image file"
      )
      expect(Fs.existsSync(manifestPath)).toBe(false)
    }))

  it("rejects ratios that do not add up to 1", () => {
    const decode = Schema.decodeUnknownEither(PrepareTrainingDataInput)
    expect(Either.isLeft(decode({ ratios: { train: 0.8, validation: 0.3 } }))).toBe(true)
    expect(Either.isRight(decode({ ratios: { train: 0.7, validation: 0.2, test: 0.1 } }))).toBe(true)
    expect(Either.isLeft(decode({ splitRatio: 1 }))).toBe(true)
  })
})
