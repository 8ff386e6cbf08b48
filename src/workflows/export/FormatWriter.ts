/**
 * The seam between the export's reading (Export.ts: events, images, classes, skips, splits) and
 * its output formats: one `FormatModule` per format, each in a module of its own. The runner
 * hands a writer every image once per split and every annotation, already clipped and checked
 * (`PreparedOut`); the writer spools what it needs inside the work directory and, once the stream
 * has ended and category ids are final, assembles its files there and says where each goes. The
 * runner spools the image records every format shares (Records.ts), moves files into place,
 * validates and reports, so a writer never leaves anything in the output directory.
 */
import type { DatasetVersion } from "../../schemas/DatasetVersion.js"
import type { PreparedOut, SourceAnnotation } from "../Annotations.js"
import type { BufferedWriter } from "../Spool.js"

/** An image of one split, as the export names it. */
export interface ExportImage {
  /** The COCO image id (data unit id, or the id derived from its file). */
  readonly id: number
  readonly split: string
  readonly width: number
  readonly height: number
  /** The file name in this split, unique within it (see Resolution.ts). */
  readonly name: string
  /** The file name without its extension: the stem of per-image files (YOLO labels, VOC XML). */
  readonly stem: string
}

/** A file or directory assembled in the work directory and where it goes in the output directory. */
export interface Move {
  readonly from: string
  readonly to: string
  readonly dir: boolean
}

/** The final classes: `ids[index]` is the id of the class at local index `index`. */
export interface FinalCategories {
  readonly ids: ReadonlyArray<number>
  readonly categories: ReadonlyArray<{ readonly id: number; readonly name: string }>
}

/** What a writer assembles its files from. Stops between chunks when the signal is aborted. */
export interface AssembleInput {
  /** The splits, sorted. */
  readonly splits: ReadonlyArray<string>
  /** The final classes (every class is known by then). */
  readonly categories: FinalCategories
  /**
   * The runner's spool of a split's images, in the order they were first seen (image records of
   * Records.ts); it and the writer's own spools are closed by then.
   */
  readonly imageSpool: (split: string) => string
}

/** What a writer assembled. */
export interface Assembled {
  /** Per split, in the order listed in the summary. */
  readonly splits: Readonly<Record<string, ReadonlyArray<Move>>>
  /** Files that belong to no split (YOLO's data.yaml), listed after the splits'. */
  readonly shared: ReadonlyArray<Move>
  /** COCO files to validate, by split, in the work directory. */
  readonly validate: Readonly<Record<string, string>>
}

/** What the runner gives a writer. */
export interface WriterContext {
  /** The work directory (inside the output directory; renamed into place only when complete). */
  readonly work: string
  /** The output directory, absolute. */
  readonly outputDir: string
  /** The dataset versions exported (COCO's `info` describes them). */
  readonly versions: ReadonlyArray<DatasetVersion>
  /** Runs `run` after the current page, in order with the runner's own file work. */
  readonly schedule: (path: string, run: () => Promise<unknown>) => void
  /** Counts a writer's bytes in the summary, flushes it after each page and closes it at the end. */
  readonly track: (writer: BufferedWriter) => void
}

/** One output format's writer for one export. Calls are synchronous except where a promise is returned. */
export interface FormatWriter {
  /** Prepares a split's spools and directories, on the split's first image. */
  readonly openSplit: (split: string) => Promise<void>
  /** A new image of a split (once per image and split). */
  readonly image: (image: ExportImage) => void
  /**
   * One annotation of `image` with class index `category`: `g` is its prepared geometry (valid until
   * the next call), `source` the annotation as read (for what `g` does not say, e.g. truncation).
   */
  readonly annotation: (image: ExportImage, category: number, g: PreparedOut, source: SourceAnnotation) => void
  /** Assembles the output files in the work directory, once the stream has ended (see `AssembleInput`). */
  readonly assemble: (input: AssembleInput, signal: AbortSignal) => Promise<Assembled>
}

/**
 * A place in an output directory that holds per-split outputs: a directory whose entries are
 * per-split directories, or one whose entries matching `pattern` are per-split files.
 */
export type LayoutEntry =
  | { readonly dir: string; readonly kind: "dirs" }
  | { readonly dir: string; readonly kind: "files"; readonly pattern: RegExp }

/** An output format: its name, its layout, and how to make its writer. */
export interface FormatModule {
  /** Whether the format holds the image files itself (`images/<split>/` is written without `includeImages`). */
  readonly placesImages: boolean
  /**
   * Where the format's per-split outputs live in an output directory, so that an earlier export's
   * outputs this export did not replace are reported.
   */
  readonly layout: ReadonlyArray<
    { readonly dir: string; readonly kind: "dirs" } | {
      readonly dir: string
      readonly kind: "files"
      readonly pattern: RegExp
    }
  >
  /** A writer for one export. */
  readonly make: (context: WriterContext) => FormatWriter
}
