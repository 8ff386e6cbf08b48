// Added latency of the MCP server: `tools/call list_models` through the Streamable HTTP transport
// (the built `synapse-ml mcp --http`, its own process, stateless: a fresh server per request) and
// through stdio (the built `synapse-ml mcp`, spawned by the MCP SDK's client as a desktop client
// spawns it) vs
// `Models.list` called directly with the SDK from this process, same page (20 rows), same sandbox
// (the built `synapse-ml sandbox`, demo data, its own process), same run, interleaved.
// Target: added latency at p50 <= 3 ms.
// The MCP calls are made by two clients: a plain keep-alive `node:http` request (what the server
// adds, with as little client cost as HTTP allows: the headline figure) and Node's `fetch` (what a
// fetch-based client such as the MCP SDK's sees: Node 20's fetch costs ~1 ms of CPU per call more).
// A server is measured warm, as it runs for hours: BENCH_WARMUP (default 1000) calls of each kind
// first; over its first few hundred requests its CPU per call falls by half as V8 optimises it.
// Last line: the p50 ratio.
// Run after `npm run build`: node bench/mcp.bench.mjs [calls]
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.dirname(here)
const main = path.join(root, "dist/cli/main.js")
const CALLS = Number(process.argv[2] ?? 400)
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1000)
const PAGE_SIZE = 20
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-bench-mcp-"))

/** Starts a built command and waits for `pattern` on its stderr. */
const startProcess = (args, env, pattern) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"]
    })
    let err = ""
    child.stderr.on("data", (chunk) => {
      err += chunk
      const match = pattern.exec(err)
      if (match) resolve({ child, match })
    })
    child.on("exit", (code) => reject(new Error(`${args[0]} exited with ${code}:\n${err}`)))
  })

const { SYNAPSE_BASE_URL: _drop, ...cleanEnv } = process.env
process.env = cleanEnv
const sandbox = await startProcess(
  ["sandbox", "--port", "0", "--seed", "demo", "--data-dir", path.join(dir, "sandbox")],
  {},
  /SYNAPSE_BASE_URL=(\S+)[\s\S]*SYNAPSE_ACCESS_TOKEN=(\S+)/
)
const [, baseUrl, token] = sandbox.match
const mcp = await startProcess(
  ["mcp", "--http", "--port", "0"],
  { SYNAPSE_BASE_URL: baseUrl, SYNAPSE_ACCESS_TOKEN: token, SYNAPSE_MCP_OUTPUT_DIR: path.join(dir, "out") },
  /listening on (http:\/\/\S+\/mcp)/
)
const [, endpoint] = mcp.match
console.log(`sandbox ${baseUrl}, MCP ${endpoint}; ${CALLS} calls each after ${WARMUP} warm-up calls, interleaved`)

// The direct path: the SDK in this process.
const imp = (p) => import(pathToFileURL(path.join(root, p)).href)
const [{ Effect, Layer, Redacted }, NodeHttpClient, Synapse, Models] = await Promise.all([
  import("effect"),
  import("@effect/platform-node/NodeHttpClient"),
  imp("dist/services/Synapse.js"),
  imp("dist/services/Models.js")
])
// Keep-alive connections, as the MCP server's own client has, so both paths pay the same to reach the sandbox.
const httpClient = NodeHttpClient.layerWithoutAgent.pipe(
  Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: true }))
)
const layer = Synapse.layer({ baseUrl, accessToken: Redacted.make(token) }).pipe(Layer.provide(httpClient))
const { ManagedRuntime } = await import("effect")
const runtime = ManagedRuntime.make(layer)
const listProgram = Effect.flatMap(Models.Models, (m) => m.list({ page: 1, page_size: PAGE_SIZE }))
const direct = async () => {
  const page = await runtime.runPromise(listProgram)
  if (page.results.length !== PAGE_SIZE) throw new Error("direct: short page")
}

// The MCP path: a JSON-RPC tools/call over HTTP (keep-alive), no progress token, so the answer is
// plain JSON (an SSE stream only when progress may follow).
let id = 0
const mcpUrl = new URL(endpoint)
const callBody = () =>
  JSON.stringify({
    jsonrpc: "2.0",
    id: ++id,
    method: "tools/call",
    params: { name: "list_models", arguments: { page_size: PAGE_SIZE } }
  })
const checkAnswer = (client, contentType, text) => {
  const message = (contentType ?? "").includes("text/event-stream")
    ? JSON.parse(text.split("\n").find((line) => line.startsWith("data: ")).slice(6))
    : JSON.parse(text)
  if (message.result?.structuredContent?.results?.length !== PAGE_SIZE) {
    throw new Error(`${client}: unexpected answer ${text.slice(0, 300)}`)
  }
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
const viaMcp = () =>
  new Promise((resolve, reject) => {
    const body = callBody()
    const request = http.request(
      {
        host: mcpUrl.hostname,
        port: mcpUrl.port,
        path: mcpUrl.pathname,
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          // As a client after initialize sends it; without it the server assumes 2025-03-26 (no structuredContent).
          "mcp-protocol-version": "2025-11-25",
          "content-length": Buffer.byteLength(body)
        }
      },
      (response) => {
        const chunks = []
        response.on("data", (chunk) => chunks.push(chunk))
        response.on("end", () => {
          try {
            checkAnswer("mcp", response.headers["content-type"], Buffer.concat(chunks).toString("utf8"))
            resolve()
          } catch (error) {
            reject(error)
          }
        })
        response.on("error", reject)
      }
    )
    request.on("error", reject)
    request.end(body)
  })
const viaMcpFetch = async () => {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-11-25"
    },
    body: callBody()
  })
  checkAnswer("mcp over fetch", response.headers.get("content-type"), await response.text())
}

// The adapter alone: the same tools/call in this process, through the SDK's in-memory transport
// (no HTTP hop to the MCP server), over the same keep-alive client.
const [{ Client }, { InMemoryTransport }, McpMain, McpServerModule, Backend] = await Promise.all([
  import("@modelcontextprotocol/sdk/client/index.js"),
  import("@modelcontextprotocol/sdk/inMemory.js"),
  imp("dist/mcp/Main.js"),
  imp("dist/mcp/Server.js"),
  imp("dist/mcp/Backend.js")
])
const settings = McpMain.loadSettings({ env: { SYNAPSE_MCP_OUTPUT_DIR: path.join(dir, "out") }, transport: "stdio" })
const inProcess = ManagedRuntime.make(McpMain.serverLayer(
  await Effect.runPromise(settings),
  Layer.merge(
    (await imp("dist/services/SynapseClient.js")).layer({ baseUrl, accessToken: Redacted.make(token) }).pipe(
      Layer.provide(httpClient)
    ),
    Backend.layer({ baseUrl, sandbox: true, description: "bench" })
  )
))
const factory = await inProcess.runPromise(McpServerModule.McpServer)
const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
await factory.create().connect(serverSide)
const memoryClient = new Client({ name: "bench", version: "0" })
await memoryClient.connect(clientSide)
const viaAdapter = async () => {
  const result = await memoryClient.callTool({ name: "list_models", arguments: { page_size: PAGE_SIZE } })
  if (result.structuredContent?.results?.length !== PAGE_SIZE) throw new Error("adapter: short page")
}

// stdio: the official client spawns the built server with the sandbox's settings.
const { StdioClientTransport } = await import("@modelcontextprotocol/sdk/client/stdio.js")
const stdioClient = new Client({ name: "bench-stdio", version: "0" })
await stdioClient.connect(
  new StdioClientTransport({
    command: process.execPath,
    args: [main, "mcp"],
    env: {
      ...cleanEnv,
      SYNAPSE_BASE_URL: baseUrl,
      SYNAPSE_ACCESS_TOKEN: token,
      SYNAPSE_MCP_OUTPUT_DIR: path.join(dir, "out")
    },
    stderr: "ignore"
  })
)
const viaStdio = async () => {
  const result = await stdioClient.callTool({ name: "list_models", arguments: { page_size: PAGE_SIZE } })
  if (result.structuredContent?.results?.length !== PAGE_SIZE) throw new Error("stdio: short page")
}

const time = async (f) => {
  const t0 = performance.now()
  await f()
  return performance.now() - t0
}
for (let i = 0; i < WARMUP; i++) {
  await direct()
  await viaAdapter()
  await viaMcp()
  await viaMcpFetch()
  await viaStdio()
}
const directTimes = []
const stdioTimes = []
const adapterTimes = []
const mcpTimes = []
const fetchTimes = []
for (let i = 0; i < CALLS; i++) {
  directTimes.push(await time(direct))
  adapterTimes.push(await time(viaAdapter))
  mcpTimes.push(await time(viaMcp))
  fetchTimes.push(await time(viaMcpFetch))
  stdioTimes.push(await time(viaStdio))
}
const pct = (xs, p) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}
const row = (name, xs) =>
  `${name.padEnd(32)} p50 ${pct(xs, 50).toFixed(2)} ms  p90 ${pct(xs, 90).toFixed(2)} ms  p99 ${
    pct(xs, 99).toFixed(2)
  } ms`
console.log(row("Models.list (direct, SDK)", directTimes))
console.log(row("tools/call, in-memory (adapter)", adapterTimes))
console.log(row("tools/call list_models (MCP)", mcpTimes))
console.log(row("the same, client on fetch", fetchTimes))
console.log(row("tools/call list_models (stdio)", stdioTimes))
console.log(`adapter alone adds ${(pct(adapterTimes, 50) - pct(directTimes, 50)).toFixed(2)} ms at p50`)
const added = pct(mcpTimes, 50) - pct(directTimes, 50)
console.log(`added latency at p50: ${added.toFixed(2)} ms (target <= 3 ms): ${added <= 3 ? "met" : "NOT met"}`)
console.log(`added latency at p50 with a fetch client: ${(pct(fetchTimes, 50) - pct(directTimes, 50)).toFixed(2)} ms`)
console.log(
  `added latency at p50 over stdio (official client): ${(pct(stdioTimes, 50) - pct(directTimes, 50)).toFixed(2)} ms`
)

// CPU per call, steadier than wall time on a loaded machine: the direct loop's CPU in this process,
// against the MCP server process's CPU (from /proc) for the same number of tools/call.
const procCpuMs = (pid) => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 // utime + stime, in clock ticks of 10 ms
}
const cpuOf = async (f) => {
  const before = process.cpuUsage()
  for (let i = 0; i < CALLS; i++) await f()
  const used = process.cpuUsage(before)
  return (used.user + used.system) / 1000 / CALLS
}
const directCpu = await cpuOf(direct)
const adapterCpu = await cpuOf(viaAdapter)
console.log(
  `CPU per call in this process: direct ${directCpu.toFixed(2)} ms; through the adapter (in-memory, client included) ${
    adapterCpu.toFixed(2)
  } ms`
)
const serverBefore = procCpuMs(mcp.child.pid)
const clientCpu = await cpuOf(viaMcp)
const serverCpu = (procCpuMs(mcp.child.pid) - serverBefore) / CALLS
const fetchCpu = await cpuOf(viaMcpFetch)
console.log(
  `CPU per call: direct Models.list ${directCpu.toFixed(2)} ms; MCP server ${
    serverCpu.toFixed(2)
  } ms (its own Models.list included) + client ${clientCpu.toFixed(2)} ms (${fetchCpu.toFixed(2)} ms on fetch)`
)
console.log(`added CPU per call in the server: ${(serverCpu - directCpu).toFixed(2)} ms`)

await memoryClient.close()
await stdioClient.close()
await inProcess.dispose()
await runtime.dispose()
mcp.child.kill("SIGTERM")
sandbox.child.kill("SIGTERM")
fs.rmSync(dir, { recursive: true, force: true })
console.log(`ratio mcp/direct at p50: ${(pct(mcpTimes, 50) / pct(directTimes, 50)).toFixed(2)}`)
