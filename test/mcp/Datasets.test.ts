import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { outputSchemaOf } from "../../src/mcp/Server.js"
import { allTools } from "../../src/mcp/tools/index.js"
import { useMcp } from "./fixture.js"
import { connect, textOf } from "./harness.js"

const mcp = useMcp()

const call = (
  name: string,
  args: Record<string, unknown>,
  options: Parameters<import("@modelcontextprotocol/sdk/client/index.js").Client["callTool"]>[2] = {}
) =>
  Effect.gen(function*() {
    const client = yield* connect(mcp().factory)
    yield* Effect.promise(() => client.listTools())
    const result = yield* Effect.promise(() => client.callTool({ name, arguments: args }, undefined, options))
    if (result.isError !== true) {
      const tool = allTools.find((t) => t.name === name)!
      Schema.decodeUnknownSync(outputSchemaOf(tool), { onExcessProperty: "error" })(result.structuredContent)
    }
    return { result, client }
  })

const firstVersion = Effect.gen(function*() {
  const { result } = yield* call("list_ground_truth_versions", {})
  return (result.structuredContent as { results: Array<{ id: number }> }).results[0]!.id
})

describe("dataset tools on the sandbox", () => {
  it.scoped("export_ground_truth writes COCO under the output dir, reports progress, links resources", () =>
    Effect.gen(function*() {
      const version = yield* firstVersion
      const progress: Array<{ progress: number; total?: number | undefined }> = []
      const { result, client } = yield* call(
        "export_ground_truth",
        { dataset_version_ids: [version], format: "coco", output_name: "coco-all" },
        { onprogress: (p) => void progress.push(p) }
      )
      expect(result.isError).toBeFalsy()
      const out = result.structuredContent as {
        outputDir: string
        files: Array<string>
        images: number
        annotations: number
        valid: boolean
        resource_links: Array<{ uri: string }>
      }
      expect(out.outputDir).toBe(path.join(fs.realpathSync(mcp().outputDir), "coco-all"))
      expect(out.images).toBeGreaterThan(0)
      expect(out.annotations).toBeGreaterThan(0)
      expect(out.valid).toBe(true)
      expect(Object.keys((out as unknown as { validation: object }).validation)).toStrictEqual(["all"])
      for (const file of out.files) expect(fs.existsSync(path.join(out.outputDir, file))).toBe(true)
      // Never inline: the text is a summary, far smaller than the COCO file.
      const cocoFile = out.files.find((f) => f.endsWith(".json"))!
      expect(textOf(result).length).toBeLessThan(fs.statSync(path.join(out.outputDir, cocoFile)).size)
      expect(progress.length).toBeGreaterThan(0)
      for (let i = 1; i < progress.length; i++) expect(progress[i]!.progress).toBeGreaterThan(progress[i - 1]!.progress)
      const links = (result.content as Array<{ type: string; uri?: string }>).filter((c) => c.type === "resource_link")
      expect(links.length).toBeGreaterThan(0)

      const listed = yield* Effect.promise(() => client.listResources())
      expect(listed.resources.map((r) => r.uri)).toContain("synapse://exports/coco-all/synapse-export.json")
      const read = yield* Effect.promise(() => client.readResource({ uri: `synapse://exports/coco-all/${cocoFile}` }))
      const coco = JSON.parse((read.contents[0] as { text: string }).text) as { images: Array<unknown> }
      expect(coco.images).toHaveLength(out.images)

      const validated = yield* call("validate_coco", { path: `coco-all/${cocoFile}` })
      expect(validated.result.structuredContent).toMatchObject({
        valid: true,
        images: out.images,
        annotations: out.annotations
      })

      const again = yield* call("export_ground_truth", {
        dataset_version_ids: [version],
        format: "coco",
        output_name: "coco-all"
      })
      expect(again.result.isError).toBe(true)
      expect(textOf(again.result)).toContain("already exists")
    }))

  it.scoped("prepare_training_data plans by default, writes a manifest on request, and export splits by it", () =>
    Effect.gen(function*() {
      const version = yield* firstVersion
      const before = fs.readdirSync(mcp().outputDir).length
      const plan = yield* call("prepare_training_data", { dataset_version_ids: [version], train: 0.75, seed: 7 })
      expect(plan.result.structuredContent).toMatchObject({ dryRun: true, output_name: null, leakedImages: 0 })
      expect(fs.readdirSync(mcp().outputDir).length).toBe(before)

      const written = yield* call("prepare_training_data", {
        dataset_version_ids: [version],
        train: 0.75,
        seed: 7,
        dry_run: false,
        output_name: "split-a"
      })
      expect(written.result.structuredContent).toMatchObject({ dryRun: false, output_name: "split-a" })
      const yolo = yield* call("export_ground_truth", {
        dataset_version_ids: [version],
        format: "yolo",
        split_by: "manifest",
        split_name: "split-a",
        output_name: "yolo-split"
      })
      expect(yolo.result.isError).toBeFalsy()
      expect(Object.keys((yolo.result.structuredContent as { splits: object }).splits).sort()).toStrictEqual([
        "train",
        "validation"
      ])

      const bad = yield* call("prepare_training_data", { dataset_version_ids: [version], train: 0.9, validation: 0.5 })
      expect(bad.result.isError).toBe(true)
      expect(textOf(bad.result)).toContain("must add up to 1")
    }))

  it.scoped("validate_coco refuses files outside the roots and '..' paths", () =>
    Effect.gen(function*() {
      const outside = yield* call("validate_coco", { path: "/etc/passwd" })
      expect(outside.result.isError).toBe(true)
      expect(textOf(outside.result)).toMatch(/outside|does not exist/)
      const dotdot = yield* call("validate_coco", { path: "../../etc/passwd" })
      expect(textOf(dotdot.result)).toContain("'..'")
      fs.symlinkSync("/etc/passwd", path.join(mcp().outputDir, "escape.json"))
      const link = yield* call("validate_coco", { path: "escape.json" })
      expect(link.result.isError).toBe(true)
      expect(textOf(link.result)).toContain("outside")
    }))

  it.scoped("an unknown dataset version is an actionable error and leaves no directory", () =>
    Effect.gen(function*() {
      const { result } = yield* call("export_ground_truth", {
        dataset_version_ids: [424242],
        format: "coco",
        output_name: "missing"
      })
      expect(result.isError).toBe(true)
      expect(textOf(result)).toContain("list_ground_truth_versions")
      expect(fs.existsSync(path.join(mcp().outputDir, "missing"))).toBe(false)
    }))
})

describe("cancellation", () => {
  it.scopedLive("cancelling an export interrupts it: requests stop and no partial output remains", () =>
    Effect.gen(function*() {
      const { origin, headers } = mcp().sandbox
      const setFaults = (spec: string) =>
        Effect.promise(() =>
          fetch(`${origin}/_sandbox/faults`, { method: "PUT", headers, body: spec }).then((r) => r.text())
        )
      const requests = Effect.promise(() =>
        fetch(`${origin}/_sandbox/stats`, { headers }).then((r) => r.json() as Promise<{ requests: number }>).then((
          s
        ) => s.requests)
      )
      // Slow every file download so that the export is still running when it is cancelled.
      yield* setFaults("latency=150,paths=media")
      yield* Effect.addFinalizer(() => setFaults(""))
      const version = yield* firstVersion
      const client = yield* connect(mcp().factory)
      const controller = new AbortController()
      let progressed = 0
      const outcome = yield* Effect.promise(() =>
        client.callTool(
          {
            name: "export_ground_truth",
            arguments: {
              dataset_version_ids: [version],
              format: "coco",
              include_images: true,
              output_name: "cancelled"
            }
          },
          undefined,
          {
            signal: controller.signal,
            onprogress: () => {
              progressed++
              controller.abort("user cancelled")
            }
          }
        ).then(() => "finished", (error: unknown) => `rejected: ${String(error)}`)
      )
      expect(outcome).toContain("rejected")
      expect(progressed).toBeGreaterThan(0)
      // The interruption reaches the workflow: the sandbox stops receiving its downloads.
      yield* Effect.sleep("400 millis")
      const after = yield* requests
      yield* Effect.sleep("1 second")
      const later = yield* requests
      expect(later - after).toBeLessThanOrEqual(1) // the stats request itself
      expect(fs.existsSync(path.join(mcp().outputDir, "cancelled"))).toBe(false)
      const listed = yield* Effect.promise(() => client.listResources())
      expect(listed.resources.some((r) => r.uri.includes("/cancelled/"))).toBe(false)
    }))
})
