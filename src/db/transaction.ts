/**
 * Write transactions. PostgreSQL: one transaction per call, retried whole on
 * a serialization failure or deadlock (DESIGN.md, durability defaults).
 * SQLite: group commit (issue 6).
 *
 * SQLite runs one write transaction at a time, and most of a small write's
 * cost is its commit: every page it changed is appended to the WAL with two
 * system calls, plus the locking around it (about 200 µs for a status
 * change, more than all its statements together). Writes that arrive while
 * one is running therefore share a transaction: they run one after the
 * other, and one COMMIT makes the whole group durable. Pages that every
 * write touches (counts, the write sequence, the ends of the history and
 * updated_at indexes) are written once per group.
 *
 * No write runs in a savepoint of its own. A savepoint copies every page
 * its write touches to a sub-journal first, which SQLite keeps in memory
 * only up to 64 KiB (temp_store = FILE, connect.ts) and then writes to a
 * temporary file: 30% of the event loop's time in creates, 7% in PUTs
 * (docs/performance.md, "Group commit without savepoints"). A write
 * that fails has almost always failed before writing anything (a
 * reference, a precondition, a job's status), which the connection's count
 * of changed rows shows; the rare one that fails after writing rolls back
 * the whole group, and the others of it run again, in order, in the next.
 *
 * What each caller sees is unchanged:
 *   - a write whose work throws fails alone, at once, and nothing of it is
 *     kept; the writes of its group before it are run again if it had
 *     written anything (their work may run more than once, as on PostgreSQL,
 *     where a transaction is retried whole);
 *   - a write that succeeded resolves only after the COMMIT that made it
 *     durable; if that COMMIT fails, every write of the group fails;
 *   - writes run one after the other, each seeing the ones before it, as
 *     separate transactions would in that order; reads outside wait for the
 *     group to commit (they queue behind it on the connection), so nothing
 *     uncommitted is ever read.
 */
import type { Kysely } from 'kysely'
import type { Database } from './types.ts'
import { isRetryableTransactionError } from './dialect.ts'
import { isTransactionHandle, registerSqliteTransaction, sqliteConnectionOf, type DirectSqlite } from './prepared.ts'

type Db = Kysely<Database>

const MAX_ATTEMPTS = 5
/** Writes in one SQLite group at most, so reads waiting behind it are not held up for long. */
const MAX_GROUP = 32
/** The longest sleep between two tries for the SQLite write lock another process holds. */
const WRITE_LOCK_RETRY_MAX_MS = 20

/**
 * What must commit together with a write, given the write's result: an
 * idempotent request's answer (http/idempotency.ts), so that no crash can
 * leave the write done and its answer unrecorded.
 */
export type BeforeCommit<T> = (trx: Db, result: T) => Promise<void>

/**
 * Runs `work` in one transaction; `trx` is the handle to run its queries on.
 * `beforeCommit`, if given, runs in the same transaction after `work`. On
 * a transaction's handle, `work` joins that transaction (a caller that
 * makes several writes one, as the demo's seeding does).
 */
export async function inTransaction<T>(db: Db, work: (trx: Db) => Promise<T>, beforeCommit?: BeforeCommit<T>): Promise<T> {
  if (beforeCommit) {
    const bare = work
    work = async (trx) => {
      const result = await bare(trx)
      await beforeCommit(trx, result)
      return result
    }
  }
  if (isTransactionHandle(db)) return work(db)
  const sqlite = sqliteConnectionOf(db)
  if (sqlite) return groupCommitterOf(db, sqlite).run(work)
  return retried(() => db.transaction().execute(work))
}

/** PostgreSQL: `attempt` again after a serialization failure or deadlock (it was rolled back whole). */
async function retried<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt()
    } catch (error) {
      if (tries >= MAX_ATTEMPTS || !isRetryableTransactionError(error)) throw error
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * tries))
    }
  }
}

/**
 * A write of one statement, atomic by itself. On SQLite it joins the group
 * commit all the same: a COMMIT of its own costs more than the statement
 * (an idempotency claim: docs/performance.md). On PostgreSQL it runs alone,
 * without the BEGIN and COMMIT round trips a transaction would add, and
 * again if it was rolled back by a deadlock, as a transaction would be.
 */
export function singleWrite<T>(db: Db, write: (trx: Db) => Promise<T>): Promise<T> {
  if (isTransactionHandle(db)) return write(db)
  const sqlite = sqliteConnectionOf(db)
  return sqlite ? groupCommitterOf(db, sqlite).run(write) : retried(() => write(db))
}

/** Where a group of SQLite writes waited (see `watchWriteStalls`). */
export type WriteStallPhase = 'checkpoint catch-up' | 'write lock' | 'commit'

export interface WriteStall {
  phase: WriteStallPhase
  /** How long it took, in milliseconds; every write of the group (and any read queued behind it) waited as long. */
  waitedMs: number
  /** Writes queued when it ended (for a catch-up or the write lock) or committed by it. */
  writes: number
  /** Writes that gave up waiting for the write lock (busy_timeout) and were answered 503, if any. */
  refused?: number
}

interface StallWatch {
  thresholdMs: number
  listener: (stall: WriteStall) => void
}

const stallWatches = new WeakMap<Db, StallWatch>()

/**
 * Calls `listener` whenever a group of writes on `db` (SQLite) waits
 * `thresholdMs` or longer in one step: a checkpoint catch-up
 * (checkpointer.ts), the write lock held by another process
 * (`busy_timeout`), or a COMMIT (one that runs SQLite's own checkpoint, the
 * backstop, syncs the file). Each normally takes a few milliseconds; far
 * longer means a disk slow to sync or a process holding the lock, and every
 * write waits meanwhile (during the lock and a COMMIT, reads too: SQLite is
 * synchronous). One listener per database; a later call replaces it. Does
 * nothing on PostgreSQL, where such waits are the server's to report.
 */
export function watchWriteStalls(db: Db, thresholdMs: number, listener: (stall: WriteStall) => void): void {
  stallWatches.set(db, { thresholdMs, listener })
}

interface QueuedWrite {
  work: (trx: Db) => Promise<unknown>
  resolve(value: unknown): void
  reject(error: unknown): void
  /** performance.now() when it was queued: it waits for the write lock at most busy_timeout from then. */
  queuedAt: number
}

const committers = new WeakMap<Db, GroupCommitter>()

function groupCommitterOf(db: Db, sqlite: DirectSqlite): GroupCommitter {
  let committer = committers.get(db)
  if (!committer) committers.set(db, (committer = new GroupCommitter(db, sqlite)))
  return committer
}

class GroupCommitter {
  readonly #db: Db
  readonly #sqlite: DirectSqlite
  readonly #queue: QueuedWrite[] = []
  #draining = false
  /**
   * The connection's busy_timeout (connect.ts): how long its reads wait for
   * a lock, and how long a group waits for the write lock (then its writes
   * fail: 503).
   */
  readonly #busyTimeoutMs: number

  constructor(db: Db, sqlite: DirectSqlite) {
    this.#db = db
    this.#sqlite = sqlite
    this.#busyTimeoutMs = sqlite.sqlite.pragma('busy_timeout', { simple: true }) as number
  }

  /** Transaction control, straight on the connection this group holds. */
  #exec(statement: string): void {
    this.#sqlite.statement(statement).run()
  }

  /**
   * Rows inserted, updated or deleted on the connection so far (SQLite's
   * total_changes(), which a statement rolled back by its own error does not
   * move): unchanged across a write's work means it wrote nothing.
   */
  #totalChanges(): number {
    return (this.#sqlite.statement('select total_changes()').raw(true).get() as [number])[0]
  }

  /** Tells the watcher, if any, of a step that began at `since` (performance.now()) and took long. */
  #timed(phase: WriteStallPhase, since: number, writes: number, refused = 0): void {
    const watch = stallWatches.get(this.#db)
    if (!watch) return
    const waitedMs = performance.now() - since
    if (waitedMs < watch.thresholdMs) return
    try {
      watch.listener({ phase, waitedMs, writes, ...(refused > 0 && { refused }) })
    } catch {
      // A watcher never fails a write.
    }
  }

  run<T>(work: (trx: Db) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, resolve: resolve as (value: unknown) => void, reject, queuedAt: performance.now() })
      if (!this.#draining) void this.#drain()
    })
  }

  async #drain(): Promise<void> {
    this.#draining = true
    try {
      while (this.#queue.length > 0) {
        // With background checkpoints: let the WAL start over if it has grown (checkpointer.ts).
        const pause = this.#sqlite.beforeWrites?.()
        if (pause) {
          const since = performance.now()
          await pause
          this.#timed('checkpoint catch-up', since, this.#queue.length)
        }
        // While another process holds the write lock, wait for it here, off
        // the connection, and try again: SQLite's own wait (busy_timeout)
        // sleeps inside the statement, which held the event loop, and so
        // every read, for as long as the lock was held.
        const since = performance.now()
        let retryMs = 1
        while (!(await this.#db.connection().execute((connection) => this.#group(connection, since)))) {
          await new Promise((resolve) => setTimeout(resolve, retryMs))
          retryMs = Math.min(retryMs * 2, WRITE_LOCK_RETRY_MAX_MS)
        }
        // Let reads queued behind the group take the connection before the next group.
        await new Promise((resolve) => setImmediate(resolve))
      }
    } catch (error) {
      // Only reached if the connection could not be had at all.
      for (const write of this.#queue.splice(0)) write.reject(error)
    } finally {
      this.#draining = false
    }
  }

  /**
   * Takes the write lock without waiting for it: false if another
   * connection holds it. The connection's busy_timeout stays for its reads.
   */
  #tryBegin(): boolean {
    // Cached statements (sqlite.pragma() compiles one each call: 7 µs a group against 2).
    this.#sqlite.statement('pragma busy_timeout = 0').get()
    try {
      this.#exec('begin immediate')
      return true
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_BUSY') return false
      throw error
    } finally {
      this.#sqlite.statement(`pragma busy_timeout = ${this.#busyTimeoutMs}`).get()
    }
  }

  /**
   * One transaction: queued writes one after the other, then one COMMIT. False
   * when the write lock is held elsewhere and writes are still queued:
   * nothing was done, try again. The writes queued busy_timeout ago or
   * longer fail busy (503) meanwhile, each after its own wait.
   */
  async #group(connection: Db, since: number): Promise<boolean> {
    registerSqliteTransaction(this.#db, connection)
    try {
      if (!this.#tryBegin()) {
        // The queue is in the order writes came: those that have waited long enough are its head.
        const now = performance.now()
        let expired = 0
        while (expired < this.#queue.length && now - this.#queue[expired]!.queuedAt >= this.#busyTimeoutMs) expired++
        if (expired > 0) {
          const error = Object.assign(new Error('database is locked (another process has held the write lock too long)'), { code: 'SQLITE_BUSY' })
          for (const write of this.#queue.splice(0, expired)) write.reject(error)
          // A stall too, which the log names as such (only a wait that ended with the lock was before).
          this.#timed('write lock', since, this.#queue.length, expired)
        }
        return this.#queue.length === 0
      }
      this.#timed('write lock', since, this.#queue.length)
    } catch (error) {
      // The write lock could not be had: fail the writes waiting now.
      for (const write of this.#queue.splice(0)) write.reject(error)
      return true
    }
    const done: Array<{ write: QueuedWrite; value: unknown }> = []
    try {
      for (let n = 0; n < MAX_GROUP && this.#queue.length > 0; n++) {
        const write = this.#queue.shift()!
        const changesBefore = this.#totalChanges()
        let value: unknown
        try {
          value = await write.work(connection)
        } catch (error) {
          // SQLite rolled the transaction back itself (a full disk, an I/O
          // error): nothing of the group is kept, and the COMMIT's catch
          // below fails the rest.
          if (!this.#sqlite.sqlite.inTransaction) {
            write.reject(error)
            throw error
          }
          // Failed before writing anything: the group goes on without it.
          if (this.#totalChanges() === changesBefore) {
            write.reject(error)
            continue
          }
          // Failed after writing: undo the group and run the writes before it again.
          write.reject(error)
          this.#exec('rollback')
          this.#queue.unshift(...done.map((d) => d.write))
          return true
        }
        done.push({ write, value })
      }
      const since = performance.now()
      this.#exec('commit')
      this.#timed('commit', since, done.length)
    } catch (error) {
      // The COMMIT failed, or SQLite ended the transaction: nothing of the group is kept.
      try {
        if (this.#sqlite.sqlite.inTransaction) this.#exec('rollback')
      } catch {
        // SQLite rolls back by itself when it cannot go on; `error` says why.
      }
      for (const { write } of done) write.reject(error)
      return true
    }
    for (const { write, value } of done) write.resolve(value)
    return true
  }
}
