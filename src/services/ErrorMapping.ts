/**
 * Transport failures into the `SynapseError` union: an `HttpClientError` (a refused or broken
 * connection, a body that could not be read or encoded) and a non-2xx answer each become one of the
 * SDK's error classes, with the method and the URL without its query. Only strings are kept: a
 * request (and its auth headers) is never stored in an error. What a status means is
 * `SynapseError.fromResponse`; this module adds the transport's side.
 */
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Clock, Effect, Predicate } from "effect"
import {
  ConnectionError,
  DecodeError,
  fromResponse,
  stripQuery,
  type SynapseError,
  type TimeoutError,
  ValidationError
} from "./SynapseError.js"

/** Error codes of a backend that cannot be reached at all (as opposed to a connection that broke). */
const UNREACHABLE_CODES = ["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "ETIMEDOUT"]

/** A transport failure's cause in words, with its code. */
export const causeText = (cause: unknown): string => {
  if (Predicate.hasProperty(cause, "code") && typeof cause.code === "string") {
    const code = cause.code
    if (code === "ECONNRESET") return "the connection was reset (ECONNRESET)"
    if (code === "ECONNREFUSED") return "the connection was refused (ECONNREFUSED): is the server running?"
    if (code === "ENOTFOUND") return "the host name does not resolve (ENOTFOUND)"
    if (code === "EPIPE") return "the connection was closed while sending (EPIPE)"
    if (code === "UND_ERR_SOCKET" || code === "ERR_STREAM_PREMATURE_CLOSE") {
      return `the connection closed early (${code})`
    }
    return `connection failure (${code})`
  }
  if (cause instanceof Error) {
    return cause.message === "aborted"
      ? "the connection closed before the answer was complete"
      : cause.message
  }
  return String(cause)
}

/**
 * Whether an error says the backend cannot be reached: a connection refused, a host that does not
 * resolve or route, or no answer at all within the per-attempt timeout. A connection that broke
 * mid-answer, or any HTTP status, is not: the backend is there.
 */
export const isUnreachable = (error: SynapseError): error is ConnectionError | TimeoutError =>
  (error._tag === "TimeoutError" && error.status_code === undefined) ||
  (error._tag === "ConnectionError" && error.status_code === undefined &&
    UNREACHABLE_CODES.some((code) => error.detail.includes(`(${code})`)))

/** Maps an `HttpClientError` to the union. */
export const fromHttpClientError = (error: HttpClientError.HttpClientError): SynapseError => {
  const method = error.request.method
  const url = stripQuery(error.request.url)
  if (error._tag === "RequestError") {
    switch (error.reason) {
      case "InvalidUrl":
        return new ValidationError({ detail: `invalid request URL: ${url}`, field: "url", method, url })
      case "Encode":
        return new ValidationError({
          detail: `the request body could not be encoded: ${causeText(error.cause)}`,
          method,
          url
        })
      case "Transport":
        return new ConnectionError({ detail: causeText(error.cause), method, url })
    }
  }
  switch (error.reason) {
    case "StatusCode":
      return fromResponse({ status: error.response.status, body: "", method, url })
    case "EmptyBody":
      return new DecodeError({
        status_code: error.response.status,
        detail: "the server answered with an empty body",
        method,
        url
      })
    case "Decode":
      return new ConnectionError({
        status_code: error.response.status,
        detail: `reading the answer failed: ${causeText(error.cause)}`,
        method,
        url
      })
  }
}

/**
 * A 2xx answer as is; any other status as its error, read from the answer's body (its `detail`, its
 * field errors, `Retry-After`), for the request `method` on `url`.
 */
export const checkStatus = (
  response: HttpClientResponse.HttpClientResponse,
  method: string,
  url: string
): Effect.Effect<HttpClientResponse.HttpClientResponse, SynapseError> => {
  if (response.status >= 200 && response.status < 300) return Effect.succeed(response)
  return response.text.pipe(
    Effect.orElseSucceed(() => ""),
    Effect.flatMap((body) =>
      Effect.flatMap(Clock.currentTimeMillis, (nowMs) =>
        Effect.fail(fromResponse({
          status: response.status,
          body,
          retryAfter: response.headers["retry-after"],
          method,
          url,
          nowMs
        })))
    )
  )
}
