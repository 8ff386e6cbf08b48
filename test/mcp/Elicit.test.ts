import { describe, expect, it } from "@effect/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import { Effect, Layer, Schema } from "effect"
import * as Backend from "../../src/mcp/Backend.js"
import * as Config from "../../src/mcp/Config.js"
import * as Http from "../../src/mcp/Http.js"
import * as Server from "../../src/mcp/Server.js"
import * as Tool from "../../src/mcp/Tool.js"
import { connect } from "./harness.js"

const settings: Config.McpSettings = {
  readOnly: false,
  uploadRoots: [],
  outputDir: "/tmp/synapse-ml-test-out",
  outputBudget: 2_000,
  http: { host: "127.0.0.1", port: 0, token: undefined, allowedHosts: [], allowedOrigins: [] }
}

/** Asks the user a yes/no question through the context, or says that it cannot. */
const askUser = Tool.make({
  name: "ask_user",
  title: "Ask the user",
  description: "Asks the user to confirm `what`.",
  input: Schema.Struct({ what: Schema.String.annotations({ description: "What to confirm." }) }),
  output: Schema.Struct({ action: Schema.String }),
  annotations: Tool.readOnly,
  toolset: "context",
  write: false,
  run: ({ what }, context) =>
    context.elicit === undefined
      ? Effect.succeed({ action: "unavailable" })
      : Effect.map(
        context.elicit(`Confirm ${what}?`, { type: "object", properties: { confirm: { type: "boolean" } } }),
        (action) => ({ action })
      )
})

const factory = Server.make([askUser], {
  templates: [],
  list: () => Effect.succeed({ resources: [] }),
  read: (uri) => Effect.fail(new Tool.ToolError({ message: `no resource ${uri}` }))
}).pipe(
  Effect.provide(Layer.mergeAll(
    Config.layer(settings),
    Backend.layer({ baseUrl: "http://127.0.0.1:9/api/v1", sandbox: true, description: "the sandbox" })
  ))
)

/** A client that can be asked: accepts questions mentioning "deploy", declines the others. */
const askingClient = () => {
  const client = new Client({ name: "asking", version: "0" }, { capabilities: { elicitation: { form: {} } } })
  const asked: Array<string> = []
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    asked.push(request.params.message)
    // Answer late, so that concurrent questions are outstanding together.
    await new Promise((resolve) => setTimeout(resolve, 50))
    return request.params.message.includes("deploy")
      ? { action: "accept", content: { confirm: true } }
      : { action: "decline" }
  })
  return { client, asked }
}

const ask = (client: Client, what: string) =>
  Effect.promise(() => client.callTool({ name: "ask_user", arguments: { what } })).pipe(
    Effect.map((r) => (r.structuredContent as { action: string }).action)
  )

describe("elicitation", () => {
  it.scoped("a client without the elicitation capability is not asked", () =>
    Effect.gen(function*() {
      const f = yield* factory
      const plain = yield* connect(f)
      expect(yield* ask(plain, "deploy")).toBe("unavailable")
    }))

  it.scopedLive("over stdio-like transports the question reaches the client and its answer comes back", () =>
    Effect.gen(function*() {
      const f = yield* factory
      const { InMemoryTransport } = yield* Effect.promise(() => import("@modelcontextprotocol/sdk/inMemory.js"))
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
      const server = f.create()
      yield* Effect.promise(() => server.connect(serverSide))
      const { asked, client } = askingClient()
      yield* Effect.promise(() => client.connect(clientSide))
      yield* Effect.addFinalizer(() => Effect.promise(() => client.close()))
      expect(yield* ask(client, "deploy of model 3")).toBe("accept")
      expect(yield* ask(client, "deletion")).toBe("decline")
      expect(asked).toStrictEqual(["Confirm deploy of model 3?", "Confirm deletion?"])
    }))

  it.scopedLive("over stateless HTTP: questions travel on each call's stream, answers reach the asking call", () =>
    Effect.gen(function*() {
      const { url } = yield* Http.serve(yield* factory, settings)
      const { asked, client } = askingClient()
      yield* Effect.promise(() => client.connect(new StreamableHTTPClientTransport(new URL(url))))
      yield* Effect.addFinalizer(() => Effect.promise(() => client.close()))
      // Concurrent calls: each per-request server numbers its requests from 0, yet every answer
      // reaches the call that asked.
      const answers = yield* Effect.all(
        [ask(client, "deploy A"), ask(client, "deletion B"), ask(client, "deploy C"), ask(client, "reset D")],
        { concurrency: "unbounded" }
      )
      expect(answers).toStrictEqual(["accept", "decline", "accept", "decline"])
      expect(asked.length).toBe(4)
      // A client without the capability over HTTP is not asked.
      const plain = new Client({ name: "plain", version: "0" })
      yield* Effect.promise(() => plain.connect(new StreamableHTTPClientTransport(new URL(url))))
      yield* Effect.addFinalizer(() => Effect.promise(() => plain.close()))
      expect(yield* ask(plain, "deploy")).toBe("unavailable")
    }))
})
