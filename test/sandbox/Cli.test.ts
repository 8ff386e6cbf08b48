/**
 * `synapse-ml sandbox` as a user runs it: a spawned process that reports its URL and token on
 * stderr (nothing on stdout), serves a DRF page whose `next` works, applies `--faults`, serves the
 * profile `--profile` names, stops cleanly on SIGTERM, and refuses bad options in one line. The
 * embedded sandbox of the one-shot commands and of `start` takes its profile the same way. (Few
 * spawns: each costs seconds.)
 */
import { describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { startSandbox } from "../../src/sandbox/Sandbox.js"
import { cliEntry, repoRoot, runCli } from "../support/cli.js"
import { call } from "../support/http.js"

interface Running {
  readonly child: ChildProcess
  readonly url: string
  readonly token: string
  stdout: string
  stderr: string
}

const startCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<Running> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cliEntry, "sandbox", ...args], {
      cwd: repoRoot,
      env: {
        ...process.env,
        SYNAPSE_SANDBOX_FAULTS: "",
        SYNAPSE_SANDBOX_TOKEN: "",
        SYNAPSE_SANDBOX_PROFILE: "",
        ...env
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const running = { child, url: "", token: "", stdout: "", stderr: "" }
    child.stdout.on("data", (d) => (running.stdout += d))
    child.stderr.on("data", (d) => {
      running.stderr += d
      const url = /SYNAPSE_BASE_URL=(\S+)/.exec(running.stderr)
      const token = /SYNAPSE_ACCESS_TOKEN=(\S+)/.exec(running.stderr)
      if (url && token && running.url === "") resolve(Object.assign(running, { url: url[1]!, token: token[1]! }))
    })
    child.on("exit", (code) => reject(new Error(`exited with ${code} before listening:\n${running.stderr}`)))
  })

const exitOf = (child: ChildProcess): Promise<number | null> =>
  new Promise((
    resolve
  ) => (child.exitCode !== null ? resolve(child.exitCode) : child.once("exit", (code) => resolve(code))))

describe("synapse-ml sandbox", () => {
  it("prints URL and token on stderr, serves pages whose next works, applies --faults, stops on SIGTERM", async () => {
    const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-cli-"))
    const running = await startCli([
      "--port",
      "0",
      "--seed",
      "none",
      "--data-dir",
      dataDir,
      "--token",
      "cli-token",
      "--faults",
      "status429=1,retryAfter=7,paths=ground_truth_dataset_versions"
    ])
    try {
      expect(running.token).toBe("cli-token")
      expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1$/)
      expect(running.stderr).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+ \(profile rich\)\n/)
      const headers = { "Synapse-Access-Token": `Token ${running.token}` }
      for (let i = 0; i < 3; i++) {
        const created = await call(`${running.url}/models/`, {
          method: "POST",
          headers: { ...headers, "content-type": "application/json" },
          body: JSON.stringify({ name: `cli ${i}`, model_type: "detection", project: 1 })
        })
        expect(created.status).toBe(201)
      }
      const first = await call(`${running.url}/models/?page_size=2`, { headers })
      expect(first.body.count).toBe(3)
      const second = await call(first.body.next, { headers })
      expect(second.status).toBe(200)
      expect(second.body.results.length).toBe(1)
      const throttled = await call(`${running.url}/ground_truth_dataset_versions/`, { headers })
      expect(throttled.status).toBe(429)
      expect(throttled.headers.get("retry-after")).toBe("7")
      running.child.kill("SIGTERM")
      expect(await exitOf(running.child)).toBe(0)
      expect(running.stderr).toContain("stopped")
      expect(running.stdout).toBe("")
    } finally {
      running.child.kill("SIGKILL")
      Fs.rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it("refuses a bad fault spec with one line naming it and exit status 2", async () => {
    await expect(
      startCli([
        "--port",
        "0",
        "--seed",
        "none",
        "--faults",
        "boom=1",
        "--data-dir",
        Path.join(Os.tmpdir(), `synapse-ml-cli-bad-${process.pid}`)
      ])
    ).rejects.toThrow(
      /^exited with 2 before listening:\nsynapse-ml sandbox: bad fault spec: unknown fault "boom" \(known: [^\n]*\)\n$/
    )
  })

  it("refuses out-of-range numeric options in one line before touching the data directory", async () => {
    const dataDir = Path.join(Os.tmpdir(), `synapse-ml-never-${process.pid}`)
    for (
      const [options, message] of [
        [{ port: 70000 }, "port must be a whole number from 0 to 65535, got 70000"],
        [{ port: -1 }, "port must be a whole number from 0 to 65535, got -1"],
        [{ events: -5 }, "events must be a whole number from 1"],
        [{ maxUploadBytes: -1 }, "max upload bytes must be a whole number from 0"],
        [{ pageThreads: 0 }, "page threads must be a whole number from 1 to 16, got 0"],
        [{ pageThreads: 17 }, "page threads must be a whole number from 1 to 16, got 17"],
        [{ pageThreads: 1.5 }, "page threads must be a whole number from 1 to 16, got 1.5"],
        // Node's recursive mkdir never returns there: the sandbox must say why instead of hanging
        ...(Fs.existsSync("/proc/self")
          ? [
            [
              { dataDir: "/proc/synapse-ml-sandbox" },
              "cannot prepare the data directory: ENOENT: no such file or directory, mkdir '/proc/synapse-ml-sandbox'"
            ] as const
          ]
          : [])
      ] as const
    ) {
      await expect(startSandbox({ seed: "none", dataDir, ...options })).rejects.toThrow(message)
    }
    expect(Fs.existsSync(dataDir)).toBe(false)
  })

  it("refuses --page-threads out of range on the command line with exit status 2", async () => {
    await expect(
      startCli([
        "--port",
        "0",
        "--seed",
        "none",
        "--page-threads",
        "0",
        "--data-dir",
        Path.join(Os.tmpdir(), `synapse-ml-cli-threads-${process.pid}`)
      ])
    ).rejects.toThrow(
      /^exited with 2 before listening:\nsynapse-ml sandbox: page threads must be a whole number from 1 to 16, got 0\n$/
    )
  })

  it("serves the evidence profile with --profile evidence and says so in its banner", async () => {
    const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-cli-evidence-"))
    // The option wins over the environment.
    const running = await startCli(["--port", "0", "--seed", "none", "--data-dir", dataDir, "--profile", "evidence"], {
      SYNAPSE_SANDBOX_PROFILE: "rich"
    })
    try {
      expect(running.stderr).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+ \(profile evidence\)\n/)
      const origin = new URL(running.url).origin
      expect((await call(`${origin}/_sandbox/health`)).body).toStrictEqual({ status: "ok", profile: "evidence" })
      const bare = await call(`${running.url}/models?page_size=1`, { redirect: "manual" })
      expect(bare.status).toBe(301)
      expect(bare.headers.get("location")).toBe("/api/v1/models/?page_size=1")
      running.child.kill("SIGTERM")
      expect(await exitOf(running.child)).toBe(0)
    } finally {
      running.child.kill("SIGKILL")
      Fs.rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it("refuses an unknown profile, from the option or the environment, in one line naming it, exit status 2", async () => {
    const dataDir = Path.join(Os.tmpdir(), `synapse-ml-cli-profile-${process.pid}`)
    await expect(startCli(["--port", "0", "--seed", "none", "--data-dir", dataDir, "--profile", "evidense"])).rejects
      .toThrow(
        /^exited with 2 before listening:\nsynapse-ml sandbox: --profile must be one of rich, evidence, got "evidense"\n$/
      )
    await expect(startCli(["--port", "0", "--seed", "none", "--data-dir", dataDir, "--profile", ""])).rejects.toThrow(
      /^exited with 2 before listening:\nsynapse-ml sandbox: --profile must be one of rich, evidence, got ""\n$/
    )
    await expect(
      startCli(["--port", "0", "--seed", "none", "--data-dir", dataDir], { SYNAPSE_SANDBOX_PROFILE: "Evidence!" })
    ).rejects.toThrow(
      /^exited with 2 before listening:\nsynapse-ml sandbox: SYNAPSE_SANDBOX_PROFILE must be one of rich, evidence, got "Evidence!"\n$/
    )
    // Refused before the data directory was touched.
    expect(Fs.existsSync(dataDir)).toBe(false)
  })
})

describe("the embedded sandbox's profile", () => {
  it("follows SYNAPSE_SANDBOX_PROFILE in one-shot commands, says so on stderr, and refuses an unknown one", async () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-cli-embedded-"))
    try {
      const env = { SYNAPSE_BASE_URL: "", SYNAPSE_SANDBOX_DIR: Path.join(dir, "sandbox"), SYNAPSE_SANDBOX_FAULTS: "" }
      const evidence = await runCli(["export", "--dataset-version", "301", "--out", Path.join(dir, "out"), "--json"], {
        ...env,
        SYNAPSE_SANDBOX_PROFILE: "evidence"
      })
      expect(evidence.stderr).toMatch(
        /synapse-ml: SYNAPSE_BASE_URL is not set: using the local sandbox with demo data \(profile evidence\) at http:\/\/127\.0\.0\.1:\d+\/api\/v1\n/
      )
      const bad = await runCli(["export", "--dataset-version", "301", "--out", Path.join(dir, "out2")], {
        ...env,
        SYNAPSE_SANDBOX_PROFILE: "nope"
      })
      expect(bad.code).toBe(2)
      expect(bad.stderr).toContain("SYNAPSE_SANDBOX_PROFILE must be one of rich, evidence, got \"nope\"")
      expect(Fs.existsSync(Path.join(dir, "out2"))).toBe(false)
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("start refuses an unknown --sandbox-profile in one line, exit status 2", async () => {
    const result = await runCli(["start", "--sandbox-profile", "bogus", "--sandbox-port", "0", "--port", "0"], {
      SYNAPSE_BASE_URL: ""
    })
    expect(result.code).toBe(2)
    expect(result.stderr).toBe("synapse-ml start: --sandbox-profile must be one of rich, evidence, got \"bogus\"\n")
    expect(result.stdout).toBe("")
  })
})
