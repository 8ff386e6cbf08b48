/**
 * `UploadResume` on real files: the prefix md5 moved forward and back, the state file written,
 * read and cleared (and never touched with resume off), and the resume point decided from the
 * state, the file and the server's status (a small real server answers `GET {url}`).
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Schedule } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import * as SynapseClient from "../../src/services/SynapseClient.js"
import { findResumePoint, makePrefixHash, resumeStore } from "../../src/services/UploadResume.js"
import { openSource } from "../../src/services/UploadSource.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-upload-resume-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251))
const file = path.join(work, "model.bin")
fs.writeFileSync(file, bytes)
const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("hex")

/** A server answering every `GET` with `status` and `body`. */
const statusServer = (status: number, body: (url: string) => unknown) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      let base = ""
      const server = http.createServer((_req, res) => {
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body(base)))
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`
      return { url: base, server }
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
      SynapseClient.layer({ baseUrl: url, accessToken: Redacted.make("t"), retry: Schedule.stop }).pipe(
        Layer.provide(NodeHttpClient.layer),
        Layer.orDie
      )
    )
  )

describe("UploadResume", () => {
  it.scopedLive("the prefix md5 moves forward by the bytes in between and back by starting over", () =>
    Effect.gen(function*() {
      const source = yield* openSource(file)
      const seen: Array<number> = []
      const prefix = makePrefixHash(source, (p) => seen.push(p))
      yield* prefix.moveTo(1000)
      expect(prefix.digest()).toBe(md5(bytes.subarray(0, 1000)))
      yield* prefix.moveTo(4000)
      expect(prefix.digest()).toBe(md5(bytes.subarray(0, 4000)))
      yield* prefix.moveTo(10)
      expect([prefix.position(), prefix.digest()]).toStrictEqual([10, md5(bytes.subarray(0, 10))])
      expect(seen).toStrictEqual([1000, 4000, 10])
      const advanced = prefix.hash().copy().update(bytes.subarray(10, 20))
      prefix.advance(advanced, 20)
      expect(prefix.digest()).toBe(md5(bytes.subarray(0, 20)))
    }))

  it.scopedLive("resume off reads and writes nothing; on, the state is saved, read back and cleared", () =>
    Effect.gen(function*() {
      const source = yield* openSource(file)
      const client = yield* clientFor("http://127.0.0.1:9/api/v1")
      const stateDir = path.join(work, "state-1")
      const off = resumeStore(stateDir, client, source, false)
      yield* off.save({ id: 1, url: "u" }, 10, "x")
      expect(fs.existsSync(stateDir)).toBe(false)
      expect(yield* off.read).toStrictEqual(Option.none())
      const on = resumeStore(stateDir, client, source, true)
      yield* on.save({ id: "abc", url: "http://h/u/" }, 10, "d")
      expect(Option.getOrThrow(yield* on.read)).toMatchObject({ id: "abc", offset: 10, prefixMd5: "d", size: 5000 })
      yield* on.clear
      expect(fs.readdirSync(stateDir)).toStrictEqual([])
    }))

  it.scopedLive("picks up at the server's offset when the file and its sent part are unchanged", () =>
    Effect.gen(function*() {
      const source = yield* openSource(file)
      const server = yield* statusServer(200, (url) => ({ id: "abc", url: `${url}/chunked_upload/abc/`, offset: 3000 }))
      const client = yield* clientFor(server.url)
      const store = resumeStore(path.join(work, "state-2"), client, source, true)
      yield* store.save({ id: "abc", url: `${server.url}/chunked_upload/abc/` }, 2000, md5(bytes.subarray(0, 2000)))
      const prefix = makePrefixHash(source, () => {})
      const point = yield* findResumePoint(client, source, store, prefix)
      expect(Option.getOrThrow(point)).toStrictEqual({
        session: { id: "abc", url: `${server.url}/chunked_upload/abc/` },
        offset: 3000
      })
      expect(prefix.digest()).toBe(md5(bytes.subarray(0, 3000)))
    }))

  it.scopedLive("without a status route, the remembered offset; a changed prefix or an unusable status clears the state", () =>
    Effect.gen(function*() {
      const source = yield* openSource(file)
      const missing = yield* statusServer(405, () => ({ detail: "Method \"GET\" not allowed." }))
      const client = yield* clientFor(missing.url)
      const store = resumeStore(path.join(work, "state-3"), client, source, true)
      const session = { id: 5, url: `${missing.url}/chunked_upload/5/` }
      yield* store.save(session, 2000, md5(bytes.subarray(0, 2000)))
      const point = yield* findResumePoint(client, source, store, makePrefixHash(source, () => {}))
      expect(Option.getOrThrow(point)).toStrictEqual({ session, offset: 2000 })

      yield* store.save(session, 2000, md5(Buffer.from("something else")))
      expect(yield* findResumePoint(client, source, store, makePrefixHash(source, () => {}))).toStrictEqual(
        Option.none()
      )
      expect(yield* store.read).toStrictEqual(Option.none())

      const beyond = yield* statusServer(200, (url) => ({ id: 5, url: `${url}/chunked_upload/5/`, offset: 9999 }))
      const other = yield* clientFor(beyond.url)
      const store2 = resumeStore(path.join(work, "state-4"), other, source, true)
      yield* store2.save({ id: 5, url: `${beyond.url}/chunked_upload/5/` }, 2000, md5(bytes.subarray(0, 2000)))
      expect(yield* findResumePoint(other, source, store2, makePrefixHash(source, () => {}))).toStrictEqual(
        Option.none()
      )
      expect(yield* store2.read).toStrictEqual(Option.none())
    }))
})
