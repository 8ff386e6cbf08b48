/**
 * Checks that a workflow's result is exactly what its Schema describes: every field declared (none
 * that an encoder through the Schema, as the MCP server's, would drop) and of the declared type.
 */
import { Either, ParseResult, Schema } from "effect"
import { expect } from "vitest"

/** Asserts that `value` decodes with `schema` when any undeclared field is an error. */
export const expectDescribed = <A, I>(schema: Schema.Schema<A, I, never>, value: unknown): void => {
  const decoded = Schema.decodeUnknownEither(schema, { onExcessProperty: "error", errors: "all" })(value)
  expect(Either.isRight(decoded) ? "described" : ParseResult.TreeFormatter.formatErrorSync(decoded.left)).toBe(
    "described"
  )
}
