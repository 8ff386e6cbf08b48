/**
 * The call deadline and the first warning against real dead backends over real sockets: a closed
 * port (connections refused) and a server that accepts connections and never answers. Each call
 * must end within its deadline with an error saying how long it tried, and say once, on the log, that
 * the backend is unreachable and that it is retrying.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { ConfigProvider, Effect, Layer, Logger, LogLevel, Redacted, Schema } from "effect"
import * as Net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { GroundTruths } from "../../src/services/GroundTruths.js"
import { Models } from "../../src/services/Models.js"
import * as Synapse from "../../src/services/Synapse.js"
import * as SynapseClient from "../../src/services/SynapseClient.js"
import type { SynapseError } from "../../src/services/SynapseError.js"
import { API, type ScriptedServer, startScriptedServer } from "../support/scriptedServer.js"

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
const closedPort = async (): Promise<number> => {
  const server = Net.createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as Net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** A server that accepts every connection and never writes a byte. */
const silentServer = async () => {
  const sockets = new Set<Net.Socket>()
  const server = Net.createServer((socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
    socket.on("error", () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as Net.AddressInfo
  return {
    url: `http://127.0.0.1:${port}${API}`,
    connections: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}

interface Logged {
  readonly level: string
  readonly message: string
}

/** Runs `effect` with `layer`, timing it and keeping every log line at debug level and above. */
const timed = async <A>(
  effect: Effect.Effect<A, SynapseError, any>,
  layer: Layer.Layer<any, any>
) => {
  const logs: Array<Logged> = []
  const logger = Logger.make<unknown, void>(({ logLevel, message }) => {
    logs.push({ level: logLevel.label, message: (Array.isArray(message) ? message : [message]).join(" ") })
  })
  const started = Date.now()
  const result = await Effect.runPromise(
    Effect.flip(effect).pipe(
      Effect.provide(layer),
      Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
      Logger.withMinimumLogLevel(LogLevel.Debug)
    ) as Effect.Effect<SynapseError, never, never>
  )
  const warnings = logs.filter((l) => l.level === "WARN").map((l) => l.message)
  return { error: result, seconds: (Date.now() - started) / 1000, warnings }
}

const clientLayer = (options: SynapseClient.Options) =>
  SynapseClient.layer(options).pipe(Layer.provide(NodeHttpClient.layer), Layer.orDie)

const Anything = Schema.Unknown

describe("a call against a closed port", () => {
  let url: string
  beforeAll(async () => {
    url = `http://127.0.0.1:${await closedPort()}${API}`
  })

  it("retries within the deadline, then fails with the ConnectionError saying how long it tried; warns once", async () => {
    const { error, seconds, warnings } = await timed(
      Effect.flatMap(SynapseClient.SynapseClient, (c) => c.json(HttpClientRequest.get("models/"), Anything)),
      clientLayer({ baseUrl: url, deadline: "2 seconds" })
    )
    expect(error._tag).toBe("ConnectionError")
    expect(error.detail).toMatch(
      /^the connection was refused \(ECONNREFUSED\): is the server running\?; gave up after \d+ attempts in \d\.\d s$/
    )
    expect(error).toMatchObject({ method: "GET", url: `${url}/models/` })
    const attempts = Number(/after (\d+) attempts/.exec(error.detail)![1])
    // the default schedule's waits (250 ms, 500 ms, 1 s … with jitter) that fit in 2 s
    expect(attempts).toBeGreaterThanOrEqual(3)
    // bounded by the deadline (with slack for a loaded machine), where the schedule alone takes ~13 s
    expect(seconds).toBeLessThan(3)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(
      new RegExp(
        `^backend ${url} unreachable \\(the connection was refused \\(ECONNREFUSED\\): is the server running\\?\\); ` +
          "retrying for up to [12]\\.\\d s$"
      )
    )
  })

  it("SYNAPSE_DEADLINE bounds Models.list through the environment's layer", async () => {
    const layer = Synapse.layerConfig().pipe(
      Layer.provide(NodeHttpClient.layer),
      Layer.orDie,
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(
        new Map([["SYNAPSE_BASE_URL", url], ["SYNAPSE_ACCESS_TOKEN", "t0ken-for-the-test"], ["SYNAPSE_DEADLINE", "1"]])
      )))
    )
    const { error, seconds } = await timed(Effect.flatMap(Models, (m) => m.list()), layer)
    expect(error._tag).toBe("ConnectionError")
    expect(error.detail).toContain("ECONNREFUSED")
    expect(seconds).toBeLessThan(2.5)
  })

  it("a POST is not retried: one attempt, no warning, no effort added", async () => {
    const { error, warnings } = await timed(
      Effect.flatMap(SynapseClient.SynapseClient, (c) => c.json(HttpClientRequest.post("models/"), Anything)),
      clientLayer({ baseUrl: url, deadline: "2 seconds" })
    )
    expect(error).toMatchObject({
      _tag: "ConnectionError",
      detail: "the connection was refused (ECONNREFUSED): is the server running?"
    })
    expect(warnings).toStrictEqual([])
  })
})

describe("a call against a server that accepts and never answers", () => {
  let silent: Awaited<ReturnType<typeof silentServer>>
  beforeAll(async () => {
    silent = await silentServer()
  })
  afterAll(() => silent.close())

  it("with the default attempt timeout (20 s): a TimeoutError at the deadline, naming it", async () => {
    const { error, seconds, warnings } = await timed(
      Effect.flatMap(SynapseClient.SynapseClient, (c) => c.json(HttpClientRequest.get("models/"), Anything)),
      clientLayer({ baseUrl: silent.url, deadline: "1500 millis" })
    )
    expect(error).toMatchObject({
      _tag: "TimeoutError",
      detail: "no complete answer within the call's deadline of 1.5 s (1 attempt)",
      method: "GET",
      url: `${silent.url}/models/`,
      timeoutMs: 1500
    })
    expect(seconds).toBeGreaterThanOrEqual(1.4)
    expect(seconds).toBeLessThan(3)
    // the attempt was the deadline's: nothing was retried, so nothing to warn about
    expect(warnings).toStrictEqual([])
  })

  it("with short attempts: retried until the deadline, warned once", async () => {
    const { error, seconds, warnings } = await timed(
      Effect.flatMap(GroundTruths, (g) => g.listVersions()),
      Synapse.layer({
        baseUrl: silent.url,
        accessToken: Redacted.make("t0ken-for-the-test"),
        timeouts: { connect: "100 millis", read: "300 millis" },
        deadline: "2 seconds"
      }).pipe(Layer.provide(NodeHttpClient.layer), Layer.orDie)
    )
    expect(error._tag).toBe("TimeoutError")
    // the last attempt ended by the deadline, or no retry's wait fitting before it
    expect(error.detail).toMatch(
      /^no complete answer within (the call's deadline of 2 s \(\d+ attempts\)|400ms; gave up after \d+ attempts in \d\.\d s)$/
    )
    expect(seconds).toBeGreaterThanOrEqual(1.5)
    expect(seconds).toBeLessThan(3)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(
      new RegExp(
        `^backend ${silent.url} unreachable \\(no complete answer within 400ms\\); retrying for up to 1\\.\\d s$`
      )
    )
  })
})

describe("a server that answers", () => {
  let server: ScriptedServer
  beforeAll(async () => {
    server = await startScriptedServer(() => ({ json: { count: 0, next: null, previous: null, results: [] } }))
  })
  afterAll(() => server.close())

  it("is not slowed or warned about by the deadline", async () => {
    const logs: Array<string> = []
    const page = await Effect.runPromise(
      Effect.flatMap(Models, (m) => m.list()).pipe(
        Effect.provide(
          Synapse.layer({ baseUrl: server.url, deadline: "1 second" }).pipe(
            Layer.provide(NodeHttpClient.layer),
            Layer.orDie
          )
        ),
        Effect.provide(Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => logs.push(String(message)))))
      )
    )
    expect(page).toStrictEqual({ results: [], count: 0 })
    expect(logs).toStrictEqual([])
  })
})
