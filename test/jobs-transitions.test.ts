/**
 * PATCH /api/v1/jobs?id= through HTTP: all 81 from→to pairs of the seed's
 * status table (seed/jobs-api.md, "Status transitions"), the messages of
 * refusals (API.md §4: they name the current status and the allowed
 * targets), the actual_start / actual_end stamps, updated_at, and the
 * recorded history. The table is written out here from the seed, not
 * imported from src/, so the test checks the contract, not itself.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { STATUSES, TABLE, WALK, type Status } from './helpers/seed-table.ts'
import { DIALECTS, startTestApp, type TestApp } from './helpers/app.ts'
import { call, createBasics, createJobVia, createTenant, type ApiResponse } from './helpers/factories.ts'

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/


/** A shortest walk from Pending (where every job starts) to each status. */

function nowSeconds() {
  return Math.floor(Date.now() / 1000)
}

function isoSeconds(iso: string) {
  return Date.parse(iso) / 1000
}

for (const dialect of DIALECTS) {
  describe(`job status transitions (${dialect})`, () => {
    let t: TestApp
    let key: string
    let locationId: number
    before(async () => {
      t = await startTestApp(dialect)
      const tenant = await createTenant(t.database)
      key = tenant.apiKey
      locationId = (await createBasics(t.app, key)).locationId
    })
    after(() => t.close())

    const patch = (id: number, job_status: unknown) => call(t.app, 'PATCH', `/api/v1/jobs?id=${id}`, { key, body: { job_status } })
    const getJob = async (id: number) => {
      const res = await call(t.app, 'GET', `/api/v1/jobs?id=${id}`, { key })
      assert.equal(res.status, 200, JSON.stringify(res.body))
      return res.body.data as Record<string, any>
    }

    /** A new job walked over HTTP to `status`; every step must succeed. */
    async function jobIn(status: Status): Promise<number> {
      const id = await createJobVia(t.app, key, locationId, { job_title: `Walk to ${status}` })
      for (const step of WALK[status]) {
        const res = await patch(id, step)
        assert.equal(res.status, 200, `walking job ${id} to ${status}, step ${step}: ${JSON.stringify(res.body)}`)
      }
      return id
    }

    it('the walks themselves follow the table', () => {
      for (const [target, steps] of Object.entries(WALK) as [Status, Status[]][]) {
        let at: Status = 'Pending'
        for (const step of steps) {
          assert.ok(TABLE[at].includes(step), `${at} → ${step}`)
          at = step
        }
        assert.equal(at, target)
      }
      assert.equal(STATUSES.length * STATUSES.length, 81)
    })

    describe('all 81 from→to pairs', () => {
      // One job per allowed pair (a success moves it), one job per from-status
      // shared by its refused pairs (a refusal changes nothing, checked each time).
      const allowedJobs = new Map<string, number>()
      const refusedJobs = new Map<Status, number>()
      before(async () => {
        for (const from of STATUSES) {
          refusedJobs.set(from, await jobIn(from))
          for (const to of TABLE[from]) allowedJobs.set(`${from}→${to}`, await jobIn(from))
        }
      })

      for (const from of STATUSES) {
        for (const to of STATUSES) {
          const allowed = TABLE[from].includes(to)
          it(`${from} → ${to}: ${allowed ? '200' : '400 invalid_status_transition'}`, async () => {
            if (allowed) {
              const id = allowedJobs.get(`${from}→${to}`)!
              const before = await getJob(id)
              assert.equal(before.job_status, from)
              const res = await patch(id, to)
              assert.equal(res.status, 200, JSON.stringify(res.body))
              assert.equal(res.body.success, true)
              assert.equal(res.body.message, `Job status updated to ${to}`)
              assert.deepEqual(res.body.data, { job_id: id, job_status: to, previous_status: from })
              assert.equal(typeof res.body.request_id, 'string')
              assert.equal(res.headers['x-request-id'], res.body.request_id)
              const afterwards = await getJob(id)
              assert.equal(afterwards.job_status, to)
              assert.match(afterwards.updated_at, TIMESTAMP)
              // The change is recorded: the last history row is from → to.
              const rows = await t.database.db
                .selectFrom('job_status_changes')
                .select(['from_status', 'to_status'])
                .where('job_id', '=', id)
                .orderBy('change_id', 'desc')
                .limit(1)
                .execute()
              assert.deepEqual(rows[0], { from_status: from, to_status: to })
            } else {
              const id = refusedJobs.get(from)!
              const before = await getJob(id)
              assert.equal(before.job_status, from)
              const historyBefore = await t.database.db.selectFrom('job_status_changes').select('change_id').where('job_id', '=', id).execute()
              const res = await patch(id, to)
              assert.equal(res.status, 400, JSON.stringify(res.body))
              assert.equal(res.body.success, false)
              assert.equal(res.body.error.code, 'invalid_status_transition')
              assert.equal(res.headers['x-request-id'], res.body.request_id)
              const message: string = res.body.error.message
              assert.ok(message.includes(from), `message names the current status ${from}: ${message}`)
              for (const target of TABLE[from]) assert.ok(message.includes(target), `message names allowed target ${target}: ${message}`)
              // …and names no status other than the current one, the requested one and the allowed ones.
              for (const other of STATUSES) {
                if (other === from || other === to || TABLE[from].includes(other)) continue
                assert.ok(!message.includes(other), `message should not mention ${other}: ${message}`)
              }
              if (TABLE[from].length === 0) assert.match(message, /terminal|no further|no transitions/i)
              // A change to the status the job has is worded as such, terminal statuses included.
              if (from === to) assert.ok(message.startsWith(`Job is already ${from}`), message)
              // Nothing changed: same status, same updated_at, no new history.
              const afterwards = await getJob(id)
              assert.equal(afterwards.job_status, from)
              assert.equal(afterwards.updated_at, before.updated_at)
              const historyAfter = await t.database.db.selectFrom('job_status_changes').select('change_id').where('job_id', '=', id).execute()
              assert.equal(historyAfter.length, historyBefore.length)
            }
          })
        }
      }
    })

    describe('timestamps set by status changes', () => {
      it('a new job has no actual_start / actual_end; entering In Progress stamps actual_start with the current time', async () => {
        const id = await jobIn('Assigned')
        const job = await getJob(id)
        assert.equal(job.actual_start, null)
        assert.equal(job.actual_end, null)
        const before = nowSeconds()
        assert.equal((await patch(id, 'In Progress')).status, 200)
        const after = nowSeconds()
        const started = await getJob(id)
        assert.match(started.actual_start, TIMESTAMP)
        const at = isoSeconds(started.actual_start)
        assert.ok(at >= before && at <= after, `${started.actual_start} within [${before}, ${after}]`)
        assert.equal(started.actual_end, null)
      })

      it('re-entering In Progress keeps the first actual_start (only set when null)', async () => {
        const id = await jobIn('In Progress')
        // Move the stamp into the past, so an overwrite would be visible.
        await t.database.db.updateTable('jobs').set({ actual_start: 1_700_000_000 }).where('job_id', '=', id).execute()
        assert.equal((await patch(id, 'On Hold')).status, 200)
        assert.equal((await patch(id, 'In Progress')).status, 200)
        assert.equal((await getJob(id)).actual_start, '2023-11-14T22:13:20Z')
        assert.equal((await patch(id, 'Assigned')).status, 200)
        assert.equal((await patch(id, 'In Progress')).status, 200)
        assert.equal((await getJob(id)).actual_start, '2023-11-14T22:13:20Z')
      })

      it('entering Completed stamps actual_end with the current time and keeps actual_start', async () => {
        const id = await jobIn('In Progress')
        const started = (await getJob(id)).actual_start
        assert.match(started, TIMESTAMP)
        const before = nowSeconds()
        assert.equal((await patch(id, 'Completed')).status, 200)
        const after = nowSeconds()
        const done = await getJob(id)
        assert.match(done.actual_end, TIMESTAMP)
        const at = isoSeconds(done.actual_end)
        assert.ok(at >= before && at <= after, `${done.actual_end} within [${before}, ${after}]`)
        assert.equal(done.actual_start, started)
        assert.ok(isoSeconds(done.actual_end) >= isoSeconds(done.actual_start))
      })

      it("actual_start, actual_end and the history's times never come before the job's own stamps, even when this server's clock is behind them", async () => {
        // Stamps an hour ahead of this server's clock: another server's clock
        // ahead, or this one's stepped back since (an NTP correction).
        const ahead = nowSeconds() + 3600
        const id = await jobIn('Assigned')
        await t.database.db.updateTable('jobs').set({ created_at: ahead, updated_at: ahead }).where('job_id', '=', id).execute()
        const started = await patch(id, 'In Progress')
        assert.equal(started.status, 200)
        let job = await getJob(id)
        assert.equal(started.headers.etag, (await call(t.app, 'GET', `/api/v1/jobs?id=${id}`, { key })).headers.etag, 'the answer tags what GET shows')
        assert.ok(isoSeconds(job.actual_start) >= isoSeconds(job.created_at), `started ${job.actual_start}, before its creation ${job.created_at}`)
        // Work started by that server (its clock ahead), completed on this one.
        await t.database.db.updateTable('jobs').set({ actual_start: ahead + 60, updated_at: ahead + 60 }).where('job_id', '=', id).execute()
        const completed = await patch(id, 'Completed')
        assert.equal(completed.status, 200)
        job = await getJob(id)
        assert.equal(completed.headers.etag, (await call(t.app, 'GET', `/api/v1/jobs?id=${id}`, { key })).headers.etag, 'the answer tags what GET shows')
        assert.ok(isoSeconds(job.actual_end) >= isoSeconds(job.actual_start), `ended ${job.actual_end}, before it started ${job.actual_start}`)
        assert.ok(isoSeconds(job.actual_end) <= isoSeconds(job.updated_at))
        // The history lines of those changes are stamped as the job was: in order, the last at its updated_at.
        const history = (await call(t.app, 'GET', `/api/v1/jobs/history?id=${id}`, { key })).body.data as Array<{ to_status: string; changed_at: string }>
        const startLine = history.find((h) => h.to_status === 'In Progress')!
        const completeLine = history.find((h) => h.to_status === 'Completed')!
        assert.ok(isoSeconds(startLine.changed_at) >= ahead, `started ${startLine.changed_at}, before the job's stamp`)
        assert.equal(completeLine.changed_at, job.updated_at)
        assert.ok(isoSeconds(completeLine.changed_at) >= isoSeconds(startLine.changed_at))
      })

      it('other changes leave actual_start and actual_end alone', async () => {
        const id = await jobIn('Completed')
        const done = await getJob(id)
        for (const step of ['Invoiced', 'Paid', 'Closed'] as const) {
          assert.equal((await patch(id, step)).status, 200)
          const job = await getJob(id)
          assert.equal(job.actual_start, done.actual_start)
          assert.equal(job.actual_end, done.actual_end)
        }
        const cancelled = await jobIn('Assigned')
        assert.equal((await patch(cancelled, 'Cancelled')).status, 200)
        const job = await getJob(cancelled)
        assert.equal(job.actual_start, null)
        assert.equal(job.actual_end, null)
      })

      it('every successful change moves updated_at to now; a refused one does not', async () => {
        const id = await jobIn('Pending')
        await t.database.db.updateTable('jobs').set({ updated_at: 1_700_000_000 }).where('job_id', '=', id).execute()
        const refused = await patch(id, 'Completed')
        assert.equal(refused.status, 400)
        assert.equal((await getJob(id)).updated_at, '2023-11-14T22:13:20Z')
        const before = nowSeconds()
        assert.equal((await patch(id, 'Assigned')).status, 200)
        const job = await getJob(id)
        assert.ok(isoSeconds(job.updated_at) >= before, `${job.updated_at} moved to now`)
        assert.equal(job.created_at <= job.updated_at, true)
      })
    })

    describe('history of a walked job', () => {
      it('records creation and every change (from, to, when, which key) in order', async () => {
        const id = await jobIn('Closed')
        const rows = await t.database.db
          .selectFrom('job_status_changes')
          .select(['from_status', 'to_status', 'changed_at', 'key_id'])
          .where('job_id', '=', id)
          .orderBy('change_id')
          .execute()
        const path = ['Pending', ...WALK.Closed]
        assert.deepEqual(
          rows.map((r) => [r.from_status, r.to_status]),
          path.map((to, i) => [i === 0 ? null : path[i - 1], to]),
        )
        for (const r of rows) {
          assert.ok(Number.isInteger(Number(r.changed_at)) && Number(r.changed_at) > 1_700_000_000)
          assert.notEqual(r.key_id, null)
        }
      })
    })

    describe('refusals that are not transitions', () => {
      it('an unknown status value is validation_failed, not invalid_status_transition', async () => {
        const id = await jobIn('Pending')
        for (const value of ['Done', 'assigned', 'ASSIGNED', ' Assigned', 'Assigned ', 'In progress', 'InProgress', '', null, 3, ['Assigned'], { s: 1 }]) {
          const res: ApiResponse = await patch(id, value)
          assert.equal(res.status, 400, `${JSON.stringify(value)}: ${JSON.stringify(res.body)}`)
          assert.equal(res.body.error.code, 'validation_failed', JSON.stringify(value))
          assert.deepEqual(res.body.error.details.map((d: { field: string }) => d.field), ['job_status'], JSON.stringify(value))
        }
        assert.equal((await getJob(id)).job_status, 'Pending')
      })

      it("another company's job is 404 not_found, before the transition check", async () => {
        const other = await createTenant(t.database, { name: 'Other Co' })
        const { locationId: otherLocation } = await createBasics(t.app, other.apiKey, ' (other)')
        const otherJob = await createJobVia(t.app, other.apiKey, otherLocation)
        for (const status of ['Assigned', 'Completed', 'Pending']) {
          const res = await patch(otherJob, status)
          assert.equal(res.status, 404, JSON.stringify(res.body))
          assert.equal(res.body.error.code, 'not_found')
        }
        const theirs = await call(t.app, 'GET', `/api/v1/jobs?id=${otherJob}`, { key: other.apiKey })
        assert.equal(theirs.body.data.job_status, 'Pending')
        const missing = await patch(987_654_321, 'Assigned')
        assert.equal(missing.status, 404)
        assert.equal(missing.body.error.code, 'not_found')
      })
    })
  })
}
