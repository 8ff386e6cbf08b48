/**
 * Opening a local file that must be a regular file (a model file to upload, a COCO file to check).
 *
 * Guarantees: the path is opened with `O_NONBLOCK`, so a named pipe (FIFO) with no writer opens at
 * once instead of blocking a thread of the file system pool forever (an open that no interruption,
 * timeout or signal can stop); the opened descriptor is then checked with `fstat`, so what is read
 * is what was checked, and anything but a regular file (a directory, a FIFO, a socket, a device) is
 * closed and refused with a `NotRegularFileError` naming the path and its kind. `O_NONBLOCK` has no
 * effect on reads of a regular file.
 */
import { constants as fsConstants, type Stats } from "node:fs"
import * as fs from "node:fs/promises"

/** A path that exists but is not a regular file. `code` is `EISDIR` for a directory, else `ENOTREG`. */
export class NotRegularFileError extends Error {
  readonly code: "EISDIR" | "ENOTREG"
  constructor(readonly path: string, readonly kind: string) {
    super(`${path} is ${kind}, not a regular file`)
    this.name = "NotRegularFileError"
    this.code = kind === "a directory" ? "EISDIR" : "ENOTREG"
  }
}

/** What a file system entry is, in words: `a directory`, `a named pipe (FIFO)`, … */
export const fileKind = (stat: Stats): string =>
  stat.isFile()
    ? "a regular file"
    : stat.isDirectory()
    ? "a directory"
    : stat.isFIFO()
    ? "a named pipe (FIFO)"
    : stat.isSocket()
    ? "a socket"
    : stat.isCharacterDevice()
    ? "a character device"
    : stat.isBlockDevice()
    ? "a block device"
    : "a special file"

/**
 * Opens `path` read-only without blocking and checks it is a regular file; rejects with
 * `NotRegularFileError` (or the open's own error: `ENOENT`, `EACCES`, …). The caller closes the handle.
 */
export const openRegularFile = async (
  path: string
): Promise<{ readonly handle: fs.FileHandle; readonly stat: Stats }> => {
  const handle = await fs.open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK)
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) throw new NotRegularFileError(path, fileKind(stat))
    return { handle, stat }
  } catch (error) {
    await handle.close()
    throw error
  }
}
