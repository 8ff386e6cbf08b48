/**
 * MCP resources: records a client can open by URI instead of receiving them inline.
 * - `synapse://models/{id}`: a model's full record (with evaluations and versions), as JSON.
 * - `synapse://exports/{name}/{path}`: a file of a finished export under the output directory
 *   (COCO JSON, YOLO labels, split manifests). An export is finished when its summary file
 *   (`synapse-export.json`) exists: it is written last, so half-written or cancelled exports never
 *   show up. Reads are confined to the output directory (realpath checked).
 *
 * `resources/list` pages with an opaque cursor (an offset: nothing is kept between calls) and lists
 * each finished export's top-level files and its `annotations/` files (the COCO JSON), not the
 * per-image files of `images/` and `labels/`. A file over `MAX_RESOURCE_BYTES` is read in parts:
 * reading its URI returns a JSON manifest naming `?part=N` URIs (each `PART_BYTES` bytes, base64)
 * and the file's `file://` URL for clients on the same machine.
 */
import type { Resource } from "@modelcontextprotocol/sdk/types.js"
import { Effect } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import type { GroundTruths } from "../services/GroundTruths.js"
import { Models } from "../services/Models.js"
import { McpConfig } from "./Config.js"
import { toToolError } from "./Errors.js"
import { makePrompts } from "./Prompts.js"
import { resolveOutputFile, SAFE_NAME } from "./Roots.js"
import type { ResourceProvider } from "./Server.js"
import { ToolError } from "./Tool.js"

/** The file that marks an export directory as finished and summarises it. */
export const EXPORT_SUMMARY_FILE = "synapse-export.json"

/** Largest export file served whole through `resources/read`; bigger ones are read in parts. */
export const MAX_RESOURCE_BYTES = 8 * 1024 * 1024

/** Bytes in one part of a large file (base64 makes a part about 5.6 MB of JSON). */
export const PART_BYTES = 4 * 1024 * 1024

/** Resources per `resources/list` page. */
export const LIST_PAGE_SIZE = 100

/** The URI of a model. */
export const modelUri = (id: number): string => `synapse://models/${id}`
/** The URI of a file in an export directory. */
export const exportUri = (name: string, relative: string): string =>
  `synapse://exports/${encodeURIComponent(name)}/${relative.split(path.sep).map(encodeURIComponent).join("/")}`

const TEXT_TYPES: Record<string, string> = {
  ".json": "application/json",
  ".jsonl": "application/jsonl",
  ".txt": "text/plain",
  ".yaml": "application/yaml",
  ".yml": "application/yaml",
  ".csv": "text/csv",
  ".md": "text/markdown"
}
const BINARY_TYPES: Record<string, string> = { ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg" }

/** The MIME type of an export file, from its extension. */
export const mimeTypeOf = (file: string): string => {
  const ext = path.extname(file).toLowerCase()
  return TEXT_TYPES[ext] ?? BINARY_TYPES[ext] ?? "application/octet-stream"
}

/** The cursor of the page starting at `offset` (opaque to clients). */
export const encodeCursor = (offset: number): string => Buffer.from(`o${offset}`).toString("base64url")

const decodeCursor = (cursor: string | undefined) =>
  Effect.gen(function*() {
    if (cursor === undefined) return 0
    const match = /^o(\d{1,9})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"))
    if (match === null) {
      return yield* new ToolError({
        message:
          `Invalid cursor ${JSON.stringify(cursor.slice(0, 40))}: pass nextCursor from the previous resources/list ` +
          "answer unchanged, or no cursor for the first page."
      })
    }
    return Number(match[1])
  })

const readDir = (dir: string) =>
  Effect.promise(() => fs.readdir(dir, { withFileTypes: true }).catch(() => [] as Array<import("node:fs").Dirent>))

/** The listed files of the finished export `name` (top level, then `annotations/`), sorted. */
const exportFiles = (outputDir: string, name: string) =>
  Effect.gen(function*() {
    const dir = path.join(outputDir, name)
    const files = yield* readDir(dir)
    if (!files.some((f) => f.name === EXPORT_SUMMARY_FILE)) return []
    const top = files.filter((f) => f.isFile()).map((f) => f.name).sort()
    const annotations = files.some((f) => f.name === "annotations" && f.isDirectory())
      ? (yield* readDir(path.join(dir, "annotations"))).filter((f) => f.isFile()).map((f) => `annotations/${f.name}`)
        .sort()
      : []
    return [...top, ...annotations]
  })

/** The resources of the server, with its prompts and completions. */
export const makeResources = (): ResourceProvider<Models | GroundTruths | McpConfig> => ({
  prompts: makePrompts(),
  templates: [
    {
      uriTemplate: "synapse://models/{id}",
      name: "model",
      title: "Synapse model",
      description: "A model's full record (metrics, configuration, evaluations, versions) as JSON.",
      mimeType: "application/json"
    },
    {
      uriTemplate: "synapse://exports/{name}/{+path}",
      name: "export-file",
      title: "Exported dataset file",
      description: "A file of a finished export_ground_truth or prepare_training_data run (COCO JSON, YOLO labels, " +
        `manifests). A file over ${MAX_RESOURCE_BYTES} bytes reads as a manifest of ?part=N URIs.`
    }
  ],
  list: (cursor) =>
    Effect.gen(function*() {
      const offset = yield* decodeCursor(cursor)
      const config = yield* McpConfig
      const entries = yield* readDir(config.outputDir)
      const out: Array<Resource> = []
      let index = 0
      for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
        if (!entry.isDirectory() || !SAFE_NAME.test(entry.name)) continue
        const files = yield* exportFiles(config.outputDir, entry.name)
        // Whole exports before the page are counted, not listed.
        if (index + files.length <= offset) {
          index += files.length
          continue
        }
        for (const file of files) {
          if (index++ < offset) continue
          if (out.length === LIST_PAGE_SIZE) return { resources: out, nextCursor: encodeCursor(offset + out.length) }
          out.push({ uri: exportUri(entry.name, file), name: `${entry.name}/${file}`, mimeType: mimeTypeOf(file) })
        }
      }
      return { resources: out }
    }),
  read: (uri) =>
    Effect.gen(function*() {
      const model = /^synapse:\/\/models\/(\d+)$/.exec(uri)
      if (model !== null) {
        const id = Number(model[1])
        const models = yield* Models
        const record = yield* models.get(id, { params: { expand: ["evaluations", "versions"] } }).pipe(
          Effect.mapError(
            toToolError({
              action: `Reading ${uri}`,
              notFound: `model ${id} does not exist; find ids with list_models.`
            })
          )
        )
        return [{ uri, mimeType: "application/json", text: JSON.stringify(record, null, 2) }]
      }
      const exported = /^synapse:\/\/exports\/([^/?]+)\/([^?]+)(?:\?part=(\d{1,6}))?$/.exec(uri)
      if (exported !== null) {
        const config = yield* McpConfig
        const name = decodeURIComponent(exported[1]!)
        const relative = exported[2]!.split("/").map(decodeURIComponent).join(path.sep)
        const file = yield* resolveOutputFile(config.outputDir, name, relative)
        const stat = yield* Effect.promise(() => fs.stat(file))
        if (!stat.isFile()) return yield* new ToolError({ message: `${uri} is a directory, not a file.` })
        const base = uri.replace(/\?.*$/, "")
        const mimeType = mimeTypeOf(file)
        const parts = Math.max(1, Math.ceil(stat.size / PART_BYTES))
        if (exported[3] !== undefined) {
          const part = Number(exported[3])
          if (part < 1 || part > parts) {
            return yield* new ToolError({
              message: `${base} has ${parts} part(s) of ${PART_BYTES} bytes; part ${part} does not exist.`
            })
          }
          const bytes = yield* Effect.promise(() => readRange(file, (part - 1) * PART_BYTES, PART_BYTES))
          return [{
            uri,
            mimeType,
            blob: bytes.toString("base64"),
            _meta: { part, parts, offset: (part - 1) * PART_BYTES, bytes: bytes.length, size: stat.size }
          }]
        }
        if (stat.size > MAX_RESOURCE_BYTES) {
          const manifest = {
            uri: base,
            size: stat.size,
            mime_type: mimeType,
            part_bytes: PART_BYTES,
            parts: Array.from({ length: parts }, (_, i) => `${base}?part=${i + 1}`),
            file_url: pathToFileURL(file).href,
            message: `${base} is ${stat.size} bytes, more than the ${MAX_RESOURCE_BYTES} bytes served in one read. ` +
              `Read the ${parts} part URIs in order (each a base64 blob of up to ${PART_BYTES} bytes) and join the bytes, ` +
              `or open file_url directly when the client runs on the server's machine.`
          }
          return [{ uri: base, mimeType: "application/json", text: JSON.stringify(manifest, null, 2) }]
        }
        const bytes = yield* Effect.promise(() => fs.readFile(file))
        return mimeType in BINARY_TYPES || mimeType === "application/octet-stream"
          ? [{ uri, mimeType, blob: bytes.toString("base64") }]
          : [{ uri, mimeType, text: bytes.toString("utf8") }]
      }
      return yield* new ToolError({
        message:
          `Unknown resource ${uri}. Resources are synapse://models/{id} and synapse://exports/{name}/{path} (see resources/list).`
      })
    })
})

/** Reads up to `length` bytes of `file` from `offset`. */
const readRange = async (file: string, offset: number, length: number): Promise<Buffer> => {
  const handle = await fs.open(file, "r")
  try {
    const buffer = Buffer.alloc(length)
    const { bytesRead } = await handle.read(buffer, 0, length, offset)
    return buffer.subarray(0, bytesRead)
  } finally {
    await handle.close()
  }
}
