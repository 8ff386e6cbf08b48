/**
 * COCO detection JSON (`annotations/instances_<split>.json`): annotation ids from 1 across the
 * export, `categories` complete with their final ids, one image entry per image and split, boxes
 * as `[x, y, w, h]` with `area` and `iscrowd`, `segmentation` only when the annotation has one.
 * Image and annotation entries are spooled as JSON fragments (Records.ts) and copied into the file
 * at the end with the category ids spliced in, so memory stays flat whatever the dataset size;
 * the file's bytes depend only on the events and the versions (`info`), so re-exports are
 * byte-identical.
 */
import * as Path from "node:path"
import type { DatasetVersion } from "../../schemas/DatasetVersion.js"
import { BufferedWriter } from "../Spool.js"
import type { FinalCategories, FormatModule, Move } from "./FormatWriter.js"
import { forEachRecord } from "./Records.js"

/** COCO `info` from the dataset version(s): deterministic, so re-exports are byte-identical. */
const cocoInfo = (versions: ReadonlyArray<DatasetVersion>) => {
  const first = versions[0]
  const datasetName = (
    v: DatasetVersion
  ) => (typeof v.ground_truth_dataset === "object" ? v.ground_truth_dataset?.name : undefined)
  // A version may carry only its id and name (docs/wire-protocol.md "Dataset versions").
  const label = (v: DatasetVersion) => v.version ?? v.name ?? `version ${v.id}`
  const created = first?.created_at ?? undefined
  return {
    description: versions.map((v) => v.description ?? datasetName(v) ?? label(v)).join("; "),
    version: versions.map(label).join("+"),
    name: versions.map((v) => [datasetName(v), label(v)].filter((x) => x != null).join(" ")).join("; "),
    year: created !== undefined && !Number.isNaN(Date.parse(created)) ? new Date(created).getUTCFullYear() : null,
    date_created: created ?? null,
    contributor: "synapse-ml",
    dataset_versions: versions.map((v) => v.id)
  }
}

/** Writes one COCO file from a split's spools; category ids are spliced in as records are copied. */
const assembleFile = async (
  path: string,
  imageSpool: string,
  annotationSpool: string,
  versions: ReadonlyArray<DatasetVersion>,
  final: FinalCategories,
  signal: AbortSignal
): Promise<BufferedWriter> => {
  const out = await BufferedWriter.open(path)
  const ids = final.ids
  try {
    out.push(`{"info":${JSON.stringify(cocoInfo(versions))},\n"licenses":[],\n"categories":[`)
    out.push(
      final.categories.map((c) => `\n${JSON.stringify({ id: c.id, name: c.name, supercategory: "" })}`).join(",")
    )
    out.push(`\n],\n"images":[`)
    const between = async () => {
      if (signal.aborted) throw new Error("interrupted")
      await out.maybeFlush()
    }
    // Each record becomes one element of a JSON array, comma-separated.
    const copyRecords = (spool: string, element: (line: string, t1: number, t2: number, t3: number) => string) => {
      let first = true
      return forEachRecord(
        spool,
        (line, t1, t2, t3) => {
          out.push(`${first ? "" : ","}\n${element(line, t1, t2, t3)}`)
          first = false
        },
        between,
        signal
      )
    }
    await copyRecords(
      imageSpool,
      (line, t1, t2, t3) =>
        `{"id":${line.slice(0, t1)},"file_name":${JSON.stringify(line.slice(t3 + 1))},"width":${
          line.slice(t1 + 1, t2)
        },"height":${line.slice(t2 + 1, t3)}}`
    )
    out.push(`\n],\n"annotations":[`)
    // Annotation records: `<annotation id> \t <image id> \t <category index> \t <rest of the JSON object>`.
    await copyRecords(
      annotationSpool,
      (line, t1, t2, t3) =>
        `{"id":${line.slice(0, t1)},"image_id":${line.slice(t1 + 1, t2)},"category_id":${
          ids[Number(line.slice(t2 + 1, t3))]
        },${line.slice(t3 + 1)}`
    )
    out.push(`\n]}\n`)
    await out.close()
    return out
  } catch (e) {
    await out.abandon()
    throw e
  }
}

/** The COCO format. */
export const coco: FormatModule = {
  placesImages: false,
  layout: [{ dir: "annotations", kind: "files", pattern: /^instances_.+\.json$/ }],
  make: (context) => {
    // Annotation records per split (Records.ts).
    const splits = new Map<string, BufferedWriter>()
    let nextAnnotationId = 1
    return {
      openSplit: async (split) => {
        const annotations = await BufferedWriter.open(Path.join(context.work, `annotations-${split}.spool`))
        context.track(annotations)
        splits.set(split, annotations)
      },
      image: () => undefined,
      annotation: (image, category, g) => {
        let tail = `"bbox":[${g.x},${g.y},${g.w},${g.h}],"area":${g.area},"iscrowd":${g.iscrowd}`
        if (g.polygons !== undefined) tail += `,"segmentation":${JSON.stringify(g.polygons)}`
        else if (g.rle !== undefined) tail += `,"segmentation":${JSON.stringify(g.rle)}`
        splits.get(image.split)!.push(`${nextAnnotationId++}\t${image.id}\t${category}\t${tail}}\n`)
      },
      assemble: async (input, signal) => {
        const out: Record<string, ReadonlyArray<Move>> = {}
        const validate: Record<string, string> = {}
        for (const name of input.splits) {
          const tmp = Path.join(context.work, `instances_${name}.json`)
          const annotations = splits.get(name)!.path
          context.track(
            await assembleFile(tmp, input.imageSpool(name), annotations, context.versions, input.categories, signal)
          )
          validate[name] = tmp
          out[name] = [{
            from: tmp,
            to: Path.join(context.outputDir, "annotations", `instances_${name}.json`),
            dir: false
          }]
        }
        return { splits: out, shared: [], validate }
      }
    }
  }
}
