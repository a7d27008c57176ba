/**
 * The Jobs API's happy paths through HTTP (seed/jobs-api.md, API.md §1, §4):
 * create / read / update shapes and messages, live names, list filters,
 * pagination and the Link header, sort orders, date bounds, asset links, and
 * tenant isolation on every jobs endpoint.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { etagOf } from '../src/http/conditional.ts'
import { touchJobLists } from '../src/modules/jobs/jobs.write-record.ts'
import { DIALECTS, startTestApp, type TestApp } from './helpers/app.ts'
import { call, createAssetVia, createBasics, createExtraKey, createJobVia, createTenant, type ApiResponse } from './helpers/factories.ts'
import { addTrigger, refuse } from './helpers/triggers.ts'

const PATH = '/api/v1/jobs'
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/
const LIST_FIELDS = [
  'job_id', 'job_title', 'job_description', 'job_status', 'job_priority', 'assigned_technician_id', 'assigned_technician_name',
  'customer_location_id', 'customer_location_name', 'customer_id', 'customer_name', 'scheduled_start', 'scheduled_end',
  'actual_start', 'actual_end', 'created_at', 'updated_at',
]
const TIMESTAMP_FIELDS = ['scheduled_start', 'scheduled_end', 'actual_start', 'actual_end', 'created_at', 'updated_at']

/** Unix seconds of a UTC date-time written as text. */
const at = (iso: string) => Date.parse(iso) / 1000
const nowSeconds = () => Math.floor(Date.now() / 1000)

function assertOk(res: ApiResponse, status = 200) {
  assert.equal(res.status, status, JSON.stringify(res.body))
  assert.equal(res.headers['x-request-id'], res.body.request_id)
}

function assertJobTimestamps(job: Record<string, unknown>) {
  for (const field of TIMESTAMP_FIELDS) {
    const value = job[field]
    if (value !== null) assert.match(String(value), TIMESTAMP, `${field}: ${value}`)
  }
  assert.match(String(job.created_at), TIMESTAMP)
  assert.match(String(job.updated_at), TIMESTAMP)
}

/** The Link header as rel → {path, params}. */
function parseLink(header: unknown): Map<string, { path: string; params: Record<string, string>; raw: string }> {
  assert.equal(typeof header, 'string', `Link header: ${String(header)}`)
  const out = new Map<string, { path: string; params: Record<string, string>; raw: string }>()
  for (const part of (header as string).split(/,\s*(?=<)/)) {
    const m = /^<([^>]+)>\s*;\s*rel="([a-z]+)"$/.exec(part.trim())
    assert.ok(m, `Link part ${part}`)
    const target = m[1]!
    assert.ok(target.startsWith('/api/v1/jobs?'), `absolute path: ${target}`)
    const [path, query] = target.split('?') as [string, string]
    const params: Record<string, string> = {}
    for (const [k, v] of new URLSearchParams(query)) {
      assert.equal(params[k], undefined, `repeated ${k} in ${target}`)
      params[k] = v
    }
    assert.equal(out.has(m[2]!), false, `rel ${m[2]} twice`)
    out.set(m[2]!, { path, params, raw: target })
  }
  return out
}

for (const dialect of DIALECTS) {
  describe(`jobs API (${dialect})`, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp(dialect)
    })
    after(() => t.close())

    const get = (key: string, query = '') => call(t.app, 'GET', `${PATH}${query}`, { key })
    const post = (key: string, body: unknown) => call(t.app, 'POST', PATH, { key, body })
    const put = (key: string, id: number, body: unknown) => call(t.app, 'PUT', `${PATH}?id=${id}`, { key, body })
    const patch = (key: string, id: number, job_status: string) => call(t.app, 'PATCH', `${PATH}?id=${id}`, { key, body: { job_status } })
    async function getJob(key: string, id: number) {
      const res = await get(key, `?id=${id}`)
      assertOk(res)
      return res.body.data as Record<string, any>
    }
    async function listIds(key: string, query: string) {
      const res = await get(key, query)
      assertOk(res)
      return (res.body.data as Array<{ job_id: number }>).map((j) => j.job_id)
    }
    /** Set stored timestamps directly (the API stamps `now`; filters need known values). */
    async function setTimes(id: number, times: { created_at?: string; updated_at?: string }) {
      await t.database.db
        .updateTable('jobs')
        .set({ ...(times.created_at && { created_at: at(times.created_at) }), ...(times.updated_at && { updated_at: at(times.updated_at) }) })
        .where('job_id', '=', id)
        .execute()
      // An edit outside the API must say so, or remembered list answers stay as they were.
      const { company_id } = await t.database.db.selectFrom('jobs').select('company_id').where('job_id', '=', id).executeTakeFirstOrThrow()
      await touchJobLists(t.database.db, company_id)
    }

    describe('POST', () => {
      it('creates a job: 201, Location, the seed message and exactly the seed data shape', async () => {
        const { apiKey } = await createTenant(t.database)
        const { locationId, technicianId } = await createBasics(t.app, apiKey)
        const before = nowSeconds()
        const res = await post(apiKey, {
          job_title: 'AC unit repair',
          job_description: 'Customer reports AC not cooling in main office',
          job_priority: 'High',
          customer_location_id: locationId,
          assigned_technician_id: technicianId,
          scheduled_start: '2026-02-25T09:00:00Z',
          scheduled_end: '2026-02-25T11:00:00Z',
        })
        assertOk(res, 201)
        assert.equal(res.body.success, true)
        assert.equal(res.body.message, 'Job created successfully')
        const data = res.body.data
        assert.deepEqual(Object.keys(data).sort(), ['created_at', 'job_id', 'job_status', 'job_title'])
        assert.ok(Number.isSafeInteger(data.job_id) && data.job_id > 0)
        assert.equal(data.job_title, 'AC unit repair')
        assert.equal(data.job_status, 'Pending')
        assert.match(data.created_at, TIMESTAMP)
        assert.ok(at(data.created_at) >= before && at(data.created_at) <= nowSeconds() + 1)
        assert.equal(res.headers.location, `/api/v1/jobs?id=${data.job_id}`)
        assert.match(String(res.headers['content-type']), /^application\/json/)
        assert.deepEqual(Object.keys(res.body).sort(), ['data', 'message', 'request_id', 'success'])
        // The Location header leads to the job.
        const read = await call(t.app, 'GET', String(res.headers.location), { key: apiKey })
        assertOk(read)
        assert.equal(read.body.data.job_id, data.job_id)
        assert.equal(read.body.data.created_at, data.created_at)
      })

      it('GET ?id= returns every field of the seed plus assets; names come from the records', async () => {
        const { apiKey } = await createTenant(t.database)
        const { customerId, locationId, technicianId } = await createBasics(t.app, apiKey)
        const id = await createJobVia(t.app, apiKey, locationId, {
          job_description: 'Customer reports AC not cooling in main office',
          job_priority: 'High',
          assigned_technician_id: technicianId,
          scheduled_start: '2026-02-25T09:00:00Z',
          scheduled_end: '2026-02-25T11:00:00Z',
        })
        const res = await get(apiKey, `?id=${id}`)
        assertOk(res)
        assert.deepEqual(Object.keys(res.body).sort(), ['data', 'request_id'])
        const job = res.body.data
        assert.deepEqual(job, {
          job_id: id,
          job_title: 'AC unit repair',
          job_description: 'Customer reports AC not cooling in main office',
          // Assigning a technician does not change the status (API.md §4).
          job_status: 'Pending',
          job_priority: 'High',
          assigned_technician_id: technicianId,
          assigned_technician_name: 'John Smith',
          customer_location_id: locationId,
          customer_location_name: 'Main Office',
          customer_id: customerId,
          customer_name: 'Acme Corporation',
          scheduled_start: '2026-02-25T09:00:00Z',
          scheduled_end: '2026-02-25T11:00:00Z',
          actual_start: null,
          actual_end: null,
          created_at: job.created_at,
          updated_at: job.created_at,
          assets: [],
        })
        assertJobTimestamps(job)
      })

      it('defaults: Medium priority, Pending, null optional fields', async () => {
        const { apiKey } = await createTenant(t.database)
        const { locationId } = await createBasics(t.app, apiKey)
        const job = await getJob(apiKey, await createJobVia(t.app, apiKey, locationId))
        assert.equal(job.job_priority, 'Medium')
        assert.equal(job.job_status, 'Pending')
        for (const field of ['job_description', 'assigned_technician_id', 'assigned_technician_name', 'scheduled_start', 'scheduled_end', 'actual_start', 'actual_end']) {
          assert.equal(job[field], null, field)
        }
        assert.deepEqual(job.assets, [])
      })

      it('accepts application/json with a charset', async () => {
        const { apiKey } = await createTenant(t.database)
        const { locationId } = await createBasics(t.app, apiKey)
        const res = await call(t.app, 'POST', PATH, {
          key: apiKey,
          rawBody: JSON.stringify({ job_title: 'Charset', customer_location_id: locationId }),
          headers: { 'content-type': 'application/json; charset=utf-8' },
        })
        assertOk(res, 201)
      })
    })

    describe('PUT', () => {
      it('writes only the fields whose value changes (a whole record sent back rewrites no index entry of the others), and still counts as an update', async () => {
        const { apiKey } = await createTenant(t.database)
        const { locationId, technicianId } = await createBasics(t.app, apiKey)
        const whole = {
          job_title: 'AC unit repair',
          job_description: 'Original notes',
          job_priority: 'High',
          customer_location_id: locationId,
          assigned_technician_id: technicianId,
          scheduled_start: '2026-02-25T09:00:00Z',
          scheduled_end: '2026-02-25T11:00:00Z',
        }
        const id = await createJobVia(t.app, apiKey, locationId, whole)
        await setTimes(id, { updated_at: '2026-01-01T00:00:00Z' })
        const before = await get(apiKey, `?id=${id}`)
        // Fails any write that names one of these columns in its SET list, whatever the value.
        const untouched = ['job_title', 'job_priority', 'customer_location_id', 'assigned_technician_id', 'scheduled_start', 'scheduled_end']
        const removeTrigger = await addTrigger(t.database, 'only_changed_columns', `before update of ${untouched.join(', ')}`, 'jobs', 'true', refuse('an unchanged column was written'))
        try {
          assertOk(await put(apiKey, id, { ...whole, job_description: 'New notes' }))
          const after = await get(apiKey, `?id=${id}`)
          assert.deepEqual(after.body.data, { ...before.body.data, job_description: 'New notes', updated_at: after.body.data.updated_at })
          assert.notEqual(after.body.data.updated_at, before.body.data.updated_at, 'updated_at moved')
          assert.notEqual(after.headers.etag, before.headers.etag)
          // Nothing differs at all: still an update (updated_at, row version, ETag), as before.
          await setTimes(id, { updated_at: '2026-01-01T00:00:00Z' })
          assertOk(await put(apiKey, id, { ...whole, job_description: 'New notes' }))
          const again = await get(apiKey, `?id=${id}`)
          assert.notEqual(again.body.data.updated_at, '2026-01-01T00:00:00Z')
          assert.notEqual(again.headers.etag, after.headers.etag)
          // The trigger does fire when a value changes (so the check above could fail).
          assert.equal((await put(apiKey, id, { ...whole, job_priority: 'Low' })).status, 500)
        } finally {
          await removeTrigger()
        }
        assertOk(await put(apiKey, id, { ...whole, job_priority: 'Low' }))
        assert.equal((await getJob(apiKey, id)).job_priority, 'Low')
      })

      it('answers the seed message and {job_id, job_title, job_status}; only the fields sent change', async () => {
        const { apiKey } = await createTenant(t.database)
        const { locationId, technicianId } = await createBasics(t.app, apiKey)
        const id = await createJobVia(t.app, apiKey, locationId, {
          job_description: 'Original notes',
          assigned_technician_id: technicianId,
          scheduled_start: '2026-02-25T09:00:00Z',
          scheduled_end: '2026-02-25T11:00:00Z',
        })
        const before = await getJob(apiKey, id)
        await setTimes(id, { updated_at: '2026-01-01T00:00:00Z' })
        const res = await put(apiKey, id, { job_priority: 'Urgent', job_description: 'Customer reports no cooling — escalated to urgent' })
        assertOk(res)
        assert.equal(res.body.success, true)
        assert.equal(res.body.message, 'Job updated successfully')
        assert.deepEqual(res.body.data, { job_id: id, job_title: 'AC unit repair', job_status: 'Pending' })
        const updated = await getJob(apiKey, id)
        assert.ok(at(updated.updated_at) >= nowSeconds() - 5, `updated_at moved to now: ${updated.updated_at}`)
        assert.equal(updated.created_at, before.created_at)
        assert.deepEqual(updated, {
          ...before,
          job_priority: 'Urgent',
          job_description: 'Customer reports no cooling — escalated to urgent',
          updated_at: updated.updated_at,
        })
      })

      it('the answer shows the new title and the current status', async () => {
        const { apiKey } = await createTenant(t.database)
        const { locationId } = await createBasics(t.app, apiKey)
        const id = await createJobVia(t.app, apiKey, locationId)
        assertOk(await patch(apiKey, id, 'Assigned'))
        const res = await put(apiKey, id, { job_title: '  Replace compressor  ' })
        assertOk(res)
        assert.deepEqual(res.body.data, { job_id: id, job_title: 'Replace compressor', job_status: 'Assigned' })
        assert.equal((await getJob(apiKey, id)).job_title, 'Replace compressor')
      })

      it('null clears every nullable field', async () => {
        const { apiKey } = await createTenant(t.database)
        const { locationId, technicianId } = await createBasics(t.app, apiKey)
        const id = await createJobVia(t.app, apiKey, locationId, {
          job_description: 'Notes',
          assigned_technician_id: technicianId,
          scheduled_start: '2026-02-25T09:00:00Z',
          scheduled_end: '2026-02-25T11:00:00Z',
        })
        assertOk(await put(apiKey, id, { job_description: null, assigned_technician_id: null, scheduled_start: null, scheduled_end: null }))
        const job = await getJob(apiKey, id)
        for (const field of ['job_description', 'assigned_technician_id', 'assigned_technician_name', 'scheduled_start', 'scheduled_end']) {
          assert.equal(job[field], null, field)
        }
        assert.equal(job.job_title, 'AC unit repair')
        assert.equal(job.job_status, 'Pending')
      })

      it('moving a job to another location changes its customer too; assigning keeps the status', async () => {
        const { apiKey } = await createTenant(t.database)
        const first = await createBasics(t.app, apiKey)
        const second = await createBasics(t.app, apiKey, ' II')
        const id = await createJobVia(t.app, apiKey, first.locationId)
        assertOk(await put(apiKey, id, { customer_location_id: second.locationId, assigned_technician_id: second.technicianId }))
        const job = await getJob(apiKey, id)
        assert.equal(job.customer_location_id, second.locationId)
        assert.equal(job.customer_location_name, 'Main Office II')
        assert.equal(job.customer_id, second.customerId)
        assert.equal(job.customer_name, 'Acme Corporation II')
        assert.equal(job.assigned_technician_name, 'John Smith II')
        assert.equal(job.job_status, 'Pending')
      })

      it("names are live: renaming a customer, location or technician shows on the job", async () => {
        const { apiKey } = await createTenant(t.database)
        const { customerId, locationId, technicianId } = await createBasics(t.app, apiKey)
        const id = await createJobVia(t.app, apiKey, locationId, { assigned_technician_id: technicianId })
        assertOk(await call(t.app, 'PUT', `/api/v1/customers?id=${customerId}`, { key: apiKey, body: { customer_name: 'Acme Holdings' } }))
        assertOk(await call(t.app, 'PUT', `/api/v1/locations?id=${locationId}`, { key: apiKey, body: { customer_location_name: 'HQ' } }))
        assertOk(await call(t.app, 'PUT', `/api/v1/technicians?id=${technicianId}`, { key: apiKey, body: { technician_name: 'Jane Smith' } }))
        const job = await getJob(apiKey, id)
        assert.equal(job.customer_name, 'Acme Holdings')
        assert.equal(job.customer_location_name, 'HQ')
        assert.equal(job.assigned_technician_name, 'Jane Smith')
        const [item] = (await get(apiKey, `?customer_location_id=${locationId}`)).body.data
        assert.equal(item.customer_name, 'Acme Holdings')
        assert.equal(item.customer_location_name, 'HQ')
        assert.equal(item.assigned_technician_name, 'Jane Smith')
      })

      it('Closed and Cancelled jobs are read-only (409 job_locked); other statuses can be edited', async () => {
        const { apiKey } = await createTenant(t.database)
        const { locationId } = await createBasics(t.app, apiKey)
        const walks: Record<string, string[]> = {
          Closed: ['Assigned', 'In Progress', 'Completed', 'Invoiced', 'Paid', 'Closed'],
          Cancelled: ['Cancelled'],
          Paid: ['Assigned', 'In Progress', 'Completed', 'Invoiced', 'Paid'],
          'On Hold': ['Assigned', 'On Hold'],
        }
        for (const [status, steps] of Object.entries(walks)) {
          const id = await createJobVia(t.app, apiKey, locationId)
          for (const step of steps) assertOk(await patch(apiKey, id, step))
          const res = await put(apiKey, id, { job_title: 'Edited' })
          if (status === 'Closed' || status === 'Cancelled') {
            assert.equal(res.status, 409, JSON.stringify(res.body))
            assert.equal(res.body.error.code, 'job_locked')
            assert.equal((await getJob(apiKey, id)).job_title, 'AC unit repair')
          } else {
            assertOk(res)
            assert.deepEqual(res.body.data, { job_id: id, job_title: 'Edited', job_status: status })
          }
        }
      })
    })

    describe('list', () => {
      it('answers data (without assets), pagination and request_id; newest first', async () => {
        const { apiKey } = await createTenant(t.database)
        const { locationId } = await createBasics(t.app, apiKey)
        const ids: number[] = []
        for (let i = 0; i < 3; i++) ids.push(await createJobVia(t.app, apiKey, locationId, { job_title: `Job ${i}` }))
        const res = await get(apiKey)
        assertOk(res)
        assert.deepEqual(Object.keys(res.body).sort(), ['data', 'pagination', 'request_id'])
        assert.deepEqual(res.body.pagination, { page: 1, per_page: 50, total: 3, total_pages: 1 })
        // Same second: ties broken by job_id, descending.
        assert.deepEqual(res.body.data.map((j: { job_id: number }) => j.job_id), [...ids].reverse())
        for (const item of res.body.data) {
          assert.deepEqual(Object.keys(item).sort(), [...LIST_FIELDS].sort())
          assert.equal('assets' in item, false)
          assertJobTimestamps(item)
        }
        // Items equal the single-job answer minus assets.
        const single = await getJob(apiKey, ids[0]!)
        const { assets: _assets, ...withoutAssets } = single
        assert.deepEqual(res.body.data[2], withoutAssets)
        // Older created_at sorts later, whatever the ids.
        await setTimes(ids[2]!, { created_at: '2026-01-01T00:00:00Z' })
        assert.deepEqual(await listIds(apiKey, ''), [ids[1], ids[0], ids[2]])
      })

      it('an empty list: total 0, total_pages 0', async () => {
        const { apiKey } = await createTenant(t.database)
        const res = await get(apiKey)
        assertOk(res)
        assert.deepEqual(res.body.data, [])
        assert.deepEqual(res.body.pagination, { page: 1, per_page: 50, total: 0, total_pages: 0 })
        const link = parseLink(res.headers.link)
        assert.equal(link.has('next'), false)
        assert.equal(link.has('prev'), false)
      })

      describe('filters', () => {
        let key: string
        const ids: Record<string, number> = {}
        let basics: { customerId: number; locationId: number; technicianId: number }
        let second: { customerId: number; locationId: number; technicianId: number }
        before(async () => {
          key = (await createTenant(t.database)).apiKey
          basics = await createBasics(t.app, key)
          second = await createBasics(t.app, key, ' II')
          ids.pending = await createJobVia(t.app, key, basics.locationId, { job_priority: 'High' })
          ids.assigned = await createJobVia(t.app, key, basics.locationId, { job_priority: 'Low', assigned_technician_id: basics.technicianId })
          ids.inProgress = await createJobVia(t.app, key, second.locationId, { job_priority: 'High', assigned_technician_id: second.technicianId })
          ids.onHold = await createJobVia(t.app, key, second.locationId, { job_priority: 'Urgent' })
          for (const s of ['Assigned']) assertOk(await patch(key, ids.assigned, s))
          for (const s of ['Assigned', 'In Progress']) assertOk(await patch(key, ids.inProgress, s))
          for (const s of ['Assigned', 'On Hold']) assertOk(await patch(key, ids.onHold, s))
        })

        it('status: one value, several separated by commas, + as a space', async () => {
          assert.deepEqual(await listIds(key, '?status=Pending'), [ids.pending])
          assert.deepEqual(await listIds(key, '?status=Pending,Assigned'), [ids.assigned, ids.pending])
          assert.deepEqual(await listIds(key, '?status=In+Progress'), [ids.inProgress])
          assert.deepEqual(await listIds(key, '?status=In%20Progress'), [ids.inProgress])
          assert.deepEqual(await listIds(key, '?status=On+Hold,In+Progress,Pending'), [ids.onHold, ids.inProgress, ids.pending])
          assert.deepEqual(await listIds(key, '?status=Pending%2CAssigned'), [ids.assigned, ids.pending])
          assert.deepEqual(await listIds(key, '?status=Pending,Pending'), [ids.pending])
          assert.deepEqual(await listIds(key, '?status=Closed'), [])
          const res = await get(key, '?status=Pending,Assigned')
          assert.equal(res.body.pagination.total, 2)
        })

        it('priority, assigned_technician_id, customer_location_id, customer_id', async () => {
          assert.deepEqual(await listIds(key, '?priority=High'), [ids.inProgress, ids.pending])
          assert.deepEqual(await listIds(key, '?priority=Medium'), [])
          assert.deepEqual(await listIds(key, `?assigned_technician_id=${basics.technicianId}`), [ids.assigned])
          assert.deepEqual(await listIds(key, `?customer_location_id=${second.locationId}`), [ids.onHold, ids.inProgress])
          assert.deepEqual(await listIds(key, `?customer_id=${basics.customerId}`), [ids.assigned, ids.pending])
          assert.deepEqual(await listIds(key, `?customer_id=${second.customerId}&priority=Urgent&status=On+Hold`), [ids.onHold])
          assert.deepEqual(await listIds(key, `?assigned_technician_id=999999`), [])
        })
      })

      describe('date bounds', () => {
        let key: string
        const ids: Record<string, number> = {}
        before(async () => {
          key = (await createTenant(t.database)).apiKey
          const { locationId } = await createBasics(t.app, key)
          const times: Record<string, string> = {
            a: '2026-02-23T23:59:59Z',
            b: '2026-02-24T00:00:00Z',
            c: '2026-02-24T14:30:00Z',
            d: '2026-02-24T23:59:59Z',
            e: '2026-02-25T00:00:00Z',
          }
          for (const [name, time] of Object.entries(times)) {
            ids[name] = await createJobVia(t.app, key, locationId, { job_title: name })
            await setTimes(ids[name]!, { created_at: time, updated_at: time })
          }
        })
        const names = async (query: string) => {
          const res = await get(key, query)
          assertOk(res)
          return (res.body.data as Array<{ job_title: string }>).map((j) => j.job_title).sort()
        }

        it('created_before with a bare date covers that whole UTC day; created_after with one starts it', async () => {
          assert.deepEqual(await names('?created_before=2026-02-24'), ['a', 'b', 'c', 'd'])
          assert.deepEqual(await names('?created_after=2026-02-24'), ['b', 'c', 'd', 'e'])
          assert.deepEqual(await names('?created_after=2026-02-24&created_before=2026-02-24'), ['b', 'c', 'd'])
          assert.deepEqual(await names('?created_after=2026-02-25&created_before=2026-02-23'), [])
        })

        it('date-time bounds are inclusive, and offsets are honoured', async () => {
          assert.deepEqual(await names('?created_before=2026-02-24T00:00:00Z'), ['a', 'b'])
          assert.deepEqual(await names('?created_after=2026-02-24T14:30:00Z'), ['c', 'd', 'e'])
          assert.deepEqual(await names('?created_after=2026-02-24T14:30:01Z'), ['d', 'e'])
          // 16:30+02:00 is 14:30Z; the offset's + is sent as %2B.
          assert.deepEqual(await names('?created_after=2026-02-24T16:30:00%2B02:00&created_before=2026-02-24T14:30:00Z'), ['c'])
          assert.deepEqual(await names('?created_before=2026-02-24T19:00:00-05:00'), ['a', 'b', 'c', 'd', 'e'])
          // Fractions are truncated like everywhere else.
          assert.deepEqual(await names('?created_before=2026-02-24T00:00:00.999Z'), ['a', 'b'])
          const res = await get(key, '?created_after=2026-02-24&created_before=2026-02-24')
          assert.equal(res.body.pagination.total, 3)
        })

        it('updated_after (inclusive, date or date-time)', async () => {
          assert.deepEqual(await names('?updated_after=2026-02-24T23:59:59Z'), ['d', 'e'])
          assert.deepEqual(await names('?updated_after=2026-02-25'), ['e'])
          assert.deepEqual(await names('?updated_after=2026-02-24'), ['b', 'c', 'd', 'e'])
        })
      })

      describe('sort', () => {
        let key: string
        const ids: Record<string, number> = {}
        before(async () => {
          key = (await createTenant(t.database)).apiKey
          const { locationId } = await createBasics(t.app, key)
          // name: [created_at, updated_at, scheduled_start]
          const rows: Record<string, [string, string, string | null]> = {
            p: ['2026-02-01T00:00:00Z', '2026-02-10T00:00:00Z', '2026-03-05T09:00:00Z'],
            q: ['2026-02-02T00:00:00Z', '2026-02-05T00:00:00Z', null],
            r: ['2026-02-03T00:00:00Z', '2026-02-07T00:00:00Z', '2026-03-01T09:00:00Z'],
            s: ['2026-02-03T00:00:00Z', '2026-02-07T00:00:00Z', '2026-03-01T09:00:00Z'],
            u: ['2026-02-04T00:00:00Z', '2026-02-01T00:00:00Z', null],
          }
          for (const [name, [created, updated, start]] of Object.entries(rows)) {
            ids[name] = await createJobVia(t.app, key, locationId, { job_title: name, ...(start && { scheduled_start: start }) })
            await setTimes(ids[name]!, { created_at: created, updated_at: updated })
          }
        })
        const order = async (sort?: string) => {
          const res = await get(key, sort ? `?sort=${sort}` : '')
          assertOk(res)
          return (res.body.data as Array<{ job_title: string }>).map((j) => j.job_title).join('')
        }

        it('default is -created_at, ties by job_id descending', async () => {
          assert.equal(await order(), 'usrqp')
          assert.equal(await order('-created_at'), 'usrqp')
        })

        it('created_at and updated_at, both directions, ties by job_id in the same direction', async () => {
          assert.equal(await order('created_at'), 'pqrsu')
          assert.equal(await order('updated_at'), 'uqrsp')
          assert.equal(await order('-updated_at'), 'psrqu')
        })

        it('scheduled_start: jobs without one come last in both directions', async () => {
          assert.equal(await order('scheduled_start'), 'rspqu')
          assert.equal(await order('-scheduled_start'), 'psruq')
        })

        it('sort combines with pagination', async () => {
          const first = await get(key, '?sort=scheduled_start&per_page=2')
          const second = await get(key, '?sort=scheduled_start&per_page=2&page=2')
          const third = await get(key, '?sort=scheduled_start&per_page=2&page=3')
          const titles = [first, second, third].flatMap((r) => r.body.data.map((j: { job_title: string }) => j.job_title)).join('')
          assert.equal(titles, 'rspqu')
        })
      })

      describe('pagination and Link', () => {
        let key: string
        let ids: number[]
        before(async () => {
          key = (await createTenant(t.database)).apiKey
          const { locationId } = await createBasics(t.app, key)
          ids = []
          for (let i = 0; i < 5; i++) ids.push(await createJobVia(t.app, key, locationId, { job_title: `Job ${i}` }))
          ids.reverse() // newest first
        })

        it('pages split the list; total and total_pages are true', async () => {
          const pages = []
          for (const page of [1, 2, 3]) {
            const res = await get(key, `?per_page=2&page=${page}`)
            assertOk(res)
            assert.deepEqual(res.body.pagination, { page, per_page: 2, total: 5, total_pages: 3 })
            pages.push(...res.body.data.map((j: { job_id: number }) => j.job_id))
          }
          assert.deepEqual(pages, ids)
        })

        it('a page past the end is empty data with true pagination', async () => {
          const res = await get(key, '?per_page=2&page=4')
          assertOk(res)
          assert.deepEqual(res.body.data, [])
          assert.deepEqual(res.body.pagination, { page: 4, per_page: 2, total: 5, total_pages: 3 })
          const far = await get(key, '?page=1000')
          assert.deepEqual(far.body.data, [])
          assert.deepEqual(far.body.pagination, { page: 1000, per_page: 50, total: 5, total_pages: 1 })
        })

        it('per_page above 100 is clamped to 100 and the answer says so', async () => {
          for (const n of [101, 500, 100000]) {
            const res = await get(key, `?per_page=${n}`)
            assertOk(res)
            assert.deepEqual(res.body.pagination, { page: 1, per_page: 100, total: 5, total_pages: 1 })
            assert.equal(res.body.data.length, 5)
          }
          const exact = await get(key, '?per_page=100')
          assert.equal(exact.body.pagination.per_page, 100)
          const one = await get(key, '?per_page=1')
          assert.deepEqual(one.body.pagination, { page: 1, per_page: 1, total: 5, total_pages: 5 })
        })

        it('Link has first, prev, next, last where they exist, keeping the other parameters', async () => {
          const middle = await get(key, '?status=Pending&per_page=2&page=2')
          const link = parseLink(middle.headers.link)
          assert.deepEqual([...link.keys()].sort(), ['first', 'last', 'next', 'prev'])
          for (const [rel, page] of [['first', '1'], ['prev', '1'], ['next', '3'], ['last', '3']] as const) {
            assert.equal(link.get(rel)!.path, '/api/v1/jobs')
            assert.deepEqual(link.get(rel)!.params, { status: 'Pending', page, per_page: '2' }, rel)
          }

          const first = parseLink((await get(key, '?per_page=2')).headers.link)
          assert.deepEqual([...first.keys()].sort(), ['first', 'last', 'next'])
          assert.equal(first.get('next')!.params.page, '2')
          assert.equal(first.get('last')!.params.page, '3')

          const last = parseLink((await get(key, '?per_page=2&page=3')).headers.link)
          assert.deepEqual([...last.keys()].sort(), ['first', 'last', 'prev'])
          assert.equal(last.get('prev')!.params.page, '2')

          const past = parseLink((await get(key, '?per_page=2&page=9')).headers.link)
          assert.equal(past.has('next'), false)
          assert.equal(past.has('prev'), true)
          assert.equal(past.get('last')!.params.page, '3')

          const single = parseLink((await get(key)).headers.link)
          assert.equal(single.has('next'), false)
          assert.equal(single.has('prev'), false)
        })

        it('following next links walks the whole list', async () => {
          let url: string | undefined = `${PATH}?per_page=2&status=Pending,Assigned`
          const seen: number[] = []
          for (let guard = 0; url && guard < 10; guard++) {
            const res = await call(t.app, 'GET', url, { key })
            assertOk(res)
            seen.push(...res.body.data.map((j: { job_id: number }) => j.job_id))
            url = parseLink(res.headers.link).get('next')?.raw
          }
          assert.deepEqual(seen, ids)
        })

        it('Link keeps the status filter usable (In Progress survives the round trip)', async () => {
          const id = ids[0]!
          assertOk(await patch(key, id, 'Assigned'))
          assertOk(await patch(key, id, 'In Progress'))
          const res = await get(key, '?status=In+Progress&per_page=1')
          assert.deepEqual(res.body.data.map((j: { job_id: number }) => j.job_id), [id])
          const firstLink = parseLink(res.headers.link).get('first')!
          assert.equal(firstLink.params.status, 'In Progress')
          const again = await call(t.app, 'GET', firstLink.raw, { key })
          assertOk(again)
          assert.deepEqual(again.body.data.map((j: { job_id: number }) => j.job_id), [id])
        })
      })
    })

    describe('assets on jobs', () => {
      it('POST links assets (duplicates collapse, unknown and foreign ids skipped); GET shows them, lists do not', async () => {
        const { apiKey } = await createTenant(t.database)
        const other = await createTenant(t.database, { name: 'Other Co' })
        const { locationId } = await createBasics(t.app, apiKey)
        const a1 = await createAssetVia(t.app, apiKey, 'HVAC-007')
        const a2 = await createAssetVia(t.app, apiKey, 'HVAC-008', { asset_status: 'In Maintenance' })
        const foreign = await createAssetVia(t.app, other.apiKey, 'HVAC-009')
        const before = nowSeconds()
        const id = await createJobVia(t.app, apiKey, locationId, { asset_ids: [a1, a2, a1, 99_999_999, foreign] })
        const job = await getJob(apiKey, id)
        assert.equal(job.assets.length, 2)
        const byId = new Map(job.assets.map((a: { asset_id: number }) => [a.asset_id, a]))
        assert.deepEqual(byId.get(a1), {
          asset_id: a1,
          asset_tag: 'HVAC-007',
          asset_name: 'Asset HVAC-007',
          asset_status: 'Active',
          relationship_type: 'serviced',
          relationship_notes: null,
          linked_at: (byId.get(a1) as { linked_at: string }).linked_at,
        })
        assert.equal((byId.get(a2) as { asset_status: string }).asset_status, 'In Maintenance')
        for (const a of job.assets) {
          assert.match(a.linked_at, TIMESTAMP)
          assert.ok(at(a.linked_at) >= before)
        }
        const listed = await get(apiKey, '')
        assert.equal('assets' in listed.body.data[0], false)
      })

      // GET ?id= sends the job as serialised once for its ETag, not through the response schema.
      it('GET ?id= sends exactly the documented fields, in order, as valid JSON text; its ETag is the one writes report', async () => {
        const { apiKey } = await createTenant(t.database)
        const { locationId } = await createBasics(t.app, apiKey)
        const assetId = await createAssetVia(t.app, apiKey, 'WIRE-1')
        const title = 'Quote " backslash \\ </script> ☃ 🚀 end'
        // U+2028 is valid JSON but was not valid JavaScript: a description may hold it (a title may not).
        const description = 'line 1\nline 2 \u2028 line 3'
        const id = await createJobVia(t.app, apiKey, locationId, { job_title: title, job_description: description, asset_ids: [assetId] })
        const res = await t.app.inject({ method: 'GET', url: `${PATH}?id=${id}`, headers: { 'x-api-key': apiKey } })
        assert.equal(res.statusCode, 200)
        assert.equal(res.headers['content-type'], 'application/json; charset=utf-8')
        const body = JSON.parse(res.body)
        assert.equal(res.body, JSON.stringify(body))
        assert.deepEqual(Object.keys(body), ['data', 'request_id'])
        assert.equal(body.request_id, res.headers['x-request-id'])
        assert.deepEqual(Object.keys(body.data), [...LIST_FIELDS, 'assets'])
        assert.deepEqual(Object.keys(body.data.assets[0]), ['asset_id', 'asset_tag', 'asset_name', 'asset_status', 'relationship_type', 'relationship_notes', 'linked_at'])
        assert.equal(body.data.job_title, title)
        assert.equal(body.data.job_description, description)
        // The same tag as before the JSON was reused for it: clients' stored ETags stay valid across the upgrade.
        const { row_version } = await t.database.db.selectFrom('jobs').select('row_version').where('job_id', '=', id).executeTakeFirstOrThrow()
        assert.equal(res.headers.etag, etagOf([row_version, body.data]))
        const changed = await patch(apiKey, id, 'Cancelled')
        assertOk(changed)
        const again = await get(apiKey, `?id=${id}`)
        assert.notEqual(again.headers.etag, res.headers.etag)
        assert.equal(again.headers.etag, changed.headers.etag)
      })

      // A list page is serialised once and remembered as UTF-8 bytes; each answer adds only its request id.
      it('a list page (first and remembered) is valid UTF-8 JSON with its own request id, and Content-Length counts bytes', async () => {
        const { apiKey } = await createTenant(t.database)
        const { locationId } = await createBasics(t.app, apiKey)
        const title = 'Quote " backslash \\ </script> ☃ 🚀 end'
        const description = 'U+2028 \u2028 and U+2029 \u2029 end'
        await createJobVia(t.app, apiKey, locationId, { job_title: title, job_description: description })
        const answers = [] as Array<{ statusCode: number; body: string; headers: Record<string, unknown> }>
        for (let i = 0; i < 3; i++) answers.push(await t.app.inject({ method: 'GET', url: `${PATH}?per_page=5`, headers: { 'x-api-key': apiKey } }))
        const ids = new Set<string>()
        for (const res of answers) {
          assert.equal(res.headers['content-type'], 'application/json; charset=utf-8')
          assert.equal(Number(res.headers['content-length']), Buffer.byteLength(res.body))
          const body = JSON.parse(res.body)
          assert.equal(res.body, JSON.stringify(body))
          assert.deepEqual(Object.keys(body), ['data', 'pagination', 'request_id'])
          assert.equal(body.request_id, res.headers['x-request-id'])
          assert.equal(body.data[0].job_title, title)
          assert.equal(body.data[0].job_description, description)
          assert.deepEqual(Object.keys(body.data[0]), LIST_FIELDS)
          ids.add(body.request_id)
        }
        assert.equal(ids.size, answers.length)
        // Written straight to the socket, the answer keeps the headers every answer has.
        for (const res of answers) {
          assert.equal(res.statusCode, 200)
          assert.equal(res.headers['x-content-type-options'], 'nosniff')
          assert.match(String(res.headers['x-ratelimit-limit']), /^\d+$/)
          assert.match(String(res.headers['x-ratelimit-remaining']), /^\d+$/)
          assert.equal(res.headers['cache-control'], answers[0]!.headers['cache-control'])
        }
        // HEAD: the same headers, no body.
        const head = await t.app.inject({ method: 'HEAD', url: `${PATH}?per_page=5`, headers: { 'x-api-key': apiKey } })
        assert.equal(head.statusCode, 200)
        assert.equal(head.body, '')
        assert.equal(head.headers['content-type'], 'application/json; charset=utf-8')
        assert.equal(Number(head.headers['content-length']), Buffer.byteLength(answers[0]!.body))
        // Only the request id differs between the first answer and the remembered ones.
        const withoutId = (text: string) => text.replace(/"request_id":"[^"]*"/, '')
        assert.equal(withoutId(answers[1]!.body), withoutId(answers[0]!.body))
        assert.equal(withoutId(answers[2]!.body), withoutId(answers[0]!.body))
      })

      it('asset_relationship_type applies to the links of that request', async () => {
        const { apiKey } = await createTenant(t.database)
        const { locationId } = await createBasics(t.app, apiKey)
        const a1 = await createAssetVia(t.app, apiKey, 'T-1')
        const id = await createJobVia(t.app, apiKey, locationId, { asset_ids: [a1], asset_relationship_type: 'installed' })
        assert.equal((await getJob(apiKey, id)).assets[0].relationship_type, 'installed')
      })

      it('PUT asset_ids replaces the links; staying links keep linked_at and type; [] removes all', async () => {
        const { apiKey } = await createTenant(t.database)
        const { locationId } = await createBasics(t.app, apiKey)
        const [a1, a2, a3] = [await createAssetVia(t.app, apiKey, 'S-1'), await createAssetVia(t.app, apiKey, 'S-2'), await createAssetVia(t.app, apiKey, 'S-3')]
        const id = await createJobVia(t.app, apiKey, locationId, { asset_ids: [a1, a2], asset_relationship_type: 'inspected' })
        // Make the existing links visibly old.
        await t.database.db.updateTable('job_assets').set({ linked_at: at('2026-01-01T00:00:00Z') }).where('job_id', '=', id).execute()
        assertOk(await put(apiKey, id, { asset_ids: [a2, a3] }))
        let assets = (await getJob(apiKey, id)).assets as Array<{ asset_id: number; linked_at: string; relationship_type: string }>
        assert.deepEqual(assets.map((a) => a.asset_id).sort((x, y) => x - y), [a2, a3].sort((x, y) => x - y))
        const kept = assets.find((a) => a.asset_id === a2)!
        assert.equal(kept.linked_at, '2026-01-01T00:00:00Z')
        assert.equal(kept.relationship_type, 'inspected')
        const added = assets.find((a) => a.asset_id === a3)!
        assert.equal(added.relationship_type, 'serviced')
        assert.notEqual(added.linked_at, '2026-01-01T00:00:00Z')
        // A type sent with asset_ids applies to every link of the request.
        assertOk(await put(apiKey, id, { asset_ids: [a2, a3], asset_relationship_type: 'replaced' }))
        assets = (await getJob(apiKey, id)).assets
        assert.deepEqual(assets.map((a) => a.relationship_type), ['replaced', 'replaced'])
        assert.equal(assets.find((a) => a.asset_id === a2)!.linked_at, '2026-01-01T00:00:00Z')
        // A PUT without asset_ids leaves links alone.
        assertOk(await put(apiKey, id, { job_title: 'No asset change' }))
        assert.equal((await getJob(apiKey, id)).assets.length, 2)
        assertOk(await put(apiKey, id, { asset_ids: [] }))
        assert.deepEqual((await getJob(apiKey, id)).assets, [])
      })

      it('deleted assets are left out of a job and skipped in asset_ids', async () => {
        const { apiKey } = await createTenant(t.database)
        const { locationId } = await createBasics(t.app, apiKey)
        const a1 = await createAssetVia(t.app, apiKey, 'D-1')
        const a2 = await createAssetVia(t.app, apiKey, 'D-2')
        const id = await createJobVia(t.app, apiKey, locationId, { asset_ids: [a1, a2] })
        assertOk(await call(t.app, 'DELETE', `/api/v1/assets?id=${a1}`, { key: apiKey }))
        assert.deepEqual((await getJob(apiKey, id)).assets.map((a: { asset_id: number }) => a.asset_id), [a2])
        const other = await createJobVia(t.app, apiKey, locationId, { asset_ids: [a1, a2] })
        assert.deepEqual((await getJob(apiKey, other)).assets.map((a: { asset_id: number }) => a.asset_id), [a2])
      })

      it('without the Asset Management module: assets is [] and asset_ids is 403 plan_upgrade_required', async () => {
        const { apiKey } = await createTenant(t.database, { modules: [] })
        const { locationId } = await createBasics(t.app, apiKey)
        const id = await createJobVia(t.app, apiKey, locationId)
        assert.deepEqual((await getJob(apiKey, id)).assets, [])
        for (const res of [
          await post(apiKey, { job_title: 'X', customer_location_id: locationId, asset_ids: [1] }),
          await post(apiKey, { job_title: 'X', customer_location_id: locationId, asset_ids: [] }),
          await put(apiKey, id, { asset_ids: [] }),
        ]) {
          assert.equal(res.status, 403, JSON.stringify(res.body))
          assert.equal(res.body.error.code, 'plan_upgrade_required')
        }
        assert.equal((await listIds(apiKey, '')).length, 1)
      })
    })

    describe('tenant isolation', () => {
      let mine: { apiKey: string; companyId: number }
      let theirs: { apiKey: string; companyId: number }
      let myJob: number
      let theirJob: number
      before(async () => {
        mine = await createTenant(t.database, { name: 'Mine' })
        theirs = await createTenant(t.database, { name: 'Theirs' })
        const myBasics = await createBasics(t.app, mine.apiKey)
        const theirBasics = await createBasics(t.app, theirs.apiKey, ' (theirs)')
        myJob = await createJobVia(t.app, mine.apiKey, myBasics.locationId, { job_title: 'Mine' })
        for (let i = 0; i < 3; i++) theirJob = await createJobVia(t.app, theirs.apiKey, theirBasics.locationId, { job_title: 'Theirs' })
      })

      it("GET, PUT and PATCH of another company's job are 404 not_found and change nothing", async () => {
        const before = await getJob(theirs.apiKey, theirJob)
        for (const res of [
          await get(mine.apiKey, `?id=${theirJob}`),
          await put(mine.apiKey, theirJob, { job_title: 'Hijacked' }),
          await patch(mine.apiKey, theirJob, 'Assigned'),
          await patch(mine.apiKey, theirJob, 'Completed'),
          await call(t.app, 'GET', `/api/v1/jobs/history?id=${theirJob}`, { key: mine.apiKey }),
          await call(t.app, 'GET', `/api/v1/jobs/transitions?id=${theirJob}`, { key: mine.apiKey }),
        ]) {
          assert.equal(res.status, 404, JSON.stringify(res.body))
          assert.equal(res.body.success, false)
          assert.equal(res.body.error.code, 'not_found')
          assert.doesNotMatch(JSON.stringify(res.body), /Theirs|another company|forbidden/i)
        }
        assert.deepEqual(await getJob(theirs.apiKey, theirJob), before)
      })

      it('the 404 for a foreign id is indistinguishable from a missing id', async () => {
        const foreign = await get(mine.apiKey, `?id=${theirJob}`)
        const missing = await get(mine.apiKey, `?id=${theirJob + 1_000_000}`)
        assert.equal(foreign.status, missing.status)
        assert.equal(foreign.body.error.code, missing.body.error.code)
        assert.equal(
          foreign.body.error.message.replace(String(theirJob), 'N'),
          missing.body.error.message.replace(String(theirJob + 1_000_000), 'N'),
        )
      })

      it("lists and totals never include another company's jobs, whatever the filters", async () => {
        const queries = ['', '?status=Pending', '?per_page=1', '?priority=Medium', '?created_after=2000-01-01', '?sort=created_at', '?page=2&per_page=1']
        for (const q of queries) {
          const res = await get(mine.apiKey, q)
          assertOk(res)
          assert.equal(res.body.pagination.total, 1, q)
          for (const job of res.body.data) assert.equal(job.job_title, 'Mine', q)
        }
        const theirsList = await get(theirs.apiKey)
        assert.equal(theirsList.body.pagination.total, 3)
        assert.ok(theirsList.body.data.every((j: { job_id: number }) => j.job_id !== myJob))
        // Filtering by their location or customer finds nothing for me.
        const theirLocation = (await getJob(theirs.apiKey, theirJob)).customer_location_id
        const theirCustomer = (await getJob(theirs.apiKey, theirJob)).customer_id
        assert.deepEqual(await listIds(mine.apiKey, `?customer_location_id=${theirLocation}`), [])
        assert.deepEqual(await listIds(mine.apiKey, `?customer_id=${theirCustomer}`), [])
      })

      it("a second key of the same company sees the company's jobs", async () => {
        const extra = await createExtraKey(t.database, mine.companyId, ['jobs:read'])
        assert.deepEqual(await listIds(extra.apiKey, ''), [myJob])
        assert.equal((await getJob(extra.apiKey, myJob)).job_title, 'Mine')
      })
    })
  })
}
