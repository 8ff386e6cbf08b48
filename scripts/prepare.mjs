/**
 * `npm run prepare`, which npm runs after `npm install` in a checkout and when the package is
 * installed from a git URL or a local path: builds `dist/` with TypeScript. A checkout whose
 * development dependencies are not installed (a local-path install links the directory without
 * installing them) keeps a `dist/` it already has, and without one stops with a message saying what
 * to run, rather than `tsc: not found`. Installs from a tarball never run it: the tarball holds
 * `dist/`.
 */
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const hasTypeScript = (() => {
  try {
    createRequire(Path.join(root, "package.json")).resolve("typescript/bin/tsc")
    return true
  } catch {
    return false
  }
})()

if (hasTypeScript) {
  const build = spawnSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" })
  process.exit(build.status ?? 1)
} else if (Fs.existsSync(Path.join(root, "dist", "index.js"))) {
  console.error("synapse-ml: TypeScript is not installed here, so the existing dist/ is kept as it is")
} else {
  console.error(
    `synapse-ml: dist/ cannot be built in ${root}: its development dependencies are not installed. ` +
      `Run \`npm install\` there first (it builds dist/), then install it again.`
  )
  process.exit(1)
}
