/**
 * `synapse-ml start` (what `npm start` runs): the sandbox with demo data, so that a newcomer has a
 * working backend with one command. The MCP server will be started on top of it here.
 */
import { Command } from "@effect/cli"
import { Console, Effect } from "effect"
import { sandboxOptions, startFromCli } from "./sandbox.js"

/** `synapse-ml start`. */
export const startCommand = Command.make("start", sandboxOptions, (options) =>
  Effect.scoped(
    Effect.gen(function* () {
      yield* startFromCli(options)
      yield* Effect.addFinalizer(() => Console.error("synapse-ml start: stopped"))
      return yield* Effect.never
    })
  )
).pipe(Command.withDescription("Start the sandbox with demo data (and, once available, the MCP server on top of it)."))
