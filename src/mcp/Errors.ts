/**
 * Turns the SDK's error union into text a model can act on. The SDK's messages describe what
 * happened at the HTTP level; a model also needs to know what to do next (check an id with a list
 * tool, fix a value, wait, ask the user for a credential), so each class gets its own advice.
 */
import type { SynapseError } from "../services/SynapseError.js"
import { ToolError } from "./Tool.js"

/** What the failing call was trying to do, and advice for a missing resource. */
export interface ErrorContext {
  /** e.g. "Getting model 42". */
  readonly action: string
  /** e.g. "Model 42 does not exist; find ids with list_models." */
  readonly notFound?: string | undefined
}

/** Maps one SDK error to an actionable ToolError. */
export const toToolError = (context: ErrorContext) => (error: SynapseError): ToolError => {
  const head = `${context.action} failed`
  switch (error._tag) {
    case "NotFoundError": {
      // The request's path says which of several ids was missing (compare_models takes many).
      const path = error.url !== undefined && URL.canParse(error.url) ? new URL(error.url).pathname : undefined
      const request = path !== undefined ? ` (HTTP 404 for ${error.method ?? "GET"} ${path})` : ""
      return new ToolError({ message: `${head}: ${context.notFound ?? "not found."}${request}` })
    }
    case "ValidationError": {
      // The SDK's own field errors already name the allowed values; say them once.
      const allowed = error.allowed !== undefined && error.fieldErrors === undefined
        ? ` Allowed values: ${error.allowed.join(", ")}.`
        : ""
      const fields = error.fieldErrors !== undefined
        ? ` Field errors: ${Object.entries(error.fieldErrors).map(([k, v]) => `${k}: ${v.join(" ")}`).join("; ")}.`
        : ""
      const detail = error.fieldErrors !== undefined ? "" : ` ${error.detail}.`
      return new ToolError({
        message:
          `${head}: the request was rejected as invalid.${detail}${fields}${allowed} Fix the arguments and call again.`
      })
    }
    case "AuthenticationError":
      return new ToolError({
        message: `${head}: the Synapse backend rejected the credentials (HTTP 401). The user must set a valid ` +
          "SYNAPSE_ACCESS_TOKEN for the server; retrying will not help."
      })
    case "AuthorizationError":
      return new ToolError({
        message: `${head}: the credentials are valid but not allowed to do this (HTTP 403): ${error.detail}. ` +
          "Ask the user for access or a different project."
      })
    case "PayloadTooLargeError":
      return new ToolError({
        message: `${head}: the backend refuses files this large (HTTP ${error.status_code ?? 413}): ${error.detail}.`
      })
    case "RateLimitError":
      return new ToolError({
        message: `${head}: the backend is throttling requests (HTTP 429)` +
          (error.retryAfter !== undefined
            ? `; wait ${Math.ceil(error.retryAfter)} s before trying again.`
            : "; wait a little and try again.")
      })
    case "ServerError":
    case "TimeoutError":
    case "ConnectionError":
      return new ToolError({
        message: `${head}: the Synapse backend is unavailable or failing (${error.message}), even after retries. ` +
          "Try again later; get_context shows which backend is in use."
      })
    case "DecodeError":
      return new ToolError({
        message:
          `${head}: the backend answered something that does not follow the Synapse API contract (${error.message}). ` +
          "This is a backend or version problem; retrying will not help."
      })
    case "UnexpectedStatusError":
      return new ToolError({ message: `${head}: unexpected answer from the backend (${error.message}).` })
    case "IncompleteRecordError":
      return new ToolError({
        message: `${head}: ${error.detail}. The backend answers records without this field, so this operation cannot ` +
          "be done on it as asked; retrying will not help."
      })
    case "OutcomeUnknownError":
      return new ToolError({
        message: `${head}: ${error.detail}. Do not simply retry: check first, or the write may happen twice.`
      })
  }
}
