/**
 * `UploadSession`'s decisions, with a scripted `ChunkSender` standing in for the wire: which range
 * goes next after each kind of answer (accepted, an offset elsewhere, already complete, the upload
 * gone), when it gives up, how the md5 and `bytesSent` count, and the progress it reports.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Redacted, Schedule } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import type { ChunkOutcome, ChunkSender, CompletedUpload, Session } from "../../src/services/ChunkSender.js"
import * as SynapseClient from "../../src/services/SynapseClient.js"
import { NotFoundError, type SynapseError, ValidationError } from "../../src/services/SynapseError.js"
import { resumeStore } from "../../src/services/UploadResume.js"
import { MAX_REFUSALS_IN_PLACE, runSession, type UploadProgress } from "../../src/services/UploadSession.js"
import { openSource } from "../../src/services/UploadSource.js"

const MiB = 1024 * 1024
const work = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-upload-session-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

const bytes = Buffer.from(Array.from({ length: 3 * MiB + 10 }, (_, i) => (i * 7) % 256))
const file = path.join(work, "model.bin")
fs.writeFileSync(file, bytes)
const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("hex")

type Answer = (range: { readonly start: number; readonly end: number; readonly session: Session | undefined }) =>
  | { readonly _tag: "Accept"; readonly offset?: number }
  | Exclude<ChunkOutcome, { readonly _tag: "Accepted" }>
  | { readonly _tag: "Fail"; readonly error: SynapseError }

/** A sender answering each chunk with `answer`; records the ranges sent and whether it finished. */
const fakeSender = (answer: Answer) => {
  const sent: Array<[number, number]> = []
  const finished: Array<string> = []
  let uploads = 0
  const sender: ChunkSender = {
    create: () => Effect.succeed({ id: ++uploads, url: `u/${uploads}/` }),
    sendChunk: (chunk) =>
      Effect.gen(function*() {
        sent.push([chunk.start, chunk.end])
        const reply = answer({ start: chunk.start, end: chunk.end, session: chunk.session })
        if (reply._tag === "Fail") return yield* Effect.fail(reply.error)
        if (reply._tag !== "Accept") return reply
        const hash = chunk.base.copy().update(bytes.subarray(chunk.start, chunk.end))
        const session = chunk.session ?? { id: ++uploads, url: `u/${uploads}/` }
        return {
          _tag: "Accepted",
          hash,
          state: { id: session.id, url: session.url, offset: reply.offset ?? chunk.end }
        } as const
      }),
    finish: (session, checksum, size) =>
      Effect.sync((): CompletedUpload => {
        finished.push(checksum)
        return { id: session.id, url: session.url, file: "f", checksum, size }
      }),
    alreadyComplete: (session, checksum, size) =>
      Effect.succeed({ id: session.id, url: session.url, file: null, checksum, size }),
    refused: (detail, method) => new ValidationError({ status_code: 400, detail, method })
  }
  return { sender, sent, finished }
}

const run = (answer: Answer, onProgress?: (p: UploadProgress) => void) =>
  Effect.gen(function*() {
    const client = yield* Effect.flatMap(SynapseClient.SynapseClient, Effect.succeed).pipe(
      Effect.provide(
        SynapseClient.layer({
          baseUrl: "http://127.0.0.1:9/api/v1",
          accessToken: Redacted.make("t"),
          retry: Schedule.stop
        })
          .pipe(Layer.provide(NodeHttpClient.layer), Layer.orDie)
      )
    )
    const source = yield* openSource(file)
    const fake = fakeSender(answer)
    const result = yield* Effect.either(
      runSession(client, fake.sender, source, resumeStore(work, client, source, false), {
        chunkSize: MiB,
        filename: "model.bin",
        chunkTimeout: Duration.seconds(5),
        onProgress
      })
    )
    return { result, sent: fake.sent, finished: fake.finished }
  })

const ranges = (...starts: Array<number>) => starts.map((s) => [s, Math.min(s + MiB, bytes.length)])

describe("UploadSession", () => {
  it.scopedLive("sends every range once, finishes with the whole file's md5, reports each acknowledged chunk", () =>
    Effect.gen(function*() {
      const events: Array<UploadProgress> = []
      const { finished, result, sent } = yield* run(() => ({ _tag: "Accept" }), (p) => events.push(p))
      expect(sent).toStrictEqual(ranges(0, MiB, 2 * MiB, 3 * MiB))
      expect(finished).toStrictEqual([md5(bytes)])
      expect(result).toMatchObject({ _tag: "Right", right: { bytesSent: bytes.length, resumedFrom: 0, file: "f" } })
      expect(events.map((e) => [e.phase, e.bytesSent, e.chunk])).toStrictEqual([
        ["uploading", MiB, 1],
        ["uploading", 2 * MiB, 2],
        ["uploading", 3 * MiB, 3],
        ["uploading", bytes.length, 4],
        ["finalizing", bytes.length, 4]
      ])
    }))

  it.scopedLive("an offset elsewhere continues from it; the md5 still covers the whole file", () =>
    Effect.gen(function*() {
      let once = true
      const { finished, result, sent } = yield* run(({ session, start }) => {
        if (session !== undefined && start === MiB && once) {
          once = false
          return { _tag: "Mismatch", offset: 2 * MiB } // the server already holds the second chunk
        }
        return { _tag: "Accept" }
      })
      expect(sent).toStrictEqual(ranges(0, MiB, 2 * MiB, 3 * MiB))
      expect(finished).toStrictEqual([md5(bytes)])
      expect(result).toMatchObject({ _tag: "Right", right: { bytesSent: bytes.length - MiB } })
    }))

  it.scopedLive("already complete ends the upload without a finish; refused in place too often fails", () =>
    Effect.gen(function*() {
      const complete = yield* run(({ session }) =>
        session === undefined ? { _tag: "Accept" } : { _tag: "AlreadyComplete" }
      )
      expect(complete.finished).toStrictEqual([])
      expect(complete.result).toMatchObject({ _tag: "Right", right: { file: null, checksum: md5(bytes) } })

      const stuck = yield* run(({ session, start }) =>
        session === undefined ? { _tag: "Accept" } : { _tag: "Mismatch", offset: start }
      )
      expect(stuck.sent.length).toBe(1 + MAX_REFUSALS_IN_PLACE + 1)
      expect(stuck.result).toMatchObject({
        _tag: "Left",
        left: {
          _tag: "ValidationError",
          detail: `the server refused the chunk at ${MiB} ${
            MAX_REFUSALS_IN_PLACE + 1
          } times in a row while asking for that same offset`
        }
      })
    }))

  it.scopedLive("an upload the server lost starts over once, then the error stands", () =>
    Effect.gen(function*() {
      const gone = new NotFoundError({ status_code: 404, detail: "Not found." })
      let lost = 0
      const again = yield* run(({ session, start }) =>
        session !== undefined && start === 2 * MiB && lost++ === 0 ? { _tag: "Fail", error: gone } : { _tag: "Accept" }
      )
      expect(again.sent).toStrictEqual([...ranges(0, MiB, 2 * MiB), ...ranges(0, MiB, 2 * MiB, 3 * MiB)])
      expect(again.result).toMatchObject({ _tag: "Right", right: { checksum: md5(bytes) } })

      const always = yield* run(({ session }) =>
        session !== undefined ? { _tag: "Fail", error: gone } : { _tag: "Accept" }
      )
      expect(always.result).toMatchObject({ _tag: "Left", left: { _tag: "NotFoundError" } })
      expect(always.sent).toStrictEqual(ranges(0, MiB, 0, MiB))
    }))
})
