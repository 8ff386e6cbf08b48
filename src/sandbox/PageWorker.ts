/**
 * A page worker: a thread of the sandbox that reads event pages from the database and renders them
 * to JSON text, so that concurrent page requests (a client prefetching pages) are served in
 * parallel, as a real backend's worker processes serve them, instead of queueing behind one
 * JavaScript thread. Started by `PagePool.ts`, which sends it `PageRequest`s and gets `PageReply`s.
 *
 * It opens the database read-only with its own connection: SQLite in WAL mode lets readers run
 * beside the server's writer, and every read sees the writes committed before it began.
 */
import Database from "better-sqlite3"
import { parentPort, workerData } from "node:worker_threads"
import { type EventValues, keepFields, renderEvent } from "./EventRows.js"
import { renderEvidenceEvent } from "./Evidence.js"
import { makeSigner } from "./Media.js"
import type { PageReply, PageRequest, PageWorkerData } from "./PagePool.js"

const { dbPath, secret, profile } = workerData as PageWorkerData
const open = (): Database.Database => {
  try {
    const db = new Database(dbPath, { readonly: true, fileMustExist: true })
    db.pragma("busy_timeout = 5000")
    return db
  } catch (error) {
    // better-sqlite3's own error class reaches the pool as a bare `{ code }`: a plain Error keeps
    // the message across the thread boundary.
    throw new Error(`cannot open ${dbPath}: ${error instanceof Error ? error.message : String(error)}`)
  }
}
const db = open()

// Prepared statements by SQL text: a listing's query differs only by its filters and limit, so a
// client paging through one listing reuses the same few statements.
const statements = new Map<string, Database.Statement>()
const statementFor = (sql: string): Database.Statement => {
  let statement = statements.get(sql)
  if (statement === undefined) {
    if (statements.size > 500) statements.clear()
    statement = db.prepare(sql).raw(true)
    statements.set(sql, statement)
  }
  return statement
}

const renderPage = (request: PageRequest): PageReply => {
  const rows = statementFor(request.sql).all(...request.params) as Array<EventValues>
  const sign = makeSigner(request.origin, secret)
  const fields = request.fields
  let json = ""
  if (profile === "evidence") {
    // Parsed and re-serialized: the native form is a conversion, not a splice of stored text.
    for (let i = 0; i < rows.length; i++) {
      const [id, , category, , data, files, , , unitFiles] = rows[i]!
      json += (i === 0 ? "" : ",") + renderEvidenceEvent(id, category, data, files, unitFiles, sign, fields)
    }
  } else {
    for (let i = 0; i < rows.length; i++) {
      const text = renderEvent(rows[i]!, sign)
      json += (i === 0 ? "" : ",") + (fields.length > 0 ? keepFields(text, fields) : text)
    }
  }
  return { id: request.id, json, length: rows.length, lastId: rows.length > 0 ? rows[rows.length - 1]![0] : undefined }
}

parentPort!.on("message", (request: PageRequest) => {
  let reply: PageReply
  try {
    reply = renderPage(request)
  } catch (error) {
    reply = { id: request.id, error: error instanceof Error ? error.message : String(error) }
  }
  parentPort!.postMessage(reply)
})
