/**
 * The CLI's manners, unit by unit: when colour is allowed, how help lines are fitted to 100
 * columns (usage lines break between bracketed groups, the command table becomes usage then
 * description), and how @effect/cli's argument errors are restated against a command tree.
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { closest, colorAllowed, commandNode, explainUsageError, stripAnsi, wrapHelp } from "../../src/cli/Manners.js"

describe("colorAllowed", () => {
  it("colours only a terminal, and never with NO_COLOR set to a non-empty value", () => {
    expect([
      colorAllowed({}, true),
      colorAllowed({ NO_COLOR: "" }, true),
      colorAllowed({ NO_COLOR: "1" }, true),
      colorAllowed({}, false),
      colorAllowed({}, undefined)
    ]).toStrictEqual([true, true, false, false, false])
  })
})

describe("wrapHelp", () => {
  it("breaks a long usage line between bracketed groups, indenting the rest", () => {
    const usage = `$ tool ${Array.from({ length: 12 }, (_, i) => `[--option-${i} integer]`).join(" ")}`
    const lines = wrapHelp(usage, 60).split("\n")
    expect(lines.every((line) => line.length <= 60)).toBe(true)
    expect(lines[0]).toBe("$ tool [--option-0 integer] [--option-1 integer]")
    expect(lines.slice(1).every((line) => line.startsWith("    [--option-"))).toBe(true)
    expect(lines.join(" ").replace(/\s+/g, " ")).toBe(usage)
  })

  it("turns a too-wide command table into usage lines with the description below", () => {
    const table = [
      "  - short [--a text]" + " ".repeat(60) + "Does a short thing.",
      "  - long [--b text] [--c text] [--d text] [--e text] [--f text] [--g text]" + "   " + "Does a long thing."
    ].join("\n")
    expect(wrapHelp(table, 50)).toBe(
      [
        "  - short [--a text]",
        "      Does a short thing.",
        "  - long [--b text] [--c text] [--d text]",
        "      [--e text] [--f text] [--g text]",
        "      Does a long thing."
      ].join("\n")
    )
  })

  it("leaves lines that fit as they are, colour included", () => {
    const text = "\u001b[1mOPTIONS\u001b[0m\n\n  short line"
    expect(wrapHelp(text, 50)).toBe(text)
    expect(stripAnsi(text)).toBe("OPTIONS\n\n  short line")
  })
})

describe("explainUsageError", () => {
  const leaf = Command.make("leaf", {
    format: Options.choice("format", ["coco", "yolo"] as const).pipe(Options.withDefault("coco" as const)),
    count: Options.integer("count").pipe(Options.optional),
    out: Options.text("out"),
    file: Args.text({ name: "FILE" })
  }, () => Effect.void)
  const group = Command.make("group").pipe(Command.withSubcommands([leaf]))
  const root = Command.make("tool").pipe(Command.withSubcommands([group]))
  const tree = commandNode("tool", root, [commandNode("group", group)])
  const explain = (message: string, args: ReadonlyArray<string>) => explainUsageError(message, args, tree)

  it("names an unknown option and suggests the closest", () => {
    expect(explain("Received unknown argument: '--formt'\n\n", ["group", "leaf", "--formt", "x"])).toBe(
      "tool group leaf: unknown option --formt; did you mean --format?\nRun 'tool group leaf --help' for usage."
    )
    expect(explain("The flag '--zzzzzz' is not recognized.", ["group", "leaf", "--zzzzzz"])).toBe(
      "tool group leaf: unknown option --zzzzzz\nRun 'tool group leaf --help' for usage."
    )
  })

  it("names the option of a bad choice or number, and a missing value", () => {
    expect(explain("Expected one of the following cases: coco, yolo", ["group", "leaf", "--format", "voc"])).toBe(
      "tool group leaf: --format must be one of coco, yolo, got 'voc'\nRun 'tool group leaf --help' for usage."
    )
    expect(explain("'abc' is not a integer", ["group", "leaf", "--count=abc"])).toBe(
      "tool group leaf: --count expects an integer, got 'abc'\nRun 'tool group leaf --help' for usage."
    )
    expect(explain("Received unknown argument: '--count'", ["group", "leaf", "--count"])).toBe(
      "tool group leaf: option --count needs a value (integer)\nRun 'tool group leaf --help' for usage."
    )
    expect(explain("Expected to find option: '--out'", ["group", "leaf", "f"])).toBe(
      "tool group leaf: missing required option --out\nRun 'tool group leaf --help' for usage."
    )
  })

  it("names an unknown command at the level it was typed, with the closest and the list", () => {
    expect(explain("Invalid subcommand for tool - use one of 'group'", ["group", "lef"])).toBe(
      "tool group: unknown command 'lef'; did you mean 'leaf'? (commands: leaf)\nRun 'tool group --help' for usage."
    )
    expect(explain("Invalid subcommand for tool - use one of 'group'", ["--grup"])).toBe(
      "tool: unknown option --grup\nRun 'tool --help' for usage."
    )
  })

  it("keeps the words of a message of unknown shape, with the command and the pointer to --help", () => {
    expect(explain("Something \u001b[1mnew\u001b[0m happened\n\nwith details", ["group", "leaf"])).toBe(
      "tool group leaf: Something new happened with details\nRun 'tool group leaf --help' for usage."
    )
  })

  it("suggests only close names", () => {
    expect([closest("--formt", ["--format", "--out"]), closest("--xyz", ["--format", "--out"])]).toStrictEqual([
      "--format",
      undefined
    ])
  })
})
