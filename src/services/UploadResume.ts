/**
 * Resume state of a chunked upload: where an interrupted upload of the same file can be picked up,
 * and the running md5 of the part of the file the server holds.
 *
 * Guarantees:
 * - `makePrefixHash` keeps the md5 of the file's bytes `[0, position)`; moving it forward hashes
 *   only the bytes in between, moving it back starts again from 0. It is never ahead of the bytes
 *   the server acknowledged, so the finish always sends the md5 of what was sent.
 * - `findResumePoint` picks up an upload only when the state file names this very file (path,
 *   size, mtime) and the md5 of the part sent, hashed again from disk, still matches: an edit that
 *   kept size and mtime starts over. Where the server is, `GET {url}` says (the rich sandbox);
 *   where that request fails (the platform need not route it: the official SDK never sends it),
 *   the remembered offset is used, and the server's offset error on the next chunk corrects it.
 *   A state that cannot be used is removed.
 * - `resumeStore` writes the state after every acknowledged chunk and removes it once finished;
 *   with resume off it neither reads nor writes anything.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Effect, Either, Option } from "effect"
import type { Hash } from "node:crypto"
import { ChunkedUploadState, isComplete } from "../schemas/ChunkedUpload.js"
import type { Session } from "./ChunkSender.js"
import type { Service as Client } from "./SynapseClient.js"
import type { SourceFileError } from "./UploadSource.js"
import {
  hashRange,
  newMd5,
  peekDigest,
  readState,
  removeState,
  type ResumeState,
  sameIdentity,
  statePath,
  type UploadSourceFile,
  writeState
} from "./UploadSource.js"

/** The md5 of a prefix of the source file, moved to wherever the upload continues. */
export interface PrefixHash {
  /** The end of the hashed prefix. */
  readonly position: () => number
  /** The accumulator of `[0, position)`: continued on a copy by a chunk attempt. */
  readonly hash: () => Hash
  /** Hashes (or re-hashes from 0) so that the prefix ends at `to`, reporting the position reached. */
  readonly moveTo: (to: number) => Effect.Effect<void, SourceFileError>
  /** Takes `hash` as the md5 of `[0, to)` (a chunk's, continued over bytes the server acknowledged). */
  readonly advance: (hash: Hash, to: number) => void
  /** The hex digest of the prefix. */
  readonly digest: () => string
}

/** A prefix hash over `source`, starting empty; `onHashed` sees the position while re-reading. */
export const makePrefixHash = (source: UploadSourceFile, onHashed: (position: number) => void): PrefixHash => {
  let hash = newMd5()
  let hashed = 0
  return {
    position: () => hashed,
    hash: () => hash,
    moveTo: (to) =>
      Effect.suspend(() => {
        if (to < hashed) {
          hash = newMd5()
          hashed = 0
        }
        if (to === hashed) return Effect.void
        return hashRange(source, hash, hashed, to, onHashed).pipe(Effect.tap(() => {
          hashed = to
        }))
      }),
    advance: (next, to) => {
      hash = next
      hashed = to
    },
    digest: () => peekDigest(hash)
  }
}

/** Where a remembered upload continues. */
export interface ResumePoint {
  readonly session: Session
  readonly offset: number
}

/** The state file of one upload: remembered after each chunk, removed when done (no-ops with resume off). */
export interface ResumeStore {
  readonly read: Effect.Effect<Option.Option<ResumeState>>
  readonly save: (session: Session, offset: number, prefixMd5: string) => Effect.Effect<void>
  readonly clear: Effect.Effect<void>
}

/** The state file for `source` uploaded to `client`'s server, under `stateDir`. */
export const resumeStore = (
  stateDir: string,
  client: Client,
  source: UploadSourceFile,
  enabled: boolean
): ResumeStore => {
  if (!enabled) return { read: Effect.succeedNone, save: () => Effect.void, clear: Effect.void }
  const file = statePath(stateDir, client.baseUrl, source.path)
  return {
    read: readState(file),
    save: (session, offset, prefixMd5) =>
      writeState(file, {
        version: 1,
        server: client.baseUrl,
        url: session.url,
        id: session.id,
        path: source.path,
        size: source.size,
        mtimeMs: source.mtimeMs,
        offset,
        prefixMd5
      }),
    clear: removeState(file)
  }
}

/**
 * Where the server has the remembered upload of `source`, if it can be continued: checked
 * against the file (identity, then the md5 of the part sent) and the server's status. On success
 * `prefix` ends at the returned offset; otherwise the state is cleared.
 */
export const findResumePoint = (
  client: Client,
  source: UploadSourceFile,
  store: ResumeStore,
  prefix: PrefixHash
): Effect.Effect<Option.Option<ResumePoint>, SourceFileError> =>
  Effect.gen(function*() {
    const remembered = yield* store.read
    if (Option.isNone(remembered)) return Option.none()
    const state = remembered.value
    const log = (message: string, annotations: Record<string, unknown> = {}) =>
      Effect.logInfo(message).pipe(Effect.annotateLogs({ path: source.path, ...annotations }))
    const giveUp = (message: string) => Effect.as(Effect.zipRight(log(message), store.clear), Option.none())
    if (!sameIdentity(state, source)) {
      return yield* giveUp("the file changed since its upload was interrupted: starting over")
    }
    const status = yield* Effect.either(client.json(HttpClientRequest.get(state.url), ChunkedUploadState))
    // The status says where the server is; a server without one (405, 404) is asked by the next
    // chunk instead, at the remembered offset.
    let at: number
    if (Either.isRight(status)) {
      const server = status.right
      if (server.offset > source.size || (isComplete(server) && server.offset !== source.size)) {
        return yield* giveUp("the interrupted upload cannot be continued: starting over")
      }
      at = server.offset
    } else {
      yield* log("no status for the interrupted upload: continuing at the remembered offset", {
        offset: state.offset,
        reason: status.left.detail
      })
      at = state.offset
    }
    yield* prefix.moveTo(state.offset)
    if (prefix.digest() !== state.prefixMd5) {
      return yield* giveUp("the file's content changed since its upload was interrupted: starting over")
    }
    yield* prefix.moveTo(at)
    yield* log("resuming an interrupted upload", { offset: at, total: source.size })
    // The id as the state file has it: the server's own value and type.
    return Option.some({ session: { id: state.id, url: state.url }, offset: at })
  })
