/**
 * /api/v1/assets (API.md §5) through HTTP on a real database: shapes,
 * validation, the unique live tag, soft delete and its effect on jobs, the
 * Asset Management module gate, scopes and tenant isolation.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DIALECTS, startTestApp, type TestApp } from './helpers/app.ts'
import { assertRecent, BACKDATED } from './helpers/assertions.ts'
import { call, createAssetVia, createBasics, createExtraKey, createJobVia, createTenant, type ApiResponse, type Tenant } from './helpers/factories.ts'

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/
const ENUM_MESSAGE = 'must be one of: Active, In Maintenance, Out of Service, Retired'
const DATE_MESSAGE = 'must be an RFC 3339 date-time with a time zone, e.g. 2026-02-25T09:00:00Z'
const CONTROL_MESSAGE = 'must not contain control characters, line breaks or invalid Unicode'

let sequence = 0
/** A tag no other test uses. */
const freshTag = (prefix = 'TAG') => `${prefix}-${++sequence}`

function assertError(response: ApiResponse, status: number, code: string) {
  assert.equal(response.status, status, JSON.stringify(response.body))
  assert.equal(response.body.success, false)
  assert.equal(response.body.error.code, code)
  assert.equal(typeof response.body.error.message, 'string')
  assert.equal(response.body.request_id, response.headers['x-request-id'])
}

/** 400 validation_failed with exactly these details (in any order). */
function assertInvalid(response: ApiResponse, details: Array<[field: string, message: string]>) {
  assertError(response, 400, 'validation_failed')
  const actual = (response.body.error.details as Array<{ field: string; message: string }>).map((d) => [d.field, d.message]).sort()
  assert.deepEqual(actual, [...details].sort())
}

for (const dialect of DIALECTS) {
  describe(`assets (${dialect})`, () => {
    let t: TestApp
    /** The main company: Enterprise with the Asset Management module. */
    let a: Tenant
    let aBasics: Awaited<ReturnType<typeof createBasics>>
    /** Another company with the module, for isolation. */
    let b: Tenant
    let bBasics: Awaited<ReturnType<typeof createBasics>>
    /** An Enterprise company without the module. */
    let n: Tenant
    let nBasics: Awaited<ReturnType<typeof createBasics>>

    const post = (key: string, body: unknown) => call(t.app, 'POST', '/api/v1/assets', { key, body })
    const put = (key: string, id: number | string, body: unknown) => call(t.app, 'PUT', `/api/v1/assets?id=${id}`, { key, body })
    const get = (key: string, query = '') => call(t.app, 'GET', `/api/v1/assets${query}`, { key })
    const del = (key: string, id: number | string) => call(t.app, 'DELETE', `/api/v1/assets?id=${id}`, { key })
    const getJob = (key: string, id: number) => call(t.app, 'GET', `/api/v1/jobs?id=${id}`, { key })

    before(async () => {
      t = await startTestApp(dialect)
      a = await createTenant(t.database, { name: 'Alpha HVAC' })
      aBasics = await createBasics(t.app, a.apiKey)
      b = await createTenant(t.database, { name: 'Beta Plumbing' })
      bBasics = await createBasics(t.app, b.apiKey, ' B')
      n = await createTenant(t.database, { name: 'No Module Co', modules: [] })
      nBasics = await createBasics(t.app, n.apiKey, ' N')
    })
    after(async () => {
      await t?.close()
    })

    describe('create and read', () => {
      it('POST creates an asset with every field and answers 201, Location and the presented asset', async () => {
        const tag = freshTag('HVAC')
        const r = await post(a.apiKey, {
          asset_tag: tag,
          asset_name: 'Rooftop AC Unit #7',
          asset_type: 'HVAC',
          asset_status: 'In Maintenance',
          customer_location_id: aBasics.locationId,
          serial_number: 'CR48-77102',
          manufacturer: 'Carrier',
          model: '48TC',
          installed_at: '2026-02-25T09:00:00.987+02:00',
        })
        assert.equal(r.status, 201, JSON.stringify(r.body))
        const data = r.body.data
        assert.equal(r.headers.location, `/api/v1/assets?id=${data.asset_id}`)
        assert.deepEqual(Object.keys(r.body).sort(), ['data', 'message', 'request_id', 'success'])
        assert.equal(r.body.success, true)
        assert.equal(r.body.message, 'Asset created successfully')
        assert.equal(r.body.request_id, r.headers['x-request-id'])
        assert.ok(Number.isInteger(data.asset_id) && data.asset_id > 0)
        assert.match(data.created_at, ISO)
        assert.equal(data.updated_at, data.created_at)
        assert.deepEqual(data, {
          asset_id: data.asset_id,
          asset_tag: tag,
          asset_name: 'Rooftop AC Unit #7',
          asset_type: 'HVAC',
          asset_status: 'In Maintenance',
          customer_location_id: aBasics.locationId,
          serial_number: 'CR48-77102',
          manufacturer: 'Carrier',
          model: '48TC',
          installed_at: '2026-02-25T07:00:00Z',
          created_at: data.created_at,
          updated_at: data.created_at,
        })

        const read = await get(a.apiKey, `?id=${data.asset_id}`)
        assert.equal(read.status, 200)
        assert.deepEqual(Object.keys(read.body).sort(), ['data', 'request_id'])
        assert.equal(read.body.request_id, read.headers['x-request-id'])
        assert.deepEqual(read.body.data, data)
      })

      it('POST with only the required fields defaults asset_status to Active and the rest to null', async () => {
        const tag = freshTag()
        const r = await post(a.apiKey, { asset_tag: tag, asset_name: 'Spare pump' })
        assert.equal(r.status, 201)
        assert.deepEqual(r.body.data, {
          asset_id: r.body.data.asset_id,
          asset_tag: tag,
          asset_name: 'Spare pump',
          asset_type: null,
          asset_status: 'Active',
          customer_location_id: null,
          serial_number: null,
          manufacturer: null,
          model: null,
          installed_at: null,
          created_at: r.body.data.created_at,
          updated_at: r.body.data.created_at,
        })
      })

      it('POST accepts explicit nulls on the nullable fields', async () => {
        const r = await post(a.apiKey, {
          asset_tag: freshTag(), asset_name: 'Nulls', asset_type: null, customer_location_id: null, serial_number: null, manufacturer: null, model: null, installed_at: null,
        })
        assert.equal(r.status, 201)
        for (const field of ['asset_type', 'customer_location_id', 'serial_number', 'manufacturer', 'model', 'installed_at']) assert.equal(r.body.data[field], null, field)
      })

      it('trims text: required text is kept trimmed, optional text empty after trimming becomes null', async () => {
        const tag = freshTag()
        const r = await post(a.apiKey, { asset_tag: `  ${tag}\t`, asset_name: ' \n Boiler  ', asset_type: '   ', manufacturer: '\tWeil-McLain ', model: '' })
        assert.equal(r.status, 201, JSON.stringify(r.body))
        assert.equal(r.body.data.asset_tag, tag)
        assert.equal(r.body.data.asset_name, 'Boiler')
        assert.equal(r.body.data.asset_type, null)
        assert.equal(r.body.data.manufacturer, 'Weil-McLain')
        assert.equal(r.body.data.model, null)
      })

      it('accepts a name of exactly 200 code points (astral characters count once) and a Z date-time with fractions', async () => {
        const r = await post(a.apiKey, { asset_tag: '🔧'.repeat(199) + 'x', asset_name: '水'.repeat(200), model: '😀'.repeat(200), installed_at: '2024-02-29T23:59:59.999999Z' })
        assert.equal(r.status, 201, JSON.stringify(r.body))
        assert.equal([...r.body.data.asset_tag].length, 200)
        assert.equal(r.body.data.model, '😀'.repeat(200))
        assert.equal(r.body.data.installed_at, '2024-02-29T23:59:59Z')
      })
    })

    describe('validation', () => {
      it('POST without the required fields lists both', async () => {
        assertInvalid(await post(a.apiKey, {}), [['asset_tag', 'is required'], ['asset_name', 'is required']])
        assertInvalid(await post(a.apiKey, { asset_tag: '   ', asset_name: '\t' }), [['asset_tag', 'is required'], ['asset_name', 'is required']])
        assertInvalid(await post(a.apiKey, { asset_name: 'No tag' }), [['asset_tag', 'is required']])
      })

      it('rejects wrong types, every field reported', async () => {
        const r = await post(a.apiKey, {
          asset_tag: 42,
          asset_name: ['x'],
          asset_type: 7,
          customer_location_id: String(aBasics.locationId),
          serial_number: true,
          manufacturer: { a: 1 },
          model: 3.5,
          installed_at: 1_772_000_000,
        })
        assertInvalid(r, [
          ['asset_tag', 'must be a string'],
          ['asset_name', 'must be a string'],
          ['asset_type', 'must be a string or null'],
          ['customer_location_id', 'must be an integer or null'],
          ['serial_number', 'must be a string or null'],
          ['manufacturer', 'must be a string or null'],
          ['model', 'must be a string or null'],
          ['installed_at', 'must be a string or null'],
        ])
        assert.match(r.body.error.message, /asset_tag must be a string/)
      })

      it('rejects ids that are not positive integers within 2^53-1', async () => {
        const base = { asset_tag: freshTag(), asset_name: 'x' }
        assertInvalid(await post(a.apiKey, { ...base, customer_location_id: 1.5 }), [['customer_location_id', 'must be an integer or null']])
        assertInvalid(await post(a.apiKey, { ...base, customer_location_id: 0 }), [['customer_location_id', 'must be a positive integer']])
        assertInvalid(await post(a.apiKey, { ...base, customer_location_id: -3 }), [['customer_location_id', 'must be a positive integer']])
        assertInvalid(await post(a.apiKey, { ...base, customer_location_id: 2 ** 53 }), [['customer_location_id', `must be at most ${2 ** 53 - 1}`]])
      })

      it('rejects unknown fields, including read-only ones', async () => {
        assertInvalid(await post(a.apiKey, { asset_tag: freshTag(), asset_name: 'x', color: 'red', asset_id: 5, created_at: '2026-01-01T00:00:00Z' }), [
          ['color', 'is not a known field'],
          ['asset_id', 'is not a known field'],
          ['created_at', 'is not a known field'],
        ])
        assertInvalid(await put(a.apiKey, 1, { stauts: 'Active' }), [['stauts', 'is not a known field']])
      })

      it('limits text to 200 code points (201 is refused) on every text field', async () => {
        const long = 'é'.repeat(201)
        const astral = '😀'.repeat(201)
        assertInvalid(await post(a.apiKey, { asset_tag: astral, asset_name: long, asset_type: long, serial_number: astral, manufacturer: long, model: astral }), [
          ['asset_tag', 'must be at most 200 characters'],
          ['asset_name', 'must be at most 200 characters'],
          ['asset_type', 'must be at most 200 characters'],
          ['serial_number', 'must be at most 200 characters'],
          ['manufacturer', 'must be at most 200 characters'],
          ['model', 'must be at most 200 characters'],
        ])
        const exact = 'a'.repeat(200)
        const ok = await post(a.apiKey, { asset_tag: `${freshTag()}`.padEnd(200, 'z'), asset_name: exact, asset_type: exact, serial_number: exact, manufacturer: exact, model: exact })
        assert.equal(ok.status, 201, JSON.stringify(ok.body))
      })

      it('refuses control characters and lone surrogates (tab and newline too: these are single-line)', async () => {
        assertInvalid(await post(a.apiKey, { asset_tag: 'A\u0000B', asset_name: 'line\nbreak', asset_type: 'a\tb', serial_number: 'x\u001fy', manufacturer: 'bell\u0007', model: 'bad\ud800' }), [
          ['asset_tag', CONTROL_MESSAGE],
          ['asset_name', CONTROL_MESSAGE],
          ['asset_type', CONTROL_MESSAGE],
          ['serial_number', CONTROL_MESSAGE],
          ['manufacturer', CONTROL_MESSAGE],
          ['model', CONTROL_MESSAGE],
        ])
        assertInvalid(await put(a.apiKey, 1, { asset_tag: 'tab\there' }), [['asset_tag', CONTROL_MESSAGE]])
      })

      it('asset_status is an exact enum and cannot be null', async () => {
        const base = () => ({ asset_tag: freshTag(), asset_name: 'x' })
        for (const bad of ['active', 'Active ', ' Retired', 'Broken', 'IN MAINTENANCE', '']) {
          assertInvalid(await post(a.apiKey, { ...base(), asset_status: bad }), [['asset_status', ENUM_MESSAGE]])
        }
        // Null or not text: told the values, which say what to send (it was "must be a string").
        assertInvalid(await post(a.apiKey, { ...base(), asset_status: null }), [['asset_status', ENUM_MESSAGE]])
        assertInvalid(await post(a.apiKey, { ...base(), asset_status: 1 }), [['asset_status', ENUM_MESSAGE]])
        for (const good of ['Active', 'In Maintenance', 'Out of Service', 'Retired']) {
          const r = await post(a.apiKey, { ...base(), asset_status: good })
          assert.equal(r.status, 201)
          assert.equal(r.body.data.asset_status, good)
        }
      })

      it('installed_at must be a real RFC 3339 date-time with a zone', async () => {
        for (const bad of ['2026-02-25', '2026-02-25T09:00:00', '2026-02-25T24:00:00Z', 'yesterday', '2026-02-25 09:00:00Z', '2026-02-25T09:00:00+2:00']) {
          assertInvalid(await post(a.apiKey, { asset_tag: freshTag(), asset_name: 'x', installed_at: bad }), [['installed_at', DATE_MESSAGE]])
        }
        for (const [bad, day] of [['2026-02-30T00:00:00Z', '2026-02-30'], ['2025-02-29T10:00:00Z', '2025-02-29'], ['2026-13-01T00:00:00Z', '2026-13-01']]) {
          assertInvalid(await post(a.apiKey, { asset_tag: freshTag(), asset_name: 'x', installed_at: bad }), [['installed_at', `names a day the calendar does not have (${day})`]])
        }
        const r = await post(a.apiKey, { asset_tag: freshTag(), asset_name: 'x', installed_at: '2026-02-25T09:00:00-05:30' })
        assert.equal(r.status, 201)
        assert.equal(r.body.data.installed_at, '2026-02-25T14:30:00Z')
      })

      it('customer_location_id must be a location of the company', async () => {
        assertInvalid(await post(a.apiKey, { asset_tag: freshTag(), asset_name: 'x', customer_location_id: 999_999 }), [['customer_location_id', 'refers to location 999999, which does not exist']])
        // With a field of the wrong form too, both are named at once (API.md §1).
        assertInvalid(await post(a.apiKey, { asset_tag: freshTag(), customer_location_id: 999_999 }), [
          ['asset_name', 'is required'],
          ['customer_location_id', 'refers to location 999999, which does not exist'],
        ])
      })

      it('POST takes no query parameters; bodies must be JSON objects sent as application/json', async () => {
        assertInvalid(await call(t.app, 'POST', '/api/v1/assets?id=1', { key: a.apiKey, body: { asset_tag: freshTag(), asset_name: 'x' } }), [['id', 'is not a known parameter']])
        assertError(await call(t.app, 'POST', '/api/v1/assets', { key: a.apiKey, rawBody: '{"asset_tag":', headers: { 'content-type': 'application/json' } }), 400, 'invalid_json')
        assertError(await call(t.app, 'POST', '/api/v1/assets', { key: a.apiKey, body: [{ asset_tag: 'x', asset_name: 'y' }] }), 400, 'invalid_json')
        assertError(await call(t.app, 'POST', '/api/v1/assets', { key: a.apiKey, rawBody: 'asset_tag=x', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type')
        assertError(await call(t.app, 'POST', '/api/v1/assets', { key: a.apiKey }), 415, 'unsupported_media_type')
      })

      it('PATCH is not a method of /api/v1/assets', async () => {
        const r = await call(t.app, 'PATCH', '/api/v1/assets?id=1', { key: a.apiKey, body: { asset_status: 'Retired' } })
        assertError(r, 405, 'method_not_allowed')
        assert.deepEqual(String(r.headers.allow).split(', ').filter((m) => m !== 'HEAD'), ['GET', 'POST', 'PUT', 'DELETE'])
      })
    })

    describe('update', () => {
      it('PUT changes only the fields sent and answers the full asset', async () => {
        const created = (await post(a.apiKey, { asset_tag: freshTag(), asset_name: 'Old name', asset_type: 'Boiler', manufacturer: 'Acme', customer_location_id: aBasics.locationId })).body.data
        await t.database.db.updateTable('assets').set({ updated_at: BACKDATED }).where('asset_id', '=', created.asset_id).execute()
        const r = await put(a.apiKey, created.asset_id, { asset_name: '  New name ', asset_status: 'Out of Service', installed_at: '2025-06-01T12:00:00Z' })
        assert.equal(r.status, 200, JSON.stringify(r.body))
        assert.equal(r.body.success, true)
        assert.equal(r.body.message, 'Asset updated successfully')
        assert.deepEqual(Object.keys(r.body).sort(), ['data', 'message', 'request_id', 'success'])
        assertRecent(r.body.data.updated_at)
        assert.deepEqual(r.body.data, {
          ...created,
          asset_name: 'New name',
          asset_status: 'Out of Service',
          installed_at: '2025-06-01T12:00:00Z',
          updated_at: r.body.data.updated_at,
        })
        assert.deepEqual((await get(a.apiKey, `?id=${created.asset_id}`)).body.data, r.body.data)
      })

      it('PUT with null clears nullable fields; asset_status, asset_tag and asset_name cannot be null or empty', async () => {
        const created = (await post(a.apiKey, {
          asset_tag: freshTag(), asset_name: 'Full', asset_type: 'HVAC', customer_location_id: aBasics.locationId, serial_number: 'S1', manufacturer: 'M', model: 'X', installed_at: '2026-01-01T00:00:00Z',
        })).body.data
        const cleared = await put(a.apiKey, created.asset_id, { asset_type: null, customer_location_id: null, serial_number: null, manufacturer: '  ', model: null, installed_at: null })
        assert.equal(cleared.status, 200, JSON.stringify(cleared.body))
        for (const field of ['asset_type', 'customer_location_id', 'serial_number', 'manufacturer', 'model', 'installed_at']) assert.equal(cleared.body.data[field], null, field)
        assert.equal(cleared.body.data.asset_tag, created.asset_tag)
        assert.equal(cleared.body.data.asset_name, 'Full')

        assertInvalid(await put(a.apiKey, created.asset_id, { asset_status: null, asset_tag: null, asset_name: '   ' }), [
          ['asset_status', ENUM_MESSAGE],
          ['asset_tag', 'must be a string'],
          ['asset_name', 'must not be empty'],
        ])
        assert.equal((await get(a.apiKey, `?id=${created.asset_id}`)).body.data.asset_name, 'Full')
      })

      it('PUT with an empty body is validation_failed on body', async () => {
        const id = await createAssetVia(t.app, a.apiKey, freshTag())
        assertInvalid(await put(a.apiKey, id, {}), [['body', 'Request body must contain at least one field to update']])
      })

      it('PUT needs a valid ?id= and nothing else in the query', async () => {
        assertInvalid(await call(t.app, 'PUT', '/api/v1/assets', { key: a.apiKey, body: { asset_name: 'x' } }), [['id', 'is required']])
        assertInvalid(await put(a.apiKey, 'abc', { asset_name: 'x' }), [['id', 'must be an integer']])
        assertInvalid(await put(a.apiKey, '0', { asset_name: 'x' }), [['id', 'must be a positive integer']])
        assertInvalid(await put(a.apiKey, '1.0', { asset_name: 'x' }), [['id', 'must be an integer']])
        assertInvalid(await call(t.app, 'PUT', '/api/v1/assets?id=1&q=x', { key: a.apiKey, body: { asset_name: 'x' } }), [['q', 'is not a known parameter']])
      })

      it('PUT of an unknown asset is not_found', async () => {
        const r = await put(a.apiKey, 987_654, { asset_name: 'x' })
        assertError(r, 404, 'not_found')
        assert.equal(r.body.error.message, 'Asset 987654 not found')
      })

      it('PUT checks customer_location_id against the company, before looking up the record', async () => {
        const id = await createAssetVia(t.app, a.apiKey, freshTag())
        assertInvalid(await put(a.apiKey, id, { customer_location_id: 999_999 }), [['customer_location_id', 'refers to location 999999, which does not exist']])
        assertInvalid(await put(a.apiKey, 987_654, { customer_location_id: 999_999 }), [['customer_location_id', 'refers to location 999999, which does not exist']])
        assertInvalid(await put(a.apiKey, id, { customer_location_id: 999_999, asset_name: '' }), [
          ['asset_name', 'must not be empty'],
          ['customer_location_id', 'refers to location 999999, which does not exist'],
        ])
        const moved = await put(a.apiKey, id, { customer_location_id: aBasics.locationId })
        assert.equal(moved.status, 200)
        assert.equal(moved.body.data.customer_location_id, aBasics.locationId)
      })

      it('PUT keeps search in step with a new tag or name', async () => {
        const tag = freshTag('SRCH')
        const id = await createAssetVia(t.app, a.apiKey, tag, { asset_name: 'Chiller Zeta' })
        await put(a.apiKey, id, { asset_name: 'Chiller Omega' })
        assert.deepEqual((await get(a.apiKey, '?q=omega')).body.data.map((x: any) => x.asset_id), [id])
        assert.equal((await get(a.apiKey, '?q=zeta')).body.pagination.total, 0)
        // Only the tag changes: the stored name must still be searchable.
        await put(a.apiKey, id, { asset_tag: 'RENAMED-QX-1' })
        assert.deepEqual((await get(a.apiKey, '?q=renamed-qx')).body.data.map((x: any) => x.asset_id), [id])
        assert.deepEqual((await get(a.apiKey, '?q=OMEGA')).body.data.map((x: any) => x.asset_id), [id])
        assert.equal((await get(a.apiKey, `?q=${tag}`)).body.pagination.total, 0)
      })
    })

    describe('unique asset_tag', () => {
      it('POST with a tag already used in the company is 409 conflict naming the tag', async () => {
        const tag = freshTag('DUP')
        const first = await createAssetVia(t.app, a.apiKey, tag)
        const r = await post(a.apiKey, { asset_tag: tag, asset_name: 'Second' })
        assertError(r, 409, 'conflict')
        assert.ok(r.body.error.message.includes(tag), r.body.error.message)
        // Trimming makes " TAG " the same tag.
        assertError(await post(a.apiKey, { asset_tag: ` ${tag} `, asset_name: 'Third' }), 409, 'conflict')
        const list = await get(a.apiKey, `?q=${tag}`)
        assert.deepEqual(list.body.data.map((x: any) => x.asset_id), [first])
      })

      it('PUT to a tag used by another asset is 409 and changes nothing; its own tag is fine', async () => {
        const tagA = freshTag('PA')
        const tagB = freshTag('PB')
        await createAssetVia(t.app, a.apiKey, tagA)
        const idB = await createAssetVia(t.app, a.apiKey, tagB)
        const before = (await get(a.apiKey, `?id=${idB}`)).body.data
        const r = await put(a.apiKey, idB, { asset_tag: tagA, asset_name: 'Would change' })
        assertError(r, 409, 'conflict')
        assert.ok(r.body.error.message.includes(tagA), r.body.error.message)
        assert.deepEqual((await get(a.apiKey, `?id=${idB}`)).body.data, before)
        const same = await put(a.apiKey, idB, { asset_tag: tagB, asset_name: 'Same tag' })
        assert.equal(same.status, 200)
        assert.equal(same.body.data.asset_tag, tagB)
      })

      it('concurrent POSTs of one tag: exactly one wins, the rest are 409', async () => {
        const tag = freshTag('RACE')
        const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => post(a.apiKey, { asset_tag: tag, asset_name: `Racer ${i}` })))
        assert.deepEqual(answers.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409, 409, 409])
        for (const r of answers.filter((x) => x.status === 409)) assert.equal(r.body.error.code, 'conflict')
        assert.equal((await get(a.apiKey, `?q=${tag}`)).body.pagination.total, 1)
      })

      it('a deleted asset frees its tag for POST and PUT', async () => {
        const tag = freshTag('REUSE')
        const old = await createAssetVia(t.app, a.apiKey, tag)
        assert.equal((await del(a.apiKey, old)).status, 200)
        const again = await post(a.apiKey, { asset_tag: tag, asset_name: 'Replacement' })
        assert.equal(again.status, 201)
        assert.notEqual(again.body.data.asset_id, old)
        assert.equal((await del(a.apiKey, again.body.data.asset_id)).status, 200)
        const other = await createAssetVia(t.app, a.apiKey, freshTag())
        const renamed = await put(a.apiKey, other, { asset_tag: tag })
        assert.equal(renamed.status, 200)
        assert.equal(renamed.body.data.asset_tag, tag)
      })

      it('the same tag in another company is fine', async () => {
        const tag = freshTag('SHARED')
        const mine = await createAssetVia(t.app, a.apiKey, tag)
        const r = await post(b.apiKey, { asset_tag: tag, asset_name: 'Theirs' })
        assert.equal(r.status, 201)
        assert.notEqual(r.body.data.asset_id, mine)
      })
    })

    describe('list', () => {
      let l: Tenant
      let location: number
      let ids: number[]

      before(async () => {
        l = await createTenant(t.database, { name: 'List Co' })
        location = (await createBasics(t.app, l.apiKey, ' L')).locationId
        ids = [
          await createAssetVia(t.app, l.apiKey, 'PUMP-1', { asset_name: 'Pump 100%', customer_location_id: location }),
          await createAssetVia(t.app, l.apiKey, 'PUMP-2', { asset_name: 'Pump 1000', asset_status: 'In Maintenance' }),
          await createAssetVia(t.app, l.apiKey, 'ÉCLAIR_9', { asset_name: 'Rooftop unit', customer_location_id: location, asset_status: 'In Maintenance' }),
          await createAssetVia(t.app, l.apiKey, 'ECLAIRX9', { asset_name: 'Generator', asset_status: 'Retired' }),
        ]
        // The first asset is the newest: created_at decides, asset_id breaks ties.
        await t.database.db.updateTable('assets').set({ created_at: Math.floor(Date.now() / 1000) + 3600 }).where('asset_id', '=', ids[0]!).execute()
      })

      it('answers newest first with pagination and a Link header', async () => {
        const r = await get(l.apiKey)
        assert.equal(r.status, 200)
        assert.deepEqual(Object.keys(r.body).sort(), ['data', 'pagination', 'request_id'])
        assert.deepEqual(r.body.data.map((x: any) => x.asset_id), [ids[0], ids[3], ids[2], ids[1]])
        assert.deepEqual(r.body.pagination, { page: 1, per_page: 50, total: 4, total_pages: 1 })
        assert.deepEqual(Object.keys(r.body.data[0]).sort(), [
          'asset_id', 'asset_name', 'asset_status', 'asset_tag', 'asset_type', 'created_at', 'customer_location_id', 'installed_at', 'manufacturer', 'model', 'serial_number', 'updated_at',
        ])
        assert.match(String(r.headers.link), /rel="first"/)

        const page1 = await get(l.apiKey, '?per_page=3')
        assert.deepEqual(page1.body.data.map((x: any) => x.asset_id), [ids[0], ids[3], ids[2]])
        assert.deepEqual(page1.body.pagination, { page: 1, per_page: 3, total: 4, total_pages: 2 })
        assert.ok(String(page1.headers.link).includes('</api/v1/assets?page=2&per_page=3>; rel="next"'), String(page1.headers.link))
        const page2 = await get(l.apiKey, '?per_page=3&page=2')
        assert.deepEqual(page2.body.data.map((x: any) => x.asset_id), [ids[1]])
        const past = await get(l.apiKey, '?per_page=3&page=5')
        assert.deepEqual(past.body.data, [])
        assert.deepEqual(past.body.pagination, { page: 5, per_page: 3, total: 4, total_pages: 2 })
        assert.equal((await get(l.apiKey, '?per_page=500')).body.pagination.per_page, 100)
      })

      it('filters by status, customer_location_id and q (tag or name, case-insensitive, wildcards literal)', async () => {
        const idsOf = async (query: string) => {
          const r = await get(l.apiKey, query)
          assert.equal(r.status, 200, JSON.stringify(r.body))
          assert.equal(r.body.pagination.total, r.body.data.length)
          return r.body.data.map((x: any) => x.asset_id)
        }
        assert.deepEqual(await idsOf('?status=In+Maintenance'), [ids[2], ids[1]])
        assert.deepEqual(await idsOf('?status=Retired'), [ids[3]])
        assert.deepEqual(await idsOf('?status=Out%20of%20Service'), [])
        assert.deepEqual(await idsOf(`?customer_location_id=${location}`), [ids[0], ids[2]])
        assert.deepEqual(await idsOf(`?customer_location_id=${location}&status=In+Maintenance`), [ids[2]])
        assert.deepEqual(await idsOf('?q=pump'), [ids[0], ids[1]])
        assert.deepEqual(await idsOf('?q=100%25'), [ids[0]])
        assert.deepEqual(await idsOf('?q=%C3%A9clair_'), [ids[2]])
        assert.deepEqual(await idsOf('?q=%C3%89CLAIR'), [ids[2]])
        assert.deepEqual(await idsOf('?q=ROOFTOP'), [ids[2]])
        assert.deepEqual(await idsOf('?q=pump-2'), [ids[1]])
        assert.deepEqual(await idsOf(`?customer_location_id=${bBasics.locationId}`), [])
      })

      it('rejects bad list parameters', async () => {
        assertInvalid(await get(l.apiKey, '?status=Broken'), [['status', ENUM_MESSAGE]])
        assertInvalid(await get(l.apiKey, '?status=active'), [['status', ENUM_MESSAGE]])
        assertInvalid(await get(l.apiKey, '?status='), [['status', 'must not be empty']])
        assertInvalid(await get(l.apiKey, '?stauts=Active'), [['stauts', 'is not a known parameter']])
        assertInvalid(await get(l.apiKey, '?status=Active&status=Retired'), [['status', 'must not be repeated']])
        assertInvalid(await get(l.apiKey, '?customer_location_id=abc'), [['customer_location_id', 'must be an integer']])
        assertInvalid(await get(l.apiKey, '?page=0&per_page=0'), [['page', 'must be a positive integer'], ['per_page', 'must be a positive integer']])
        assertInvalid(await get(l.apiKey, '?q=a%00b'), [['q', CONTROL_MESSAGE]])
        assertInvalid(await get(l.apiKey, `?q=${'x'.repeat(201)}`), [['q', 'must be at most 200 characters']])
      })

      it('GET ?id= returns one asset and refuses list parameters beside it', async () => {
        const r = await get(l.apiKey, `?id=${ids[1]}`)
        assert.equal(r.status, 200)
        assert.equal(r.body.data.asset_tag, 'PUMP-2')
        assert.equal(r.body.pagination, undefined)
        assertInvalid(await get(l.apiKey, `?id=${ids[1]}&status=Active&page=1`), [['status', 'cannot be combined with id'], ['page', 'cannot be combined with id']])
        assertInvalid(await get(l.apiKey, '?id=x'), [['id', 'must be an integer']])
        assertError(await get(l.apiKey, '?id=987654'), 404, 'not_found')
      })
    })

    describe('soft delete', () => {
      it('DELETE answers 200 with the id, then the asset is not_found everywhere and out of lists', async () => {
        const l = await createTenant(t.database, { name: 'Delete Co' })
        const keep = await createAssetVia(t.app, l.apiKey, 'KEEP-1')
        const gone = await createAssetVia(t.app, l.apiKey, 'GONE-1')
        assert.equal((await get(l.apiKey)).body.pagination.total, 2)

        const r = await del(l.apiKey, gone)
        assert.equal(r.status, 200, JSON.stringify(r.body))
        assert.deepEqual(r.body, { success: true, message: 'Asset deleted successfully', data: { asset_id: gone }, request_id: r.headers['x-request-id'] })

        assertError(await get(l.apiKey, `?id=${gone}`), 404, 'not_found')
        assertError(await put(l.apiKey, gone, { asset_name: 'Back' }), 404, 'not_found')
        assertError(await del(l.apiKey, gone), 404, 'not_found')
        const list = await get(l.apiKey)
        assert.deepEqual(list.body.data.map((x: any) => x.asset_id), [keep])
        assert.equal(list.body.pagination.total, 1)
        assert.equal((await get(l.apiKey, '?q=gone')).body.pagination.total, 0)
        // The row is kept (soft delete), marked as deleted.
        const row = await t.database.db.selectFrom('assets').select(['deleted_at']).where('asset_id', '=', gone).executeTakeFirstOrThrow()
        assert.ok(row.deleted_at !== null && row.deleted_at > 0)
      })

      it('DELETE needs a valid ?id= and knows unknown ids', async () => {
        assertInvalid(await call(t.app, 'DELETE', '/api/v1/assets', { key: a.apiKey }), [['id', 'is required']])
        assertInvalid(await del(a.apiKey, 'abc'), [['id', 'must be an integer']])
        assertInvalid(await call(t.app, 'DELETE', '/api/v1/assets?id=1&force=true', { key: a.apiKey }), [['force', 'is not a known parameter']])
        const r = await del(a.apiKey, 987_654)
        assertError(r, 404, 'not_found')
        assert.equal(r.body.error.message, 'Asset 987654 not found')
      })

      it('DELETE takes no body fields: an empty object or nothing, and anything else is unknown', async () => {
        const id = await createAssetVia(t.app, a.apiKey, freshTag())
        const json = { 'content-type': 'application/json' }
        assertInvalid(await call(t.app, 'DELETE', `/api/v1/assets?id=${id}`, { key: a.apiKey, rawBody: '{"x":1,"force":true}', headers: json }), [['x', 'is not a known field'], ['force', 'is not a known field']])
        assert.equal((await call(t.app, 'GET', `/api/v1/assets?id=${id}`, { key: a.apiKey })).status, 200, 'not deleted')
        assert.equal((await call(t.app, 'DELETE', `/api/v1/assets?id=${id}`, { key: a.apiKey, rawBody: ' {} ', headers: json })).status, 200)
        const other = await createAssetVia(t.app, a.apiKey, freshTag())
        assert.equal((await call(t.app, 'DELETE', `/api/v1/assets?id=${other}`, { key: a.apiKey, rawBody: '', headers: json })).status, 200)
      })
    })

    describe('assets on jobs', () => {
      const assetIdsOf = (job: ApiResponse) => job.body.data.assets.map((x: any) => x.asset_id)

      it('a new job links only the live assets of the company in asset_ids', async () => {
        const live = await createAssetVia(t.app, a.apiKey, freshTag('LIVE'), { asset_status: 'In Maintenance' })
        const deleted = await createAssetVia(t.app, a.apiKey, freshTag('DEAD'))
        await del(a.apiKey, deleted)
        const theirs = await createAssetVia(t.app, b.apiKey, freshTag('THEIRS'))
        const jobId = await createJobVia(t.app, a.apiKey, aBasics.locationId, { asset_ids: [deleted, live, theirs, live, 987_654] })
        const job = await getJob(a.apiKey, jobId)
        assert.equal(job.status, 200)
        const tag = (await get(a.apiKey, `?id=${live}`)).body.data.asset_tag
        assert.equal(job.body.data.assets.length, 1)
        const link = job.body.data.assets[0]
        assert.match(link.linked_at, ISO)
        assert.deepEqual(link, {
          asset_id: live, asset_tag: tag, asset_name: `Asset ${tag}`, asset_status: 'In Maintenance', relationship_type: 'serviced', relationship_notes: null, linked_at: link.linked_at,
        })
        // The other company's asset was not linked to anything of ours.
        const links = await t.database.db.selectFrom('job_assets').select('asset_id').where('job_id', '=', jobId).execute()
        assert.deepEqual(links.map((x) => x.asset_id), [live])
      })

      it("an asset deleted after linking leaves the job's assets", async () => {
        const one = await createAssetVia(t.app, a.apiKey, freshTag('J1'))
        const two = await createAssetVia(t.app, a.apiKey, freshTag('J2'))
        const jobId = await createJobVia(t.app, a.apiKey, aBasics.locationId, { asset_ids: [one, two] })
        assert.deepEqual(assetIdsOf(await getJob(a.apiKey, jobId)).sort((x: number, y: number) => x - y), [one, two])
        await del(a.apiKey, one)
        assert.deepEqual(assetIdsOf(await getJob(a.apiKey, jobId)), [two])
      })

      it('PUT asset_ids replaces the links, keeps linked_at of links that stay, and [] removes all', async () => {
        const [x, y, z] = [
          await createAssetVia(t.app, a.apiKey, freshTag('PX')),
          await createAssetVia(t.app, a.apiKey, freshTag('PY')),
          await createAssetVia(t.app, a.apiKey, freshTag('PZ')),
        ]
        const jobId = await createJobVia(t.app, a.apiKey, aBasics.locationId, { asset_ids: [x, y], asset_relationship_type: 'inspected' })
        // Age the links so a rewrite would show.
        await t.database.db.updateTable('job_assets').set({ linked_at: 1_700_000_000 }).where('job_id', '=', jobId).execute()

        const deletedId = await createAssetVia(t.app, a.apiKey, freshTag('PD'))
        await del(a.apiKey, deletedId)
        const r = await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: a.apiKey, body: { asset_ids: [y, z, deletedId] } })
        assert.equal(r.status, 200, JSON.stringify(r.body))
        const assets = (await getJob(a.apiKey, jobId)).body.data.assets as any[]
        const byId = new Map(assets.map((l) => [l.asset_id, l]))
        assert.deepEqual([...byId.keys()].sort((p, q) => p - q), [y, z])
        assert.equal(byId.get(y).linked_at, '2023-11-14T22:13:20Z')
        assert.equal(byId.get(y).relationship_type, 'inspected')
        assert.notEqual(byId.get(z).linked_at, '2023-11-14T22:13:20Z')
        assert.match(byId.get(z).linked_at, ISO)
        assert.equal(byId.get(z).relationship_type, 'serviced')

        const cleared = await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: a.apiKey, body: { asset_ids: [] } })
        assert.equal(cleared.status, 200)
        assert.deepEqual((await getJob(a.apiKey, jobId)).body.data.assets, [])
      })

      it("another company's asset ids in a job's asset_ids are skipped silently on PUT too", async () => {
        const mine = await createAssetVia(t.app, a.apiKey, freshTag('MINE'))
        const theirs = await createAssetVia(t.app, b.apiKey, freshTag('THEIRS'))
        const jobId = await createJobVia(t.app, a.apiKey, aBasics.locationId)
        const r = await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: a.apiKey, body: { asset_ids: [theirs, mine] } })
        assert.equal(r.status, 200)
        assert.deepEqual(assetIdsOf(await getJob(a.apiKey, jobId)), [mine])
        // And B's own view of its asset is untouched by A's attempt.
        assert.equal((await get(b.apiKey, `?id=${theirs}`)).status, 200)
      })

      it('without the module: asset_ids on POST/PUT jobs is 403 plan_upgrade_required, and a job answers assets: []', async () => {
        for (const assetIds of [[1], []]) {
          const created = await call(t.app, 'POST', '/api/v1/jobs', { key: n.apiKey, body: { job_title: 'Fix', customer_location_id: nBasics.locationId, asset_ids: assetIds } })
          assertError(created, 403, 'plan_upgrade_required')
        }
        const jobId = await createJobVia(t.app, n.apiKey, nBasics.locationId)
        assertError(await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: n.apiKey, body: { asset_ids: [] } }), 403, 'plan_upgrade_required')
        // The module check comes before body validation (API.md §2).
        assertError(await call(t.app, 'PUT', `/api/v1/jobs?id=${jobId}`, { key: n.apiKey, body: { asset_ids: 'x', job_title: 5 } }), 403, 'plan_upgrade_required')
        const job = await getJob(n.apiKey, jobId)
        assert.equal(job.status, 200)
        assert.deepEqual(job.body.data.assets, [])
      })

      it('a company that loses the module sees assets: [] on its jobs, and the assets endpoints close', async () => {
        const c = await createTenant(t.database, { name: 'Downgraded Co' })
        const location = (await createBasics(t.app, c.apiKey, ' C')).locationId
        const assetId = await createAssetVia(t.app, c.apiKey, 'C-1')
        const jobId = await createJobVia(t.app, c.apiKey, location, { asset_ids: [assetId] })
        assert.deepEqual(assetIdsOf(await getJob(c.apiKey, jobId)), [assetId])
        await t.database.db.updateTable('companies').set({ modules: '' }).where('company_id', '=', c.companyId).execute()
        const job = await getJob(c.apiKey, jobId)
        assert.equal(job.status, 200)
        assert.deepEqual(job.body.data.assets, [])
        assertError(await get(c.apiKey, `?id=${assetId}`), 403, 'plan_upgrade_required')
      })
    })

    describe('module gate', () => {
      it('every assets endpoint answers 403 plan_upgrade_required without the Asset Management module', async () => {
        const existing = await createAssetVia(t.app, a.apiKey, freshTag())
        const answers = [
          await get(n.apiKey),
          await get(n.apiKey, `?id=${existing}`),
          await get(n.apiKey, '?id=1'),
          await post(n.apiKey, { asset_tag: 'N-1', asset_name: 'x' }),
          await put(n.apiKey, existing, { asset_name: 'x' }),
          await del(n.apiKey, existing),
        ]
        for (const r of answers) {
          assertError(r, 403, 'plan_upgrade_required')
          assert.match(r.body.error.message, /Asset Management/)
        }
        assert.equal((await t.database.db.selectFrom('assets').select('asset_id').where('company_id', '=', n.companyId).execute()).length, 0)
      })

      it('the module check comes before body checks (415, invalid_json, validation)', async () => {
        assertError(await post(n.apiKey, { nonsense: true }), 403, 'plan_upgrade_required')
        assertError(await call(t.app, 'POST', '/api/v1/assets', { key: n.apiKey }), 403, 'plan_upgrade_required')
        assertError(await call(t.app, 'POST', '/api/v1/assets', { key: n.apiKey, rawBody: '{', headers: { 'content-type': 'application/json' } }), 403, 'plan_upgrade_required')
        assertError(await call(t.app, 'GET', '/api/v1/assets?bogus=1', { key: n.apiKey }), 403, 'plan_upgrade_required')
      })

      it('the module check comes after authentication', async () => {
        assertError(await call(t.app, 'GET', '/api/v1/assets'), 401, 'unauthorized')
        assertError(await call(t.app, 'DELETE', '/api/v1/assets?id=1', { key: 'fsm_not_a_key' }), 401, 'unauthorized')
      })

      it('without the module, a key lacking the scope still gets plan_upgrade_required (403 plan before 403 scope)', async () => {
        const key = await createExtraKey(t.database, n.companyId, ['jobs:read'])
        assertError(await get(key.apiKey), 403, 'plan_upgrade_required')
        assertError(await get(key.apiKey, '?id=1'), 403, 'plan_upgrade_required')
        assertError(await post(key.apiKey, { asset_tag: 'x', asset_name: 'y' }), 403, 'plan_upgrade_required')
        assertError(await put(key.apiKey, 1, { asset_name: 'y' }), 403, 'plan_upgrade_required')
        assertError(await del(key.apiKey, 1), 403, 'plan_upgrade_required')
      })

      it('the module check comes before Idempotency-Key handling', async () => {
        const headers = { 'idempotency-key': 'not\u0001valid' }
        assertError(await call(t.app, 'POST', '/api/v1/assets', { key: n.apiKey, body: { asset_tag: 'x', asset_name: 'y' }, headers }), 403, 'plan_upgrade_required')
      })

      it('a company not on the Enterprise plan gets plan_upgrade_required (REST API)', async () => {
        const starter = await createTenant(t.database, { plan: 'professional' })
        const r = await get(starter.apiKey)
        assertError(r, 403, 'plan_upgrade_required')
        assert.match(r.body.error.message, /Enterprise/)
      })
    })

    describe('scopes', () => {
      it('reads need assets:read, writes need assets:write (write does not imply read)', async () => {
        const id = await createAssetVia(t.app, a.apiKey, freshTag())
        const reader = await createExtraKey(t.database, a.companyId, ['assets:read'])
        const writer = await createExtraKey(t.database, a.companyId, ['assets:write'])
        const other = await createExtraKey(t.database, a.companyId, ['jobs:read', 'jobs:write', 'customers:read', 'customers:write'])

        for (const r of [await post(reader.apiKey, { asset_tag: freshTag(), asset_name: 'x' }), await put(reader.apiKey, id, { asset_name: 'x' }), await del(reader.apiKey, id)]) {
          assertError(r, 403, 'insufficient_scope')
          assert.match(r.body.error.message, /assets:write/)
        }
        for (const r of [await get(writer.apiKey), await get(writer.apiKey, `?id=${id}`)]) {
          assertError(r, 403, 'insufficient_scope')
          assert.match(r.body.error.message, /assets:read/)
        }
        for (const r of [await get(other.apiKey), await post(other.apiKey, { asset_tag: freshTag(), asset_name: 'x' }), await del(other.apiKey, id)]) assertError(r, 403, 'insufficient_scope')

        // Nothing changed, and each key can do what its scope allows.
        assert.equal((await get(reader.apiKey, `?id=${id}`)).body.data.asset_name, (await get(a.apiKey, `?id=${id}`)).body.data.asset_name)
        assert.equal((await put(writer.apiKey, id, { asset_name: 'By writer' })).status, 200)
        assert.equal((await del(writer.apiKey, id)).status, 200)
        assertError(await get(reader.apiKey, `?id=${id}`), 404, 'not_found')
      })
    })

    describe('conditional requests and idempotency', () => {
      it('GET ?id= sends a strong ETag; If-None-Match with it answers 304 without a body', async () => {
        const id = await createAssetVia(t.app, a.apiKey, freshTag('ETAG'))
        const r = await get(a.apiKey, `?id=${id}`)
        const etag = String(r.headers.etag)
        assert.match(etag, /^"[^"]+"$/)
        const again = await call(t.app, 'GET', `/api/v1/assets?id=${id}`, { key: a.apiKey, headers: { 'if-none-match': etag } })
        assert.equal(again.status, 304)
        assert.equal(again.body, undefined)
        assert.equal(again.headers.etag, etag)
        assert.ok(again.headers['x-request-id'])
        const stale = await call(t.app, 'GET', `/api/v1/assets?id=${id}`, { key: a.apiKey, headers: { 'if-none-match': '"stale"' } })
        assert.equal(stale.status, 200)
        assert.equal(stale.body.data.asset_id, id)
      })

      it('PUT answers the new ETag (new on every write, even within one second) and honours If-Match', async () => {
        const id = await createAssetVia(t.app, a.apiKey, freshTag('IFM'))
        const first = String((await get(a.apiKey, `?id=${id}`)).headers.etag)
        const updated = await call(t.app, 'PUT', `/api/v1/assets?id=${id}`, { key: a.apiKey, body: { asset_status: 'Retired' }, headers: { 'if-match': first } })
        assert.equal(updated.status, 200)
        const second = String(updated.headers.etag)
        assert.notEqual(second, first)
        assert.equal((await get(a.apiKey, `?id=${id}`)).headers.etag, second)
        // Same representation but a new write: still a new tag.
        const third = String((await put(a.apiKey, id, { asset_status: 'Retired' })).headers.etag)
        assert.notEqual(third, second)

        const refused = await call(t.app, 'PUT', `/api/v1/assets?id=${id}`, { key: a.apiKey, body: { asset_name: 'Lost update' }, headers: { 'if-match': first } })
        assertError(refused, 412, 'precondition_failed')
        assert.notEqual((await get(a.apiKey, `?id=${id}`)).body.data.asset_name, 'Lost update')
      })

      it('DELETE honours If-Match', async () => {
        const id = await createAssetVia(t.app, a.apiKey, freshTag('DIFM'))
        const etag = String((await get(a.apiKey, `?id=${id}`)).headers.etag)
        await put(a.apiKey, id, { model: 'Changed' })
        assertError(await call(t.app, 'DELETE', `/api/v1/assets?id=${id}`, { key: a.apiKey, headers: { 'if-match': etag } }), 412, 'precondition_failed')
        assert.equal((await get(a.apiKey, `?id=${id}`)).status, 200)
        const current = String((await get(a.apiKey, `?id=${id}`)).headers.etag)
        assert.equal((await call(t.app, 'DELETE', `/api/v1/assets?id=${id}`, { key: a.apiKey, headers: { 'if-match': current } })).status, 200)
        assertError(await get(a.apiKey, `?id=${id}`), 404, 'not_found')
      })

      it('POST with an Idempotency-Key creates once and replays the first answer', async () => {
        const tag = freshTag('IDEM')
        const headers = { 'idempotency-key': `create-${tag}` }
        const body = { asset_tag: tag, asset_name: 'Once' }
        const first = await call(t.app, 'POST', '/api/v1/assets', { key: a.apiKey, body, headers })
        assert.equal(first.status, 201)
        const replay = await call(t.app, 'POST', '/api/v1/assets', { key: a.apiKey, body: { asset_name: 'Once', asset_tag: tag }, headers })
        assert.equal(replay.status, 201)
        assert.equal(replay.headers['idempotent-replayed'], 'true')
        assert.deepEqual(replay.body, first.body)
        assert.equal(replay.headers.location, first.headers.location)
        assert.equal((await get(a.apiKey, `?q=${tag}`)).body.pagination.total, 1)
        assertError(await call(t.app, 'POST', '/api/v1/assets', { key: a.apiKey, body: { ...body, model: 'Other' }, headers }), 422, 'idempotency_key_reused')
      })
    })

    describe('tenant isolation', () => {
      it("another company's asset is not_found on GET, PUT and DELETE, and stays untouched", async () => {
        const theirs = await createAssetVia(t.app, b.apiKey, freshTag('ISO'), { asset_name: 'Beta boiler' })
        const before = (await get(b.apiKey, `?id=${theirs}`)).body.data
        for (const r of [await get(a.apiKey, `?id=${theirs}`), await put(a.apiKey, theirs, { asset_name: 'Hijacked' }), await del(a.apiKey, theirs)]) {
          assertError(r, 404, 'not_found')
          assert.equal(r.body.error.message, `Asset ${theirs} not found`)
        }
        assert.deepEqual((await get(b.apiKey, `?id=${theirs}`)).body.data, before)
        assert.ok(!(await get(a.apiKey, '?per_page=100&q=beta')).body.data.some((x: any) => x.asset_id === theirs))
      })

      it("another company's location in an asset body is validation_failed on customer_location_id", async () => {
        const msg = `refers to location ${bBasics.locationId}, which does not exist`
        assertInvalid(await post(a.apiKey, { asset_tag: freshTag(), asset_name: 'x', customer_location_id: bBasics.locationId }), [['customer_location_id', msg]])
        const mine = await createAssetVia(t.app, a.apiKey, freshTag())
        assertInvalid(await put(a.apiKey, mine, { customer_location_id: bBasics.locationId }), [['customer_location_id', msg]])
        assert.equal((await get(a.apiKey, `?id=${mine}`)).body.data.customer_location_id, null)
      })
    })

    it('the OpenAPI document describes every assets endpoint', async () => {
      const r = await call(t.app, 'GET', '/api/v1/openapi.json')
      assert.equal(r.status, 200)
      assert.deepEqual(Object.keys(r.body.paths['/api/v1/assets']).filter((m) => m !== 'head').sort(), ['delete', 'get', 'post', 'put'])
    })
  })
}
