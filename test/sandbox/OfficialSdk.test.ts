/**
 * The official Python SDK's request logic for `create_model(data, file=…)`, replayed by a script
 * that uses only Python's standard library (fixtures/official-sdk-create.py), against the sandbox's
 * evidence profile: the chunked upload as its client sends it (integer upload ids checked as its
 * response types check them), its create body `{name, plugin, version, chunked_upload}`, and its
 * `get_model`. The model must exist with the file, byte for byte.
 */
import { createHash, randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { runProcess } from "../support/cli.js"
import { startTestSandbox, useSandbox } from "../support/sandbox.js"

const PYTHON = "/usr/bin/python3"
const SCRIPT = Path.join(import.meta.dirname, "fixtures", "official-sdk-create.py")
const MiB = 1024 * 1024
const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "synapse-ml-official-sdk-"))
afterAll(() => Fs.rmSync(work, { recursive: true, force: true }))

const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex")

/** Runs the script; resolves with its exit code, stdout and stderr. */
const run = (args: ReadonlyArray<string>) => runProcess(PYTHON, [SCRIPT, ...args], process.env)

describe("the official SDK's create_model against the evidence profile", () => {
  const sandbox = useSandbox({ seed: "none", profile: "evidence" })

  it("uploads a multi-chunk file and creates a model that holds it", async () => {
    const sb = sandbox()
    const bytes = randomBytes(2 * MiB + 12345)
    const file = Path.join(work, "detector.pt")
    Fs.writeFileSync(file, bytes)

    const { code, stdout, stderr } = await run([sb.url, sb.token, file, String(MiB), "Official detector"])
    expect(stderr).toBe("")
    expect(code).toBe(0)
    const result = JSON.parse(stdout)

    const uploadId: number = result.upload.id
    expect(result.requests).toStrictEqual([
      "PUT chunked_upload/",
      `PUT ${sb.url}/chunked_upload/${uploadId}/`,
      `PUT ${sb.url}/chunked_upload/${uploadId}/`,
      `POST ${sb.url}/chunked_upload/${uploadId}/`,
      "POST models/",
      `GET models/${result.model.id}/`
    ])
    expect(result.upload).toStrictEqual({
      id: uploadId,
      file: expect.any(String),
      checksum: md5(bytes),
      size: bytes.length
    })
    expect(result.detail).toMatchObject({
      id: result.model.id,
      name: "Official detector",
      version: "1.0.0",
      file: expect.any(String)
    })

    // The model exists, with the uploaded file as its file.
    expect(
      sb.query("SELECT name, version, file_name, file_size, file_checksum FROM models WHERE id = ?", result.model.id)
    ).toStrictEqual([
      {
        name: "Official detector",
        version: "1.0.0",
        file_name: "detector.pt",
        file_size: bytes.length,
        file_checksum: md5(bytes)
      }
    ])
    const stored = new Uint8Array(await (await fetch(result.detail.file)).arrayBuffer())
    expect(stored.length).toBe(bytes.length)
    expect(md5(stored)).toBe(md5(bytes))
  })

  it("fails the way the official client fails when an answer does not validate (the rich profile's string upload ids)", async () => {
    // The rich profile answers string ids, which the official client's response types refuse:
    // this is the contrast that makes the test above mean something.
    const rich = await startTestSandbox({ seed: "none" })
    try {
      const file = Path.join(work, "small.pt")
      Fs.writeFileSync(file, randomBytes(1000))
      const { code, stderr } = await run([rich.url, rich.token, file, String(MiB), "Rich"])
      expect(code).toBe(1)
      expect(stderr).toContain("does not validate as the official client's ChunkedUploadResponse")
    } finally {
      await rich.close()
    }
  })
})
