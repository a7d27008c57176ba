/**
 * The thread behind jobs.reader.ts: reads single jobs (`GET ?id=`) and pages
 * of the list (`GET` without `id`) on a read-only connection of its own, and
 * answers them as the server thread would, with the same functions
 * (`getJob`, `listJobs`), so the answers are the same byte for byte. It
 * remembers list pages as the server thread does (JobListCaches, checked
 * against the company's job write sequence). The server thread serves a
 * page it was handed while the company's write sequence stands, so pages
 * come here to be built, and to be checked or rebuilt after job writes.
 *
 * A page's serialised envelope is handed over, not shared: its memory moves
 * to the server thread with the message (a transfer copies nothing), and
 * this thread keeps none of it. A page sent once is not sent again: the
 * answer says that the server thread's copy holds at the new sequence.
 * Envelopes kept here in shared memory for as long as their page was
 * remembered piled up under writes (V8 frees such memory only when it
 * collects the objects holding it, and it collected this thread's old
 * generation rarely): the process's peak resident memory in the
 * benchmark was 264–272 MB, against 222–229 with envelopes handed over,
 * for the same requests a second (docs/performance.md).
 *
 * Protocol (plain data; a closure cannot cross threads):
 *   in:  { batch, reads: [companyId, jobId, withAssets (0 or 1), …],
 *          lists: [[companyId, query, holdsCopy (0 or 1)], …] }
 *        where `holdsCopy` says whether the server thread had a copy of
 *        that page, at any sequence, when it asked
 *   out: { ready: true } once the connection is open, then per batch
 *        { batch, answers: [ [json, etag] | NOT_FOUND | FAILED, … ],
 *          pages: [ [envelope without request id (UTF-8), total pages, write sequence, read at]
 *                   | [write sequence, read at] (Held: the copy held is the page at this sequence)
 *                   | FAILED, … ] }
 *        with each envelope's ArrayBuffer in the message's transfer list;
 *        `read at` is [names sequence, cells' write sequence or undefined]
 *        (ReadAt: what lets the server thread tell by itself that its
 *        copy of a list filtered by status and priority still holds);
 *        and before each batch's answer goes, the count of batches read,
 *        in memory shared with the server thread (ReadThreadData.progress).
 * A read that fails for any reason but "no such job" is answered FAILED and
 * read again on the server thread, which answers its error as always. The
 * actor crosses as its company and whether it has the assets module: all
 * that `getJob` and `listJobs` look at (a test compares the two threads'
 * answers).
 */
import { readlinkSync } from 'node:fs'
import { getPriority, setPriority } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import fastJsonStringify from 'fast-json-stringify'
import { connect } from '../../db/connect.ts'
import { sqliteConnectionOf } from '../../db/prepared.ts'
import { ApiError } from '../../http/errors.ts'
import type { PageResult } from '../../http/replies.ts'
import { Pagination } from '../../http/schemas.ts'
import type { Actor } from '../actor.ts'
import { JobListCaches } from './jobs.pages.ts'
import { JobListItem, type JobListItemView, type JobListQueryInput } from './jobs.schemas.ts'
import { getJob, listJobsAt, listRequestOf } from './jobs.service.ts'
import { readListSeqs, type ListSeqs } from './jobs.write-record.ts'

export const NOT_FOUND = 0
export const FAILED = 1
export type ReadAnswer = [json: string, etag: string] | typeof NOT_FOUND | typeof FAILED
/**
 * A page, the company's job write sequence it holds at (its remembered
 * copy on the event loop is served while that stands) and what it was read
 * at; or only those two, when the copy the server thread holds is still
 * the page.
 */
export type PageAnswer = [envelope: Uint8Array, totalPages: number, writeSeq: number, readAt: ReadAt] | Held | typeof FAILED
export type Held = [writeSeq: number, readAt: ReadAt]
/**
 * The sequences a page's jobs and names were last read or checked at (its
 * PageProof's): the company's names sequence, and for a list filtered by
 * status and priority alone its count cells' write sequence. While both
 * stand, the page holds at any later write sequence (jobs.reader.ts).
 */
export type ReadAt = [namesSeq: number, cellsSeq: number | undefined]

export interface ReadThreadData {
  databaseUrl: string
  /**
   * Shared with the server thread: how many batches this thread has read
   * (an Int32Array's one element, wrapping past 2^31), counted as each is
   * answered, so that the server thread can tell whether this thread is
   * reading without waiting for its own next turn to take the answers
   * (jobs.reader.ts, THREAD_BUSY_BATCHES).
   */
  progress: SharedArrayBuffer
}

export interface ReadBatch {
  batch: number
  reads: number[]
  lists: Array<[companyId: number, query: JobListQueryInput, holdsCopy: 0 | 1]>
}

export interface BatchAnswers {
  batch: number
  answers: ReadAnswer[]
  pages: PageAnswer[]
}

const ASSETS: ReadonlySet<string> = new Set(['assets'])
const NONE: ReadonlySet<string> = new Set()
const actorOf = (companyId: number, withAssets: number | boolean): Actor => ({ companyId, keyId: null, modules: withAssets ? ASSETS : NONE })

async function answer(db: Parameters<typeof getJob>[0], companyId: number, jobId: number, withAssets: number): Promise<ReadAnswer> {
  try {
    const { json, etag } = await getJob(db, actorOf(companyId, withAssets), jobId)
    return [json, etag]
  } catch (error) {
    return error instanceof ApiError && error.code === 'not_found' ? NOT_FOUND : FAILED
  }
}

// The parts pageEnvelope (below) builds a page from.
const serializeItem = fastJsonStringify(JobListItem)
const serializePagination = fastJsonStringify(Pagination)
const utf8 = new TextEncoder()
const DATA_OPEN = utf8.encode('{"data":[')
const COMMA = 0x2c
/** Each list item's JSON as UTF-8, for as long as a page holds the item (items are never changed: a job written is a new item). */
const itemBytes = new WeakMap<JobListItemView, Uint8Array>()

/** PageResult's items are untyped; a job list's are JobListItemViews. */
function bytesOf(item: unknown): Uint8Array {
  const listItem = item as JobListItemView
  let bytes = itemBytes.get(listItem)
  if (bytes === undefined) itemBytes.set(listItem, (bytes = utf8.encode(serializeItem(listItem))))
  return bytes
}

/**
 * A page's envelope without its request id (what pageJsonWithoutId makes
 * with the list schema's serialiser), as UTF-8 in memory of its own, so
 * that it can be handed over (a Buffer from Node's pool cannot), built from
 * each item's bytes. After a job write a page is mostly the items it
 * showed before (listJobsAt keeps the item of every job still at the row
 * version it showed), so each item is serialised and encoded once, and a
 * page rebuilt copies their bytes. In `mixed` (fourth 2026-12-02 session)
 * serialising and encoding a rebuilt page took 170–240 µs of the read
 * thread, ~1,600 pages every 5 s; in a loop, a 50-job page with one new
 * job took 65 µs that way and 10 µs this way (docs/performance.md).
 *
 * The serialisers are compiled as Fastify compiles the route's (its
 * default serializer compiler: fast-json-stringify, no shared schemas or
 * options), and the envelope is ListEnvelope's properties in order, so the
 * bytes are the ones the server thread would send (a test compares them).
 */
export function pageEnvelope(page: PageResult): Uint8Array {
  const items = page.data.map(bytesOf)
  const tail = utf8.encode(`],"pagination":${serializePagination(page.pagination)},`)
  let length = DATA_OPEN.length + Math.max(items.length - 1, 0) + tail.length
  for (const item of items) length += item.length
  const envelope = new Uint8Array(length)
  envelope.set(DATA_OPEN)
  let at = DATA_OPEN.length
  items.forEach((item, i) => {
    if (i > 0) envelope[at++] = COMMA
    envelope.set(item, at)
    at += item.length
  })
  envelope.set(tail, at)
  return envelope
}

/**
 * The pages sent to the server thread. Once a page has been sent, the
 * server thread's copy of its list is that page: this thread's cache keeps
 * one page per list, from when it is built until a new one replaces it,
 * and answers every request for the list with it; the server thread takes
 * the answers in the order they were sent. So a page sent before is
 * answered as held if the server thread had a copy when it asked, or if
 * the page was sent earlier in the same batch. (A server thread without a
 * copy may have dropped the page for others since it was sent, and would
 * then have to read it itself.)
 */
const sent = new WeakSet<PageResult>()

async function pageOf(
  db: Parameters<typeof listJobsAt>[0],
  caches: JobListCaches,
  [companyId, query, holdsCopy]: ReadBatch['lists'][number],
  batch: { sent: Set<PageResult>; seqs: Map<number, ListSeqs> },
): Promise<PageAnswer> {
  try {
    // The batch's read transaction: the page is read in the snapshot the
    // sequences were, so they are read once a batch for each company.
    let seqs = batch.seqs.get(companyId)
    if (seqs === undefined) batch.seqs.set(companyId, (seqs = await readListSeqs(db, companyId)))
    // Lists show no asset links: the module does not change a page.
    const request = listRequestOf(companyId, query)
    const page = await listJobsAt(db, actorOf(companyId, false), request, caches, seqs)
    const proof = caches.answers.stale(request.cacheKey)?.proof
    const readAt: ReadAt = [proof?.namesSeq ?? seqs.namesSeq, proof?.cellsSeq]
    if (sent.has(page) && (holdsCopy || batch.sent.has(page))) return [seqs.writeSeq, readAt]
    const envelope = pageEnvelope(page)
    sent.add(page)
    batch.sent.add(page)
    return [envelope, page.pagination.total_pages, seqs.writeSeq, readAt]
  } catch {
    return FAILED
  }
}

/** The envelopes in a batch's pages, whose memory goes with the message. */
function envelopesIn(pages: PageAnswer[]): ArrayBuffer[] {
  return pages.flatMap((page) => (page !== FAILED && page.length === 4 ? [page[0].buffer as ArrayBuffer] : []))
}

/**
 * How much nicer than the process this thread runs (Linux nice values: 5
 * more; 19 at most). At the event loop's priority, V8's profile put 18.8%
 * of the event loop's time in `postMessage`, which wakes this thread, where
 * `perf` counted ~5% of its CPU there: the rest was the event loop waiting
 * for its core back. `bench:ab` against the same priority (seventh
 * 2026-12-02 session, 3–4 rounds × 8 s): `get_job` 1.150 ×, 1.117 × and
 * 1.021 ×, server CPU a request 0.81 ×, 0.80 × and 0.95 ×; `mixed`
 * 1.065 ×. At 10: `get_job` 1.007 ×, the event loop 88% busy, reading more
 * jobs itself while this thread waited for a core (THREAD_BUSY_BATCHES in
 * jobs.reader.ts); `mixed` 0.971 ×.
 */
export const READ_THREAD_PRIORITY_DROP = 5

/**
 * Lowers the calling thread's priority by `drop` nice values. On Linux a
 * nice value belongs to each thread, named by its id (`/proc/thread-self`,
 * which Node does not otherwise tell). Elsewhere, or where it fails, the
 * thread keeps the process's priority: an optimisation, never a need.
 */
function lowerThreadPriority(drop: number): void {
  try {
    const threadId = Number(readlinkSync('/proc/thread-self').split('/').pop())
    setPriority(threadId, Math.min(19, getPriority(threadId) + drop))
  } catch {
    // Not Linux, or not allowed: the process's priority.
  }
}

if (parentPort && workerData) {
  const port = parentPort
  const { databaseUrl, progress } = workerData as ReadThreadData
  const batchesRead = new Int32Array(progress)
  lowerThreadPriority(READ_THREAD_PRIORITY_DROP)
  const { db } = connect(databaseUrl, { sqliteReadOnly: true })
  const connection = sqliteConnectionOf(db)!
  const caches = new JobListCaches()
  // The reads of one batch share one read transaction (turn-reads.ts), so
  // one snapshot, taken at its first read, after every one of them arrived.
  // It ends with the batch, not with this thread's turn: batches that
  // arrive while one is read are handled in the same turn, and one of them
  // may be a read sent after a write the snapshot predates was answered.
  port.on('message', async ({ batch, reads, lists }: ReadBatch) => {
    const answers: ReadAnswer[] = []
    const pages: PageAnswer[] = []
    try {
      for (let i = 0; i < reads.length; i += 3) answers.push(await answer(db, reads[i]!, reads[i + 1]!, reads[i + 2]!))
      const inBatch = { sent: new Set<PageResult>(), seqs: new Map<number, ListSeqs>() }
      for (const list of lists) pages.push(await pageOf(db, caches, list, inBatch))
    } finally {
      connection.reads.end()
    }
    // Counted before the answer goes, so that the server thread never takes an answer the count does not hold yet.
    Atomics.add(batchesRead, 0, 1)
    port.postMessage({ batch, answers, pages } satisfies BatchAnswers, envelopesIn(pages))
  })
  port.postMessage({ ready: true })
}
