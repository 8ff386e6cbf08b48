import { defineConfig } from "vitest/config"

/**
 * Files that run against both sandbox profiles: the SDK against the sandbox, the workflows, the
 * end-to-end tests of the CLI, and the MCP server. Each runs once in the `rich` project (the
 * documented shapes, the sandbox default) and once in the `evidence` project, where
 * `SYNAPSE_SANDBOX_PROFILE=evidence` makes every sandbox the test starts (in process, or inside a
 * spawned CLI or MCP server, which inherit the variable) answer only the evidenced shapes
 * (docs/wire-protocol.md "Profiles"). A test reads the profile in force with `isRich()` /
 * `sandboxProfile()` (test/support/profile.ts) and expectations in the documented shapes from
 * `richView()` (test/support/sandbox.ts).
 *
 * Run once, in `rich`: files that choose their profiles themselves (test/sandbox, the upload,
 * create and profile-shape tests of the SDK, test/workflows/Evidence and IncompleteRecords), tests
 * that start no sandbox, and test/workflows/Deploy, whose subject (replacing a project's active
 * model of a type) needs `project`, `model_type` and `is_active`, which evidenced models lack: the
 * evidence answer, a typed refusal that creates nothing, is tested in IncompleteRecords.
 */
const bothProfiles = [
  "test/e2e/**/*.test.ts",
  "test/mcp/Datasets.test.ts",
  "test/mcp/Http.test.ts",
  "test/mcp/ModelTools.test.ts",
  "test/mcp/Tools.test.ts",
  "test/services/GroundTruths.test.ts",
  "test/services/Models.test.ts",
  "test/services/PageRetention.test.ts",
  "test/services/PublicApi.test.ts",
  "test/services/Transports.test.ts",
  "test/workflows/Analyze.test.ts",
  "test/workflows/Compare.test.ts",
  "test/workflows/Golden.test.ts"
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
