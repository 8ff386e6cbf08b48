/**
 * Fault injection: the spec parser, and each fault kind observed by a real client over real
 * sockets at about its configured rate, with the client's tally equal to the server's.
 */
import { describe, expect, it } from "@effect/vitest"
import { FaultSpecError, formatFaultSpec, makeRandom, parseFaultSpec } from "../../src/sandbox/Faults.js"
import { startSandbox } from "../../src/sandbox/Sandbox.js"
import { call, jsonInit } from "../support/http.js"
import { useSandbox } from "../support/sandbox.js"

describe("parseFaultSpec", () => {
  it("parses the documented example and round-trips", () => {
    const spec = parseFaultSpec(
      "status5xx=0.2,status429=0.05,reset=0.05,latency=20,truncate=0.02,slowFiles=65536,loseResponse=0.1,paths=chunked_upload|models"
    )
    expect(spec).toStrictEqual({
      status5xx: 0.2,
      status429: 0.05,
      retryAfter: 1,
      reset: 0.05,
      truncate: 0.02,
      loseResponse: 0.1,
      latency: 20,
      slowFiles: 65536,
      paths: ["chunked_upload", "models"]
    })
    expect(parseFaultSpec(formatFaultSpec(spec))).toStrictEqual(spec)
    expect(parseFaultSpec("")).toStrictEqual(parseFaultSpec(undefined))
  })

  it("refuses unknown keys, bad numbers and rates adding up past 1", () => {
    for (const bad of ["status500=0.1", "reset=2", "latency=-1", "latency=abc", "reset", "status5xx=0.6,reset=0.6"]) {
      expect(() => parseFaultSpec(bad), bad).toThrow(FaultSpecError)
    }
  })

  it("draws a reproducible sequence from a seed", () => {
    const a = makeRandom(7)
    const b = makeRandom(7)
    const xs = Array.from({ length: 5 }, () => a())
    expect(Array.from({ length: 5 }, () => b())).toStrictEqual(xs)
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true)
  })

  it("makes a sandbox with a bad spec fail to start with a clear message", async () => {
    await expect(startSandbox({ seed: "none", faults: "explode=1", dataDir: `/tmp/synapse-ml-never-${process.pid}` }))
      .rejects.toThrow(/unknown fault "explode"/)
  })
})

const sandbox = useSandbox({ seed: "none", randSeed: 1234 })

const setFaults = async (spec: string, randSeed = 99) => {
  const r = await call(
    `${sandbox().origin}/_sandbox/faults`,
    jsonInit("PUT", { spec, rand_seed: randSeed }, sandbox().headers)
  )
  expect(r.status).toBe(200)
  return r.body
}
const stats = async () => (await call(`${sandbox().origin}/_sandbox/stats`, { headers: sandbox().headers })).body

type Outcome = "ok" | "5xx" | "429" | "truncated" | "dropped"

const classify = async (url: string, init: RequestInit = {}): Promise<Outcome> => {
  try {
    const response = await fetch(url, {
      ...init,
      headers: { ...sandbox().headers, ...(init.headers as Record<string, string>) }
    })
    const text = await response.text()
    if (response.status >= 500) return "5xx"
    if (response.status === 429) {
      expect(response.headers.get("retry-after")).toBe("3")
      return "429"
    }
    try {
      JSON.parse(text)
      return "ok"
    } catch {
      return "truncated"
    }
  } catch {
    // reset mid-body and lost responses both end in a failed fetch
    return "dropped"
  }
}

describe("fault injection over real HTTP", () => {
  it("produces every kind at about its rate, exactly as the server counts them", async () => {
    await call(`${sandbox().origin}/_sandbox/stats`, { method: "DELETE", headers: sandbox().headers })
    await setFaults("status5xx=0.1,status429=0.1,retryAfter=3,reset=0.1,truncate=0.1,loseResponse=0.1")
    const n = 300
    const tally: Record<Outcome, number> = { ok: 0, "5xx": 0, "429": 0, truncated: 0, dropped: 0 }
    for (let i = 0; i < n; i++) tally[await classify(`${sandbox().url}/ground_truth_dataset_versions/`)]++
    const injected = (await stats()).faults_injected
    await setFaults("")
    expect(tally["5xx"]).toBe(injected.status5xx)
    expect(tally["429"]).toBe(injected.status429)
    expect(tally.truncated).toBe(injected.truncate)
    expect(tally.dropped).toBe(injected.reset + injected.loseResponse)
    for (const kind of ["status5xx", "status429", "reset", "truncate", "loseResponse"] as const) {
      // 10 % of 300: 30 expected; the seeded draw stays well inside these bounds.
      expect(injected[kind], kind).toBeGreaterThan(12)
      expect(injected[kind], kind).toBeLessThan(50)
    }
    expect(tally.ok).toBeGreaterThan(100)
  })

  it("is deterministic for a given seed", async () => {
    const run = async () => {
      await setFaults("status5xx=0.3,paths=ground_truth_dataset_versions", 5)
      const out: Array<Outcome> = []
      for (let i = 0; i < 30; i++) out.push(await classify(`${sandbox().url}/ground_truth_dataset_versions/`))
      return out
    }
    const first = await run()
    expect(first).toStrictEqual(await run())
    expect(first.filter((o) => o === "5xx").length).toBeGreaterThan(0)
    await setFaults("")
  })

  it("limits faults to matching paths", async () => {
    await setFaults("status5xx=1,paths=models")
    expect(await classify(`${sandbox().url}/models/`)).toBe("5xx")
    expect(await classify(`${sandbox().url}/ground_truth_dataset_versions/`)).toBe("ok")
    // ops endpoints are never faulted, so a test can always switch faults off
    expect((await call(`${sandbox().origin}/_sandbox/stats`, { headers: sandbox().headers })).status).toBe(200)
    await setFaults("")
    expect(await classify(`${sandbox().url}/models/`)).toBe("ok")
  })

  it("performs the request before losing its response (a retried POST would create twice)", async () => {
    await setFaults("loseResponse=1,paths=models")
    const db = sandbox().openDb()
    try {
      const count = () =>
        (db.prepare("SELECT COUNT(*) AS n FROM models WHERE name = 'Lost answer'").get() as { n: number }).n
      const outcome = await classify(
        `${sandbox().url}/models/`,
        jsonInit("POST", { name: "Lost answer", model_type: "detection", project: 1 })
      )
      expect(outcome).toBe("dropped")
      expect(count()).toBe(1)
    } finally {
      db.close()
      await setFaults("")
    }
  })

  it("adds latency", async () => {
    await setFaults("latency=150")
    const t0 = Date.now()
    expect(await classify(`${sandbox().url}/ground_truth_dataset_versions/`)).toBe("ok")
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140)
    await setFaults("")
  })

  it("slows file downloads to the configured rate", async () => {
    // A finished upload gives us a media file of known size.
    const bytes = new Uint8Array(24 * 1024).fill(7)
    const form = new FormData()
    form.append("file", new Blob([bytes]), "blob.bin")
    const up = await call(`${sandbox().url}/chunked_upload/`, {
      method: "PUT",
      headers: { ...sandbox().headers, "Content-Range": `bytes 0-${bytes.length - 1}/${bytes.length}` },
      body: form
    })
    const { createHash } = await import("node:crypto")
    const done = await call(
      up.body.url,
      jsonInit("POST", { md5: createHash("md5").update(bytes).digest("hex") }, sandbox().headers)
    )
    await setFaults("slowFiles=32768")
    const t0 = Date.now()
    const body = await (await fetch(done.body.file)).arrayBuffer()
    const elapsed = Date.now() - t0
    await setFaults("")
    expect(body.byteLength).toBe(bytes.length)
    expect(elapsed).toBeGreaterThanOrEqual(600) // 24 KiB at 32 KiB/s: 750 ms
  })

  it("refuses a bad spec at runtime with 400", async () => {
    const r = await call(`${sandbox().origin}/_sandbox/faults`, jsonInit("PUT", { spec: "reset=7" }, sandbox().headers))
    expect(r.status).toBe(400)
    const plain = await call(`${sandbox().origin}/_sandbox/faults`, {
      method: "PUT",
      headers: sandbox().headers,
      body: "status429=0.5"
    })
    expect(plain.body.spec).toBe("status429=0.5")
    await setFaults("")
  })
})
