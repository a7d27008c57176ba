/**
 * Job counts and list sequences in stripes (migration 0006): on PostgreSQL
 * concurrent writes of one company spread over the stripes instead of
 * queueing behind one row; on both dialects the summed sequence moves once
 * per write and the summed counts stay exact.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { sql } from 'kysely'
import { DIALECTS, startTestApp, type TestApp } from './helpers/app.ts'
import { call, createBasics, createTenant, type Tenant } from './helpers/factories.ts'
import { countJobs } from '../src/modules/jobs/jobs.list-queries.ts'
import { changeStatusRecorded } from '../src/modules/jobs/jobs.repository.ts'
import { readListSeqs, recordJobWrite } from '../src/modules/jobs/jobs.write-record.ts'
import { JOB_STATUSES } from '../src/modules/jobs/status.ts'

for (const dialect of DIALECTS) {
  describe(`job counts and sequences in stripes (${dialect})`, () => {
    let t: TestApp
    let tenant: Tenant
    let basics: Awaited<ReturnType<typeof createBasics>>
    /** A job of the tenant's, for history lines written outside the API. */
    let historyJobId: number

    before(async () => {
      t = await startTestApp(dialect)
      tenant = await createTenant(t.database)
      basics = await createBasics(t.app, tenant.apiKey)
      const job = await call(t.app, 'POST', '/api/v1/jobs', { key: tenant.apiKey, body: { job_title: 'History holder', customer_location_id: basics.locationId } })
      historyJobId = job.body.data.job_id
    })
    after(() => t.close())

    it('concurrent writes move the summed sequence once each and keep every count exact', async () => {
      const before = await readListSeqs(t.database.db, tenant.companyId)
      const created = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          call(t.app, 'POST', '/api/v1/jobs', { key: tenant.apiKey, body: { job_title: `Striped ${i}`, customer_location_id: basics.locationId, job_priority: i % 2 ? 'High' : 'Low' } }),
        ),
      )
      assert.ok(created.every((r) => r.status === 201))
      const patched = await Promise.all(
        created.slice(0, 20).map((r) => call(t.app, 'PATCH', `/api/v1/jobs?id=${r.body.data.job_id}`, { key: tenant.apiKey, body: { job_status: 'Cancelled' } })),
      )
      assert.ok(patched.every((r) => r.status === 200))
      const afterWrites = await readListSeqs(t.database.db, tenant.companyId)
      assert.equal(afterWrites.writeSeq - before.writeSeq, 60, 'one step per write')
      assert.equal(afterWrites.namesSeq, before.namesSeq, 'no name changed')

      for (const status of JOB_STATUSES) {
        const { rows } = await sql<{ n: number }>`select count(*) as n from jobs where company_id = ${tenant.companyId} and job_status = ${status}`.execute(t.database.db)
        assert.equal(await countJobs(t.database.db, tenant.companyId, { statuses: [status] }), Number(rows[0]!.n), status)
      }
      assert.equal(await countJobs(t.database.db, tenant.companyId, { statuses: ['Cancelled'], priority: 'High' }), 10)

      const { rows: stripes } = await sql<{ stripe: number }>`select stripe from job_write_seqs where company_id = ${tenant.companyId}`.execute(t.database.db)
      if (dialect === 'sqlite') assert.deepEqual(stripes.map((r) => Number(r.stripe)), [0], 'SQLite writes one at a time: one stripe')
      // 60 writes over 16 stripes at random: all in one stripe has odds of 16^-59.
      else assert.ok(stripes.length > 1, `PostgreSQL spreads writes over stripes (${stripes.length} used)`)
    })

    // On PostgreSQL the status change and its record are one statement: when
    // the job is no longer in `from`, none of it may happen.
    it('a status change that finds the job in another status records nothing', async () => {
      const seq = (await readListSeqs(t.database.db, tenant.companyId)).writeSeq
      const counts = await countJobs(t.database.db, tenant.companyId, { statuses: ['Assigned'] })
      const history = async () =>
        Number((await sql<{ n: number }>`select count(*) as n from job_status_changes where job_id = ${historyJobId}`.execute(t.database.db)).rows[0]!.n)
      const lines = await history()
      // The job is Pending: a change from Assigned finds nothing to change.
      const written = await t.database.db.transaction().execute((trx) =>
        changeStatusRecorded(trx, tenant.companyId, historyJobId, { from: 'Assigned', to: 'In Progress', at: 1, keyId: null }, 'Medium'),
      )
      assert.equal(written, undefined)
      assert.equal((await readListSeqs(t.database.db, tenant.companyId)).writeSeq, seq, 'no sequence step')
      assert.equal(await countJobs(t.database.db, tenant.companyId, { statuses: ['Assigned'] }), counts, 'no count moved')
      assert.equal(await history(), lines, 'no history line')
      // From the status it is in, the same change writes all of it.
      const done = await t.database.db.transaction().execute((trx) =>
        changeStatusRecorded(trx, tenant.companyId, historyJobId, { from: 'Pending', to: 'Assigned', at: 2, keyId: null }, 'Medium'),
      )
      assert.equal(Number(done?.row_version), 2)
      assert.equal((await readListSeqs(t.database.db, tenant.companyId)).writeSeq, seq + 1)
      assert.equal(await countJobs(t.database.db, tenant.companyId, { statuses: ['Assigned'] }), counts + 1)
      assert.equal(await history(), lines + 1)
    })

    if (dialect === 'postgres') {
      // recordJobWrite's one statement on PostgreSQL: writes moving counts in
      // opposite directions at once, each in a transaction of its own that
      // stays open a moment after it (no retry: a deadlock would fail it).
      it('opposite count moves at once neither deadlock nor lose a count', async () => {
        const cell = async (priority: string) => countJobs(t.database.db, tenant.companyId, { statuses: ['On Hold'], priority })
        const [high, low] = [await cell('High'), await cell('Low')]
        const seq = (await readListSeqs(t.database.db, tenant.companyId)).writeSeq
        const move = (from: string, to: string, i: number) =>
          t.database.db.transaction().execute(async (trx) => {
            await recordJobWrite(
              trx,
              tenant.companyId,
              [
                { status: 'On Hold', priority: from, delta: -1 },
                { status: 'On Hold', priority: to, delta: 1 },
              ],
              { jobId: historyJobId, from: 'On Hold', to: 'On Hold', at: i, keyId: null },
            )
            await new Promise((resolve) => setTimeout(resolve, 2))
          })
        await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? move('High', 'Low', i) : move('Low', 'High', i))))
        assert.equal(await cell('High'), high, 'as many moved into High as out of it')
        assert.equal(await cell('Low'), low)
        assert.equal((await readListSeqs(t.database.db, tenant.companyId)).writeSeq - seq, 60, 'one step per write')
        const { rows } = await sql<{ n: number }>`select count(*) as n from job_status_changes where job_id = ${historyJobId} and from_status = 'On Hold'`.execute(t.database.db)
        assert.equal(Number(rows[0]!.n), 60, 'one history line per write')
      })
    }
  })
}
