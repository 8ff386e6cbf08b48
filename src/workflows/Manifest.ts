/**
 * The split manifest: which data unit belongs to which split, how the split was made (method,
 * seed, ratios, inputs) and what each split holds. `prepareTrainingData` writes it; the exporter
 * reads it to write per-split files. Its `assignment_sha256` identifies the assignment itself, so
 * two manifests can be compared without diffing id lists.
 */
import { Effect, Schema } from "effect"
import { createHash } from "node:crypto"
import * as Fsp from "node:fs/promises"
import { firstIssue } from "../schemas/FirstIssue.js"

/** The manifest format tag; bumped if the layout changes. */
export const MANIFEST_FORMAT = "synapse-ml/split-manifest@1"

/** The split names a manifest may use. */
export const SPLIT_NAMES = ["train", "validation", "test"] as const
export const SplitName = Schema.Literal(...SPLIT_NAMES)
export type SplitName = typeof SplitName.Type

/** How a split was computed. */
export const SPLIT_METHODS = ["stratified", "random", "hash"] as const
export const SplitMethod = Schema.Literal(...SPLIT_METHODS)
export type SplitMethod = typeof SplitMethod.Type

/** One split's contents. */
export const ManifestSplit = Schema.Struct({
  /**
   * Data unit ids; for events that name no data unit, the id derived from the image file they name
   * (2^52 and up, see `syntheticImageId`), which the export gives the same image.
   */
  data_units: Schema.Array(Schema.Int),
  images: Schema.Int,
  events: Schema.Int,
  annotations: Schema.Int,
  class_counts: Schema.Record({ key: Schema.String, value: Schema.Int })
})
export type ManifestSplit = typeof ManifestSplit.Type

/** A split's image count against its ratio: the count `ratio × total`, and how far the split is from it. */
export const ImageDeviation = Schema.Struct({
  images: Schema.Int,
  target: Schema.Number.annotations({ description: "ratio × all images (2 decimals)" }),
  deviation: Schema.Number.annotations({ description: "images − target (2 decimals): positive means more images" })
})
export type ImageDeviation = typeof ImageDeviation.Type

/** The manifest document. */
export const SplitManifest = Schema.Struct({
  format: Schema.Literal(MANIFEST_FORMAT),
  method: SplitMethod,
  seed: Schema.Union(Schema.Int, Schema.String),
  ratios: Schema.Record({ key: Schema.String, value: Schema.Number }),
  inputs: Schema.Struct({
    project: Schema.optional(Schema.Int),
    dataset_versions: Schema.optional(Schema.Array(Schema.Int))
  }),
  assignment_sha256: Schema.String,
  max_deviation: Schema.Number,
  deviations: Schema.Record({ key: Schema.String, value: Schema.Record({ key: Schema.String, value: Schema.Number }) }),
  /** Each split's image count against its ratio (optional, so that every manifest of this format decodes). */
  image_deviations: Schema.optional(Schema.Record({ key: Schema.String, value: ImageDeviation })),
  splits: Schema.Record({ key: Schema.String, value: ManifestSplit })
})
export type SplitManifest = typeof SplitManifest.Type

/** A manifest file is missing, unreadable or not a manifest. */
export class ManifestError extends Schema.TaggedError<ManifestError>()("ManifestError", {
  path: Schema.String,
  detail: Schema.String
}) {}

/**
 * The sha256 of an assignment, over `id:split` lines in id order: equal exactly when two
 * assignments put every data unit in the same split.
 */
export const assignmentHash = (assignment: ReadonlyMap<number, string>): string => {
  const ids = [...assignment.keys()].sort((a, b) => a - b)
  const h = createHash("sha256")
  for (const id of ids) h.update(`${id}:${assignment.get(id)}\n`)
  return h.digest("hex")
}

/** Data unit id → split name, from a manifest. */
export const assignmentOf = (manifest: SplitManifest): Map<number, string> => {
  const out = new Map<number, string>()
  for (const [split, s] of Object.entries(manifest.splits)) for (const id of s.data_units) out.set(id, split)
  return out
}

const decodeManifest = Schema.decodeUnknown(SplitManifest)

/** Reads and checks a manifest file. */
export const readManifest = Effect.fn("Manifest.read")(function*(path: string) {
  const text = yield* Effect.tryPromise({
    try: () => Fsp.readFile(path, "utf8"),
    catch: (e) => new ManifestError({ path, detail: `cannot read split manifest ${path}: ${(e as Error).message}` })
  })
  const json = yield* Effect.try({
    try: () => JSON.parse(text) as unknown,
    catch: (e) => new ManifestError({ path, detail: `split manifest ${path} is not JSON: ${(e as Error).message}` })
  })
  return yield* decodeManifest(json).pipe(
    Effect.mapError((e) => {
      const issue = firstIssue(e)
      const where = issue.where !== undefined ? ` at ${issue.where}` : ""
      return new ManifestError({
        path,
        detail: `${path} is not a split manifest (${MANIFEST_FORMAT})${where}: ${issue.message}`
      })
    })
  )
})
