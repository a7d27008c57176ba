/**
 * `fsm copy`: moves a whole installation between databases (SQLite ⇄
 * PostgreSQL): every company, key, record, link and history entry, with
 * their ids, then sets the target's id sequences past them and verifies the
 * counts. It refuses to write into a database that holds any data.
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

export async function copyDatabase(from: Kysely<Database>, to: Kysely<Database>, batchSize = 500): Promise<Record<string, number>> {
  for (const [table] of TABLES) {
    if ((await count(to, table)) > 0) throw new CopyError(`the target database is not empty (table ${table} has rows); copy only into an empty database`)
  }
  const copied: Record<string, number> = {}
  await to.transaction().execute(async (trx) => {
    for (const [table, idColumn] of TABLES) {
      const order = ORDER_BY[table] ?? [idColumn!]
      let offset = 0
      copied[table] = 0
      for (;;) {
        let query = from.selectFrom(table).selectAll()
        for (const column of order) query = query.orderBy(sql.ref(column))
        const rows = (await query.limit(batchSize).offset(offset).execute()) as Record<string, unknown>[]
        if (rows.length === 0) break
        await trx.insertInto(table).values(rows as any).execute()
        copied[table] += rows.length
        offset += rows.length
      }
      if (idColumn && !isSqlite(trx)) {
        // Identity columns: continue numbering after the copied ids.
        await sql`select setval(pg_get_serial_sequence(${table}, ${idColumn}), coalesce((select max(${sql.ref(idColumn)}) from ${sql.table(table)}), 0) + 1, false)`.execute(trx)
      }
    }
    // Derived data (list totals) is recomputed rather than copied.
    await rebuildJobCounts(trx)
  })
  for (const [table] of TABLES) {
    const [source, target] = [await count(from, table), await count(to, table)]
    if (source !== target || target !== copied[table]) throw new CopyError(`verification failed for ${table}: source ${source}, target ${target}, copied ${copied[table]}`)
  }
  return copied
}
