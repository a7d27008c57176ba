/**
 * What makes big lists fast must never make them wrong (issue 6): exact
 * totals from the per-(status, priority) counts, right after every kind of
 * write; and deep pages served by remembered positions, identical to a
 * plain OFFSET, also after writes move the positions.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { CompiledQuery, sql } from 'kysely'
import { DIALECTS, startTestApp, type TestApp } from './helpers/app.ts'
import { call, createBasics, createTenant, type Tenant } from './helpers/factories.ts'
import { chooseWalk, countJobs, countJobsAndCellsSeq, estimateWalk, jobKeysQuery, listJobKeys, type IndexWalk, type JobFilters, type ListKey } from '../src/modules/jobs/jobs.list-queries.ts'
import { findJobViews, insertJob } from '../src/modules/jobs/jobs.repository.ts'
import { readListSeqs, recordJobWrite, touchJobLists } from '../src/modules/jobs/jobs.write-record.ts'
import { PagePositions } from '../src/modules/jobs/jobs.pages.ts'
import { presentJobListItem } from '../src/modules/jobs/jobs.presenter.ts'
import { inTransaction } from '../src/db/transaction.ts'
import { rebuildJobCounts } from '../src/db/job-counts.ts'
import { JOB_PRIORITIES, JOB_STATUSES } from '../src/modules/jobs/status.ts'
import type { JobSort } from '../src/modules/jobs/jobs.schemas.ts'

const BULK = 5_200
/** Every order a list can be asked for. */
const SORTS: JobSort[] = ['-created_at', 'created_at', '-updated_at', 'updated_at', '-scheduled_start', 'scheduled_start']
/** The walks that could lead a list: the planner's choice, the sort's index, each filter's. */
function walksFor(f: JobFilters, sort: JobSort): IndexWalk[] {
  const sortIndex = sort.includes('created_at') ? 'created' : sort.includes('updated_at') ? 'updated' : 'scheduled'
  const leads: IndexWalk[] = [
    ...(f.statuses ? (['status'] as const) : []),
    ...(f.priority ? (['priority'] as const) : []),
    ...(f.assignedTechnicianId || f.customerLocationId || f.customerId ? (['reference'] as const) : []),
    ...(f.createdFrom || f.createdTo ? (['created'] as const) : []),
    ...(f.updatedFrom ? (['updated'] as const) : []),
  ]
  return [...new Set<IndexWalk>(['planner', sortIndex, ...leads])]
}

for (const dialect of DIALECTS) {
  describe(`large lists (${dialect})`, () => {
    let t: TestApp
    let tenant: Tenant
    let basics: Awaited<ReturnType<typeof createBasics>>

    before(async () => {
      t = await startTestApp(dialect)
      tenant = await createTenant(t.database)
      basics = await createBasics(t.app, tenant.apiKey)
      // Bulk-load jobs straight into the table (as the benchmark does), with
      // many equal timestamps so ties by job_id matter, then rebuild the counts.
      const rows = Array.from({ length: BULK }, (_, i) => ({
        company_id: tenant.companyId,
        job_title: `Bulk ${i}`,
        job_description: null,
        job_status: JOB_STATUSES[(i * 5) % 9]!,
        job_priority: JOB_PRIORITIES[(i * 3) % 4]!,
        // A technician with one job in 13 (400): a small equality filter beside the dates.
        assigned_technician_id: i % 13 === 0 ? basics.technicianId : null,
        customer_location_id: basics.locationId,
        scheduled_start: i % 3 ? 1_700_000_000 + i * 60 : null,
        scheduled_end: null,
        actual_start: null,
        actual_end: null,
        created_at: 1_700_000_000 + Math.floor(i / 7) * 60,
        updated_at: 1_700_000_000 + Math.floor(i / 5) * 60,
      }))
      for (let i = 0; i < rows.length; i += 500) await t.database.db.insertInto('jobs').values(rows.slice(i, i + 500)).execute()
      await rebuildJobCounts(t.database.db)
    })
    after(() => t.close())

    /** Step n of the bulk load's timestamps (a minute a step). */
    const at = (step: number) => 1_700_000_000 + step * 60
    /** The walk chosen for a count (no sort) or for a page of 50 in `sort`'s order. */
    const walkFor = (f: JobFilters, sort?: JobSort) => chooseWalk(t.database.db, tenant.companyId, f, sort && { sort, rows: 50 })

    const list = async (query: string) => {
      const r = await call(t.app, 'GET', `/api/v1/jobs?${query}`, { key: tenant.apiKey })
      assert.equal(r.status, 200, JSON.stringify(r.body))
      return r.body
    }

    /** Page n of the newest-first list, 50 a page, through the API: the jobs a plain OFFSET gives. */
    async function assertPageMatchesOffset(n: number, why: string) {
      const body = await list(`page=${n}&per_page=50`)
      const expected = await listJobKeys(t.database.db, tenant.companyId, {}, '-created_at', 50, (n - 1) * 50)
      assert.deepEqual(body.data.map((j: any) => j.job_id), expected.map((k) => k.jobId), why)
    }

    /** A Pending job's row, created (and updated) at `at`. */
    const jobAt = (title: string, at: number, priority = 'Low') => ({
      company_id: tenant.companyId, job_title: title, job_description: null, job_status: 'Pending', job_priority: priority,
      assigned_technician_id: null, customer_location_id: basics.locationId, scheduled_start: null, scheduled_end: null,
      actual_start: null, actual_end: null, created_at: at, updated_at: at,
    })

    /** One job written as a server whose clock says `at` would: with its count and write sequence, wherever it lands in the list. */
    const insertJobStamped = (title: string, at: number) =>
      inTransaction(t.database.db, async (trx) => {
        await insertJob(trx, jobAt(title, at))
        await recordJobWrite(trx, tenant.companyId, [{ status: 'Pending', priority: 'Low', delta: 1 }])
      })

    /** `size` jobs stamped `at` (in front of the list), loaded straight into the table; counts rebuilt and lists told. */
    async function loadInFront(title: string, size: number, at: number) {
      const rows = Array.from({ length: size }, (_, i) => jobAt(`${title} ${i}`, at, 'Medium'))
      for (let i = 0; i < rows.length; i += 500) await t.database.db.insertInto('jobs').values(rows.slice(i, i + 500)).execute()
      await rebuildJobCounts(t.database.db)
      await touchJobLists(t.database.db, tenant.companyId)
    }

    async function countedTotal(filters: JobFilters) {
      const keys = await listJobKeys(t.database.db, tenant.companyId, filters, '-created_at', 1_000_000, 0)
      return keys.length
    }

    async function assertTotalsExact() {
      const cases: Array<[string, JobFilters]> = [
        ['', {}],
        ['status=Pending', { statuses: ['Pending'] }],
        ['status=Pending,Assigned,Closed', { statuses: ['Pending', 'Assigned', 'Closed'] }],
        ['priority=High', { priority: 'High' }],
        ['status=In+Progress&priority=Urgent', { statuses: ['In Progress'], priority: 'Urgent' }],
      ]
      for (const [query, filters] of cases) {
        assert.equal((await list(`${query}&per_page=1`)).pagination.total, await countedTotal(filters), query)
      }
    }

    it('totals are exact after creates, status changes and priority changes', async () => {
      await assertTotalsExact()
      const created = await call(t.app, 'POST', '/api/v1/jobs', { key: tenant.apiKey, body: { job_title: 'New', customer_location_id: basics.locationId, job_priority: 'Urgent' } })
      const jobId = created.body.data.job_id
      await assertTotalsExact()
      await call(t.app, 'PATCH', `/api/v1/jobs?id=${jobId}`, { key: tenant.apiKey, body: { job_status: 'Assigned' } })
      await assertTotalsExact()
      await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: tenant.apiKey, body: { job_priority: 'Low' } })
      await assertTotalsExact()
      const refused = await call(t.app, 'PATCH', `/api/v1/jobs?id=${jobId}`, { key: tenant.apiKey, body: { job_status: 'Paid' } })
      assert.equal(refused.status, 400)
      await assertTotalsExact()
    })

    async function assertDeepPagesMatchOffset(sort: JobSort, query: string, filters: JobFilters) {
      for (const page of [41, 60, 104]) {
        const body = await list(`${query}&sort=${sort}&page=${page}&per_page=50`)
        const expected = await listJobKeys(t.database.db, tenant.companyId, filters, sort, 50, (page - 1) * 50)
        assert.deepEqual(body.data.map((j: any) => j.job_id), expected.map((k) => k.jobId), `${sort} ${query} page ${page}`)
      }
    }

    /**
     * The company's jobs as they are now, and a JavaScript oracle of any list of them: the job ids of
     * `limit` rows from `offset` in `sort`'s order (past `after`, a seek).
     */
    async function loadOracle() {
      const rows = await t.database.db
        .selectFrom('jobs')
        .select(['job_id', 'job_status', 'job_priority', 'customer_location_id', 'assigned_technician_id', 'created_at', 'updated_at', 'scheduled_start'])
        .where('company_id', '=', tenant.companyId)
        .execute()
      const oracle = (f: JobFilters, sort: JobSort, limit: number, offset: number, after?: ListKey) => {
        const desc = sort.startsWith('-')
        const column = sort.replace('-', '') as 'created_at' | 'updated_at' | 'scheduled_start'
        const value = (r: (typeof rows)[number]) => (r[column] === null ? null : Number(r[column]))
        const matching = rows.filter(
          (r) =>
            (!f.statuses || f.statuses.includes(r.job_status)) &&
            (f.priority === undefined || r.job_priority === f.priority) &&
            (f.assignedTechnicianId === undefined || Number(r.assigned_technician_id) === f.assignedTechnicianId) &&
            (f.customerLocationId === undefined || Number(r.customer_location_id) === f.customerLocationId) &&
            (f.customerId === undefined || Number(r.customer_location_id) === basics.locationId) &&
            (f.createdFrom === undefined || Number(r.created_at) >= f.createdFrom) &&
            (f.createdTo === undefined || Number(r.created_at) <= f.createdTo) &&
            (f.updatedFrom === undefined || Number(r.updated_at) >= f.updatedFrom) &&
            (!after || (desc ? Number(r[column]) < after.value || (Number(r[column]) === after.value && r.job_id < after.jobId) : Number(r[column]) > after.value || (Number(r[column]) === after.value && r.job_id > after.jobId))),
        )
        matching.sort((a, b) => {
          const [va, vb] = [value(a), value(b)]
          if (va === null || vb === null) return va === vb ? (desc ? b.job_id - a.job_id : a.job_id - b.job_id) : va === null ? 1 : -1
          return va !== vb ? (desc ? vb - va : va - vb) : desc ? b.job_id - a.job_id : a.job_id - b.job_id
        })
        return matching.slice(offset, offset + limit).map((r) => r.job_id)
      }
      return { rows, oracle }
    }

    // The deep-page tests above take listJobKeys as their reference; here it answers to plain JavaScript.
    it('page keys equal a JavaScript oracle for every combination of filters, sort and seek', async () => {
      const { rows, oracle } = await loadOracle()
      const optional: Array<[keyof JobFilters, unknown]> = [
        ['priority', 'High'],
        ['createdFrom', 1_700_000_000 + 150 * 60],
        ['createdTo', 1_700_000_000 + 600 * 60],
        ['updatedFrom', 1_700_000_000 + 200 * 60],
        ['customerLocationId', basics.locationId],
        ['customerId', basics.customerId],
        ['assignedTechnicianId', basics.technicianId],
      ]
      let shapes = 0
      for (let statusCount = 0; statusCount <= 4; statusCount++) {
        for (let mask = 0; mask < 1 << optional.length; mask += 7) {
          const filters: Record<string, unknown> = statusCount ? { statuses: JOB_STATUSES.slice(0, statusCount * 2) } : {}
          optional.forEach(([name, value], i) => {
            if (mask & (1 << i)) filters[name] = value
          })
          for (const sort of SORTS) {
            const f = filters as JobFilters
            const seekable = !sort.includes('scheduled_start')
            // The walk chosen, and where there is a choice, each walk forced: each writes the filters or the order its own way (`+column`), all must agree.
            const filtersUsed = Object.keys(f).length
            const choice = filtersUsed >= 2 || (filtersUsed === 1 && !sort.includes('created_at'))
            for (const walk of choice ? [undefined, ...walksFor(f, sort)] : [undefined]) {
              const what = `${JSON.stringify(f)} ${sort} walk ${walk ?? 'chosen'}`
              const first = await listJobKeys(t.database.db, tenant.companyId, f, sort, 7, 3, undefined, walk)
              assert.deepEqual(first.map((k) => k.jobId), oracle(f, sort, 7, 3), what)
              shapes++
              if (seekable && first.length) {
                const after = first.at(-1)!
                const next = await listJobKeys(t.database.db, tenant.companyId, f, sort, 5, 1, after, walk)
                assert.deepEqual(next.map((k) => k.jobId), oracle(f, sort, 5, 1, after), `${what} after ${after.jobId}`)
                shapes++
              }
            }
          }
        }
      }
      assert.ok(shapes > 250, `only ${shapes} combinations`)

      // In scheduled_start order, pages on both sides of where the jobs without a schedule begin, and
      // across it (on PostgreSQL each side is a statement of its own: keysByScheduleParts).
      const technician = { assignedTechnicianId: basics.technicianId }
      for (const f of [{}, { statuses: ['Pending', 'Assigned'] }, technician, { ...technician, statuses: ['Closed'] }] as JobFilters[]) {
        const scheduled = oracle(f, 'scheduled_start', rows.length, 0).filter((id) => rows.find((r) => r.job_id === id)!.scheduled_start !== null).length
        assert.ok(scheduled > 10, JSON.stringify(f))
        for (const sort of ['scheduled_start', '-scheduled_start'] as JobSort[]) {
          for (const walk of [undefined, ...walksFor(f, sort)]) {
            for (const offset of [scheduled - 10, scheduled - 3, scheduled, scheduled + 4]) {
              const keys = await listJobKeys(t.database.db, tenant.companyId, f, sort, 7, offset, undefined, walk)
              assert.deepEqual(keys.map((k) => k.jobId), oracle(f, sort, 7, offset), `${JSON.stringify(f)} ${sort} walk ${walk ?? 'chosen'} from ${offset} (${scheduled} scheduled)`)
            }
          }
        }
      }
      // No seeks in that order: the jobs without a schedule have no value to seek past.
      await assert.rejects(listJobKeys(t.database.db, tenant.companyId, {}, 'scheduled_start', 5, 0, { value: 1_700_000_000, jobId: 1 }), /sort column without nulls/)
    })

    it('any filters, with date bounds anywhere (inverted, before or past every job), in any order, from any row: totals and pages equal the oracle', async () => {
      const { rows, oracle } = await loadOracle()
      const optional = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined })
      // Steps of the bulk load run 0-1,039; a little before and past them too.
      const bound = optional(fc.integer({ min: -20, max: 1_060 }).map(at))
      const filters = fc
        .record({
          statuses: optional(fc.subarray([...JOB_STATUSES], { minLength: 1 })),
          priority: optional(fc.constantFrom(...JOB_PRIORITIES)),
          assignedTechnicianId: optional(fc.constant(basics.technicianId)),
          customerLocationId: optional(fc.constant(basics.locationId)),
          customerId: optional(fc.constant(basics.customerId)),
          createdFrom: bound,
          createdTo: bound,
          updatedFrom: bound,
        })
        .map((f) => Object.fromEntries(Object.entries(f).filter(([, value]) => value !== undefined)) as JobFilters)
      const page = fc.record({ sort: fc.constantFrom(...SORTS), limit: fc.integer({ min: 1, max: 30 }), at: fc.integer({ min: 0, max: 1_020 }).map((n) => n / 1_000), seekFrom: optional(fc.nat()) })
      await fc.assert(
        fc.asyncProperty(filters, page, fc.constantFrom(50, 1_000_000), async (f, { sort, limit, at: where, seekFrom }, cap) => {
          const total = oracle(f, sort, rows.length, 0).length
          assert.equal(await countJobs(t.database.db, tenant.companyId, f, cap), total, `total of ${JSON.stringify(f)} (cap ${cap})`)
          // A seek past a row's key (not in scheduled_start order, which has none for some jobs).
          const row = seekFrom !== undefined && !sort.includes('scheduled_start') ? rows[seekFrom % rows.length]! : undefined
          const after = row && { value: Number(row[sort.replace('-', '') as 'created_at' | 'updated_at']), jobId: row.job_id }
          const offset = Math.floor(where * total)
          const keys = await listJobKeys(t.database.db, tenant.companyId, f, sort, limit, offset, after)
          assert.deepEqual(keys.map((k) => k.jobId), oracle(f, sort, limit, offset, after), `${JSON.stringify(f)} ${sort} ${limit} from ${offset}${after ? ` past ${JSON.stringify(after)}` : ''}`)
        }),
        { numRuns: 300 },
      )
    })

    it('through the API, any filters as a client writes them (bare dates too), any order, any page, deep ones included: the page and its total equal the oracle', async () => {
      const { rows, oracle } = await loadOracle()
      const optional = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined, freq: 2 })
      const day = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 10)
      const endOfDay = (seconds: number) => Date.parse(`${day(seconds)}T23:59:59Z`) / 1000
      const startOfDay = (seconds: number) => Date.parse(`${day(seconds)}T00:00:00Z`) / 1000
      // A bound as a step of the bulk load (written as a date-time), or as the bare date of one (whole UTC days: the load crosses midnight).
      const bound = optional(fc.record({ step: fc.integer({ min: -20, max: 1_060 }), bare: fc.boolean() }))
      const request = fc.record({
        statuses: optional(fc.subarray([...JOB_STATUSES], { minLength: 1 })),
        priority: optional(fc.constantFrom(...JOB_PRIORITIES)),
        technician: fc.boolean(),
        // Half the lists filtered by created_after at most: long enough for deep pages (from row 2,000: remembered positions).
        long: fc.boolean(),
        createdAfter: bound,
        createdBefore: bound,
        updatedAfter: bound,
        sort: fc.constantFrom(...SORTS),
        perPage: fc.integer({ min: 1, max: 100 }),
        // How far into the list the page is (fast-check's doubles gather at their ends).
        where: fc.integer({ min: 0, max: 1_020 }).map((n) => n / 1_000),
      })
      await fc.assert(
        fc.asyncProperty(request, async (generated) => {
          const r = generated.long ? { ...generated, statuses: undefined, priority: undefined, technician: false, createdBefore: undefined, updatedAfter: undefined } : generated
          const query = new URLSearchParams({ sort: r.sort, per_page: String(r.perPage) })
          const f: JobFilters = {}
          // A bound as the query writes it, and the second it stands for (a bare date: its day's first, or last for created_before).
          const written = (b: { step: number; bare: boolean }) => (b.bare ? day(at(b.step)) : new Date(at(b.step) * 1000).toISOString())
          const meant = (b: { step: number; bare: boolean }, dayEnd = false) => (!b.bare ? at(b.step) : dayEnd ? endOfDay(at(b.step)) : startOfDay(at(b.step)))
          if (r.statuses) {
            query.set('status', r.statuses.join(','))
            f.statuses = r.statuses
          }
          if (r.priority) {
            query.set('priority', r.priority)
            f.priority = r.priority
          }
          if (r.technician) {
            query.set('assigned_technician_id', String(basics.technicianId))
            f.assignedTechnicianId = basics.technicianId
          }
          if (r.createdAfter) {
            query.set('created_after', written(r.createdAfter))
            f.createdFrom = meant(r.createdAfter)
          }
          if (r.createdBefore) {
            query.set('created_before', written(r.createdBefore))
            f.createdTo = meant(r.createdBefore, true)
          }
          if (r.updatedAfter) {
            query.set('updated_after', written(r.updatedAfter))
            f.updatedFrom = meant(r.updatedAfter)
          }
          const total = oracle(f, r.sort, rows.length, 0).length
          const page = Math.max(1, Math.ceil((r.where * total) / r.perPage))
          query.set('page', String(page))
          const body = await list(query.toString())
          const what = query.toString()
          assert.equal(body.pagination.total, total, what)
          assert.deepEqual(body.data.map((j: any) => j.job_id), oracle(f, r.sort, r.perPage, (page - 1) * r.perPage), what)
        }),
        { numRuns: 100 },
      )
    })

    it('totals with date filters are exact whether counted inside or outside the dates, also right after writes', async () => {
      // created_at steps 0-742, updated_at 0-1,039 (the bulk load above); with a cap of 50 rows these are
      // counted outside the dates (few there) or inside (many on some side), alone and with other filters.
      const dates: JobFilters[] = [
        { updatedFrom: at(0) }, { updatedFrom: at(2) }, { updatedFrom: at(500) }, { updatedFrom: at(1_036) }, { updatedFrom: at(5_000) },
        { createdFrom: at(0) }, { createdFrom: at(740) }, { createdTo: at(742) }, { createdTo: at(2) },
        { createdFrom: at(1), createdTo: at(741) }, { createdFrom: at(300), createdTo: at(400) }, { createdFrom: at(300), createdTo: at(302) },
        { createdFrom: at(1), updatedFrom: at(1) }, { createdFrom: at(2), createdTo: at(741), updatedFrom: at(3) }, { createdTo: at(700), updatedFrom: at(1) },
        // Few jobs outside one bound and many outside another (at a cap of 50): the other counted inside, the few subtracted.
        { createdFrom: at(1), updatedFrom: at(500) }, { createdFrom: at(2), createdTo: at(741), updatedFrom: at(600) }, { createdFrom: at(300), updatedFrom: at(1) },
        // Ranges that end before they start match nothing (their two outsides overlap).
        { createdFrom: at(400), createdTo: at(300) }, { createdFrom: at(3), createdTo: at(2), updatedFrom: at(1) },
      ]
      const others: JobFilters[] = [{}, { statuses: ['Pending'] }, { statuses: ['Pending', 'Closed'], priority: 'High' }, { assignedTechnicianId: basics.technicianId }]
      const ranges = dates.flatMap((d) => others.map((o) => ({ ...d, ...o })))
      // Another company's jobs across the same dates, statuses and priorities: no way of counting may take them in.
      const neighbour = await createTenant(t.database)
      const neighbourBasics = await createBasics(t.app, neighbour.apiKey)
      const theirs = Array.from({ length: 60 }, (_, i) => ({
        ...jobAt(`Theirs ${i}`, at(i * 18), i % 2 ? 'High' : 'Low'),
        job_status: i % 3 ? 'Pending' : 'Closed',
        company_id: neighbour.companyId,
        customer_location_id: neighbourBasics.locationId,
      }))
      await t.database.db.insertInto('jobs').values(theirs).execute()
      await rebuildJobCounts(t.database.db)
      const assertExact = async (why: string) => {
        for (const f of ranges) {
          const expected = await countedTotal(f)
          // A cap of 0: every date filter counted inside its dates, by the walk chooseWalk names (countRows).
          for (const cap of [0, 50, 1_000_000]) assert.equal(await countJobs(t.database.db, tenant.companyId, f, cap), expected, `${JSON.stringify(f)} cap ${cap} ${why}`)
        }
      }
      await assertExact('as loaded')
      const inverted = await list(`created_after=${new Date(at(400) * 1000).toISOString()}&created_before=${new Date(at(300) * 1000).toISOString()}`)
      assert.deepEqual([inverted.pagination.total, inverted.pagination.total_pages, inverted.data.length], [0, 0, 0])
      const created = await call(t.app, 'POST', '/api/v1/jobs', { key: tenant.apiKey, body: { job_title: 'Range', customer_location_id: basics.locationId } })
      assert.equal(created.status, 201)
      const [oldest] = await listJobKeys(t.database.db, tenant.companyId, {}, 'updated_at', 1, 0)
      const edited = await call(t.app, 'PUT', `/api/v1/jobs?id=${oldest!.jobId}`, { key: tenant.apiKey, body: { job_description: 'moved to now' } })
      assert.equal(edited.status, 200)
      await assertExact('after a create and an edit of the least recently updated job')
    })

    if (dialect === 'sqlite') {
      it('where the SQLite planner is known to choose wrongly, the index that reads the fewest rows leads, and SQLite walks it', async () => {
        const { db } = t.database
        const technician = { assignedTechnicianId: basics.technicianId }
        // Nothing to choose: no index but the order's own, or a filter's index that holds jobs in that order.
        assert.equal(await walkFor({ updatedFrom: at(0) }, 'updated_at'), 'planner')
        assert.equal(await walkFor(technician, '-created_at'), 'planner')
        // The technician's ~400 jobs against every job updated since step 0, or in updated_at order.
        assert.equal(await walkFor({ ...technician, updatedFrom: at(0) }), 'reference')
        assert.equal(await walkFor(technician, 'updated_at'), 'reference')
        // ~580 Pending jobs against the ~20 updated since step 1,036.
        assert.equal(await walkFor({ statuses: ['Pending'], updatedFrom: at(1_036) }), 'updated')
        // The customer owns every job: the created_at order reads no more rows than its locations' index.
        assert.equal(await walkFor({ customerId: basics.customerId }, '-created_at'), 'created')
        // ~21 jobs created since step 740, in updated_at order: the created_at index leads, then a sort.
        assert.equal(await walkFor({ createdFrom: at(740) }, 'updated_at'), 'created')
        assert.equal(await walkFor(technician, 'scheduled_start'), 'reference')
        assert.equal(await walkFor({}, '-scheduled_start'), 'planner')
        // Its ~580 Pending jobs: the status index reads those, the created_at order up to all 5,200.
        assert.equal(await walkFor({ customerId: basics.customerId, statuses: ['Pending'] }, '-created_at'), 'status')
        // The updated_at index holds status and priority (migration 0007): its 5,200 entries alone cost
        // less than ~2,900 jobs of five statuses read from the table, for a count or in its own order…
        const fiveStatuses = { statuses: ['Pending', 'Assigned', 'In Progress', 'On Hold', 'Completed'], updatedFrom: at(0) }
        assert.equal(await walkFor(fiveStatuses), 'updated')
        assert.equal(await walkFor(fiveStatuses, 'updated_at'), 'updated')
        // It holds scheduled_start too (migration 0008): in that order as well…
        assert.equal(await walkFor(fiveStatuses, 'scheduled_start'), 'updated')
        // …but not in created_at order, which reads each job's created_at from the table.
        assert.equal(await walkFor(fiveStatuses, '-created_at'), 'status')

        // And SQLite walks the index each names, whatever its statistics say.
        const planOf = async (walk: IndexWalk, filters: JobFilters = { ...technician, statuses: ['Pending'], updatedFrom: at(10) }, sort: JobSort = 'updated_at') => {
          const query = jobKeysQuery(db, tenant.companyId, filters, sort, 50, 0, { walk }).compile()
          const { rows } = await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${query.sql}`, [...query.parameters]))
          return rows.map((r) => r.detail).join('; ')
        }
        assert.match(await planOf('reference'), /USING INDEX jobs_company_technician/)
        assert.match(await planOf('status'), /USING INDEX jobs_company_status/)
        assert.match(await planOf('updated'), /USING INDEX jobs_company_updated/)
        // With filters the updated_at index holds, it is read alone; and a status walk still reads the
        // status index, which SQLite's statistics would trade for reading all of that one.
        const held: JobFilters = { statuses: ['Pending', 'Assigned'], updatedFrom: at(10) }
        assert.match(await planOf('updated', held), /USING COVERING INDEX jobs_company_updated/)
        assert.match(await planOf('status', held), /USING INDEX jobs_company_status/)
        assert.match(await planOf('status', held, '-created_at'), /USING INDEX jobs_company_status/)
        // In scheduled_start order it is read alone too; newest first for the latest schedules first, in
        // a subquery SQLite keeps apart (a co-routine) so that its order holds.
        assert.match(await planOf('updated', held, 'scheduled_start'), /USING COVERING INDEX jobs_company_updated/)
        assert.match(await planOf('updated', held, '-scheduled_start'), /CO-ROUTINE[^]*USING COVERING INDEX jobs_company_updated/)
      })
    }

    if (dialect === 'sqlite') {
      it('in scheduled_start order a filter-led page is tried in that order first, within its budget, and equals the oracle however the try ends and however created_at bounds are checked', async () => {
        const { rows, oracle } = await loadOracle()
        const db = t.database.db
        // Jobs updated since step 800 (the last ~1,200 of the bulk load) are the last in
        // scheduled_start order and the first in its reverse: the updated_at index, which holds
        // their schedules, leads, after a try in the order.
        const recent: JobFilters = { updatedFrom: at(800) }
        assert.deepEqual(await estimateWalk(db, tenant.companyId, recent, { sort: 'scheduled_start', rows: 50 }), { walk: 'updated', dateFirst: 500 })
        const scheduled = rows.filter((r) => r.scheduled_start !== null).length
        const budgets = [
          1, // the page is never full within it: the updated_at walk answers
          500, // within the jobs with a schedule
          scheduled + 10, // the row at the budget has no schedule: no try
          rows.length + 10, // past the company's last job: the whole order is within it
        ]
        // A created_at bound that leaves out few jobs (the 35 created before step 5) is checked by their
        // ids, which that index holds too.
        const sinceStep5: JobFilters = { ...recent, createdFrom: at(5) }
        assert.deepEqual(await estimateWalk(db, tenant.companyId, sinceStep5, { sort: 'scheduled_start', rows: 50 }), { walk: 'updated', dateFirst: 500, createdByExclusion: true })
        const filterSets: JobFilters[] = [
          recent,
          { ...recent, statuses: ['Pending', 'Closed'] },
          { priority: 'High', updatedFrom: at(100) },
          sinceStep5,
          { ...recent, priority: 'Low', createdFrom: at(700), createdTo: at(900) },
          { ...recent, createdFrom: at(900), createdTo: at(700) }, // inverted: nothing
        ]
        for (const f of filterSets) {
          const total = oracle(f, 'scheduled_start', rows.length, 0).length
          const byExclusion = f.createdFrom !== undefined || f.createdTo !== undefined
          for (const sort of ['scheduled_start', '-scheduled_start'] as JobSort[]) {
            for (const dateFirst of budgets) {
              for (const offset of [0, 37, total - 20, total + 5]) {
                const estimate = { walk: 'updated' as const, dateFirst, ...(byExclusion && { createdByExclusion: true }) }
                const keys = await listJobKeys(db, tenant.companyId, f, sort, 30, Math.max(0, offset), undefined, estimate)
                assert.deepEqual(keys.map((k) => k.jobId), oracle(f, sort, 30, Math.max(0, offset)), `${JSON.stringify(f)} ${sort} budget ${dateFirst} from ${offset}`)
              }
            }
          }
        }
      })
    }

    if (dialect === 'postgres') {
      it("in a date's order PostgreSQL is told when a filter's index should lead, and then cannot read that date's index for the order", async () => {
        const { db } = t.database
        const technician = { assignedTechnicianId: basics.technicianId }
        // ~20 jobs created since step 740, and the technician's ~400, in updated_at or scheduled_start order: their own indexes lead.
        assert.equal(await walkFor({ createdFrom: at(740) }, 'updated_at'), 'created')
        assert.equal(await walkFor(technician, 'updated_at'), 'reference')
        assert.equal(await walkFor(technician, 'scheduled_start'), 'reference')
        // ~580 Pending jobs against the ~20 updated since step 1,036, newest first by creation.
        assert.equal(await walkFor({ statuses: ['Pending'], updatedFrom: at(1_036) }, '-created_at'), 'updated')
        // Counts, and lists in updated_at order under filters that index holds (walked alone, at worst to
        // the company's end), are the planner's (needsChoice).
        assert.equal(await walkFor({ ...technician, updatedFrom: at(0) }), 'planner')
        assert.equal(await walkFor({ statuses: ['Pending'], priority: 'High', updatedFrom: at(1_036) }, 'updated_at'), 'planner')

        // With sorting and whole-table reads priced out, the planner reads a list in order from its date's
        // index when it may; a walk led by a filter's index leaves it the filters' indexes, and a sort.
        const planOf = (walk: IndexWalk, filters: JobFilters, sort: JobSort) =>
          db.transaction().execute(async (trx) => {
            for (const setting of ['enable_sort', 'enable_seqscan', 'enable_bitmapscan']) await trx.executeQuery(CompiledQuery.raw(`set local ${setting} = off`))
            const query = jobKeysQuery(trx, tenant.companyId, filters, sort, 50, 0, { walk }).compile()
            const { rows } = await trx.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`explain ${query.sql}`, [...query.parameters]))
            return rows.map((r) => r['QUERY PLAN']).join('; ')
          })
        const recent: JobFilters = { createdFrom: at(740) }
        assert.match(await planOf('planner', recent, 'updated_at'), /jobs_company_updated/)
        assert.match(await planOf('created', recent, 'updated_at'), /Index Scan using jobs_company_created/)
        assert.doesNotMatch(await planOf('created', recent, 'updated_at'), /jobs_company_updated/)
        // The filters stay the planner's to weigh (it knows what each matches): only the order is hidden.
        const pending: JobFilters = { ...technician, statuses: ['Pending'] }
        const { sql: text } = jobKeysQuery(db, tenant.companyId, pending, 'updated_at', 50, 0, { walk: 'status' }).compile()
        assert.match(text, /"j"\."job_status" = \$\d+ and "j"\."assigned_technician_id" = \$\d+ order by \+j\.updated_at asc/)
        assert.doesNotMatch(await planOf('status', pending, 'updated_at'), /jobs_company_updated/)
      })
    }

    it('deep pages equal a plain OFFSET, for every sort, and stay equal after writes', async () => {
      for (const sort of ['-created_at', 'created_at', '-updated_at', 'updated_at', '-scheduled_start'] as JobSort[]) {
        await assertDeepPagesMatchOffset(sort, '', {})
        await assertDeepPagesMatchOffset(sort, 'status=Pending,Closed,Paid,Invoiced', { statuses: ['Pending', 'Closed', 'Paid', 'Invoiced'] })
      }
      // Writes move positions: a new job shifts every page of the default order;
      // a status change moves a job between filtered lists; a PUT moves it in updated_at order.
      const oldest = await listJobKeys(t.database.db, tenant.companyId, {}, 'created_at', 1, 0)
      await call(t.app, 'POST', '/api/v1/jobs', { key: tenant.apiKey, body: { job_title: 'Shift', customer_location_id: basics.locationId } })
      await call(t.app, 'PATCH', `/api/v1/jobs?id=${oldest[0]!.jobId}`, { key: tenant.apiKey, body: { job_status: 'Cancelled' } })
      for (const sort of ['-created_at', 'updated_at', '-updated_at'] as JobSort[]) {
        await assertDeepPagesMatchOffset(sort, '', {})
        await assertDeepPagesMatchOffset(sort, 'status=Pending,Closed,Paid,Invoiced', { statuses: ['Pending', 'Closed', 'Paid', 'Invoiced'] })
      }
    })

    it('the newest-first list keeps its positions across creates, and rebuilds them when a job lands elsewhere', async () => {
      const query = async () => assertDeepPagesMatchOffset('-created_at', '', {})
      await query()
      // Creates land in front: remembered positions shift (edits and status changes move nothing).
      for (const n of [1, 3]) {
        for (let i = 0; i < n; i++) {
          await call(t.app, 'POST', '/api/v1/jobs', { key: tenant.apiKey, body: { job_title: `Front ${n}.${i}`, customer_location_id: basics.locationId } })
        }
        await query()
      }
      const [newest] = await listJobKeys(t.database.db, tenant.companyId, {}, '-created_at', 1, 0)
      await call(t.app, 'PUT', `/api/v1/jobs?id=${newest!.jobId}`, { key: tenant.apiKey, body: { job_priority: 'Urgent' } })
      await call(t.app, 'PATCH', `/api/v1/jobs?id=${newest!.jobId}`, { key: tenant.apiKey, body: { job_status: 'Assigned' } })
      await query()
      // A job written by a server whose clock is behind lands in the middle of
      // the list, not in front: the positions must be rebuilt, not shifted.
      const [middle] = await listJobKeys(t.database.db, tenant.companyId, {}, '-created_at', 1, 3_000)
      await insertJobStamped('Late clock', middle!.value)
      await query()
      // Many new jobs in front: page 41 now starts among them (a plain
      // OFFSET), page 60 just behind them (a seek from the list's first row
      // as built), page 104 behind a remembered position. Past 4,000 new jobs
      // (MAX_SHIFT) the positions are built again.
      const now = Math.floor(Date.now() / 1000)
      await loadInFront(`Burst ${now + 60}`, 2_500, now + 60)
      await query()
      await loadInFront(`Burst ${now + 120}`, 1_600, now + 120)
      await query()
    })

    it('the newest-first list keeps its positions when a job commits after a later-stamped one the last check saw, and rebuilds them for one behind its first row', async () => {
      // PostgreSQL runs writes side by side: a job stamped a moment before
      // another can commit after it. It lands behind the first row the last
      // check saw, yet in front of the first row the positions were built
      // from, so they still hold.
      const db = t.database.db
      const positions = new PagePositions()
      const offset = 3_000
      const ask = async (why: string) => {
        const keys = await positions.page(db, tenant.companyId, await readListSeqs(db, tenant.companyId), {}, '-created_at', 50, offset)
        assert.deepEqual(keys, await listJobKeys(db, tenant.companyId, {}, '-created_at', 50, offset), why)
      }
      const [head] = await listJobKeys(db, tenant.companyId, {}, '-created_at', 1, 0)
      await ask('built')
      assert.equal(positions.builds, 1)
      await insertJobStamped('Stamped later, committed first', head!.value + 100)
      await ask('after a job in front of everything')
      await insertJobStamped('Stamped earlier, committed later', head!.value + 50)
      await ask('after a job behind the last check’s first row, in front of head')
      assert.equal(positions.builds, 1, 'the positions held')
      // Stamped before head (a tie would sort a newer id in front of it).
      await insertJobStamped('Behind head', head!.value - 1)
      await ask('after a job behind head')
      assert.equal(positions.builds, 2, 'built again')
    })

    it('pages at the edge between jobs created since the positions were built and the rows behind them equal a plain OFFSET', async () => {
      // A job landing mid-list makes the next ask build the positions again,
      // with no job in front of the first row: shift 0.
      const [middle] = await listJobKeys(t.database.db, tenant.companyId, {}, '-created_at', 1, 2_500)
      await insertJobStamped('Mid-list', middle!.value)
      await assertPageMatchesOffset(41, 'positions built again')
      // Exactly 2,050 jobs in front: page 42 (offset 2,050) starts at the
      // first row as built, page 41 among the new jobs, page 43 just behind.
      await loadInFront('Edge', 2_050, Math.floor(Date.now() / 1000) + 600)
      for (const n of [42, 41, 43, 83, 84]) await assertPageMatchesOffset(n, `page ${n} after 2,050 jobs in front`)
    })

    it('a deep page asked for again between creates stays equal to a plain OFFSET, as far as its anchor reaches and past it', async () => {
      // Each ask leaves an anchor 100 rows before the page (jobs.pages.ts);
      // every create moves the page one row closer to it, until it is past.
      await assertPageMatchesOffset(70, 'first ask')
      for (let i = 1; i <= 130; i++) {
        const created = await call(t.app, 'POST', '/api/v1/jobs', { key: tenant.apiKey, body: { job_title: `Anchor ${i}`, customer_location_id: basics.locationId } })
        assert.equal(created.status, 201, JSON.stringify(created.body))
        if (i % 9 === 0 || (i >= 97 && i <= 103)) await assertPageMatchesOffset(70, `after ${i} creates`)
        if (i === 50) await assertPageMatchesOffset(71, 'the next page, after 50 creates')
      }
    })

    it('deep pages asked for at once all agree with a plain OFFSET, and so do the pages after them', async () => {
      const filtered = 'status=Pending,Closed,Paid,Invoiced'
      const filters: JobFilters = { statuses: ['Pending', 'Closed', 'Paid', 'Invoiced'] }
      for (const sort of ['-updated_at', '-created_at'] as JobSort[]) {
        // A write first, so the remembered positions of the filtered list are rebuilt by the burst below.
        const [newest] = await listJobKeys(t.database.db, tenant.companyId, {}, '-created_at', 1, 0)
        await call(t.app, 'PUT', `/api/v1/jobs?id=${newest!.jobId}`, { key: tenant.apiKey, body: { job_title: `Burst ${sort}` } })
        for (const query of [filtered, '']) {
          const pages = [104, 60, 41, 104, 60, 41, 104, 80, 99, 41]
          const bodies = await Promise.all(pages.map((page) => list(`${query}&sort=${sort}&page=${page}&per_page=50`)))
          for (const [i, page] of pages.entries()) {
            const expected = await listJobKeys(t.database.db, tenant.companyId, query ? filters : {}, sort, 50, (page - 1) * 50)
            assert.deepEqual(bodies[i].data.map((j: any) => j.job_id), expected.map((key) => key.jobId), `${sort} ${query} page ${page} (at once)`)
          }
          await assertDeepPagesMatchOffset(sort, query, query ? filters : {})
        }
      }
    })

    it('a remembered page is served again only while it is exactly what the database would give', async () => {
      /** The page as the database has it now, built directly from the repository. */
      async function truth(filters: JobFilters, page: number) {
        const keys = await listJobKeys(t.database.db, tenant.companyId, filters, '-created_at', 50, (page - 1) * 50)
        const rows = await findJobViews(t.database.db, tenant.companyId, keys.map((k) => k.jobId))
        return { data: rows.map(presentJobListItem), total: (await listJobKeys(t.database.db, tenant.companyId, filters, '-created_at', 1_000_000, 0)).length }
      }
      async function assertCurrent(query: string, filters: JobFilters, page: number, why: string) {
        const body = await list(`${query}&page=${page}&per_page=50`)
        const expected = await truth(filters, page)
        assert.deepEqual(body.data, expected.data, why)
        assert.equal(body.pagination.total, expected.total, why)
      }
      const pending: JobFilters = { statuses: ['Pending'] }
      const cases: Array<[string, JobFilters, number]> = [['', {}, 1], ['', {}, 45], ['status=Pending', pending, 1]]
      for (const [query, filters, page] of cases) await assertCurrent(query, filters, page, 'first')
      // A write to a job on none of these pages: the remembered answers stay right.
      const [oldest] = await listJobKeys(t.database.db, tenant.companyId, {}, 'created_at', 1, 0)
      await call(t.app, 'PUT', `/api/v1/jobs?id=${oldest!.jobId}`, { key: tenant.apiKey, body: { job_description: 'Unrelated edit' } })
      for (const [query, filters, page] of cases) await assertCurrent(query, filters, page, 'after an unrelated edit')
      // A job on the pages changes: its new status must show.
      const [onPage] = await listJobKeys(t.database.db, tenant.companyId, pending, '-created_at', 1, 3)
      await call(t.app, 'PATCH', `/api/v1/jobs?id=${onPage!.jobId}`, { key: tenant.apiKey, body: { job_status: 'Assigned' } })
      for (const [query, filters, page] of cases) await assertCurrent(query, filters, page, 'after a status change on the page')
      // A job is created: the first pages shift by one. Their other jobs are
      // taken from the remembered answers (same row versions), the new one is read.
      const create = async (title: string) => {
        const created = await call(t.app, 'POST', '/api/v1/jobs', { key: tenant.apiKey, body: { job_title: title, customer_location_id: basics.locationId } })
        assert.equal(created.status, 201, JSON.stringify(created.body))
      }
      await create('Newest')
      for (const [query, filters, page] of cases) await assertCurrent(query, filters, page, 'after a create')
      // A create and an edit of a job that stays on the first pages, both before the next read.
      const [second] = await listJobKeys(t.database.db, tenant.companyId, pending, '-created_at', 1, 1)
      await call(t.app, 'PUT', `/api/v1/jobs?id=${second!.jobId}`, { key: tenant.apiKey, body: { job_title: 'Edited while on page one', job_priority: 'Urgent' } })
      await create('Newer still')
      for (const [query, filters, page] of cases) await assertCurrent(query, filters, page, 'after an edit and a create')
      // An edit alone of a job on the page (same jobs, one row version moved).
      await call(t.app, 'PUT', `/api/v1/jobs?id=${second!.jobId}`, { key: tenant.apiKey, body: { job_description: 'Described' } })
      for (const [query, filters, page] of cases) await assertCurrent(query, filters, page, 'after an edit on the page')
      // The filtered total changes while its first page keeps the same jobs (the job moved is far behind it).
      const pendingKeys = await listJobKeys(t.database.db, tenant.companyId, pending, '-created_at', 1_000_000, 0)
      const farBehind = pendingKeys[pendingKeys.length - 1]!
      await call(t.app, 'PATCH', `/api/v1/jobs?id=${farBehind.jobId}`, { key: tenant.apiKey, body: { job_status: 'Cancelled' } })
      for (const [query, filters, page] of cases) await assertCurrent(query, filters, page, 'after a total changed behind the page')
      // A name the pages show changes (no job row changes): it must show.
      const renamed = await call(t.app, 'PUT', `/api/v1/locations?id=${basics.locationId}`, { key: tenant.apiKey, body: { customer_location_name: 'Renamed depot' } })
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body))
      for (const [query, filters, page] of cases) await assertCurrent(query, filters, page, 'after a rename')

      // Edits that change nothing the pages show (no name, no location's customer) leave them valid.
      const namesSeq = async () => {
        const row = await t.database.db.selectFrom('job_write_seqs').select((eb) => eb.fn.sum<number>('names_seq').as('n')).where('company_id', '=', tenant.companyId).executeTakeFirstOrThrow()
        return Number(row.n)
      }
      const put = async (path: string, body: object) => {
        const r = await call(t.app, 'PUT', path, { key: tenant.apiKey, body })
        assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`)
      }
      const before = await namesSeq()
      await put(`/api/v1/locations?id=${basics.locationId}`, { city: 'Springfield', customer_location_name: 'Renamed depot', customer_id: basics.customerId })
      await put(`/api/v1/customers?id=${basics.customerId}`, { notes: 'Pays on time', customer_name: 'Acme Corporation' })
      await put(`/api/v1/technicians?id=${basics.technicianId}`, { technician_phone: '555-0199', technician_name: 'John Smith' })
      assert.equal(await namesSeq(), before, 'no name changed: the remembered pages are not made stale')
      for (const [query, filters, page] of cases) await assertCurrent(query, filters, page, 'after edits of nothing the pages show')
      // A location moved to another customer: its jobs show that customer.
      const owner = await call(t.app, 'POST', '/api/v1/customers', { key: tenant.apiKey, body: { customer_name: 'New owner' } })
      assert.equal(owner.status, 201)
      await put(`/api/v1/locations?id=${basics.locationId}`, { customer_id: owner.body.data.customer_id })
      for (const [query, filters, page] of cases) await assertCurrent(query, filters, page, 'after a location moved to another customer')
      await put(`/api/v1/customers?id=${owner.body.data.customer_id}`, { customer_name: 'New owner, renamed' })
      for (const [query, filters, page] of cases) await assertCurrent(query, filters, page, 'after a customer rename')
      // A technician shown on the first pages renamed.
      const assigned = await call(t.app, 'POST', '/api/v1/jobs', { key: tenant.apiKey, body: { job_title: 'With a technician', customer_location_id: basics.locationId, assigned_technician_id: basics.technicianId } })
      assert.equal(assigned.status, 201)
      for (const [query, filters, page] of cases) await assertCurrent(query, filters, page, 'after a create with a technician')
      await put(`/api/v1/technicians?id=${basics.technicianId}`, { technician_name: 'John Smith Jr.' })
      for (const [query, filters, page] of cases) await assertCurrent(query, filters, page, 'after a technician rename')
    })

    it("a page of a list filtered by status and priority is served again unread while no job of its (status, priority) cells is written, and read again after any write to one", async () => {
      // Lists of one status and one priority, and of several statuses.
      const cases: Array<[string, JobFilters]> = [
        ['status=Assigned&priority=High', { statuses: ['Assigned'], priority: 'High' }],
        ['status=Assigned,On+Hold', { statuses: ['Assigned', 'On Hold'] }],
      ]
      const firstOf = async (filters: JobFilters) => (await listJobKeys(t.database.db, tenant.companyId, filters, '-created_at', 1, 0))[0]!.jobId
      const titleShown = async (query: string, jobId: number) => (await list(query)).data.find((j: any) => j.job_id === jobId)?.job_title
      for (const [query, filters] of cases) {
        const onPage = await firstOf(filters)
        assert.ok(await titleShown(query, onPage), `${query}: remembered, with its first job`)
        // A write nobody is told of (no sequence moves), but for the job's row
        // version: a page whose keys and row versions are read again shows it.
        await t.database.db.updateTable('jobs').set({ job_title: `Unannounced ${query}`, row_version: sql<number>`row_version + 1` }).where('job_id', '=', onPage).execute()
        // A write to a job of no cell of this list (a Pending Low one: another
        // status, another priority): the company's sequence moves, not the list's cells'.
        const elsewhere = await firstOf({ statuses: ['Pending'], priority: 'Low' })
        const edited = await call(t.app, 'PUT', `/api/v1/jobs?id=${elsewhere}`, { key: tenant.apiKey, body: { job_description: `Edited beside ${query}` } })
        assert.equal(edited.status, 200, JSON.stringify(edited.body))
        assert.notEqual(await titleShown(query, onPage), `Unannounced ${query}`, `${query}: served again as remembered, nothing of it read`)
        // A write to a job of the list's cells that leaves it in its cell (no
        // count moves): the page is checked, and shows both writes.
        const inCell = await call(t.app, 'PUT', `/api/v1/jobs?id=${onPage}`, { key: tenant.apiKey, body: { job_description: 'Described in its cell' } })
        assert.equal(inCell.status, 200, JSON.stringify(inCell.body))
        const shown = (await list(query)).data.find((j: any) => j.job_id === onPage)
        assert.deepEqual([shown?.job_title, shown?.job_description], [`Unannounced ${query}`, 'Described in its cell'], `${query}: read again after a write to its cells`)
      }
    })

    it('the positions of a list filtered by status or priority alone hold while no job of its cells is written and no name changes, and are built again after either', async () => {
      const db = t.database.db
      const filters: JobFilters = { statuses: ['Pending', 'Closed', 'Paid', 'Invoiced'] }
      const put = async (jobId: number, body: object) => {
        const r = await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: tenant.apiKey, body })
        assert.equal(r.status, 200, JSON.stringify(r.body))
      }
      for (const sort of ['-created_at', '-updated_at'] as JobSort[]) {
        const positions = new PagePositions()
        /** A page 120 rows from the end of the list (past 2,000 rows: from positions), against a plain OFFSET. */
        const ask = async (why: string) => {
          const seqs = await readListSeqs(db, tenant.companyId)
          const { total, cellsSeq } = await countJobsAndCellsSeq(db, tenant.companyId, filters)
          const offset = total - 120
          assert.ok(offset > 2_000, `deep enough for positions (${offset})`)
          const keys = await positions.page(db, tenant.companyId, { ...seqs, cellsSeq }, filters, sort, 50, offset)
          assert.deepEqual(keys, await listJobKeys(db, tenant.companyId, filters, sort, 50, offset), `${sort}: ${why}`)
        }
        await ask('built')
        assert.equal(positions.builds, 1)
        // A write to a job of no cell of the list: the company's sequence moves, not the list's cells'.
        const [elsewhere] = await listJobKeys(db, tenant.companyId, { statuses: ['Assigned'] }, '-created_at', 1, 0)
        await put(elsewhere!.jobId, { job_description: `Edited beside the list (${sort})` })
        await ask('after a write to a job of another cell')
        assert.equal(positions.builds, 1, `${sort}: the positions held`)
        // A write to the list's last job that leaves it in its cell: in
        // updated_at order it moves from behind every position to the front.
        const keys = await listJobKeys(db, tenant.companyId, filters, sort, 1_000_000, 0)
        await put(keys[keys.length - 1]!.jobId, { job_description: `Edited in its cell (${sort})` })
        await ask('after a write to a job of its cells')
        assert.equal(positions.builds, 2, `${sort}: built again`)
        // A touch: the technician of one bulk job in 13 renamed. Its jobs'
        // updated_at move (the names sequence does, no cell's sequence).
        const renamed = await call(t.app, 'PUT', `/api/v1/technicians?id=${basics.technicianId}`, { key: tenant.apiKey, body: { technician_name: `Renamed for ${sort}` } })
        assert.equal(renamed.status, 200, JSON.stringify(renamed.body))
        await ask('after a rename its jobs show')
        assert.equal(positions.builds, 3, `${sort}: built again after the rename`)
      }
    })

    it('a page past the end of a deep list is empty with true pagination', async () => {
      const body = await list('page=500&per_page=50')
      assert.deepEqual(body.data, [])
      assert.equal(body.pagination.total, await countedTotal({}))
      assert.equal(body.pagination.total_pages, Math.ceil(body.pagination.total / 50))
    })

    // On SQLite every statement runs on the event loop: a walk to the middle
    // of a long list must let other requests run between its seeks.
    it('building the positions of a deep page lets the event loop turn while it walks', async () => {
      const other = await createTenant(t.database)
      const otherBasics = await createBasics(t.app, other.apiKey)
      const size = 12_000
      const rows = Array.from({ length: size }, (_, i) => ({
        ...jobAt(`Long ${i}`, 1_700_000_000 + Math.floor(i / 3) * 60),
        company_id: other.companyId,
        customer_location_id: otherBasics.locationId,
      }))
      for (let i = 0; i < rows.length; i += 500) await t.database.db.insertInto('jobs').values(rows.slice(i, i + 500)).execute()
      await rebuildJobCounts(t.database.db)
      const seqs = await readListSeqs(t.database.db, other.companyId)
      for (const filters of [{}, { statuses: ['Pending'] }] as JobFilters[]) {
        let turns = 0
        let counting = true
        const count = () => {
          turns++
          if (counting) setImmediate(count)
        }
        setImmediate(count)
        const keys = await new PagePositions().page(t.database.db, other.companyId, seqs, filters, '-created_at', 50, size - 500)
        counting = false
        const expected = await listJobKeys(t.database.db, other.companyId, filters, '-created_at', 50, size - 500)
        assert.deepEqual(keys, expected, JSON.stringify(filters))
        assert.ok(turns > 0, `the event loop never turned while ${size - 500} rows of ${JSON.stringify(filters)} were walked`)
      }
    })

    // Last: it writes to the bulk-loaded company. The app's remembered answers and positions outlive a
    // run, so a counterexample may need the writes of the runs before it (fast-check prints their seed).
    it('lists asked for again after any writes, deep pages included, equal the oracle: remembered answers and positions are never stale', async () => {
      type Write =
        | { kind: 'create'; priority: string }
        | { kind: 'put'; job: number; priority: string }
        | { kind: 'retitle'; job: number }
        | { kind: 'patch'; job: number; status: string }
        | { kind: 'rename' }
      const write: fc.Arbitrary<Write> = fc.oneof(
        fc.record({ kind: fc.constant('create' as const), priority: fc.constantFrom(...JOB_PRIORITIES) }),
        fc.record({ kind: fc.constant('put' as const), job: fc.nat(), priority: fc.constantFrom(...JOB_PRIORITIES) }),
        // An edit that leaves the job in its (status, priority) cell.
        fc.record({ kind: fc.constant('retitle' as const), job: fc.nat() }),
        fc.record({ kind: fc.constant('patch' as const), job: fc.nat(), status: fc.constantFrom(...JOB_STATUSES) }),
        // A touch: the jobs of a technician renamed (their updated_at move, no count cell's sequence does).
        fc.record({ kind: fc.constant('rename' as const) }),
      )
      // Pages anywhere in the list: the whole company's or four statuses' (both long enough for remembered positions), one status's, one priority's, or both.
      const listed = fc.record({
        status: fc.option(fc.oneof(fc.constantFrom(...JOB_STATUSES), fc.constant('Pending,Closed,Paid,Invoiced')), { nil: undefined, freq: 2 }),
        priority: fc.option(fc.constantFrom(...JOB_PRIORITIES), { nil: undefined, freq: 3 }),
        sort: fc.constantFrom(...SORTS),
        where: fc.integer({ min: 0, max: 1_000 }).map((n) => n / 1_000),
      })
      let titles = 0
      let renames = 0
      const send = (w: Write, rows: Array<{ job_id: number }>) => {
        if (w.kind === 'rename') return call(t.app, 'PUT', `/api/v1/technicians?id=${basics.technicianId}`, { key: tenant.apiKey, body: { technician_name: `Renamed ${++renames}` } })
        if (w.kind === 'create') {
          return call(t.app, 'POST', '/api/v1/jobs', { key: tenant.apiKey, body: { job_title: 'Later', customer_location_id: basics.locationId, job_priority: w.priority } })
        }
        const id = rows[w.job % rows.length]!.job_id
        if (w.kind === 'put') return call(t.app, 'PUT', `/api/v1/jobs?id=${id}`, { key: tenant.apiKey, body: { job_priority: w.priority } })
        if (w.kind === 'retitle') return call(t.app, 'PUT', `/api/v1/jobs?id=${id}`, { key: tenant.apiKey, body: { job_title: `Retitled ${++titles}` } })
        return call(t.app, 'PATCH', `/api/v1/jobs?id=${id}`, { key: tenant.apiKey, body: { job_status: w.status } })
      }
      await fc.assert(
        fc.asyncProperty(fc.array(listed, { minLength: 1, maxLength: 4 }), fc.array(fc.array(write, { maxLength: 6 }), { minLength: 1, maxLength: 3 }), async (lists, rounds) => {
          const queryOf = (l: (typeof lists)[number], page: number) =>
            new URLSearchParams({ sort: l.sort, page: String(page), per_page: '50', ...(l.status && { status: l.status }), ...(l.priority && { priority: l.priority }) }).toString()
          // Every list of the run, against the rows as they are now; the same lists again after each round of writes.
          const askAll = async () => {
            const { rows, oracle } = await loadOracle()
            for (const l of lists) {
              const f: JobFilters = { ...(l.status && { statuses: l.status.split(',') }), ...(l.priority && { priority: l.priority }) }
              const total = oracle(f, l.sort, rows.length, 0).length
              const page = Math.max(1, Math.ceil((l.where * total) / 50))
              const query = queryOf(l, page)
              const body = await list(query)
              assert.equal(body.pagination.total, total, query)
              const ids = oracle(f, l.sort, 50, (page - 1) * 50)
              assert.deepEqual(body.data.map((j: any) => j.job_id), ids, query)
              // Each job as it is now (a retitled one with its new title).
              const views = new Map((await findJobViews(t.database.db, tenant.companyId, ids)).map((row) => [row.job_id, presentJobListItem(row)]))
              assert.deepEqual(body.data, ids.map((id) => views.get(id)), `${query}: the items`)
            }
            return rows
          }
          let rows = await askAll()
          for (const round of rounds) {
            // The lists are asked for while the writes land too (whatever those answers remember must not outlive them).
            const during = lists.map((l) => call(t.app, 'GET', `/api/v1/jobs?${queryOf(l, 1 + Math.floor(l.where * 60))}`, { key: tenant.apiKey }))
            const answers = await Promise.all([...round.map((w) => send(w, rows)), ...during])
            for (const r of answers) assert.ok(r.status < 500, JSON.stringify(r.body))
            rows = await askAll()
          }
        }),
        { numRuns: 20 },
      )
    })
  })
}
