/**
 * Where generated rows go: straight into SQLite through prepared statements
 * inside one big transaction, or into PostgreSQL through batched
 * `INSERT … SELECT * FROM unnest($1::type[], …)` (one parameter per column,
 * thousands of rows per statement, no COPY). Both bypass the API on purpose:
 * a million jobs through HTTP would take an hour.
 *
 * Secondary indexes are dropped before the load and rebuilt after it: building
 * an index once over sorted data is many times faster than keeping seven of
 * them up to date row by row.
 */
import SqliteDatabase from 'better-sqlite3'
import pg from 'pg'

export type PgType = 'int8' | 'int4' | 'text' | 'float8'

/** The tables the generator fills, in foreign-key order, with their columns. */
export const TABLE_COLUMNS = {
  customers: [
    ['customer_id', 'int8'], ['company_id', 'int8'], ['customer_name', 'text'], ['search_text', 'text'], ['customer_email', 'text'],
    ['customer_phone', 'text'], ['billing_address', 'text'], ['notes', 'text'], ['created_at', 'int8'], ['updated_at', 'int8'],
  ],
  customer_locations: [
    ['customer_location_id', 'int8'], ['company_id', 'int8'], ['customer_id', 'int8'], ['customer_location_name', 'text'], ['search_text', 'text'],
    ['address_line1', 'text'], ['address_line2', 'text'], ['city', 'text'], ['region', 'text'], ['postal_code', 'text'], ['country', 'text'],
    ['latitude', 'float8'], ['longitude', 'float8'], ['created_at', 'int8'], ['updated_at', 'int8'],
  ],
  technicians: [
    ['technician_id', 'int8'], ['company_id', 'int8'], ['technician_name', 'text'], ['search_text', 'text'], ['technician_email', 'text'],
    ['technician_phone', 'text'], ['technician_status', 'text'], ['created_at', 'int8'], ['updated_at', 'int8'],
  ],
  assets: [
    ['asset_id', 'int8'], ['company_id', 'int8'], ['asset_tag', 'text'], ['asset_name', 'text'], ['search_text', 'text'], ['asset_type', 'text'],
    ['asset_status', 'text'], ['customer_location_id', 'int8'], ['serial_number', 'text'], ['manufacturer', 'text'], ['model', 'text'],
    ['installed_at', 'int8'], ['created_at', 'int8'], ['updated_at', 'int8'], ['deleted_at', 'int8'],
  ],
  jobs: [
    ['job_id', 'int8'], ['company_id', 'int8'], ['job_title', 'text'], ['job_description', 'text'], ['job_status', 'text'], ['job_priority', 'text'],
    ['assigned_technician_id', 'int8'], ['customer_location_id', 'int8'], ['scheduled_start', 'int8'], ['scheduled_end', 'int8'],
    ['actual_start', 'int8'], ['actual_end', 'int8'], ['created_at', 'int8'], ['updated_at', 'int8'], ['row_version', 'int4'],
  ],
  job_assets: [
    ['job_id', 'int8'], ['asset_id', 'int8'], ['company_id', 'int8'], ['relationship_type', 'text'], ['relationship_notes', 'text'], ['linked_at', 'int8'],
  ],
  job_status_changes: [
    ['change_id', 'int8'], ['job_id', 'int8'], ['company_id', 'int8'], ['from_status', 'text'], ['to_status', 'text'], ['changed_at', 'int8'], ['key_id', 'int8'],
  ],
} as const satisfies Record<string, ReadonlyArray<readonly [string, PgType]>>

export type TableName = keyof typeof TABLE_COLUMNS
export const BULK_TABLES = Object.keys(TABLE_COLUMNS) as TableName[]
export type Row = Array<string | number | null>

export interface Sink {
  /** Queue (PostgreSQL) or write (SQLite) one row, values in TABLE_COLUMNS order. */
  add(table: TableName, row: Row): void
  /** True when enough rows are queued that the generator should `await flush()`. */
  readonly wantsFlush: boolean
  flush(): Promise<void>
  /** Writes everything left and rebuilds the indexes. */
  finish(): Promise<void>
}

// ---------------------------------------------------------------- SQLite

export class SqliteSink implements Sink {
  readonly wantsFlush = false
  readonly #db: SqliteDatabase.Database
  readonly #statements: Record<TableName, SqliteDatabase.Statement>
  readonly #indexes: Array<{ name: string; sql: string }>

  constructor(file: string) {
    this.#db = new SqliteDatabase(file)
    // The file is a scratch copy until it is renamed into the cache, so
    // durability does not matter during the load: no journal, no fsync.
    this.#db.pragma('journal_mode = DELETE')
    this.#db.pragma('journal_mode = OFF')
    this.#db.pragma('synchronous = OFF')
    this.#db.pragma('foreign_keys = OFF')
    this.#db.pragma('locking_mode = EXCLUSIVE')
    this.#db.pragma('cache_size = -524288')
    this.#db.pragma('temp_store = MEMORY')
    const tables = BULK_TABLES.map((t) => `'${t}'`).join(',')
    this.#indexes = this.#db
      .prepare(`select name, sql from sqlite_master where type = 'index' and sql is not null and tbl_name in (${tables})`)
      .all() as Array<{ name: string; sql: string }>
    for (const index of this.#indexes) this.#db.exec(`drop index "${index.name}"`)
    this.#statements = Object.fromEntries(
      BULK_TABLES.map((table) => {
        const columns = TABLE_COLUMNS[table].map(([name]) => name)
        return [table, this.#db.prepare(`insert into ${table} (${columns.join(', ')}) values (${columns.map(() => '?').join(', ')})`)]
      }),
    ) as Record<TableName, SqliteDatabase.Statement>
    this.#db.exec('begin')
  }

  add(table: TableName, row: Row): void {
    this.#statements[table].run(row)
  }

  async flush(): Promise<void> {}

  async finish(): Promise<void> {
    this.#db.exec('commit')
    for (const index of this.#indexes) this.#db.exec(index.sql)
    this.#db.pragma('locking_mode = NORMAL')
    this.#db.close()
  }
}

// ---------------------------------------------------------------- PostgreSQL

const PG_BATCH_ROWS = 5000

export class PostgresSink implements Sink {
  readonly #client: pg.Client
  readonly #schema: string
  readonly #buffers = new Map<TableName, Row[]>()
  #queued = 0
  /** One statement in flight while the generator makes the next batch. */
  #inFlight: Promise<unknown> = Promise.resolve()
  #indexes: Array<{ name: string; sql: string }> = []

  private constructor(client: pg.Client, schema: string) {
    this.#client = client
    this.#schema = schema
  }

  static async open(url: string, schema: string): Promise<PostgresSink> {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    const sink = new PostgresSink(client, schema)
    await client.query(`set search_path to "${schema}"`)
    await client.query('set synchronous_commit = off')
    await client.query(`set maintenance_work_mem = '512MB'`)
    try {
      // Skip foreign-key triggers during the load (the rows are consistent by
      // construction); needs a superuser, so it is only an optimisation.
      await client.query('set session_replication_role = replica')
    } catch {
      // Not allowed: the load checks each foreign key, slower but correct.
    }
    const { rows } = await client.query<{ name: string; sql: string }>(
      `select i.indexname as name, i.indexdef as sql from pg_indexes i
        where i.schemaname = $1 and i.tablename = any($2)
          and not exists (select 1 from pg_constraint c join pg_namespace n on n.oid = c.connamespace where n.nspname = $1 and c.conname = i.indexname)`,
      [schema, BULK_TABLES],
    )
    sink.#indexes = rows
    for (const index of rows) await client.query(`drop index "${schema}"."${index.name}"`)
    await client.query('begin')
    return sink
  }

  get wantsFlush(): boolean {
    return this.#queued >= PG_BATCH_ROWS
  }

  add(table: TableName, row: Row): void {
    let buffer = this.#buffers.get(table)
    if (!buffer) this.#buffers.set(table, (buffer = []))
    buffer.push(row)
    this.#queued++
  }

  /** Sends every buffered table, parents first (foreign keys may be checked). */
  async flush(): Promise<void> {
    await this.#inFlight
    const statements: Array<[string, unknown[]]> = []
    for (const table of BULK_TABLES) {
      const rows = this.#buffers.get(table)
      if (!rows?.length) continue
      const columns = TABLE_COLUMNS[table]
      const params = columns.map((_, i) => rows.map((row) => row[i]))
      const sql = `insert into ${table} (${columns.map(([name]) => name).join(', ')}) select * from unnest(${columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')})`
      statements.push([sql, params])
      this.#buffers.set(table, [])
    }
    this.#queued = 0
    this.#inFlight = (async () => {
      for (const [sql, params] of statements) await this.#client.query(sql, params)
    })()
    // Surface an error on the next flush at the latest, never unhandled.
    this.#inFlight.catch(() => {})
  }

  async finish(): Promise<void> {
    await this.flush()
    await this.#inFlight
    await this.#client.query('commit')
    for (const index of this.#indexes) await this.#client.query(index.sql)
    // Identity columns: continue numbering after the generated ids.
    for (const table of BULK_TABLES) {
      const [idColumn] = TABLE_COLUMNS[table][0]
      if (table === 'job_assets') continue
      await this.#client.query(
        `select setval(pg_get_serial_sequence('"${this.#schema}".${table}', '${idColumn}'), coalesce((select max(${idColumn}) from ${table}), 0) + 1, false)`,
      )
    }
    // What autovacuum would do shortly after a load anyway; done now so the
    // first scenario does not run on a planner without statistics, nor read
    // every row of an index-only scan from the table as well (the visibility
    // map is set by VACUUM only).
    await this.#client.query('vacuum (analyze)')
    await this.#client.end()
  }
}
