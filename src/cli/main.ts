#!/usr/bin/env node
/**
 * The `synapse-ml` command. Each subcommand lives in its own module under `./commands/` and is
 * registered with one line in `subcommands` below. Logs go to stderr (stdout belongs to command
 * output and to the MCP stdio transport); SIGINT/SIGTERM interrupt the program, which runs every
 * finalizer (sockets closed, databases closed) before exiting.
 */
import { Command, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { defaultTeardown } from "@effect/platform/Runtime"
import { Cause, Console, Effect, Exit, Layer } from "effect"
import { stderrLoggerLayer } from "../platform/Logging.js"
import { VERSION } from "../services/Version.js"
import { cocoCommand } from "./commands/coco.js"
import { exportCommand } from "./commands/export.js"
import { mcpCommand } from "./commands/mcp.js"
import { modelsCommand } from "./commands/models.js"
import { sandboxCommand } from "./commands/sandbox.js"
import { splitCommand } from "./commands/split.js"
import { startCommand } from "./commands/start.js"
import { colorAllowed, commandNode, usageConsole, withCommandConsole } from "./Manners.js"

const NAME = "synapse-ml"

const root = Command.make(NAME).pipe(
  Command.withDescription("Synapse ML SDK command line: the MCP server, the local sandbox backend, exports and more."),
  Command.withSubcommands([
    startCommand,
    mcpCommand,
    sandboxCommand,
    modelsCommand,
    exportCommand,
    splitCommand,
    cocoCommand
  ]),
  // The commands print with the plain console; only @effect/cli's own output is reworded.
  Command.transformHandler(withCommandConsole)
)

// What argument errors are explained against: each command with its options and subcommands.
const commandTree = commandNode(NAME, root, [
  commandNode("start", startCommand),
  commandNode("mcp", mcpCommand),
  commandNode("sandbox", sandboxCommand),
  commandNode("models", modelsCommand),
  commandNode("export", exportCommand),
  commandNode("split", splitCommand),
  commandNode("coco", cocoCommand)
])

const cli = Command.run(root, { name: NAME, version: VERSION })

Console.consoleWith((plain) =>
  cli(process.argv).pipe(
    Effect.withConsole(
      usageConsole(plain, {
        args: process.argv.slice(2),
        root: commandTree,
        color: colorAllowed(process.env, process.stdout.isTTY)
      })
    )
  )
).pipe(
  // @effect/cli has already printed what is wrong with the arguments: exit 2 (usage), not 1.
  Effect.catchIf(ValidationError.isValidationError, () => Effect.sync(() => void (process.exitCode = 2))),
  Effect.provide(Layer.mergeAll(NodeContext.layer, stderrLoggerLayer)),
  // No pretty logger: runMain would add one that writes to stdout, which the MCP stdio transport owns.
  NodeRuntime.runMain({
    disableErrorReporting: false,
    disablePrettyLogger: true,
    // Interrupted by SIGINT/SIGTERM, runMain exits 0: right for the servers (stopping them so is
    // their normal end), wrong for a one-shot command cut short, which sets 130 (runCommand).
    teardown: (exit, onExit) =>
      Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
        ? onExit(typeof process.exitCode === "number" ? process.exitCode : 0)
        : defaultTeardown(exit, onExit)
  })
)
