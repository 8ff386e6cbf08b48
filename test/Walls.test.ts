/**
 * The layer walls of docs/architecture.md "Layers", as `npm run lint` enforces them: each wrong
 * import below is refused by the rule of its directory, each right one allowed.
 */
import { ESLint } from "eslint"
import { describe, expect, it } from "vitest"

const eslint = new ESLint({ cwd: new URL("..", import.meta.url).pathname })

/** The `no-restricted-imports` messages for a module at `file` that imports `from`. */
const wallsHit = async (file: string, from: string): Promise<number> => {
  const [result] = await eslint.lintText(`import { x } from "${from}"\n\nexport const y = x\n`, { filePath: file })
  return result!.messages.filter((m) => m.ruleId === "no-restricted-imports").length
}

const refused: ReadonlyArray<readonly [string, string]> = [
  ["src/platform/X.ts", "../schemas/Page.js"],
  ["src/schemas/X.ts", "../platform/Directories.js"],
  ["src/schemas/X.ts", "../services/Models.js"],
  ["src/services/X.ts", "../workflows/Export.js"],
  ["src/services/X.ts", "../sandbox/Sandbox.js"],
  ["src/services/X.ts", "../App.js"],
  ["src/workflows/X.ts", "../mcp/Server.js"],
  ["src/workflows/X.ts", "better-sqlite3"],
  ["src/sandbox/X.ts", "../services/Synapse.js"],
  ["src/sandbox/X.ts", "../App.js"],
  ["src/sandbox/X.ts", "@modelcontextprotocol/sdk/server/index.js"],
  ["src/mcp/X.ts", "../sandbox/Sandbox.js"],
  ["src/mcp/tools/X.ts", "../../App.js"],
  ["src/mcp/X.ts", "../cli/main.js"],
  ["src/App.ts", "./cli/main.js"],
  ["src/App.ts", "@modelcontextprotocol/sdk/server/index.js"],
  ["src/index.ts", "./mcp/Main.js"],
  ["src/index.ts", "./sandbox/Sandbox.js"],
  ["src/index.ts", "./App.js"],
  ["src/index.ts", "@effect/sql-sqlite-node"],
  ["src/sandbox.ts", "./mcp/Main.js"]
]

const allowed: ReadonlyArray<readonly [string, string]> = [
  ["src/services/X.ts", "../platform/Directories.js"],
  ["src/services/X.ts", "../schemas/Page.js"],
  ["src/workflows/X.ts", "../services/Models.js"],
  ["src/sandbox/X.ts", "../platform/Logging.js"],
  ["src/sandbox/X.ts", "../schemas/Page.js"],
  ["src/mcp/X.ts", "../workflows/Export.js"],
  ["src/mcp/Main.ts", "../App.js"],
  ["src/App.ts", "./sandbox/Sandbox.js"],
  ["src/cli/commands/X.ts", "../../App.js"],
  ["src/sandbox.ts", "./SandboxSdk.js"]
]

describe("layer walls", () => {
  it.each(refused)("%s may not import %s", async (file, from) => {
    expect(await wallsHit(file, from)).toBe(1)
  })

  it.each(allowed)("%s may import %s", async (file, from) => {
    expect(await wallsHit(file, from)).toBe(0)
  })
})
