/**
 * Configuration from a record of variables: a child process's environment, a test's, a caller's
 * `env` option. Configuration is read through Effect `Config`, whose provider is normally the
 * process environment; this gives the same reading over any other record.
 */
import { ConfigProvider } from "effect"

/** A `ConfigProvider` over a record of variables; unset entries are left out. */
export const providerOf = (env: Record<string, string | undefined>): ConfigProvider.ConfigProvider =>
  ConfigProvider.fromMap(
    new Map(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined))
  )
