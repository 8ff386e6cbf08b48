/**
 * ChunkedUpload against a real sandbox on an ephemeral port, on both profiles (the rich sandbox's
 * dialect and drf-chunked-upload's, as the evidence profile speaks it): sizes at the chunk
 * boundaries, the stored file compared byte for byte, injected 5xx/resets during chunk PUTs, a lost
 * answer to a chunk and to the finish, resume by a new client instance and after SIGKILL (with a
 * status GET, or without one by the next chunk's offset error), an upload the server lost starting
 * over, a changed file starting over, progress, the size limit (413 or drf's 400), and the errors
 * raised before any request.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Layer, Logger, Redacted, Schedule, Stream } from "effect"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import type { SandboxProfile } from "../../src/sandbox/Context.js"
import * as ChunkedUpload from "../../src/services/ChunkedUpload.js"
import * as SynapseClient from "../../src/services/SynapseClient.js"
import { startTestSandbox, type TestSandbox, useSandbox } from "../support/sandbox.js"
import { loseFirstAnswer, resetStats, setFaults, stats } from "../support/sandboxAdmin.js"
import { killUploadMidway } from "./fixtures/killUpload.js"

const MiB = 1024 * 1024
const work = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-upload-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex")

let fileCounter = 0
const makeFile = (size: number): { path: string; bytes: Buffer } => {
  const bytes = randomBytes(size)
  const file = path.join(work, `model-${++fileCounter}.bin`)
  fs.writeFileSync(file, bytes)
  return { path: file, bytes }
}

// Retries fast (the sandbox is local), but a fixed number of them: a real bug still fails the test.
const fastRetry = Schedule.spaced("5 millis").pipe(Schedule.intersect(Schedule.recurs(20)))

/** The uploader on its own client; `transformClient` lets a test make the sandbox lose an answer. */
const uploaderLayer = (
  sb: TestSandbox,
  stateDir = path.join(work, "state"),
  transformClient?: SynapseClient.Options["transformClient"]
) =>
  ChunkedUpload.layer({ stateDir }).pipe(
    Layer.provide(SynapseClient.layer({
      baseUrl: sb.url,
      accessToken: Redacted.make(sb.token),
      retry: fastRetry,
      ...(transformClient !== undefined ? { transformClient } : {})
    })),
    Layer.provide(NodeHttpClient.layer),
    Layer.orDie
  )

const upload = (sb: TestSandbox, file: string, options: ChunkedUpload.UploadOptions = {}, stateDir?: string) =>
  Effect.flatMap(ChunkedUpload.ChunkedUpload, (u) => u.upload(file, { chunkSize: MiB, ...options })).pipe(
    Effect.provide(uploaderLayer(sb, stateDir))
  )

/** Which requests the fault spec hits, fixed so that a failure reproduces. */
/** An upload stopped (its signal aborted) once the server holds `at` bytes; its exit. */
const uploadUntil = (sb: TestSandbox, file: string, at: number, stateDir: string) => {
  const controller = new AbortController()
  return Effect.exit(upload(sb, file, {
    signal: controller.signal,
    onProgress: (e) => {
      if (e.phase === "uploading" && e.bytesSent >= at) controller.abort()
    }
  }, stateDir))
}

const FAULT_SEED = 7

/** The stored file, downloaded from its presigned URL (no auth headers). */
const download = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    expect(response.status).toBe(200)
    return new Uint8Array(await response.arrayBuffer())
  })

const PROFILES: ReadonlyArray<SandboxProfile> = ["rich", "evidence"]

describe.each(PROFILES)("ChunkedUpload (%s profile)", (profile) => {
  const sandbox = useSandbox({ seed: "none", profile })
  const evidence = profile === "evidence"

  it.live(
    evidence
      ? "an empty file is refused as drf-chunked-upload refuses it (no chunk to send)"
      : "stores a file of 0 B byte-identical",
    () =>
      Effect.gen(function*() {
        const sb = sandbox()
        const { path: file } = makeFile(0)
        const outcome = yield* Effect.either(upload(sb, file, { resume: false }))
        if (evidence) {
          expect(outcome._tag === "Left" && outcome.left).toMatchObject({
            _tag: "ValidationError",
            status_code: 400,
            detail: "No chunk file was submitted"
          })
        } else {
          const result = outcome._tag === "Right" ? outcome.right : undefined
          expect(result).toMatchObject({ size: 0, checksum: md5(new Uint8Array(0)), bytesSent: 0 })
          expect((yield* download(result!.file!)).length).toBe(0)
        }
      })
  )

  for (
    const [label, size] of [
      ["1 B", 1],
      ["exactly one chunk", MiB],
      ["one byte over a chunk", MiB + 1],
      ["many chunks", 5 * MiB + 12345]
    ] as const
  ) {
    it.live(`stores a file of ${label} byte-identical`, () =>
      Effect.gen(function*() {
        const sb = sandbox()
        const { bytes, path: file } = makeFile(size)
        const events: Array<ChunkedUpload.UploadProgress> = []
        const result = yield* upload(sb, file, { resume: false, onProgress: (e) => events.push(e) })
        expect(result.size).toBe(size)
        expect(result.checksum).toBe(md5(bytes))
        expect(result.bytesSent).toBe(size)
        expect(typeof result.id).toBe(evidence ? "number" : "string")
        const stored = yield* download(result.file!)
        expect(stored.length).toBe(size)
        expect(md5(stored)).toBe(md5(bytes))
        const chunks = Math.max(1, Math.ceil(size / MiB))
        expect(events.filter((e) => e.phase === "uploading").map((e) => e.chunk)).toStrictEqual(
          Array.from({ length: chunks }, (_, i) => i + 1)
        )
        expect(events.at(-1)).toStrictEqual({
          phase: "finalizing",
          bytesSent: size,
          totalBytes: size,
          chunk: chunks,
          chunks
        })
      }))
  }

  it.live("a missing file, a directory, a too small chunk size or a bad chunk timeout fail before any request", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      yield* resetStats(sb)
      const missing = yield* Effect.flip(upload(sb, path.join(work, "nope.bin")))
      expect(missing._tag).toBe("ValidationError")
      expect(missing.detail).toContain("does not exist")
      const directory = yield* Effect.flip(upload(sb, work))
      expect(directory.detail).toContain("is a directory")
      const small = yield* Effect.flip(upload(sb, makeFile(10).path, { chunkSize: 1000 }))
      expect(small).toMatchObject({ _tag: "ValidationError", field: "chunkSize" })
      // Callers in JavaScript (or from JSON) can pass anything: checked, not a defect.
      for (const chunkTimeout of ["soon", -5, 0, Number.NaN] as Array<unknown>) {
        const options = { chunkTimeout } as ChunkedUpload.UploadOptions
        const timeout = yield* Effect.flip(upload(sb, makeFile(10).path, options))
        expect(timeout).toMatchObject({
          _tag: "ValidationError",
          field: "chunkTimeout",
          detail: `chunkTimeout must be a positive duration (milliseconds, or e.g. "2 minutes"), got ${
            JSON.stringify(chunkTimeout)
          }`
        })
      }
      expect((yield* stats(sb)).requests).toBe(1) // the stats call itself
    }))

  it.live("survives 30% injected 5xx answers, connection resets and cut answers during the upload", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const { bytes, path: file } = makeFile(12 * MiB + 7)
      yield* setFaults(sb, "status5xx=0.1,reset=0.1,truncate=0.1,paths=chunked_upload", FAULT_SEED)
      const result = yield* upload(sb, file, { resume: false }).pipe(Effect.ensuring(setFaults(sb, "", FAULT_SEED)))
      const injected = (yield* stats(sb)).faults_injected
      expect(injected.status5xx + injected.reset).toBeGreaterThan(0)
      expect(injected.truncate).toBeGreaterThan(0)
      expect(result.checksum).toBe(md5(bytes))
      // The file as stored: from the finish answer's URL, or, when drf's "already complete" answered
      // a finish sent again after a cut answer (no URL then), from the sandbox's own record.
      const stored = result.file !== null
        ? yield* download(result.file)
        : fs.readFileSync(
          path.join(
            sb.dataDir,
            "media",
            sb.query<{ file_media: string }>(
              "SELECT file_media FROM chunked_uploads WHERE id = ?",
              String(result.id)
            )[0]!.file_media
          )
        )
      expect(result.file !== null || evidence).toBe(true)
      expect(md5(stored)).toBe(md5(bytes))
    }))

  it.live("a chunk whose answer is lost is sent again, and the upload continues where the server is", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const { bytes, path: file } = makeFile(3 * MiB + 10)
      // The second chunk (the first PUT {url}) is received, then its answer lost; the retry sends
      // it again: drf refuses it with the offset to continue from, the rich sandbox takes it again.
      const lost = loseFirstAnswer(sb, {
        matches: (request) => request.method === "PUT" && !request.url.endsWith("/chunked_upload/"),
        paths: "chunked_upload",
        randSeed: FAULT_SEED
      })
      const layer = uploaderLayer(sb, undefined, lost.transformClient)
      const lostBefore = (yield* resetStats(sb)).faults_injected.loseResponse
      const result = yield* Effect.flatMap(
        ChunkedUpload.ChunkedUpload,
        (u) => u.upload(file, { chunkSize: MiB, resume: false })
      ).pipe(
        Effect.provide(layer)
      )
      const after = yield* stats(sb)
      expect(after.faults_injected.loseResponse - lostBefore).toBe(1)
      expect(after.requests_by_route["PUT chunked_upload/{id}/"]).toBe(4)
      // What the server wrote: every byte once (drf refuses the re-sent chunk before reading it).
      expect(after.upload_bytes_received).toBe(bytes.length + (evidence ? 0 : MiB))
      expect(result.checksum).toBe(md5(bytes))
      expect(md5(yield* download(result.file!))).toBe(md5(bytes))
    }))

  it.live("the first chunk's lost answer: the retry starts another upload, and the file arrives whole", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const { bytes, path: file } = makeFile(2 * MiB + 3)
      const lost = loseFirstAnswer(sb, {
        matches: (request) => request.method === "PUT" && request.url.endsWith("/chunked_upload/"),
        paths: "chunked_upload",
        randSeed: FAULT_SEED
      })
      const layer = uploaderLayer(sb, undefined, lost.transformClient)
      yield* resetStats(sb)
      const result = yield* Effect.flatMap(
        ChunkedUpload.ChunkedUpload,
        (u) => u.upload(file, { chunkSize: MiB, resume: false })
      ).pipe(
        Effect.provide(layer)
      )
      expect((yield* stats(sb)).requests_by_route["PUT chunked_upload/"]).toBe(2)
      expect(md5(yield* download(result.file!))).toBe(md5(bytes))
    }))

  it.live("a finish whose answer is lost is sent again, without a status request: done either way", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const { bytes, path: file } = makeFile(MiB + 10)
      // The first POST {url} is performed, then its socket destroyed (the sandbox's loseResponse
      // fault); faults are off again before the next request, the finish sent again.
      const lost = loseFirstAnswer(sb, {
        matches: (request) => request.method === "POST",
        paths: "chunked_upload",
        randSeed: FAULT_SEED
      })
      const layer = uploaderLayer(sb, undefined, lost.transformClient)
      const lostBefore = (yield* resetStats(sb)).faults_injected.loseResponse
      const result = yield* Effect.flatMap(
        ChunkedUpload.ChunkedUpload,
        (u) => u.upload(file, { chunkSize: MiB, resume: false })
      ).pipe(
        Effect.provide(layer)
      )
      const after = yield* stats(sb)
      expect(lost.phase()).toBe("done")
      expect(after.faults_injected.loseResponse - lostBefore).toBe(1)
      expect(after.requests_by_route["GET chunked_upload/{id}/"]).toBeUndefined()
      expect(after.requests_by_route["POST chunked_upload/{id}/"]).toBe(2)
      expect(result.checksum).toBe(md5(bytes))
      if (evidence) {
        // drf answers the second finish "already marked as complete": done, but the file URL only
        // the lost answer carried is unknown. The upload is finished on the server all the same.
        expect(result).toMatchObject({ file: null, size: bytes.length })
        expect(
          sb.query<{ status: string; md5: string }>(
            "SELECT status, md5 FROM chunked_uploads WHERE id = ?",
            String(result.id)
          )
        )
          .toStrictEqual([{ status: "complete", md5: md5(bytes) }])
      } else {
        expect(md5(yield* download(result.file!))).toBe(md5(bytes))
      }
    }))

  it.live("an interrupted upload is resumed by a new client instance, sending only the missing chunks", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const stateDir = path.join(work, `resume-state-${profile}`)
      const { bytes, path: file } = makeFile(6 * MiB + 100)
      const first = yield* uploadUntil(sb, file, 2 * MiB, stateDir)
      expect(Exit.isInterrupted(first)).toBe(true)
      expect(fs.readdirSync(stateDir)).toHaveLength(1)

      yield* resetStats(sb)
      const phases = new Set<string>()
      const second = yield* upload(sb, file, { onProgress: (e) => phases.add(e.phase) }, stateDir)
      expect(second.resumedFrom).toBe(2 * MiB)
      expect(second.bytesSent).toBe(bytes.length - 2 * MiB)
      expect((yield* stats(sb)).upload_bytes_received).toBe(bytes.length - 2 * MiB)
      expect([...phases]).toStrictEqual(["hashing", "uploading", "finalizing"])
      expect(md5(yield* download(second.file!))).toBe(md5(bytes))
      // Finished: the state is gone, so the next upload of the file is a new one.
      expect(fs.readdirSync(stateDir)).toHaveLength(0)
    }))

  it.live("an upload whose process was killed (SIGKILL) resumes where it stopped", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const stateDir = path.join(work, `killed-state-${profile}`)
      const { bytes, path: file } = makeFile(8 * MiB + 3)
      const killedAt = yield* killUploadMidway(sb, file, stateDir, {
        chunkSize: MiB,
        killAfter: 2 * MiB,
        faultSeed: FAULT_SEED
      })
      expect(killedAt).toBeLessThan(bytes.length)

      yield* resetStats(sb)
      const resumed = yield* upload(sb, file, {}, stateDir)
      expect(resumed.resumedFrom).toBeLessThan(bytes.length)
      const received = (yield* stats(sb)).upload_bytes_received
      if (evidence) {
        // Without a status, the upload resumes at the remembered offset: the state file may lag the
        // server by the chunk acknowledged just before the kill, which the server then refuses.
        expect(resumed.resumedFrom).toBeGreaterThanOrEqual(killedAt - MiB)
        expect(received).toBeLessThanOrEqual(bytes.length - resumed.resumedFrom)
        expect(received).toBeGreaterThanOrEqual(bytes.length - resumed.resumedFrom - MiB)
      } else {
        expect(resumed.resumedFrom).toBeGreaterThanOrEqual(killedAt)
        expect(received).toBe(bytes.length - resumed.resumedFrom)
      }
      expect(md5(yield* download(resumed.file!))).toBe(md5(bytes))
    }))

  it.live("continues from the server's offset when it holds more than the state file says", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const stateDir = path.join(work, `ahead-state-${profile}`)
      const { bytes, path: file } = makeFile(4 * MiB)
      yield* uploadUntil(sb, file, 3 * MiB, stateDir)
      // As if the process died after the server took chunk 3 but before the state file was saved.
      const stateFile = path.join(stateDir, fs.readdirSync(stateDir)[0]!)
      const state = JSON.parse(fs.readFileSync(stateFile, "utf8"))
      fs.writeFileSync(stateFile, JSON.stringify({ ...state, offset: MiB, prefixMd5: md5(bytes.subarray(0, MiB)) }))
      yield* resetStats(sb)
      const result = yield* upload(sb, file, {}, stateDir)
      // The rich sandbox's status says 3 MiB at once; drf's offset error says it to the chunk sent
      // at the remembered 1 MiB, refused before its bytes are read.
      expect(result.resumedFrom).toBe(evidence ? MiB : 3 * MiB)
      expect((yield* stats(sb)).upload_bytes_received).toBe(MiB)
      expect(result.checksum).toBe(md5(bytes))
    }))

  it.live("when the server's offset moves back mid-upload (400 Offsets do not match), it continues from there", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const stateDir = path.join(work, `mismatch-state-${profile}`)
      const { bytes, path: file } = makeFile(4 * MiB + 5)
      let rewound = false
      const logs: Array<string> = []
      const result = yield* upload(sb, file, {
        onProgress: (e) => {
          if (rewound || e.phase !== "uploading" || e.bytesSent < 2 * MiB) return
          // As if the server lost the second chunk: its offset goes back to 1 MiB.
          const { id } = JSON.parse(fs.readFileSync(path.join(stateDir, fs.readdirSync(stateDir)[0]!), "utf8"))
          const db = sb.openDb()
          db.prepare("UPDATE chunked_uploads SET offset = ? WHERE id = ?").run(MiB, String(id))
          db.close()
          rewound = true
        }
      }, stateDir).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => logs.push(String(message)))))
      )
      expect(rewound).toBe(true)
      expect(logs).toContain("the server holds a different part of the upload: continuing from its offset")
      expect(result.bytesSent).toBe(bytes.length + MiB)
      expect(result.checksum).toBe(md5(bytes))
      expect(md5(yield* download(result.file!))).toBe(md5(bytes))
    }))

  it.live("an upload finished just before a crash (state not yet removed) is not sent again", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const stateDir = path.join(work, `finished-state-${profile}`)
      const { bytes, path: file } = makeFile(2 * MiB)
      let saved: [string, string] | undefined
      const first = yield* upload(sb, file, {
        onProgress: (e) => {
          if (e.phase !== "finalizing") return
          const name = path.join(stateDir, fs.readdirSync(stateDir)[0]!)
          saved = [name, fs.readFileSync(name, "utf8")]
        }
      }, stateDir)
      expect(fs.readdirSync(stateDir)).toHaveLength(0)
      fs.writeFileSync(saved![0], saved![1])
      yield* resetStats(sb)
      const second = yield* upload(sb, file, {}, stateDir)
      expect(second).toMatchObject({
        id: first.id,
        file: evidence ? null : expect.any(String),
        checksum: md5(bytes),
        resumedFrom: bytes.length,
        bytesSent: 0
      })
      expect((yield* stats(sb)).upload_bytes_received).toBe(0)
    }))

  it.live("an interrupted upload the server no longer has starts over", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const stateDir = path.join(work, `gone-state-${profile}`)
      const { bytes, path: file } = makeFile(3 * MiB)
      yield* uploadUntil(sb, file, MiB, stateDir)
      const { id } = JSON.parse(fs.readFileSync(path.join(stateDir, fs.readdirSync(stateDir)[0]!), "utf8"))
      const db = sb.openDb()
      db.prepare("DELETE FROM chunked_uploads WHERE id = ?").run(String(id))
      db.close()
      yield* resetStats(sb)
      const result = yield* upload(sb, file, {}, stateDir)
      expect(result.resumedFrom).toBe(0)
      // A new upload (drf's next integer id may be the deleted one's again).
      expect(sb.query("SELECT id FROM chunked_uploads WHERE id = ?", String(result.id))).toHaveLength(1)
      expect((yield* stats(sb)).upload_bytes_received).toBe(bytes.length)
      expect(md5(yield* download(result.file!))).toBe(md5(bytes))
    }))

  it.live("a file modified between attempts starts over, even with its size and mtime restored", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const stateDir = path.join(work, `changed-state-${profile}`)
      const { path: file } = makeFile(4 * MiB)
      const interrupted = () => {
        return uploadUntil(sb, file, 2 * MiB, stateDir)
      }

      // A rewrite (new mtime): the identity differs, nothing is hashed or reused.
      yield* interrupted()
      const rewritten = randomBytes(4 * MiB)
      fs.writeFileSync(file, rewritten)
      yield* resetStats(sb)
      const afterRewrite = yield* upload(sb, file, {}, stateDir)
      expect(afterRewrite.resumedFrom).toBe(0)
      expect((yield* stats(sb)).upload_bytes_received).toBe(4 * MiB)
      expect(afterRewrite.checksum).toBe(md5(rewritten))

      // An edit inside the part already sent, with size and mtime put back: the prefix hash catches it.
      const mtime = new Date("2026-11-01T10:00:00Z")
      fs.utimesSync(file, mtime, mtime)
      yield* interrupted()
      const edited = Buffer.from(rewritten)
      edited[100] = edited[100]! ^ 0xff
      fs.writeFileSync(file, edited)
      fs.utimesSync(file, mtime, mtime)
      const logs: Array<string> = []
      yield* resetStats(sb)
      const afterEdit = yield* upload(sb, file, {}, stateDir).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => logs.push(String(message)))))
      )
      expect(logs).toContain("the file's content changed since its upload was interrupted: starting over")
      expect(afterEdit.resumedFrom).toBe(0)
      expect((yield* stats(sb)).upload_bytes_received).toBe(4 * MiB)
      expect(afterEdit.checksum).toBe(md5(edited))
      expect(md5(yield* download(afterEdit.file!))).toBe(md5(edited))
    }))

  it.live("resume: false neither reads nor writes state", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const stateDir = path.join(work, `no-resume-state-${profile}`)
      const { path: file } = makeFile(3 * MiB)
      const controller = new AbortController()
      yield* Effect.exit(upload(sb, file, {
        resume: false,
        signal: controller.signal,
        onProgress: (e) => {
          if (e.bytesSent >= MiB) controller.abort()
        }
      }, stateDir))
      expect(fs.existsSync(stateDir)).toBe(false)
    }))

  it.live("uploadStream emits progress and ends with the result; stopping the stream stops the upload", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const { bytes, path: file } = makeFile(3 * MiB + 1)
      const events = yield* Effect.flatMap(
        ChunkedUpload.ChunkedUpload,
        (u) => Stream.runCollect(u.uploadStream(file, { chunkSize: MiB, resume: false }))
      ).pipe(
        Effect.provide(uploaderLayer(sb))
      )
      const list = Chunk.toReadonlyArray(events)
      expect(list.map((e) => e.phase)).toStrictEqual([
        "uploading",
        "uploading",
        "uploading",
        "uploading",
        "finalizing",
        "done"
      ])
      const done = list.at(-1)!
      expect(done.phase === "done" && done.result.checksum).toBe(md5(bytes))

      yield* resetStats(sb)
      const { path: big } = makeFile(8 * MiB)
      const taken = yield* Effect.flatMap(
        ChunkedUpload.ChunkedUpload,
        (u) => Stream.runCollect(u.uploadStream(big, { chunkSize: MiB, resume: false }).pipe(Stream.take(2)))
      ).pipe(
        Effect.provide(uploaderLayer(sb))
      )
      expect(Chunk.size(taken)).toBe(2)
      yield* Effect.sleep("200 millis")
      // Interrupted after two chunks: far from the 8 MiB a finished upload would have sent.
      expect((yield* stats(sb)).upload_bytes_received).toBeLessThanOrEqual(4 * MiB)
    }))
})

describe.each(PROFILES)("ChunkedUpload progress and cut answers (%s profile)", (profile) => {
  const sandbox = useSandbox({ seed: "none", profile })

  it.live("a 40 MiB upload in one default chunk reports progress every MiB as the bytes go out", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      const { bytes, path: file } = makeFile(40 * MiB)
      const events: Array<ChunkedUpload.UploadProgress> = []
      const result = yield* upload(sb, file, {
        chunkSize: ChunkedUpload.DEFAULT_CHUNK_SIZE,
        resume: false,
        onProgress: (e) => events.push(e)
      })
      expect(result.checksum).toBe(md5(bytes))
      const uploading = events.filter((e) => e.phase === "uploading")
      // one event per MiB handed to the connection, the last one the server's acknowledgement
      expect(uploading.map((e) => e.bytesSent)).toStrictEqual(
        Array.from({ length: 40 }, (_, i) => (i + 1) * ChunkedUpload.PROGRESS_STEP)
      )
      expect(uploading.every((e) => e.chunk === 1 && e.chunks === 1 && e.totalBytes === 40 * MiB)).toBe(true)
      expect(events.at(-1)).toStrictEqual({
        phase: "finalizing",
        bytesSent: 40 * MiB,
        totalBytes: 40 * MiB,
        chunk: 1,
        chunks: 1
      })
    }))

  it.live("under 5% of answers cut short (truncate=0.05), three uploads complete byte-identical", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      yield* setFaults(sb, "truncate=0.05", FAULT_SEED)
      const results = yield* Effect.forEach([1, 2, 3], () => {
        const { bytes, path: file } = makeFile(6 * MiB + 3)
        return Effect.map(upload(sb, file, { resume: false }), (result) => ({ result, bytes }))
      }).pipe(Effect.ensuring(setFaults(sb, "", FAULT_SEED)))
      for (const { bytes, result } of results) expect(result.checksum).toBe(md5(bytes))
      expect((yield* stats(sb)).faults_injected.truncate).toBeGreaterThan(0)
    }))
})

describe("ChunkedUpload against a server that keeps refusing a chunk", () => {
  it.live("fails with a clear error after a few refusals at the offset the server asks for, instead of looping", () =>
    Effect.acquireUseRelease(
      // A real HTTP server that takes the first chunk, then answers every later chunk with
      // "400, expected offset <the chunk's own start>": a broken proxy or backend, never the sandbox.
      Effect.promise(() =>
        new Promise<{ server: http.Server; base: string; puts: () => number }>((resolve) => {
          let puts = 0
          const server = http.createServer((req, res) => {
            req.resume()
            req.on("end", () => {
              puts++
              const base = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1`
              const first = req.url === "/api/v1/chunked_upload/"
              res.writeHead(first ? 200 : 400, { "content-type": "application/json" })
              res.end(JSON.stringify(
                first
                  ? { id: "u1", url: `${base}/chunked_upload/u1/`, offset: MiB, status: "uploading" }
                  : { detail: "Content-Range declares 1048576 bytes but the chunk carried 0.", offset: MiB }
              ))
            })
          })
          server.listen(0, "127.0.0.1", () =>
            resolve({
              server,
              base: `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1`,
              puts: () => puts
            }))
        })
      ),
      ({ base, puts }) =>
        Effect.gen(function*() {
          const { path: file } = makeFile(2 * MiB)
          const error = yield* Effect.flip(upload({ url: base, token: "t" } as TestSandbox, file, { resume: false }))
          expect(error).toMatchObject({ _tag: "ValidationError", status_code: 400 })
          expect(error.detail).toContain(`refused the chunk at ${MiB} 6 times in a row`)
          expect(puts()).toBe(1 + 6)
        }),
      ({ server }) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
    ))
})

describe.each(PROFILES)("ChunkedUpload size limit (%s profile)", (profile) => {
  it.live("a file over the server's limit fails with PayloadTooLargeError (413, or drf-chunked-upload's 400)", () =>
    Effect.acquireUseRelease(
      Effect.promise(() => startTestSandbox({ seed: "none", maxUploadBytes: 2 * MiB, profile })),
      (sb) =>
        Effect.gen(function*() {
          const { path: file } = makeFile(3 * MiB)
          yield* resetStats(sb)
          const error = yield* Effect.flip(upload(sb, file, { resume: false }))
          expect(error._tag).toBe("PayloadTooLargeError")
          expect(error.status_code).toBe(profile === "evidence" ? 400 : 413)
          if (profile === "evidence") expect(error.detail).toBe(`Size of file exceeds the limit (${2 * MiB} bytes)`)
          // Refused at the first chunk: nothing was stored, and nothing more was sent.
          expect((yield* stats(sb)).requests_by_route).toMatchObject({ "PUT chunked_upload/": 1 })
          expect((yield* stats(sb)).upload_bytes_received).toBe(0)
        }),
      (sb) => Effect.promise(() => sb.close())
    ))
})
