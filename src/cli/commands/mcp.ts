/**
 * `synapse-ml mcp`: the MCP server, on stdio (what desktop clients launch) or, with `--http`, as a
 * stateless Streamable HTTP endpoint. Without `SYNAPSE_BASE_URL` it runs on an in-process sandbox
 * with demo data. In stdio mode stdout belongs to the protocol: everything else goes to stderr.
 * A bad configuration exits with status 2 and a message naming the variable.
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Config from "../../mcp/Config.js"
import * as Main from "../../mcp/Main.js"
import { addressInUseMessage, choosePort, displacedNote, isAddressInUse, type PortChoice } from "../Ports.js"

/** The options shared by `mcp` and `start`. */
export const mcpOptions = {
  port: Options.integer("port").pipe(
    Options.optional,
    Options.withDescription(
      "HTTP port (default $SYNAPSE_MCP_PORT, else 3333 or any free port when 3333 is taken; 0: any free port)"
    )
  ),
  host: Options.text("host").pipe(
    Options.optional,
    Options.withDescription(
      "HTTP bind address (default $SYNAPSE_MCP_HOST or 127.0.0.1; others require SYNAPSE_MCP_HTTP_TOKEN)"
    )
  ),
  readOnly: Options.boolean("read-only").pipe(
    Options.withDescription("offer read tools only (also SYNAPSE_MCP_READ_ONLY=1)")
  ),
  outputDir: Options.text("output-dir").pipe(
    Options.optional,
    Options.withDescription(
      "where exports and splits are written (default $SYNAPSE_MCP_OUTPUT_DIR or <tmpdir>/synapse-ml-exports)"
    )
  ),
  toolsets: Options.text("toolsets").pipe(
    Options.optional,
    Options.withDescription("comma-separated toolsets to offer (default $SYNAPSE_MCP_TOOLSETS, else all)")
  ),
  tools: Options.text("tools").pipe(
    Options.optional,
    Options.withDescription("comma-separated tools to offer (default $SYNAPSE_MCP_TOOLS, else all)")
  )
}

/** Parsed shared options. */
export interface McpCliOptions {
  readonly port: Option.Option<number>
  readonly host: Option.Option<string>
  readonly readOnly: boolean
  readonly outputDir: Option.Option<string>
  readonly toolsets: Option.Option<string>
  readonly tools: Option.Option<string>
}

/** The overrides the options make to the environment's settings. */
export const overridesOf = (options: McpCliOptions) => ({
  readOnly: options.readOnly,
  port: Option.getOrUndefined(options.port),
  host: Option.getOrUndefined(options.host),
  outputDir: Option.getOrUndefined(options.outputDir),
  toolsets: Option.getOrUndefined(options.toolsets),
  tools: Option.getOrUndefined(options.tools)
})

/**
 * The HTTP port: as given by `--port` or `$SYNAPSE_MCP_PORT`, else 3333, or any free port when
 * 3333 is taken. Returns the overrides with that port and the choice, for the banner.
 */
export const withHttpPort = Effect.fn("McpCommand.withHttpPort")(function*(
  options: McpCliOptions,
  env: Record<string, string | undefined>
) {
  const overrides = overridesOf(options)
  const fromEnv = env.SYNAPSE_MCP_PORT?.trim()
  if (overrides.port !== undefined || (fromEnv !== undefined && fromEnv !== "")) {
    return { overrides, choice: { port: overrides.port ?? Number(fromEnv), displaced: undefined } satisfies PortChoice }
  }
  const host = (overrides.host ?? (env.SYNAPSE_MCP_HOST?.trim() || Config.DEFAULT_HTTP_HOST)).trim()
  const choice = yield* choosePort(undefined, Config.DEFAULT_HTTP_PORT, host)
  return { overrides: { ...overrides, port: choice.port }, choice }
})

/** Reports a start-up failure on stderr and sets a non-zero exit status (no stack trace). */
export const reportStartError = (command: string) => (error: Main.McpStartError | Error) =>
  Console.error(`synapse-ml ${command}: ${portInUseMessage(error) ?? error.message}`).pipe(
    Effect.zipRight(Effect.sync(() => {
      process.exitCode = 2
    }))
  )

/**
 * For a port already in use, which one and the flag that picks another: the Node error names
 * neither flag, and under `start` the port may be the embedded sandbox's (`--sandbox-port`).
 */
const portInUseMessage = (error: Error): string | undefined => {
  if (!isAddressInUse(error)) return undefined
  const where = /(?:already in use|cannot listen on) (\S+?):(\d+)/.exec(error.message)
  const flag = /sandbox could not start/.test(error.message) ? "--sandbox-port" : "--port"
  return addressInUseMessage(where?.[2] ?? "?", where?.[1] ?? "its host", flag)
}

/** The built entry point, for the snippets shown to the user. */
export const builtEntryPoint = (): string =>
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "dist", "cli", "main.js")

/** `synapse-ml mcp [--http] [--port] [--host] [--read-only] [--output-dir]`. */
export const mcpCommand = Command.make(
  "mcp",
  {
    ...mcpOptions,
    http: Options.boolean("http").pipe(Options.withDescription("serve Streamable HTTP instead of stdio"))
  },
  (options) =>
    Effect.gen(function*() {
      // stdio binds no port: only the HTTP transport looks for a free one.
      const { choice, overrides } = options.http
        ? yield* withHttpPort(options, process.env)
        : { overrides: overridesOf(options), choice: undefined }
      return yield* Main.run({
        transport: options.http ? "http" : "stdio",
        env: process.env,
        overrides,
        onListening: (endpoint) =>
          Console.error(
            [
              ...(choice === undefined ? [] : displacedNote(choice, endpoint.port, "--port")),
              `listening on ${endpoint.url}`
            ].map((line) => `synapse-ml mcp: ${line}`).join("\n")
          )
      })
    }).pipe(Effect.catchAll(reportStartError("mcp")))
).pipe(
  Command.withDescription(
    "Run the MCP server (stdio by default, --http for Streamable HTTP). Uses SYNAPSE_BASE_URL, or the sandbox with demo data when unset."
  )
)
