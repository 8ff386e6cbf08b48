/**
 * Logging for every executable: Effect's default logger writes to stdout, which would corrupt the
 * MCP stdio protocol, so all logs go to stderr. Libraries log through Effect; executables (and the
 * sandbox's request handling, which runs inside them) provide this layer. Part of the platform
 * layer, which every other layer may use.
 */
import { Logger } from "effect"

/** Replaces the default logger with one that writes logfmt lines to stderr. */
export const stderrLoggerLayer = Logger.replace(
  Logger.defaultLogger,
  Logger.withConsoleError(Logger.logfmtLogger)
)
