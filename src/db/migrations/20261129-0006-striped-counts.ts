import { sql, type Kysely } from 'kysely'

/**
 * Job counts and list sequences in stripes (issue 6). Every job write moves
 * its company's write sequence and counts, in its own transaction: with one
 * row each, a company's writes waited for one another's COMMIT on
 * PostgreSQL (850–1,140 writes a second at 32 connections, whatever the
 * server). Now a write moves the rows of one stripe (PostgreSQL picks one
 * of 16 at random; SQLite, which runs one write at a time anyway, always
 * stripe 0), and readers sum the stripes: the sum of the write sequences
 * still moves with every committed write, and a sum of counts is still the
 * exact count (a stripe's own count may be negative).
 *
 * Both tables are made anew (SQLite cannot change a primary key in place)
 * and filled from the jobs, as src/db/job-counts.ts does.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('job_counts').execute()
  await db.schema.dropTable('job_write_seqs').execute()
  await db.schema
    .createTable('job_counts')
    .addColumn('company_id', 'bigint', (c) => c.notNull())
    .addColumn('job_status', 'text', (c) => c.notNull())
    .addColumn('job_priority', 'text', (c) => c.notNull())
    .addColumn('stripe', 'integer', (c) => c.notNull())
    .addColumn('job_count', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('job_counts_pk', ['company_id', 'job_status', 'job_priority', 'stripe'])
    .execute()
  await db.schema
    .createTable('job_write_seqs')
    .addColumn('company_id', 'bigint', (c) => c.notNull())
    .addColumn('stripe', 'integer', (c) => c.notNull())
    .addColumn('write_seq', 'bigint', (c) => c.notNull())
    .addColumn('names_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('job_write_seqs_pk', ['company_id', 'stripe'])
    .execute()
  await fill(db)
}

/** The counts and sequences as this migration leaves them (src/db/job-counts.ts rebuilds them for the current schema). */
async function fill(db: Kysely<any>): Promise<void> {
  await sql`insert into job_counts (company_id, job_status, job_priority, stripe, job_count)
            select company_id, job_status, job_priority, 0, count(*) from jobs group by company_id, job_status, job_priority`.execute(db)
  // Sequence values above any a running server may have remembered answers under.
  const now = Date.now()
  await sql`insert into job_write_seqs (company_id, stripe, write_seq, names_seq) select company_id, 0, ${now}, ${now} from companies`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('job_counts').execute()
  await db.schema.dropTable('job_write_seqs').execute()
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
    .addColumn('names_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute()
  await sql`insert into job_counts (company_id, job_status, job_priority, job_count)
            select company_id, job_status, job_priority, count(*) from jobs group by company_id, job_status, job_priority`.execute(db)
  const now = Date.now()
  await sql`insert into job_write_seqs (company_id, write_seq, names_seq) select company_id, ${now}, ${now} from companies`.execute(db)
}
