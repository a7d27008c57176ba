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
 * and take the rows of the old ones as stripe 0: the counts are exact
 * already, and recounting a million jobs here held ~80 MB of the server's
 * memory after it had migrated.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('job_counts_striped')
    .addColumn('company_id', 'bigint', (c) => c.notNull())
    .addColumn('job_status', 'text', (c) => c.notNull())
    .addColumn('job_priority', 'text', (c) => c.notNull())
    .addColumn('stripe', 'integer', (c) => c.notNull())
    .addColumn('job_count', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('job_counts_striped_pk', ['company_id', 'job_status', 'job_priority', 'stripe'])
    .execute()
  await sql`insert into job_counts_striped (company_id, job_status, job_priority, stripe, job_count)
            select company_id, job_status, job_priority, 0, job_count from job_counts`.execute(db)
  await db.schema.dropTable('job_counts').execute()
  await db.schema.alterTable('job_counts_striped').renameTo('job_counts').execute()

  await db.schema
    .createTable('job_write_seqs_striped')
    .addColumn('company_id', 'bigint', (c) => c.notNull())
    .addColumn('stripe', 'integer', (c) => c.notNull())
    .addColumn('write_seq', 'bigint', (c) => c.notNull())
    .addColumn('names_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('job_write_seqs_striped_pk', ['company_id', 'stripe'])
    .execute()
  await sql`insert into job_write_seqs_striped (company_id, stripe, write_seq, names_seq)
            select company_id, 0, write_seq, names_seq from job_write_seqs`.execute(db)
  await db.schema.dropTable('job_write_seqs').execute()
  await db.schema.alterTable('job_write_seqs_striped').renameTo('job_write_seqs').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('job_counts_single')
    .addColumn('company_id', 'bigint', (c) => c.notNull())
    .addColumn('job_status', 'text', (c) => c.notNull())
    .addColumn('job_priority', 'text', (c) => c.notNull())
    .addColumn('job_count', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('job_counts_single_pk', ['company_id', 'job_status', 'job_priority'])
    .execute()
  await sql`insert into job_counts_single (company_id, job_status, job_priority, job_count)
            select company_id, job_status, job_priority, sum(job_count) from job_counts group by company_id, job_status, job_priority`.execute(db)
  await db.schema.dropTable('job_counts').execute()
  await db.schema.alterTable('job_counts_single').renameTo('job_counts').execute()

  await db.schema
    .createTable('job_write_seqs_single')
    .addColumn('company_id', 'bigint', (c) => c.primaryKey())
    .addColumn('write_seq', 'bigint', (c) => c.notNull())
    .addColumn('names_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute()
  await sql`insert into job_write_seqs_single (company_id, write_seq, names_seq)
            select company_id, sum(write_seq), sum(names_seq) from job_write_seqs group by company_id`.execute(db)
  await db.schema.dropTable('job_write_seqs').execute()
  await db.schema.alterTable('job_write_seqs_single').renameTo('job_write_seqs').execute()
}
