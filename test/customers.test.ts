/**
 * /api/v1/customers through HTTP (API.md §1, §3, §5): happy paths, every
 * validation rule, scopes, tenant isolation, and the live customer name on jobs.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { assertError, assertInvalid, assertRecent, BACKDATED, EMAILS_WITH_CONTROL_CHARACTERS, TIMESTAMP } from './helpers/assertions.ts'
import { DIALECTS, startTestApp, type TestApp } from './helpers/app.ts'
import { call, createBasics, createExtraKey, createJobVia, createTenant } from './helpers/factories.ts'

const PATH = '/api/v1/customers'

/** A 400 validation_failed whose details name exactly `fields` (in any order). */


for (const dialect of DIALECTS) {
  describe(`customers (${dialect})`, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp(dialect)
    })
    after(() => t.close())

    const tenant = () => createTenant(t.database)
    const post = (key: string, body: unknown) => call(t.app, 'POST', PATH, { key, body })
    const put = (key: string, id: number | string, body: unknown) => call(t.app, 'PUT', `${PATH}?id=${id}`, { key, body })
    const get = (key: string, query = '') => call(t.app, 'GET', `${PATH}${query}`, { key })
    async function make(key: string, body: Record<string, unknown>) {
      const res = await post(key, body)
      assert.equal(res.status, 201, JSON.stringify(res.body))
      return res.body.data as Record<string, any>
    }

    describe('create', () => {
      it('answers 201 with a Location header and the full record', async () => {
        const { apiKey } = await tenant()
        const res = await post(apiKey, {
          customer_name: 'Acme Corporation',
          customer_email: 'facilities@acme.example',
          customer_phone: '+1 555 0100',
          billing_address: '1 Acme Plaza\nSpringfield',
          notes: 'Gate code 1234',
        })
        assert.equal(res.status, 201)
        assert.equal(res.body.success, true)
        assert.equal(res.body.message, 'Customer created successfully')
        assert.equal(res.headers['x-request-id'], res.body.request_id)
        const data = res.body.data
        assert.ok(Number.isInteger(data.customer_id) && data.customer_id > 0)
        assert.equal(res.headers.location, `/api/v1/customers?id=${data.customer_id}`)
        assert.match(data.created_at, TIMESTAMP)
        assert.equal(data.updated_at, data.created_at)
        assert.deepEqual(data, {
          customer_id: data.customer_id,
          customer_name: 'Acme Corporation',
          customer_email: 'facilities@acme.example',
          customer_phone: '+1 555 0100',
          billing_address: '1 Acme Plaza\nSpringfield',
          notes: 'Gate code 1234',
          created_at: data.created_at,
          updated_at: data.updated_at,
        })
        const read = await get(apiKey, `?id=${data.customer_id}`)
        assert.equal(read.status, 200)
        assert.deepEqual(read.body.data, data)
      })

      it('defaults every optional field to null', async () => {
        const { apiKey } = await tenant()
        const data = await make(apiKey, { customer_name: 'Rosa Martinez' })
        assert.equal(data.customer_email, null)
        assert.equal(data.customer_phone, null)
        assert.equal(data.billing_address, null)
        assert.equal(data.notes, null)
      })

      it('trims strings, and stores an optional one that is empty after trimming as null', async () => {
        const { apiKey } = await tenant()
        const data = await make(apiKey, { customer_name: '  Acme  ', customer_email: ' a@b.example ', customer_phone: '   ', notes: '\n\t ' })
        assert.equal(data.customer_name, 'Acme')
        assert.equal(data.customer_email, 'a@b.example')
        assert.equal(data.customer_phone, null)
        assert.equal(data.notes, null)
      })

      it('accepts explicit nulls for the optional fields', async () => {
        const { apiKey } = await tenant()
        const data = await make(apiKey, { customer_name: 'N', customer_email: null, customer_phone: null, billing_address: null, notes: null })
        assert.equal(data.customer_email, null)
        assert.equal(data.notes, null)
      })
    })

    describe('create: validation', () => {
      it('requires customer_name (missing, empty after trimming, or null)', async () => {
        const { apiKey } = await tenant()
        assertInvalid(await post(apiKey, { customer_email: 'a@b.example' }), ['customer_name'], /is required/)
        assertInvalid(await post(apiKey, { customer_name: '   ' }), ['customer_name'], /is required/)
        assertInvalid(await post(apiKey, { customer_name: null }), ['customer_name'], /must be a string/)
        const first = await post(apiKey, {})
        assertInvalid(first, ['customer_name'])
        assert.equal(first.body.error.message, 'customer_name is required')
      })

      it('rejects wrong types', async () => {
        const { apiKey } = await tenant()
        assertInvalid(await post(apiKey, { customer_name: 87 }), ['customer_name'], /must be a string/)
        assertInvalid(await post(apiKey, { customer_name: ['a'] }), ['customer_name'])
        assertInvalid(await post(apiKey, { customer_name: 'A', notes: 5 }), ['notes'], /must be a string or null/)
        assertInvalid(await post(apiKey, { customer_name: 'A', customer_phone: { n: 1 } }), ['customer_phone'])
        assertInvalid(await post(apiKey, { customer_name: 'A', customer_email: true }), ['customer_email'])
      })

      it('rejects unknown fields, and reports every offending field at once', async () => {
        const { apiKey } = await tenant()
        assertInvalid(await post(apiKey, { customer_name: 'A', customer_id: 5 }), ['customer_id'], /is not a known field/)
        assertInvalid(await post(apiKey, { customer_name: 'A', nmae: 'x' }), ['nmae'])
        assertInvalid(await post(apiKey, { customer_email: 'nope', notes: 3, extra: 1 }), ['customer_name', 'customer_email', 'notes', 'extra'])
        const list = await get(apiKey)
        assert.equal(list.body.pagination.total, 0)
      })

      it('limits names to 200 code points (an emoji is one)', async () => {
        const { apiKey } = await tenant()
        assert.equal((await make(apiKey, { customer_name: 'a'.repeat(200) })).customer_name.length, 200)
        assertInvalid(await post(apiKey, { customer_name: 'a'.repeat(201) }), ['customer_name'], /at most 200/)
        const emoji = '😀'.repeat(200)
        assert.equal((await make(apiKey, { customer_name: emoji })).customer_name, emoji)
        assertInvalid(await post(apiKey, { customer_name: '😀'.repeat(201) }), ['customer_name'])
        assert.equal((await make(apiKey, { customer_name: 'x', customer_phone: 'p'.repeat(200) })).customer_phone.length, 200)
        assertInvalid(await post(apiKey, { customer_name: 'x', customer_phone: 'p'.repeat(201) }), ['customer_phone'])
      })

      it('limits notes and billing_address to 10,000 code points', async () => {
        const { apiKey } = await tenant()
        assert.equal((await make(apiKey, { customer_name: 'x', notes: 'n'.repeat(10_000) })).notes.length, 10_000)
        assertInvalid(await post(apiKey, { customer_name: 'x', notes: 'n'.repeat(10_001) }), ['notes'], /at most 10000/)
        const emoji = '🔧'.repeat(10_000)
        assert.equal((await make(apiKey, { customer_name: 'x', billing_address: emoji })).billing_address, emoji)
        assertInvalid(await post(apiKey, { customer_name: 'x', billing_address: '🔧'.repeat(10_001) }), ['billing_address'])
      })

      it('rejects control characters in names; allows tab, CR and LF in notes and addresses', async () => {
        const { apiKey } = await tenant()
        assertInvalid(await post(apiKey, { customer_name: 'Ac\tme' }), ['customer_name'], /control characters/)
        assertInvalid(await post(apiKey, { customer_name: 'Ac\nme' }), ['customer_name'])
        assertInvalid(await post(apiKey, { customer_name: 'Ac\u0000me' }), ['customer_name'])
        assertInvalid(await post(apiKey, { customer_name: 'A', customer_phone: '555\u001b0100' }), ['customer_phone'])
        assertInvalid(await post(apiKey, { customer_name: 'A', notes: 'bell\u0007' }), ['notes'], /control characters/)
        assertInvalid(await post(apiKey, { customer_name: 'A', billing_address: 'x\u0000y' }), ['billing_address'])
        const data = await make(apiKey, { customer_name: 'A', notes: 'a\tb\r\nc', billing_address: 'line 1\nline 2' })
        assert.equal(data.notes, 'a\tb\r\nc')
        assert.equal(data.billing_address, 'line 1\nline 2')
      })

      it('rejects a bad email', async () => {
        const { apiKey } = await tenant()
        for (const email of ['not-an-email', 'a@b', 'a b@c.example', '@c.example']) {
          assertInvalid(await post(apiKey, { customer_name: 'A', customer_email: email }), ['customer_email'], /email/)
        }
      })

      it('rejects control characters, line separators and lone surrogates in an email, on POST and PUT (a NUL was a 500 on PostgreSQL)', async () => {
        const { apiKey } = await tenant()
        const c = await make(apiKey, { customer_name: 'A', customer_email: 'josé@exämple.example' })
        assert.equal(c.customer_email, 'josé@exämple.example')
        for (const email of EMAILS_WITH_CONTROL_CHARACTERS) {
          assertInvalid(await post(apiKey, { customer_name: 'A', customer_email: email }), ['customer_email'], /email/)
          assertInvalid(await put(apiKey, c.customer_id, { customer_email: email }), ['customer_email'], /email/)
        }
      })

      it('rejects a query string on POST, a non-JSON body and a body that is not an object', async () => {
        const { apiKey } = await tenant()
        assertInvalid(await call(t.app, 'POST', `${PATH}?id=1`, { key: apiKey, body: { customer_name: 'A' } }), ['id'])
        assertError(await call(t.app, 'POST', PATH, { key: apiKey, rawBody: 'customer_name=A', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'unsupported_media_type')
        assertError(await call(t.app, 'POST', PATH, { key: apiKey, rawBody: '{"customer_name":', headers: { 'content-type': 'application/json' } }), 400, 'invalid_json')
        assertError(await call(t.app, 'POST', PATH, { key: apiKey, rawBody: '["A"]', headers: { 'content-type': 'application/json' } }), 400, 'invalid_json')
        assert.equal((await get(apiKey)).body.pagination.total, 0)
      })
    })

    describe('get and list', () => {
      it('GET ?id= answers 404 for an unknown id, validation_failed for a bad one', async () => {
        const { apiKey } = await tenant()
        assertError(await get(apiKey, '?id=999999'), 404, 'not_found')
        assertInvalid(await get(apiKey, '?id=abc'), ['id'], /integer/)
        assertInvalid(await get(apiKey, '?id=0'), ['id'])
        assertInvalid(await get(apiKey, '?id=1.5'), ['id'])
        assertInvalid(await get(apiKey, '?id=-1'), ['id'])
      })

      it('GET ?id= with any list parameter is validation_failed', async () => {
        const { apiKey } = await tenant()
        const { customer_id } = await make(apiKey, { customer_name: 'A' })
        assertInvalid(await get(apiKey, `?id=${customer_id}&q=a`), ['q'], /cannot be combined with id/)
        assertInvalid(await get(apiKey, `?id=${customer_id}&page=1&per_page=5`), ['page', 'per_page'])
      })

      it('lists newest first with pagination and a Link header', async () => {
        const { apiKey } = await tenant()
        const ids: number[] = []
        for (let i = 1; i <= 5; i++) ids.push((await make(apiKey, { customer_name: `Customer ${i}` })).customer_id)
        const all = await get(apiKey)
        assert.equal(all.status, 200)
        assert.deepEqual(all.body.data.map((c: any) => c.customer_id), [...ids].reverse())
        assert.deepEqual(all.body.pagination, { page: 1, per_page: 50, total: 5, total_pages: 1 })
        assert.equal(all.headers.link, '</api/v1/customers?page=1&per_page=50>; rel="first", </api/v1/customers?page=1&per_page=50>; rel="last"')

        const page2 = await get(apiKey, '?page=2&per_page=2')
        assert.deepEqual(page2.body.data.map((c: any) => c.customer_id), [ids[2], ids[1]])
        assert.deepEqual(page2.body.pagination, { page: 2, per_page: 2, total: 5, total_pages: 3 })
        const link = String(page2.headers.link)
        assert.match(link, /<\/api\/v1\/customers\?page=1&per_page=2>; rel="first"/)
        assert.match(link, /<\/api\/v1\/customers\?page=1&per_page=2>; rel="prev"/)
        assert.match(link, /<\/api\/v1\/customers\?page=3&per_page=2>; rel="next"/)
        assert.match(link, /<\/api\/v1\/customers\?page=3&per_page=2>; rel="last"/)

        const past = await get(apiKey, '?page=9&per_page=2')
        assert.deepEqual(past.body.data, [])
        assert.deepEqual(past.body.pagination, { page: 9, per_page: 2, total: 5, total_pages: 3 })

        const clamped = await get(apiKey, '?per_page=500')
        assert.equal(clamped.body.pagination.per_page, 100)
      })

      it('Link keeps the whole query: a q holding "?" and the parameters after it; page and per_page however they are encoded', async () => {
        const { apiKey } = await tenant()
        for (let i = 1; i <= 3; i++) await make(apiKey, { customer_name: `What?Now ${i}` })
        await make(apiKey, { customer_name: 'What' })
        // A "?" inside the query is data (RFC 3986 §3.4): the links dropped it and everything after it, so they searched for "what".
        const asked = await get(apiKey, '?q=what?now&per_page=1')
        assert.equal(asked.body.pagination.total, 3)
        const next = /<([^>]+)>; rel="next"/.exec(String(asked.headers.link))?.[1]
        assert.equal(next, '/api/v1/customers?q=what?now&page=2&per_page=1', String(asked.headers.link))
        const followed = await call(t.app, 'GET', next!, { key: apiKey })
        assert.deepEqual([followed.status, followed.body.pagination.total], [200, 3])
        // `pa%67e` is `page` to the parser: it was kept in the links beside the page they add, and each link answered 400 "must not be repeated".
        const encoded = await get(apiKey, '?pa%67e=2&per%5Fpage=1')
        assert.deepEqual(encoded.body.pagination, { page: 2, per_page: 1, total: 4, total_pages: 4 })
        for (const [, target] of String(encoded.headers.link).matchAll(/<([^>]+)>/g)) {
          const res = await call(t.app, 'GET', target!, { key: apiKey })
          assert.equal(res.status, 200, `${target}: ${JSON.stringify(res.body)}`)
        }
      })

      it('an empty list has total_pages 0', async () => {
        const { apiKey } = await tenant()
        const res = await get(apiKey)
        assert.deepEqual(res.body.data, [])
        assert.deepEqual(res.body.pagination, { page: 1, per_page: 50, total: 0, total_pages: 0 })
      })

      it('q matches names containing the text, case-insensitively, with % and _ taken literally', async () => {
        const { apiKey } = await tenant()
        const acme = await make(apiKey, { customer_name: 'Acme Corporation' })
        const cafe = await make(apiKey, { customer_name: 'Café Éclair' })
        const pct = await make(apiKey, { customer_name: '100% Plumbing' })
        const under = await make(apiKey, { customer_name: 'snake_case Ltd' })
        await make(apiKey, { customer_name: 'Other' })
        const ids = async (q: string) => (await get(apiKey, `?q=${encodeURIComponent(q)}`)).body.data.map((c: any) => c.customer_id)
        assert.deepEqual(await ids('ACME'), [acme.customer_id])
        assert.deepEqual(await ids('corp'), [acme.customer_id])
        assert.deepEqual(await ids('CAFÉ'), [cafe.customer_id])
        assert.deepEqual(await ids('éclair'), [cafe.customer_id])
        assert.deepEqual(await ids('%'), [pct.customer_id])
        assert.deepEqual(await ids('_'), [under.customer_id])
        assert.deepEqual(await ids('e_c'), [under.customer_id])
        assert.deepEqual(await ids('0%'), [pct.customer_id])
        assert.deepEqual(await ids('nothing like it'), [])
        const res = await get(apiKey, '?q=acme+corp')
        assert.equal(res.body.pagination.total, 1)
        assert.match(String(res.headers.link), /\?q=acme\+corp&page=1&per_page=50>/)
        // Trimmed, as text in bodies is: `+` is a space in a query string.
        assert.deepEqual(await ids('  acme  '), [acme.customer_id])
        assert.equal((await get(apiKey, '?q=+acme+')).body.pagination.total, 1)
        // Σ lowers to ς at the end of a word and to σ elsewhere: a name lowered whole and a q lowered alone disagreed.
        const street = await make(apiKey, { customer_name: 'ΟΔΟΣ ΑΘΗΝΑΣ 19' })
        const kasa = await make(apiKey, { customer_name: 'ΚΑΣΑ' })
        const lower = await make(apiKey, { customer_name: 'οδος ερμου' })
        for (const q of ['ΟΔΟΣ Α', 'Σ ', 'σ', 'ς', 'ΑΣ 19']) assert.ok((await ids(q)).includes(street.customer_id), q)
        assert.deepEqual(await ids('ΚΑΣ'), [kasa.customer_id])
        assert.deepEqual(await ids('κας'), [kasa.customer_id])
        assert.deepEqual(await ids('ΟΔΟΣ ΕΡΜΟΥ'), [lower.customer_id])
        assert.deepEqual(await ids('ΟΔΟΣ'), [lower.customer_id, street.customer_id])
      })

      it('q finds text however its accents are encoded: composed (NFC) and decomposed (NFD) are the same text', async () => {
        const { apiKey } = await tenant()
        const ids = async (q: string) => (await get(apiKey, `?q=${encodeURIComponent(q)}`)).body.data.map((c: any) => c.customer_id)
        // The name is kept as sent; only the searchable copy is normalised.
        const decomposed = await make(apiKey, { customer_name: 'Cafe\u0301 Phở Đông'.normalize('NFD') })
        assert.equal(decomposed.customer_name, 'Café Phở Đông'.normalize('NFD'))
        const composed = await make(apiKey, { customer_name: 'CAFÉ ROUGE' })
        const hangul = await make(apiKey, { customer_name: '한국 전력'.normalize('NFD') })
        for (const form of ['NFC', 'NFD'] as const) {
          assert.deepEqual(await ids('café'.normalize(form)), [composed.customer_id, decomposed.customer_id], form)
          assert.deepEqual(await ids('PHỞ'.normalize(form)), [decomposed.customer_id], form)
          assert.deepEqual(await ids('한국'.normalize(form)), [hangul.customer_id], form)
        }
        // Accents are still not folded (docs/decisions.md): a bare e is not é.
        assert.deepEqual(await ids('cafe'), [])
      })

      it('q finds a name with a capital dotted I (İ, Turkish) by i and I; the dotless ı stays a letter of its own', async () => {
        const { apiKey } = await tenant()
        const ids = async (q: string) => (await get(apiKey, `?q=${encodeURIComponent(q)}`)).body.data.map((c: any) => c.customer_id)
        const izmir = await make(apiKey, { customer_name: 'İzmir Servis' })
        const decomposed = await make(apiKey, { customer_name: 'DİYARBAKIR'.normalize('NFD') })
        const dotless = await make(apiKey, { customer_name: 'Sıcak Su' })
        for (const q of ['izmir', 'IZMIR', 'İZMİR', 'İzmir', 'zmi']) assert.deepEqual(await ids(q), [izmir.customer_id], q)
        for (const q of ['diyarbakir', 'DİYARBAKIR', 'Diyarbak']) assert.deepEqual(await ids(q), [decomposed.customer_id], q)
        // The dotless ı stays a letter of its own, as accents do (no language's rules are applied).
        assert.deepEqual(await ids('sıcak'), [dotless.customer_id])
        assert.deepEqual(await ids('sicak'), [])
      })

      it('finds a renamed customer by its new name only', async () => {
        const { apiKey } = await tenant()
        const c = await make(apiKey, { customer_name: 'Old Name' })
        assert.equal((await put(apiKey, c.customer_id, { customer_name: 'Brand New' })).status, 200)
        assert.equal((await get(apiKey, '?q=old')).body.pagination.total, 0)
        assert.equal((await get(apiKey, '?q=brand')).body.pagination.total, 1)
      })

      it('rejects unknown, repeated, empty and malformed query parameters', async () => {
        const { apiKey } = await tenant()
        assertInvalid(await get(apiKey, '?qq=a'), ['qq'], /not a known parameter/)
        assertInvalid(await get(apiKey, '?customer_name=a'), ['customer_name'])
        assertInvalid(await get(apiKey, '?q=a&q=b'), ['q'], /repeated/)
        assertInvalid(await get(apiKey, '?q='), ['q'], /empty/)
        assertInvalid(await get(apiKey, '?q=%20%20'), ['q'], /must not be empty/)
        // Percent-encoding that does not decode was searched for as its raw text.
        for (const bad of ['%FF', '%C0', 'a%zz', '100%']) assertInvalid(await get(apiKey, `?q=${bad}`), ['q'], /is not valid percent-encoded UTF-8/)
        assertInvalid(await get(apiKey, '?q=%FF&page=0&x%FF=1'), ['q', 'page', 'x%FF'])
        assert.equal((await get(apiKey, '?q=%2541')).status, 200, 'an encoded % decodes')
        assert.match(String((await get(apiKey, '?q=%FF')).headers['x-ratelimit-limit']), /^\d+$/, 'refused after the key and its rate limit')
        assert.equal((await call(t.app, 'GET', '/api/v1/customers?q=%FF')).status, 401, 'the key is checked first (API.md §2)')
        assertInvalid(await get(apiKey, '?page='), ['page'])
        assertInvalid(await get(apiKey, '?page=0'), ['page'])
        assertInvalid(await get(apiKey, '?per_page=0'), ['per_page'])
        assertInvalid(await get(apiKey, '?page=two'), ['page'], /integer/)
        assertInvalid(await get(apiKey, '?per_page=1.5'), ['per_page'])
        assertInvalid(await get(apiKey, `?q=${'a'.repeat(201)}`), ['q'])
        assertInvalid(await get(apiKey, '?q=a%00b'), ['q'])
      })
    })

    describe('update', () => {
      it('changes only the fields sent and answers the full record', async () => {
        const { apiKey } = await tenant()
        const c = await make(apiKey, { customer_name: 'Acme', customer_email: 'a@acme.example', notes: 'keep me' })
        await t.database.db.updateTable('customers').set({ updated_at: BACKDATED }).where('customer_id', '=', c.customer_id).execute()
        const res = await put(apiKey, c.customer_id, { customer_phone: ' +1 555 0100 ' })
        assert.equal(res.status, 200)
        assert.equal(res.body.success, true)
        assert.equal(res.body.message, 'Customer updated successfully')
        assert.deepEqual(res.body.data, { ...c, customer_phone: '+1 555 0100', updated_at: res.body.data.updated_at })
        assertRecent(res.body.data.updated_at)
        assert.deepEqual((await get(apiKey, `?id=${c.customer_id}`)).body.data, res.body.data)
      })

      it('null (or text empty after trimming) clears a nullable field', async () => {
        const { apiKey } = await tenant()
        const c = await make(apiKey, { customer_name: 'Acme', customer_email: 'a@acme.example', notes: 'n', billing_address: 'b' })
        const res = await put(apiKey, c.customer_id, { customer_email: null, notes: '  ' })
        assert.equal(res.status, 200)
        assert.equal(res.body.data.customer_email, null)
        assert.equal(res.body.data.notes, null)
        assert.equal(res.body.data.billing_address, 'b')
      })

      it('validates like create, and refuses an empty body, a null name and a missing id', async () => {
        const { apiKey } = await tenant()
        const c = await make(apiKey, { customer_name: 'Acme' })
        assertInvalid(await put(apiKey, c.customer_id, {}), ['body'], /at least one field/)
        assertInvalid(await put(apiKey, c.customer_id, { customer_name: null }), ['customer_name'])
        assertInvalid(await put(apiKey, c.customer_id, { customer_name: '  ' }), ['customer_name'], /must not be empty/)
        assertInvalid(await put(apiKey, c.customer_id, { customer_name: 'x'.repeat(201) }), ['customer_name'])
        assertInvalid(await put(apiKey, c.customer_id, { customer_email: 'bad' }), ['customer_email'])
        assertInvalid(await put(apiKey, c.customer_id, { customer_id: 3 }), ['customer_id'])
        assertInvalid(await put(apiKey, c.customer_id, { created_at: '2026-01-01T00:00:00Z' }), ['created_at'])
        assertInvalid(await call(t.app, 'PUT', PATH, { key: apiKey, body: { customer_name: 'B' } }), ['id'], /is required/)
        assertInvalid(await put(apiKey, 'abc', { customer_name: 'B' }), ['id'])
        assertInvalid(await call(t.app, 'PUT', `${PATH}?id=${c.customer_id}&q=x`, { key: apiKey, body: { customer_name: 'B' } }), ['q'])
        assertError(await put(apiKey, 999999, { customer_name: 'B' }), 404, 'not_found')
        assert.equal((await get(apiKey, `?id=${c.customer_id}`)).body.data.customer_name, 'Acme')
      })
    })

    describe('scopes and keys', () => {
      it('needs a valid key', async () => {
        assertError(await call(t.app, 'GET', PATH), 401, 'unauthorized')
        assertError(await call(t.app, 'GET', PATH, { key: 'fsm_nonsense' }), 401, 'unauthorized')
        assertError(await call(t.app, 'POST', PATH, { body: { customer_name: 'A' } }), 401, 'unauthorized')
      })

      it('a read-only key cannot write; a write-only key cannot read', async () => {
        const owner = await tenant()
        const c = await make(owner.apiKey, { customer_name: 'Acme' })
        const reader = await createExtraKey(t.database, owner.companyId, ['customers:read'])
        const writer = await createExtraKey(t.database, owner.companyId, ['customers:write'])
        const other = await createExtraKey(t.database, owner.companyId, ['jobs:read', 'jobs:write', 'technicians:read', 'technicians:write'])

        const denied = await post(reader.apiKey, { customer_name: 'B' })
        assertError(denied, 403, 'insufficient_scope')
        assert.match(denied.body.error.message, /customers:write/)
        assertError(await put(reader.apiKey, c.customer_id, { customer_name: 'B' }), 403, 'insufficient_scope')
        assert.equal((await get(reader.apiKey, `?id=${c.customer_id}`)).status, 200)
        assert.equal((await get(reader.apiKey)).body.pagination.total, 1)

        const blind = await get(writer.apiKey)
        assertError(blind, 403, 'insufficient_scope')
        assert.match(blind.body.error.message, /customers:read/)
        assertError(await get(writer.apiKey, `?id=${c.customer_id}`), 403, 'insufficient_scope')
        assert.equal((await post(writer.apiKey, { customer_name: 'B' })).status, 201)
        assert.equal((await put(writer.apiKey, c.customer_id, { notes: 'n' })).status, 200)

        assertError(await get(other.apiKey), 403, 'insufficient_scope')
        assertError(await post(other.apiKey, { customer_name: 'C' }), 403, 'insufficient_scope')
        // The scope check comes before body validation (API.md §2).
        assertError(await post(reader.apiKey, { nonsense: true }), 403, 'insufficient_scope')
      })

      it('a company not on the Enterprise plan is refused', async () => {
        const starter = await createTenant(t.database, { plan: 'professional' })
        assertError(await get(starter.apiKey), 403, 'plan_upgrade_required')
      })
    })

    describe('tenant isolation', () => {
      it("another company's customer is not_found on GET and PUT, and never in lists", async () => {
        const a = await tenant()
        const b = await tenant()
        const mine = await make(a.apiKey, { customer_name: 'Shared Name' })
        const theirs = await make(b.apiKey, { customer_name: 'Shared Name' })
        await make(b.apiKey, { customer_name: 'Another of B' })

        const read = await get(a.apiKey, `?id=${theirs.customer_id}`)
        assertError(read, 404, 'not_found')
        assert.doesNotMatch(JSON.stringify(read.body), /Shared Name/)
        assertError(await put(a.apiKey, theirs.customer_id, { customer_name: 'Hijacked' }), 404, 'not_found')
        assert.equal((await get(b.apiKey, `?id=${theirs.customer_id}`)).body.data.customer_name, 'Shared Name')

        const list = await get(a.apiKey)
        assert.deepEqual(list.body.data.map((c: any) => c.customer_id), [mine.customer_id])
        assert.equal(list.body.pagination.total, 1)
        const search = await get(a.apiKey, '?q=shared')
        assert.deepEqual(search.body.data.map((c: any) => c.customer_id), [mine.customer_id])
        assert.equal((await get(b.apiKey)).body.pagination.total, 2)
      })
    })

    describe('conditional requests', () => {
      it('GET ?id= sends an ETag (304 on If-None-Match); PUT honours If-Match and answers the new tag', async () => {
        const { apiKey } = await tenant()
        const c = await make(apiKey, { customer_name: 'Acme' })
        const tag = String((await get(apiKey, `?id=${c.customer_id}`)).headers.etag)
        assert.match(tag, /^"[A-Za-z0-9_-]+"$/)
        assert.equal((await call(t.app, 'GET', `${PATH}?id=${c.customer_id}`, { key: apiKey, headers: { 'if-none-match': tag } })).status, 304)
        const stale = await call(t.app, 'PUT', `${PATH}?id=${c.customer_id}`, { key: apiKey, body: { notes: 'x' }, headers: { 'if-match': '"stale"' } })
        assertError(stale, 412, 'precondition_failed')
        assert.equal((await get(apiKey, `?id=${c.customer_id}`)).body.data.notes, null)
        const ok = await call(t.app, 'PUT', `${PATH}?id=${c.customer_id}`, { key: apiKey, body: { notes: 'x' }, headers: { 'if-match': tag } })
        assert.equal(ok.status, 200)
        assert.ok(ok.headers.etag && ok.headers.etag !== tag)
        assert.equal((await get(apiKey, `?id=${c.customer_id}`)).headers.etag, ok.headers.etag)
        // Changed and changed back within a second: the record reads as it did, but a client holding the old tag missed two writes.
        assert.equal((await put(apiKey, c.customer_id, { notes: 'y' })).status, 200)
        assert.equal((await put(apiKey, c.customer_id, { notes: 'x' })).status, 200)
        const missed = await call(t.app, 'PUT', `${PATH}?id=${c.customer_id}`, { key: apiKey, body: { notes: 'lost update' }, headers: { 'if-match': String(ok.headers.etag) } })
        assertError(missed, 412, 'precondition_failed')
      })
    })

    describe('live names on jobs', () => {
      it("renaming a customer changes its jobs' customer_name", async () => {
        const { apiKey } = await tenant()
        const basics = await createBasics(t.app, apiKey)
        const jobId = await createJobVia(t.app, apiKey, basics.locationId)
        const before = await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: apiKey })
        assert.equal(before.body.data.customer_name, 'Acme Corporation')
        assert.equal(before.body.data.customer_id, basics.customerId)

        assert.equal((await put(apiKey, basics.customerId, { customer_name: 'Acme Holdings' })).status, 200)
        const after = await call(t.app, 'GET', `/api/v1/jobs?id=${jobId}`, { key: apiKey })
        assert.equal(after.body.data.customer_name, 'Acme Holdings')
        assert.equal(after.body.data.customer_id, basics.customerId)
        const list = await call(t.app, 'GET', `/api/v1/jobs?customer_id=${basics.customerId}`, { key: apiKey })
        assert.deepEqual(list.body.data.map((j: any) => j.customer_name), ['Acme Holdings'])
        const location = await call(t.app, 'GET', `/api/v1/locations?id=${basics.locationId}`, { key: apiKey })
        assert.equal(location.body.data.customer_name, 'Acme Holdings')
      })
    })
  })
}
