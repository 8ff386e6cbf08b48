/**
 * `FileCacheIndex` on a real directory: cache names from URLs (query ignored, no traversal, safe
 * extensions), hits only for complete files of the expected size, atomic writes that leave no
 * temporary file, and one holder per key at a time.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { cacheKey, makeCacheIndex, safeExtension } from "../../src/services/FileCacheIndex.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-cache-index-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

describe("FileCacheIndex", () => {
  it("names a URL's file by the hash of the URL without its query, with a safe extension", () => {
    const index = makeCacheIndex(path.join(work, "names"))
    const a = index.entryOf("https://files.example/a/b/image.PNG?X-Signature=1")
    const b = index.entryOf("https://files.example/a/b/image.PNG?X-Signature=2")
    expect(a).toStrictEqual(b)
    expect(a.key).toBe(cacheKey("https://files.example/a/b/image.PNG"))
    expect(path.basename(a.target)).toBe(`${a.key}.png`)
    expect(path.dirname(a.target)).toBe(path.join(work, "names"))
    expect(safeExtension("https://h/x/..%2F..%2Fetc%2Fpasswd")).toBe("")
    expect(safeExtension("https://h/x/archive.tar.gz")).toBe(".gz")
    expect(safeExtension("https://h/x/file.toolongextension")).toBe("")
    expect(safeExtension("data:text/plain,hi")).toBe("")
    expect(path.dirname(index.entryOf("https://h/../../../etc/passwd").target)).toBe(path.join(work, "names"))
  })

  it.live("a hit is a complete regular file of the expected size; writes are atomic", () =>
    Effect.gen(function*() {
      const index = makeCacheIndex(path.join(work, "hits"))
      const { target } = index.entryOf("https://h/file.bin")
      yield* index.ensureDir
      expect(yield* index.has(target)).toBe(false)
      yield* index.writeAtomically(target, Buffer.from("hello"))
      expect(fs.readFileSync(target, "utf8")).toBe("hello")
      expect(yield* index.has(target)).toBe(true)
      expect(yield* index.has(target, { size: 5 })).toBe(true)
      expect(yield* index.has(target, { size: 6 })).toBe(false)
      expect(fs.readdirSync(index.dir).filter((n) => n.endsWith(".part"))).toStrictEqual([])
      const inDirectory = yield* Effect.flip(makeCacheIndex(path.join(target, "below")).ensureDir)
      expect(inDirectory._tag).toBe("ConnectionError")
      expect(inDirectory.detail).toContain("cannot create the cache directory")
    }))

  it.live("one holder per key at a time; other keys are not held up", () =>
    Effect.gen(function*() {
      const index = makeCacheIndex(path.join(work, "locks"))
      const release = yield* Deferred.make<void>()
      const order: Array<string> = []
      const first = yield* Effect.fork(
        index.withKeyLock("k", Effect.zipRight(Effect.sync(() => order.push("first in")), Deferred.await(release)))
      )
      yield* Effect.sleep("20 millis")
      const second = yield* Effect.fork(index.withKeyLock("k", Effect.sync(() => order.push("second in"))))
      yield* index.withKeyLock("other", Effect.sync(() => order.push("other in")))
      yield* Effect.sleep("20 millis")
      expect(order).toStrictEqual(["first in", "other in"])
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      expect(order).toStrictEqual(["first in", "other in", "second in"])
    }))
})
