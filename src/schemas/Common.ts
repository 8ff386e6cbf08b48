/**
 * Building blocks shared by every wire schema: ids, timestamps, JSON objects and the file entry
 * that both models and ground truth carry. Decoding keeps fields the contract does not list
 * (callers decode with `onExcessProperty: "preserve"`) and requires only what the SDK needs to
 * carry on, a resource's `id` (docs/wire-protocol.md "Resources").
 */
import { Schema } from "effect"

/** A positive integer primary key, as every Synapse resource uses. */
export const Id = Schema.Int.pipe(Schema.positive({ message: () => "must be a positive integer id" }))
export type Id = typeof Id.Type

/** An ISO 8601 timestamp as the server sends it (kept as a string: no transformation on hot fields). */
export const Timestamp = Schema.String
export type Timestamp = typeof Timestamp.Type

/** Any JSON object (configuration, metadata, statistics). */
export const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown })
export type JsonObject = typeof JsonObject.Type

/**
 * `struct` with its undeclared fields kept when encoding too (an index signature of unknown
 * values): for outputs that return a record as the backend sent it, fields the SDK does not know
 * included. Decoding already keeps them; encoding a plain struct would drop them.
 */
export const withUndeclaredFields = <Fields extends Schema.Struct.Fields>(struct: Schema.Struct<Fields>) =>
  Schema.Struct(struct.fields, Schema.Record({ key: Schema.String, value: Schema.Unknown })).annotations(
    struct.ast.annotations
  )

/**
 * A file as the server describes it: a presigned `url` (before url conversion) or a local `path`
 * (after it), plus what is known about the bytes. Image entries carry `width`/`height`.
 */
export const FileEntry = Schema.Struct({
  name: Schema.optional(Schema.String),
  url: Schema.optional(Schema.NullOr(Schema.String)),
  path: Schema.optional(Schema.String),
  file_type: Schema.optional(Schema.String),
  is_primary: Schema.optional(Schema.Boolean),
  width: Schema.optional(Schema.NullOr(Schema.Number)),
  height: Schema.optional(Schema.NullOr(Schema.Number)),
  size: Schema.optional(Schema.NullOr(Schema.Number)),
  checksum: Schema.optional(Schema.NullOr(Schema.String))
})
export type FileEntry = typeof FileEntry.Type

/** A map of files keyed by role (`image_1`, `data_meta_1`, `image`, …). */
export const FileMap = Schema.Record({ key: Schema.String, value: FileEntry })
export type FileMap = typeof FileMap.Type

/**
 * The data unit an event annotates: one image (or other item) and its files. The evidenced form
 * carries `files` alone (docs/wire-protocol.md "Ground-truth events"), so `id` is optional too.
 */
export const DataUnit = Schema.Struct({
  id: Schema.optional(Id),
  files: Schema.optional(Schema.NullOr(FileMap))
})
export type DataUnit = typeof DataUnit.Type
