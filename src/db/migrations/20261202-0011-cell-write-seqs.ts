import { sql, type Kysely } from 'kysely'

/**
 * A write sequence per (status, priority) cell of the job counts (issue 6).
 * Every job write moves the sequence of each cell its job leaves, enters
 * or stays in (in the write's transaction, as the counts). A remembered
 * page of a list filtered by status and priority alone shows only jobs of
 * its cells: while their sequence stands (and the names sequence), no job
 * it could show was written, so the page holds without reading its keys
 * and its jobs' row versions again, whatever the company's other jobs do.
 * Under `mixed`'s writes that check took the read thread ~200–330 µs a
 * list (docs/performance.md).
 *
 * The cells' rows start at the time in milliseconds, as the company
 * sequences do after a rebuild (src/db/job-counts.ts): a value no running
 * server may have remembered a page under.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('job_counts').addColumn('write_seq', 'bigint', (c) => c.notNull().defaultTo(0)).execute()
  await db.updateTable('job_counts').set({ write_seq: sql`${Date.now()}` }).execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('job_counts').dropColumn('write_seq').execute()
}
