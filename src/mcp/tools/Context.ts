/**
 * `get_context`: what a model should read before anything else — the backend in use (sandbox or
 * real Synapse), whether write tools exist, the limits on results and the directories tools may
 * read from and write to.
 */
import { Effect, Schema } from "effect"
import { Backend } from "../Backend.js"
import { McpConfig } from "../Config.js"
import { DEFAULT_TOOL_PAGE_SIZE, MAX_TOOL_PAGE_SIZE } from "../Paging.js"
import { SERVER_INFO } from "../Server.js"
import * as Tool from "../Tool.js"

const ContextOutput = Schema.Struct({
  server: Schema.Struct({ name: Schema.String, version: Schema.String }),
  backend: Schema.Struct({
    url: Schema.String,
    sandbox: Schema.Boolean,
    description: Schema.String
  }),
  read_only: Schema.Boolean,
  limits: Schema.Struct({
    output_budget_chars: Schema.Int.annotations({ description: "Results longer than this are truncated with a note." }),
    max_page_size: Schema.Int,
    default_page_size: Schema.Int
  }),
  roots: Schema.Struct({
    upload_roots: Schema.Array(Schema.String).annotations({
      description: "Directories create_model may read model files from (empty: uploads disabled)."
    }),
    output_dir: Schema.String.annotations({ description: "Directory exports and splits are written under." })
  })
})

/** The `get_context` tool. */
export const getContext = Tool.make({
  name: "get_context",
  title: "Server context",
  description: "Call first: the backend in use (local sandbox with demo data, or a real Synapse), read-only " +
    "mode, output budget, page limits and the file roots for uploads and exports.",
  input: Schema.Struct({}),
  output: ContextOutput,
  annotations: { ...Tool.readOnly, openWorldHint: false },
  toolset: "context",
  write: false,
  run: () =>
    Effect.gen(function*() {
      const config = yield* McpConfig
      const backend = yield* Backend
      return {
        server: { name: SERVER_INFO.name, version: SERVER_INFO.version },
        backend: { url: backend.baseUrl, sandbox: backend.sandbox, description: backend.description },
        read_only: config.readOnly,
        limits: {
          output_budget_chars: config.outputBudget,
          max_page_size: MAX_TOOL_PAGE_SIZE,
          default_page_size: DEFAULT_TOOL_PAGE_SIZE
        },
        roots: { upload_roots: [...config.uploadRoots], output_dir: config.outputDir }
      }
    })
})
