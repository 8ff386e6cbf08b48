/**
 * Tolerant decoding through the real SDK path (a real HTTP server, `NodeHttpClient`, the services'
 * own decoders): every resource decodes with only its `id`, with only the evidenced fields, as a
 * partial `fields=` record, and with fields the SDK has never heard of, which come back to the
 * caller unchanged; a page needs `results`, `count` and `next`. A field that is present with the
 * wrong type is still a `DecodeError` naming its path.
 */
import { Chunk, Effect, Either, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { GroundTruths } from "../../src/services/GroundTruths.js"
import { Models } from "../../src/services/Models.js"
import type * as Synapse from "../../src/services/Synapse.js"
import { DecodeError } from "../../src/services/SynapseError.js"
import {
  API,
  onePage,
  type ScriptedAnswer,
  type ScriptedRequest,
  type ScriptedServer,
  startScriptedServer
} from "../support/scriptedServer.js"
import { ok, runEither, sdkLayer } from "../support/sdk.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-tolerant-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

let server: ScriptedServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

const serve = async (route: (request: ScriptedRequest) => ScriptedAnswer | undefined) => {
  server = await startScriptedServer(route)
  return server
}

const run = <A, E>(effect: Effect.Effect<A, E, Synapse.Services>) =>
  runEither(sdkLayer({ url: server!.url, token: "t0ken" }, work), effect)

/** A model as a backend answering only the evidenced fields sends it. */
const MODEL_E = {
  id: 456,
  name: "yolo-e",
  category: "object_detection",
  file: "https://files.example/models/456.pt?X-Signature=abc",
  plugin: 12,
  version: "1.0.0",
  configuration: { input_size: 640, classes: ["car", "person"] },
  description: null,
  is_released: true
}
/** Nothing but the id. */
const MODEL_ID_ONLY = { id: 457 }
/** Expansions a serializer answers null when there is nothing to expand. */
const MODEL_NULL_EXPANSIONS = { id: 459, evaluations: null, versions: null, file_info: null }
/** Fields the SDK does not know, nested ones included, and an expanded plugin. */
const MODEL_UNKNOWN = {
  id: 458,
  name: "with-extras",
  owner: { id: 3, email: "ml@example.com" },
  tags: ["edge", { nested: [1, 2] }],
  plugin: { id: 12, code: "yolo", name: "YOLO" },
  created_by: null
}

/** An event as E sends it without `fields=`: native annotations, `data_unit` with its files. */
const EVENT_E = {
  id: 901,
  category: "train",
  files: {
    image_1: {
      url: "https://files.example/img/1.jpg?sig=1",
      file_type: "image",
      is_primary: true,
      checksum_sha1: "deadbeef"
    },
    data_meta_1: { url: "https://files.example/meta/1.json?sig=1" }
  },
  data: {
    annotations: { image: [{ id: "a1", tool: "bounding_box", classification: { class: "car" } }] },
    annotationsData: { image: [{ id: "a1", coordinate: { x: 10, y: 20, width: 30, height: 40 } }] }
  },
  data_unit: {
    id: 55,
    files: { image_1: { url: "https://files.example/img/1.jpg?sig=1" } },
    meta: { origin: "upload" }
  },
  assignment: 77
}

const VERSION_E = { id: 303, name: "v3", is_archived: false }
const GROUND_TRUTH_E = {
  id: 11,
  files: {
    image_1: { url: "https://files.example/img/1.jpg?sig=1" },
    data_meta_1: { url: "https://files.example/meta/1.json" }
  }
}

const pick = (record: Record<string, unknown>, fields: ReadonlyArray<string>) =>
  Object.fromEntries(Object.entries(record).filter(([k]) => fields.includes(k)))

const decodeErrorOf = <A, E>(result: Either.Either<A, E>): DecodeError => {
  if (Either.isRight(result)) throw new Error("expected a DecodeError, got a success")
  if (!(result.left instanceof DecodeError)) throw new Error(`expected a DecodeError, got ${String(result.left)}`)
  return result.left
}

describe("models with few fields", () => {
  it("list, get and stream return every model as sent: only an id, only E fields, unknown fields kept", async () => {
    const all = [MODEL_E, MODEL_ID_ONLY, MODEL_UNKNOWN, MODEL_NULL_EXPANSIONS]
    const s = await serve((req) => {
      if (req.path === `${API}/models/` && req.query.get("page") === "2") {
        return { json: { count: 4, next: null, previous: null, results: all.slice(2) } }
      }
      if (req.path === `${API}/models/`) {
        return { json: { count: 4, next: `${s.url}/models/?page=2`, results: all.slice(0, 2) } }
      }
      const one = /^\/api\/v1\/models\/(\d+)\/$/.exec(req.path)
      return one !== null ? { json: all.find((m) => m.id === Number(one[1])) } : undefined
    })
    const listed = ok(await run(Effect.flatMap(Models, (m) => m.list())))
    expect(listed).toStrictEqual({ results: all.slice(0, 2), count: 4 })
    const streamed = ok(await run(Effect.flatMap(Models, (m) => Stream.runCollect(m.stream()))))
    expect(Chunk.toReadonlyArray(streamed)).toStrictEqual(all)
    for (const model of all) {
      expect(ok(await run(Effect.flatMap(Models, (m) => m.get(model.id))))).toStrictEqual(model)
    }
  })

  it("a field present with the wrong type is a DecodeError naming it; so is a record without an id", async () => {
    let results: Array<unknown> = []
    await serve((req) => (req.path === `${API}/models/` ? { json: onePage(results) } : undefined))
    results = [MODEL_E, { ...MODEL_ID_ONLY, name: 5 }]
    const wrongType = decodeErrorOf(await run(Effect.flatMap(Models, (m) => m.list())))
    expect({ path: wrongType.path, excerpt: wrongType.excerpt }).toStrictEqual({ path: "results.1.name", excerpt: "5" })
    results = [{ name: "no id" }]
    expect(decodeErrorOf(await run(Effect.flatMap(Models, (m) => m.list()))).path).toBe("results.0.id")
  })

  it("a page needs results, count and next", async () => {
    let page: unknown = {}
    await serve((req) => (req.path === `${API}/models/` ? { json: page } : undefined))
    page = { results: [MODEL_E], next: null }
    expect(decodeErrorOf(await run(Effect.flatMap(Models, (m) => m.list()))).path).toBe("count")
    page = { count: 1, results: [MODEL_E] }
    expect(decodeErrorOf(await run(Effect.flatMap(Models, (m) => m.list()))).path).toBe("next")
    // `previous` is not needed.
    page = { count: 1, next: null, results: [MODEL_E], page_info: { pages: 1 } }
    expect(ok(await run(Effect.flatMap(Models, (m) => m.list())))).toStrictEqual({ results: [MODEL_E], count: 1 })
  })
})

describe("ground truth with few fields", () => {
  it("events in E's shape decode whole, unknown fields (nested ones too) kept, in every listing form", async () => {
    const events = [EVENT_E, { id: 902 }, { id: 903, category: null, files: {}, data: null }, {
      id: 904,
      files: null,
      data_unit: null
    }]
    await serve((req) => (req.path === `${API}/sdk/ground_truth_events/` ? { json: onePage(events) } : undefined))
    const params = { ground_truth_dataset_versions: [303] }
    const listed = ok(await run(Effect.flatMap(GroundTruths, (g) => g.listEvents(params))))
    expect(listed).toStrictEqual({ results: events, count: 4 })
    const streamed = ok(await run(Effect.flatMap(GroundTruths, (g) => Stream.runCollect(g.streamEvents(params)))))
    expect(Chunk.toReadonlyArray(streamed)).toStrictEqual(events)
    const all = ok(
      await run(
        Effect.flatMap(
          GroundTruths,
          (g) =>
            Effect.flatMap(
              g.listAllEvents(params),
              ({ count, stream }) =>
                Effect.map(Stream.runCollect(stream), (c) => ({ count, events: Chunk.toReadonlyArray(c) }))
            )
        )
      )
    )
    expect(all).toStrictEqual({ count: 4, events })
  })

  it("partial records (fields=category&fields=files&fields=data) decode; the SDK asks for the id as well", async () => {
    await serve((req) => {
      if (req.path !== `${API}/sdk/ground_truth_events/`) return undefined
      // A dynamic-fields serializer: only the fields named, `id` only if it is named too.
      const fields = req.query.getAll("fields").flatMap((f) => f.split(","))
      const events = [EVENT_E, { ...EVENT_E, id: 902, category: "test" }]
      return { json: onePage(fields.length > 0 ? events.map((e) => pick(e, fields)) : events) }
    })
    const fields = ["category", "files", "data"]
    // Without a selection, the whole records.
    const whole = ok(
      await run(Effect.flatMap(GroundTruths, (g) => g.listEvents({ ground_truth_dataset_versions: [303] })))
    )
    expect(whole.results.map((e) => e.id)).toStrictEqual([901, 902])
    expect(server!.requests.at(-1)!.query.getAll("fields")).toStrictEqual([])
    const partial = ok(
      await run(
        Effect.flatMap(GroundTruths, (g) => g.listEvents({ ground_truth_dataset_versions: [303], extra: { fields } }))
      )
    )
    expect(partial).toStrictEqual({
      results: [pick(EVENT_E, ["id", ...fields]), { ...pick(EVENT_E, ["id", ...fields]), id: 902, category: "test" }],
      count: 2
    })
    const sent = server!.requests.at(-1)!
    expect(sent.query.getAll("fields")).toStrictEqual([...fields, "id"])
    expect(sent.query.getAll("ground_truth_dataset_versions")).toStrictEqual(["303"])
    // A selection that names the id already, or comma-joined, is sent as given.
    ok(await run(Effect.flatMap(GroundTruths, (g) => g.listEvents({ extra: { fields: "id,category" } }))))
    expect(server!.requests.at(-1)!.query.getAll("fields")).toStrictEqual(["id,category"])
  })

  it("dataset versions with id, name and is_archived only: list, stream and get", async () => {
    const versions = [VERSION_E, { id: 304 }, { id: 305, name: null, is_archived: true, snapshot_of: 303 }]
    await serve((req) => {
      if (req.path === `${API}/ground_truth_dataset_versions/`) return { json: onePage(versions) }
      const one = /^\/api\/v1\/ground_truth_dataset_versions\/(\d+)\/$/.exec(req.path)
      return one !== null ? { json: versions.find((v) => v.id === Number(one[1])) } : undefined
    })
    expect(ok(await run(Effect.flatMap(GroundTruths, (g) => g.listVersions())))).toStrictEqual({
      results: versions,
      count: 3
    })
    const streamed = ok(await run(Effect.flatMap(GroundTruths, (g) => Stream.runCollect(g.streamVersions()))))
    expect(Chunk.toReadonlyArray(streamed)).toStrictEqual(versions)
    for (const version of versions) {
      expect(ok(await run(Effect.flatMap(GroundTruths, (g) => g.getVersion(version.id))))).toStrictEqual(version)
    }
  })

  it("ground truths with id and files only", async () => {
    const rows = [GROUND_TRUTH_E, { id: 12 }, { id: 13, files: {}, reviewed: true }, {
      id: 14,
      files: null,
      ground_truth_dataset_versions: null
    }]
    await serve((req) => (req.path === `${API}/ground_truths/` ? { json: onePage(rows) } : undefined))
    expect(ok(await run(Effect.flatMap(GroundTruths, (g) => g.list({}, { urlConversion: false }))))).toStrictEqual({
      results: rows,
      count: 4
    })
  })
})
