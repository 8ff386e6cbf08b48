/**
 * The configuration of `SynapseClient`: its options, their defaults, the environment variables they
 * are read from, and the checks that turn a bad value into an error naming the setting
 * (a `ConfigError` at layer construction, a `ValidationError` for a per-call option) rather than a
 * defect. The retry schedule and the timeouts are described in docs/architecture.md "Retries and
 * timeouts".
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Config, ConfigError, Duration, Either, Option, Redacted, Schedule } from "effect"
import { DEFAULT_PREFETCH, prefetchProblem } from "./Pagination.js"
import { type SynapseError, ValidationError } from "./SynapseError.js"

/** The timeouts of one attempt (docs/wire-protocol.md "Transport"). */
export interface Timeouts {
  /** Time allowed to establish a connection. */
  readonly connect: Duration.Duration
  /** Time allowed to receive a complete answer once connected. */
  readonly read: Duration.Duration
  /** Read timeout of ground-truth listings, whose pages are large. */
  readonly listing: Duration.Duration
}

/** Defaults: connect 5 s, read 15 s, ground-truth listings 60 s. */
export const DEFAULT_TIMEOUTS: Timeouts = {
  connect: Duration.seconds(5),
  read: Duration.seconds(15),
  listing: Duration.seconds(60)
}

/**
 * The default total deadline of one call, every attempt and every wait between them included:
 * 120 s. When a configured per-attempt timeout (connect + read, connect + listing) is longer, the
 * default is that timeout instead, so that raising a timeout alone never cuts its attempt short.
 */
export const DEFAULT_DEADLINE: Duration.Duration = Duration.seconds(120)

/**
 * The default retry schedule: exponential backoff from 250 ms, doubled each time, with jitter,
 * each delay capped at 8 s, at most 6 retries, and no retry started after 60 s in total.
 */
export const defaultRetrySchedule: Schedule.Schedule<unknown, SynapseError> = Schedule.exponential("250 millis", 2)
  .pipe(
    Schedule.jittered,
    // union takes the shorter delay of the two: this caps each wait at 8 s
    Schedule.union(Schedule.spaced("8 seconds")),
    Schedule.intersect(Schedule.recurs(6)),
    Schedule.upTo("60 seconds")
  )

/** Options of `SynapseClient.make` / `layer`. Secrets are `Redacted` so they never print. */
export interface Options {
  /** `https://api.synapse.sh` or a sandbox URL; a trailing `/` is dropped. */
  readonly baseUrl: string | URL
  /** Sent as `Synapse-Access-Token: Token …` (the primary credential). */
  readonly accessToken?: Redacted.Redacted | undefined
  /** Sent as `Authorization: Token …` (legacy backends). */
  readonly authorizationToken?: Redacted.Redacted | undefined
  /** Sent as `Synapse-Tenant: Token …`. */
  readonly tenant?: Redacted.Redacted | undefined
  /** Sent as `SYNAPSE-Agent: Token …`. */
  readonly agentToken?: Redacted.Redacted | undefined
  /** Overrides of `DEFAULT_TIMEOUTS`. */
  readonly timeouts?: {
    readonly connect?: Duration.DurationInput | undefined
    readonly read?: Duration.DurationInput | undefined
    readonly listing?: Duration.DurationInput | undefined
  } | undefined
  /**
   * The total time one call may take, all attempts and the waits between them (default
   * `DEFAULT_DEADLINE`, 120 s). A backend that refuses connections or never answers fails the call
   * within it, with a `ConnectionError` or `TimeoutError` saying how long it tried.
   */
  readonly deadline?: Duration.DurationInput | undefined
  /** The retry schedule for transient failures of safe requests (default `defaultRetrySchedule`). */
  readonly retry?: Schedule.Schedule<unknown, SynapseError> | undefined
  /**
   * A `Retry-After` longer than this is not waited for: the `RateLimitError` is returned instead, so
   * a caller is not silently parked for an hour. Default 60 s.
   */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
  /** The `User-Agent` header (default `synapse-ml/<version>`). */
  readonly userAgent?: string | undefined
  /**
   * Pages a listing stream requests at once once page 1 has given `count` (1..16; default
   * `DEFAULT_PREFETCH`, 8). 1 follows `next` one page at a time. A call's own `prefetch` wins.
   */
  readonly prefetch?: number | undefined
  /**
   * A last transformation of the configured clients (tracing, observing requests, a proxy…). It
   * applies to the file client too, so it must not add credentials: file hosts get none.
   */
  readonly transformClient?: ((client: HttpClient.HttpClient) => HttpClient.HttpClient) | undefined
}

/** Per-request options. */
export interface RequestOptions {
  /**
   * Retry transient failures with the configured policy. Default: yes for GET, HEAD, PUT, DELETE and
   * OPTIONS (safe or idempotent), no for POST and PATCH. Pass `true` for an idempotent POST.
   */
  readonly retry?: boolean | undefined
  /** Time allowed for one attempt, connection and complete answer (default connect + read). */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * Time allowed for the whole call, every attempt included (default the client's `deadline`, or
   * this call's `timeout` when that is longer).
   */
  readonly deadline?: Duration.DurationInput | undefined
}

/** The options of a client with every default applied and every value checked. */
export interface Resolved {
  readonly baseUrl: string
  readonly timeouts: Timeouts
  /** connect + read: one attempt of an ordinary request. */
  readonly attemptTimeout: Duration.Duration
  readonly deadline: Duration.Duration
  readonly prefetch: number
  readonly schedule: Schedule.Schedule<unknown, SynapseError>
  readonly maxRetryAfter: Duration.Duration
}

/**
 * A duration option as a positive `Duration`: a `Duration`, a number of milliseconds, or an Effect
 * duration string (`"30 seconds"`, `"500 millis"`). `None` for anything else (`"soon"`, `-1`, `NaN`).
 */
export const parseDuration = (value: unknown): Option.Option<Duration.Duration> => {
  if (typeof value === "number" && !Number.isFinite(value)) return Option.none()
  let decoded: Option.Option<Duration.Duration>
  try {
    decoded = Duration.decodeUnknown(value)
  } catch {
    return Option.none()
  }
  return Option.filter(decoded, (d) => Duration.toMillis(d) > 0)
}

const durationProblem = (value: unknown) =>
  `must be a positive duration such as "30 seconds" or a number of milliseconds, got ${
    typeof value === "string" || typeof value === "number" ? JSON.stringify(value) : typeof value
  }`

/**
 * A per-call duration option (`timeout`, `deadline`), checked: absent stays absent, a bad value is
 * a `ValidationError` naming the option.
 */
export const validateDuration = (
  name: string,
  value: Duration.DurationInput | undefined
): Either.Either<Duration.Duration | undefined, ValidationError> => {
  if (value === undefined) return Either.right(undefined)
  return Option.match(parseDuration(value), {
    onNone: () => {
      const problem = durationProblem(value)
      return Either.left(
        new ValidationError({ detail: `${name} ${problem}`, field: name, fieldErrors: { [name]: [problem] } })
      )
    },
    onSome: Either.right
  })
}

/** A duration setting of `make`, checked: a bad value is a `ConfigError` naming the option. */
const configDuration = (
  name: string,
  value: Duration.DurationInput | undefined,
  fallback: Duration.Duration
): Either.Either<Duration.Duration, ConfigError.ConfigError> =>
  value === undefined
    ? Either.right(fallback)
    : Option.match(parseDuration(value), {
      onNone: () => Either.left(ConfigError.InvalidData([name], `${name} ${durationProblem(value)}`)),
      onSome: Either.right
    })

/**
 * Checks a base URL: an absolute http(s) URL, trailing `/` dropped. Fails with a message naming
 * the setting (`name`), so a typo in the environment is reported at layer construction.
 */
export const parseBaseUrl = (value: string | URL, name: string): Either.Either<string, ConfigError.ConfigError> => {
  const raw = String(value).trim()
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return Either.left(
      ConfigError.InvalidData(
        [name],
        `${name} must be an absolute http(s) URL such as https://api.synapse.sh, got ${
          JSON.stringify(raw.slice(0, 100))
        }`
      )
    )
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return Either.left(
      ConfigError.InvalidData([name], `${name} must use http or https, got ${JSON.stringify(url.protocol)}`)
    )
  }
  if (url.search !== "" || url.hash !== "") {
    return Either.left(ConfigError.InvalidData([name], `${name} must not contain a query or fragment`))
  }
  if (url.username !== "" || url.password !== "") {
    return Either.left(
      ConfigError.InvalidData([name], `${name} must not contain credentials: use SYNAPSE_ACCESS_TOKEN`)
    )
  }
  return Either.right(url.toString().replace(/\/+$/, ""))
}

/** `options` with every default applied, or a `ConfigError` naming the first unusable option. */
export const resolve = (options: Options): Either.Either<Resolved, ConfigError.ConfigError> =>
  Either.gen(function*() {
    const baseUrl = yield* parseBaseUrl(options.baseUrl, "baseUrl")
    const timeouts: Timeouts = {
      connect: yield* configDuration("timeouts.connect", options.timeouts?.connect, DEFAULT_TIMEOUTS.connect),
      read: yield* configDuration("timeouts.read", options.timeouts?.read, DEFAULT_TIMEOUTS.read),
      listing: yield* configDuration("timeouts.listing", options.timeouts?.listing, DEFAULT_TIMEOUTS.listing)
    }
    const attemptTimeout = Duration.sum(timeouts.connect, timeouts.read)
    const longestAttempt = Duration.max(attemptTimeout, Duration.sum(timeouts.connect, timeouts.listing))
    const deadline = yield* configDuration("deadline", options.deadline, Duration.max(DEFAULT_DEADLINE, longestAttempt))
    const prefetch = options.prefetch ?? DEFAULT_PREFETCH
    const prefetchIssue = prefetchProblem(prefetch)
    if (prefetchIssue !== undefined) {
      return yield* Either.left(ConfigError.InvalidData(["prefetch"], `prefetch ${prefetchIssue}`))
    }
    const maxRetryAfter = yield* configDuration("maxRetryAfter", options.maxRetryAfter, Duration.seconds(60))
    return {
      baseUrl,
      timeouts,
      attemptTimeout,
      deadline,
      prefetch,
      schedule: options.retry ?? defaultRetrySchedule,
      maxRetryAfter
    }
  })

const optionalSecret = (name: string) =>
  Config.redacted(name).pipe(
    Config.option,
    Config.map(Option.filter((r) => String(Redacted.value(r)).trim() !== "")),
    Config.map(Option.getOrUndefined)
  )

/** A duration variable: plain seconds (`30`, `2.5`) or an Effect duration (`30 seconds`, `500 millis`). */
const optionalDuration = (name: string) =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const text = raw.trim()
      if (/^\d+(\.\d+)?$/.test(text) && Number(text) > 0) return Either.right(Duration.seconds(Number(text)))
      return Option.match(parseDuration(text), {
        onNone: () =>
          Either.left(
            ConfigError.InvalidData(
              [],
              `${name} must be a number of seconds (e.g. 30) or a duration such as "30 seconds", got ${
                JSON.stringify(text)
              }`
            )
          ),
        onSome: Either.right
      })
    }),
    Config.option,
    Config.map(Option.getOrUndefined)
  )

/** `SYNAPSE_PREFETCH`: an integer 1..16, blank or absent for the default. */
const optionalPrefetch = (name: string) =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const text = raw.trim()
      if (text === "") return Either.right(undefined)
      const value = /^[+-]?\d+$/.test(text) ? Number(text) : text
      const problem = prefetchProblem(value)
      return problem === undefined
        ? Either.right(value as number)
        : Either.left(ConfigError.InvalidData([], `${name} ${problem}`))
    }),
    Config.option,
    Config.map((value) => Option.getOrUndefined(value))
  )

/**
 * The options read from the environment: `SYNAPSE_BASE_URL` (required), `SYNAPSE_ACCESS_TOKEN`,
 * `SYNAPSE_AUTHORIZATION_TOKEN`, `SYNAPSE_TENANT`, `SYNAPSE_AGENT_TOKEN`,
 * `SYNAPSE_TIMEOUT_CONNECT`, `SYNAPSE_TIMEOUT_READ`, `SYNAPSE_TIMEOUT_LISTING`, `SYNAPSE_DEADLINE`
 * (seconds or a duration), `SYNAPSE_USER_AGENT`, `SYNAPSE_PREFETCH` (pages a listing stream
 * requests at once, 1..16; 1 follows `next`).
 */
export const optionsConfig: Config.Config<Options> = Config.all({
  baseUrl: Config.string("SYNAPSE_BASE_URL").pipe(
    Config.mapOrFail((raw) => parseBaseUrl(raw, "SYNAPSE_BASE_URL"))
  ),
  accessToken: optionalSecret("SYNAPSE_ACCESS_TOKEN"),
  authorizationToken: optionalSecret("SYNAPSE_AUTHORIZATION_TOKEN"),
  tenant: optionalSecret("SYNAPSE_TENANT"),
  agentToken: optionalSecret("SYNAPSE_AGENT_TOKEN"),
  connect: optionalDuration("SYNAPSE_TIMEOUT_CONNECT"),
  read: optionalDuration("SYNAPSE_TIMEOUT_READ"),
  listing: optionalDuration("SYNAPSE_TIMEOUT_LISTING"),
  deadline: optionalDuration("SYNAPSE_DEADLINE"),
  userAgent: Config.string("SYNAPSE_USER_AGENT").pipe(Config.option, Config.map(Option.getOrUndefined)),
  prefetch: optionalPrefetch("SYNAPSE_PREFETCH")
}).pipe(
  Config.map(({ connect, deadline, listing, prefetch, read, ...rest }): Options => ({
    ...rest,
    timeouts: { connect, read, listing },
    ...(deadline !== undefined ? { deadline } : {}),
    ...(prefetch !== undefined ? { prefetch } : {})
  }))
)
