import { randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'

/**
 * An id for the installation, made once with its database. State kept
 * outside the database is kept under it: Redis holds rate-limit buckets by
 * API key id, and key ids are per database (every installation has a key 1),
 * so two installations sharing one Redis would otherwise share budgets. The
 * processes of one installation share its database, and so its buckets.
 * `fsm copy` does not carry it over: the target database has its own (the
 * buckets are a minute's worth of state).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('installation').addColumn('installation_id', 'text', (c) => c.notNull()).execute()
  await db.insertInto('installation').values({ installation_id: randomUUID() }).execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('installation').execute()
}
