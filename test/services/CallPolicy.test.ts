/**
 * `CallPolicy` on its own, under the TestClock: attempts and their budgets, the deadline, the effort
 * added to a final connection error, and the one warning of a call that finds the backend unreachable.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Logger, Schedule, TestClock } from "effect"
import * as CallPolicy from "../../src/services/CallPolicy.js"
import { ConnectionError, isTransient, ServerError, type SynapseError } from "../../src/services/SynapseError.js"

const policy = CallPolicy.make({
  baseUrl: "https://synapse.test/api/v1",
  schedule: Schedule.spaced("1 second"),
  maxRetryAfter: Duration.seconds(60),
  redact: (text) => text.replaceAll("s3cr3t", "[redacted]")
})

const info = (deadline: Duration.DurationInput, retry = true): CallPolicy.CallInfo => ({
  method: "GET",
  url: "https://synapse.test/api/v1/models/?page=2",
  retry,
  deadline: Duration.decode(deadline)
})

const refused = new ConnectionError({ detail: "the connection was refused (ECONNREFUSED): s3cr3t" })

/** Runs `self` with a logger that keeps every message. */
const logged = <A, E>(self: Effect.Effect<A, E>) => {
  const lines: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push(`${logLevel.label} ${(Array.isArray(message) ? message : [message]).join(" ")}`)
  })
  return { lines, effect: Effect.provide(self, Logger.replace(Logger.defaultLogger, logger)) }
}

describe("CallPolicy.run", () => {
  it.effect("retries on the schedule, each attempt with its own timeout, and succeeds", () =>
    Effect.gen(function*() {
      const budgets: Array<number> = []
      const fiber = yield* Effect.fork(policy.run(info("1 minute"), Duration.seconds(20), isTransient, (budget) => {
        budgets.push(Duration.toMillis(budget.timeout))
        return budgets.length < 3
          ? Effect.fail(new ServerError({ status_code: 503, detail: "busy" }))
          : Effect.succeed(1)
      }))
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.join(fiber)).toBe(1)
      expect(budgets).toStrictEqual([20_000, 20_000, 20_000])
    }))

  it.effect("cuts the last attempt to the deadline and names it in the error", () =>
    Effect.gen(function*() {
      const budgets: Array<number> = []
      const fiber = yield* Effect.fork(Effect.flip(
        policy.run(info("2500 millis"), Duration.seconds(20), isTransient, (budget) => {
          budgets.push(Duration.toMillis(budget.timeout))
          return budgets.length < 3 ? Effect.fail(refused) : Effect.fail(budget.timeoutError())
        })
      ))
      yield* TestClock.adjust("3 seconds")
      expect(yield* Fiber.join(fiber)).toMatchObject({
        _tag: "TimeoutError",
        detail: "no complete answer within the call's deadline of 2.5 s (3 attempts)",
        url: "https://synapse.test/api/v1/models/",
        timeoutMs: 2500
      })
      expect(budgets).toStrictEqual([2500, 1500, 500])
    }))

  it.effect("a final connection error says how long the call tried; one warning, secrets removed", () =>
    Effect.gen(function*() {
      const { effect, lines } = logged(
        Effect.flip(policy.run(info("2500 millis"), Duration.seconds(20), isTransient, () => Effect.fail(refused)))
      )
      const fiber = yield* Effect.fork(effect)
      yield* TestClock.adjust("3 seconds")
      const error = (yield* Fiber.join(fiber)) as SynapseError
      // attempts at 0, 1 and 2 s; a wait to 3 s would end past the deadline
      expect(error).toStrictEqual(
        new ConnectionError({
          detail: "the connection was refused (ECONNREFUSED): s3cr3t; gave up after 3 attempts in 2 s"
        })
      )
      expect(lines.filter((l) => l.startsWith("WARN"))).toStrictEqual([
        "WARN backend https://synapse.test/api/v1 unreachable (the connection was refused (ECONNREFUSED): [redacted]); " +
        "retrying for up to 2.5 s"
      ])
    }))

  it.effect("without retry: one attempt, the error as it is, no warning", () =>
    Effect.gen(function*() {
      const { effect, lines } = logged(
        Effect.flip(policy.run(info("1 minute", false), Duration.seconds(20), isTransient, () => Effect.fail(refused)))
      )
      expect(yield* effect).toStrictEqual(refused)
      expect(lines).toStrictEqual([])
    }))
})

describe("seconds", () => {
  it("whole seconds, or one decimal under 10 s", () => {
    expect(CallPolicy.seconds(Duration.seconds(120))).toBe("120 s")
    expect(CallPolicy.seconds(Duration.millis(2500))).toBe("2.5 s")
    expect(CallPolicy.seconds(Duration.millis(13_240))).toBe("13 s")
  })
})
