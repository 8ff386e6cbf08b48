/**
 * The SDK requires only an `HttpClient` (docs/architecture.md "Services"): the same round trip against a real
 * sandbox over both Node transports, `NodeHttpClient.layer` (node:http) and
 * `NodeHttpClient.layerUndici`: list and stream events, get a model with its file downloaded into
 * the cache, create a model with a file uploaded in several chunks that downloads back
 * byte-identical, and a 404 as `NotFoundError`. Each test also checks, on the transports' own
 * diagnostics channels, that its requests went over the transport under test and not the other one.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Effect, Layer, Stream } from "effect"
import { createHash, randomBytes } from "node:crypto"
import * as DiagnosticsChannel from "node:diagnostics_channel"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import * as GroundTruths from "../../src/services/GroundTruths.js"
import * as Models from "../../src/services/Models.js"
import { isRich } from "../support/profile.js"
import { type TestSandbox, useSandbox } from "../support/sandbox.js"
import { sdkLayer } from "../support/sdk.js"

const MiB = 1024 * 1024
const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-transports-test-"))
afterAll(() => Fs.rmSync(work, { recursive: true, force: true }))
const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex")

// Every request node:http or undici starts in this process is published on these channels (public
// Node and undici APIs), which tells which transport carried the SDK's requests. Nothing else in
// this file sends requests while a test runs (the sandbox is read through SQLite directly).
type Channel = "http.client.request.start" | "undici:request:create"
const started: Record<Channel, Array<string>> = { "http.client.request.start": [], "undici:request:create": [] }
for (const channel of Object.keys(started) as Array<Channel>) {
  DiagnosticsChannel.subscribe(channel, (message) => {
    const request = (message as { request: { method: string; path: string } }).request
    started[channel].push(`${request.method} ${request.path.split("?")[0]}`)
  })
}

const transports: Array<{ name: string; layer: Layer.Layer<HttpClient.HttpClient>; channel: Channel; other: Channel }> =
  [
    {
      name: "NodeHttpClient.layer",
      layer: NodeHttpClient.layer,
      channel: "http.client.request.start",
      other: "undici:request:create"
    },
    {
      name: "NodeHttpClient.layerUndici",
      layer: NodeHttpClient.layerUndici,
      channel: "undici:request:create",
      other: "http.client.request.start"
    }
  ]

const sandbox = useSandbox()
const query = <T>(sql: string, ...params: Array<unknown>): Array<T> => sandbox().query<T>(sql, ...params)

for (const transport of transports) {
  describe(`the SDK over ${transport.name}`, () => {
    /**
     * The SDK's services over this transport, built in the test's scope (the layer closes the
     * transport with it), with their own cache and upload state so downloads really happen.
     */
    const services = (sb: TestSandbox) =>
      Layer.build(sdkLayer(sb, Fs.mkdtempSync(Path.join(work, "sdk-")), {}, transport.layer))

    /** Runs `effect` and answers it with the requests (`METHOD path`) it sent over this transport. */
    const carried = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.gen(function*() {
        const mark = { own: started[transport.channel].length, other: started[transport.other].length }
        const result = yield* effect
        const sent = started[transport.channel].slice(mark.own)
        expect(started[transport.other].slice(mark.other)).toStrictEqual([])
        return { result, sent }
      })

    it.scopedLive("lists and streams ground truth events", () =>
      Effect.gen(function*() {
        const gts = Context.get(yield* services(sandbox()), GroundTruths.GroundTruths)
        const expected = query<{ id: number }>("SELECT id FROM ground_truth_events WHERE project = 1 ORDER BY id").map((
          r
        ) => r.id)
        expect(expected.length).toBeGreaterThan(20)
        const { result: page, sent } = yield* carried(gts.listEvents({ project: 1, page_size: 20 }))
        expect(page.count).toBe(expected.length)
        expect(page.results.map((e) => e.id)).toStrictEqual(expected.slice(0, 20))
        expect(sent).toStrictEqual(["GET /api/v1/sdk/ground_truth_events/"])
        const streamed = yield* carried(Stream.runCollect(gts.streamEvents({ project: 1, page_size: 20 })))
        expect(Chunk.toReadonlyArray(streamed.result).map((e) => e.id)).toStrictEqual(expected)
        expect(streamed.sent).toHaveLength(Math.ceil(expected.length / 20))
      }))

    it.scopedLive("gets a model with its file downloaded into the cache (url conversion)", () =>
      Effect.gen(function*() {
        const models = Context.get(yield* services(sandbox()), Models.Models)
        const [row] = query<{ id: number; file_size: number; file_checksum: string }>(
          "SELECT id, file_size, file_checksum FROM models WHERE file_media IS NOT NULL ORDER BY id LIMIT 1"
        )
        const { result: model, sent } = yield* carried(
          models.get(row!.id, { urlConversion: { filesFields: ["file"] } })
        )
        const bytes = Fs.readFileSync(model.file!)
        expect(bytes.length).toBe(row!.file_size)
        expect(md5(bytes)).toBe(row!.file_checksum)
        expect(sent.filter((r) => r.startsWith("GET /media/"))).toHaveLength(1)
      }))

    it.scopedLive("creates a model with a file uploaded in 1 MiB chunks that downloads back byte-identical", () =>
      Effect.gen(function*() {
        const models = Context.get(yield* services(sandbox()), Models.Models)
        const bytes = randomBytes(2 * MiB + MiB / 2 + 7)
        const file = Path.join(work, `upload-${transport.channel}.bin`)
        Fs.writeFileSync(file, bytes)
        const { result: created, sent } = yield* carried(
          models.create(
            { name: `over ${transport.name}`, model_type: "detection", project: 1, metrics: { accuracy: 0.9 }, file },
            { upload: { chunkSize: MiB } }
          )
        )
        // An evidenced model does not say its project.
        expect(created).toMatchObject(
          isRich() ? { name: `over ${transport.name}`, project: 1 } : { name: `over ${transport.name}` }
        )
        // Three chunk PUTs (1 + 1 + 0.5 MiB), then the completing POST and the model's POST.
        expect(sent.filter((r) => r.startsWith("PUT ") && r.includes("chunked_upload"))).toHaveLength(3)
        expect(sent.filter((r) => r.startsWith("POST "))).toHaveLength(2)
        const back = yield* models.get(created.id, { urlConversion: { filesFields: ["file"] } })
        const stored = Fs.readFileSync(back.file!)
        expect(stored.length).toBe(bytes.length)
        expect(md5(stored)).toBe(md5(bytes))
      }))

    it.scopedLive("answers a missing model with NotFoundError (404)", () =>
      Effect.gen(function*() {
        const models = Context.get(yield* services(sandbox()), Models.Models)
        const { result: error, sent } = yield* carried(Effect.flip(models.get(987654)))
        expect(error).toMatchObject({ _tag: "NotFoundError", status_code: 404 })
        expect(sent).toStrictEqual(["GET /api/v1/models/987654/"])
      }))
  })
}
