import { defineConfig } from "vitest/config"

// Tests start real servers (the sandbox on ephemeral ports, spawned CLI processes), so they get
// generous timeouts; the machine has two cores, so files run in a small pool.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } }
  }
})
