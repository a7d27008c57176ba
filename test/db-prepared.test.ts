/**
 * Prepared queries (src/db/prepared.ts) run straight on the SQLite
 * connection when that is safe. They must see exactly what a query through
 * Kysely would: never another request's uncommitted write, always their own
 * transaction's. On PostgreSQL they are named statements, in and out of
 * transactions.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { sql } from 'kysely'
import { DIALECTS, startTestApp, type TestApp } from './helpers/app.ts'
import { createBasics, createJobVia, createTenant, type Tenant } from './helpers/factories.ts'
import { inTransaction } from '../src/db/transaction.ts'
import { findJob, findJobView, findJobViewForUpdate, updateJob } from '../src/modules/jobs/jobs.repository.ts'
import SqliteDatabase from 'better-sqlite3'
import { prepared, preparedWrite, sqliteConnectionOf } from '../src/db/prepared.ts'

for (const dialect of DIALECTS) {
  describe(`prepared queries (${dialect})`, () => {
    let t: TestApp
    let tenant: Tenant
    let jobId: number

    before(async () => {
      t = await startTestApp(dialect)
      tenant = await createTenant(t.database)
      const basics = await createBasics(t.app, tenant.apiKey)
      jobId = await createJobVia(t.app, tenant.apiKey, basics.locationId, { job_title: 'Committed title' })
    })
    after(() => t.close())

    it('a read outside a transaction never sees an open transaction’s write, one inside always does', async () => {
      const db = t.database.db
      let wrote!: () => void
      const written = new Promise<void>((resolve) => (wrote = resolve))
      let release!: () => void
      const gate = new Promise<void>((resolve) => (release = resolve))
      let seenInside: string | undefined
      const transaction = inTransaction(db, async (trx) => {
        await updateJob(trx, tenant.companyId, jobId, { job_title: 'Uncommitted title' }, Math.floor(Date.now() / 1000))
        seenInside = (await findJob(trx, tenant.companyId, jobId))?.job_title
        wrote()
        await gate
        throw new Error('roll back')
      })
      await written
      // Started while the transaction is open and waiting: on SQLite it shares the connection.
      const outside = [findJob(db, tenant.companyId, jobId), findJobView(db, tenant.companyId, jobId)]
      release()
      await assert.rejects(transaction, /roll back/)
      const [row, view] = await Promise.all(outside)
      assert.equal(seenInside, 'Uncommitted title')
      assert.equal(row?.job_title, 'Committed title')
      assert.equal(view?.job_title, 'Committed title')
      assert.equal((await findJob(db, tenant.companyId, jobId))?.job_title, 'Committed title')
    })

    if (dialect === 'postgres') {
      it('run as named statements inside a transaction too (parsed and planned once per connection), other queries unnamed', async () => {
        const namedNow = async (trx: typeof t.database.db) =>
          (await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(trx)).rows
        await inTransaction(t.database.db, async (trx) => {
          const before = await namedNow(trx)
          assert.equal((await findJobViewForUpdate(trx, tenant.companyId, jobId))?.job_id, jobId)
          await sql`select ${jobId}::bigint as unprepared`.execute(trx)
          const added = (await namedNow(trx)).filter((row) => !before.some((b) => b.name === row.name))
          const view = (await namedNow(trx)).find((row) => row.statement.includes('for no key update') && row.statement.includes('"j"."job_title"'))
          assert.ok(view?.name.startsWith('fsm_prepared_'), JSON.stringify(added))
          assert.ok(!(await namedNow(trx)).some((row) => row.statement.includes('as unprepared')), 'an ad-hoc query stays unnamed')
          // Once per connection: the same read again adds nothing.
          const count = (await namedNow(trx)).length
          await findJobViewForUpdate(trx, tenant.companyId, jobId)
          assert.equal((await namedNow(trx)).length, count)
        })
      })
    }

    if (dialect === 'sqlite') {
      // turn-reads.ts: the reads of one turn of the event loop share one read transaction.
      const nextTurn = () => new Promise((resolve) => setImmediate(resolve))
      const connectionOf = () => sqliteConnectionOf(t.database.db)!.sqlite
      const titleOf = async () => (await findJob(t.database.db, tenant.companyId, jobId))?.job_title
      const otherConnection = () => new SqliteDatabase(t.database.description.slice('sqlite:'.length))
      const setTitle = preparedWrite((db, companyId: number, id: number, title: string) =>
        db.updateTable('jobs').set({ job_title: title }).where('company_id', '=', companyId).where('job_id', '=', id),
      )

      it('reads outside transactions share one read transaction, which ends with the turn', async () => {
        await nextTurn()
        assert.equal(connectionOf().inTransaction, false)
        assert.equal((await findJobView(t.database.db, tenant.companyId, jobId))?.job_id, jobId)
        assert.equal(connectionOf().inTransaction, true, 'the read opened the turn’s transaction')
        assert.equal((await findJob(t.database.db, tenant.companyId, jobId))?.job_id, jobId)
        await nextTurn()
        assert.equal(connectionOf().inTransaction, false, 'ended with the turn')
        // A read through Kysely (not a prepared query) opens it as well.
        assert.equal((await t.database.db.selectFrom('jobs').select('job_title').where('job_id', '=', jobId).executeTakeFirst())?.job_title, 'Committed title')
        assert.equal(connectionOf().inTransaction, true)
        await nextTurn()
        assert.equal(connectionOf().inTransaction, false)
      })

      it('a write in the same turn runs outside it, committed at once, and the next read sees it', async () => {
        const other = otherConnection()
        try {
          for (const [how, write] of [
            ['prepared', (title: string) => setTitle(t.database.db, tenant.companyId, jobId, title)],
            ['through Kysely', (title: string) => t.database.db.updateTable('jobs').set({ job_title: title }).where('job_id', '=', jobId).execute()],
            ['in a group of writes', (title: string) => inTransaction(t.database.db, (trx) => setTitle(trx, tenant.companyId, jobId, title))],
          ] as const) {
            await nextTurn()
            const title = `Written ${how}`
            assert.notEqual(await titleOf(), title)
            assert.equal(connectionOf().inTransaction, true)
            await write(title)
            assert.equal(connectionOf().inTransaction, false, `${how}: not left inside a transaction`)
            // Committed, not waiting for the turn to end: another connection sees it now.
            assert.equal((other.prepare('select job_title from jobs where job_id = ?').get(jobId) as { job_title: string }).job_title, title, how)
            assert.equal(await titleOf(), title, how)
          }
        } finally {
          other.close()
          await setTitle(t.database.db, tenant.companyId, jobId, 'Committed title')
        }
      })

      it('another process’s write is seen from the next turn on (docs/decisions.md)', async () => {
        const other = otherConnection()
        try {
          await nextTurn()
          assert.equal(await titleOf(), 'Committed title')
          other.prepare('update jobs set job_title = ? where job_id = ?').run('Written elsewhere', jobId)
          assert.equal(await titleOf(), 'Committed title', 'the turn’s reads keep the turn’s first view')
          await nextTurn()
          assert.equal(await titleOf(), 'Written elsewhere')
        } finally {
          other.close()
          await setTitle(t.database.db, tenant.companyId, jobId, 'Committed title')
        }
      })
    }

    it('binds every argument where it belongs, for each tenant', async () => {
      const other = await createTenant(t.database)
      assert.equal(await findJob(t.database.db, other.companyId, jobId), undefined)
      assert.equal((await findJob(t.database.db, tenant.companyId, jobId))?.job_id, jobId)
      assert.equal(await findJob(t.database.db, tenant.companyId, jobId + 1_000_000), undefined)
    })

    it('gives the rows Kysely gives: same keys in the same order, same values, on a fresh connection and on a transaction', async () => {
      const db = t.database.db
      const build = (q: typeof db, companyId: number, id: number) =>
        q
          .selectFrom('jobs as j')
          .innerJoin('customer_locations as l', 'l.customer_location_id', 'j.customer_location_id')
          .select(['j.job_id', 'j.job_title', 'j.job_description', 'l.customer_location_name as name', 'j.scheduled_start', 'j.row_version'])
          .select((eb) => eb.lit(1).as('job_id'))
          .where('j.company_id', '=', companyId)
          .where('j.job_id', '>=', id)
      const viaPrepared = prepared(build)
      const expected = await build(db, tenant.companyId, 0).execute()
      assert.ok(expected.length > 0)
      // A repeated column name keeps its first place and its last value, as an object row does.
      assert.deepEqual(Object.keys(expected[0]!), ['job_id', 'job_title', 'job_description', 'name', 'scheduled_start', 'row_version'])
      assert.equal(expected[0]!.job_id, 1)
      for (const rows of [await viaPrepared(db, tenant.companyId, 0), await inTransaction(db, (trx) => viaPrepared(trx, tenant.companyId, 0))]) {
        assert.deepEqual(rows, expected)
        assert.deepEqual(rows.map((r) => Object.keys(r)), expected.map((r) => Object.keys(r)))
      }
      assert.deepEqual(await viaPrepared(db, tenant.companyId, jobId + 1), [])
    })
  })
}
