/**
 * Presigned media URLs (signature, expiry, traversal, Range) and the data directory's life across
 * restarts (data kept, no re-seed, same signing secret).
 */
import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { prepareDataDir } from "../../src/sandbox/DataDir.js"
import { makeSigner, presign, signFileMap, signFilesJson } from "../../src/sandbox/Media.js"
import { call, jsonInit } from "../support/http.js"
import { startTestSandbox, useSandbox } from "../support/sandbox.js"

const sandbox = useSandbox({ seed: "demo" })

const firstImage = async (): Promise<{ url: string; size: number; media: string }> => {
  const r = await call(`${sandbox().url}/sdk/ground_truth_events/?page_size=1`, { headers: sandbox().headers })
  const image = r.body.results[0].data_unit.files.image
  const media = decodeURIComponent(new URL(image.url).pathname.slice("/media/".length))
  return { url: image.url, size: image.size, media }
}

const rawStatus = (path: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const request = Http.request({ host: "127.0.0.1", port: sandbox().port, path, method: "GET" }, (response) => {
      response.resume()
      resolve(response.statusCode ?? 0)
    })
    request.on("error", reject)
    request.end()
  })

const secretOf = (): string => {
  const db = sandbox().openDb()
  try {
    return (db.prepare("SELECT value FROM meta WHERE key = 'signing_secret'").get() as { value: string }).value
  } finally {
    db.close()
  }
}

describe("signing file maps", () => {
  it("rewrites JSON text exactly as parsing and rewriting the map would", () => {
    const sign = makeSigner("http://h:1", "s3cret")
    const maps = [
      {
        image_1: { name: "a.png", media: "images/a.png", file_type: "image", is_primary: true, width: 2 },
        data_meta_1: { media: "meta/ü \"q\".json" }
      },
      { image: { name: "x", media: "dir/with space/ø.png" } },
      { none: { url: "http://elsewhere/x" } },
      { a: { media: "back\\slash.png" }, b: { media: "plain.png", file_type: "media" } },
      { a: { name: "\"media\":\"not-a-key\"", media: "x.png" } },
      {}
    ]
    for (const map of maps) {
      const text = JSON.stringify(map)
      expect(JSON.parse(signFilesJson(text, sign))).toStrictEqual(signFileMap(map, sign))
      expect(JSON.parse(signFilesJson(JSON.stringify(map, null, 2), sign))).toStrictEqual(signFileMap(map, sign))
    }
  })

  it("signs every entry of a map written partly compact, partly spaced (a hand-edited row)", () => {
    const sign = makeSigner("http://h:1", "s3cret")
    const text = "{\"a\": {\"media\" : \"one.png\"}, \"b\": {\"media\":\"two.png\"}, \"c\": {\"media\":\"three.png\"}}"
    const expected = signFileMap({ a: { media: "one.png" }, b: { media: "two.png" }, c: { media: "three.png" } }, sign)
    expect(JSON.parse(signFilesJson(text, sign))).toStrictEqual(expected)
    const reversed = "{\"b\": {\"media\":\"two.png\"}, \"a\": {\"media\" : \"one.png\"}}"
    expect(JSON.parse(signFilesJson(reversed, sign))).toStrictEqual(
      signFileMap({ b: { media: "two.png" }, a: { media: "one.png" } }, sign)
    )
  })
})

describe("media", () => {
  it("serves a presigned file without auth, with its size and a PNG content type", async () => {
    const image = await firstImage()
    const r = await fetch(image.url)
    expect(r.status).toBe(200)
    expect(r.headers.get("content-type")).toBe("image/png")
    const bytes = new Uint8Array(await r.arrayBuffer())
    expect(bytes.length).toBe(image.size)
    expect(Array.from(bytes.subarray(1, 4))).toStrictEqual([0x50, 0x4e, 0x47]) // "PNG"
  })

  it("refuses missing, wrong and expired signatures with 403", async () => {
    const image = await firstImage()
    const url = new URL(image.url)
    const bare = `${url.origin}${url.pathname}`
    expect((await call(bare)).status).toBe(403)
    const wrong = new URL(image.url)
    wrong.searchParams.set("signature", "0".repeat(64))
    expect((await call(wrong.toString())).status).toBe(403)
    const later = new URL(image.url)
    later.searchParams.set("expires", String(Number(later.searchParams.get("expires")) + 1))
    expect((await call(later.toString())).status).toBe(403)
    // A correctly signed URL whose expiry has passed.
    const expired = presign(sandbox().origin, secretOf(), image.media, Math.floor(Date.now() / 1000) - 10)
    const r = await call(expired)
    expect(r.status).toBe(403)
    expect(r.body.detail).toContain("expired")
    // The signature covers the path: another file with this signature is refused.
    const other = new URL(image.url)
    other.pathname = other.pathname.replace(/\d(\.png)$/, (m, ext) => `${(Number(m[0]) + 1) % 10}${ext}`)
    expect((await call(other.toString())).status).toBe(403)
  })

  it("never serves outside media/, even when signed", async () => {
    const secret = secretOf()
    const exp = Math.floor(Date.now() / 1000) + 600
    // Raw requests: fetch would normalise the dots away before sending.
    for (
      const path of [
        "../sandbox.sqlite",
        "images/../../sandbox.sqlite",
        "images/%2e%2e/%2e%2e/sandbox.sqlite",
        "..%2Fsandbox.sqlite"
      ]
    ) {
      const signature = presign("", secret, decodeURIComponent(path), exp).split("signature=")[1]
      const status = await rawStatus(`/media/${path}?expires=${exp}&signature=${signature}`)
      expect(status, path).toBe(404)
    }
    const missing = presign(sandbox().origin, secret, "images/does-not-exist.png", exp)
    expect((await call(missing)).status).toBe(404)
  })

  it("answers Range requests with 206 and 416", async () => {
    const image = await firstImage()
    const part = await fetch(image.url, { headers: { Range: "bytes=0-9" } })
    expect(part.status).toBe(206)
    expect(part.headers.get("content-range")).toBe(`bytes 0-9/${image.size}`)
    expect((await part.arrayBuffer()).byteLength).toBe(10)
    const whole = new Uint8Array(await (await fetch(image.url)).arrayBuffer())
    const tail = await fetch(image.url, { headers: { Range: "bytes=-5" } })
    expect(tail.status).toBe(206)
    expect(new Uint8Array(await tail.arrayBuffer())).toStrictEqual(whole.subarray(whole.length - 5))
    const open = await fetch(image.url, { headers: { Range: `bytes=${image.size - 3}-` } })
    expect((await open.arrayBuffer()).byteLength).toBe(3)
    const beyond = await fetch(image.url, { headers: { Range: `bytes=${image.size + 10}-` } })
    expect(beyond.status).toBe(416)
    await beyond.arrayBuffer()
  })
})

describe("data directory", () => {
  it("waits for another process's lock, and takes over the lock of a dead one", async () => {
    const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-lock-"))
    try {
      // A pid that cannot be running (above the kernel's pid_max).
      Fs.writeFileSync(Path.join(dataDir, ".prepare.lock"), "99999999")
      const prepared = prepareDataDir({ dataDir, seed: "none", randSeed: 1 })
      expect(prepared.seeded).toBe(true)
      expect(Fs.existsSync(Path.join(dataDir, ".prepare.lock"))).toBe(false)
      // A live owner (a child that holds the lock for a moment): prepare waits, then reuses the data.
      const holder = spawn(process.execPath, [
        "-e",
        `require("fs").writeFileSync(${
          JSON.stringify(Path.join(dataDir, ".prepare.lock"))
        }, String(process.pid), { flag: "wx" }); setTimeout(() => require("fs").rmSync(${
          JSON.stringify(Path.join(dataDir, ".prepare.lock"))
        }), 500)`
      ])
      const lock = Path.join(dataDir, ".prepare.lock")
      while (!Fs.existsSync(lock) || Fs.readFileSync(lock, "utf8") === "") await new Promise((r) => setTimeout(r, 20))
      const t0 = Date.now()
      const again = prepareDataDir({ dataDir, seed: "none", randSeed: 1 })
      expect(Date.now() - t0).toBeGreaterThanOrEqual(150)
      expect(again.seeded).toBe(false)
      await new Promise((r) => holder.once("exit", r))
    } finally {
      Fs.rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it("two servers on one directory see each other's writes in counts", async () => {
    const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-shared-"))
    const a = await startTestSandbox({ seed: "none", dataDir })
    const b = await startTestSandbox({ seed: "none", dataDir })
    try {
      const countAt = async (sb: typeof a) =>
        (await call(`${sb.url}/models/?project=1`, { headers: sb.headers })).body.count
      expect(await countAt(b)).toBe(0)
      await call(
        `${a.url}/models/`,
        jsonInit("POST", { name: "shared", model_type: "detection", project: 1 }, a.headers)
      )
      expect(await countAt(b)).toBe(1)
    } finally {
      await a.close()
      await b.close()
      Fs.rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it("keeps data across a restart without re-seeding, and old URLs stay valid", async () => {
    const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-restart-"))
    try {
      const first = await startTestSandbox({ seed: "none", dataDir })
      expect(first.seeded).toBe(true)
      const created = await call(
        `${first.url}/models/`,
        jsonInit("POST", { name: "Survivor", model_type: "detection", project: 1 }, first.headers)
      )
      expect(created.status).toBe(201)
      const form = new FormData()
      form.append("file", new Blob([new Uint8Array([1, 2, 3])]), "f.bin")
      const up = await call(`${first.url}/chunked_upload/`, {
        method: "PUT",
        headers: { ...first.headers, "Content-Range": "bytes 0-2/3" },
        body: form
      })
      const done = await call(up.body.url, jsonInit("POST", { md5: "5289df737df57326fcdd22597afb1fac" }, first.headers))
      expect(done.status).toBe(200)
      await first.close()

      const second = await startTestSandbox({ seed: "demo", dataDir, port: 0 })
      try {
        expect(second.seeded).toBe(false)
        const again = await call(`${second.url}/models/${created.body.id}/`, { headers: second.headers })
        expect(again.status).toBe(200)
        expect(again.body.name).toBe("Survivor")
        // Not re-seeded with demo data although asked: the directory already had data.
        expect((await call(`${second.url}/sdk/ground_truth_events/`, { headers: second.headers })).body.count).toBe(0)
        const fileUrl = new URL(done.body.file)
        const sameFile = `${second.origin}${fileUrl.pathname}${fileUrl.search}`
        expect(new Uint8Array(await (await fetch(sameFile)).arrayBuffer())).toStrictEqual(new Uint8Array([1, 2, 3]))
      } finally {
        await second.close()
      }
    } finally {
      Fs.rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
