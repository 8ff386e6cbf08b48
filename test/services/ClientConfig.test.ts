/**
 * `ClientConfig`: the defaults, the deadline's default and its settings, and every bad value a
 * `ConfigError` (layer options, environment) or a `ValidationError` (per-call options) naming it.
 */
import { ConfigError, ConfigProvider, Duration, Effect, Either, Option } from "effect"
import { describe, expect, it } from "vitest"
import {
  DEFAULT_DEADLINE,
  optionsConfig,
  parseDuration,
  resolve,
  validateDuration
} from "../../src/services/ClientConfig.js"
import { ValidationError } from "../../src/services/SynapseError.js"

const BASE = "https://synapse.test/api/v1"

const millis = (d: Duration.Duration) => Duration.toMillis(d)

describe("resolve", () => {
  it("applies the defaults: 5 s + 15 s per attempt, a deadline of 120 s, prefetch 8", () => {
    const resolved = Either.getOrThrow(resolve({ baseUrl: `${BASE}/` }))
    expect(resolved.baseUrl).toBe(BASE)
    expect(millis(resolved.attemptTimeout)).toBe(20_000)
    expect(millis(resolved.deadline)).toBe(120_000)
    expect(millis(DEFAULT_DEADLINE)).toBe(120_000)
    expect(resolved.prefetch).toBe(8)
    expect(millis(resolved.maxRetryAfter)).toBe(60_000)
  })

  it("a longer attempt timeout raises the default deadline to it; an explicit deadline is kept", () => {
    const raised = Either.getOrThrow(resolve({ baseUrl: BASE, timeouts: { listing: "300 seconds" } }))
    expect(millis(raised.deadline)).toBe(305_000)
    const explicit = Either.getOrThrow(
      resolve({ baseUrl: BASE, timeouts: { listing: "300 seconds" }, deadline: "30 seconds" })
    )
    expect(millis(explicit.deadline)).toBe(30_000)
  })

  for (
    const [name, options, path] of [
      ["a deadline that is not a duration", { deadline: "soon" }, "deadline"],
      ["a negative read timeout", { timeouts: { read: -5 } }, "timeouts.read"],
      ["a NaN connect timeout", { timeouts: { connect: Number.NaN } }, "timeouts.connect"],
      ["a prefetch of 0", { prefetch: 0 }, "prefetch"],
      ["a maxRetryAfter of \"later\"", { maxRetryAfter: "later" }, "maxRetryAfter"]
    ] as const
  ) {
    it(`${name} is a ConfigError naming ${path}`, () => {
      const error = Either.getLeft(resolve({ baseUrl: BASE, ...(options as object) }))
      expect(Option.isSome(error)).toBe(true)
      const value = Option.getOrThrow(error)
      expect(ConfigError.isConfigError(value)).toBe(true)
      expect(value._op).toBe("InvalidData")
      expect(value._op === "InvalidData" && value.path).toStrictEqual([path])
    })
  }
})

describe("parseDuration / validateDuration", () => {
  it("accepts Durations, milliseconds and Effect duration strings; nothing else", () => {
    expect(Option.map(parseDuration("30 seconds"), millis)).toStrictEqual(Option.some(30_000))
    expect(Option.map(parseDuration(1500), millis)).toStrictEqual(Option.some(1500))
    expect(Option.map(parseDuration(Duration.minutes(2)), millis)).toStrictEqual(Option.some(120_000))
    for (const bad of ["soon", "", -1, 0, Number.NaN, Number.POSITIVE_INFINITY, {}, null, true]) {
      expect(parseDuration(bad)).toStrictEqual(Option.none())
    }
  })

  it("a bad per-call value is a ValidationError naming the option", () => {
    expect(Either.getLeft(validateDuration("timeout", "soon" as Duration.DurationInput))).toStrictEqual(
      Option.some(
        new ValidationError({
          detail:
            "timeout must be a positive duration such as \"30 seconds\" or a number of milliseconds, got \"soon\"",
          field: "timeout",
          fieldErrors: {
            timeout: ["must be a positive duration such as \"30 seconds\" or a number of milliseconds, got \"soon\""]
          }
        })
      )
    )
    expect(validateDuration("deadline", undefined)).toStrictEqual(Either.right(undefined))
  })
})

describe("optionsConfig (the environment)", () => {
  const read = (env: Record<string, string>) =>
    Effect.runSync(
      Effect.either(optionsConfig).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries({ SYNAPSE_BASE_URL: BASE, ...env }))))
      )
    )

  it("SYNAPSE_DEADLINE is seconds or a duration; absent leaves the default", () => {
    const seconds = Either.getOrThrow(read({ SYNAPSE_DEADLINE: "45" }))
    expect(seconds.deadline).toStrictEqual(Duration.seconds(45))
    const words = Either.getOrThrow(read({ SYNAPSE_DEADLINE: "2 minutes" }))
    expect(millis(Duration.decode(words.deadline!))).toBe(120_000)
    expect(Either.getOrThrow(read({})).deadline).toBeUndefined()
  })

  for (const bad of ["soon", "0", "-3"]) {
    it(`SYNAPSE_DEADLINE=${bad} is refused, naming the variable`, () => {
      const error = read({ SYNAPSE_DEADLINE: bad })
      expect(Either.isLeft(error)).toBe(true)
      expect(String(Either.isLeft(error) && error.left)).toContain("SYNAPSE_DEADLINE must be a number of seconds")
    })
  }
})
