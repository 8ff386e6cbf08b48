/**
 * How SDK failures read to a model: each class maps to text saying what failed and what to do, and
 * a rejected argument names the allowed values once, whether they came with the SDK's field errors
 * or alone.
 */
import { describe, expect, it } from "vitest"
import { toToolError } from "../../src/mcp/Errors.js"
import {
  NotFoundError,
  OutcomeUnknownError,
  PayloadTooLargeError,
  ValidationError
} from "../../src/services/SynapseError.js"

const context = { action: "Listing models", notFound: "Model 42 does not exist; find ids with list_models." }
const occurrences = (text: string, part: string) => text.split(part).length - 1

describe("toToolError", () => {
  it("lists every bad parameter from the SDK and the allowed values once", () => {
    const error = new ValidationError({
      detail:
        "model_type must be one of detection, classification (got \"nope\"); page_size: Expected a number between 1 and 1000",
      field: "model_type",
      allowed: ["detection", "classification"],
      fieldErrors: {
        model_type: ["must be one of detection, classification (got \"nope\")"],
        page_size: ["Expected a number between 1 and 1000"]
      }
    })
    const message = toToolError(context)(error).message
    expect(message).toContain("Listing models failed: the request was rejected as invalid.")
    expect(message).toContain("model_type: must be one of detection, classification")
    expect(message).toContain("page_size: Expected a number between 1 and 1000")
    expect(occurrences(message, "detection, classification")).toBe(1)
    expect(message).toContain("Fix the arguments and call again.")
  })

  it("names the allowed values when they come without field errors", () => {
    const error = new ValidationError({ detail: "category rejected", field: "category", allowed: ["a", "b"] })
    const message = toToolError(context)(error).message
    expect(message).toContain("category rejected.")
    expect(message).toContain("Allowed values: a, b.")
  })

  it("says which request was missing for a 404", () => {
    const error = new NotFoundError({
      detail: "Not found.",
      status_code: 404,
      method: "GET",
      url: "http://host/api/v1/models/42/"
    })
    expect(toToolError(context)(error).message).toBe(
      "Listing models failed: Model 42 does not exist; find ids with list_models. (HTTP 404 for GET /api/v1/models/42/)"
    )
  })

  it("warns against a blind retry when a write's outcome is unknown", () => {
    const error = new OutcomeUnknownError({
      detail: "the answer to POST models/ was lost, and …: check the models named \"m\" before creating it again",
      method: "POST",
      url: "http://host/api/v1/models/",
      candidates: [7]
    })
    const message = toToolError(context)(error).message
    expect(message).toContain("check the models named \"m\" before creating it again")
    expect(message).toContain("Do not simply retry")
  })

  it("gives the size limit's own status (drf-chunked-upload says it with a 400)", () => {
    const error = new PayloadTooLargeError({ status_code: 400, detail: "Size of file exceeds the limit (10 bytes)" })
    expect(toToolError(context)(error).message).toContain(
      "refuses files this large (HTTP 400): Size of file exceeds the limit (10 bytes)"
    )
  })
})
