/**
 * `SynapseError`: one message format shared by every class, the union derived from one list of
 * classes, and the one secret scrubber.
 */
import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import {
  AuthenticationError,
  ConnectionError,
  DecodeError,
  incompleteRecord,
  isSynapseError,
  NotFoundError,
  OutcomeUnknownError,
  RateLimitError,
  REDACTED,
  scrub,
  scrubError,
  SynapseError,
  ValidationError
} from "../../src/services/SynapseError.js"

describe("messages", () => {
  it("status, detail and where, for every class", () => {
    const where = { method: "GET", url: "https://synapse.test/api/v1/models/9/" }
    expect(new NotFoundError({ status_code: 404, detail: "Not found.", ...where }).message).toBe(
      "HTTP 404: Not found. (GET https://synapse.test/api/v1/models/9/)"
    )
    expect(new ConnectionError({ detail: "the connection was reset (ECONNRESET)" }).message).toBe(
      "the connection was reset (ECONNRESET)"
    )
    expect(new OutcomeUnknownError({ detail: "lost", candidates: [1] }).message).toBe("lost")
    expect(incompleteRecord("model", 456, "project", "deploy").message).toBe(
      "model 456 has no `project`: deploy needs it, and the backend did not send it"
    )
  })

  it("a DecodeError adds the path and what was received", () => {
    const error = new DecodeError({
      status_code: 200,
      detail: "the answer does not match the expected schema",
      path: "results[0].id",
      excerpt: "\"x\"",
      method: "GET",
      url: "https://h/x/"
    })
    expect(error.message).toBe(
      "HTTP 200: the answer does not match the expected schema at results[0].id; received: \"x\" (GET https://h/x/)"
    )
  })

  it("the message is never a field: not enumerable, not serialised", () => {
    const error = new RateLimitError({ status_code: 429, detail: "slow down", retryAfter: 5 })
    expect(Object.keys(error)).not.toContain("message")
    expect(JSON.parse(JSON.stringify(error))).not.toHaveProperty("message")
    expect(String(error)).toContain("HTTP 429: slow down")
  })
})

describe("the union", () => {
  it("recognises every class and nothing else", () => {
    expect(isSynapseError(new ValidationError({ detail: "x" }))).toBe(true)
    expect(isSynapseError(new AuthenticationError({ status_code: 401, detail: "x" }))).toBe(true)
    expect(isSynapseError({ _tag: "ValidationError", detail: "x" })).toBe(false)
    expect(isSynapseError(new Error("x"))).toBe(false)
  })

  it("its schema round-trips each class", () => {
    const error = new ValidationError({ detail: "bad", field: "page", fieldErrors: { page: ["bad"] } })
    const encoded = Schema.encodeSync(SynapseError)(error)
    const decoded = Schema.decodeUnknownEither(SynapseError)(encoded)
    expect(decoded).toStrictEqual(Either.right(error))
  })
})

describe("scrub", () => {
  it("replaces every secret of 4+ characters, the longest first", () => {
    expect(scrub("token abcd1234 and abcd", ["abcd", "abcd1234"])).toBe(`token ${REDACTED} and ${REDACTED}`)
    expect(scrub("a b", ["a"])).toBe("a b")
    expect(scrub("nothing here", ["s3cr3t"])).toBe("nothing here")
  })

  it("scrubError cleans the detail and the excerpt, keeping the class and the other fields", () => {
    const error = new DecodeError({ status_code: 200, detail: "echo s3cr3t", excerpt: "{\"t\": \"s3cr3t\"}" })
    expect(scrubError(error, ["s3cr3t"])).toStrictEqual(
      new DecodeError({ status_code: 200, detail: "echo [redacted]", excerpt: "{\"t\": \"[redacted]\"}" })
    )
  })
})
