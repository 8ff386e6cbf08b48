import { describe, expect, it } from "@effect/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { PassThrough } from "node:stream"
import * as Http from "../../src/mcp/Http.js"
import { decodeSession } from "../../src/mcp/Protocol.js"
import * as Stdio from "../../src/mcp/Stdio.js"
import { useMcp } from "./fixture.js"
import { textOf } from "./harness.js"

const mcp = useMcp()

const INIT = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "0" } }
}

/** The server on in-process stdio streams: write lines, read the answers line by line. */
const rawStdio = Effect.gen(function*() {
  const stdin = new PassThrough()
  const stdout = new PassThrough()
  yield* Effect.forkScoped(Stdio.serve(mcp().factory, { stdin, stdout }))
  yield* Effect.addFinalizer(() => Effect.sync(() => stdin.end()))
  const lines: Array<string> = []
  const waiters: Array<(line: string) => void> = []
  let buffer = ""
  stdout.setEncoding("utf8")
  stdout.on("data", (chunk: string) => {
    buffer += chunk
    for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
      const line = buffer.slice(0, i)
      buffer = buffer.slice(i + 1)
      const waiter = waiters.shift()
      if (waiter !== undefined) waiter(line)
      else lines.push(line)
    }
  })
  const next = Effect.async<Record<string, unknown>>((resume) => {
    const take = (line: string) => resume(Effect.succeed(JSON.parse(line) as Record<string, unknown>))
    const line = lines.shift()
    if (line !== undefined) take(line)
    else waiters.push(take)
  }).pipe(Effect.timeout("5 seconds"), Effect.orDie)
  const send = (text: string) => Effect.sync(() => stdin.write(`${text}\n`))
  return { send, next }
})

/** A raw POST to the HTTP endpoint; returns the status, the JSON answer (or SSE text) and headers. */
const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
      body
    })
    const text = await response.text()
    const json = text.startsWith("{") || text.startsWith("[") ? JSON.parse(text) as Record<string, unknown> : undefined
    return { status: response.status, json, text, session: response.headers.get("mcp-session-id") }
  })

const errorOf = (answer: Record<string, unknown> | undefined) =>
  (answer as { error?: { code: number; message: string } } | undefined)?.error

describe("JSON-RPC edges over raw stdio", () => {
  it.scoped("malformed JSON gets -32700 with id null, and the conversation goes on", () =>
    Effect.gen(function*() {
      const { next, send } = yield* rawStdio
      yield* send("{not json")
      const parse = yield* next
      expect(parse["id"]).toBeNull()
      expect(errorOf(parse)?.code).toBe(-32700)
      expect(errorOf(parse)?.message).toContain("not JSON")
      yield* send("[1, 2]")
      const invalid = yield* next
      expect(invalid["id"]).toBeNull()
      expect(errorOf(invalid)?.code).toBe(-32600)
      yield* send(JSON.stringify(INIT))
      const init = yield* next
      expect((init["result"] as { serverInfo: { name: string } }).serverInfo.name).toBe("synapse-ml")
    }))

  it.scoped("a malformed tools/call gets -32602 naming the field, not -32603", () =>
    Effect.gen(function*() {
      const { next, send } = yield* rawStdio
      yield* send(JSON.stringify(INIT))
      yield* next
      yield* send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }))
      const cases: Array<[unknown, string]> = [
        [undefined, "params.name is required"],
        [{}, "params.name is required"],
        [{ name: 42 }, "params.name must be a string"],
        [{ name: "list_models", arguments: [1] }, "params.arguments must be an object"],
        [{ name: "list_models", arguments: "page=2" }, "params.arguments must be an object"]
      ]
      let id = 10
      for (const [params, expected] of cases) {
        yield* send(JSON.stringify({ jsonrpc: "2.0", id: ++id, method: "tools/call", params }))
        const answer = yield* next
        expect(answer, JSON.stringify(answer)).toMatchObject({ id })
        expect(errorOf(answer)?.code).toBe(-32602)
        expect(errorOf(answer)?.message).toContain(expected)
        expect(errorOf(answer)?.message).not.toContain("invalid_type") // no validator dump
      }
      // Params that are not an object, or a progress token of the wrong type, make the message
      // itself invalid JSON-RPC (the SDK's stdio reader checks that before any handler).
      yield* send(JSON.stringify({ jsonrpc: "2.0", id: 97, method: "tools/call", params: "list_models" }))
      expect(errorOf(yield* next)?.code).toBe(-32600)
      const badToken = { name: "list_models", _meta: { progressToken: true } }
      yield* send(JSON.stringify({ jsonrpc: "2.0", id: 98, method: "tools/call", params: badToken }))
      expect(errorOf(yield* next)?.code).toBe(-32600)
      yield* send(JSON.stringify({ jsonrpc: "2.0", id: 99, method: "resources/read", params: { uri: 7 } }))
      const read = yield* next
      expect(errorOf(read)?.code).toBe(-32602)
      expect(errorOf(read)?.message).toContain("params.uri must be a string")
      // A well-formed call still works after all that.
      yield* send(
        JSON.stringify({
          jsonrpc: "2.0",
          id: 100,
          method: "tools/call",
          params: { name: "list_models", arguments: { page_size: 1 } }
        })
      )
      const ok = yield* next
      expect((ok["result"] as { structuredContent: { results: Array<unknown> } }).structuredContent.results)
        .toHaveLength(1)
    }))
})

describe("JSON-RPC edges over raw HTTP", () => {
  it.scopedLive("non-JSON → -32700, JSON that is not JSON-RPC → -32600, malformed tools/call → -32602", () =>
    Effect.gen(function*() {
      const { url } = yield* Http.serve(mcp().factory, mcp().settings)
      const parse = yield* post(url, "{oops")
      expect(parse.status).toBe(400)
      expect(parse.json?.["id"]).toBeNull()
      expect(errorOf(parse.json)?.code).toBe(-32700)
      const notRpc = yield* post(url, JSON.stringify({ id: 3, method: "tools/list" }))
      expect(notRpc.status).toBe(400)
      expect(errorOf(notRpc.json)?.code).toBe(-32600)
      expect(errorOf(notRpc.json)?.message).toContain("\"jsonrpc\" must be \"2.0\"")
      const badMethod = yield* post(url, JSON.stringify({ jsonrpc: "2.0", id: 4, method: 12 }))
      expect(errorOf(badMethod.json)?.message).toContain("\"method\" must be a string")
      expect(badMethod.json?.["id"]).toBe(4)

      const init = yield* post(url, JSON.stringify(INIT))
      expect(init.status).toBe(200)
      const session = decodeSession(init.session ?? undefined)
      expect(session?.protocolVersion).toBe("2025-06-18")
      const headers = { "mcp-session-id": init.session!, "mcp-protocol-version": "2025-06-18" }
      const call = yield* post(
        url,
        JSON.stringify({ jsonrpc: "2.0", id: 5, method: "tools/call", params: { arguments: {} } }),
        headers
      )
      expect(call.status).toBe(200)
      expect(call.json?.["id"]).toBe(5)
      expect(errorOf(call.json)?.code).toBe(-32602)
      expect(errorOf(call.json)?.message).toBe(
        "Invalid params for tools/call: params.name is required: the name of a tool from tools/list."
      )
    }))
})

/** Rewrites the revision a client asks for at `initialize`, as an older client would send it. */
const askingFor = (version: string, inner: Transport): Transport => {
  const send = inner.send.bind(inner)
  inner.send = (message, options) =>
    send(
      "method" in message && message.method === "initialize"
        ? { ...message, params: { ...message.params, protocolVersion: version } }
        : message,
      options
    )
  return inner
}

const firstVersion = (client: Client) =>
  Effect.promise(() => client.callTool({ name: "list_ground_truth_versions", arguments: { page_size: 1 } })).pipe(
    // Read from the text block: clients before 2025-06-18 get no structuredContent.
    Effect.map((r) => (JSON.parse(textOf(r)) as { results: Array<{ id: number }> }).results[0]!.id)
  )

const httpClient = (url: string, version?: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new Client({ name: "http-era", version: "0" })
      const transport = new StreamableHTTPClientTransport(new URL(url))
      await client.connect(version === undefined ? transport : askingFor(version, transport))
      return client
    }),
    (client) => Effect.promise(() => client.close())
  )

describe("protocol eras", () => {
  for (const version of ["2024-11-05", "2025-03-26"]) {
    it.scopedLive(`a ${version} client over HTTP gets no resource_link blocks, output schemas or structuredContent`, () =>
      Effect.gen(function*() {
        const { url } = yield* Http.serve(mcp().factory, mcp().settings)
        const client = yield* httpClient(url, version)
        expect(client.getServerVersion()?.name).toBe("synapse-ml")
        const { tools } = yield* Effect.promise(() => client.listTools())
        expect(tools.some((t) => t.outputSchema !== undefined)).toBe(false)
        const id = yield* firstVersion(client)
        const result = yield* Effect.promise(() =>
          client.callTool({
            name: "export_ground_truth",
            arguments: { dataset_version_ids: [id], format: "coco", output_name: `era-${version}` }
          })
        )
        expect(result.isError).toBeFalsy()
        expect(result.structuredContent).toBeUndefined()
        const content = result.content as Array<{ type: string; text?: string }>
        expect(content.map((c) => c.type).every((t) => t === "text")).toBe(true)
        expect(content.slice(1).some((c) => c.text?.includes(`synapse://exports/era-${version}/`))).toBe(true)
        // The text block still holds the whole result.
        expect(JSON.parse(content[0]!.text!)).toHaveProperty("resource_links")
      }))
  }

  it.scopedLive("a 2025-03-26 client over a connection (stdio-like) gets no structuredContent either", () =>
    Effect.gen(function*() {
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
      const server = mcp().factory.create()
      yield* Effect.promise(() => server.connect(serverSide))
      const client = new Client({ name: "old-stdio", version: "0" })
      yield* Effect.promise(() => client.connect(askingFor("2025-03-26", clientSide)))
      yield* Effect.addFinalizer(() => Effect.promise(() => client.close()))
      const { tools } = yield* Effect.promise(() => client.listTools())
      expect(tools.some((t) => t.outputSchema !== undefined || t.execution !== undefined)).toBe(false)
      const page = yield* Effect.promise(() => client.callTool({ name: "list_models", arguments: { page_size: 1 } }))
      expect(page.structuredContent).toBeUndefined()
      expect((JSON.parse(textOf(page)) as { results: Array<unknown> }).results).toHaveLength(1)
    }))

  it.scopedLive("a 2025-11-25 client over HTTP gets resource_link blocks and structuredContent", () =>
    Effect.gen(function*() {
      const { url } = yield* Http.serve(mcp().factory, mcp().settings)
      const client = yield* httpClient(url)
      const { tools } = yield* Effect.promise(() => client.listTools())
      expect(tools.every((t) => t.outputSchema !== undefined)).toBe(true)
      const id = yield* firstVersion(client)
      const result = yield* Effect.promise(() =>
        client.callTool({
          name: "export_ground_truth",
          arguments: { dataset_version_ids: [id], format: "coco", output_name: "era-latest" }
        })
      )
      expect(result.structuredContent).toBeDefined()
      expect((result.content as Array<{ type: string }>).some((c) => c.type === "resource_link")).toBe(true)
    }))
})

describe("cancellation and progress over HTTP", () => {
  it.scopedLive("a cancelled export stops within a second and leaves no files; progress arrived over HTTP", () =>
    Effect.gen(function*() {
      const { headers, origin } = mcp().sandbox
      const setFaults = (spec: string) =>
        Effect.promise(() =>
          fetch(`${origin}/_sandbox/faults`, { method: "PUT", headers, body: spec }).then((r) => r.text())
        )
      const requests = Effect.promise(() =>
        fetch(`${origin}/_sandbox/stats`, { headers }).then((r) => r.json() as Promise<{ requests: number }>)
      ).pipe(Effect.map((s) => s.requests))
      const { url } = yield* Http.serve(mcp().factory, mcp().settings)
      const client = yield* httpClient(url)
      const id = yield* firstVersion(client)
      // Slow every download so that the export is still running when it is cancelled.
      yield* setFaults("latency=150,paths=media")
      yield* Effect.addFinalizer(() => setFaults(""))
      const controller = new AbortController()
      let progressed = 0
      const outcome = yield* Effect.promise(() =>
        client.callTool(
          {
            name: "export_ground_truth",
            arguments: { dataset_version_ids: [id], format: "yolo", include_images: true, output_name: "http-cancel" }
          },
          undefined,
          {
            signal: controller.signal,
            onprogress: () => {
              progressed++
              if (progressed === 2) controller.abort("user cancelled")
            }
          }
        ).then(() => "finished", (error: unknown) => `rejected: ${String(error)}`)
      )
      expect(outcome).toContain("rejected")
      expect(progressed).toBeGreaterThanOrEqual(2)
      yield* Effect.sleep("1 second")
      const after = yield* requests
      yield* Effect.sleep("1 second")
      const later = yield* requests
      expect(later - after).toBeLessThanOrEqual(1) // the stats request itself
      expect(fs.existsSync(path.join(mcp().outputDir, "http-cancel"))).toBe(false)
    }))
})
