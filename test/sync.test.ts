/**
 * Safe sync (API.md §8): history, transitions, ETags and conditional writes,
 * idempotency keys.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { DIALECTS, startTestApp, type TestApp } from './helpers/app.ts'
import { call, createAssetVia, createBasics, createExtraKey, createJobVia, createTenant, type Tenant } from './helpers/factories.ts'
import { TRANSITIONS, JOB_PRIORITIES, JOB_STATUSES, RELATIONSHIP_TYPES, type JobStatus } from '../src/modules/jobs/status.ts'
import { TABLE, WALK, type Status } from './helpers/seed-table.ts'
import { addTrigger, refuse } from './helpers/triggers.ts'
import { touchJobLists } from '../src/modules/jobs/jobs.write-record.ts'


for (const dialect of DIALECTS) {
  describe(`safe sync (${dialect})`, () => {
    let t: TestApp
    let tenant: Tenant
    let other: Tenant
    let basics: Awaited<ReturnType<typeof createBasics>>
    const key = () => tenant.apiKey

    before(async () => {
      t = await startTestApp(dialect)
      tenant = await createTenant(t.database, { name: 'Sync Co' })
      other = await createTenant(t.database, { name: 'Other Co' })
      basics = await createBasics(t.app, tenant.apiKey)
    })
    after(() => t.close())

    async function walk(jobId: number, statuses: JobStatus[]) {
      for (const status of statuses) {
        const r = await call(t.app, 'PATCH', `/api/v1/jobs?id=${jobId}`, { key: key(), body: { job_status: status } })
        assert.equal(r.status, 200, JSON.stringify(r.body))
      }
    }

    describe('history', () => {
      it('records creation and every change of a full lifecycle, oldest first, naming the key', async () => {
        const jobId = await createJobVia(t.app, key(), basics.locationId)
        await walk(jobId, WALK.Closed)
        const r = await call(t.app, 'GET', `/api/v1/jobs/history?id=${jobId}`, { key: key() })
        assert.equal(r.status, 200)
        assert.equal(typeof r.body.request_id, 'string')
        const entries = r.body.data as any[]
        assert.deepEqual(
          entries.map((e) => [e.from_status, e.to_status]),
          [[null, 'Pending'], ['Pending', 'Assigned'], ['Assigned', 'In Progress'], ['In Progress', 'Completed'], ['Completed', 'Invoiced'], ['Invoiced', 'Paid'], ['Paid', 'Closed']],
        )
        for (const e of entries) {
          assert.match(e.changed_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/)
          assert.deepEqual(Object.keys(e.changed_by).sort(), ['key_id', 'key_name'])
          assert.equal(e.changed_by.key_id, tenant.keyId)
          assert.ok(!JSON.stringify(e).includes(tenant.apiKey), 'never the secret')
        }
      })

      it('names each key that made a change', async () => {
        const second = await createExtraKey(t.database, tenant.companyId, ['jobs:write', 'jobs:read'])
        const jobId = await createJobVia(t.app, key(), basics.locationId)
        await call(t.app, 'PATCH', `/api/v1/jobs?id=${jobId}`, { key: second.apiKey, body: { job_status: 'Assigned' } })
        const r = await call(t.app, 'GET', `/api/v1/jobs/history?id=${jobId}`, { key: key() })
        assert.deepEqual(r.body.data.map((e: any) => e.changed_by.key_id), [tenant.keyId, second.keyId])
      })

      it('is not_found for another company, needs jobs:read, and validates id', async () => {
        const jobId = await createJobVia(t.app, key(), basics.locationId)
        assert.equal((await call(t.app, 'GET', `/api/v1/jobs/history?id=${jobId}`, { key: other.apiKey })).body.error.code, 'not_found')
        const writer = await createExtraKey(t.database, tenant.companyId, ['jobs:write'])
        const scoped = await call(t.app, 'GET', `/api/v1/jobs/history?id=${jobId}`, { key: writer.apiKey })
        assert.equal(scoped.status, 403)
        assert.equal(scoped.body.error.code, 'insufficient_scope')
        for (const url of ['/api/v1/jobs/history', '/api/v1/jobs/history?id=abc', `/api/v1/jobs/history?id=${jobId}&page=2`]) {
          const r = await call(t.app, 'GET', url, { key: key() })
          assert.equal(r.status, 400, url)
          assert.equal(r.body.error.code, 'validation_failed')
        }
        assert.equal((await call(t.app, 'GET', '/api/v1/jobs/history?id=999999', { key: key() })).status, 404)
        const wrongMethod = await call(t.app, 'POST', '/api/v1/jobs/history?id=1', { key: key(), body: {} })
        assert.equal(wrongMethod.status, 405)
        assert.equal(wrongMethod.headers.allow, 'GET, HEAD')
      })
    })

    describe('transitions', () => {
      it('lists the allowed targets of every status, in the table order', async () => {
        for (const status of JOB_STATUSES) {
          const jobId = await createJobVia(t.app, key(), basics.locationId)
          await walk(jobId, WALK[status])
          const r = await call(t.app, 'GET', `/api/v1/jobs/transitions?id=${jobId}`, { key: key() })
          assert.equal(r.status, 200)
          assert.deepEqual(r.body.data, { job_id: jobId, job_status: status, allowed_transitions: [...TRANSITIONS[status]] })
        }
      })

      it('is not_found for another company', async () => {
        const jobId = await createJobVia(t.app, key(), basics.locationId)
        assert.equal((await call(t.app, 'GET', `/api/v1/jobs/transitions?id=${jobId}`, { key: other.apiKey })).status, 404)
      })
    })

    describe('ETags', () => {
      it('GET sends a strong ETag; If-None-Match answers 304 with no body', async () => {
        const jobId = await createJobVia(t.app, key(), basics.locationId)
        const first = await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key() })
        const etag = first.headers.etag as string
        assert.match(etag, /^"[A-Za-z0-9_-]+"$/)
        const again = await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key() })
        assert.equal(again.headers.etag, etag, 'stable while nothing changes')
        const cached = await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key(), headers: { 'if-none-match': etag } })
        assert.equal(cached.status, 304)
        assert.equal(cached.body, undefined)
        assert.equal(cached.headers.etag, etag)
        assert.match(String(cached.headers['x-request-id']), /^[0-9a-f]{16}$/)
        const weak = await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key(), headers: { 'if-none-match': `"nope", W/${etag}` } })
        assert.equal(weak.status, 304, 'If-None-Match compares weakly, in a list')
        const stale = await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key(), headers: { 'if-none-match': '"nope"' } })
        assert.equal(stale.status, 200)
      })

      it('changes with every write, even within one second, and with live names', async () => {
        const jobId = await createJobVia(t.app, key(), basics.locationId)
        const tag0 = (await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key() })).headers.etag
        const put = await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: key(), body: { job_priority: 'Medium' } })
        assert.equal(put.status, 200)
        const tag1 = (await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key() })).headers.etag
        assert.notEqual(tag1, tag0, 'a write that changes no field still changes the tag')
        assert.equal(put.headers.etag, tag1, 'the PUT answer carries the new tag')
        await call(t.app, 'PUT', `/api/v1/locations?id=${basics.locationId}`, { key: key(), body: { customer_location_name: 'Renamed Office' } })
        const tag2 = (await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key() })).headers.etag
        assert.notEqual(tag2, tag1, 'a renamed location changes the job representation and its tag')
        const patch = await call(t.app, 'PATCH', `/api/v1/jobs?id=${jobId}`, { key: key(), body: { job_status: 'Assigned' } })
        assert.equal(patch.headers.etag, (await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key() })).headers.etag)
      })

      it('every kind of status change answers the tag GET shows right after, and takes the tag before as If-Match', async () => {
        // Assigned, with an asset and a schedule: every part of the representation is filled in.
        const assetId = await createAssetVia(t.app, key(), `ETAG-${Date.now()}`)
        const jobId = await createJobVia(t.app, key(), basics.locationId, {
          assigned_technician_id: basics.technicianId,
          asset_ids: [assetId],
          scheduled_start: '2026-12-01T09:00:00Z',
          scheduled_end: '2026-12-01T11:00:00Z',
        })
        let tag = (await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key() })).headers.etag
        // Starting work stamps actual_start (once: resuming after On Hold keeps it), completing stamps actual_end.
        for (const status of ['Assigned', 'In Progress', 'On Hold', 'In Progress', 'Completed', 'Invoiced', 'Paid', 'Closed'] as const) {
          const patch = await call(t.app, 'PATCH', `/api/v1/jobs?id=${jobId}`, { key: key(), body: { job_status: status }, headers: { 'if-match': String(tag) } })
          assert.equal(patch.status, 200, `${status}: ${JSON.stringify(patch.body)}`)
          const now = await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key() })
          assert.equal(now.body.data.job_status, status)
          assert.equal(now.body.data.assets.length, 1)
          assert.notEqual(patch.headers.etag, tag, `${status}: a new tag`)
          assert.equal(patch.headers.etag, now.headers.etag, `${status}: the PATCH answer carries the tag of the job as it is now`)
          tag = now.headers.etag
        }
        const closed = await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key() })
        assert.ok(closed.body.data.actual_start && closed.body.data.actual_end, 'both stamps are shown')
      })

      it('every kind of PUT answers the tag GET shows right after, and takes the tag before as If-Match', async () => {
        // A second customer's location and a second technician to move the job to; two assets to link.
        const owner = await call(t.app, 'POST', '/api/v1/customers', { key: key(), body: { customer_name: 'Second owner' } })
        const site = await call(t.app, 'POST', '/api/v1/locations', { key: key(), body: { customer_id: owner.body.data.customer_id, customer_location_name: 'Second site' } })
        const tech = await call(t.app, 'POST', '/api/v1/technicians', { key: key(), body: { technician_name: 'Second tech' } })
        const [assetA, assetB] = [await createAssetVia(t.app, key(), `PUT-A-${Date.now()}`), await createAssetVia(t.app, key(), `PUT-B-${Date.now()}`)]
        const jobId = await createJobVia(t.app, key(), basics.locationId, { assigned_technician_id: basics.technicianId, asset_ids: [assetA] })
        const bodies: Array<Record<string, unknown>> = [
          { job_title: 'Retitled' },
          { job_description: 'Described' },
          { job_description: null },
          { job_priority: 'Urgent' },
          { scheduled_start: '2026-12-02T09:00:00Z', scheduled_end: '2026-12-02T12:00:00Z' },
          { scheduled_end: '2026-12-02T13:00:00Z' },
          { assigned_technician_id: tech.body.data.technician_id },
          { assigned_technician_id: null },
          { assigned_technician_id: basics.technicianId },
          { customer_location_id: site.body.data.customer_location_id },
          { asset_ids: [assetA, assetB], asset_relationship_type: 'inspected' },
          { asset_ids: [] },
          { asset_ids: [assetB], customer_location_id: basics.locationId, job_priority: 'Low' },
          { job_title: 'Retitled', job_priority: 'Low' },
        ]
        let tag = (await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key() })).headers.etag
        for (const body of bodies) {
          const put = await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: key(), body, headers: { 'if-match': String(tag) } })
          assert.equal(put.status, 200, `${JSON.stringify(body)}: ${JSON.stringify(put.body)}`)
          const now = await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key() })
          assert.notEqual(put.headers.etag, tag, `${JSON.stringify(body)}: a new tag`)
          assert.equal(put.headers.etag, now.headers.etag, `${JSON.stringify(body)}: the PUT answer carries the tag of the job as it is now`)
          tag = now.headers.etag
        }
        const last = await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key() })
        assert.equal(last.body.data.customer_name, 'Acme Corporation')
        assert.deepEqual(last.body.data.assets.map((a: any) => a.asset_id), [assetB])
      })

      it('any mix of PUT fields and status changes answers the tag and the fields GET shows right after; a refused write changes neither', async () => {
        const owner = await call(t.app, 'POST', '/api/v1/customers', { key: key(), body: { customer_name: 'Mixed owner' } })
        const site = await call(t.app, 'POST', '/api/v1/locations', { key: key(), body: { customer_id: owner.body.data.customer_id, customer_location_name: 'Mixed site' } })
        const tech = await call(t.app, 'POST', '/api/v1/technicians', { key: key(), body: { technician_name: 'Mixed tech' } })
        const assets = [await createAssetVia(t.app, key(), `MIX-A-${Date.now()}`), await createAssetVia(t.app, key(), `MIX-B-${Date.now()}`), await createAssetVia(t.app, key(), `MIX-C-${Date.now()}`)]
        const optional = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined, freq: 2 })
        const hour = (h: number) => new Date(Date.UTC(2026, 11, 1, h)).toISOString().replace('.000', '')
        // Fields of a PUT, any of them (none is a 400); a schedule may end before it starts (a 400 too).
        const put = fc
          .record({
            job_title: optional(fc.constantFrom('Mixed A', 'Mixed B')),
            job_description: optional(fc.constantFrom('Described', null)),
            job_priority: optional(fc.constantFrom(...JOB_PRIORITIES)),
            assigned_technician_id: optional(fc.constantFrom(basics.technicianId, tech.body.data.technician_id as number, null)),
            customer_location_id: optional(fc.constantFrom(basics.locationId, site.body.data.customer_location_id as number)),
            scheduled_start: optional(fc.integer({ min: 0, max: 40 }).map(hour)),
            scheduled_end: optional(fc.integer({ min: 0, max: 40 }).map(hour)),
            asset_ids: optional(fc.subarray(assets)),
            asset_relationship_type: optional(fc.constantFrom(...RELATIONSHIP_TYPES)),
          })
          .map((body) => Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined)))
        const write = fc.oneof(put.map((body) => ({ method: 'PUT' as const, body })), fc.constantFrom(...JOB_STATUSES).map((status) => ({ method: 'PATCH' as const, body: { job_status: status } })))
        // The answer each write must get, from the seed's table and API.md §4's rules (not from the server's code): a PATCH the
        // table allows is 200, any other 400; a PUT is 400 without a field, for its own schedule ending before it starts or a relationship type
        // without asset_ids, then 400 for a schedule that does so with the stored bound, then 409 on a Closed or Cancelled job.
        const expectedStatus = (method: 'PUT' | 'PATCH', body: Record<string, unknown>, job: Record<string, any>) => {
          if (method === 'PATCH') return TABLE[job.job_status as Status].includes(body.job_status as Status) ? 200 : 400
          if (Object.keys(body).length === 0) return 400 // "Request body must contain at least one field to update"
          const seconds = (iso: unknown) => (typeof iso === 'string' ? Date.parse(iso) : undefined)
          const backwards = (start: number | undefined, end: number | undefined) => start !== undefined && end !== undefined && end <= start
          if (backwards(seconds(body.scheduled_start), seconds(body.scheduled_end))) return 400
          if (body.asset_relationship_type !== undefined && body.asset_ids === undefined) return 400
          const start = 'scheduled_start' in body ? seconds(body.scheduled_start) : seconds(job.scheduled_start)
          const end = 'scheduled_end' in body ? seconds(body.scheduled_end) : seconds(job.scheduled_end)
          if (backwards(start, end)) return 400
          return job.job_status === 'Closed' || job.job_status === 'Cancelled' ? 409 : 200
        }
        await fc.assert(
          fc.asyncProperty(fc.array(write, { minLength: 1, maxLength: 8 }), fc.boolean(), async (writes, withIfMatch) => {
            const jobId = await createJobVia(t.app, key(), basics.locationId)
            let before = await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key() })
            for (const { method, body } of writes) {
              const headers = withIfMatch ? { 'if-match': String(before.headers.etag) } : undefined
              const answer = await call(t.app, method, `/api/v1/jobs?id=${jobId}`, { key: key(), body, ...(headers && { headers }) })
              const now = await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key() })
              const what = `${method} ${JSON.stringify(body)} on a ${before.body.data.job_status} job → ${answer.status} ${JSON.stringify(answer.body)}`
              assert.equal(answer.status, expectedStatus(method, body, before.body.data), what)
              if (answer.status !== 200) {
                assert.equal(now.headers.etag, before.headers.etag, `${what}: refused, and the tag moved`)
                assert.deepEqual(now.body.data, before.body.data, `${what}: refused, and the job changed`)
                continue
              }
              assert.equal(answer.headers.etag, now.headers.etag, `${what}: the answer's tag is not the one GET shows`)
              assert.notEqual(now.headers.etag, before.headers.etag, `${what}: a write that kept the tag`)
              const job = now.body.data
              for (const [field, value] of Object.entries(body)) {
                if (field === 'asset_ids') assert.deepEqual(job.assets.map((a: any) => a.asset_id).sort(), [...(value as number[])].sort(), what)
                else if (field !== 'asset_relationship_type') assert.equal(job[field], value, `${what}: ${field}`)
              }
              before = now
            }
          }),
          { numRuns: 25 },
        )
      })

      it('a stale If-Match is 412 and changes nothing; a current one succeeds', async () => {
        const jobId = await createJobVia(t.app, key(), basics.locationId)
        const tag = (await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key() })).headers.etag as string
        const ok = await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: key(), body: { job_title: 'First' }, headers: { 'if-match': tag } })
        assert.equal(ok.status, 200)
        const before = await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key() })
        const stalePut = await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: key(), body: { job_title: 'Second' }, headers: { 'if-match': tag } })
        assert.equal(stalePut.status, 412)
        assert.equal(stalePut.body.error.code, 'precondition_failed')
        const stalePatch = await call(t.app, 'PATCH', `/api/v1/jobs?id=${jobId}`, { key: key(), body: { job_status: 'Assigned' }, headers: { 'if-match': tag } })
        assert.equal(stalePatch.status, 412)
        const weakCurrent = await call(t.app, 'PATCH', `/api/v1/jobs?id=${jobId}`, { key: key(), body: { job_status: 'Assigned' }, headers: { 'if-match': `W/${before.headers.etag}` } })
        assert.equal(weakCurrent.status, 412, 'If-Match uses the strong comparison')
        // Each refusal says what will work next: a stale tag is read again, a weak or unquoted one is sent as the GET answered it.
        assert.match(stalePut.body.error.message, /^The job has changed since you read it .*GET it again and retry$/)
        assert.match(weakCurrent.body.error.message, /^If-Match holds a weak tag \(W\/"…"\), which a write never matches: send the ETag as the GET answered it, without W\//)
        const unquoted = await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: key(), body: { job_title: 'Third' }, headers: { 'if-match': (before.headers.etag as string).replace(/"/g, '') } })
        assert.equal(unquoted.status, 412)
        assert.equal(unquoted.body.error.message, 'If-Match must be an ETag as the GET answered it, in its double quotes ("…"); nothing was written')
        const after = await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key() })
        assert.deepEqual(after.body.data, before.body.data, 'nothing changed')
        assert.equal(after.headers.etag, before.headers.etag)
        const star = await call(t.app, 'PATCH', `/api/v1/jobs?id=${jobId}`, { key: key(), body: { job_status: 'Assigned' }, headers: { 'if-match': '*' } })
        assert.equal(star.status, 200)
      })

      it('If-None-Match on a write: * or the current tag (also weak) is 412 and changes nothing, on every record and every write method; an old tag lets the write through', async () => {
        const jobId = await createJobVia(t.app, key(), basics.locationId)
        const assetId = (await call(t.app, 'POST', '/api/v1/assets', { key: key(), body: { asset_tag: 'INM-1', asset_name: 'Boiler' } })).body.data.asset_id as number
        const writes: Array<[string, string, Record<string, unknown> | undefined]> = [
          ['PUT', `/api/v1/jobs?id=${jobId}`, { job_title: 'Kept?' }],
          ['PATCH', `/api/v1/jobs?id=${jobId}`, { job_status: 'Assigned' }],
          ['PUT', `/api/v1/customers?id=${basics.customerId}`, { notes: 'kept?' }],
          ['PUT', `/api/v1/locations?id=${basics.locationId}`, { city: 'Kept?' }],
          ['PUT', `/api/v1/technicians?id=${basics.technicianId}`, { technician_phone: '555-0100' }],
          ['PUT', `/api/v1/assets?id=${assetId}`, { model: 'Kept?' }],
          ['DELETE', `/api/v1/assets?id=${assetId}`, undefined],
        ]
        for (const [method, path, body] of writes) {
          const before = await call(t.app, 'GET', path, { key: key() })
          const tag = before.headers.etag as string
          for (const header of ['*', tag, `W/${tag}`, `"old", ${tag}`]) {
            const refused = await call(t.app, method, path, { key: key(), ...(body && { body }), headers: { 'if-none-match': header } })
            assert.equal(refused.status, 412, `${method} ${path} If-None-Match: ${header}`)
            assert.equal(refused.body.error.code, 'precondition_failed')
          }
          const after = await call(t.app, 'GET', path, { key: key() })
          assert.deepEqual(after.body.data, before.body.data, `${method} ${path}: nothing changed`)
          assert.equal(after.headers.etag, tag)
          // A tag the record no longer has: the client's copy is old, so the write goes through (with If-Match it would be refused).
          const done = await call(t.app, method, path, { key: key(), ...(body && { body }), headers: { 'if-none-match': '"an-old-version"' } })
          assert.equal(done.status, 200, `${method} ${path} with an old tag: ${JSON.stringify(done.body)}`)
        }
        // 404 first, as for If-Match.
        assert.equal((await call(t.app, 'PUT', '/api/v1/jobs?id=999999', { key: key(), body: { job_title: 'x' }, headers: { 'if-none-match': '*' } })).status, 404)
      })

      it('412 comes after 404 and validation, before job_locked and transitions', async () => {
        const jobId = await createJobVia(t.app, key(), basics.locationId)
        assert.equal((await call(t.app, 'PUT', '/api/v1/jobs?id=999999', { key: key(), body: { job_title: 'x' }, headers: { 'if-match': '"x"' } })).status, 404)
        assert.equal((await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: key(), body: { job_title: '' }, headers: { 'if-match': '"x"' } })).status, 400)
        assert.equal((await call(t.app, 'PATCH', `/api/v1/jobs?id=${jobId}`, { key: key(), body: { job_status: 'Closed' }, headers: { 'if-match': '"x"' } })).status, 412)
        await walk(jobId, ['Cancelled'])
        assert.equal((await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: key(), body: { job_title: 'x' }, headers: { 'if-match': '"x"' } })).status, 412)
      })

      it('of parallel PUTs holding one tag exactly one succeeds', async () => {
        for (let round = 0; round < 3; round++) {
          const jobId = await createJobVia(t.app, key(), basics.locationId)
          const tag = (await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: key() })).headers.etag as string
          const answers = await Promise.all(
            Array.from({ length: 12 }, (_, i) =>
              call(t.app, i % 2 ? 'PUT' : 'PATCH', `/api/v1/jobs?id=${jobId}`, {
                key: key(),
                body: i % 2 ? { job_priority: 'High' } : { job_status: 'Assigned' },
                headers: { 'if-match': tag },
              }),
            ),
          )
          const statuses = answers.map((a) => a.status)
          assert.equal(statuses.filter((s) => s === 200).length, 1, statuses.join(','))
          assert.equal(statuses.filter((s) => s === 412).length, 11, statuses.join(','))
        }
      })

      it('customers, locations, technicians and assets have ETags and honour If-Match', async () => {
        const asset = await call(t.app, 'POST', '/api/v1/assets', { key: key(), body: { asset_tag: 'ETAG-1', asset_name: 'Pump' } })
        const records: Array<[string, number, Record<string, unknown>]> = [
          ['customers', basics.customerId, { notes: 'n' }],
          ['locations', basics.locationId, { city: 'Springfield' }],
          ['technicians', basics.technicianId, { technician_phone: '555' }],
          ['assets', asset.body.data.asset_id, { model: 'X1' }],
        ]
        for (const [path, id, change] of records) {
          const read = await call(t.app, 'GET', `/api/v1/${path}?id=${id}`, { key: key() })
          const tag = read.headers.etag as string
          assert.match(tag, /^"[A-Za-z0-9_-]+"$/, path)
          assert.equal((await call(t.app, 'GET', `/api/v1/${path}?id=${id}`, { key: key(), headers: { 'if-none-match': tag } })).status, 304, path)
          const ok = await call(t.app, 'PUT', `/api/v1/${path}?id=${id}`, { key: key(), body: change, headers: { 'if-match': tag } })
          assert.equal(ok.status, 200, path)
          assert.ok(ok.headers.etag && ok.headers.etag !== tag, path)
          const stale = await call(t.app, 'PUT', `/api/v1/${path}?id=${id}`, { key: key(), body: change, headers: { 'if-match': tag } })
          assert.equal(stale.status, 412, path)
          assert.equal(stale.body.error.code, 'precondition_failed')
        }
      })
    })

    describe('updated_after sees every change to what a job shows', () => {
      // A sync by updated_after (docs/syncing.md) missed a renamed
      // technician, location or customer, a location moved to another
      // customer, and a linked asset changed or deleted: the jobs' answers
      // changed, their updated_at did not.
      it('renames, a location moved, a linked asset changed or deleted move the updated_at of exactly the jobs showing them, closed ones too', async () => {
        const owner = await createTenant(t.database, { name: 'Renames Co' })
        const k = owner.apiKey
        const mine = await createBasics(t.app, k, ' (renames)')
        const elsewhere = await createBasics(t.app, k, ' (elsewhere)')
        const assetId = await createAssetVia(t.app, k, 'RENAME-1')
        const open = await createJobVia(t.app, k, mine.locationId, { assigned_technician_id: mine.technicianId, asset_ids: [assetId] })
        const closed = await createJobVia(t.app, k, mine.locationId, { assigned_technician_id: mine.technicianId })
        for (const job_status of ['Assigned', 'In Progress', 'Completed', 'Invoiced', 'Paid', 'Closed']) {
          assert.equal((await call(t.app, 'PATCH', `/api/v1/jobs?id=${closed}`, { key: k, body: { job_status } })).status, 200, job_status)
        }
        const unrelated = await createJobVia(t.app, k, elsewhere.locationId, { assigned_technician_id: elsewhere.technicianId })
        const OLD = Date.parse('2020-01-01T00:00:00Z') / 1000
        const changed = async (method: string, url: string, body: Record<string, unknown>) => {
          // An edit outside the API: the lists are told (touchJobLists), as such an edit must.
          await t.database.db.updateTable('jobs').set({ updated_at: OLD }).where('company_id', '=', owner.companyId).execute()
          await touchJobLists(t.database.db, owner.companyId)
          const res = await call(t.app, method, url, { key: k, body })
          assert.ok(res.status === 200, `${method} ${url}: ${JSON.stringify(res.body)}`)
          const synced = await call(t.app, 'GET', '/api/v1/jobs?updated_after=2020-06-01&sort=updated_at', { key: k })
          for (const job of synced.body.data) {
            // What the sync got is what GET shows now.
            const now = (await call(t.app, 'GET', `/api/v1/jobs?id=${job.job_id}`, { key: k })).body.data
            for (const field of Object.keys(job)) assert.deepEqual(job[field], now[field], `${url} ${field}`)
          }
          return synced.body.data.map((job: { job_id: number }) => job.job_id).sort((a: number, b: number) => a - b)
        }
        const showing = [open, closed].sort((a, b) => a - b)
        assert.deepEqual(await changed('PUT', `/api/v1/technicians?id=${mine.technicianId}`, { technician_name: 'Renamed Tech' }), showing)
        assert.deepEqual(await changed('PUT', `/api/v1/locations?id=${mine.locationId}`, { customer_location_name: 'Renamed Site' }), showing)
        assert.deepEqual(await changed('PUT', `/api/v1/customers?id=${mine.customerId}`, { customer_name: 'Renamed Customer' }), showing)
        assert.deepEqual(await changed('PUT', `/api/v1/locations?id=${mine.locationId}`, { customer_id: elsewhere.customerId }), showing)
        assert.deepEqual(await changed('PUT', `/api/v1/assets?id=${assetId}`, { asset_status: 'In Maintenance' }), [open])
        // What jobs do not show moves nothing.
        assert.deepEqual(await changed('PUT', `/api/v1/technicians?id=${mine.technicianId}`, { technician_email: 'tech@example.com' }), [])
        assert.deepEqual(await changed('PUT', `/api/v1/locations?id=${mine.locationId}`, { city: 'Springfield' }), [])
        assert.deepEqual(await changed('PUT', `/api/v1/assets?id=${assetId}`, { serial_number: 'SN-1' }), [])
        assert.deepEqual(await changed('PUT', `/api/v1/technicians?id=${mine.technicianId}`, { technician_name: 'Renamed Tech' }), [], 'the same name again')
        assert.deepEqual(await changed('DELETE', `/api/v1/assets?id=${assetId}`, {}), [open])
        // Those writes never reached the unrelated job, and lists stay exact.
        const listed = await call(t.app, 'GET', `/api/v1/jobs?customer_id=${elsewhere.customerId}`, { key: k })
        assert.deepEqual(listed.body.data.map((job: { job_id: number }) => job.job_id).sort((a: number, b: number) => a - b), [open, closed, unrelated].sort((a, b) => a - b))
        const untouched = (await call(t.app, 'GET', `/api/v1/jobs?id=${unrelated}`, { key: k })).body.data
        assert.equal(untouched.updated_at, '2020-01-01T00:00:00Z')
      })
    })

    if (dialect === 'postgres') {
      describe('renames beside job writes (PostgreSQL, writes side by side)', () => {
        // A rename locked its asset FOR UPDATE, then touched the jobs linked
        // to it; a job write holding one of those jobs, linking it to the
        // other asset renamed meanwhile, waited in its foreign-key check
        // (FOR KEY SHARE) on that asset: two renames and two writes in a
        // cycle, which PostgreSQL breaks only after deadlock_timeout (1 s),
        // answered 503 when it came back at every attempt. The links are
        // slowed here so that each write holds its job while the renames run.
        it('two assets renamed while their jobs are being linked to each other: all answer 200, without a deadlock', async () => {
          const owner = await createTenant(t.database, { name: 'Deadlock Co' })
          const k = owner.apiKey
          const { locationId } = await createBasics(t.app, k, ' (deadlock)')
          const first = await createAssetVia(t.app, k, 'DEADLOCK-1')
          const second = await createAssetVia(t.app, k, 'DEADLOCK-2')
          const one = await createJobVia(t.app, k, locationId, { asset_ids: [first] })
          const two = await createJobVia(t.app, k, locationId, { asset_ids: [second] })
          const removeTrigger = await addTrigger(t.database, 'slow_link', 'before insert', 'job_assets', 'true', { sqlite: 'select 1', postgres: 'perform pg_sleep(0.3)' })
          try {
            const began = Date.now()
            const links = [
              call(t.app, 'PUT', `/api/v1/jobs?id=${one}`, { key: k, body: { asset_ids: [first, second] } }),
              call(t.app, 'PUT', `/api/v1/jobs?id=${two}`, { key: k, body: { asset_ids: [second, first] } }),
            ]
            await new Promise((resolve) => setTimeout(resolve, 100))
            const renames = [first, second].map((id) => call(t.app, 'PUT', `/api/v1/assets?id=${id}`, { key: k, body: { asset_name: `Renamed ${id}` } }))
            const answers = await Promise.all([...links, ...renames])
            const took = Date.now() - began
            for (const answer of answers) assert.equal(answer.status, 200, JSON.stringify(answer.body))
            assert.ok(took < 900, `${took} ms: a deadlock waits deadlock_timeout (1 s) before it is broken`)
            for (const id of [one, two]) {
              const job = (await call(t.app, 'GET', `/api/v1/jobs?id=${id}`, { key: k })).body.data
              assert.deepEqual(job.assets.map((a: { asset_name: string }) => a.asset_name).sort(), [`Renamed ${first}`, `Renamed ${second}`].sort())
            }
          } finally {
            await removeTrigger()
          }
        })
      })
    }

    if (dialect === 'sqlite') {
      it('a rename touches every job showing it, more than one slice of them (SQLite touches 400 a statement)', async () => {
        const owner = await createTenant(t.database, { name: 'Many jobs Co' })
        const k = owner.apiKey
        const { locationId, technicianId } = await createBasics(t.app, k, ' (many)')
        const ids: number[] = []
        for (let i = 0; i < 850; i++) ids.push(await createJobVia(t.app, k, locationId, { assigned_technician_id: technicianId }))
        await t.database.db.updateTable('jobs').set({ updated_at: Date.parse('2020-01-01T00:00:00Z') / 1000 }).where('company_id', '=', owner.companyId).execute()
        await touchJobLists(t.database.db, owner.companyId)
        assert.equal((await call(t.app, 'PUT', `/api/v1/technicians?id=${technicianId}`, { key: k, body: { technician_name: 'Renamed, many jobs' } })).status, 200)
        const moved = await t.database.db.selectFrom('jobs').select('job_id').where('company_id', '=', owner.companyId).where('updated_at', '>', Date.parse('2020-06-01T00:00:00Z') / 1000).execute()
        assert.deepEqual(moved.map((row) => row.job_id).sort((a, b) => a - b), ids.sort((a, b) => a - b))
      })
    }

    describe("docs/syncing.md's recipe", () => {
      /**
       * A company of 30 jobs, each last updated a minute after the one
       * before, synced into an empty copy by passes in `sort` order, 5 a
       * page, as docs/syncing.md §1 says (mark minus 2 minutes, follow
       * `Link: next`, mark from the first job of page 1 when the pass ends);
       * after each page of the first pass, the first job of that page is
       * edited and a job created. Then passes until one adds nothing.
       * Answers the jobs the copy lacks or holds stale.
       */
      async function syncWhileWriting(sort: 'updated_at' | '-updated_at') {
        const owner = await createTenant(t.database, { name: `Recipe ${sort}` })
        const k = owner.apiKey
        const { locationId } = await createBasics(t.app, k, ` (${sort})`)
        const ids: number[] = []
        for (let i = 0; i < 30; i++) ids.push(await createJobVia(t.app, k, locationId, { job_title: `Job ${i}` }))
        const OLD = Date.parse('2025-01-01T00:00:00Z') / 1000
        for (const [i, id] of ids.entries()) await t.database.db.updateTable('jobs').set({ updated_at: OLD + i * 60 }).where('job_id', '=', id).execute()
        await touchJobLists(t.database.db, owner.companyId)

        const copy = new Map<number, { job_title: string; updated_at: string }>()
        let mark = '2000-01-01T00:00:00Z'
        let edits = 0
        const pass = async (writing: boolean) => {
          const from = new Date(Date.parse(mark) - 120_000).toISOString().replace('.000Z', 'Z')
          let url: string | undefined = `/api/v1/jobs?updated_after=${from}&sort=${sort}&per_page=5`
          let newest: string | undefined
          let added = 0
          while (url) {
            const page = await call(t.app, 'GET', url, { key: k })
            assert.equal(page.status, 200, JSON.stringify(page.body))
            for (const job of page.body.data) {
              newest ??= job.updated_at
              const had = copy.get(job.job_id)
              if (!had || had.job_title !== job.job_title || had.updated_at !== job.updated_at) added++
              copy.set(job.job_id, { job_title: job.job_title, updated_at: job.updated_at })
            }
            if (writing && page.body.data.length) {
              const first = page.body.data[0].job_id
              assert.equal((await call(t.app, 'PUT', `/api/v1/jobs?id=${first}`, { key: k, body: { job_title: `Edited ${++edits}` } })).status, 200)
              ids.push(await createJobVia(t.app, k, locationId, { job_title: `Created ${edits}` }))
            }
            url = /<([^>]+)>; rel="next"/.exec(String(page.headers.link ?? ''))?.[1]
          }
          if (sort === '-updated_at' && newest) mark = newest
          // Oldest first, the newest job is the last one read.
          if (sort === 'updated_at') mark = [...copy.values()].map((j) => j.updated_at).sort().at(-1) ?? mark
          return added
        }
        await pass(true)
        for (let passes = 0; (await pass(false)) > 0; passes++) assert.ok(passes < 5, 'passes settle')
        const wrong: number[] = []
        for (const id of ids) {
          const truth = (await call(t.app, 'GET', `/api/v1/jobs?id=${id}`, { key: k })).body.data
          const mine = copy.get(id)
          if (mine?.job_title !== truth.job_title || mine?.updated_at !== truth.updated_at) wrong.push(id)
        }
        return { wrong, edits }
      }

      it('newest first: writes between the pages of a pass lose nothing', async () => {
        const { wrong, edits } = await syncWhileWriting('-updated_at')
        assert.ok(edits >= 6, `${edits} edits during the pass`)
        assert.deepEqual(wrong, [])
      })

      it('oldest first, as the recipe said before: the same writes lose jobs for good (why the recipe reads newest first)', async () => {
        const { wrong } = await syncWhileWriting('updated_at')
        assert.ok(wrong.length > 0, 'a job slipped onto a page already read')
      })
    })

    describe('Idempotency-Key', () => {
      const body = () => ({ job_title: 'Idempotent job', customer_location_id: basics.locationId })

      it('replays the first answer, with the same request_id, Location and ETag, and does nothing twice', async () => {
        const first = await call(t.app, 'POST', '/api/v1/jobs', { key: key(), body: body(), headers: { 'idempotency-key': 'create-1' } })
        assert.equal(first.status, 201)
        assert.equal(first.headers['idempotent-replayed'], undefined)
        const count = async () => (await call(t.app, 'GET', '/api/v1/jobs?per_page=1', { key: key() })).body.pagination.total
        const total = await count()
        const replay = await call(t.app, 'POST', '/api/v1/jobs', { key: key(), body: { customer_location_id: basics.locationId, job_title: 'Idempotent job' }, headers: { 'idempotency-key': 'create-1' } })
        assert.equal(replay.status, 201)
        assert.equal(replay.headers['idempotent-replayed'], 'true')
        assert.deepEqual(replay.body, first.body, 'the stored answer, request_id included (JSON-equal body, keys in another order)')
        assert.equal(replay.headers['x-request-id'], first.body.request_id)
        assert.equal(replay.headers.location, first.headers.location)
        assert.equal(await count(), total, 'no second job')

        const patch = await call(t.app, 'PATCH', `/api/v1/jobs?id=${first.body.data.job_id}`, { key: key(), body: { job_status: 'Assigned' }, headers: { 'idempotency-key': 'patch-1' } })
        const patchAgain = await call(t.app, 'PATCH', `/api/v1/jobs?id=${first.body.data.job_id}`, { key: key(), body: { job_status: 'Assigned' }, headers: { 'idempotency-key': 'patch-1' } })
        assert.equal(patch.status, 200)
        assert.equal(patchAgain.status, 200, 'a replay, not an invalid Assigned → Assigned')
        assert.deepEqual(patchAgain.body, patch.body)
        assert.equal(patchAgain.headers.etag, patch.headers.etag)
      })

      it('replays 4xx answers too, and a different request under the key is 422', async () => {
        const bad = await call(t.app, 'POST', '/api/v1/jobs', { key: key(), body: { job_title: '' , customer_location_id: basics.locationId }, headers: { 'idempotency-key': 'bad-1' } })
        assert.equal(bad.status, 400)
        const again = await call(t.app, 'POST', '/api/v1/jobs', { key: key(), body: { job_title: '', customer_location_id: basics.locationId }, headers: { 'idempotency-key': 'bad-1' } })
        assert.equal(again.status, 400)
        assert.equal(again.headers['idempotent-replayed'], 'true')
        assert.deepEqual(again.body, bad.body)
        for (const [method, url, b] of [
          ['POST', '/api/v1/jobs', { job_title: 'Other', customer_location_id: basics.locationId }],
          ['PUT', '/api/v1/jobs?id=1', { job_title: 'x' }],
          ['POST', '/api/v1/customers', { job_title: '', customer_location_id: basics.locationId }],
        ] as const) {
          const reused = await call(t.app, method, url, { key: key(), body: b, headers: { 'idempotency-key': 'bad-1' } })
          assert.equal(reused.status, 422, `${method} ${url}`)
          assert.equal(reused.body.error.code, 'idempotency_key_reused')
        }
      })

      it('20 concurrent identical creates make exactly one job; successes are identical, the rest are 409 in_use', async () => {
        const before = (await call(t.app, 'GET', '/api/v1/jobs?per_page=1', { key: key() })).body.pagination.total
        const answers = await Promise.all(
          Array.from({ length: 20 }, () => call(t.app, 'POST', '/api/v1/jobs', { key: key(), body: body(), headers: { 'idempotency-key': 'race-1' } })),
        )
        const created = answers.filter((a) => a.status === 201)
        const busy = answers.filter((a) => a.status === 409)
        assert.equal(created.length + busy.length, 20, answers.map((a) => a.status).join(','))
        assert.ok(created.length >= 1)
        for (const c of created) assert.deepEqual(c.body, created[0]!.body)
        for (const b of busy) assert.equal(b.body.error.code, 'idempotency_key_in_use')
        const after = (await call(t.app, 'GET', '/api/v1/jobs?per_page=1', { key: key() })).body.pagination.total
        assert.equal(after, before + 1)
        const late = await call(t.app, 'POST', '/api/v1/jobs', { key: key(), body: body(), headers: { 'idempotency-key': 'race-1' } })
        assert.deepEqual(late.body, created[0]!.body)
      })

      it('keys are scoped per API key', async () => {
        const second = await createExtraKey(t.database, tenant.companyId, ['jobs:write', 'jobs:read'])
        const a = await call(t.app, 'POST', '/api/v1/jobs', { key: key(), body: body(), headers: { 'idempotency-key': 'shared-name' } })
        const b = await call(t.app, 'POST', '/api/v1/jobs', { key: second.apiKey, body: body(), headers: { 'idempotency-key': 'shared-name' } })
        assert.equal(a.status, 201)
        assert.equal(b.status, 201)
        assert.notEqual(a.body.data.job_id, b.body.data.job_id)
      })

      it('a malformed key is validation_failed on the header', async () => {
        for (const bad of ['', 'x'.repeat(256), 'tab\there', 'ü']) {
          const r = await call(t.app, 'POST', '/api/v1/jobs', { key: key(), body: body(), headers: { 'idempotency-key': bad } })
          assert.equal(r.status, 400, JSON.stringify(bad))
          assert.deepEqual(r.body.error.details, [{ field: 'Idempotency-Key', message: 'must be 1 to 255 printable ASCII characters' }])
        }
        // Sent twice, Node joins the values ("a, b"), which was taken as a key of its own.
        const before = (await call(t.app, 'GET', '/api/v1/jobs', { key: key() })).body.pagination.total
        const twice = await call(t.app, 'POST', '/api/v1/jobs', { key: key(), body: body(), headers: { 'idempotency-key': ['twice-a', 'twice-b'] as unknown as string } })
        assert.equal(twice.status, 400)
        assert.deepEqual(twice.body.error.details, [{ field: 'Idempotency-Key', message: 'must be sent once' }])
        assert.equal((await call(t.app, 'GET', '/api/v1/jobs', { key: key() })).body.pagination.total, before, 'nothing was created')
      })

      it('expires after 24 hours and stale claims are released after 60 seconds', async () => {
        const first = await call(t.app, 'POST', '/api/v1/jobs', { key: key(), body: body(), headers: { 'idempotency-key': 'old-1' } })
        const age = (seconds: number) => t.database.db.updateTable('idempotency_keys').set({ created_at: Math.floor(Date.now() / 1000) - seconds }).where('idempotency_key', '=', 'old-1').execute()
        // Ten seconds short of 24 hours: still kept (a clock tick between the two statements cannot make it expire).
        await age(24 * 3600 - 10)
        const kept = await call(t.app, 'POST', '/api/v1/jobs', { key: key(), body: body(), headers: { 'idempotency-key': 'old-1' } })
        assert.equal(kept.headers['idempotent-replayed'], 'true')
        assert.equal(kept.body.data.job_id, first.body.data.job_id)
        // 24 hours to the second: expired (a tick only makes it older).
        await age(24 * 3600)
        const fresh = await call(t.app, 'POST', '/api/v1/jobs', { key: key(), body: body(), headers: { 'idempotency-key': 'old-1' } })
        assert.equal(fresh.status, 201)
        assert.notEqual(fresh.body.data.job_id, first.body.data.job_id, 'an expired key is new again')

        const now = Math.floor(Date.now() / 1000)
        await t.database.db.insertInto('idempotency_keys').values({ key_id: tenant.keyId, idempotency_key: 'stuck-1', fingerprint: 'x', state: 'running', response_status: null, response_body: null, response_headers: null, request_id: null, created_at: now, locked_at: now }).execute()
        const busy = await call(t.app, 'POST', '/api/v1/jobs', { key: key(), body: body(), headers: { 'idempotency-key': 'stuck-1' } })
        assert.equal(busy.status, 422, 'a different fingerprint is reuse, even while running')
        const fingerprint = (await t.database.db.selectFrom('idempotency_keys').select('fingerprint').where('idempotency_key', '=', 'old-1').executeTakeFirstOrThrow()).fingerprint
        await t.database.db.updateTable('idempotency_keys').set({ fingerprint }).where('idempotency_key', '=', 'stuck-1').execute()
        const stillBusy = await call(t.app, 'POST', '/api/v1/jobs', { key: key(), body: body(), headers: { 'idempotency-key': 'stuck-1' } })
        assert.equal(stillBusy.status, 409)
        assert.equal(stillBusy.headers['retry-after'], '1')
        await t.database.db.updateTable('idempotency_keys').set({ locked_at: now - 61 }).where('idempotency_key', '=', 'stuck-1').execute()
        const taken = await call(t.app, 'POST', '/api/v1/jobs', { key: key(), body: body(), headers: { 'idempotency-key': 'stuck-1' } })
        assert.equal(taken.status, 201, 'released after 60 seconds')
      })

      it('a write and its stored answer commit together: when the answer cannot be stored, the write is not kept (every write route)', async () => {
        const jobId = await createJobVia(t.app, key(), basics.locationId, { assigned_technician_id: basics.technicianId })
        const assetId = await createAssetVia(t.app, key(), 'ATOMIC-1')
        const writes = [
          ['POST', '/api/v1/jobs', { job_title: 'Atomic', customer_location_id: basics.locationId }, '/api/v1/jobs?per_page=1'],
          ['PUT', `/api/v1/jobs?id=${jobId}`, { job_title: 'Atomic 2' }, `/api/v1/jobs?id=${jobId}`],
          ['PATCH', `/api/v1/jobs?id=${jobId}`, { job_status: 'Assigned' }, `/api/v1/jobs?id=${jobId}`],
          ['POST', '/api/v1/customers', { customer_name: 'Atomic Ltd' }, '/api/v1/customers?per_page=1'],
          ['PUT', `/api/v1/customers?id=${basics.customerId}`, { notes: 'atomic' }, `/api/v1/customers?id=${basics.customerId}`],
          ['POST', '/api/v1/locations', { customer_id: basics.customerId, customer_location_name: 'Atomic site' }, '/api/v1/locations?per_page=1'],
          ['PUT', `/api/v1/locations?id=${basics.locationId}`, { city: 'Atomic City' }, `/api/v1/locations?id=${basics.locationId}`],
          ['POST', '/api/v1/technicians', { technician_name: 'Atomic Tech' }, '/api/v1/technicians?per_page=1'],
          ['PUT', `/api/v1/technicians?id=${basics.technicianId}`, { technician_phone: '555-0100' }, `/api/v1/technicians?id=${basics.technicianId}`],
          ['POST', '/api/v1/assets', { asset_tag: 'ATOMIC-2', asset_name: 'Atomic pump' }, '/api/v1/assets?per_page=1'],
          ['PUT', `/api/v1/assets?id=${assetId}`, { model: 'A-2' }, `/api/v1/assets?id=${assetId}`],
        ] as const
        // A list's total, or a record's ETag: what each write would change.
        const state = async (probe: string) => {
          const r = await call(t.app, 'GET', probe, { key: key() })
          assert.equal(r.status, 200)
          return r.headers.etag ?? r.body.pagination.total
        }
        const removeTrigger = await addTrigger(t.database, 'refuse_answers', 'before update', 'idempotency_keys', "new.state = 'done'", refuse('answers refused'))
        try {
          for (const [method, url, body, probe] of writes) {
            const before = await state(probe)
            const r = await call(t.app, method, url, { key: key(), body, headers: { 'idempotency-key': `atomic ${method} ${url}` } })
            assert.equal(r.status, 500, `${method} ${url}: ${JSON.stringify(r.body)}`)
            assert.equal(await state(probe), before, `${method} ${url}: the write was kept although its answer could not be stored`)
          }
        } finally {
          await removeTrigger()
        }
        for (const [method, url, body, probe] of writes) {
          const before = await state(probe)
          const first = await call(t.app, method, url, { key: key(), body, headers: { 'idempotency-key': `atomic ${method} ${url}` } })
          assert.ok(first.status === 200 || first.status === 201, `${method} ${url}: the claim was released after the 5xx (${first.status})`)
          assert.equal(first.headers['idempotent-replayed'], undefined)
          const after = await state(probe)
          assert.notEqual(after, before)
          const replay = await call(t.app, method, url, { key: key(), body, headers: { 'idempotency-key': `atomic ${method} ${url}` } })
          assert.equal(replay.headers['idempotent-replayed'], 'true', `${method} ${url}`)
          assert.equal(replay.status, first.status)
          assert.deepEqual(replay.body, first.body, `${method} ${url}: the stored answer is the one sent`)
          for (const header of ['location', 'etag', 'x-request-id']) assert.equal(replay.headers[header], first.headers[header], `${method} ${url}: ${header}`)
          assert.equal(await state(probe), after, `${method} ${url}: done once`)
        }
      })

      it('a claim the database would not release after a 5xx is released once it will: a retry is not 409 for 60 seconds', async () => {
        const failWrite = await addTrigger(t.database, 'fail_release_write', 'before insert', 'jobs', "new.job_title = 'Released later'", refuse('write refused'))
        const failRelease = await addTrigger(t.database, 'fail_release', 'before delete', 'idempotency_keys', "old.idempotency_key = 'released-later'", refuse('release refused'))
        const send = () => call(t.app, 'POST', '/api/v1/jobs', { key: key(), body: { job_title: 'Released later', customer_location_id: basics.locationId }, headers: { 'idempotency-key': 'released-later' } })
        try {
          assert.equal((await send()).status, 500)
          assert.equal((await send()).body.error?.code, 'idempotency_key_in_use', 'the claim is still held while its release fails')
        } finally {
          await failWrite()
          await failRelease()
        }
        // The next try of the release (each second) succeeds now.
        await new Promise((resolve) => setTimeout(resolve, 1_500))
        const retried = await send()
        assert.equal(retried.status, 201, JSON.stringify(retried.body))
      })

      it('a write whose claim was taken over meanwhile (it ran past 60 seconds) is rolled back and answered 409', async () => {
        const total = async () => (await call(t.app, 'GET', '/api/v1/jobs?per_page=1', { key: key() })).body.pagination.total
        const before = await total()
        // Inside the write's transaction, as a retry taking the claim over would.
        const steal = "update idempotency_keys set locked_at = locked_at + 1 where state = 'running'"
        const removeTrigger = await addTrigger(t.database, 'steal_claims', 'after insert', 'jobs', 'true', { sqlite: steal, postgres: steal })
        let answer
        try {
          answer = await call(t.app, 'POST', '/api/v1/jobs', { key: key(), body: body(), headers: { 'idempotency-key': 'taken-over' } })
        } finally {
          await removeTrigger()
        }
        assert.equal(answer.status, 409, JSON.stringify(answer.body))
        assert.equal(answer.body.error.code, 'idempotency_key_in_use')
        assert.equal(await total(), before, 'the write was rolled back')
        const row = await t.database.db.selectFrom('idempotency_keys').selectAll().where('idempotency_key', '=', 'taken-over').executeTakeFirstOrThrow()
        assert.equal(row.state, 'running', 'the claim is left to its new owner')
      })

      it('expired rows are purged from storage', async () => {
        await call(t.app, 'POST', '/api/v1/jobs', { key: key(), body: body(), headers: { 'idempotency-key': 'purge-1' } })
        await t.database.db.updateTable('idempotency_keys').set({ created_at: 1000 }).where('idempotency_key', '=', 'purge-1').execute()
        const { createIdempotency } = await import('../src/http/idempotency.ts')
        const removed = await createIdempotency(t.database.db, console).purgeExpired()
        assert.ok(removed >= 1)
        const left = await t.database.db.selectFrom('idempotency_keys').select('idempotency_key').where('idempotency_key', '=', 'purge-1').execute()
        assert.equal(left.length, 0)
      })

      it('a purge of many keys goes in batches: exactly the expired keys go, and requests are answered meanwhile', async () => {
        const { createIdempotency, KEEP_SECONDS } = await import('../src/http/idempotency.ts')
        const db = t.database.db
        const now = Math.floor(Date.now() / 1000)
        // 1,030 expired keys (a last, partial batch of 30) and 20 kept, one of them a minute short of expiring.
        const rows = Array.from({ length: 1050 }, (_, i) => ({
          key_id: 1,
          idempotency_key: `bulk-${i}`,
          fingerprint: 'f',
          state: 'done' as const,
          response_status: 201,
          response_body: '{}',
          response_headers: '{}',
          request_id: `r${i}`,
          created_at: i < 1030 ? now - KEEP_SECONDS - 1 - (i % 7) : i === 1030 ? now - KEEP_SECONDS + 60 : now,
          locked_at: now,
        }))
        for (let i = 0; i < rows.length; i += 150) await db.insertInto('idempotency_keys').values(rows.slice(i, i + 150)).execute()
        let purgeEnded = false
        const purge = createIdempotency(db, console).purgeExpired(50).finally(() => (purgeEnded = true))
        // Asked for after the purge began: answered before it ends (behind one DELETE it came after, on both dialects).
        const read = await call(t.app, 'GET', '/api/v1/jobs?per_page=1', { key: key() })
        assert.equal(read.status, 200)
        assert.equal(purgeEnded, false, 'the read waited for the whole purge')
        assert.ok((await purge) >= 1030)
        const left = await db.selectFrom('idempotency_keys').select('idempotency_key').where('idempotency_key', 'like', 'bulk-%').execute()
        assert.deepEqual(left.map((r) => r.idempotency_key).sort(), rows.slice(1030).map((r) => r.idempotency_key).sort())
      })
    })
  })
}
