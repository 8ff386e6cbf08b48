/**
 * Test helper: a small real HTTP server that answers from a route table, for testing the SDK
 * against answers no sandbox profile gives (a backend that sends fewer fields, unknown fields,
 * models without a project…). Every request is recorded with its method, path, query and body.
 *
 *   const server = await startScriptedServer((req) =>
 *     req.path === "/api/v1/models/" ? { json: { count: 1, next: null, results: [{ id: 7 }] } } : undefined
 *   )
 *   // … SDK with baseUrl server.url …
 *   await server.close()
 *
 * A route answering `undefined` gets a DRF-style `404 {"detail": "Not found."}`.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

/** A request as the route table sees it. */
export interface ScriptedRequest {
  readonly method: string
  /** The path without the query, e.g. `/api/v1/models/`. */
  readonly path: string
  readonly query: URLSearchParams
  /** The body as text (empty for none). */
  readonly body: string
}

/** An answer: JSON with a status (200 by default). */
export interface ScriptedAnswer {
  readonly status?: number
  readonly json: unknown
}

/** A running scripted server. */
export interface ScriptedServer {
  /** The API base URL (`http://127.0.0.1:<port>/api/v1`), as the SDK's `baseUrl`. */
  readonly url: string
  /** Every request received, in order. */
  readonly requests: Array<ScriptedRequest>
  readonly close: () => Promise<void>
}

/** The base path every route sits under, as on Synapse. */
export const API = "/api/v1"

/** Starts a server on an ephemeral port of 127.0.0.1 answering with `route`. */
export const startScriptedServer = async (
  route: (request: ScriptedRequest) => ScriptedAnswer | undefined
): Promise<ScriptedServer> => {
  const requests: Array<ScriptedRequest> = []
  const server = http.createServer((req, res) => {
    const parts: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => parts.push(chunk))
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1")
      const request: ScriptedRequest = {
        method: req.method ?? "GET",
        path: url.pathname,
        query: url.searchParams,
        body: Buffer.concat(parts).toString("utf8")
      }
      requests.push(request)
      let answer: ScriptedAnswer | undefined
      try {
        answer = route(request)
      } catch (error) {
        answer = {
          status: 500,
          json: { detail: `route failed: ${error instanceof Error ? error.message : String(error)}` }
        }
      }
      const { status, json } = answer ?? { status: 404, json: { detail: "Not found." } }
      res.writeHead(status ?? 200, { "content-type": "application/json" }).end(JSON.stringify(json))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}${API}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      })
  }
}

/** A DRF page of `results`, all on one page. */
export const onePage = (results: ReadonlyArray<unknown>) => ({
  count: results.length,
  next: null,
  previous: null,
  results
})
