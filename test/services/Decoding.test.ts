/**
 * `Decoding`: a 2xx body parsed (or why it is not JSON, and whether it was cut short), then checked
 * with the schema's guard, the full decode explaining a failure.
 */
import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { decoder, isCutShort, parseJson } from "../../src/services/Decoding.js"
import { DecodeError } from "../../src/services/SynapseError.js"

describe("parseJson", () => {
  it("parses JSON", () => {
    expect(parseJson(" {\"a\": [1]} ", 200)).toStrictEqual(Either.right({ a: [1] }))
  })

  it("an empty body, HTML, JSON cut short and other text each say what they are", () => {
    expect(parseJson("  ", 200)).toStrictEqual(
      Either.left(
        new DecodeError({ status_code: 200, detail: "the server answered with an empty body where JSON was expected" })
      )
    )
    const html = Either.getLeft(parseJson("<html><body>Please log in</body></html>", 200))
    expect(html._tag === "Some" && html.value).toMatchObject({ truncated: false, excerpt: "Please log in" })
    const cut = Either.getLeft(parseJson("{\"results\": [{\"id\": 1}, {\"id\"", 200))
    expect(cut._tag === "Some" && cut.value).toMatchObject({
      detail: "the answer was cut short: truncated JSON",
      truncated: true
    })
    expect(cut._tag === "Some" && isCutShort(cut.value)).toBe(true)
    const wrong = Either.getLeft(parseJson("{\"a\": nope}", 200))
    expect(wrong._tag === "Some" && wrong.value.truncated).toBe(false)
    expect(wrong._tag === "Some" && isCutShort(wrong.value)).toBe(false)
  })
})

describe("decoder", () => {
  const Row = Schema.Struct({ id: Schema.Int, tags: Schema.optional(Schema.Array(Schema.String)) })

  it("is built once per schema and returns valid JSON as is, unknown fields kept", () => {
    expect(decoder(Row)).toBe(decoder(Row))
    const row = { id: 1, tags: ["a"], extra: { kept: true } }
    const decoded = decoder(Row)(row)
    expect(Either.isRight(decoded) && decoded.right).toBe(row)
  })

  it("a wrong field is a DecodeError naming its path and showing the value", () => {
    expect(decoder(Row)({ id: 1, tags: ["a", 2] })).toStrictEqual(
      Either.left(
        new DecodeError({
          // the optional field's two readings (absent, a list) each fail: one more issue
          detail: "the answer does not match the expected schema: Expected string, actual 2 (and 1 more)",
          path: "tags.1",
          excerpt: "2"
        })
      )
    )
  })

  it("a schema with a transformation is decoded in full", () => {
    const decoded = decoder(Schema.Struct({ n: Schema.NumberFromString }))({ n: "2" })
    expect(decoded).toStrictEqual(Either.right({ n: 2 }))
  })
})
