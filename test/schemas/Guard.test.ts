import { Either, Schema } from "effect"
import { spawnSync } from "node:child_process"
import { describe, expect, it } from "vitest"
import { guardOf, schemaGuard } from "../../src/schemas/Guard.js"

// A page of rows as a list tool returns it: nested struct, array, record, optional, nullable, literal.
const Row = Schema.Struct({
  id: Schema.Int,
  name: Schema.String,
  kind: Schema.Literal("a", "b"),
  note: Schema.optional(Schema.NullOr(Schema.String)),
  metrics: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})
const Page = Schema.Struct({ count: Schema.Int, next_page: Schema.NullOr(Schema.Int), results: Schema.Array(Row) })

const page = () => ({
  count: 2,
  next_page: null,
  results: [
    { id: 1, name: "x", kind: "a" as const, metrics: { mAP: 0.5, anything: { nested: true } } },
    { id: 2, name: "y", kind: "b" as const, note: null }
  ]
})

describe("guardOf", () => {
  const exact = guardOf(Page.ast, { exact: true })!
  const lenient = guardOf(Page.ast)!
  const encode = Schema.encodeUnknownEither(Page)

  it("is built once per schema and mode", () => {
    expect(guardOf(Page.ast, { exact: true })).toBe(exact)
    expect(guardOf(Page.ast)).toBe(lenient)
    expect(exact).not.toBe(lenient)
  })

  it("accepts a value that already is its own encoding", () => {
    const value = page()
    expect(exact(value)).toBe(true)
    expect(Either.getOrThrow(encode(value))).toStrictEqual(value)
  })

  const cases: Array<[string, (p: any) => void, { exact: boolean; lenient: boolean }]> = [
    ["an undeclared key on a row", (p) => (p.results[0].extra = 1), { exact: false, lenient: true }],
    ["an undeclared key at the top", (p) => (p.extra = "x"), { exact: false, lenient: true }],
    ["any key inside a record", (p) => (p.results[0].metrics.other = [1]), { exact: true, lenient: true }],
    ["an optional field explicitly undefined", (p) => (p.results[1].note = undefined), { exact: true, lenient: true }],
    ["a wrong literal", (p) => (p.results[0].kind = "c"), { exact: false, lenient: false }],
    ["a non-integer id (refinement)", (p) => (p.results[0].id = 1.5), { exact: false, lenient: false }],
    ["a missing required field", (p) => delete p.results[1].name, { exact: false, lenient: false }],
    ["results not an array", (p) => (p.results = {}), { exact: false, lenient: false }]
  ]
  for (const [name, mutate, expected] of cases) {
    it(`${name}: exact ${expected.exact}, lenient ${expected.lenient}`, () => {
      const value = page() as any
      mutate(value)
      expect(exact(value)).toBe(expected.exact)
      expect(lenient(value)).toBe(expected.lenient)
      // never more permissive than the schema, and exact only when the encoding changes nothing
      if (lenient(value)) expect(Schema.is(Page)(value)).toBe(true)
      if (exact(value)) expect(Either.getOrThrow(encode(value))).toStrictEqual(value)
      // where code generation is disabled, Effect's own check gives the same answers
      expect(schemaGuard(Page.ast, true)(value)).toBe(expected.exact)
      expect(schemaGuard(Page.ast, false)(value)).toBe(expected.lenient)
    })
  }

  it("an undeclared key makes the encoding differ, which is why exact mode refuses it", () => {
    const value = page() as any
    value.results[0].secret = "dropped"
    expect(Either.getOrThrow(encode(value))).not.toStrictEqual(value)
  })

  it("has no guard for schemas it cannot check without running them (transformations)", () => {
    expect(guardOf(Schema.Struct({ at: Schema.DateFromString }).ast)).toBeUndefined()
    expect(guardOf(Schema.NumberFromString.ast, { exact: true })).toBeUndefined()
  })

  it("where code generation is disabled, the guard is Effect's own check, with the same answers", () => {
    const script = "import { Schema } from \"effect\"; import { guardOf } from \"./src/schemas/Guard.ts\"; " +
      "const g = guardOf(Schema.Struct({ id: Schema.Int }).ast); " +
      "console.log(JSON.stringify([g({ id: 1 }), g({ id: 1.5 }), g.name]))"
    const run = (flags: ReadonlyArray<string>) => {
      const result = spawnSync(process.execPath, [...flags, "--import", "tsx", "--input-type=module", "-e", script], {
        encoding: "utf8"
      })
      expect(result.stderr).toBe("")
      return JSON.parse(result.stdout) as unknown
    }
    // the generated function is named `guard`; the fallback is ParseResult.is's anonymous one
    expect(run([])).toStrictEqual([true, false, "guard"])
    expect(run(["--disallow-code-generation-from-strings"])).toStrictEqual([true, false, ""])
  })
})
