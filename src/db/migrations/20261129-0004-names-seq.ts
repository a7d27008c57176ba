import type { Kysely } from 'kysely'

/**
 * A second per-company sequence beside the job write sequence, bumped only
 * by writes to what job lists show besides the jobs themselves (customer,
 * location and technician names): a remembered list page can then be
 * checked against its jobs' row versions instead of being rebuilt after
 * every job write (issue 6).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('job_write_seqs').addColumn('names_seq', 'bigint', (c) => c.notNull().defaultTo(0)).execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('job_write_seqs').dropColumn('names_seq').execute()
}
