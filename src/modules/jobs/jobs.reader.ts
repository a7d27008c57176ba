/**
 * `GET /api/v1/jobs` on SQLite, read on a thread of its own (issue 6): a
 * single job (`?id=`) and pages of the list.
 *
 * A single job is one random row of a large table: on the server's event
 * loop its read cost about four times what the same read costs in a loop
 * by itself (docs/performance.md, "A thread for single-job reads"), since
 * every new page it copies in pushes the HTTP work out of the core's
 * caches. A page of the list is mostly answered from memory, but every job
 * write makes the next request check it, and often read part of it again
 * and serialise it anew: under writes that was a third of the event loop's
 * time ("Lists on the read thread"). A read-only connection on a second
 * thread reads both instead, in batches: the event loop hands over the
 * reads of each of its turns, and sends the answers (the same bytes, made
 * by the same functions) as they come back. What a reader sees does not
 * change (docs/decisions.md, "Reads on a second connection"): each batch
 * reads one snapshot taken after all its requests arrived, so it sees
 * every write answered before them.
 *
 * Until the thread has opened its connection, and for good if it fails,
 * jobs are read on the event loop as before; so is any read the thread
 * could not answer for a reason other than "no such job", so that its
 * error is answered as always, and a single job asked for while the
 * thread is reading (THREAD_BUSY_BATCHES).
 */
import { Worker } from 'node:worker_threads'
import type { FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import type { DatabaseHandle } from '../../db/connect.ts'
import type { Database } from '../../db/types.ts'
import { notFound } from '../../http/errors.ts'
import { serialisedPage, type PageResult } from '../../http/replies.ts'
import type { Actor } from '../actor.ts'
import { JobListCaches, ListAnswers } from './jobs.pages.ts'
import { FAILED, NOT_FOUND, type BatchAnswers, type PageAnswer, type ReadAnswer, type ReadAt, type ReadBatch, type ReadThreadData } from './jobs.read-thread.ts'
import { countJobsAndCellsSeq, filteredByCellsAlone } from './jobs.list-queries.ts'
import type { JobListQueryInput } from './jobs.schemas.ts'
import { getJob, listJobs, listRequestOf, type ListRequest } from './jobs.service.ts'
import { readListSeqs } from './jobs.write-record.ts'

/** A job as `GET ?id=` answers it: its JSON (the answer's `data`) and ETag. */
export interface JobAnswer {
  json: string
  etag: string
}

export interface JobReads {
  getJob(actor: Actor, jobId: number): Promise<JobAnswer>
  /** A page of the list, with its exact total (jobs.service.ts, listJobs). */
  listJobs(actor: Actor, query: JobListQueryInput): Promise<PageResult>
  /** Resolves once reads go where they will (the thread has opened its connection, or failed to). */
  readonly ready: Promise<void>
  /** How many reads the thread has answered (tests check that it did). */
  readonly answeredOnThread: number
  close(): Promise<void>
}

/** Reads on the event loop: PostgreSQL (its reads already run in the database's processes), tests, the CLI. */
function readsHere(db: Kysely<Database>): JobReads {
  const caches = new JobListCaches()
  return {
    getJob: (actor, jobId) => getJob(db, actor, jobId),
    listJobs: (actor, query) => listJobs(db, actor, query, caches),
    ready: Promise.resolve(),
    answeredOnThread: 0,
    close: async () => {},
  }
}

/**
 * While the thread has this many batches still to read, a single job is
 * read on the event loop instead of joining the queue (lists always go to
 * the thread: a page rebuilt here costs far more than a job). Timed during
 * `get_job`: whenever a batch went, ~10 were still unanswered, and each
 * waited 0.7–0.9 ms before the thread began it (its reads took ~0.1 ms),
 * while the event loop was half idle. `bench:ab`, 5 rounds × 8 s:
 * `get_job` 1.119 × (every round above every round of the code before),
 * server CPU per request 0.889 ×; `mixed`, whose event loop is busier,
 * 0.935 × and 0.973 × in two comparisons (CPU 1.07 ×, 1.10 ×), within
 * the noise (docs/performance.md). That was at 6 batches. At 2, against 6
 * (fourth 2026-12-01 session; lists are on the thread since, and in
 * `mixed` a read's round trip to the thread was ~4.5 ms, of which ~1.1 ms
 * its batch's reads and ~1.5 batches queued before it): `mixed` 1.084 ×
 * and 1.075 ×, `get_job` 1.055 × and 1.037 × (3 and 4 rounds × 8 s); at
 * 3, 1.011 × and 1.075 ×; at 1, 0.888 × and 0.775 × against 2.
 *
 * Those counted the batches whose answers the event loop had not taken
 * yet, answers waiting for its next turn among them: in `get_job` (sixth
 * 2026-12-02 session) 40% of single jobs were read here, the event loop
 * 73% busy and the thread about a third of a core. Counted as the thread
 * reads them (#batchesUnreadByThread), at 2: `get_job` 1.083 × then 0.989 ×,
 * `mixed` 0.984 × then 0.948 × (3 rounds × 8 s each); at 1, a job is read
 * here while the thread reads any batch: `get_job` 1.124 × and 1.127 ×
 * (3 and 4 rounds × 8 s; in the second every round above every round of the
 * code before), `mixed` 0.969 × and 1.042 ×, the event loop 80–81% busy
 * instead of 73–74%.
 */
const THREAD_BUSY_BATCHES = 1

/** The longest `ready` waits for the thread to start; reads stay on the event loop until it has. */
const START_TIMEOUT_MS = 10_000

interface JobWaiting {
  actor: Actor
  jobId: number
  resolve: (answer: JobAnswer) => void
  reject: (error: unknown) => void
}

interface ListWaiting {
  actor: Actor
  query: JobListQueryInput
  /** What it asks for and where its answer is remembered (listRequestOf). */
  request: Pick<ListRequest, 'page' | 'cacheKey'>
  resolve: (page: PageResult) => void
  reject: (error: unknown) => void
}

/** The reads of one batch, each kind in the order it came. */
interface Batch {
  jobs: JobWaiting[]
  lists: ListWaiting[]
}

const emptyBatch = (): Batch => ({ jobs: [], lists: [] })

/**
 * The thread's young generation, where V8 allocates first. Left to V8's
 * default it grew to the process's (up to 48 MB): under writes the thread
 * builds a page's items and envelope anew after most of them, and the
 * server's peak resident memory rose by ~55 MB, to 291–298 MB (the target
 * is 300). At 8 MB: 245–252 MB, with no difference in requests a second that
 * the noise let one see (2 runs each of `mixed`, 8 s).
 */
const THREAD_YOUNG_GENERATION_MB = 8

/**
 * The thread runs the same kind of file as this one: JavaScript from dist/,
 * or TypeScript under tsx, whose loader a worker thread does not inherit on
 * Node 20 (tsx issue #354): the thread registers it before loading the file.
 */
function startThread(workerData: ReadThreadData): Worker {
  const options = { workerData, resourceLimits: { maxYoungGenerationSizeMb: THREAD_YOUNG_GENERATION_MB } }
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./jobs.read-thread.js', import.meta.url), options)
  const file = new URL('./jobs.read-thread.ts', import.meta.url).href
  const tsx = import.meta.resolve('tsx/esm/api')
  return new Worker(`import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(file)}) })`, { ...options, eval: true })
}

/** Job reads handed to the thread of jobs.read-thread.ts (this class runs on the event loop). */
class ThreadedJobReads implements JobReads {
  readonly #db: Kysely<Database>
  readonly #log: FastifyBaseLogger
  readonly #worker: Worker
  /** For lists read on the event loop (before the thread is ready, after it stopped, after a failure). */
  readonly #caches = new JobListCaches()
  /**
   * The thread's pages as it last answered them, each served here while the
   * company's write sequence it holds at stands, or while the sequences it
   * was read at do (a list filtered by status and priority alone).
   */
  readonly #pages = new ListAnswers<PageResult, ReadAt>()
  #state: 'starting' | 'ready' | 'stopped' = 'starting'
  #next: Batch = emptyBatch()
  #batches = 0
  readonly #sent = new Map<number, Batch>()
  /** How many batches the thread has read, as it counts them in memory shared with it (ReadThreadData.progress). */
  readonly #batchesReadByThread = new Int32Array(new SharedArrayBuffer(4))
  #answeredOnThread = 0
  readonly ready: Promise<void>
  #started!: () => void

  /** Batches the thread has still to read, from which single jobs are read here (THREAD_BUSY_BATCHES). */
  readonly #busyBatches: number

  constructor(db: Kysely<Database>, databaseUrl: string, log: FastifyBaseLogger, busyBatches = THREAD_BUSY_BATCHES) {
    this.#db = db
    this.#log = log
    this.#busyBatches = busyBatches
    const started = new Promise<void>((resolve) => (this.#started = resolve))
    this.ready = Promise.race([started, new Promise<void>((resolve) => setTimeout(resolve, START_TIMEOUT_MS).unref())])
    this.#worker = startThread({ databaseUrl, progress: this.#batchesReadByThread.buffer as SharedArrayBuffer })
    // It must not keep a process alive that has nothing else to do.
    this.#worker.unref()
    this.#worker.on('message', (message: { ready: true } | BatchAnswers) => {
      if ('ready' in message) {
        if (this.#state === 'starting') this.#state = 'ready'
        this.#started()
      } else {
        this.#answered(message)
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
    if (this.#state !== 'ready' || this.#batchesUnreadByThread() >= this.#busyBatches) return getJob(this.#db, actor, jobId)
    return new Promise((resolve, reject) => {
      this.#sendAtTurnEnd()
      this.#next.jobs.push({ actor, jobId, resolve, reject })
    })
  }

  /**
   * A page the thread answered before is served here while the company's
   * job write sequence has not moved since: one read of the sequence, where
   * a hand-off to the thread costs more (when no job is written, most
   * requests are these). A page of a list filtered by status and priority
   * alone is served here too while no job of its count cells was written
   * and no name changed (one more small read: under `mixed`'s writes most
   * writes are to jobs of other cells). Otherwise the thread checks or
   * rebuilds it.
   */
  async listJobs(actor: Actor, query: JobListQueryInput): Promise<PageResult> {
    if (this.#state !== 'ready') return listJobs(this.#db, actor, query, this.#caches)
    const request = listRequestOf(actor.companyId, query)
    const seqs = await readListSeqs(this.#db, actor.companyId)
    const remembered = this.#pages.get(request.cacheKey, seqs.writeSeq)
    if (remembered) return remembered
    const copy = this.#pages.stale(request.cacheKey)
    if (copy && copy.proof[0] === seqs.namesSeq && copy.proof[1] !== undefined && filteredByCellsAlone(request.filters)) {
      // Read after the write sequence: if the cells' sequence still is the
      // copy's, no job of the list was written up to a moment at or after
      // the one the write sequence was read at, so the copy is the page there.
      const { cellsSeq } = await countJobsAndCellsSeq(this.#db, actor.companyId, request.filters)
      if (cellsSeq === copy.proof[1]) {
        // Confirmed only if no answer of the thread replaced it meanwhile (the read may have waited for a group of writes).
        if (this.#pages.stale(request.cacheKey) === copy) this.#pages.confirm(request.cacheKey, seqs.writeSeq)
        return copy.answer
      }
    }
    // The thread may have stopped meanwhile: nothing queued after that would be sent.
    if (this.#state !== 'ready') return listJobs(this.#db, actor, query, this.#caches)
    return new Promise((resolve, reject) => {
      this.#sendAtTurnEnd()
      this.#next.lists.push({ actor, query, request, resolve, reject })
    })
  }

  /**
   * Batches sent that the thread has not read yet. Not the batches whose
   * answers are still to be taken here (#sent): an answer waits for the
   * event loop's next turn, and counting those had jobs read here while the
   * thread idled.
   */
  #batchesUnreadByThread(): number {
    // The thread's count wraps past 2^31 and #batches does not: taken modulo 2^32 (| 0), the difference is exact while under 2^31.
    return (this.#batches - Atomics.load(this.#batchesReadByThread, 0)) | 0
  }

  #sendAtTurnEnd() {
    if (this.#next.jobs.length === 0 && this.#next.lists.length === 0) setImmediate(this.#send)
  }

  readonly #send = () => {
    const { jobs, lists } = this.#next
    if (jobs.length === 0 && lists.length === 0) return
    const batch = ++this.#batches
    this.#sent.set(batch, this.#next)
    this.#worker.postMessage({
      batch,
      reads: jobs.flatMap(({ actor, jobId }) => [actor.companyId, jobId, actor.modules.has('assets') ? 1 : 0]),
      lists: lists.map(({ actor, query, request }) => [actor.companyId, query, this.#pages.stale(request.cacheKey) ? 1 : 0]),
    } satisfies ReadBatch)
    this.#next = emptyBatch()
  }

  #answered({ batch, answers, pages }: BatchAnswers) {
    const waiting = this.#sent.get(batch)
    if (!waiting) return
    this.#sent.delete(batch)
    waiting.jobs.forEach((read, i) => this.#jobAnswered(read, answers[i]))
    waiting.lists.forEach((read, i) => this.#pageAnswered(read, pages[i]))
  }

  #jobAnswered(read: JobWaiting, answer: ReadAnswer | undefined) {
    if (Array.isArray(answer)) {
      this.#answeredOnThread++
      read.resolve({ json: answer[0], etag: answer[1] })
    } else if (answer === NOT_FOUND) {
      this.#answeredOnThread++
      read.reject(notFound('Job', read.jobId))
    } else {
      this.#jobHere(read)
    }
  }

  #pageAnswered(read: ListWaiting, answer: PageAnswer | undefined) {
    if (answer === undefined || answer === FAILED) return this.#listHere(read)
    const { cacheKey } = read.request
    if (answer.length === 2) {
      // The copy held here is still the page. It may have been dropped since the request went (more lists than are remembered came in between).
      const held = this.#pages.stale(cacheKey)
      if (!held) return this.#listHere(read)
      this.#answeredOnThread++
      this.#pages.confirm(cacheKey, answer[0], answer[1])
      return read.resolve(held.answer)
    }
    this.#answeredOnThread++
    const [envelope, totalPages, writeSeq, readAt] = answer
    // The envelope's memory was handed over with the message: not copied.
    const wire = Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength)
    const page = serialisedPage(wire, read.request.page, totalPages)
    this.#pages.set(cacheKey, writeSeq, page, readAt)
    read.resolve(page)
  }

  #jobHere(read: JobWaiting) {
    getJob(this.#db, read.actor, read.jobId).then(read.resolve, read.reject)
  }

  #listHere(read: ListWaiting) {
    listJobs(this.#db, read.actor, read.query, this.#caches).then(read.resolve, read.reject)
  }

  /** The thread is gone (or closing): what it had not answered is read here, and so is everything after. */
  #stop(error?: unknown) {
    if (this.#state === 'stopped') return
    if (error) this.#log.warn({ err: error }, 'job read thread stopped: jobs are read on the event loop from now on')
    this.#state = 'stopped'
    this.#started()
    // Reads not yet sent (the end of the turn would have sent them) are read here too.
    for (const { jobs, lists } of [...this.#sent.values(), this.#next]) {
      jobs.forEach((read) => this.#jobHere(read))
      lists.forEach((read) => this.#listHere(read))
    }
    this.#sent.clear()
    this.#next = emptyBatch()
  }

  async close(): Promise<void> {
    this.#stop()
    await this.#worker.terminate()
  }
}

/** Job reads for `fsm serve`: on their own thread on a SQLite file, on the event loop otherwise. */
export function jobReads(database: DatabaseHandle, options: { thread: boolean; log: FastifyBaseLogger; busyBatches?: number }): JobReads {
  const file = database.sqliteFile
  // A second connection to `:memory:` would open a database of its own.
  return options.thread && file !== undefined && file !== ':memory:'
    ? new ThreadedJobReads(database.db, `sqlite:${file}`, options.log, options.busyBatches)
    : readsHere(database.db)
}
