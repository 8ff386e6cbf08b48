/**
 * The adapter from the tool table to the MCP SDK's low-level `Server`. It publishes each tool with
 * JSON Schemas generated from the same Effect Schemas that validate the arguments, runs the tool's
 * Effect on the application's runtime (so cancelling the request interrupts it), returns
 * `structuredContent` plus the same JSON as text within the output budget, and turns every failure
 * into an `isError` result a model can act on. One factory serves every transport: stdio connects
 * one server for the process, stateless HTTP creates one per request.
 */
import { InMemoryTaskStore } from "@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js"
import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import {
  CallToolRequestSchema,
  type CallToolResult,
  CompleteRequestSchema,
  type ElicitRequest,
  type ElicitRequestFormParams,
  type ElicitResult,
  ElicitResultSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type ReadResourceResult,
  type Resource,
  type ResourceTemplate,
  type ServerNotification,
  type ServerRequest,
  type Tool as McpToolInfo
} from "@modelcontextprotocol/sdk/types.js"
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv"
import {
  Cause,
  Context,
  Effect,
  Either,
  Exit,
  Fiber,
  JSONSchema,
  Layer,
  Option,
  ParseResult,
  Runtime,
  Schema
} from "effect"
import { guardOf } from "../schemas/Guard.js"
import { scrub as scrubSecrets } from "../services/SynapseError.js"
import { NAME, VERSION } from "../services/Version.js"
import { applyBudget } from "./Budget.js"
import { McpConfig } from "./Config.js"
import { askInRounds } from "./Era2026.js"
import { DETACHABLE, Runner, type ToolRunner } from "./Jobs.js"
import type { PromptCatalog } from "./Prompts.js"
import { canElicit, type ClientSession, hasStructuredResults, hasTasks, negotiate, screenRequest } from "./Protocol.js"
import type { AnyTool, Attachment, ElicitAction, ElicitSchema, ToolContext } from "./Tool.js"
import { ToolError } from "./Tool.js"
import { instructionsFor, selectTools, toolInfo, unavailableMessage } from "./ToolList.js"

/** Name and version the server announces. */
export const SERVER_INFO = { name: NAME, version: VERSION } as const

/** Resources a server offers besides its tools (models, finished exports). */
export interface ResourceProvider<R> {
  readonly templates: ReadonlyArray<ResourceTemplate>
  /**
   * One page of the concrete resources worth listing (files of finished exports), from an opaque
   * `cursor` (none for the first page); fails with a ToolError for a cursor it did not issue.
   */
  readonly list: (cursor: string | undefined) => Effect.Effect<
    { readonly resources: ReadonlyArray<Resource>; readonly nextCursor?: string | undefined },
    ToolError,
    R
  >
  /** Reads `uri`, or fails with an actionable ToolError (unknown scheme, missing id, …). */
  readonly read: (uri: string) => Effect.Effect<ReadResourceResult["contents"], ToolError, R>
  /** Prompts, and completions for their arguments and for the templates' variables. */
  readonly prompts?: PromptCatalog<R> | undefined
}

/**
 * The declared output: the tool's own struct plus the optional truncation note. An output that
 * keeps undeclared fields (a record as the backend sent it: an index signature) publishes them as
 * allowed, so that a client validating `structuredContent` accepts them.
 */
export const outputSchemaOf = (tool: AnyTool<unknown>) => {
  const declared = { ...tool.output.fields, truncated: TruncatedField }
  const open = tool.output.ast._tag === "TypeLiteral" && tool.output.ast.indexSignatures.length > 0
  return open
    ? Schema.Struct(declared, Schema.Record({ key: Schema.String, value: Schema.Unknown }))
    : Schema.Struct(declared)
}

// Published loosely (an object with a description) rather than field by field: it is repeated in
// every tool's schema, and clients put the whole tool list into the model's context.
const TruncatedField = Schema.optional(
  Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
    description:
      "Present only when the result exceeded the output budget: {budget, omitted: [{path, kept, omitted}], " +
      "shortened_strings, message}; message says what was left out and how to get it."
  })
)

type JsonValue = null | boolean | number | string | Array<JsonValue> | { [key: string]: JsonValue }

// Effect's generator names the refinements it meets ("between(1, 100)", "an integer"): clutter for
// a model reading the schema. Generated titles and descriptions are dropped, the ones we wrote stay.
const GENERATED =
  /^(unknown$|any$|object$|int|number|string|boolean|an? |between\(|greaterThan|lessThan|minItems\(|maxItems\(|minLength\(|maxLength\(|pattern\(|nonNegative|positive|finite|a string|a number|an array|a non-negative|a positive)/

// $defs are inlined so that every client, including ones that do not resolve $ref, sees whole schemas.
const inline = (node: JsonValue, defs: Record<string, JsonValue>): JsonValue => {
  if (Array.isArray(node)) return node.map((n) => inline(n, defs))
  if (node === null || typeof node !== "object") return node
  let out: Record<string, JsonValue> = {}
  for (const [key, value] of Object.entries(node)) {
    // Effect marks unknown/any/object with $ids like "/schemas/unknown"; repeated, they confuse validators.
    if (key === "$defs" || key === "$schema" || key === "$id") continue
    if ((key === "title" || key === "description") && typeof value === "string" && GENERATED.test(value)) continue
    out[key] = inline(value, defs)
  }
  const ref = node["$ref"]
  if (typeof ref === "string" && ref.startsWith("#/$defs/")) {
    const target = defs[ref.slice("#/$defs/".length)]
    delete out["$ref"]
    out = { ...(inline(target ?? {}, defs) as Record<string, JsonValue>), ...out }
  }
  // `allOf` with one member is how the generator attaches annotations to a reference: flatten it.
  const allOf = out["allOf"]
  if (
    Array.isArray(allOf) && allOf.length === 1 && allOf[0] !== null && typeof allOf[0] === "object" &&
    !Array.isArray(allOf[0])
  ) {
    delete out["allOf"]
    out = { ...(allOf[0] as Record<string, JsonValue>), ...out }
  }
  return out
}

/** The JSON Schema (draft-07, self-contained) of an Effect Schema. */
export const jsonSchemaOf = <A, I>(schema: Schema.Schema<A, I, never>): Record<string, JsonValue> => {
  const root = JSONSchema.make(schema) as unknown as Record<string, JsonValue>
  // An empty struct comes out as "any object or array"; MCP wants an object schema.
  if (root["type"] !== "object" && schema.ast._tag === "TypeLiteral" && schema.ast.propertySignatures.length === 0) {
    return {
      $schema: "http://json-schema.org/draft-07/schema#",
      type: "object",
      properties: {},
      additionalProperties: false
    }
  }
  const defs = (root["$defs"] ?? {}) as Record<string, JsonValue>
  return { $schema: "http://json-schema.org/draft-07/schema#", ...(inline(root, defs) as Record<string, JsonValue>) }
}

/** A short phrase for what a JSON Schema accepts ("one of \"a\", \"b\"", "an integer from 1 to 100"). */
export const describeExpected = (schema: JsonValue | undefined): string => {
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) return "a valid value"
  const s = schema as Record<string, JsonValue>
  if (Array.isArray(s["enum"])) return `one of ${s["enum"].map((v) => JSON.stringify(v)).join(", ")}`
  if (Array.isArray(s["anyOf"])) return s["anyOf"].map(describeExpected).join(" or ")
  const range = (lo: JsonValue | undefined, hi: JsonValue | undefined, unit = "") =>
    lo !== undefined && hi !== undefined
      ? ` from ${lo} to ${hi}${unit}`
      : lo !== undefined
      ? ` ≥ ${lo}${unit}`
      : hi !== undefined
      ? ` ≤ ${hi}${unit}`
      : ""
  switch (s["type"]) {
    case "integer":
      return `an integer${range(s["minimum"], s["maximum"])}`
    case "number":
      return `a number${range(s["minimum"], s["maximum"])}`
    case "boolean":
      return "true or false"
    case "null":
      return "null"
    case "string":
      return `a string${
        s["minLength"] !== undefined || s["maxLength"] !== undefined
          ? ` of length${range(s["minLength"], s["maxLength"])}`
          : ""
      }` +
        (typeof s["pattern"] === "string" ? ` matching ${s["pattern"]}` : "")
    case "array":
      return `a list${
        s["minItems"] !== undefined || s["maxItems"] !== undefined
          ? ` of${range(s["minItems"], s["maxItems"], " items")}`
          : ""
      }` +
        (s["items"] !== undefined ? ` of ${describeExpected(s["items"])}` : "")
    case "object":
      return "an object"
    default:
      return "a valid value"
  }
}

/** The JSON Schema of the field at `path` (properties, list items, optional unions), if known. */
const schemaAt = (schema: JsonValue | undefined, path: ReadonlyArray<PropertyKey>): JsonValue | undefined => {
  let current = schema
  for (const key of path) {
    if (current === null || typeof current !== "object" || Array.isArray(current)) return undefined
    const s = current as Record<string, JsonValue>
    const branches = Array.isArray(s["anyOf"]) ? s["anyOf"] : [s]
    let next: JsonValue | undefined
    for (const branch of branches) {
      if (branch === null || typeof branch !== "object" || Array.isArray(branch)) continue
      const b = branch as Record<string, JsonValue>
      const properties = b["properties"] as Record<string, JsonValue> | undefined
      if (typeof key === "number") next = b["items"]
      else if (properties !== undefined && typeof key === "string" && key in properties) next = properties[key]
      if (next !== undefined) break
    }
    current = next
  }
  return current
}

const shortJson = (value: unknown): string => {
  const text = value === undefined ? "nothing" : JSON.stringify(value) ?? String(value)
  return text.length > 80 ? `${text.slice(0, 80)}…` : text
}

/**
 * Lines of `field: got …; expected …` for every problem in a parse error, phrased from the field's
 * JSON Schema (the bounds and allowed values the model was shown), as a model needs to fix its call.
 */
export const formatParseError = (
  error: ParseResult.ParseError,
  inputSchema: Record<string, JsonValue> = {},
  args: unknown = undefined
): string => {
  const lines = new Map<string, string>()
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  for (const issue of issues) {
    const where = issue.path.length === 0 ? "arguments" : issue.path.join(".")
    if (lines.has(where)) continue
    // A nested field's own line says more than its parent's "expected an object".
    if (
      issues.some((other) =>
        other.path.length > issue.path.length && issue.path.every((key, i) => other.path[i] === key)
      )
    ) continue
    const fieldSchema = issue.path.length > 0 ? schemaAt(inputSchema, issue.path) : undefined
    if (fieldSchema !== undefined) {
      const actual = issue.path.reduce<unknown>(
        (
          value,
          key
        ) => (value !== null && typeof value === "object" ? (value as Record<PropertyKey, unknown>)[key] : undefined),
        args
      )
      const expected = describeExpected(fieldSchema)
      lines.set(
        where,
        issue._tag === "Missing"
          ? `- ${where}: is required; expected ${expected}`
          : `- ${where}: got ${shortJson(actual)}; expected ${expected}`
      )
    } else {
      lines.set(where, `- ${where}: ${issue.message.replace(/\s+/g, " ")}`)
    }
  }
  return [...lines.values()].slice(0, 20).join("\n")
}

const MAX_ERROR_TEXT = 4_000

/** How the adapter decodes a tool's arguments and encodes its result, prepared once per tool. */
interface ToolCodec {
  readonly allowed: ReadonlySet<string>
  readonly decodeInput: (args: unknown) => Either.Either<unknown, ParseResult.ParseError>
  readonly encodeOutput: (output: unknown) => Either.Either<unknown, ParseResult.ParseError>
}

const toolCodec = (tool: AnyTool<unknown>): ToolCodec => {
  const encode = Schema.encodeUnknownEither(tool.output)
  // Most outputs are plain JSON already shaped like their schema (projected rows, summaries): a
  // value that passes the exact guard is its own encoding, so the generic encoder, a third of the
  // adapter's own cost on a page of rows, runs only for the others (and to explain a mismatch).
  const exact = guardOf(tool.output.ast, { exact: true })
  return {
    allowed: new Set(Object.keys(tool.input.fields)),
    decodeInput: Schema.decodeUnknownEither(tool.input, { errors: "all" }),
    encodeOutput: exact === undefined ? encode : (output) => (exact(output) ? Either.right(output) : encode(output))
  }
}

/** Options of the factory. */
export interface FactoryOptions {
  /** Values that must never appear in a result (tokens); replaced by `[redacted]` as a last line of defence. */
  readonly secrets?: ReadonlyArray<string> | undefined
  /** Extra text for the `initialize` instructions (e.g. "running on the sandbox"). */
  readonly instructions?: string | undefined
}

/** What a transport tells a new server about its client. */
export interface CreateOptions {
  /**
   * What the client negotiated at `initialize`, when the transport carries it between requests
   * (stateless HTTP); a server connected for a whole conversation (stdio) learns it itself.
   */
  readonly session?: ClientSession | undefined
}

/**
 * The SDK's server with one gate at its transport's ingress: requests whose parameters a handler
 * cannot use are answered `-32602` there (see `screenRequest`), and the revision and capabilities a
 * client sends at `initialize` are noted for the era checks of later requests.
 */
export class AdapterServer extends Server {
  /** The revision negotiated on this connection, once `initialize` has been seen. */
  negotiated: string | undefined

  override async connect(transport: Transport): Promise<void> {
    await super.connect(transport)
    const inner = transport.onmessage
    transport.onmessage = (message, extra) => {
      const refused = screenRequest(message)
      if (refused !== undefined) {
        transport.send(refused as Parameters<Transport["send"]>[0]).catch(() => undefined)
        return
      }
      if ("method" in message && message.method === "initialize" && "id" in message) {
        this.negotiated = negotiate(message.params?.["protocolVersion"])
      }
      inner?.(message, extra)
    }
  }
}

/** Creates MCP `Server` instances wired to the tool table. */
export interface ServerFactory {
  /** A new server with all handlers registered; connect it to one transport. */
  readonly create: (options?: CreateOptions) => AdapterServer
  /** The published tool list (after read-only filtering), as `tools/list` returns it. */
  readonly tools: ReadonlyArray<McpToolInfo>
}

/** The factory as a service, so transports depend on it and not on how tools are built. */
export class McpServer extends Context.Tag("synapse-ml/McpServer")<McpServer, ServerFactory>() {}

/**
 * Builds the factory for `tools` and `resources`, running them on the current runtime. Only the
 * selected tools (toolsets, tool names, read-only mode: `selectTools`) are listed and callable.
 */
export const make = <R>(
  tools: ReadonlyArray<AnyTool<R>>,
  resources: ResourceProvider<R>,
  options: FactoryOptions = {}
): Effect.Effect<ServerFactory, never, R | McpConfig> =>
  Effect.gen(function*() {
    const config = yield* McpConfig
    const runtime = yield* Effect.runtime<R>()
    const selection = selectTools(tools, config)
    const enabled = selection.enabled
    const names = new Set<string>()
    for (const tool of enabled) {
      if (names.has(tool.name)) throw new Error(`duplicate tool name ${tool.name}`)
      // `truncated` and `resource_links` have a meaning to the adapter; a tool may not use the first.
      if ("truncated" in tool.output.fields) throw new Error(`tool ${tool.name}: output field "truncated" is reserved`)
      names.add(tool.name)
    }
    // Everything a call needs about a tool, by name, prepared once.
    const byName = new Map(enabled.map((tool) => {
      const info = toolInfo(tool as AnyTool<unknown>, config)
      return [tool.name, { tool, info, codec: toolCodec(tool as AnyTool<unknown>) }] as const
    }))
    const published = [...byName.values()].map((entry) => entry.info)
    // Clients before 2025-06-18 know neither output schemas nor structured results.
    let legacyList: Array<McpToolInfo> | undefined
    const legacyTools = () => (legacyList ??= published.map(({ outputSchema: _o, ...rest }) => rest))
    const instructions = instructionsFor(published.map((tool) => tool.name), config.readOnly)
    const secrets = options.secrets ?? []
    const redact = (text: string): string => scrubSecrets(text, secrets)
    // Error texts are capped; a successful result's text is the JSON of its structured content,
    // already fitted to the output budget (cutting it again would break the JSON).
    const scrub = (text: string): string => {
      const out = redact(text)
      return out.length > MAX_ERROR_TEXT ? `${out.slice(0, MAX_ERROR_TEXT)}…` : out
    }
    const errorResult = (text: string): CallToolResult => ({
      content: [{ type: "text", text: scrub(text) }],
      isError: true
    })

    type Entry = typeof byName extends Map<string, infer E> ? E : never
    // The arguments decoded, or one error listing every problem: unknown names are reported with the
    // invalid values (the decoder would stop at the first unknown name), so one corrected call can
    // fix everything.
    const checkArgs = (name: string, { codec, info }: Entry, args: unknown) =>
      Effect.suspend(() => {
        const unknown = args !== null && typeof args === "object"
          ? Object.keys(args).filter((k) => !codec.allowed.has(k))
          : []
        const problems = unknown.map((k) =>
          `- ${k}: unknown argument; allowed: ${[...codec.allowed].join(", ") || "none"}`
        )
        const decoded = codec.decodeInput(args ?? {})
        if (Either.isLeft(decoded)) {
          problems.push(formatParseError(decoded.left, info.inputSchema as Record<string, JsonValue>, args))
        }
        if (problems.length > 0 || Either.isLeft(decoded)) {
          return Effect.fail(
            new ToolError({
              message: `Invalid arguments for ${name}:\n${
                problems.join("\n")
              }\nSee the tool's input schema for allowed values.`
            })
          )
        }
        return Effect.succeed(decoded.right)
      })
    // Runs a tool on checked arguments; an output that does not match its own schema is a bug in
    // the tool, not the caller's fault.
    const runChecked = (entry: Entry, decoded: unknown, context: ToolContext): Effect.Effect<unknown, ToolError, R> =>
      entry.tool.run(decoded, context).pipe(
        Effect.provideService(Runner, runner),
        Effect.flatMap((output) => Effect.orDie(entry.codec.encodeOutput(output)))
      )
    // What start_job runs: the enabled long-running tools, checked and run as a direct call is.
    const runner: ToolRunner = {
      detachable: DETACHABLE.filter((name) => byName.has(name)),
      prepare: (name, args) => {
        const entry = byName.get(name)
        if (entry === undefined) return Effect.fail(new ToolError({ message: `Tool ${name} is not available.` }))
        return Effect.map(checkArgs(name, entry, args), (decoded) => (context: ToolContext) =>
          runChecked(entry, decoded, context).pipe(
            Effect.withSpan(`McpJob.${name}`),
            Effect.annotateLogs({ tool: name, job: true }),
            Effect.provide(runtime)
          ))
      }
    }

    const callTool = async (
      name: string,
      args: unknown,
      context: ToolContext,
      signal: AbortSignal
    ): Promise<CallToolResult> => {
      const entry = byName.get(name)
      if (entry === undefined) {
        return errorResult(unavailableMessage(name, selection as Parameters<typeof unavailableMessage>[1]))
      }
      const { tool } = entry
      const program = Effect.flatMap(checkArgs(name, entry, args), (decoded) =>
        runChecked(entry, decoded, context))
        .pipe(
          Effect.withSpan(`McpTool.${name}`),
          Effect.withLogSpan(`tool.${name}`),
          Effect.annotateLogs({ tool: name })
        )
      return resultOf(name, tool, await Runtime.runPromiseExit(runtime)(program, { signal }))
    }

    // A run's exit as a tools/call result: the output fitted to the budget, or an actionable error.
    const resultOf = async (
      name: string,
      tool: AnyTool<R>,
      exit: Exit.Exit<unknown, ToolError>
    ): Promise<CallToolResult> => {
      if (Exit.isSuccess(exit)) {
        const hint = tool.truncationHint ??
          "Ask for a smaller page_size, fewer fields, or a narrower filter, and page with next_page."
        const fitted = applyBudget(exit.value as Record<string, unknown>, config.outputBudget, hint)
        const links = resourceLinks(fitted.value)
        return {
          content: [{ type: "text", text: redact(fitted.text) }, ...links],
          structuredContent: fitted.value
        }
      }
      const failure = Cause.failureOption(exit.cause)
      if (Option.isSome(failure)) {
        return errorResult(failure.value.message)
      }
      if (Cause.isInterruptedOnly(exit.cause)) {
        return errorResult(`${name} was cancelled before it finished.`)
      }
      await Runtime.runPromise(runtime)(
        Effect.logError(`tool ${name} crashed`, Cause.pretty(exit.cause)).pipe(Effect.annotateLogs({ tool: name }))
      )
      return errorResult(
        `${name} failed because of an internal error in the server (details are in its log on stderr). ` +
          "Retrying is unlikely to help; try other arguments or report the problem."
      )
    }

    // Tasks (2025-11-25, experimental): one store for every server of the process, so that any
    // per-request server answers tasks/get, tasks/result and tasks/cancel.
    const taskStore = new JobTaskStore()
    const detachable = new Set<string>(runner.detachable)
    // 2025-11-25 clients learn from the list which tools accept a task.
    let taskList: Array<McpToolInfo> | undefined
    const taskTools = () => (taskList ??= published.map((tool) =>
      detachable.has(tool.name) ? { ...tool, execution: { taskSupport: "optional" as const } } : tool
    ))
    /**
     * Starts a task-augmented call: checks the arguments (a bad call is -32602, no task made),
     * creates the task, runs the tool detached and stores its result (or error) when it ends;
     * cancelling the task interrupts the run.
     */
    const startTask = async (
      name: string,
      args: unknown,
      params: { ttl?: number | null | undefined },
      store: NonNullable<RequestHandlerExtra<ServerRequest, ServerNotification>["taskStore"]>
    ) => {
      const entry = byName.get(name)
      if (entry === undefined || !detachable.has(name)) {
        throw new McpError(
          ErrorCode.InvalidParams,
          `${name} cannot run as a task; tools that can: ${[...detachable].join(", ") || "none"}.`
        )
      }
      const checked = await Runtime.runPromiseExit(runtime)(checkArgs(name, entry, args))
      if (Exit.isFailure(checked)) {
        const failure = Cause.failureOption(checked.cause)
        throw new McpError(
          ErrorCode.InvalidParams,
          Option.isSome(failure) ? failure.value.message : "Invalid arguments."
        )
      }
      const task = await store.createTask({ ttl: params.ttl ?? TASK_TTL_MS, pollInterval: 1000 })
      const fiber = Runtime.runFork(runtime)(
        runChecked(entry, checked.value, {
          progress: () =>
            Effect.void
        }).pipe(
          Effect.withSpan(`McpTask.${name}`),
          Effect.annotateLogs({ tool: name, task: task.taskId })
        )
      )
      taskStore.cancellers.set(task.taskId, () =>
        void Runtime.runPromise(runtime)(Fiber.interrupt(fiber)))
      fiber.addObserver((exit) => {
        taskStore.cancellers.delete(task.taskId)
        if (Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)) return
        void resultOf(name, entry.tool, exit).then((result) =>
          store.storeTaskResult(task.taskId, result.isError === true ? "failed" : "completed", result)
        ).catch(() => undefined)
      })
      return { task }
    }
    // The SDK's default is a fresh Ajv instance per `Server` (about 0.4 ms of CPU, the largest single
    // cost of a stateless HTTP request in a profile); the server only uses it to validate
    // elicitation answers, and one Ajv instance is safe to share, so it is built once here.
    const jsonSchemaValidator = new AjvJsonSchemaValidator()
    const prompts = resources.prompts
    const create = (createOptions: CreateOptions = {}): AdapterServer => {
      const server = new AdapterServer(SERVER_INFO, {
        jsonSchemaValidator,
        taskStore,
        capabilities: {
          tools: { listChanged: false },
          // Finished exports appear in resources/list: a tool call that wrote one says so.
          resources: { listChanged: true },
          tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
          ...(prompts !== undefined ? { prompts: { listChanged: false }, completions: {} } : {})
        },
        instructions: options.instructions === undefined ? instructions : `${instructions} ${options.instructions}`
      })
      // The revision a request speaks: its HTTP header, else what the transport carried, else what
      // this connection negotiated (stdio), else the revision a client that says nothing gets.
      const eraOf = (extra: { readonly requestInfo?: { readonly headers?: Record<string, unknown> } }) => {
        const header = extra.requestInfo?.headers?.["mcp-protocol-version"]
        return typeof header === "string" ? header : createOptions.session?.protocolVersion ?? server.negotiated
      }
      // Whether the client can ask its user: declared at initialize (carried by the transport when
      // stateless) and possible in the request's revision (elicitation begins with 2025-06-18).
      const canAsk = (extra: { readonly requestInfo?: { readonly headers?: Record<string, unknown> } }) =>
        hasStructuredResults(eraOf(extra)) &&
        (createOptions.session?.elicitation ?? canElicit(server.getClientCapabilities()))
      server.setRequestHandler(ListToolsRequestSchema, async (_request, extra) => {
        const era = eraOf(extra)
        return { tools: hasTasks(era) ? taskTools() : hasStructuredResults(era) ? [...published] : legacyTools() }
      })
      server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
        const taskParams = request.params.task
        if (taskParams !== undefined && extra.taskStore !== undefined) {
          return startTask(request.params.name, request.params.arguments, taskParams, extra.taskStore)
        }
        const token = request.params._meta?.progressToken
        let last = Number.NEGATIVE_INFINITY
        let lastSentAt = 0
        const attachments: Array<Attachment> = []
        // A 2026 client is asked in rounds: the call answers `input_required` and is sent again.
        const rounds = askInRounds(request.params)
        const context: ToolContext = {
          elicit: canAsk(extra) ? elicitThrough(extra) : rounds?.elicit,
          attach: (block) => Effect.sync(() => void attachments.push(block)),
          progress: (progress, total, message) =>
            token === undefined
              ? Effect.void
              : Effect.promise(async () => {
                // Progress must grow; and a flood of notifications helps no one, so at most one per
                // 50 ms except the final one.
                if (!(progress > last)) {
                  return
                }
                const now = Date.now()
                const final = total !== undefined && progress >= total
                if (!final && now - lastSentAt < 50) {
                  return
                }
                last = progress
                lastSentAt = now
                await extra.sendNotification({
                  method: "notifications/progress",
                  params: {
                    progressToken: token,
                    progress,
                    ...(total !== undefined ? { total } : {}),
                    ...(message !== undefined ? { message } : {})
                  }
                }).catch(() => undefined)
              })
        }
        const called = await callTool(request.params.name, request.params.arguments, context, extra.signal)
        const question = rounds?.pending()
        if (question !== undefined) return { content: [], ...question }
        const result = called.isError || attachments.length === 0
          ? called
          : { ...called, content: [...called.content, ...attachments.map((block) => ({ ...block }))] }
        // A write that produced files (an export, a split) changed resources/list.
        if (!result.isError && byName.get(request.params.name)?.tool.write === true && hasLinks(result)) {
          await extra.sendNotification({ method: "notifications/resources/list_changed" }).catch(() => undefined)
        }
        return hasStructuredResults(eraOf(extra)) ? result : legacyResult(result)
      })
      server.setRequestHandler(
        ListResourceTemplatesRequestSchema,
        async () => ({ resourceTemplates: [...resources.templates] })
      )
      // Resource requests have no isError result: a protocol error carries the actionable text.
      const orProtocolError = async <A>(effect: Effect.Effect<A, ToolError, R>, signal: AbortSignal, what: string) => {
        const exit = await Runtime.runPromiseExit(runtime)(effect, { signal })
        if (Exit.isSuccess(exit)) return exit.value
        const failure = Cause.failureOption(exit.cause)
        throw new McpError(
          ErrorCode.InvalidParams,
          Option.isSome(failure) ? scrub(failure.value.message) : `${what} failed (see the server log).`
        )
      }
      server.setRequestHandler(ListResourcesRequestSchema, async (request, extra) => {
        const page = await orProtocolError(resources.list(request.params?.cursor), extra.signal, "Listing resources")
        return {
          resources: [...page.resources],
          ...(page.nextCursor !== undefined ? { nextCursor: page.nextCursor } : {})
        }
      })
      if (prompts !== undefined) {
        server.setRequestHandler(ListPromptsRequestSchema, async () => ({ prompts: [...prompts.prompts] }))
        server.setRequestHandler(GetPromptRequestSchema, async (request, extra) =>
          orProtocolError(
            prompts.get(request.params.name, request.params.arguments ?? {}),
            extra.signal,
            `Prompt ${request.params.name}`
          ))
        server.setRequestHandler(CompleteRequestSchema, async (request, extra) => ({
          completion: await Runtime.runPromise(runtime)(
            prompts.complete(request.params.ref, request.params.argument.name, request.params.argument.value),
            { signal: extra.signal }
          )
        }))
      }
      server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) => ({
        contents: [
          ...(await orProtocolError(resources.read(request.params.uri), extra.signal, `Reading ${request.params.uri}`))
        ]
      }))
      return server
    }

    return { create, tools: published }
  })

/** `resource_links` entries of an output become `resource_link` content blocks clients can open. */
const resourceLinks = (value: Record<string, unknown>): CallToolResult["content"] => {
  const links = value["resource_links"]
  if (!Array.isArray(links)) return []
  return links.flatMap((link) => {
    if (link === null || typeof link !== "object") return []
    const { uri, name, mimeType, description } = link as Record<string, unknown>
    if (typeof uri !== "string" || typeof name !== "string") return []
    return [{
      type: "resource_link" as const,
      uri,
      name,
      ...(typeof mimeType === "string" ? { mimeType } : {}),
      ...(typeof description === "string" ? { description } : {})
    }]
  })
}

const hasLinks = (result: CallToolResult): boolean => {
  const links = (result.structuredContent as { resource_links?: unknown } | undefined)?.resource_links
  return Array.isArray(links) && links.length > 0
}

/** How long a finished task's result is kept when the client asks for no other lifetime. */
export const TASK_TTL_MS = 60 * 60 * 1000

/** The SDK's in-memory task store, which also stops a task's run when the task is cancelled. */
class JobTaskStore extends InMemoryTaskStore {
  readonly cancellers = new Map<string, () => void>()

  override async updateTaskStatus(
    taskId: string,
    status: Parameters<InMemoryTaskStore["updateTaskStatus"]>[1],
    statusMessage?: string,
    sessionId?: string
  ): Promise<void> {
    await super.updateTaskStatus(taskId, status, statusMessage, sessionId)
    if (status === "cancelled") {
      this.cancellers.get(taskId)?.()
      this.cancellers.delete(taskId)
    }
  }
}

/** How long the user has to answer a question before it counts as dismissed. */
export const ELICIT_TIMEOUT_MS = 10 * 60 * 1000

/**
 * `ToolContext.elicit` for one request: an `elicitation/create` request sent as part of the call
 * (on its stream over HTTP), answered `"cancel"` when the client fails, times out or the call is
 * cancelled. (The SDK's `Server.elicitInput` checks capabilities a per-request HTTP server never
 * saw and is not tied to the call's stream, so the request goes through the call's own `extra`.)
 */
const elicitThrough = (extra: {
  readonly sendRequest: (
    request: ElicitRequest,
    schema: typeof ElicitResultSchema,
    options?: { signal?: AbortSignal; timeout?: number }
  ) => Promise<ElicitResult>
}) =>
(message: string, requestedSchema: ElicitSchema): Effect.Effect<ElicitAction> =>
  Effect.promise((signal) =>
    extra.sendRequest(
      {
        method: "elicitation/create",
        params: {
          mode: "form",
          message,
          requestedSchema: requestedSchema as ElicitRequestFormParams["requestedSchema"]
        }
      },
      ElicitResultSchema,
      { signal, timeout: ELICIT_TIMEOUT_MS }
    ).then((answer) => answer.action, () => "cancel" as const)
  )

/**
 * A result as a client before 2025-06-18 understands it: no `structuredContent` (the text block
 * holds the same JSON) and each `resource_link` block as a text block naming the resource's URI,
 * which such a client can read with `resources/read`.
 */
export const legacyResult = (result: CallToolResult): CallToolResult => {
  const { structuredContent: _s, ...rest } = result
  return {
    ...rest,
    content: result.content.map((block) =>
      block.type === "resource_link"
        ? {
          type: "text" as const,
          text: `Resource ${block.uri} (${block.name}${
            block.mimeType !== undefined ? `, ${block.mimeType}` : ""
          }): read it with resources/read.`
        }
        : block
    )
  }
}

/** The factory as a layer over the tool table and resources. */
export const layer = <R>(
  tools: ReadonlyArray<AnyTool<R>>,
  resources: ResourceProvider<R>,
  options: FactoryOptions = {}
): Layer.Layer<McpServer, never, R | McpConfig> => Layer.effect(McpServer, make(tools, resources, options))
