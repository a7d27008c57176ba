/**
 * Hot-path queries compiled once, and run on SQLite without the async trip
 * through the driver (issue 6).
 *
 * Kysely builds and compiles a query's tree on every call (tens of
 * microseconds for a join of four tables), while the SQL text of a hot
 * query never changes, only its parameters. `prepared` builds the query once
 * per dialect with marker values, remembers where the markers landed among
 * the parameters, and afterwards only swaps values in. The queries are still
 * written with Kysely, in the repositories, like every other query.
 *
 * better-sqlite3 is synchronous: Kysely's SQLite driver wraps each statement
 * in promises behind a connection lock. A prepared query runs straight on
 * the connection when that is exactly what the driver would do:
 *   - on the database handle, when no transaction is open on the connection
 *     (an open one belongs to another request, awaiting its next statement:
 *     then the query queues behind it through Kysely, as any other would),
 *     or only the turn's read transaction, which a read there opens
 *     (turn-reads.ts);
 *   - on a transaction that `inTransaction` opened, which owns the
 *     connection until it ends.
 * On PostgreSQL, a prepared query runs as a named statement: each
 * connection parses and plans it once, where Kysely's driver sends every
 * query unnamed (parsed and planned on every call, which for a four-table
 * join costs more than running it). Outside a transaction it runs on the
 * pool; inside one it goes through Kysely, on the transaction's connection,
 * whose client names it by its SQL (`statementNameOf`, used in connect.ts).
 */
import type { CompiledQuery, Kysely } from 'kysely'
import type SqliteDatabase from 'better-sqlite3'
import type pg from 'pg'
import type { Database } from './types.ts'
import type { TurnReads } from './turn-reads.ts'

type Db = Kysely<Database>

interface Compilable<R> {
  compile(): CompiledQuery<R>
}

/** The SQLite connection behind a Kysely handle, for running prepared queries on it directly. */
export interface DirectSqlite {
  sqlite: SqliteDatabase.Database
  /** better-sqlite3 statements, cached by SQL text (shared with Kysely's driver); one that is not a read ends `reads` first. */
  statement(sql: string): SqliteDatabase.Statement
  /** The turn's read transaction (turn-reads.ts), which prepared reads outside transactions run in. */
  reads: TurnReads
  /**
   * Background checkpoints (checkpointer.ts): called before each group of
   * writes; when the WAL should start over, a promise to wait for before
   * writing again (the worker copying the rest of it back), else undefined.
   */
  beforeWrites?(): Promise<unknown> | undefined
}

interface DirectEntry extends DirectSqlite {
  /** True for a transaction's handle: the connection is its own while it runs. */
  owned: boolean
}

const directHandles = new WeakMap<Db, DirectEntry>()
const postgresPools = new WeakMap<Db, pg.Pool>()

/** connect.ts: the database handle of a PostgreSQL pool. */
export function registerPostgresHandle(db: Db, pool: pg.Pool): void {
  postgresPools.set(db, pool)
}

/** connect.ts: the database handle of a SQLite connection. */
export function registerSqliteHandle(db: Db, direct: DirectSqlite): void {
  directHandles.set(db, { ...direct, owned: false })
}

/** transaction.ts: a transaction opened on a registered SQLite handle. */
export function registerSqliteTransaction(parent: Db, trx: Db): void {
  const direct = directHandles.get(parent)
  if (direct) directHandles.set(trx, { ...direct, owned: true })
}

/** Is `db` a transaction's handle: one of Kysely's, or one `inTransaction` opened on SQLite? */
export function isTransactionHandle(db: Db): boolean {
  return db.isTransaction || directHandles.get(db)?.owned === true
}

/** The SQLite connection behind a database handle (not a transaction's), if it is one. */
export function sqliteConnectionOf(db: Db): DirectSqlite | undefined {
  const direct = directHandles.get(db)
  return direct && !direct.owned ? direct : undefined
}

/**
 * A prepared read on SQLite, as a function of its parameters returning row
 * objects. better-sqlite3 builds each row object by setting its keys one at
 * a time (each key string made anew), which was 7% of a `GET ?id=`; asking
 * for raw rows (arrays) and building each object with one object literal,
 * compiled once from the statement's column names, gives every row the same
 * shape at once. Same keys, same values, same order as `.all()` would give
 * (a repeated column name keeps the last value in both).
 */
type RowReader = (parameters: unknown[]) => Record<string, unknown>[]

/**
 * Per connection, by SQL text; `null` for a statement that returns no rows.
 * Statements of their own: Kysely's driver shares the other cache and expects
 * objects. Only prepared queries come here, whose SQL texts are a bounded set.
 */
const rowReaders = new WeakMap<SqliteDatabase.Database, Map<string, RowReader | null>>()

function rowReaderOf(direct: DirectSqlite, sql: string): RowReader | null {
  let readers = rowReaders.get(direct.sqlite)
  if (!readers) rowReaders.set(direct.sqlite, (readers = new Map()))
  let reader = readers.get(sql)
  if (reader === undefined) {
    // Writes keep running on the shared statement; only reads get a raw one of their own.
    if (direct.statement(sql).reader) {
      const statement = direct.sqlite.prepare(sql).raw(true)
      const columns = statement.columns().map((column) => column.name)
      const makeRow = new Function('v', `return { ${columns.map((name, i) => `${JSON.stringify(name)}: v[${i}]`).join(', ')} }`) as (values: unknown[]) => Record<string, unknown>
      reader = (parameters) => (statement.all(parameters) as unknown[][]).map(makeRow)
    } else {
      reader = null
    }
    readers.set(sql, reader)
  }
  return reader
}

/** A value no caller passes, to find where each argument lands among the parameters. */
class Marker {
  constructor(readonly index: number) {}
}

/** Names of PostgreSQL prepared statements: one per prepared query (its SQL never changes). */
let statements = 0
/** The statement name of each prepared query's SQL. */
const namesBySql = new Map<string, string>()

/** PostgreSQL: the name a prepared query with this SQL runs under, if it is one. */
export function statementNameOf(sql: string): string | undefined {
  return namesBySql.get(sql)
}

interface Entry {
  compiled: CompiledQuery<unknown>
  name: string
  /** For each parameter: the argument it takes, or -1 for a constant of the query. */
  slots: number[]
}

interface Outcome<R> {
  rows: R[]
  affected: number
  /** SQLite: the rowid of the last row inserted on the connection. */
  insertId?: number
}

function compileOnce<A extends unknown[], R>(build: (db: Db, ...args: A) => Compilable<R>) {
  // Keyed by the dialect's adapter, which a handle shares with its transactions.
  const cache = new WeakMap<object, Entry>()
  return async function run(db: Db, args: A): Promise<Outcome<R>> {
    const adapter = db.getExecutor().adapter
    let entry = cache.get(adapter)
    if (!entry) {
      const markers = args.map((_, i) => new Marker(i)) as unknown as A
      const compiled = build(db, ...markers).compile()
      const slots = compiled.parameters.map((p) => (p instanceof Marker ? p.index : -1))
      if (new Set(slots.filter((s) => s >= 0)).size !== args.length) throw new Error('prepared: every argument must appear as a parameter')
      // Two prepared queries with the same SQL are one statement.
      const name = namesBySql.get(compiled.sql) ?? `fsm_prepared_${++statements}`
      namesBySql.set(compiled.sql, name)
      entry = { compiled, slots, name }
      cache.set(adapter, entry)
    }
    const { compiled, slots } = entry
    const parameters = compiled.parameters.map((p, i) => (slots[i]! >= 0 ? args[slots[i]!] : p))
    const direct = directHandles.get(db)
    if (direct && (direct.owned || direct.reads.usable)) {
      const reader = rowReaderOf(direct, compiled.sql)
      if (reader) {
        if (!direct.owned) direct.reads.enter()
        return { rows: reader(parameters) as R[], affected: 0 }
      }
      // Not a read: statement() ends the turn's read transaction first.
      const { changes, lastInsertRowid } = direct.statement(compiled.sql).run(parameters)
      return { rows: [], affected: changes, insertId: Number(lastInsertRowid) }
    }
    const pool = postgresPools.get(db)
    if (pool) {
      const result = await pool.query({ name: entry.name, text: compiled.sql, values: parameters as unknown[] })
      return { rows: result.rows as R[], affected: result.rowCount ?? 0 }
    }
    const result = await db.executeQuery<R>({ ...compiled, parameters })
    return { rows: result.rows, affected: Number(result.numAffectedRows ?? 0), ...(result.insertId !== undefined && { insertId: Number(result.insertId) }) }
  }
}

/** A read (or a write with RETURNING): resolves to its rows. */
export function prepared<A extends unknown[], R>(build: (db: Db, ...args: A) => Compilable<R>) {
  const run = compileOnce(build)
  return async (db: Db, ...args: A): Promise<R[]> => (await run(db, args)).rows
}

/** A write: resolves to the number of rows it changed. */
export function preparedWrite<A extends unknown[]>(build: (db: Db, ...args: A) => Compilable<unknown>) {
  const run = compileOnce(build)
  return async (db: Db, ...args: A): Promise<number> => (await run(db, args)).affected
}

/**
 * An insert of one row: resolves to the new row's id. The query must return
 * that id (RETURNING) on PostgreSQL and must not on SQLite, where the id is
 * the connection's last inserted rowid: an INSERT with RETURNING into a
 * table with foreign keys runs in a statement journal of its own, which
 * copies every page the insert touches (seven indexes' for a job) and
 * spills to a temporary file past 64 KiB (docs/performance.md, "Inserts
 * without RETURNING on SQLite").
 */
export function preparedInsert<A extends unknown[]>(build: (db: Db, ...args: A) => Compilable<unknown>) {
  const run = compileOnce(build)
  return async (db: Db, ...args: A): Promise<number> => {
    const { rows, insertId } = await run(db, args)
    const returned = rows[0] as Record<string, unknown> | undefined
    const id = returned ? Object.values(returned)[0] : insertId
    if (typeof id !== 'number') throw new Error('preparedInsert: the insert returned no id')
    return id
  }
}

/**
 * For queries whose SQL depends on the shape of their arguments (how many
 * ids in an `in` list, which columns a PUT changes): one prepared query per
 * shape, made on first use. Shapes are never forgotten: the caller keeps
 * their number small and bounded by the API (a page holds at most 100 ids).
 */
export function byShape<Q>(make: (shape: string) => Q): (shape: string) => Q {
  const shapes = new Map<string, Q>()
  return (shape) => {
    let query = shapes.get(shape)
    if (query === undefined) shapes.set(shape, (query = make(shape)))
    return query
  }
}
