/**
 * The stdio transport, as desktop clients (Claude Desktop, Claude Code, Cursor) launch servers:
 * one MCP server for the process, JSON-RPC on stdin/stdout. stdout must carry nothing but protocol
 * messages, which is why every log in this project goes to stderr.
 */
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import { Effect } from "effect"
import type { Readable, Writable } from "node:stream"
import type { ServerFactory } from "./Server.js"

/**
 * Serves `factory` on `stdin`/`stdout` (the process's by default) until the client closes the
 * stream or the fiber is interrupted.
 */
export const serve = (
  factory: ServerFactory,
  streams: { readonly stdin?: Readable; readonly stdout?: Writable } = {}
): Effect.Effect<void, Error> =>
  Effect.async<void, Error>((resume) => {
    const server = factory.create()
    const transport = new StdioServerTransport(streams.stdin, streams.stdout)
    const stdin = streams.stdin ?? process.stdin
    let done = false
    const finish = () => {
      if (done) return
      done = true
      resume(Effect.void)
    }
    server.onclose = finish
    // The SDK transport does not notice end of input by itself; a closed stdin means the client left.
    stdin.once("end", () => void server.close().finally(finish))
    server.connect(transport).catch((error: unknown) => {
      done = true
      resume(Effect.fail(error instanceof Error ? error : new Error(String(error))))
    })
    return Effect.promise(() => server.close())
  })
