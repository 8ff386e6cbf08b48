/**
 * What `tools/list` publishes and which tools a server offers. The selection applies the toolsets
 * and tool names of the settings (`--toolsets`, `--tools`) and read-only mode; an unknown name stops
 * start-up with the list of valid ones. The published JSON Schemas are generated from the tools'
 * Effect Schemas and then made lean: every client puts the whole list into its model's context, so
 * keywords that change nothing (empty `required`, `additionalProperties` defaults, generated titles)
 * are left out, `null`-or-T unions become type lists, and a sub-schema repeated within one tool is
 * published once under `$defs`. What a value may be is never loosened, except that output schemas
 * do not forbid extra fields (a client validates results against them; it never relies on that).
 */
import type { Tool as McpToolInfo } from "@modelcontextprotocol/sdk/types.js"
import { Either, JSONSchema, type Schema } from "effect"
import { McpConfigError, type McpSettings } from "./Config.js"
import { type AnyTool, TOOLSETS } from "./Tool.js"

type Json = null | boolean | number | string | Array<Json> | { [key: string]: Json }
type JsonObject = { [key: string]: Json }

const isObject = (value: Json | undefined): value is JsonObject =>
  value !== null && value !== undefined && typeof value === "object" && !Array.isArray(value)

/**
 * A list row schema published as a plain object: a row holds the fields the call chose (the input's
 * `fields` lists them), and the tool that gets one record describes their types. The row is still
 * checked against `row` before it is sent.
 */
export const publishedRow = <A, I>(row: Schema.Schema<A, I, never>, what: string): Schema.Schema<A, I, never> =>
  row.annotations({ jsonSchema: { type: "object", description: `${what} with the chosen fields.` } })

/** The tools a server offers, and why each other tool of the table is not offered. */
export interface ToolSelection<T extends AnyTool<never> | AnyTool<unknown>> {
  readonly enabled: ReadonlyArray<T>
  /** Tool name → why it is not offered (read-only mode, or not selected). */
  readonly unavailable: ReadonlyMap<string, string>
}

const READ_ONLY_REASON = "the server runs in read-only mode (SYNAPSE_MCP_READ_ONLY / --read-only)"
const NOT_SELECTED_REASON =
  "this server offers only the toolsets and tools it was started with (SYNAPSE_MCP_TOOLSETS / --toolsets, SYNAPSE_MCP_TOOLS / --tools)"

/**
 * Checks the toolset and tool names of `settings` against the tool table: an unknown name fails
 * with the valid ones, so that a typo stops start-up instead of silently offering fewer tools.
 */
export const checkSelection = <T extends { readonly name: string }>(
  tools: ReadonlyArray<T>,
  settings: Pick<McpSettings, "toolsets" | "tools">
): Either.Either<void, McpConfigError> => {
  const unknownSets = (settings.toolsets ?? []).filter((name) => !(TOOLSETS as ReadonlyArray<string>).includes(name))
  if (unknownSets.length > 0) {
    return Either.left(
      new McpConfigError(
        "SYNAPSE_MCP_TOOLSETS / --toolsets",
        `unknown toolset${unknownSets.length === 1 ? "" : "s"} ${
          unknownSets.map((n) => JSON.stringify(n)).join(", ")
        }; valid toolsets: ${TOOLSETS.join(", ")}`
      )
    )
  }
  const names = tools.map((tool) => tool.name)
  const unknownTools = (settings.tools ?? []).filter((name) => !names.includes(name))
  if (unknownTools.length > 0) {
    return Either.left(
      new McpConfigError(
        "SYNAPSE_MCP_TOOLS / --tools",
        `unknown tool${unknownTools.length === 1 ? "" : "s"} ${
          unknownTools.map((n) => JSON.stringify(n)).join(", ")
        }; valid tools: ${names.join(", ")}`
      )
    )
  }
  return Either.void
}

/**
 * The tools offered under `settings`, in table order. With neither toolsets nor tools given, every
 * tool; otherwise the tools of the named toolsets plus the named tools, and always the `context`
 * toolset (get_context tells a model what the server offers). Read-only mode then drops the write
 * tools, except those that also plan (they stay and only plan). Names are assumed checked
 * ({@link checkSelection}); an unknown one selects nothing.
 */
export const selectTools = <T extends AnyTool<never> | AnyTool<unknown>>(
  tools: ReadonlyArray<T>,
  settings: Pick<McpSettings, "toolsets" | "tools" | "readOnly">
): ToolSelection<T> => {
  const everything = settings.toolsets === undefined && settings.tools === undefined
  const sets = new Set<string>(["context", ...(settings.toolsets ?? [])])
  const named = new Set(settings.tools ?? [])
  const enabled: Array<T> = []
  const unavailable = new Map<string, string>()
  for (const tool of tools) {
    if (!everything && !sets.has(tool.toolset) && !named.has(tool.name)) {
      unavailable.set(tool.name, NOT_SELECTED_REASON)
    } else if (settings.readOnly && tool.write && tool.plansInReadOnly !== true) {
      unavailable.set(tool.name, READ_ONLY_REASON)
    } else {
      enabled.push(tool)
    }
  }
  return { enabled, unavailable }
}

/** Why `name` cannot be called, for the error of a call to a tool that is not offered. */
export const unavailableMessage = (
  name: string,
  selection: ToolSelection<AnyTool<never> | AnyTool<unknown>>
): string => {
  const reason = selection.unavailable.get(name)
  const offered = selection.enabled.map((tool) => tool.name).join(", ")
  return reason !== undefined
    ? `Tool ${name} is not available: ${reason}. Available tools: ${offered}.`
    : `Unknown tool ${name}. Available tools: ${offered}.`
}

/**
 * Told to the model at initialisation: how the offered tools fit together. Names only tools that
 * are offered, so a model is never sent to a tool it cannot call.
 */
export const instructionsFor = (offered: ReadonlyArray<string>, readOnly: boolean): string => {
  const has = (name: string) => offered.includes(name)
  const lines = ["Tools for the Synapse ML model registry and ground-truth datasets."]
  if (has("get_context")) {
    lines.push(
      "Call get_context first: it tells which backend is in use (a local sandbox with demo data or a real Synapse),",
      "whether write tools are available, the output budget and the directories files may be read from and written to."
    )
  }
  lines.push(
    "List tools return one page of compact rows; use next_page, page_size (≤ 100) and fields to see more.",
    "A result cut to the output budget carries `truncated`, whose message says what was left out and how to get it."
  )
  if (has("export_ground_truth")) {
    lines.push(
      "Exports are written to disk and returned as paths plus resource links (synapse://exports/…), never inline."
    )
  }
  const planners = [
    ...(has("deploy_model") ? ["deploy_model"] : []),
    ...(has("update_model") ? ["update_model (when it changes which model serves)"] : [])
  ]
  if (planners.length > 0) {
    lines.push(
      readOnly
        ? `${planners.join(" and ")} only plan on this read-only server.`
        : `${planners.join(" and ")} first return a plan with a plan_id; show it to the user, and execute by calling ` +
          "again with that plan_id (or the user is asked directly when the client supports it)."
    )
  }
  if (has("prepare_training_data")) {
    lines.push(
      readOnly
        ? "prepare_training_data only computes the split (dry run) on this read-only server."
        : "prepare_training_data only computes the split unless dry_run: false."
    )
  }
  return lines.join(" ")
}

// Effect's generator names the refinements it meets ("between(1, 100)", "an integer"): clutter for
// a model reading the schema. Generated titles and descriptions are dropped, the ones we wrote stay.
const GENERATED =
  /^(unknown$|any$|object$|int|number|string|boolean|an? |between\(|greaterThan|lessThan|minItems\(|maxItems\(|minLength\(|maxLength\(|pattern\(|nonNegative|positive|finite|a string|a number|an array|a non-negative|a positive)/

/** Keywords that make a schema more than "a value of this type". */
const NARROWING = ["enum", "const", "anyOf", "oneOf", "allOf", "not", "$ref"]

/** `{ "type": "null" }` and nothing else. */
const isNull = (node: Json): boolean => isObject(node) && node["type"] === "null" && Object.keys(node).length === 1

/** A schema's types when it is only "one of these types" plus keywords of those types. */
const typesOf = (node: Json): ReadonlyArray<string> | undefined => {
  if (!isObject(node) || NARROWING.some((key) => key in node)) return undefined
  const type = node["type"]
  if (typeof type === "string") return [type]
  if (Array.isArray(type) && type.every((t) => typeof t === "string")) return type as Array<string>
  return undefined
}

/**
 * One node made lean. `defs` are the generator's definitions (inlined, then shared again by
 * {@link shareRepeats}); `output` marks an output schema, whose objects do not forbid extra fields.
 */
const lean = (node: Json, defs: JsonObject, output: boolean): Json => {
  if (Array.isArray(node)) return node.map((n) => lean(n, defs, output))
  if (!isObject(node)) return node
  let out: JsonObject = {}
  for (const [key, value] of Object.entries(node)) {
    if (key === "$defs" || key === "$schema" || key === "$id" || key === "$ref") continue
    if ((key === "title" || key === "description") && typeof value === "string" && GENERATED.test(value)) continue
    out[key] = lean(value, defs, output)
  }
  const ref = node["$ref"]
  if (typeof ref === "string" && ref.startsWith("#/$defs/")) {
    const target = lean(defs[ref.slice("#/$defs/".length)] ?? {}, defs, output)
    out = { ...(isObject(target) ? target : {}), ...out }
  }
  // `allOf` with one member is how the generator attaches annotations to a reference: flatten it.
  const allOf = out["allOf"]
  if (Array.isArray(allOf) && allOf.length === 1 && isObject(allOf[0])) {
    delete out["allOf"]
    out = { ...allOf[0], ...out }
  }
  if (Array.isArray(out["required"]) && out["required"].length === 0) delete out["required"]
  // For an integer, "> n" is ">= n + 1", said in fewer characters.
  if (out["type"] === "integer" && typeof out["exclusiveMinimum"] === "number" && out["minimum"] === undefined) {
    const bound = out["exclusiveMinimum"]
    delete out["exclusiveMinimum"]
    out["minimum"] = Math.floor(bound) + 1
  }
  const extra = out["additionalProperties"]
  // `{}` and `true` are the default; `false` only matters to a caller building input.
  if (isObject(extra) && Object.keys(extra).length === 0) delete out["additionalProperties"]
  if (extra === true || (output && extra === false)) delete out["additionalProperties"]
  if (isObject(out["properties"]) && Object.keys(out["properties"]).length === 0) delete out["properties"]
  const anyOf = out["anyOf"]
  if (Array.isArray(anyOf)) {
    // Nested unions are one union; a union of bare types is a type list; T-or-null is [T, "null"].
    const branches = anyOf.flatMap((b) =>
      isObject(b) && Array.isArray(b["anyOf"]) && Object.keys(b).length === 1 ? b["anyOf"] : [b]
    )
    const others = branches.filter((b) => !isNull(b))
    const only = others.length === 1 && branches.length === 2 && isObject(others[0]) ? others[0] : undefined
    delete out["anyOf"]
    if (branches.every((b) => isObject(b) && Object.keys(b).length === 1 && typeof b["type"] === "string")) {
      out = { type: branches.map((b) => (b as JsonObject)["type"]!), ...out }
    } else if (only !== undefined && typesOf(only) !== undefined) {
      out = { ...only, type: [...typesOf(only)!, "null"], ...out }
    } else if (only !== undefined && Array.isArray(only["enum"])) {
      // An enum or null: null joins the enum (and the type list).
      const { enum: values, ...rest } = only
      const types = typesOf(rest)
      out = types !== undefined
        ? { ...rest, type: [...types, "null"], enum: [...(values as Array<Json>), null], ...out }
        : { anyOf: branches, ...out }
    } else {
      out["anyOf"] = branches
    }
  }
  return out
}

/** Sub-schemas at least this long (as JSON) that occur twice in one tool are published once. */
const MIN_SHARED = 120

/**
 * Moves every sub-schema that occurs more than once within `root` (and is worth a reference) into
 * `$defs`, referenced as `#/$defs/<name>`: named after the property it first appears under.
 */
const shareRepeats = (root: JsonObject): JsonObject => {
  const counts = new Map<string, { count: number; name: string }>()
  const visit = (node: Json, name: string): void => {
    if (Array.isArray(node)) {
      node.forEach((n) => visit(n, name))
      return
    }
    if (!isObject(node)) return
    if (node !== root) {
      const text = JSON.stringify(node)
      if (text.length >= MIN_SHARED) {
        const seen = counts.get(text)
        counts.set(text, { count: (seen?.count ?? 0) + 1, name: seen?.name ?? name })
      }
    }
    for (const [key, value] of Object.entries(node)) {
      if (key === "properties" && isObject(value)) {
        for (const [property, schema] of Object.entries(value)) visit(schema, property)
      } else {
        visit(value, name)
      }
    }
  }
  visit(root, "item")
  const repeated = [...counts.entries()].filter(([, v]) => v.count > 1)
  if (repeated.length === 0) return root
  // Largest first, so that a repeated schema inside a larger repeated one is shared inside the definition.
  repeated.sort((a, b) => b[0].length - a[0].length)
  const defs: JsonObject = {}
  const refs = new Map<string, string>()
  const used = new Set<string>()
  for (const [text, { name }] of repeated) {
    let id = name.replace(/[^A-Za-z0-9_]/g, "_") || "item"
    for (let i = 2; used.has(id); i++) id = `${name}_${i}`
    used.add(id)
    refs.set(text, id)
  }
  const replace = (node: Json, top: string | undefined): Json => {
    if (Array.isArray(node)) return node.map((n) => replace(n, undefined))
    if (!isObject(node)) return node
    const text = JSON.stringify(node)
    const id = refs.get(text)
    if (id !== undefined && id !== top) return { $ref: `#/$defs/${id}` }
    const out: JsonObject = {}
    for (const [key, value] of Object.entries(node)) out[key] = replace(value, undefined)
    return out
  }
  for (const [text, id] of refs) defs[id] = replace(JSON.parse(text) as Json, id)
  const body = replace(root, undefined) as JsonObject
  return { ...body, $defs: defs }
}

/**
 * The lean JSON Schema of a tool's input (`output: false`) or output. Objects at the top always have
 * `type: "object"` (MCP requires it; an empty struct is generated as "any object or array").
 */
export const leanJsonSchema = <A, I>(schema: Schema.Schema<A, I, never>, output: boolean): JsonObject => {
  const generated = JSONSchema.make(schema) as unknown as JsonObject
  const defs = isObject(generated["$defs"]) ? generated["$defs"] : {}
  const made = lean(generated, defs, output)
  const root: JsonObject = isObject(made) ? made : {}
  if (root["type"] !== "object") {
    delete root["anyOf"]
    root["type"] = "object"
    if (!output && root["properties"] === undefined) root["additionalProperties"] = false
  }
  // Output schemas are cut to their top level (`outputOnly`), where nothing repeats.
  return output ? root : shareRepeats(root)
}

/**
 * An output schema describes the result's top-level fields: their types (and the type of a list's
 * items or a map's values), enums, descriptions and which are required. What lies deeper is left to
 * the result itself, which a model reads anyway: the schema stays looser than the result, never
 * stricter, so every result still validates, and the tool list stays small.
 */
const outputOnly = (root: JsonObject): JsonObject => {
  const out: JsonObject = {}
  for (const key of ["type", "description"]) if (root[key] !== undefined) out[key] = root[key]
  const properties = isObject(root["properties"]) ? root["properties"] : {}
  out["properties"] = Object.fromEntries(
    Object.entries(properties).map(([name, field]) => [name, isObject(field) ? topField(field) : field])
  )
  return out
}

/** A top-level output field: its type, enum and description, and the type of its items or values. */
const topField = (node: JsonObject): JsonObject => {
  const out: JsonObject = {}
  for (const key of ["type", "enum", "description"]) if (node[key] !== undefined) out[key] = node[key]
  for (const key of ["items", "additionalProperties"]) {
    const inner = node[key]
    if (isObject(inner) && inner["type"] !== undefined) out[key] = { type: inner["type"] }
  }
  if (Array.isArray(node["anyOf"])) {
    const branches = node["anyOf"].map((b) => (isObject(b) ? topField(b) : b))
    // Branches that differ only below the top level (a union of object shapes) are one type here.
    const bare = branches.every((b) => isObject(b) && Object.keys(b).length === 1 && typeof b["type"] === "string")
    const types = new Set(branches.map((b) => (isObject(b) ? b["type"] : undefined)))
    if (bare && types.size === 1) return { type: [...types][0]!, ...out }
    out["anyOf"] = branches
  }
  return out
}

/** Read-only variants of write tools that only plan there. */
const READ_ONLY_NOTE = " On this read-only server it only plans: nothing is changed."

/** What `tools/list` shows of `tool` under `settings`. */
export const toolInfo = (
  tool: AnyTool<never> | AnyTool<unknown>,
  settings: Pick<McpSettings, "readOnly">
): McpToolInfo => {
  const planning = settings.readOnly && tool.write
  const outputSchema = outputOnly(leanJsonSchema(tool.output, true))
  const properties = isObject(outputSchema["properties"]) ? outputSchema["properties"] : {}
  const hints = planning
    ? { ...tool.annotations, readOnlyHint: true, destructiveHint: false, idempotentHint: true }
    : tool.annotations
  // MCP's defaults (not read-only, destructive, not idempotent, open world) go without saying, and
  // destructive/idempotent mean nothing for a read-only tool.
  const annotations = {
    readOnlyHint: hints.readOnlyHint,
    ...(!hints.readOnlyHint && !hints.destructiveHint ? { destructiveHint: false } : {}),
    ...(!hints.readOnlyHint && hints.idempotentHint ? { idempotentHint: true } : {}),
    ...(!hints.openWorldHint ? { openWorldHint: false } : {})
  }
  return {
    name: tool.name,
    title: tool.title,
    description: planning ? tool.description + READ_ONLY_NOTE : tool.description,
    inputSchema: leanJsonSchema(tool.input, false) as McpToolInfo["inputSchema"],
    outputSchema: { ...outputSchema, type: "object", properties } as NonNullable<McpToolInfo["outputSchema"]>,
    annotations
  }
}
