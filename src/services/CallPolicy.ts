/**
 * How one call of `SynapseClient` spends its time: attempts, each within its own timeout, retried on
 * transient failures with the configured schedule (`Retry-After` honoured as the minimum wait), all
 * within the call's total deadline (docs/architecture.md "Retries and timeouts").
 *
 * Guarantees:
 * - A call ends within its deadline: the last attempt's timeout is cut to the time left, and no
 *   retry is started whose wait would end past the deadline. A backend that accepts connections and
 *   never answers is a `TimeoutError` naming the deadline; one that refuses them is the last
 *   `ConnectionError`, saying how many attempts were made in how long.
 * - The first time a call finds the backend unreachable (refused, unresolvable, no answer) and is
 *   going to retry, it logs one warning, so a person sees why nothing happens yet.
 * - Timeouts only bound the network part: what `attempt` does after it returns (parsing a page) runs
 *   in the caller's fiber, never in a forked one (a parsed page a forked fiber completes with is kept
 *   from the young-generation collector: see `SynapseClient.jsonLater`).
 */
import { Clock, Duration, Effect, Schedule } from "effect"
import { isUnreachable } from "./ErrorMapping.js"
import {
  ConnectionError,
  isTransient,
  retryAfterOf,
  stripQuery,
  type SynapseError,
  TimeoutError
} from "./SynapseError.js"

/** A duration in seconds for messages: `120 s`, `13 s`, `2.5 s`. */
export const seconds = (duration: Duration.Duration): string => {
  const ms = Duration.toMillis(duration)
  if (ms % 1000 === 0 || ms >= 10_000) return `${Math.round(ms / 1000)} s`
  return `${(ms / 1000).toFixed(1)} s`
}

/** What a call is, for its errors and its warning. */
export interface CallInfo {
  readonly method: string
  /** The absolute URL (its query is never shown). */
  readonly url: string
  /** Whether transient failures are retried (safe methods, or `retry: true`). */
  readonly retry: boolean
  readonly deadline: Duration.Duration
  /** When the call began (epoch ms), when it began before this run (a second step of one call). */
  readonly startedAtMs?: number | undefined
}

/** The time one attempt has: its own timeout, or less when the call's deadline comes first. */
export interface AttemptBudget {
  readonly timeout: Duration.Duration
  /** The error when `timeout` expires: the attempt's own, or the deadline's when it was cut to it. */
  readonly timeoutError: () => TimeoutError
}

/** The policy's settings. */
export interface PolicyOptions {
  readonly baseUrl: string
  readonly schedule: Schedule.Schedule<unknown, SynapseError>
  /** A longer `Retry-After` is not waited for: the `RateLimitError` is returned. */
  readonly maxRetryAfter: Duration.Duration
  /** Removes secrets from a text (error details quoted in the warning). */
  readonly redact: (text: string) => string
}

/** The retry and deadline policy of a client. */
export interface CallPolicy {
  /**
   * Runs `attempt` as a call: each attempt gets its budget (`timeout` is the attempt's own), the
   * transient failures that `retryable` accepts are retried while `info.retry`, and the whole ends
   * within `info.deadline`.
   */
  readonly run: <A>(
    info: CallInfo,
    timeout: Duration.Duration,
    retryable: (error: SynapseError) => boolean,
    attempt: (budget: AttemptBudget) => Effect.Effect<A, SynapseError>
  ) => Effect.Effect<A, SynapseError>
  /** The schedule alone, with `Retry-After` honoured and the deadline `deadline` from now. */
  readonly retry: <A, R>(
    self: Effect.Effect<A, SynapseError, R>,
    deadline: Duration.Duration
  ) => Effect.Effect<A, SynapseError, R>
}

/** The error of an attempt that the deadline cut short. */
export const deadlineError = (info: CallInfo, attempts: number): TimeoutError =>
  new TimeoutError({
    detail: `no complete answer within the call's deadline of ${seconds(info.deadline)} (${attempts} ${
      attempts === 1 ? "attempt" : "attempts"
    })`,
    method: info.method,
    url: stripQuery(info.url),
    timeoutMs: Duration.toMillis(info.deadline)
  })

/** The per-attempt timeout's error. */
export const attemptTimeoutError = (method: string, url: string, timeout: Duration.Duration): TimeoutError =>
  new TimeoutError({
    detail: `no complete answer within ${Duration.format(timeout)}`,
    method,
    url: stripQuery(url),
    timeoutMs: Duration.toMillis(timeout)
  })

/** `error` saying how long the call tried, when it tried more than once and could not connect or finish. */
const withEffort = (error: SynapseError, attempts: number, elapsedMs: number): SynapseError => {
  if (attempts < 2) return error
  const effort = `; gave up after ${attempts} attempts in ${seconds(Duration.millis(elapsedMs))}`
  if (error._tag === "ConnectionError") return new ConnectionError({ ...error, detail: `${error.detail}${effort}` })
  if (error._tag === "TimeoutError" && !error.detail.includes("deadline")) {
    return new TimeoutError({ ...error, detail: `${error.detail}${effort}` })
  }
  return error
}

/** Builds the policy. */
export const make = (options: PolicyOptions): CallPolicy => {
  const base = (retryable: (error: SynapseError) => boolean) =>
    Schedule.intersect(options.schedule, Schedule.identity<SynapseError>()).pipe(
      Schedule.whileInput((error: SynapseError) => {
        if (!retryable(error)) return false
        const wait = retryAfterOf(error)
        return wait === undefined || Duration.lessThanOrEqualTo(wait, options.maxRetryAfter)
      }),
      // Retry-After is a minimum: never retry sooner than the server asked.
      Schedule.modifyDelay(([, error], delay) => {
        const wait = retryAfterOf(error)
        return wait !== undefined && Duration.greaterThan(wait, delay) ? wait : delay
      })
    )
  // built once per predicate: a call only picks one
  const delaysOf = new Map<(error: SynapseError) => boolean, Schedule.Schedule<Duration.Duration, SynapseError>>()
  const delays = (retryable: (error: SynapseError) => boolean) => {
    let made = delaysOf.get(retryable)
    if (made === undefined) {
      made = Schedule.delays(base(retryable))
      delaysOf.set(retryable, made)
    }
    return made
  }

  /** The delays of `policy`, ending where the next wait would pass `endMs`. */
  const within = (
    delays: Schedule.Schedule<Duration.Duration, SynapseError>,
    endMs: number
  ): Schedule.Schedule<Duration.Duration, SynapseError> =>
    Schedule.whileOutputEffect(
      delays,
      (delay) => Effect.map(Clock.currentTimeMillis, (now) => now + Duration.toMillis(delay) < endMs)
    )

  const logFailure = (error: SynapseError) =>
    Effect.logDebug("synapse request failed, will retry if the budget allows").pipe(
      Effect.annotateLogs({
        error: error._tag,
        status: error.status_code ?? "-",
        detail: options.redact(error.detail)
      })
    )

  const warnUnreachable = (error: SynapseError, info: CallInfo, leftMs: number) =>
    Effect.logWarning(
      `backend ${options.baseUrl} unreachable (${options.redact(error.detail)}); retrying for up to ${
        seconds(Duration.millis(Math.max(0, leftMs)))
      }`
    ).pipe(Effect.annotateLogs({ method: info.method, url: stripQuery(info.url) }))

  const run: CallPolicy["run"] = (info, timeout, retryable, attempt) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const startMs = info.startedAtMs ?? now
      const endMs = startMs + Duration.toMillis(info.deadline)
      let attempts = 0
      let warned = false
      const once = Effect.flatMap(Clock.currentTimeMillis, (now) => {
        attempts++
        const leftMs = endMs - now
        if (leftMs <= 0) return Effect.fail<SynapseError>(deadlineError(info, attempts - 1))
        const cut = leftMs < Duration.toMillis(timeout)
        let endedByDeadline = false
        const budget: AttemptBudget = cut
          ? {
            timeout: Duration.millis(leftMs),
            timeoutError: () => {
              endedByDeadline = true
              return deadlineError(info, attempts)
            }
          }
          : { timeout, timeoutError: () => attemptTimeoutError(info.method, info.url, timeout) }
        return attempt(budget).pipe(
          Effect.tapError((error) => {
            if (!info.retry || !retryable(error)) return Effect.void
            // not when the deadline ended the attempt: there is nothing left to retry for
            if (!warned && !endedByDeadline && isUnreachable(error)) {
              warned = true
              return Effect.zipRight(
                logFailure(error),
                Effect.flatMap(Clock.currentTimeMillis, (at) => warnUnreachable(error, info, endMs - at))
              )
            }
            return logFailure(error)
          })
        )
      })
      const retried = info.retry ? Effect.retry(once, within(delays(retryable), endMs)) : once
      return Effect.catchAll(
        retried,
        (error) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(withEffort(error, attempts, now - startMs)))
      )
    })

  const retry: CallPolicy["retry"] = (self, deadline) =>
    Effect.flatMap(Clock.currentTimeMillis, (startMs) =>
      Effect.retry(
        Effect.tapError(self, (error) => (isTransient(error) ? logFailure(error) : Effect.void)),
        within(delays(isTransient), startMs + Duration.toMillis(deadline))
      ))

  return { run, retry }
}
