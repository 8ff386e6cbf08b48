/**
 * The data-workflow commands as a user runs them: `synapse-ml export`, `split` and `coco validate`
 * spawned as processes against a sandbox, checking files written, stdout summaries, progress lines
 * on stderr (not a TTY here, so plain lines) and the exit codes that tell outcomes apart.
 */
import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { cliEntry, type CliResult, repoRoot, runCli } from "../support/cli.js"
import { call, jsonInit } from "../support/http.js"
import { isRich } from "../support/profile.js"
import { useSandbox } from "../support/sandbox.js"

const sandbox = useSandbox({ seed: "demo" })
const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "e2e-export-"))
afterAll(() => Fs.rmSync(tmp, { recursive: true, force: true }))

const cli = (args: ReadonlyArray<string>): Promise<CliResult> => {
  const sb = sandbox()
  return runCli(args, {
    SYNAPSE_BASE_URL: sb.url,
    SYNAPSE_ACCESS_TOKEN: sb.token,
    SYNAPSE_CACHE_DIR: Path.join(tmp, "cache")
  })
}

describe("synapse-ml export / split / coco validate", () => {
  it("export → coco validate → split → export by manifest (YOLO)", async () => {
    const out = Path.join(tmp, "coco")
    const exported = await cli([
      "export",
      "--dataset-version",
      "303",
      "--format",
      "coco",
      "-o",
      out,
      "--split-by",
      "category",
      "--json"
    ])
    expect(exported.code).toBe(0)
    const summary = JSON.parse(exported.stdout)
    expect(summary).toMatchObject({ format: "coco", valid: true, datasetVersions: [303] })
    expect(summary.annotations).toBeGreaterThan(0)
    expect(exported.stderr).toMatch(/^export reading: \d+\/\d+ events/m)
    expect(exported.stderr).toMatch(/^export done: /m)

    const checked = await cli(["coco", "validate", Path.join(out, "annotations", "instances_train.json")])
    expect(checked.code).toBe(0)
    expect(checked.stdout).toMatch(/: valid \(/)

    const manifest = Path.join(tmp, "split.json")
    const split = await cli([
      "split",
      "--project",
      "1",
      "--train",
      "0.7",
      "--validation",
      "0.2",
      "--test",
      "0.1",
      "--seed",
      "11",
      "--manifest",
      manifest
    ])
    expect(split.code).toBe(0)
    expect(split.stdout).toContain("images in two splits: 0")
    expect(JSON.parse(Fs.readFileSync(manifest, "utf8")).seed).toBe(11)

    const yolo = Path.join(tmp, "yolo")
    const byManifest = await cli([
      "export",
      "--dataset-version",
      "302,303",
      "--format",
      "yolo",
      "-o",
      yolo,
      "--manifest",
      manifest
    ])
    expect(byManifest.code).toBe(0)
    expect(byManifest.stdout).toMatch(/^Exported \d+ images/)
    expect(Fs.readdirSync(Path.join(yolo, "labels")).sort()).toEqual(["test", "train", "validation"])
    expect(Fs.readFileSync(Path.join(yolo, "data.yaml"), "utf8")).toContain("test: images/test")
  })

  it("--dataset-version repeats, takes commas, drops repeated ids and names a bad one", async () => {
    const [repeated, badId, splitRepeated, splitCommas] = await Promise.all([
      cli([
        "export",
        "--dataset-version",
        "302",
        "--dataset-version",
        "303,302",
        "-o",
        Path.join(tmp, "repeated"),
        "--json"
      ]),
      cli(["export", "--dataset-version", "302", "--dataset-version", "30x", "-o", Path.join(tmp, "bad-id")]),
      cli(["split", "--dataset-version", "302", "--dataset-version", "303", "--seed", "3", "--json"]),
      cli(["split", "--dataset-version", "302,303", "--seed", "3", "--json"])
    ])
    expect(repeated.code).toBe(0)
    expect(JSON.parse(repeated.stdout)).toMatchObject({ datasetVersions: [302, 303], valid: true })
    expect(badId.code).toBe(2)
    expect(badId.stderr).toContain(`--dataset-version: "30x" is not an id`)
    expect(Fs.existsSync(Path.join(tmp, "bad-id"))).toBe(false)
    // Unknown sources fail instead of writing an empty split.
    const [noVersion, noProject] = await Promise.all([
      cli(["split", "--dataset-version", "99999", "--manifest", Path.join(tmp, "none-a.json")]),
      cli(["split", "--project", "99999", "--manifest", Path.join(tmp, "none-b.json")])
    ])
    expect(noVersion.code).toBe(3)
    expect(noVersion.stderr).toMatch(
      /NotFoundError: dataset version 99999 does not exist: HTTP 404: .*ground_truth_dataset_versions\/99999\//
    )
    expect(noProject.code).toBe(2)
    expect(noProject.stderr).toContain("nothing to split: project 99999 has no ground-truth events with a data unit")
    expect(Fs.existsSync(Path.join(tmp, "none-a.json")) || Fs.existsSync(Path.join(tmp, "none-b.json"))).toBe(false)
    expect(splitRepeated.code).toBe(0)
    const [byRepeat, byCommas] = [JSON.parse(splitRepeated.stdout), JSON.parse(splitCommas.stdout)]
    expect(byRepeat.total.images).toBeGreaterThan(0)
    expect(byRepeat.total).toEqual(byCommas.total)
    expect(byRepeat.assignmentSha256).toBe(byCommas.assignmentSha256)
  })

  // Argument errors, local files and a 404 do not depend on the answer shapes: run once, under rich.
  it.skipIf(!isRich())("exit codes: 2 usage, 3 API error, 4 invalid COCO, 5 unreadable file", async () => {
    const bad = Path.join(tmp, "bad.json")
    Fs.writeFileSync(
      bad,
      JSON.stringify({ images: [{ id: 0, file_name: "a.png", width: 1, height: 1 }], annotations: [], categories: [] })
    )
    const wrongFormat = Path.join(tmp, "not-a-manifest.json")
    Fs.writeFileSync(wrongFormat, JSON.stringify({ format: "other" }))
    const [emptyOut, ignoredManifest, badManifest, badShare, noVersion, badFlag, unknown, invalid, missing] =
      await Promise.all([
        cli(["export", "--dataset-version", "303", "-o", ""]),
        cli([
          "export",
          "--dataset-version",
          "303",
          "-o",
          Path.join(tmp, "z"),
          "--manifest",
          wrongFormat,
          "--split-by",
          "category"
        ]),
        cli(["export", "--dataset-version", "303", "-o", Path.join(tmp, "z"), "--manifest", wrongFormat]),
        cli(["split", "--project", "1", "--train", "1.5"]),
        cli(["export", "-o", Path.join(tmp, "x")]),
        cli(["export", "--dataset-version", "303", "--bogus"]),
        cli(["export", "--dataset-version", "999999", "-o", Path.join(tmp, "y")]),
        cli(["coco", "validate", bad, "--json"]),
        cli(["coco", "validate", Path.join(tmp, "missing.json")])
      ])
    // Options that would be ignored, and a wrong file, are named in one line.
    expect(emptyOut.code).toBe(2)
    expect(emptyOut.stderr).toContain(`--out must name a directory ("." for this one)`)
    expect(ignoredManifest.code).toBe(2)
    expect(ignoredManifest.stderr).toContain("--manifest is only read with --split-by manifest")
    expect(badManifest.code).toBe(5) // a local file that is not what it should be
    expect(badManifest.stderr.trim().split("\n").at(-1)).toBe(
      `synapse-ml export: ExportError: ${wrongFormat} is not a split manifest (synapse-ml/split-manifest@1) at format: Expected "synapse-ml/split-manifest@1", actual "other"`
    )
    expect(badShare.code).toBe(2)
    expect(badShare.stderr).toContain("--train is a share between 0 and 1 (e.g. 0.8), got 1.5")
    expect(Fs.existsSync(Path.join(tmp, "z"))).toBe(false)
    expect(noVersion.code).toBe(2)
    expect(noVersion.stderr).toContain("--dataset-version")
    expect(badFlag.code).toBe(2)
    expect(unknown.code).toBe(3)
    expect(unknown.stderr).toContain("NotFoundError: dataset version 999999 does not exist: HTTP 404")
    expect(invalid.code).toBe(4)
    expect(JSON.parse(invalid.stdout).findingCounts).toEqual({ id_positive: 1, categories_nonempty: 1 })
    expect(missing.code).toBe(5)
    expect(Fs.existsSync(Path.join(tmp, "y", "annotations"))).toBe(false)
  })

  // Interruption does not depend on the answer shapes: run once, under rich.
  it.skipIf(!isRich())("Ctrl-C: exits 130 saying so, and removes the output directory it created", async () => {
    const sb = sandbox()
    const setFaults = (spec: string) => call(`${sb.origin}/_sandbox/faults`, jsonInit("PUT", { spec }, sb.headers))
    // Slow event pages, so the export is surely mid-way when interrupted.
    expect((await setFaults("latency=1500,paths=ground_truth_events")).status).toBe(200)
    const out = Path.join(tmp, "interrupted")
    try {
      const child = spawn(process.execPath, [...cliEntry, "export", "--dataset-version", "302,303", "-o", out], {
        cwd: repoRoot,
        env: {
          ...process.env,
          SYNAPSE_BASE_URL: sb.url,
          SYNAPSE_ACCESS_TOKEN: sb.token,
          SYNAPSE_CACHE_DIR: Path.join(tmp, "cache")
        },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stderr = ""
      child.stderr.on("data", (d) => (stderr += d))
      const closed = new Promise<number | null>((resolve) => child.on("close", resolve))
      // The output directory appears once the versions are counted, before any page is read.
      const deadline = Date.now() + 30_000
      while (!Fs.existsSync(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      expect(Fs.existsSync(out)).toBe(true)
      child.kill("SIGINT")
      expect(await closed).toBe(130)
      expect(stderr).toContain("synapse-ml export: interrupted")
      expect(Fs.existsSync(out)).toBe(false)
    } finally {
      await setFaults("")
    }
  }, 60_000)
})
