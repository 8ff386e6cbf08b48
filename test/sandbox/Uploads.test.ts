/**
 * The chunked upload protocol over real HTTP. The rich profile: complete uploads, resume after an
 * offset mismatch, idempotent re-sent chunks, md5 verification, size limit, expiry, lying
 * Content-Range, a client hanging up mid-chunk, and the finished file becoming a model's file (with
 * unknown create keys ignored and an integer upload id accepted). The evidence profile: the same
 * protocol answered exactly as drf-chunked-upload answers it (integer ids, its error bodies and
 * statuses, no status GET), and the official SDK's create body.
 */
import { describe, expect, it } from "@effect/vitest"
import { createHash, randomBytes } from "node:crypto"
import * as net from "node:net"
import { vi } from "vitest"
import { call, jsonInit } from "../support/http.js"
import { type TestSandbox, useSandbox } from "../support/sandbox.js"

const LIMIT = 16 * 1024 * 1024
let sandbox: () => TestSandbox

const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex")

const start = async () => {
  const r = await call(`${sandbox().url}/chunked_upload/`, { method: "PUT", headers: sandbox().headers })
  expect(r.status).toBe(200)
  return r.body as { id: string; url: string; offset: number; filename: string; expires: string }
}

const chunk = (url: string, bytes: Uint8Array, range: string | undefined, filename = "model.bin", method = "PUT") => {
  const form = new FormData()
  form.append("filename", filename)
  form.append("file", new Blob([bytes]), filename)
  return call(url, {
    method,
    headers: { ...sandbox().headers, ...(range === undefined ? {} : { "Content-Range": range }) },
    body: form
  })
}

const finish = (url: string, hash: string) => call(url, jsonInit("POST", { md5: hash }, sandbox().headers))

const stats = async () => (await call(`${sandbox().origin}/_sandbox/stats`, { headers: sandbox().headers })).body

/** Polls `check` until it holds (or fails the test after `ms`). */
const waitFor = async (what: string, check: () => boolean | Promise<boolean>, ms = 5_000) => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/**
 * Sends a chunk PUT over a raw socket whose body stops after `sent` of its bytes, then hangs up
 * once the sandbox has written some of them: a client that dies (or times out) mid-upload.
 */
const abortedChunk = async (url: string, bytes: Uint8Array, range: string, sent: number) => {
  const target = new URL(url)
  const boundary = "synapse-ml-test-boundary"
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="model.bin"\r\n` +
      "Content-Type: application/octet-stream\r\n\r\n"
  )
  const body = Buffer.concat([head, bytes, Buffer.from(`\r\n--${boundary}--\r\n`)])
  const before = (await stats()).upload_bytes_received as number
  const socket = net.connect(Number(target.port), target.hostname)
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject))
  socket.write(
    `PUT ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\n` +
      Object.entries(sandbox().headers).map(([k, v]) => `${k}: ${v}\r\n`).join("") +
      `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Range: ${range}\r\n` +
      `Content-Length: ${body.length}\r\n\r\n`
  )
  socket.write(body.subarray(0, head.length + sent))
  // Hang up only once the sandbox is streaming the part to disk, so the abort is truly mid-body.
  await waitFor("the sandbox to receive part of the chunk", async () => (await stats()).upload_bytes_received > before)
  socket.destroy()
}

describe("chunked upload (rich profile)", () => {
  sandbox = useSandbox({ seed: "none", maxUploadBytes: LIMIT })

  it("uploads in chunks, finishes with md5, serves the file and attaches it to a new model", async () => {
    const data = randomBytes(25)
    const upload = await start()
    expect(upload.url).toBe(`${sandbox().url}/chunked_upload/${upload.id}/`)
    expect(upload.offset).toBe(0)
    expect(Date.parse(upload.expires) - Date.now()).toBeGreaterThan(23 * 3600 * 1000)
    for (const [a, b] of [[0, 9], [10, 19], [20, 24]] as const) {
      const r = await chunk(upload.url, data.subarray(a, b + 1), `bytes ${a}-${b}/25`)
      expect(r.status).toBe(200)
      expect(r.body).toMatchObject({ id: upload.id, url: upload.url, offset: b + 1, filename: "model.bin" })
    }
    const status = await call(upload.url, { headers: sandbox().headers })
    expect(status.body).toMatchObject({ id: upload.id, offset: 25, status: "uploading", filename: "model.bin" })
    const done = await finish(upload.url, md5(data))
    expect(done.status).toBe(200)
    expect(done.body).toMatchObject({ id: upload.id, checksum: md5(data), size: 25 })
    const file = await fetch(done.body.file)
    expect(Buffer.from(await file.arrayBuffer())).toStrictEqual(data)
    // A retried finish (lost answer) gets the same result.
    expect((await finish(upload.url, md5(data))).body).toStrictEqual(done.body)
    expect((await call(upload.url, { headers: sandbox().headers })).body.status).toBe("complete")

    const model = await call(
      `${sandbox().url}/models/`,
      // A key the serializer does not know is ignored, as DRF ignores it.
      jsonInit("POST", {
        name: "Uploaded",
        model_type: "detection",
        project: 1,
        chunked_upload: upload.id,
        framework: "pytorch"
      }, sandbox().headers)
    )
    expect(model.status).toBe(201)
    expect(model.body.framework).toBeUndefined()
    const detail = await call(`${sandbox().url}/models/${model.body.id}/?include_file=true`, {
      headers: sandbox().headers
    })
    expect(detail.body.file_info).toStrictEqual({ name: "model.bin", size: 25, checksum: md5(data) })
    // An integer upload id (the evidence's type) is an id like any other: looked up, not refused as a type.
    const integerId = await call(
      `${sandbox().url}/models/`,
      jsonInit(
        "POST",
        { name: "Integer id", model_type: "detection", project: 1, chunked_upload: 99999 },
        sandbox().headers
      )
    )
    expect(integerId.status).toBe(400)
    expect(integerId.body).toStrictEqual({ chunked_upload: ["Chunked upload \"99999\" does not exist."] })
    expect(Buffer.from(await (await fetch(detail.body.file)).arrayBuffer())).toStrictEqual(data)
  })

  it("takes the first chunk on PUT chunked_upload/ itself", async () => {
    const data = randomBytes(8)
    const r = await chunk(`${sandbox().url}/chunked_upload/`, data, "bytes 0-7/8", "weights.pt")
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ offset: 8, filename: "weights.pt" })
    expect((await finish(r.body.url, md5(data))).status).toBe(200)
  })

  it("answers an offset mismatch with the server offset, and the client resumes from it", async () => {
    const data = randomBytes(30)
    const upload = await start()
    expect((await chunk(upload.url, data.subarray(0, 10), "bytes 0-9/30")).body.offset).toBe(10)
    const skipped = await chunk(upload.url, data.subarray(20, 30), "bytes 20-29/30")
    expect(skipped.status).toBe(400)
    expect(skipped.body).toStrictEqual({ detail: "Offsets do not match", offset: 10 })
    const resumed = (await call(upload.url, { headers: sandbox().headers })).body.offset
    expect(resumed).toBe(10)
    expect((await chunk(upload.url, data.subarray(10, 30), `bytes ${resumed}-29/30`)).body.offset).toBe(30)
    expect((await finish(upload.url, md5(data))).status).toBe(200)
  })

  it("accepts a re-sent chunk idempotently and counts the bytes it received", async () => {
    const data = randomBytes(20)
    const upload = await start()
    const before = (await stats()).upload_bytes_received
    expect((await chunk(upload.url, data.subarray(0, 10), "bytes 0-9/20")).body.offset).toBe(10)
    const again = await chunk(upload.url, data.subarray(0, 10), "bytes 0-9/20")
    expect(again.status).toBe(200)
    expect(again.body.offset).toBe(10)
    expect((await chunk(upload.url, data.subarray(10, 20), "bytes 10-19/20")).body.offset).toBe(20)
    expect((await finish(upload.url, md5(data))).status).toBe(200)
    expect((await stats()).upload_bytes_received - before).toBe(30)
  })

  it("refuses a wrong md5 and an incomplete upload", async () => {
    const data = randomBytes(10)
    const upload = await start()
    await chunk(upload.url, data.subarray(0, 5), "bytes 0-4/10")
    const incomplete = await finish(upload.url, md5(data))
    expect(incomplete.status).toBe(400)
    expect(incomplete.body.offset).toBe(5)
    await chunk(upload.url, data.subarray(5, 10), "bytes 5-9/10")
    const wrong = await finish(upload.url, md5(Buffer.from("something else")))
    expect(wrong.status).toBe(400)
    expect(wrong.body).toStrictEqual({ detail: "md5 checksum does not match" })
    expect((await finish(upload.url, "not-a-hash")).status).toBe(400)
    expect((await finish(upload.url, md5(data))).status).toBe(200)
  })

  it("answers 413 above the size limit", async () => {
    const upload = await start()
    const r = await chunk(upload.url, randomBytes(10), `bytes 0-9/${LIMIT + 1}`)
    expect(r.status).toBe(413)
    expect(r.body.detail).toContain(String(LIMIT))
    const r2 = await chunk(upload.url, randomBytes(10), `bytes 0-9/*`)
    expect(r2.status).toBe(200)
  })

  it("answers 410 for an expired upload", async () => {
    const upload = await start()
    const db = sandbox().openDb()
    try {
      db.prepare("UPDATE chunked_uploads SET expires_at = ? WHERE id = ?").run(
        new Date(Date.now() - 1000).toISOString(),
        upload.id
      )
    } finally {
      db.close()
    }
    const r = await chunk(upload.url, randomBytes(4), "bytes 0-3/4")
    expect(r.status).toBe(410)
    expect((await call(upload.url, { headers: sandbox().headers })).status).toBe(410)
  })

  it("refuses lying, malformed or missing Content-Range without moving the offset", async () => {
    const upload = await start()
    const cases: Array<[Uint8Array, string | undefined]> = [
      [randomBytes(5), "bytes 0-9/20"], // fewer bytes than declared
      [randomBytes(15), "bytes 0-9/20"], // more bytes than declared
      [randomBytes(10), "bytes 0-20/20"], // past the total
      [randomBytes(10), "bytes 9-0/20"], // end before start
      [randomBytes(10), "bytes=0-9/20"], // malformed
      [randomBytes(10), "bytes 0-9/abc"],
      [randomBytes(10), undefined]
    ]
    for (const [bytes, range] of cases) {
      const r = await chunk(upload.url, bytes, range)
      expect(r.status, String(range)).toBe(400)
      expect(typeof r.body.detail, String(range)).toBe("string")
    }
    expect((await call(upload.url, { headers: sandbox().headers })).body.offset).toBe(0)
    const data = randomBytes(20)
    expect((await chunk(upload.url, data.subarray(0, 10), "bytes 0-9/20")).body.offset).toBe(10)
    const otherTotal = await chunk(upload.url, data.subarray(10, 20), "bytes 10-19/21")
    expect(otherTotal.status).toBe(400)
    const notMultipart = await call(upload.url, {
      method: "PUT",
      headers: { ...sandbox().headers, "Content-Range": "bytes 10-19/20" },
      body: "raw"
    })
    expect(notMultipart.status).toBe(400)
    expect((await call(upload.url, { headers: sandbox().headers })).body.offset).toBe(10)
  })

  it("answers racing finishes and racing re-sends of one chunk consistently", async () => {
    const data = randomBytes(4096)
    const upload = await start()
    const sends = await Promise.all([1, 2, 3].map(() => chunk(upload.url, data, "bytes 0-4095/4096")))
    expect(sends.map((r) => r.status)).toStrictEqual([200, 200, 200])
    expect(sends.map((r) => r.body.offset)).toStrictEqual([4096, 4096, 4096])
    const finishes = await Promise.all([1, 2, 3].map(() => finish(upload.url, md5(data))))
    expect(finishes.map((r) => r.status)).toStrictEqual([200, 200, 200])
    expect(new Set(finishes.map((r) => JSON.stringify(r.body))).size).toBe(1)
    expect(Buffer.from(await (await fetch(finishes[0]!.body.file)).arrayBuffer())).toStrictEqual(data)
  })

  it("404s unknown upload ids", async () => {
    for (const id of ["0123456789abcdef0123456789abcdef", "nope", "..%2F..%2Fsandbox.sqlite"]) {
      expect((await call(`${sandbox().url}/chunked_upload/${id}/`, { headers: sandbox().headers })).status).toBe(404)
    }
  })

  it("streams a multi-megabyte chunk to disk intact", async () => {
    const data = randomBytes(9 * 1024 * 1024 + 123)
    const upload = await start()
    const half = 5 * 1024 * 1024
    expect((await chunk(upload.url, data.subarray(0, half), `bytes 0-${half - 1}/${data.length}`)).body.offset).toBe(
      half
    )
    expect(
      (await chunk(upload.url, data.subarray(half), `bytes ${half}-${data.length - 1}/${data.length}`)).body.offset
    ).toBe(data.length)
    const done = await finish(upload.url, md5(data))
    expect(done.body.size).toBe(data.length)
  })

  it("a client hanging up mid-chunk is logged as normal operation, and the upload resumes at its offset", async () => {
    const data = randomBytes(10 + 256 * 1024)
    const upload = await start()
    expect((await chunk(upload.url, data.subarray(0, 10), `bytes 0-9/${data.length}`)).body.offset).toBe(10)
    const logged: Array<string> = []
    const spy = vi.spyOn(console, "error").mockImplementation((...args: Array<unknown>) =>
      void logged.push(args.map(String).join(" "))
    )
    try {
      // The aborted attempt carries other bytes than the real ones: the resumed chunk must replace them.
      await abortedChunk(
        upload.url,
        randomBytes(data.length - 10),
        `bytes 10-${data.length - 1}/${data.length}`,
        100 * 1024
      )
      await waitFor(
        "the sandbox to log the disconnect",
        () => logged.some((line) => line.includes("client disconnected"))
      )
    } finally {
      spy.mockRestore()
    }
    const line = logged.find((l) => l.includes("client disconnected"))!
    expect(line).toContain("level=INFO")
    expect(line).toContain(upload.id)
    expect(line).toContain("offset 10")
    expect(logged.filter((l) => l.includes("level=ERROR"))).toStrictEqual([])

    const state = await call(upload.url, { headers: sandbox().headers })
    expect(state.body).toMatchObject({ offset: 10, status: "uploading" })
    const resumed = await chunk(upload.url, data.subarray(10), `bytes 10-${data.length - 1}/${data.length}`)
    expect(resumed.status).toBe(200)
    expect(resumed.body.offset).toBe(data.length)
    const done = await finish(upload.url, md5(data))
    expect(done.status).toBe(200)
    // By hash: a deep equality of a quarter megabyte, byte by byte, costs over a second.
    expect(md5(new Uint8Array(await (await fetch(done.body.file)).arrayBuffer()))).toBe(md5(data))
  })
})

describe("chunked upload (evidence profile: drf-chunked-upload)", () => {
  const evidence = useSandbox({ seed: "none", maxUploadBytes: LIMIT, profile: "evidence" })
  const headers = () => evidence().headers
  const put = (url: string, bytes: Uint8Array, range: string | undefined) => {
    const form = new FormData()
    form.append("filename", "weights.pt")
    form.append("file", new Blob([bytes]), "chunk")
    return call(url, {
      method: "PUT",
      headers: { ...headers(), ...(range === undefined ? {} : { "Content-Range": range }) },
      body: form
    })
  }
  const finishAt = (url: string, hash: string) => call(url, jsonInit("POST", { md5: hash }, headers()))

  it("answers with integer ids, refuses offsets, re-sent chunks and a second finish as drf does, and has no status GET", async () => {
    const data = randomBytes(30)
    const first = await put(`${evidence().url}/chunked_upload/`, data.subarray(0, 10), "bytes 0-9/30")
    expect(first.status).toBe(200)
    const { id, url } = first.body
    expect(first.body).toStrictEqual({
      id: expect.any(Number),
      url: `${evidence().url}/chunked_upload/${id}/`,
      offset: 10,
      filename: "weights.pt",
      expires: expect.any(String)
    })

    const skipped = await put(url, data.subarray(20, 30), "bytes 20-29/30")
    expect(skipped.status).toBe(400)
    expect(skipped.body).toStrictEqual({ detail: "Offsets do not match", expected_offset: 10, provided_offset: 20 })
    expect((await put(url, data.subarray(10, 20), "bytes 10-19/30")).body.offset).toBe(20)
    // A chunk received already (its answer lost) is refused, not accepted again.
    const resent = await put(url, data.subarray(10, 20), "bytes 10-19/30")
    expect(resent.status).toBe(400)
    expect(resent.body).toStrictEqual({ detail: "Offsets do not match", expected_offset: 20, provided_offset: 10 })
    expect((await put(url, data.subarray(20, 30), "bytes 20-29/30")).body.offset).toBe(30)

    const status = await call(url, { headers: headers() })
    expect(status.status).toBe(405)
    expect(status.headers.get("allow")).toBe("PUT, POST, OPTIONS")

    expect((await finishAt(url, md5(Buffer.from("other")))).body).toStrictEqual({ detail: "checksum does not match" })
    const done = await finishAt(url, md5(data))
    expect(done.status).toBe(200)
    expect(done.body).toStrictEqual({ id, file: expect.any(String), checksum: md5(data), size: 30 })
    expect(Buffer.from(await (await fetch(done.body.file)).arrayBuffer())).toStrictEqual(data)
    const again = await finishAt(url, md5(data))
    expect(again.status).toBe(400)
    expect(again.body).toStrictEqual({ detail: "Upload has already been marked as \"complete\"" })
    const late = await put(url, data.subarray(0, 10), "bytes 0-9/30")
    expect(late.status).toBe(400)
    expect(late.body).toStrictEqual({ detail: "Upload has already been marked as \"complete\"" })

    // The official SDK's create body, the upload id an integer.
    const model = await call(
      `${evidence().url}/models/`,
      jsonInit("POST", { name: "Official", plugin: null, version: "1.0", chunked_upload: id }, headers())
    )
    expect(model.status).toBe(201)
    expect(model.body).toMatchObject({ name: "Official", version: "1.0", file: expect.any(String) })
    expect(Buffer.from(await (await fetch(model.body.file)).arrayBuffer())).toStrictEqual(data)
  })

  it("answers over-limit totals, bad headers, missing chunks and missing checksums with drf's 400s", async () => {
    const tooBig = await put(`${evidence().url}/chunked_upload/`, randomBytes(10), `bytes 0-9/${LIMIT + 1}`)
    expect(tooBig.status).toBe(400)
    expect(tooBig.body).toStrictEqual({ detail: `Size of file exceeds the limit (${LIMIT} bytes)` })
    for (const range of [undefined, "bytes 0-9/*", "bytes=0-9/10"]) {
      const bad = await put(`${evidence().url}/chunked_upload/`, randomBytes(10), range)
      expect(bad.status, String(range)).toBe(400)
      expect(bad.body, String(range)).toStrictEqual({ detail: "Error in request headers" })
    }
    const past = await put(`${evidence().url}/chunked_upload/`, randomBytes(10), "bytes 0-10/10")
    expect(past.body).toStrictEqual({ detail: "End of chunk exceeds reported total (10 bytes)" })
    const short = await put(`${evidence().url}/chunked_upload/`, randomBytes(5), "bytes 0-9/20")
    expect(short.body).toStrictEqual({ detail: "File size doesn't match headers: file size is 5 but 10 reported" })
    const empty = await call(`${evidence().url}/chunked_upload/`, { method: "PUT", headers: headers() })
    expect(empty.body).toStrictEqual({ detail: "No chunk file was submitted" })
    const started = await put(`${evidence().url}/chunked_upload/`, randomBytes(4), "bytes 0-3/4")
    const noMd5 = await call(started.body.url, jsonInit("POST", {}, headers()))
    expect(noMd5.body).toStrictEqual({ detail: "Checksum of type 'md5' is required" })
    // A form body, as DRF parses it too.
    const formFinish = await call(started.body.url, {
      method: "POST",
      headers: { ...headers(), "content-type": "application/x-www-form-urlencoded" },
      body: `md5=${md5(Buffer.from("nope"))}`
    })
    expect(formFinish.body).toStrictEqual({ detail: "checksum does not match" })
    expect(
      (await call(
        `${evidence().url}/chunked_upload/999999/`,
        jsonInit("POST", { md5: md5(Buffer.from("x")) }, headers())
      )).status
    ).toBe(404)
  })

  it("numbers uploads one after another", async () => {
    const a = await put(`${evidence().url}/chunked_upload/`, randomBytes(4), "bytes 0-3/4")
    const b = await put(`${evidence().url}/chunked_upload/`, randomBytes(4), "bytes 0-3/4")
    expect(b.body.id).toBe(a.body.id + 1)
  })
})
