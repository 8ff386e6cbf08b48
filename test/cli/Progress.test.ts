/**
 * The commands' progress reporter, on a stream that records what it is given: which states are
 * shown when updates come faster than the throttle, on a terminal and in a log.
 */
import { describe, expect, it } from "vitest"
import { progressReporter } from "../../src/cli/commands/workflowSupport.js"

const recorder = (isTTY: boolean) => {
  const written: Array<string> = []
  const stream = { isTTY, write: (chunk: string) => written.push(chunk) } as unknown as NodeJS.WriteStream
  return { stream, written }
}

const state = (phase: string, done: number) => ({ phase, done, total: 3, unit: "events", extra: "" })

describe("progressReporter", () => {
  it("in a log: each phase's first and last state, even when the phase is shorter than the throttle", () => {
    const { stream, written } = recorder(false)
    const progress = progressReporter("analyze", stream)
    for (let done = 0; done <= 3; done++) progress.report(state("ground truth", done))
    progress.report(state("scoring", 0))
    progress.report(state("scoring", 1))
    progress.end()
    expect(written).toStrictEqual([
      "analyze ground truth: 0/3 events\n",
      "analyze ground truth: 3/3 events\n",
      "analyze scoring: 0/3 events\n",
      "analyze scoring: 1/3 events\n"
    ])
    progress.end()
    expect(written).toHaveLength(4)
  })

  it("on a terminal: the bar ends each phase at its last state on a line of its own, and end closes the line once", () => {
    const { stream, written } = recorder(true)
    const progress = progressReporter("export", stream)
    progress.report(state("reading", 0))
    progress.report(state("reading", 3))
    progress.report(state("done", 3))
    progress.end()
    progress.end()
    const screen = written.join("")
    expect(screen.match(/\n/g)).toHaveLength(2)
    expect(screen).toContain("export reading: [########################] 100% 3/3 events\n")
    expect(screen.endsWith("export done: [########################] 100% 3/3 events\n")).toBe(true)
  })
})
