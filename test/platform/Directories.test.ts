/**
 * Creating user-named directories: missing parents are made, an existing directory is fine, a file
 * in the way is an error naming it, and a parent that refuses new entries (`/proc`) fails at once,
 * where Node's own recursive `mkdir` never returns.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { makeDirectory, makeDirectorySync } from "../../src/platform/Directories.js"

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-dirs-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))

const variants = [
  ["makeDirectorySync", async (dir: string) => makeDirectorySync(dir)],
  ["makeDirectory", makeDirectory]
] as const

describe.each(variants)("%s", (name, make) => {
  it("creates every missing level, and accepts a directory that exists", async () => {
    const dir = Path.join(root, name, "a", "b", "c")
    await make(dir)
    expect(Fs.statSync(dir).isDirectory()).toBe(true)
    await make(dir)
    await make(Path.join(root, name, "a"))
    expect(Fs.readdirSync(Path.join(root, name, "a"))).toStrictEqual(["b"])
  })

  it("fails naming the file in the way, or the file the path names", async () => {
    const file = Path.join(root, `${name}-file`)
    Fs.writeFileSync(file, "x")
    await expect(make(Path.join(file, "below"))).rejects.toMatchObject({ code: "ENOTDIR" })
    await expect(make(file)).rejects.toMatchObject({ code: "EEXIST" })
    expect(Fs.readFileSync(file, "utf8")).toBe("x")
  })

  it.skipIf(!Fs.existsSync("/proc/self"))(
    "fails at once under /proc, where Node's recursive mkdir never returns",
    async () => {
      await expect(make("/proc/synapse-ml-test/a/b")).rejects.toMatchObject({
        code: "ENOENT",
        path: "/proc/synapse-ml-test"
      })
    },
    5_000
  )
})
