/**
 * YOLO in the Ultralytics layout: `images/<split>/`, `labels/<split>/<stem>.txt` with one line
 * `<class> <cx> <cy> <w> <h>` per box (normalised to the image, 6 decimals; class indices are
 * 0-based positions in `names`, which lists the categories in id order), and `data.yaml`. Every
 * image gets a label file, empty when it has no box. Label lines are spooled (Records.ts) and
 * appended to their files at the end, a run of lines per file at a time.
 */
import * as Fsp from "node:fs/promises"
import * as Path from "node:path"
import { BufferedWriter } from "../Spool.js"
import type { FormatModule, Move } from "./FormatWriter.js"
import { appendAll, forEachRecord } from "./Records.js"

const r6 = (v: number): string => (Math.round(v * 1e6) / 1e6).toString()

/** The Ultralytics dataset description. Names are JSON-quoted, which YAML reads as strings. */
const dataYaml = (
  outputDir: string,
  splits: ReadonlyArray<string>,
  categories: ReadonlyArray<{ readonly id: number; readonly name: string }>
): string => {
  const has = (s: string) => splits.includes(s)
  const train = has("train") ? "train" : splits[0] ?? "all"
  const val = has("validation") ? "validation" : has("val") ? "val" : train
  const lines = [
    "# Ultralytics YOLO dataset written by synapse-ml export",
    `path: ${JSON.stringify(outputDir)}`,
    `train: images/${train}`,
    `val: images/${val}`
  ]
  if (has("test")) lines.push("test: images/test")
  lines.push(`nc: ${categories.length}`, "names:")
  categories.forEach((c, i) => lines.push(`  ${i}: ${JSON.stringify(c.name)}`))
  return lines.join("\n") + "\n"
}

/** The YOLO format. */
export const yolo: FormatModule = {
  placesImages: true,
  layout: [{ dir: "labels", kind: "dirs" }],
  make: (context) => {
    const work = context.work
    // Label records: `<split> \t <stem> \t <category index> \t <cx> <cy> <w> <h>`.
    let labels: BufferedWriter | undefined
    return {
      openSplit: async (split) => {
        if (labels === undefined) {
          labels = await BufferedWriter.open(Path.join(work, "labels.spool"))
          context.track(labels)
        }
        await Fsp.mkdir(Path.join(work, "labels", split), { recursive: true })
      },
      image: (image) => {
        const label = Path.join(work, "labels", image.split, `${image.stem}.txt`)
        context.schedule(label, () => Fsp.writeFile(label, ""))
      },
      annotation: (image, category, g) => {
        const width = image.width, height = image.height
        labels!.push(
          `${image.split}\t${image.stem}\t${category}\t${r6((g.x + g.w / 2) / width)} ${r6((g.y + g.h / 2) / height)} ${
            r6(g.w / width)
          } ${r6(g.h / height)}\n`
        )
      },
      assemble: async ({ categories: final, splits: names }, signal) => {
        const indexById = new Map<number, number>()
        final.categories.forEach((c, i) => indexById.set(c.id, i))
        const ids = final.ids
        if (labels !== undefined) {
          let currentFile = ""
          let buffer: Array<string> = []
          const pending: Array<[string, string]> = []
          const flushRun = () => {
            if (buffer.length > 0) pending.push([currentFile, buffer.join("")])
            buffer = []
          }
          const append = (file: string, text: string) => Fsp.appendFile(file, text)
          await forEachRecord(
            labels.path,
            (line, t1, t2, t3) => {
              const file = Path.join(work, "labels", line.slice(0, t1), `${line.slice(t1 + 1, t2)}.txt`)
              if (file !== currentFile) {
                flushRun()
                currentFile = file
              }
              buffer.push(`${indexById.get(ids[Number(line.slice(t2 + 1, t3))]!)} ${line.slice(t3 + 1)}\n`)
            },
            () => appendAll(pending.splice(0), append, signal),
            signal
          )
          flushRun()
          await appendAll(pending.splice(0), append, signal)
        }
        const yaml = Path.join(work, "data.yaml")
        await Fsp.writeFile(yaml, dataYaml(context.outputDir, names, final.categories))
        const splits: Record<string, ReadonlyArray<Move>> = {}
        for (const name of names) {
          splits[name] = [{
            from: Path.join(work, "labels", name),
            to: Path.join(context.outputDir, "labels", name),
            dir: true
          }]
        }
        return {
          splits,
          shared: [{ from: yaml, to: Path.join(context.outputDir, "data.yaml"), dir: false }],
          validate: {}
        }
      }
    }
  }
}
