/**
 * The SDK wired to a test sandbox over a real socket (`NodeHttpClient.layer`), recording the full
 * URL of every request the SDK sends so tests can assert the query string as well as the answer.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Effect, Layer, Option, Redacted, Schedule } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Synapse from "../../src/services/Synapse.js"
import type { TestSandbox } from "../support/sandbox.js"

/** An SDK layer against `sandbox`, a list of sent URLs, and its cache directory. */
export const sandboxSdk = (
  sandbox: TestSandbox,
  options: { readonly cacheDir?: string; readonly fastRetry?: boolean } = {}
) => {
  const sent: Array<string> = []
  const cacheDir = options.cacheDir ?? Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-cache-"))
  const layer = Synapse.layer({
    baseUrl: sandbox.url,
    accessToken: Redacted.make(sandbox.token),
    fileCache: { dir: cacheDir },
    chunkedUpload: { stateDir: Path.join(cacheDir, "uploads") },
    ...(options.fastRetry === true
      ? { retry: Schedule.exponential("5 millis").pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(10))) }
      : {}),
    transformClient: HttpClient.tapRequest((request) =>
      Effect.sync(() => {
        const url = HttpClientRequest.toUrl(request)
        sent.push(Option.isSome(url) ? url.value.toString() : request.url)
      })
    )
  }).pipe(Layer.provide(NodeHttpClient.layer))
  return { layer, sent, cacheDir }
}

/** The query parameters of a sent URL, as `[key, value]` pairs in order. */
export const queryOf = (url: string): Array<[string, string]> => [...new URL(url).searchParams.entries()]
