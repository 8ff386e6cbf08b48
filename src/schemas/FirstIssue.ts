/**
 * The first problem of a schema decoding failure, located: what a one-line error message needs.
 * A ParseError's own message prints the whole schema, which buries the field that was wrong.
 */
import { ParseResult } from "effect"

export interface FirstIssue {
  /** Where in the input: the keys from the root, empty for the input itself. */
  readonly path: ReadonlyArray<PropertyKey>
  /** `path` as a dotted name (`splits.train.data_units.0`), undefined at the root. */
  readonly where: string | undefined
  readonly message: string
  /** How many other problems the error holds. */
  readonly others: number
}

export const firstIssue = (error: ParseResult.ParseError): FirstIssue => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const first = issues[0]
  const path = first?.path ?? []
  return {
    path,
    where: path.length > 0 ? path.map(String).join(".") : undefined,
    message: first?.message ?? error.message,
    others: Math.max(0, issues.length - 1)
  }
}
