/**
 * Every validation rule of API.md §1 and §4 on the Jobs API, through HTTP:
 * types, unknown fields, trimming, limits (in code points), control
 * characters, dates with offsets, end after start (also against stored
 * values), foreign ids, the `?id=` rules, query parameters, and `details`
 * listing every offending field.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { DIALECTS, startTestApp, type TestApp } from './helpers/app.ts'
import { call, createAssetVia, createBasics, createJobVia, createTenant, type ApiResponse } from './helpers/factories.ts'

const PATH = '/api/v1/jobs'

type Detail = { field: string; message: string }

/** 400 validation_failed whose details name exactly `fields` (any order), each once. */
function assertInvalid(res: ApiResponse, fields: string[], messagePattern?: RegExp) {
  assert.equal(res.status, 400, JSON.stringify(res.body))
  assert.equal(res.body.success, false)
  assert.equal(res.body.error.code, 'validation_failed', JSON.stringify(res.body))
  assert.equal(typeof res.body.error.message, 'string')
  assert.ok(res.body.error.message.length > 0)
  const details = res.body.error.details as Detail[]
  assert.ok(Array.isArray(details), 'details is an array')
  for (const d of details) {
    assert.equal(typeof d.field, 'string')
    assert.equal(typeof d.message, 'string')
    assert.ok(d.message.length > 0)
  }
  assert.deepEqual(details.map((d) => d.field).sort(), [...fields].sort(), JSON.stringify(res.body.error))
  if (messagePattern) for (const d of details) assert.match(d.message, messagePattern, JSON.stringify(d))
  assert.equal(typeof res.body.request_id, 'string')
  assert.equal(res.headers['x-request-id'], res.body.request_id)
}

function detailFor(res: ApiResponse, field: string): Detail {
  const d = (res.body.error.details as Detail[]).find((x) => x.field === field)
  assert.ok(d, `detail for ${field} in ${JSON.stringify(res.body.error)}`)
  return d
}

const EMOJI = '\u{1F527}' // 🔧, one code point, two UTF-16 units

for (const dialect of DIALECTS) {
  describe(`jobs validation (${dialect})`, () => {
    let t: TestApp
    let key: string
    let locationId: number
    let technicianId: number
    let otherKey: string
    let otherLocationId: number
    let otherTechnicianId: number
    before(async () => {
      t = await startTestApp(dialect)
      const mine = await createTenant(t.database, { name: 'Mine Co' })
      key = mine.apiKey
      ;({ locationId, technicianId } = await createBasics(t.app, key))
      const theirs = await createTenant(t.database, { name: 'Other Co' })
      otherKey = theirs.apiKey
      ;({ locationId: otherLocationId, technicianId: otherTechnicianId } = await createBasics(t.app, otherKey, ' (other)'))
    })
    after(() => t.close())

    const post = (body: unknown, query = '') => call(t.app, 'POST', `${PATH}${query}`, { key, body })
    const put = (id: number | string | null, body: unknown) => call(t.app, 'PUT', id === null ? PATH : `${PATH}?id=${id}`, { key, body })
    const patch = (id: number | string | null, body: unknown) => call(t.app, 'PATCH', id === null ? PATH : `${PATH}?id=${id}`, { key, body })
    const list = (query: string) => call(t.app, 'GET', `${PATH}${query}`, { key })
    const getJob = async (id: number) => {
      const res = await call(t.app, 'GET', `${PATH}?id=${id}`, { key })
      assert.equal(res.status, 200, JSON.stringify(res.body))
      return res.body.data as Record<string, any>
    }
    const valid = (extra: Record<string, unknown> = {}) => ({ job_title: 'AC unit repair', customer_location_id: locationId, ...extra })
    async function created(body: Record<string, unknown>) {
      const res = await post(body)
      assert.equal(res.status, 201, JSON.stringify(res.body))
      return getJob(res.body.data.job_id)
    }
    async function countJobs() {
      const rows = await t.database.db.selectFrom('jobs').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
      return Number(rows.n)
    }

    describe('POST: required fields and types', () => {
      it('missing required fields are each reported as "is required"', async () => {
        assertInvalid(await post({}), ['job_title', 'customer_location_id'], /is required/)
        assertInvalid(await post({ job_title: 'AC' }), ['customer_location_id'], /is required/)
        assertInvalid(await post({ customer_location_id: locationId }), ['job_title'], /is required/)
        const res = await post({})
        assert.match(res.body.error.message, /job_title/)
        assert.match(res.body.error.message, /customer_location_id/)
      })

      it('a required string that is empty after trimming is "is required"', async () => {
        for (const title of ['', '   ', ' \t\n ']) assertInvalid(await post(valid({ job_title: title })), ['job_title'], /is required/)
      })

      it('integers must be JSON numbers with an integral, positive value ≤ 2^53−1', async () => {
        const before = await countJobs()
        for (const bad of ['87', String(locationId), 87.5, 0, -1, -87, 2 ** 53, 1e300, true, null, [locationId], { id: locationId }]) {
          assertInvalid(await post(valid({ customer_location_id: bad })), ['customer_location_id'])
          assertInvalid(await post(valid({ assigned_technician_id: bad === null ? 'x' : bad })), ['assigned_technician_id'])
        }
        assert.equal(await countJobs(), before, 'nothing was created')
        // 2^53−1 is a valid integer: it fails only because no such location exists.
        const big = await post(valid({ customer_location_id: 2 ** 53 - 1 }))
        assertInvalid(big, ['customer_location_id'])
        // A float with an integral value is a JSON number with an integral value.
        const integral = await call(t.app, 'POST', PATH, {
          key,
          rawBody: `{"job_title":"Integral","customer_location_id":${locationId}.0}`,
          headers: { 'content-type': 'application/json' },
        })
        assert.equal(integral.status, 201, JSON.stringify(integral.body))
      })

      it('strings must be strings; enums are exact (no trimming, no case folding)', async () => {
        assertInvalid(await post(valid({ job_title: 42 })), ['job_title'])
        assertInvalid(await post(valid({ job_title: ['AC'] })), ['job_title'])
        assertInvalid(await post(valid({ job_description: 7 })), ['job_description'])
        for (const p of ['high', 'HIGH', ' High', 'High ', 'Critical', '', null, 1]) {
          assertInvalid(await post(valid({ job_priority: p })), ['job_priority'])
        }
        for (const p of ['Low', 'Medium', 'High', 'Urgent']) {
          assert.equal((await created(valid({ job_priority: p }))).job_priority, p)
        }
        for (const r of ['Serviced', ' serviced', 'repaired', '', null]) {
          assertInvalid(await post(valid({ asset_ids: [], asset_relationship_type: r })), ['asset_relationship_type'])
        }
      });

      it('null is accepted only where the field is nullable', async () => {
        assertInvalid(await post(valid({ job_title: null })), ['job_title'])
        assertInvalid(await post(valid({ customer_location_id: null })), ['customer_location_id'])
        // An enum field sent null is told its values (it was "must be a string", and the values only after a second try).
        assertInvalid(await post(valid({ job_priority: null })), ['job_priority'], /^must be one of: Low, Medium, High, Urgent$/)
        assertInvalid(await post(valid({ asset_ids: null })), ['asset_ids'])
        const job = await created(valid({ job_description: null, assigned_technician_id: null, scheduled_start: null, scheduled_end: null }))
        assert.equal(job.job_description, null)
        assert.equal(job.assigned_technician_id, null)
        assert.equal(job.scheduled_start, null)
        assert.equal(job.scheduled_end, null)
      })

      it('unknown body fields are rejected, each named; job_status and job_id may not be sent', async () => {
        assertInvalid(await post(valid({ stauts: 'Pending' })), ['stauts'])
        assertInvalid(await post(valid({ job_status: 'Pending' })), ['job_status'])
        assertInvalid(await post(valid({ job_id: 5 })), ['job_id'])
        assertInvalid(await post(valid({ customer_id: 1, customer_name: 'Acme', created_at: '2026-02-24T14:30:00Z' })), ['customer_id', 'customer_name', 'created_at'])
        assertInvalid(await post(valid({ __proto__x: 1, constructor: 1 })), ['__proto__x', 'constructor'])
        const proto = await call(t.app, 'POST', PATH, { key, rawBody: `{"job_title":"AC","customer_location_id":${locationId},"__proto__":{"x":1}}`, headers: { 'content-type': 'application/json' } })
        assertInvalid(proto, ['__proto__'])
        // A field without a name is field "" (as a query parameter without one), not the body as a whole.
        const nameless = await post(valid({ '': 1 }))
        assertInvalid(nameless, [''])
        assert.equal(nameless.body.error.details[0].message, 'a field must have a name')
        assert.equal(nameless.body.error.message, 'a field must have a name')
      })

      it('unknown fields are named up to 1,000; past them, one detail says how many more (a 1 MiB body of them named each in 0.6 s, 1.6 MB)', async () => {
        const unknown = (count: number) => Array.from({ length: count }, (_, i) => `"f${i}":1`).join(',')
        const named = (count: number) => Array.from({ length: count }, (_, i) => `f${i}`)
        const send = (rawBody: string) => call(t.app, 'POST', PATH, { key, rawBody, headers: { 'content-type': 'application/json' } })
        // 1,000 unknown fields: each named, nothing more.
        assertInvalid(await send(`{"job_title":"AC","customer_location_id":${locationId},${unknown(1_000)}}`), named(1_000))
        // 80,000, among them a "__proto__" (still a field, not a prototype), with problems of known fields after them: those are named too.
        const many = await send(`{"job_title":"AC","__proto__":{"x":1},${unknown(80_000)},"job_priority":"urgent"}`)
        assertInvalid(many, ['__proto__', ...named(999), 'job_priority', 'customer_location_id', 'body'])
        assert.equal(detailFor(many, 'body').message, 'has 79001 more unknown fields')
        assert.equal(detailFor(many, 'job_priority').message, 'must be one of: Low, Medium, High, Urgent')
        assert.ok(JSON.stringify(many.body).length < 100_000, `a short answer: ${JSON.stringify(many.body).length} bytes`)
        // A body whose known fields are valid is refused all the same.
        const oneMore = await send(`{"job_title":"AC","customer_location_id":${locationId},${unknown(1_001)}}`)
        assertInvalid(oneMore, [...named(1_000), 'body'])
        assert.equal(detailFor(oneMore, 'body').message, 'has 1 more unknown field')
      })

      it('details lists every offending field, array items as asset_ids[N]', async () => {
        const res = await post({
          job_title: 5,
          customer_location_id: '87',
          job_priority: 'Critical',
          job_description: 9,
          scheduled_start: '2026-02-25',
          scheduled_end: '2026-02-30T10:00:00Z',
          assigned_technician_id: 1.5,
          asset_ids: [1, 2, '3', 4.5, 0, -2],
          asset_relationship_type: 'fixed',
          stauts: 'x',
        })
        assertInvalid(res, [
          'job_title', 'customer_location_id', 'job_priority', 'job_description', 'scheduled_start', 'scheduled_end',
          'assigned_technician_id', 'asset_ids[2]', 'asset_ids[3]', 'asset_ids[4]', 'asset_ids[5]', 'asset_relationship_type', 'stauts',
        ])
        for (const field of ['job_title', 'customer_location_id', 'stauts', 'asset_ids[2]']) assert.match(res.body.error.message, new RegExp(field.replace(/[[\]]/g, '\\$&')))
      })

      it('rules across fields are reported together with the other problems of the request', async () => {
        // scheduled_end not after scheduled_start is a rule on the request alone (API.md §2), so it is listed with the rest.
        assertInvalid(await post({ job_title: 5, customer_location_id: locationId, scheduled_start: '2026-02-25T10:00:00Z', scheduled_end: '2026-02-25T09:00:00Z' }), [
          'job_title', 'scheduled_end',
        ])
        assertInvalid(await post({ job_title: 'AC', customer_location_id: locationId, job_priority: 'high', asset_relationship_type: 'installed' }), [
          'job_priority', 'asset_relationship_type',
        ])
      })

      it('asset_ids: an array of at most 100 positive integers; asset_relationship_type needs asset_ids', async () => {
        assertInvalid(await post(valid({ asset_ids: 5 })), ['asset_ids'])
        assertInvalid(await post(valid({ asset_ids: '1,2' })), ['asset_ids'])
        assertInvalid(await post(valid({ asset_ids: Array.from({ length: 101 }, (_, i) => i + 1) })), ['asset_ids'])
        assertInvalid(await post(valid({ asset_ids: [1, null] })), ['asset_ids[1]'])
        // Past 100, the length and the first 101 items are judged: 100,000 bad items were 100,000 details (~2 s, 6 MB).
        const long = await post(valid({ asset_ids: [...Array.from({ length: 99 }, (_, i) => i + 1), 'a', 'b', ...Array.from({ length: 99_999 }, () => 'c')] }))
        assertInvalid(long, ['asset_ids', 'asset_ids[99]', 'asset_ids[100]'])
        assert.equal(long.body.error.details.find((d: Detail) => d.field === 'asset_ids').message, 'must have at most 100 items')
        assertInvalid(await post(valid({ asset_ids: [2 ** 53] })), ['asset_ids[0]'])
        assertInvalid(await post(valid({ asset_relationship_type: 'installed' })), ['asset_relationship_type'])
        const ok = await post(valid({ asset_ids: Array.from({ length: 100 }, (_, i) => i + 1_000_000) }))
        assert.equal(ok.status, 201, JSON.stringify(ok.body))
      })
    })

    describe('trimming, control characters and limits', () => {
      it('strings are trimmed at both ends; an optional one empty after trimming is stored as null', async () => {
        const res = await post(valid({ job_title: '  AC unit repair \t', job_description: '\n  Customer reports AC not cooling  \r\n' }))
        assert.equal(res.status, 201, JSON.stringify(res.body))
        assert.equal(res.body.data.job_title, 'AC unit repair')
        const job = await getJob(res.body.data.job_id)
        assert.equal(job.job_title, 'AC unit repair')
        assert.equal(job.job_description, 'Customer reports AC not cooling')
        const blank = await created(valid({ job_description: '   ' }))
        assert.equal(blank.job_description, null)
      })

      it('NUL and other control characters (C0, DEL, C1) are rejected in titles (tab and newlines too, and the line and paragraph separators)', async () => {
        for (const c of ['\u0000', '\u0001', '\u0007', '\u001b', '\u001f', '\t', '\n', '\r', '\u007f', '\u0080', '\u0092', '\u009f', '\u2028', '\u2029']) {
          assertInvalid(await post(valid({ job_title: `AC${c}unit` })), ['job_title'])
        }
        const res = await put((await createJobVia(t.app, key, locationId)), { job_title: 'AC\u0000unit' })
        assertInvalid(res, ['job_title'])
      })

      it('descriptions allow tab, CR and LF but no other control characters', async () => {
        const text = 'Line one\n\tindented\r\nLine three'
        assert.equal((await created(valid({ job_description: text }))).job_description, text)
        for (const c of ['\u0000', '\u0008', '\u000b', '\u000c', '\u001b', '\u001f', '\u007f', '\u0085']) {
          assertInvalid(await post(valid({ job_description: `bad${c}text` })), ['job_description'])
        }
        // The characters either side of the control ranges are text; a description may hold a line separator.
        const edges = 'tilde ~ nbsp \u00a0 é \u2027 \u202a'
        assert.equal((await created(valid({ job_description: 'para\u2029graph' }))).job_description, 'para\u2029graph')
        assert.equal((await created(valid({ job_title: edges, job_description: edges }))).job_title, edges)
      })

      it('job_title: at most 200 code points (an emoji is one)', async () => {
        assert.equal((await created(valid({ job_title: 'a'.repeat(200) }))).job_title, 'a'.repeat(200))
        assertInvalid(await post(valid({ job_title: 'a'.repeat(201) })), ['job_title'])
        assert.equal((await created(valid({ job_title: EMOJI.repeat(200) }))).job_title, EMOJI.repeat(200))
        assertInvalid(await post(valid({ job_title: EMOJI.repeat(201) })), ['job_title'])
        // Trimming comes before the limit.
        assert.equal((await created(valid({ job_title: `  ${'b'.repeat(200)}  ` }))).job_title, 'b'.repeat(200))
        // Non-BMP text mixed with accents and CJK counts code points too.
        const mixed = 'é水'.repeat(99) + EMOJI + EMOJI
        assert.equal([...mixed].length, 200)
        assert.equal((await created(valid({ job_title: mixed }))).job_title, mixed)
      })

      it('job_description: at most 10,000 code points (an emoji is one)', async () => {
        assert.equal((await created(valid({ job_description: 'd'.repeat(10_000) }))).job_description.length, 10_000)
        assertInvalid(await post(valid({ job_description: 'd'.repeat(10_001) })), ['job_description'])
        const emojis = await created(valid({ job_description: EMOJI.repeat(10_000) }))
        assert.equal([...emojis.job_description].length, 10_000)
        assertInvalid(await post(valid({ job_description: EMOJI.repeat(10_001) })), ['job_description'])
      })

      it('a lone UTF-16 surrogate is rejected', async () => {
        const res = await call(t.app, 'POST', PATH, {
          key,
          rawBody: `{"job_title":"AC \\ud83d unit","customer_location_id":${locationId}}`,
          headers: { 'content-type': 'application/json' },
        })
        assertInvalid(res, ['job_title'])
      })
    })

    describe('dates', () => {
      it('an offset is converted to UTC; fractional seconds are truncated', async () => {
        const job = await created(valid({ scheduled_start: '2026-02-25T09:00:00+02:00', scheduled_end: '2026-02-25T11:00:00.999Z' }))
        assert.equal(job.scheduled_start, '2026-02-25T07:00:00Z')
        assert.equal(job.scheduled_end, '2026-02-25T11:00:00Z')
        const more = await created(valid({ scheduled_start: '2026-02-25T09:00:00.5-05:30', scheduled_end: '2026-02-26T00:30:00.123456789+00:00' }))
        assert.equal(more.scheduled_start, '2026-02-25T14:30:00Z')
        assert.equal(more.scheduled_end, '2026-02-26T00:30:00Z')
        const dayBefore = await created(valid({ scheduled_start: '2026-03-01T01:00:00+03:00' }))
        assert.equal(dayBefore.scheduled_start, '2026-02-28T22:00:00Z')
        const leap = await created(valid({ scheduled_start: '2028-02-29T12:00:00Z' }))
        assert.equal(leap.scheduled_start, '2028-02-29T12:00:00Z')
      })

      it('bare dates, impossible dates, missing zones and other text are rejected', async () => {
        const bad = [
          '2026-02-25', '2026-02-30T09:00:00Z', '2026-02-29T09:00:00Z', '2026-13-01T09:00:00Z', '2026-00-10T09:00:00Z',
          '2026-02-25T24:00:00Z', '2026-02-25T09:60:00Z', '2026-02-25T09:00:61Z', '2026-02-25T09:00:00', '2026-02-25T09:00Z',
          '2026-02-25T09:00:00+2:00', '2026-02-25T09:00:00+0200', '25/02/2026 09:00', 'tomorrow', 'now', '', '   ', '2026-2-5T09:00:00Z',
          // Instants past years 0001-9999 in UTC, which an answer could not write back in its form.
          '9999-12-31T23:59:59-01:00', '0001-01-01T00:00:00+01:00',
        ]
        for (const value of bad) {
          const res = await post(valid({ scheduled_start: value, scheduled_end: value }))
          if (value.trim() === '') {
            // An empty optional nullable string becomes null: accepted.
            assert.equal(res.status, 201, JSON.stringify(res.body))
            continue
          }
          assertInvalid(res, ['scheduled_start', 'scheduled_end'])
        }
        assertInvalid(await post(valid({ scheduled_start: 1_772_010_000 })), ['scheduled_start'])
      })

      it('valid RFC 3339 that is still refused says why: a leap second, an impossible day, an instant past the years 0001-9999', async () => {
        for (const [value, message] of [
          ['2016-12-31T23:59:60Z', /has a leap second \(:60\), which is not taken: send :59/],
          ['2026-02-30T09:00:00Z', /names a day the calendar does not have \(2026-02-30\)/],
          ['9999-12-31T23:59:59-01:00', /must fall between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z once its offset is applied/],
          ['0001-01-01T00:00:00+00:01', /must fall between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z/],
          // Other refusals keep the message that shows the form wanted.
          ['2026-02-25T09:00:00', /must be an RFC 3339 date-time with a time zone, e\.g\. 2026-02-25T09:00:00Z/],
          ['2026-02-25T24:00:00Z', /must be an RFC 3339 date-time with a time zone/],
        ] as const) {
          assertInvalid(await post(valid({ scheduled_start: value })), ['scheduled_start'], message)
        }
      })

      it('scheduled_end must be after scheduled_start, compared as instants', async () => {
        assertInvalid(await post(valid({ scheduled_start: '2026-02-25T09:00:00Z', scheduled_end: '2026-02-25T09:00:00Z' })), ['scheduled_end'])
        assertInvalid(await post(valid({ scheduled_start: '2026-02-25T09:00:00Z', scheduled_end: '2026-02-25T08:59:59Z' })), ['scheduled_end'])
        // Lexically later, but earlier as an instant: 08:00+02:00 is 06:00Z.
        assertInvalid(await post(valid({ scheduled_start: '2026-02-25T07:30:00Z', scheduled_end: '2026-02-25T08:00:00+02:00' })), ['scheduled_end'])
        // Same instant written two ways.
        assertInvalid(await post(valid({ scheduled_start: '2026-02-25T07:00:00Z', scheduled_end: '2026-02-25T09:00:00+02:00' })), ['scheduled_end'])
        // Differs only in truncated fractions: the same second.
        assertInvalid(await post(valid({ scheduled_start: '2026-02-25T07:00:00.1Z', scheduled_end: '2026-02-25T07:00:00.9Z' })), ['scheduled_end'])
        // Lexically earlier, but later as an instant.
        const ok = await created(valid({ scheduled_start: '2026-02-25T09:00:00+02:00', scheduled_end: '2026-02-25T08:00:00Z' }))
        assert.equal(ok.scheduled_start, '2026-02-25T07:00:00Z')
        assert.equal(ok.scheduled_end, '2026-02-25T08:00:00Z')
        // One bound alone is fine.
        assert.equal((await created(valid({ scheduled_end: '2026-02-25T08:00:00Z' }))).scheduled_start, null)
      })

      it('on PUT, a bound sent alone is compared with the stored other bound', async () => {
        const res = await post(valid({ scheduled_start: '2026-02-25T09:00:00Z', scheduled_end: '2026-02-25T11:00:00Z' }))
        const id = res.body.data.job_id as number
        assertInvalid(await put(id, { scheduled_end: '2026-02-25T08:00:00Z' }), ['scheduled_end'])
        assertInvalid(await put(id, { scheduled_end: '2026-02-25T09:00:00Z' }), ['scheduled_end'])
        const lateStart = await put(id, { scheduled_start: '2026-02-25T12:00:00Z' })
        assert.equal(lateStart.status, 400)
        assert.equal(lateStart.body.error.code, 'validation_failed')
        assert.equal(lateStart.body.error.details.length, 1)
        assert.ok(['scheduled_start', 'scheduled_end'].includes(lateStart.body.error.details[0].field), JSON.stringify(lateStart.body))
        // Nothing changed.
        const job = await getJob(id)
        assert.equal(job.scheduled_start, '2026-02-25T09:00:00Z')
        assert.equal(job.scheduled_end, '2026-02-25T11:00:00Z')
        // Moving both at once is judged on the new pair.
        const both = await put(id, { scheduled_start: '2026-02-26T12:00:00Z', scheduled_end: '2026-02-26T13:00:00+00:00' })
        assert.equal(both.status, 200, JSON.stringify(both.body))
        // Clearing one bound lifts the constraint.
        assert.equal((await put(id, { scheduled_end: null })).status, 200)
        const lone = await put(id, { scheduled_start: '2026-03-01T00:00:00Z' })
        assert.equal(lone.status, 200, JSON.stringify(lone.body))
        const after = await getJob(id)
        assert.equal(after.scheduled_start, '2026-03-01T00:00:00Z')
        assert.equal(after.scheduled_end, null)
        // A bad date on PUT is validation_failed too.
        assertInvalid(await put(id, { scheduled_start: '2026-02-30T09:00:00Z' }), ['scheduled_start'])
        assertInvalid(await put(id, { scheduled_start: '2026-03-01' }), ['scheduled_start'])
      })
    })

    describe('foreign and unknown ids in bodies', () => {
      it("another company's customer_location_id is validation_failed naming the field", async () => {
        const res = await post(valid({ customer_location_id: otherLocationId }))
        assertInvalid(res, ['customer_location_id'])
        assertInvalid(await post(valid({ customer_location_id: 99_999_999 })), ['customer_location_id'])
      })

      it("another company's technician is validation_failed naming the field", async () => {
        assertInvalid(await post(valid({ assigned_technician_id: otherTechnicianId })), ['assigned_technician_id'])
        assertInvalid(await post(valid({ assigned_technician_id: 99_999_999 })), ['assigned_technician_id'])
      })

      it('both foreign ids at once are both reported; nothing is created', async () => {
        const before = await countJobs()
        const res = await post(valid({ customer_location_id: otherLocationId, assigned_technician_id: otherTechnicianId }))
        assertInvalid(res, ['customer_location_id', 'assigned_technician_id'])
        assert.equal(await countJobs(), before)
      })

      it('foreign ids on PUT are validation_failed and change nothing', async () => {
        const id = await createJobVia(t.app, key, locationId, { assigned_technician_id: technicianId })
        assertInvalid(await put(id, { customer_location_id: otherLocationId }), ['customer_location_id'])
        assertInvalid(await put(id, { assigned_technician_id: otherTechnicianId }), ['assigned_technician_id'])
        assertInvalid(await put(id, { customer_location_id: otherLocationId, assigned_technician_id: otherTechnicianId, job_title: 'Still fine' }), [
          'customer_location_id', 'assigned_technician_id',
        ])
        // With a malformed field too, both are named (API.md §1: every offending field).
        assertInvalid(await put(id, { customer_location_id: otherLocationId, job_title: '' }), ['customer_location_id', 'job_title'])
        const job = await getJob(id)
        assert.equal(job.customer_location_id, locationId)
        assert.equal(job.assigned_technician_id, technicianId)
      })

      it('a body refused for its form names its foreign and unknown ids too, at once (API.md §1), on POST and PUT', async () => {
        const before = await countJobs()
        const res = await post({ job_title: '', customer_location_id: otherLocationId, assigned_technician_id: 99_999_999, job_priority: 'Soon' })
        assertInvalid(res, ['job_title', 'customer_location_id', 'assigned_technician_id', 'job_priority'])
        assert.equal(detailFor(res, 'customer_location_id').message, `refers to location ${otherLocationId}, which does not exist`)
        assert.equal(detailFor(res, 'assigned_technician_id').message, 'refers to technician 99999999, which does not exist')
        // Composed, each problem reads as a sentence of its field ("customer_location_id location 5 does not exist" did not).
        assert.match(res.body.error.message, new RegExp(`; customer_location_id refers to location ${otherLocationId}, which does not exist; assigned_technician_id refers to technician 99999999, which does not exist$`))
        // Ids that are malformed themselves get their form's message only; the company's own ids are no problem.
        assertInvalid(await post({ job_title: '', customer_location_id: 'x', assigned_technician_id: technicianId }), ['job_title', 'customer_location_id'], /required|must be an integer/)
        assert.equal(await countJobs(), before)
        // A PUT whose id is malformed too: the query, the body's form and its foreign id.
        assertInvalid(await put('abc', { job_title: '', assigned_technician_id: otherTechnicianId }), ['id', 'job_title', 'assigned_technician_id'])
        // A PUT of a job that does not exist: the request's problems come before the record's absence (§2).
        assertInvalid(await put(99_999_999, { job_title: '', customer_location_id: otherLocationId }), ['job_title', 'customer_location_id'])
        // A job's own technician, deactivated since, re-sent with the rest of the record: no new assignment, no problem.
        const tech = await call(t.app, 'POST', '/api/v1/technicians', { key, body: { technician_name: 'Soon Retired' } })
        const id = await createJobVia(t.app, key, locationId, { assigned_technician_id: tech.body.data.technician_id })
        assert.equal((await call(t.app, 'PUT', `/api/v1/technicians?id=${tech.body.data.technician_id}`, { key, body: { technician_status: 'Inactive' } })).status, 200)
        assertInvalid(await put(id, { job_title: '', assigned_technician_id: tech.body.data.technician_id }), ['job_title'])
        const inactive = await post({ job_title: '', customer_location_id: locationId, assigned_technician_id: tech.body.data.technician_id })
        assertInvalid(inactive, ['job_title', 'assigned_technician_id'], /required|is Inactive/)
        // One problem, one "; ": the rule that refuses it is not read as a problem of its own.
        assert.equal(
          inactive.body.error.message,
          `job_title is required; assigned_technician_id refers to technician ${tech.body.data.technician_id}, who is Inactive: only Active technicians can be assigned`,
        )
      })

      it('an Inactive technician cannot be assigned (API.md §5)', async () => {
        const tech = await call(t.app, 'POST', '/api/v1/technicians', { key, body: { technician_name: 'Retired Tech', technician_status: 'Inactive' } })
        assert.equal(tech.status, 201, JSON.stringify(tech.body))
        assertInvalid(await post(valid({ assigned_technician_id: tech.body.data.technician_id })), ['assigned_technician_id'])
      })

      // On PostgreSQL a create without asset links checks its references in
      // the statement that inserts it (issue 6); a refusal then goes through
      // the checks again to say which. Either way: nothing written.
      it('a create refused for its references writes nothing, with an Idempotency-Key or without; fixed, it is created and recorded once', async () => {
        const tech = await call(t.app, 'POST', '/api/v1/technicians', { key, body: { technician_name: 'Gone Tech', technician_status: 'Inactive' } })
        assert.equal(tech.status, 201, JSON.stringify(tech.body))
        const writeSeq = async () =>
          Number((await t.database.db.selectFrom('job_write_seqs').select((eb) => eb.fn.sum<number>('write_seq').as('n')).executeTakeFirstOrThrow()).n)
        const state = async () => ({ jobs: await countJobs(), total: (await list('')).body.pagination.total, writeSeq: await writeSeq() })
        const before = await state()
        const refused: Array<[Record<string, unknown>, string[]]> = [
          [valid({ customer_location_id: otherLocationId }), ['customer_location_id']],
          [valid({ assigned_technician_id: otherTechnicianId }), ['assigned_technician_id']],
          [valid({ assigned_technician_id: tech.body.data.technician_id }), ['assigned_technician_id']],
          [valid({ customer_location_id: 99_999_999, assigned_technician_id: tech.body.data.technician_id }), ['customer_location_id', 'assigned_technician_id']],
        ]
        for (const [i, [body, fields]] of refused.entries()) {
          assertInvalid(await post(body), fields)
          assertInvalid(await call(t.app, 'POST', PATH, { key, body, headers: { 'idempotency-key': `refused-${i}` } }), fields)
        }
        assert.deepEqual(await state(), before)

        const body = valid({ assigned_technician_id: technicianId, job_priority: 'Urgent' })
        const first = await call(t.app, 'POST', PATH, { key, body, headers: { 'idempotency-key': 'fixed-1' } })
        assert.equal(first.status, 201, JSON.stringify(first.body))
        const replay = await call(t.app, 'POST', PATH, { key, body, headers: { 'idempotency-key': 'fixed-1' } })
        assert.deepEqual(replay.body.data, first.body.data)
        const plain = await post(body)
        assert.equal(plain.status, 201, JSON.stringify(plain.body))
        assert.deepEqual(await state(), { jobs: before.jobs + 2, total: before.total + 2, writeSeq: before.writeSeq + 2 })
        assert.equal((await list('?priority=Urgent&status=Pending')).body.data[0].job_id, plain.body.data.job_id)
        for (const id of [first.body.data.job_id, plain.body.data.job_id]) {
          const history = await call(t.app, 'GET', `${PATH}/history?id=${id}`, { key })
          assert.deepEqual(
            history.body.data.map((h: any) => [h.from_status, h.to_status, typeof h.changed_by?.key_id]),
            [[null, 'Pending', 'number']],
          )
        }
      })

      it("another company's asset ids are skipped silently, not an error (seed: Asset validation)", async () => {
        const otherAsset = await createAssetVia(t.app, otherKey, 'FOREIGN-1')
        const res = await post(valid({ asset_ids: [otherAsset, 123_456_789] }))
        assert.equal(res.status, 201, JSON.stringify(res.body))
        assert.deepEqual((await getJob(res.body.data.job_id)).assets, [])
      })
    })

    describe('?id= rules', () => {
      it('POST with id (or any query parameter) is validation_failed', async () => {
        const before = await countJobs()
        assertInvalid(await post(valid(), '?id=1'), ['id'])
        assertInvalid(await post(valid(), '?status=Pending'), ['status'])
        assert.equal(await countJobs(), before)
      })

      it('PUT and PATCH without id are validation_failed naming id', async () => {
        assertInvalid(await put(null, { job_title: 'New' }), ['id'])
        assertInvalid(await patch(null, { job_status: 'Assigned' }), ['id'])
      })

      it('a non-integer, zero, negative, repeated or empty id is validation_failed', async () => {
        const id = await createJobVia(t.app, key, locationId)
        for (const bad of ['abc', '0', '-1', '1.5', '1e3', '+1', '%201', '0x10', '9007199254740992', `${id}&id=${id}`, '']) {
          assertInvalid(await call(t.app, 'GET', `${PATH}?id=${bad}`, { key }), ['id'])
          assertInvalid(await put(bad, { job_title: 'New' }), ['id'])
          assertInvalid(await patch(bad, { job_status: 'Assigned' }), ['id'])
        }
        assert.equal((await getJob(id)).job_title, 'AC unit repair')
        assert.equal((await getJob(id)).job_status, 'Pending')
      })

      it('PUT and PATCH with extra query parameters are validation_failed', async () => {
        const id = await createJobVia(t.app, key, locationId)
        assertInvalid(await call(t.app, 'PUT', `${PATH}?id=${id}&status=Pending`, { key, body: { job_title: 'X' } }), ['status'])
        assertInvalid(await call(t.app, 'PATCH', `${PATH}?id=${id}&force=1`, { key, body: { job_status: 'Assigned' } }), ['force'])
        assert.equal((await getJob(id)).job_status, 'Pending')
      })

      it('GET with id and any list parameter is validation_failed', async () => {
        const id = await createJobVia(t.app, key, locationId)
        for (const param of ['status=Pending', 'page=1', 'per_page=10', 'priority=High', 'sort=created_at', 'created_after=2026-01-01', 'customer_location_id=1']) {
          const name = param.split('=')[0]!
          assertInvalid(await call(t.app, 'GET', `${PATH}?id=${id}&${param}`, { key }), [name])
        }
      })
    })

    describe('PUT bodies', () => {
      it('an empty body is validation_failed', async () => {
        const id = await createJobVia(t.app, key, locationId)
        const res = await put(id, {})
        assertInvalid(res, ['body'])
      })

      it('a body with job_status is validation_failed (status changes go through PATCH)', async () => {
        const id = await createJobVia(t.app, key, locationId)
        assertInvalid(await put(id, { job_status: 'Assigned' }), ['job_status'], /^cannot be set here; status changes go through PATCH$/)
        assertInvalid(await put(id, { job_title: 'Still valid', job_status: 'Assigned' }), ['job_status'])
        assertInvalid(await post(valid({ job_status: 'Assigned' })), ['job_status'], /^cannot be set here; new jobs start as Pending and status changes go through PATCH$/)
        const job = await getJob(id)
        assert.equal(job.job_status, 'Pending')
        assert.equal(job.job_title, 'AC unit repair')
      })

      it('non-nullable fields cannot be null or emptied; nullable ones can', async () => {
        const id = await createJobVia(t.app, key, locationId)
        assertInvalid(await put(id, { job_title: null }), ['job_title'])
        assertInvalid(await put(id, { job_title: '   ' }), ['job_title'])
        assertInvalid(await put(id, { customer_location_id: null }), ['customer_location_id'])
        assertInvalid(await put(id, { job_priority: null }), ['job_priority'])
        assertInvalid(await put(id, { asset_ids: null }), ['asset_ids'])
        assertInvalid(await put(id, { job_id: id }), ['job_id'])
        assertInvalid(await put(id, { created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z' }), ['created_at', 'updated_at'])
        const ok = await put(id, { job_description: '   ' })
        assert.equal(ok.status, 200, JSON.stringify(ok.body))
        assert.equal((await getJob(id)).job_description, null)
      })

      it('every offending field of a PUT is listed', async () => {
        const id = await createJobVia(t.app, key, locationId)
        assertInvalid(await put(id, { job_title: 1, job_priority: 'urgent', scheduled_start: 'soon', asset_ids: [1, 'x'], foo: 1 }), [
          'job_title', 'job_priority', 'scheduled_start', 'asset_ids[1]', 'foo',
        ])
      })

      it('request validation comes before the 404 of an unknown job; checks needing the record after it', async () => {
        assertInvalid(await put(987_654_321, { job_title: 7 }), ['job_title'])
        assertInvalid(await put(987_654_321, {}), ['body'])
        const needsRecord = await put(987_654_321, { scheduled_end: '2026-02-25T08:00:00Z' })
        assert.equal(needsRecord.status, 404, JSON.stringify(needsRecord.body))
        assert.equal(needsRecord.body.error.code, 'not_found')
      })
    })

    describe('PATCH bodies', () => {
      it('the body must be exactly {job_status}', async () => {
        const id = await createJobVia(t.app, key, locationId)
        assertInvalid(await patch(id, {}), ['job_status'], /is required/)
        assertInvalid(await patch(id, { job_status: 'Assigned', job_title: 'x' }), ['job_title'])
        assertInvalid(await patch(id, { job_status: 'Assigned', previous_status: 'Pending' }), ['previous_status'])
        assertInvalid(await patch(id, { status: 'Assigned' }), ['status', 'job_status'])
        assertInvalid(await patch(id, { job_status: 'Bogus', extra: true }), ['job_status', 'extra'])
        assert.equal((await getJob(id)).job_status, 'Pending')
      })

      it('an unknown status value is validation_failed listing the valid ones; an unknown id with a bad body is 400', async () => {
        const id = await createJobVia(t.app, key, locationId)
        const res = await patch(id, { job_status: 'Done' })
        assertInvalid(res, ['job_status'])
        for (const s of ['Pending', 'Assigned', 'In Progress', 'On Hold', 'Completed', 'Invoiced', 'Paid', 'Closed', 'Cancelled']) {
          assert.ok(detailFor(res, 'job_status').message.includes(s), detailFor(res, 'job_status').message)
        }
        // Not a string at all: the same list, which says what to send.
        for (const notText of [null, 3, ['Assigned']]) {
          assertInvalid(await patch(id, { job_status: notText }), ['job_status'], /^must be one of: Pending, Assigned, In Progress, On Hold, Completed, Invoiced, Paid, Closed, Cancelled$/)
        }
        assertInvalid(await patch(987_654_321, { job_status: 'Done' }), ['job_status'])
        const missing = await patch(987_654_321, { job_status: 'Assigned' })
        assert.equal(missing.status, 404)
        assert.equal(missing.body.error.code, 'not_found')
      })
    })

    describe('list query parameters', () => {
      it('an unknown parameter is validation_failed (a typo must not return every job)', async () => {
        assertInvalid(await list('?stauts=Pending'), ['stauts'])
        assertInvalid(await list('?limit=10'), ['limit'])
        assertInvalid(await list('?Status=Pending'), ['Status'])
        assertInvalid(await list('?q=AC'), ['q'])
      })

      it('a repeated or empty parameter is validation_failed', async () => {
        assertInvalid(await list('?status=Pending&status=Assigned'), ['status'])
        assertInvalid(await list('?page=1&page=2'), ['page'])
        assertInvalid(await list('?status='), ['status'])
        assertInvalid(await list('?status'), ['status'])
        assertInvalid(await list('?page=&per_page='), ['page', 'per_page'])
      })

      it('status: exact values, one or several separated by commas', async () => {
        // Exact as every enum value (API.md §1: no trimming), as priority, sort and the other resources' status are: `+Pending+` was trimmed and taken.
        const spaced = ['+Pending', 'Pending+', '%20Pending', 'Pending%C2%A0', '%E3%80%80Pending', 'Pending,Assigned+']
        for (const bad of ['pending', 'Done', 'Pending,', ',Pending', 'Pending,,Assigned', 'Pending,+Assigned', 'In%2BProgress', 'InProgress', 'Pending;Assigned', ...spaced]) {
          assertInvalid(await list(`?status=${bad}`), ['status'])
        }
        for (const good of ['Pending', 'Pending,Assigned', 'In+Progress', 'In%20Progress', 'On+Hold,In+Progress', 'Pending%2CAssigned']) {
          const res = await list(`?status=${good}`)
          assert.equal(res.status, 200, `${good}: ${JSON.stringify(res.body)}`)
        }
      })

      it('priority and sort are exact enums', async () => {
        for (const bad of ['high', 'HIGH', 'Critical']) assertInvalid(await list(`?priority=${bad}`), ['priority'])
        for (const bad of ['title', 'created', '+created_at', 'created_at,job_id', '-job_id']) assertInvalid(await list(`?sort=${bad}`), ['sort'])
      })

      it('integers in queries are decimal digits only, at least 1', async () => {
        for (const name of ['page', 'per_page', 'assigned_technician_id', 'customer_location_id', 'customer_id']) {
          for (const bad of ['0', '-1', '1.5', 'abc', '1e2', '+5', '%2B5', '0x1', '%201', '9007199254740992']) {
            assertInvalid(await list(`?${name}=${bad}`), [name])
          }
        }
      })

      it('what a bad integer or status list is told: positive for 0 and -1, the statuses for a status list', async () => {
        for (const name of ['page', 'customer_location_id']) {
          for (const [bad, message] of [['0', 'must be a positive integer'], ['-1', 'must be a positive integer'], ['1.5', 'must be an integer'], ['abc', 'must be an integer']]) {
            const res = await list(`?${name}=${bad}`)
            assert.deepEqual(res.body.error.details, [{ field: name, message }], `${name}=${bad}`)
          }
        }
        const res = await list('?status=Pending,Bogus')
        assert.deepEqual(res.body.error.details, [
          { field: 'status', message: 'must be one or more of: Pending, Assigned, In Progress, On Hold, Completed, Invoiced, Paid, Closed, Cancelled, separated by commas' },
        ])
      })

      it('date bounds take a date or an RFC 3339 date-time; anything else is validation_failed', async () => {
        for (const name of ['created_after', 'created_before', 'updated_after']) {
          for (const bad of ['2026-02-30', '2026-13-01', 'yesterday', '2026-02-24T09:00:00', '2026-02-24T09:00:00+02:00', '24/02/2026', '1771891200']) {
            // An unencoded + is a space: ...T09:00:00 02:00 is not a date-time.
            assertInvalid(await list(`?${name}=${bad}`), [name])
          }
          // What the refusals say where a general message would mislead.
          assertInvalid(await list(`?${name}=2026-02-24T09:00:00+02:00`), [name], /has a space before its offset: in a URL, write its \+ as %2B/)
          assertInvalid(await list(`?${name}=2026-02-30`), [name], /names a day the calendar does not have \(2026-02-30\)/)
          assertInvalid(await list(`?${name}=24/02/2026`), [name], /must be a date \(2026-02-24\) or an RFC 3339 date-time with a time zone/)
          for (const good of ['2026-02-24', '2026-02-24T09:00:00Z', '2026-02-24T09:00:00%2B02:00', '2026-02-24T09:00:00.5-05:00']) {
            const res = await list(`?${name}=${good}`)
            assert.equal(res.status, 200, `${name}=${good}: ${JSON.stringify(res.body)}`)
          }
        }
      })

      it('every bad parameter is listed at once, in the order the query string has them', async () => {
        assertInvalid(await list('?page=0&per_page=abc&stauts=x&priority=high&created_after=2026-02-30'), [
          'page', 'per_page', 'stauts', 'priority', 'created_after',
        ])
        // A parameter that is not an integer is found before the others are checked; it is listed where it was sent, not first.
        const res = await list('?stauts=Pending&priority=high&page=0&per_page=x&created_after=2026-02-30&sort=name')
        assert.deepEqual(res.body.error.details.map((d: { field: string }) => d.field), ['stauts', 'priority', 'page', 'per_page', 'created_after', 'sort'])
        assert.match(res.body.error.message, /^stauts is not a known parameter; priority must be one of/)
        // A required parameter that is missing comes after those sent.
        const put = await call(t.app, 'PUT', '/api/v1/jobs?x=1&y=', { key, body: { job_title: 'T' } })
        assert.deepEqual(put.body.error.details.map((d: { field: string }) => d.field), ['x', 'y', 'id'])
      })
    })
  })
}
