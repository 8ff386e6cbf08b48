// Runs every benchmark script in bench/ (files named *.bench.mjs), one after another, each in its
// own Node process so that one benchmark's heap and sockets do not skew the next. Exits non-zero
// if any of them fails. Run through `npm run bench` (which builds first).
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const scripts = fs.readdirSync(here).filter((f) => /\.bench\.m?js$/.test(f)).sort()
let failed = 0
for (const script of scripts) {
  console.log(`\n=== ${script} ===`)
  const result = spawnSync(process.execPath, [path.join(here, script)], { stdio: "inherit" })
  if (result.status !== 0) {
    failed++
    console.log(`=== ${script} failed (exit ${result.status ?? result.signal}) ===`)
  }
}
console.log(`\n${scripts.length - failed}/${scripts.length} benchmarks completed`)
process.exit(failed === 0 ? 0 : 1)
