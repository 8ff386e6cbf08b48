// Starting and stopping the sandbox as the built `synapse-ml sandbox` command in a child process,
// shared by the benchmarks that load it from their own process (not a benchmark itself: the runner
// only picks *.bench.mjs). Run `npm run build` first: it spawns dist/cli/main.js.
import { spawn } from "node:child_process"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))

/**
 * Starts a sandbox seeded with `events` `large` events on an ephemeral port. Its data directory is
 * kept in the OS temp dir, named by the event count, so later runs (and other benchmarks of the
 * same size) reuse the seeded database instead of seeding again. Resolves once the sandbox has
 * printed its base URL and access token on stderr, with the seconds that took. `pageThreads` limits
 * the threads serving event pages (`--page-threads`; default the sandbox's own).
 */
export const startLargeSandbox = async (events, { pageThreads } = {}) => {
  const dataDir = path.join(os.tmpdir(), `synapse-ml-bench-large-${events}`)
  const child = spawn(
    process.execPath,
    [
      path.join(root, "dist/cli/main.js"),
      "sandbox",
      "--seed",
      "large",
      "--events",
      String(events),
      "--port",
      "0",
      "--data-dir",
      dataDir,
      ...(pageThreads === undefined ? [] : ["--page-threads", String(pageThreads)])
    ],
    { stdio: ["ignore", "ignore", "pipe"] }
  )
  const started = Date.now()
  const { url, token } = await new Promise((resolve, reject) => {
    let err = ""
    child.stderr.on("data", (chunk) => {
      err += chunk
      const base = /SYNAPSE_BASE_URL=(\S+)/.exec(err)
      const tok = /SYNAPSE_ACCESS_TOKEN=(\S+)/.exec(err)
      if (base && tok) resolve({ url: base[1], token: tok[1] })
    })
    child.on("exit", (code) => reject(new Error(`sandbox exited with ${code}:\n${err}`)))
  })
  return { url, token, child, dataDir, seconds: ((Date.now() - started) / 1000).toFixed(1) }
}

/** Stops a sandbox started by `startLargeSandbox` and waits until its process has gone. */
export const stopSandbox = async (child) => {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once("exit", resolve))
  child.kill("SIGTERM")
  await exited
}
