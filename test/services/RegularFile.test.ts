/**
 * Local files that are not regular files: a real named pipe (made with `mkfifo`, with no writer, so
 * a blocking open would never return), a directory and a character device are refused at once,
 * naming the path and its kind, by `openRegularFile`, by the SDK calls that read a model file
 * (`ChunkedUpload.upload`, `Models.create`) and by `synapse-ml coco validate`. The tests are
 * skipped only where `mkfifo` does not exist.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Schedule } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import * as ChunkedUpload from "../../src/services/ChunkedUpload.js"
import * as Models from "../../src/services/Models.js"
import { NotRegularFileError, openRegularFile } from "../../src/services/RegularFile.js"
import { runCli } from "../support/cli.js"
import { useSandbox } from "../support/sandbox.js"
import { resetStats, stats } from "../support/sandboxAdmin.js"
import { sdkLayer } from "../support/sdk.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "synapse-ml-regular-file-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

const fifo = path.join(work, "model.pipe")
const hasMkfifo = spawnSync("mkfifo", [fifo]).status === 0

/** A call that must fail quickly: a blocking open would hang it, so it fails the test instead. */
const quickly = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(self, { duration: "10 seconds", onTimeout: () => new Error("still blocked after 10 s") })

describe.skipIf(!hasMkfifo)("files that are not regular files", () => {
  const sandbox = useSandbox({ seed: "none" })

  it.live("openRegularFile refuses a FIFO, a directory and a device, naming each kind", () =>
    Effect.gen(function*() {
      const refusal = (p: string) =>
        quickly(Effect.flip(Effect.tryPromise({ try: () => openRegularFile(p), catch: (e) => e })))
      const pipe = yield* refusal(fifo)
      expect(pipe).toBeInstanceOf(NotRegularFileError)
      expect(pipe).toMatchObject({ path: fifo, kind: "a named pipe (FIFO)", code: "ENOTREG" })
      expect(String((pipe as Error).message)).toBe(`${fifo} is a named pipe (FIFO), not a regular file`)
      expect(yield* refusal(work)).toMatchObject({ kind: "a directory", code: "EISDIR" })
      if (fs.existsSync("/dev/null")) {
        expect(yield* refusal("/dev/null")).toMatchObject({ kind: "a character device", code: "ENOTREG" })
      }
      const regular = path.join(work, "regular.bin")
      fs.writeFileSync(regular, "abc")
      const opened = yield* Effect.promise(() => openRegularFile(regular))
      expect(opened.stat.size).toBe(3)
      yield* Effect.promise(() => opened.handle.close())
    }))

  it.live("ChunkedUpload.upload of a FIFO fails at once with a ValidationError, before any request", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      yield* resetStats(sb)
      const error = yield* quickly(Effect.flip(
        Effect.flatMap(ChunkedUpload.ChunkedUpload, (u) => u.upload(fifo)).pipe(
          Effect.provide(sdkLayer(sb, work, { retry: Schedule.stop }))
        )
      ))
      expect(error).toMatchObject({
        _tag: "ValidationError",
        field: "file",
        detail: `${fifo} is a named pipe (FIFO), not a regular file: only regular files can be uploaded`
      })
      expect((yield* stats(sb)).requests).toBe(1) // the stats call itself
    }))

  it.scopedLive("Models.create with a FIFO as its file fails at once, creating nothing", () =>
    Effect.gen(function*() {
      const sb = sandbox()
      yield* resetStats(sb)
      const models = yield* Layer.build(sdkLayer(sb, work, { retry: Schedule.stop })).pipe(
        Effect.map(Context.get(Models.Models))
      )
      const error = yield* quickly(Effect.flip(
        models.create({ name: "from a pipe", model_type: "classification", project: 1, file: fifo })
      ))
      expect(error).toMatchObject({ _tag: "ValidationError", field: "file" })
      expect(error.detail).toContain("named pipe (FIFO)")
      expect((yield* stats(sb)).requests).toBe(1)
    }))

  it("synapse-ml coco validate <fifo> exits at once with an error naming the pipe", async () => {
    const result = await runCli(["coco", "validate", fifo], { SYNAPSE_LOG_LEVEL: "error" })
    expect(result.code).not.toBe(0)
    expect(result.stdout + result.stderr).toContain(`${fifo} is a named pipe (FIFO), not a regular file`)
  }, 60_000)
})
