/**
 * The spool record layouts of an export, stated once. A spool is a line file (Spool.ts) written
 * while events stream and read back when the output is assembled, because category ids are only
 * final once every class has been seen. Every record is one line of tab-separated fields whose
 * last field runs to the end of the line; no field but the last may contain a tab, and none a
 * newline (image names are made safe by `Resolution.safeName`, class names never appear: records
 * carry the class's local index in the export's `CategoryTable`).
 *
 * - image:      `<image id> \t <width> \t <height> \t <file name>`
 * - annotation: `<first field> \t <second field> \t <category index> \t <format's own fields>`,
 *   where the first two fields are the format's (COCO: annotation id and image id; YOLO and VOC:
 *   split and file stem).
 */
import { type BufferedWriter, forEachLine } from "../Spool.js"

/** An image record's fields. */
export interface ImageRecord {
  readonly id: number
  readonly width: number
  readonly height: number
  readonly name: string
}

/** Appends an image record to `spool`. */
export const pushImage = (spool: BufferedWriter, id: number, width: number, height: number, name: string): void =>
  spool.push(`${id}\t${width}\t${height}\t${name}\n`)

/**
 * Calls `onRow` for each record of a spool with the positions of its first three tabs, so that
 * callers slice the fields they need without splitting the line.
 */
export const forEachRecord = (
  spool: string,
  onRow: (line: string, t1: number, t2: number, t3: number) => void,
  between: () => Promise<void>,
  signal: AbortSignal
): Promise<void> =>
  forEachLine(
    spool,
    (line) => {
      const t1 = line.indexOf("\t")
      const t2 = line.indexOf("\t", t1 + 1)
      onRow(line, t1, t2, line.indexOf("\t", t2 + 1))
    },
    between,
    signal
  )

/** Reads the image records of a spool, in the order written. */
export const forEachImage = (
  spool: string,
  onImage: (image: ImageRecord) => void,
  between: () => Promise<void>,
  signal: AbortSignal
): Promise<void> =>
  forEachRecord(
    spool,
    (line, t1, t2, t3) =>
      onImage({
        id: Number(line.slice(0, t1)),
        width: Number(line.slice(t1 + 1, t2)),
        height: Number(line.slice(t2 + 1, t3)),
        name: line.slice(t3 + 1)
      }),
    between,
    signal
  )

/**
 * Appends each text to its file in turn, stopping at once when `signal` is aborted (the runs of
 * records a spool holds for one output file, grouped as read).
 */
export const appendAll = async (
  runs: ReadonlyArray<readonly [string, string]>,
  append: (file: string, text: string) => Promise<void>,
  signal: AbortSignal
): Promise<void> => {
  for (const [file, text] of runs) {
    if (signal.aborted) throw new Error("interrupted")
    await append(file, text)
  }
}
