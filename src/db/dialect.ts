/**
 * Dialect checks for where SQL differs: migrations, error codes, and the
 * jobs module's fast paths (jobs.list-queries.ts, jobs.repository.ts,
 * jobs.service.ts, jobs.write-record.ts branch on `isSqlite` where each
 * database has its own quicker way: group commit and a read thread on
 * SQLite, single-statement writes and row locks on PostgreSQL). The other
 * resources' queries do not branch.
 */
import { type Kysely, SqliteAdapter, type ColumnDefinitionBuilder, type CreateTableBuilder, type SelectQueryBuilder } from 'kysely'

export function isSqlite(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof SqliteAdapter
}

/** An auto-incrementing 64-bit primary key on both dialects. */
export function withIdColumn<T extends string>(db: Kysely<any>, table: CreateTableBuilder<T, any>, name: string) {
  return isSqlite(db)
    ? table.addColumn(name, 'integer', (c: ColumnDefinitionBuilder) => c.primaryKey().autoIncrement())
    : table.addColumn(name, 'bigint', (c: ColumnDefinitionBuilder) => c.primaryKey().generatedByDefaultAsIdentity())
}

/** Was this error a unique-constraint violation, on either dialect? */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string }
  return e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === '23505'
}

/** Should this error be retried as a whole transaction (PostgreSQL serialization failure or deadlock)? */
export function isRetryableTransactionError(error: unknown): boolean {
  const e = error as { code?: string }
  return e?.code === '40001' || e?.code === '40P01'
}

/**
 * SQLite's codes for a database that cannot take the request now, through
 * no fault of the request: locked, not openable, an I/O error, the disk
 * full, the file or its file system read-only. better-sqlite3 reports
 * SQLite's extended codes (`SQLITE_IOERR_WRITE`, `SQLITE_READONLY_DBMOVED`,
 * `SQLITE_BUSY_TIMEOUT`, …), so each is matched with its extensions. A full
 * disk was answered 500 before.
 */
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|READONLY)(_[A-Z_]+)?$/

/**
 * Did the database stop answering while a statement was on its way, so that
 * whether it was done cannot be known? The client gave up waiting for the
 * reply (`query_timeout`), or the connection broke before it came: a write
 * may have been committed all the same (a COMMIT, or a create or status
 * change that is one statement). The other unavailable errors come before
 * the statement reaches the database, or are the database refusing it.
 */
export function isOutcomeUnknownError(error: unknown): boolean {
  const e = error as { code?: string; message?: string }
  // "Connection terminated due to connection timeout" is the pool giving up before any statement was sent.
  return e?.code === 'ECONNRESET' || /Query read timeout|Connection terminated(?! due to connection timeout)/i.test(e?.message ?? '')
}

/** Does this error mean the database cannot be reached or written now (as opposed to a bad query)? */
export function isUnavailableError(error: unknown): boolean {
  const e = error as { code?: string; message?: string }
  const code = e?.code ?? ''
  return (
    SQLITE_UNAVAILABLE.test(code) ||
    isOutcomeUnknownError(error) ||
    code === 'ECONNREFUSED' ||
    code === 'ETIMEDOUT' ||
    // A statement cancelled: by its statement_timeout (fsm serve sets one,
    // SERVING_TIMEOUTS) or by an administrator. Its transaction is rolled back.
    code === '57014' ||
    code === '57P01' || // admin shutdown
    code === '57P02' || // crash shutdown
    code === '57P03' || // cannot connect now
    code.startsWith('08') || // connection exceptions
    // Refused at connect: the database dropped or renamed (3D000), the
    // role's login or password changed (28000, 28P01), connections not
    // allowed (55000 with that message); answered 500 while /readyz said
    // the database was unreachable.
    code === '3D000' ||
    code === '28000' ||
    code === '28P01' ||
    (code === '55000' && /does not allow connections|not currently accepting connections/i.test(e?.message ?? '')) ||
    // Insufficient resources: too many connections (53300, a pool sized past
    // max_connections or a role's limit, which answered 500), disk full,
    // out of memory.
    code.startsWith('53') ||
    // Permission denied (42501): the server's role lost a privilege it
    // needs (a grant revoked, a table re-created by another role). The
    // statement was refused, nothing was done; it was answered 500. The
    // log line names the table, for the operator.
    code === '42501' ||
    // A table this version uses is missing (42P01; SQLite: "no such
    // table"): the database was emptied or swapped under the running server
    // (a schema dropped, an empty backup restored). Nothing of the request
    // was done, and it can succeed once the operator has migrated or
    // restored the database; it was answered 500. /readyz says "not
    // migrated" once the migrations' own table is gone too. A column
    // missing is still an unexpected error (a table edited by hand).
    code === '42P01' ||
    (code === 'SQLITE_ERROR' && /^no such table/i.test(e?.message ?? '')) ||
    // A read-only transaction: connected to a standby, as after a failover
    // the pool's connections can be until they are replaced.
    code === '25006' ||
    // A serialization failure or deadlock that reached the answer: it came
    // back at every attempt (`isRetryableTransactionError`), which is
    // contention, not a fault of the request; it was answered 500.
    isRetryableTransactionError(error) ||
    /timeout exceeded when trying to connect|Connection terminated due to connection timeout|is not queryable|Client was closed/i.test(e?.message ?? '')
  )
}

/**
 * Locks the rows a read returns until the transaction ends, so a check
 * against them and the write that follows are one step. SQLite write
 * transactions are already exclusive (BEGIN IMMEDIATE) and have no such
 * clause. `of` names the one table of a join whose rows to lock.
 *
 * `FOR NO KEY UPDATE`, not `FOR UPDATE`: it excludes every other writer of
 * the row just as well (no write here changes a key), but not another
 * table's foreign-key check on it (`FOR KEY SHARE`). With `FOR UPDATE`, a
 * technician's rename locked its row and then touched its jobs
 * (touchJobsShowing), while a job write holding one of those jobs waited
 * in its foreign-key check on the technician: a deadlock, which PostgreSQL
 * breaks only after a second, and answered 503 when it came back five
 * times (found with three processes racing renames and job writes).
 */
export function forUpdate<DB, TB extends keyof DB, O>(db: Kysely<any>, query: SelectQueryBuilder<DB, TB, O>, of?: TB & string): SelectQueryBuilder<DB, TB, O> {
  return isSqlite(db) ? query : query.forNoKeyUpdate(of)
}
