import type { Kysely } from 'kysely'

/**
 * The jobs' updated_at index also holds each job's scheduled_start (issue
 * 6). A sync of what changed since a mark, in schedule order
 * (`updated_after=…&sort=scheduled_start`, the dispatch board's view), had
 * two ways to go, both through the table: walk the schedule index and read
 * each job's updated_at from the table until the page is full (the jobs
 * changed since a mark a year back begin half-way along the schedule), or
 * find the changed jobs by the updated_at index and read each one's
 * schedule from the table. On the benchmark's data set either took
 * 190-290 ms for one page, on SQLite's event loop. With the schedule in
 * this index, the changed jobs are found and sorted from the index alone
 * (25-45 ms for the page's statement).
 *
 * Like 0007, it costs writes nothing more: every job write moves
 * updated_at, so it already rewrote this index's entry of the job. The
 * entries grow by the schedule's bytes.
 *
 * Rebuilding the index reads every job: seconds for a million jobs,
 * during which writes to the table wait (run `fsm migrate` at a quiet moment,
 * docs/deployment.md).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('jobs_company_updated').execute()
  await db.schema.createIndex('jobs_company_updated').on('jobs').columns(['company_id', 'updated_at', 'job_id', 'job_status', 'job_priority', 'scheduled_start']).execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('jobs_company_updated').execute()
  await db.schema.createIndex('jobs_company_updated').on('jobs').columns(['company_id', 'updated_at', 'job_id', 'job_status', 'job_priority']).execute()
}
