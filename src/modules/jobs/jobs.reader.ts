/**
 * `GET /api/v1/jobs?id=` on SQLite, read on a thread of its own (issue 6).
 *
 * A single job is one random row of a large table: on the server's event
 * loop its read cost about four times what the same read costs in a loop
 * by itself (docs/performance.md, "A thread for single-job reads"), since
 * every new page it copies in pushes the HTTP work out of the core's
 * caches. A read-only connection on a second thread reads it instead, in
 * batches: the event loop hands over the reads of each of its turns, and
 * sends the answers (the same JSON and ETag, made by the same function) as
 * they come back. What a reader sees does not change (docs/decisions.md,
 * "Single-job reads on a second connection"): each batch reads one snapshot
 * taken after all its requests arrived, so it sees every write answered
 * before them.
 *
 * Until the thread has opened its connection, and for good if it fails,
 * jobs are read on the event loop as before; so is any read the thread
 * could not answer for a reason other than "no such job", so that its
 * error is answered as always.
 */
import { Worker } from 'node:worker_threads'
import type { FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import type { DatabaseHandle } from '../../db/connect.ts'
import type { Database } from '../../db/types.ts'
import { notFound } from '../../http/errors.ts'
import type { Actor } from '../actor.ts'
import { NOT_FOUND, type ReadAnswer, type ReadBatch, type ReadThreadData } from './jobs.read-thread.ts'
import { getJob } from './jobs.service.ts'

/** A job as `GET ?id=` answers it: its JSON (the answer's `data`) and ETag. */
export interface JobAnswer {
  json: string
  etag: string
}

export interface JobReads {
  getJob(actor: Actor, jobId: number): Promise<JobAnswer>
  /** Resolves once reads go where they will (the thread has opened its connection, or failed to). */
  readonly ready: Promise<void>
  /** How many reads the thread has answered (tests check that it did). */
  readonly answeredOnThread: number
  close(): Promise<void>
}

/** Reads on the event loop: PostgreSQL (its reads already run in the database's processes), tests, the CLI. */
function readsHere(db: Kysely<Database>): JobReads {
  return { getJob: (actor, jobId) => getJob(db, actor, jobId), ready: Promise.resolve(), answeredOnThread: 0, close: async () => {} }
}

/** The longest `ready` waits for the thread to start; reads stay on the event loop until it has. */
const START_TIMEOUT_MS = 10_000

interface Waiting {
  actor: Actor
  jobId: number
  resolve: (answer: JobAnswer) => void
  reject: (error: unknown) => void
}

/**
 * The thread runs the same kind of file as this one: JavaScript from dist/,
 * or TypeScript under tsx, whose loader a worker thread does not inherit on
 * Node 20 (tsx issue #354): the thread registers it before loading the file.
 */
function startThread(workerData: ReadThreadData): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./jobs.read-thread.js', import.meta.url), { workerData })
  const file = new URL('./jobs.read-thread.ts', import.meta.url).href
  const tsx = import.meta.resolve('tsx/esm/api')
  return new Worker(`import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(file)}) })`, { eval: true, workerData })
}

class ReadThread implements JobReads {
  readonly #db: Kysely<Database>
  readonly #log: FastifyBaseLogger
  readonly #worker: Worker
  #state: 'starting' | 'ready' | 'stopped' = 'starting'
  #next: Waiting[] = []
  #batches = 0
  readonly #sent = new Map<number, Waiting[]>()
  #answeredOnThread = 0
  readonly ready: Promise<void>
  #started!: () => void

  constructor(db: Kysely<Database>, databaseUrl: string, log: FastifyBaseLogger) {
    this.#db = db
    this.#log = log
    const started = new Promise<void>((resolve) => (this.#started = resolve))
    this.ready = Promise.race([started, new Promise<void>((resolve) => setTimeout(resolve, START_TIMEOUT_MS).unref())])
    this.#worker = startThread({ databaseUrl })
    // It must not keep a process alive that has nothing else to do.
    this.#worker.unref()
    this.#worker.on('message', (message: { ready: true } | { batch: number; answers: ReadAnswer[] }) => {
      if ('ready' in message) {
        if (this.#state === 'starting') this.#state = 'ready'
        this.#started()
      } else {
        this.#answered(message.batch, message.answers)
      }
    })
    this.#worker.on('error', (error) => this.#stop(error))
    this.#worker.on('exit', (code) => this.#stop(new Error(`the job read thread exited with code ${code}`)))
  }

  get answeredOnThread(): number {
    return this.#answeredOnThread
  }

  /**
   * A batch holds the reads of one turn of the event loop and goes to the
   * thread at its end (`setImmediate`). Each message wakes the thread, which
   * costs the event loop more than the message itself: one batch per turn
   * against one every 2 reads (`bench:ab`, 3 and 4 rounds × 8 s): `get_job`
   * 1.04 × and 1.01 ×, `mixed` 1.08 × and 1.075 ×, server CPU per request
   * 0.89–0.93 ×, p99 7.0–7.2 against 9.2–10.2 ms.
   */
  getJob(actor: Actor, jobId: number): Promise<JobAnswer> {
    if (this.#state !== 'ready') return getJob(this.#db, actor, jobId)
    return new Promise((resolve, reject) => {
      if (this.#next.length === 0) setImmediate(this.#send)
      this.#next.push({ actor, jobId, resolve, reject })
    })
  }

  readonly #send = () => {
    if (this.#next.length === 0) return
    const batch = ++this.#batches
    this.#sent.set(batch, this.#next)
    const reads = this.#next.flatMap(({ actor, jobId }) => [actor.companyId, jobId, actor.modules.has('assets') ? 1 : 0])
    this.#worker.postMessage({ batch, reads } satisfies ReadBatch)
    this.#next = []
  }

  #answered(batch: number, answers: ReadAnswer[]) {
    const waiting = this.#sent.get(batch)
    if (!waiting) return
    this.#sent.delete(batch)
    waiting.forEach((read, i) => {
      const answer = answers[i]
      if (Array.isArray(answer)) {
        this.#answeredOnThread++
        read.resolve({ json: answer[0], etag: answer[1] })
      } else if (answer === NOT_FOUND) {
        this.#answeredOnThread++
        read.reject(notFound('Job', read.jobId))
      } else {
        this.#readHere(read)
      }
    })
  }

  #readHere(read: Waiting) {
    getJob(this.#db, read.actor, read.jobId).then(read.resolve, read.reject)
  }

  /** The thread is gone (or closing): what it had not answered is read here, and so is everything after. */
  #stop(error?: unknown) {
    if (this.#state === 'stopped') return
    if (error) this.#log.warn({ err: error }, 'job read thread stopped: single jobs are read on the event loop from now on')
    this.#state = 'stopped'
    this.#started()
    for (const waiting of this.#sent.values()) waiting.forEach((read) => this.#readHere(read))
    this.#sent.clear()
    // Reads not yet sent (the end of the turn would have sent them): read here too.
    this.#next.forEach((read) => this.#readHere(read))
    this.#next = []
  }

  async close(): Promise<void> {
    this.#stop()
    await this.#worker.terminate()
  }
}

/** Single-job reads for `fsm serve`: on their own thread on a SQLite file, on the event loop otherwise. */
export function jobReads(database: DatabaseHandle, options: { thread: boolean; log: FastifyBaseLogger }): JobReads {
  const file = database.sqliteFile
  // A second connection to `:memory:` would open a database of its own.
  return options.thread && file !== undefined && file !== ':memory:' ? new ReadThread(database.db, `sqlite:${file}`, options.log) : readsHere(database.db)
}
