/**
 * Write transactions (src/db/transaction.ts). On SQLite, writes that arrive
 * together share one COMMIT (group commit); each must still succeed or fail
 * alone, and none may be answered before the COMMIT that made it durable.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { sql } from 'kysely'
import { DIALECTS, startTestApp, type TestApp } from './helpers/app.ts'
import { createBasics, createJobVia, createTenant, type Tenant } from './helpers/factories.ts'
import { connect } from '../src/db/connect.ts'
import { inTransaction } from '../src/db/transaction.ts'
import { findJob, insertJob, updateJob } from '../src/modules/jobs/jobs.repository.ts'

const now = () => Math.floor(Date.now() / 1000)

for (const dialect of DIALECTS) {
  describe(`write transactions (${dialect})`, () => {
    let t: TestApp
    let tenant: Tenant
    let locationId: number
    const jobIds: number[] = []

    before(async () => {
      t = await startTestApp(dialect)
      tenant = await createTenant(t.database)
      locationId = (await createBasics(t.app, tenant.apiKey)).locationId
      for (let i = 0; i < 20; i++) jobIds.push(await createJobVia(t.app, tenant.apiKey, locationId, { job_title: `Job ${i}` }))
    })
    after(() => t.close())

    it('concurrent writes succeed or fail one by one: a failing write leaves nothing, its neighbours are kept', async () => {
      const db = t.database.db
      const outcomes = await Promise.allSettled(
        jobIds.map((jobId, i) =>
          inTransaction(db, async (trx) => {
            await updateJob(trx, tenant.companyId, jobId, { job_title: `Written ${i}` }, now())
            // Each write sees its own change; odd ones then fail after writing.
            assert.equal((await findJob(trx, tenant.companyId, jobId))?.job_title, `Written ${i}`)
            if (i % 2 === 1) throw new Error(`refused ${i}`)
            return i
          }),
        ),
      )
      outcomes.forEach((outcome, i) => {
        if (i % 2 === 1) assert.equal(outcome.status === 'rejected' && (outcome.reason as Error).message, `refused ${i}`)
        else assert.deepEqual(outcome, { status: 'fulfilled', value: i })
      })
      // Read through a second connection: what was answered is committed.
      const url = dialect === 'sqlite' ? t.database.description : undefined
      const reader = url ? connect(url) : undefined
      try {
        for (const [i, jobId] of jobIds.entries()) {
          const row = await findJob(reader?.db ?? db, tenant.companyId, jobId)
          assert.equal(row?.job_title, i % 2 === 1 ? `Job ${i}` : `Written ${i}`)
        }
      } finally {
        await reader?.close()
      }
    })

    if (dialect === 'sqlite') {
      it('a write that fails before writing leaves its group alone; one that fails after writing has the writes before it run again', async () => {
        const db = t.database.db
        const ids = jobIds.slice(0, 6)
        const runs = ids.map(() => 0)
        const titlesNow = () => Promise.all(ids.map(async (jobId) => (await findJob(db, tenant.companyId, jobId))?.job_title))
        const before = await titlesNow()
        // Queued in one turn of the event loop, so they start as one group.
        const outcomes = await Promise.allSettled(
          ids.map((jobId, i) =>
            inTransaction(db, async (trx) => {
              runs[i]!++
              if (i === 2) throw new Error('refused before writing')
              await updateJob(trx, tenant.companyId, jobId, { job_title: `Group ${i}` }, now())
              if (i === 4) throw new Error('refused after writing')
              return i
            }),
          ),
        )
        assert.deepEqual(
          outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message)),
          [0, 1, 'refused before writing', 3, 'refused after writing', 5],
        )
        // Write 2 cost its group nothing; write 4 undid the group, and 0, 1 and 3 ran again in the next.
        assert.deepEqual(runs, [2, 2, 1, 2, 1, 1])
        assert.deepEqual(await titlesNow(), ['Group 0', 'Group 1', before[2], 'Group 3', before[4], 'Group 5'])
      })

      it('when the shared COMMIT fails, every write of the group fails and none is kept', async () => {
        const db = t.database.db
        const before = await sql<{ n: number }>`select count(*) as n from jobs`.execute(db)
        const outcomes = await Promise.allSettled(
          jobIds.slice(0, 6).map((jobId, i) =>
            inTransaction(db, async (trx) => {
              await updateJob(trx, tenant.companyId, jobId, { job_title: `Lost ${i}` }, now())
              if (i === 3) {
                // A foreign key checked only at COMMIT: the whole group's COMMIT fails.
                await sql`pragma defer_foreign_keys = on`.execute(trx)
                await insertJob(trx, {
                  company_id: tenant.companyId, job_title: 'Dangling', job_description: null, job_status: 'Pending', job_priority: 'Low',
                  assigned_technician_id: null, customer_location_id: 999_999_999, scheduled_start: null, scheduled_end: null,
                  actual_start: null, actual_end: null, created_at: now(), updated_at: now(),
                })
              }
              return i
            }),
          ),
        )
        for (const outcome of outcomes) {
          assert.equal(outcome.status, 'rejected')
          assert.match(String((outcome as PromiseRejectedResult).reason), /FOREIGN KEY/i)
        }
        for (const jobId of jobIds.slice(0, 6)) assert.doesNotMatch((await findJob(db, tenant.companyId, jobId))!.job_title, /^Lost/)
        assert.deepEqual((await sql<{ n: number }>`select count(*) as n from jobs`.execute(db)).rows, before.rows)
        // The connection is usable again.
        const written = await inTransaction(db, (trx) => updateJob(trx, tenant.companyId, jobIds[0]!, { job_title: 'After' }, now()))
        assert.ok(written?.row_version, 'the write went through (it returns what it wrote)')
        assert.equal((await findJob(db, tenant.companyId, jobIds[0]!))?.job_title, 'After')
      })
    }
  })
}
