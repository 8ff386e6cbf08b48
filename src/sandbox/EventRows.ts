/**
 * How a ground-truth event row becomes its JSON text in a listing page. Shared by the server (which
 * builds the query) and the page workers (which run it and render the rows, see `PageWorker.ts`),
 * so this module holds plain functions only: no Effect, no server state.
 */
import { signFilesJson } from "./Media.js"

/**
 * An event row as positional values, in `EVENT_COLUMNS` order. The events listing is the hottest
 * query (1 000 rows a page): better-sqlite3 builds arrays about twice as fast as keyed row objects.
 */
export type EventValues = readonly [
  id: number,
  version_id: number,
  category: string | null,
  created_at: string,
  data: string,
  files: string,
  metadata: string,
  data_unit_id: number,
  unit_files: string
]

/** The columns of an `EventValues` row, selected from events `e` joined with their data units `u`. */
export const EVENT_COLUMNS =
  "e.id, e.version_id, e.category, e.created_at, e.data, e.files, e.metadata, e.data_unit_id, u.files AS unit_files"

/** Stored JSON text as it is, or re-serialized when it is not an object or array. */
const safeJsonText = (text: string | null): string => {
  // Stored JSON is written by us; this guards the rare hand-edited row from breaking a whole page.
  if (text === null || text === "") return "{}"
  const c = text.charCodeAt(0)
  if (c === 123 || c === 91) return text
  try {
    return JSON.stringify(JSON.parse(text))
  } catch {
    return "{}"
  }
}

/** One event as the wire shows it, spliced from the stored JSON texts; `sign` presigns media paths. */
export const renderEvent = (
  [id, versionId, category, createdAt, data, files, metadata, dataUnitId, unitFiles]: EventValues,
  sign: (mediaPath: string) => string
): string =>
  `{"id":${id},"ground_truth_dataset_version":${versionId},"category":${JSON.stringify(category)},` +
  `"created_at":${JSON.stringify(createdAt)},"data":${safeJsonText(data)},` +
  `"data_unit":{"id":${dataUnitId},"files":${signFilesJson(safeJsonText(unitFiles), sign)}},` +
  `"files":${signFilesJson(safeJsonText(files), sign)},"metadata":${safeJsonText(metadata)}}`

/** A rendered row with only the top-level members named in `fields` (the `fields` query parameter). */
export const keepFields = (text: string, fields: ReadonlyArray<string>): string => {
  const obj = JSON.parse(text) as Record<string, unknown>
  return JSON.stringify(Object.fromEntries(Object.entries(obj).filter(([k]) => fields.includes(k))))
}
