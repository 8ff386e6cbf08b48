/**
 * The job tools: `start_job` runs a long tool call (export, split, upload, analysis, deploy)
 * detached and answers a job handle at once; `job` lets any client of the same server process poll
 * it, fetch its result, cancel it or list the jobs. Jobs live in the server process (see `Jobs.ts`).
 * Following a job is one tool with an `action` rather than four: every tool's schema goes into the
 * model's context with the tool list, and the four would share almost all of theirs.
 *
 * Detaching is a tool of its own rather than a `detach` flag on each tool: a detached call answers
 * a job handle, which does not match the tool's declared output schema, and clients (the official
 * SDK's among them) reject a structured result that does not match it.
 */
import { Effect, Schema } from "effect"
import { DETACHABLE, Jobs, Runner } from "../Jobs.js"
import * as Tool from "../Tool.js"

const JobId = Schema.String.pipe(Schema.pattern(/^job_[A-Za-z0-9_-]{1,40}$/)).annotations({
  description: "From start_job."
})

const JobView = Schema.Struct({
  job_id: Schema.String,
  tool: Schema.String.annotations({ description: "The tool the job runs." }),
  status: Schema.Literal("running", "completed", "failed", "cancelled"),
  started_at: Schema.String,
  finished_at: Schema.NullOr(Schema.String),
  progress: Schema.NullOr(
    Schema.Struct({
      progress: Schema.Number,
      total: Schema.optional(Schema.Number),
      message: Schema.optional(Schema.String)
    })
  ).annotations({ description: "The latest progress the job reported (null before the first)." }),
  error: Schema.NullOr(Schema.String).annotations({ description: "Why the job failed (failed jobs only)." })
})

/** `start_job`: runs a long tool call detached. */
export const startJob = Tool.make({
  name: "start_job",
  title: "Start a job",
  description: "Runs a long call (an export, split, upload, analysis or deploy) detached and answers a job " +
    "handle at once; follow it with the job tool. Arguments are checked as in a direct call.",
  input: Schema.Struct({
    tool: Schema.Literal(...DETACHABLE).annotations({ description: "The tool to run." }),
    arguments: Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
      description: "The tool's arguments."
    })
  }),
  output: JobView,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  toolset: "jobs",
  write: false,
  run: ({ arguments: args, tool }) =>
    Effect.gen(function*() {
      const runner = yield* Runner
      const jobs = yield* Jobs
      if (!runner.detachable.includes(tool)) {
        return yield* new Tool.ToolError({
          message: `${tool} is not available on this server (read-only mode or tool selection)` +
            (runner.detachable.length > 0
              ? `; jobs can run: ${runner.detachable.join(", ")}.`
              : "; no tool can run as a job.")
        })
      }
      // The arguments are checked before the job starts, so a bad call fails here, not later.
      const work = yield* runner.prepare(tool, args)
      return yield* jobs.start(tool, (progress) => work({ progress }))
    })
})

/** `job`: the status, result or cancellation of a job, or the list of jobs. */
export const job = Tool.make({
  name: "job",
  title: "Follow a job",
  description: "Follows start_job's jobs: status (with progress), result (the tool's own, once completed), " +
    "cancel (answers once the work stopped; a cancelled export leaves no files), or list (no job_id).",
  input: Schema.Struct({
    action: Schema.Literal("status", "result", "cancel", "list").annotations({ description: "What to do." }),
    job_id: Schema.optional(JobId)
  }),
  output: Schema.Struct({
    jobs: Schema.Array(JobView),
    result: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
    resource_links: Schema.optional(Schema.Array(Schema.Record({ key: Schema.String, value: Schema.Unknown })))
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  toolset: "jobs",
  write: false,
  truncationHint: "Read the files the result names through its resource links instead.",
  run: ({ action, job_id }) =>
    Effect.gen(function*() {
      const jobs = yield* Jobs
      if (action === "list") return { jobs: [...(yield* jobs.list)] }
      if (job_id === undefined) {
        return yield* new Tool.ToolError({ message: `action ${action} needs job_id (the one start_job answered).` })
      }
      if (action === "status") return { jobs: [yield* jobs.get(job_id)] }
      if (action === "cancel") return { jobs: [yield* jobs.cancel(job_id)] }
      const done = yield* jobs.result(job_id)
      const record = (done.result ?? {}) as Record<string, unknown>
      const links = record["resource_links"]
      // Lifted to the top, so that clients get them as resource_link blocks as from a direct call.
      return {
        jobs: [done.job],
        result: record,
        ...(Array.isArray(links) ? { resource_links: links as Array<Record<string, unknown>> } : {})
      }
    })
})

/** Every job tool, in listing order. */
export const jobTools = [startJob, job] as const
