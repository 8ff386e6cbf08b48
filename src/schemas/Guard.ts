/**
 * Guards compiled from schemas: plain predicates that say, much faster than Effect's generic
 * interpreter, whether a JSON value already is what a transformation-free schema describes. They
 * serve as fast paths in front of the full decode or encode, which still runs whenever a guard
 * says no (to explain the failure) or cannot be built (transformations, declarations, recursion).
 */
import { Option, SchemaAST } from "effect"

/** A predicate over a JSON value. */
export type Guard = (u: unknown) => boolean

const NO_OPTIONS: SchemaAST.ParseOptions = {}

/**
 * Compiles a transformation-free schema into a plain predicate, for bulk decoding: a page of 1 000
 * events is validated several times faster than by the generic `Schema.is` interpreter, which
 * allocates a result per node. The guard is conservative: it may reject a value the schema accepts
 * (the full decode then decides, and explains), never the reverse. `undefined` when the schema has
 * a node it does not handle (transformations, declarations, recursion): callers then always run
 * the full decode.
 */
const compileGuard = (ast: SchemaAST.AST, exact: boolean): Guard | undefined => {
  switch (ast._tag) {
    case "StringKeyword":
      return (u) => typeof u === "string"
    case "NumberKeyword":
      return (u) => typeof u === "number"
    case "BooleanKeyword":
      return (u) => typeof u === "boolean"
    case "UnknownKeyword":
    case "AnyKeyword":
      return () => true
    case "UndefinedKeyword":
    case "VoidKeyword":
      return (u) => u === undefined
    case "Literal": {
      const literal = ast.literal
      return (u) => u === literal
    }
    case "Refinement": {
      const from = compileGuard(ast.from, exact)
      if (from === undefined) return undefined
      const refinement = ast
      return (u) => from(u) && Option.isNone(refinement.filter(u, NO_OPTIONS, refinement))
    }
    case "Union": {
      const members = ast.types.map((member) => compileGuard(member, exact))
      if (members.some((m) => m === undefined)) return undefined
      const guards = members as Array<Guard>
      return (u) => {
        for (let i = 0; i < guards.length; i++) if (guards[i]!(u)) return true
        return false
      }
    }
    case "TupleType": {
      // arrays only (`Schema.Array(item)`): other tuple shapes go to the generic path
      if (ast.elements.length !== 0 || ast.rest.length !== 1) return undefined
      const item = compileGuard(ast.rest[0]!.type, exact)
      if (item === undefined) return undefined
      return (u) => {
        if (!Array.isArray(u)) return false
        for (let i = 0; i < u.length; i++) if (!item(u[i])) return false
        return true
      }
    }
    case "TypeLiteral": {
      const props: Array<{ name: string; optional: boolean; guard: Guard }> = []
      for (const ps of ast.propertySignatures) {
        const guard = compileGuard(ps.type, exact)
        if (guard === undefined || typeof ps.name !== "string") return undefined
        props.push({ name: ps.name, optional: ps.isOptional, guard })
      }
      const indexGuards: Array<Guard> = []
      for (const is of ast.indexSignatures) {
        if (is.parameter._tag !== "StringKeyword") return undefined
        const guard = compileGuard(is.type, exact)
        if (guard === undefined) return undefined
        indexGuards.push(guard)
      }
      const declared = new Set(props.map((p) => p.name))
      const hasOwn = Object.prototype.hasOwnProperty
      return (u) => {
        if (typeof u !== "object" || u === null || Array.isArray(u)) return false
        const o = u as Record<string, unknown>
        for (let i = 0; i < props.length; i++) {
          const p = props[i]!
          if (hasOwn.call(o, p.name)) {
            if (!p.guard(o[p.name])) return false
          } else if (!p.optional) {
            return false
          }
        }
        if (exact && indexGuards.length === 0) {
          for (const key in o) if (!declared.has(key)) return false
        } else if (indexGuards.length > 0) {
          for (const key in o) {
            if (!hasOwn.call(o, key) || declared.has(key)) continue
            for (let i = 0; i < indexGuards.length; i++) if (!indexGuards[i]!(o[key])) return false
          }
        }
        return true
      }
    }
    default:
      return undefined
  }
}

/**
 * The same guard as `compileGuard`, generated as JavaScript source (one function per object or
 * array node, primitive checks inlined), so that V8 sees monomorphic direct calls instead of a
 * chain of closures: about twice as fast again on event pages. `undefined` when a node is not
 * supported or code generation is disabled (`--disallow-code-generation-from-strings`).
 */
const generateGuard = (root: SchemaAST.AST, exact: boolean): Guard | undefined => {
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
  try {
    const factory = new Function(
      "r",
      "isNone",
      "opts",
      "sets",
      `"use strict"; ${functions.join("\n")}\nreturn function guard(u) { return ${top} }`
    )
    return factory(refinements, Option.isNone, NO_OPTIONS, sets) as Guard
  } catch {
    return undefined
  }
}

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
  const made = generateGuard(ast, exact) ?? compileGuard(ast, exact)
  cache.set(ast, made ?? null)
  return made
}
