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
import { countJobs, readListSeqs } from '../src/modules/jobs/jobs.repository.ts'
import { JOB_STATUSES } from '../src/modules/jobs/status.ts'

for (const dialect of DIALECTS) {
  describe(`job counts and sequences in stripes (${dialect})`, () => {
    let t: TestApp
    let tenant: Tenant
    let basics: Awaited<ReturnType<typeof createBasics>>

    before(async () => {
      t = await startTestApp(dialect)
      tenant = await createTenant(t.database)
      basics = await createBasics(t.app, tenant.apiKey)
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
  })
}
