/**
 * The shape of one MCP tool: a row of the tool table. Everything the server publishes about a tool
 * (name, title, description, JSON Schemas, annotations) and how it runs (an Effect over the SDK's
 * services) lives in one value, so the listing, the validation and the execution cannot drift apart.
 */
import { Effect, Schema } from "effect"

/** The hints MCP clients use to decide whether to ask the user before a call. */
export interface ToolAnnotations {
  readonly readOnlyHint: boolean
  readonly destructiveHint: boolean
  readonly idempotentHint: boolean
  /** True when the tool talks to a system outside this process (the Synapse backend). */
  readonly openWorldHint: boolean
}

/** The groups tools are offered in; a server can be limited to some of them (`--toolsets`). */
export const TOOLSETS = ["context", "models", "datasets", "evaluation", "deploy", "jobs"] as const
/** One toolset name. */
export type Toolset = (typeof TOOLSETS)[number]

/** What the user answered to an elicitation: accepted, declined, or dismissed without a choice. */
export type ElicitAction = "accept" | "decline" | "cancel"

/**
 * The form shown to the user with an elicitation: a flat object of primitive fields, as MCP's
 * `elicitation/create` allows (`{ type: "object", properties: { confirm: { type: "boolean" } } }`).
 */
export interface ElicitSchema {
  readonly type: "object"
  readonly properties: Readonly<Record<string, Readonly<Record<string, unknown>>>>
  readonly required?: ReadonlyArray<string> | undefined
}

/** What a running tool may do besides computing its result. */
export interface ToolContext {
  /**
   * Reports progress to the caller when it asked for it (a progress token); otherwise does nothing.
   * `progress` must grow from call to call; `total` is given when known.
   */
  readonly progress: (progress: number, total?: number, message?: string) => Effect.Effect<void>
  /**
   * Asks the client's user directly (MCP elicitation, or the era's equivalent) and answers with
   * their choice. Absent when the client cannot ask its user; then a tool that needs the user's
   * consent falls back to a plan the model must show and hand back (`plan_id`). Never fails: a
   * client error or a dropped request is answered as `"cancel"`.
   */
  readonly elicit?: ((message: string, requestedSchema: ElicitSchema) => Effect.Effect<ElicitAction>) | undefined
  /**
   * Adds a content block after the result's text: a chart as an image, a report as an embedded
   * resource. Attachments are not part of the structured output and do not count against the text
   * budget; absent where a result has no content blocks (a detached job's result).
   */
  readonly attach?: ((block: Attachment) => Effect.Effect<void>) | undefined
}

/** A content block a tool adds to its result besides the structured output. */
export type Attachment =
  | { readonly type: "image"; readonly data: string; readonly mimeType: string }
  | {
    readonly type: "resource"
    readonly resource: { readonly uri: string; readonly mimeType: string; readonly text: string }
  }

/**
 * A failure the caller can act on: `message` says what failed, why, and what to try next. It is
 * shown to the model verbatim, so it never contains a stack trace or a credential.
 */
export class ToolError extends Schema.TaggedError<ToolError>()("ToolError", {
  message: Schema.String
}) {}

/** A struct schema without context, as inputs and outputs are. */

export type StructSchema<A> = Schema.Schema<A, any, never> & { readonly fields: Schema.Struct.Fields }

/** One row of the tool table. `R` is what `run` needs (SDK services, workflows, settings). */
export interface Tool<I, O, R> {
  /** snake_case, unique. */
  readonly name: string
  readonly title: string
  /** Written for a model: when to use the tool, what it returns, how it relates to the others. */
  readonly description: string
  /** Every field described and bounded; decoded before `run` sees it. */
  readonly input: StructSchema<I>
  /** What `structuredContent` holds; the adapter adds an optional `truncated` note to it. */
  readonly output: StructSchema<O>
  readonly annotations: ToolAnnotations
  /** The group the tool is offered in (`--toolsets`). */
  readonly toolset: Toolset
  /** Write tools change state (in Synapse or on disk); they are not offered in read-only mode. */
  readonly write: boolean
  /**
   * A write tool that also plans (a dry run, a deploy plan) without changing anything. It stays
   * listed in read-only mode, where it only plans and refuses to execute.
   */
  readonly plansInReadOnly?: boolean | undefined
  readonly run: (input: I, context: ToolContext) => Effect.Effect<O, ToolError, R>
  /** How to get what a truncated result left out (default: page with next_page, fewer fields). */
  readonly truncationHint?: string | undefined
}

/** A tool whose input and output types have been forgotten, so tables can mix tools. */

export type AnyTool<R> = Tool<any, any, R>

/** Builds a table row, checking that `run` fits the input and output schemas. */
export const make = <I, O, R>(tool: Tool<I, O, R>): Tool<I, O, R> => tool

/** Annotations of a tool that only reads from Synapse. */
export const readOnly: ToolAnnotations = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: true
}
