/**
 * Creating a directory with its missing parents, for every directory a user names (the sandbox's
 * data directory, the cache, export and split outputs, the MCP output directory). Part of the
 * platform layer: plain Node code that every other layer, the sandbox included, may use.
 *
 * Not Node's `mkdir(path, { recursive: true })` alone: on Node 20 it never returns when a parent
 * that exists refuses new entries with ENOENT, as everything under `/proc` does (it creates the
 * parent, which exists, and retries the child forever). Here the missing levels are created one at
 * a time, so such a path fails at once with that ENOENT, naming the level; Node's recursive form
 * then runs only once every level exists, to keep its answer for an existing path (none, or EEXIST
 * when it is a file).
 */
import * as Fs from "node:fs"
import * as Fsp from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"

/** The levels of `dir` that do not exist yet, outermost first (a few `stat` calls: cheap enough to run synchronously). */
const missingLevels = (dir: string): Array<string> => {
  const levels: Array<string> = []
  for (let at = Path.resolve(dir); !Fs.existsSync(at);) {
    levels.unshift(at)
    const parent = Path.dirname(at)
    if (parent === at) break
    at = parent
  }
  return levels
}

// A level created by someone else meanwhile is fine; if it is a file, the next level (ENOTDIR) or
// the final recursive call (EEXIST) says so.
const isAlreadyThere = (error: unknown): boolean => (error as NodeJS.ErrnoException).code === "EEXIST"

/** Creates `dir` and its missing parents (an existing directory is fine). */
export const makeDirectorySync = (dir: string): void => {
  for (const level of missingLevels(dir)) {
    try {
      Fs.mkdirSync(level)
    } catch (error) {
      if (!isAlreadyThere(error)) throw error
    }
  }
  Fs.mkdirSync(dir, { recursive: true })
}

/** `makeDirectorySync` with asynchronous `mkdir` calls. */
export const makeDirectory = async (dir: string): Promise<void> => {
  for (const level of missingLevels(dir)) {
    try {
      await Fsp.mkdir(level)
    } catch (error) {
      if (!isAlreadyThere(error)) throw error
    }
  }
  await Fsp.mkdir(dir, { recursive: true })
}

/**
 * A per-user data directory for `app`: `$XDG_DATA_HOME/<app>`, else `~/.local/share/<app>` (the XDG
 * base directory convention, also followed by most tools on macOS). Data kept there survives reboots
 * and is not shared with other users, unlike the temporary directory.
 */
export const userDataDir = (
  app: string,
  env: Record<string, string | undefined> = process.env,
  home: string = Os.homedir()
): string => {
  const xdg = env.XDG_DATA_HOME?.trim()
  // The specification ignores a relative XDG_DATA_HOME.
  const base = xdg !== undefined && xdg !== "" && Path.isAbsolute(xdg) ? xdg : Path.join(home, ".local", "share")
  return Path.join(base, app)
}
