/**
 * /api/v1/locations through HTTP (API.md §1, §3, §5): happy paths, every
 * validation rule, the `customer_id` reference check, scopes (customers:*),
 * tenant isolation, and the live names a location lends its jobs.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { assertError, assertInvalid, assertRecent, BACKDATED, TIMESTAMP } from './helpers/assertions.ts'
import { DIALECTS, startTestApp, type TestApp } from './helpers/app.ts'
import { call, createBasics, createExtraKey, createJobVia, createTenant } from './helpers/factories.ts'

const PATH = '/api/v1/locations'



for (const dialect of DIALECTS) {
  describe(`locations (${dialect})`, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp(dialect)
    })
    after(() => t.close())

    const post = (key: string, body: unknown) => call(t.app, 'POST', PATH, { key, body })
    const put = (key: string, id: number | string, body: unknown) => call(t.app, 'PUT', `${PATH}?id=${id}`, { key, body })
    const get = (key: string, query = '') => call(t.app, 'GET', `${PATH}${query}`, { key })
    const getJob = async (key: string, jobId: number) => (await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key })).body.data

    async function customer(key: string, name = 'Acme Corporation'): Promise<number> {
      const res = await call(t.app, 'POST', '/api/v1/customers', { key, body: { customer_name: name } })
      assert.equal(res.status, 201, JSON.stringify(res.body))
      return res.body.data.customer_id
    }
    /** A tenant with one customer. */
    async function setup() {
      const tenant = await createTenant(t.database)
      return { ...tenant, customerId: await customer(tenant.apiKey) }
    }
    async function make(key: string, body: Record<string, unknown>) {
      const res = await post(key, body)
      assert.equal(res.status, 201, JSON.stringify(res.body))
      return res.body.data as Record<string, any>
    }

    describe('create', () => {
      it('answers 201 with a Location header and the full record, customer_name included', async () => {
        const { apiKey, customerId } = await setup()
        const res = await post(apiKey, {
          customer_id: customerId,
          customer_location_name: 'Main Office',
          address_line1: '1 Acme Plaza',
          address_line2: 'Floor 3',
          city: 'Springfield',
          region: 'IL',
          postal_code: '62701',
          country: 'US',
          latitude: 39.7817,
          longitude: -89.6501,
        })
        assert.equal(res.status, 201)
        assert.equal(res.body.success, true)
        assert.equal(res.body.message, 'Location created successfully')
        const data = res.body.data
        assert.equal(res.headers.location, `/api/v1/locations?id=${data.customer_location_id}`)
        assert.ok(Number.isInteger(data.customer_location_id) && data.customer_location_id > 0)
        assert.match(data.created_at, TIMESTAMP)
        assert.equal(data.updated_at, data.created_at)
        assert.deepEqual(data, {
          customer_location_id: data.customer_location_id,
          customer_location_name: 'Main Office',
          customer_id: customerId,
          customer_name: 'Acme Corporation',
          address_line1: '1 Acme Plaza',
          address_line2: 'Floor 3',
          city: 'Springfield',
          region: 'IL',
          postal_code: '62701',
          country: 'US',
          latitude: 39.7817,
          longitude: -89.6501,
          created_at: data.created_at,
          updated_at: data.updated_at,
        })
        assert.equal(Object.keys(data).length, 14)
        const read = await get(apiKey, `?id=${data.customer_location_id}`)
        assert.equal(read.status, 200)
        assert.deepEqual(read.body, { data, request_id: read.body.request_id })
      })

      it('needs only customer_id and customer_location_name; the rest default to null', async () => {
        const { apiKey, customerId } = await setup()
        const data = await make(apiKey, { customer_id: customerId, customer_location_name: 'Home' })
        for (const field of ['address_line1', 'address_line2', 'city', 'region', 'postal_code', 'country', 'latitude', 'longitude']) {
          assert.equal(data[field], null, field)
        }
      })

      it('trims strings; optional text empty after trimming is null; tab and LF allowed inside address lines', async () => {
        const { apiKey, customerId } = await setup()
        const data = await make(apiKey, {
          customer_id: customerId,
          customer_location_name: '  Warehouse 2 ',
          address_line1: ' 400 Industrial Way\tUnit 5\nRear entrance  ',
          address_line2: '   ',
          city: ' Springfield ',
          country: '',
        })
        assert.equal(data.customer_location_name, 'Warehouse 2')
        assert.equal(data.address_line1, '400 Industrial Way\tUnit 5\nRear entrance')
        assert.equal(data.address_line2, null)
        assert.equal(data.city, 'Springfield')
        assert.equal(data.country, null)
      })

      it('accepts the latitude and longitude bounds, integers and zero', async () => {
        const { apiKey, customerId } = await setup()
        for (const [latitude, longitude] of [[-90, -180], [90, 180], [0, 0], [45, 7]] as const) {
          const data = await make(apiKey, { customer_id: customerId, customer_location_name: 'L', latitude, longitude })
          assert.equal(data.latitude, latitude)
          assert.equal(data.longitude, longitude)
        }
      })
    })

    describe('create: validation', () => {
      it('requires customer_id and customer_location_name, and reports both', async () => {
        const { apiKey, customerId } = await setup()
        assertInvalid(await post(apiKey, {}), ['customer_id', 'customer_location_name'])
        assertInvalid(await post(apiKey, { customer_id: customerId }), ['customer_location_name'], /is required/)
        assertInvalid(await post(apiKey, { customer_id: customerId, customer_location_name: ' \t ' }), ['customer_location_name'], /is required/)
        assertInvalid(await post(apiKey, { customer_location_name: 'Main' }), ['customer_id'], /is required/)
        assertInvalid(await post(apiKey, { customer_id: null, customer_location_name: null }), ['customer_id', 'customer_location_name'])
      })

      it('customer_id must be a JSON integer: not "87", not 87.5, positive, at most 2^53-1', async () => {
        const { apiKey } = await setup()
        for (const bad of ['87', 87.5, 0, -3, 2 ** 53, true, [1]]) {
          assertInvalid(await post(apiKey, { customer_id: bad, customer_location_name: 'Main' }), ['customer_id'])
        }
        assertInvalid(await post(apiKey, { customer_id: '87', customer_location_name: 'Main' }), ['customer_id'], /must be an integer/)
      })

      it('an unknown customer_id is validation_failed on customer_id', async () => {
        const { apiKey } = await setup()
        const res = await post(apiKey, { customer_id: 987654, customer_location_name: 'Main' })
        assertInvalid(res, ['customer_id'], /does not exist/)
        // Said of the field, as every detail is, so the message reads as a sentence.
        assert.equal(res.body.error.message, 'customer_id refers to customer 987654, which does not exist')
        assert.equal((await get(apiKey)).body.pagination.total, 0)
      })

      it('rejects wrong types and unknown fields, every one reported', async () => {
        const { apiKey, customerId } = await setup()
        const base = { customer_id: customerId, customer_location_name: 'Main' }
        assertInvalid(await post(apiKey, { ...base, latitude: '45.1' }), ['latitude'], /must be a number or null/)
        assertInvalid(await post(apiKey, { ...base, longitude: {} }), ['longitude'])
        assertInvalid(await post(apiKey, { ...base, city: 12 }), ['city'], /must be a string or null/)
        assertInvalid(await post(apiKey, { ...base, customer_location_name: 5 }), ['customer_location_name'])
        assertInvalid(await post(apiKey, { ...base, customer_name: 'Acme' }), ['customer_name'], /not a known field/)
        assertInvalid(await post(apiKey, { ...base, customer_location_id: 3 }), ['customer_location_id'])
        assertInvalid(await post(apiKey, { ...base, address: 'x' }), ['address'])
        assertInvalid(await post(apiKey, { customer_id: 'x', city: 1, latitude: 91, zip: '1' }), ['customer_id', 'customer_location_name', 'city', 'latitude', 'zip'])
      })

      it('latitude is -90..90 and longitude -180..180', async () => {
        const { apiKey, customerId } = await setup()
        const base = { customer_id: customerId, customer_location_name: 'Main' }
        assertInvalid(await post(apiKey, { ...base, latitude: 90.0001 }), ['latitude'], /at most 90/)
        assertInvalid(await post(apiKey, { ...base, latitude: -90.5 }), ['latitude'], /at least -90/)
        assertInvalid(await post(apiKey, { ...base, longitude: 180.01 }), ['longitude'], /at most 180/)
        assertInvalid(await post(apiKey, { ...base, longitude: -181 }), ['longitude'], /at least -180/)
        assertInvalid(await post(apiKey, { ...base, latitude: 100, longitude: 200 }), ['latitude', 'longitude'])
      })

      it('limits names and address lines to 200 code points (an emoji is one)', async () => {
        const { apiKey, customerId } = await setup()
        const base = { customer_id: customerId, customer_location_name: 'Main' }
        assert.equal((await make(apiKey, { ...base, customer_location_name: 'n'.repeat(200) })).customer_location_name.length, 200)
        assertInvalid(await post(apiKey, { ...base, customer_location_name: 'n'.repeat(201) }), ['customer_location_name'], /at most 200/)
        const emoji = '🏢'.repeat(200)
        assert.equal((await make(apiKey, { ...base, customer_location_name: emoji })).customer_location_name, emoji)
        assertInvalid(await post(apiKey, { ...base, customer_location_name: '🏢'.repeat(201) }), ['customer_location_name'])
        for (const field of ['address_line1', 'address_line2', 'city', 'region', 'postal_code', 'country']) {
          assert.equal((await make(apiKey, { ...base, [field]: '🏠'.repeat(200) }))[field], '🏠'.repeat(200), field)
          assertInvalid(await post(apiKey, { ...base, [field]: 'a'.repeat(201) }), [field])
        }
      })

      it('rejects control characters: none in names, tab/CR/LF only in address lines', async () => {
        const { apiKey, customerId } = await setup()
        const base = { customer_id: customerId, customer_location_name: 'Main' }
        assertInvalid(await post(apiKey, { ...base, customer_location_name: 'Main\tOffice' }), ['customer_location_name'], /control characters/)
        assertInvalid(await post(apiKey, { ...base, customer_location_name: 'Main\nOffice' }), ['customer_location_name'])
        assertInvalid(await post(apiKey, { ...base, city: 'Spring\nfield' }), ['city'])
        assertInvalid(await post(apiKey, { ...base, country: 'U\u0000S' }), ['country'])
        assertInvalid(await post(apiKey, { ...base, address_line1: '1 Acme\u0000Plaza' }), ['address_line1'], /control characters/)
        assertInvalid(await post(apiKey, { ...base, address_line2: 'Floor\u001b3' }), ['address_line2'])
        const data = await make(apiKey, { ...base, address_line2: 'Floor 3\r\nSuite\t9' })
        assert.equal(data.address_line2, 'Floor 3\r\nSuite\t9')
      })

      it('rejects a query string on POST', async () => {
        const { apiKey, customerId } = await setup()
        assertInvalid(await call(t.app, 'POST', `${PATH}?customer_id=${customerId}`, { key: apiKey, body: { customer_id: customerId, customer_location_name: 'M' } }), ['customer_id'])
      })
    })

    describe('get and list', () => {
      it('GET ?id=: not_found for an unknown id, validation_failed for a bad one or with list parameters', async () => {
        const { apiKey, customerId } = await setup()
        const loc = await make(apiKey, { customer_id: customerId, customer_location_name: 'Main' })
        assertError(await get(apiKey, '?id=424242'), 404, 'not_found')
        assertInvalid(await get(apiKey, '?id=x1'), ['id'], /integer/)
        assertInvalid(await get(apiKey, '?id=0'), ['id'])
        assertInvalid(await get(apiKey, `?id=${loc.customer_location_id}&customer_id=${customerId}`), ['customer_id'], /cannot be combined with id/)
        assertInvalid(await get(apiKey, `?id=${loc.customer_location_id}&q=main&page=1`), ['q', 'page'])
      })

      it('lists newest first with pagination and a Link header that keeps the filters', async () => {
        const { apiKey, customerId } = await setup()
        const ids: number[] = []
        for (let i = 1; i <= 5; i++) ids.push((await make(apiKey, { customer_id: customerId, customer_location_name: `Site ${i}` })).customer_location_id)
        const all = await get(apiKey)
        assert.deepEqual(all.body.data.map((l: any) => l.customer_location_id), [...ids].reverse())
        assert.deepEqual(all.body.pagination, { page: 1, per_page: 50, total: 5, total_pages: 1 })
        assert.equal(all.body.data[0].customer_name, 'Acme Corporation')

        const page = await get(apiKey, `?customer_id=${customerId}&page=2&per_page=2`)
        assert.deepEqual(page.body.data.map((l: any) => l.customer_location_id), [ids[2], ids[1]])
        assert.deepEqual(page.body.pagination, { page: 2, per_page: 2, total: 5, total_pages: 3 })
        const link = String(page.headers.link)
        const target = (n: number) => `</api/v1/locations?customer_id=${customerId}&page=${n}&per_page=2>`
        assert.equal(link, `${target(1)}; rel="first", ${target(1)}; rel="prev", ${target(3)}; rel="next", ${target(3)}; rel="last"`)

        const last = await get(apiKey, '?page=3&per_page=2')
        assert.deepEqual(last.body.data.map((l: any) => l.customer_location_id), [ids[0]])
        assert.doesNotMatch(String(last.headers.link), /rel="next"/)
        const past = await get(apiKey, '?page=4&per_page=2')
        assert.deepEqual(past.body.data, [])
        assert.equal(past.body.pagination.total, 5)
        assert.equal((await get(apiKey, '?per_page=101')).body.pagination.per_page, 100)
      })

      it('filters by customer_id', async () => {
        const { apiKey, customerId } = await setup()
        const other = await customer(apiKey, 'Greenleaf Apartments')
        const a = await make(apiKey, { customer_id: customerId, customer_location_name: 'Main Office' })
        const b = await make(apiKey, { customer_id: other, customer_location_name: 'Building A' })
        const c = await make(apiKey, { customer_id: other, customer_location_name: 'Building B' })
        const mine = await get(apiKey, `?customer_id=${customerId}`)
        assert.deepEqual(mine.body.data.map((l: any) => l.customer_location_id), [a.customer_location_id])
        const theirs = await get(apiKey, `?customer_id=${other}`)
        assert.deepEqual(theirs.body.data.map((l: any) => l.customer_location_id), [c.customer_location_id, b.customer_location_id])
        assert.ok(theirs.body.data.every((l: any) => l.customer_name === 'Greenleaf Apartments'))
        const none = await get(apiKey, '?customer_id=999999')
        assert.deepEqual(none.body.data, [])
        assert.equal(none.body.pagination.total, 0)
        const both = await get(apiKey, `?customer_id=${other}&q=building+b`)
        assert.deepEqual(both.body.data.map((l: any) => l.customer_location_id), [c.customer_location_id])
      })

      it('q matches the location name (not the customer name), case-insensitively, % and _ literal', async () => {
        const { apiKey, customerId } = await setup()
        const main = await make(apiKey, { customer_id: customerId, customer_location_name: 'Main Office' })
        const pct = await make(apiKey, { customer_id: customerId, customer_location_name: 'Dock 50% North' })
        const under = await make(apiKey, { customer_id: customerId, customer_location_name: 'Roof_Top' })
        const umlaut = await make(apiKey, { customer_id: customerId, customer_location_name: 'Zürich Depot' })
        const ids = async (q: string) => (await get(apiKey, `?q=${encodeURIComponent(q)}`)).body.data.map((l: any) => l.customer_location_id)
        assert.deepEqual(await ids('MAIN'), [main.customer_location_id])
        assert.deepEqual(await ids('office'), [main.customer_location_id])
        assert.deepEqual(await ids('ZÜRICH'), [umlaut.customer_location_id])
        assert.deepEqual(await ids('%'), [pct.customer_location_id])
        assert.deepEqual(await ids('_'), [under.customer_location_id])
        assert.deepEqual(await ids('f_t'), [under.customer_location_id])
        assert.deepEqual(await ids('acme'), [])
      })

      it('rejects unknown, repeated, empty and malformed query parameters', async () => {
        const { apiKey, customerId } = await setup()
        assertInvalid(await get(apiKey, '?customer=1'), ['customer'], /not a known parameter/)
        assertInvalid(await get(apiKey, '?status=Active'), ['status'])
        assertInvalid(await get(apiKey, `?customer_id=${customerId}&customer_id=${customerId}`), ['customer_id'], /repeated/)
        assertInvalid(await get(apiKey, '?customer_id='), ['customer_id'], /empty/)
        assertInvalid(await get(apiKey, '?q='), ['q'])
        assertInvalid(await get(apiKey, '?customer_id=87.5'), ['customer_id'], /integer/)
        assertInvalid(await get(apiKey, '?customer_id=abc'), ['customer_id'])
        assertInvalid(await get(apiKey, '?customer_id=0'), ['customer_id'])
        assertInvalid(await get(apiKey, '?page=0&per_page=-1'), ['page', 'per_page'])
      })
    })

    describe('update', () => {
      it('changes only the fields sent and answers the full record', async () => {
        const { apiKey, customerId } = await setup()
        const loc = await make(apiKey, { customer_id: customerId, customer_location_name: 'Main', city: 'Springfield', latitude: 1.5 })
        await t.database.db.updateTable('customer_locations').set({ updated_at: BACKDATED }).where('customer_location_id', '=', loc.customer_location_id).execute()
        const res = await put(apiKey, loc.customer_location_id, { postal_code: ' 62701 ', longitude: -89.65 })
        assert.equal(res.status, 200)
        assert.equal(res.body.success, true)
        assert.equal(res.body.message, 'Location updated successfully')
        assert.deepEqual(res.body.data, { ...loc, postal_code: '62701', longitude: -89.65, updated_at: res.body.data.updated_at })
        assertRecent(res.body.data.updated_at)
        assert.deepEqual((await get(apiKey, `?id=${loc.customer_location_id}`)).body.data, res.body.data)
      })

      it('null clears every nullable field', async () => {
        const { apiKey, customerId } = await setup()
        const loc = await make(apiKey, {
          customer_id: customerId, customer_location_name: 'Main', address_line1: 'a', address_line2: 'b', city: 'c',
          region: 'r', postal_code: 'p', country: 'US', latitude: 10, longitude: 20,
        })
        const cleared = { address_line1: null, address_line2: null, city: null, region: null, postal_code: null, country: null, latitude: null, longitude: null }
        const res = await put(apiKey, loc.customer_location_id, cleared)
        assert.equal(res.status, 200, JSON.stringify(res.body))
        assert.deepEqual(res.body.data, { ...loc, ...cleared, updated_at: res.body.data.updated_at })
      })

      it('can move the location to another of the company\'s customers', async () => {
        const { apiKey, customerId } = await setup()
        const other = await customer(apiKey, 'Greenleaf Apartments')
        const loc = await make(apiKey, { customer_id: customerId, customer_location_name: 'Main' })
        const res = await put(apiKey, loc.customer_location_id, { customer_id: other })
        assert.equal(res.status, 200)
        assert.equal(res.body.data.customer_id, other)
        assert.equal(res.body.data.customer_name, 'Greenleaf Apartments')
        assert.equal((await get(apiKey, `?customer_id=${customerId}`)).body.pagination.total, 0)
        assert.equal((await get(apiKey, `?customer_id=${other}`)).body.pagination.total, 1)
      })

      it('validates like create, and refuses an empty body, nulls in required fields and a missing id', async () => {
        const { apiKey, customerId } = await setup()
        const loc = await make(apiKey, { customer_id: customerId, customer_location_name: 'Main', latitude: 5 })
        const id = loc.customer_location_id
        assertInvalid(await put(apiKey, id, {}), ['body'], /at least one field/)
        assertInvalid(await put(apiKey, id, { customer_id: null }), ['customer_id'])
        assertInvalid(await put(apiKey, id, { customer_location_name: null }), ['customer_location_name'])
        assertInvalid(await put(apiKey, id, { customer_location_name: '   ' }), ['customer_location_name'], /must not be empty/)
        assertInvalid(await put(apiKey, id, { customer_id: '5' }), ['customer_id'])
        assertInvalid(await put(apiKey, id, { customer_id: 999999 }), ['customer_id'], /does not exist/)
        assertInvalid(await put(apiKey, id, { latitude: -91 }), ['latitude'])
        assertInvalid(await put(apiKey, id, { customer_name: 'x' }), ['customer_name'])
        assertInvalid(await put(apiKey, id, { updated_at: '2026-01-01T00:00:00Z' }), ['updated_at'])
        assertInvalid(await call(t.app, 'PUT', PATH, { key: apiKey, body: { city: 'X' } }), ['id'], /is required/)
        assertInvalid(await put(apiKey, '1x', { city: 'X' }), ['id'])
        assertInvalid(await call(t.app, 'PUT', `${PATH}?id=${id}&customer_id=${customerId}`, { key: apiKey, body: { city: 'X' } }), ['customer_id'])
        assertError(await put(apiKey, 999999, { city: 'X' }), 404, 'not_found')
        const unchanged = (await get(apiKey, `?id=${id}`)).body.data
        assert.deepEqual(unchanged, loc)
      })

      it('a bad customer_id is reported before an unknown location (validation on the request first)', async () => {
        const { apiKey } = await setup()
        assertInvalid(await put(apiKey, 999999, { customer_id: 999998 }), ['customer_id'])
      })
    })

    describe('scopes', () => {
      it('uses customers:read / customers:write; write does not imply read', async () => {
        const owner = await setup()
        const loc = await make(owner.apiKey, { customer_id: owner.customerId, customer_location_name: 'Main' })
        const reader = await createExtraKey(t.database, owner.companyId, ['customers:read'])
        const writer = await createExtraKey(t.database, owner.companyId, ['customers:write'])
        const jobsOnly = await createExtraKey(t.database, owner.companyId, ['jobs:read', 'jobs:write', 'technicians:read', 'technicians:write', 'assets:read', 'assets:write'])

        const denied = await post(reader.apiKey, { customer_id: owner.customerId, customer_location_name: 'X' })
        assertError(denied, 403, 'insufficient_scope')
        assert.match(denied.body.error.message, /customers:write/)
        assertError(await put(reader.apiKey, loc.customer_location_id, { city: 'X' }), 403, 'insufficient_scope')
        assert.equal((await get(reader.apiKey, `?id=${loc.customer_location_id}`)).status, 200)
        assert.equal((await get(reader.apiKey)).body.pagination.total, 1)

        const blind = await get(writer.apiKey)
        assertError(blind, 403, 'insufficient_scope')
        assert.match(blind.body.error.message, /customers:read/)
        assertError(await get(writer.apiKey, `?id=${loc.customer_location_id}`), 403, 'insufficient_scope')
        assert.equal((await post(writer.apiKey, { customer_id: owner.customerId, customer_location_name: 'W' })).status, 201)
        assert.equal((await put(writer.apiKey, loc.customer_location_id, { city: 'W' })).status, 200)

        assertError(await get(jobsOnly.apiKey), 403, 'insufficient_scope')
        assertError(await post(jobsOnly.apiKey, { customer_id: owner.customerId, customer_location_name: 'J' }), 403, 'insufficient_scope')
        assertError(await call(t.app, 'GET', PATH), 401, 'unauthorized')
        assertError(await call(t.app, 'PUT', `${PATH}?id=${loc.customer_location_id}`, { body: { city: 'X' } }), 401, 'unauthorized')
      })
    })

    describe('tenant isolation', () => {
      it("another company's location is not_found on GET and PUT, and never in lists or totals", async () => {
        const a = await setup()
        const b = await setup()
        const mine = await make(a.apiKey, { customer_id: a.customerId, customer_location_name: 'Main Office' })
        const theirs = await make(b.apiKey, { customer_id: b.customerId, customer_location_name: 'Main Office' })
        await make(b.apiKey, { customer_id: b.customerId, customer_location_name: 'Second' })

        assertError(await get(a.apiKey, `?id=${theirs.customer_location_id}`), 404, 'not_found')
        assertError(await put(a.apiKey, theirs.customer_location_id, { customer_location_name: 'Hijacked' }), 404, 'not_found')
        assertError(await put(a.apiKey, theirs.customer_location_id, { customer_id: a.customerId }), 404, 'not_found')
        const still = await get(b.apiKey, `?id=${theirs.customer_location_id}`)
        assert.deepEqual(still.body.data, theirs)

        const list = await get(a.apiKey)
        assert.deepEqual(list.body.data.map((l: any) => l.customer_location_id), [mine.customer_location_id])
        assert.equal(list.body.pagination.total, 1)
        assert.equal((await get(a.apiKey, '?q=main')).body.pagination.total, 1)
        const byTheirCustomer = await get(a.apiKey, `?customer_id=${b.customerId}`)
        assert.deepEqual(byTheirCustomer.body.data, [])
        assert.equal(byTheirCustomer.body.pagination.total, 0)
        assert.equal((await get(b.apiKey)).body.pagination.total, 2)
      })

      it("another company's customer_id in a body is validation_failed on customer_id, revealing nothing", async () => {
        const a = await setup()
        const b = await setup()
        await call(t.app, 'PUT', `/api/v1/customers?id=${b.customerId}`, { key: b.apiKey, body: { customer_name: 'Secret Customer B' } })
        const created = await post(a.apiKey, { customer_id: b.customerId, customer_location_name: 'Sneaky' })
        assertInvalid(created, ['customer_id'])
        assert.doesNotMatch(JSON.stringify(created.body), /Secret Customer B/)
        // Same answer as for an id that does not exist at all.
        const unknown = await post(a.apiKey, { customer_id: 987654321, customer_location_name: 'Sneaky' })
        assert.equal(created.body.error.details[0].message.replace(String(b.customerId), 'N'), unknown.body.error.details[0].message.replace('987654321', 'N'))

        const mine = await make(a.apiKey, { customer_id: a.customerId, customer_location_name: 'Main' })
        assertInvalid(await put(a.apiKey, mine.customer_location_id, { customer_id: b.customerId }), ['customer_id'])
        // With a field of the wrong form too, both are named at once (API.md §1), on POST and PUT.
        assertInvalid(await post(a.apiKey, { customer_id: b.customerId, customer_location_name: '', latitude: 91 }), ['customer_id', 'customer_location_name', 'latitude'])
        assertInvalid(await put(a.apiKey, mine.customer_location_id, { customer_id: b.customerId, city: 7 }), ['customer_id', 'city'])
        assert.equal((await get(a.apiKey, `?id=${mine.customer_location_id}`)).body.data.customer_id, a.customerId)
        assert.equal((await get(b.apiKey, `?customer_id=${b.customerId}`)).body.pagination.total, 0)
      })
    })

    describe('conditional requests', () => {
      it('GET ?id= sends an ETag (304 on If-None-Match); PUT honours If-Match and answers the new tag', async () => {
        const { apiKey, customerId } = await setup()
        const loc = await make(apiKey, { customer_id: customerId, customer_location_name: 'Main' })
        const read = await get(apiKey, `?id=${loc.customer_location_id}`)
        const tag = String(read.headers.etag)
        assert.match(tag, /^"[A-Za-z0-9_-]+"$/)
        const cached = await call(t.app, 'GET', `${PATH}?id=${loc.customer_location_id}`, { key: apiKey, headers: { 'if-none-match': tag } })
        assert.equal(cached.status, 304)
        assert.equal(cached.body, undefined)
        assert.equal(cached.headers.etag, tag)
        assert.ok(cached.headers['x-request-id'])

        const stale = await call(t.app, 'PUT', `${PATH}?id=${loc.customer_location_id}`, { key: apiKey, body: { city: 'X' }, headers: { 'if-match': '"nope"' } })
        assertError(stale, 412, 'precondition_failed')
        assert.equal((await get(apiKey, `?id=${loc.customer_location_id}`)).body.data.city, null)

        const first = await call(t.app, 'PUT', `${PATH}?id=${loc.customer_location_id}`, { key: apiKey, body: { city: 'A' }, headers: { 'if-match': tag } })
        assert.equal(first.status, 200)
        const second = await put(apiKey, loc.customer_location_id, { city: 'B' })
        const third = await put(apiKey, loc.customer_location_id, { city: 'A' })
        const tags = [tag, first.headers.etag, second.headers.etag, third.headers.etag]
        assert.equal(new Set(tags).size, 4, 'every write, even within one second and back to an old value, gives a new tag')
        assert.equal((await get(apiKey, `?id=${loc.customer_location_id}`)).headers.etag, third.headers.etag)
      })

      it("renaming the customer changes the location's ETag (customer_name is part of it)", async () => {
        const { apiKey, customerId } = await setup()
        const loc = await make(apiKey, { customer_id: customerId, customer_location_name: 'Main' })
        const before = (await get(apiKey, `?id=${loc.customer_location_id}`)).headers.etag
        await call(t.app, 'PUT', `/api/v1/customers?id=${customerId}`, { key: apiKey, body: { customer_name: 'Renamed' } })
        const after = await call(t.app, 'GET', `${PATH}?id=${loc.customer_location_id}`, { key: apiKey, headers: { 'if-none-match': String(before) } })
        assert.equal(after.status, 200)
        assert.notEqual(after.headers.etag, before)
        assert.equal(after.body.data.customer_name, 'Renamed')
      })
    })

    describe('live names on jobs', () => {
      it("renaming a location changes its jobs' customer_location_name", async () => {
        const { apiKey } = await createTenant(t.database)
        const basics = await createBasics(t.app, apiKey)
        const jobId = await createJobVia(t.app, apiKey, basics.locationId)
        assert.equal((await getJob(apiKey, jobId)).customer_location_name, 'Main Office')
        assert.equal((await put(apiKey, basics.locationId, { customer_location_name: 'HQ Tower' })).status, 200)
        const job = await getJob(apiKey, jobId)
        assert.equal(job.customer_location_name, 'HQ Tower')
        assert.equal(job.customer_location_id, basics.locationId)
        const list = await call(t.app, 'GET', `/api/v1/jobs?customer_location_id=${basics.locationId}`, { key: apiKey })
        assert.deepEqual(list.body.data.map((j: any) => j.customer_location_name), ['HQ Tower'])
      })

      it("moving a location to another customer changes its jobs' customer_id and customer_name", async () => {
        const { apiKey } = await createTenant(t.database)
        const basics = await createBasics(t.app, apiKey)
        const other = await customer(apiKey, 'Greenleaf Apartments')
        const jobId = await createJobVia(t.app, apiKey, basics.locationId)
        assert.equal((await getJob(apiKey, jobId)).customer_id, basics.customerId)

        assert.equal((await put(apiKey, basics.locationId, { customer_id: other })).status, 200)
        const job = await getJob(apiKey, jobId)
        assert.equal(job.customer_id, other)
        assert.equal(job.customer_name, 'Greenleaf Apartments')
        assert.equal(job.customer_location_id, basics.locationId)
        const byNew = await call(t.app, 'GET', `/api/v1/jobs?customer_id=${other}`, { key: apiKey })
        assert.deepEqual(byNew.body.data.map((j: any) => j.job_id), [jobId])
        const byOld = await call(t.app, 'GET', `/api/v1/jobs?customer_id=${basics.customerId}`, { key: apiKey })
        assert.equal(byOld.body.pagination.total, 0)
      })
    })
  })
}
