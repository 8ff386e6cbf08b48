/**
 * COCO-style bounding-box evaluation, computed here rather than echoed from what an uploader typed.
 *
 * The rules are pycocotools' `COCOeval` (iouType "bbox"), reimplemented so that numbers agree with
 * what people get from the reference tool:
 * - per image and category, detections sorted by score (stable), at most 100 kept;
 * - greedy matching per IoU threshold (.50:.05:.95): each detection takes the best still-free
 *   ground truth with IoU ≥ threshold, non-ignored ground truth preferred over ignored;
 * - crowd regions: IoU uses the detection's area as denominator, a crowd region can absorb any
 *   number of detections, and detections matched to it are ignored (neither TP nor FP);
 * - area ranges all/small/medium/large (32², 96², both ends inclusive): ground truth outside the
 *   range is ignored, unmatched detections outside it too;
 * - 101-point interpolated precision, recall at maxDets 1/10/100;
 * - a category without (non-ignored) ground truth is excluded from every mean, as is a category
 *   in an area range where it has none.
 * Pure and synchronous: the inputs are plain arrays, so the MCP server, the CLI, tests and the
 * benchmark all call the same function.
 */
import { Schema } from "effect"

/** A category of the evaluated dataset. */
export const EvalCategory = Schema.Struct({ id: Schema.Number, name: Schema.String })
export type EvalCategory = typeof EvalCategory.Type

/** One ground-truth box. `area` defaults to the box area; `iscrowd` marks a crowd region. */
export interface EvalGroundTruth {
  readonly image_id: number
  readonly category_id: number
  readonly bbox: ReadonlyArray<number>
  readonly area?: number | null | undefined
  readonly iscrowd?: boolean | number | null | undefined
}

/** One detection, as in a COCO results file. */
export interface EvalDetection {
  readonly image_id: number
  readonly category_id: number
  readonly bbox: ReadonlyArray<number>
  readonly score: number
}

/** What is evaluated against: every image (also those without boxes), categories, boxes. */
export interface DetectionDataset {
  readonly images: ReadonlyArray<number>
  readonly categories: ReadonlyArray<EvalCategory>
  readonly annotations: ReadonlyArray<EvalGroundTruth>
}

/** Options of {@link evaluateDetections}. */
export interface DetectionEvalOptions {
  /**
   * Minimum score for a detection to count in the per-class precision/recall/F1 at IoU 0.5
   * (AP is threshold-free and ignores it). Default 0: every detection counts, as in COCO.
   */
  readonly scoreThreshold?: number
  /** Value of a ratio whose denominator is 0 (precision of a class never predicted). Default 0. */
  readonly zeroDivision?: 0 | 1
  /** Also return each class's interpolated precision-recall curves at IoU 0.5 and 0.75. */
  readonly curves?: boolean
}

/**
 * One class's precision-recall curves as COCO interpolates them: precision at the 101 recall
 * points 0, 0.01, …, 1 (area all, 100 detections per image); AP50 and AP75 are their means.
 */
export const PrecisionRecallCurve = Schema.Struct({
  category_id: Schema.Number,
  name: Schema.String,
  iou50: Schema.Array(Schema.Number).annotations({ description: "Precision at recall 0, 0.01, …, 1; IoU 0.5." }),
  iou75: Schema.Array(Schema.Number).annotations({ description: "Precision at recall 0, 0.01, …, 1; IoU 0.75." })
})
export type PrecisionRecallCurve = typeof PrecisionRecallCurve.Type

/** Per-class figures. `ap*` are null when the class is excluded (no ground truth). */
export const DetectionClassMetrics = Schema.Struct({
  category_id: Schema.Number,
  name: Schema.String,
  support: Schema.Number.annotations({ description: "Non-crowd ground-truth boxes (area all)." }),
  detections: Schema.Number,
  ap: Schema.NullOr(Schema.Number).annotations({ description: "AP at IoU 0.50:0.95; null without ground truth." }),
  ap50: Schema.NullOr(Schema.Number),
  ap75: Schema.NullOr(Schema.Number),
  tp: Schema.Number.annotations({
    description: "At IoU 0.5, area all, 100 detections per image, score at least the threshold (as fp, fn)."
  }),
  fp: Schema.Number,
  fn: Schema.Number,
  precision: Schema.Number,
  recall: Schema.Number,
  f1: Schema.Number
})
export type DetectionClassMetrics = typeof DetectionClassMetrics.Type

/** The twelve COCO summary numbers; null where pycocotools prints -1 (nothing to average). */
export const CocoSummary = Schema.Struct({
  AP: Schema.NullOr(Schema.Number).annotations({ description: "AP at IoU 0.50:0.95 (COCO's mAP)." }),
  AP50: Schema.NullOr(Schema.Number),
  AP75: Schema.NullOr(Schema.Number),
  AP_small: Schema.NullOr(Schema.Number),
  AP_medium: Schema.NullOr(Schema.Number),
  AP_large: Schema.NullOr(Schema.Number),
  AR1: Schema.NullOr(Schema.Number),
  AR10: Schema.NullOr(Schema.Number),
  AR100: Schema.NullOr(Schema.Number),
  AR_small: Schema.NullOr(Schema.Number),
  AR_medium: Schema.NullOr(Schema.Number),
  AR_large: Schema.NullOr(Schema.Number)
})
export type CocoSummary = typeof CocoSummary.Type

/** The twelve summary names, in pycocotools' order. */
export const COCO_SUMMARY_KEYS = Object.keys(CocoSummary.fields) as ReadonlyArray<keyof CocoSummary>

/** The result of a detection evaluation. */
export const DetectionMetrics = Schema.Struct({
  ...CocoSummary.fields,
  precision: Schema.Number.annotations({
    description: "Micro-averaged at IoU 0.5 over the classes with ground truth, as recall and f1 (detections of " +
      "excluded classes count in their per-class fp only)."
  }),
  recall: Schema.Number,
  f1: Schema.Number,
  perClass: Schema.Array(DetectionClassMetrics),
  excludedCategories: Schema.Array(EvalCategory).annotations({
    description: "Categories left out of every mean because they have no ground truth."
  }),
  images: Schema.Number,
  groundTruthBoxes: Schema.Number,
  detections: Schema.Number,
  detectionsBeyondMaxDets: Schema.Number.annotations({
    description: "Detections dropped because their image and category already had 100 higher-scored ones."
  }),
  curves: Schema.optionalWith(Schema.Array(PrecisionRecallCurve), { exact: true }).annotations({
    description: "With the curves option: the curves of every class that has ground truth."
  })
})
export type DetectionMetrics = typeof DetectionMetrics.Type

/** numpy.linspace as pycocotools calls it: start + i·step, last value exactly `stop`. */
const linspace = (start: number, stop: number, num: number): ReadonlyArray<number> => {
  const step = (stop - start) / (num - 1)
  const out: Array<number> = []
  for (let i = 0; i < num; i++) out.push(start + i * step)
  out[num - 1] = stop
  return out
}

/** IoU thresholds .50:.05:.95 with the same floating-point values pycocotools uses. */
export const IOU_THRESHOLDS = linspace(0.5, 0.95, 10)
/** The 101 recall points 0:.01:1. */
export const RECALL_THRESHOLDS = linspace(0, 1, 101)
/** Detections kept per image and category, for AR@1/10/100 (the last one also bounds AP). */
export const MAX_DETS = [1, 10, 100] as const
/** Area ranges all/small/medium/large, in pixels², both ends inclusive. */
export const AREA_RANGES: ReadonlyArray<readonly [string, number, number]> = [
  ["all", 0, 1e5 ** 2],
  ["small", 0, 32 ** 2],
  ["medium", 32 ** 2, 96 ** 2],
  ["large", 96 ** 2, 1e5 ** 2]
]

const T = IOU_THRESHOLDS.length
const A = AREA_RANGES.length
const MAX_DET = MAX_DETS[MAX_DETS.length - 1]
// numpy's np.spacing(1): keeps precision defined before the first detection.
const EPS = 2.220446049250313e-16

/**
 * IoU of a detection and a ground-truth box (pycocotools' bbIou). For a crowd region the union is
 * the detection's own area: a detection inside a crowd matches it fully.
 */
export const boxIou = (d: ReadonlyArray<number>, g: ReadonlyArray<number>, crowd: boolean): number => {
  const w = Math.min(d[0] + d[2], g[0] + g[2]) - Math.max(d[0], g[0])
  if (w <= 0) return 0
  const h = Math.min(d[1] + d[3], g[1] + g[3]) - Math.max(d[1], g[1])
  if (h <= 0) return 0
  const inter = w * h
  const da = d[2] * d[3]
  return inter / (crowd ? da : da + g[2] * g[3] - inter)
}

/** Whether a ground-truth box is a crowd region (`iscrowd` true or non-zero). */
export const isCrowd = (g: Pick<EvalGroundTruth, "iscrowd">): boolean =>
  g.iscrowd === true || (typeof g.iscrowd === "number" && g.iscrowd !== 0)

/** Scratch space reused across cells: one evaluation allocates per category, not per image. */
class Scratch {
  ious = new Float64Array(1024)
  crowd = new Uint8Array(64)
  gtArea = new Float64Array(64)
  gtIg = new Uint8Array(64)
  order = new Int32Array(64)
  gtm = new Int32Array(64)
  ensure(D: number, G: number): void {
    if (this.ious.length < D * G) this.ious = new Float64Array(Math.max(D * G, this.ious.length * 2))
    if (this.crowd.length < G) {
      const size = Math.max(G, this.crowd.length * 2)
      this.crowd = new Uint8Array(size)
      this.gtArea = new Float64Array(size)
      this.gtIg = new Uint8Array(size)
      this.order = new Int32Array(size)
      this.gtm = new Int32Array(size)
    }
  }
}

/**
 * pycocotools' evaluateImg for one image × category, every area range and threshold at once.
 * `kept` are the detections sorted by score and truncated to 100; their outcomes go to
 * `outcome[a][t·n + offset + d]` (0 ignored, 1 true positive, 2 false positive) and the count of
 * non-ignored ground truth per area is added to `npig`.
 */
const evaluateCell = (
  gts: ReadonlyArray<EvalGroundTruth>,
  kept: ReadonlyArray<EvalDetection>,
  outcome: ReadonlyArray<Uint8Array>,
  n: number,
  offset: number,
  npig: Float64Array,
  scratch: Scratch
): void => {
  const D = kept.length
  const G = gts.length
  scratch.ensure(D, G)
  const { crowd, gtArea, gtIg, order, gtm, ious } = scratch
  for (let g = 0; g < G; g++) {
    crowd[g] = isCrowd(gts[g]) ? 1 : 0
    const a = gts[g].area
    gtArea[g] = typeof a === "number" && Number.isFinite(a) ? a : gts[g].bbox[2] * gts[g].bbox[3]
  }
  for (let d = 0; d < D; d++) {
    for (let g = 0; g < G; g++) ious[d * G + g] = boxIou(kept[d].bbox, gts[g].bbox, crowd[g] === 1)
  }
  for (let a = 0; a < A; a++) {
    const lo = AREA_RANGES[a][1]
    const hi = AREA_RANGES[a][2]
    const out = outcome[a]
    let count = 0
    for (let g = 0; g < G; g++) {
      gtIg[g] = crowd[g] === 1 || gtArea[g] < lo || gtArea[g] > hi ? 1 : 0
      if (gtIg[g] === 0) order[count++] = g
    }
    npig[a] += count
    // Non-ignored ground truth first, each group in input order (pycocotools' stable argsort).
    let o = count
    for (let g = 0; g < G; g++) if (gtIg[g] === 1) order[o++] = g
    for (let t = 0; t < T; t++) {
      gtm.fill(-1, 0, G)
      const base = t * n + offset
      const threshold = Math.min(IOU_THRESHOLDS[t], 1 - 1e-10)
      for (let d = 0; d < D; d++) {
        let best = threshold
        let m = -1
        for (let i = 0; i < G; i++) {
          const g = order[i]
          if (gtm[g] >= 0 && crowd[g] === 0) continue
          // Once matched to real ground truth, never trade it for an ignored one.
          if (m > -1 && gtIg[m] === 0 && gtIg[g] === 1) break
          const iou = ious[d * G + g]
          if (iou < best) continue
          best = iou
          m = g
        }
        if (m === -1) {
          // Unmatched: a false positive, unless the detection itself is outside the area range.
          const area = kept[d].bbox[2] * kept[d].bbox[3]
          out[base + d] = area < lo || area > hi ? 0 : 2
          continue
        }
        out[base + d] = gtIg[m] === 1 ? 0 : 1
        gtm[m] = d
      }
    }
  }
}

/** Precision at the 101 recall points and final recall, for one category/area/maxDet/threshold. */
const interpolate = (tp: Float64Array, fp: Float64Array, nd: number, npig: number, out: Float64Array): number => {
  if (nd === 0) {
    out.fill(0)
    return 0
  }
  // Recall and precision overwrite the counts in place: the caller refills them for every pass.
  const rc = tp
  const pr = fp
  for (let i = 0; i < nd; i++) {
    const t = tp[i]
    rc[i] = t / npig
    pr[i] = t / (fp[i] + t + EPS)
  }
  // Make precision monotonically non-increasing from the right (the interpolation envelope).
  for (let i = nd - 1; i > 0; i--) if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i]
  // numpy.searchsorted(rc, recThrs, side="left"); points past the last recall stay 0.
  let p = 0
  for (let r = 0; r < RECALL_THRESHOLDS.length; r++) {
    const thr = RECALL_THRESHOLDS[r]
    while (p < nd && rc[p] < thr) p++
    out[r] = p < nd ? pr[p] : 0
  }
  return rc[nd - 1]
}

/** Mean of the entries that are defined (≥ 0), or null when none is: pycocotools' `s[s > -1]`. */
const meanDefined = (values: ReadonlyArray<number>): number | null => {
  let sum = 0
  let n = 0
  for (const v of values) {
    if (v > -1) {
      sum += v
      n++
    }
  }
  return n === 0 ? null : sum / n
}

const ratio = (num: number, den: number, zeroDivision: 0 | 1): number => (den === 0 ? zeroDivision : num / den)

/**
 * Evaluates detections against ground truth with COCO's rules. Detections whose image or category
 * is not in the dataset are ignored here; callers validate them first (see `Predictions`), so that
 * nothing is dropped silently.
 */
export const evaluateDetections = (
  dataset: DetectionDataset,
  detections: ReadonlyArray<EvalDetection>,
  options: DetectionEvalOptions = {}
): DetectionMetrics => {
  const zeroDivision = options.zeroDivision ?? 0
  const scoreThreshold = options.scoreThreshold ?? 0
  const imageIds = [...new Set(dataset.images)].sort((a, b) => a - b)
  const imageIndex = new Map<number, number>()
  imageIds.forEach((id, i) => imageIndex.set(id, i))
  const categories = [...dataset.categories].sort((a, b) => a.id - b.id)
  const K = categories.length
  const catIndex = new Map<number, number>()
  categories.forEach((c, k) => catIndex.set(c.id, k))

  // Group boxes per category, then per image: cells are keyed image-major inside each category.
  /** Boxes by category index then image id, leaving out those of unknown images or categories. */
  const group = <B extends { readonly image_id: number; readonly category_id: number }>(boxes: ReadonlyArray<B>) => {
    const by: Array<Map<number, Array<B>>> = categories.map(() => new Map())
    let kept = 0
    for (const box of boxes) {
      const k = catIndex.get(box.category_id)
      if (k === undefined || !imageIndex.has(box.image_id)) continue
      kept++
      const m = by[k]
      const list = m.get(box.image_id)
      if (list) list.push(box)
      else m.set(box.image_id, [box])
    }
    return { by, kept }
  }
  const { by: gtBy, kept: groundTruthBoxes } = group<EvalGroundTruth>(dataset.annotations)
  const { by: dtBy, kept: evaluatedDetections } = group<EvalDetection>(detections)

  // precision[a][k][t][r] (flattened per a,k as T×R) and recall[a][m][k][t]; -1 = undefined.
  const R = RECALL_THRESHOLDS.length
  const M = MAX_DETS.length
  const precision: Array<Float64Array> = [] // index (a*K + k), holds T*R at maxDet 100
  const recall: Array<Float64Array> = [] // index ((a*M + m)*K + k), holds T
  for (let i = 0; i < A * K; i++) precision.push(new Float64Array(T * R).fill(-1))
  for (let i = 0; i < A * M * K; i++) recall.push(new Float64Array(T).fill(-1))

  const perClass: Array<DetectionClassMetrics> = []
  const excluded: Array<EvalCategory> = []
  let totalTp = 0
  let totalFp = 0
  let totalFn = 0
  let beyondMaxDets = 0
  const q = new Float64Array(R)

  const scratch = new Scratch()
  for (let k = 0; k < K; k++) {
    // Cells (image × category) in image order; detections sorted by score (stable, as
    // pycocotools' mergesort) and truncated to 100 per cell.
    const imgs = [...new Set<number>([...gtBy[k].keys(), ...dtBy[k].keys()])].sort((a, b) =>
      imageIndex.get(a)! - imageIndex.get(b)!
    )
    const kept: Array<ReadonlyArray<EvalDetection>> = []
    const offsets: Array<number> = []
    let n = 0
    for (const img of imgs) {
      const dts = dtBy[k].get(img) ?? []
      const sorted = dts.length > 1 ? [...dts].sort((a, b) => b.score - a.score) : dts
      if (sorted.length > MAX_DET) beyondMaxDets += sorted.length - MAX_DET
      kept.push(sorted.length > MAX_DET ? sorted.slice(0, MAX_DET) : sorted)
      offsets.push(n)
      n += Math.min(sorted.length, MAX_DET)
    }
    const outcome: Array<Uint8Array> = []
    for (let a = 0; a < A; a++) outcome.push(new Uint8Array(T * n))
    const npigByArea = new Float64Array(A)
    const rankOf = new Int32Array(n)
    const scoreOf = new Float64Array(n)
    for (let c = 0; c < imgs.length; c++) {
      evaluateCell(gtBy[k].get(imgs[c]) ?? [], kept[c], outcome, n, offsets[c], npigByArea, scratch)
      const list = kept[c]
      for (let d = 0; d < list.length; d++) {
        rankOf[offsets[c] + d] = d
        scoreOf[offsets[c] + d] = list[d].score
      }
    }
    // All detections of the category, sorted once by score (stable in image order). Restricting
    // to the first m of each image keeps this order, so the same sort serves every maxDet.
    const idx = Int32Array.from(Array.from({ length: n }, (_, j) => j).sort((x, y) => scoreOf[y] - scoreOf[x]))
    const tp = new Float64Array(n)
    const fp = new Float64Array(n)

    let apAll = -1
    let ap50 = -1
    let ap75 = -1
    let ctp = 0
    let cfp = 0
    const supportAll = npigByArea[0]
    for (let a = 0; a < A; a++) {
      const npig = npigByArea[a]
      if (npig === 0) continue
      const out = outcome[a]
      for (let t = 0; t < T; t++) {
        const base = t * n
        // AR@1 and AR@10 need only the final recall: a count, in any order.
        for (let m = 0; m < M - 1; m++) {
          const maxDet = MAX_DETS[m]
          let found = 0
          for (let j = 0; j < n; j++) if (rankOf[j] < maxDet && out[base + j] === 1) found++
          recall[(a * M + m) * K + k][t] = found / npig
        }
        // maxDet 100 keeps every kept detection: the full precision/recall curve in score order.
        let ctpT = 0
        let cfpT = 0
        for (let p = 0; p < n; p++) {
          const o = out[base + idx[p]]
          if (o === 1) ctpT++
          else if (o === 2) cfpT++
          tp[p] = ctpT
          fp[p] = cfpT
        }
        recall[(a * M + M - 1) * K + k][t] = interpolate(tp, fp, n, npig, q)
        precision[a * K + k].set(q, t * R)
      }
      if (a === 0) {
        const pk = precision[k]
        apAll = meanDefined(Array.from(pk)) ?? -1
        ap50 = meanDefined(Array.from(pk.subarray(0, R))) ?? -1
        ap75 = meanDefined(Array.from(pk.subarray(5 * R, 6 * R))) ?? -1
      }
    }
    // Per-class counts at IoU 0.5 (t = 0), area all, 100 per image, above the score threshold.
    const out0 = outcome[0]
    for (let j = 0; j < n; j++) {
      if (scoreOf[j] < scoreThreshold) continue
      if (out0[j] === 1) ctp++
      else if (out0[j] === 2) cfp++
    }
    const fn = supportAll - ctp
    if (supportAll === 0) excluded.push(categories[k])
    else {
      // Excluded categories stay out of the micro average too, as out of every other mean.
      totalTp += ctp
      totalFp += cfp
      totalFn += fn
    }
    const dets = n
    perClass.push({
      category_id: categories[k].id,
      name: categories[k].name,
      support: supportAll,
      detections: dets,
      ap: apAll < 0 ? null : apAll,
      ap50: ap50 < 0 ? null : ap50,
      ap75: ap75 < 0 ? null : ap75,
      tp: ctp,
      fp: cfp,
      fn,
      precision: ratio(ctp, ctp + cfp, zeroDivision),
      recall: ratio(ctp, ctp + fn, zeroDivision),
      f1: ratio(2 * ctp, 2 * ctp + cfp + fn, zeroDivision)
    })
  }

  const ap = (a: number, t: number | null): number | null => {
    const values: Array<number> = []
    for (let k = 0; k < K; k++) {
      const p = precision[a * K + k]
      if (t === null) { for (const v of p) values.push(v) }
      else for (const v of p.subarray(t * R, (t + 1) * R)) values.push(v)
    }
    return meanDefined(values)
  }
  const ar = (a: number, m: number): number | null => {
    const values: Array<number> = []
    for (let k = 0; k < K; k++) for (const v of recall[(a * M + m) * K + k]) values.push(v)
    return meanDefined(values)
  }
  return {
    AP: ap(0, null),
    AP50: ap(0, 0),
    AP75: ap(0, 5),
    AP_small: ap(1, null),
    AP_medium: ap(2, null),
    AP_large: ap(3, null),
    AR1: ar(0, 0),
    AR10: ar(0, 1),
    AR100: ar(0, 2),
    AR_small: ar(1, 2),
    AR_medium: ar(2, 2),
    AR_large: ar(3, 2),
    precision: ratio(totalTp, totalTp + totalFp, zeroDivision),
    recall: ratio(totalTp, totalTp + totalFn, zeroDivision),
    f1: ratio(2 * totalTp, 2 * totalTp + totalFp + totalFn, zeroDivision),
    perClass,
    excludedCategories: excluded,
    images: imageIds.length,
    groundTruthBoxes,
    detections: evaluatedDetections,
    detectionsBeyondMaxDets: beyondMaxDets,
    ...(options.curves === true
      ? {
        curves: perClass.filter((c) => c.support > 0).map((c) => {
          const k = catIndex.get(c.category_id)!
          return {
            category_id: c.category_id,
            name: c.name,
            iou50: Array.from(precision[k].subarray(0, R)),
            iou75: Array.from(precision[k].subarray(5 * R, 6 * R))
          }
        })
      }
      : {})
  }
}
