/**
 * Job counts and list sequences in stripes (migration 0006): on PostgreSQL
 * concurrent writes of one company spread over the stripes instead of
 * queueing behind one row; on both dialects the summed sequence moves once
 * per write and the summed counts stay exact.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { sql } from 'kysely'
import { DIALECTS, startTestApp, type TestApp } from './helpers/app.ts'
import { call, createBasics, createTenant, type Tenant } from './helpers/factories.ts'
import { countJobs, countJobsAndCellsSeq } from '../src/modules/jobs/jobs.list-queries.ts'
import { changeStatusRecorded, updateJobRecorded } from '../src/modules/jobs/jobs.repository.ts'
import { readListSeqs, recordJobWrite, type CountMoves } from '../src/modules/jobs/jobs.write-record.ts'
import { JOB_PRIORITIES, JOB_STATUSES } from '../src/modules/jobs/status.ts'

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

    it('any mix of creates, PUTs and PATCHes sent at once (refused ones too) leaves every (status, priority) count equal to the rows', async () => {
      // Writes of one round go out together; each names a job by its index among those created so far.
      type Write =
        | { kind: 'create'; priority: string }
        | { kind: 'put'; job: number; priority: string; title: boolean }
        | { kind: 'patch'; job: number; status: string }
      const write: fc.Arbitrary<Write> = fc.oneof(
        fc.record({ kind: fc.constant('create' as const), priority: fc.constantFrom(...JOB_PRIORITIES) }),
        fc.record({ kind: fc.constant('put' as const), job: fc.nat(), priority: fc.constantFrom(...JOB_PRIORITIES), title: fc.boolean() }),
        fc.record({ kind: fc.constant('patch' as const), job: fc.nat(), status: fc.constantFrom(...JOB_STATUSES) }),
      )
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(write, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 4 }), async (rounds) => {
          // A company of its own for each run, so that a failing run's writes are all in its counterexample.
          const own = await createTenant(t.database)
          const { locationId } = await createBasics(t.app, own.apiKey)
          const jobs: number[] = []
          const send = (w: Write) => {
            const id = w.kind !== 'create' && jobs.length ? jobs[w.job % jobs.length] : undefined
            if (w.kind === 'create' || id === undefined) {
              const priority = w.kind === 'patch' ? 'Low' : w.priority
              return call(t.app, 'POST', '/api/v1/jobs', { key: own.apiKey, body: { job_title: 'Mixed', customer_location_id: locationId, job_priority: priority } })
            }
            if (w.kind === 'put') return call(t.app, 'PUT', `/api/v1/jobs?id=${id}`, { key: own.apiKey, body: { job_priority: w.priority, ...(w.title && { job_title: 'Mixed again' }) } })
            return call(t.app, 'PATCH', `/api/v1/jobs?id=${id}`, { key: own.apiKey, body: { job_status: w.status } })
          }
          for (const round of rounds) {
            const answers = await Promise.all(round.map(send))
            // Refusals (a transition the table forbids, a closed job's PUT) are 4xx; nothing may be a 5xx.
            for (const r of answers) assert.ok(r.status < 500, JSON.stringify(r.body))
            for (const r of answers) if (r.status === 201) jobs.push(r.body.data.job_id)
          }
          const { rows } = await sql<{ job_status: string; job_priority: string; n: number }>`
            select job_status, job_priority, count(*) as n from jobs where company_id = ${own.companyId} group by job_status, job_priority`.execute(t.database.db)
          const counted = new Map(rows.map((r) => [`${r.job_status}|${r.job_priority}`, Number(r.n)]))
          for (const status of JOB_STATUSES) {
            for (const priority of JOB_PRIORITIES) {
              assert.equal(await countJobs(t.database.db, own.companyId, { statuses: [status], priority }), counted.get(`${status}|${priority}`) ?? 0, `${status} ${priority}`)
            }
          }
        }),
        { numRuns: 30 },
      )
    })

    // On PostgreSQL the status change and its record are one statement: when
    // the job is no longer in `from`, or (there) no longer at the version it
    // was read at, none of it may happen.
    it('a status change that finds the job in another status, or on PostgreSQL at another version, records nothing', async () => {
      const seq = (await readListSeqs(t.database.db, tenant.companyId)).writeSeq
      const counts = await countJobs(t.database.db, tenant.companyId, { statuses: ['Assigned'] })
      const history = async () =>
        Number((await sql<{ n: number }>`select count(*) as n from job_status_changes where job_id = ${historyJobId}`.execute(t.database.db)).rows[0]!.n)
      const lines = await history()
      // The job is Pending: a change from Assigned finds nothing to change.
      const written = await t.database.db.transaction().execute((trx) =>
        changeStatusRecorded(trx, tenant.companyId, historyJobId, { from: 'Assigned', to: 'In Progress', at: 1, keyId: null }, 'Medium', 1),
      )
      assert.equal(written, undefined)
      if (dialect === 'postgres') {
        // The status is right, the version is not: a write came in between.
        const stale = await changeStatusRecorded(t.database.db, tenant.companyId, historyJobId, { from: 'Pending', to: 'Assigned', at: 1, keyId: null }, 'Medium', 0)
        assert.equal(stale, undefined)
      }
      assert.equal((await readListSeqs(t.database.db, tenant.companyId)).writeSeq, seq, 'no sequence step')
      assert.equal(await countJobs(t.database.db, tenant.companyId, { statuses: ['Assigned'] }), counts, 'no count moved')
      assert.equal(await history(), lines, 'no history line')
      // From the status it is in, the same change writes all of it.
      const done = await t.database.db.transaction().execute((trx) =>
        changeStatusRecorded(trx, tenant.companyId, historyJobId, { from: 'Pending', to: 'Assigned', at: 2, keyId: null }, 'Medium', 1),
      )
      assert.equal(Number(done?.row_version), 2)
      assert.equal((await readListSeqs(t.database.db, tenant.companyId)).writeSeq, seq + 1)
      assert.equal(await countJobs(t.database.db, tenant.companyId, { statuses: ['Assigned'] }), counts + 1)
      assert.equal(await history(), lines + 1)
    })

    if (dialect === 'postgres') {
      // A PUT read without a lock on PostgreSQL: its update and record are one
      // statement, written only at the version the job was read at.
      it('an update with its record at a stale version writes nothing; at the current one, the job, the sequence and the count move', async () => {
        const created = await call(t.app, 'POST', '/api/v1/jobs', { key: tenant.apiKey, body: { job_title: 'PUT holder', customer_location_id: basics.locationId, job_priority: 'Low' } })
        const jobId = created.body.data.job_id as number
        const toHigh: CountMoves = [
          { status: 'Pending', priority: 'Low', delta: -1 },
          { status: 'Pending', priority: 'High', delta: 1 },
        ]
        const cell = (priority: string) => countJobsAndCellsSeq(t.database.db, tenant.companyId, { statuses: ['Pending'], priority })
        const state = async () => {
          const [low, high] = [await cell('Low'), await cell('High')]
          return { seq: (await readListSeqs(t.database.db, tenant.companyId)).writeSeq, low: low.total, high: high.total, lowSeq: low.cellsSeq!, highSeq: high.cellsSeq! }
        }
        const before = await state()
        assert.equal(await updateJobRecorded(t.database.db, tenant.companyId, jobId, 0, { job_priority: 'High', job_title: 'Stale' }, 5, toHigh), undefined)
        assert.deepEqual(await state(), before)
        const written = await updateJobRecorded(t.database.db, tenant.companyId, jobId, 1, { job_priority: 'High', job_title: 'Current' }, 5, toHigh)
        assert.equal(Number(written?.row_version), 2)
        const moved = { seq: before.seq + 1, low: before.low - 1, high: before.high + 1, lowSeq: before.lowSeq + 1, highSeq: before.highSeq + 1 }
        assert.deepEqual(await state(), moved)
        // Nothing changed but the version: the sequences move (the job's cell's too), no count does.
        const stays: CountMoves = [{ status: 'Pending', priority: 'High', delta: 0 }]
        assert.equal(Number((await updateJobRecorded(t.database.db, tenant.companyId, jobId, 2, {}, 6, stays))?.row_version), 3)
        assert.deepEqual(await state(), { ...moved, seq: moved.seq + 1, highSeq: moved.highSeq + 1 })
        const stored = await t.database.db.selectFrom('jobs').select(['job_title', 'job_priority']).where('job_id', '=', jobId).executeTakeFirstOrThrow()
        assert.deepEqual(stored, { job_title: 'Current', job_priority: 'High' })
      })

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
