/**
 * The public entry point, used the way the README shows: namespaces from `src/index.ts`,
 * `Synapse.layerConfig()` from the environment, `NodeHttpClient.layer`, every read call against a
 * real sandbox.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { ConfigProvider, Effect, Stream } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { expect, it } from "vitest"
import { GroundTruths, Models, Synapse, SynapseClient } from "../../src/index.js"
import { useSandbox } from "../support/sandbox.js"

const sandbox = useSandbox()

it("every read operation runs through Synapse.layerConfig() + NodeHttpClient.layer", async () => {
  const cacheDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-public-"))
  const env = new Map([
    ["SYNAPSE_BASE_URL", `${sandbox().url}/`],
    ["SYNAPSE_ACCESS_TOKEN", sandbox().token],
    ["SYNAPSE_CACHE_DIR", cacheDir],
    ["SYNAPSE_UPLOAD_STATE_DIR", Path.join(cacheDir, "uploads")]
  ])
  const program = Effect.gen(function*() {
    const client = yield* SynapseClient.SynapseClient
    const models = yield* Models.Models
    const gts = yield* GroundTruths.GroundTruths
    const list = yield* models.list({ page_size: 2 })
    const streamed = yield* Stream.runCount(models.stream())
    const model = yield* models.get(list.results[0]!.id, { params: { expand: "metrics" } })
    const events = yield* gts.listEvents({ page_size: 3 })
    const firstTen = yield* Stream.runCollect(gts.streamEvents().pipe(Stream.take(10)))
    const all = yield* gts.listAllEvents({ page_size: 1000 })
    const groundTruths = yield* gts.list({ page_size: 2 }, { urlConversion: false })
    const gtCount = yield* Stream.runCount(gts.stream({ page_size: 200 }, { urlConversion: false }))
    const versions = yield* gts.listVersions()
    const version = yield* gts.getVersion(versions.results[0]!.id)
    return { client, list, streamed, model, events, firstTen, all, groundTruths, gtCount, versions, version }
  })
  const out = await Effect.runPromise(
    program.pipe(
      Effect.provide(Synapse.layerConfig()),
      Effect.provide(NodeHttpClient.layer),
      Effect.withConfigProvider(ConfigProvider.fromMap(env))
    )
  )
  expect(out.client.baseUrl).toBe(sandbox().url)
  expect(out.list.results).toHaveLength(2)
  expect(out.streamed).toBe(out.list.count)
  expect(out.model.id).toBe(out.list.results[0]!.id)
  expect(out.events.results).toHaveLength(3)
  expect(out.firstTen.length).toBe(10)
  expect(out.all.count).toBe(out.events.count)
  expect(out.groundTruths.results).toHaveLength(2)
  expect(out.gtCount).toBe(out.groundTruths.count)
  expect(out.version).toStrictEqual(out.versions.results[0])
})
