// Lint, format and layer rules for the whole repository, run by `npm run lint` (part of `npm test`).
//
// Formatting is the `@effect/dprint` rule, set up as Effect's own repositories set it up: two-space
// indent, 120 columns, no semicolons, double quotes, no trailing commas. `npm run format` applies it.
//
// The layer walls (docs/architecture.md "Layers") are `no-restricted-imports` rules per directory:
// platform (plain Node helpers) at the bottom, schemas <- services <- workflows <- mcp / cli, the
// sandbox on schemas and platform only, the composition root (`src/*.ts`) above them all but below
// the command, and each entry point loading only what its subpath promises: `synapse-ml` neither
// the MCP SDK nor SQLite, `synapse-ml/sandbox` not the MCP SDK. A wrong import fails `npm test`.
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

/** The composition root and the entry points: the top-level modules of `src/`. */
const root = ["./App.js", "../App.js", "../../App.js", "./AppConfig.js", "../AppConfig.js", "../../AppConfig.js"]

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
    files: ["src/platform/**/*.ts"],
    rules: {
      "no-restricted-imports": walls(
        ["schemas", "services", "workflows", "mcp", "cli", "sandbox"],
        [...serverPackages, ...root],
        "platform is the bottom layer: it imports only Node and effect (docs/architecture.md \"Layers\")"
      )
    }
  },
  {
    files: ["src/schemas/**/*.ts"],
    rules: {
      "no-restricted-imports": walls(
        ["platform", "services", "workflows", "mcp", "cli", "sandbox"],
        [...serverPackages, ...root],
        "schemas are the wire contract: they import only effect (docs/architecture.md \"Layers\")"
      )
    }
  },
  {
    files: ["src/services/**/*.ts"],
    rules: {
      "no-restricted-imports": walls(
        ["workflows", "mcp", "cli", "sandbox"],
        [...serverPackages, ...root],
        "services import only schemas and platform (docs/architecture.md \"Layers\")"
      )
    }
  },
  {
    files: ["src/workflows/**/*.ts"],
    rules: {
      "no-restricted-imports": walls(
        ["mcp", "cli", "sandbox"],
        [...serverPackages, ...root],
        "workflows import only services, schemas and platform (docs/architecture.md \"Layers\")"
      )
    }
  },
  {
    files: ["src/sandbox/**/*.ts"],
    rules: {
      "no-restricted-imports": walls(
        ["services", "workflows", "mcp", "cli"],
        ["@modelcontextprotocol/*", ...root],
        "the sandbox stands on schemas and platform only (docs/architecture.md \"Layers\")"
      )
    }
  },
  {
    files: ["src/mcp/**/*.ts"],
    ignores: ["src/mcp/Main.ts"],
    rules: {
      "no-restricted-imports": walls(
        ["cli", "sandbox"],
        ["better-sqlite3", "@effect/sql*", ...root],
        "the MCP server reaches Synapse through the services; only mcp/Main.ts builds on the composition root"
      )
    }
  },
  {
    files: ["src/mcp/Main.ts"],
    rules: {
      "no-restricted-imports": walls(
        ["cli", "sandbox"],
        ["better-sqlite3", "@effect/sql*"],
        "the MCP server's assembly builds on the composition root (src/App.ts), which chooses the backend"
      )
    }
  },
  {
    files: ["src/App.ts", "src/AppConfig.ts", "src/SandboxSdk.ts"],
    rules: {
      "no-restricted-imports": walls(
        ["cli"],
        ["@modelcontextprotocol/*"],
        "the composition root wires services and the backend; it loads neither the command nor the MCP SDK"
      )
    }
  },
  {
    files: ["src/index.ts"],
    rules: {
      "no-restricted-imports": walls(
        ["mcp", "cli", "sandbox"],
        [...serverPackages, ...root],
        "the SDK entry point loads neither the MCP SDK nor SQLite: those have their own subpaths"
      )
    }
  },
  {
    files: ["src/sandbox.ts"],
    rules: {
      "no-restricted-imports": walls(
        ["mcp", "cli"],
        ["@modelcontextprotocol/*"],
        "synapse-ml/sandbox loads the sandbox and the SDK over it, never the MCP SDK"
      )
    }
  },
  {
    files: ["src/mcp.ts"],
    rules: {
      "no-restricted-imports": walls(["cli"], [], "synapse-ml/mcp does not load the command")
    }
  }
)
