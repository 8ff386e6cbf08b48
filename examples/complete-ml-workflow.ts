/**
 * The seed's "Complete ML Workflow" as an Effect program (`npm run example`): from ground truth to
 * a deployed model, with metrics computed from predictions instead of typed in, a gate instead of
 * blind trust, and the previous model actually deactivated.
 *
 * Without `SYNAPSE_BASE_URL` it starts a local sandbox with demo data in a temporary directory
 * (removed at the end). Against a real backend (`SYNAPSE_BASE_URL`, `SYNAPSE_ACCESS_TOKEN`) it
 * only plans the deployment unless `EXAMPLE_DEPLOY=1`: an example must not switch production models.
 *
 * The "trained" models are simulated: their predictions are the ground truth with noise (a better
 * model, less noise), which is what makes every metric below checkable.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Chunk, Console, Effect, Layer, Redacted, Stream } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { stderrLoggerLayer } from "../src/platform/Logging.js"
import * as Sandbox from "../src/sandbox/Sandbox.js"
import type { Annotation, GroundTruthEvent } from "../src/schemas/GroundTruth.js"
import { GroundTruths } from "../src/services/GroundTruths.js"
import { Models } from "../src/services/Models.js"
import * as Synapse from "../src/services/Synapse.js"
import { analyzeModel, collectGroundTruth, scorePredictions } from "../src/workflows/Analyze.js"
import { compareModels } from "../src/workflows/Compare.js"
import { deployModel } from "../src/workflows/Deploy.js"
import { flatMetrics } from "../src/workflows/Scoring.js"

const PROJECT_ID = 1
const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-example-"))
const realBackend = (process.env.SYNAPSE_BASE_URL ?? "").trim() !== ""

/** Deterministic PRNG, so every run prints the same numbers. */
const mulberry32 = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/**
 * A simulated detector's COCO results on the events: each box found with probability `recall`,
 * jittered by `noise` (fraction of its size), plus some false positives.
 */
// The sandbox answers the rich form: `data.annotations` as a list (the native form has no `category_id`).
const listed = (e: GroundTruthEvent): ReadonlyArray<Annotation> =>
  Array.isArray(e.data?.annotations) ? (e.data.annotations as ReadonlyArray<Annotation>) : []

const simulateDetections = (events: ReadonlyArray<GroundTruthEvent>, seed: number, recall: number, noise: number) => {
  const rand = mulberry32(seed)
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand())
  const categories = [...new Set(events.flatMap((e) => listed(e).map((a) => a.category_id ?? 0)))].filter((c) => c > 0)
  const rows: Array<{ image_id: number; category_id: number; bbox: Array<number>; score: number }> = []
  for (const e of events) {
    const unit = e.data_unit?.id
    if (unit === undefined) continue
    for (const a of listed(e)) {
      if (!a.bbox || a.bbox.length !== 4 || typeof a.category_id !== "number" || rand() > recall) continue
      const [x, y, w, h] = a.bbox
      rows.push({
        image_id: unit,
        category_id: a.category_id,
        bbox: [
          x + gauss() * noise * w,
          y + gauss() * noise * h,
          Math.max(1, w * (1 + gauss() * noise)),
          Math.max(1, h * (1 + gauss() * noise))
        ],
        score: Math.round((0.5 + rand() * 0.5) * 1e4) / 1e4
      })
    }
    if (rand() < 0.4) {
      rows.push({
        image_id: unit,
        category_id: categories[Math.floor(rand() * categories.length)],
        bbox: [rand() * 500, rand() * 350, 20 + rand() * 80, 20 + rand() * 80],
        score: Math.round(rand() * 0.6 * 1e4) / 1e4
      })
    }
  }
  return JSON.stringify(rows)
}

const fmt = (v: number | null | undefined) => (v === null || v === undefined ? "—" : v.toFixed(3))

const workflow = Effect.gen(function*() {
  const models = yield* Models
  const groundTruths = yield* GroundTruths
  yield* Console.log("=== ML Workflow Started ===")

  // 1. Ground truth: the project's events, and the newest dataset version that holds them.
  yield* Console.log("\n1. Analyzing ground truth data...")
  const projectEvents = yield* groundTruths.listEvents({ project: PROJECT_ID, page_size: 1 })
  yield* Console.log(`   Found ${projectEvents.count} ground truth events in project ${PROJECT_ID}`)
  const versions = Chunk.toReadonlyArray(yield* Stream.runCollect(groundTruths.streamVersions({ is_archived: false })))
  let version = undefined as (typeof versions)[number] | undefined
  for (const v of [...versions].sort((a, b) => (b.created_at ?? "").localeCompare(a.created_at ?? ""))) {
    const inProject = yield* groundTruths.listEvents({
      project: PROJECT_ID,
      ground_truth_dataset_versions: [v.id],
      page_size: 1
    })
    if (inProject.count > 0) {
      version = v
      break
    }
  }
  if (version === undefined) {
    return yield* Console.log("   No dataset version holds this project's ground truth: nothing to evaluate on.")
  }
  // A backend may send a version with only its id and name (docs/wire-protocol.md "Dataset versions").
  const datasetRef = version.ground_truth_dataset
  const dataset = typeof datasetRef === "object" && datasetRef !== null
    ? datasetRef.name ?? `dataset ${datasetRef.id}`
    : typeof datasetRef === "number"
    ? `dataset ${datasetRef}`
    : "dataset"
  const versionLabel = version.version ?? version.name ?? ""
  const events = Chunk.toReadonlyArray(
    yield* Stream.runCollect(
      groundTruths.streamEvents({ ground_truth_dataset_versions: [version.id] }, { pageSize: 1000 })
    )
  )
  const groundTruth = yield* collectGroundTruth(version.id, true)
  const stats = groundTruth.stats()
  yield* Console.log(
    `   Evaluating on ${dataset} ${versionLabel} (version ${version.id}): ${stats.events} events, ${stats.dataUnits} images`
  )
  yield* Console.log(`   Splits: ${Object.entries(stats.splits).map(([k, n]) => `${k} ${n}`).join(", ")}`)
  yield* Console.log(
    `   Classes: ${Object.entries(stats.classes).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(", ")}`
  )

  // 2. Existing models.
  yield* Console.log("\n2. Checking existing models...")
  const existing = yield* models.list({ project: PROJECT_ID, page_size: 100 })
  yield* Console.log(`   Found ${existing.count} existing models`)
  for (const m of existing.results) {
    const metrics = m.metrics === undefined || m.metrics === null ? "metrics not sent" : JSON.stringify(m.metrics)
    yield* Console.log(
      `   ${m.is_active === true ? "*" : " "} ${String(m.id).padStart(4)} ${m.name ?? ""} ${m.version ?? ""} (${
        m.model_type ?? "type not sent"
      }) ${metrics}`
    )
  }
  // The backend may not say which model is active, nor of what type: deployment needs both.
  if (existing.results.length > 0 && existing.results.every((m) => m.is_active === undefined || m.is_active === null)) {
    return yield* Console.log(
      "   The backend does not say which model is active (no is_active on its models): the evaluation and deployment steps need it, so the workflow stops here."
    )
  }
  const active = existing.results.find((m) => m.is_active === true && m.model_type === "detection")
  if (active === undefined) return yield* Console.log("   No active detection model to improve on.")

  // 3. The active model, measured rather than believed.
  yield* Console.log(
    `\n3. Evaluating the active detector ${active.id} (${active.name} ${active.version ?? ""}) on its predictions...`
  )
  const activePredictions = simulateDetections(events, 1, 0.8, 0.08)
  const analysis = yield* analyzeModel({
    model_id: active.id,
    ground_truth_version_id: version.id,
    predictions: activePredictions,
    tolerance: 0.02
  })
  if (analysis.computed?.task === "detection") {
    const c = analysis.computed.metrics
    yield* Console.log(`   Computed: AP ${fmt(c.AP)}  AP50 ${fmt(c.AP50)}  AP75 ${fmt(c.AP75)}  AR@100 ${fmt(c.AR100)}`)
  }
  for (const d of analysis.comparisons) {
    yield* Console.log(
      `   ${d.agrees ? "agrees " : "DIFFERS"} ${d.metric}: reported ${d.reported}, computed ${d.computedAs} ${
        fmt(d.computed)
      }`
    )
  }

  // 4. The new model ("trained" elsewhere): its metrics come from its predictions.
  yield* Console.log("\n4. Evaluating the new model...")
  const candidatePredictions = simulateDetections(events, 2, 0.92, 0.04)
  const score = yield* scorePredictions(candidatePredictions, "detection", groundTruth, {
    name: "candidate predictions"
  })
  const computed = flatMetrics(score)
  const round4 = (v: number | undefined) => Math.round((v ?? 0) * 1e4) / 1e4
  const metrics = {
    mAP: round4(computed.AP),
    mAP50: round4(computed.AP50),
    precision: round4(computed.precision),
    recall: round4(computed.recall)
  }
  yield* Console.log(`   Computed: ${Object.entries(metrics).map(([k, v]) => `${k} ${fmt(v)}`).join("  ")}`)
  const modelFile = Path.join(work, "model.pt")
  Fs.writeFileSync(modelFile, Buffer.from(Array.from({ length: 256 * 1024 }, (_, i) => (i * 31) % 251)))

  // 5. Deploy with a gate: plan first, then execute (on the sandbox) and verify.
  yield* Console.log("\n5. Deploying the new model...")
  const config = {
    name: `${active.name}`,
    description: "Model created through the automated workflow",
    type: "detection" as const,
    project_id: PROJECT_ID,
    version: "auto-1",
    metrics,
    configuration: { framework: "pytorch", input_size: [640, 640] },
    model_path: modelFile,
    replace_active: true,
    gate: { against: "active" as const, metric: "mAP", min_improvement: 0.01 }
  }
  const plan = yield* deployModel({ ...config, dry_run: true })
  yield* Console.log(`   Plan: ${plan.plan.steps.join("; ")}`)
  yield* Console.log(`   Gate: ${plan.plan.gate?.passed ? "passed" : "rejected"}: ${plan.plan.gate?.reason}`)
  let deployedId: number | undefined
  if (realBackend && process.env.EXAMPLE_DEPLOY !== "1") {
    yield* Console.log("   Real backend: dry run only (set EXAMPLE_DEPLOY=1 to deploy).")
  } else {
    const done = yield* deployModel(config, {
      onStep: (step, id) => void process.stderr.write(`   … ${step}${id !== null ? ` ${id}` : ""}\n`)
    })
    if (done.status === "deployed") {
      deployedId = done.model?.id
      yield* Console.log(
        `   Deployed model: ${deployedId}; active detection models now: ${done.activeAfter?.join(", ")}`
      )
    } else {
      yield* Console.log(`   Not deployed: ${done.status}`)
    }
  }

  // 6. Compare: stored metrics (models lacking one are listed apart), then recomputed on one version.
  yield* Console.log("\n6. Comparing model performance...")
  const detectors = (yield* models.list({ project: PROJECT_ID, model_type: "detection", page_size: 100 })).results.map((
    m
  ) => m.id)
  const reported = yield* compareModels({ model_ids: detectors, metric: "mAP" })
  yield* Console.log("   By reported mAP:")
  for (const r of reported.ranking) {
    yield* Console.log(
      `     ${r.rank}. ${r.model.name} ${r.model.version ?? ""} (id ${r.model.id}${
        r.model.is_active ? ", active" : ""
      }): ${fmt(r.value)}`
    )
  }
  for (const m of reported.missing) {
    yield* Console.log(`     -  ${m.model.name} ${m.model.version ?? ""} (id ${m.model.id}): ${m.reason}`)
  }
  if (deployedId !== undefined) {
    const recomputed = yield* compareModels({
      model_ids: [active.id, deployedId],
      metric: "AP",
      recompute: {
        ground_truth_version_id: version.id,
        predictions: { [String(active.id)]: activePredictions, [String(deployedId)]: candidatePredictions }
      }
    })
    yield* Console.log(`   By AP recomputed on ${dataset} ${version.version}:`)
    for (const r of recomputed.ranking) {
      yield* Console.log(
        `     ${r.rank}. ${r.model.name} ${r.model.version ?? ""} (id ${r.model.id}): ${fmt(r.value)} (reported mAP ${
          fmt(r.model.id === deployedId ? metrics.mAP : active.metrics?.mAP as number)
        })`
      )
    }
    yield* Console.log(
      `   Best model: ${recomputed.best?.model.name} ${recomputed.best?.model.version ?? ""} (AP ${
        fmt(recomputed.best?.value)
      })`
    )
  }
  yield* Console.log("\n=== ML Workflow Completed ===")
})

/** The SDK over SYNAPSE_BASE_URL, or over a sandbox with demo data in a temporary directory. */
const sdk = realBackend
  ? Synapse.layerConfig().pipe(Layer.provide(NodeHttpClient.layer))
  : Layer.unwrapScoped(
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.start({ seed: "demo", dataDir: Path.join(work, "sandbox") })
      yield* Console.error(
        `(local sandbox with demo data at ${sandbox.url}; set SYNAPSE_BASE_URL to use a real backend)`
      )
      return Synapse.layer({
        baseUrl: sandbox.url,
        accessToken: Redacted.make(sandbox.token),
        fileCache: { dir: Path.join(work, "cache") },
        chunkedUpload: { stateDir: Path.join(work, "uploads") }
      }).pipe(Layer.provide(NodeHttpClient.layer))
    })
  )

workflow.pipe(
  Effect.provide(Layer.merge(sdk, stderrLoggerLayer)),
  Effect.ensuring(Effect.sync(() => Fs.rmSync(work, { recursive: true, force: true }))),
  Effect.runPromise
).catch((error: unknown) => {
  process.stderr.write(`complete-ml-workflow failed: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
})
