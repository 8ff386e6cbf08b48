// Chunked upload of a 1 GiB file to a sandbox running in its own process.
// Baseline, measured in the same run against the same sandbox: curl sending the same bytes to the
// sandbox's chunk endpoint (one multipart PUT of the whole file, streamed from disk by curl) and
// then finishing the upload with its md5, exactly the requests the SDK makes minus the chunking.
// The SDK computes the md5 itself while sending; curl is given it for free.
// Also reports the peak RSS of this process during the SDK upload (limit: 3 × chunk + 150 MB).
// Last line: SDK throughput / curl throughput (must be ≥ 0.7).
// Run after `npm run build`: node bench/upload.bench.mjs [sizeMiB]
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer, Redacted } from "effect"
import { spawn, spawnSync } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as ChunkedUpload from "../dist/services/ChunkedUpload.js"
import * as SynapseClient from "../dist/services/SynapseClient.js"

const MiB = 1024 * 1024
const SIZE = Number(process.argv[2] ?? 1024) * MiB
const CHUNK = ChunkedUpload.DEFAULT_CHUNK_SIZE
const ROUNDS = 2
const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const work = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-upload-bench-"))
const file = path.join(work, "model.bin")

// The file: a 16 MiB random block repeated (random enough for md5, quick to write), through a
// small buffer so that writing it does not inflate this process's RSS.
{
  const block = randomBytes(16 * MiB)
  const fd = fs.openSync(file, "w")
  for (let written = 0; written < SIZE; written += block.length) {
    fs.writeSync(fd, block, 0, Math.min(block.length, SIZE - written))
  }
  fs.closeSync(fd)
}
const md5 = await new Promise((resolve, reject) => {
  const hash = createHash("md5")
  fs.createReadStream(file, { highWaterMark: 4 * MiB })
    .on("data", (b) => hash.update(b))
    .on("end", () => resolve(hash.digest("hex")))
    .on("error", reject)
})

// The sandbox, in its own process so that it does not share this event loop.
const child = spawn(process.execPath, [
  "--input-type=module",
  "-e",
  `
  import { startSandbox } from ${JSON.stringify(path.join(root, "dist/sandbox/Sandbox.js"))}
  const sb = await startSandbox({ seed: "none", dataDir: ${JSON.stringify(path.join(work, "sandbox"))} })
  process.stdout.write(JSON.stringify({ url: sb.url, token: sb.token }) + "\\n")
  process.on("SIGTERM", () => sb.close().then(() => process.exit(0)))
`
], { stdio: ["ignore", "pipe", "inherit"] })
const sandbox = await new Promise((resolve, reject) => {
  let out = ""
  child.stdout.on("data", (d) => {
    out += d
    if (out.includes("\n")) resolve(JSON.parse(out.split("\n")[0]))
  })
  child.on("exit", (code) => reject(new Error(`sandbox exited with ${code}`)))
})
const auth = `Synapse-Access-Token: Token ${sandbox.token}`

// CPU seconds (user + system) of the sandbox process so far, from /proc (Linux).
const ticks = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim() || 100)
const sandboxCpu = () => {
  try {
    const fields = fs.readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1].split(" ")
    return (Number(fields[11]) + Number(fields[12])) / ticks
  } catch {
    return NaN
  }
}
const curlJson = (args) => {
  const run = spawnSync("curl", ["-sS", "--fail-with-body", "-H", auth, ...args], {
    encoding: "utf8",
    maxBuffer: 16 * MiB
  })
  if (run.status !== 0) throw new Error(`curl failed: ${run.stderr} ${run.stdout}`)
  return JSON.parse(run.stdout)
}

const cpu = { curlServer: [], sdkServer: [], sdkClient: [] }
const viaCurl = () => {
  const start = performance.now()
  const server = sandboxCpu()
  const state = curlJson([
    "-X",
    "PUT",
    "-H",
    `Content-Range: bytes 0-${SIZE - 1}/${SIZE}`,
    "-F",
    "filename=model.bin",
    "-F",
    `file=@${file};type=application/octet-stream`,
    `${sandbox.url}/chunked_upload/`
  ])
  const done = curlJson([
    "-X",
    "POST",
    "-H",
    "Content-Type: application/json",
    "--data",
    JSON.stringify({ md5 }),
    state.url
  ])
  if (done.size !== SIZE || done.checksum !== md5) throw new Error("curl upload stored the wrong file")
  cpu.curlServer.push(sandboxCpu() - server)
  return performance.now() - start
}

const layer = ChunkedUpload.layer({ stateDir: path.join(work, "state") }).pipe(
  Layer.provide(SynapseClient.layer({ baseUrl: sandbox.url, accessToken: Redacted.make(sandbox.token) })),
  Layer.provide(NodeHttpClient.layer)
)
let peakRss = 0
const viaSdk = async () => {
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss())
  }, 10)
  try {
    const start = performance.now()
    const server = sandboxCpu()
    const client = process.cpuUsage()
    const result = await Effect.runPromise(
      Effect.flatMap(ChunkedUpload.ChunkedUpload, (u) => u.upload(file, { chunkSize: CHUNK, resume: false })).pipe(
        Effect.provide(layer)
      )
    )
    const elapsed = performance.now() - start
    const used = process.cpuUsage(client)
    cpu.sdkClient.push((used.user + used.system) / 1e6)
    cpu.sdkServer.push(sandboxCpu() - server)
    if (result.size !== SIZE || result.checksum !== md5) throw new Error("SDK upload stored the wrong file")
    return elapsed
  } finally {
    clearInterval(sampler)
    peakRss = Math.max(peakRss, process.memoryUsage.rss())
  }
}

const cleanUploads = () => fs.rmSync(path.join(work, "sandbox", "media", "uploads"), { recursive: true, force: true })

try {
  const curlTimes = []
  const sdkTimes = []
  for (let round = 0; round < ROUNDS; round++) {
    curlTimes.push(viaCurl())
    cleanUploads()
    sdkTimes.push(await viaSdk())
    cleanUploads()
  }
  const best = (xs) => Math.min(...xs)
  const mibps = (ms) => (SIZE / MiB) / (ms / 1000)
  const limit = 3 * CHUNK + 150 * 1e6
  console.log(`upload of ${SIZE / MiB} MiB in ${CHUNK / MiB} MiB chunks, best of ${ROUNDS}`)
  console.log(
    `curl (one multipart PUT + finish): ${best(curlTimes).toFixed(0)} ms, ${mibps(best(curlTimes)).toFixed(1)} MiB/s`
  )
  console.log(
    `SDK ChunkedUpload.upload:          ${best(sdkTimes).toFixed(0)} ms, ${mibps(best(sdkTimes)).toFixed(1)} MiB/s`
  )
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  console.log(
    `CPU per upload (median): sandbox ${median(cpu.curlServer).toFixed(1)} s for curl's, sandbox ${
      median(cpu.sdkServer).toFixed(1)
    } s + SDK client ${median(cpu.sdkClient).toFixed(1)} s for the SDK's`
  )
  console.log(`load average: ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`)
  console.log(
    `peak RSS during SDK upload: ${(peakRss / 1e6).toFixed(0)} MB (limit 3 × chunk + 150 MB = ${
      (limit / 1e6).toFixed(0)
    } MB) ${peakRss <= limit ? "OK" : "OVER"}`
  )
  console.log(`upload throughput ratio SDK/curl: ${(best(curlTimes) / best(sdkTimes)).toFixed(2)} (need >= 0.7)`)
} finally {
  child.kill("SIGTERM")
  fs.rmSync(work, { recursive: true, force: true })
}
