/**
 * Buffered line files for streaming exports: a writer that batches small strings into large
 * writes (one syscall per ~64 KiB instead of one per record), and a line reader that walks a
 * spooled file in chunks. Promise-based on purpose: callers wrap whole phases in one
 * `Effect.tryPromise` with an `AbortSignal`, which keeps the per-record path free of effect
 * overhead while staying interruptible between chunks.
 */
import * as Fs from "node:fs"
import * as Fsp from "node:fs/promises"
import { StringDecoder } from "node:string_decoder"

// Below V8's large-object size (~128 KiB): joined buffers die young instead of piling up in old
// space, so peak RSS does not grow with the amount written.
const FLUSH_AT = 64 * 1024
const PIECE = 16 * 1024

/** Appends strings to a file through an in-memory buffer of bounded size. */
export class BufferedWriter {
  private parts: Array<string> = []
  private pendingChars = 0
  /** Bytes written to the file so far. */
  bytes = 0

  private constructor(private readonly handle: Fsp.FileHandle, readonly path: string) {}

  /** Opens (truncating) `path` for writing. */
  static async open(path: string): Promise<BufferedWriter> {
    return new BufferedWriter(await Fsp.open(path, "w"), path)
  }

  // Small strings are concatenated into pieces of ~16 K characters before they join `parts`: one
  // encode call per piece instead of one per record (and a flattened piece, at most 64 KB even
  // for two-byte text, still dies young).
  private current = ""

  /** Buffers `s`; call `maybeFlush` regularly so the buffer stays bounded. */
  push(s: string): void {
    this.current += s
    this.pendingChars += s.length
    if (this.current.length >= PIECE) {
      this.parts.push(this.current)
      this.current = ""
    }
  }

  /** Whether enough is buffered to be worth a write. */
  get full(): boolean {
    return this.pendingChars >= FLUSH_AT
  }

  /** Writes the buffer when it is full. */
  async maybeFlush(): Promise<void> {
    if (this.pendingChars >= FLUSH_AT) await this.flush()
  }

  /**
   * Writes everything buffered, encoding the strings into one reusable 64 KiB buffer: no joined
   * string or fresh Buffer per flush, so nothing large is allocated however much a page produced.
   */
  async flush(): Promise<void> {
    if (this.current.length > 0) {
      this.parts.push(this.current)
      this.current = ""
    }
    if (this.parts.length === 0) return
    const parts = this.parts
    this.parts = []
    this.pendingChars = 0
    const buf = this.scratch
    let pos = 0
    for (const part of parts) {
      // Worst case 3 bytes per UTF-16 unit; exact length only when it might not fit.
      if (pos + part.length * 3 > buf.length) {
        const n = Buffer.byteLength(part)
        if (pos + n > buf.length) {
          await this.writeAll(buf, pos)
          pos = 0
        }
        if (n > buf.length) {
          await this.writeAll(Buffer.from(part, "utf8"), n)
          continue
        }
      }
      pos += buf.write(part, pos, "utf8")
    }
    await this.writeAll(buf, pos)
  }

  private readonly scratch = Buffer.allocUnsafe(FLUSH_AT)

  private async writeAll(data: Buffer, length: number): Promise<void> {
    let off = 0
    while (off < length) {
      const { bytesWritten } = await this.handle.write(data, off, length - off)
      off += bytesWritten
    }
    this.bytes += length
  }

  /** Flushes, syncs to disk and closes. */
  async close(): Promise<void> {
    await this.flush()
    await this.handle.sync()
    await this.handle.close()
  }

  /** Closes without flushing (on failure; the file is about to be removed). */
  async abandon(): Promise<void> {
    this.parts = []
    this.current = ""
    await this.handle.close().catch(() => undefined)
  }
}

/**
 * Calls `onLine` for each line of a file (without the newline), reading 64 KiB at a time.
 * `between` runs after each chunk (flush output, check for abort).
 */
export const forEachLine = async (
  path: string,
  onLine: (line: string) => void,
  between: () => Promise<void>,
  signal?: AbortSignal
): Promise<void> => {
  const decoder = new StringDecoder("utf8")
  const stream = Fs.createReadStream(path, { highWaterMark: 1 << 16, ...(signal ? { signal } : {}) })
  let carry = ""
  for await (const chunk of stream) {
    const text = carry + decoder.write(chunk as Buffer)
    let start = 0
    let nl = text.indexOf("\n", start)
    while (nl !== -1) {
      onLine(text.slice(start, nl))
      start = nl + 1
      nl = text.indexOf("\n", start)
    }
    carry = text.slice(start)
    await between()
  }
  carry += decoder.end()
  if (carry.length > 0) onLine(carry)
}
