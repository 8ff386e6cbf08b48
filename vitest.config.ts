import { defineConfig } from "vitest/config"

/**
 * Files that run against both sandbox profiles: the SDK against the sandbox, the workflow
 * end-to-end tests, the CLI and the MCP server. Each runs once in the `rich` project (the
 * documented shapes, the sandbox default) and once in the `evidence` project, where
 * `SYNAPSE_SANDBOX_PROFILE=evidence` makes every sandbox the test starts (in process, or inside a
 * spawned CLI or MCP server, which inherit the variable) answer only the evidenced shapes
 * (docs/wire-protocol.md "Profiles"). A test reads the profile in force with `sandboxProfile()`
 * (test/support/profile.ts). The sandbox's own shape tests (test/sandbox) choose their profile
 * themselves, and pure unit tests start no sandbox: both run once, in `rich`.
 */
const bothProfiles = [
  "test/e2e/**/*.test.ts",
  "test/mcp/Datasets.test.ts",
  "test/mcp/Http.test.ts",
  "test/mcp/ModelTools.test.ts",
  "test/mcp/Tools.test.ts"
]

// Tests start real servers (the sandbox on ephemeral ports, spawned CLI processes), so they get
// generous timeouts; the machine has two cores, so files run in a small pool (one pool for both
// projects: the pool options are the root's).
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    projects: [
      {
        extends: true,
        test: { name: "rich", include: ["test/**/*.test.ts"], env: { SYNAPSE_SANDBOX_PROFILE: "rich" } }
      },
      {
        extends: true,
        test: { name: "evidence", include: bothProfiles, env: { SYNAPSE_SANDBOX_PROFILE: "evidence" } }
      }
    ]
  }
})
