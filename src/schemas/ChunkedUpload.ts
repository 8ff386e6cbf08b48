/**
 * The chunked upload protocol's answers (docs/wire-protocol.md "Chunked upload"), as decoded by the
 * client. Only what the client needs to carry on is required; everything else is optional and kept.
 */
import { Schema } from "effect"

/**
 * An upload id: an integer in the official SDK's types, a string on other deployments (and the
 * rich sandbox). Kept exactly as received, since it is sent back (`chunked_upload` in the create body).
 */
export const UploadId = Schema.Union(Schema.Int, Schema.String)
export type UploadId = typeof UploadId.Type

/**
 * What `PUT chunked_upload/`, `PUT {url}` and (where it exists) `GET {url}` answer. `status` is
 * the rich sandbox's `"uploading"`/`"complete"`, or drf-chunked-upload's `1`/`2`: see `isComplete`.
 */
export const ChunkedUploadState = Schema.Struct({
  id: UploadId,
  url: Schema.String,
  offset: Schema.Int.pipe(Schema.nonNegative()),
  filename: Schema.optional(Schema.NullOr(Schema.String)),
  expires: Schema.optional(Schema.NullOr(Schema.String)),
  status: Schema.optional(Schema.NullOr(Schema.Union(Schema.String, Schema.Number)))
})
export type ChunkedUploadState = typeof ChunkedUploadState.Type

/** Whether a state says the upload was finished (`"complete"`, or drf-chunked-upload's `2`). */
export const isComplete = (state: ChunkedUploadState): boolean => state.status === "complete" || state.status === 2

/** What `POST {url}` answers once the md5 matches. */
export const ChunkedUploadComplete = Schema.Struct({
  id: UploadId,
  file: Schema.optional(Schema.NullOr(Schema.String)),
  checksum: Schema.optional(Schema.NullOr(Schema.String)),
  size: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.nonNegative())))
})
export type ChunkedUploadComplete = typeof ChunkedUploadComplete.Type

/** The body of `POST {url}`. */
export const ChunkedUploadFinish = Schema.Struct({ md5: Schema.String.pipe(Schema.pattern(/^[0-9a-f]{32}$/)) })
export type ChunkedUploadFinish = typeof ChunkedUploadFinish.Type

/**
 * The 400 answer to a chunk whose start is not the server's offset: `expected_offset` (and
 * `provided_offset`) in current drf-chunked-upload, `offset` in older forks and the rich sandbox.
 */
export const OffsetMismatch = Schema.Struct({
  detail: Schema.optional(Schema.Unknown),
  expected_offset: Schema.optional(Schema.Int.pipe(Schema.nonNegative())),
  provided_offset: Schema.optional(Schema.Int),
  offset: Schema.optional(Schema.Int.pipe(Schema.nonNegative()))
})
export type OffsetMismatch = typeof OffsetMismatch.Type

/** The offset the server asks for in a mismatch answer, when it names one. */
export const expectedOffset = (mismatch: OffsetMismatch): number | undefined =>
  mismatch.expected_offset ?? mismatch.offset

/** drf-chunked-upload's 400 detail for a chunk or finish on a finished upload (quoted or not). */
export const ALREADY_COMPLETE_PATTERN = /already been marked as "?complete"?/i

/** drf-chunked-upload's 400 detail for a declared total over its limit. */
export const SIZE_LIMIT_PATTERN = /size of file exceeds the limit/i
