import type { Kysely } from 'kysely'

/**
 * Safe sync (API.md §8): idempotency keys, one row per (API key,
 * Idempotency-Key), kept 24 hours; and a row version on every record that
 * has an ETag, bumped by every write, so two writes within one second (the
 * timestamps' resolution) still give two different ETags.
 */
export async function up(db: Kysely<any>): Promise<void> {
  for (const table of ['jobs', 'customers', 'customer_locations', 'technicians', 'assets']) {
    await db.schema.alterTable(table).addColumn('row_version', 'integer', (c) => c.notNull().defaultTo(1)).execute()
  }
  await db.schema
    .createTable('idempotency_keys')
    .addColumn('key_id', 'bigint', (c) => c.notNull())
    .addColumn('idempotency_key', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    /** `running` while the first request is in flight, then `done`. */
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('response_status', 'integer')
    .addColumn('response_body', 'text')
    /** JSON object of the headers a replay repeats (Location, ETag). */
    .addColumn('response_headers', 'text')
    .addColumn('request_id', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('locked_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['key_id', 'idempotency_key'])
    .execute()
  await db.schema.createIndex('idempotency_keys_created').on('idempotency_keys').column('created_at').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('idempotency_keys').execute()
  for (const table of ['jobs', 'customers', 'customer_locations', 'technicians', 'assets']) {
    await db.schema.alterTable(table).dropColumn('row_version').execute()
  }
}
