/**
 * `create_model` with a 40 MiB file (one default 50 MiB chunk) through the real MCP server and SDK
 * client: notifications start while the chunk's bytes go out (the first after its first MiB) and
 * grow to the file's size, rather than a single one when the chunk is acknowledged. (The server
 * sends at most one per 50 ms, so over loopback, where 40 MiB go out in a blink, there may be
 * only a few.)
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { useMcp } from "./fixture.js"
import { connect } from "./harness.js"

const MiB = 1024 * 1024
const mcp = useMcp()

describe("create_model progress", () => {
  it.scoped(
    "a 40 MiB upload notifies progress from its first MiB on, growing to the file's size",
    () =>
      Effect.gen(function*() {
        fs.writeFileSync(path.join(mcp().uploadDir, "forty.bin"), Buffer.alloc(40 * MiB, 3))
        const client = yield* connect(mcp().factory)
        const seen: Array<{ progress: number; total?: number | undefined }> = []
        const result = yield* Effect.promise(() =>
          client.callTool(
            {
              name: "create_model",
              arguments: { name: "forty", model_type: "detection", project: 1, file_path: "forty.bin" }
            },
            undefined,
            { onprogress: (p) => void seen.push(p), timeout: 120_000 }
          )
        )
        expect(result.isError).toBeFalsy()
        const values = seen.map((p) => p.progress)
        expect(values[0]).toBe(MiB)
        expect(values.length).toBeGreaterThanOrEqual(2)
        expect(values.every((v, i) => i === 0 || v > values[i - 1]!)).toBe(true)
        expect(values.at(-1)).toBe(40 * MiB)
        expect(seen.every((p) => p.total === 40 * MiB)).toBe(true)
      }),
    120_000
  )
})
