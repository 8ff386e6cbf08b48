/**
 * MCP resources: records a client can open by URI instead of receiving them inline.
 * - `synapse://models/{id}`: a model's full record (with evaluations and versions), as JSON.
 * - `synapse://exports/{name}/{path}`: a file of a finished export under the output directory
 *   (COCO JSON, YOLO labels, split manifests). An export is finished when its summary file
 *   (`synapse-export.json`) exists: it is written last, so half-written or cancelled exports never
 *   show up. Reads are confined to the output directory (realpath checked).
 */
import type { Resource } from "@modelcontextprotocol/sdk/types.js"
import { Effect } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Models } from "../services/Models.js"
import { McpConfig } from "./Config.js"
import { toToolError } from "./Errors.js"
import { resolveOutputFile, SAFE_NAME } from "./Roots.js"
import type { ResourceProvider } from "./Server.js"
import { ToolError } from "./Tool.js"

/** The file that marks an export directory as finished and summarises it. */
export const EXPORT_SUMMARY_FILE = "synapse-export.json"

/** Largest export file served through `resources/read` (bigger files are read from disk). */
export const MAX_RESOURCE_BYTES = 8 * 1024 * 1024

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

const LIST_LIMIT = 200

/** The resources of the server. */
export const makeResources = (): ResourceProvider<Models | McpConfig> => ({
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
      description:
        "A file of a finished export_ground_truth or prepare_training_data run (COCO JSON, YOLO labels, manifests)."
    }
  ],
  list: Effect.gen(function*() {
    const config = yield* McpConfig
    const entries = yield* Effect.promise(() => fs.readdir(config.outputDir, { withFileTypes: true }).catch(() => []))
    const out: Array<Resource> = []
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (!entry.isDirectory() || !SAFE_NAME.test(entry.name)) continue
      const dir = path.join(config.outputDir, entry.name)
      const files = yield* Effect.promise(() => fs.readdir(dir, { withFileTypes: true }).catch(() => []))
      if (!files.some((f) => f.name === EXPORT_SUMMARY_FILE)) continue
      // Top-level files only: a YOLO export has one label file per image, too many to list.
      for (const file of files) {
        if (!file.isFile() || out.length >= LIST_LIMIT) continue
        out.push({
          uri: exportUri(entry.name, file.name),
          name: `${entry.name}/${file.name}`,
          mimeType: mimeTypeOf(file.name)
        })
      }
    }
    return out
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
      const exported = /^synapse:\/\/exports\/([^/]+)\/(.+)$/.exec(uri)
      if (exported !== null) {
        const config = yield* McpConfig
        const name = decodeURIComponent(exported[1]!)
        const relative = exported[2]!.split("/").map(decodeURIComponent).join(path.sep)
        const file = yield* resolveOutputFile(config.outputDir, name, relative)
        const stat = yield* Effect.promise(() => fs.stat(file))
        if (!stat.isFile()) return yield* new ToolError({ message: `${uri} is a directory, not a file.` })
        if (stat.size > MAX_RESOURCE_BYTES) {
          return yield* new ToolError({
            message:
              `${uri} is ${stat.size} bytes, more than the ${MAX_RESOURCE_BYTES}-byte limit for resource reads; read it from disk at ${file}.`
          })
        }
        const mimeType = mimeTypeOf(file)
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
