/**
 * SQLite WAL checkpoints on a worker thread (issue 6).
 *
 * A checkpoint copies the pages written to the WAL back into the database
 * file and syncs it. SQLite runs one by itself inside a COMMIT once the WAL
 * holds 1,000 pages, and better-sqlite3 is synchronous, so that COMMIT held
 * the event loop for the copy and its fsync: in a profile of `create_job`
 * the checkpoints were 15% of the server's CPU time, fsync included, and
 * every request waited behind them. With this, a worker thread with a
 * connection of its own runs a PASSIVE checkpoint every 50 ms, which copies
 * what no reader still needs and never blocks readers or the writer.
 *
 * SQLite starts the WAL over only when a write begins and finds every frame
 * copied back, which under a steady stream of writes never happens while
 * another thread is copying. So once the WAL has grown, the writer (the
 * group committer in transaction.ts) asks for a catch-up between two groups
 * of writes and waits for it: with no write running the worker copies the
 * rest, and the next write starts the WAL over. Reads go on meanwhile. The
 * server's connection still checkpoints by itself as a backstop (connect.ts
 * says when). If the worker stops for any reason, the server's connection
 * goes back to SQLite's default.
 *
 * The worker's code is a string (run with `eval`) so the same code runs
 * whether `fsm` runs the compiled JavaScript or the TypeScript sources; it
 * loads better-sqlite3 from the path resolved here.
 */
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

/**
 * How often the worker checkpoints. Measured before the backstop existed:
 * against every 250 ms or 1 s, every 50 ms gave the most creates and PUTs
 * per second (a run with nothing to copy costs a few µs).
 */
const INTERVAL_MS = 50

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { openSync, fdatasyncSync, closeSync } = require('node:fs')
const Database = require(workerData.driver)
const db = new Database(workerData.file)
db.pragma('busy_timeout = 1000')
// The database file, to flush what each checkpoint copied (see below).
const dbFile = openSync(workerData.file, 'r+')
let copied = 0
function checkpoint() {
  try {
    // [busy, frames in the WAL, frames copied back]
    const [row] = db.pragma('wal_checkpoint(PASSIVE)')
    return { busy: row.busy, log: row.log, checkpointed: row.checkpointed }
  } catch {
    // Busy (another process checkpoints, or a lock): next time.
    return null
  }
}
const timer = setInterval(() => {
  const outcome = checkpoint()
  if (!outcome) return
  // SQLite syncs the database file only when a checkpoint has copied the
  // whole WAL, which under steady writes is only a catch-up: flushing here
  // what this one copied leaves the catch-up (writes wait for it) little to
  // flush. Extra syncs change nothing else.
  if (outcome.checkpointed !== copied) {
    copied = outcome.checkpointed
    try {
      fdatasyncSync(dbFile)
    } catch {
      // The catch-up's own sync will do it.
    }
  }
  parentPort.postMessage(outcome)
}, workerData.intervalMs)
parentPort.on('message', (message) => {
  if (typeof message === 'object' && message.catchUp !== undefined) {
    parentPort.postMessage({ catchUp: message.catchUp, outcome: checkpoint() })
    return
  }
  if (message !== 'stop') return
  clearInterval(timer)
  checkpoint()
  db.close()
  closeSync(dbFile)
  parentPort.close()
})
`

export interface CheckpointOutcome {
  /** 1 if the checkpoint was blocked (another checkpoint held its lock); frames a reader still needs only leave `checkpointed` short of `log`. */
  busy: number
  /** Frames in the WAL when the checkpoint ran. */
  log: number
  /** Of those, frames copied back into the database file. */
  checkpointed: number
}

interface CatchUpReply {
  catchUp: number
  outcome: CheckpointOutcome | null
}

export interface Checkpointer {
  /** The outcome of the worker's last checkpoint, if it has run one. */
  readonly last: CheckpointOutcome | undefined
  /**
   * Frames in the WAL as the worker's last checkpoint found them; 0 after a
   * catch-up, until the worker's next checkpoint says how many there are
   * (the next write has started the WAL over, or a catch-up that could not
   * copy everything is not asked for again before then).
   */
  readonly walFrames: number
  /**
   * Checkpoints now, out of turn. Called while no write runs, this copies
   * every frame back, and the next write starts the WAL over. Resolves true
   * if every frame was copied; false if not, if the worker is gone, or if it
   * took longer than `timeoutMs`.
   */
  catchUp(timeoutMs: number): Promise<boolean>
  /** Stops the worker after one last checkpoint; resolves when it has exited. */
  stop(): Promise<void>
}

/**
 * Starts checkpointing `file` on a worker thread. `onStopped` runs if the
 * worker ends other than through `stop()` (the caller turns the
 * connection's own checkpoints back on).
 */
export function startCheckpointer(file: string, onStopped: (error?: unknown) => void, intervalMs = INTERVAL_MS): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3')
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, intervalMs } })
  // The worker must not keep a finished process alive (close() stops it anyway).
  worker.unref()
  let last: CheckpointOutcome | undefined
  /**
   * Set when a catch-up ends, to the frames it left in the WAL (-1 if it did
   * not answer); cleared by the first periodic checkpoint that finds the WAL
   * at another size (one that finds the same size says nothing new: the
   * write that starts the WAL over may be still to come).
   */
  let caughtUpAt: number | undefined
  let stopping = false
  let exited = false
  let failure: unknown
  /** The catch-up waiting for its answer, if any (one at a time; numbered so a late answer is not taken for a newer one's). */
  let pending: { id: number; promise: Promise<boolean>; settle(copiedAll: boolean, walFrames?: number): void } | undefined
  let catchUps = 0
  worker.on('message', (message: CheckpointOutcome | CatchUpReply) => {
    if ('catchUp' in message) {
      if (message.catchUp !== pending?.id) return
      const outcome = message.outcome
      if (outcome) last = outcome
      pending.settle(outcome !== null && outcome.busy === 0 && outcome.checkpointed === outcome.log, outcome?.log)
      return
    }
    last = message
    if (message.log !== caughtUpAt) caughtUpAt = undefined
  })
  worker.on('error', (error) => {
    failure = error
  })
  const whenExited = new Promise<void>((resolve) => {
    worker.once('exit', () => {
      exited = true
      pending?.settle(false)
      if (!stopping) onStopped(failure)
      resolve()
    })
  })
  return {
    get last() {
      return last
    },
    get walFrames() {
      return caughtUpAt !== undefined ? 0 : (last?.log ?? 0)
    },
    catchUp(timeoutMs) {
      if (stopping || exited) return Promise.resolve(false)
      if (pending) return pending.promise
      const id = ++catchUps
      let settle!: (copiedAll: boolean, walFrames?: number) => void
      const promise = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => settle(false), timeoutMs)
        timer.unref()
        settle = (copiedAll, walFrames = -1) => {
          clearTimeout(timer)
          caughtUpAt = walFrames
          if (pending?.id === id) pending = undefined
          resolve(copiedAll)
        }
      })
      pending = { id, promise, settle }
      worker.postMessage({ catchUp: id })
      return promise
    },
    async stop() {
      stopping = true
      // Keep the process alive until the worker has finished its last checkpoint.
      worker.ref()
      worker.postMessage('stop')
      await whenExited
    },
  }
}
