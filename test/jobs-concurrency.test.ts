/**
 * API.md §4: "The check and the write are one atomic step: under any number
 * of concurrent PATCHes on one job, every success's previous_status is the
 * status the prior success set, and the job's history is a path through the
 * seed's table." Many PATCHes are fired at one job at once (Promise.all),
 * round after round; the answers are then checked against the job's history
 * as recorded in job_status_changes (ordered by change_id).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { STATUSES, TABLE, type Status } from './helpers/seed-table.ts'
import { DIALECTS, startTestApp, type TestApp } from './helpers/app.ts'
import { call, createBasics, createExtraKey, createJobVia, createTenant, type ApiResponse, type Tenant } from './helpers/factories.ts'


/** A small seeded PRNG (mulberry32), so a failing run can be repeated. */
function prng(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const SEED = Number(process.env.FSM_TEST_SEED ?? Date.now() % 1_000_000)

interface Outcome {
  target: Status
  res: ApiResponse
}

for (const dialect of DIALECTS) {
  describe(`concurrent status changes on one job (${dialect}, seed ${SEED})`, () => {
    let t: TestApp
    let tenant: Tenant
    let secondKey: { keyId: number; apiKey: string }
    let locationId: number
    before(async () => {
      t = await startTestApp(dialect)
      tenant = await createTenant(t.database)
      secondKey = await createExtraKey(t.database, tenant.companyId, ['jobs:read', 'jobs:write'])
      ;({ locationId } = await createBasics(t.app, tenant.apiKey))
    })
    after(() => t.close())

    async function history(jobId: number) {
      const rows = await t.database.db
        .selectFrom('job_status_changes')
        .select(['change_id', 'from_status', 'to_status', 'key_id'])
        .where('job_id', '=', jobId)
        .orderBy('change_id')
        .execute()
      return rows.map((r) => ({ from: r.from_status as Status | null, to: r.to_status as Status, keyId: Number(r.key_id) }))
    }

    /** Fires `targets` at the job all at once, half with each key. */
    async function burst(jobId: number, targets: Status[]): Promise<Outcome[]> {
      const answers = await Promise.all(
        targets.map((target, i) =>
          call(t.app, 'PATCH', `/api/v1/jobs?id=${jobId}`, { key: i % 2 ? secondKey.apiKey : tenant.apiKey, body: { job_status: target } }),
        ),
      )
      return answers.map((res, i) => ({ target: targets[i]!, res }))
    }

    /** Every check of the contract on one job after all its rounds. */
    async function checkJob(jobId: number, outcomes: Outcome[]) {
      const label = `job ${jobId}, seed ${SEED}`
      // 1. Every answer is a success or a refused transition: nothing else (no 409, no 500, no lost update).
      const successes = outcomes.filter((o) => o.res.status === 200)
      const refusals = outcomes.filter((o) => o.res.status !== 200)
      for (const o of refusals) {
        assert.equal(o.res.status, 400, `${label}: ${JSON.stringify(o.res.body)}`)
        assert.equal(o.res.body.error.code, 'invalid_status_transition', `${label}: ${JSON.stringify(o.res.body)}`)
      }
      for (const o of successes) {
        assert.equal(o.res.body.message, `Job status updated to ${o.target}`)
        assert.equal(o.res.body.data.job_id, jobId)
        assert.equal(o.res.body.data.job_status, o.target)
        assert.ok(STATUSES.includes(o.res.body.data.previous_status), JSON.stringify(o.res.body))
        // Each success is itself a move the table allows.
        assert.ok(TABLE[o.res.body.data.previous_status as Status].includes(o.target), `${label}: ${o.res.body.data.previous_status} → ${o.target}`)
      }

      // 2. The history is a path through the table, starting at Pending.
      const rows = await history(jobId)
      assert.deepEqual([rows[0]!.from, rows[0]!.to], [null, 'Pending'], label)
      for (let i = 1; i < rows.length; i++) {
        const { from, to } = rows[i]!
        assert.equal(from, rows[i - 1]!.to, `${label}: change ${i} starts where change ${i - 1} ended`)
        assert.ok(TABLE[from!].includes(to), `${label}: change ${i} ${from} → ${to} is in the table`)
        assert.ok([tenant.keyId, secondKey.keyId].includes(rows[i]!.keyId), `${label}: change ${i} names the key`)
      }

      // 3. Successes ordered by the history chain: one success per change, the
      //    same (previous_status, job_status) pairs, so each success's
      //    previous_status is the status the success before it set.
      const changes = rows.slice(1)
      assert.equal(successes.length, changes.length, `${label}: one history row per 200`)
      const pending = new Map<string, number>()
      for (const o of successes) {
        const pair = `${o.res.body.data.previous_status}→${o.res.body.data.job_status}`
        pending.set(pair, (pending.get(pair) ?? 0) + 1)
      }
      let previous: Status = 'Pending'
      for (const change of changes) {
        const pair = `${change.from}→${change.to}`
        const left = pending.get(pair) ?? 0
        assert.ok(left > 0, `${label}: history change ${pair} has a 200 answering it`)
        pending.set(pair, left - 1)
        assert.equal(change.from, previous, `${label}: previous_status chains`)
        previous = change.to
      }
      assert.ok([...pending.values()].every((n) => n === 0), `${label}: every 200 matches a history change`)

      // 4. The job ends where its history ends; stamps agree with the path.
      const job = (await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: tenant.apiKey })).body.data
      assert.equal(job.job_status, rows.at(-1)!.to, label)
      const visited = new Set(rows.map((r) => r.to))
      assert.equal(job.actual_start !== null, visited.has('In Progress'), `${label}: actual_start set iff In Progress was entered`)
      assert.equal(job.actual_end !== null, visited.has('Completed'), `${label}: actual_end set iff Completed was entered`)

      // 5. Each refusal names a status the job was really in, from which its target is not allowed.
      for (const o of refusals) {
        const message: string = o.res.body.error.message
        const justified = [...visited].some((s) => !TABLE[s].includes(o.target) && message.includes(s))
        assert.ok(justified, `${label}: refusal of ${o.target} names a status the job was in: ${message}`)
      }
      return { successes: successes.length, refusals: refusals.length, path: rows.map((r) => r.to) }
    }

    it('rounds of 60 parallel PATCHes with random targets leave a valid, chained history', async () => {
      const random = prng(SEED)
      // Terminal targets only in the last round, so the job keeps moving for several rounds.
      const live = STATUSES.filter((s) => s !== 'Closed' && s !== 'Cancelled')
      const pick = (all: boolean): Status => (all ? STATUSES[Math.floor(random() * STATUSES.length)]! : live[Math.floor(random() * live.length)]!)
      const jobId = await createJobVia(t.app, tenant.apiKey, locationId)
      const outcomes: Outcome[] = []
      for (let round = 0; round < 5; round++) {
        outcomes.push(...(await burst(jobId, Array.from({ length: 60 }, () => pick(round === 4)))))
      }
      const summary = await checkJob(jobId, outcomes)
      assert.equal(summary.successes + summary.refusals, 300)
      assert.ok(summary.successes >= 2, `the job moved (${summary.path.join(' → ')})`)
    })

    it('uniformly random targets (terminal ones too), several jobs at once', async () => {
      const random = prng(SEED + 1)
      const pick = (): Status => STATUSES[Math.floor(random() * STATUSES.length)]!
      const jobs = [
        await createJobVia(t.app, tenant.apiKey, locationId),
        await createJobVia(t.app, tenant.apiKey, locationId),
        await createJobVia(t.app, tenant.apiKey, locationId),
      ]
      const outcomes = new Map<number, Outcome[]>(jobs.map((id) => [id, []]))
      for (let round = 0; round < 2; round++) {
        const results = await Promise.all(jobs.map((id) => burst(id, Array.from({ length: 40 }, pick))))
        results.forEach((r, i) => outcomes.get(jobs[i]!)!.push(...r))
      }
      for (const id of jobs) await checkJob(id, outcomes.get(id)!)
    })

    it('a walk driven by bursts: the job reaches Closed and every burst has exactly one winner per step', async () => {
      const jobId = await createJobVia(t.app, tenant.apiKey, locationId)
      const outcomes: Outcome[] = []
      for (const next of ['Assigned', 'In Progress', 'On Hold', 'In Progress', 'Completed', 'Invoiced', 'Paid', 'Closed'] as Status[]) {
        // 30 identical requests: one moves the job, the other 29 find it already there.
        const round = await burst(jobId, Array.from({ length: 30 }, () => next))
        const wins = round.filter((o) => o.res.status === 200)
        assert.equal(wins.length, 1, `exactly one of 30 "${next}" succeeds: ${round.map((o) => o.res.status).join(',')}`)
        for (const o of round) {
          if (o.res.status !== 200) {
            assert.equal(o.res.body.error.code, 'invalid_status_transition')
            assert.ok(o.res.body.error.message.includes(next), o.res.body.error.message)
          }
        }
        outcomes.push(...round)
      }
      const summary = await checkJob(jobId, outcomes)
      assert.deepEqual(summary.path, ['Pending', 'Assigned', 'In Progress', 'On Hold', 'In Progress', 'Completed', 'Invoiced', 'Paid', 'Closed'])
    })

    it('racing Cancelled against Assigned from Pending: whichever wins, the loser is judged against the new status', async () => {
      for (let i = 0; i < 5; i++) {
        const jobId = await createJobVia(t.app, tenant.apiKey, locationId)
        const targets: Status[] = Array.from({ length: 20 }, (_, k) => (k % 2 ? 'Cancelled' : 'Assigned'))
        const outcomes = await burst(jobId, targets)
        const summary = await checkJob(jobId, outcomes)
        // Cancelled can always follow Assigned, so it wins the race once; Assigned wins at most once, before it.
        assert.equal(summary.path.at(-1), 'Cancelled')
        assert.ok(summary.successes === 1 || summary.successes === 2, summary.path.join(' → '))
      }
    })

    it('concurrent PUTs and a cancelling PATCH: no PUT succeeds after the job is Cancelled', async () => {
      const jobId = await createJobVia(t.app, tenant.apiKey, locationId)
      const requests = Array.from({ length: 40 }, (_, i) =>
        i === 20
          ? call(t.app, 'PATCH', `/api/v1/jobs?id=${jobId}`, { key: tenant.apiKey, body: { job_status: 'Cancelled' } })
          : call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: tenant.apiKey, body: { job_title: `Edit ${i}` } }),
      )
      const answers = await Promise.all(requests)
      assert.equal(answers[20]!.status, 200, JSON.stringify(answers[20]!.body))
      for (const [i, res] of answers.entries()) {
        if (i === 20) continue
        assert.ok(res.status === 200 || (res.status === 409 && res.body.error.code === 'job_locked'), `${res.status} ${JSON.stringify(res.body)}`)
        if (res.status === 200) assert.equal(res.body.data.job_status, 'Pending', 'a PUT that succeeded ran before the cancellation')
      }
      // The stored title is the one of a PUT that answered 200 (a 409 changed nothing).
      const job = (await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: tenant.apiKey })).body.data
      assert.equal(job.job_status, 'Cancelled')
      const winners = answers.filter((r, i) => i !== 20 && r.status === 200).map((r) => r.body.data.job_title)
      if (winners.length) assert.ok(winners.includes(job.job_title), `${job.job_title} among ${winners}`)
      else assert.equal(job.job_title, 'AC unit repair')
    })

    // A write reads the job as GET shows it (joined with its location,
    // customer and technician) and locks its row. On PostgreSQL, a write
    // that waited for that lock behind another one which moved the job to
    // another location or technician must still find the job, and judge
    // and tag it as it is after that write.
    it('writes queued behind PUTs that move the job to another location or technician find it, and answer the tag GET then gives', async () => {
      const other = await createBasics(t.app, tenant.apiKey, ' (other)')
      const technicianId = (await createBasics(t.app, tenant.apiKey, ' (tech)')).technicianId
      const jobId = await createJobVia(t.app, tenant.apiKey, locationId)
      for (let round = 0; round < 4; round++) {
        const requests = Array.from({ length: 24 }, (_, i) => {
          if (i % 6 === 5) {
            return call(t.app, 'PATCH', `/api/v1/jobs?id=${jobId}`, { key: tenant.apiKey, body: { job_status: round % 2 ? 'Pending' : 'Assigned' } })
          }
          const body =
            i % 2 === 0
              ? { customer_location_id: i % 4 === 0 ? other.locationId : locationId, job_title: `Move ${round}.${i}` }
              : { assigned_technician_id: i % 4 === 1 ? technicianId : other.technicianId }
          return call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: tenant.apiKey, body })
        })
        const answers = await Promise.all(requests)
        for (const res of answers) {
          // A PATCH may lose its race (the status is already what it asks, or not a step from the one now).
          const refused = res.status === 400 && res.body.error.code === 'invalid_status_transition'
          assert.ok(res.status === 200 || refused, `${res.status} ${JSON.stringify(res.body)}`)
        }
        const current = await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: tenant.apiKey })
        const tags = answers.filter((res) => res.status === 200).map((res) => res.headers.etag)
        // The last write to commit answered the tag of the job as it is now.
        assert.ok(tags.includes(current.headers.etag), `${current.headers.etag} among ${tags.join(' ')}`)
      }
    })
  })
}
