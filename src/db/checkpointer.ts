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
 * what no reader still needs and never blocks readers or the writer. The
 * server's connection checkpoints only as a backstop (connect.ts says why),
 * when the worker has already copied nearly everything. If the worker stops
 * for any reason, the server's connection goes back to SQLite's default.
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
const Database = require(workerData.driver)
const db = new Database(workerData.file)
db.pragma('busy_timeout = 1000')
function checkpoint() {
  try {
    // [busy, frames in the WAL, frames copied back]
    const [row] = db.pragma('wal_checkpoint(PASSIVE)')
    parentPort.postMessage({ log: row.log, checkpointed: row.checkpointed })
  } catch {
    // Busy (another process checkpoints, or a lock): next time.
  }
}
const timer = setInterval(checkpoint, workerData.intervalMs)
parentPort.on('message', (message) => {
  if (message !== 'stop') return
  clearInterval(timer)
  checkpoint()
  db.close()
  parentPort.close()
})
`

export interface CheckpointOutcome {
  /** Frames in the WAL when the checkpoint ran. */
  log: number
  /** Of those, frames copied back into the database file. */
  checkpointed: number
}

export interface Checkpointer {
  /** The outcome of the worker's last checkpoint, if it has run one. */
  readonly last: CheckpointOutcome | undefined
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
  let stopping = false
  let failure: unknown
  worker.on('message', (outcome: CheckpointOutcome) => {
    last = outcome
  })
  worker.on('error', (error) => {
    failure = error
  })
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', () => {
      if (!stopping) onStopped(failure)
      resolve()
    })
  })
  return {
    get last() {
      return last
    },
    async stop() {
      stopping = true
      // Keep the process alive until the worker has finished its last checkpoint.
      worker.ref()
      worker.postMessage('stop')
      await exited
    },
  }
}
