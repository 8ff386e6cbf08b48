/**
 * Bad input never hangs the sandbox and never earns a 500, in both profiles: a chunk PUT whose
 * body stops half way is answered 408 within the body timeout, holds no file open, and the upload
 * resumes from its offset; headers that stop arriving are cut off too; a deeply nested JSON body,
 * a `__proto__` key, multipart without a boundary, a path with `;` or malformed percent-encoding,
 * and a body sent to a 405 route by a client that closes its connection are each a clean 4xx.
 */
import { describe, expect, it } from "@effect/vitest"
import { createHash, randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as net from "node:net"
import * as Path from "node:path"
import { call, jsonInit } from "../support/http.js"
import { type TestSandbox, useSandbox } from "../support/sandbox.js"

const BODY_TIMEOUT_MS = 600

/** What a raw socket got back: the status line's code (0: none) and the whole text. */
interface RawAnswer {
  readonly status: number
  readonly text: string
  /** Milliseconds from sending the last byte until the sandbox closed the connection. */
  readonly closedAfterMs: number
}

/**
 * Sends `head` then `body` over a raw socket and keeps the socket open (never ending it) until the
 * sandbox answers and closes, or `waitMs` passes.
 */
const rawRequest = (port: number, head: string, body: Buffer, waitMs = 10_000): Promise<RawAnswer> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1")
    let text = ""
    let sentAt = 0
    const timer = setTimeout(() => {
      socket.destroy()
      resolve({ status: 0, text, closedAfterMs: Infinity })
    }, waitMs)
    socket.on("connect", () => {
      socket.write(head)
      socket.write(body, () => (sentAt = Date.now()))
    })
    socket.on("data", (d) => (text += d.toString("latin1")))
    socket.on("error", reject)
    socket.on("close", () => {
      clearTimeout(timer)
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text)
      resolve({ status: m === null ? 0 : Number(m[1]), text, closedAfterMs: Date.now() - sentAt })
    })
  })

const BOUNDARY = "synapse-ml-bad-input"

/** A multipart chunk body carrying `bytes` as its `file` part. */
const multipart = (bytes: Uint8Array): Buffer =>
  Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="model.bin"\r\n` +
        "Content-Type: application/octet-stream\r\n\r\n"
    ),
    bytes,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`)
  ])

const chunkHead = (sb: TestSandbox, path: string, range: string, length: number): string =>
  `PUT ${new URL(path).pathname} HTTP/1.1\r\nHost: 127.0.0.1:${sb.port}\r\n` +
  `Synapse-Access-Token: Token ${sb.token}\r\n` +
  `Content-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Range: ${range}\r\n` +
  `Content-Length: ${length}\r\n\r\n`

const chunkPut = (sb: TestSandbox, url: string, bytes: Uint8Array, range: string) => {
  const form = new FormData()
  form.append("file", new Blob([bytes]), "model.bin")
  return call(url, { method: "PUT", headers: { ...sb.headers, "Content-Range": range }, body: form })
}

/** The upload part files under `dir` this process holds open (Linux: /proc/self/fd). */
const openPartFiles = (dir: string): Array<string> =>
  Fs.readdirSync("/proc/self/fd").flatMap((fd) => {
    try {
      const target = Fs.readlinkSync(Path.join("/proc/self/fd", fd))
      return target.startsWith(dir) && target.endsWith(".part") ? [target] : []
    } catch {
      return []
    }
  })

for (const profile of ["rich", "evidence"] as const) {
  describe(`bad input (${profile} profile)`, () => {
    const sandbox = useSandbox({ seed: "demo", profile, bodyTimeoutMs: BODY_TIMEOUT_MS })
    const api = (path: string) => `${sandbox().url}/${path}`

    it("answers 408 to a chunk whose body stops half way, releases the part file, and resumes", async () => {
      const sb = sandbox()
      const bytes = randomBytes(64 * 1024)
      const half = bytes.subarray(0, 32 * 1024)
      // The first chunk creates the upload (both profiles take it on PUT chunked_upload/).
      const first = await chunkPut(sb, api("chunked_upload/"), half, `bytes 0-${half.length - 1}/${bytes.length}`)
      expect(first.status).toBe(200)
      const url = first.body.url as string
      const rest = bytes.subarray(half.length)
      const body = multipart(rest)
      const range = `bytes ${half.length}-${bytes.length - 1}/${bytes.length}`
      const started = Date.now()
      const answer = await rawRequest(
        sb.port,
        chunkHead(sb, url, range, body.length),
        body.subarray(0, body.length - rest.length / 2)
      )
      expect(answer.status).toBe(408)
      expect(answer.text).toContain("stopped arriving")
      expect(Date.now() - started).toBeLessThan(BODY_TIMEOUT_MS + 3_000)
      // The handler is interrupted once the 408 is out; its file closes a moment later.
      const released = Date.now() + 2_000
      while (openPartFiles(sb.dataDir).length > 0 && Date.now() < released) {
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      expect(openPartFiles(sb.dataDir)).toStrictEqual([])
      // The upload kept its offset: the whole second chunk goes through, and the file is whole.
      const again = await chunkPut(sb, url, rest, range)
      expect(again.status).toBe(200)
      expect(again.body.offset).toBe(bytes.length)
      const md5 = createHash("md5").update(bytes).digest("hex")
      const done = await call(url, jsonInit("POST", { md5 }, sb.headers))
      expect(done.status).toBe(200)
      expect(done.body.checksum).toBe(md5)
    })

    it("answers 408 to a JSON body that stops arriving", async () => {
      const sb = sandbox()
      const text = JSON.stringify({ name: "stalled", model_type: "classification", project: 1 })
      const answer = await rawRequest(
        sb.port,
        `POST /api/v1/models/ HTTP/1.1\r\nHost: 127.0.0.1\r\nSynapse-Access-Token: Token ${sb.token}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${text.length}\r\n\r\n`,
        Buffer.from(text.slice(0, 10))
      )
      expect(answer.status).toBe(408)
      expect(sb.query<{ n: number }>("SELECT COUNT(*) AS n FROM models WHERE name = 'stalled'")).toStrictEqual([
        { n: 0 }
      ])
    })

    it("closes a connection whose headers stop arriving", async () => {
      const sb = sandbox()
      const answer = await rawRequest(sb.port, "GET /api/v1/models/ HTTP/1.1\r\nHost: 127.0.0.1\r\n", Buffer.alloc(0))
      // Node answers its own 408 to headers that time out; what matters is that the socket closes.
      expect(answer.closedAfterMs).toBeLessThan(BODY_TIMEOUT_MS + 3_000)
    })

    it("refuses JSON nested 5 000 levels deep with a 400 naming the limit", async () => {
      let deep = "1"
      for (let i = 0; i < 5_000; i++) deep = `{"a":${deep}}`
      const r = await call(api("models/"), {
        method: "POST",
        headers: { ...sandbox().headers, "Content-Type": "application/json" },
        body: `{"name":"deep","model_type":"classification","project":1,"configuration":${deep}}`
      })
      expect(r.status).toBe(400)
      expect(r.body).toStrictEqual({ detail: "JSON nests 5001 levels deep; at most 64 are accepted." })
      const patch = await call(api("models/101/"), {
        method: "PATCH",
        headers: { ...sandbox().headers, "Content-Type": "application/json" },
        body: `{"configuration":${deep}}`
      })
      expect(patch.status).toBe(400)
    })

    it("refuses a __proto__ key on create and on patch", async () => {
      const create = await call(api("models/"), {
        method: "POST",
        headers: { ...sandbox().headers, "Content-Type": "application/json" },
        body: "{\"name\":\"proto\",\"model_type\":\"classification\",\"project\":1,\"__proto__\":{\"is_active\":false}}"
      })
      expect(create.status).toBe(400)
      expect(create.body).toStrictEqual({ detail: "JSON key \"__proto__\" is not accepted." })
      const patch = await call(api("models/101/"), {
        method: "PATCH",
        headers: { ...sandbox().headers, "Content-Type": "application/json" },
        body: "{\"__proto__\":{\"name\":\"renamed\"}}"
      })
      expect(patch.status).toBe(400)
      const nested = await call(api("models/101/"), {
        method: "PATCH",
        headers: { ...sandbox().headers, "Content-Type": "application/json" },
        body: "{\"configuration\":{\"x\":{\"__proto__\":{}}}}"
      })
      expect(nested.status).toBe(400)
      expect(sandbox().query("SELECT name FROM models WHERE name IN ('proto', 'renamed')")).toStrictEqual([])
    })

    it("answers multipart without a boundary with a 400, creating no upload", async () => {
      const before = sandbox().query<{ n: number }>("SELECT COUNT(*) AS n FROM chunked_uploads")
      const r = await call(api("chunked_upload/"), {
        method: "PUT",
        headers: { ...sandbox().headers, "Content-Type": "multipart/form-data", "Content-Range": "bytes 0-3/4" },
        body: "abcd"
      })
      expect(r.status).toBe(400)
      expect(String(r.body.detail)).toMatch(/boundary/)
      expect(sandbox().query("SELECT COUNT(*) AS n FROM chunked_uploads")).toStrictEqual(before)
    })

    it("answers a path with ; as not found instead of the shorter path's resource", async () => {
      const r = await call(api("models/101;DROP TABLE models/"), { headers: sandbox().headers })
      expect(r.status).toBe(404)
      expect(r.body).toStrictEqual({ detail: "Not found." })
      expect((await call(api("models/101;x/"), { headers: sandbox().headers })).status).toBe(404)
    })

    it("answers malformed percent-encoding in a path with a 400, not a 405", async () => {
      for (const path of ["models/%zz/", "models/%E0%A4%A/", "sdk/ground_truth_events/%/"]) {
        const r = await call(api(path), { headers: sandbox().headers })
        expect([path, r.status, r.body]).toStrictEqual([
          path,
          400,
          { detail: "Malformed percent-encoding in the request path." }
        ])
      }
    })

    it("answers a DELETE with a body to a 405 route cleanly, also on a connection the client closes", async () => {
      const sb = sandbox()
      // Larger than the socket buffers: answered before it is read, the client would still be
      // sending when the connection closes, and its write fails (EPIPE) instead of reading the 405.
      const body = Buffer.alloc(32 * 1024 * 1024, 120)
      const answer = await rawRequest(
        sb.port,
        `DELETE /api/v1/models/ HTTP/1.1\r\nHost: 127.0.0.1\r\nSynapse-Access-Token: Token ${sb.token}\r\n` +
          `Connection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
        body
      )
      expect(answer.status).toBe(405)
      expect(answer.text).toContain("Method \\\"DELETE\\\" not allowed.")
      const viaFetch = await call(api("models/101/"), { method: "DELETE", headers: sb.headers, body: "{}" })
      expect(viaFetch.status).toBe(405)
      expect(viaFetch.headers.get("allow")).toBe("GET, PATCH, HEAD")
    })
  })
}
