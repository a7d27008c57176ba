/**
 * Migrations that reshape tables keep what the tables held. 0006 (job
 * counts and list sequences in stripes) carries the counts and sequences
 * over as stripe 0 instead of recounting the jobs, and its down migration
 * sums the stripes back. 0007 rebuilds the jobs' updated_at index with
 * each job's status and priority in it, 0008 with its scheduled_start too,
 * and their down migrations without. A database a newer version migrated
 * is refused with what to do (an upgrade rolled back).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { sql, type Kysely } from 'kysely'
import { connect } from '../src/db/connect.ts'
import { MigrationError, migrateToLatest, migratorFor } from '../src/db/migrator.ts'
import pg from 'pg'
import { DIALECTS, freshDatabase, PG_URL } from './helpers/app.ts'

async function rows(db: Kysely<any>, query: ReturnType<typeof sql>) {
  return (await query.execute(db)).rows.map((row) => Object.fromEntries(Object.entries(row as object).map(([k, v]) => [k, typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v])))
}

/** A fresh database of `dialect` migrated by `steps` alone: `to` a named migration, `down` one. */
async function migrating(dialect: (typeof DIALECTS)[number], steps: (db: Kysely<any>, to: (name: string) => Promise<void>, down: () => Promise<void>) => Promise<void>) {
  const { database, cleanup } = await freshDatabase(dialect, { migrate: false })
  const db = database.db as Kysely<any>
  try {
    const migrator = await migratorFor(db)
    const check = ({ error }: { error?: unknown }) => {
      if (error) throw error
    }
    await steps(db, async (name) => check(await migrator.migrateTo(name)), async () => check(await migrator.migrateDown()))
  } finally {
    await database.close()
    await cleanup()
  }
}

for (const dialect of DIALECTS) {
  describe(`migrations (${dialect})`, () => {
    it('0006 carries counts and sequences over as stripe 0, and its down migration sums the stripes back', async () => {
      await migrating(dialect, async (db, to, down) => {
        await to('20261129-0005-installation')
        await sql`insert into job_counts (company_id, job_status, job_priority, job_count) values (7, 'Pending', 'High', 12), (7, 'Closed', 'Low', 3), (8, 'Pending', 'High', 1)`.execute(db)
        await sql`insert into job_write_seqs (company_id, write_seq, names_seq) values (7, 1000, 40), (8, 5, 5)`.execute(db)

        await to('20261129-0006-striped-counts')
        assert.deepEqual(await rows(db, sql`select company_id, job_status, job_priority, stripe, job_count from job_counts order by company_id, job_status`), [
          { company_id: 7, job_status: 'Closed', job_priority: 'Low', stripe: 0, job_count: 3 },
          { company_id: 7, job_status: 'Pending', job_priority: 'High', stripe: 0, job_count: 12 },
          { company_id: 8, job_status: 'Pending', job_priority: 'High', stripe: 0, job_count: 1 },
        ])
        assert.deepEqual(await rows(db, sql`select company_id, stripe, write_seq, names_seq from job_write_seqs order by company_id`), [
          { company_id: 7, stripe: 0, write_seq: 1000, names_seq: 40 },
          { company_id: 8, stripe: 0, write_seq: 5, names_seq: 5 },
        ])

        // Writes in other stripes (as PostgreSQL makes them), then back down: one row per cell and company, summed.
        await sql`insert into job_counts (company_id, job_status, job_priority, stripe, job_count) values (7, 'Pending', 'High', 5, -2), (7, 'Closed', 'Low', 9, 2)`.execute(db)
        await sql`insert into job_write_seqs (company_id, stripe, write_seq, names_seq) values (7, 5, 1, 0), (7, 9, 1, 0)`.execute(db)
        await down()
        assert.deepEqual(await rows(db, sql`select company_id, job_status, job_priority, job_count from job_counts order by company_id, job_status`), [
          { company_id: 7, job_status: 'Closed', job_priority: 'Low', job_count: 5 },
          { company_id: 7, job_status: 'Pending', job_priority: 'High', job_count: 10 },
          { company_id: 8, job_status: 'Pending', job_priority: 'High', job_count: 1 },
        ])
        assert.deepEqual(await rows(db, sql`select company_id, write_seq, names_seq from job_write_seqs order by company_id`), [
          { company_id: 7, write_seq: 1002, names_seq: 40 },
          { company_id: 8, write_seq: 5, names_seq: 5 },
        ])
        // And up again.
        await to('20261129-0006-striped-counts')
      })
    })

    /** The columns of the jobs' updated_at index, in order. */
    const updatedIndexColumns = async (db: Kysely<any>) =>
      dialect === 'sqlite'
        ? (await rows(db, sql`select name from pragma_index_info('jobs_company_updated') order by seqno`)).map((r) => r.name)
        : (await rows(db, sql`select a.attname as name from pg_index i join pg_class c on c.oid = i.indexrelid join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey::int2[])
                              where c.relname = 'jobs_company_updated' and c.relnamespace = current_schema()::regnamespace order by array_position(i.indkey::int2[], a.attnum)`)).map((r) => r.name)

    it('0007 puts status and priority into the updated_at index, and its down migration takes them out', async () => {
      await migrating(dialect, async (db, to, down) => {
        await to('20261129-0006-striped-counts')
        assert.deepEqual(await updatedIndexColumns(db), ['company_id', 'updated_at', 'job_id'])
        await to('20261130-0007-updated-index-status')
        assert.deepEqual(await updatedIndexColumns(db), ['company_id', 'updated_at', 'job_id', 'job_status', 'job_priority'])
        await down()
        assert.deepEqual(await updatedIndexColumns(db), ['company_id', 'updated_at', 'job_id'])
      })
    })

    it('0009 folds the final sigma of stored searchable text into the sigma, and nothing else', async () => {
      await migrating(dialect, async (db, to) => {
        await to('20261130-0008-updated-index-schedule')
        const [company] = await rows(db, sql`insert into companies (company_name, plan, modules, created_at) values ('C', 'enterprise', 'assets', 0) returning company_id`)
        for (const [name, text] of [['ΟΔΟΣ', 'οδο\u03c2'], ['Café', 'café']]) {
          await sql`insert into customers (company_id, customer_name, search_text, created_at, updated_at) values (${company!.company_id}, ${name}, ${text}, 0, 0)`.execute(db)
        }
        await to('20261201-0009-search-final-sigma')
        assert.deepEqual(await rows(db, sql`select customer_name, search_text from customers order by customer_id`), [
          { customer_name: 'ΟΔΟΣ', search_text: 'οδο\u03c3' },
          { customer_name: 'Café', search_text: 'café' },
        ])
      })
    })

    it('0010 composes stored searchable text (NFC) and drops the dot of a lowered İ, in every searchable table, and nothing else', async () => {
      await migrating(dialect, async (db, to) => {
        await to('20261201-0009-search-final-sigma')
        const [company] = await rows(db, sql`insert into companies (company_name, plan, modules, created_at) values ('C', 'enterprise', 'assets', 0) returning company_id`)
        const c = company!.company_id
        const nfd = 'Cafe\u0301 Phở'.normalize('NFD')
        for (const name of [nfd, 'Café', 'Plain', 'İzmir']) {
          await sql`insert into customers (company_id, customer_name, search_text, created_at, updated_at) values (${c}, ${name}, ${name.toLowerCase()}, 0, 0)`.execute(db)
        }
        const [customer] = await rows(db, sql`select customer_id from customers order by customer_id limit 1`)
        await sql`insert into customer_locations (company_id, customer_id, customer_location_name, search_text, created_at, updated_at) values (${c}, ${customer!.customer_id}, ${nfd}, ${nfd.toLowerCase()}, 0, 0)`.execute(db)
        await sql`insert into technicians (company_id, technician_name, search_text, technician_status, created_at, updated_at) values (${c}, ${nfd}, ${nfd.toLowerCase()}, 'Active', 0, 0)`.execute(db)
        await sql`insert into assets (company_id, asset_tag, asset_name, search_text, asset_status, created_at, updated_at) values (${c}, ${nfd}, 'N', ${`${nfd.toLowerCase()}\nn`}, 'Active', 0, 0)`.execute(db)
        await to('20261202-0010-search-nfc')
        const composed = 'café phở'
        assert.notEqual(composed, nfd.toLowerCase())
        assert.deepEqual(await rows(db, sql`select customer_name, search_text from customers order by customer_id`), [
          { customer_name: nfd, search_text: composed },
          { customer_name: 'Café', search_text: 'café' },
          { customer_name: 'Plain', search_text: 'plain' },
          { customer_name: 'İzmir', search_text: 'izmir' },
        ])
        assert.deepEqual(await rows(db, sql`select customer_location_name as name, search_text from customer_locations`), [{ name: nfd, search_text: composed }])
        assert.deepEqual(await rows(db, sql`select technician_name as name, search_text from technicians`), [{ name: nfd, search_text: composed }])
        assert.deepEqual(await rows(db, sql`select asset_tag as name, search_text from assets`), [{ name: nfd, search_text: `${composed}\nn` }])
      })
    })

    it('0011 gives each count cell a write sequence starting at the time, keeping the counts; its down migration takes it out', async () => {
      await migrating(dialect, async (db, to, down) => {
        await to('20261202-0010-search-nfc')
        await sql`insert into job_counts (company_id, job_status, job_priority, stripe, job_count) values (7, 'Pending', 'High', 0, 12), (7, 'Closed', 'Low', 3, -2)`.execute(db)
        const before = Date.now()
        await to('20261202-0011-cell-write-seqs')
        const cells = await rows(db, sql`select job_status, stripe, job_count, write_seq from job_counts order by job_status`)
        assert.deepEqual(cells.map(({ write_seq, ...cell }) => cell), [
          { job_status: 'Closed', stripe: 3, job_count: -2 },
          { job_status: 'Pending', stripe: 0, job_count: 12 },
        ])
        // A value no server running before could have remembered a page under.
        for (const { write_seq } of cells) assert.ok(write_seq >= before && write_seq <= Date.now(), String(write_seq))
        await down()
        assert.deepEqual(await rows(db, sql`select job_status, stripe, job_count from job_counts order by job_status`), [
          { job_status: 'Closed', stripe: 3, job_count: -2 },
          { job_status: 'Pending', stripe: 0, job_count: 12 },
        ])
        await to('20261202-0011-cell-write-seqs')
      })
    })

    it('0008 puts scheduled_start into the updated_at index, and its down migration takes it out', async () => {
      await migrating(dialect, async (db, to, down) => {
        await to('20261130-0008-updated-index-schedule')
        assert.deepEqual(await updatedIndexColumns(db), ['company_id', 'updated_at', 'job_id', 'job_status', 'job_priority', 'scheduled_start'])
        await down()
        assert.deepEqual(await updatedIndexColumns(db), ['company_id', 'updated_at', 'job_id', 'job_status', 'job_priority'])
      })
    })
  })
}

for (const dialect of DIALECTS) {
  describe(`a database migrated by a newer version (${dialect})`, () => {
    it('is refused with what to do, not as "corrupted migrations", and left as it is', async () => {
      const { database, cleanup } = await freshDatabase(dialect)
      const db = database.db as Kysely<any>
      try {
        // What a later version's migration leaves behind: its name among the applied ones.
        await db.insertInto('kysely_migration').values({ name: '20991231-0099-from-the-future', timestamp: new Date().toISOString() }).execute()
        await assert.rejects(migrateToLatest(db), (error: Error) => {
          assert.ok(error instanceof MigrationError)
          assert.equal(
            error.message,
            'this database was migrated by a newer version of FSM Navigator (it has 20991231-0099-from-the-future, which this version does not know): run that version or a later one, or restore a backup taken before the upgrade',
          )
          return true
        })
        const names = (await db.selectFrom('kysely_migration').select('name').execute()).map((row) => row.name)
        assert.ok(names.includes('20991231-0099-from-the-future'))
        // Without it, the same database is up to date.
        await db.deleteFrom('kysely_migration').where('name', '=', '20991231-0099-from-the-future').execute()
        assert.deepEqual(await migrateToLatest(db), [])
      } finally {
        await database.close()
        await cleanup()
      }
    })
  })
}

describe('a PostgreSQL database not in UTF8', { skip: PG_URL ? false : 'FSM_TEST_DATABASE_URL is not set' }, () => {
  it('is refused before anything is migrated, with what to do (in LATIN1, a write with an emoji was a 500)', async () => {
    const name = `fsm_latin1_${process.pid}`
    const admin = new pg.Client({ connectionString: PG_URL })
    await admin.connect()
    try {
      await admin.query(`create database ${name} encoding 'LATIN1' lc_collate 'C' lc_ctype 'C' template template0`)
      const url = new URL(PG_URL!)
      url.pathname = `/${name}`
      const database = connect(url.toString())
      try {
        await assert.rejects(migrateToLatest(database.db), (error) => {
          assert.ok(error instanceof MigrationError)
          assert.match(error.message, /encoding is LATIN1, and FSM Navigator needs UTF8.*createdb -E UTF8/)
          return true
        })
        const tables = await sql<{ n: string }>`select count(*) as n from information_schema.tables where table_schema = current_schema()`.execute(database.db)
        assert.equal(Number(tables.rows[0]!.n), 0, 'nothing was migrated')
      } finally {
        await database.close()
      }
    } finally {
      await admin.query(`drop database if exists ${name}`)
      await admin.end()
    }
  })
})

describe('migrations beside other schemas coming and going (PostgreSQL)', { skip: PG_URL ? false : 'FSM_TEST_DATABASE_URL is not set' }, () => {
  // Kysely's migrator looked at every schema of the database to find its own
  // tables, and failed ("schema … does not exist") when another session
  // dropped one meanwhile: 7 of 10 migrations failed beside two sessions
  // making and dropping schemas, before the migrator looked at its schema alone.
  it('a migration succeeds while other sessions create and drop schemas', async () => {
    let stop = false
    const churn = async (k: number) => {
      const client = new pg.Client({ connectionString: PG_URL })
      await client.connect()
      try {
        for (let i = 0; !stop; i++) {
          const schema = `fsm_churn_${process.pid}_${k}_${i}`
          await client.query(`create schema ${schema}; create table ${schema}.t (id serial primary key)`)
          await client.query(`drop schema ${schema} cascade`)
        }
      } finally {
        await client.end()
      }
    }
    const churners = [churn(1), churn(2)]
    try {
      for (let n = 0; n < 6; n++) {
        const fresh = await freshDatabase('postgres')
        await fresh.database.close()
        await fresh.cleanup()
      }
    } finally {
      stop = true
      await Promise.all(churners)
    }
  })
})
