/**
 * `ErrorMapping`: transport failures and statuses into the SDK's errors, and which of them mean the
 * backend cannot be reached (the ones the first warning is about).
 */
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { describe, expect, it } from "vitest"
import { causeText, fromHttpClientError, isUnreachable } from "../../src/services/ErrorMapping.js"
import { ConnectionError, ServerError, TimeoutError, ValidationError } from "../../src/services/SynapseError.js"

const request = HttpClientRequest.get("https://synapse.test/api/v1/files/1/?signature=secret")
const transport = (code: string) =>
  new HttpClientError.RequestError({ request, reason: "Transport", cause: Object.assign(new Error(code), { code }) })

describe("fromHttpClientError", () => {
  it("a refused connection is a ConnectionError without the query", () => {
    expect(fromHttpClientError(transport("ECONNREFUSED"))).toStrictEqual(
      new ConnectionError({
        detail: "the connection was refused (ECONNREFUSED): is the server running?",
        method: "GET",
        url: "https://synapse.test/api/v1/files/1/"
      })
    )
  })

  it("a body that cannot be encoded is a ValidationError", () => {
    const error = fromHttpClientError(
      new HttpClientError.RequestError({ request, reason: "Encode", cause: new Error("cyclic") })
    )
    expect(error).toStrictEqual(
      new ValidationError({
        detail: "the request body could not be encoded: cyclic",
        method: "GET",
        url: "https://synapse.test/api/v1/files/1/"
      })
    )
  })
})

describe("causeText", () => {
  it("names the common codes in words, others by code", () => {
    expect(causeText({ code: "ECONNRESET" })).toBe("the connection was reset (ECONNRESET)")
    expect(causeText({ code: "ENOTFOUND" })).toBe("the host name does not resolve (ENOTFOUND)")
    expect(causeText({ code: "EWHATEVER" })).toBe("connection failure (EWHATEVER)")
    expect(causeText(new Error("aborted"))).toBe("the connection closed before the answer was complete")
  })
})

describe("isUnreachable", () => {
  it("refused, unresolvable and silent backends are unreachable; broken connections and statuses are not", () => {
    for (const code of ["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ETIMEDOUT"]) {
      expect(isUnreachable(fromHttpClientError(transport(code)))).toBe(true)
    }
    expect(isUnreachable(new TimeoutError({ detail: "no complete answer within 20s" }))).toBe(true)
    expect(isUnreachable(fromHttpClientError(transport("ECONNRESET")))).toBe(false)
    expect(isUnreachable(new TimeoutError({ detail: "408", status_code: 408 }))).toBe(false)
    expect(isUnreachable(new ServerError({ detail: "down", status_code: 503 }))).toBe(false)
  })
})
