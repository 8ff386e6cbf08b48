/**
 * The resource schemas as the SDK's decoder applies them (`decoder`: the compiled guard first,
 * the full decode when the guard says no or cannot be built): every resource needs only its `id`,
 * every other declared field may be absent or `null` and is typed when present, and fields nobody
 * declared survive both paths unchanged.
 */
import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { Id, withUndeclaredFields } from "../../src/schemas/Common.js"
import { DatasetVersion } from "../../src/schemas/DatasetVersion.js"
import { GroundTruth, GroundTruthEvent } from "../../src/schemas/GroundTruth.js"
import { guardOf } from "../../src/schemas/Guard.js"
import { Model } from "../../src/schemas/Model.js"
import { Page } from "../../src/schemas/Page.js"
import { decoder } from "../../src/services/SynapseClient.js"

const decodes = <A, I>(schema: Schema.Schema<A, I, never>, json: unknown) => {
  const result = decoder(schema)(json)
  if (Either.isLeft(result)) throw new Error(`expected ${JSON.stringify(json)} to decode: ${result.left.message}`)
  return result.right
}
const failsAt = <A, I>(schema: Schema.Schema<A, I, never>, json: unknown) => {
  const result = decoder(schema)(json)
  if (Either.isRight(result)) throw new Error(`expected ${JSON.stringify(json)} not to decode`)
  return result.left.path
}

const RESOURCES = [
  ["Model", Model],
  ["GroundTruthEvent", GroundTruthEvent],
  ["GroundTruth", GroundTruth],
  ["DatasetVersion", DatasetVersion]
] as const

/** Every declared field but `id` set to null. */
const allNull = (schema: { readonly fields: Readonly<Record<string, unknown>> }) =>
  Object.fromEntries(Object.keys(schema.fields).map((k) => [k, k === "id" ? 1 : null]))

/** Declared fields that are not nullable (collections and file maps: absent, never null). */
const NOT_NULLABLE: Record<string, ReadonlyArray<string>> = {
  Model: ["evaluations", "versions"],
  GroundTruthEvent: ["files"],
  GroundTruth: ["files", "ground_truth_dataset_versions"],
  DatasetVersion: []
}

describe("resources need only an id", () => {
  for (const [name, schema] of RESOURCES) {
    it(`${name}: {id} decodes, a missing or non-positive id does not, null stands for any other field`, () => {
      expect(decodes(schema, { id: 7 })).toStrictEqual({ id: 7 })
      expect(failsAt(schema, {})).toBe("id")
      expect(failsAt(schema, { id: 0 })).toBe("id")
      expect(failsAt(schema, { id: "7" })).toBe("id")
      const nulls = allNull(schema)
      for (const key of NOT_NULLABLE[name]!) delete nulls[key]
      expect(decodes(schema, nulls)).toStrictEqual(nulls)
    })
  }

  it("a declared field present with the wrong type fails at its path, in a page too", () => {
    expect(failsAt(Model, { id: 1, name: 5 })).toBe("name")
    expect(failsAt(Model, { id: 1, is_active: "yes" })).toBe("is_active")
    expect(failsAt(DatasetVersion, { id: 1, is_archived: "no" })).toBe("is_archived")
    expect(failsAt(Page(GroundTruthEvent), { count: 2, next: null, results: [{ id: 1 }, { id: 2, category: 3 }] }))
      .toBe("results.1.category")
  })

  it("evidence-shaped records decode as sent", () => {
    const model = {
      id: 456,
      name: "m",
      category: "object_detection",
      file: null,
      plugin: 12,
      version: "1",
      configuration: {},
      description: "",
      is_released: false
    }
    expect(decodes(Model, model)).toStrictEqual(model)
    // plugin as a string or an expanded object, expansions with only ids
    expect(decodes(Model, { id: 1, plugin: "yolo", evaluations: [{ id: 2 }], versions: [{ id: 3 }], file_info: {} }))
      .toStrictEqual({ id: 1, plugin: "yolo", evaluations: [{ id: 2 }], versions: [{ id: 3 }], file_info: {} })
    expect(decodes(Model, { id: 1, plugin: { id: 12, code: "yolo" } })).toStrictEqual({
      id: 1,
      plugin: { id: 12, code: "yolo" }
    })
    expect(decodes(DatasetVersion, { id: 303, name: "v3", is_archived: false })).toStrictEqual({
      id: 303,
      name: "v3",
      is_archived: false
    })
    expect(decodes(GroundTruth, { id: 1, files: { image_1: { url: "u" } } })).toStrictEqual({
      id: 1,
      files: { image_1: { url: "u" } }
    })
  })
})

describe("undeclared fields are kept", () => {
  const extras = { owner: { id: 3, teams: [{ id: 1 }] }, tags: ["a", 1, null], score: 0.5 }

  it("on the fast path (the compiled guard), nested ones too", () => {
    expect(guardOf(Model.ast)).toBeDefined()
    const json = { id: 1, name: "m", ...extras, versions: [{ id: 2, extra: true }], file_info: { size: 3, etag: "x" } }
    const page = { count: 1, next: null, results: [json], page_info: {} }
    expect(decodes(Page(Model), page)).toStrictEqual(page)
    const event = { id: 9, files: { image_1: { url: "u", sha: "s" } }, data_unit: { id: 5, meta: 1 }, ...extras }
    expect(decodes(GroundTruthEvent, event)).toStrictEqual(event)
  })

  it("on the full decode (a schema with a transformation has no guard)", () => {
    const transformed = Schema.Struct({
      id: Id,
      n: Schema.NumberFromString,
      inner: Schema.Struct({ a: Schema.String })
    })
    expect(guardOf(transformed.ast)).toBeUndefined()
    expect(decodes(transformed, { id: 1, n: "2", inner: { a: "x", b: 1 }, ...extras }))
      .toStrictEqual({ id: 1, n: 2, inner: { a: "x", b: 1 }, ...extras })
  })

  it("withUndeclaredFields keeps them when encoding as well", () => {
    const json = { id: 1, name: "m", ...extras }
    expect(Schema.encodeUnknownSync(Model)(json)).toStrictEqual({ id: 1, name: "m" })
    expect(Schema.encodeUnknownSync(withUndeclaredFields(Model))(json)).toStrictEqual(json)
    expect(Schema.encodeUnknownSync(withUndeclaredFields(DatasetVersion))({ id: 2, snapshot: 1 })).toStrictEqual({
      id: 2,
      snapshot: 1
    })
  })
})
