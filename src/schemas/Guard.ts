/**
 * Guards compiled from schemas: plain predicates that say whether a JSON value already is what a
 * transformation-free schema describes, as fast paths in front of the full decode or encode (which
 * still runs whenever a guard says no, to explain the failure).
 *
 * A guard is generated as JavaScript source once per schema (one function per object or array node,
 * primitive checks inlined, refinements calling the schema's own filters), so that V8 sees
 * monomorphic direct calls. `bench/decode.bench.mjs` measures why: on a page of 1 000 events it is
 * about 40 times faster than Effect's `Schema.is`, whose per-page cost would exceed that of
 * `JSON.parse` itself. Where code generation is disabled (`--disallow-code-generation-from-strings`),
 * the guard is Effect's `ParseResult.is` of the same schema: slower, with the same answers. Schemas
 * with transformations, declarations or recursion have no guard: callers always run the full decode.
 */
import { Option, ParseResult, Schema, SchemaAST } from "effect"

/** A predicate over a JSON value. */
export type Guard = (u: unknown) => boolean

const NO_OPTIONS: SchemaAST.ParseOptions = {}

/** What a generated guard needs besides its source: the refinements' filters and key sets. */
interface Source {
  readonly code: string
  readonly refinements: ReadonlyArray<SchemaAST.Refinement>
  readonly sets: ReadonlyArray<ReadonlySet<string>>
}

/**
 * The source of the guard of `root`, or `undefined` when a node is not supported (transformations,
 * declarations, recursion, tuples other than arrays, symbol keys).
 */
const guardSource = (root: SchemaAST.AST, exact: boolean): Source | undefined => {
  const functions: Array<string> = []
  const refinements: Array<SchemaAST.Refinement> = []
  const sets: Array<ReadonlySet<string>> = []
  const names = new Map<SchemaAST.AST, string>()
  const ALWAYS = "true"

  const expr = (ast: SchemaAST.AST, v: string): string | undefined => {
    switch (ast._tag) {
      case "StringKeyword":
        return `typeof ${v} === "string"`
      case "NumberKeyword":
        return `typeof ${v} === "number"`
      case "BooleanKeyword":
        return `typeof ${v} === "boolean"`
      case "UnknownKeyword":
      case "AnyKeyword":
        return ALWAYS
      case "UndefinedKeyword":
      case "VoidKeyword":
        return `${v} === undefined`
      case "Literal":
        if (ast.literal === null) return `${v} === null`
        if (
          typeof ast.literal === "string" || typeof ast.literal === "boolean" ||
          (typeof ast.literal === "number" && Number.isFinite(ast.literal))
        ) {
          return `${v} === ${JSON.stringify(ast.literal)}`
        }
        return undefined
      case "Refinement": {
        const from = expr(ast.from, v)
        if (from === undefined) return undefined
        const i = refinements.push(ast) - 1
        return `(${from}) && isNone(r[${i}].filter(${v}, opts, r[${i}]))`
      }
      case "Union": {
        const members = ast.types.map((t) => expr(t, v))
        if (members.some((m) => m === undefined)) return undefined
        if (members.includes(ALWAYS)) return ALWAYS
        return members.map((m) => `(${m})`).join(" || ")
      }
      case "TupleType":
      case "TypeLiteral": {
        const name = fn(ast)
        return name === undefined ? undefined : `${name}(${v})`
      }
      default:
        return undefined
    }
  }

  const fn = (ast: SchemaAST.TupleType | SchemaAST.TypeLiteral): string | undefined => {
    const known = names.get(ast)
    if (known !== undefined) return known
    const name = `f${names.size}`
    names.set(ast, name)
    let body: string
    if (ast._tag === "TupleType") {
      if (ast.elements.length !== 0 || ast.rest.length !== 1) return undefined
      const item = expr(ast.rest[0]!.type, "x")
      if (item === undefined) return undefined
      body = item === ALWAYS
        ? `return Array.isArray(a)`
        : `if (!Array.isArray(a)) return false; for (let i = 0; i < a.length; i++) { const x = a[i]; if (!(${item})) return false } return true`
      functions.push(`function ${name}(a) { ${body} }`)
      return name
    }
    const lines: Array<string> = [`if (typeof o !== "object" || o === null || Array.isArray(o)) return false`, `let x`]
    for (const ps of ast.propertySignatures) {
      if (typeof ps.name !== "string") return undefined
      const key = JSON.stringify(ps.name)
      const check = expr(ps.type, "x")
      if (check === undefined) return undefined
      const missing = ps.isOptional ? "" : "return false"
      lines.push(`x = o[${key}]`)
      // `in` rather than a hasOwnProperty call: a key found on the prototype instead holds a
      // function there, which fails the check (and the full decode then decides)
      lines.push(`if (x === undefined && !(${key} in o)) { ${missing} } else if (!(${check})) return false`)
    }
    const indexChecks: Array<string> = []
    for (const is of ast.indexSignatures) {
      if (is.parameter._tag !== "StringKeyword") return undefined
      const check = expr(is.type, "x")
      if (check === undefined) return undefined
      if (check !== ALWAYS) indexChecks.push(check)
    }
    if (exact && ast.indexSignatures.length === 0) {
      lines.push(
        `for (const k in o) { if (!sets[${
          sets.push(new Set(ast.propertySignatures.map((p) => String(p.name)))) - 1
        }].has(k)) return false }`
      )
    } else if (indexChecks.length > 0) {
      // inherited enumerable keys (none on JSON objects) only add checks: still conservative
      const skip = ast.propertySignatures.length === 0
        ? ""
        : `if (sets[${sets.push(new Set(ast.propertySignatures.map((p) => String(p.name)))) - 1}].has(k)) continue; `
      lines.push(
        `for (const k in o) { ${skip}x = o[k]; if (!(${indexChecks.map((c) => `(${c})`).join(" && ")})) return false }`
      )
    }
    lines.push("return true")
    functions.push(`function ${name}(o) { ${lines.join("; ")} }`)
    return name
  }

  const top = expr(root, "u")
  if (top === undefined) return undefined
  return {
    code: `"use strict"; ${functions.join("\n")}\nreturn function guard(u) { return ${top} }`,
    refinements,
    sets
  }
}

/** Builds the guard from its source; `undefined` when code generation is disabled. */
const generate = (source: Source): Guard | undefined => {
  try {
    const factory = new Function("r", "isNone", "opts", "sets", source.code)
    return factory(source.refinements, Option.isNone, NO_OPTIONS, source.sets) as Guard
  } catch {
    return undefined
  }
}

/**
 * Effect's own check of a transformation-free schema, with the guard's treatment of undeclared keys:
 * the guard where code generation is disabled.
 */
export const schemaGuard = (ast: SchemaAST.AST, exact: boolean): Guard =>
  ParseResult.is(Schema.make(ast), { onExcessProperty: exact ? "error" : "ignore" })

/** How a guard treats object keys the schema does not declare. */
export interface GuardOptions {
  /**
   * `false` (default): undeclared keys are allowed, as a decode that preserves them allows.
   * `true`: a struct without index signatures rejects them, so a value that passes is exactly its
   * own encoding (an encode drops undeclared keys).
   */
  readonly exact?: boolean
}

const guards = {
  lenient: new WeakMap<SchemaAST.AST, Guard | null>(),
  exact: new WeakMap<SchemaAST.AST, Guard | null>()
}

/**
 * The guard of `ast`, built once per schema: conservative (it may reject a value the schema
 * accepts, never the reverse), or `undefined` when the schema has a node it does not handle.
 */
export const guardOf = (ast: SchemaAST.AST, options: GuardOptions = {}): Guard | undefined => {
  const exact = options.exact === true
  const cache = exact ? guards.exact : guards.lenient
  const cached = cache.get(ast)
  if (cached !== undefined) return cached ?? undefined
  const source = guardSource(ast, exact)
  const made = source === undefined ? undefined : generate(source) ?? schemaGuard(ast, exact)
  cache.set(ast, made ?? null)
  return made
}
