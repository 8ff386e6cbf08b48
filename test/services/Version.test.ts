import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import { SERVER_INFO } from "../../src/mcp/Server.js"
import * as SynapseClient from "../../src/services/SynapseClient.js"
import * as Version from "../../src/services/Version.js"

describe("Version", () => {
  it("is package.json's name and version, in the user agent and the MCP server's announcement", () => {
    const pkg = JSON.parse(Fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8"))
    expect({ name: Version.NAME, version: Version.VERSION }).toStrictEqual({ name: pkg.name, version: pkg.version })
    expect(SynapseClient.VERSION).toBe(pkg.version)
    expect(SERVER_INFO).toStrictEqual({ name: "synapse-ml", version: pkg.version })
  })
})
