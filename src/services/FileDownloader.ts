/**
 * The downloader of the file cache: fetches one presigned file URL into a cache file.
 *
 * Guarantees:
 * - Files are requested without auth headers (`SynapseClient.fileClient`): presigned URLs are
 *   authority enough, and a token must never reach a file host.
 * - Bytes are streamed to a temporary file and renamed into place only once complete and verified
 *   (size against `Content-Length` and the entry's `size`, md5/sha256 against its `checksum`);
 *   whatever happens, no partial file stays behind.
 * - A truncated or corrupted download is fetched once more, then fails with a `DecodeError`;
 *   transient failures go through the client's retry policy; at most `concurrency` downloads run at
 *   once across everything this downloader serves.
 * - The host must answer within the connect + read timeouts, and the body must keep flowing (an
 *   idle timeout of the read timeout): a large file may take long, a stalled one never hangs.
 * - A 401/403 from the file host says that a presigned URL may have expired.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Duration, Effect, Predicate, Stream } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs/promises"
import { type Expected, fsError, temporaryName } from "./FileCacheIndex.js"
import type { Service as Client } from "./SynapseClient.js"
import {
  AuthorizationError,
  ConnectionError,
  DecodeError,
  fromResponse,
  stripQuery,
  type SynapseError,
  TimeoutError
} from "./SynapseError.js"

/** Decodes a `data:` URL (base64 or percent-encoded); `undefined` when it is malformed. */
export const decodeDataUrl = (url: string): Buffer | undefined => {
  const comma = url.indexOf(",")
  if (comma === -1) return undefined
  const meta = url.slice(5, comma)
  const payload = url.slice(comma + 1)
  try {
    return meta.split(";").includes("base64")
      ? Buffer.from(decodeURIComponent(payload), "base64")
      : Buffer.from(decodeURIComponent(payload), "utf8")
  } catch {
    return undefined
  }
}

const causeMessage = (cause: unknown): string | undefined =>
  Predicate.hasProperty(cause, "code") && typeof cause.code === "string"
    ? cause.code
    : cause instanceof Error
    ? cause.message
    : undefined

/**
 * Why `bytes` received with these digests are not the file announced, or `undefined` when they
 * are. Every problem is a `truncated` `DecodeError`: the download is worth trying once more.
 */
export const verify = (
  url: string,
  received: { readonly bytes: number; readonly md5: string; readonly sha256: string },
  contentLength: number | undefined,
  expected?: Expected
): DecodeError | undefined => {
  const where = { method: "GET", url: stripQuery(url), truncated: true }
  const { bytes, md5, sha256 } = received
  if (contentLength !== undefined && bytes !== contentLength) {
    return new DecodeError({ ...where, detail: `download truncated: ${bytes} of ${contentLength} bytes received` })
  }
  if (typeof expected?.size === "number" && bytes !== expected.size) {
    return new DecodeError({ ...where, detail: `downloaded ${bytes} bytes, the server announced ${expected.size}` })
  }
  const checksum = typeof expected?.checksum === "string" ? expected.checksum.trim().toLowerCase() : ""
  if (/^[0-9a-f]{32}$/.test(checksum) && checksum !== md5) {
    return new DecodeError({ ...where, detail: `md5 of the download is ${md5}, the server announced ${checksum}` })
  }
  if (/^[0-9a-f]{64}$/.test(checksum) && checksum !== sha256) {
    return new DecodeError({
      ...where,
      detail: `sha256 of the download is ${sha256}, the server announced ${checksum}`
    })
  }
  return undefined
}

/** Fetches file URLs into cache files. */
export interface FileDownloader {
  /** Downloads `url` to `target`: retried, verified, at most `concurrency` at once. */
  readonly fetch: (url: string, target: string, expected?: Expected) => Effect.Effect<void, SynapseError>
}

/** A downloader over `client.fileClient`, at most `concurrency` at once, writing into the cache `dir`. */
export const makeFileDownloader = (client: Client, dir: string, concurrency: number): Effect.Effect<FileDownloader> =>
  Effect.map(Effect.makeSemaphore(Math.max(1, concurrency)), (slots) => {
    const cannotWrite = (cause: unknown) => fsError(`cannot write to the cache directory ${dir}`, cause)

    /** One download attempt into a temporary file; renamed into place only when verified. */
    const fetchOnce = (url: string, target: string, expected?: Expected): Effect.Effect<void, SynapseError> => {
      const where = { method: "GET", url: stripQuery(url) }
      const temp = temporaryName(target)
      const headersTimeout = Duration.sum(client.timeouts.connect, client.timeouts.read)
      return Effect.gen(function*() {
        const response = yield* client.fileClient.execute(HttpClientRequest.get(url)).pipe(
          Effect.mapError((error) =>
            error._tag === "RequestError"
              ? new ConnectionError({
                ...where,
                detail: `file download failed: ${causeMessage(error.cause) ?? error.reason}`
              })
              : new ConnectionError({
                ...where,
                status_code: error.response.status,
                detail: `file download failed (${error.reason})`
              })
          ),
          Effect.timeoutFail({
            duration: headersTimeout,
            onTimeout: () =>
              new TimeoutError({
                ...where,
                detail: "the file host did not answer in time",
                timeoutMs: Duration.toMillis(headersTimeout)
              })
          })
        )
        if (response.status < 200 || response.status >= 300) {
          const body = yield* Effect.orElseSucceed(response.text, () => "")
          const error = fromResponse({ status: response.status, body, ...where })
          if (error._tag === "AuthorizationError") {
            return yield* Effect.fail(
              new AuthorizationError({
                ...error,
                detail:
                  `the file host refused the download (${error.detail}); a presigned URL may have expired: fetch the resource again for a fresh one`
              })
            )
          }
          return yield* Effect.fail(error)
        }
        const lengthHeader = response.headers["content-length"]
        const contentLength = lengthHeader !== undefined && /^\d+$/.test(lengthHeader)
          ? Number(lengthHeader)
          : undefined
        const md5 = createHash("md5")
        const sha256 = createHash("sha256")
        let bytes = 0
        const handle = yield* Effect.tryPromise({ try: () => fs.open(temp, "wx"), catch: cannotWrite })
        yield* response.stream.pipe(
          Stream.mapError((error) =>
            new ConnectionError({
              ...where,
              status_code: response.status,
              detail: `the download broke off after ${bytes} bytes (${error.reason})`
            })
          ),
          // an idle timeout: a large file may take long, a stalled one must not hang forever
          Stream.timeoutFail(
            () =>
              new TimeoutError({
                ...where,
                detail: `the download stalled after ${bytes} bytes`,
                timeoutMs: Duration.toMillis(client.timeouts.read)
              }),
            client.timeouts.read
          ),
          Stream.runForEach((chunk) =>
            Effect.tryPromise({
              try: async () => {
                md5.update(chunk)
                sha256.update(chunk)
                bytes += chunk.length
                await handle.write(chunk)
              },
              catch: cannotWrite
            })
          ),
          Effect.ensuring(Effect.promise(() => handle.close().catch(() => undefined)))
        )
        const problem = verify(
          url,
          { bytes, md5: md5.digest("hex"), sha256: sha256.digest("hex") },
          contentLength,
          expected
        )
        if (problem !== undefined) return yield* Effect.fail(problem)
        yield* Effect.tryPromise({ try: () => fs.rename(temp, target), catch: cannotWrite })
      }).pipe(
        // whatever happened, no partial file stays behind
        Effect.ensuring(Effect.promise(() => fs.rm(temp, { force: true }).catch(() => undefined)))
      )
    }

    const fetch = (url: string, target: string, expected?: Expected) =>
      slots.withPermits(1)(
        client.retry(
          Effect.retry(fetchOnce(url, target, expected), {
            times: 1,
            while: (error) => error._tag === "DecodeError" && error.truncated === true
          })
        )
      )

    return { fetch }
  })
