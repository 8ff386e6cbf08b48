/**
 * The package as a consumer gets it: `npm pack` of the repository installed into an empty project,
 * with its dependencies taken from the npm cache (`--offline`, so the test needs no network once
 * the repository's own install has filled the cache). From that project: the tarball holds what it
 * should (LICENSE, declarations, source maps whose sources are shipped), an SDK program runs on the
 * embedded sandbox (`synapse-ml/sandbox`), `npx synapse-ml --help` answers, and a strict TypeScript
 * program (no `skipLibCheck`) that imports the SDK, the sandbox layer and `@effect/platform-node`
 * compiles. Install scripts are skipped: better-sqlite3's native module is the one the repository's
 * install built for this Node, copied in, because building it again takes minutes and downloading
 * a prebuilt one needs GitHub.
 *
 * Runs in the `rich` project only: it tests packaging, not answer shapes.
 */
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildIsFresh, repoRoot, runProcess } from "../support/cli.js"
import { isRich } from "../support/profile.js"

const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "e2e-package-"))
const project = Path.join(tmp, "consumer")
const installed = Path.join(project, "node_modules", "synapse-ml")
// Asynchronous: a blocked worker cannot answer vitest while npm works.
const exec = promisify(execFile)
const npm = async (args: ReadonlyArray<string>, cwd: string) =>
  (await exec("npm", [...args], { cwd, encoding: "utf8", timeout: 240_000, maxBuffer: 64 * 1024 * 1024 })).stdout

afterAll(() => Fs.rmSync(tmp, { recursive: true, force: true }))

let tarball = ""
let packed: ReadonlyArray<string> = []

describe.skipIf(!isRich())("the packed tarball installed into an empty project", () => {
  beforeAll(async () => {
    // `npm test` builds first; otherwise `prepare` builds the tarball's dist from these sources.
    const [info] = JSON.parse(
      await npm(["pack", "--json", "--pack-destination", tmp, ...(buildIsFresh ? ["--ignore-scripts"] : [])], repoRoot)
    ) as Array<{ filename: string; files: Array<{ path: string }> }>
    tarball = Path.join(tmp, info!.filename)
    packed = info!.files.map((file) => file.path)
    Fs.mkdirSync(project)
    Fs.writeFileSync(
      Path.join(project, "package.json"),
      JSON.stringify({ name: "consumer", version: "1.0.0", private: true, type: "module" })
    )
    await npm(["install", tarball, "--offline", "--ignore-scripts", "--no-audit", "--no-fund"], project)
    const native = Path.join("node_modules", "better-sqlite3", "build", "Release", "better_sqlite3.node")
    Fs.mkdirSync(Path.dirname(Path.join(project, native)), { recursive: true })
    Fs.copyFileSync(Path.join(repoRoot, native), Path.join(project, native))
  }, 300_000)

  it("holds the licence, the build with declarations, and the sources its maps point to", () => {
    expect(packed).toEqual(
      expect.arrayContaining([
        "LICENSE",
        "package.json",
        "dist/index.js",
        "dist/index.d.ts",
        "dist/index.js.map",
        "dist/sandbox.d.ts",
        "dist/mcp.d.ts",
        "dist/cli/main.js",
        "src/index.ts"
      ])
    )
    expect(packed.filter((file) => !/^(dist|src)\//.test(file)).sort()).toStrictEqual(
      ["LICENSE", "README.md", "package.json"].filter((file) => packed.includes(file))
    )
    expect(Fs.readFileSync(Path.join(installed, "LICENSE"), "utf8")).toMatch(
      /^MIT License\n\nCopyright \(c\) 2026 synapse-ml contributors\n/
    )
    const unresolved = packed
      .filter((file) => file.endsWith(".map"))
      .flatMap((map) => {
        const { sources } = JSON.parse(Fs.readFileSync(Path.join(installed, map), "utf8")) as { sources: Array<string> }
        return sources
          .map((source) => Path.resolve(Path.dirname(Path.join(installed, map)), source))
          .filter((source) => !Fs.existsSync(source))
          .map((source) => `${map} -> ${Path.relative(installed, source)}`)
      })
    expect(unresolved).toStrictEqual([])
    const manifest = JSON.parse(Fs.readFileSync(Path.join(installed, "package.json"), "utf8"))
    expect(manifest.license).toBe("MIT")
    expect(Object.keys(manifest.peerDependencies).sort()).toStrictEqual([
      "@effect/platform",
      "@effect/platform-node",
      "effect"
    ])
    // npm installs peer dependencies itself: the consumer's tree has exactly one of each.
    for (const peer of Object.keys(manifest.peerDependencies)) {
      expect(Fs.existsSync(Path.join(project, "node_modules", peer, "package.json"))).toBe(true)
      expect(Fs.existsSync(Path.join(installed, "node_modules", peer))).toBe(false)
    }
  })

  it("runs an SDK program on the embedded sandbox", async () => {
    Fs.writeFileSync(
      Path.join(project, "program.mjs"),
      [
        `import { Effect } from "effect"`,
        `import { Models } from "synapse-ml"`,
        `import { SandboxSdk } from "synapse-ml/sandbox"`,
        `const program = Effect.gen(function*() {`,
        `  const models = yield* Models.Models`,
        `  const page = yield* models.list({ page_size: 2 })`,
        `  return { count: page.count, listed: page.results.length }`,
        `})`,
        `const result = await Effect.runPromise(program.pipe(Effect.provide(SandboxSdk.layer())))`,
        `console.log(JSON.stringify(result))`
      ].join("\n")
    )
    const run = await runProcess(process.execPath, [Path.join(project, "program.mjs")], {
      ...process.env,
      SYNAPSE_BASE_URL: ""
    })
    expect({ code: run.code, stderr: run.code === 0 ? "" : run.stderr }).toStrictEqual({ code: 0, stderr: "" })
    const result = JSON.parse(run.stdout.trim().split("\n").pop()!) as { count: number; listed: number }
    expect(result.listed).toBe(2)
    expect(result.count).toBeGreaterThan(2)
  })

  it("answers `npx synapse-ml --help`", async () => {
    const help = await npm(["exec", "--offline", "--", "synapse-ml", "--help"], project)
    expect(help).toContain("$ synapse-ml")
    expect(help).toContain("  - sandbox [--port integer]")
  })

  it("compiles a strict TypeScript consumer without skipLibCheck", async () => {
    Fs.writeFileSync(
      Path.join(project, "consumer.ts"),
      [
        `import { NodeRuntime } from "@effect/platform-node"`,
        `import { Effect } from "effect"`,
        `import { GroundTruths, Models } from "synapse-ml"`,
        `import { Sandbox, SandboxSdk } from "synapse-ml/sandbox"`,
        `const program = Effect.gen(function*() {`,
        `  const models = yield* Models.Models`,
        `  const groundTruths = yield* GroundTruths.GroundTruths`,
        `  const sandbox = yield* SandboxSdk.RunningSandbox`,
        `  const page = yield* models.list({ page_size: 2 })`,
        `  const first: string = page.results.map((model) => model.name).join(", ")`,
        `  return { first, sandbox: sandbox.url, groundTruths: typeof groundTruths, token: Sandbox.SANDBOX_DEV_TOKEN }`,
        `})`,
        `NodeRuntime.runMain(program.pipe(Effect.provide(SandboxSdk.layer()), Effect.tap(Effect.log)))`
      ].join("\n")
    )
    Fs.writeFileSync(
      Path.join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          types: ["node"],
          // @types/node from the repository: the consumer's own would come from its devDependencies.
          typeRoots: [Path.join(repoRoot, "node_modules", "@types")]
        },
        files: ["consumer.ts"]
      })
    )
    const tsc = Path.join(repoRoot, "node_modules", "typescript", "bin", "tsc")
    const compiled = await runProcess(process.execPath, [tsc, "-p", Path.join(project, "tsconfig.json")], process.env)
    expect({ code: compiled.code, stdout: compiled.stdout }).toStrictEqual({ code: 0, stdout: "" })
  })
})

describe.skipIf(!isRich())("the checkout installed by path (npm install --install-links)", () => {
  const consumer = Path.join(tmp, "by-path")

  it("installs a copy with the peers beside it and runs an SDK program", async () => {
    Fs.mkdirSync(consumer, { recursive: true })
    Fs.writeFileSync(
      Path.join(consumer, "package.json"),
      JSON.stringify({ name: "by-path", version: "1.0.0", private: true, type: "module" })
    )
    // Scripts skipped as above; `dist` is this checkout's build (`npm test` builds first).
    await npm(
      ["install", "--install-links", repoRoot, "--offline", "--ignore-scripts", "--no-audit", "--no-fund"],
      consumer
    )
    const native = Path.join("node_modules", "better-sqlite3", "build", "Release", "better_sqlite3.node")
    Fs.mkdirSync(Path.dirname(Path.join(consumer, native)), { recursive: true })
    Fs.copyFileSync(Path.join(repoRoot, native), Path.join(consumer, native))
    expect(Fs.lstatSync(Path.join(consumer, "node_modules", "synapse-ml")).isSymbolicLink()).toBe(false)
    expect(Fs.existsSync(Path.join(consumer, "node_modules", "effect", "package.json"))).toBe(true)
    Fs.writeFileSync(
      Path.join(consumer, "program.mjs"),
      [
        `import { Effect } from "effect"`,
        `import { Models } from "synapse-ml"`,
        `import { SandboxSdk } from "synapse-ml/sandbox"`,
        `const program = Effect.flatMap(Models.Models, (models) => models.list({ page_size: 1 }))`,
        `const page = await Effect.runPromise(program.pipe(Effect.provide(SandboxSdk.layer())))`,
        `console.log(page.results.length)`
      ].join("\n")
    )
    const run = await runProcess(process.execPath, [Path.join(consumer, "program.mjs")], {
      ...process.env,
      SYNAPSE_BASE_URL: ""
    })
    expect({ code: run.code, stdout: run.stdout.trim(), stderr: run.code === 0 ? "" : run.stderr }).toStrictEqual({
      code: 0,
      stdout: "1",
      stderr: ""
    })
  }, 300_000)
})
