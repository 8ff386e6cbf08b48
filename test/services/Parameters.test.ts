/**
 * `Parameters`: read filters are closed (an unknown key is a `ValidationError` naming it and the
 * known ones) unless passed through `extra`; every problem is reported at once; query encoding.
 */
import { Effect, Exit, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { ModelListParams } from "../../src/schemas/Params.js"
import { queryParams, toQuery, validate, validatePrefetch } from "../../src/services/Parameters.js"
import { ValidationError } from "../../src/services/SynapseError.js"

const run = <A>(effect: Effect.Effect<A, ValidationError>) => Effect.runSyncExit(effect)
const failure = <A>(effect: Effect.Effect<A, ValidationError>): ValidationError => {
  const exit = run(effect)
  if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") throw new Error(`expected a failure, got ${String(exit)}`)
  return exit.cause.error
}

const KNOWN = Object.keys(ModelListParams.fields)
const LIST = `${KNOWN.join(", ")} (pass other query parameters through \`extra\`)`

describe("validate with closed keys", () => {
  it("an unknown key is a ValidationError naming it and the known keys", () => {
    expect(failure(validate(ModelListParams, { projekt: 1 }, { closed: true }))).toStrictEqual(
      new ValidationError({
        detail: `unknown parameter "projekt"; the parameters are ${LIST}`,
        field: "projekt",
        allowed: KNOWN,
        fieldErrors: { projekt: [`is not a known parameter; the parameters are ${LIST}`] }
      })
    )
  })

  it("every problem at once: unknown keys first, then bad values", () => {
    const error = failure(validate(ModelListParams, { colour: "red", page: 0, shape: "round" }, { closed: true }))
    expect(Object.keys(error.fieldErrors!)).toStrictEqual(["colour", "shape", "page"])
    expect(error.field).toBe("colour")
    expect(error.detail.split("; unknown").length).toBe(2)
    expect(error.detail).toContain("page: must be an integer ≥ 1")
  })

  it("extra, and unknown keys that are undefined, pass", () => {
    const valid = run(validate(ModelListParams, { project: 1, extra: { colour: "red" }, shape: undefined }, {
      closed: true
    }))
    expect(valid).toStrictEqual(Exit.succeed({ project: 1, extra: { colour: "red" }, shape: undefined }))
  })

  it("a prefix names the field within its parent", () => {
    const error = failure(validate(Schema.Struct({ expand: Schema.optional(Schema.String) }), { expnd: "x" }, {
      prefix: "params",
      closed: true
    }))
    expect(error.field).toBe("params.expnd")
    expect(error.allowed).toStrictEqual(["expand"])
  })

  it("without closed, unknown keys are kept to be passed on (the workflows' inputs)", () => {
    expect(run(validate(ModelListParams, { projekt: 1 }))).toStrictEqual(Exit.succeed({ projekt: 1 }))
  })
})

describe("toQuery / queryParams", () => {
  it("lists repeat their key, null and undefined are left out, extra comes last", () => {
    expect(run(toQuery({ a: [1, 2], b: true, c: null, d: undefined, extra: { e: "x" } }))).toStrictEqual(
      Exit.succeed([["a", "1"], ["a", "2"], ["b", "true"], ["e", "x"]])
    )
  })

  it("a fields selection without id gets id added", () => {
    expect(run(toQuery({ extra: { fields: "category,files" } }))).toStrictEqual(
      Exit.succeed([["fields", "category,files"], ["fields", "id"]])
    )
  })

  it("a nested object, or an extra that is not a record, is a ValidationError", () => {
    expect(failure(queryParams({ a: { b: 1 } })).field).toBe("a")
    expect(failure(toQuery({ extra: "colour=red" }))).toStrictEqual(
      new ValidationError({ detail: "extra must be a record of query parameters, got \"colour=red\"", field: "extra" })
    )
  })
})

describe("validatePrefetch", () => {
  it("absent is the fallback; out of range is a ValidationError on prefetch", () => {
    expect(run(validatePrefetch(undefined, 8))).toStrictEqual(Exit.succeed(8))
    expect(run(validatePrefetch(16, 8))).toStrictEqual(Exit.succeed(16))
    expect(failure(validatePrefetch(17, 8)).field).toBe("prefetch")
  })
})
