/**
 * Single-job reads on a thread of their own (jobs.reader.ts), as `fsm serve`
 * runs them on SQLite: the same answers as the event loop's, byte for byte;
 * tenancy; every write answered before a read seen by it; reads that arrive
 * together; and reads queued when the thread stops answered all the same.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startTestApp, type TestApp } from './helpers/app.ts'
import { call, createAssetVia, createBasics, createJobVia, createTenant, type Tenant } from './helpers/factories.ts'
import { ApiError } from '../src/http/errors.ts'
import type { Actor } from '../src/modules/actor.ts'
import { jobReads } from '../src/modules/jobs/jobs.reader.ts'
import { getJob } from '../src/modules/jobs/jobs.service.ts'

const silent = { warn() {}, info() {}, error() {}, debug() {}, fatal() {}, trace() {}, child: () => silent, level: 'silent', silent() {} } as never

describe('single-job reads on their own thread (sqlite)', () => {
  let t: TestApp
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
    const assets = [await createAssetVia(t.app, tenant.apiKey, 'AC-1'), await createAssetVia(t.app, tenant.apiKey, 'AC-2')]
    jobWithAssets = await createJobVia(t.app, tenant.apiKey, basics.locationId, {
      assigned_technician_id: basics.technicianId,
      job_description: 'Unicode: Ünïcødé ✓ "quoted" \\ back',
      asset_ids: assets,
    })
    plainJob = await createJobVia(t.app, tenant.apiKey, basics.locationId)
    const bareBasics = await createBasics(t.app, bare.apiKey, ' (bare)')
    bareJob = await createJobVia(t.app, bare.apiKey, bareBasics.locationId)
  })
  after(async () => {
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

  it('answers reads that arrive together, each with its own job', async () => {
    const ids = [jobWithAssets, plainJob, 999_998, jobWithAssets, plainJob, bareJob]
    const rounds = await Promise.all(Array.from({ length: 8 }, () => ids).flat().map((id) => call(t.app, 'GET', `/api/v1/jobs?id=${id}`, { key: tenant.apiKey })))
    rounds.forEach((r, i) => {
      const id = ids[i % ids.length]!
      if (id === 999_998 || id === bareJob) assert.equal(r.status, 404)
      else assert.equal(r.body.data.job_id, id)
    })
  })

  describe('the reader itself', () => {
    it('answers on the thread once it is ready, with the same answer and error as the event loop', async () => {
      const reads = jobReads(t.database, { thread: true, log: silent })
      try {
        await reads.ready
        const actor = actorOf(tenant, ['assets'])
        const answer = await reads.getJob(actor, jobWithAssets)
        const expected = await getJob(t.database.db, actor, jobWithAssets)
        assert.deepEqual(answer, { json: expected.json, etag: expected.etag })
        await assert.rejects(reads.getJob(actor, bareJob), (error) => error instanceof ApiError && error.code === 'not_found')
        assert.equal(reads.answeredOnThread, 2)
      } finally {
        await reads.close()
      }
    })

    it('answers reads sent and not yet answered when it stops, those not yet sent, and every read after, on the event loop', async () => {
      const reads = jobReads(t.database, { thread: true, log: silent })
      await reads.ready
      const actor = actorOf(tenant, ['assets'])
      const sent = [reads.getJob(actor, jobWithAssets), reads.getJob(actor, plainJob)]
      // The batch goes at the end of this turn; its answer comes in a later one.
      await new Promise(setImmediate)
      const unsent = reads.getJob(actor, plainJob)
      const unsentMissing = assert.rejects(reads.getJob(actor, bareJob), (error) => error instanceof ApiError && error.code === 'not_found')
      await reads.close()
      const answers = await Promise.all([...sent, unsent])
      assert.deepEqual(answers.map((a) => JSON.parse(a.json).job_id), [jobWithAssets, plainJob, plainJob])
      await unsentMissing
      const later = await reads.getJob(actor, plainJob)
      assert.equal(JSON.parse(later.json).job_id, plainJob)
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
