/**
 * Test harness: a real MCP `Client` (the SDK's) connected over the SDK's `InMemoryTransport` to a
 * server built by our factory, so tests exercise the whole protocol path — list, validation,
 * structuredContent, progress, cancellation — without sockets.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import { type ElicitRequest, ElicitRequestSchema, type ElicitResult } from "@modelcontextprotocol/sdk/types.js"
import { Effect } from "effect"
import type { ServerFactory } from "../../src/mcp/Server.js"

/** What a test client can do besides calling tools. */
export interface ClientOptions {
  /**
   * Declares the elicitation capability and answers every `elicitation/create` request with this
   * function (the user's choice); without it the client cannot ask its user.
   */
  readonly elicit?: ((request: ElicitRequest["params"]) => Promise<ElicitResult>) | undefined
}

/** Connects a fresh client to a fresh server from `factory`; both close with the scope. */
export const connect = (factory: ServerFactory, options: ClientOptions = {}) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
      const server = factory.create()
      await server.connect(serverSide)
      const client = new Client(
        { name: "synapse-ml-tests", version: "0.0.0" },
        options.elicit !== undefined ? { capabilities: { elicitation: {} } } : {}
      )
      const elicit = options.elicit
      if (elicit !== undefined) client.setRequestHandler(ElicitRequestSchema, (request) => elicit(request.params))
      await client.connect(clientSide)
      return { client, server }
    }),
    ({ client, server }) =>
      Effect.promise(async () => {
        await client.close()
        await server.close()
      })
  ).pipe(Effect.map(({ client }) => client))

/** The text of the first content block of a tool result. */
export const textOf = (result: unknown): string => {
  const content = (result as { readonly content?: unknown }).content as
    | ReadonlyArray<{ type: string; text?: string }>
    | undefined
  const first = content?.find((c) => c.type === "text")
  return first?.text ?? ""
}
