import { describe, expect, it } from "@effect/vitest"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { JobView } from "../../src/mcp/Jobs.js"
import { useMcp } from "./fixture.js"
import { connect, textOf } from "./harness.js"

const mcp = useMcp()

const call = (client: Client, name: string, args: Record<string, unknown>) =>
  Effect.promise(() => client.callTool({ name, arguments: args }))

const firstVersion = (client: Client) =>
  Effect.map(
    call(client, "list_ground_truth_versions", { page_size: 1 }),
    (r) => (r.structuredContent as { results: Array<{ id: number }> }).results[0]!.id
  )

const jobOf = (result: unknown) => (result as { structuredContent: JobView }).structuredContent
const statusOf = (client: Client, id: string) =>
  Effect.map(
    call(client, "job", { action: "status", job_id: id }),
    (r) => (r.structuredContent as { jobs: Array<JobView> }).jobs[0]!
  )

const setFaults = (spec: string) =>
  Effect.promise(() =>
    fetch(`${mcp().sandbox.origin}/_sandbox/faults`, { method: "PUT", headers: mcp().sandbox.headers, body: spec })
      .then((r) => r.text())
  )

describe("jobs", () => {
  it.scopedLive("a detached export is polled from another client, then its result fetched", () =>
    Effect.gen(function*() {
      const starter = yield* connect(mcp().factory)
      const other = yield* connect(mcp().factory)
      const version = yield* firstVersion(starter)
      const started = yield* call(starter, "start_job", {
        tool: "export_ground_truth",
        arguments: { dataset_version_ids: [version], format: "coco", output_name: "job-export" }
      })
      expect(started.isError).toBeFalsy()
      const handle = jobOf(started)
      expect(handle).toMatchObject({ tool: "export_ground_truth", status: "running", finished_at: null })
      let view = yield* statusOf(other, handle.job_id)
      for (let i = 0; i < 100 && view.status === "running"; i++) {
        yield* Effect.sleep("50 millis")
        view = yield* statusOf(other, handle.job_id)
      }
      expect(view.status).toBe("completed")
      expect(view.progress?.progress).toBeGreaterThan(0)
      const fetched = yield* call(other, "job", { action: "result", job_id: handle.job_id })
      const out = fetched.structuredContent as { result: { output_name: string; files: Array<string> } }
      expect(out.result.output_name).toBe("job-export")
      expect(out.result.files.length).toBeGreaterThan(0)
      for (const file of out.result.files) {
        expect(fs.existsSync(path.join(mcp().outputDir, "job-export", file))).toBe(true)
      }
      const links = (fetched.content as Array<{ type: string; uri?: string }>).filter((c) => c.type === "resource_link")
      expect(links.map((l) => l.uri)).toContain("synapse://exports/job-export/synapse-export.json")
      const listed = yield* call(starter, "job", { action: "list" })
      expect((listed.structuredContent as { jobs: Array<JobView> }).jobs.map((j) => j.job_id)).toContain(handle.job_id)
    }))

  it.scopedLive("a cancelled job stops, leaves no files, and has no result", () =>
    Effect.gen(function*() {
      const client = yield* connect(mcp().factory)
      const version = yield* firstVersion(client)
      // Every image download takes 300 ms, so the export runs for many seconds.
      yield* setFaults("latency=300,paths=media")
      yield* Effect.addFinalizer(() => setFaults(""))
      const started = yield* call(client, "start_job", {
        tool: "export_ground_truth",
        arguments: { dataset_version_ids: [version], format: "yolo", include_images: true, output_name: "job-cancel" }
      })
      const handle = jobOf(started)
      let view = yield* statusOf(client, handle.job_id)
      for (let i = 0; i < 20 && view.progress === null; i++) {
        yield* Effect.sleep("50 millis")
        view = yield* statusOf(client, handle.job_id)
      }
      expect(view.status).toBe("running")
      const cancelled = yield* call(client, "job", { action: "cancel", job_id: handle.job_id })
      expect((cancelled.structuredContent as { jobs: Array<JobView> }).jobs[0]!.status).toBe("cancelled")
      // Cancel answers once the work has stopped: its clean-up has already run.
      expect(fs.existsSync(path.join(mcp().outputDir, "job-cancel"))).toBe(false)
      const result = yield* call(client, "job", { action: "result", job_id: handle.job_id })
      expect(result.isError).toBe(true)
      expect(textOf(result)).toContain("was cancelled")
    }))

  it.scoped("bad arguments fail at start_job, before any job exists; unknown ids are explained", () =>
    Effect.gen(function*() {
      const client = yield* connect(mcp().factory)
      const bad = yield* call(client, "start_job", { tool: "export_ground_truth", arguments: { format: "pdf" } })
      expect(bad.isError).toBe(true)
      expect(textOf(bad)).toContain("Invalid arguments for export_ground_truth")
      expect(textOf(bad)).toContain("format")
      const unknown = yield* call(client, "job", { action: "status", job_id: "job_nope" })
      expect(unknown.isError).toBe(true)
      expect(textOf(unknown)).toContain("No job \"job_nope\"")
      const noId = yield* call(client, "job", { action: "result" })
      expect(textOf(noId)).toContain("needs job_id")
    }))
})
