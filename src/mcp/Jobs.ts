/**
 * Jobs: long-running tool calls (exports, uploads, analyses, deploys) run detached from the request
 * that started them, so a client can disconnect, poll, fetch the result later or cancel, from any
 * connection to the same server process. Jobs live in the memory of the server process: they are
 * shared by all its clients and transports, survive the requests and sessions that started them,
 * and are lost when the process ends (a job running then is interrupted, and an interrupted export
 * removes its partial output). Behind a load balancer a job is reachable only on the process that
 * runs it. Finished jobs are kept for `RETENTION_MS` and at most `MAX_JOBS` are kept in all.
 *
 * Cancelling a job interrupts its fiber and waits for the interruption to finish, so when
 * `cancel` answers, the work's own clean-up (removing a partial export) has run.
 */
import { Cause, Context, Effect, Exit, Fiber, Option } from "effect"
import { randomBytes } from "node:crypto"
import type { ToolContext } from "./Tool.js"
import { ToolError } from "./Tool.js"

/** Where a job is. */
export type JobStatus = "running" | "completed" | "failed" | "cancelled"

/** What a client sees of a job. */
export interface JobView {
  readonly job_id: string
  readonly tool: string
  readonly status: JobStatus
  readonly started_at: string
  readonly finished_at: string | null
  /** The latest progress the work reported, if any. */
  readonly progress: { readonly progress: number; readonly total?: number; readonly message?: string } | null
  /** Why the job failed (failed jobs only). */
  readonly error: string | null
}

/** How long a finished job stays readable. */
export const RETENTION_MS = 60 * 60 * 1000
/** Most jobs kept at once; starting another beyond it fails while all are running. */
export const MAX_JOBS = 200

interface JobState {
  view: JobView
  result: unknown
  fiber: Fiber.RuntimeFiber<unknown, ToolError> | undefined
  finishedAt: number | undefined
}

/** The job table of a server process. */
export interface JobRegistry {
  /**
   * Starts `work` detached as a job of `tool`; `work` gets a progress reporter that records into
   * the job. Answers the running job at once.
   */
  readonly start: (
    tool: string,
    work: (progress: ToolContext["progress"]) => Effect.Effect<unknown, ToolError>
  ) => Effect.Effect<JobView, ToolError>
  /** The job `id`, or a ToolError naming list_jobs when there is none. */
  readonly get: (id: string) => Effect.Effect<JobView, ToolError>
  /** The result of a completed job; a ToolError saying why there is none otherwise. */
  readonly result: (id: string) => Effect.Effect<{ readonly job: JobView; readonly result: unknown }, ToolError>
  /** Cancels a running job and waits until its work has stopped; a finished job is left as it is. */
  readonly cancel: (id: string) => Effect.Effect<JobView, ToolError>
  /** Every kept job, newest first. */
  readonly list: Effect.Effect<ReadonlyArray<JobView>>
}

/** A new, empty job table. */
export const makeRegistry = (now: () => number = Date.now): JobRegistry => {
  const jobs = new Map<string, JobState>()
  const prune = () => {
    for (const [id, job] of jobs) {
      if (job.finishedAt !== undefined && now() - job.finishedAt > RETENTION_MS) jobs.delete(id)
    }
    if (jobs.size < MAX_JOBS) return
    // Oldest finished jobs go first when the table is full.
    const finished = [...jobs.entries()].filter(([, job]) => job.finishedAt !== undefined)
      .sort(([, a], [, b]) => a.finishedAt! - b.finishedAt!)
    for (const [id] of finished.slice(0, jobs.size - MAX_JOBS + 1)) jobs.delete(id)
  }
  const find = (id: string) =>
    Effect.suspend(() => {
      prune()
      const job = jobs.get(id)
      return job === undefined
        ? Effect.fail(
          new ToolError({
            message: `No job ${JSON.stringify(id)} in this server process: it never existed, finished more than ` +
              `${
                RETENTION_MS / 60_000
              } minutes ago, or the server restarted. The job tool's action list shows the jobs kept.`
          })
        )
        : Effect.succeed(job)
    })
  const finish = (job: JobState, patch: Partial<JobView>, result?: unknown) => {
    if (job.view.status !== "running") return
    job.finishedAt = now()
    job.view = { ...job.view, ...patch, finished_at: new Date(job.finishedAt).toISOString() }
    job.result = result
    job.fiber = undefined
  }
  return {
    start: (tool, work) =>
      Effect.gen(function*() {
        prune()
        if (jobs.size >= MAX_JOBS) {
          return yield* new ToolError({
            message: `${MAX_JOBS} jobs are running in this server; wait for some to finish or cancel some.`
          })
        }
        const id = `job_${randomBytes(9).toString("base64url")}`
        const job: JobState = {
          view: {
            job_id: id,
            tool,
            status: "running",
            started_at: new Date(now()).toISOString(),
            finished_at: null,
            progress: null,
            error: null
          },
          result: undefined,
          fiber: undefined,
          finishedAt: undefined
        }
        jobs.set(id, job)
        const progress: ToolContext["progress"] = (value, total, message) =>
          Effect.sync(() => {
            job.view = {
              ...job.view,
              progress: {
                progress: value,
                ...(total !== undefined ? { total } : {}),
                ...(message !== undefined ? { message } : {})
              }
            }
          })
        // A daemon: the job outlives the request (and its fiber) that started it.
        job.fiber = yield* Effect.forkDaemon(
          work(progress).pipe(
            Effect.onExit((exit) =>
              Effect.sync(() => {
                if (Exit.isSuccess(exit)) return finish(job, { status: "completed" }, exit.value)
                const failure = Cause.failureOption(exit.cause)
                if (Option.isSome(failure)) return finish(job, { status: "failed", error: failure.value.message })
                if (Cause.isInterruptedOnly(exit.cause)) return finish(job, { status: "cancelled" })
                return finish(job, {
                  status: "failed",
                  error: "an internal error in the server (details are in its log on stderr)."
                })
              })
            ),
            // A defect is logged like one in a call; the job records only that it happened.
            Effect.tapDefect((cause) => Effect.logError(`job ${id} (${tool}) crashed`, Cause.pretty(cause)))
          )
        )
        return job.view
      }),
    get: (id) => Effect.map(find(id), (job) => job.view),
    result: (id) =>
      Effect.flatMap(find(id), (job) => {
        switch (job.view.status) {
          case "completed":
            return Effect.succeed({ job: job.view, result: job.result })
          case "running":
            return Effect.fail(
              new ToolError({
                message: `Job ${id} (${job.view.tool}) is still running${
                  job.view.progress !== null
                    ? ` (progress ${job.view.progress.progress}${
                      job.view.progress.total !== undefined ? ` of ${job.view.progress.total}` : ""
                    })`
                    : ""
                }; ask for its status until it is completed, then for its result.`
              })
            )
          case "failed":
            return Effect.fail(new ToolError({ message: `Job ${id} (${job.view.tool}) failed: ${job.view.error}` }))
          case "cancelled":
            return Effect.fail(
              new ToolError({ message: `Job ${id} (${job.view.tool}) was cancelled; it has no result.` })
            )
        }
      }),
    cancel: (id) =>
      Effect.gen(function*() {
        const job = yield* find(id)
        const fiber = job.fiber
        if (fiber !== undefined) yield* Fiber.interrupt(fiber)
        finish(job, { status: "cancelled" })
        return job.view
      }),
    list: Effect.sync(() => {
      prune()
      return [...jobs.values()].map((job) => job.view).reverse()
    })
  }
}

/** The job table of this process: one for every client and transport of the server. */
export class Jobs extends Context.Reference<Jobs>()("synapse-ml/Jobs", { defaultValue: () => processJobs() }) {}

let shared: JobRegistry | undefined
const processJobs = (): JobRegistry => (shared ??= makeRegistry())

/**
 * Runs a tool of the server by name, arguments checked as a call's are: what `start_job` detaches.
 * The adapter provides it to every tool call; without the adapter there is nothing to run.
 */
export interface ToolRunner {
  /** The tools that may run as jobs on this server (enabled ones only). */
  readonly detachable: ReadonlyArray<string>
  /**
   * Checks `args` for tool `name` (failing as a direct call would) and answers the work to run:
   * the tool's run with `context`, its output encoded as a direct call's.
   */
  readonly prepare: (
    name: string,
    args: unknown
  ) => Effect.Effect<(context: ToolContext) => Effect.Effect<unknown, ToolError>, ToolError>
}

/** The runner of the current call (provided by the adapter). */
export class Runner extends Context.Reference<Runner>()("synapse-ml/ToolRunner", {
  defaultValue: (): ToolRunner => ({
    detachable: [],
    prepare: (name) => Effect.fail(new ToolError({ message: `${name} cannot run as a job outside the MCP server.` }))
  })
}) {}

/** The tools that make sense as jobs: long-running, with a result worth fetching later. */
export const DETACHABLE = [
  "export_ground_truth",
  "prepare_training_data",
  "create_model",
  "analyze_model_performance",
  "deploy_model"
] as const
