/**
 * Fault injection for the sandbox: a seeded, deterministic source of the failures a real Synapse
 * deployment (and the proxies in front of it) produce, so that tests can prove the SDK survives
 * them. The spec is a comma-separated list of `key=value` pairs:
 *
 * | key | value | effect |
 * |---|---|---|
 * | `status5xx` | rate 0..1 | answer 500, 502 or 503 (equally likely) without performing the request |
 * | `status429` | rate 0..1 | answer 429 with `Retry-After` without performing the request |
 * | `retryAfter` | seconds (default 1) | the `Retry-After` value of injected 429s |
 * | `reset` | rate 0..1 | perform the request, send the headers and half the body, then reset the connection |
 * | `truncate` | rate 0..1 | perform the request, answer with the body cut in half (consistent `Content-Length`) |
 * | `loseResponse` | rate 0..1 | perform the request (e.g. create the model), then destroy the socket before any byte |
 * | `latency` | milliseconds | added before every matching request |
 * | `slowFiles` | bytes per second | throttle `/media/…` downloads (applies to every download) |
 * | `paths` | `a|b|c` | only requests whose path contains one of these substrings are affected |
 *
 * Example: `status5xx=0.2,status429=0.05,reset=0.05,latency=20,truncate=0.02,slowFiles=65536,loseResponse=0.1,paths=chunked_upload|models`.
 * One uniform draw per matching request picks at most one of the rate faults (their rates add
 * up, so they must sum to at most 1), from a PRNG seeded with the sandbox's `randSeed`: the same
 * sequence of requests meets the same faults. `/_sandbox/…` paths are never affected.
 */

/** A parsed fault spec. Rates are probabilities in [0, 1]. */
export interface FaultSpec {
  readonly status5xx: number
  readonly status429: number
  readonly retryAfter: number
  readonly reset: number
  readonly truncate: number
  readonly loseResponse: number
  readonly latency: number
  readonly slowFiles: number
  readonly paths: ReadonlyArray<string>
}

/** The spec with no faults at all. */
export const NO_FAULTS: FaultSpec = {
  status5xx: 0,
  status429: 0,
  retryAfter: 1,
  reset: 0,
  truncate: 0,
  loseResponse: 0,
  latency: 0,
  slowFiles: 0,
  paths: []
}

/** The kinds of fault a single request can meet. */
export type FaultKind = "status5xx" | "status429" | "reset" | "truncate" | "loseResponse"

const RATE_KEYS = ["status5xx", "status429", "reset", "truncate", "loseResponse"] as const
const NUMBER_KEYS = ["retryAfter", "latency", "slowFiles"] as const

/** A spec string that cannot be parsed; `message` says which part and why. */
export class FaultSpecError extends Error {
  override readonly name = "FaultSpecError"
}

/**
 * Parses a spec string (see the module comment). An empty or blank string means no faults.
 * Throws `FaultSpecError` naming the offending entry, since a misspelled fault silently doing
 * nothing would make a resilience test pass for the wrong reason.
 */
export const parseFaultSpec = (spec: string | undefined): FaultSpec => {
  const out: { -readonly [K in keyof FaultSpec]: FaultSpec[K] } = { ...NO_FAULTS, paths: [] }
  if (spec === undefined || spec.trim() === "") return out
  for (const raw of spec.split(",")) {
    const entry = raw.trim()
    if (entry === "") continue
    const eq = entry.indexOf("=")
    if (eq <= 0) throw new FaultSpecError(`fault entry "${entry}" is not key=value`)
    const key = entry.slice(0, eq).trim()
    const value = entry.slice(eq + 1).trim()
    if (key === "paths") {
      out.paths = value.split("|").map((p) => p.trim()).filter((p) => p !== "")
      continue
    }
    const n = Number(value)
    if (value === "" || !Number.isFinite(n) || n < 0) {
      throw new FaultSpecError(`fault "${key}" needs a non-negative number, got "${value}"`)
    }
    if ((RATE_KEYS as ReadonlyArray<string>).includes(key)) {
      if (n > 1) throw new FaultSpecError(`fault rate "${key}" must be between 0 and 1, got ${value}`)
      out[key as (typeof RATE_KEYS)[number]] = n
    } else if ((NUMBER_KEYS as ReadonlyArray<string>).includes(key)) {
      out[key as (typeof NUMBER_KEYS)[number]] = n
    } else {
      throw new FaultSpecError(
        `unknown fault "${key}" (known: ${[...RATE_KEYS, ...NUMBER_KEYS, "paths"].join(", ")})`
      )
    }
  }
  const total = RATE_KEYS.reduce((sum, k) => sum + out[k], 0)
  if (total > 1 + 1e-9) throw new FaultSpecError(`fault rates add up to ${total}, more than 1`)
  return out
}

/** Renders a spec back into its string form (what `/_sandbox/faults` answers). */
export const formatFaultSpec = (spec: FaultSpec): string => {
  const parts: Array<string> = []
  for (const key of [...RATE_KEYS, ...NUMBER_KEYS]) {
    if (spec[key] !== NO_FAULTS[key]) parts.push(`${key}=${spec[key]}`)
  }
  if (spec.paths.length > 0) parts.push(`paths=${spec.paths.join("|")}`)
  return parts.join(",")
}

/**
 * mulberry32: a tiny, fast 32-bit PRNG. Quality is ample for fault draws and, unlike
 * `Math.random`, it is seedable, which makes fault sequences reproducible.
 */
export const makeRandom = (seed: number): () => number => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** What the injector decided for one request. */
export interface FaultDecision {
  readonly latency: number
  readonly kind: FaultKind | undefined
  /** For `status5xx`: which status. */
  readonly status: number
}

/**
 * The live fault state of one sandbox: the current spec (replaceable at runtime through
 * `PUT /_sandbox/faults`) and the PRNG, re-seeded whenever the spec is replaced so that a test
 * toggling faults sees the same sequence on every run.
 */
export class FaultInjector {
  private spec: FaultSpec
  private random: () => number
  private readonly counts: Record<FaultKind, number> = {
    status5xx: 0,
    status429: 0,
    reset: 0,
    truncate: 0,
    loseResponse: 0
  }

  constructor(spec: FaultSpec, private seed: number) {
    this.spec = spec
    this.random = makeRandom(seed)
  }

  /** The spec in force. */
  get current(): FaultSpec {
    return this.spec
  }

  /** How many faults of each kind were injected so far. */
  get injected(): Readonly<Record<FaultKind, number>> {
    return { ...this.counts }
  }

  /** Replaces the spec (and optionally the seed) and restarts the PRNG. */
  replace(spec: FaultSpec, seed?: number): void {
    this.spec = spec
    if (seed !== undefined) this.seed = seed
    this.random = makeRandom(this.seed)
  }

  /** Whether a request path is subject to faults. */
  applies(path: string): boolean {
    if (path.startsWith("/_sandbox/")) return false
    return this.spec.paths.length === 0 || this.spec.paths.some((p) => path.includes(p))
  }

  /** Decides the fate of one request to `path`; draws from the PRNG only when a rate is set. */
  decide(path: string): FaultDecision {
    const spec = this.spec
    if (!this.applies(path)) return { latency: 0, kind: undefined, status: 0 }
    let kind: FaultKind | undefined
    let status = 0
    const rateSum = RATE_KEYS.reduce((sum, k) => sum + spec[k], 0)
    if (rateSum > 0) {
      const r = this.random()
      let acc = 0
      for (const key of RATE_KEYS) {
        acc += spec[key]
        if (r < acc) {
          kind = key
          break
        }
      }
      if (kind === "status5xx") status = [500, 502, 503][Math.floor(this.random() * 3)] ?? 500
      if (kind !== undefined) this.counts[kind]++
    }
    return { latency: spec.latency, kind, status }
  }
}
