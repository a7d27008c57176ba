/**
 * The one seam between the dialects: everything dialect-specific about
 * opening a database lives here (and in `dialect.ts`); queries are Kysely.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { Kysely, PostgresDialect, SqliteDialect, SqliteDriver, CompiledQuery, type DatabaseConnection, type Driver, type PostgresPool, type PostgresPoolClient } from 'kysely'
import pg from 'pg'
import { startCheckpointer, type Checkpointer } from './checkpointer.ts'
import { registerPostgresHandle, registerSqliteHandle, statementNameOf, type DirectSqlite } from './prepared.ts'
import { TurnReads } from './turn-reads.ts'
import { isOutcomeUnknownError } from './dialect.ts'
import type { Database } from './types.ts'

export type Dialect = 'sqlite' | 'postgres'

export interface DatabaseHandle {
  db: Kysely<Database>
  dialect: Dialect
  /** SQLite with background checkpoints: the worker that runs them. */
  checkpointer?: Checkpointer
  /** SQLite: the database file's absolute path (or `:memory:`), for a second connection to it. */
  sqliteFile?: string
  /** A printable description without credentials, for logs. */
  description: string
  close(): Promise<void>
}

export interface ConnectOptions {
  sqliteSynchronous?: 'NORMAL' | 'FULL'
  /** SQLite: checkpoint the WAL on a worker thread instead of inside COMMITs (a long-running server). */
  sqliteBackgroundCheckpoints?: boolean
  /**
   * SQLite: a second connection to a database the server has open, for
   * reads only (jobs.read-thread.ts): opened read-only, so it can change
   * nothing, not even the planner's statistics; the journal settings are
   * the server connection's.
   */
  sqliteReadOnly?: boolean
  /**
   * SQLite: the file must exist already (the source of `fsm copy`): a
   * missing one is an error, where a server or a command otherwise makes it,
   * with its directory.
   */
  sqliteMustExist?: boolean
  /** PostgreSQL schema to use (tests give each run its own). */
  pgSchema?: string
  pgPoolSize?: number
  /**
   * PostgreSQL, for serving requests (SERVING_TIMEOUTS): the database
   * cancels a statement that runs longer than `statementMs` (rolled back:
   * nothing of it is kept), and the client gives up on a database that has
   * not answered a statement after `replyMs` (a network partition), when
   * it cannot know whether a write was done. Without them (migrations,
   * `fsm copy`, the other commands) statements run as long as they need:
   * an index rebuilt over ten million jobs takes longer than a request may.
   */
  pgTimeouts?: { statementMs: number; replyMs: number }
  /** What errors call the URL: DATABASE_URL, or the option that gave it (`fsm copy --from`). */
  urlName?: string
}

/**
 * `fsm serve`'s PostgreSQL timeouts: the database's own cancellation first,
 * so that a slow statement is rolled back and answered 503 with nothing
 * kept; the client's a little later, for a database that stopped answering.
 */
export const SERVING_TIMEOUTS = { statementMs: 10_000, replyMs: 15_000 } as const

export class DatabaseUrlError extends Error {}

export function parseDatabaseUrl(url: string, name = 'DATABASE_URL'): { dialect: Dialect; target: string } {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\//, '')
    if (!path) throw new DatabaseUrlError(`${name} sqlite: needs a file path, e.g. sqlite:./data/fsm.db`)
    return { dialect: 'sqlite', target: path }
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    // The driver's own word for it was "Invalid URL", naming nothing.
    if (!URL.canParse(url)) throw new DatabaseUrlError(`${name} is not a valid URL (postgres://user:password@host:5432/database; a port is at most 65535)`)
    return { dialect: 'postgres', target: url }
  }
  throw new DatabaseUrlError(`${name} must start with sqlite:, postgres:// or postgresql://`)
}

export function connect(url: string, options: ConnectOptions = {}): DatabaseHandle {
  const { dialect, target } = parseDatabaseUrl(url, options.urlName)
  return dialect === 'sqlite' ? connectSqlite(target, options) : connectPostgres(target, options)
}

/**
 * Kysely's SQLite driver prepares every statement anew; better-sqlite3's
 * prepared statements are reusable, so keep them (the set of distinct SQL
 * texts our queries produce is small and bounded). Every statement run on
 * the connection comes through here, Kysely's and the direct ones
 * (prepared.ts, transaction.ts), and is run right after: one that is not a
 * read first ends the turn's read transaction (turn-reads.ts), so that no
 * write, BEGIN or COMMIT ever runs inside it.
 */
function withStatementCache(sqlite: SqliteDatabase.Database, reads: TurnReads) {
  const cache = new Map<string, SqliteDatabase.Statement>()
  return {
    close: () => {
      reads.end()
      sqlite.close()
    },
    prepare(sql: string) {
      let statement = cache.get(sql)
      if (!statement) {
        statement = sqlite.prepare(sql)
        if (cache.size > 2000) cache.clear()
        cache.set(sql, statement)
      }
      if (!statement.reader) reads.end()
      return statement
    },
  }
}

/**
 * Kysely's own transactions (`db.transaction()`: `fsm copy`'s target) take
 * the write lock up front (`BEGIN IMMEDIATE`), so a transaction that reads
 * and then writes cannot fail half-way with SQLITE_BUSY when another
 * process (the CLI, a backup) holds the lock; it waits for `busy_timeout`
 * instead. The server's writes take the lock in db/transaction.ts (group
 * commit), which waits for it in its own way.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'))
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: ConstructorParameters<typeof SqliteDialect>[0]
  constructor(config: ConstructorParameters<typeof SqliteDialect>[0]) {
    super(config)
    this.#config = config
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config)
  }
}

/** SQLite's default: checkpoint once the WAL holds this many pages (~4 MB). */
const AUTOCHECKPOINT_PAGES = 1000
/**
 * With background checkpoints, once the worker has seen the WAL hold this
 * many pages (~8 MB), the writer waits between two groups of writes for the
 * worker to copy the rest back, and the next write starts the WAL over
 * (checkpointer.ts says why it must). Reads go on meanwhile. Measured in
 * alternating runs against the backstop alone: 4,000 pages gave +6% creates,
 * +18% PUTs, +5% PATCHes a second and a third off their p99; 1,000 pages
 * paused writes so often that it did worse than the backstop alone. Against
 * 4,000 (`bench:ab`, docs/performance.md): 2,000 gave PATCHes +5-10% and
 * PUTs +2-10% a second; 12,000 (backstop 24,000) gave 2-22% less.
 */
const WAL_RESTART_PAGES = 2000
/** How long writes wait for that catch-up at most before going on without it. */
const CATCH_UP_TIMEOUT_MS = 1000
/**
 * With background checkpoints, the connection still checkpoints by itself
 * (inside a COMMIT, on the event loop) once the WAL holds this many pages
 * (~32 MB): a backstop for when the WAL cannot start over (another process
 * reading, a catch-up timed out). Without catch-ups or a backstop the WAL
 * grew past 200 MB in the reliability suite; with a backstop alone (at
 * 3,000 pages) it ran on the event loop every few tenths of a second under
 * PUTs, 14% of the server's CPU time in `update_job` (fsync included).
 */
const BACKSTOP_PAGES = 8000

/**
 * 32 MB of page cache holds the hot index pages of a million-job company;
 * the operating system's cache holds the rest of the file (issue 6 keeps
 * the server's resident memory under 300 MB).
 */
const WRITER_CACHE_MB = 32
/**
 * The read thread's connection (jobs.reader.ts) needs less: SQLite empties
 * its whole cache at its first read after any commit by the server (it
 * cannot tell which pages changed), so under writes it never fills, and
 * without writes 16 MB holds every interior page of the database (3 MB in
 * the benchmark's, 1.09 million jobs) beside the hot leaves of the lists.
 * Against 32 MB (`bench:ab`, 3 rounds): the same requests a second; up to
 * 16 MB less memory once reads without writes have filled it.
 */
const READER_CACHE_MB = 16

function setCacheSizes(sqlite: SqliteDatabase.Database, megabytes: number) {
  // A negative cache_size is in KiB.
  sqlite.pragma(`cache_size = -${megabytes * 1024}`)
  // Temporary storage in files, which SQLite keeps in memory while small
  // (a savepoint's or statement's journal up to 64 KiB, a sort up to the
  // cache): with `MEMORY`, a savepoint's journal holds every page its
  // statements change, unbounded. Touching the 98,084 jobs with asset
  // links of the benchmark's million-job company (a company's assets
  // module turned off) grew the process by ~580 MB that it kept; with
  // files, by ~50 MB, in about the same time (2.9 s against 2.6 s). A
  // rename in `fsm serve` touches its jobs the same way, each slice in
  // one statement's journal.
  sqlite.pragma('temp_store = FILE')
}

/** The Kysely handle of a SQLite connection, its statements cached and its reads sharing the turn's transaction. */
function sqliteKysely(sqlite: SqliteDatabase.Database, writes?: Pick<DirectSqlite, 'beforeWrites'>): { db: Kysely<Database>; reads: TurnReads } {
  const reads = new TurnReads(sqlite)
  const statements = withStatementCache(sqlite, reads)
  // Kysely's reads outside a transaction join the turn's read transaction too
  // (prepared reads join it in prepared.ts); inside one (a group of writes,
  // a migration) there is nothing to join.
  const kyselyStatements = {
    close: statements.close,
    prepare(sql: string) {
      const statement = statements.prepare(sql)
      if (statement.reader) reads.enter()
      return statement
    },
  }
  const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: kyselyStatements }) })
  registerSqliteHandle(db, { sqlite, statement: statements.prepare, reads, ...writes })
  return { db, reads }
}

function connectSqliteReader(file: string): DatabaseHandle {
  const sqlite = openSqlite(file, { readonly: true })
  sqlite.pragma('busy_timeout = 5000')
  setCacheSizes(sqlite, READER_CACHE_MB)
  const { db } = sqliteKysely(sqlite)
  return { db, dialect: 'sqlite', description: `sqlite:${file} (read-only)`, sqliteFile: file, close: () => db.destroy() }
}

/**
 * `mkdir -p` of the database file's directory. Not `mkdirSync(dir, {
 * recursive: true })`: on Linux it spins forever when a parent exists but
 * cannot hold a child (a dangling symlink, a path under /proc), because the
 * child's ENOENT sends it back to the parent, whose EEXIST sends it forward
 * again. Here a child's ENOENT right after its parent was made (or found)
 * is final.
 */
function makeDirectory(dir: string): void {
  const cannot = (error: unknown) => new Error(`cannot create the SQLite database's directory: ${(error as Error).message}`)
  try {
    mkdirSync(dir)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return
    if (code !== 'ENOENT' || dirname(dir) === dir) throw cannot(error)
    makeDirectory(dirname(dir))
    try {
      mkdirSync(dir)
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code !== 'EEXIST') throw cannot(again)
    }
  }
}

/**
 * The file opened in WAL mode (or read-only, as it is), or an error that
 * names it (SQLite's own say only "unable to open database file" or "file
 * is not a database").
 */
function openSqlite(file: string, { readonly = false } = {}): SqliteDatabase.Database {
  let sqlite: SqliteDatabase.Database | undefined
  try {
    sqlite = new SqliteDatabase(file, readonly ? { readonly, fileMustExist: true } : {})
    // The first statement reads the file's header: a file that is not a database fails here, not when opened.
    sqlite.pragma(readonly ? 'schema_version' : 'journal_mode = WAL')
    return sqlite
  } catch (error) {
    sqlite?.close()
    throw Object.assign(new Error(`cannot open the SQLite database ${file}: ${(error as Error).message}`, { cause: error }), { code: (error as { code?: string }).code })
  }
}

function connectSqlite(path: string, options: ConnectOptions): DatabaseHandle {
  const file = path === ':memory:' ? path : resolve(path)
  if (options.sqliteMustExist && file !== ':memory:' && !existsSync(file)) throw new DatabaseUrlError(`the SQLite database ${file} does not exist`)
  if (options.sqliteReadOnly) return connectSqliteReader(file)
  if (file !== ':memory:') makeDirectory(dirname(file))
  const sqlite = openSqlite(file)
  sqlite.pragma(`synchronous = ${options.sqliteSynchronous ?? 'NORMAL'}`)
  sqlite.pragma('busy_timeout = 5000')
  sqlite.pragma('foreign_keys = ON')
  // Checkpoint every ~4 MB of WAL (the default 1000 pages), or on a worker
  // thread (checkpointer.ts); cap the file left behind after a checkpoint.
  sqlite.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`)
  sqlite.pragma('journal_size_limit = 67108864')
  let checkpointer: Checkpointer | undefined
  if (options.sqliteBackgroundCheckpoints && file !== ':memory:') {
    checkpointer = startCheckpointer(file, () => {
      if (sqlite.open) sqlite.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`)
    })
    sqlite.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`)
  }
  setCacheSizes(sqlite, WRITER_CACHE_MB)
  // Keep the planner's statistics current (cheaply, on a sample): without
  // them it guesses that a company_id index is selective, and walks a
  // million-row company to find fifty jobs.
  sqlite.pragma('analysis_limit = 1000')
  sqlite.pragma('optimize = 0x10002')
  const { db, reads } = sqliteKysely(sqlite, checkpointer && {
    beforeWrites: () => (checkpointer.walFrames >= WAL_RESTART_PAGES ? checkpointer.catchUp(CATCH_UP_TIMEOUT_MS) : undefined),
  })
  // Statistics drift as data grows; refresh them now and then (and at close).
  // `pragma()` does not pass through the statement cache, so the turn's read
  // transaction is ended here: optimize may write its statistics.
  const optimize = () => {
    reads.end()
    sqlite.pragma('optimize')
  }
  const optimizer = setInterval(() => {
    try {
      optimize()
    } catch {
      // Busy: try again next time.
    }
  }, 3_600_000).unref()
  return {
    db,
    dialect: 'sqlite',
    description: `sqlite:${file}`,
    sqliteFile: file,
    ...(checkpointer && { checkpointer }),
    close: async () => {
      clearInterval(optimizer)
      // Before the connection closes: the last connection to close checkpoints and removes the WAL.
      await checkpointer?.stop()
      if (sqlite.open) {
        try {
          optimize()
        } catch {
          // Closing anyway.
        }
      }
      await db.destroy()
    },
  }
}

// BIGINT (ids, timestamps) arrives as a string by default; every value we
// store fits in 2^53, so a JavaScript number is exact.
pg.types.setTypeParser(20, (value: string) => Number(value))
// NUMERIC is not used; DOUBLE PRECISION already arrives as a number.

/**
 * The pool as Kysely gets it: its clients run prepared queries (prepared.ts)
 * as named statements, which each connection parses and plans once, and
 * every other query unnamed, as Kysely sends them. Prepared queries reach
 * Kysely inside transactions, on the write paths: unnamed, PostgreSQL
 * planned each of them on every call (the locked read of a job, a join of
 * four tables, took 0.6-1.4 ms to plan).
 */
function namingPreparedQueries(pool: pg.Pool): PostgresPool {
  const clients = new WeakMap<pg.PoolClient, PostgresPoolClient>()
  const named = (client: pg.PoolClient): PostgresPoolClient => {
    // A statement whose reply never came (query_timeout) or whose connection
    // broke leaves the connection in a state no one knows: a BEGIN whose
    // reply was late still opened a transaction there, and the requests
    // that got the connection next wrote into it, answered 201, and lost
    // their writes when it closed uncommitted. Such a connection is closed
    // when it is released, never used again.
    let broken = false
    const failed = (error: unknown): never => {
      if (isOutcomeUnknownError(error)) broken = true
      throw error
    }
    return {
      query: ((sqlOrCursor: unknown, values?: unknown[]) => {
        // A cursor (streamed results) as it came; Kysely's is not configured here.
        if (typeof sqlOrCursor !== 'string') return client.query(sqlOrCursor as never)
        // Kysely rolls back a transaction whose COMMIT failed; on a broken
        // connection that failed too ("not queryable"), and its error took the
        // place of the COMMIT's, so a write that may have been done was
        // answered "nothing kept". Closing the connection rolls back anyway.
        if (broken && sqlOrCursor === 'rollback') return Promise.resolve({ rows: [], rowCount: 0 })
        const name = statementNameOf(sqlOrCursor)
        return client.query(name ? { name, text: sqlOrCursor, values } : { text: sqlOrCursor, values }).catch(failed)
      }) as unknown as PostgresPoolClient['query'],
      release: (destroy) => client.release(destroy || broken ? true : undefined),
    }
  }
  return {
    async connect() {
      const client = await pool.connect()
      let wrapper = clients.get(client)
      if (!wrapper) clients.set(client, (wrapper = named(client)))
      return wrapper
    },
    end: () => pool.end(),
  }
}

function connectPostgres(url: string, options: ConnectOptions): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.pgPoolSize ?? 10,
    connectionTimeoutMillis: 5000,
    // A slow statement is cancelled by PostgreSQL (rolled back; answered 503),
    // and a database that stops answering (a network partition) must not hold
    // a request forever (answered 503 too, saying a write may have been done).
    ...(options.pgTimeouts && { statement_timeout: options.pgTimeouts.statementMs, query_timeout: options.pgTimeouts.replyMs }),
    ...(options.pgSchema ? { options: `-c search_path=${options.pgSchema}` } : {}),
  })
  // An idle client losing its connection must not crash the process; the
  // next query gets a fresh one and /readyz reports the outage.
  pool.on('error', () => {})
  // A client checked out for a query has no pool listener: if its connection
  // drops mid-query, its 'error' event would be unhandled and end the process.
  // The query itself fails (and is answered 503); the pool then drops the client.
  pool.on('connect', (client) => client.on('error', () => {}))
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: namingPreparedQueries(pool) }) })
  registerPostgresHandle(db, pool)
  const safe = new URL(url)
  safe.password = ''
  return {
    db,
    dialect: 'postgres',
    description: safe.toString(),
    close: () => db.destroy(),
  }
}
