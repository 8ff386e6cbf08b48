/**
 * HTTP plumbing shared by the sandbox's routes: the one error type every handler fails with
 * (rendered as the DRF-style JSON body a real backend sends), query-string parsing with the
 * lenient forms docs/wire-protocol.md "Transport" allows (repeated or comma-joined lists,
 * `True`/`true`), DRF's paginator and filter leniency (a bad size falls back to the default, a bad
 * boolean filter value is ignored), and DRF page envelopes with absolute `next`/`previous` links.
 */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Data } from "effect"
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "../schemas/Page.js"

/** A failed request: the status and the JSON body to answer with. */
export class ApiError extends Data.TaggedError("ApiError")<{
  readonly status: number
  readonly body: Record<string, unknown>
  readonly headers?: Record<string, string>
}> {}

/** `{"detail": …}` error. */
export const detailError = (status: number, detail: string, extra: Record<string, unknown> = {}): ApiError =>
  new ApiError({ status, body: { detail, ...extra } })

/** `{"field": ["message"]}` validation error (400). */
export const fieldError = (field: string, message: string): ApiError =>
  new ApiError({ status: 400, body: { [field]: [message] } })

/** A JSON answer from an already serialized body (avoids a second stringify on hot paths). */
export const jsonText = (
  body: string,
  status = 200,
  headers?: Record<string, string>
): HttpServerResponse.HttpServerResponse =>
  // As a string, not `text`'s bytes: Node encodes it while writing it to the socket, where `text`
  // first copies a megabyte listing page into a new byte array (a tenth of a page's server time).
  HttpServerResponse.raw(body, {
    status,
    contentType: "application/json",
    contentLength: Buffer.byteLength(body),
    ...(headers ? { headers } : {})
  })

/** A JSON answer. */
export const json = (
  body: unknown,
  status = 200,
  headers?: Record<string, string>
): HttpServerResponse.HttpServerResponse => jsonText(JSON.stringify(body), status, headers)

/** The JSON answer of an `ApiError`. */
export const errorResponse = (error: ApiError): HttpServerResponse.HttpServerResponse =>
  json(error.body, error.status, error.headers)

/**
 * How deeply a JSON request body may nest. A real serializer refuses far shallower documents than
 * this; the limit exists so that rendering a stored value (recursive `JSON.stringify`) can never
 * overflow the stack.
 */
export const MAX_JSON_DEPTH = 64

/** The deepest nesting of arrays and objects in JSON text, found without parsing it (strings skipped). */
const jsonDepth = (text: string): number => {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 123 || c === 91) deepest = Math.max(deepest, ++depth)
    else if (c === 125 || c === 93) depth--
  }
  return deepest
}

/**
 * Parses a JSON request body. Malformed JSON, nesting deeper than `MAX_JSON_DEPTH`, and a
 * `__proto__` key at any level (which a plain object would take as its prototype, slipping past
 * key checks) are each a 400 naming the problem, never a 500.
 */
export const parseJsonBody = (text: string): unknown => {
  const depth = jsonDepth(text)
  if (depth > MAX_JSON_DEPTH) {
    throw detailError(400, `JSON nests ${depth} levels deep; at most ${MAX_JSON_DEPTH} are accepted.`)
  }
  try {
    return JSON.parse(text, (key, value: unknown) => {
      if (key === "__proto__") throw new ReservedKey()
      return value
    })
  } catch (e) {
    if (e instanceof ReservedKey) throw detailError(400, "JSON key \"__proto__\" is not accepted.")
    throw detailError(400, `JSON parse error - ${e instanceof Error ? e.message : String(e)}`)
  }
}

class ReservedKey extends Error {}

/** The request's query string. */
export const queryOf = (request: HttpServerRequest.HttpServerRequest): URLSearchParams => {
  const q = request.url.indexOf("?")
  return new URLSearchParams(q < 0 ? "" : request.url.slice(q + 1))
}

/** The request path without the query string. */
export const pathOf = (request: HttpServerRequest.HttpServerRequest): string => {
  const q = request.url.indexOf("?")
  return q < 0 ? request.url : request.url.slice(0, q)
}

/**
 * The origin clients reached us at, from the `Host` header (so links work through port mappings
 * and for whatever name the client used). Falls back to the bound address.
 */
export const originOf = (request: HttpServerRequest.HttpServerRequest, fallback: string): string => {
  const host = request.headers["host"]
  return host !== undefined && /^[A-Za-z0-9.\-:[\]]+$/.test(host) ? `http://${host}` : fallback
}

/** Values of a list parameter: repeated keys and comma-joined values, blanks dropped. */
export const listParam = (query: URLSearchParams, key: string): Array<string> =>
  query
    .getAll(key)
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter((v) => v !== "")

/** The last non-blank value of a parameter. */
export const stringParam = (query: URLSearchParams, key: string): string | undefined => {
  const all = query.getAll(key).filter((v) => v !== "")
  return all.length === 0 ? undefined : all[all.length - 1]
}

const MAX_ID = 2 ** 53 - 1

/** A positive integer id parameter; 400 naming the field otherwise. */
export const idParam = (query: URLSearchParams, key: string): number | undefined => {
  const raw = stringParam(query, key)
  return raw === undefined ? undefined : parseId(raw, key)
}

/** Parses one positive integer id. */
export const parseId = (raw: string, key: string): number => {
  const n = /^\d{1,16}$/.test(raw.trim()) ? Number(raw.trim()) : NaN
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_ID) {
    throw fieldError(key, `Enter a whole number ≥ 1, got "${excerpt(raw)}".`)
  }
  return n
}

/** A list of positive integer ids. */
export const idListParam = (query: URLSearchParams, key: string): Array<number> =>
  listParam(query, key).map((v) => parseId(v, key))

/** `true`/`1` or `false`/`0` in any case, else undefined. */
const parseBool = (raw: string): boolean | undefined => {
  const v = raw.trim().toLowerCase()
  return v === "true" || v === "1" ? true : v === "false" || v === "0" ? false : undefined
}

/** A boolean parameter: `true`/`True`/`1` or `false`/`False`/`0`. */
export const boolParam = (query: URLSearchParams, key: string): boolean | undefined => {
  const raw = stringParam(query, key)
  if (raw === undefined) return undefined
  const value = parseBool(raw)
  if (value === undefined) throw fieldError(key, `Must be a valid boolean (true or false), got "${excerpt(raw)}".`)
  return value
}

/**
 * A boolean filter as django-filter's DRF `BooleanFilter` reads it: `true`/`false`/`1`/`0` in any
 * case; any other value leaves the filter out (its widget maps it to "unknown") instead of a 400.
 */
export const boolFilterParam = (query: URLSearchParams, key: string): boolean | undefined => {
  const raw = stringParam(query, key)
  return raw === undefined ? undefined : parseBool(raw)
}

/** A choice parameter (one of `allowed`), possibly a list. */
export const choiceListParam = <T extends string>(
  query: URLSearchParams,
  key: string,
  allowed: ReadonlyArray<T>
): Array<T> =>
  listParam(query, key).map((v) => {
    if (!(allowed as ReadonlyArray<string>).includes(v)) {
      throw fieldError(key, `Select a valid choice. "${excerpt(v)}" is not one of ${allowed.join(", ")}.`)
    }
    return v as T
  })

/**
 * An ISO 8601 date or date-time parameter, normalised to the `YYYY-MM-DDTHH:MM:SSZ` form the
 * database stores, so it compares as text (and on the index) with stored timestamps.
 */
export const dateParam = (query: URLSearchParams, key: string): string | undefined => {
  const raw = stringParam(query, key)
  if (raw === undefined) return undefined
  const ok = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw.trim())
  const ms = ok ? Date.parse(raw.trim().length === 10 ? `${raw.trim()}T00:00:00Z` : raw.trim()) : NaN
  if (Number.isNaN(ms)) {
    throw fieldError(key, `Enter a valid ISO 8601 date or date-time, e.g. 2026-11-01T10:00:00Z; got "${excerpt(raw)}".`)
  }
  return isoSeconds(ms)
}

/**
 * Timestamps as the database stores them: ISO 8601 UTC to the second (`2026-11-01T10:00:00Z`),
 * one fixed width, so that text comparison is time comparison and `created_after` uses the index.
 */
export const isoSeconds = (ms: number): string =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z")

/** Shortens user input quoted back in error messages. */
export const excerpt = (s: string): string => (s.length > 80 ? `${s.slice(0, 77)}...` : s)

/** Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern. */
export const likePattern = (s: string): string => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`

/** What part of a listing a request asks for. */
export interface PageRequest {
  readonly mode: "page" | "limit"
  readonly limit: number
  readonly offset: number
  /** 1-based page number (page mode). */
  readonly page: number
}

/** A whole number ≥ `min`, or `fallback` for anything else (DRF's `_positive_int` then its default). */
const wholeOr = (raw: string | undefined, min: number, fallback: number): number => {
  if (raw === undefined) return fallback
  const n = /^\d{1,16}$/.test(raw.trim()) ? Number(raw.trim()) : NaN
  return Number.isSafeInteger(n) && n >= min ? n : fallback
}

/**
 * Reads `page`/`page_size` (and `limit`/`offset` where allowed) as DRF's paginators do
 * (docs/wire-protocol.md "Pagination"): a bad page number is `404 {"detail": "Invalid page."}`;
 * a size or limit that is not a whole number ≥ 1 falls back to the default size and a bad offset
 * to 0, never a 400; sizes above the cap are clamped to it (`max_page_size`).
 */
export const pageRequest = (query: URLSearchParams, allowLimitOffset: boolean): PageRequest => {
  const limitRaw = allowLimitOffset ? stringParam(query, "limit") : undefined
  if (limitRaw !== undefined) {
    const limit = Math.min(wholeOr(limitRaw, 1, DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
    const offset = wholeOr(stringParam(query, "offset"), 0, 0)
    return { mode: "limit", limit, offset, page: 1 }
  }
  const size = Math.min(wholeOr(stringParam(query, "page_size"), 1, DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
  const pageRaw = stringParam(query, "page")
  let page = 1
  if (pageRaw !== undefined && pageRaw !== "last") {
    page = /^\d{1,9}$/.test(pageRaw.trim()) ? Number(pageRaw.trim()) : 0
    if (page < 1) throw detailError(404, "Invalid page.")
  }
  return { mode: "page", limit: size, offset: (page - 1) * size, page: pageRaw === "last" ? -1 : page }
}

/** Resolves `page=last` once the count is known. */
export const resolvePage = (req: PageRequest, count: number): PageRequest => {
  if (req.page !== -1) return req
  const page = Math.max(1, Math.ceil(count / req.limit))
  return { ...req, page, offset: (page - 1) * req.limit }
}

/** DRF's "page past the end" check: page 1 of an empty listing is fine, any other empty page is 404. */
export const checkPageInRange = (req: PageRequest, count: number): void => {
  if (req.mode === "page" && req.page > 1 && req.offset >= count) throw detailError(404, "Invalid page.")
}

/** The absolute `next` and `previous` links of a page (DRF's replace/remove query param logic). */
export const pageLinks = (
  origin: string,
  path: string,
  query: URLSearchParams,
  req: PageRequest,
  count: number
): { next: string | null; previous: string | null } => {
  const link = (mutate: (q: URLSearchParams) => void): string => {
    const q = new URLSearchParams(query)
    mutate(q)
    const s = q.toString()
    return `${origin}${path}${s === "" ? "" : `?${s}`}`
  }
  if (req.mode === "limit") {
    const next = req.offset + req.limit < count
      ? link((q) => {
        q.set("limit", String(req.limit))
        q.set("offset", String(req.offset + req.limit))
      })
      : null
    const previous = req.offset > 0
      ? link((q) => {
        q.set("limit", String(req.limit))
        if (req.offset - req.limit <= 0) q.delete("offset")
        else q.set("offset", String(req.offset - req.limit))
      })
      : null
    return { next, previous }
  }
  const next = req.offset + req.limit < count ? link((q) => q.set("page", String(req.page + 1))) : null
  const previous = req.page > 1
    ? link((q) => (req.page === 2 ? q.delete("page") : q.set("page", String(req.page - 1))))
    : null
  return { next, previous }
}

/** Serializes a DRF page whose rows are already JSON text, joined by commas. */
export const pageJson = (
  count: number,
  links: { next: string | null; previous: string | null },
  rows: string
): string =>
  `{"count":${count},"next":${JSON.stringify(links.next)},"previous":${
    JSON.stringify(links.previous)
  },"results":[${rows}]}`
