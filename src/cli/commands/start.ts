/**
 * `synapse-ml start` (what `npm start` runs): the MCP server over Streamable HTTP on top of an
 * in-process sandbox with demo data (or on `SYNAPSE_BASE_URL` when set), so a newcomer has a
 * working server with one command. It prints the endpoint, an inspector command to try it and the
 * Claude Desktop configuration for the stdio transport. `--sandbox-profile evidence` (or
 * `SYNAPSE_SANDBOX_PROFILE`) makes the sandbox answer only the evidenced shapes.
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import * as Main from "../../mcp/Main.js"
import { SANDBOX_PROFILES } from "../../sandbox/Context.js"
import * as Sandbox from "../../sandbox/Sandbox.js"
import { displacedNote } from "../Ports.js"
import { builtEntryPoint, mcpOptions, reportStartError, withHttpPort } from "./mcp.js"
import { DEFAULT_SANDBOX_PORT } from "./sandbox.js"

/** `synapse-ml start`. */
export const startCommand = Command.make(
  "start",
  {
    ...mcpOptions,
    sandboxPort: Options.integer("sandbox-port").pipe(
      Options.withDefault(0),
      Options.withDescription(
        `port of the in-process sandbox API (default 0: any free port, never the ${DEFAULT_SANDBOX_PORT} of \`synapse-ml sandbox\`)`
      )
    ),
    dataDir: Options.text("data-dir").pipe(
      Options.optional,
      Options.withDescription(
        "sandbox data directory, kept across runs (default $SYNAPSE_SANDBOX_DIR, else a fresh temporary directory removed when the server stops)"
      )
    ),
    sandboxProfile: Options.text("sandbox-profile").pipe(
      Options.optional,
      Options.withDescription(
        `answer shapes of the sandbox, ${SANDBOX_PROFILES.join(" or ")} (default $SYNAPSE_SANDBOX_PROFILE or rich)`
      )
    )
  },
  (options) =>
    Effect.gen(function*() {
      const profile = yield* Sandbox.parseProfile(Option.getOrUndefined(options.sandboxProfile), "--sandbox-profile", {
        blankIsUnset: false
      })
      const { choice, overrides } = yield* withHttpPort(options, process.env)
      return yield* Main.run({
        transport: "http",
        env: process.env,
        overrides,
        sandbox: {
          port: options.sandboxPort,
          ...(Option.isSome(options.dataDir) ? { dataDir: options.dataDir.value } : {}),
          profile
        },
        onListening: (endpoint, backend) =>
          Console.log([
            "",
            ...displacedNote(choice, endpoint.port, "--port"),
            `synapse-ml MCP server (Streamable HTTP, stateless) listening on ${endpoint.url}`,
            `backend: ${backend.description}`,
            `         ${backend.baseUrl}`,
            "",
            "Try it with the MCP inspector:",
            `  npx @modelcontextprotocol/inspector --cli ${endpoint.url} --transport http --method tools/list`,
            `  npx @modelcontextprotocol/inspector --cli ${endpoint.url} --transport http --method tools/call --tool-name list_models --tool-arg page_size=5`,
            "",
            "Claude Desktop (stdio): after `npm run build`, add to claude_desktop_config.json:",
            JSON.stringify(
              { mcpServers: { "synapse-ml": { command: "node", args: [builtEntryPoint(), "mcp"], env: {} } } },
              null,
              2
            )
              .split("\n").map((line) => `  ${line}`).join("\n"),
            "",
            "Ctrl-C stops the server."
          ].join("\n"))
      })
    }).pipe(Effect.catchAll(reportStartError("start")))
).pipe(
  Command.withDescription(
    "Run the MCP server over Streamable HTTP on the sandbox with demo data (or SYNAPSE_BASE_URL), printing how to connect."
  )
)
