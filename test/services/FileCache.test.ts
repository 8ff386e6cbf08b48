/**
 * URL conversion against a real file host (a local HTTP server this test controls): cache hits,
 * a truncated download retried and never cached, a checksum mismatch, a traversal attempt in names
 * and URLs, a 403 from the host, `data:` URLs, no auth headers, bounded concurrency.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect, Layer, Redacted, Schedule } from "effect"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import * as FileCache from "../../src/services/FileCache.js"
import * as SynapseClient from "../../src/services/SynapseClient.js"

const TOKEN = "file-test-token-0123456789"
const BODY = Buffer.from("0123456789".repeat(100)) // 1000 bytes
const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex")

const hits = new Map<string, number>()
const headersSeen: Array<Http.IncomingHttpHeaders> = []
let inFlight = 0
let maxInFlight = 0

const server = Http.createServer((req, res) => {
  const path = (req.url ?? "/").split("?")[0]!
  const hit = (hits.get(path) ?? 0) + 1
  hits.set(path, hit)
  headersSeen.push(req.headers)
  if (path.startsWith("/truncate-once/") && hit === 1 || path.startsWith("/truncate-always/")) {
    res.writeHead(200, { "content-length": String(BODY.length) })
    res.write(BODY.subarray(0, 500), () => res.destroy())
    return
  }
  if (path.startsWith("/short/")) {
    // no Content-Length: only the announced size can reveal the missing bytes
    res.writeHead(200, { "transfer-encoding": "chunked" })
    res.end(BODY.subarray(0, 600))
    return
  }
  if (path.startsWith("/forbidden/")) {
    res.writeHead(403, { "content-type": "application/xml" })
    res.end("<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
    return
  }
  if (path.startsWith("/slow/")) {
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    setTimeout(() => {
      inFlight--
      res.writeHead(200, { "content-length": String(BODY.length) })
      res.end(BODY)
    }, 40)
    return
  }
  res.writeHead(200, { "content-length": String(BODY.length) })
  res.end(BODY)
})

let origin = ""
let root = ""
let dir = ""

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
})
beforeEach(() => {
  hits.clear()
  headersSeen.length = 0
  maxInFlight = 0
  root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-filecache-"))
  dir = Path.join(root, "cache")
})

const run = <A, E>(f: (cache: FileCache.Service) => Effect.Effect<A, E>, concurrency = 8) =>
  Effect.runPromise(
    Effect.flatMap(FileCache.FileCache, f).pipe(
      Effect.provide(
        FileCache.layer({ dir, concurrency }).pipe(
          Layer.provide(
            SynapseClient.layer({
              baseUrl: `${origin}/api/v1`,
              accessToken: Redacted.make(TOKEN),
              retry: Schedule.exponential("5 millis").pipe(Schedule.intersect(Schedule.recurs(4)))
            })
          ),
          Layer.provide(NodeHttpClient.layer)
        )
      )
    )
  )

/** Every file under `root`, relative to it. */
const filesUnder = (base: string): Array<string> =>
  Fs.readdirSync(base, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => Path.relative(base, Path.join(d.parentPath, d.name)))
    .sort()

describe("FileCache", () => {
  it("downloads once, then serves from the cache whatever the query string; no auth headers", async () => {
    const first = await run((c) => c.download(`${origin}/ok/image.PNG?expires=1&signature=a`))
    const second = await run((c) =>
      c.download(`${origin}/ok/image.PNG?expires=2&signature=b`, { size: BODY.length, checksum: md5(BODY) })
    )
    expect(second).toBe(first)
    expect(Path.dirname(first)).toBe(dir)
    expect(first.endsWith(".png")).toBe(true)
    expect(Fs.readFileSync(first)).toStrictEqual(BODY)
    expect(hits.get("/ok/image.PNG")).toBe(1)
    for (const headers of headersSeen) {
      expect(JSON.stringify(headers)).not.toContain(TOKEN)
      expect(headers["authorization"]).toBeUndefined()
      expect(headers["synapse-access-token"]).toBeUndefined()
    }
  })

  it("converts file entries (path in, url out) and string fields; the seed's lambda rewrites instead", async () => {
    const item = {
      id: 1,
      file: `${origin}/ok/model.pt?sig=1`,
      files: {
        image_1: { url: `${origin}/ok/a.png?sig=1`, size: BODY.length, checksum: md5(BODY), name: "a.png" },
        empty: { url: null }
      },
      other: `${origin}/ok/untouched`
    }
    const converted = await run((c) => c.convert(item, { filesFields: ["file", "files"] }))
    expect(converted.other).toBe(item.other)
    expect(Fs.readFileSync(converted.file)).toStrictEqual(BODY)
    expect(converted.files.image_1).toStrictEqual({
      size: BODY.length,
      checksum: md5(BODY),
      name: "a.png",
      path: expect.stringContaining(dir)
    })
    expect(converted.files.empty).toStrictEqual({ url: null })
    const rewritten = await run((c) =>
      c.convert(item, { filesFields: ["files"], convert: (url) => url.replace(origin, "https://cdn.example.com") })
    )
    expect(rewritten.files.image_1.url).toBe("https://cdn.example.com/ok/a.png?sig=1")
  })

  it("a truncated download is retried, and the partial bytes are never kept", async () => {
    const local = await run((c) => c.download(`${origin}/truncate-once/w.bin`))
    expect(Fs.readFileSync(local)).toStrictEqual(BODY)
    expect(hits.get("/truncate-once/w.bin")).toBe(2)
    expect(filesUnder(dir)).toStrictEqual([Path.basename(local)])
  })

  it("a download that is always truncated fails and leaves nothing in the cache", async () => {
    const error = await run((c) => Effect.flip(c.download(`${origin}/truncate-always/w.bin`)))
    // the cut shows either as a broken body read or as fewer bytes than Content-Length, by timing
    expect(
      error._tag === "ConnectionError" || (error._tag === "DecodeError" && error.truncated === true),
      error.message
    ).toBe(true)
    expect(error.url).toBe(`${origin}/truncate-always/w.bin`)
    expect(filesUnder(dir)).toStrictEqual([])
    // and the next attempt goes to the network again rather than to a cached partial file
    await run((c) => Effect.flip(c.download(`${origin}/truncate-always/w.bin`)))
    expect(hits.get("/truncate-always/w.bin")!).toBeGreaterThan(2)
  })

  it("fewer bytes than the entry's size (no Content-Length) is a truncated DecodeError, retried once, never cached", async () => {
    const error = await run((c) => Effect.flip(c.download(`${origin}/short/s.bin`, { size: BODY.length })))
    expect(error).toMatchObject({ _tag: "DecodeError", truncated: true })
    expect(hits.get("/short/s.bin")).toBe(2)
    expect(filesUnder(dir)).toStrictEqual([])
  })

  it("a checksum mismatch is never cached", async () => {
    const error = await run((c) => Effect.flip(c.download(`${origin}/ok/c.bin`, { checksum: "0".repeat(32) })))
    expect(error).toMatchObject({ _tag: "DecodeError" })
    expect(error.detail).toContain("md5")
    expect(filesUnder(dir)).toStrictEqual([])
  })

  it("a corrupted file already in the cache (wrong size) is downloaded again", async () => {
    const local = await run((c) => c.download(`${origin}/ok/r.bin`))
    Fs.writeFileSync(local, "garbage")
    const again = await run((c) => c.download(`${origin}/ok/r.bin`, { size: BODY.length }))
    expect(again).toBe(local)
    expect(Fs.readFileSync(again)).toStrictEqual(BODY)
    expect(hits.get("/ok/r.bin")).toBe(2)
  })

  it("traversal attempts in names and URLs write nothing outside the cache", async () => {
    const item = {
      files: {
        "../../escape": { url: `${origin}/ok/..%2F..%2F..%2Fescape.sh?x=1`, name: "../../../escape.sh" },
        evil: { url: `${origin}/ok/%2e%2e/%2e%2e/evil.bin`, name: "/etc/passwd" }
      }
    }
    const converted = await run((c) => c.convert(item, { filesFields: ["files"] }))
    for (const entry of Object.values(converted.files)) {
      expect(Path.dirname((entry as unknown as { path: string }).path)).toBe(dir)
    }
    expect(filesUnder(root).every((f) => f.startsWith(`cache${Path.sep}`))).toBe(true)
    expect(filesUnder(root)).toHaveLength(2)
  })

  it("a 403 from the file host is an AuthorizationError that explains presigned expiry, without the signature", async () => {
    const error = await run((c) => Effect.flip(c.download(`${origin}/forbidden/f.png?expires=1&signature=deadbeef`)))
    expect(error).toMatchObject({ _tag: "AuthorizationError", status_code: 403, url: `${origin}/forbidden/f.png` })
    expect(error.detail).toContain("Request has expired")
    expect(error.detail).toContain("presigned URL may have expired")
    expect(JSON.stringify(error) + error.message).not.toContain("deadbeef")
    expect(hits.get("/forbidden/f.png")).toBe(1)
    expect(filesUnder(dir)).toStrictEqual([])
  })

  it("decodes data: URLs instead of downloading them", async () => {
    const local = await run((c) =>
      c.download(`data:application/json;base64,${Buffer.from("{\"a\":1}").toString("base64")}`)
    )
    expect(Fs.readFileSync(local, "utf8")).toBe("{\"a\":1}")
    const plain = await run((c) => c.download("data:text/plain,hello%20world"))
    expect(Fs.readFileSync(plain, "utf8")).toBe("hello world")
    expect(hits.size).toBe(0)
  })

  it("bounds concurrent downloads across a page and downloads a shared URL once", async () => {
    const items = Array.from({ length: 12 }, (_, i) => ({ files: { image: { url: `${origin}/slow/${i % 6}.png` } } }))
    const converted = await run((c) => c.convertAll(items, { filesFields: ["files"] }), 2)
    expect(maxInFlight).toBe(2)
    expect([...hits.values()]).toStrictEqual([1, 1, 1, 1, 1, 1])
    expect(converted[0]!.files.image).toStrictEqual(converted[6]!.files.image)
  })

  it("rejects non-http file URLs", async () => {
    const error = await run((c) => Effect.flip(c.download("file:///etc/passwd")))
    expect(error).toMatchObject({ _tag: "ValidationError", field: "url" })
  })
})
