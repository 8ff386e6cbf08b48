/**
 * How list tools page and project their rows. A model should see one bounded page of compact rows
 * and know how to get more: list tools take `page`, `page_size` (≤ 100) and `fields`, and answer
 * `{count, page, page_size, next_page, results}` where each row holds only the chosen fields.
 */
import { Effect, Schema } from "effect"
import { IsoDateString } from "../schemas/Params.js"
import type { SynapseError } from "../services/SynapseError.js"
import { toToolError } from "./Errors.js"
import * as Tool from "./Tool.js"

/** Largest page a tool returns: 100 rows keep most pages inside the output budget. */
export const MAX_TOOL_PAGE_SIZE = 100
/** Rows per page when the caller does not say. */
export const DEFAULT_TOOL_PAGE_SIZE = 20

/** The `page` and `page_size` input fields every list tool has. */
export const pageInputFields = {
  page: Schema.optional(
    Schema.Int.pipe(Schema.between(1, 1_000_000)).annotations({
      description: "Page number (default 1); continue with next_page."
    })
  ),
  page_size: Schema.optional(
    Schema.Int.pipe(Schema.between(1, MAX_TOOL_PAGE_SIZE)).annotations({
      description: `Rows per page (default ${DEFAULT_TOOL_PAGE_SIZE}).`
    })
  )
}

/** The `fields` input of a list tool whose rows have fields `all`, `compact` being the default. */
export const fieldsInput = <const F extends readonly [string, ...Array<string>]>(
  all: F,
  compact: ReadonlyArray<F[number]>
) =>
  Schema.optional(
    Schema.Array(Schema.Literal(...all)).pipe(Schema.minItems(1), Schema.maxItems(all.length)).annotations({
      description: `Fields of each row (default: ${compact.length} compact ones); more fields, fewer rows fit.`
    })
  )

/** The output of a list tool with rows `item`. */
export const pageOutput = <A, I>(item: Schema.Schema<A, I, never>, what: string) =>
  Schema.Struct({
    count: Schema.Int.annotations({ description: `Matching ${what} on all pages.` }),
    page: Schema.Int,
    page_size: Schema.Int,
    next_page: Schema.NullOr(Schema.Int),
    results: Schema.Array(item),
    hint: Schema.optional(Schema.String)
  })

/** The page after `page`, or null when `page` already reaches `count`. */
export const nextPage = (page: number, pageSize: number, count: number): number | null =>
  page * pageSize < count ? page + 1 : null

/** Keeps only `fields` of `row` (those present), in the order given. */
export const project = (row: object, fields: ReadonlyArray<string>): Record<string, unknown> => {
  const source = row as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const field of fields) {
    if (field in source && source[field] !== undefined) out[field] = source[field]
  }
  return out
}

/** The page request a list tool makes, with the defaults applied. */
export const pageRequest = (
  input: { readonly page?: number | undefined; readonly page_size?: number | undefined }
) => ({
  page: input.page ?? 1,
  page_size: input.page_size ?? DEFAULT_TOOL_PAGE_SIZE
})

/**
 * An ISO 8601 date input with a description. (The date check is a filter Effect cannot express in
 * JSON Schema, so the description must go in the `jsonSchema` annotation to be published.)
 */
export const isoDate = (description: string) => IsoDateString.annotations({ description, jsonSchema: { description } })

/** The input every list tool has besides its filters. */
export interface ListInput {
  readonly page?: number | undefined
  readonly page_size?: number | undefined
  readonly fields?: ReadonlyArray<string> | undefined
}

/**
 * Runs a list tool: applies the page defaults, passes the filters (everything but `fields`) and the
 * page to `fetch`, turns a failure into a tool error (a missing page says to start again at 1) and
 * answers the page with each row cut to the chosen fields (`compact` when the caller chose none).
 */
export const listPage = <Input extends ListInput, Row, R>(
  input: Input,
  options: {
    /** What failed, for the error text, e.g. "Listing models". */
    readonly action: string
    readonly compact: ReadonlyArray<string>
    readonly fetch: (
      request: Omit<Input, "fields" | "page" | "page_size"> & { readonly page: number; readonly page_size: number }
    ) => Effect.Effect<{ readonly count: number; readonly results: ReadonlyArray<Row> }, SynapseError, R>
    /** Adds derived fields to a row before it is cut; the row as it is by default. */
    readonly summarise?: ((row: Row) => object) | undefined
  }
) =>
  Effect.gen(function*() {
    const { page, page_size } = pageRequest(input)
    const { fields, page: _p, page_size: _s, ...filters } = input
    const result = yield* options.fetch({ ...filters, page, page_size }).pipe(
      Effect.mapError(
        toToolError({ action: options.action, notFound: `page ${page} does not exist; start again at page 1.` })
      )
    )
    const chosen = fields ?? options.compact
    const summarise = options.summarise ?? ((row: Row) => row as object)
    return {
      count: result.count,
      page,
      page_size,
      next_page: nextPage(page, page_size, result.count),
      results: result.results.map((row) => project(summarise(row), chosen))
    }
  })

/**
 * A read-only list tool: its input is `filters` followed by `page`, `page_size` and `fields` (rows
 * having fields `fields`, `compact` by default), its output a page of `row`s, and it runs `listPage`.
 * Every list tool is built this way so that they page, project and fail alike.
 */
export const listTool = <
  const Filters extends Schema.Struct.Fields,
  const F extends readonly [string, ...Array<string>],
  A,
  I,
  Row,
  R
>(spec: {
  readonly name: string
  readonly title: string
  readonly description: string
  readonly filters: Filters
  readonly fields: F
  readonly compact: ReadonlyArray<F[number]>
  readonly row: Schema.Schema<A, I, never>
  /** The rows' plural name, for the output's descriptions, e.g. "models". */
  readonly what: string
  /** What failed, for the error text, e.g. "Listing models". */
  readonly action: string
  readonly fetch: (
    request: Schema.Struct.Type<Filters> & { readonly page: number; readonly page_size: number }
  ) => Effect.Effect<{ readonly count: number; readonly results: ReadonlyArray<Row> }, SynapseError, R>
  /** Adds derived fields to a row before it is cut; the row as it is by default. */
  readonly summarise?: ((row: Row) => object) | undefined
  /** The toolset the tool is offered in. */
  readonly toolset: Tool.Toolset
  /**
   * Asked only when a page is empty: says why (a filter id that does not exist), or undefined when
   * the filters simply match nothing. It becomes the page's `hint`.
   */
  readonly explainEmpty?:
    | ((request: Schema.Struct.Type<Filters>) => Effect.Effect<string | undefined, never, R>)
    | undefined
}): Tool.Tool<ListToolInput<Filters, F>, Schema.Schema.Type<ReturnType<typeof pageOutput<A, I>>>, R> => {
  const input = Schema.Struct({ ...spec.filters, ...pageInputFields, fields: fieldsInput(spec.fields, spec.compact) })
  return Tool.make({
    name: spec.name,
    title: spec.title,
    description: spec.description,
    // Filters are context-free input fields, which TypeScript cannot see through the generic
    input: input as unknown as Tool.StructSchema<ListToolInput<Filters, F>>,
    output: pageOutput(spec.row, spec.what),
    annotations: Tool.readOnly,
    toolset: spec.toolset,
    write: false,
    run: (request) =>
      listPage(request, {
        action: spec.action,
        compact: spec.compact,
        // listPage passes the input without page_size, page and fields, i.e. the filters
        fetch: (filtered) => spec.fetch(filtered as unknown as Parameters<typeof spec.fetch>[0]),
        summarise: spec.summarise
      }).pipe(
        Effect.flatMap((page) =>
          page.count > 0 || spec.explainEmpty === undefined
            ? Effect.succeed(page)
            : Effect.map(
              spec.explainEmpty(request as unknown as Schema.Struct.Type<Filters>),
              (hint) => hint === undefined ? page : { ...page, hint }
            )
        )
      ) as Effect.Effect<Schema.Schema.Type<ReturnType<typeof pageOutput<A, I>>>, Tool.ToolError, R>
  })
}

/** The decoded input of a list tool with filters `Filters` and row fields `F`. */
export type ListToolInput<Filters extends Schema.Struct.Fields, F extends readonly [string, ...Array<string>]> =
  & Schema.Struct.Type<Filters>
  & ListInput
  & { readonly fields?: ReadonlyArray<F[number]> | undefined }
