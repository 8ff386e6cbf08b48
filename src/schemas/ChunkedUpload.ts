/** The chunked upload protocol's answers (WIRE.md "chunked upload"). */
import { Schema } from "effect"

/** What `PUT chunked_upload/`, `PUT {url}` and `GET {url}` answer. */
export const ChunkedUploadState = Schema.Struct({
  id: Schema.String,
  url: Schema.String,
  offset: Schema.Int.pipe(Schema.nonNegative()),
  filename: Schema.optional(Schema.String),
  expires: Schema.optional(Schema.NullOr(Schema.String)),
  status: Schema.optional(Schema.Literal("uploading", "complete"))
})
export type ChunkedUploadState = typeof ChunkedUploadState.Type

/** What `POST {url}` answers once the md5 matches. */
export const ChunkedUploadComplete = Schema.Struct({
  id: Schema.String,
  file: Schema.String,
  checksum: Schema.String,
  size: Schema.Int.pipe(Schema.nonNegative())
})
export type ChunkedUploadComplete = typeof ChunkedUploadComplete.Type

/** The body of `POST {url}`. */
export const ChunkedUploadFinish = Schema.Struct({ md5: Schema.String.pipe(Schema.pattern(/^[0-9a-f]{32}$/)) })
export type ChunkedUploadFinish = typeof ChunkedUploadFinish.Type

/** The 400 answer to a chunk whose start is not the server's offset. */
export const OffsetMismatch = Schema.Struct({ detail: Schema.String, offset: Schema.Int })
export type OffsetMismatch = typeof OffsetMismatch.Type
