/**
 * /api/v1/technicians through HTTP (API.md §1, §3, §5): happy paths, every
 * validation rule, scopes (technicians:*), tenant isolation, the live
 * technician name on jobs, and "only Active technicians can be assigned".
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { assertError, assertInvalid, assertRecent, BACKDATED, EMAILS_WITH_CONTROL_CHARACTERS, TIMESTAMP } from './helpers/assertions.ts'
import { DIALECTS, startTestApp, type TestApp } from './helpers/app.ts'
import { call, createBasics, createExtraKey, createJobVia, createTenant } from './helpers/factories.ts'

const PATH = '/api/v1/technicians'



for (const dialect of DIALECTS) {
  describe(`technicians (${dialect})`, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp(dialect)
    })
    after(() => t.close())

    const tenant = () => createTenant(t.database)
    const post = (key: string, body: unknown) => call(t.app, 'POST', PATH, { key, body })
    const put = (key: string, id: number | string, body: unknown) => call(t.app, 'PUT', `${PATH}?id=${id}`, { key, body })
    const get = (key: string, query = '') => call(t.app, 'GET', `${PATH}${query}`, { key })
    const getJob = async (key: string, jobId: number) => (await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key })).body.data
    async function make(key: string, body: Record<string, unknown>) {
      const res = await post(key, body)
      assert.equal(res.status, 201, JSON.stringify(res.body))
      return res.body.data as Record<string, any>
    }

    describe('create', () => {
      it('answers 201 with a Location header and the full record', async () => {
        const { apiKey } = await tenant()
        const res = await post(apiKey, { technician_name: 'John Smith', technician_email: 'john@fsm.example', technician_phone: '+1 555 0142' })
        assert.equal(res.status, 201)
        assert.equal(res.body.success, true)
        assert.equal(res.body.message, 'Technician created successfully')
        const data = res.body.data
        assert.equal(res.headers.location, `/api/v1/technicians?id=${data.technician_id}`)
        assert.ok(Number.isInteger(data.technician_id) && data.technician_id > 0)
        assert.match(data.created_at, TIMESTAMP)
        assert.equal(data.updated_at, data.created_at)
        assert.deepEqual(data, {
          technician_id: data.technician_id,
          technician_name: 'John Smith',
          technician_email: 'john@fsm.example',
          technician_phone: '+1 555 0142',
          technician_status: 'Active',
          created_at: data.created_at,
          updated_at: data.updated_at,
        })
        const read = await get(apiKey, `?id=${data.technician_id}`)
        assert.equal(read.status, 200)
        assert.deepEqual(read.body, { data, request_id: read.body.request_id })
      })

      it('defaults status to Active and the optional fields to null; Inactive can be given', async () => {
        const { apiKey } = await tenant()
        const plain = await make(apiKey, { technician_name: 'Marco Rossi' })
        assert.equal(plain.technician_status, 'Active')
        assert.equal(plain.technician_email, null)
        assert.equal(plain.technician_phone, null)
        const inactive = await make(apiKey, { technician_name: 'Dana Lee', technician_status: 'Inactive' })
        assert.equal(inactive.technician_status, 'Inactive')
      })

      it('trims strings; optional text empty after trimming is null', async () => {
        const { apiKey } = await tenant()
        const data = await make(apiKey, { technician_name: '  Priya Patel  ', technician_email: ' priya@fsm.example ', technician_phone: '  ' })
        assert.equal(data.technician_name, 'Priya Patel')
        assert.equal(data.technician_email, 'priya@fsm.example')
        assert.equal(data.technician_phone, null)
      })
    })

    describe('create: validation', () => {
      it('requires technician_name', async () => {
        const { apiKey } = await tenant()
        assertInvalid(await post(apiKey, {}), ['technician_name'], /is required/)
        assertInvalid(await post(apiKey, { technician_name: '   ' }), ['technician_name'], /is required/)
        assertInvalid(await post(apiKey, { technician_name: null }), ['technician_name'])
        assertInvalid(await post(apiKey, { technician_email: 'a@b.example' }), ['technician_name'])
      })

      it('rejects wrong types and unknown fields, every one reported', async () => {
        const { apiKey } = await tenant()
        assertInvalid(await post(apiKey, { technician_name: 87 }), ['technician_name'], /must be a string/)
        assertInvalid(await post(apiKey, { technician_name: 'A', technician_phone: 5550142 }), ['technician_phone'], /must be a string or null/)
        assertInvalid(await post(apiKey, { technician_name: 'A', technician_id: 4 }), ['technician_id'], /not a known field/)
        assertInvalid(await post(apiKey, { technician_name: 'A', status: 'Active' }), ['status'])
        assertInvalid(await post(apiKey, { technician_name: 1, technician_email: 'x', technician_status: 'Gone', skills: [] }), [
          'technician_name', 'technician_email', 'technician_status', 'skills',
        ])
        assert.equal((await get(apiKey)).body.pagination.total, 0)
      })

      it('technician_status is exact (no trimming or case folding) and not nullable', async () => {
        const { apiKey } = await tenant()
        for (const bad of ['active', 'ACTIVE', ' Active', 'Active ', 'Retired', '', 1, true]) {
          assertInvalid(await post(apiKey, { technician_name: 'A', technician_status: bad }), ['technician_status'])
        }
        assertInvalid(await post(apiKey, { technician_name: 'A', technician_status: 'On Leave' }), ['technician_status'], /must be one of: Active, Inactive/)
        assertInvalid(await post(apiKey, { technician_name: 'A', technician_status: null }), ['technician_status'])
      })

      it('rejects a bad email', async () => {
        const { apiKey } = await tenant()
        for (const email of ['john', 'john@', 'john@host', 'jo hn@fsm.example']) {
          assertInvalid(await post(apiKey, { technician_name: 'A', technician_email: email }), ['technician_email'], /email/)
        }
      })

      it('rejects control characters, line separators and lone surrogates in an email, on POST and PUT (a NUL was a 500 on PostgreSQL)', async () => {
        const { apiKey } = await tenant()
        const tech = await make(apiKey, { technician_name: 'A', technician_email: 'josé@exämple.example' })
        assert.equal(tech.technician_email, 'josé@exämple.example')
        for (const email of EMAILS_WITH_CONTROL_CHARACTERS) {
          assertInvalid(await post(apiKey, { technician_name: 'A', technician_email: email }), ['technician_email'], /email/)
          assertInvalid(await put(apiKey, tech.technician_id, { technician_email: email }), ['technician_email'], /email/)
        }
      })

      it('limits names to 200 code points (an emoji is one)', async () => {
        const { apiKey } = await tenant()
        assert.equal((await make(apiKey, { technician_name: 'j'.repeat(200) })).technician_name.length, 200)
        assertInvalid(await post(apiKey, { technician_name: 'j'.repeat(201) }), ['technician_name'], /at most 200/)
        const emoji = '👷'.repeat(200)
        assert.equal((await make(apiKey, { technician_name: emoji })).technician_name, emoji)
        assertInvalid(await post(apiKey, { technician_name: '👷'.repeat(201) }), ['technician_name'])
        assert.equal((await make(apiKey, { technician_name: 'p', technician_phone: '1'.repeat(200) })).technician_phone.length, 200)
        assertInvalid(await post(apiKey, { technician_name: 'p', technician_phone: '1'.repeat(201) }), ['technician_phone'])
      })

      it('rejects control characters in names and phones (tab and LF included)', async () => {
        const { apiKey } = await tenant()
        assertInvalid(await post(apiKey, { technician_name: 'John\tSmith' }), ['technician_name'], /control characters/)
        assertInvalid(await post(apiKey, { technician_name: 'John\nSmith' }), ['technician_name'])
        assertInvalid(await post(apiKey, { technician_name: 'John\u0000' }), ['technician_name'])
        assertInvalid(await post(apiKey, { technician_name: 'J', technician_phone: '555\u00070142' }), ['technician_phone'])
      })

      it('rejects a query string on POST', async () => {
        const { apiKey } = await tenant()
        assertInvalid(await call(t.app, 'POST', `${PATH}?status=Active`, { key: apiKey, body: { technician_name: 'A' } }), ['status'])
      })
    })

    describe('get and list', () => {
      it('GET ?id=: not_found for an unknown id, validation_failed for a bad one or with list parameters', async () => {
        const { apiKey } = await tenant()
        const tech = await make(apiKey, { technician_name: 'John' })
        assertError(await get(apiKey, '?id=777777'), 404, 'not_found')
        assertInvalid(await get(apiKey, '?id=seven'), ['id'], /integer/)
        assertInvalid(await get(apiKey, '?id=-7'), ['id'])
        assertInvalid(await get(apiKey, `?id=${tech.technician_id}&status=Active`), ['status'], /cannot be combined with id/)
        assertInvalid(await get(apiKey, `?id=${tech.technician_id}&q=jo&per_page=1`), ['q', 'per_page'])
      })

      it('lists newest first with pagination and a Link header', async () => {
        const { apiKey } = await tenant()
        const ids: number[] = []
        for (let i = 1; i <= 5; i++) ids.push((await make(apiKey, { technician_name: `Tech ${i}` })).technician_id)
        const all = await get(apiKey)
        assert.deepEqual(all.body.data.map((x: any) => x.technician_id), [...ids].reverse())
        assert.deepEqual(all.body.pagination, { page: 1, per_page: 50, total: 5, total_pages: 1 })
        const page = await get(apiKey, '?status=Active&page=2&per_page=2')
        assert.deepEqual(page.body.data.map((x: any) => x.technician_id), [ids[2], ids[1]])
        assert.deepEqual(page.body.pagination, { page: 2, per_page: 2, total: 5, total_pages: 3 })
        const target = (n: number) => `</api/v1/technicians?status=Active&page=${n}&per_page=2>`
        assert.equal(page.headers.link, `${target(1)}; rel="first", ${target(1)}; rel="prev", ${target(3)}; rel="next", ${target(3)}; rel="last"`)
        const past = await get(apiKey, '?page=6&per_page=2')
        assert.deepEqual(past.body.data, [])
        assert.deepEqual(past.body.pagination, { page: 6, per_page: 2, total: 5, total_pages: 3 })
        assert.equal((await get(apiKey, '?per_page=1000')).body.pagination.per_page, 100)
      })

      it('filters by status', async () => {
        const { apiKey } = await tenant()
        const a = await make(apiKey, { technician_name: 'A' })
        const b = await make(apiKey, { technician_name: 'B', technician_status: 'Inactive' })
        const c = await make(apiKey, { technician_name: 'C' })
        const active = await get(apiKey, '?status=Active')
        assert.deepEqual(active.body.data.map((x: any) => x.technician_id), [c.technician_id, a.technician_id])
        assert.equal(active.body.pagination.total, 2)
        const inactive = await get(apiKey, '?status=Inactive')
        assert.deepEqual(inactive.body.data.map((x: any) => x.technician_id), [b.technician_id])
        assert.equal((await put(apiKey, a.technician_id, { technician_status: 'Inactive' })).status, 200)
        assert.deepEqual((await get(apiKey, '?status=Inactive')).body.data.map((x: any) => x.technician_id), [a.technician_id, b.technician_id].sort((x, y) => y - x))
        assertInvalid(await get(apiKey, '?status=active'), ['status'], /must be one of/)
        assertInvalid(await get(apiKey, '?status=Active,Inactive'), ['status'])
      })

      it('q matches names containing the text, case-insensitively, % and _ literal, combined with status', async () => {
        const { apiKey } = await tenant()
        const john = await make(apiKey, { technician_name: 'John Smith' })
        const johanna = await make(apiKey, { technician_name: 'Jöhanna Smith', technician_status: 'Inactive' })
        const pct = await make(apiKey, { technician_name: 'Mr 100%' })
        const under = await make(apiKey, { technician_name: 'o_neil' })
        const ids = async (query: string) => (await get(apiKey, query)).body.data.map((x: any) => x.technician_id)
        assert.deepEqual(await ids('?q=SMITH'), [johanna.technician_id, john.technician_id])
        assert.deepEqual(await ids('?q=smith&status=Active'), [john.technician_id])
        assert.deepEqual(await ids(`?q=${encodeURIComponent('JÖH')}`), [johanna.technician_id])
        assert.deepEqual(await ids('?q=%25'), [pct.technician_id])
        assert.deepEqual(await ids('?q=_'), [under.technician_id])
        assert.deepEqual(await ids('?q=o_n'), [under.technician_id])
        assert.deepEqual(await ids('?q=john+smith'), [john.technician_id])
        assert.deepEqual(await ids('?q=nobody'), [])
      })

      it('rejects unknown, repeated, empty and malformed query parameters', async () => {
        const { apiKey } = await tenant()
        assertInvalid(await get(apiKey, '?stauts=Active'), ['stauts'], /not a known parameter/)
        assertInvalid(await get(apiKey, '?technician_status=Active'), ['technician_status'])
        assertInvalid(await get(apiKey, '?status=Active&status=Inactive'), ['status'], /repeated/)
        assertInvalid(await get(apiKey, '?status='), ['status'], /empty/)
        assertInvalid(await get(apiKey, '?q=a&q=b'), ['q'])
        assertInvalid(await get(apiKey, '?page=1e2'), ['page'], /integer/)
        assertInvalid(await get(apiKey, '?per_page=0'), ['per_page'])
      })
    })

    describe('update', () => {
      it('changes only the fields sent and answers the full record', async () => {
        const { apiKey } = await tenant()
        const tech = await make(apiKey, { technician_name: 'John Smith', technician_email: 'john@fsm.example' })
        await t.database.db.updateTable('technicians').set({ updated_at: BACKDATED }).where('technician_id', '=', tech.technician_id).execute()
        const res = await put(apiKey, tech.technician_id, { technician_phone: ' +1 555 0142 ' })
        assert.equal(res.status, 200)
        assert.equal(res.body.success, true)
        assert.equal(res.body.message, 'Technician updated successfully')
        assert.deepEqual(res.body.data, { ...tech, technician_phone: '+1 555 0142', updated_at: res.body.data.updated_at })
        assertRecent(res.body.data.updated_at)
        assert.deepEqual((await get(apiKey, `?id=${tech.technician_id}`)).body.data, res.body.data)
      })

      it('null clears email and phone; status toggles', async () => {
        const { apiKey } = await tenant()
        const tech = await make(apiKey, { technician_name: 'J', technician_email: 'j@fsm.example', technician_phone: '1' })
        const res = await put(apiKey, tech.technician_id, { technician_email: null, technician_phone: null, technician_status: 'Inactive' })
        assert.equal(res.status, 200)
        assert.deepEqual(res.body.data, { ...tech, technician_email: null, technician_phone: null, technician_status: 'Inactive', updated_at: res.body.data.updated_at })
        const back = await put(apiKey, tech.technician_id, { technician_status: 'Active' })
        assert.equal(back.body.data.technician_status, 'Active')
      })

      it('validates like create, and refuses an empty body, a null status or name, and a missing id', async () => {
        const { apiKey } = await tenant()
        const tech = await make(apiKey, { technician_name: 'John' })
        const id = tech.technician_id
        assertInvalid(await put(apiKey, id, {}), ['body'], /at least one field/)
        assertInvalid(await put(apiKey, id, { technician_status: null }), ['technician_status'])
        assertInvalid(await put(apiKey, id, { technician_status: 'inactive' }), ['technician_status'])
        assertInvalid(await put(apiKey, id, { technician_name: null }), ['technician_name'])
        assertInvalid(await put(apiKey, id, { technician_name: ' ' }), ['technician_name'], /must not be empty/)
        assertInvalid(await put(apiKey, id, { technician_email: 'nope' }), ['technician_email'])
        assertInvalid(await put(apiKey, id, { technician_id: 9 }), ['technician_id'])
        assertInvalid(await call(t.app, 'PUT', PATH, { key: apiKey, body: { technician_name: 'X' } }), ['id'], /is required/)
        assertInvalid(await put(apiKey, '', { technician_name: 'X' }), ['id'])
        assertInvalid(await call(t.app, 'PUT', `${PATH}?id=${id}&id=${id}`, { key: apiKey, body: { technician_name: 'X' } }), ['id'], /repeated/)
        assertError(await put(apiKey, 999999, { technician_name: 'X' }), 404, 'not_found')
        assert.deepEqual((await get(apiKey, `?id=${id}`)).body.data, tech)
      })
    })

    describe('scopes', () => {
      it('uses technicians:read / technicians:write; write does not imply read', async () => {
        const owner = await tenant()
        const tech = await make(owner.apiKey, { technician_name: 'John' })
        const reader = await createExtraKey(t.database, owner.companyId, ['technicians:read'])
        const writer = await createExtraKey(t.database, owner.companyId, ['technicians:write'])
        const customersOnly = await createExtraKey(t.database, owner.companyId, ['customers:read', 'customers:write', 'jobs:read', 'jobs:write'])

        const denied = await post(reader.apiKey, { technician_name: 'X' })
        assertError(denied, 403, 'insufficient_scope')
        assert.match(denied.body.error.message, /technicians:write/)
        assertError(await put(reader.apiKey, tech.technician_id, { technician_status: 'Inactive' }), 403, 'insufficient_scope')
        assert.equal((await get(reader.apiKey, `?id=${tech.technician_id}`)).body.data.technician_status, 'Active')
        assert.equal((await get(reader.apiKey)).body.pagination.total, 1)

        const blind = await get(writer.apiKey)
        assertError(blind, 403, 'insufficient_scope')
        assert.match(blind.body.error.message, /technicians:read/)
        assertError(await get(writer.apiKey, `?id=${tech.technician_id}`), 403, 'insufficient_scope')
        assert.equal((await post(writer.apiKey, { technician_name: 'W' })).status, 201)
        assert.equal((await put(writer.apiKey, tech.technician_id, { technician_phone: '1' })).status, 200)

        assertError(await get(customersOnly.apiKey), 403, 'insufficient_scope')
        assertError(await post(customersOnly.apiKey, { technician_name: 'C' }), 403, 'insufficient_scope')
        assertError(await call(t.app, 'GET', PATH), 401, 'unauthorized')
        assertError(await call(t.app, 'POST', PATH, { body: { technician_name: 'A' } }), 401, 'unauthorized')
      })
    })

    describe('tenant isolation', () => {
      it("another company's technician is not_found on GET and PUT, and never in lists or totals", async () => {
        const a = await tenant()
        const b = await tenant()
        const mine = await make(a.apiKey, { technician_name: 'John Smith' })
        const theirs = await make(b.apiKey, { technician_name: 'John Smith' })
        await make(b.apiKey, { technician_name: 'Other', technician_status: 'Inactive' })

        assertError(await get(a.apiKey, `?id=${theirs.technician_id}`), 404, 'not_found')
        assertError(await put(a.apiKey, theirs.technician_id, { technician_status: 'Inactive' }), 404, 'not_found')
        assert.deepEqual((await get(b.apiKey, `?id=${theirs.technician_id}`)).body.data, theirs)

        const list = await get(a.apiKey)
        assert.deepEqual(list.body.data.map((x: any) => x.technician_id), [mine.technician_id])
        assert.equal(list.body.pagination.total, 1)
        assert.equal((await get(a.apiKey, '?q=john')).body.pagination.total, 1)
        assert.equal((await get(a.apiKey, '?status=Inactive')).body.pagination.total, 0)
        assert.equal((await get(b.apiKey)).body.pagination.total, 2)
      })

      it("another company's technician cannot be assigned to a job", async () => {
        const a = await tenant()
        const b = await tenant()
        const basics = await createBasics(t.app, a.apiKey)
        const theirs = await make(b.apiKey, { technician_name: 'Theirs' })
        const res = await call(t.app, 'POST', '/api/v1/jobs', { key: a.apiKey, body: { job_title: 'T', customer_location_id: basics.locationId, assigned_technician_id: theirs.technician_id } })
        assertInvalid(res, ['assigned_technician_id'])
      })
    })

    describe('conditional requests', () => {
      it('GET ?id= sends an ETag (304 on If-None-Match); PUT honours If-Match and answers the new tag', async () => {
        const { apiKey } = await tenant()
        const tech = await make(apiKey, { technician_name: 'John' })
        const tag = String((await get(apiKey, `?id=${tech.technician_id}`)).headers.etag)
        assert.match(tag, /^"[A-Za-z0-9_-]+"$/)
        const cached = await call(t.app, 'GET', `${PATH}?id=${tech.technician_id}`, { key: apiKey, headers: { 'if-none-match': tag } })
        assert.equal(cached.status, 304)
        assert.equal(cached.headers.etag, tag)
        const ok = await call(t.app, 'PUT', `${PATH}?id=${tech.technician_id}`, { key: apiKey, body: { technician_status: 'Inactive' }, headers: { 'if-match': tag } })
        assert.equal(ok.status, 200)
        assert.ok(ok.headers.etag && ok.headers.etag !== tag)
        const stale = await call(t.app, 'PUT', `${PATH}?id=${tech.technician_id}`, { key: apiKey, body: { technician_status: 'Active' }, headers: { 'if-match': tag } })
        assertError(stale, 412, 'precondition_failed')
        assert.equal((await get(apiKey, `?id=${tech.technician_id}`)).body.data.technician_status, 'Inactive')
        // Changed and changed back within a second: the record reads as it did, but a client holding the tag missed two writes.
        assert.equal((await put(apiKey, tech.technician_id, { technician_status: 'Active' })).status, 200)
        assert.equal((await put(apiKey, tech.technician_id, { technician_status: 'Inactive' })).status, 200)
        assertError(await call(t.app, 'PUT', `${PATH}?id=${tech.technician_id}`, { key: apiKey, body: { technician_name: 'Lost' }, headers: { 'if-match': String(ok.headers.etag) } }), 412, 'precondition_failed')
        assertError(await call(t.app, 'PUT', `${PATH}?id=999999`, { key: apiKey, body: { technician_name: 'X' }, headers: { 'if-match': tag } }), 404, 'not_found')
      })
    })

    describe('technicians on jobs', () => {
      it("renaming a technician changes assigned_technician_name on their jobs", async () => {
        const { apiKey } = await tenant()
        const basics = await createBasics(t.app, apiKey)
        const jobId = await createJobVia(t.app, apiKey, basics.locationId, { assigned_technician_id: basics.technicianId })
        assert.equal((await getJob(apiKey, jobId)).assigned_technician_name, 'John Smith')
        assert.equal((await put(apiKey, basics.technicianId, { technician_name: 'John A. Smith' })).status, 200)
        const job = await getJob(apiKey, jobId)
        assert.equal(job.assigned_technician_name, 'John A. Smith')
        assert.equal(job.assigned_technician_id, basics.technicianId)
        const list = await call(t.app, 'GET', `/api/v1/jobs?assigned_technician_id=${basics.technicianId}`, { key: apiKey })
        assert.deepEqual(list.body.data.map((j: any) => j.assigned_technician_name), ['John A. Smith'])
      })

      it('an Inactive technician cannot be assigned, on POST or PUT /api/v1/jobs', async () => {
        const { apiKey } = await tenant()
        const basics = await createBasics(t.app, apiKey)
        const inactive = await make(apiKey, { technician_name: 'Dana Lee', technician_status: 'Inactive' })

        const created = await call(t.app, 'POST', '/api/v1/jobs', {
          key: apiKey,
          body: { job_title: 'AC unit repair', customer_location_id: basics.locationId, assigned_technician_id: inactive.technician_id },
        })
        assertInvalid(created, ['assigned_technician_id'], /Inactive/)
        assert.equal((await call(t.app, 'GET', '/api/v1/jobs', { key: apiKey })).body.pagination.total, 0)

        const jobId = await createJobVia(t.app, apiKey, basics.locationId)
        const updated = await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: apiKey, body: { assigned_technician_id: inactive.technician_id } })
        assertInvalid(updated, ['assigned_technician_id'], /Inactive/)
        assert.equal((await getJob(apiKey, jobId)).assigned_technician_id, null)

        // Reactivated, the same technician can be assigned.
        assert.equal((await put(apiKey, inactive.technician_id, { technician_status: 'Active' })).status, 200)
        const ok = await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: apiKey, body: { assigned_technician_id: inactive.technician_id } })
        assert.equal(ok.status, 200, JSON.stringify(ok.body))
        const job = await getJob(apiKey, jobId)
        assert.equal(job.assigned_technician_id, inactive.technician_id)
        assert.equal(job.assigned_technician_name, 'Dana Lee')
      })

      it('deactivating a technician leaves the jobs already assigned as they are', async () => {
        const { apiKey } = await tenant()
        const basics = await createBasics(t.app, apiKey)
        const jobId = await createJobVia(t.app, apiKey, basics.locationId, { assigned_technician_id: basics.technicianId })
        const patched = await call(t.app, 'PATCH', `/api/v1/jobs?id=${jobId}`, { key: apiKey, body: { job_status: 'Assigned' } })
        assert.equal(patched.status, 200)
        const before = await getJob(apiKey, jobId)

        const res = await put(apiKey, basics.technicianId, { technician_status: 'Inactive' })
        assert.equal(res.status, 200)
        assert.equal(res.body.data.technician_status, 'Inactive')

        const after = await getJob(apiKey, jobId)
        assert.deepEqual(after, before)
        assert.equal(after.assigned_technician_id, basics.technicianId)
        assert.equal(after.assigned_technician_name, 'John Smith')
        assert.equal(after.job_status, 'Assigned')
        // Other changes to that job still go through while the technician stays assigned…
        const edit = await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: apiKey, body: { job_priority: 'Urgent' } })
        assert.equal(edit.status, 200, JSON.stringify(edit.body))
        assert.equal((await getJob(apiKey, jobId)).assigned_technician_id, basics.technicianId)
        // Re-sending the current technician (a sync client PUTting the whole record) is not a new assignment…
        const resend = await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: apiKey, body: { assigned_technician_id: basics.technicianId, job_priority: 'High' } })
        assert.equal(resend.status, 200, JSON.stringify(resend.body))
        // …and the job can still be unassigned…

        const unassign = await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: apiKey, body: { assigned_technician_id: null } })
        assert.equal(unassign.status, 200)
        assert.equal((await getJob(apiKey, jobId)).assigned_technician_name, null)
        // …but once unassigned, the Inactive technician cannot be assigned again.
        const reassign = await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: apiKey, body: { assigned_technician_id: basics.technicianId } })
        assert.equal(reassign.status, 400)
        assert.equal(reassign.body.error.details[0].field, 'assigned_technician_id')
      })
    })
  })
}
