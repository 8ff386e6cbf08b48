/**
 * The 2026-07-28 revision over Streamable HTTP, tried with the official 2026-era client
 * (`@modelcontextprotocol/client`) against the real server and sandbox: discovery, the tool list, a
 * tool call whose `structuredContent` validates, header checks, and 2025-era clients alongside.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  Client as ModernClient,
  type JSONRPCMessage,
  StreamableHTTPClientTransport as ModernTransport,
  type Transport
} from "@modelcontextprotocol/client"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { PassThrough } from "node:stream"
import * as Http from "../../src/mcp/Http.js"
import { SERVER_INFO } from "../../src/mcp/Server.js"
import * as Stdio from "../../src/mcp/Stdio.js"
import { useMcp } from "./fixture.js"

const mcp = useMcp()

const settings = () => ({ ...mcp().settings, http: { ...mcp().settings.http, port: 0 } })

const ENVELOPE = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientInfo": { name: "raw", version: "0" },
  "io.modelcontextprotocol/clientCapabilities": {}
}

/** A raw POST of one 2026 request, with the headers a 2026 client sends plus `headers`. */
const post = (port: number, body: unknown, headers: Record<string, string> = {}) =>
  Effect.async<{ status: number; body: unknown; sessionHeader: unknown }>((resume) => {
    const req = http.request({
      host: "127.0.0.1",
      port,
      path: "/mcp",
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
        ...headers
      }
    }, (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (c: string) => (text += c))
      res.on("end", () =>
        resume(Effect.succeed({
          status: res.statusCode ?? 0,
          body: JSON.parse(text) as unknown,
          sessionHeader: res.headers["mcp-session-id"]
        })))
    })
    req.on("error", (e) => resume(Effect.die(e)))
    req.end(JSON.stringify(body))
  })

const modernClient = (url: string, mode: "auto" | { pin: string }, capabilities: Record<string, object> = {}) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new ModernClient({ name: "era-2026-test", version: "0" }, {
        versionNegotiation: { mode },
        capabilities
      })
      await client.connect(new ModernTransport(new URL(url)))
      return client
    }),
    (client) => Effect.promise(() => client.close())
  )

/**
 * The client side of stdio in this process: JSON lines written to the server's stdin and read from
 * its stdout, as the 2026 client's own stdio transport does with a child process.
 */
class LinesTransport implements Transport {
  onclose?: () => void
  onerror?: (error: Error) => void
  onmessage?: <T extends JSONRPCMessage>(message: T) => void
  private buffer = ""
  constructor(private readonly stdin: PassThrough, private readonly stdout: PassThrough) {}
  async start() {
    this.stdout.setEncoding("utf8")
    this.stdout.on("data", (chunk: string) => {
      this.buffer += chunk
      for (let i = this.buffer.indexOf("\n"); i >= 0; i = this.buffer.indexOf("\n")) {
        const line = this.buffer.slice(0, i)
        this.buffer = this.buffer.slice(i + 1)
        this.onmessage?.(JSON.parse(line) as JSONRPCMessage)
      }
    })
  }
  async send(message: JSONRPCMessage) {
    this.stdin.write(`${JSON.stringify(message)}\n`)
  }
  async close() {
    this.stdin.end()
    this.onclose?.()
  }
}

/** The id of an active model. */
const activeModel = (client: ModernClient) =>
  Effect.promise(() =>
    client.callTool({ name: "list_models", arguments: { is_active: true, page_size: 1, fields: ["id"] } })
  ).pipe(Effect.map((listed) => (listed.structuredContent as { results: Array<{ id: number }> }).results[0]!.id))

const isActive = (client: ModernClient, id: number) =>
  Effect.promise(() => client.callTool({ name: "get_model", arguments: { id } })).pipe(
    Effect.map((got) => (got.structuredContent as { is_active: boolean }).is_active)
  )

const isActiveRaw = (port: number, id: number, envelope: Record<string, unknown>) =>
  post(port, {
    jsonrpc: "2.0",
    id: 9,
    method: "tools/call",
    params: { name: "get_model", arguments: { id }, _meta: envelope }
  })
    .pipe(
      Effect.map((got) =>
        (got.body as { result: { structuredContent: { is_active: boolean } } }).result.structuredContent.is_active
      )
    )

/** Puts a model back in service through the plan_id step. */
const reactivate = (client: ModernClient, id: number) =>
  Effect.promise(() =>
    client.callTool({ name: "update_model", arguments: { id, is_active: true } }).then((again) =>
      client.callTool({
        name: "update_model",
        arguments: { id, is_active: true, plan_id: (again.structuredContent as { plan_id: string }).plan_id }
      })
    )
  )

describe("the 2026-07-28 revision over stdio", () => {
  it.scopedLive("the official 2026 client discovers, lists tools and calls one without falling back", () =>
    Effect.gen(function*() {
      const stdin = new PassThrough()
      const stdout = new PassThrough()
      yield* Effect.forkScoped(Stdio.serve(mcp().factory, { stdin, stdout }))
      const client = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const client = new ModernClient({ name: "era-2026-stdio", version: "0" }, {
            versionNegotiation: { mode: { pin: "2026-07-28" } }
          })
          await client.connect(new LinesTransport(stdin, stdout))
          return client
        }),
        (client) => Effect.promise(() => client.close())
      )
      expect(client.getNegotiatedProtocolVersion()).toBe("2026-07-28")
      expect(client.getServerVersion()).toStrictEqual(SERVER_INFO)
      const { tools } = yield* Effect.promise(() => client.listTools())
      expect(tools.map((tool) => tool.name)).toStrictEqual(mcp().factory.tools.map((tool) => tool.name))
      const result = yield* Effect.promise(() => client.callTool({ name: "list_models", arguments: { page_size: 3 } }))
      const listed = tools.find((tool) => tool.name === "list_models")!
      const verdict = new AjvJsonSchemaValidator().getValidator(listed.outputSchema as never)(result.structuredContent)
      expect(verdict.valid).toBe(true)
      expect((result.structuredContent as { results: Array<unknown> }).results).toHaveLength(3)
    }))
})

describe("the 2026-07-28 revision over stdio: questions", () => {
  it.scopedLive("a 2026 client on stdio is asked through input_required; a decline changes nothing", () =>
    Effect.gen(function*() {
      const stdin = new PassThrough()
      const stdout = new PassThrough()
      yield* Effect.forkScoped(Stdio.serve(mcp().factory, { stdin, stdout }))
      const client = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const client = new ModernClient({ name: "era-2026-stdio", version: "0" }, {
            versionNegotiation: { mode: { pin: "2026-07-28" } },
            capabilities: { elicitation: { form: {} } }
          })
          await client.connect(new LinesTransport(stdin, stdout))
          return client
        }),
        (client) => Effect.promise(() => client.close())
      )
      const asked: Array<string> = []
      client.setRequestHandler("elicitation/create", async (request) => {
        asked.push((request.params as { message: string }).message)
        return { action: "decline" }
      })
      const id = yield* activeModel(client)
      const declined = yield* Effect.promise(() =>
        client.callTool({ name: "update_model", arguments: { id, is_active: false, confirm: true } })
      )
      expect(asked).toHaveLength(1)
      expect(asked[0]).toMatch(/Proceed\?$/)
      expect((declined.structuredContent as { status: string }).status).toBe("declined")
      expect(yield* isActive(client, id)).toBe(true)
    }))
})

describe("the 2026-07-28 revision over Streamable HTTP", () => {
  it.scopedLive("the official 2026 client discovers the server, lists tools and calls one without falling back", () =>
    Effect.gen(function*() {
      const endpoint = yield* Http.serve(mcp().factory, settings())
      const client = yield* modernClient(endpoint.url, { pin: "2026-07-28" })
      expect(client.getNegotiatedProtocolVersion()).toBe("2026-07-28")
      expect(client.getServerVersion()).toStrictEqual(SERVER_INFO)
      expect(client.getInstructions()).toMatch(/Synapse/)

      const published = mcp().factory.tools.map((tool) => tool.name)
      const first = yield* Effect.promise(() => client.listTools())
      const second = yield* Effect.promise(() => client.listTools())
      expect(first.tools.map((tool) => tool.name)).toStrictEqual(published)
      expect(second.tools.map((tool) => tool.name)).toStrictEqual(published)
      // 2026 moved tasks to an extension: no 2025-11-25 `execution` field on any tool.
      expect(first.tools.filter((tool) => "execution" in tool)).toStrictEqual([])

      const result = yield* Effect.promise(() => client.callTool({ name: "list_models", arguments: { page_size: 2 } }))
      expect(result.isError).toBeUndefined()
      const listed = first.tools.find((tool) => tool.name === "list_models")!
      const verdict = new AjvJsonSchemaValidator().getValidator(listed.outputSchema as never)(result.structuredContent)
      expect(verdict.valid).toBe(true)
      expect((result.structuredContent as { results: Array<unknown> }).results).toHaveLength(2)
      const text = (result.content as Array<{ type: string; text: string }>)[0]!
      expect(JSON.parse(text.text)).toStrictEqual(result.structuredContent)
    }))

  it.scopedLive("resources, templates, prompts and completions answer a 2026 client in its shapes", () =>
    Effect.gen(function*() {
      const endpoint = yield* Http.serve(mcp().factory, settings())
      const client = yield* modernClient(endpoint.url, { pin: "2026-07-28" })
      const templates = yield* Effect.promise(() => client.listResourceTemplates())
      expect(templates.resourceTemplates.map((t) => t.uriTemplate)).toContain("synapse://models/{id}")
      const resources = yield* Effect.promise(() => client.listResources())
      expect(Array.isArray(resources.resources)).toBe(true)
      const id = yield* activeModel(client)
      const read = yield* Effect.promise(() => client.readResource({ uri: `synapse://models/${id}` }))
      const first = read.contents[0] as { text: string }
      expect((JSON.parse(first.text) as { id: number }).id).toBe(id)
      const prompts = yield* Effect.promise(() => client.listPrompts())
      expect(prompts.prompts.map((p) => p.name)).toContain("evaluate_model")
      const prompt = yield* Effect.promise(() =>
        client.getPrompt({ name: "evaluate_model", arguments: { model_id: String(id), dataset_version_id: "1" } })
      )
      expect(prompt.messages).toHaveLength(1)
      const completion = yield* Effect.promise(() =>
        client.complete({
          ref: { type: "ref/resource", uri: "synapse://models/{id}" },
          argument: { name: "id", value: "" }
        })
      )
      expect(completion.completion.values.length).toBeGreaterThan(0)
    }))

  it.scopedLive("a client negotiating automatically picks 2026-07-28", () =>
    Effect.gen(function*() {
      const endpoint = yield* Http.serve(mcp().factory, settings())
      const client = yield* modernClient(endpoint.url, "auto")
      expect(client.getNegotiatedProtocolVersion()).toBe("2026-07-28")
      const { tools } = yield* Effect.promise(() => client.listTools())
      expect(tools.length).toBe(mcp().factory.tools.length)
    }))

  it.scopedLive("server/discover answers revisions, capabilities, instructions and the server's identity", () =>
    Effect.gen(function*() {
      const { port } = yield* Http.serve(mcp().factory, settings())
      const { body, sessionHeader, status } = yield* post(port, {
        jsonrpc: "2.0",
        id: 7,
        method: "server/discover",
        params: { _meta: ENVELOPE }
      }, { "mcp-method": "server/discover" })
      expect(status).toBe(200)
      expect(sessionHeader).toBeUndefined()
      const { result } = body as { result: Record<string, unknown> }
      expect(result["resultType"]).toBe("complete")
      expect(result["supportedVersions"]).toStrictEqual([
        "2026-07-28",
        "2025-11-25",
        "2025-06-18",
        "2025-03-26",
        "2024-11-05",
        "2024-10-07"
      ])
      expect(Object.keys(result["capabilities"] as object).sort()).toStrictEqual(
        ["completions", "prompts", "resources", "tools"]
      )
      expect(result["_meta"]).toStrictEqual({ "io.modelcontextprotocol/serverInfo": SERVER_INFO })
      expect(typeof result["instructions"]).toBe("string")
    }))

  it.scopedLive("list results carry the cache fields; a header that contradicts the body is refused", () =>
    Effect.gen(function*() {
      const { port } = yield* Http.serve(mcp().factory, settings())
      const list = yield* post(port, { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: ENVELOPE } })
      const result = (list.body as { result: Record<string, unknown> }).result
      expect([result["resultType"], result["ttlMs"], result["cacheScope"]]).toStrictEqual(["complete", 0, "private"])

      const call = {
        jsonrpc: "2.0",
        id: 2,
        method: "tools/call",
        params: { name: "list_models", arguments: {}, _meta: ENVELOPE }
      }
      const wrongMethod = yield* post(port, call, { "mcp-method": "tools/list" })
      expect(wrongMethod).toStrictEqual({
        status: 400,
        sessionHeader: undefined,
        body: {
          jsonrpc: "2.0",
          id: 2,
          error: {
            code: -32600,
            message:
              "Invalid request: the Mcp-Method header \"tools/list\" does not match the body's method \"tools/call\"."
          }
        }
      })
      const wrongName = yield* post(port, call, { "mcp-method": "tools/call", "mcp-name": "get_model" })
      const wrongVersion = yield* post(port, call, { "mcp-protocol-version": "2025-11-25" })
      expect(wrongVersion.status).toBe(400)
      expect((wrongVersion.body as { error: { message: string } }).error.message).toBe(
        "Invalid request: the MCP-Protocol-Version header \"2025-11-25\" does not match the request's _meta \"2026-07-28\"."
      )
      expect(wrongName.status).toBe(400)
      expect((wrongName.body as { error: { message: string } }).error.message).toBe(
        "Invalid request: the Mcp-Name header \"get_model\" does not match the body's \"list_models\"."
      )
    }))

  it.scopedLive("2025-era clients are served as before on the same endpoint", () =>
    Effect.gen(function*() {
      const endpoint = yield* Http.serve(mcp().factory, settings())
      const client = new Client({ name: "era-2025-test", version: "0" })
      yield* Effect.promise(() => client.connect(new StreamableHTTPClientTransport(new URL(endpoint.url))))
      expect(client.getServerVersion()).toStrictEqual(SERVER_INFO)
      const { tools } = yield* Effect.promise(() => client.listTools())
      expect(tools.some((tool) => tool.execution !== undefined)).toBe(true)
      const result = yield* Effect.promise(() => client.callTool({ name: "list_models", arguments: { page_size: 1 } }))
      expect("resultType" in result).toBe(false)
      yield* Effect.promise(() => client.close())
    }))

  it.scopedLive("a 2026 client that cannot ask its user gets the plan_id step for a service change", () =>
    Effect.gen(function*() {
      const endpoint = yield* Http.serve(mcp().factory, settings())
      const client = yield* modernClient(endpoint.url, { pin: "2026-07-28" })
      const id = yield* activeModel(client)
      const planned = yield* Effect.promise(() =>
        client.callTool({ name: "update_model", arguments: { id, is_active: false } })
      )
      const plan = planned.structuredContent as { status: string; plan_id: string }
      expect(plan.status).toBe("planned")
      const done = yield* Effect.promise(() =>
        client.callTool({ name: "update_model", arguments: { id, is_active: false, plan_id: plan.plan_id } })
      )
      expect(done.structuredContent).toMatchObject({ status: "updated", model: { id, is_active: false } })
      yield* reactivate(client, id)
    }))

  it.scopedLive("a 2026 client that can ask its user is asked through input_required; only an accept executes", () =>
    Effect.gen(function*() {
      const endpoint = yield* Http.serve(mcp().factory, settings())
      const client = yield* modernClient(endpoint.url, { pin: "2026-07-28" }, { elicitation: { form: {} } })
      const asked: Array<string> = []
      let action: "accept" | "decline" = "decline"
      client.setRequestHandler("elicitation/create", async (request) => {
        asked.push((request.params as { message: string }).message)
        return { action }
      })
      const id = yield* activeModel(client)
      const declined = yield* Effect.promise(() =>
        client.callTool({ name: "update_model", arguments: { id, is_active: false, confirm: true } })
      )
      expect(asked).toHaveLength(1)
      expect(declined.structuredContent).not.toMatchObject({ status: "updated" })
      expect(yield* isActive(client, id)).toBe(true)

      action = "accept"
      const accepted = yield* Effect.promise(() =>
        client.callTool({ name: "update_model", arguments: { id, is_active: false, confirm: true } })
      )
      expect(asked).toHaveLength(2)
      expect(accepted.structuredContent).toMatchObject({ status: "updated", model: { id, is_active: false } })
      expect(yield* isActive(client, id)).toBe(false)
      action = "accept"
      yield* Effect.promise(() =>
        client.callTool({ name: "update_model", arguments: { id, is_active: true, confirm: true } })
      )
      expect(yield* isActive(client, id)).toBe(true)
    }))

  it.scopedLive("input_required on the wire: the question, then the answer on a new call", () =>
    Effect.gen(function*() {
      const { port } = yield* Http.serve(mcp().factory, settings())
      const envelope = { ...ENVELOPE, "io.modelcontextprotocol/clientCapabilities": { elicitation: { form: {} } } }
      const listed = yield* post(port, {
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: { name: "list_models", arguments: { is_active: true, page_size: 1, fields: ["id"] }, _meta: envelope }
      })
      const id = (listed.body as { result: { structuredContent: { results: Array<{ id: number }> } } }).result
        .structuredContent.results[0]!.id
      const call = { name: "update_model", arguments: { id, is_active: false, confirm: true }, _meta: envelope }
      const first = yield* post(port, { jsonrpc: "2.0", id: 2, method: "tools/call", params: call })
      const result = (first.body as { result: Record<string, unknown> }).result
      expect(Object.keys(result).sort()).toStrictEqual(["_meta", "inputRequests", "resultType"])
      expect(result["resultType"]).toBe("input_required")
      const [key, question] = Object.entries(result["inputRequests"] as Record<string, Record<string, unknown>>)[0]!
      expect(key).toMatch(/^confirm-/)
      expect(question["method"]).toBe("elicitation/create")
      expect((question["params"] as { mode: string }).mode).toBe("form")
      const again = yield* post(port, {
        jsonrpc: "2.0",
        id: 3,
        method: "tools/call",
        params: { ...call, inputResponses: { [key]: { action: "decline" } } }
      })
      const declined = (again.body as { result: Record<string, unknown> }).result
      expect(declined["resultType"]).toBe("complete")
      expect(declined["isError"]).not.toBe(false)
      expect(yield* isActiveRaw(port, id, envelope)).toBe(true)
    }))

  it.scopedLive("progress reaches a 2026 client, and closing the request's stream stops an export, leaving no files", () =>
    Effect.gen(function*() {
      const { headers, origin } = mcp().sandbox
      const setFaults = (spec: string) =>
        Effect.promise(() =>
          fetch(`${origin}/_sandbox/faults`, { method: "PUT", headers, body: spec }).then((r) => r.text())
        )
      const requests = Effect.promise(() =>
        fetch(`${origin}/_sandbox/stats`, { headers }).then((r) => r.json() as Promise<{ requests: number }>)
      ).pipe(Effect.map((stats) => stats.requests))
      const endpoint = yield* Http.serve(mcp().factory, settings())
      const client = yield* modernClient(endpoint.url, { pin: "2026-07-28" })
      const versions = yield* Effect.promise(() =>
        client.callTool({ name: "list_ground_truth_versions", arguments: {} })
      )
      const version = (versions.structuredContent as { results: Array<{ id: number }> }).results[0]!.id
      yield* setFaults("latency=150,paths=media")
      yield* Effect.addFinalizer(() => setFaults(""))
      const controller = new AbortController()
      let progressed = 0
      const outcome = yield* Effect.promise(() =>
        client.callTool(
          {
            name: "export_ground_truth",
            arguments: {
              dataset_version_ids: [version],
              format: "yolo",
              include_images: true,
              output_name: "era-2026-cancel"
            }
          },
          {
            signal: controller.signal,
            onprogress: () => {
              progressed++
              if (progressed === 2) controller.abort("user cancelled")
            }
          }
        ).then(() => "finished", () => "rejected")
      )
      expect(outcome).toBe("rejected")
      expect(progressed).toBeGreaterThanOrEqual(2)
      yield* Effect.sleep("1 second")
      const after = yield* requests
      yield* Effect.sleep("1 second")
      // Nothing but the stats request itself reached the backend: the export's downloads stopped.
      expect((yield* requests) - after).toBeLessThanOrEqual(1)
      expect(fs.existsSync(path.join(mcp().outputDir, "era-2026-cancel"))).toBe(false)
    }))
})
