/**
 * Starting and stopping a sandbox in-process: the entry point for tests, the MCP server, the CLI
 * and benchmarks. A sandbox is a real HTTP server on a real socket backed by SQLite in a data
 * directory; its API base URL is `http://<host>:<port>/api/v1` (paths below it as in docs/wire-protocol.md:
 * `models/`, `sdk/ground_truth_events/`, …), files are served under `/media/…` (presigned), and
 * test/ops endpoints under `/_sandbox/…` (`stats`, `faults`, `health`).
 *
 * Effect callers use `start(options)` (scoped: the server stops when the scope closes);
 * everyone else uses `startSandbox(options)`, which returns a handle with `close()`.
 *
 * The token defaults to `SANDBOX_DEV_TOKEN` (documented, fixed: this is a local development
 * backend bound to 127.0.0.1 by default), or `$SYNAPSE_SANDBOX_TOKEN` when set. Options left unset
 * come from the `SYNAPSE_SANDBOX_*` variables (`environment`), read through Effect `Config` from
 * the `ConfigProvider` in force.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { HttpServer } from "@effect/platform"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Cause, Config, Data, Effect, Exit, Option, Scope } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { stderrLoggerLayer } from "../platform/Logging.js"
import { SANDBOX_PROFILES, type SandboxContext, type SandboxProfile, SandboxStats } from "./Context.js"
import { defaultDataDir, prepareDataDir, type SeedKind } from "./DataDir.js"
import { FaultInjector, parseFaultSpec } from "./Faults.js"
import * as PagePool from "./PagePool.js"
import { API_PREFIX, DEFAULT_BODY_TIMEOUT_MS, makeApp, nodeServerTimeouts } from "./Server.js"

/** The sandbox's settings from the environment, used where the options are silent. */
export interface SandboxEnvironment {
  /** `SYNAPSE_SANDBOX_DIR`, trimmed; unset or blank leaves the per-user default. */
  readonly dataDir: string | undefined
  /** `SYNAPSE_SANDBOX_TOKEN`; unset or empty leaves `SANDBOX_DEV_TOKEN`. */
  readonly token: string | undefined
  /** `SYNAPSE_SANDBOX_PROFILE`, unchecked (`start` refuses an unknown one, naming the variable). */
  readonly profile: string | undefined
  /** `SYNAPSE_SANDBOX_FAULTS`: the fault spec. */
  readonly faults: string | undefined
  /** `XDG_DATA_HOME`: the base of the per-user default data directory. */
  readonly xdgDataHome: string | undefined
}

const optionalVar = (name: string, keep: (text: string) => boolean) =>
  Config.string(name).pipe(Config.option, Config.map((value) => Option.getOrUndefined(Option.filter(value, keep))))

/** The `SYNAPSE_SANDBOX_*` settings as one Effect `Config`. */
export const environment: Config.Config<SandboxEnvironment> = Config.all({
  dataDir: optionalVar("SYNAPSE_SANDBOX_DIR", (text) => text.trim() !== "").pipe(Config.map((dir) => dir?.trim())),
  // Not trimmed: a token of spaces is refused rather than replaced.
  token: optionalVar("SYNAPSE_SANDBOX_TOKEN", (text) => text !== ""),
  profile: optionalVar("SYNAPSE_SANDBOX_PROFILE", () => true),
  faults: optionalVar("SYNAPSE_SANDBOX_FAULTS", () => true),
  xdgDataHome: optionalVar("XDG_DATA_HOME", (text) => text.trim() !== "")
})

/** The token a sandbox accepts unless told otherwise. */
export const SANDBOX_DEV_TOKEN = "synapse-sandbox-dev-token"

/** The most page threads a sandbox may be asked to run. */
export const MAX_PAGE_THREADS = 16

/** The default upload size limit: 5 GiB. */
export const DEFAULT_MAX_UPLOAD_BYTES = 5 * 1024 ** 3

/** How to start a sandbox. Every field is optional. */
export interface SandboxOptions {
  /** TCP port; 0 (the default) picks a free ephemeral port. */
  readonly port?: number | undefined
  /** Interface to bind; default `127.0.0.1`. */
  readonly host?: string | undefined
  /**
   * Data directory; default `$SYNAPSE_SANDBOX_DIR`, else the per-user
   * `$XDG_DATA_HOME/synapse-ml/sandbox` (`~/.local/share/synapse-ml/sandbox`).
   */
  readonly dataDir?: string | undefined
  /** Data set for a new data directory (an existing one is served as it is); default `demo`. */
  readonly seed?: SeedKind | undefined
  /** Seed of the data generators and of fault injection; default 42. */
  readonly randSeed?: number | undefined
  /** Number of events for the `large` seed. */
  readonly events?: number | undefined
  /** Access token; default `$SYNAPSE_SANDBOX_TOKEN` or `SANDBOX_DEV_TOKEN`. */
  readonly token?: string | undefined
  /** Answer shapes: `rich` or `evidence`; default `$SYNAPSE_SANDBOX_PROFILE` or `rich`. */
  readonly profile?: SandboxProfile | undefined
  /** Fault spec (see `Faults.ts`); default `$SYNAPSE_SANDBOX_FAULTS` or none. */
  readonly faults?: string | undefined
  /** Upload size limit in bytes (413 above it); default 5 GiB. */
  readonly maxUploadBytes?: number | undefined
  /** Seconds until an unfinished upload expires; default 24 h. */
  readonly uploadExpirySeconds?: number | undefined
  /** Milliseconds a request's headers or body may stop arriving before a `408`; default 30 000. */
  readonly bodyTimeoutMs?: number | undefined
  /**
   * Most threads reading and rendering event pages at once (each started when a page request finds
   * the others busy); default the number of cores, at most 4.
   */
  readonly pageThreads?: number | undefined
  /** Called while seeding a new directory. */
  readonly onSeedProgress?: ((done: number, total: number) => void) | undefined
}

/** A running sandbox. */
export interface SandboxInfo {
  /** API base URL, e.g. `http://127.0.0.1:41234/api/v1` (no trailing slash). */
  readonly url: string
  /** `http://host:port`, where `/media/…` and `/_sandbox/…` live. */
  readonly origin: string
  readonly port: number
  readonly token: string
  /** The answer shapes served. */
  readonly profile: SandboxProfile
  readonly dataDir: string
  /** Whether this start seeded the data directory (false: existing data served). */
  readonly seeded: boolean
}

/** The sandbox could not start (bad options, unusable data directory, port in use). */
export class SandboxError
  extends Data.TaggedError("SandboxError")<{ readonly detail: string; readonly cause?: unknown }>
{
  override get message(): string {
    return this.detail
  }
}

/**
 * Reads a profile name from `source` (an option or variable name, for the message): `undefined`
 * when unset (or blank, unless `blankIsUnset` is false: an option given as `""`), a
 * `SandboxError` naming the source and the known profiles when unknown.
 */
export const parseProfile = (
  raw: string | undefined,
  source: string,
  options: { readonly blankIsUnset?: boolean } = {}
): Effect.Effect<SandboxProfile | undefined, SandboxError> => {
  const value = raw?.trim()
  if (value === undefined || (value === "" && options.blankIsUnset !== false)) return Effect.succeed(undefined)
  return (SANDBOX_PROFILES as ReadonlyArray<string>).includes(value)
    ? Effect.succeed(value as SandboxProfile)
    : Effect.fail(
      new SandboxError({
        detail: `${source} must be one of ${SANDBOX_PROFILES.join(", ")}, got ${JSON.stringify(raw)}`
      })
    )
}

/**
 * Requests that Node refuses before any handler runs (a URL or headers over its 16 KB limit, e.g. a
 * very long search string; a malformed request line) get a JSON body like every other error,
 * instead of Node's bare status line.
 */
const withJsonClientErrors = (server: Http.Server): Http.Server =>
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    if (error.code === "ECONNRESET" || !socket.writable) {
      socket.destroy()
      return
    }
    const [status, reason, detail] = error.code === "HPE_HEADER_OVERFLOW"
      ? [
        431,
        "Request Header Fields Too Large",
        "The request line and headers are over 16 KB: shorten the query string (e.g. a long search)."
      ]
      : [400, "Bad Request", "Malformed HTTP request."]
    const body = JSON.stringify({ detail })
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${
        Buffer.byteLength(body)
      }\r\nConnection: close\r\n\r\n${body}`
    )
  })

/**
 * Starts a sandbox for the lifetime of the current scope. Prepares (and on first use seeds) the
 * data directory, opens SQLite, binds the socket and serves until the scope closes.
 */
export const start = Effect.fn("Sandbox.start")(function*(options: SandboxOptions = {}) {
  const host = options.host ?? "127.0.0.1"
  const randSeed = options.randSeed ?? 42
  // A variable that is set is text: reading it cannot fail.
  const env = yield* Effect.orDie(environment)
  const token = options.token ?? env.token ?? SANDBOX_DEV_TOKEN
  if (token.trim() === "") return yield* new SandboxError({ detail: "the sandbox token must not be empty" })
  // Checked up front: Node throws on a port out of range (a defect with a stack trace, after the
  // data directory was already seeded), and a negative limit or count would be taken silently.
  const whole = (name: string, value: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER) =>
    value === undefined || (Number.isInteger(value) && value >= min && value <= max)
      ? Effect.void
      : Effect.fail(new SandboxError({ detail: `${name} must be a whole number from ${min} to ${max}, got ${value}` }))
  yield* whole("port", options.port, 0, 65535)
  yield* whole("events", options.events, 1)
  yield* whole("max upload bytes", options.maxUploadBytes, 0)
  yield* whole("upload expiry seconds", options.uploadExpirySeconds, 1)
  yield* whole("body timeout ms", options.bodyTimeoutMs, 100)
  yield* whole("page threads", options.pageThreads, 1, MAX_PAGE_THREADS)
  const profile: SandboxProfile = (yield* parseProfile(options.profile, "the sandbox profile")) ??
    (yield* parseProfile(env.profile, "SYNAPSE_SANDBOX_PROFILE")) ??
    "rich"
  const faultSpec = yield* Effect.try({
    try: () => parseFaultSpec(options.faults ?? env.faults),
    catch: (cause) =>
      new SandboxError({ detail: `bad fault spec: ${cause instanceof Error ? cause.message : String(cause)}`, cause })
  })
  const data = yield* Effect.try({
    try: () =>
      prepareDataDir({
        dataDir: options.dataDir ?? env.dataDir ?? defaultDataDir(env.xdgDataHome),
        seed: options.seed ?? "demo",
        randSeed,
        events: options.events,
        onProgress: options.onSeedProgress
      }),
    catch: (cause) =>
      new SandboxError({
        detail: `cannot prepare the data directory: ${cause instanceof Error ? cause.message : String(cause)}`,
        cause
      })
  })
  const sql = yield* SqliteClient.make({ filename: data.dbPath, prepareCacheSize: 500 }).pipe(
    Effect.provide(Reactivity.layer)
  )
  yield* sql.unsafe("PRAGMA busy_timeout = 5000").pipe(Effect.orDie)
  yield* sql.unsafe("PRAGMA foreign_keys = ON").pipe(Effect.orDie)
  // Unfinished uploads past their expiry only answer 410 from now on: free their bytes.
  const expired = yield* sql
    .unsafe<{ id: string }>("SELECT id FROM chunked_uploads WHERE status = 'uploading' AND expires_at < ?", [
      new Date().toISOString()
    ])
    .pipe(Effect.orDie)
  for (const { id } of expired) Fs.rmSync(Path.join(data.uploadsDir, `${id}.part`), { force: true })
  const pages = yield* PagePool.make(
    { dbPath: data.dbPath, secret: data.secret, profile },
    options.pageThreads ?? Math.min(4, Os.availableParallelism())
  )
  const ctx: SandboxContext = {
    sql,
    data,
    token,
    profile,
    faults: new FaultInjector(faultSpec, randSeed),
    stats: new SandboxStats(),
    pages,
    maxUploadBytes: options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES,
    uploadExpirySeconds: options.uploadExpirySeconds ?? 24 * 3600,
    bodyTimeoutMs: options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
    origin: "",
    counts: new Map(),
    seeks: new Map(),
    dataVersion: { value: -1 }
  }
  const server = yield* NodeHttpServer.make(
    () =>
      withJsonClientErrors(
        Http.createServer({ keepAliveTimeout: 5_000, ...nodeServerTimeouts(ctx.bodyTimeoutMs) })
      ),
    {
      port: options.port ?? 0,
      host
    }
  ).pipe(
    Effect.mapError((cause) =>
      new SandboxError({ detail: `cannot listen on ${host}:${options.port ?? 0}: ${String(cause.cause)}`, cause })
    )
  )
  const address = server.address
  const port = address._tag === "TcpAddress" ? address.port : 0
  const urlHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host
  ctx.origin = `http://${urlHost}:${port}`
  // Logs from request handling go to stderr: the MCP server embeds the sandbox and owns stdout.
  yield* HttpServer.serveEffect(makeApp(ctx)).pipe(
    Effect.provideService(HttpServer.HttpServer, server),
    Effect.provide(stderrLoggerLayer)
  )
  return {
    url: `${ctx.origin}${API_PREFIX}`,
    origin: ctx.origin,
    port,
    token,
    profile: ctx.profile,
    dataDir: data.dataDir,
    seeded: data.seeded
  } satisfies SandboxInfo
})

/** A running sandbox started with `startSandbox`. */
export interface SandboxHandle extends SandboxInfo {
  /** Stops the server and closes the database. */
  readonly close: () => Promise<void>
}

/** Starts a sandbox for non-Effect callers; `close()` stops it. */
export const startSandbox = async (options: SandboxOptions = {}): Promise<SandboxHandle> => {
  const scope = Effect.runSync(Scope.make())
  const exit = await Effect.runPromiseExit(start(options).pipe(Scope.extend(scope)))
  if (Exit.isFailure(exit)) {
    await Effect.runPromise(Scope.close(scope, exit))
    // The SandboxError itself (an Error with a readable message), not a rendering of the Cause.
    throw Cause.squash(exit.cause)
  }
  let closed = false
  return {
    ...exit.value,
    close: async () => {
      if (closed) return
      closed = true
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
}
