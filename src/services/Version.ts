/**
 * The package's name and version, read once from its `package.json`, so the `User-Agent` header, the
 * command's `--version` and the MCP server's announced version always match the installed package.
 * The file sits two levels above this module both in `src/services/` and in the built
 * `dist/services/`, and npm ships it with every install.
 */
import { Either, Schema } from "effect"
import * as Fs from "node:fs"

const PackageJson = Schema.parseJson(Schema.Struct({ name: Schema.String, version: Schema.String }))

const read = (): typeof PackageJson.Type => {
  const url = new URL("../../package.json", import.meta.url)
  const decoded = Schema.decodeUnknownEither(PackageJson)(Fs.readFileSync(url, "utf8"))
  if (Either.isLeft(decoded)) {
    throw new Error(`${url.pathname} has no string name and version: ${decoded.left.message}`)
  }
  return decoded.right
}

const pkg = read()

/** The package name, `synapse-ml`. */
export const NAME: string = pkg.name

/** The package version, e.g. `0.1.0`. */
export const VERSION: string = pkg.version
