// The fault-and-fuzz soak: proves that the SDK loses and duplicates nothing under every fault the
// sandbox injects, survives kill -9 of either side mid-upload, and that no bad input makes the
// sandbox hang or answer 5xx. Loopback only; bounded in time.
//
//   npm run soak                      # both profiles, a budget of 4 minutes (plus start-up)
//   node scripts/soak.mjs --minutes 8 # more rounds of every fault kind within the budget
//   node scripts/soak.mjs --quick     # the short version `npm test` runs (under a minute)
//   options: --profiles rich,evidence   --json (last line: the totals as JSON)
//
// It drives the SDK through the built `dist/` (its public modules) and runs every sandbox as a real
// child process, so run `npm run build` first. For each profile it starts a sandbox with `large`
// data, then for each fault kind (`status5xx`, `status429`, `reset`, `truncate`, `loseResponse`,
// `latency`, `slowFiles` and a mix of all) turns the fault on through `PUT /_sandbox/faults`, runs
// streams, creates, uploads and deploys through the SDK, turns faults off and checks the outcome
// against the sandbox: a streamed event missing is lost, one seen twice duplicated; a create or
// deploy that succeeded must have made exactly one model (none: lost, two: duplicated), one that
// failed at most one; an upload that succeeded must have stored the exact bytes. Any operation
// still running after its guard time is a hang. Then kill -9 of a client process mid-upload and of
// the sandbox process mid-upload, each resumed to a byte-exact file; then a bad-input fuzz of every
// route (malformed JSON, deep nesting, wrong types, huge values, bad encodings, bad methods and
// headers, truncated and stalled bodies), where every answer must be a 4xx (or the 2xx a lenient
// input earns), never a 5xx, a dropped connection or a hang. Exit status 1 when anything was lost,
// duplicated, hung or answered 5xx.
import { spawn } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const dist = (p) => path.join(root, "dist", p)

// ---------------------------------------------------------------------------------------------
// Options

const args = process.argv.slice(2)
const flag = (name) => args.includes(`--${name}`)
const value = (name, fallback) => {
  const at = args.indexOf(`--${name}`)
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1] : fallback
}
const quick = flag("quick")
const minutes = Number(value("minutes", "4"))
if (!Number.isFinite(minutes) || minutes <= 0) {
  console.error(`--minutes must be a positive number, got ${value("minutes")}`)
  process.exit(2)
}
const profiles = value("profiles", "rich,evidence").split(",").map((p) => p.trim()).filter((p) => p !== "")
for (const p of profiles) {
  if (p !== "rich" && p !== "evidence") {
    console.error(`--profiles takes rich and/or evidence, got ${p}`)
    process.exit(2)
  }
}
if (!fs.existsSync(dist("index.js"))) {
  console.error("dist/ is missing: run `npm run build` first")
  process.exit(2)
}
// Each profile's share of the budget, from when its sandbox is up; the fault rounds stop early
// enough to leave `RESERVE_MS` for the kill -9 runs and the fuzz.
const SHARE_MS = (minutes * 60_000) / profiles.length
const RESERVE_MS = 45_000
// The demo data (about 600 events) in --quick; the large set's first events on top otherwise.
const SEED = quick ? { seed: "demo" } : { seed: "large", events: 2_000 }
const CREATES = quick ? 1 : 3
const DEPLOYS = quick ? 1 : 2
const UPLOADS = 1
const UPLOAD_BYTES = quick ? 2 * 1024 * 1024 + 123 : 3 * 1024 * 1024 + 123
const KILL_BYTES = quick ? 4 * 1024 * 1024 + 123 : 12 * 1024 * 1024 + 123
// How long one SDK operation may take before it counts as a hang (the SDK's own deadlines end
// every call well before this).
const GUARD_MS = 120_000
const BODY_TIMEOUT_MS = 1_500
// During the kill -9 runs: each chunk request waits this long first, so a kill lands mid-upload.
const SLOW_CHUNKS = "latency=300,paths=chunked_upload"

const { Effect, Layer, Redacted, Stream } = await import("effect")
const { NodeHttpClient } = await import("@effect/platform-node")
const { ChunkedUpload, GroundTruths, Models, Synapse, Workflows } = await import(dist("index.js"))

const work = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-soak-"))

// ---------------------------------------------------------------------------------------------
// Tallies

/** One line of the report: what was tried under one condition and how it ended. */
const rows = []
const tally = (profile, section, condition, what) => {
  const same = rows.find((r) =>
    r.profile === profile && r.section === section && r.condition === condition && r.what === what
  )
  if (same !== undefined) return same
  const row = {
    profile,
    section,
    condition,
    what,
    tried: 0,
    passed: 0,
    failed: 0,
    lost: 0,
    duplicated: 0,
    hangs: 0,
    x5xx: 0,
    ms: 0
  }
  rows.push(row)
  return row
}
/** Runs one workload of `profile`, adding its time to the rows it opened. */
const timed = async (profile, work) => {
  const first = rows.length
  const start = Date.now()
  try {
    return await work()
  } finally {
    for (const row of rows.slice(first)) if (row.profile === profile) row.ms += Date.now() - start
  }
}
const notes = []

// ---------------------------------------------------------------------------------------------
// Sandboxes as child processes

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

/**
 * Starts `startSandbox` from dist/ in its own Node process on `port`, over `dataDir`; resolves with
 * `{ child, url, origin, token }` once it listens.
 */
const startSandbox = (profile, dataDir, port) => {
  const options = { profile, dataDir, port, ...SEED, bodyTimeoutMs: BODY_TIMEOUT_MS, faults: "" }
  const child = spawn(process.execPath, [
    "--input-type=module",
    "-e",
    `import { startSandbox } from ${JSON.stringify(dist("sandbox/Sandbox.js"))}
     const sb = await startSandbox(${JSON.stringify(options)})
     process.stdout.write(JSON.stringify({ url: sb.url, origin: sb.origin, token: sb.token }) + "\\n")
     process.on("SIGTERM", () => sb.close().then(() => process.exit(0)))`
  ], { stdio: ["ignore", "pipe", "pipe"] })
  let log = ""
  child.stderr.on("data", (d) => {
    log += d
    if (log.length > 1_000_000) log = log.slice(-500_000)
  })
  return new Promise((resolve, reject) => {
    let out = ""
    child.stdout.on("data", (d) => {
      out += d
      if (out.includes("\n")) resolve({ child, log: () => log, ...JSON.parse(out.split("\n")[0]) })
    })
    child.once("exit", (code, signal) => reject(new Error(`sandbox exited (${code ?? signal}):\n${log}`)))
  })
}

const stopSandbox = async (sb) => {
  if (sb.child.exitCode !== null || sb.child.signalCode !== null) return
  const exited = new Promise((resolve) => sb.child.once("exit", resolve))
  sb.child.kill("SIGTERM")
  const timer = setTimeout(() => sb.child.kill("SIGKILL"), 10_000)
  await exited
  clearTimeout(timer)
}

const killHard = async (child) => {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once("exit", resolve))
  child.kill("SIGKILL")
  await exited
}

// ---------------------------------------------------------------------------------------------
// Plain HTTP against a sandbox (faults off), for truth and verification

const admin = (sb) => {
  const headers = { "Synapse-Access-Token": `Token ${sb.token}` }
  const get = async (url) => {
    const r = await fetch(url, { headers })
    if (!r.ok) throw new Error(`GET ${url}: ${r.status} ${await r.text()}`)
    return r.json()
  }
  return {
    headers,
    setFaults: async (spec) => {
      const r = await fetch(`${sb.origin}/_sandbox/faults`, {
        method: "PUT",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({ spec, rand_seed: 7 })
      })
      if (!r.ok) throw new Error(`PUT faults ${spec}: ${r.status} ${await r.text()}`)
    },
    stats: () => get(`${sb.origin}/_sandbox/stats`),
    eventIds: async () => {
      const ids = []
      let url = `${sb.url}/sdk/ground_truth_events/?page_size=1000&fields=id`
      while (url) {
        const page = await get(url)
        for (const e of page.results) ids.push(e.id)
        url = page.next
      }
      return ids
    },
    modelsNamed: async (name) => (await get(`${sb.url}/models/?name=${encodeURIComponent(name)}&page_size=100`)).count
  }
}

// ---------------------------------------------------------------------------------------------
// The SDK, from dist/

const sdkLayer = (sb, stateDir) =>
  Synapse.layer({
    baseUrl: sb.url,
    accessToken: Redacted.make(sb.token),
    chunkedUpload: { stateDir }
  }).pipe(Layer.provideMerge(NodeHttpClient.layer))

/**
 * Runs an SDK effect with a hang guard: `{ ok: true, value }`, `{ ok: false, error }` or
 * `{ hang: true }` when it was still running after `GUARD_MS` (then interrupted, and not awaited
 * further in case it cannot be).
 */
const runGuarded = async (effect, layer) => {
  const controller = new AbortController()
  let timer
  const guard = new Promise((resolve) => {
    timer = setTimeout(() => {
      controller.abort()
      resolve({ hang: true })
    }, GUARD_MS)
  })
  const run = Effect.runPromise(Effect.either(Effect.provide(effect, layer)), { signal: controller.signal }).then(
    (either) => (either._tag === "Right" ? { ok: true, value: either.right } : { ok: false, error: either.left }),
    (defect) => ({ ok: false, error: defect })
  )
  const outcome = await Promise.race([run, guard])
  clearTimeout(timer)
  return outcome
}

const describe = (error) => {
  const tag = error?._tag ?? error?.name ?? "Error"
  const message = String(error?.message ?? error).split("\n")[0].slice(0, 160)
  return `${tag}: ${message}`
}

const md5 = (bytes) => createHash("md5").update(bytes).digest("hex")

const writeRandomFile = (name, size) => {
  const file = path.join(work, name)
  const bytes = randomBytes(size)
  fs.writeFileSync(file, bytes)
  return { file, md5: md5(bytes), size }
}

/** The bytes of the file an upload stored, fetched through its presigned URL (faults off). */
const storedMd5 = async (fileUrl) => {
  const r = await fetch(fileUrl)
  if (!r.ok) throw new Error(`GET ${fileUrl}: ${r.status}`)
  return md5(Buffer.from(await r.arrayBuffer()))
}

// ---------------------------------------------------------------------------------------------
// Workloads under faults

const FAULT_KINDS = [
  ["status5xx", "status5xx=0.2"],
  ["status429", "status429=0.15,retryAfter=0"],
  ["reset", "reset=0.1"],
  ["truncate", "truncate=0.1"],
  ["loseResponse", "loseResponse=0.1"],
  ["latency", "latency=40"],
  ["slowFiles", "slowFiles=262144"],
  ["mix", "status5xx=0.08,status429=0.04,retryAfter=0,reset=0.04,truncate=0.04,loseResponse=0.04,latency=5"]
]

let serial = 0
const unique = (what) => `soak-${what}-${process.pid}-${++serial}`

const streamUnderFaults = async (sb, layer, condition, truth) => {
  const row = tally(sb.profile, "faults", condition, "stream events")
  row.tried++
  const seen = new Map()
  const outcome = await runGuarded(
    GroundTruths.GroundTruths.pipe(
      Effect.flatMap((gt) =>
        Stream.runForEach(
          gt.streamEvents({}, { prefetch: 2 }),
          (e) => Effect.sync(() => seen.set(e.id, (seen.get(e.id) ?? 0) + 1))
        )
      )
    ),
    layer
  )
  if (outcome.hang) return void row.hangs++
  const lost = truth.filter((id) => !seen.has(id)).length
  const duplicated = [...seen.values()].filter((n) => n > 1).length
  if (!outcome.ok) {
    row.failed++
    notes.push(`${sb.profile} ${condition}: stream failed after ${seen.size} events: ${describe(outcome.error)}`)
  } else if (lost > 0) row.lost += lost
  if (duplicated > 0) row.duplicated += duplicated
  if (outcome.ok && lost === 0 && duplicated === 0) row.passed++
}

const createsUnderFaults = async (sb, layer, condition, check) => {
  const row = tally(sb.profile, "faults", condition, "create models")
  for (let i = 0; i < CREATES; i++) {
    row.tried++
    const name = unique("create")
    const data = sb.profile === "rich"
      ? { name, model_type: "classification", project: 1, metrics: { accuracy: 0.5 } }
      : { name }
    const outcome = await runGuarded(Models.Models.pipe(Effect.flatMap((m) => m.create(data))), layer)
    if (outcome.hang) {
      row.hangs++
      continue
    }
    check.push(async () => {
      const n = await sb.admin.modelsNamed(name)
      if (n > 1) row.duplicated += n - 1
      if (outcome.ok) {
        if (n === 0) row.lost++
        else if (n === 1 && outcome.value.name === name) row.passed++
      } else {
        row.failed++
        notes.push(`${sb.profile} ${condition}: create failed (${n} made): ${describe(outcome.error)}`)
      }
    })
  }
}

const deploysUnderFaults = async (sb, layer, condition, check) => {
  const row = tally(sb.profile, "faults", condition, "deploy models")
  for (let i = 0; i < DEPLOYS; i++) {
    row.tried++
    const name = unique("deploy")
    const outcome = await runGuarded(
      Workflows.deployModel({
        name,
        type: "classification",
        project_id: 1,
        metrics: { accuracy: 0.5 },
        replace_active: false
      }),
      layer
    )
    if (outcome.hang) {
      row.hangs++
      continue
    }
    check.push(async () => {
      const n = await sb.admin.modelsNamed(name)
      if (n > 1) row.duplicated += n - 1
      if (sb.profile === "evidence") {
        // Evidenced models carry no project or active flag: a deploy must refuse, creating nothing.
        if (!outcome.ok && n === 0) row.passed++
        else {
          row.failed++
          notes.push(`evidence ${condition}: deploy ${outcome.ok ? "succeeded" : describe(outcome.error)}, ${n} made`)
        }
        return
      }
      if (outcome.ok) {
        if (n === 0) row.lost++
        else if (n === 1) row.passed++
      } else {
        row.failed++
        notes.push(`${sb.profile} ${condition}: deploy failed (${n} made): ${describe(outcome.error)}`)
      }
    })
  }
}

const uploadsUnderFaults = async (sb, layer, condition, check) => {
  const row = tally(sb.profile, "faults", condition, "upload files")
  for (let i = 0; i < UPLOADS; i++) {
    row.tried++
    const source = writeRandomFile(`${unique("upload")}.bin`, UPLOAD_BYTES)
    const outcome = await runGuarded(
      ChunkedUpload.ChunkedUpload.pipe(
        Effect.flatMap((u) => u.upload(source.file, { chunkSize: 1024 * 1024, resume: false }))
      ),
      layer
    )
    if (outcome.hang) {
      row.hangs++
      continue
    }
    check.push(async () => {
      if (!outcome.ok) {
        row.failed++
        notes.push(`${sb.profile} ${condition}: upload failed: ${describe(outcome.error)}`)
        return
      }
      const r = outcome.value
      const stored = r.file === null ? r.checksum : await storedMd5(r.file)
      if (r.checksum === source.md5 && r.size === source.size && stored === source.md5) row.passed++
      else {
        row.lost++
        notes.push(`${sb.profile} ${condition}: upload stored ${stored}, expected ${source.md5}`)
      }
    })
  }
}

// ---------------------------------------------------------------------------------------------
// kill -9 of the client and of the server mid-upload

/**
 * Runs one SDK upload in its own Node process, printing a line per finished chunk and the result
 * as the last line; `resume: true` with `stateDir` so that another process can pick it up.
 */
const uploadProcess = (sb, file, stateDir) => {
  const child = spawn(process.execPath, [
    "--input-type=module",
    "-e",
    `import { Effect, Layer, Redacted } from "effect"
     import { NodeHttpClient } from "@effect/platform-node"
     import { ChunkedUpload, Synapse } from ${JSON.stringify(dist("index.js"))}
     const layer = Synapse.layer({ baseUrl: ${JSON.stringify(sb.url)}, accessToken: Redacted.make(${
      JSON.stringify(sb.token)
    }),
       chunkedUpload: { stateDir: ${JSON.stringify(stateDir)} } }).pipe(Layer.provideMerge(NodeHttpClient.layer))
     const onProgress = (p) => process.stdout.write(JSON.stringify({ sent: p.bytesSent }) + "\\n")
     const result = await Effect.runPromise(Effect.provide(ChunkedUpload.ChunkedUpload.pipe(
       Effect.flatMap((u) => u.upload(${
      JSON.stringify(file)
    }, { chunkSize: 1024 * 1024, resume: true, onProgress }))), layer))
     process.stdout.write(JSON.stringify({ done: result }) + "\\n")`
  ], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
  const state = { sent: 0, done: undefined, err: "" }
  let out = ""
  child.stdout.on("data", (d) => {
    out += d
    const lines = out.split("\n")
    out = lines.pop()
    for (const line of lines) {
      try {
        const msg = JSON.parse(line)
        if (msg.sent !== undefined) state.sent = Math.max(state.sent, msg.sent)
        if (msg.done !== undefined) state.done = msg.done
      } catch {
        // a log line
      }
    }
  })
  child.stderr.on("data", (d) => (state.err += d))
  const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)))
  return { child, state, exited }
}

const waitUntil = async (check, ms) => {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) return false
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return true
}

/** Uploads in a child process, kill -9s it mid-upload, resumes in a new one; the file must be exact. */
const killClient = async (sb) => {
  const row = tally(sb.profile, "kill -9", "client mid-upload", "upload, resume")
  row.tried++
  const source = writeRandomFile(`${unique("kill-client")}.bin`, KILL_BYTES)
  const stateDir = path.join(work, unique("state"))
  const before = (await sb.admin.stats()).upload_bytes_received
  // Slowed chunk requests, so that the kill lands mid-upload rather than after a loopback-fast finish.
  await sb.admin.setFaults(SLOW_CHUNKS)
  const first = uploadProcess(sb, source.file, stateDir)
  const reached = await waitUntil(() => first.state.sent >= KILL_BYTES / 3 || first.state.done !== undefined, GUARD_MS)
  await killHard(first.child)
  const killedAt = first.state.sent
  await sb.admin.setFaults("")
  if (!reached) {
    row.hangs++
    notes.push(`kill client: the first upload made no progress: ${first.state.err.slice(0, 300)}`)
    return
  }
  const second = uploadProcess(sb, source.file, stateDir)
  const finished = await Promise.race([second.exited, new Promise((r) => setTimeout(() => r("hang"), GUARD_MS))])
  if (finished === "hang") {
    await killHard(second.child)
    row.hangs++
    return
  }
  const result = second.state.done
  if (result === undefined) {
    row.failed++
    notes.push(`kill client: the resumed upload failed: ${second.state.err.slice(0, 300)}`)
    return
  }
  const received = (await sb.admin.stats()).upload_bytes_received - before
  const stored = await storedMd5(result.file)
  if (stored === source.md5 && result.size === source.size) row.passed++
  else row.lost++
  notes.push(
    `kill -9 client (${sb.profile}): killed at ${killedAt} of ${source.size} bytes; the sandbox received ` +
      `${received} bytes in all (${received - source.size} sent twice), file ${
        stored === source.md5 ? "exact" : "WRONG"
      }`
  )
}

/**
 * Uploads in a child process, kill -9s the sandbox mid-upload and restarts it on the same port and
 * directory; the upload must end exact (by its own retries, or resumed by a new process), and the
 * database must pass SQLite's integrity check.
 */
const killServer = async (sb, restart) => {
  const row = tally(sb.profile, "kill -9", "server mid-upload", "upload, resume")
  row.tried++
  const source = writeRandomFile(`${unique("kill-server")}.bin`, KILL_BYTES)
  const stateDir = path.join(work, unique("state"))
  await sb.admin.setFaults(SLOW_CHUNKS)
  const first = uploadProcess(sb, source.file, stateDir)
  const reached = await waitUntil(() => first.state.sent >= KILL_BYTES / 3 || first.state.done !== undefined, GUARD_MS)
  await killHard(sb.child)
  const killedAt = first.state.sent
  // The restarted sandbox has no faults: the rest of the upload goes at loopback speed.
  const fresh = await restart()
  if (!reached) {
    await killHard(first.child)
    row.hangs++
    notes.push(`kill server: the upload made no progress: ${first.state.err.slice(0, 300)}`)
    return fresh
  }
  const firstEnd = await Promise.race([first.exited, new Promise((r) => setTimeout(() => r("hang"), GUARD_MS))])
  if (firstEnd === "hang") {
    await killHard(first.child)
    row.hangs++
    notes.push("kill server: the client neither finished nor gave up within the guard time")
    return fresh
  }
  let result = first.state.done
  let how = "by the client's own retries"
  if (result === undefined) {
    const second = uploadProcess(fresh, source.file, stateDir)
    const end = await Promise.race([second.exited, new Promise((r) => setTimeout(() => r("hang"), GUARD_MS))])
    if (end === "hang") {
      await killHard(second.child)
      row.hangs++
      return fresh
    }
    result = second.state.done
    how = "by a new process resuming it"
    if (result === undefined) {
      row.failed++
      notes.push(`kill server: the resumed upload failed: ${second.state.err.slice(0, 300)}`)
      return fresh
    }
  }
  const stored = await storedMd5(result.file)
  const integrity = await integrityCheck(fresh.dataDir)
  if (stored === source.md5 && result.size === source.size && integrity === "ok") row.passed++
  else row.lost++
  notes.push(
    `kill -9 server (${sb.profile}): killed at ${killedAt} of ${source.size} bytes; finished ${how}; ` +
      `file ${stored === source.md5 ? "exact" : "WRONG"}; SQLite integrity_check: ${integrity}`
  )
  return fresh
}

const integrityCheck = async (dataDir) => {
  const { default: Database } = await import("better-sqlite3")
  const db = new Database(path.join(dataDir, "sandbox.sqlite"), { readonly: true })
  try {
    return db.pragma("integrity_check", { simple: true })
  } finally {
    db.close()
  }
}

// ---------------------------------------------------------------------------------------------
// Bad-input fuzz

/**
 * Sends one raw HTTP/1.1 request and reads the answer: `{ status }` (0 when the connection closed
 * without one), or `{ hang: true }` after `ms`. `stallAfter` sends only that many body bytes and
 * then waits, as a stalled client does; `close` ends the socket after sending.
 */
const raw = (port, { method, path: target, headers = {}, body = Buffer.alloc(0), declared, stallAfter }, ms = 15_000) =>
  new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    let text = ""
    const timer = setTimeout(() => {
      socket.destroy()
      resolve({ hang: true })
    }, ms)
    const finish = () => {
      clearTimeout(timer)
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text)
      resolve({ status: m === null ? 0 : Number(m[1]), text })
    }
    socket.on("connect", () => {
      const length = declared ?? body.length
      const lines = [`${method} ${target} HTTP/1.1`, "Host: 127.0.0.1", "Connection: close"]
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`)
      if (length > 0 || method === "POST" || method === "PUT" || method === "PATCH") {
        lines.push(`Content-Length: ${length}`)
      }
      socket.write(`${lines.join("\r\n")}\r\n\r\n`)
      socket.write(stallAfter === undefined ? body : body.subarray(0, stallAfter))
    })
    socket.on("data", (d) => {
      text += d.toString("latin1")
      // One answer is all we wait for: a stalled body's connection stays open otherwise.
      const head = text.indexOf("\r\n\r\n")
      const len = /content-length: (\d+)/i.exec(text)
      if (head >= 0 && len !== null && text.length >= head + 4 + Number(len[1])) {
        socket.destroy()
        finish()
      }
    })
    socket.on("error", () => {})
    socket.on("close", finish)
  })

/** The bad inputs: each request and the statuses that count as a clean answer. */
const fuzzCases = (sb, mediaPath) => {
  const auth = { "Synapse-Access-Token": `Token ${sb.token}` }
  const jsonHeaders = { ...auth, "Content-Type": "application/json" }
  const api = "/api/v1"
  let deep = "1"
  for (let i = 0; i < 5_000; i++) deep = `{"a":${deep}}`
  let deepList = "1"
  for (let i = 0; i < 100_000; i++) deepList = `[${deepList}]`
  const bodies = [
    "{",
    "{\"name\":",
    "[]",
    "null",
    "\"text\"",
    "42",
    "\uFEFF{}",
    "{\"name\":\"x\",}",
    "{'name':'x'}",
    "NaN",
    `{"name":"x","model_type":"classification","project":1,"configuration":${deep}}`,
    deepList,
    "{\"name\":\"x\",\"__proto__\":{\"is_active\":true}}",
    "{\"name\":\"x\",\"constructor\":{\"prototype\":{\"polluted\":1}}}",
    "{\"name\":123,\"model_type\":[],\"project\":\"one\"}",
    "{\"name\":\"x\",\"model_type\":\"classification\",\"project\":1e999}",
    "{\"name\":\"x\",\"model_type\":\"classification\",\"project\":-1}",
    "{\"name\":\"x\",\"model_type\":\"classification\",\"project\":99999999999999999999}",
    "{\"name\":\"x\",\"model_type\":\"classification\",\"project\":1,\"metrics\":{\"a\":\"b\"}}",
    "{\"name\":\"x\",\"model_type\":\"classification\",\"project\":1,\"metrics\":[1,2]}",
    "{\"name\":\"x\",\"model_type\":\"classification\",\"project\":1,\"configuration\":\"no\"}",
    "{\"name\":\"x\",\"model_type\":\"classification\",\"project\":1,\"chunked_upload\":{\"id\":1}}",
    "{\"name\":\"x\",\"model_type\":\"classification\",\"project\":1,\"chunked_upload\":\"nope\"}",
    "{\"name\":\"x\",\"model_type\":\"classification\",\"project\":1,\"is_active\":\"yes\"}",
    "{\"name\":\"x\",\"model_type\":\"classification\",\"project\":1,\"version\":\"" + "v".repeat(500) + "\"}",
    `{"name":"${"n".repeat(3_000_000)}","model_type":"classification","project":1}`,
    "{\"name\":\"\",\"model_type\":\"classification\",\"project\":1}",
    "{\"name\":\"\\ud800\",\"model_type\":\"classification\",\"project\":1}",
    "{\"md5\":null}",
    "{\"md5\":\"zz\"}",
    "{\"spec\":\"status5xx=2\"}",
    "{\"spec\":\"bogus=1\"}",
    "{\"spec\":5}",
    "{\"spec\":\"\",\"rand_seed\":1.5}"
  ].map((text) => Buffer.from(text))
  bodies.push(Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])) // invalid UTF-8
  const cases = []
  const add = (label, request, ok = (s) => s >= 400 && s < 500) => cases.push({ label, request, ok })
  // Every JSON-taking route with every bad body.
  const jsonRoutes = [
    ["POST", `${api}/models/`],
    ["PATCH", `${api}/models/101/`],
    ["PUT", `${api}/chunked_upload/`],
    ["POST", `${api}/chunked_upload/1/`],
    ["PUT", "/_sandbox/faults"]
  ]
  for (const [method, target] of jsonRoutes) {
    for (const body of bodies) {
      add(`${method} ${target} ${JSON.stringify(body.subarray(0, 40).toString("latin1"))}`, {
        method,
        path: target,
        headers: jsonHeaders,
        body
      }, (s) => (s >= 400 && s < 500) || (target.endsWith("chunked_upload/") && s === 200) || s === 201)
    }
  }
  // Query strings: wrong types, huge values, bad encodings (lenient ones may answer 200).
  const listings = ["models/", "sdk/ground_truth_events/", "ground_truths/", "ground_truth_dataset_versions/"]
  const queries = [
    "page=-1",
    "page=abc",
    "page=99999999999",
    "page_size=1e9",
    "page_size=-5",
    "limit=abc&offset=-1",
    "project=abc",
    "project=99999999999999999999",
    "project=1,,x",
    "ground_truth_dataset_versions=0",
    "ground_truth_dataset=-1",
    "created_after=yesterday",
    "created_after=2026-13-45",
    "category=bogus",
    "model_type=%00",
    "is_active=maybe",
    "ordering=;DROP TABLE models",
    "fields=%zz",
    "search=%E0%A4%A",
    `search=${"s".repeat(10_000)}`,
    `search=${"s".repeat(20_000)}`,
    "expand=bogus",
    "data_type=' OR 1=1 --"
  ]
  for (const listing of listings) {
    for (const q of queries) {
      add(
        `GET ${listing}?${q.slice(0, 40)}`,
        { method: "GET", path: `${api}/${listing}?${q}`, headers: auth },
        (s) => s === 200 || (s >= 400 && s < 500)
      )
    }
  }
  // Bad ids and paths.
  const ids = [
    "0",
    "-1",
    "abc",
    "1.5",
    "%zz",
    "101;DROP TABLE models",
    "..%2f..%2f",
    "9".repeat(40),
    "%F0%9F%98%80",
    "1%00"
  ]
  for (const id of ids) {
    for (const base of ["models", "ground_truth_dataset_versions", "chunked_upload"]) {
      add(`GET ${base}/${id}/`, { method: "GET", path: `${api}/${base}/${id}/`, headers: auth })
    }
  }
  add("GET media traversal", { method: "GET", path: "/media/..%2f..%2fsandbox.sqlite" })
  add("GET media unsigned", { method: "GET", path: "/media/models/x.bin" })
  add("GET media bad signature", { method: "GET", path: "/media/models/x.bin?expires=1&signature=zz" })
  add("GET unknown path", { method: "GET", path: `${api}/nothing/`, headers: auth })
  // Ranges of a real, signed file: malformed ones are ignored (200) or unsatisfiable (416).
  if (mediaPath !== undefined) {
    for (
      const range of [
        "bytes=abc",
        "bytes=5-1",
        "bytes=0-0,2-3",
        "bytes=99999999999999999999-",
        "bytes=-99999999999999999999",
        "bytes=-0",
        "bytes=--1",
        "items=0-1",
        "bytes=0-1\u0000"
      ]
    ) {
      for (const method of ["GET", "HEAD"]) {
        // A control byte makes the whole request malformed: Node's parser answers 400.
        add(
          `${method} media Range ${JSON.stringify(range)}`,
          { method, path: mediaPath, headers: { Range: range } },
          (s) => s === 200 || s === 206 || s === 416 || (s === 400 && range.includes("\u0000"))
        )
      }
    }
  }
  // Every route with every method it does not serve, with and without a body.
  const routes = [
    `${api}/models/`,
    `${api}/models/101/`,
    `${api}/sdk/ground_truth_events/`,
    `${api}/ground_truths/`,
    `${api}/ground_truth_dataset_versions/`,
    `${api}/ground_truth_dataset_versions/1/`,
    `${api}/chunked_upload/`,
    `${api}/chunked_upload/1/`,
    "/_sandbox/stats",
    "/_sandbox/faults",
    "/_sandbox/health"
  ]
  for (const target of routes) {
    for (const method of ["DELETE", "PUT", "POST", "PATCH", "OPTIONS", "TRACE", "FOO"]) {
      add(`${method} ${target} with a body`, {
        method,
        path: target,
        headers: jsonHeaders,
        body: Buffer.alloc(quick ? 16 * 1024 : 256 * 1024, 0x61)
      }, (s) => s >= 200 && s < 500)
    }
  }
  // Headers: tokens, content types, ranges, multipart.
  add("no token", { method: "GET", path: `${api}/models/` })
  add("bad token", { method: "GET", path: `${api}/models/`, headers: { "Synapse-Access-Token": "Token nope" } })
  add("token with control bytes", { method: "GET", path: `${api}/models/`, headers: { Authorization: "Token \u0001" } })
  const chunkBody = Buffer.from(
    "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\n\r\nabcd\r\n--b--\r\n"
  )
  const multipartHeaders = (range, type = "multipart/form-data; boundary=b") => ({
    ...auth,
    "Content-Type": type,
    ...(range === undefined ? {} : { "Content-Range": range })
  })
  for (
    const range of [
      undefined,
      "bytes 0-3",
      "bytes 3-0/4",
      "bytes 0-9/4",
      "bytes -1-3/4",
      "bytes 0-3/99999999999999999999",
      "bytes 0-3/*",
      "items 0-3/4",
      "bytes 5-8/9"
    ]
  ) {
    add(`PUT chunked_upload/ Content-Range ${range}`, {
      method: "PUT",
      path: `${api}/chunked_upload/`,
      headers: multipartHeaders(range),
      body: chunkBody
    }, (s) => s === 200 || (s >= 400 && s < 500))
  }
  for (const type of ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=zz"]) {
    add(`PUT chunked_upload/ ${type}`, {
      method: "PUT",
      path: `${api}/chunked_upload/`,
      headers: multipartHeaders("bytes 0-3/4", type),
      body: chunkBody
    })
  }
  add("PUT chunked_upload/ garbage multipart", {
    method: "PUT",
    path: `${api}/chunked_upload/`,
    headers: multipartHeaders("bytes 0-3/4"),
    body: Buffer.from("--b\r\nnot a header\r\n\r\n")
  })
  add("PUT chunked_upload/ chunk larger than its range", {
    method: "PUT",
    path: `${api}/chunked_upload/`,
    headers: multipartHeaders("bytes 0-1/4"),
    body: chunkBody
  })
  add("POST models/ form body", {
    method: "POST",
    path: `${api}/models/`,
    headers: { ...auth, "Content-Type": "application/x-www-form-urlencoded" },
    body: Buffer.from("name=x")
  })
  // Truncated bodies (the client hangs up): no answer is expected, the server must carry on.
  add("POST models/ truncated then closed", {
    method: "POST",
    path: `${api}/models/`,
    headers: jsonHeaders,
    body: Buffer.from("{\"name\":\"trunc"),
    declared: 500,
    close: true
  }, (s) => s === 0 || (s >= 400 && s < 500))
  // Stalled bodies: a 408 within the body timeout.
  for (
    const [label, target, headers, body] of [
      ["JSON", `${api}/models/`, jsonHeaders, Buffer.from("{\"name\":\"stalled\",\"model_type\":\"classification\"}")],
      ["chunk", `${api}/chunked_upload/`, multipartHeaders("bytes 0-3/4"), chunkBody],
      ["faults", "/_sandbox/faults", jsonHeaders, Buffer.from("{\"spec\":\"\"}")]
    ]
  ) {
    add(`PUT/POST ${label} body stalled half way`, {
      method: target.endsWith("models/") ? "POST" : "PUT",
      path: target,
      headers,
      body,
      stallAfter: Math.floor(body.length / 2)
    }, (s) => s === 408)
  }
  return cases
}

const fuzz = async (sb) => {
  const row = tally(sb.profile, "fuzz", "bad input", "every route")
  const model = await fetch(`${sb.url}/models/101/`, { headers: sb.admin.headers }).then((r) => r.json(), () => ({}))
  const file = typeof model.file === "string" ? new URL(model.file) : undefined
  const cases = fuzzCases(sb, file === undefined ? undefined : `${file.pathname}${file.search}`)
  const port = Number(new URL(sb.origin).port)
  // A few at a time: the stalled ones wait out the body timeout together.
  const queue = [...cases]
  const worker = async () => {
    for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
      row.tried++
      const answer = c.request.close === true
        ? await rawThenClose(port, c.request)
        : await raw(port, c.request, BODY_TIMEOUT_MS + 10_000)
      if (answer.hang) {
        row.hangs++
        notes.push(`fuzz hang: ${c.label}`)
      } else if (answer.status >= 500) {
        row.x5xx++
        notes.push(`fuzz ${answer.status}: ${c.label}`)
      } else if (c.ok(answer.status)) row.passed++
      else {
        row.failed++
        notes.push(`fuzz answered ${answer.status || "nothing (connection closed)"}: ${c.label}`)
      }
    }
  }
  await Promise.all(Array.from({ length: 4 }, worker))
  // The sandbox is still whole: it answers, and its process lives.
  const health = await fetch(`${sb.origin}/_sandbox/health`).then((r) => r.status, () => 0)
  if (health !== 200 || sb.child.exitCode !== null) {
    row.failed++
    notes.push(`after the fuzz the sandbox answers health with ${health}`)
  }
  const errors = sb.log().split("\n").filter((line) => line.includes("level=ERROR"))
  if (errors.length > 0) notes.push(`sandbox logged ${errors.length} errors, first: ${errors[0].slice(0, 300)}`)
}

/** Sends part of a body and hangs up: nothing to read; answers `{ status: 0 }` once closed. */
const rawThenClose = (port, request) =>
  new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    socket.on("connect", () => {
      socket.write(
        `${request.method} ${request.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
          Object.entries(request.headers).map(([k, v]) => `${k}: ${v}\r\n`).join("") +
          `Content-Length: ${request.declared}\r\n\r\n`
      )
      socket.end(request.body)
    })
    socket.on("error", () => {})
    socket.on("close", () => resolve({ status: 0 }))
    setTimeout(() => socket.destroy(), 2_000)
  })

// ---------------------------------------------------------------------------------------------
// Main

const started = Date.now()
const elapsed = () => `${Math.round((Date.now() - started) / 1000)} s`

/**
 * The fault kinds a profile runs: all of them; in `--quick`, every kind on one profile or the
 * other (and the mix of all on both), so that the two profiles, run side by side, finish within a minute.
 */
const kindsFor = (profile) =>
  !quick || profiles.length === 1
    ? FAULT_KINDS
    : FAULT_KINDS.filter(([kind], i) => kind === "mix" || (i % 2 === 0) === (profile === "rich"))

/**
 * Everything one profile runs, on its own sandbox process: rounds of every fault kind (the first
 * always; more while its share of the budget lasts, except in --quick), then the kill -9 runs and
 * the fuzz.
 */
const soakProfile = async (profile) => {
  // One data directory for every profile: seeded once (the data directory's lock makes a second
  // sandbox starting meanwhile wait for it), served in each profile's shapes.
  const dataDir = path.join(work, "sandbox")
  const port = await freePort()
  let sb = { ...(await startSandbox(profile, dataDir, port)), profile, dataDir }
  sb.admin = admin(sb)
  const restart = async () => {
    const fresh = { ...(await startSandbox(profile, dataDir, port)), profile, dataDir }
    fresh.admin = admin(fresh)
    return fresh
  }
  const say = (line) => console.log(`${profile.padEnd(8)} ${line}  (${elapsed()})`)
  try {
    const truth = await sb.admin.eventIds()
    say(`sandbox pid ${sb.child.pid}, ${truth.length} events`)
    const faultsUntil = Date.now() + SHARE_MS - RESERVE_MS
    for (let round = 1; round === 1 || (!quick && Date.now() < faultsUntil); round++) {
      for (const [condition, spec] of kindsFor(profile)) await faultRound(sb, profile, round, condition, spec, truth)
    }
    // In --quick the client's kill runs on the rich profile and the server's on the evidence one.
    const both = !quick || profiles.length === 1
    if (both || profile === "rich") await timed(profile, () => killClient(sb))
    if (both || profile === "evidence") sb = await timed(profile, () => killServer(sb, restart))
    say("kill -9       mid-upload, resumed")
    await timed(profile, () => fuzz(sb))
    say("fuzz          done")
  } finally {
    await stopSandbox(sb)
  }
}

/** One fault kind on one profile: faults on, the four workloads, faults off, then the checks. */
const faultRound = async (sb, profile, round, condition, spec, truth) => {
  const layer = sdkLayer(sb, path.join(work, unique("state")))
  const check = []
  await sb.admin.setFaults(spec)
  await timed(profile, () => streamUnderFaults(sb, layer, condition, truth))
  await timed(profile, () => createsUnderFaults(sb, layer, condition, check))
  await timed(profile, () => deploysUnderFaults(sb, layer, condition, check))
  await timed(profile, () => uploadsUnderFaults(sb, layer, condition, check))
  await sb.admin.setFaults("")
  for (const verify of check) await verify()
  const mine = rows.filter((r) => r.condition === condition && r.profile === profile)
  console.log(
    `${profile.padEnd(8)} round ${round} ${condition.padEnd(13)} ${
      mine.map((r) => `${r.what.split(" ")[0]} ${r.passed}/${r.tried}`).join("  ")
    }  (${elapsed()})`
  )
}

try {
  if (quick) await Promise.all(profiles.map(soakProfile))
  else for (const profile of profiles) await soakProfile(profile)
} finally {
  fs.rmSync(work, { recursive: true, force: true })
}

// ---------------------------------------------------------------------------------------------
// Report

const sum = (key, filter = () => true) => rows.filter(filter).reduce((n, r) => n + r[key], 0)
const totals = {
  seconds: Math.round((Date.now() - started) / 1000),
  profiles,
  tried: sum("tried"),
  passed: sum("passed"),
  failed: sum("failed"),
  lost: sum("lost"),
  duplicated: sum("duplicated"),
  hangs: sum("hangs"),
  fuzzTried: sum("tried", (r) => r.section === "fuzz"),
  x5xxOnBadInput: sum("x5xx")
}
console.log("")
console.log("profile  section  condition          what             tried passed failed lost dup hangs 5xx  secs")
for (const r of rows) {
  console.log(
    `${r.profile.padEnd(8)} ${r.section.padEnd(8)} ${r.condition.padEnd(18)} ${r.what.padEnd(16)} ${
      String(r.tried).padStart(5)
    } ${String(r.passed).padStart(6)} ${String(r.failed).padStart(6)} ${String(r.lost).padStart(4)} ${
      String(r.duplicated).padStart(3)
    } ${String(r.hangs).padStart(5)} ${String(r.x5xx).padStart(3)} ${(r.ms / 1000).toFixed(1).padStart(5)}`
  )
}
if (notes.length > 0) {
  console.log("")
  for (const note of notes) console.log(`note: ${note}`)
}
console.log("")
console.log(
  `soak (${profiles.join(" + ")}, ${totals.seconds} s): tried ${totals.tried}, passed ${totals.passed}, ` +
    `failed ${totals.failed}, lost ${totals.lost}, duplicated ${totals.duplicated}, hangs ${totals.hangs}, ` +
    `5xx on bad input ${totals.x5xxOnBadInput} (of ${totals.fuzzTried} bad requests)`
)
if (flag("json")) console.log(JSON.stringify(totals))
process.exit(totals.lost + totals.duplicated + totals.hangs + totals.x5xxOnBadInput === 0 ? 0 : 1)
