import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { LIST_PAGE_SIZE, MAX_RESOURCE_BYTES, PART_BYTES } from "../../src/mcp/Resources.js"
import { useMcp } from "./fixture.js"
import { connect } from "./harness.js"

const mcp = useMcp()

/** A finished export as the export tool leaves it: summary, COCO JSON, per-image label files. */
const writeExport = (name: string, annotations = "{\"images\": []}") => {
  const dir = path.join(mcp().outputDir, name)
  fs.mkdirSync(path.join(dir, "annotations"), { recursive: true })
  fs.mkdirSync(path.join(dir, "labels"), { recursive: true })
  fs.writeFileSync(path.join(dir, "annotations", "instances_all.json"), annotations)
  fs.writeFileSync(path.join(dir, "labels", "img1.txt"), "0 0.5 0.5 0.1 0.1\n")
  fs.writeFileSync(path.join(dir, "synapse-export.json"), "{}")
}

const protocolError = (promise: Promise<unknown>) =>
  Effect.promise(() => promise.then(() => undefined, (e: unknown) => e as { code: number; message: string }))

describe("resources", () => {
  it.scoped("resources/list pages with a cursor and lists annotations/instances_all.json, not labels", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 60; i++) writeExport(`page-${String(i).padStart(2, "0")}`)
      // Unfinished (no summary file): never listed.
      fs.mkdirSync(path.join(mcp().outputDir, "unfinished", "annotations"), { recursive: true })
      fs.writeFileSync(path.join(mcp().outputDir, "unfinished", "annotations", "instances_all.json"), "{}")
      const client = yield* connect(mcp().factory)
      const first = yield* Effect.promise(() => client.listResources())
      expect(first.resources).toHaveLength(LIST_PAGE_SIZE)
      expect(first.nextCursor).toBeTypeOf("string")
      const second = yield* Effect.promise(() => client.listResources({ cursor: first.nextCursor! }))
      expect(second.nextCursor).toBeUndefined()
      const uris = [...first.resources, ...second.resources].map((r) => r.uri)
      expect(uris).toHaveLength(120)
      expect(new Set(uris).size).toBe(120)
      expect(uris).toContain("synapse://exports/page-00/annotations/instances_all.json")
      expect(uris).toContain("synapse://exports/page-59/synapse-export.json")
      expect(uris.some((u) => u.includes("/labels/") || u.includes("unfinished"))).toBe(false)
      const bad = yield* protocolError(client.listResources({ cursor: "not-a-cursor" }))
      expect(bad?.code).toBe(-32602)
      expect(bad?.message).toContain("nextCursor")
      for (let i = 0; i < 60; i++) {
        fs.rmSync(path.join(mcp().outputDir, `page-${String(i).padStart(2, "0")}`), { recursive: true })
      }
    }))

  it.scoped("a file over 8 MiB reads as a manifest of parts that join to the file", () =>
    Effect.gen(function*() {
      const big = Buffer.alloc(MAX_RESOURCE_BYTES + PART_BYTES / 2)
      for (let i = 0; i < big.length; i++) big[i] = 97 + (i % 26)
      writeExport("big-export", big.toString("latin1"))
      const uri = "synapse://exports/big-export/annotations/instances_all.json"
      const client = yield* connect(mcp().factory)
      const read = yield* Effect.promise(() => client.readResource({ uri }))
      const manifest = JSON.parse((read.contents[0] as { text: string }).text) as {
        size: number
        parts: Array<string>
        file_url: string
      }
      expect(manifest.size).toBe(big.length)
      expect(manifest.parts).toStrictEqual([1, 2, 3].map((n) => `${uri}?part=${n}`))
      expect(fs.readFileSync(fileURLToPath(manifest.file_url)).equals(big)).toBe(true)
      const chunks: Array<Buffer> = []
      for (const part of manifest.parts) {
        const answer = yield* Effect.promise(() => client.readResource({ uri: part }))
        chunks.push(Buffer.from((answer.contents[0] as { blob: string }).blob, "base64"))
      }
      expect(Buffer.concat(chunks).equals(big)).toBe(true)
      const missing = yield* protocolError(client.readResource({ uri: `${uri}?part=4` }))
      expect(missing?.code).toBe(-32602)
      expect(missing?.message).toContain("has 3 part(s)")
      // A small file still reads whole.
      writeExport("small-export")
      const small = yield* Effect.promise(() =>
        client.readResource({ uri: "synapse://exports/small-export/annotations/instances_all.json" })
      )
      expect((small.contents[0] as { text: string }).text).toBe("{\"images\": []}")
    }))
})
