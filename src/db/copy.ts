/**
 * `fsm copy`: moves a whole installation between databases (SQLite ⇄
 * PostgreSQL): every company, key, record, link and history entry, with
 * their ids, then sets the target's id sequences past them and verifies the
 * counts. It refuses to write into a database that holds any data.
 *
 * The source is read in one read transaction, a snapshot: copied while a
 * server wrote to it, tables read at different moments disagreed (a status
 * change whose job was not copied broke a foreign key, or the counts
 * differed), and the check of the counts came after the target's commit,
 * which left a partial copy that a second try then refused as not empty.
 * Now the counts are checked before the target commits.
 */
import { sql, type Kysely } from 'kysely'
import type { Database } from './types.ts'
import { isSqlite } from './dialect.ts'
import { rebuildJobCounts } from './job-counts.ts'

/** Tables in an order that satisfies the foreign keys, with their id column (if generated). */
export const TABLES: Array<[keyof Database, string | null]> = [
  ['companies', 'company_id'],
  ['api_keys', 'key_id'],
  ['customers', 'customer_id'],
  ['customer_locations', 'customer_location_id'],
  ['technicians', 'technician_id'],
  ['assets', 'asset_id'],
  ['jobs', 'job_id'],
  ['job_assets', null],
  ['job_status_changes', 'change_id'],
  ['idempotency_keys', null],
]

const ORDER_BY: Partial<Record<keyof Database, string[]>> = {
  job_assets: ['job_id', 'asset_id'],
  idempotency_keys: ['key_id', 'idempotency_key'],
}

export class CopyError extends Error {}

async function count(db: Kysely<Database>, table: keyof Database): Promise<number> {
  const row = await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  return Number(row.n)
}

/**
 * Runs `work` on one read transaction of `db`: the database as it was at one
 * moment, while others write on. On SQLite a deferred BEGIN (this project's
 * transactions begin IMMEDIATE, which would hold the server's writes for
 * the whole copy); on PostgreSQL, repeatable read.
 */
async function inSnapshot<T>(db: Kysely<Database>, work: (source: Kysely<Database>) => Promise<T>): Promise<T> {
  if (!isSqlite(db)) return db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(work)
  return db.connection().execute(async (connection) => {
    await sql`begin deferred`.execute(connection)
    try {
      return await work(connection)
    } finally {
      await sql`commit`.execute(connection)
    }
  })
}

/**
 * Refuses a target that holds data, looking only at the tables it has, or
 * that holds tables and is not an installation: run before the target is
 * migrated, so that a target refused is left as it was.
 * Migrated first, a target of an older version holding data (a live
 * installation given as --to by mistake, or --from and --to swapped) was
 * upgraded and then refused, and its own version no longer started on it
 * ("migrated by a newer version"); on PostgreSQL the upgrade rebuilt
 * indexes of its jobs table, locking it for writes meanwhile.
 */
export async function refuseTargetWithData(to: Kysely<any>): Promise<void> {
  const tables = isSqlite(to)
    ? sql<{ name: string }>`select name from sqlite_master where type = 'table'`
    : sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema()`
  const present = new Set((await tables.execute(to)).rows.map((row) => row.name).filter((name) => !name.startsWith('sqlite_')))
  // A database that is not an installation (never migrated) must hold no
  // tables at all: another application's database given as --to had ours
  // added beside its own, and the copy went in.
  if (present.size > 0 && !present.has('kysely_migration')) {
    const names = [...present].sort()
    throw new CopyError(`the target database holds tables that are not FSM Navigator's (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}); copy only into an empty database (on PostgreSQL, or into a schema of its own: ?options=-c%20search_path%3DNAME)`)
  }
  for (const [table] of TABLES) {
    if (present.has(table) && (await count(to, table)) > 0) throw new CopyError(`the target database is not empty (table ${table} has rows); copy only into an empty database`)
  }
}

/** Where the API shows a record of each table, for a person to correct it (refuseNul). */
const API_PATHS: Partial<Record<keyof Database, string>> = {
  customers: '/api/v1/customers',
  customer_locations: '/api/v1/locations',
  technicians: '/api/v1/technicians',
  assets: '/api/v1/assets',
  jobs: '/api/v1/jobs',
}

/**
 * PostgreSQL cannot store a NUL (U+0000) in text; SQLite can, and versions
 * before the first 2026-12-02 session stored one sent in `customer_email`
 * or `technician_email` (docs/decisions.md, "Emails"). Copied to
 * PostgreSQL, such a record failed the copy with PostgreSQL's `invalid byte
 * sequence for encoding "UTF8": 0x00`, which names no table, record or
 * field: the record is named instead, with how to correct it.
 */
function refuseNul(table: keyof Database, key: string[], rows: Record<string, unknown>[]): void {
  for (const row of rows) {
    for (const [column, value] of Object.entries(row)) {
      if (typeof value !== 'string' || !value.includes('\u0000')) continue
      const path = API_PATHS[table]
      const fix = path ? `correct it in the source (PUT ${path}?id=${row[key[0]!]})` : 'correct it in the source'
      throw new CopyError(`${table} ${key.map((c) => `${c} ${row[c]}`).join(', ')}: ${column} holds a NUL character (U+0000), which PostgreSQL cannot store (an earlier version took one in an email); ${fix} and copy again; nothing was kept`)
    }
  }
}

export async function copyDatabase(from: Kysely<Database>, to: Kysely<Database>, batchSize = 500): Promise<Record<string, number>> {
  // The same refusal as before migrating (`fsm copy` asks first), for any caller.
  await refuseTargetWithData(to)
  const copied: Record<string, number> = {}
  await inSnapshot(from, (source) => to.transaction().execute(async (trx) => {
    for (const [table, idColumn] of TABLES) {
      const order = ORDER_BY[table] ?? [idColumn!]
      // Each batch starts after the last row of the one before, found in the
      // key's index: with OFFSET every batch stepped over all the rows
      // before it, and a million jobs took minutes of that alone.
      let after: unknown[] | undefined
      copied[table] = 0
      for (;;) {
        let query = source.selectFrom(table).selectAll()
        if (after) query = query.where(sql<boolean>`(${sql.join(order.map((column) => sql.ref(column)))}) > (${sql.join(after)})`)
        for (const column of order) query = query.orderBy(sql.ref(column))
        const rows = (await query.limit(batchSize).execute()) as Record<string, unknown>[]
        if (rows.length === 0) break
        if (!isSqlite(trx)) refuseNul(table, order, rows)
        await trx.insertInto(table).values(rows as any).execute()
        copied[table] += rows.length
        const last = rows.at(-1)!
        after = order.map((column) => last[column])
      }
      if (idColumn && !isSqlite(trx)) {
        // Identity columns: continue numbering after the copied ids.
        await sql`select setval(pg_get_serial_sequence(${table}, ${idColumn}), coalesce((select max(${sql.ref(idColumn)}) from ${sql.table(table)}), 0) + 1, false)`.execute(trx)
      }
    }
    // Derived data (list totals) is recomputed rather than copied.
    await rebuildJobCounts(trx)
    for (const [table] of TABLES) {
      const [inSource, inTarget] = [await count(source, table), await count(trx, table)]
      if (inSource !== inTarget || inTarget !== copied[table]) throw new CopyError(`verification failed for ${table}: source ${inSource}, target ${inTarget}, copied ${copied[table]}; nothing was kept`)
    }
  }))
  return copied
}
