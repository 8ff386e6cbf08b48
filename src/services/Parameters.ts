/**
 * Parameters of read operations, validated before any request and encoded as docs/wire-protocol.md
 * "Transport" says. Every bad parameter is reported at once in one `ValidationError`, so a caller
 * fixes them in one round. On the read path a key the operation does not know is one of them (a
 * misspelt filter must not silently mean "everything"): query parameters the SDK does not know go
 * through `extra`, which is passed through unchecked since a backend may accept more filters.
 */
import { Effect, Either, ParseResult, Schema, SchemaAST } from "effect"
import { short, valueAt } from "./Decoding.js"
import { prefetchProblem } from "./Pagination.js"
import { ValidationError } from "./SynapseError.js"

/** A query value: scalars, or lists sent as repeated keys. */
export type QueryValue = string | number | boolean | null | undefined | ReadonlyArray<string | number | boolean>

/** Extra query parameters passed through unvalidated (a backend may accept more filters). */
export type ExtraParams = Readonly<Record<string, QueryValue>>

/** The closed sets of values some parameters accept, for messages that list them. */
const allowedValues = (
  field: string,
  allowed: Readonly<Record<string, ReadonlyArray<string>>>
): ReadonlyArray<string> | undefined => allowed[field.split(".")[0] ?? field]

/** One parameter's problem, as `validate` reports it. */
interface ParamProblem {
  readonly field: string
  readonly allowed: ReadonlyArray<string> | undefined
  /** The problem without the field name (a `fieldErrors` entry). */
  readonly message: string
  /** The problem naming its field (a part of `detail`). */
  readonly detail: string
}

/** Options of `validate`. */
export interface ValidateOptions {
  /** Prepended to every field name (`params` makes `expand` read `params.expand`). */
  readonly prefix?: string | undefined
  /** The values enumerated parameters accept, by parameter, for messages that list them. */
  readonly allowed?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
  /**
   * Rejects keys the schema (a struct) does not declare, other than `extra`, naming the known ones;
   * a key whose value is `undefined` is ignored. Without it unknown keys are kept, to be passed on.
   */
  readonly closed?: boolean | undefined
}

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** The keys a struct schema declares, or `undefined` for other schemas. */
const declaredKeys = (ast: SchemaAST.AST): ReadonlyArray<string> | undefined => {
  const type = SchemaAST.isTransformation(ast) ? ast.from : ast
  return SchemaAST.isTypeLiteral(type) ? type.propertySignatures.map((p) => String(p.name)) : undefined
}

/** The problems of keys `input` has and `known` lacks (`extra` is always known). */
const unknownKeyProblems = (
  input: unknown,
  known: ReadonlyArray<string>,
  prefix: string | undefined
): Array<ParamProblem> => {
  if (!isRecord(input)) return []
  const list = `${known.join(", ")} (pass other query parameters through \`extra\`)`
  return Object.keys(input)
    .filter((key) => key !== "extra" && !known.includes(key) && input[key] !== undefined)
    .map((key) => {
      const field = prefix !== undefined ? `${prefix}.${key}` : key
      return {
        field,
        allowed: known,
        message: `is not a known parameter; the parameters are ${list}`,
        detail: `unknown parameter ${JSON.stringify(field)}; the parameters are ${list}`
      }
    })
}

/**
 * Validates parameters with `schema` before anything is sent. Every bad parameter is reported at
 * once: the `ValidationError` names the first in `field` (and, for enumerations, the values it
 * accepts in `allowed`; for an unknown key, the known keys), lists each in `fieldErrors`, and joins
 * them in `detail` (`; `-separated). Unknown keys are kept, to be passed through, unless `closed`.
 */
export const validate = <A, I>(
  schema: Schema.Schema<A, I, never>,
  input: unknown,
  options?: ValidateOptions
): Effect.Effect<A, ValidationError> => {
  const result = Schema.decodeUnknownEither(schema, { onExcessProperty: "preserve", errors: "all" })(input ?? {})
  const known = options?.closed === true ? declaredKeys(schema.ast) : undefined
  const unknownKeys = known !== undefined ? unknownKeyProblems(input, known, options?.prefix) : []
  if (Either.isRight(result) && unknownKeys.length === 0) return Effect.succeed(result.right)
  // One problem per parameter. Every issue of a parameter is listed (each member an optional or
  // union field tried, each bad element of a list), and its first is the one that says best what is
  // wrong: the one a stop-at-the-first-error decode reports.
  const firstByParam = new Map<string, ParseResult.ArrayFormatterIssue>()
  if (Either.isLeft(result)) {
    for (const issue of ParseResult.ArrayFormatter.formatErrorSync(result.left)) {
      const param = issue.path.length > 0 ? String(issue.path[0]) : ""
      if (!firstByParam.has(param)) firstByParam.set(param, issue)
    }
  }
  const fallback = Either.isLeft(result) ? result.left.message : "invalid"
  const describeIssue = (issue: ParseResult.ArrayFormatterIssue | undefined): ParamProblem => {
    const inner = issue !== undefined && issue.path.length > 0 ? issue.path.map(String).join(".") : undefined
    const field = options?.prefix !== undefined
      ? (inner !== undefined ? `${options.prefix}.${inner}` : options.prefix)
      : inner ?? "params"
    const allowed = inner !== undefined && options?.allowed !== undefined
      ? allowedValues(inner, options.allowed)
      : undefined
    const got = issue !== undefined ? short(valueAt(input, issue.path)) : short(input)
    return allowed !== undefined
      ? {
        field,
        allowed,
        message: `must be one of ${allowed.join(", ")} (got ${got})`,
        detail: `${field} must be one of ${allowed.join(", ")} (got ${got})`
      }
      : {
        field,
        allowed,
        message: issue?.message ?? fallback,
        detail: `${field}: ${issue?.message ?? fallback}`
      }
  }
  const schemaProblems = Either.isRight(result)
    ? []
    : firstByParam.size === 0
    ? [describeIssue(undefined)]
    : [...firstByParam.values()].map(describeIssue)
  const problems = [...unknownKeys, ...schemaProblems]
  const first = problems[0]!
  const fieldErrors: Record<string, Array<string>> = {}
  for (const problem of problems) (fieldErrors[problem.field] ??= []).push(problem.message)
  return Effect.fail(
    new ValidationError({
      detail: problems.map((p) => p.detail).join("; "),
      field: first.field,
      ...(first.allowed !== undefined ? { allowed: [...first.allowed] } : {}),
      fieldErrors
    })
  )
}

const isScalar = (u: unknown): u is string | number | boolean =>
  typeof u === "string" || (typeof u === "number" && Number.isFinite(u)) || typeof u === "boolean"

/**
 * Query parameters as `[key, value]` pairs: lists as repeated keys, booleans as `true`/`false`,
 * `undefined`/`null` left out. Nested objects cannot be expressed in a query and are rejected.
 */
export const queryParams = (
  params: Readonly<Record<string, unknown>>
): Effect.Effect<Array<[string, string]>, ValidationError> =>
  Effect.suspend(() => {
    const out: Array<[string, string]> = []
    for (const [key, value] of Object.entries(params)) {
      if (value === undefined || value === null) continue
      if (isScalar(value)) {
        out.push([key, String(value)])
      } else if (Array.isArray(value) && value.every(isScalar)) {
        for (const item of value) out.push([key, String(item)])
      } else {
        return Effect.fail(
          new ValidationError({
            detail: `${key}: a query parameter must be a string, number, boolean or a list of them`,
            field: key
          })
        )
      }
    }
    return Effect.succeed(out)
  })

/**
 * Validated params as query pairs: known and unknown keys, then `extra`. A `fields` selection
 * (repeated or comma-joined) that leaves out `id` gets `fields=id` added: a backend answering
 * `fields=` sends only the fields named, and a record is identified by its `id`, the one field
 * the SDK requires (docs/wire-protocol.md "Resources").
 */
export const toQuery = (
  params: Readonly<Record<string, unknown>>
): Effect.Effect<Array<[string, string]>, ValidationError> => {
  const { extra, ...rest } = params as { extra?: unknown } & Record<string, unknown>
  if (extra !== undefined && !isRecord(extra)) {
    return Effect.fail(
      new ValidationError({
        detail: `extra must be a record of query parameters, got ${short(extra)}`,
        field: "extra"
      })
    )
  }
  return Effect.map(queryParams({ ...rest, ...(extra ?? {}) }), withIdField)
}

/** `query` with `fields=id` added when it selects fields without `id`. */
const withIdField = (query: Array<[string, string]>): Array<[string, string]> => {
  const selected = query.filter(([key]) => key === "fields").flatMap(([, value]) =>
    value.split(",").map((f) => f.trim())
  )
  return selected.length > 0 && !selected.includes("id") ? [...query, ["fields", "id"]] : query
}

/**
 * A call's prefetch, validated, or `fallback` (the client's) when the call gives none. A bad value
 * is a `ValidationError` on `prefetch`, before any request.
 */
export const validatePrefetch = (
  prefetch: number | undefined,
  fallback: number
): Effect.Effect<number, ValidationError> => {
  if (prefetch === undefined) return Effect.succeed(fallback)
  const problem = prefetchProblem(prefetch)
  return problem === undefined
    ? Effect.succeed(prefetch)
    : Effect.fail(
      new ValidationError({ detail: `prefetch ${problem}`, field: "prefetch", fieldErrors: { prefetch: [problem] } })
    )
}
