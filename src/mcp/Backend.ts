/**
 * Which Synapse backend the server talks to. Tools report it (`get_context`) because a model must
 * know whether it is looking at real data or at the sandbox's demo data before acting on either.
 */
import { Context, Layer } from "effect"

/** A description of the backend in use. */
export interface BackendInfo {
  /** The API base URL (never with credentials). */
  readonly baseUrl: string
  /** True when the backend is the local sandbox started by this process. */
  readonly sandbox: boolean
  /** One sentence for people and models: what this backend is. */
  readonly description: string
}

/** The backend description as a service. */
export class Backend extends Context.Tag("synapse-ml/McpBackend")<Backend, BackendInfo>() {}

/** Provides a fixed description. */
export const layer = (info: BackendInfo): Layer.Layer<Backend> => Layer.succeed(Backend, info)
