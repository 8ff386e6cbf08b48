/**
 * Pascal VOC XML: one `Annotations/<split>/<stem>.xml` per image and `ImageSets/Main/<split>.txt`
 * listing the split's stems, one a line (images under `images/<split>/` with `includeImages`).
 *
 * Each file holds `folder` (the split), `filename`, `size` (`width`, `height`, and `depth` 3: the
 * channel count is not read from the image, and VOC's own images are RGB), `segmented` 0, and one
 * `object` per annotation: `name` (the class), `pose` Unspecified, `truncated`, `difficult`,
 * `bndbox`. Coordinates follow the VOC devkit's 1-based pixel convention, in which a box covers
 * pixels `xmin..xmax` inclusive: a COCO box `[x, y, w, h]` is written as `xmin = x + 1`,
 * `ymin = y + 1`, `xmax = x + w`, `ymax = y + h` (readers such as detectron2's subtract 1 from
 * `xmin`/`ymin` to get back to 0-based `[x, y, x + w, y + h]`). Numbers keep the export's two
 * decimals rather than being rounded to whole pixels, so the boxes round-trip exactly; a box
 * narrower than one pixel therefore has `xmax < xmin`.
 *
 * Polygons are written as their bounding box (VOC detection has no polygons). A crowd region is
 * written with `difficult` 1: VOC evaluation ignores difficult objects as COCO's ignores crowd
 * regions, so a detector is neither rewarded nor penalised there. `truncated` is 1 when the
 * annotation reached outside the image and was clipped to it. Text is XML-escaped.
 */
import * as Fsp from "node:fs/promises"
import * as Path from "node:path"
import type { SourceAnnotation } from "../Annotations.js"
import { allFinite } from "../Geometry.js"
import { BufferedWriter } from "../Spool.js"
import type { FormatModule, Move } from "./FormatWriter.js"
import { appendAll, forEachImage, forEachRecord } from "./Records.js"
import { stemOf } from "./Resolution.js"

const XML_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  "\"": "&quot;",
  "'": "&apos;"
}

/** `text` with XML's five special characters escaped. */
export const escapeXml = (text: string): string => text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!)

const r2 = (v: number): number => Math.round(v * 100) / 100

/** Whether an annotation's geometry, as read, reaches outside a `width` × `height` image. */
export const reachesOutside = (a: SourceAnnotation, width: number, height: number): boolean => {
  const outside = (x: number, y: number) => x < 0 || y < 0 || x > width || y > height
  const b = a.bbox
  if (a.polygons === undefined && b !== undefined && b.length === 4 && allFinite(b)) {
    return outside(b[0], b[1]) || outside(b[0] + b[2], b[1] + b[3])
  }
  for (const p of a.polygons ?? []) {
    if (!allFinite(p)) continue
    for (let i = 0; i + 1 < p.length; i += 2) if (outside(p[i]!, p[i + 1]!)) return true
  }
  return false
}

/** The VOC format. */
export const voc: FormatModule = {
  placesImages: false,
  layout: [{ dir: "Annotations", kind: "dirs" }, {
    dir: Path.join("ImageSets", "Main"),
    kind: "files",
    pattern: /\.txt$/
  }],
  make: (context) => {
    const work = context.work
    const fileOf = (split: string, stem: string) => Path.join(work, "Annotations", split, `${stem}.xml`)
    // Object records: `<split> \t <stem> \t <category index> \t <truncated> <difficult> <xmin> <ymin> <xmax> <ymax>`.
    let objects: BufferedWriter | undefined
    return {
      openSplit: async (split) => {
        if (objects === undefined) {
          objects = await BufferedWriter.open(Path.join(work, "objects.spool"))
          context.track(objects)
        }
        await Fsp.mkdir(Path.join(work, "Annotations", split), { recursive: true })
        await Fsp.mkdir(Path.join(work, "ImageSets", "Main"), { recursive: true })
      },
      image: (image) => {
        const file = fileOf(image.split, image.stem)
        const header =
          `<annotation>\n  <folder>${escapeXml(image.split)}</folder>\n  <filename>${
            escapeXml(image.name)
          }</filename>\n  <size>\n    <width>${image.width}</width>\n    <height>${image.height}</height>\n` +
          `    <depth>3</depth>\n  </size>\n  <segmented>0</segmented>\n`
        context.schedule(file, () => Fsp.writeFile(file, header))
      },
      annotation: (image, category, g, source) => {
        const truncated = reachesOutside(source, image.width, image.height) ? 1 : 0
        objects!.push(
          `${image.split}\t${image.stem}\t${category}\t${truncated} ${g.iscrowd} ${r2(g.x + 1)} ${r2(g.y + 1)} ${
            r2(g.x + g.w)
          } ${r2(g.y + g.h)}\n`
        )
      },
      assemble: async ({ categories: final, imageSpool, splits: names }, signal) => {
        const nameById = new Map(final.categories.map((c) => [c.id, escapeXml(c.name)]))
        const ids = final.ids
        const append = (file: string, text: string) => Fsp.appendFile(file, text)
        if (objects !== undefined) {
          let currentFile = ""
          let buffer: Array<string> = []
          const pending: Array<[string, string]> = []
          const flushRun = () => {
            if (buffer.length > 0) pending.push([currentFile, buffer.join("")])
            buffer = []
          }
          await forEachRecord(
            objects.path,
            (line, t1, t2, t3) => {
              const file = fileOf(line.slice(0, t1), line.slice(t1 + 1, t2))
              if (file !== currentFile) {
                flushRun()
                currentFile = file
              }
              const [truncated, difficult, xmin, ymin, xmax, ymax] = line.slice(t3 + 1).split(" ")
              buffer.push(
                `  <object>\n    <name>${nameById.get(ids[Number(line.slice(t2 + 1, t3))]!)}</name>\n` +
                  `    <pose>Unspecified</pose>\n    <truncated>${truncated}</truncated>\n` +
                  `    <difficult>${difficult}</difficult>\n    <bndbox>\n      <xmin>${xmin}</xmin>\n` +
                  `      <ymin>${ymin}</ymin>\n      <xmax>${xmax}</xmax>\n      <ymax>${ymax}</ymax>\n` +
                  `    </bndbox>\n  </object>\n`
              )
            },
            () => appendAll(pending.splice(0), append, signal),
            signal
          )
          flushRun()
          await appendAll(pending.splice(0), append, signal)
        }
        const splits: Record<string, ReadonlyArray<Move>> = {}
        for (const name of names) {
          // Every image's file is closed, and the split's list written, in the order images were seen.
          const list = await BufferedWriter.open(Path.join(work, "ImageSets", "Main", `${name}.txt`))
          context.track(list)
          const runs: Array<[string, string]> = []
          await forEachImage(
            imageSpool(name),
            (image) => {
              const stem = stemOf(image.name)
              list.push(`${stem}\n`)
              runs.push([fileOf(name, stem), "</annotation>\n"])
            },
            async () => {
              await appendAll(runs.splice(0), append, signal)
              await list.maybeFlush()
            },
            signal
          )
          await appendAll(runs.splice(0), append, signal)
          await list.close()
          splits[name] = [
            {
              from: Path.join(work, "Annotations", name),
              to: Path.join(context.outputDir, "Annotations", name),
              dir: true
            },
            {
              from: Path.join(work, "ImageSets", "Main", `${name}.txt`),
              to: Path.join(context.outputDir, "ImageSets", "Main", `${name}.txt`),
              dir: false
            }
          ]
        }
        return { splits, shared: [], validate: {} }
      }
    }
  }
}
