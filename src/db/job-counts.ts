/**
 * The per-company job counts and list sequences (migrations 0003, 0004, 0006 and 0011),
 * rebuilt from the jobs themselves: after bulk loads that bypass the API
 * (`fsm copy`, the benchmark's generator).
 */
import { sql, type Kysely } from 'kysely'

export async function rebuildJobCounts(db: Kysely<any>): Promise<void> {
  // New sequence values, never ones a running server may have remembered answers under.
  const now = Date.now()
  await db.deleteFrom('job_counts').execute()
  await sql`insert into job_counts (company_id, job_status, job_priority, stripe, job_count, write_seq)
            select company_id, job_status, job_priority, 0, count(*), ${now} from jobs group by company_id, job_status, job_priority`.execute(db)
  await db.deleteFrom('job_write_seqs').execute()
  await sql`insert into job_write_seqs (company_id, stripe, write_seq, names_seq) select company_id, 0, ${now}, ${now} from companies`.execute(db)
}
