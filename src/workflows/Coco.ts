/**
 * The COCO object-detection format: its record types, and a validator usable on any COCO file
 * (ours or a user's) that catches what breaks pycocotools and training frameworks in practice:
 * ids of 0 (pycocotools treats id 0 as "no match" and counts perfect detections as false
 * positives), empty `categories`, zero areas, dangling references, malformed boxes and polygons,
 * RLE sizes in the wrong order, duplicate image entries.
 *
 * Files are read as a stream (`CocoScanner` parses one array element at a time), so validating a
 * file with millions of annotations needs memory for the id sets only, not for the document.
 */
import { Effect, Schema } from "effect"
import * as Fs from "node:fs"
import { StringDecoder } from "node:string_decoder"
import { openRegularFile } from "../services/RegularFile.js"
import { HashedStringSet, IdSet, IdSizeMap } from "./IdSet.js"

/** An entry of COCO `images`. */
export interface CocoImage {
  readonly id: number
  readonly file_name: string
  readonly width: number
  readonly height: number
  readonly license?: number
  readonly date_captured?: string
}

/** An entry of COCO `categories`. */
export interface CocoCategory {
  readonly id: number
  readonly name: string
  readonly supercategory?: string
}

/** An entry of COCO `annotations`. `segmentation` is absent for box-only annotations. */
export interface CocoAnnotation {
  readonly id: number
  readonly image_id: number
  readonly category_id: number
  readonly bbox: readonly [number, number, number, number]
  readonly area: number
  readonly iscrowd: 0 | 1
  readonly segmentation?: ReadonlyArray<ReadonlyArray<number>> | {
    readonly size: readonly [number, number]
    readonly counts: string | ReadonlyArray<number>
  }
}

/** The rules the validator checks; each finding names one. */
export const COCO_RULES = [
  "structure",
  "id_positive",
  "id_unique",
  "image_ref",
  "category_ref",
  "categories_nonempty",
  "category_name",
  "image_size",
  "file_name",
  "file_name_unique",
  "bbox_format",
  "bbox_size",
  "bbox_inside",
  "area_positive",
  "polygon_format",
  "segmentation_empty",
  "rle_size",
  "iscrowd_value"
] as const
export const CocoRule = Schema.Literal(...COCO_RULES)
export type CocoRule = typeof CocoRule.Type

/** One problem found: which rule, where (`annotations[12].bbox`), and what to do about it. */
export const CocoFinding = Schema.Struct({
  rule: CocoRule,
  severity: Schema.Literal("error", "warning"),
  path: Schema.String,
  message: Schema.String
})
export type CocoFinding = typeof CocoFinding.Type

/** The validator's verdict: `valid` when no error-severity finding was made. */
export const CocoValidation = Schema.Struct({
  valid: Schema.Boolean,
  images: Schema.Int,
  annotations: Schema.Int,
  categories: Schema.Int,
  errors: Schema.Int,
  warnings: Schema.Int,
  findingCounts: Schema.Record({ key: Schema.String, value: Schema.Int }),
  findings: Schema.Array(CocoFinding),
  truncated: Schema.Boolean.annotations({ description: "true when more findings were made than `findings` lists" })
})
export type CocoValidation = typeof CocoValidation.Type

/** A COCO file could not be read at all (missing, unreadable). Content problems are findings. */
export class CocoFileError extends Schema.TaggedError<CocoFileError>()("CocoFileError", {
  path: Schema.String,
  detail: Schema.String
}) {}

/** Options of the validator. */
export interface ValidateOptions {
  /** At most this many findings are listed (all are counted). Default 200. */
  readonly maxFindings?: number
}

// Room for float noise in `x + w <= width` checks (clipped boxes are computed, then rounded).
const EPS = 1e-6

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)
const isPositiveInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 1
const isFiniteNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v)
const show = (v: unknown): string => {
  const s = JSON.stringify(v)
  return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + "..." : s
}

interface PendingRef {
  readonly index: number
  readonly imageId: number | undefined
  readonly categoryId: number | undefined
  readonly bbox: readonly [number, number, number, number] | undefined
  readonly rleSize: readonly [number, number] | undefined
}

/**
 * The incremental validator: feed it categories, images and annotations one at a time in any
 * order, then `finish()`. References to images or categories not seen yet are kept until their
 * array is complete (our exports write categories and images first, so that list stays empty).
 */
export class CocoChecker {
  private readonly imageIds = new IdSet()
  private readonly sizes = new IdSizeMap()
  private readonly categoryIds = new IdSet()
  private readonly annotationIds = new IdSet()
  private readonly fileNames = new HashedStringSet()
  private readonly pending: Array<PendingRef> = []
  private readonly counts: Record<string, number> = {}
  private readonly findings: Array<CocoFinding> = []
  private readonly maxFindings: number
  private nImages = 0
  private nAnnotations = 0
  private nCategories = 0
  private errors = 0
  private warnings = 0
  private imagesComplete = false
  private categoriesComplete = false
  private readonly seen = new Set<string>()

  constructor(options: ValidateOptions = {}) {
    this.maxFindings = options.maxFindings ?? 200
  }

  /** Records a finding. */
  report(rule: CocoRule, path: string, message: string, severity: "error" | "warning" = "error"): void {
    this.counts[rule] = (this.counts[rule] ?? 0) + 1
    if (severity === "error") this.errors++
    else this.warnings++
    if (this.findings.length < this.maxFindings) this.findings.push({ rule, severity, path, message })
  }

  /** Notes that a top-level key was present (used to report missing `images` etc. at the end). */
  sawKey(key: string, isArray: boolean): void {
    this.seen.add(key)
    if (!isArray && (key === "images" || key === "annotations" || key === "categories")) {
      this.report("structure", key, `"${key}" must be an array`)
    }
  }

  /** Marks the end of the `images` or `categories` array: later references are checked directly. */
  endArray(key: string): void {
    if (key === "images") this.imagesComplete = true
    if (key === "categories") this.categoriesComplete = true
  }

  /** Checks one entry of `categories`. */
  category(value: unknown, index: number): void {
    this.nCategories++
    const path = `categories[${index}]`
    if (!isObject(value)) return this.report("structure", path, "category must be an object")
    this.checkId(value.id, "categories", index, this.categoryIds)
    if (typeof value.name !== "string" || value.name.length === 0) {
      this.report("category_name", `${path}.name`, `category name must be a non-empty string, got ${show(value.name)}`)
    }
  }

  /** Checks one entry of `images`. */
  image(value: unknown, index: number): void {
    this.nImages++
    if (!isObject(value)) return this.report("structure", `images[${index}]`, "image must be an object")
    const fresh = this.checkId(value.id, "images", index, this.imageIds)
    const { height, width } = value
    const sizeOk = isFiniteNumber(width) && isFiniteNumber(height) && width > 0 && height > 0
    if (!sizeOk) {
      this.report(
        "image_size",
        `images[${index}]`,
        `width and height must be positive numbers, got ${show(width)} x ${show(height)}`
      )
    } else if (fresh && isPositiveInt(value.id)) {
      this.sizes.set(value.id, width, height)
    }
    if (typeof value.file_name !== "string" || value.file_name.length === 0) {
      this.report(
        "file_name",
        `images[${index}].file_name`,
        `file_name must be a non-empty string, got ${show(value.file_name)}`
      )
    } else if (!this.fileNames.add(value.file_name)) {
      this.report(
        "file_name_unique",
        `images[${index}].file_name`,
        `another image entry already has file_name ${show(value.file_name)}: one entry per image`
      )
    }
  }

  /** Checks one entry of `annotations`. */
  annotation(value: unknown, index: number): void {
    this.nAnnotations++
    // The path string is built only when something is reported (or a reference must wait): a
    // clean annotation allocates nothing here.
    if (!isObject(value)) return this.report("structure", `annotations[${index}]`, "annotation must be an object")
    this.checkId(value.id, "annotations", index, this.annotationIds)

    let bboxOk = false
    const b = value.bbox
    if (
      !Array.isArray(b) || b.length !== 4 || !isFiniteNumber(b[0]) || !isFiniteNumber(b[1]) || !isFiniteNumber(b[2]) ||
      !isFiniteNumber(b[3])
    ) {
      this.report(
        "bbox_format",
        `annotations[${index}].bbox`,
        `bbox must be [x, y, width, height] of 4 finite numbers, got ${show(b)}`
      )
    } else if (!(b[2] > 0 && b[3] > 0)) {
      this.report("bbox_size", `annotations[${index}].bbox`, `bbox width and height must be positive, got ${show(b)}`)
    } else {
      bboxOk = true
    }

    if (!isFiniteNumber(value.area) || !(value.area > 0)) {
      this.report(
        "area_positive",
        `annotations[${index}].area`,
        `area must be a positive number, got ${show(value.area)}`
      )
    }
    if (value.iscrowd !== 0 && value.iscrowd !== 1) {
      this.report(
        "iscrowd_value",
        `annotations[${index}].iscrowd`,
        `iscrowd must be 0 or 1, got ${show(value.iscrowd)}`
      )
    }

    let rleSize: readonly [number, number] | undefined
    const seg = value.segmentation
    if (Array.isArray(seg)) {
      if (seg.length === 0) {
        this.report(
          "segmentation_empty",
          `annotations[${index}].segmentation`,
          "empty segmentation list: omit the field for box-only annotations",
          "warning"
        )
      }
      for (let k = 0; k < seg.length; k++) {
        const poly: unknown = seg[k]
        if (!Array.isArray(poly) || poly.length < 6 || poly.length % 2 !== 0 || !poly.every(isFiniteNumber)) {
          const n = Array.isArray(poly) ? poly.length : "no"
          this.report(
            "polygon_format",
            `annotations[${index}].segmentation[${k}]`,
            `polygon must be an even list of at least 6 finite numbers (3 points), got ${n} values`
          )
        }
      }
    } else if (isObject(seg)) {
      const size = seg.size
      if (!Array.isArray(size) || size.length !== 2 || !size.every(isPositiveInt)) {
        this.report(
          "rle_size",
          `annotations[${index}].segmentation.size`,
          `RLE size must be [height, width] of positive integers, got ${show(size)}`
        )
      } else {
        rleSize = [size[0], size[1]]
      }
      if (typeof seg.counts !== "string" && !(Array.isArray(seg.counts) && seg.counts.every(isFiniteNumber))) {
        this.report(
          "polygon_format",
          `annotations[${index}].segmentation.counts`,
          "RLE counts must be a string or a list of numbers"
        )
      }
    } else if (seg !== undefined && seg !== null) {
      this.report(
        "polygon_format",
        `annotations[${index}].segmentation`,
        `segmentation must be a list of polygons or an RLE object, got ${show(seg)}`
      )
    }

    const imageId = value.image_id
    const categoryId = value.category_id
    const imageOk = isPositiveInt(imageId)
    const categoryOk = isPositiveInt(categoryId)
    if (!imageOk) {
      this.report(
        "image_ref",
        `annotations[${index}].image_id`,
        `image_id must be a positive integer id, got ${show(imageId)}`
      )
    }
    if (!categoryOk) {
      this.report(
        "category_ref",
        `annotations[${index}].category_id`,
        `category_id must be a positive integer id, got ${show(categoryId)}`
      )
    }
    const bbox = bboxOk ? (b as ReadonlyArray<number>) : undefined
    if ((imageOk && !this.imagesComplete) || (categoryOk && !this.categoriesComplete)) {
      // Kept until the referenced array is complete: copy what is needed, not the parsed value.
      this.pending.push({
        index,
        imageId: imageOk ? imageId : undefined,
        categoryId: categoryOk ? categoryId : undefined,
        bbox: bbox === undefined ? undefined : [bbox[0]!, bbox[1]!, bbox[2]!, bbox[3]!],
        rleSize
      })
    } else {
      this.checkRefs(index, imageOk ? imageId : undefined, categoryOk ? categoryId : undefined, bbox, rleSize)
    }
  }

  /** Resolves deferred references and returns the verdict. */
  finish(): CocoValidation {
    this.imagesComplete = true
    this.categoriesComplete = true
    for (const ref of this.pending) this.checkRefs(ref.index, ref.imageId, ref.categoryId, ref.bbox, ref.rleSize)
    this.pending.length = 0
    for (const key of ["images", "annotations", "categories"]) {
      if (!this.seen.has(key)) this.report("structure", key, `missing "${key}" array`)
    }
    if (this.seen.has("categories") && this.nCategories === 0) {
      this.report(
        "categories_nonempty",
        "categories",
        "categories is empty: evaluation tools need every category_id listed with its name"
      )
    }
    return {
      valid: this.errors === 0,
      images: this.nImages,
      annotations: this.nAnnotations,
      categories: this.nCategories,
      errors: this.errors,
      warnings: this.warnings,
      findingCounts: { ...this.counts },
      findings: [...this.findings],
      truncated: this.errors + this.warnings > this.findings.length
    }
  }

  // The entry's path (`images[3]`) is built only when something is reported.
  private checkId(id: unknown, array: string, index: number, set: IdSet): boolean {
    if (isPositiveInt(id) && set.add(id)) return true
    const path = `${array}[${index}]`
    if (!isPositiveInt(id)) {
      this.report(
        "id_positive",
        `${path}.id`,
        `id must be an integer ≥ 1 (pycocotools treats 0 as "no match"), got ${show(id)}`
      )
      return false
    }
    if (!set.add(id)) {
      this.report("id_unique", `${path}.id`, `duplicate id ${id}`)
      return false
    }
    return true
  }

  private checkRefs(
    index: number,
    imageId: number | undefined,
    categoryId: number | undefined,
    b: ReadonlyArray<number> | undefined,
    r: readonly [number, number] | undefined
  ): void {
    if (categoryId !== undefined && !this.categoryIds.has(categoryId)) {
      this.report("category_ref", `annotations[${index}].category_id`, `category_id ${categoryId} is not in categories`)
    }
    if (imageId === undefined) return
    if (!this.imageIds.has(imageId)) {
      this.report("image_ref", `annotations[${index}].image_id`, `image_id ${imageId} is not in images`)
      return
    }
    const w = this.sizes.width(imageId)
    if (Number.isNaN(w)) return
    const h = this.sizes.height(imageId)
    if (b !== undefined && (b[0]! < -EPS || b[1]! < -EPS || b[0]! + b[2]! > w + EPS || b[1]! + b[3]! > h + EPS)) {
      this.report("bbox_inside", `annotations[${index}].bbox`, `bbox ${show(b)} extends outside the ${w}x${h} image`)
    }
    if (r !== undefined && (r[0] !== h || r[1] !== w)) {
      this.report(
        "rle_size",
        `annotations[${index}].segmentation.size`,
        `RLE size ${show(r)} must be [height, width] = [${h}, ${w}]`
      )
    }
  }
}

/** Validates a parsed COCO document held in memory. */
export const validate = (document: unknown, options: ValidateOptions = {}): CocoValidation => {
  const checker = new CocoChecker(options)
  if (!isObject(document)) {
    checker.report("structure", "$", "a COCO file is a JSON object with images, annotations and categories")
    return checker.finish()
  }
  // Categories and images first, so every reference is checked directly.
  for (const key of ["categories", "images", "annotations"] as const) {
    if (!(key in document)) continue
    const arr = document[key]
    checker.sawKey(key, Array.isArray(arr))
    if (!Array.isArray(arr)) continue
    arr.forEach((v, i) =>
      key === "categories" ? checker.category(v, i) : key === "images" ? checker.image(v, i) : checker.annotation(v, i)
    )
    checker.endArray(key)
  }
  return checker.finish()
}

/** What the scanner reports while reading a document. */
export interface ScanHandlers {
  /** A top-level key whose value is an array begins. */
  readonly arrayStart: (key: string) => void
  /** One element of a top-level array, parsed. */
  readonly element: (key: string, value: unknown, index: number) => void
  /** A top-level array ends. */
  readonly arrayEnd: (key: string) => void
  /** A top-level value that is not an array, parsed. */
  readonly value: (key: string, value: unknown) => void
  /** A syntax problem; scanning goes on where it can. */
  readonly syntax: (message: string) => void
}

const WS = new Uint8Array(128)
WS[0x20] =
  WS[0x09] =
  WS[0x0a] =
  WS[0x0d] =
    1
// `"` `,` `[` `]` `{` `}`: the only characters that change the scanner's state outside strings.
const STRUCTURAL = new Uint8Array(128)
for (const ch of "\",[]{}") STRUCTURAL[ch.charCodeAt(0)] = 1

/**
 * A streaming reader for JSON documents shaped like COCO files: a top-level object whose large
 * values are arrays. It scans characters (tracking strings and nesting only) and hands each
 * array element to `JSON.parse` on its own, so memory holds one element at a time.
 */
export class CocoScanner {
  private depth = 0
  private inString = false
  private escape = false
  private expectKey = false
  private expectValue = false
  private key = ""
  private keyParts: Array<string> | undefined
  private keyStart = -1
  private arrayKey: string | undefined
  private index = 0
  private capDepth = 0
  private capParts: Array<string> | undefined
  private capStart = -1
  private done = false
  // Elements completed within the current piece of text, not yet parsed: their [start, end)
  // offsets in `batchText` (reused between pieces).
  private batchText = ""
  private batchCount = 0
  private readonly batchBounds: Array<number> = []

  constructor(private readonly handlers: ScanHandlers) {}

  /** Feeds the next piece of text. */
  push(s: string): void {
    const h = this.handlers
    const n = s.length
    for (let i = 0; i < n; i++) {
      if (this.inString) {
        // Jump to the closing quote: a quote preceded by an even run of backslashes.
        let from = i
        if (this.escape) {
          this.escape = false
          from = i + 1
        }
        let close = -1
        for (;;) {
          const q = s.indexOf("\"", from)
          let k = (q === -1 ? n : q) - 1
          let slashes = 0
          while (k >= from && s.charCodeAt(k) === 0x5c) {
            slashes++
            k--
          }
          if (q === -1) {
            this.escape = slashes % 2 === 1
            break
          }
          if (slashes % 2 === 0) {
            close = q
            break
          }
          from = q + 1
        }
        if (close === -1) {
          i = n
          break
        }
        i = close
        this.inString = false
        if (this.keyParts !== undefined) {
          this.keyParts.push(s.slice(this.keyStart, i + 1))
          this.key = this.parse(this.keyParts.join(""), "key") as string
          this.keyParts = undefined
        }
        continue
      }
      let c = s.charCodeAt(i)
      if (this.capParts !== undefined) {
        // Inside a captured value only quotes, brackets and (at its own depth) commas matter.
        while (c < 128 && STRUCTURAL[c] === 0) {
          if (++i === n) break
          c = s.charCodeAt(i)
        }
        if (i === n) break
        if (this.depth === this.capDepth && (c === 0x2c || c === 0x7d || c === 0x5d)) {
          if (this.capParts.length === 0 && this.arrayKey !== undefined) {
            // Element wholly inside this piece of text: batched, parsed with its neighbours.
            if (this.batchCount === 0) this.batchText = s
            this.batchBounds[2 * this.batchCount] = this.capStart
            this.batchBounds[2 * this.batchCount + 1] = i
            this.batchCount++
            this.capParts = undefined
          } else {
            this.flushBatch()
            this.capParts.push(s.slice(this.capStart, i))
            const text = this.capParts.length === 1 ? this.capParts[0]! : this.capParts.join("")
            this.capParts = undefined
            if (this.arrayKey !== undefined) {
              h.element(this.arrayKey, this.parse(text, this.arrayKey, this.index), this.index++)
            } else h.value(this.key, this.parse(text, this.key))
          }
          // fall through: the comma or bracket is structure of the enclosing container
        } else {
          if (c === 0x22) this.inString = true
          else if (c === 0x7b || c === 0x5b) this.depth++
          else if (c === 0x7d || c === 0x5d) this.depth--
          continue
        }
      }
      if (c < 128 && WS[c] === 1) continue
      if (this.done) {
        this.flushBatch()
        h.syntax("unexpected text after the end of the document")
        return
      }
      if (this.depth === 0) {
        if (c !== 0x7b) {
          h.syntax("a COCO file must be a JSON object")
          this.done = true
          return
        }
        this.depth = 1
        this.expectKey = true
        continue
      }
      if (this.depth === 1) {
        if (this.expectKey && c === 0x22) {
          this.inString = true
          this.keyParts = []
          this.keyStart = i
          this.expectKey = false
        } else if (c === 0x3a) {
          this.expectValue = true
        } else if (c === 0x2c) {
          this.expectKey = true
        } else if (c === 0x7d) {
          this.depth = 0
          this.done = true
        } else if (this.expectValue) {
          this.expectValue = false
          if (c === 0x5b) {
            this.depth = 2
            this.arrayKey = this.key
            this.index = 0
            h.arrayStart(this.key)
          } else {
            this.startCapture(s, i, c, 1)
          }
        } else {
          h.syntax(`unexpected character ${JSON.stringify(String.fromCharCode(c))} in the top-level object`)
        }
        continue
      }
      // depth 2, inside a top-level array, between elements
      if (c === 0x5d) {
        this.flushBatch()
        this.depth = 1
        const k = this.arrayKey!
        this.arrayKey = undefined
        h.arrayEnd(k)
      } else if (c !== 0x2c) {
        this.startCapture(s, i, c, 2)
      }
    }
    this.flushBatch()
    if (this.capParts !== undefined) {
      this.capParts.push(s.slice(this.capStart))
      this.capStart = 0
    }
    if (this.keyParts !== undefined) {
      this.keyParts.push(s.slice(this.keyStart))
      this.keyStart = 0
    }
  }

  /** Signals the end of input. */
  end(): void {
    if (!this.done) this.handlers.syntax("the document ends before its closing brace (truncated file?)")
  }

  /**
   * Parses the batched elements (all from one piece of text, separated by commas) with one
   * `JSON.parse` of `[e1,e2,…]` instead of one call per element; when that fails, each element is
   * parsed alone so the error names the element, exactly as without batching.
   */
  private flushBatch(): void {
    const n = this.batchCount
    if (n === 0) return
    this.batchCount = 0
    const s = this.batchText
    this.batchText = ""
    const key = this.arrayKey!
    const bounds = this.batchBounds
    let values: Array<unknown> | undefined
    try {
      values = JSON.parse(`[${s.slice(bounds[0]!, bounds[2 * n - 1]!)}]`) as Array<unknown>
      if (values.length !== n) values = undefined
    } catch {
      values = undefined
    }
    for (let k = 0; k < n; k++) {
      const value = values !== undefined
        ? values[k]
        : this.parse(s.slice(bounds[2 * k]!, bounds[2 * k + 1]!), key, this.index)
      this.handlers.element(key, value, this.index++)
    }
  }

  private startCapture(s: string, i: number, c: number, depth: number): void {
    this.capParts = []
    this.capStart = i
    this.capDepth = depth
    if (c === 0x22) this.inString = true
    else if (c === 0x7b || c === 0x5b) this.depth++
    void s
  }

  private parse(text: string, where: string, index?: number): unknown {
    try {
      return JSON.parse(text)
    } catch (e) {
      this.handlers.syntax(
        `invalid JSON at ${index === undefined ? where : `${where}[${index}]`}: ${(e as Error).message}`
      )
      return undefined
    }
  }
}

/**
 * Validates a COCO file on disk, reading it as a stream. Interruptible: the read stops when the
 * fiber is interrupted.
 */
export const validateFile = Effect.fn("Coco.validateFile")(function*(path: string, options: ValidateOptions = {}) {
  const checker = new CocoChecker(options)
  const scanner = new CocoScanner({
    arrayStart: (key) => checker.sawKey(key, true),
    element: (key, value, index) => {
      if (key === "images") checker.image(value, index)
      else if (key === "annotations") checker.annotation(value, index)
      else if (key === "categories") checker.category(value, index)
    },
    arrayEnd: (key) => checker.endArray(key),
    value: (key) => checker.sawKey(key, false),
    syntax: (message) => checker.report("structure", "$", message)
  })
  yield* Effect.tryPromise({
    try: async (signal) => {
      const decoder = new StringDecoder("utf8")
      // 64 KiB reads: the strings stay below V8's large-object size and die young, which keeps the
      // heap (and peak RSS) from growing with the file size.
      // Opened without blocking and checked first: a named pipe would block the open for good.
      const { handle } = await openRegularFile(path)
      const stream = Fs.createReadStream(path, { fd: handle, highWaterMark: 1 << 16, signal })
      for await (const chunk of stream) scanner.push(decoder.write(chunk as Buffer))
      scanner.push(decoder.end())
      scanner.end()
    },
    catch: (e) => new CocoFileError({ path, detail: `cannot read ${path}: ${(e as Error).message}` })
  })
  return checker.finish()
})
