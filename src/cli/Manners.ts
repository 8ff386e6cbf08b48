/**
 * How the command talks to a person when @effect/cli answers for it: the help pages and the
 * argument errors it prints before any command runs. Help lines fit 100 columns (the command
 * table becomes one entry per usage line, its description below), colour appears only when stdout
 * is a terminal and `NO_COLOR` is unset or empty (https://no-color.org), and an argument error
 * names the command and the option at fault, suggests the closest valid option or command, and
 * points to `--help`. What the commands themselves print is left untouched: the console installed
 * here serves only @effect/cli's own output, and `commandConsole` hands the commands the plain one.
 */
import { AutoCorrect, CliConfig, Command, CommandDescriptor, type Usage } from "@effect/cli"
import { Console, Effect, HashMap, Option } from "effect"

/** The widest help line. */
export const HELP_WIDTH = 100

/** Whether output may carry colour: stdout is a terminal and `NO_COLOR` is unset or empty. */
export const colorAllowed = (env: Record<string, string | undefined>, isTty: boolean | undefined): boolean =>
  isTty === true && (env.NO_COLOR ?? "") === ""

const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g

/** `text` without ANSI escape sequences. */
export const stripAnsi = (text: string): string => text.replace(ANSI, "")

/** Splits a usage line into words at spaces outside brackets, so `[--train float]` stays whole. */
const usageWords = (text: string): Array<string> => {
  const words: Array<string> = []
  let depth = 0
  let current = ""
  for (const char of text) {
    if ("[(<".includes(char)) depth++
    if ("])>".includes(char)) depth = Math.max(0, depth - 1)
    if (char === " " && depth === 0) {
      if (current !== "") words.push(current)
      current = ""
    } else {
      current += char
    }
  }
  if (current !== "") words.push(current)
  return words
}

/** Fills `words` into lines of at most `width` columns, the first after `first`, the rest after `rest`. */
const fill = (words: ReadonlyArray<string>, first: string, rest: string, width: number): Array<string> => {
  const lines: Array<string> = []
  let line = first
  let empty = true
  for (const word of words) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line)
      line = rest + word
    } else {
      line = empty ? line + word : `${line} ${word}`
    }
    empty = false
  }
  lines.push(line)
  return lines
}

// A row of @effect/cli's command table: "  - <usage><padding to the longest usage>  <description>".
const TABLE_ROW = /^(\s*)- (\S.*?) {2,}(\S.*)$/

/** One help line fitted to `width`: usage lines break between bracketed groups, prose between words. */
const wrapLine = (line: string, width: number): Array<string> => {
  const indent = /^\s*/.exec(line)![0]
  const body = line.slice(indent.length)
  if (body.startsWith("$ ") || body.startsWith("- ")) {
    return fill(usageWords(body.slice(2)), `${indent}${body.slice(0, 2)}`, `${indent}    `, width)
  }
  return fill(body.split(" ").filter((w) => w !== ""), indent, indent, width)
}

/**
 * A help page fitted to `width` columns. When the command table is too wide, every row becomes
 * the usage (wrapped) with the description on the lines below it, so the rows stay alike.
 */
export const wrapHelp = (text: string, width = HELP_WIDTH): string => {
  const lines = text.split("\n")
  const tableTooWide = lines.some((line) => TABLE_ROW.test(line) && stripAnsi(line).length > width)
  return lines.flatMap((raw) => {
    const line = stripAnsi(raw).length > width ? stripAnsi(raw) : raw
    const row = tableTooWide ? TABLE_ROW.exec(line) : null
    if (row !== null) {
      const [, indent, usage, description] = row
      return [
        ...wrapLine(`${indent}- ${usage}`, width),
        ...wrapLine(`${indent}    ${description}`, width)
      ]
    }
    return stripAnsi(line).length > width ? wrapLine(line, width) : [line]
  }).join("\n")
}

/** What the arguments name: the command path and the options of the command they reach. */
interface Target {
  /** Command names from the root, e.g. `["synapse-ml", "models", "analyze"]`. */
  readonly path: ReadonlyArray<string>
  /** The option names of that command, each with its value type (`none` for a flag). */
  readonly options: ReadonlyMap<string, string | undefined>
  /** Subcommand names, when the command has any. */
  readonly subcommands: ReadonlyArray<string>
  /** The first argument that is neither an option nor a known subcommand, when one is in command position. */
  readonly unknownCommand: string | undefined
}

const BUILT_IN_OPTIONS = ["--help", "-h", "--version", "--wizard", "--completions", "--log-level"]

const namedOptions = (usage: Usage.Usage, out: Map<string, string | undefined>): void => {
  switch (usage._tag) {
    case "Named":
      for (const name of usage.names) {
        if (name.startsWith("-")) out.set(name, Option.getOrUndefined(usage.acceptedValues))
      }
      return
    case "Optional":
    case "Repeated":
      return namedOptions(usage.usage, out)
    case "Alternation":
    case "Concat":
      namedOptions(usage.left, out)
      return namedOptions(usage.right, out)
    default:
      return
  }
}

/** A command as `explainUsageError` sees it: its name, usage and subcommands. */
export interface CommandNode {
  readonly name: string
  readonly usage: Usage.Usage
  readonly children: ReadonlyArray<CommandNode>
}

/**
 * The tree of `command`, named `name`. A `Command` with subcommands lists them, but their
 * descriptors no longer do, so each level of subcommands is given as the `Command`s registered.
 */
export const commandNode = <Name extends string, R, E, A>(
  name: string,
  command: Command.Command<Name, R, E, A>,
  children: ReadonlyArray<CommandNode> = []
): CommandNode => ({
  name,
  usage: Command.getUsage(command),
  children: children.length > 0 ? children : [...HashMap.entries(Command.getSubcommands(command))]
    .filter(([child]) => child !== name)
    .map(([child, descriptor]) => ({ name: child, usage: CommandDescriptor.getUsage(descriptor), children: [] }))
})

/** Follows the leading command names of `args` (without node and script) down from `root`. */
const targetOf = (root: CommandNode, args: ReadonlyArray<string>): Target => {
  const path = [root.name]
  let node = root
  let unknownCommand: string | undefined
  for (const arg of args) {
    if (arg.startsWith("-") || node.children.length === 0) break
    const next = node.children.find((child) => child.name === arg)
    if (next === undefined) {
      unknownCommand = arg
      break
    }
    node = next
    path.push(arg)
  }
  const options = new Map<string, string | undefined>()
  namedOptions(node.usage, options)
  return { path, options, subcommands: node.children.map((child) => child.name), unknownCommand }
}

/** The closest of `candidates` to `word`, when it is close enough to be a likely typo. */
export const closest = (word: string, candidates: ReadonlyArray<string>): string | undefined => {
  const scored = candidates
    .map((candidate) => ({
      candidate,
      distance: AutoCorrect.levensteinDistance(word, candidate, CliConfig.defaultConfig)
    }))
    .sort((a, b) => a.distance - b.distance)
  const best = scored[0]
  return best !== undefined && best.distance <= Math.max(2, Math.floor(word.length / 3)) ? best.candidate : undefined
}

const quoteList = (names: ReadonlyArray<string>): string => names.join(", ")

/** The option whose value in `args` is `value`, looking at `--name value` and `--name=value`. */
const optionWithValue = (args: ReadonlyArray<string>, value: string, options: ReadonlyMap<string, unknown>) => {
  for (let i = 0; i < args.length; i++) {
    const [name, inline] = args[i]!.split(/=(.*)/s, 2) as [string, string | undefined]
    if (!options.has(name)) continue
    if (inline === value || (inline === undefined && args[i + 1] === value)) return name
  }
  return undefined
}

/** What to say about an unknown option `word` (`--name` or `--name=value`). */
const unknownOption = (word: string, target: Target, args: ReadonlyArray<string>): string => {
  const name = word.split("=")[0]!
  const type = target.options.get(name)
  if (target.options.has(name) && type !== undefined && args[args.length - 1] === word) {
    return `option ${name} needs a value (${type})`
  }
  const known = [...target.options.keys(), ...BUILT_IN_OPTIONS].filter((o) => o.startsWith("--"))
  const guess = closest(name, known)
  return `unknown option ${name}${guess === undefined ? "" : `; did you mean ${guess}?`}`
}

const unknownCommandMessage = (word: string, target: Target): string => {
  const guess = closest(word, target.subcommands)
  return `unknown command '${word}'${guess === undefined ? "" : `; did you mean '${guess}'?`} (commands: ${
    quoteList(target.subcommands)
  })`
}

/**
 * @effect/cli's argument error `message` for `args` (without node and script), restated: which
 * command, which option, the closest valid name, and where the help is. Messages of a shape it
 * does not know keep their words and gain the command and the pointer to `--help`.
 */
export const explainUsageError = (message: string, args: ReadonlyArray<string>, root: CommandNode): string => {
  const target = targetOf(root, args)
  const text = stripAnsi(message).trim().split(/\n\s*\n/).map((part) => part.trim()).filter((part) => part !== "")
  const first = text[0] ?? ""
  const say = (() => {
    if (target.unknownCommand !== undefined) return unknownCommandMessage(target.unknownCommand, target)
    const unknown = /^(?:Received unknown argument: '(.*)'|The flag '(.*)' is not recognized)/.exec(first)
    if (unknown !== null) {
      const word = unknown[1] ?? unknown[2] ?? ""
      return word.startsWith("-")
        ? unknownOption(word, target, args)
        : target.subcommands.length > 0
        ? unknownCommandMessage(word, target)
        : `unexpected argument '${word}'`
    }
    const cases = /^Expected one of the following cases: (.*)$/.exec(first)
    if (cases !== null) {
      const allowed = cases[1]!.split(",").map((s) => s.trim())
      const choices = new Map([...target.options].filter(([, type]) => type?.includes(" | ")))
      for (const [name] of choices) {
        const value = args.find((arg, i) =>
          (args[i - 1] === name && !allowed.includes(arg)) || arg.startsWith(`${name}=`) &&
            !allowed.includes(arg.slice(name.length + 1))
        )
        if (value !== undefined) {
          const given = value.startsWith(`${name}=`) ? value.slice(name.length + 1) : value
          return `${name} must be one of ${quoteList(allowed)}, got '${given}'`
        }
      }
      return `expected one of ${quoteList(allowed)}`
    }
    const typed = /^'(.*)' is not an? (.*)$/s.exec(first)
    if (typed !== null) {
      const name = optionWithValue(args, typed[1]!, target.options)
      const kind = typed[2]!.replace(/^integer$/, "an integer").replace(/^float$/, "a number")
      return name === undefined ? `'${typed[1]}' is not ${kind}` : `${name} expects ${kind}, got '${typed[1]}'`
    }
    if (/^Invalid subcommand/.test(first)) {
      const word = args[target.path.length - 1] ?? ""
      return word.startsWith("-") ? unknownOption(word, target, args) : unknownCommandMessage(word, target)
    }
    const argument = /^Missing argument (.*)$/.exec(first)
    if (argument !== null) return `missing argument ${argument[1]}`
    const missing = /^Expected to find option: '(.*)'$/.exec(first)
    if (missing !== null) return `missing required option ${missing[1]}`
    return text.join(" ")
  })()
  const command = target.path.join(" ")
  return `${command}: ${say}\nRun '${command} --help' for usage.`
}

// The plain console of each console installed by `usageConsole`, for the commands' own output.
const plainConsoles = new WeakMap<Console.Console, Console.Console>()

/**
 * The console for @effect/cli's own output: help pages fitted to `HELP_WIDTH`, argument errors
 * restated by `explainUsageError`, ANSI colour removed unless `color`.
 */
export const usageConsole = (
  plain: Console.Console,
  options: { readonly args: ReadonlyArray<string>; readonly root: CommandNode; readonly color: boolean }
): Console.Console => {
  const paint = (text: string) => (options.color ? text : stripAnsi(text))
  // The usage line names only the last command ("$ analyze …"): the full path is what to type.
  const { path } = targetOf(options.root, options.args)
  const fullUsage = (text: string) =>
    path.length > 1
      ? text.replace(new RegExp(`^\\$ ${path[path.length - 1]}(?= |$)`, "m"), `$ ${path.join(" ")}`)
      : text
  const show = (args: ReadonlyArray<unknown>) =>
    args.map((arg) => typeof arg === "string" ? paint(wrapHelp(fullUsage(arg))) : arg)
  const console: Console.Console = {
    ...plain,
    log: (...args) => plain.log(...show(args)),
    error: (...args) =>
      plain.error(
        ...args.map((arg) => typeof arg === "string" ? paint(explainUsageError(arg, options.args, options.root)) : arg)
      ),
    unsafe: plain.unsafe
  }
  plainConsoles.set(console, plain)
  return console
}

/** Runs `effect` with the console that `usageConsole` wraps, so a command's own output is never rewritten. */
export const withCommandConsole = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Console.consoleWith((current) => Effect.withConsole(effect, plainConsoles.get(current) ?? current))
