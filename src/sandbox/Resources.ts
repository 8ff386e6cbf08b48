/**
 * The sandbox's resource endpoints (docs/wire-protocol.md "Endpoints" except chunked upload):
 * models (list, detail with expansions, create, patch), ground-truth events, ground truths and
 * dataset versions, each answered in the sandbox's profile (the evidence profile's shapes are in
 * `Evidence.ts`). Every filter is bound as a parameter (never spliced into SQL); listings read one
 * page with LIMIT/OFFSET on an index and a cached COUNT, so a 100 000-event table is served without
 * loading it. Hot rows are serialized by splicing the stored JSON text instead of parse+stringify,
 * and event pages are read and rendered on the page threads (`PagePool.ts`).
 */
import { HttpServerRequest, type HttpServerResponse } from "@effect/platform"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { CATEGORIES } from "../schemas/GroundTruth.js"
import { MODEL_TYPES } from "../schemas/Model.js"
import { MODEL_ORDERINGS } from "../schemas/Params.js"
import { forgetListings, MAX_LISTING_CACHE_ENTRIES, type SandboxContext } from "./Context.js"
import { EVENT_COLUMNS, keepFields } from "./EventRows.js"
import { evidenceGroundTruth, evidenceModel, evidenceVersion, isRecord, parseStored } from "./Evidence.js"
import {
  ApiError,
  boolFilterParam,
  boolParam,
  checkPageInRange,
  choiceListParam,
  dateParam,
  detailError,
  excerpt,
  idListParam,
  isoSeconds,
  json,
  jsonText,
  listParam,
  originOf,
  pageJson,
  pageLinks,
  pageRequest,
  parseJsonBody,
  pathOf,
  queryOf,
  resolvePage,
  stringParam
} from "./Http.js"
import { makeSigner, signFileMap } from "./Media.js"
import type { RenderedRows } from "./PagePool.js"

type Handler = Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  ApiError | SqlError,
  HttpServerRequest.HttpServerRequest
>

interface Where {
  readonly clauses: Array<string>
  readonly params: Array<unknown>
}

const whereSql = (w: Where): string => (w.clauses.length === 0 ? "" : ` WHERE ${w.clauses.join(" AND ")}`)
/**
 * LIMIT/OFFSET as literals: both are integers we parsed ourselves, and with bound parameters
 * SQLite's planner cannot see the limit and picks a plan that walks the whole table (50 ms instead
 * of 0.2 ms on 100 000 events).
 */
const pageLimit = (limit: number, offset: number): string => `${Math.trunc(limit)} OFFSET ${Math.trunc(offset)}`

const placeholders = (n: number): string => Array.from({ length: n }, () => "?").join(",")

/** Adds one clause with its bound parameters. */
const addClause = (w: Where, clause: string, params: ReadonlyArray<unknown>): void => {
  w.clauses.push(clause)
  w.params.push(...params)
}

/** Adds `column IN (?, …)` for a list filter; an absent or empty filter adds nothing. */
const addIn = (w: Where, column: string, values: ReadonlyArray<unknown>): void => {
  if (values.length > 0) addClause(w, `${column} IN (${placeholders(values.length)})`, values)
}

/** Adds `column = 0|1` for a boolean filter (stored as an integer); an absent one adds nothing. */
const addFlag = (w: Where, column: string, value: boolean | undefined): void => {
  if (value !== undefined) addClause(w, `${column} = ?`, [value ? 1 : 0])
}

/** Adds `created_at >= ?` when a `created_after` filter was given. */
const addCreatedAfter = (w: Where, after: string | undefined): void => {
  if (after !== undefined) addClause(w, "created_at >= ?", [after])
}

/** Parses a path id; anything but a positive integer is a plain 404, as a real router answers. */
export const pathId = (raw: string | undefined): number => {
  const n = raw !== undefined && /^\d{1,15}$/.test(raw) ? Number(raw) : 0
  if (n < 1) throw detailError(404, "Not found.")
  return n
}

/**
 * Runs a COUNT through the cache, under the listing's `listingKey`. Another process serving the
 * same data directory may have written since (SQLite's `data_version` tells, cheaply); then the
 * caches start over.
 */
const cachedCount = (ctx: SandboxContext, table: string, w: Where, key: string) =>
  Effect.gen(function*() {
    const version = yield* ctx.sql.unsafe<{ data_version: number }>("PRAGMA data_version")
    const current = Number(version[0]?.data_version ?? 0)
    if (current !== ctx.dataVersion.value) {
      forgetListings(ctx)
      ctx.dataVersion.value = current
    }
    const hit = ctx.counts.get(key)
    if (hit !== undefined) return hit
    const rows = yield* ctx.sql.unsafe<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}${whereSql(w)}`, w.params)
    const n = Number(rows[0]?.n ?? 0)
    if (ctx.counts.size >= MAX_LISTING_CACHE_ENTRIES) ctx.counts.clear()
    ctx.counts.set(key, n)
    return n
  })

/** What identifies a listing's rows for the caches: its table, filters and their values. */
const listingKey = (table: string, w: Where): string => `${table}${whereSql(w)}|${JSON.stringify(w.params)}`

/** `w` plus `id > afterId`: the rows after a page that ended at `afterId`, in a listing ordered by id. */
const after = (w: Where, afterId: number): Where => ({
  clauses: [...w.clauses, "id > ?"],
  params: [...w.params, afterId]
})

/** Which rows of a listing one page holds, and for whom it is rendered. */
interface PageSlice {
  /** The listing's filter; with `id > last` added when the page starts after a remembered cursor. */
  readonly where: Where
  /** `LIMIT` clause body: `n`, or `n OFFSET m` when the page is found by skipping rows. */
  readonly limit: string
  /** Origin of presigned media URLs. */
  readonly origin: string
  /** Top-level members to keep in each row (`fields`); empty keeps all. */
  readonly fields: ReadonlyArray<string>
}

type ReadPage = (slice: PageSlice) => Effect.Effect<RenderedRows, SqlError>

/** What a listing route gives `listing`. */
interface ListingOptions {
  readonly allowLimitOffset: boolean
  readonly countFrom: string
  readonly where: Where
  readonly read: ReadPage
  /**
   * Whether the listing is ordered by id, so that a page can be read from where the previous one
   * ended (`id > last`) instead of by skipping the rows before it.
   */
  readonly seekable?: boolean
  readonly fields?: ReadonlyArray<string>
}

/** The common shape of a listing: parse paging, count, check range, read and render a page. */
const listing = (ctx: SandboxContext, options: ListingOptions): Handler =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const query = queryOf(request)
    const origin = originOf(request, ctx.origin)
    const key = listingKey(options.countFrom, options.where)
    const count = yield* cachedCount(ctx, options.countFrom, options.where, key)
    const page = resolvePage(pageRequest(query, options.allowLimitOffset), count)
    checkPageInRange(page, count)
    const rows = page.offset >= count ? "" : (yield* readPage(ctx, options, key, page.limit, page.offset, origin)).json
    return jsonText(pageJson(count, pageLinks(origin, pathOf(request), query, page, count), rows))
  })

/**
 * One page of rows: from the cursor the previous page left when there is one (a client following
 * `next`), else by skipping `offset` rows; remembers where this page ends for the next request.
 */
const readPage = (
  ctx: SandboxContext,
  options: ListingOptions,
  key: string,
  limit: number,
  offset: number,
  origin: string
) =>
  Effect.gen(function*() {
    const fields = options.fields ?? []
    const last = options.seekable === true && offset > 0 ? ctx.seeks.get(`${key}|${offset}`) : undefined
    const rows = last === undefined
      ? yield* options.read({ where: options.where, limit: pageLimit(limit, offset), origin, fields })
      : yield* options.read({ where: after(options.where, last), limit: `${Math.trunc(limit)}`, origin, fields })
    if (last !== undefined) ctx.stats.listingSeeks++
    if (options.seekable === true && rows.lastId !== undefined) {
      if (ctx.seeks.size >= MAX_LISTING_CACHE_ENTRIES) ctx.seeks.clear()
      ctx.seeks.set(`${key}|${offset + rows.length}`, rows.lastId)
    }
    return rows
  })

/** A `ReadPage` that runs `select` and renders its rows on the server's own thread. */
const readOnServer = <Row>(
  ctx: SandboxContext,
  select: (slice: PageSlice) => Effect.Effect<ReadonlyArray<Row>, SqlError>,
  render: (row: Row, sign: (mediaPath: string) => string) => string,
  idOf?: (row: Row) => number
): ReadPage =>
(slice) =>
  Effect.map(select(slice), (rows) => {
    const sign = makeSigner(slice.origin, ctx.data.secret)
    const texts = rows.map((row) => render(row, sign))
    const last = rows[rows.length - 1]
    return {
      json: (slice.fields.length > 0 ? texts.map((text) => keepFields(text, slice.fields)) : texts).join(","),
      length: rows.length,
      lastId: last === undefined || idOf === undefined ? undefined : idOf(last)
    }
  })

// ---------------------------------------------------------------------------------------------
// Models

interface ModelRow {
  readonly id: number
  readonly name: string
  readonly description: string | null
  readonly model_type: string
  readonly project: number
  readonly file_media: string | null
  readonly file_name: string | null
  readonly file_size: number | null
  readonly file_checksum: string | null
  readonly metrics: string
  readonly configuration: string
  readonly is_active: number
  readonly created_at: string
  readonly category: string | null
  readonly plugin: number | null
  readonly version: string | null
}

const MODEL_COLUMNS =
  "id, name, description, model_type, project, file_media, file_name, file_size, file_checksum, metrics, configuration, is_active, created_at, category, plugin, version"

const ORDER_SQL: Record<(typeof MODEL_ORDERINGS)[number], string> = {
  created_at: "created_at ASC, id ASC",
  "-created_at": "created_at DESC, id DESC",
  name: "name ASC, id ASC",
  "-name": "name DESC, id DESC",
  id: "id ASC",
  "-id": "id DESC"
}

const modelObject = (row: ModelRow, sign: (mediaPath: string) => string): Record<string, unknown> => ({
  id: row.id,
  name: row.name,
  description: row.description,
  model_type: row.model_type,
  project: row.project,
  file: row.file_media === null ? null : sign(row.file_media),
  metrics: parseStored(row.metrics),
  configuration: parseStored(row.configuration),
  is_active: row.is_active === 1,
  created_at: row.created_at,
  category: row.category,
  plugin: row.plugin,
  version: row.version
})

/** A model as the sandbox's profile answers it: every field (rich) or only the evidenced ones. */
const modelAnswer = (
  ctx: SandboxContext,
  row: ModelRow,
  sign: (mediaPath: string) => string
): Record<string, unknown> =>
  ctx.profile === "evidence" ? evidenceModel(modelObject(row, sign)) : modelObject(row, sign)

type ModelOrdering = (typeof MODEL_ORDERINGS)[number]

/** Each ordering term's column, its SQL, and the id tie-break in the same direction (split once). */
const ORDER_TERMS = Object.fromEntries(
  MODEL_ORDERINGS.map((term) => {
    const [sql, tieBreak] = ORDER_SQL[term].split(", ") as [string, string | undefined]
    return [term, { column: sql.split(" ")[0]!, sql, tieBreak }]
  })
) as Record<ModelOrdering, { readonly column: string; readonly sql: string; readonly tieBreak: string | undefined }>

/**
 * ORDER BY clauses already built, by their distinct terms and the last term. Bounded by
 * construction: three columns in two directions make a few dozen keys at most.
 */
const orderClauses = new Map<string, string>()

/**
 * The models listing's `ordering`: comma-separated terms, as DRF's `OrderingFilter` reads them.
 * Unknown terms are dropped and, with none left, the default order applies: DRF ignores what it
 * cannot order by rather than answering 400 (docs/wire-protocol.md "Pagination"). The SQL is each
 * distinct column in the order given (a repeated column counts once, as in SQL), then the last
 * term's id tie-break; each combination is built once.
 */
const modelOrder = (query: URLSearchParams): string => {
  const terms = listParam(query, "ordering").filter((t): t is ModelOrdering =>
    (MODEL_ORDERINGS as ReadonlyArray<string>).includes(t)
  )
  const last = terms[terms.length - 1]
  if (last === undefined) return ORDER_SQL.id
  const distinct: Array<ModelOrdering> = []
  const columns = new Set<string>()
  for (const term of terms) {
    if (columns.has(ORDER_TERMS[term].column)) continue
    columns.add(ORDER_TERMS[term].column)
    distinct.push(term)
  }
  const key = `${distinct.join(",")}|${last}`
  let clause = orderClauses.get(key)
  if (clause === undefined) {
    const parts = distinct.map((t) => ORDER_TERMS[t].sql)
    const tieBreak = ORDER_TERMS[last].tieBreak
    if (tieBreak !== undefined && !columns.has("id")) parts.push(tieBreak)
    clause = parts.join(", ")
    orderClauses.set(key, clause)
  }
  return clause
}

/** `GET models/`. */
export const listModels = (ctx: SandboxContext): Handler =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const query = queryOf(request)
    const w: Where = { clauses: [], params: [] }
    addIn(w, "project", idListParam(query, "project"))
    addIn(w, "model_type", choiceListParam(query, "model_type", MODEL_TYPES))
    addFlag(w, "is_active", boolFilterParam(query, "is_active"))
    addCreatedAfter(w, dateParam(query, "created_after"))
    const search = stringParam(query, "search")
    if (search !== undefined) {
      // instr() rather than LIKE: no pattern-length limit and no wildcard characters to escape.
      addClause(w, "(instr(lower(name), lower(?)) > 0 OR instr(lower(coalesce(description, '')), lower(?)) > 0)", [
        search,
        search
      ])
    }
    const name = stringParam(query, "name")
    if (name !== undefined) addClause(w, "name = ?", [name])
    const order = modelOrder(query)
    return yield* listing(ctx, {
      allowLimitOffset: true,
      countFrom: "models",
      where: w,
      read: readOnServer(
        ctx,
        ({ where, limit }) =>
          ctx.sql.unsafe<ModelRow>(
            `SELECT ${MODEL_COLUMNS} FROM models${whereSql(where)} ORDER BY ${order} LIMIT ${limit}`,
            where.params
          ),
        (row, sign) => JSON.stringify(modelAnswer(ctx, row, sign))
      )
    })
  })

const MODEL_EXPANSIONS = ["metrics", "evaluations", "versions"] as const

const getModelRow = (ctx: SandboxContext, id: number) =>
  ctx.sql.unsafe<ModelRow>(`SELECT ${MODEL_COLUMNS} FROM models WHERE id = ?`, [id]).pipe(
    Effect.flatMap((
      rows
    ) => (rows[0] === undefined ? Effect.fail(detailError(404, "Not found.")) : Effect.succeed(rows[0])))
  )

/** Renders one model for a detail answer, with the expansions a query asks for. */
const modelDetail = (ctx: SandboxContext, row: ModelRow, query: URLSearchParams, origin: string) =>
  Effect.gen(function*() {
    // The evidence shows no expansions: `expand` and `include_file` add nothing there.
    if (ctx.profile === "evidence") return modelAnswer(ctx, row, makeSigner(origin, ctx.data.secret))
    const expand = choiceListParam(query, "expand", MODEL_EXPANSIONS)
    const includeFile = boolParam(query, "include_file") ?? false
    const out = modelObject(row, makeSigner(origin, ctx.data.secret))
    if (expand.includes("evaluations")) {
      const evaluations = yield* ctx.sql.unsafe<
        { id: number; ground_truth_dataset_version: number | null; metrics: string; created_at: string }
      >(
        "SELECT id, ground_truth_dataset_version, metrics, created_at FROM model_evaluations WHERE model_id = ? ORDER BY id",
        [row.id]
      )
      out.evaluations = evaluations.map((e) => ({ ...e, metrics: parseStored(e.metrics) }))
    }
    if (expand.includes("versions")) {
      const versions = yield* ctx.sql.unsafe<
        { id: number; version: string | null; is_active: number; created_at: string }
      >(
        "SELECT id, version, is_active, created_at FROM models WHERE project = ? AND name = ? ORDER BY created_at, id",
        [row.project, row.name]
      )
      out.versions = versions.map((v) => ({ ...v, is_active: v.is_active === 1 }))
    }
    if (includeFile) {
      out.file_info = row.file_media === null
        ? null
        : {
          name: row.file_name ?? row.file_media.split("/").pop(),
          size: row.file_size ?? 0,
          checksum: row.file_checksum
        }
    }
    return out
  })

/** `GET models/{id}/`. */
export const getModel = (ctx: SandboxContext, rawId: string | undefined): Handler =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const row = yield* getModelRow(ctx, pathId(rawId))
    return json(yield* modelDetail(ctx, row, queryOf(request), originOf(request, ctx.origin)))
  })

/**
 * Reads a JSON object body; malformed, too deeply nested or `__proto__`-keyed JSON, or a
 * non-object, is a 400 a person can act on.
 */
export const readJsonObject = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const text = yield* request.text.pipe(
    Effect.mapError((e) => detailError(400, `Could not read the request body: ${e.message}`))
  )
  const body = parseJsonBody(text)
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new ApiError({
      status: 400,
      body: {
        non_field_errors: [
          `Invalid data. Expected a dictionary, but got ${
            Array.isArray(body) ? "list" : body === null ? "null" : typeof body
          }.`
        ]
      }
    })
  }
  return body as Record<string, unknown>
})

type FieldErrors = Record<string, Array<string>>

/** Field validators shared by create and patch; each returns an error message or undefined. */
const MODEL_FIELDS: Record<string, (v: unknown) => string | undefined> = {
  name: (v) =>
    typeof v !== "string"
      ? "Not a valid string."
      : v.trim() === ""
      ? "This field may not be blank."
      : v.length > 255
      ? "Ensure this field has no more than 255 characters."
      : undefined,
  description: (v) => (v === null || typeof v === "string" ? undefined : "Not a valid string."),
  model_type: (
    v
  ) => (typeof v === "string" && (MODEL_TYPES as ReadonlyArray<string>).includes(v)
    ? undefined
    : `"${excerpt(String(v))}" is not a valid choice (${MODEL_TYPES.join(", ")}).`),
  project: (
    v
  ) => (typeof v === "number" && Number.isSafeInteger(v) && v > 0
    ? undefined
    : "Incorrect type. Expected pk value (a positive integer)."),
  metrics: (v) =>
    !isRecord(v)
      ? "Expected a dictionary of numbers."
      : Object.entries(v).find(([, x]) => typeof x !== "number" || !Number.isFinite(x)) !== undefined
      ? "Every metric must be a finite number."
      : undefined,
  configuration: (v) => (isRecord(v) ? undefined : "Expected a dictionary."),
  is_active: (v) => (typeof v === "boolean" ? undefined : "Must be a valid boolean."),
  // An upload id as its upload answered it: a string (rich) or an integer (evidence).
  chunked_upload: (v) =>
    (typeof v === "string" && v !== "") || (typeof v === "number" && Number.isSafeInteger(v) && v > 0)
      ? undefined
      : "Expected the id of a finished chunked upload (a string or a positive integer).",
  plugin: (
    v
  ) => (v === null || (typeof v === "number" && Number.isSafeInteger(v) && v > 0)
    ? undefined
    : "Incorrect type. Expected pk value (a positive integer)."),
  version: (
    v
  ) => (v === null || (typeof v === "string" && v.length <= 100)
    ? undefined
    : "Not a valid string (at most 100 characters)."),
  category: (v) => (v === null || typeof v === "string" ? undefined : "Not a valid string.")
}

const CREATE_FIELDS = [
  "name",
  "description",
  "model_type",
  "project",
  "metrics",
  "configuration",
  "is_active",
  "chunked_upload",
  "plugin",
  "version"
]
const REQUIRED_FIELDS = ["name", "model_type", "project"]
/** What the evidence profile requires of a create: the official SDK's body is `{name, plugin?, version?, chunked_upload?}`. */
const EVIDENCE_REQUIRED_FIELDS = ["name"]
/**
 * What the evidence profile stores for a model created without the documented `model_type` and
 * `project` (the official SDK sends neither): the table needs both, and the evidence answers show
 * neither, so these only appear when the same data is served by the rich profile.
 */
const EVIDENCE_DEFAULT_MODEL_TYPE = "classification"
const PATCH_FIELDS = ["name", "description", "metrics", "configuration", "is_active", "version"]

const validate = (
  body: Record<string, unknown>,
  allowed: ReadonlyArray<string>,
  required: ReadonlyArray<string>
): FieldErrors => {
  // No prototype: a key such as `__proto__` is then an ordinary entry, never a prototype change
  // that would leave the error list looking empty.
  const errors = Object.create(null) as FieldErrors
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) errors[excerpt(key)] = ["Unknown field."]
  }
  for (const key of required) {
    if (body[key] === undefined) errors[key] = ["This field is required."]
  }
  for (const key of allowed) {
    if (body[key] === undefined || errors[key] !== undefined) continue
    const message = MODEL_FIELDS[key]?.(body[key])
    if (message !== undefined) errors[key] = [message]
  }
  return errors
}

const failIfErrors = (errors: FieldErrors): void => {
  if (Object.keys(errors).length > 0) throw new ApiError({ status: 400, body: errors })
}

/**
 * `POST models/` (docs/wire-protocol.md "Creating a model"): a `chunked_upload` must be a finished upload.
 * Keys the serializer does not know are ignored, as a DRF serializer ignores them. The rich profile
 * requires the documented `model_type` and `project`; the evidence profile accepts the official
 * SDK's body, `{name, plugin?, version?, chunked_upload?}` (with the documented keys optional).
 */
export const createModel = (ctx: SandboxContext): Handler =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const sent = yield* readJsonObject
    const body: Record<string, unknown> = {}
    for (const key of CREATE_FIELDS) if (sent[key] !== undefined) body[key] = sent[key]
    const evidence = ctx.profile === "evidence"
    const errors = validate(body, CREATE_FIELDS, evidence ? EVIDENCE_REQUIRED_FIELDS : REQUIRED_FIELDS)
    failIfErrors(errors)
    let project = body.project as number | undefined
    if (project !== undefined) {
      const projects = yield* ctx.sql.unsafe<{ id: number }>("SELECT id FROM projects WHERE id = ?", [project])
      if (projects.length === 0) errors.project = [`Invalid pk "${project}" - object does not exist.`]
    } else {
      const first = yield* ctx.sql.unsafe<{ id: number | null }>("SELECT MIN(id) AS id FROM projects")
      if (first[0]?.id === null || first[0]?.id === undefined) {
        errors.project = ["This field is required: the sandbox has no project to store the model in."]
      } else project = first[0].id
    }
    let file: { media: string; name: string; size: number; checksum: string | null } | null = null
    if (body.chunked_upload !== undefined) {
      const uploadId = String(body.chunked_upload)
      const uploads = yield* ctx.sql.unsafe<
        { status: string; file_media: string | null; filename: string; offset: number; md5: string | null }
      >(
        "SELECT status, file_media, filename, offset, md5 FROM chunked_uploads WHERE id = ?",
        [uploadId]
      )
      const upload = uploads[0]
      if (upload === undefined) errors.chunked_upload = [`Chunked upload "${excerpt(uploadId)}" does not exist.`]
      else if (upload.status !== "complete" || upload.file_media === null) {
        errors.chunked_upload = [
          `Chunked upload "${excerpt(uploadId)}" is not complete: finish it with POST {url} and its md5 first.`
        ]
      } else file = { media: upload.file_media, name: upload.filename, size: upload.offset, checksum: upload.md5 }
    }
    failIfErrors(errors)
    const createdAt = isoSeconds(Date.now())
    const rows = yield* ctx.sql.unsafe<{ id: number }>(
      `INSERT INTO models (name, description, model_type, project, file_media, file_name, file_size, file_checksum, metrics, configuration, is_active, created_at, plugin, version)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      [
        body.name,
        (body.description as string | null | undefined) ?? null,
        body.model_type ?? EVIDENCE_DEFAULT_MODEL_TYPE,
        project,
        file?.media ?? null,
        file?.name ?? null,
        file?.size ?? null,
        file?.checksum ?? null,
        JSON.stringify(body.metrics ?? {}),
        JSON.stringify(body.configuration ?? {}),
        body.is_active === false ? 0 : 1,
        createdAt,
        (body.plugin as number | null | undefined) ?? null,
        (body.version as string | null | undefined) ?? null
      ]
    )
    forgetListings(ctx)
    const row = yield* getModelRow(ctx, rows[0]!.id)
    return json(modelAnswer(ctx, row, makeSigner(originOf(request, ctx.origin), ctx.data.secret)), 201)
  })

/** `PATCH models/{id}/`: a partial update of the writable fields. */
export const patchModel = (ctx: SandboxContext, rawId: string | undefined): Handler =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const id = pathId(rawId)
    yield* getModelRow(ctx, id)
    const body = yield* readJsonObject
    failIfErrors(validate(body, PATCH_FIELDS, []))
    const sets: Array<string> = []
    const params: Array<unknown> = []
    for (const key of PATCH_FIELDS) {
      const value = body[key]
      if (value === undefined) continue
      sets.push(`${key} = ?`)
      params.push(
        key === "metrics" || key === "configuration"
          ? JSON.stringify(value)
          : key === "is_active"
          ? (value ? 1 : 0)
          : value
      )
    }
    if (sets.length > 0) {
      yield* ctx.sql.unsafe(`UPDATE models SET ${sets.join(", ")} WHERE id = ?`, [...params, id])
      forgetListings(ctx)
    }
    const row = yield* getModelRow(ctx, id)
    return json(modelAnswer(ctx, row, makeSigner(originOf(request, ctx.origin), ctx.data.secret)))
  })

// ---------------------------------------------------------------------------------------------
// Ground truth

/** The dataset-version filter, under its plural name or the singular one clients also send. */
const versionIds = (query: URLSearchParams): Array<number> =>
  idListParam(query, "ground_truth_dataset_versions").concat(idListParam(query, "ground_truth_dataset_version"))

/** `GET sdk/ground_truth_events/`. */
export const listEvents = (ctx: SandboxContext): Handler =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const query = queryOf(request)
    const w: Where = { clauses: [], params: [] }
    addIn(w, "version_id", versionIds(query))
    addIn(w, "project", idListParam(query, "project"))
    addCreatedAfter(w, dateParam(query, "created_after"))
    addIn(w, "data_type", listParam(query, "data_type"))
    addIn(w, "category", choiceListParam(query, "category", CATEGORIES))
    const search = stringParam(query, "search")
    if (search !== undefined) {
      addClause(w, "(instr(lower(data), lower(?)) > 0 OR instr(lower(metadata), lower(?)) > 0)", [search, search])
    }
    return yield* listing(ctx, {
      allowLimitOffset: false,
      countFrom: "ground_truth_events",
      where: w,
      seekable: true,
      // The hottest listing (1 000 rows a page) is read and rendered on the page threads, so
      // concurrent page requests run in parallel.
      read: ({ where, limit, origin, fields }) =>
        ctx.pages.render({
          // The page's ids come from the index alone; the join then touches only those rows.
          sql: `SELECT ${EVENT_COLUMNS}
            FROM (SELECT id FROM ground_truth_events${whereSql(where)} ORDER BY id LIMIT ${limit}) page
            JOIN ground_truth_events e ON e.id = page.id
            JOIN data_units u ON u.id = e.data_unit_id
            ORDER BY e.id`,
          params: where.params,
          origin,
          fields
        }),
      fields: listParam(query, "fields")
    })
  })

interface GroundTruthRow {
  readonly id: number
  readonly dataset_id: number
  readonly category: string | null
  readonly files: string
  readonly data: string
  readonly data_unit_id: number
  readonly unit_files: string
  readonly versions: string | null
}

/** `GET ground_truths/`. */
export const listGroundTruths = (ctx: SandboxContext): Handler =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const query = queryOf(request)
    const w: Where = { clauses: [], params: [] }
    addIn(w, "dataset_id", idListParam(query, "ground_truth_dataset"))
    const versions = versionIds(query)
    if (versions.length > 0) {
      addClause(
        w,
        `id IN (SELECT ground_truth_id FROM ground_truth_version_members WHERE version_id IN (${
          placeholders(versions.length)
        }))`,
        versions
      )
    }
    addIn(w, "category", choiceListParam(query, "category", CATEGORIES))
    const selectGroundTruths = (where: Where, limit: string) =>
      ctx.sql.unsafe<GroundTruthRow>(
        `SELECT g.id, g.dataset_id, g.category, g.files, g.data, g.data_unit_id, u.files AS unit_files,
           (SELECT group_concat(m.version_id) FROM ground_truth_version_members m WHERE m.ground_truth_id = g.id) AS versions
         FROM (SELECT id FROM ground_truths${whereSql(where)} ORDER BY id LIMIT ${limit}) page
         JOIN ground_truths g ON g.id = page.id
         JOIN data_units u ON u.id = g.data_unit_id
         ORDER BY g.id`,
        where.params
      )
    return yield* listing(ctx, {
      allowLimitOffset: false,
      countFrom: "ground_truths",
      where: w,
      seekable: true,
      read: readOnServer(
        ctx,
        ({ where, limit }) => selectGroundTruths(where, limit),
        (r, sign) =>
          ctx.profile === "evidence" ? JSON.stringify(evidenceGroundTruth(r.id, r.files, sign)) : JSON.stringify({
            id: r.id,
            ground_truth_dataset: r.dataset_id,
            ground_truth_dataset_versions: (r.versions ?? "")
              .split(",")
              .filter((v) => v !== "")
              .map(Number)
              .sort((a, b) => a - b),
            category: r.category,
            data_unit: { id: r.data_unit_id, files: signFileMap(parseStored(r.unit_files), sign) },
            files: signFileMap(parseStored(r.files), sign),
            data: parseStored(r.data)
          }),
        (r) => r.id
      )
    })
  })

interface VersionRow {
  readonly id: number
  readonly version: string
  readonly name: string | null
  readonly dataset_id: number
  readonly dataset_name: string
  readonly event_count: number
  readonly description: string | null
  readonly is_active: number
  readonly is_archived: number
  readonly created_at: string
  readonly statistics: string
}

const VERSION_SELECT =
  `SELECT v.id, v.version, v.name, v.dataset_id, d.name AS dataset_name, v.event_count, v.description,
  v.is_active, v.is_archived, v.created_at, v.statistics
  FROM ground_truth_dataset_versions v JOIN ground_truth_datasets d ON d.id = v.dataset_id`

const versionObject = (r: VersionRow) => ({
  id: r.id,
  version: r.version,
  name: r.name ?? r.version,
  ground_truth_dataset: { id: r.dataset_id, name: r.dataset_name },
  event_count: r.event_count,
  description: r.description,
  is_active: r.is_active === 1,
  is_archived: r.is_archived === 1,
  created_at: r.created_at,
  statistics: parseStored(r.statistics)
})

/** A dataset version as the sandbox's profile answers it. */
const versionAnswer = (ctx: SandboxContext, r: VersionRow): Record<string, unknown> =>
  ctx.profile === "evidence" ? evidenceVersion(versionObject(r)) : versionObject(r)

/** `GET ground_truth_dataset_versions/`. */
export const listVersions = (ctx: SandboxContext): Handler =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const query = queryOf(request)
    const w: Where = { clauses: [], params: [] }
    addIn(w, "dataset_id", idListParam(query, "ground_truth_dataset"))
    addFlag(w, "is_archived", boolFilterParam(query, "is_archived"))
    addFlag(w, "is_active", boolFilterParam(query, "is_active"))
    const prefixed: Where = { clauses: w.clauses.map((c) => `v.${c}`), params: w.params }
    return yield* listing(ctx, {
      allowLimitOffset: false,
      countFrom: "ground_truth_dataset_versions",
      where: w,
      read: readOnServer(
        ctx,
        ({ limit }) =>
          ctx.sql.unsafe<VersionRow>(`${VERSION_SELECT}${whereSql(prefixed)} ORDER BY v.id LIMIT ${limit}`, w.params),
        (r) => JSON.stringify(versionAnswer(ctx, r))
      )
    })
  })

/** `GET ground_truth_dataset_versions/{id}/`. */
export const getVersion = (ctx: SandboxContext, rawId: string | undefined): Handler =>
  Effect.gen(function*() {
    const id = pathId(rawId)
    const rows = yield* ctx.sql.unsafe<VersionRow>(`${VERSION_SELECT} WHERE v.id = ?`, [id])
    if (rows[0] === undefined) throw detailError(404, "Not found.")
    return json(versionAnswer(ctx, rows[0]))
  })
