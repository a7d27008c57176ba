/**
 * Job reads on a thread of their own (jobs.reader.ts), single jobs and pages
 * of the list, as `fsm serve` runs them on SQLite: the same answers as the
 * event loop's, byte for byte; tenancy; every write answered before a read
 * seen by it, totals included; reads that arrive together; each batch in
 * a snapshot of its own, though read in one turn of the thread; single jobs
 * read on the event loop while the thread is behind; and reads queued when
 * the thread stops answered all the same. And the thread's page envelopes,
 * built from each item's bytes, against the list schema's serialiser.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.ts'
import { startTestApp, type TestApp } from './helpers/app.ts'
import { call, createAssetVia, createBasics, createJobVia, createTenant, type Tenant } from './helpers/factories.ts'
import { ApiError } from '../src/http/errors.ts'
import type { Actor } from '../src/modules/actor.ts'
import { jobReads, type JobReads } from '../src/modules/jobs/jobs.reader.ts'
import { JobListCaches } from '../src/modules/jobs/jobs.pages.ts'
import { getJob, listJobs } from '../src/modules/jobs/jobs.service.ts'
import fastJsonStringify from 'fast-json-stringify'
import fc from 'fast-check'
import { JOB_PRIORITIES, JOB_STATUSES } from '../src/modules/jobs/status.ts'
import { pageJsonWithoutId, type PageResult } from '../src/http/replies.ts'
import { pageEnvelope, READ_THREAD_PRIORITY_DROP } from '../src/modules/jobs/jobs.read-thread.ts'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { JobListResponse, type JobListItemView, type JobListQueryInput } from '../src/modules/jobs/jobs.schemas.ts'

const silent = { warn() {}, info() {}, error() {}, debug() {}, fatal() {}, trace() {}, child: () => silent, level: 'silent', silent() {} } as never

describe('job reads on their own thread (sqlite)', () => {
  let t: TestApp
  /** The same database, read on the event loop: what the thread's answers must equal. */
  let onLoop: FastifyInstance
  let locationId: number
  let tenant: Tenant
  let bare: Tenant
  let jobWithAssets: number
  let plainJob: number
  let bareJob: number
  const actorOf = (who: Tenant, modules: string[]): Actor => ({ companyId: who.companyId, keyId: null, modules: new Set(modules) })
  // The app's warnings: a thread that failed would say so (and its reads would go to the event loop).
  const warnings: string[] = []

  before(async () => {
    t = await startTestApp('sqlite', { readThread: true, logger: { level: 'warn', stream: { write: (line: string) => warnings.push(line) } } })
    tenant = await createTenant(t.database, { name: 'Thread Co' })
    bare = await createTenant(t.database, { name: 'No Assets Co', modules: [] })
    const basics = await createBasics(t.app, tenant.apiKey)
    locationId = basics.locationId
    const assets = [await createAssetVia(t.app, tenant.apiKey, 'AC-1'), await createAssetVia(t.app, tenant.apiKey, 'AC-2')]
    jobWithAssets = await createJobVia(t.app, tenant.apiKey, basics.locationId, {
      assigned_technician_id: basics.technicianId,
      job_description: 'Unicode: Ünïcødé ✓ "quoted" \\ back',
      asset_ids: assets,
    })
    plainJob = await createJobVia(t.app, tenant.apiKey, basics.locationId)
    const bareBasics = await createBasics(t.app, bare.apiKey, ' (bare)')
    bareJob = await createJobVia(t.app, bare.apiKey, bareBasics.locationId)
    onLoop = await buildApp({ config: t.config, database: t.database, logger: false, readThread: false })
    await onLoop.ready()
  })
  after(async () => {
    await onLoop.close()
    await t.close()
    assert.deepEqual(warnings, [])
  })

  it('answers each job exactly as the event loop would: the same bytes and ETag', async () => {
    for (const [who, modules, jobId] of [[tenant, ['assets'], jobWithAssets], [tenant, ['assets'], plainJob], [bare, [], bareJob]] as const) {
      const expected = await getJob(t.database.db, actorOf(who, [...modules]), jobId)
      const response = await t.app.inject({ method: 'GET', url: `/api/v1/jobs?id=${jobId}`, headers: { 'x-api-key': who.apiKey } })
      assert.equal(response.statusCode, 200)
      assert.equal(response.headers.etag, expected.etag)
      assert.equal(response.body, `{"data":${expected.json},"request_id":${JSON.stringify(response.headers['x-request-id'])}}`)
    }
    const withAssets = JSON.parse((await t.app.inject({ method: 'GET', url: `/api/v1/jobs?id=${jobWithAssets}`, headers: { 'x-api-key': tenant.apiKey } })).body)
    assert.equal(withAssets.data.assets.length, 2)
    assert.equal(withAssets.data.job_description, 'Unicode: Ünïcødé ✓ "quoted" \\ back')
  })

  it("answers 404 for a job that does not exist and for another company's job", async () => {
    const missing = await call(t.app, 'GET', '/api/v1/jobs?id=999999', { key: tenant.apiKey })
    assert.equal(missing.status, 404)
    assert.equal(missing.body.error.code, 'not_found')
    const foreign = await call(t.app, 'GET', `/api/v1/jobs?id=${bareJob}`, { key: tenant.apiKey })
    assert.equal(foreign.status, 404)
    assert.equal(foreign.body.error.code, 'not_found')
    assert.equal(foreign.body.error.message, missing.body.error.message.replace('999999', String(bareJob)))
  })

  it('runs at a lower priority than the event loop, on Linux', { skip: !existsSync('/proc/thread-self') && 'no /proc/thread-self: not Linux' }, () => {
    // A thread's nice value is the 19th field of its stat line, counted from the pid (the name before it is in parentheses and may hold spaces).
    const niceOf = (stat: string) => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])
    const processNice = niceOf(readFileSync('/proc/self/stat', 'utf8'))
    const threadNices = readdirSync('/proc/self/task').map((id) => niceOf(readFileSync(`/proc/self/task/${id}/stat`, 'utf8')))
    assert.ok(
      threadNices.includes(Math.min(19, processNice + READ_THREAD_PRIORITY_DROP)),
      `a thread at nice ${processNice} + ${READ_THREAD_PRIORITY_DROP}, among ${threadNices.join(', ')}`,
    )
  })

  it('sees every write answered before the read, and its ETag', async () => {
    const steps = ['Assigned', 'In Progress', 'On Hold', 'In Progress', 'Completed']
    let etag = (await call(t.app, 'GET', `/api/v1/jobs?id=${plainJob}`, { key: tenant.apiKey })).headers.etag as string
    for (const [i, status] of steps.entries()) {
      const patched = await call(t.app, 'PATCH', `/api/v1/jobs?id=${plainJob}`, { key: tenant.apiKey, body: { job_status: status } })
      assert.equal(patched.status, 200)
      const read = await call(t.app, 'GET', `/api/v1/jobs?id=${plainJob}`, { key: tenant.apiKey })
      assert.equal(read.body.data.job_status, status)
      assert.equal(read.headers.etag, patched.headers.etag)
      assert.notEqual(read.headers.etag, etag)
      const stale = await call(t.app, 'GET', `/api/v1/jobs?id=${plainJob}`, { key: tenant.apiKey, headers: { 'if-none-match': etag } })
      assert.equal(stale.status, 200)
      const current = await call(t.app, 'GET', `/api/v1/jobs?id=${plainJob}`, { key: tenant.apiKey, headers: { 'if-none-match': read.headers.etag as string } })
      assert.equal(current.status, 304)
      etag = read.headers.etag as string
      const put = await call(t.app, 'PUT', `/api/v1/jobs?id=${plainJob}`, { key: tenant.apiKey, body: { job_title: `Renamed ${i}` } })
      assert.equal(put.status, 200)
      const renamed = await call(t.app, 'GET', `/api/v1/jobs?id=${plainJob}`, { key: tenant.apiKey })
      assert.equal(renamed.body.data.job_title, `Renamed ${i}`)
      etag = renamed.headers.etag as string
    }
  })

  /** A GET's status, headers that matter and body, with its request id taken out: the same request on both apps must match. */
  async function listed(app: FastifyInstance, who: Tenant, url: string) {
    const r = await app.inject({ method: 'GET', url, headers: { 'x-api-key': who.apiKey } })
    const id = JSON.stringify(r.headers['x-request-id'])
    return { status: r.statusCode, type: r.headers['content-type'], link: r.headers.link, length: Number(r.headers['content-length']) - Buffer.byteLength(id) + 2, body: r.body.replace(id, '""') }
  }

  it('answers pages of the list exactly as the event loop would: the same bytes, length and Link header', async () => {
    for (let i = 0; i < 5; i++) await createJobVia(t.app, tenant.apiKey, locationId, { job_priority: i % 2 ? 'High' : 'Low', job_title: `List job ${i} "ü"` })
    const urls = [
      '/api/v1/jobs',
      '/api/v1/jobs?per_page=2',
      '/api/v1/jobs?per_page=2&page=3',
      '/api/v1/jobs?per_page=2&page=99',
      '/api/v1/jobs?status=Pending&priority=High',
      '/api/v1/jobs?status=Pending,Completed&sort=updated_at',
      `/api/v1/jobs?customer_location_id=${locationId}&sort=-scheduled_start`,
      '/api/v1/jobs?created_after=2020-01-01T00:00:00Z&per_page=3&page=2',
    ]
    for (const who of [tenant, bare]) {
      for (const url of urls) {
        const [thread, loop] = [await listed(t.app, who, url), await listed(onLoop, who, url)]
        assert.equal(thread.status, 200, url)
        assert.deepEqual(thread, loop, url)
        assert.equal(thread.length, Buffer.byteLength(thread.body), url)
      }
    }
    // Tenancy: the other company's list holds only its own job.
    assert.deepEqual(JSON.parse((await listed(t.app, bare, '/api/v1/jobs')).body).data.map((j: { job_id: number }) => j.job_id), [bareJob])
  })

  it('shows every write answered before the list was asked for, in its items and its exact total', async () => {
    const total = async (query = '') => JSON.parse((await listed(t.app, tenant, `/api/v1/jobs?per_page=5${query}`)).body)
    for (let i = 0; i < 4; i++) {
      const before = await total()
      const urgentBefore = (await total('&status=Assigned&priority=Urgent')).pagination.total
      const created = await createJobVia(t.app, tenant.apiKey, locationId, { job_priority: 'Urgent', job_title: `Fresh ${i}` })
      const after = await total()
      assert.equal(after.pagination.total, before.pagination.total + 1)
      assert.equal(after.data[0].job_id, created)
      assert.equal((await call(t.app, 'PATCH', `/api/v1/jobs?id=${created}`, { key: tenant.apiKey, body: { job_status: 'Assigned' } })).status, 200)
      const urgent = await total('&status=Assigned&priority=Urgent')
      assert.equal(urgent.pagination.total, urgentBefore + 1)
      assert.equal(urgent.data[0].job_id, created)
      assert.equal((await call(t.app, 'PUT', `/api/v1/jobs?id=${created}`, { key: tenant.apiKey, body: { job_title: `Renamed fresh ${i}` } })).status, 200)
      assert.equal((await total()).data[0].job_title, `Renamed fresh ${i}`)
    }
  })

  it('answers reads that arrive together, each with its own job', async () => {
    const ids = [jobWithAssets, plainJob, 999_998, jobWithAssets, plainJob, bareJob]
    const rounds = await Promise.all(Array.from({ length: 8 }, () => ids).flat().map((id) => call(t.app, 'GET', `/api/v1/jobs?id=${id}`, { key: tenant.apiKey })))
    rounds.forEach((r, i) => {
      const id = ids[i % ids.length]!
      if (id === 999_998 || id === bareJob) assert.equal(r.status, 404)
      else assert.equal(r.body.data.job_id, id)
    })
  })

  it('answers lists and single jobs that arrive together, each with its own answer', async () => {
    const urls = ['/api/v1/jobs?per_page=1', `/api/v1/jobs?id=${plainJob}`, '/api/v1/jobs?per_page=3&page=2', `/api/v1/jobs?id=${jobWithAssets}`, '/api/v1/jobs?status=Closed']
    const expected = await Promise.all(urls.map((url) => listed(onLoop, tenant, url)))
    const together = await Promise.all(Array.from({ length: 6 }, () => urls).flat().map((url) => listed(t.app, tenant, url)))
    together.forEach((answer, i) => assert.deepEqual(answer, expected[i % urls.length], urls[i % urls.length]))
  })

  // The event loop serves its copy of a list filtered by status and
  // priority after writes by checking it itself (jobs.reader.ts), the thread
  // checks or rebuilds the rest: whatever the writes, every answer is the
  // page as read from scratch.
  it('answers every list, asked for after any writes and while they land, as a read from scratch would', async () => {
    const write = fc.oneof(
      fc.record({ kind: fc.constant('create' as const), priority: fc.constantFrom(...JOB_PRIORITIES) }),
      fc.record({ kind: fc.constant('priority' as const), job: fc.nat(), priority: fc.constantFrom(...JOB_PRIORITIES) }),
      fc.record({ kind: fc.constant('retitle' as const), job: fc.nat() }),
      fc.record({ kind: fc.constant('status' as const), job: fc.nat(), status: fc.constantFrom(...JOB_STATUSES) }),
    )
    const list = fc.record({
      status: fc.option(fc.constantFrom('Pending', 'Assigned', 'In Progress', 'Pending,Assigned'), { nil: undefined }),
      priority: fc.option(fc.constantFrom(...JOB_PRIORITIES), { nil: undefined }),
      sort: fc.constantFrom('-created_at', 'created_at', '-updated_at'),
      page: fc.integer({ min: 1, max: 3 }),
    })
    let titles = 0
    // A company of its own: the other tests' jobs keep their statuses, and their lists their pages.
    const drawn = await createTenant(t.database, { name: 'Drawn Co' })
    const at = (await createBasics(t.app, drawn.apiKey, ' (drawn)')).locationId
    const own = await Promise.all(JOB_PRIORITIES.map((job_priority) => createJobVia(t.app, drawn.apiKey, at, { job_title: 'Drawn', job_priority })))
    type Drawn = typeof write extends fc.Arbitrary<infer W> ? W : never
    const send = async (w: Drawn, ids: number[]) => {
      if (w.kind === 'create') {
        const created = await call(t.app, 'POST', '/api/v1/jobs', { key: drawn.apiKey, body: { job_title: 'Drawn', customer_location_id: at, job_priority: w.priority } })
        if (created.status === 201) own.push(created.body.data.job_id)
        return created
      }
      const path = `/api/v1/jobs?id=${ids[w.job % ids.length]}`
      if (w.kind === 'priority') return call(t.app, 'PUT', path, { key: drawn.apiKey, body: { job_priority: w.priority } })
      if (w.kind === 'retitle') return call(t.app, 'PUT', path, { key: drawn.apiKey, body: { job_title: `Drawn title ${++titles}` } })
      return call(t.app, 'PATCH', path, { key: drawn.apiKey, body: { job_status: w.status } })
    }
    const urlOf = (l: { status?: string; priority?: string; sort: string; page: number }) =>
      `/api/v1/jobs?${new URLSearchParams({ sort: l.sort, page: String(l.page), per_page: '3', ...(l.status && { status: l.status }), ...(l.priority && { priority: l.priority }) })}`
    await fc.assert(
      fc.asyncProperty(fc.array(list, { minLength: 1, maxLength: 4 }), fc.array(fc.array(write, { maxLength: 5 }), { minLength: 1, maxLength: 3 }), async (lists, rounds) => {
        const askAll = async () => {
          for (const l of lists) {
            const answer = JSON.parse((await listed(t.app, drawn, urlOf(l))).body)
            const query = { ...l, per_page: 3 } as JobListQueryInput
            const here = await listJobs(t.database.db, actorOf(drawn, ['assets']), query, new JobListCaches())
            assert.deepEqual(answer.data, JSON.parse(JSON.stringify(here.data)), urlOf(l))
            assert.deepEqual(answer.pagination, here.pagination, urlOf(l))
          }
        }
        await askAll()
        for (const round of rounds) {
          const ids = [...own]
          const during = lists.map((l) => listed(t.app, drawn, urlOf(l)))
          const answers = await Promise.all([...round.map((w) => send(w, ids)), ...during])
          for (const r of answers) assert.ok(r.status < 500, JSON.stringify(r))
          await askAll()
        }
      }),
      { numRuns: 25 },
    )
  })

  describe('the reader itself', () => {
    /** A reader of its own, its thread started, closed after `use` whatever happens (`busyBatches`: see jobReads). */
    async function withReader(use: (reads: JobReads) => Promise<void>, busyBatches?: number) {
      const reads = jobReads(t.database, { thread: true, log: silent, busyBatches })
      try {
        await reads.ready
        await use(reads)
      } finally {
        await reads.close()
      }
    }

    it('answers on the thread once it is ready, with the same answer and error as the event loop', () =>
      withReader(async (reads) => {
        const actor = actorOf(tenant, ['assets'])
        const answer = await reads.getJob(actor, jobWithAssets)
        const expected = await getJob(t.database.db, actor, jobWithAssets)
        assert.deepEqual(answer, { json: expected.json, etag: expected.etag })
        await assert.rejects(reads.getJob(actor, bareJob), (error) => error instanceof ApiError && error.code === 'not_found')
        const query = { per_page: 2, status: 'Pending' }
        const page = await reads.listJobs(actor, query)
        const here = await listJobs(t.database.db, actor, query, new JobListCaches())
        assert.deepEqual(page.page, here.page)
        assert.equal(page.pagination.total_pages, here.pagination.total_pages)
        assert.equal(reads.answeredOnThread, 3)
      }))

    it('serves a page the thread answered from the event loop until a job write moves the sequence, then asks the thread again', () =>
      withReader(async (reads) => {
        const actor = actorOf(tenant, ['assets'])
        const query = { per_page: 3 }
        const first = await reads.listJobs(actor, query)
        assert.equal(reads.answeredOnThread, 1)
        assert.equal(await reads.listJobs(actor, query), first)
        assert.equal(reads.answeredOnThread, 1)
        // Another page is another key.
        await reads.listJobs(actor, { per_page: 3, page: 2 })
        assert.equal(reads.answeredOnThread, 2)
        const before = await listJobs(t.database.db, actor, query, new JobListCaches())
        const created = await createJobVia(t.app, tenant.apiKey, locationId, { job_title: 'Moves the sequence' })
        const after = await reads.listJobs(actor, query)
        assert.equal(reads.answeredOnThread, 3)
        assert.notEqual(after, first)
        const here = await listJobs(t.database.db, actor, query, new JobListCaches())
        assert.equal(here.data.length, 3)
        assert.equal((here.data[0] as { job_id: number }).job_id, created)
        assert.equal(after.pagination.total_pages, here.pagination.total_pages)
        // One job more: its total, which the page result types only by total_pages.
        assert.equal((here.pagination as { total?: number }).total, (before.pagination as { total?: number }).total! + 1)
        // The same page for another company is not the first company's.
        await reads.listJobs(actorOf(bare, []), query)
        assert.equal(reads.answeredOnThread, 4)
      }))

    it('keeps serving its copy of a page that a write left unchanged, as the thread says, and takes a new one when a write changed it', () =>
      withReader(async (reads) => {
        const actor = actorOf(tenant, ['assets'])
        // The two newest jobs; the test's first job is older than both.
        const query = { per_page: 2 }
        const first = await reads.listJobs(actor, query)
        const onPage = (await listJobs(t.database.db, actor, query, new JobListCaches())).data.map((item) => (item as { job_id: number }).job_id)
        assert.ok(!onPage.includes(jobWithAssets))
        // A write that moves the sequence and leaves the page as it was: the thread checks it and confirms the copy held here.
        assert.equal((await call(t.app, 'PUT', `/api/v1/jobs?id=${jobWithAssets}`, { key: tenant.apiKey, body: { job_title: 'Off the page' } })).status, 200)
        assert.equal(await reads.listJobs(actor, query), first)
        assert.equal(reads.answeredOnThread, 2)
        // Confirmed at the new sequence: served here again, without the thread.
        assert.equal(await reads.listJobs(actor, query), first)
        assert.equal(reads.answeredOnThread, 2)
        // A write to a job on the page: a new copy, with its total and Link.
        assert.equal((await call(t.app, 'PUT', `/api/v1/jobs?id=${onPage[0]}`, { key: tenant.apiKey, body: { job_title: 'On the page' } })).status, 200)
        // Asked twice in one batch: sent once, the second answer says the copy just taken holds.
        const [changed, again] = await Promise.all([reads.listJobs(actor, query), reads.listJobs(actor, query)])
        assert.notEqual(changed, first)
        assert.equal(again, changed)
        assert.equal(reads.answeredOnThread, 4)
        assert.equal(changed.pagination.total_pages, first.pagination.total_pages)
      }))

    it('serves its copy of a list filtered by status and priority, without the thread, while no job of its cells is written and no name changes', () =>
      withReader(async (reads) => {
        const actor = actorOf(tenant, ['assets'])
        const urgent = await createJobVia(t.app, tenant.apiKey, locationId, { job_title: 'Urgent and pending', job_priority: 'Urgent' })
        const query = { status: 'Pending', priority: 'Urgent' as const, per_page: 5 }
        // A page from the thread holds only its bytes (serialisedPage): the envelope without its request id.
        const itemsOf = (page: PageResult) => {
          const wire = (page as unknown as Record<symbol, Buffer>)[Object.getOwnPropertySymbols(page)[0]!]!
          return JSON.parse(`${wire.toString()}"request_id":""}`).data as Array<Record<string, unknown>>
        }
        const titleOf = (page: PageResult) => itemsOf(page).find((j) => j.job_id === urgent)?.job_title
        const first = await reads.listJobs(actor, query)
        assert.equal(titleOf(first), 'Urgent and pending')
        assert.equal(reads.answeredOnThread, 1)
        // A write to a job of another cell (Pending, Medium) moves the company's sequence, not the list's cells'.
        assert.equal((await call(t.app, 'PUT', `/api/v1/jobs?id=${plainJob}`, { key: tenant.apiKey, body: { job_description: 'Another cell' } })).status, 200)
        assert.equal(await reads.listJobs(actor, query), first)
        assert.equal(reads.answeredOnThread, 1, 'served here: no job of its cells was written')
        assert.equal(await reads.listJobs(actor, query), first)
        assert.equal(reads.answeredOnThread, 1, 'and confirmed at the new sequence')
        // A write to a job of its cells that leaves the job there: the thread checks the page, which changed.
        assert.equal((await call(t.app, 'PUT', `/api/v1/jobs?id=${urgent}`, { key: tenant.apiKey, body: { job_title: 'Retitled in its cell' } })).status, 200)
        const retitled = await reads.listJobs(actor, query)
        assert.equal(reads.answeredOnThread, 2)
        assert.equal(titleOf(retitled), 'Retitled in its cell')
        // A write elsewhere again: the new copy is served here.
        assert.equal((await call(t.app, 'PUT', `/api/v1/jobs?id=${plainJob}`, { key: tenant.apiKey, body: { job_description: 'Another cell again' } })).status, 200)
        assert.equal(await reads.listJobs(actor, query), retitled)
        assert.equal(reads.answeredOnThread, 2)
        // A name the page shows changes (no job of its cells is written): the thread reads it again.
        const renamed = await call(t.app, 'PUT', `/api/v1/locations?id=${locationId}`, { key: tenant.apiKey, body: { customer_location_name: 'Renamed for the copy' } })
        assert.equal(renamed.status, 200, JSON.stringify(renamed.body))
        const afterRename = await reads.listJobs(actor, query)
        assert.equal(reads.answeredOnThread, 3)
        assert.equal(itemsOf(afterRename).find((j) => j.job_id === urgent)?.customer_location_name, 'Renamed for the copy')
        // What the event loop reads itself, from scratch.
        const here = await listJobs(t.database.db, actor, query, new JobListCaches())
        assert.deepEqual(itemsOf(afterRename), here.data)
      }))

    it('reads single jobs on the event loop while the thread is reading a batch, with the same answers, and lists on the thread', () =>
      withReader(async (reads) => {
        const actor = actorOf(tenant, ['assets'])
        // A batch long enough that the thread is still reading it below (thousands of reads of one job).
        const long = 2_000
        const queued = Promise.all(Array.from({ length: long }, () => reads.getJob(actor, jobWithAssets)))
        // The batch goes at the end of this turn.
        await new Promise(setImmediate)
        // The thread has not answered it: these are read here, at once.
        const here = reads.getJob(actor, plainJob)
        const missingHere = assert.rejects(reads.getJob(actor, bareJob), (error) => error instanceof ApiError && error.code === 'not_found')
        const page = reads.listJobs(actor, { per_page: 2 })
        const expected = await Promise.all([jobWithAssets, plainJob].map((id) => getJob(t.database.db, actor, id)))
        const hereAnswer = await here
        await missingHere
        // Answered before any answer of the thread was taken: read here, not sent.
        assert.equal(reads.answeredOnThread, 0, 'read on the event loop')
        // The same JSON and ETag either way (read here, the answer carries the job's object as well).
        const onThread = await queued
        assert.deepEqual([onThread[0]!, hereAnswer].map(({ json, etag }) => ({ json, etag })), expected.map(({ json, etag }) => ({ json, etag })))
        // (A page from the thread carries its bytes, and of its pagination what the Link header needs.)
        const onLoopPage = await listJobs(t.database.db, actor, { per_page: 2 }, new JobListCaches())
        assert.deepEqual([(await page).page, (await page).pagination.total_pages], [onLoopPage.page, onLoopPage.pagination.total_pages])
        // The long batch and the page went to the thread; the rest were read here.
        assert.equal(reads.answeredOnThread, long + 1)
        // With nothing left to answer, the thread reads single jobs again.
        assert.deepEqual(await reads.getJob(actor, plainJob), { json: expected[1]!.json, etag: expected[1]!.etag })
        assert.equal(reads.answeredOnThread, long + 2)
      }))

    it('sends single jobs to the thread once it has answered every batch, though its answers wait for the event loop to take them', () =>
      withReader(async (reads) => {
        const actor = actorOf(tenant, ['assets'])
        // A batch of one read; then the event loop stays busy (a synchronous
        // wait) while the thread answers it, and asks for a job before taking
        // the answer: the thread is idle, so the job goes to it, not read
        // here. An attempt whose wait was too short for the thread (a busy
        // machine) is made again, longer.
        const waits: number[] = []
        for (let waitMs = 50; waitMs <= 3_200; waitMs *= 4) {
          const before = reads.answeredOnThread
          const first = reads.getJob(actor, jobWithAssets)
          await new Promise(setImmediate)
          const until = performance.now() + waitMs
          while (performance.now() < until);
          const second = reads.getJob(actor, plainJob)
          await Promise.all([first, second])
          if (reads.answeredOnThread === before + 2) return
          assert.equal(reads.answeredOnThread, before + 1)
          waits.push(waitMs)
        }
        assert.fail(`the second job was read on the event loop after waits of ${waits.join(', ')} ms`)
      }))

    it('reads each batch in a snapshot of its own, though a batch sent while another is read is read in the same turn of the thread', () =>
      withReader(async (reads) => {
        const actor = actorOf(tenant, ['assets'])
        const jobId = await createJobVia(t.app, tenant.apiKey, locationId, { job_title: 'Snapshot 0' })
        const titleOf = async (answer: Promise<{ json: string }>) => JSON.parse((await answer).json).job_title as string
        // The thread reads a batch in one read transaction, and handles the
        // batches that arrived meanwhile in the same turn: one snapshot for
        // the turn would answer the second batch from before a write its
        // read was sent after. For the second batch to arrive while the
        // first is read, the first is long (thousands of reads of one job);
        // an attempt whose timing did not come out so (a busy machine) is
        // made again, longer, with longer for the thread to begin it.
        const attempts: string[] = []
        for (let attempt = 1, reads1 = 4_000, beginMs = 5; attempt <= 6; attempt++, reads1 *= 2, beginMs *= 3) {
          const title = `Snapshot ${attempt}`
          const onThread = reads.answeredOnThread
          const first = Promise.all(Array.from({ length: reads1 }, () => titleOf(reads.getJob(actor, jobId))))
          let firstAnsweredAt = Infinity
          void first.then(() => (firstAnsweredAt = performance.now()))
          // The first batch goes at the end of this turn; let the thread begin it.
          await new Promise((resolve) => setTimeout(resolve, beginMs))
          const put = await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: tenant.apiKey, body: { job_title: title } })
          assert.equal(put.status, 200)
          const secondSentAt = performance.now()
          const second = titleOf(reads.getJob(actor, jobId))
          const firstTitles = new Set(await first)
          assert.equal(await second, title, 'the batch sent after the write was answered sees it')
          assert.equal(reads.answeredOnThread, onThread + reads1 + 1, 'both batches read on the thread')
          // Valid only if the first batch was read before the write (its snapshot came first) and
          // was still being read when the second was sent (so both were read in one turn).
          const beganBeforeWrite = firstTitles.size === 1 && firstTitles.has(`Snapshot ${attempt - 1}`)
          if (beganBeforeWrite && firstAnsweredAt - secondSentAt > 20) return
          attempts.push(`${reads1} reads: ${beganBeforeWrite ? `answered ${Math.round(firstAnsweredAt - secondSentAt)} ms after the second was sent` : 'began after the write'}`)
          // Otherwise the job's title is the one just written whatever came of the timing.
          assert.equal(await titleOf(reads.getJob(actor, jobId)), title)
        }
        assert.fail(`the thread never read a batch long enough for another to arrive during it (${attempts.join('; ')})`)
      }, 1_000))

    it('answers batches that queued behind a long one, each seeing every write answered before it was sent', () =>
      withReader(async (reads) => {
        const actor = actorOf(tenant, ['assets'])
        const anchorJob = await createJobVia(t.app, tenant.apiKey, locationId, { job_title: 'Queue anchor' })
        const pagesNow = async () => JSON.parse((await listed(onLoop, tenant, '/api/v1/jobs?per_page=1')).body).pagination.total_pages as number
        // As in the test above: a first batch long enough that the next ones
        // queue behind it (reading them together, in one snapshot, would have
        // to take that snapshot after the last of them arrived); an attempt
        // whose timing did not come out so is made again, longer.
        const attempts: string[] = []
        for (let attempt = 1, reads1 = 4_000, beginMs = 5; attempt <= 6; attempt++, reads1 *= 2, beginMs *= 3) {
          const first = Promise.all(Array.from({ length: reads1 }, () => reads.getJob(actor, anchorJob)))
          let firstAnsweredAt = Infinity
          void first.then(() => (firstAnsweredAt = performance.now()))
          await new Promise((resolve) => setTimeout(resolve, beginMs))
          const created = await createJobVia(t.app, tenant.apiKey, locationId, { job_title: `Queued ${attempt}` })
          const total = await pagesNow()
          // Three batches, one a turn, each with the job just created and a page whose total it moved.
          const queuedAt = performance.now()
          const queued: Array<Promise<[string, number]>> = []
          for (let b = 0; b < 3; b++) {
            queued.push(Promise.all([reads.getJob(actor, created).then((a) => JSON.parse(a.json).job_title as string), reads.listJobs(actor, { per_page: 1 }).then((page) => page.pagination.total_pages)]))
            await new Promise(setImmediate)
          }
          assert.deepEqual(await Promise.all(queued), Array.from({ length: 3 }, () => [`Queued ${attempt}`, total]))
          await first
          // Valid only if the first batch was still being read when the last of the three was sent.
          if (firstAnsweredAt - queuedAt > 20) return
          attempts.push(`${reads1} reads: answered ${Math.round(firstAnsweredAt - queuedAt)} ms after the others were sent`)
        }
        assert.fail(`the thread never read a batch long enough for others to queue behind it (${attempts.join('; ')})`)
      }, 1_000))

    it('answers reads sent and not yet answered when it stops, those not yet sent, and every read after, on the event loop', async () => {
      const reads = jobReads(t.database, { thread: true, log: silent })
      await reads.ready
      const actor = actorOf(tenant, ['assets'])
      const sent = [reads.getJob(actor, jobWithAssets), reads.getJob(actor, plainJob)]
      const sentPage = reads.listJobs(actor, { per_page: 1 })
      // The batch goes at the end of this turn; its answer comes in a later one.
      await new Promise(setImmediate)
      const unsent = reads.getJob(actor, plainJob)
      const unsentMissing = assert.rejects(reads.getJob(actor, bareJob), (error) => error instanceof ApiError && error.code === 'not_found')
      const unsentPage = reads.listJobs(actor, { per_page: 2 })
      await reads.close()
      const answers = await Promise.all([...sent, unsent])
      assert.deepEqual(answers.map((a) => JSON.parse(a.json).job_id), [jobWithAssets, plainJob, plainJob])
      await unsentMissing
      assert.equal((await sentPage).data.length, 1)
      assert.equal((await unsentPage).data.length, 2)
      const later = await reads.getJob(actor, plainJob)
      assert.equal(JSON.parse(later.json).job_id, plainJob)
      assert.equal((await reads.listJobs(actor, { per_page: 3 })).data.length, 3)
      assert.equal(reads.answeredOnThread, 0)
    })

    it('stays on the event loop for in-memory databases and handles without a SQLite file (PostgreSQL)', async () => {
      const { sqliteFile: _, ...withoutFile } = t.database
      for (const handle of [{ ...t.database, sqliteFile: ':memory:' }, withoutFile]) {
        const reads = jobReads(handle, { thread: true, log: silent })
        await reads.ready
        assert.equal(JSON.parse((await reads.getJob(actorOf(tenant, ['assets']), plainJob)).json).job_id, plainJob)
        assert.equal(reads.answeredOnThread, 0)
        await reads.close()
      }
    })
  })
})

describe("the read thread's page envelopes", () => {
  // What the server thread sends for a page it serialised itself (replies.ts, sendList).
  const serializeList = fastJsonStringify(JobListResponse)
  const expected = (page: PageResult) => pageJsonWithoutId(page, serializeList)
  const decoded = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
  const item = (jobId: number, text: string): JobListItemView => ({
    job_id: jobId,
    job_title: `Title ${text}`,
    job_description: jobId % 2 ? null : `Description ${text}`,
    job_status: 'Pending',
    job_priority: 'High',
    assigned_technician_id: jobId % 3 ? null : 7,
    assigned_technician_name: jobId % 3 ? null : `Tech ${text}`,
    customer_location_id: 11,
    customer_location_name: `Site ${text}`,
    customer_id: 5,
    customer_name: `Customer ${text}`,
    scheduled_start: jobId % 2 ? '2026-12-03T09:00:00Z' : null,
    scheduled_end: jobId % 2 ? '2026-12-03T11:00:00Z' : null,
    actual_start: null,
    actual_end: null,
    created_at: '2026-11-25T14:03:11Z',
    updated_at: '2026-11-26T08:00:00Z',
  })
  const pageOf = (data: JobListItemView[], total: number, page = 1, perPage = 50): PageResult =>
    ({ data, pagination: { page, per_page: perPage, total, total_pages: Math.ceil(total / perPage) }, page: { page, perPage, offset: (page - 1) * perPage } }) as unknown as PageResult
  // Text a serialiser escapes: quotes, backslashes, control characters, the
  // JavaScript line separators, a lone surrogate, characters of 2, 3 and 4
  // bytes in UTF-8, and markup.
  const texts = ['plain', '"quoted" \\ back\\slash', 'tab\tnew\nline\r\u0000\u001f', 'sep \u2028 \u2029', 'lone \ud800 surrogate', 'Ünïcødé ✓ 配管 🔧', '</script><b>&amp;']

  it('are the bytes the list schema serialises, whatever the items hold, for empty and partial pages too', () => {
    const items = texts.map((text, i) => item(1000 + i, text))
    for (const page of [pageOf(items, 7), pageOf(items.slice(0, 1), 1), pageOf([], 0), pageOf([], 120, 9, 10), pageOf(items.slice(2, 5), 23, 3, 10)]) {
      const envelope = pageEnvelope(page)
      assert.equal(decoded(envelope), expected(page))
      assert.equal(envelope.byteLength, Buffer.byteLength(expected(page)))
    }
  })

  it('reuse the bytes of items a page still shows and serialise the new ones, as a page rebuilt after a create is', () => {
    const first = texts.map((text, i) => item(2000 + i, text))
    assert.equal(decoded(pageEnvelope(pageOf(first, 7))), expected(pageOf(first, 7)))
    // A job created: in front, the page shifted by one, the other items the same objects.
    const shifted = [item(3000, 'new "one" 🔧'), ...first.slice(0, -1)]
    assert.equal(decoded(pageEnvelope(pageOf(shifted, 8))), expected(pageOf(shifted, 8)))
    // A job written: a new item for it in its place.
    const edited = shifted.map((each, i) => (i === 3 ? { ...each, job_title: 'Edited \\ "title"', updated_at: '2026-11-27T10:00:00Z' } : each))
    assert.equal(decoded(pageEnvelope(pageOf(edited, 8))), expected(pageOf(edited, 8)))
  })
})
