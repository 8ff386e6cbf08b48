/**
 * The stdio transport, as desktop clients (Claude Desktop, Claude Code, Cursor) launch servers:
 * one MCP server for the process, JSON-RPC on stdin/stdout. stdout must carry nothing but protocol
 * messages, which is why every log in this project goes to stderr. A line that is not JSON is
 * answered with a parse error (`-32700`) and a JSON line that is not a JSON-RPC message with an
 * invalid-request error (`-32600`), both with `id: null`, and the conversation goes on. Clients of
 * 2026-07-28 (`server/discover`, per-request `_meta`) and of the 2025 revisions are both served (see
 * `Era2026.ts`).
 */
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import { Effect } from "effect"
import type { Readable, Writable } from "node:stream"
import { speakModern } from "./Era2026.js"
import { invalidRequestResponse, parseErrorResponse } from "./Protocol.js"
import { SERVER_INFO, type ServerFactory } from "./Server.js"

/**
 * Answers the lines the SDK transport could not read: it reports them through `onerror` (a
 * `SyntaxError` from the JSON parser, a validation error for JSON that is not JSON-RPC) and would
 * otherwise drop them, leaving the client waiting.
 */
export const answerUnreadable = (transport: StdioServerTransport): void => {
  const inner = transport.onerror
  transport.onerror = (error) => {
    const answer = error instanceof SyntaxError
      ? parseErrorResponse(`the line is not JSON (${error.message}).`)
      : error.name === "ZodError" || "issues" in error
      ? invalidRequestResponse(
        "the line is JSON but not a JSON-RPC 2.0 message: a request {\"jsonrpc\": \"2.0\", \"id\", \"method\", \"params\"?}, " +
          "a notification (no id) or a response {\"jsonrpc\": \"2.0\", \"id\", \"result\" | \"error\"}."
      )
      : undefined
    if (answer !== undefined) {
      transport.send(answer as unknown as Parameters<StdioServerTransport["send"]>[0]).catch(() => undefined)
    }
    inner?.(error)
  }
}

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
    // The 2026 translation goes in when the server has installed its handler and before the transport
    // reads its first line: lines already waiting on stdin are read as soon as it starts.
    const start = transport.start.bind(transport)
    transport.start = () => {
      speakModern(transport, server, SERVER_INFO)
      return start()
    }
    server.connect(transport).then(() => answerUnreadable(transport), (error: unknown) => {
      done = true
      resume(Effect.fail(error instanceof Error ? error : new Error(String(error))))
    })
    return Effect.promise(() => server.close())
  })
