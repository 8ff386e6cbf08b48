/**
 * The sandbox's page workers (`PageWorker.ts`): up to `maxThreads` threads that read and render
 * event pages, so that a client requesting several pages at once (the SDK's `prefetch`) is served
 * in parallel rather than one page after the other on the server's single JavaScript thread.
 *
 * Threads start on demand: the first page request starts one, and another starts only when a
 * request arrives while every running thread is busy. A sandbox that only ever serves one page at a
 * time (most tests, a person paging by hand) runs one thread. A thread that dies fails the requests
 * it held (the server answers them 500 and logs why) and is replaced by the next request.
 */
import { Effect } from "effect"
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"
import { inspect } from "node:util"
import { Worker, type WorkerOptions } from "node:worker_threads"
import type { SandboxProfile } from "./Context.js"

/** What a worker is started with. */
export interface PageWorkerData {
  readonly dbPath: string
  /** The data directory's signing secret, for presigned media URLs. */
  readonly secret: string
  /** The answer shapes the sandbox serves: `evidence` renders events as the official SDK reads them. */
  readonly profile: SandboxProfile
}

/** One page to read: the query of its rows, in `EVENT_COLUMNS` order, and how to render them. */
export interface PageQuery {
  readonly sql: string
  readonly params: ReadonlyArray<unknown>
  /** Origin of the presigned media URLs. */
  readonly origin: string
  /** Top-level members to keep in each row; empty keeps all. */
  readonly fields: ReadonlyArray<string>
}

export interface PageRequest extends PageQuery {
  readonly id: number
}

/** A page's rows rendered: their JSON texts joined by commas, how many, and the last row's id. */
export interface RenderedRows {
  readonly json: string
  readonly length: number
  readonly lastId: number | undefined
}

export type PageReply = ({ readonly id: number } & RenderedRows) | { readonly id: number; readonly error: string }

const fromSource = import.meta.url.endsWith(".ts")
const workerUrl = new URL(fromSource ? "./PageWorker.ts" : "./PageWorker.js", import.meta.url)

/**
 * Starts one worker. Built code runs `PageWorker.js` directly. Run from TypeScript sources (`npm
 * start` through tsx, the tests through vitest), the thread first registers tsx's loader, which a
 * new thread does not inherit from vitest, and then imports `PageWorker.ts`.
 */
const startWorker = (data: PageWorkerData): Worker => {
  if (!fromSource) return newWorker(workerUrl, { workerData: data })
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api")).href
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { (tsx.register ?? tsx.default.register)(); ` +
    `return import(${JSON.stringify(workerUrl.href)}) })`
  return newWorker(bootstrap, { eval: true, workerData: data })
}

const isInputType = (arg: string): boolean => arg === "--input-type" || arg.startsWith("--input-type=")

/**
 * A worker that starts whatever options the process was given. A worker inherits the process's
 * Node options, and with `--input-type` among them (a sandbox started from `node --input-type=module
 * -e …`) it refuses to start ("--input-type can only be used with string input"): it then gets the
 * options without it, or none when Node refuses one of those as a worker's own (V8 flags such as
 * `--expose-gc` are accepted inherited, refused given).
 */
const newWorker = (target: string | URL, options: WorkerOptions): Worker => {
  const argv = process.execArgv
  if (!argv.some(isInputType)) return new Worker(target, options)
  const kept = argv.filter((arg, i) => !isInputType(arg) && argv[i - 1] !== "--input-type")
  try {
    return new Worker(target, { ...options, execArgv: kept })
  } catch {
    return new Worker(target, { ...options, execArgv: [] })
  }
}

interface Thread {
  readonly worker: Worker
  /** Callbacks of the requests sent to this thread and not answered yet, by request id. */
  readonly pending: Map<number, (reply: PageReply) => void>
}

/** A pool of page workers over one database. */
export interface PagePool {
  /** Reads and renders one page on a worker thread. A worker's failure is a defect. */
  readonly render: (query: PageQuery) => Effect.Effect<RenderedRows>
  /** How many threads are running now. */
  readonly threads: () => number
}

/** A pool of up to `maxThreads` page workers, stopped when the scope closes. */
export const make = (data: PageWorkerData, maxThreads: number) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const threads: Array<Thread> = []
      let nextId = 1

      const retire = (thread: Thread, why: string) => {
        const at = threads.indexOf(thread)
        if (at >= 0) threads.splice(at, 1)
        for (const [id, resolve] of thread.pending) resolve({ id, error: why })
        thread.pending.clear()
      }

      const spawn = (): Thread => {
        const thread: Thread = { worker: startWorker(data), pending: new Map() }
        thread.worker.on("message", (reply: PageReply) => {
          const resolve = thread.pending.get(reply.id)
          thread.pending.delete(reply.id)
          // An idle thread does not keep the process alive; one with work to answer does.
          if (thread.pending.size === 0) thread.worker.unref()
          resolve?.(reply)
        })
        thread.worker.on("error", (error) =>
          retire(thread, `page worker failed: ${error instanceof Error ? error.message : inspect(error)}`))
        thread.worker.on("exit", (code) =>
          retire(thread, `page worker exited with code ${code}`))
        threads.push(thread)
        return thread
      }

      /** An idle thread, else a new one while under the limit, else the least busy. */
      const pick = (): Thread => {
        const idle = threads.find((t) => t.pending.size === 0)
        if (idle !== undefined) return idle
        if (threads.length < maxThreads) return spawn()
        return threads.reduce((a, b) => (b.pending.size < a.pending.size ? b : a))
      }

      const render = (query: PageQuery): Effect.Effect<RenderedRows> =>
        Effect.async<RenderedRows>((resume) => {
          const thread = pick()
          const id = nextId++
          if (thread.pending.size === 0) thread.worker.ref()
          thread.pending.set(id, (reply) => {
            if ("error" in reply) resume(Effect.die(new Error(reply.error)))
            else resume(Effect.succeed({ json: reply.json, length: reply.length, lastId: reply.lastId }))
          })
          thread.worker.postMessage({ id, ...query } satisfies PageRequest)
          // An interrupted request (the client hung up) still finishes on its thread; only its
          // answer is dropped.
          return Effect.sync(() => {
            if (thread.pending.has(id)) thread.pending.set(id, () => {})
          })
        })

      return { pool: { render, threads: () => threads.length } satisfies PagePool, threads }
    }),
    ({ threads }) => Effect.promise(() => Promise.all([...threads].map((t) => t.worker.terminate())))
  ).pipe(Effect.map(({ pool }) => pool))
