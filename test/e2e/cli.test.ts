/**
 * The command's manners as a user meets them: every help page fits 100 columns and carries no
 * colour when piped or under `NO_COLOR` (and does on a terminal, through `script`), the usage
 * line names the full command, optional options are marked so, and argument errors name the
 * command and option, suggest the closest valid name, point to `--help` and exit with status 2.
 *
 * Runs in the `rich` project only: nothing here reaches a sandbox.
 */
import { spawnSync } from "node:child_process"
import { describe, expect, it } from "vitest"
import { cliEntry, repoRoot, runCli } from "../support/cli.js"
import { isRich } from "../support/profile.js"

const COMMANDS = [
  [],
  ["start"],
  ["mcp"],
  ["sandbox"],
  ["models"],
  ["models", "analyze"],
  ["models", "compare"],
  ["models", "deploy"],
  ["models", "rollback"],
  ["export"],
  ["split"],
  ["coco"],
  ["coco", "validate"]
]

const ESC = "\u001b["

// Each case is a process start: two at a time, as the machine has few cores.
const inPairs = async <A, B>(items: ReadonlyArray<A>, f: (item: A) => Promise<B>): Promise<Array<B>> => {
  const out: Array<B> = []
  for (let i = 0; i < items.length; i += 2) out.push(...(await Promise.all(items.slice(i, i + 2).map(f))))
  return out
}

describe.skipIf(!isRich())("synapse-ml --help", () => {
  it("fits every page in 100 columns, without colour when piped", { timeout: 240_000 }, async () => {
    const pages = await inPairs(COMMANDS, (command) => runCli([...command, "--help"], { NO_COLOR: "" }))
    const report = pages.map((page, i) => ({
      command: COMMANDS[i]!.join(" "),
      code: page.code,
      widest: Math.max(...page.stdout.split("\n").map((line) => [...line].length)),
      colour: page.stdout.includes(ESC)
    }))
    expect(report).toStrictEqual(report.map((r) => ({ ...r, code: 0, widest: Math.min(r.widest, 100), colour: false })))
  })

  it("colours a terminal unless NO_COLOR is set", () => {
    const onTerminal = (env: Record<string, string>) =>
      spawnSync("script", ["-qec", [process.execPath, ...cliEntry, "split", "--help"].join(" "), "/dev/null"], {
        cwd: repoRoot,
        env: { ...process.env, ...env },
        encoding: "utf8"
      }).stdout
    expect(onTerminal({ NO_COLOR: "" })).toContain(ESC)
    const plain = onTerminal({ NO_COLOR: "1" })
    expect(plain).toContain("USAGE")
    expect(plain).not.toContain(ESC)
  })

  it("names the full command and marks what may be left out", async () => {
    const split = await runCli(["split", "--help"], {})
    expect(split.stdout).toContain("$ synapse-ml split [--project integer] [--dataset-version text...] [--train float]")
    const rollback = await runCli(["models", "rollback", "--help"], {})
    expect(rollback.stdout).toContain(
      "$ synapse-ml models rollback --project integer [--reactivate text...] [--deactivate text...]\n"
    )
    const exporting = await runCli(["export", "--help"], {})
    expect(exporting.stdout).toContain("$ synapse-ml export --dataset-version text... [--format ")
  })
})

describe.skipIf(!isRich())("argument errors", () => {
  const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
    [["export", "--formt", "yolo"], "synapse-ml export: unknown option --formt; did you mean --format?"],
    [["split", "--projct", "1"], "synapse-ml split: unknown option --projct; did you mean --project?"],
    [["sandbox", "--seed", "big"], "synapse-ml sandbox: --seed must be one of demo, large, none, got 'big'"],
    [["sandbox", "--port", "abc"], "synapse-ml sandbox: --port expects an integer, got 'abc'"],
    [["split", "--project"], "synapse-ml split: option --project needs a value (integer)"],
    [["export", "--dataset-version", "1"], "synapse-ml export: missing required option --out"],
    [
      ["models", "analyz", "1"],
      "synapse-ml models: unknown command 'analyz'; did you mean 'analyze'? (commands: analyze, compare, deploy, rollback)"
    ],
    [
      ["exprt"],
      "synapse-ml: unknown command 'exprt'; did you mean 'export'? (commands: start, mcp, sandbox, models, export, split, coco)"
    ],
    [["coco", "validate"], "synapse-ml coco validate: missing argument <FILE>"]
  ]

  it(
    "name the command and the option, suggest the closest, point to --help, exit 2",
    { timeout: 240_000 },
    async () => {
      const results = await inPairs(cases, ([args]) => runCli(args, {}))
      expect(results.map((r) => ({ code: r.code, stdout: r.stdout, stderr: r.stderr }))).toStrictEqual(
        cases.map(([args, message]) => {
          const command = ["synapse-ml", ...args.filter((a, i) => i < 2 && !a.startsWith("-"))]
          const path = message.slice(0, message.indexOf(":"))
          expect(path).toBe(command.slice(0, path.split(" ").length).join(" "))
          return { code: 2, stdout: "", stderr: `${message}\nRun '${path} --help' for usage.\n` }
        })
      )
    }
  )
})
