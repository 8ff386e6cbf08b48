/**
 * Django REST Framework page-number pagination: every list endpoint answers this envelope.
 * `next`/`previous` are absolute URLs that clients follow verbatim. A page needs `results`,
 * `count` and `next` to be walked (docs/wire-protocol.md "Resources"); `previous` is optional and
 * other members are kept as they arrive.
 */
import { Schema } from "effect"

/** The DRF page envelope around rows of schema `item`. */
export const Page = <A, I, R>(item: Schema.Schema<A, I, R>) =>
  Schema.Struct({
    count: Schema.Int.pipe(Schema.nonNegative()),
    next: Schema.NullOr(Schema.String),
    previous: Schema.optional(Schema.NullOr(Schema.String)),
    results: Schema.Array(item)
  })

/** A decoded page. */
export interface Page<A> {
  readonly count: number
  readonly next: string | null
  readonly previous?: string | null | undefined
  readonly results: ReadonlyArray<A>
}

/** Largest `page_size` the sandbox serves and the SDK accepts. */
export const MAX_PAGE_SIZE = 1000
/** The page size Synapse uses when none is given. */
export const DEFAULT_PAGE_SIZE = 100
