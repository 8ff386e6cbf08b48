/**
 * Listening ports of the long-running commands (`start`, `mcp --http`, `sandbox`). A server whose
 * port was not chosen by the user moves to a free port when its default is taken (another server
 * of this package, or any other program), and says so; a port the user chose is used as given,
 * and when it is taken the refusal names the flag that picks another. The commands never share a
 * default: the MCP server's is 3333, the sandbox command's 8765, and the sandbox that `start`
 * embeds takes any free port.
 */
import { Effect } from "effect"
import * as Net from "node:net"

/** A port to listen on, and whether the default had to be given up for it. */
export interface PortChoice {
  /** The port to bind; 0 asks the system for any free one. */
  readonly port: number
  /** The default port found taken, when the choice moved away from it. */
  readonly displaced: number | undefined
}

/**
 * Whether `port` on `host` is held by another socket right now. Only `EADDRINUSE` counts: any other
 * failure (an unknown interface, a privileged port) is left for the real bind to report.
 */
export const isPortTaken = Effect.fn("Ports.isPortTaken")(function*(port: number, host: string) {
  return yield* Effect.async<boolean>((resume) => {
    const probe = Net.createServer()
    probe.once("error", (error: NodeJS.ErrnoException) => resume(Effect.succeed(error.code === "EADDRINUSE")))
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resume(Effect.succeed(false))))
  })
})

/**
 * The port to listen on: `requested` when the user gave one, else `defaultPort` when it is free,
 * else any free port (reported as `displaced`).
 */
export const choosePort = Effect.fn("Ports.choosePort")(function*(
  requested: number | undefined,
  defaultPort: number,
  host: string
) {
  if (requested !== undefined) return { port: requested, displaced: undefined } satisfies PortChoice
  return (yield* isPortTaken(defaultPort, host))
    ? { port: 0, displaced: defaultPort } satisfies PortChoice
    : { port: defaultPort, displaced: undefined } satisfies PortChoice
})

/** The line saying a server moved off its taken default port, or nothing when it did not move. */
export const displacedNote = (choice: PortChoice, actualPort: number, flag: string): ReadonlyArray<string> =>
  choice.displaced === undefined
    ? []
    : [`port ${choice.displaced} is in use, so this server listens on ${actualPort} (choose one with ${flag} N)`]

/** Whether a failure (a Node error, or a message carrying one) is a port already in use. */
export const isAddressInUse = (error: unknown): boolean =>
  (typeof error === "object" && error !== null && (error as { code?: unknown }).code === "EADDRINUSE") ||
  /EADDRINUSE/.test(error instanceof Error ? error.message : String(error))

/** The refusal for a port the user chose that another program holds. */
export const addressInUseMessage = (port: number | string, host: string, flag: string): string =>
  `port ${port} on ${host} is in use by another program: choose another with ${flag} N, or ${flag} 0 for any free port`
