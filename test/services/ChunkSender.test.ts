/**
 * `ChunkSender` against a small real HTTP server whose every answer the test writes: each answer
 * the protocol can give, in both dialects, read into the right outcome (accepted, offset mismatch
 * by `expected_offset` or `offset`, already complete, over the size limit); a 200 cut short retried
 * as a transient failure; the finish's "already complete" turned into a result without a file URL;
 * a chunk attempt's timeout; and progress reported while one chunk's body goes out.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Redacted, Schedule } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { type Chunk, makeChunkSender, PROGRESS_STEP } from "../../src/services/ChunkSender.js"
import * as SynapseClient from "../../src/services/SynapseClient.js"
import { openSource } from "../../src/services/UploadSource.js"

const MiB = 1024 * 1024
const work = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-chunk-sender-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

/** An answer: a status and a raw body (written as given, so it may be cut short). */
interface Raw {
  readonly status: number
  readonly body: string
  readonly delayMs?: number
}

/**
 * A server answering requests in turn from `answers` (the last one repeats; the function gets the
 * server's API URL); records method, path, range and body size of each request.
 */
const scripted = (script: ReadonlyArray<Raw> | ((url: string) => ReadonlyArray<Raw>)) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const seen: Array<{ method: string; path: string; range: string | undefined; bytes: number }> = []
      let answers: ReadonlyArray<Raw> = []
      const server = http.createServer((req, res) => {
        let bytes = 0
        req.on("data", (piece: Buffer) => (bytes += piece.length))
        req.on("end", () => {
          const answer = answers[Math.min(seen.length, answers.length - 1)]!
          seen.push({ method: req.method ?? "", path: req.url ?? "", range: req.headers["content-range"], bytes })
          setTimeout(() => {
            res.writeHead(answer.status, {
              "content-type": "application/json",
              "content-length": Buffer.byteLength(answer.body)
            }).end(answer.body)
          }, answer.delayMs ?? 0)
        })
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`
      answers = typeof script === "function" ? script(url) : script
      return { url, seen, server }
    }),
    ({ server }) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        })
      )
  )

const clientFor = (url: string) =>
  Effect.flatMap(SynapseClient.SynapseClient, Effect.succeed).pipe(
    Effect.provide(
      SynapseClient.layer({
        baseUrl: url,
        accessToken: Redacted.make("secret-token"),
        retry: Schedule.spaced("5 millis").pipe(Schedule.intersect(Schedule.recurs(5)))
      }).pipe(Layer.provide(NodeHttpClient.layer), Layer.orDie)
    )
  )

const file = path.join(work, "model.bin")
fs.writeFileSync(file, Buffer.alloc(3 * MiB + 5, 1))

/** The first chunk of the file (its first `length` bytes) to upload `id` at `url`. */
const chunkOf = (url: string, length: number, onSent?: (position: number) => void) =>
  Effect.map(openSource(file), (source): Chunk => ({
    source,
    filename: "model.bin",
    session: { id: 7, url: `${url}/chunked_upload/7/` },
    start: 0,
    end: length,
    base: createHash("md5"),
    onSent
  }))

const state = (url: string, offset: number) =>
  JSON.stringify({ id: 7, url: `${url}/chunked_upload/7/`, offset, status: 1 })

const TIMEOUT = Duration.seconds(10)

describe("ChunkSender", () => {
  it.scopedLive("an accepted chunk: the server's state, the md5 continued over the bytes, the Content-Range sent", () =>
    Effect.gen(function*() {
      const live = yield* scripted((url) => [{ status: 200, body: state(url, MiB) }])
      const sender = makeChunkSender(yield* clientFor(live.url))
      const outcome = yield* sender.sendChunk(yield* chunkOf(live.url, MiB), TIMEOUT)
      expect(outcome._tag).toBe("Accepted")
      if (outcome._tag !== "Accepted") return
      expect(outcome.state).toMatchObject({ id: 7, offset: MiB })
      expect(outcome.hash.digest("hex")).toBe(createHash("md5").update(Buffer.alloc(MiB, 1)).digest("hex"))
      expect(live.seen).toMatchObject([{
        method: "PUT",
        path: "/api/v1/chunked_upload/7/",
        range: `bytes 0-${MiB - 1}/${3 * MiB + 5}`
      }])
      expect(live.seen[0]!.bytes).toBeGreaterThan(MiB)
    }))

  it.scopedLive("offset refusals in both spellings, already complete, and the size limit read as such", () =>
    Effect.gen(function*() {
      const cases = [
        [{ status: 400, body: JSON.stringify({ detail: "Offsets do not match", expected_offset: 2048 }) }, {
          _tag: "Mismatch",
          offset: 2048
        }],
        [{ status: 400, body: JSON.stringify({ detail: "Offsets do not match", offset: 4096 }) }, {
          _tag: "Mismatch",
          offset: 4096
        }],
        [{ status: 400, body: JSON.stringify({ detail: "Upload has already been marked as \"complete\"" }) }, {
          _tag: "AlreadyComplete"
        }]
      ] as const
      for (const [answer, expected] of cases) {
        const server = yield* scripted([answer])
        const sender = makeChunkSender(yield* clientFor(server.url))
        expect(yield* sender.sendChunk(yield* chunkOf(server.url, MiB), TIMEOUT)).toStrictEqual(expected)
      }
      const limit = yield* scripted([{
        status: 400,
        body: JSON.stringify({ detail: "Size of file exceeds the limit (1 bytes)" })
      }])
      const error = yield* Effect.flip(
        makeChunkSender(yield* clientFor(limit.url)).sendChunk(yield* chunkOf(limit.url, MiB), TIMEOUT)
      )
      expect(error).toMatchObject({ _tag: "PayloadTooLargeError", status_code: 400 })
    }))

  it.scopedLive("a 200 whose body is cut short is sent again (the same range), then accepted", () =>
    Effect.gen(function*() {
      const server = yield* scripted((url) => {
        const whole = state(url, MiB)
        return [{ status: 200, body: whole.slice(0, Math.floor(whole.length / 2)) }, { status: 200, body: whole }]
      })
      const sender = makeChunkSender(yield* clientFor(server.url))
      const outcome = yield* sender.sendChunk(yield* chunkOf(server.url, MiB), TIMEOUT)
      expect(outcome._tag).toBe("Accepted")
      expect(server.seen.map((r) => r.range)).toStrictEqual([
        `bytes 0-${MiB - 1}/${3 * MiB + 5}`,
        `bytes 0-${MiB - 1}/${3 * MiB + 5}`
      ])
    }))

  it.scopedLive("a finish answered 'already complete' succeeds without a file URL; a finish short of bytes is refused", () =>
    Effect.gen(function*() {
      const done = yield* scripted([{
        status: 400,
        body: JSON.stringify({ detail: "Upload has already been marked as complete" })
      }])
      const sender = makeChunkSender(yield* clientFor(done.url))
      const session = { id: 7, url: `${done.url}/chunked_upload/7/` }
      expect(yield* sender.finish(session, "0".repeat(32), 10)).toStrictEqual({
        id: 7,
        url: session.url,
        file: null,
        checksum: "0".repeat(32),
        size: 10
      })
      const short = yield* scripted([{ status: 400, body: JSON.stringify({ expected_offset: 4 }) }])
      const refused = yield* Effect.flip(
        makeChunkSender(yield* clientFor(short.url)).finish(
          { id: 7, url: `${short.url}/chunked_upload/7/` },
          "0".repeat(32),
          10
        )
      )
      expect(refused).toMatchObject({
        _tag: "ValidationError",
        status_code: 400,
        detail: "the server holds 4 of the file's 10 bytes and cannot finish the upload",
        method: "POST"
      })
    }))

  it.scopedLive("an attempt not answered in time is a TimeoutError naming the chunk, after the retries", () =>
    Effect.gen(function*() {
      const server = yield* scripted([{ status: 200, body: "{}", delayMs: 2_000 }])
      const sender = makeChunkSender(yield* clientFor(server.url))
      const error = yield* Effect.flip(sender.sendChunk(yield* chunkOf(server.url, MiB), Duration.millis(200)))
      expect(error).toMatchObject({
        _tag: "TimeoutError",
        method: "PUT",
        detail: `chunk 0-${MiB - 1} was not acknowledged within 200ms`
      })
      expect(server.seen.length).toBeGreaterThan(1)
    }))

  it.scopedLive("progress is reported every PROGRESS_STEP bytes while one chunk's body goes out", () =>
    Effect.gen(function*() {
      const live = yield* scripted((url) => [{ status: 200, body: state(url, 3 * MiB) }])
      const positions: Array<number> = []
      const sender = makeChunkSender(yield* clientFor(live.url))
      yield* sender.sendChunk(yield* chunkOf(live.url, 3 * MiB, (p) => positions.push(p)), TIMEOUT)
      expect(PROGRESS_STEP).toBe(MiB)
      // not the chunk's end: the acknowledgement reports that
      expect(positions).toStrictEqual([MiB, 2 * MiB])
    }))
})
