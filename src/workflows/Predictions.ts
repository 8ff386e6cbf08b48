/**
 * Reading a model's predictions so that metrics can be computed from them:
 * - detection: a COCO results file, `[{image_id, category_id, bbox: [x, y, w, h], score}]`, where
 *   `image_id` is the data unit id (as in our COCO export); a JSON array or one object per line;
 * - classification: JSONL `{data_unit, label}` (or a JSON array of those), where `data_unit` is
 *   the data unit id or its file name (`file_name` is accepted as a synonym).
 *
 * A file that is not JSON/JSONL at all, or has no usable row, is a `PredictionsError`. Individual
 * bad rows (a box of non-positive size, a score outside [0, 1], an unknown category or data unit)
 * are skipped and counted by reason with the first row numbers, so a metric is never computed
 * silently from less than what was given.
 */
import { Schema } from "effect"

/** The predictions file cannot be used at all. */
export class PredictionsError extends Schema.TaggedError<PredictionsError>()("PredictionsError", {
  /** What is wrong, in words a person can act on. */
  detail: Schema.String,
  /** 1-based line (JSONL) or array index + 1 (JSON) of the offending row, when one is to blame. */
  row: Schema.optional(Schema.Int)
}) {
  override get message(): string {
    return this.row === undefined ? this.detail : `${this.detail} (row ${this.row})`
  }
}

/** Why a prediction row was left out. */
export const PREDICTION_SKIP_REASONS = [
  "not_an_object",
  "invalid_image_id",
  "invalid_category_id",
  "invalid_bbox",
  "non_positive_size",
  "invalid_score",
  "score_out_of_range",
  "invalid_data_unit",
  "invalid_label",
  "unknown_image",
  "unknown_category",
  "unknown_data_unit",
  "duplicate_prediction"
] as const
export type PredictionSkipReason = (typeof PREDICTION_SKIP_REASONS)[number]

/** Skipped rows of one reason: how many, and the first few row numbers (1-based). */
export const SkippedReason = Schema.Struct({
  count: Schema.Int,
  rows: Schema.Array(Schema.Int)
})
/** Skipped rows by reason. */
export const SkippedRows = Schema.Struct({
  total: Schema.Int,
  byReason: Schema.Record({ key: Schema.String, value: SkippedReason })
})
export type SkippedRows = typeof SkippedRows.Type

const EXAMPLE_ROWS = 5

/** Collects skipped rows by reason. */
export class SkipCounter {
  private readonly byReason = new Map<PredictionSkipReason, { count: number; rows: Array<number> }>()
  private total = 0
  /** Records that `row` (1-based) was skipped for `reason`. */
  add(reason: PredictionSkipReason, row: number): void {
    this.total++
    const entry = this.byReason.get(reason)
    if (entry === undefined) this.byReason.set(reason, { count: 1, rows: [row] })
    else {
      entry.count++
      if (entry.rows.length < EXAMPLE_ROWS) entry.rows.push(row)
    }
  }
  /** Adds every skip of another counter. */
  merge(other: SkippedRows): void {
    for (const [reason, { count, rows }] of Object.entries(other.byReason)) {
      const entry = this.byReason.get(reason as PredictionSkipReason)
      this.total += count
      if (entry === undefined) this.byReason.set(reason as PredictionSkipReason, { count, rows: [...rows] })
      else {
        entry.count += count
        for (const r of rows) if (entry.rows.length < EXAMPLE_ROWS) entry.rows.push(r)
      }
    }
  }
  /** The counts so far. */
  result(): SkippedRows {
    const byReason: Record<string, { count: number; rows: Array<number> }> = {}
    for (const [reason, entry] of this.byReason) byReason[reason] = { count: entry.count, rows: [...entry.rows] }
    return { total: this.total, byReason }
  }
}

/** A structurally valid detection row, with its row number for later skip reports. */
export interface DetectionRow {
  readonly row: number
  readonly image_id: number
  readonly category_id: number
  readonly bbox: readonly [number, number, number, number]
  readonly score: number
}

/** A structurally valid classification row. `data_unit` is an id or a file name. */
export interface ClassificationRow {
  readonly row: number
  readonly data_unit: number | string
  readonly label: string
  readonly score?: number
}

/** Rows parsed from a file, and the rows skipped on the way. */
export interface Parsed<A> {
  readonly rows: ReadonlyArray<A>
  readonly skipped: SkippedRows
  readonly format: "json" | "jsonl"
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Splits a text into JSON values: a JSON array (its elements), or JSON Lines (one value per
 * non-empty line). Fails on anything else, naming the first line that is not JSON.
 */
export const parseJsonRows = (
  text: string,
  name = "predictions"
): { values: ReadonlyArray<unknown>; format: "json" | "jsonl" } | PredictionsError => {
  const trimmed = text.replace(/^\uFEFF/, "").trim()
  if (trimmed === "") return new PredictionsError({ detail: `${name} is empty: expected a JSON array or JSON Lines` })
  if (trimmed.startsWith("[")) {
    try {
      const value: unknown = JSON.parse(trimmed)
      if (Array.isArray(value)) return { values: value, format: "json" }
    } catch (e) {
      return new PredictionsError({
        detail: `${name} starts like a JSON array but is not valid JSON: ${(e as Error).message}`
      })
    }
  }
  const values: Array<unknown> = []
  const lines = trimmed.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim()
    if (line === "") continue
    try {
      values.push(JSON.parse(line))
    } catch {
      // A single JSON object spanning lines (e.g. a COCO dataset file given by mistake).
      if (i === 0 && trimmed.startsWith("{")) {
        try {
          const whole: unknown = JSON.parse(trimmed)
          const hint = isRecord(whole) && Array.isArray(whole.annotations)
            ? ": this looks like a COCO dataset; give the results array (its detections) instead"
            : ""
          return new PredictionsError({ detail: `${name} is one JSON object, not an array or JSON Lines${hint}` })
        } catch {
          // fall through to the line error
        }
      }
      return new PredictionsError({
        detail: `${name} is neither a JSON array nor JSON Lines: line ${i + 1} is not JSON (${line.slice(0, 60)}${
          line.length > 60 ? "…" : ""
        })`,
        row: i + 1
      })
    }
  }
  if (values.length === 1 && isRecord(values[0]) && Array.isArray((values[0] as Record<string, unknown>).annotations)) {
    return new PredictionsError({
      detail: `${name} looks like a COCO dataset; give the results array (its detections) instead`
    })
  }
  return { values, format: "jsonl" }
}

const isInt = (u: unknown): u is number => typeof u === "number" && Number.isInteger(u)

/**
 * The loop both parsers share: every value of the file becomes a row or a counted skip. `check`
 * sees each object with its 1-based row number and answers the row, or `skip(reason)`.
 */
const parseRows = <Row>(
  text: string,
  name: string,
  check: (v: Record<string, unknown>, row: number, skip: (reason: PredictionSkipReason) => undefined) => Row | undefined
): Parsed<Row> | PredictionsError => {
  const parsed = parseJsonRows(text, name)
  if (parsed instanceof PredictionsError) return parsed
  const skips = new SkipCounter()
  const rows: Array<Row> = []
  parsed.values.forEach((v, i) => {
    const row = i + 1
    if (!isRecord(v)) return skips.add("not_an_object", row)
    const out = check(v, row, (reason) => {
      skips.add(reason, row)
      return undefined
    })
    if (out !== undefined) rows.push(out)
  })
  return { rows, skipped: skips.result(), format: parsed.format }
}

/** Parses detection predictions (COCO results). Fails only when the file as a whole is unusable. */
export const parseDetections = (text: string, name = "predictions"): Parsed<DetectionRow> | PredictionsError =>
  parseRows<DetectionRow>(text, name, (v, row, skip) => {
    if (!isInt(v.image_id)) return skip("invalid_image_id")
    if (!isInt(v.category_id)) return skip("invalid_category_id")
    const b = v.bbox
    if (!Array.isArray(b) || b.length !== 4 || !b.every((x) => typeof x === "number" && Number.isFinite(x))) {
      return skip("invalid_bbox")
    }
    if (b[2] <= 0 || b[3] <= 0) return skip("non_positive_size")
    if (typeof v.score !== "number" || !Number.isFinite(v.score)) return skip("invalid_score")
    if (v.score < 0 || v.score > 1) return skip("score_out_of_range")
    return { row, image_id: v.image_id, category_id: v.category_id, bbox: [b[0], b[1], b[2], b[3]], score: v.score }
  })

/** Parses classification predictions (`{data_unit, label}` rows). */
export const parseClassifications = (
  text: string,
  name = "predictions"
): Parsed<ClassificationRow> | PredictionsError =>
  parseRows<ClassificationRow>(text, name, (v, row, skip) => {
    const unit = v.data_unit ?? v.file_name
    const ref = isRecord(unit) ? unit.id : unit
    if (!((isInt(ref) && ref > 0) || (typeof ref === "string" && ref.length > 0))) return skip("invalid_data_unit")
    const label = v.label ?? v.prediction ?? v.class
    if (typeof label !== "string" || label.length === 0) return skip("invalid_label")
    if (v.score !== undefined) {
      if (typeof v.score !== "number" || !Number.isFinite(v.score)) return skip("invalid_score")
      if (v.score < 0 || v.score > 1) return skip("score_out_of_range")
      return { row, data_unit: ref, label, score: v.score }
    }
    return { row, data_unit: ref, label }
  })

/** Guard used by callers: a file with rows but none usable is an error, not "no predictions". */
export const requireUsable = <A>(
  parsed: Parsed<A>,
  usable: number,
  name = "predictions"
): PredictionsError | undefined => {
  if (usable > 0) return undefined
  const reasons = Object.entries(parsed.skipped.byReason)
    .map(([reason, { count, rows }]) => `${reason} ×${count} (rows ${rows.join(", ")})`)
    .join("; ")
  return new PredictionsError({
    detail: parsed.skipped.total === 0
      ? `${name} has no rows`
      : `${name} has no usable row: all ${parsed.skipped.total} were skipped: ${reasons}`
  })
}
