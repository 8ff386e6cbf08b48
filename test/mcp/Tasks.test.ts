import { describe, expect, it } from "@effect/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { CreateTaskResultSchema } from "@modelcontextprotocol/sdk/types.js"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Http from "../../src/mcp/Http.js"
import { useMcp } from "./fixture.js"

const mcp = useMcp()

const httpClient = Effect.gen(function*() {
  const { url } = yield* Http.serve(mcp().factory, mcp().settings)
  const client = new Client({ name: "tasks", version: "0" })
  yield* Effect.acquireRelease(
    Effect.promise(() => client.connect(new StreamableHTTPClientTransport(new URL(url)))),
    () => Effect.promise(() => client.close())
  )
  return client
})

const firstVersion = (client: Client) =>
  Effect.promise(() => client.callTool({ name: "list_ground_truth_versions", arguments: { page_size: 1 } })).pipe(
    Effect.map((r) => (r.structuredContent as { results: Array<{ id: number }> }).results[0]!.id)
  )

const setFaults = (spec: string) =>
  Effect.promise(() =>
    fetch(`${mcp().sandbox.origin}/_sandbox/faults`, { method: "PUT", headers: mcp().sandbox.headers, body: spec })
      .then((r) => r.text())
  )

describe("tasks (2025-11-25, experimental) over stateless HTTP", () => {
  it.scopedLive("long tools are listed as task-capable; a task-augmented export runs and its result is fetched", () =>
    Effect.gen(function*() {
      const client = yield* httpClient
      const { tools } = yield* Effect.promise(() => client.listTools())
      const support = Object.fromEntries(tools.map((t) => [t.name, t.execution?.taskSupport ?? null]))
      expect(support["export_ground_truth"]).toBe("optional")
      expect(support["list_models"]).toBeNull()
      const version = yield* firstVersion(client)
      const kinds: Array<string> = []
      let result: unknown
      yield* Effect.promise(async () => {
        const stream = client.experimental.tasks.callToolStream({
          name: "export_ground_truth",
          arguments: { dataset_version_ids: [version], format: "coco", output_name: "task-export" }
        })
        for await (const message of stream) {
          kinds.push(message.type)
          if (message.type === "result") result = message.result as unknown
          if (message.type === "error") throw message.error
        }
      })
      expect(kinds[0]).toBe("taskCreated")
      expect(kinds.at(-1)).toBe("result")
      expect((result as { structuredContent: { output_name: string } }).structuredContent.output_name).toBe(
        "task-export"
      )
      expect(fs.existsSync(path.join(mcp().outputDir, "task-export", "synapse-export.json"))).toBe(true)
    }))

  it.scopedLive("cancelling a task stops its export within a second and leaves no files", () =>
    Effect.gen(function*() {
      const client = yield* httpClient
      const version = yield* firstVersion(client)
      yield* setFaults("latency=300,paths=media")
      yield* Effect.addFinalizer(() => setFaults(""))
      const created = yield* Effect.promise(() =>
        client.request(
          {
            method: "tools/call",
            params: {
              name: "export_ground_truth",
              arguments: {
                dataset_version_ids: [version],
                format: "yolo",
                include_images: true,
                output_name: "task-cancel"
              },
              task: { ttl: 60_000 }
            }
          },
          CreateTaskResultSchema
        )
      )
      yield* Effect.sleep("700 millis")
      expect(fs.existsSync(path.join(mcp().outputDir, "task-cancel"))).toBe(true)
      const cancelled = yield* Effect.promise(() => client.experimental.tasks.cancelTask(created.task.taskId))
      expect(cancelled.status).toBe("cancelled")
      yield* Effect.sleep("1 second")
      expect(fs.existsSync(path.join(mcp().outputDir, "task-cancel"))).toBe(false)
      const task = yield* Effect.promise(() => client.experimental.tasks.getTask(created.task.taskId))
      expect(task.status).toBe("cancelled")
    }))

  it.scopedLive("a task-augmented call with bad arguments is -32602 and makes no task", () =>
    Effect.gen(function*() {
      const client = yield* httpClient
      const before = yield* Effect.promise(() => client.experimental.tasks.listTasks())
      const refused = yield* Effect.promise(() =>
        client.request(
          {
            method: "tools/call",
            params: { name: "export_ground_truth", arguments: { format: "pdf" }, task: {} }
          },
          CreateTaskResultSchema
        ).then(() => undefined, (e: unknown) => e as { code: number; message: string })
      )
      expect(refused?.code).toBe(-32602)
      expect(refused?.message).toContain("Invalid arguments for export_ground_truth")
      const after = yield* Effect.promise(() => client.experimental.tasks.listTasks())
      expect(after.tasks.length).toBe(before.tasks.length)
    }))
})
