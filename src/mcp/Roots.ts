/**
 * Where tools may touch the local disk. A model chooses the paths it passes, so every path is
 * checked against the configured roots after resolving symlinks (realpath): uploads are read only
 * from `SYNAPSE_MCP_UPLOAD_ROOTS`, exports are written only under `SYNAPSE_MCP_OUTPUT_DIR`. A `..`
 * segment is refused outright, even when it would land inside a root, because it signals an
 * attempt to navigate that a legitimate caller never needs.
 */
import { Effect } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { makeDirectory } from "../platform/Directories.js"
import { ToolError } from "./Tool.js"

const hasDotDot = (p: string): boolean => p.split(/[\\/]+/).some((segment) => segment === "..")

/** True when `child` is `parent` or lies below it (both already real, absolute paths). */
export const isInside = (parent: string, child: string): boolean => {
  const rel = path.relative(parent, child)
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel))
}

const realpath = (p: string) => Effect.promise(() => fs.realpath(p).then((r) => r, () => undefined))

/**
 * Resolves `requested` (absolute, or relative to the first root that has it) to the real path of
 * an existing regular file inside one of `roots`.
 */
export const resolveUploadFile = (
  roots: ReadonlyArray<string>,
  requested: string,
  what = "the upload roots",
  argument = "file_path"
) =>
  Effect.gen(function*() {
    if (roots.length === 0) {
      return yield* new ToolError({
        message: "File uploads are disabled: no upload roots are configured. Ask the user to set " +
          "SYNAPSE_MCP_UPLOAD_ROOTS to the directories holding model files, then restart the server."
      })
    }
    if (requested.trim() === "" || requested.includes("\0")) {
      return yield* new ToolError({ message: `${argument} is empty or invalid.` })
    }
    if (hasDotDot(requested)) {
      return yield* new ToolError({
        message: `${argument} ${JSON.stringify(requested)} contains a '..' segment, which is not allowed. ` +
          `Give a path inside ${what}: ${roots.join(", ")}.`
      })
    }
    const candidates = path.isAbsolute(requested) ? [requested] : roots.map((root) => path.join(root, requested))
    const realRoots = (yield* Effect.forEach(roots, realpath)).filter((r): r is string => r !== undefined)
    for (const candidate of candidates) {
      const real = yield* realpath(candidate)
      if (real === undefined) continue
      if (!realRoots.some((root) => isInside(root, real))) {
        return yield* new ToolError({
          message: `${argument} ${JSON.stringify(requested)} resolves to a location outside ${what} ` +
            `(${roots.join(", ")}); symbolic links out of a root are not followed. Copy the file into a root.`
        })
      }
      const stat = yield* Effect.promise(() => fs.stat(real))
      if (!stat.isFile()) {
        return yield* new ToolError({ message: `${argument} ${JSON.stringify(requested)} is not a regular file.` })
      }
      return real
    }
    return yield* new ToolError({
      message: `${argument} ${JSON.stringify(requested)} does not exist in ${what} (${roots.join(", ")}). ` +
        "Give an absolute path inside a root, or a path relative to one."
    })
  })

/** A name usable as one directory level under the output directory. */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/

/**
 * Creates (or reuses) the directory `name` directly under `outputDir` and returns its real path.
 * `name` is a single path segment; an existing symlink there pointing elsewhere is refused.
 */
export const prepareOutputDir = (outputDir: string, name: string) =>
  Effect.gen(function*() {
    if (!SAFE_NAME.test(name) || name.includes("..")) {
      return yield* new ToolError({
        message: `output name ${JSON.stringify(name)} is not allowed: use letters, digits, '.', '_' and '-' ` +
          "(one directory level, no '..', at most 100 characters)."
      })
    }
    yield* Effect.tryPromise({
      try: () => makeDirectory(outputDir),
      catch: () =>
        new ToolError({ message: `The output directory ${outputDir} cannot be created; check SYNAPSE_MCP_OUTPUT_DIR.` })
    })
    const realRoot = yield* realpath(outputDir)
    if (realRoot === undefined) {
      return yield* new ToolError({
        message: `The output directory ${outputDir} is not accessible; check SYNAPSE_MCP_OUTPUT_DIR.`
      })
    }
    const target = path.join(realRoot, name)
    yield* Effect.promise(() => fs.mkdir(target).catch(() => undefined))
    const realTarget = yield* realpath(target)
    if (realTarget === undefined || !isInside(realRoot, realTarget) || realTarget === realRoot) {
      return yield* new ToolError({
        message: `output name ${
          JSON.stringify(name)
        } points outside the output directory (a symbolic link?); choose another name.`
      })
    }
    return realTarget
  })

/**
 * Resolves `relative` (a file below `outputDir/name`) for reading back an export, refusing `..`
 * and symlink escapes. Fails with a ToolError when the file is missing or outside.
 */
export const resolveOutputFile = (outputDir: string, name: string, relative: string) =>
  Effect.gen(function*() {
    if (!SAFE_NAME.test(name) || hasDotDot(relative) || path.isAbsolute(relative) || relative.includes("\0")) {
      return yield* new ToolError({ message: `Invalid export path ${JSON.stringify(`${name}/${relative}`)}.` })
    }
    const realRoot = yield* realpath(outputDir)
    const real = yield* realpath(path.join(outputDir, name, relative))
    if (realRoot === undefined || real === undefined) {
      return yield* new ToolError({ message: `Export file ${name}/${relative} does not exist.` })
    }
    if (!isInside(realRoot, real)) {
      return yield* new ToolError({ message: `Export file ${name}/${relative} resolves outside the output directory.` })
    }
    return real
  })
