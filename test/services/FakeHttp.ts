/**
 * A scripted `HttpClient` for exact assertions on what the SDK sends (headers, URLs, attempts) and
 * on how it treats each kind of answer. Each request is recorded, then answered by the handler,
 * which gets the attempt number (1-based) across the whole client.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Effect, Layer, Redacted } from "effect"
import * as SynapseClient from "../../src/services/SynapseClient.js"

/** What the fake saw of one request. */
export interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
}

/** An answer: a web `Response`, or an effect (to fail with a transport error or never answer). */
export type Answer = Response | Effect.Effect<Response, HttpClientError.HttpClientError>

/** Builds a fake client around `handler`. */
export const fakeHttp = (
  handler: (request: HttpClientRequest.HttpClientRequest, url: URL, attempt: number) => Answer
) => {
  const seen: Array<Seen> = []
  const client = HttpClient.make((request, url) =>
    Effect.suspend(() => {
      seen.push({ method: request.method, url: url.toString(), headers: { ...request.headers } })
      const answer = handler(request, url, seen.length)
      const effect = answer instanceof Response ? Effect.succeed(answer) : answer
      return Effect.map(effect, (response) => HttpClientResponse.fromWeb(request, response))
    })
  )
  return { seen, client, layer: Layer.succeed(HttpClient.HttpClient, client) }
}

/** A JSON response. */
export const jsonResponse = (body: unknown, status = 200, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } })

/** A connection reset while sending the request. */
export const reset = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.fail(
    new HttpClientError.RequestError({
      request,
      reason: "Transport",
      cause: Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })
    })
  )

/** The access token the fake tests configure. */
export const TOKEN = "s3cr3t-access-token-123"

/** A `SynapseClient` layer over the fake, with fast retries unless told otherwise. */
export const clientLayer = (fake: ReturnType<typeof fakeHttp>, options: Partial<SynapseClient.Options> = {}) =>
  SynapseClient.layer({ baseUrl: "https://synapse.test/api/v1/", accessToken: Redacted.make(TOKEN), ...options }).pipe(
    Layer.provide(fake.layer)
  )
