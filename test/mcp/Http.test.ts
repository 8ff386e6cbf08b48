import { describe, expect, it } from "@effect/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { ConfigProvider, Deferred, Effect, Redacted } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Http from "../../src/mcp/Http.js"
import * as Main from "../../src/mcp/Main.js"
import { allTools } from "../../src/mcp/tools/index.js"
import { useMcp } from "./fixture.js"

const mcp = useMcp()

const INIT = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "0" } }
})

/** A raw POST with full control of the headers (fetch would not let us set Host). */
const post = (port: number, headers: Record<string, string>, body = INIT, method = "POST") =>
  Effect.async<{ status: number; body: string }>((resume) => {
    const req = http.request({
      host: "127.0.0.1",
      port,
      path: "/mcp",
      method,
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers }
    }, (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (c: string) => (text += c))
      res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, body: text })))
    })
    req.on("error", (e) => resume(Effect.die(e)))
    req.end(method === "POST" ? body : undefined)
  })

const settings = (overrides: { host?: string; token?: string } = {}) => ({
  ...mcp().settings,
  http: {
    ...mcp().settings.http,
    port: 0,
    ...(overrides.host !== undefined ? { host: overrides.host } : {}),
    token: overrides.token !== undefined ? Redacted.make(overrides.token) : undefined
  }
})

/**
 * A pass-through proxy to `target` that records the headers of every request it forwards, so a
 * test can see exactly what reached "Synapse".
 */
const recordingProxy = (target: string) =>
  Effect.acquireRelease(
    Effect.async<
      {
        readonly server: http.Server
        readonly origin: string
        readonly seen: Array<{ url: string; headers: http.IncomingHttpHeaders }>
      }
    >((resume) => {
      const seen: Array<{ url: string; headers: http.IncomingHttpHeaders }> = []
      const upstream = new URL(target)
      const server = http.createServer((req, res) => {
        seen.push({ url: req.url ?? "", headers: { ...req.headers } })
        const forwarded = http.request(
          { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers)
            answer.pipe(res)
          }
        )
        forwarded.on("error", () => res.destroy())
        req.pipe(forwarded)
      })
      server.listen(0, "127.0.0.1", () => {
        const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
        resume(Effect.succeed({ server, origin, seen }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

describe("Streamable HTTP transport", () => {
  it.scopedLive("serves tools to the SDK's HTTP client (stateless: a new client per call works)", () =>
    Effect.gen(function*() {
      const endpoint = yield* Http.serve(mcp().factory, settings())
      expect(endpoint.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/)
      for (let i = 0; i < 2; i++) {
        const client = new Client({ name: "http-test", version: "0" })
        yield* Effect.promise(() => client.connect(new StreamableHTTPClientTransport(new URL(endpoint.url))))
        const { tools } = yield* Effect.promise(() => client.listTools())
        expect(tools.length).toBe(allTools.length)
        const result = yield* Effect.promise(() =>
          client.callTool({ name: "list_models", arguments: { page_size: 2 } })
        )
        expect((result.structuredContent as { results: Array<unknown> }).results).toHaveLength(2)
        yield* Effect.promise(() => client.close())
      }
    }))

  it.scopedLive("streams progress notifications over SSE when the request carries a progress token", () =>
    Effect.gen(function*() {
      const endpoint = yield* Http.serve(mcp().factory, settings())
      const client = new Client({ name: "http-progress", version: "0" })
      yield* Effect.promise(() => client.connect(new StreamableHTTPClientTransport(new URL(endpoint.url))))
      const versions = yield* Effect.promise(() =>
        client.callTool({ name: "list_ground_truth_versions", arguments: {} })
      )
      const version = (versions.structuredContent as { results: Array<{ id: number }> }).results[0]!.id
      const progress: Array<number> = []
      const result = yield* Effect.promise(() =>
        client.callTool(
          {
            name: "export_ground_truth",
            arguments: { dataset_version_ids: [version], format: "yolo", output_name: "http-progress" }
          },
          undefined,
          { onprogress: (p) => void progress.push(p.progress) }
        )
      )
      expect(result.isError).toBeFalsy()
      expect(progress.length).toBeGreaterThan(0)
      yield* Effect.promise(() => client.close())
    }))

  it.scopedLive("wrong Host → 403, wrong Origin → 403, local Origin → 200, GET → 405", () =>
    Effect.gen(function*() {
      const { port } = yield* Http.serve(mcp().factory, settings())
      const badHost = yield* post(port, { host: `evil.example:${port}` })
      expect(badHost.status).toBe(403)
      expect(badHost.body).toContain("Host")
      const badOrigin = yield* post(port, { host: `127.0.0.1:${port}`, origin: "https://evil.example" })
      expect(badOrigin.status).toBe(403)
      expect(badOrigin.body).toContain("Origin")
      const good = yield* post(port, { host: `localhost:${port}`, origin: `http://localhost:${port}` })
      expect(good.status).toBe(200)
      expect(good.body).toContain("synapse-ml")
      const get = yield* post(port, { host: `127.0.0.1:${port}` }, INIT, "GET")
      expect(get.status).toBe(405)
    }))

  it.scopedLive("a non-loopback bind requires the bearer token: missing or wrong → 401", () =>
    Effect.gen(function*() {
      const token = "test-token-0123456789abcdef"
      const { port } = yield* Http.serve(mcp().factory, settings({ host: "0.0.0.0", token }))
      const missing = yield* post(port, { host: `127.0.0.1:${port}` })
      expect(missing.status).toBe(401)
      const wrong = yield* post(port, {
        host: `127.0.0.1:${port}`,
        authorization: "Bearer test-token-0123456789abcdeX"
      })
      expect(wrong.status).toBe(401)
      const right = yield* post(port, { host: `127.0.0.1:${port}`, authorization: `Bearer ${token}` })
      expect(right.status).toBe(200)
      expect(right.body).not.toContain(token)
    }))

  it.scopedLive("the client's bearer token stays at the MCP server: Synapse gets only the Synapse token", () =>
    Effect.gen(function*() {
      const sandbox = mcp().sandbox
      const proxy = yield* recordingProxy(sandbox.origin)
      const mcpToken = "mcp-client-token-0123456789abcdef"
      const out = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-mcp-token-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(out, { recursive: true, force: true })))
      // The server exactly as `synapse-ml mcp --transport http` runs it, configured by its variables;
      // the SDK reads its own (base URL, access token) through Effect's Config.
      const env = {
        SYNAPSE_BASE_URL: `${proxy.origin}/api/v1`,
        SYNAPSE_ACCESS_TOKEN: sandbox.token,
        SYNAPSE_MCP_HTTP_TOKEN: mcpToken,
        SYNAPSE_MCP_PORT: "0",
        SYNAPSE_MCP_OUTPUT_DIR: out,
        SYNAPSE_CACHE_DIR: path.join(out, "cache")
      }
      const listening = yield* Deferred.make<Http.HttpEndpoint>()
      yield* Main.run({ transport: "http", env, onListening: (endpoint) => Deferred.succeed(listening, endpoint) })
        .pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
          Effect.forkScoped
        )
      const endpoint = yield* Deferred.await(listening)

      const client = new Client({ name: "http-token", version: "0" })
      const transport = new StreamableHTTPClientTransport(new URL(endpoint.url), {
        requestInit: { headers: { authorization: `Bearer ${mcpToken}` } }
      })
      yield* Effect.promise(() => client.connect(transport))
      const result = yield* Effect.promise(() => client.callTool({ name: "list_models", arguments: { page_size: 2 } }))
      yield* Effect.promise(() => client.close())
      expect(result.isError).toBeFalsy()
      expect((result.structuredContent as { results: Array<unknown> }).results).toHaveLength(2)

      const toSynapse = proxy.seen.filter((r) => r.url.startsWith("/api/v1/"))
      expect(toSynapse.map((r) => r.url.split("?")[0])).toContain("/api/v1/models/")
      for (const { headers } of toSynapse) {
        // Not under any header name, not with any prefix.
        expect(JSON.stringify(headers)).not.toContain(mcpToken)
        expect(headers["synapse-access-token"]).toBe(`Token ${sandbox.token}`)
        expect(headers.authorization).toBeUndefined()
      }
    }))
})
