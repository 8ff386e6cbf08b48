/**
 * Where an export writes: the output directory (created, and removed again if this export created
 * it and does not complete), a work directory inside it that holds everything until the export is
 * complete (removed in every case), the moves of finished files into place (all files complete
 * before the first rename, the renames uninterruptible), and the report of an earlier export's
 * outputs that this one did not replace.
 */
import { Effect, Exit, Schema } from "effect"
import { randomBytes } from "node:crypto"
import * as Fsp from "node:fs/promises"
import * as Path from "node:path"
import { makeDirectory } from "../../platform/Directories.js"
import type { LayoutEntry, Move } from "./FormatWriter.js"

/** Writing the export failed (file system), or the options contradict each other. */
export class ExportError extends Schema.TaggedError<ExportError>()("ExportError", {
  detail: Schema.String,
  path: Schema.optional(Schema.String)
}) {}

/** Maps a thrown error to an `ExportError` saying what was being done. */
export const toError = (detail: string, path?: string) => (e: unknown) =>
  new ExportError({
    detail: `${detail}: ${e instanceof Error ? e.message : String(e)}`,
    ...(path !== undefined ? { path } : {})
  })

/**
 * Opens the workspace of an export into `outputDir` (resolved) in the current scope: the output
 * directory and a fresh work directory inside it, named `.synapse-export-<random>`.
 */
export const openWorkspace = (outputDir: string) =>
  Effect.gen(function*() {
    const existed = yield* Effect.promise(() => Fsp.stat(outputDir).then(() => true, () => false))
    // An output directory this export created is removed again if the export does not complete
    // (only when empty: rmdir refuses anything else).
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => makeDirectory(outputDir),
        catch: toError("cannot create the output directory", outputDir)
      }),
      (_, exit) =>
        Exit.isSuccess(exit) || existed
          ? Effect.void
          : Effect.promise(() => Fsp.rmdir(outputDir).catch(() => undefined))
    )
    const work = Path.join(outputDir, `.synapse-export-${randomBytes(6).toString("hex")}`)
    yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => Fsp.mkdir(work), catch: toError("cannot create the work directory", work) }),
      // A file write still in flight when the export was interrupted can land while the tree is
      // removed (ENOTEMPTY): retried, so that an interrupted export leaves nothing behind.
      () =>
        Effect.promise(() =>
          Fsp.rm(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 }).catch(() => undefined)
        )
    )
    return work
  })

/**
 * Moves finished files and directories into place (a directory replaces an earlier one of the same
 * name). Uninterruptible, so that an interruption cannot leave half of the splits moved.
 */
export const moveIntoPlace = (moves: ReadonlyArray<Move>, outputDir: string) =>
  Effect.uninterruptible(Effect.tryPromise({
    try: async () => {
      for (const m of moves) {
        await Fsp.mkdir(Path.dirname(m.to), { recursive: true })
        if (m.dir) await Fsp.rm(m.to, { recursive: true, force: true })
        await Fsp.rename(m.from, m.to)
      }
    },
    catch: toError("cannot move the export into place", outputDir)
  }))

/**
 * What an earlier export into the same directory left that this one did not replace, in
 * `layout` (every format's: an earlier export may have been in another format): per-split files
 * and directories. Reported, never deleted: the directory may hold the user's own files.
 */
export const earlierOutputs = async (
  outputDir: string,
  written: ReadonlySet<string>,
  layout: ReadonlyArray<LayoutEntry>
): Promise<Array<string>> => {
  const entries = (dir: string) => Fsp.readdir(dir, { withFileTypes: true }).catch(() => [])
  const stale = new Set<string>()
  for (const place of layout) {
    for (const entry of await entries(Path.join(outputDir, place.dir))) {
      const path = Path.join(outputDir, place.dir, entry.name)
      const kept = place.kind === "dirs" ? entry.isDirectory() : entry.isFile() && place.pattern.test(entry.name)
      if (kept && !written.has(path)) stale.add(path)
    }
  }
  return [...stale].sort()
}
