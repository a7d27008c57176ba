import { sql, type Kysely } from 'kysely'

/**
 * Exact totals without counting a million rows (issue 6): the number of a
 * company's jobs per (status, priority), kept in the same transaction as
 * every job write; and a per-company sequence bumped by every job write, so
 * caches of list positions know when they are stale.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('job_counts')
    .addColumn('company_id', 'bigint', (c) => c.notNull())
    .addColumn('job_status', 'text', (c) => c.notNull())
    .addColumn('job_priority', 'text', (c) => c.notNull())
    .addColumn('job_count', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('job_counts_pk', ['company_id', 'job_status', 'job_priority'])
    .execute()
  await db.schema
    .createTable('job_write_seqs')
    .addColumn('company_id', 'bigint', (c) => c.primaryKey())
    .addColumn('write_seq', 'bigint', (c) => c.notNull())
    .execute()
  await rebuildJobCounts(db)
}

/** The counts and sequences as this migration left them (src/db/job-counts.ts rebuilds them for the current schema). */
async function rebuildJobCounts(db: Kysely<any>): Promise<void> {
  await db.deleteFrom('job_counts').execute()
  await sql`insert into job_counts (company_id, job_status, job_priority, job_count)
            select company_id, job_status, job_priority, count(*) from jobs group by company_id, job_status, job_priority`.execute(db)
  await db.deleteFrom('job_write_seqs').execute()
  await sql`insert into job_write_seqs (company_id, write_seq) select company_id, ${Date.now()} from companies`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('job_write_seqs').execute()
  await db.schema.dropTable('job_counts').execute()
}
