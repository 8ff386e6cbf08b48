/**
 * Test helper: the `synapse-ml` command as end-to-end tests spawn it. The built command when it is
 * up to date (`npm test` builds first), else the sources through tsx, so a test never runs a stale
 * build against newer sources.
 *
 *   const result = await runCli(["export", "--dataset-version", "303"], { SYNAPSE_BASE_URL: url })
 *   expect(result.code).toBe(0)
 *
 * `runNode` runs any other script the same way (`["--import", "tsx", "examples/…"]`). A
 * long-running command (a server) starts with `startCli`, which resolves once its output matches
 * a pattern; `stop()` ends it with SIGTERM and waits for its exit.
 *
 *   const server = await startCli(["sandbox", "--port", "0"], {}, /listening on (\S+)/)
 *   const origin = server.match[1]
 *   await server.stop()
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

/** The repository root, the working directory of every spawned command. */
export const repoRoot = Path.resolve(import.meta.dirname, "../..")

const newestSource = (dir: string): number =>
  Fs.readdirSync(dir, { withFileTypes: true }).reduce(
    (newest, entry) =>
      Math.max(
        newest,
        entry.isDirectory() ? newestSource(Path.join(dir, entry.name)) : Fs.statSync(Path.join(dir, entry.name)).mtimeMs
      ),
    0
  )

const built = Path.join(repoRoot, "dist/cli/main.js")

/** Whether `dist` is built and no source is newer than it. */
export const buildIsFresh: boolean = Fs.existsSync(built) &&
  Fs.statSync(built).mtimeMs >= newestSource(Path.join(repoRoot, "src"))

/** The node arguments that start the command: the build if no source is newer, else tsx on the sources. */
export const cliEntry: ReadonlyArray<string> = buildIsFresh ? [built] : ["--import", "tsx", "src/cli/main.ts"]

/** A finished command: its exit code and everything it wrote. */
export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `command <args>` in the repository root to completion, with exactly the environment `env`. */
export const runProcess = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<CliResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.on("error", reject)
    // "close", not "exit": only then are stdout and stderr read to their end.
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

/** Runs `node <args>` in the repository root to completion, with exactly the environment `env`. */
export const runNode = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<CliResult> =>
  runProcess(process.execPath, args, env)

/** Runs the command to completion with `env` added to this process's environment. */
export const runCli = (args: ReadonlyArray<string>, env: Record<string, string>): Promise<CliResult> =>
  runNode([...cliEntry, ...args], { ...process.env, ...env })

/** A command started by `startCli`, still running. */
export interface RunningCli {
  readonly child: ChildProcess
  /** The match of the pattern `startCli` waited for. */
  readonly match: RegExpMatchArray
  /** Everything written so far, stdout and stderr interleaved. */
  readonly output: () => string
  /** Sends SIGTERM and resolves with the exit code once the process has exited. */
  readonly stop: () => Promise<number | null>
}

/**
 * Starts `synapse-ml <args>` with `env` added to this process's environment and resolves once its
 * stdout or stderr matches `ready`. Rejects with everything it wrote when it exits first or after
 * `timeoutMs`.
 */
export const startCli = (
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = 30_000
): Promise<RunningCli> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cliEntry, ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    let settled = false
    const exited = new Promise<number | null>((done) => child.on("close", (code) => done(code)))
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
      return exited
    }
    const fail = (why: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      void stop().then(() => reject(new Error(`synapse-ml ${args.join(" ")}: ${why}\n${output}`)))
    }
    const timer = setTimeout(() => fail(`no output matching ${ready} within ${timeoutMs} ms`), timeoutMs)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = output.match(ready)
      if (match !== null && !settled) {
        settled = true
        clearTimeout(timer)
        resolve({ child, match, output: () => output, stop })
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    void exited.then((code) => fail(`exited with ${code} before its output matched ${ready}`))
  })
