/**
 * `FileDownloader`: the verification of received bytes (length, announced size, md5 or sha256),
 * `data:` URL decoding, and fetches from a real file host this test controls: a complete file
 * renamed into place, a body that stalls failing with a `TimeoutError` and leaving nothing behind,
 * and at most `concurrency` downloads at once.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schedule } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { decodeDataUrl, makeFileDownloader, verify } from "../../src/services/FileDownloader.js"
import * as SynapseClient from "../../src/services/SynapseClient.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-downloader-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

const BODY = Buffer.from("abcdefghij".repeat(50))
const digest = (algorithm: string, b: Uint8Array) => createHash(algorithm).update(b).digest("hex")
const received = { bytes: BODY.length, md5: digest("md5", BODY), sha256: digest("sha256", BODY) }

describe("FileDownloader", () => {
  it("verify accepts the announced file and names each mismatch as a truncated DecodeError", () => {
    expect(verify("https://h/f?sig=1", received, BODY.length, { size: BODY.length, checksum: received.md5 }))
      .toBeUndefined()
    expect(verify("https://h/f", received, undefined, { checksum: received.sha256.toUpperCase() })).toBeUndefined()
    expect(verify("https://h/f", received, undefined, { checksum: "not a digest" })).toBeUndefined()
    const cases: Array<[Parameters<typeof verify>, string]> = [
      [["https://h/f?sig=1", received, 600], `download truncated: 500 of 600 bytes received`],
      [["https://h/f", received, undefined, { size: 501 }], "downloaded 500 bytes, the server announced 501"],
      [["https://h/f", received, undefined, { checksum: "0".repeat(32) }], `md5 of the download is ${received.md5}`],
      [
        ["https://h/f", received, undefined, { checksum: "0".repeat(64) }],
        `sha256 of the download is ${received.sha256}`
      ]
    ]
    for (const [args, detail] of cases) {
      const problem = verify(...args)
      expect(problem).toMatchObject({ _tag: "DecodeError", truncated: true, method: "GET", url: "https://h/f" })
      expect(problem!.detail).toContain(detail)
    }
  })

  it("decodes base64 and percent-encoded data: URLs, and refuses malformed ones", () => {
    expect(decodeDataUrl("data:text/plain;base64,aGVsbG8=")?.toString()).toBe("hello")
    expect(decodeDataUrl("data:text/plain,hello%20world")?.toString()).toBe("hello world")
    expect(decodeDataUrl("data:text/plain")).toBeUndefined()
    expect(decodeDataUrl("data:text/plain,%E0%A4%A")).toBeUndefined()
  })

  it.scopedLive("fetches a file into place, fails a stalled one with nothing left behind, bounds concurrency", () =>
    Effect.gen(function*() {
      let inFlight = 0
      let maxInFlight = 0
      const server = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const s = http.createServer((req, res) => {
            if (req.url?.startsWith("/stall")) {
              res.writeHead(200, { "content-length": String(BODY.length) })
              res.write(BODY.subarray(0, 10)) // and nothing more
              return
            }
            inFlight++
            maxInFlight = Math.max(maxInFlight, inFlight)
            setTimeout(() => {
              inFlight--
              res.writeHead(200, { "content-length": String(BODY.length) }).end(BODY)
            }, 30)
          })
          await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve))
          return s
        }),
        (s) =>
          Effect.promise(() =>
            new Promise<void>((resolve) => {
              s.closeAllConnections()
              s.close(() => resolve())
            })
          )
      )
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const client = yield* Effect.flatMap(SynapseClient.SynapseClient, Effect.succeed).pipe(
        Effect.provide(
          SynapseClient.layer({
            baseUrl: `${origin}/api/v1`,
            accessToken: Redacted.make("t"),
            retry: Schedule.stop,
            timeouts: { read: "300 millis" }
          }).pipe(Layer.provide(NodeHttpClient.layer), Layer.orDie)
        )
      )
      const downloader = yield* makeFileDownloader(client, work, 2)
      yield* Effect.forEach(
        [1, 2, 3, 4, 5, 6],
        (n) => downloader.fetch(`${origin}/f${n}`, path.join(work, `f${n}`), { size: BODY.length }),
        { concurrency: "unbounded" }
      )
      expect(maxInFlight).toBe(2)
      expect(fs.readFileSync(path.join(work, "f3"))).toStrictEqual(BODY)

      const stalled = yield* Effect.flip(downloader.fetch(`${origin}/stall`, path.join(work, "stalled")))
      expect(stalled).toMatchObject({ _tag: "TimeoutError", detail: "the download stalled after 10 bytes" })
      expect(fs.readdirSync(work).filter((n) => n.startsWith("stalled"))).toStrictEqual([])
    }))
})
