/**
 * SQLite: the reads of one turn of the event loop share one read
 * transaction (issue 6).
 *
 * A statement outside a transaction takes and releases SQLite's read lock
 * itself: in WAL mode an `fcntl` lock on the `-shm` file each way, and an
 * `fstat` of the database. That cost ~9 µs a statement on the benchmark's
 * machine (a one-row read took 10.6 µs alone, 1.5 µs inside a `BEGIN`),
 * about as much as the read. So the first read outside any transaction
 * (a prepared one, prepared.ts, or Kysely's, connect.ts) opens a `BEGIN`
 * (deferred: the read takes the lock), the turn's other reads run in it,
 * and it ends when the turn does (`setImmediate`), or before anything
 * else needs the connection: every statement that is not a read ends it
 * first (connect.ts, where the connection's statements are made), so a
 * write, or the `BEGIN IMMEDIATE` of a group of writes, never runs inside
 * it. Writes therefore commit exactly as before, and a read after a write
 * of this process opens a new transaction that sees it.
 *
 * What it changes: reads in one turn see the database as of the turn's
 * first read. Writes of this process end the transaction before they run,
 * so only another process's writes (the CLI's; a second `fsm serve` on the
 * file is unsupported, docs/deployment.md) can be missed, by a read in the
 * same turn, up to one turn after they commit. docs/decisions.md.
 */
import type SqliteDatabase from 'better-sqlite3'

export class TurnReads {
  readonly #sqlite: SqliteDatabase.Database
  readonly #begin: SqliteDatabase.Statement
  readonly #commit: SqliteDatabase.Statement
  readonly #rollback: SqliteDatabase.Statement
  #open = false
  readonly #endOfTurn = () => this.end()

  constructor(sqlite: SqliteDatabase.Database) {
    this.#sqlite = sqlite
    this.#begin = sqlite.prepare('begin')
    this.#commit = sqlite.prepare('commit')
    this.#rollback = sqlite.prepare('rollback')
  }

  /** True when no transaction is open on the connection but the turn's: a read may run on it directly. */
  get usable(): boolean {
    return this.#open || !this.#sqlite.inTransaction
  }

  /** Before a read on the connection outside any other transaction: opens the turn's, if none is open. */
  enter(): void {
    if (this.#open || this.#sqlite.inTransaction) return
    this.#begin.run()
    this.#open = true
    setImmediate(this.#endOfTurn)
  }

  /**
   * Ends the turn's transaction, if it is open (it read only: nothing to
   * lose either way). If the ROLLBACK fails too, the error is thrown on
   * purpose: the connection would stay inside the old snapshot, and every
   * later read on it would quietly show the database as it was. Thrown at
   * the end of a turn, it ends the process (its writes are durable) for the
   * supervisor to restart; before a write, that write fails.
   */
  end(): void {
    if (!this.#open) return
    this.#open = false
    if (!this.#sqlite.inTransaction) return
    try {
      this.#commit.run()
    } catch {
      this.#rollback.run()
    }
  }
}
