/**
 * The model workflow commands as a user runs them, spawned against a demo sandbox:
 * `synapse-ml export` then `models analyze` with predictions written against the exported COCO
 * file (so image and category ids are the export's), `models compare` with an unknown metric,
 * `models deploy` as a dry run, rejected by its gate, and executed, with their exit codes.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { type CliResult, runCli } from "../support/cli.js"
import { call } from "../support/http.js"
import { isRich } from "../support/profile.js"
import { useSandbox } from "../support/sandbox.js"

const sandbox = useSandbox({ seed: "demo" })
const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "e2e-models-"))
afterAll(() => Fs.rmSync(tmp, { recursive: true, force: true }))

const cli = (args: ReadonlyArray<string>): Promise<CliResult> => {
  const sb = sandbox()
  return runCli(args, {
    SYNAPSE_BASE_URL: sb.url,
    SYNAPSE_ACCESS_TOKEN: sb.token,
    SYNAPSE_CACHE_DIR: Path.join(tmp, "cache"),
    SYNAPSE_UPLOAD_STATE_DIR: Path.join(tmp, "uploads")
  })
}

const activeDetectors = async () => {
  const sb = sandbox()
  const page = await call(`${sb.url}/models/?project=1&model_type=detection&is_active=true`, { headers: sb.headers })
  return page.body.results.map((m: any) => m.id) as Array<number>
}

describe("synapse-ml models", () => {
  it("analyzes a model with predictions made against the COCO export: AP 1, discrepancies listed", async () => {
    const out = Path.join(tmp, "coco")
    const exported = await cli(["export", "--dataset-version", "303", "--format", "coco", "-o", out])
    expect(exported.code).toBe(0)
    const coco = JSON.parse(Fs.readFileSync(Path.join(out, "annotations", "instances_all.json"), "utf8"))
    const predictions = coco.annotations
      .filter((a: any) => a.iscrowd === 0)
      .map((a: any, i: number) => ({
        image_id: a.image_id,
        category_id: a.category_id,
        bbox: a.bbox,
        score: 0.5 + (i % 50) / 100
      }))
    // Two rows the evaluation cannot use: reported as skipped, not silently dropped.
    predictions.push({ image_id: 987654, category_id: 1, bbox: [0, 0, 10, 10], score: 0.5 })
    predictions.push({ image_id: coco.images[0].id, category_id: 1, bbox: [0, 0, 10, 10], score: 1.5 })
    const file = Path.join(tmp, "predictions.json")
    Fs.writeFileSync(file, JSON.stringify(predictions))

    const [active] = await activeDetectors()
    const report = await cli(["models", "analyze", String(active), "--dataset-version", "303", "--predictions", file])
    expect(report.code).toBe(0)
    expect(report.stdout).toMatch(/Reported metrics \(typed in by the model's uploader, not verified\)/)
    expect(report.stdout).toContain(`over ${coco.images.length} data units`)
    expect(report.stdout).toMatch(/AP 1\.000 {2}AP50 1\.000 {2}AP75 1\.000/)
    expect(report.stdout).toContain(
      `(${
        predictions.length - 2
      } of ${predictions.length} rows used; skipped: score_out_of_range ×1 (rows ${predictions.length}), unknown_image ×1 (rows ${
        predictions.length - 1
      }))`
    )
    if (isRich()) expect(report.stdout).toMatch(/DIFFERS {2}mAP reported [\d.]+, computed AP 1\.0000/)
    else {
      // An evidenced model carries no metrics and no type: nothing to compare, and the guessed task is said.
      expect(report.stdout).toContain("no reported metric has a computed counterpart")
      expect(report.stdout).toContain(
        `note: the backend sent no metrics for model ${active}: there are no reported metrics to show or compare`
      )
      expect(report.stdout).toContain(
        `note: model ${active} has no model_type (the backend did not send it): its predictions are read as detection`
      )
    }
    expect(report.stderr).toMatch(/^analyze ground truth: \d+\/\d+ events/m)
  })

  it("exits 2 naming the metrics that exist when compare is given an unknown one", async () => {
    const r = await cli(["models", "compare", "101", "103", "--metric", "nope"])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(
      isRich()
        ? /UnknownMetricError: no model has a metric named "nope" stored on it; metrics that exist: loss, mAP, mAP50, precision, recall/
        : /UnknownMetricError: no model has a metric named "nope" stored on it; metrics that exist: none; the backend sent no metrics for any of these models: recompute them from predictions/
    )
    const unkeyed = await cli([
      "models",
      "compare",
      "101",
      "103",
      "--recompute-on",
      "303",
      "--predictions",
      "preds.json"
    ])
    expect(unkeyed.code).toBe(2)
    expect(unkeyed.stderr).toContain(
      "--predictions expects model-id=file, e.g. --predictions 101=a.json; got \"preds.json\""
    )
  })

  it("exits 3 naming the request when a model does not exist", async () => {
    const r = await cli(["models", "compare", "101", "99999"])
    expect(r.code).toBe(3)
    expect(r.stderr).toMatch(
      /NotFoundError: model 99999 does not exist: HTTP 404: .*\(GET http:\/\/\S+\/models\/99999\/\)/
    )
    // An unknown version is named, not blamed on the predictions (which an empty listing would do).
    const predictions = Path.join(tmp, "unused.json")
    Fs.writeFileSync(predictions, "[]")
    const version = await cli([
      "models",
      "compare",
      "101",
      "103",
      "--recompute-on",
      "99999",
      "--predictions",
      `101=${predictions}`,
      "--metric",
      "AP"
    ])
    expect(version.code).toBe(3)
    expect(version.stderr).toMatch(
      /NotFoundError: dataset version 99999 does not exist: HTTP 404: .*ground_truth_dataset_versions\/99999\//
    )
  })

  it("deploys: dry run changes nothing, the gate rejects with exit 4, then replaces the active detector", async () => {
    const before = await activeDetectors()
    expect(before).toHaveLength(1)
    const file = Path.join(tmp, "model.pt")
    Fs.writeFileSync(file, Buffer.alloc(100_000, 3))
    const base = [
      "models",
      "deploy",
      "--name",
      "CLI Detector",
      "--type",
      "detection",
      "--project",
      "1",
      "--file",
      file,
      "--replace-active",
      "--gate-metric",
      "mAP"
    ]

    if (!isRich()) {
      // Evidenced models say nothing of their project or activity: deploy and rollback cannot know
      // what they would switch, so they refuse (exit 3) naming the field, and change nothing.
      for (
        const args of [[...base, "--metrics", "{\"mAP\": 0.99}", "--dry-run"], [
          ...base,
          "--metrics",
          "{\"mAP\": 0.99}"
        ]]
      ) {
        const refused = await cli(args)
        expect(refused.code).toBe(3)
        expect(refused.stderr).toContain(
          `IncompleteRecordError: model ${
            before[0]
          } has no \`is_active\`: deploy needs it, and the backend did not send it`
        )
      }
      const rollback = await cli(["models", "rollback", "--project", "1", "--deactivate", String(before[0])])
      expect(rollback.code).toBe(3)
      expect(rollback.stderr).toContain(
        `IncompleteRecordError: model ${before[0]} has no \`project\`: rollback needs it`
      )
      expect(sandbox().query("SELECT id FROM models WHERE name = ?", "CLI Detector")).toStrictEqual([])
      expect(await activeDetectors()).toStrictEqual(before)
      return
    }

    const dry = await cli([...base, "--metrics", "{\"mAP\": 0.99}", "--dry-run"])
    expect(dry.code).toBe(0)
    expect(dry.stdout).toMatch(/Deployment plan \(dry run: nothing changed\)/)
    expect(dry.stdout).toMatch(new RegExp(`deactivate model ${before[0]}`))
    expect(await activeDetectors()).toStrictEqual(before)

    const ungated = await cli([
      "models",
      "deploy",
      "--name",
      "x",
      "--type",
      "detection",
      "--project",
      "1",
      "--gate-min-improvement",
      "0.1"
    ])
    expect(ungated.code).toBe(2)
    expect(ungated.stderr).toContain("--gate-min-improvement needs --gate-metric NAME")

    const rejected = await cli([...base, "--metrics", "{\"mAP\": 0.01}"])
    expect(rejected.code).toBe(4)
    expect(rejected.stdout).toMatch(/gate: REJECTED/)
    expect(await activeDetectors()).toStrictEqual(before)

    const done = await cli([...base, "--metrics", "{\"mAP\": 0.99}", "--json"])
    expect(done.code).toBe(0)
    const result = JSON.parse(done.stdout)
    expect(result.status).toBe("deployed")
    expect(await activeDetectors()).toStrictEqual([result.model.id])
    expect(done.stderr).toMatch(/deploy: deactivate model \d+/)

    // Undone the way a failed deploy's report says: each option given once.
    const wrongProject = await cli(["models", "rollback", "--project", "2", "--deactivate", String(result.model.id)])
    expect(wrongProject.code).toBe(2)
    expect(wrongProject.stderr).toContain(
      `model ${result.model.id} is in project 1, not in project 2 (nothing was changed)`
    )
    const badId = await cli(["models", "rollback", "--project", "1", "--deactivate", "12x"])
    expect(badId.code).toBe(2)
    expect(badId.stderr).toContain(`--deactivate: "12x" is not an id`)
    const undone = await cli([
      "models",
      "rollback",
      "--project",
      "1",
      "--reactivate",
      String(before[0]),
      "--deactivate",
      String(result.model.id)
    ])
    expect(undone.code).toBe(0)
    expect(undone.stdout).toContain(`active now: ${before[0]}`)
    expect(await activeDetectors()).toStrictEqual(before)
  })
})
