// Lint, format and layer rules for the whole repository, run by `npm run lint` (part of `npm test`).
//
// Formatting is the `@effect/dprint` rule, set up as Effect's own repositories set it up: two-space
// indent, 120 columns, no semicolons, double quotes, no trailing commas. `npm run format` applies it.
//
// The layer walls (docs/architecture.md "Layers") are `no-restricted-imports` rules per directory:
// schemas <- services <- workflows <- mcp / cli, the sandbox on schemas only, and the SDK entry point
// free of the MCP SDK and SQLite. A wrong import fails `npm test`.
import effectPlugin from "@effect/eslint-plugin"
import tseslint from "typescript-eslint"

/** Import patterns that reach into a layer directory from any depth of relative path. */
const layer = (name) => [`./${name}/*`, `../${name}/*`, `../../${name}/*`, `../../../${name}/*`]

/** A `no-restricted-imports` rule that forbids the named layers and packages with one message. */
const walls = (layers, packages, message) => [
  "error",
  {
    patterns: [
      ...(layers.length > 0 ? [{ group: layers.flatMap(layer), message }] : []),
      ...(packages.length > 0 ? [{ group: packages, message }] : [])
    ]
  }
]

/** Packages only the MCP server and the sandbox may load. */
const serverPackages = ["@modelcontextprotocol/*", "better-sqlite3", "@effect/sql*"]

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", "**/*.d.ts"] },
  ...tseslint.configs.recommended,
  ...effectPlugin.configs.dprint,
  {
    rules: {
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }],
      "object-shorthand": "error",
      "prefer-const": "error",
      "no-var": "error",
      "@typescript-eslint/no-unused-vars": ["error", {
        argsIgnorePattern: "^_",
        varsIgnorePattern: "^_",
        caughtErrorsIgnorePattern: "^_"
      }],
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-namespace": "off",
      "@typescript-eslint/no-empty-object-type": "off",
      "@typescript-eslint/ban-ts-comment": "off"
    }
  },
  {
    files: ["src/schemas/**/*.ts"],
    rules: {
      "no-restricted-imports": walls(
        ["services", "workflows", "mcp", "cli", "sandbox"],
        serverPackages,
        "schemas are the bottom layer: they import only effect"
      )
    }
  },
  {
    files: ["src/services/**/*.ts"],
    rules: {
      "no-restricted-imports": walls(
        ["workflows", "mcp", "cli", "sandbox"],
        serverPackages,
        "services import only schemas (docs/architecture.md \"Layers\")"
      )
    }
  },
  {
    files: ["src/workflows/**/*.ts"],
    rules: {
      "no-restricted-imports": walls(
        ["mcp", "cli", "sandbox"],
        serverPackages,
        "workflows import only services and schemas (docs/architecture.md \"Layers\")"
      )
    }
  },
  {
    files: ["src/sandbox/**/*.ts"],
    rules: {
      "no-restricted-imports": walls(
        ["services", "workflows", "mcp", "cli"],
        ["@modelcontextprotocol/*"],
        "the sandbox stands on schemas only (docs/architecture.md \"Layers\")"
      )
    }
  },
  {
    files: ["src/mcp/**/*.ts"],
    rules: {
      "no-restricted-imports": walls(["cli"], [], "the MCP server does not import the CLI")
    }
  },
  {
    files: ["src/index.ts"],
    rules: {
      "no-restricted-imports": walls(
        ["mcp", "cli", "sandbox"],
        serverPackages,
        "the SDK entry point loads neither the MCP SDK nor SQLite: those have their own subpaths"
      )
    }
  }
)
