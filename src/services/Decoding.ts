/**
 * Decoding of 2xx answers: the JSON text parsed (or a `DecodeError` saying why it is not JSON, and
 * whether it was cut short), then checked against the wire schema with unknown fields kept
 * (docs/wire-protocol.md "Resources"). A failure names the first wrong field and shows the value
 * that arrived. Nothing here does I/O; `SynapseClient` runs it on the bodies it reads.
 */
import { Either, ParseResult, Schema, type SchemaAST } from "effect"
import { firstIssue } from "../schemas/FirstIssue.js"
import { guardOf } from "../schemas/Guard.js"
import { DecodeError, excerpt } from "./SynapseError.js"

/** A decoder prepared once for a schema: raw JSON in, decoded value or `DecodeError` out. */
export type Decoder<A> = (json: unknown) => Either.Either<A, DecodeError>

/** The value at `path` inside `json`, or `undefined` where the path leaves the structure. */
export const valueAt = (json: unknown, path: ReadonlyArray<PropertyKey>): unknown => {
  let current = json
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined
    current = (current as Record<PropertyKey, unknown>)[key]
  }
  return current
}

/** A value as JSON, at most 120 characters, for messages. */
export const short = (value: unknown): string => {
  let text: string
  try {
    text = value === undefined ? "undefined" : JSON.stringify(value) ?? String(value)
  } catch {
    text = String(value)
  }
  return text.length > 120 ? `${text.slice(0, 120)}…` : text
}

const decodeErrorFrom = (json: unknown, error: ParseResult.ParseError): DecodeError => {
  const first = firstIssue(error)
  const more = first.others > 0 ? ` (and ${first.others} more)` : ""
  return new DecodeError({
    detail: `the answer does not match the expected schema: ${first.message}${more}`,
    ...(first.where !== undefined ? { path: first.where } : {}),
    excerpt: short(valueAt(json, first.path))
  })
}

const decoders = new WeakMap<SchemaAST.AST, Decoder<unknown>>()

/**
 * A decoder for `schema`, built once per schema: unknown fields are kept (`onExcessProperty:
 * "preserve"`). For schemas without transformations the schema's guard (`Guard.guardOf`) checks the
 * JSON first, and valid JSON is the decoded value, returned as is (no copy); the full decode runs
 * only when the guard says no, to say which field is wrong.
 */
export const decoder = <A, I>(schema: Schema.Schema<A, I, never>): Decoder<A> => {
  const cached = decoders.get(schema.ast)
  if (cached !== undefined) return cached as Decoder<A>
  const decode = Schema.decodeUnknownEither(schema, { onExcessProperty: "preserve", errors: "all" })
  const slow: Decoder<A> = (json) => Either.mapLeft(decode(json), (error) => decodeErrorFrom(json, error))
  const guard = guardOf(schema.ast)
  const made: Decoder<A> = guard !== undefined ? (json) => (guard(json) ? Either.right(json as A) : slow(json)) : slow
  decoders.set(schema.ast, made as Decoder<unknown>)
  return made
}

/** Whether a JSON syntax error is an answer cut short rather than a wrong one. */
const isTruncatedJson = (text: string, error: unknown): boolean => {
  const message = error instanceof Error ? error.message : String(error)
  if (/end of JSON input|Unterminated/i.test(message)) return true
  const position = /position (\d+)/.exec(message)
  return position !== null && Number(position[1]) >= text.trimEnd().length
}

/** Parses a 2xx body as JSON, or says precisely why it is not JSON (and whether it was cut short). */
export const parseJson = (text: string, status: number): Either.Either<unknown, DecodeError> => {
  // not text.trim(): that copies a whole (megabyte) page just to look at its first characters
  if (/^\s*$/.test(text)) {
    return Either.left(
      new DecodeError({ status_code: status, detail: "the server answered with an empty body where JSON was expected" })
    )
  }
  try {
    return Either.right(JSON.parse(text))
  } catch (error) {
    const truncated = isTruncatedJson(text, error)
    const html = /^\s*</.test(text)
    return Either.left(
      new DecodeError({
        status_code: status,
        detail: html
          ? "the server answered with HTML where JSON was expected (a proxy or login page?)"
          : truncated
          ? "the answer was cut short: truncated JSON"
          : `the answer is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
        excerpt: excerpt(text, 200),
        truncated
      })
    )
  }
}

/** Whether an error is an answer cut short (truncated JSON, a download short of its size). */
export const isCutShort = (error: { readonly _tag: string; readonly truncated?: boolean | undefined }): boolean =>
  error._tag === "DecodeError" && error.truncated === true
