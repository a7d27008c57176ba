/**
 * Every error code of API.md §2 that does not need §8, reached through HTTP,
 * with its envelope and headers; API keys, plans, scopes and rate limits
 * (§3); the order of checks (§2); and the operational endpoints of §7.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { Writable } from 'node:stream'
import { after, before, describe, it, mock } from 'node:test'
import assert from 'node:assert/strict'
import { sql } from 'kysely'
import { randomBytes } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import pg from 'pg'
import { collectedLog, DIALECTS, freshDatabase, PG_URL, startTestApp, type TestApp } from './helpers/app.ts'
import { connect as connectDatabase, type DatabaseHandle } from '../src/db/connect.ts'
import { migrateToLatest } from '../src/db/migrator.ts'
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import { call, createBasics, createExtraKey, createJobVia, createTenant, type ApiResponse, type Tenant } from './helpers/factories.ts'
import { generateKey } from '../src/modules/api-keys/key-format.ts'
import { AUTH_CHALLENGE } from '../src/http/errors.ts'
import { addTrigger } from './helpers/triggers.ts'
import { listKeys, revokeKey } from '../src/modules/api-keys/api-keys.service.ts'

const PATH = '/api/v1/jobs'
const ONE_MIB = 1024 * 1024
const JSON_HEADERS = { 'content-type': 'application/json' }

/** Things that must never appear in an error answer. */
const LEAKS = [/\bat .+\.(ts|js|mjs):\d+/, /node_modules/, /\bselect\b.+\bfrom\b/i, /\binsert into\b/i, /\bupdate\b.+\bset\b/i, /sqlite/i, /no such table/i, /syntax error/i, /"stack"/, /SQLITE_/, /constraint/i, /kysely/i]

/**
 * /readyz's 503: the error envelope (API.md §1: every non-2xx answer), as
 * its 503 during a shutdown already was, with the probe's own fields
 * (`status`, `database`, `rate_limit`, docs/deployment.md) beside it.
 */
function assertReadyzEnvelope(res: ApiResponse) {
  assert.equal(res.status, 503)
  assert.equal(res.body.success, false)
  assert.equal(res.body.error.code, 'service_unavailable')
  assert.deepEqual(Object.keys(res.body.error), ['code', 'message'])
  assert.equal(res.body.request_id, res.headers['x-request-id'])
  assert.equal(res.headers['retry-after'], '1')
  assert.equal(res.body.status, 'unavailable')
  assert.equal(typeof res.body.rate_limit.status, 'string')
}

/** Every error answer seen in this file, checked for leaks at the end. */
const seenErrors: Array<{ label: string; res: ApiResponse }> = []

function assertError(res: ApiResponse, status: number, code: string, label = '') {
  assert.equal(res.status, status, `${label} ${JSON.stringify(res.body)}`)
  assert.equal(res.body.success, false, label)
  assert.equal(res.body.error.code, code, `${label} ${JSON.stringify(res.body)}`)
  assert.equal(typeof res.body.error.message, 'string')
  assert.ok(res.body.error.message.length > 0)
  assert.deepEqual(Object.keys(res.body).sort(), ['error', 'request_id', 'success'])
  for (const k of Object.keys(res.body.error)) assert.ok(['code', 'message', 'details'].includes(k), `unexpected error key ${k}`)
  if (code === 'validation_failed') assert.ok(Array.isArray(res.body.error.details) && res.body.error.details.length > 0)
  assert.equal(typeof res.body.request_id, 'string')
  assert.ok(res.body.request_id.length > 0)
  assert.equal(res.headers['x-request-id'], res.body.request_id, `${label} X-Request-Id`)
  assert.equal(res.headers['x-content-type-options'], 'nosniff', `${label} nosniff`)
  assert.match(String(res.headers['content-type']), /^application\/json/)
  // A 401 names how to authenticate (RFC 9110 §11.6.1); no other answer does.
  assert.equal(res.headers['www-authenticate'], status === 401 ? AUTH_CHALLENGE : undefined, `${label} WWW-Authenticate`)
  seenErrors.push({ label: `${label} ${status} ${code}`, res })
}

function assertNoLeak(label: string, res: ApiResponse) {
  const text = typeof res.body === 'string' ? res.body : JSON.stringify(res.body)
  for (const pattern of LEAKS) assert.doesNotMatch(text, pattern, `${label}: ${text}`)
}

/** A valid, well-formed key text whose checksum is broken in its last character. */
function breakChecksum(apiKey: string) {
  const last = apiKey.at(-1)!
  return apiKey.slice(0, -1) + (last === 'A' ? 'B' : 'A')
}

for (const dialect of DIALECTS) {
  describe(`errors, keys, plans, scopes, rate limits (${dialect})`, () => {
    let t: TestApp
    let tenant: Tenant
    let locationId: number
    before(async () => {
      t = await startTestApp(dialect)
      tenant = await createTenant(t.database)
      ;({ locationId } = await createBasics(t.app, tenant.apiKey))
    })
    after(() => t.close())

    const req = (method: string, url: string, options: Parameters<typeof call>[3] = {}) => call(t.app, method, url, options)
    const validJob = () => ({ job_title: 'AC unit repair', customer_location_id: locationId })
    const bigBody = (bytes: number) => {
      const head = '{"job_title":"AC","customer_location_id":1,"job_description":"'
      return head + 'a'.repeat(bytes - head.length - 2) + '"}'
    }

    describe('400', () => {
      it('validation_failed carries details', async () => {
        const res = await req('POST', PATH, { key: tenant.apiKey, body: { job_title: '' } })
        assertError(res, 400, 'validation_failed')
        assert.deepEqual(res.body.error.details.map((d: { field: string }) => d.field).sort(), ['customer_location_id', 'job_title'])
        assert.equal(res.body.error.message, 'job_title is required; customer_location_id is required')
      })

      it('the message spells out the first 20 problems; details lists them all (unknown fields up to 1,000: jobs-validation.test.ts)', async () => {
        const body = Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`unknown_${i}`, i]))
        const res = await req('POST', PATH, { key: tenant.apiKey, body: { ...validJob(), ...body } })
        assertError(res, 400, 'validation_failed')
        assert.equal(res.body.error.details.length, 1_000)
        const spelled = res.body.error.message.split('; ')
        assert.equal(spelled.length, 21)
        assert.equal(spelled[0], 'unknown_0 is not a known field')
        assert.equal(spelled[20], 'and 980 more problems (see details)')
        // One past the twenty: "1 more problem", not "problems".
        const one = await req('POST', PATH, { key: tenant.apiKey, body: { ...validJob(), ...Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`unknown_${i}`, i])) } })
        assert.equal(one.body.error.message.split('; ')[20], 'and 1 more problem (see details)')
      })

      it('validation_failed lists the query string\'s problems with the body\'s, query first', async () => {
        const fields = (res: ApiResponse) => res.body.error.details.map((d: { field: string }) => d.field)
        const id = await createJobVia(t.app, tenant.apiKey, locationId)
        const cases = [
          ['PUT', `${PATH}?id=abc`, { job_title: '' }, ['id', 'job_title']],
          ['POST', `${PATH}?id=5`, { job_title: 'AC' }, ['id', 'customer_location_id']],
          ['PATCH', `${PATH}?id=abc`, { job_status: 'x' }, ['id', 'job_status']],
          ['PUT', `${PATH}?id=abc&sort=x`, { job_title: 'AC', foo: 1 }, ['id', 'sort', 'foo']],
          ['PUT', '/api/v1/customers?id=abc', { customer_name: 5 }, ['id', 'customer_name']],
        ] as const
        for (const [method, url, body, expected] of cases) {
          const res = await req(method, url, { key: tenant.apiKey, body })
          assertError(res, 400, 'validation_failed', `${method} ${url}`)
          assert.deepEqual(fields(res), expected, `${method} ${url}`)
        }
        // A body refused alone, the query being right, names only the body's fields.
        assert.deepEqual(fields(await req('PUT', `${PATH}?id=${id}`, { key: tenant.apiKey, body: { job_title: '' } })), ['job_title'])
      })

      it('a malformed Idempotency-Key is listed with the query\'s and the body\'s problems, in the order they come', async () => {
        const fields = (res: ApiResponse) => res.body.error.details.map((d: { field: string }) => d.field)
        const id = await createJobVia(t.app, tenant.apiKey, locationId)
        const headers = { 'idempotency-key': 'tab\there' }
        const cases = [
          ['PUT', `${PATH}?id=abc`, { job_title: '' }, ['id', 'Idempotency-Key', 'job_title']],
          ['POST', PATH, { job_title: 'AC', foo: 1 }, ['Idempotency-Key', 'customer_location_id', 'foo']],
          ['PATCH', `${PATH}?id=${id}`, { job_status: 'x' }, ['Idempotency-Key', 'job_status']],
          ['PATCH', `${PATH}?id=${id}`, { job_status: 'Assigned' }, ['Idempotency-Key']],
        ] as const
        for (const [method, url, body, expected] of cases) {
          const res = await req(method, url, { key: tenant.apiKey, body, headers })
          assertError(res, 400, 'validation_failed', `${method} ${url}`)
          assert.deepEqual(fields(res), expected, `${method} ${url}`)
        }
        // Nothing was written: the job is still Pending and has no other history.
        const job = await req('GET', `${PATH}?id=${id}`, { key: tenant.apiKey })
        assert.equal(job.body.data.job_status, 'Pending')
      })

      it('validation_failed names a query parameter without a name as such', async () => {
        for (const [method, url, body] of [['GET', `${PATH}?=x`, undefined], ['GET', `${PATH}?status=Pending&=`, undefined], ['PATCH', `${PATH}?=&id=1`, { job_status: 'Assigned' }]] as const) {
          const res = await req(method, url, { key: tenant.apiKey, body })
          assertError(res, 400, 'validation_failed', url)
          assert.deepEqual(res.body.error.details, [{ field: '', message: 'a query parameter must have a name' }], url)
          assert.equal(res.body.error.message, 'a query parameter must have a name', url)
        }
      })

      it('invalid_json: not JSON, or not a JSON object, on POST, PUT and PATCH', async () => {
        const id = await createJobVia(t.app, tenant.apiKey, locationId)
        const bodies = ['{bad', '{"job_title": "AC",}', '{"a":1} x', '[1,2]', '[]', 'null', '"AC unit repair"', '42', 'true', '', '   ']
        for (const rawBody of bodies) {
          for (const [method, url] of [['POST', PATH], ['PUT', `${PATH}?id=${id}`], ['PATCH', `${PATH}?id=${id}`]] as const) {
            const res = await req(method, url, { key: tenant.apiKey, rawBody, headers: JSON_HEADERS })
            assertError(res, 400, 'invalid_json', `${method} ${JSON.stringify(rawBody)}`)
          }
        }
        const missing = await req('POST', PATH, { key: tenant.apiKey, headers: JSON_HEADERS })
        assertError(missing, 400, 'invalid_json', 'no body at all')
      })

      it('invalid_json: a body that is not UTF-8 is refused, not stored with its bytes replaced', async () => {
        const id = await createJobVia(t.app, tenant.apiKey, locationId)
        const before = (await req('GET', PATH, { key: tenant.apiKey })).body.pagination.total
        const title = (bytes: number[]) => Buffer.concat([Buffer.from(`{"customer_location_id":${locationId},"job_title":"bad`), Buffer.from(bytes), Buffer.from('"}')])
        // A byte no UTF-8 text holds, a lead byte without its continuation, a
        // truncated sequence, an overlong encoding, and a surrogate encoded as if it were a character.
        for (const bytes of [[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xc0, 0xaf], [0xed, 0xa0, 0x80]]) {
          for (const [method, url] of [['POST', PATH], ['PUT', `${PATH}?id=${id}`]] as const) {
            const res = await req(method, url, { key: tenant.apiKey, rawBody: title(bytes), headers: JSON_HEADERS })
            assertError(res, 400, 'invalid_json', `${method} ${Buffer.from(bytes).toString('hex')}`)
            assert.equal(res.body.error.message, 'Request body is not valid UTF-8')
          }
        }
        assert.equal((await req('GET', PATH, { key: tenant.apiKey })).body.pagination.total, before, 'no job was created')
        assert.equal((await req('GET', `${PATH}?id=${id}`, { key: tenant.apiKey })).body.data.job_title.includes('bad'), false, 'the job was not changed')
        // Text in UTF-8, several bytes a character, is taken as sent.
        const created = await req('POST', PATH, { key: tenant.apiKey, rawBody: title([...Buffer.from('é€😀')]), headers: JSON_HEADERS })
        assert.equal(created.status, 201)
        assert.equal(created.body.data.job_title, 'badé€😀')
      })

      it('a byte order mark before the JSON is skipped (RFC 8259 §8.1), and is no JSON on its own', async () => {
        const bom = Buffer.from([0xef, 0xbb, 0xbf])
        const created = await req('POST', PATH, { key: tenant.apiKey, rawBody: Buffer.concat([bom, Buffer.from(JSON.stringify({ ...validJob(), job_title: 'Sent with a BOM' }))]), headers: JSON_HEADERS })
        assert.equal(created.status, 201, JSON.stringify(created.body))
        assert.equal(created.body.data.job_title, 'Sent with a BOM')
        const patched = await req('PATCH', `${PATH}?id=${created.body.data.job_id}`, { key: tenant.apiKey, rawBody: Buffer.concat([bom, Buffer.from('{"job_status":"Cancelled"}')]), headers: JSON_HEADERS })
        assert.equal(patched.status, 200, JSON.stringify(patched.body))
        assertError(await req('POST', PATH, { key: tenant.apiKey, rawBody: bom, headers: JSON_HEADERS }), 400, 'invalid_json', 'a BOM alone')
        // Only at the start: within the JSON it is a character no JSON text may have between tokens.
        assertError(await req('POST', PATH, { key: tenant.apiKey, rawBody: Buffer.concat([Buffer.from(' '), bom, Buffer.from('{}')]), headers: JSON_HEADERS }), 400, 'invalid_json', 'a BOM after a space')
      })

      it('invalid_status_transition', async () => {
        const id = await createJobVia(t.app, tenant.apiKey, locationId)
        const res = await req('PATCH', `${PATH}?id=${id}`, { key: tenant.apiKey, body: { job_status: 'Completed' } })
        assertError(res, 400, 'invalid_status_transition')
        assert.match(res.body.error.message, /Pending/)
        assert.match(res.body.error.message, /Assigned/)
        assert.match(res.body.error.message, /Cancelled/)
      })
    })

    describe('401 unauthorized', () => {
      it('a missing or empty X-API-Key', async () => {
        assertError(await req('GET', PATH), 401, 'unauthorized', 'missing')
        assertError(await req('GET', PATH, { key: '' }), 401, 'unauthorized', 'empty')
        assertError(await req('GET', PATH, { headers: { authorization: `Bearer ${tenant.apiKey}` } }), 401, 'unauthorized', 'Authorization instead')
        assertError(await req('POST', PATH, { body: validJob() }), 401, 'unauthorized', 'POST without key')
      })

      it('an X-API-Key sent twice is told so, not that the key is invalid (Node joins the two into one value)', async () => {
        for (const keys of [[tenant.apiKey, tenant.apiKey], [tenant.apiKey, 'other']]) {
          const twice = await req('GET', PATH, { headers: { 'x-api-key': keys as unknown as string } })
          assertError(twice, 401, 'unauthorized', 'twice')
          assert.equal(twice.body.error.message, 'X-API-Key header must be sent once')
        }
      })

      // The key check is added to each route that names a scope as the
      // route is registered: no route of the API may end up without it.
      it('every path and method of the API, and HEAD of every GET, refuses a missing key (401) and a company not on Enterprise (403)', async () => {
        const doc = (await req('GET', '/api/v1/openapi.json')).body
        const starter = await createTenant(t.database, { plan: 'starter', name: 'Starter Routes Co' })
        const routes: Array<[string, string]> = []
        for (const [path, item] of Object.entries<Record<string, unknown>>(doc.paths)) {
          for (const method of Object.keys(item)) {
            routes.push([method.toUpperCase(), path])
            if (method === 'get') routes.push(['HEAD', path])
          }
        }
        assert.ok(routes.length >= 20, `${routes.length} routes`)
        for (const [method, path] of routes) {
          const label = `${method} ${path}`
          const missing = await req(method, path)
          const notEnterprise = await req(method, path, { key: starter.apiKey })
          if (method === 'HEAD') {
            assert.equal(missing.status, 401, label)
            assert.equal(notEnterprise.status, 403, label)
            continue
          }
          assertError(missing, 401, 'unauthorized', label)
          assertError(notEnterprise, 403, 'plan_upgrade_required', label)
        }
      })

      it('a malformed key', async () => {
        for (const key of ['abc', 'Bearer x', 'fsm_1_short', `${tenant.apiKey}x`, tenant.apiKey.slice(0, -1), tenant.apiKey.toUpperCase(), ` ${tenant.apiKey}x`, 'fsm_0_' + 'a'.repeat(38)]) {
          assertError(await req('GET', PATH, { key }), 401, 'unauthorized', `malformed ${key}`)
        }
      })

      it('a bad checksum', async () => {
        assertError(await req('GET', PATH, { key: breakChecksum(tenant.apiKey) }), 401, 'unauthorized')
        // One character of the secret changed: the checksum no longer matches.
        const i = tenant.apiKey.length - 10
        const flipped = tenant.apiKey.slice(0, i) + (tenant.apiKey[i] === 'x' ? 'y' : 'x') + tenant.apiKey.slice(i + 1)
        assertError(await req('GET', PATH, { key: flipped }), 401, 'unauthorized')
      })

      it('an unknown key (well-formed, valid checksum)', async () => {
        assertError(await req('GET', PATH, { key: generateKey(987_654).apiKey }), 401, 'unauthorized', 'unknown id')
        // The right id, a valid checksum, but not the key that was issued.
        assertError(await req('GET', PATH, { key: generateKey(tenant.keyId).apiKey }), 401, 'unauthorized', 'wrong secret')
      })

      it('a revoked key, right away', async () => {
        const extra = await createExtraKey(t.database, tenant.companyId, ['jobs:read'])
        assert.equal((await req('GET', PATH, { key: extra.apiKey })).status, 200)
        await revokeKey(t.database.db, extra.keyId)
        assertError(await req('GET', PATH, { key: extra.apiKey }), 401, 'unauthorized', 'revoked')
        // Other keys of the company still work.
        assert.equal((await req('GET', PATH, { key: tenant.apiKey })).status, 200)
      })

      it("a key's use is recorded in last_used_at (fsm key list), written beside the request", async () => {
        const extra = await createExtraKey(t.database, tenant.companyId, ['jobs:read'])
        const shown = async () => (await listKeys(t.database.db, tenant.companyId)).find((k) => k.key_id === extra.keyId)!.last_used_at
        assert.equal(await shown(), null)
        const from = Math.floor(Date.now() / 1000)
        assert.equal((await req('GET', PATH, { key: extra.apiKey })).status, 200)
        const to = Math.ceil(Date.now() / 1000)
        let lastUsed = await shown()
        for (let waited = 0; lastUsed === null && waited < 2000; waited += 20) {
          await new Promise((resolve) => setTimeout(resolve, 20))
          lastUsed = await shown()
        }
        assert.ok(lastUsed !== null, 'last_used_at was not written within 2 s')
        const at = Date.parse(lastUsed) / 1000
        assert.ok(at >= from && at <= to, `last_used_at ${lastUsed} is not the time of the request`)
      })

      it('fsm key list of a company that does not exist is an error, as fsm key create is, not an empty list', async () => {
        await assert.rejects(listKeys(t.database.db, 987_654), /company 987654 not found/)
        assert.ok((await listKeys(t.database.db, tenant.companyId)).some((k) => k.key_id === tenant.keyId))
      })

      // Production caches keys briefly (FSM_KEY_CACHE_MS), and a key verified
      // moments ago is recognised by its exact text without hashing it again.
      describe('with the key cache on', () => {
        const CACHE_MS = 400
        let cached: TestApp
        before(async () => {
          cached = await startTestApp(dialect, { config: { keyCacheMs: CACHE_MS } })
        })
        after(() => cached.close())
        const list = (key: string) => call(cached.app, 'GET', PATH, { key })

        it('a wrong secret right after the real key was verified is still refused', async () => {
          const owner = await createTenant(cached.database)
          assert.equal((await list(owner.apiKey)).status, 200)
          assert.equal((await list(owner.apiKey)).status, 200)
          assertError(await list(generateKey(owner.keyId).apiKey), 401, 'unauthorized', 'same id, other secret')
          assertError(await list(breakChecksum(owner.apiKey)), 401, 'unauthorized', 'bad checksum')
          assert.equal((await list(owner.apiKey)).status, 200)
        })

        it('keys used in turn each act for their own company', async () => {
          const a = await createTenant(cached.database, { name: 'A Co' })
          const b = await createTenant(cached.database, { name: 'B Co' })
          const { locationId } = await createBasics(cached.app, a.apiKey)
          const jobId = await createJobVia(cached.app, a.apiKey, locationId)
          for (let i = 0; i < 3; i++) {
            assert.deepEqual((await list(a.apiKey)).body.data.map((j: { job_id: number }) => j.job_id), [jobId])
            assert.deepEqual((await list(b.apiKey)).body.data, [])
            assertError(await call(cached.app, 'GET', `${PATH}?id=${jobId}`, { key: b.apiKey }), 404, 'not_found')
          }
        })

        it('a revoked key is refused once the cache window has passed', async () => {
          const owner = await createTenant(cached.database)
          assert.equal((await list(owner.apiKey)).status, 200)
          await revokeKey(cached.database.db, owner.keyId)
          await new Promise((resolve) => setTimeout(resolve, CACHE_MS + 50))
          assertError(await list(owner.apiKey), 401, 'unauthorized', 'revoked, after the window')
        })

        it('a revoked key is refused once the cache window has passed, even when the wall clock stepped back meanwhile', async () => {
          // An NTP correction or a VM resumed with a wrong clock: the window is
          // measured on a monotonic clock, not on Date.now, or every key cached
          // before the step stays good for as long as the step (API.md §3: revocation within one second).
          const owner = await createTenant(cached.database)
          assert.equal((await list(owner.apiKey)).status, 200)
          const wall = Date.now.bind(Date)
          const stepped = mock.method(Date, 'now', () => wall() - 3_600_000)
          try {
            await revokeKey(cached.database.db, owner.keyId)
            await new Promise((resolve) => setTimeout(resolve, CACHE_MS + 50))
            assertError(await list(owner.apiKey), 401, 'unauthorized', 'revoked, after the window, the clock an hour back')
          } finally {
            stepped.mock.restore()
          }
        })
      })
    })

    describe('403', () => {
      it('plan_upgrade_required for companies not on Enterprise, on every API path', async () => {
        for (const plan of ['starter', 'professional']) {
          const other = await createTenant(t.database, { plan, name: `${plan} Co` })
          for (const [method, url, body] of [
            ['GET', PATH, undefined],
            ['GET', `${PATH}?id=1`, undefined],
            ['POST', PATH, validJob()],
            ['PUT', `${PATH}?id=1`, { job_title: 'x' }],
            ['PATCH', `${PATH}?id=1`, { job_status: 'Assigned' }],
            ['GET', '/api/v1/customers', undefined],
            ['GET', '/api/v1/locations', undefined],
            ['GET', '/api/v1/technicians', undefined],
          ] as const) {
            const res = await req(method, url, { key: other.apiKey, ...(body && { body }) })
            assertError(res, 403, 'plan_upgrade_required', `${plan} ${method} ${url}`)
            assert.match(res.body.error.message, /Enterprise/i)
          }
        }
      })

      it('insufficient_scope names the scope the endpoint needs; write does not imply read', async () => {
        const id = await createJobVia(t.app, tenant.apiKey, locationId)
        const reader = await createExtraKey(t.database, tenant.companyId, ['jobs:read'])
        const writer = await createExtraKey(t.database, tenant.companyId, ['jobs:write'])
        const other = await createExtraKey(t.database, tenant.companyId, ['customers:read', 'customers:write', 'technicians:read', 'assets:read'])
        const cases: Array<[string, string, string, unknown, string]> = [
          [reader.apiKey, 'POST', PATH, validJob(), 'jobs:write'],
          [reader.apiKey, 'PUT', `${PATH}?id=${id}`, { job_title: 'x' }, 'jobs:write'],
          [reader.apiKey, 'PATCH', `${PATH}?id=${id}`, { job_status: 'Assigned' }, 'jobs:write'],
          [writer.apiKey, 'GET', PATH, undefined, 'jobs:read'],
          [writer.apiKey, 'GET', `${PATH}?id=${id}`, undefined, 'jobs:read'],
          [other.apiKey, 'GET', PATH, undefined, 'jobs:read'],
          [other.apiKey, 'POST', PATH, validJob(), 'jobs:write'],
          [reader.apiKey, 'GET', '/api/v1/customers', undefined, 'customers:read'],
          [reader.apiKey, 'POST', '/api/v1/technicians', { technician_name: 'X' }, 'technicians:write'],
        ]
        for (const [key, method, url, body, scope] of cases) {
          const res = await req(method, url, { key, ...(body !== undefined && { body }) })
          assertError(res, 403, 'insufficient_scope', `${method} ${url}`)
          assert.ok(res.body.error.message.includes(scope), `names ${scope}: ${res.body.error.message}`)
        }
        // Nothing was written by the refused writes.
        const job = (await req('GET', `${PATH}?id=${id}`, { key: reader.apiKey })).body.data
        assert.equal(job.job_title, 'AC unit repair')
        assert.equal(job.job_status, 'Pending')
        // The scopes a key has do work.
        assert.equal((await req('GET', PATH, { key: reader.apiKey })).status, 200)
        assert.equal((await req('PATCH', `${PATH}?id=${id}`, { key: writer.apiKey, body: { job_status: 'Assigned' } })).status, 200)
      })
    })

    describe('404 not_found', () => {
      it('unknown paths, with or without a key', async () => {
        for (const url of ['/api/v1/nope', '/api/v1/job', '/api/v2/jobs', '/api/v1/jobs/123', '/', '/api', '/api/v1']) {
          assertError(await req('GET', url), 404, 'not_found', `no key ${url}`)
          assertError(await req('GET', url, { key: tenant.apiKey }), 404, 'not_found', `key ${url}`)
          assertError(await req('POST', url, { key: breakChecksum(tenant.apiKey), body: {} }), 404, 'not_found', `bad key ${url}`)
        }
      })

      it("an unknown id and another company's id", async () => {
        const other = await createTenant(t.database, { name: 'Other Co' })
        const { locationId: theirLocation } = await createBasics(t.app, other.apiKey, ' (other)')
        const theirs = await createJobVia(t.app, other.apiKey, theirLocation)
        for (const id of [theirs, 999_999_999]) {
          assertError(await req('GET', `${PATH}?id=${id}`, { key: tenant.apiKey }), 404, 'not_found', `GET ${id}`)
          assertError(await req('PUT', `${PATH}?id=${id}`, { key: tenant.apiKey, body: { job_title: 'x' } }), 404, 'not_found', `PUT ${id}`)
          assertError(await req('PATCH', `${PATH}?id=${id}`, { key: tenant.apiKey, body: { job_status: 'Assigned' } }), 404, 'not_found', `PATCH ${id}`)
        }
      })
    })

    describe('405 method_not_allowed', () => {
      it('answers with an Allow header listing the methods the path supports', async () => {
        for (const [method, url, must, mustNot] of [
          ['DELETE', PATH, ['GET', 'POST', 'PUT', 'PATCH'], ['DELETE']],
          ['PATCH', '/api/v1/customers', ['GET', 'POST', 'PUT'], ['PATCH', 'DELETE']],
          ['DELETE', '/api/v1/technicians', ['GET', 'POST', 'PUT'], ['PATCH', 'DELETE']],
          ['POST', '/api/v1/jobs/history', ['GET'], ['POST', 'PUT', 'PATCH', 'DELETE']],
          ['POST', '/healthz', ['GET'], ['POST']],
          // The documentation's pages and files too (404 before).
          ['POST', '/docs', ['GET'], ['POST']],
          ['OPTIONS', '/docs/json', ['GET'], ['POST']],
          ['DELETE', '/docs/static/logo.svg', ['GET'], ['DELETE']],
        ] as const) {
          for (const key of [undefined, tenant.apiKey]) {
            const res = await req(method, url, { key, ...(method !== 'DELETE' && { body: {} }) })
            assertError(res, 405, 'method_not_allowed', `${method} ${url}`)
            const allow = String(res.headers.allow ?? '').split(/\s*,\s*/)
            for (const m of must) assert.ok(allow.includes(m), `${url} Allow ${allow} has ${m}`)
            for (const m of mustNot) assert.ok(!allow.includes(m), `${url} Allow ${allow} lacks ${m}`)
          }
        }
      })

      it('the methods in Allow are the ones that work', async () => {
        const res = await req('DELETE', PATH)
        const allow = String(res.headers.allow).split(/\s*,\s*/).filter((m) => m !== 'HEAD' && m !== 'OPTIONS')
        for (const m of allow) {
          const probe = await req(m, PATH, m === 'GET' ? {} : { body: {} })
          assert.equal(probe.status, 401, `${m} is routed (needs a key), not ${probe.status}`)
        }
      })
    })

    describe('409 job_locked', () => {
      async function jobIn(steps: string[]) {
        const id = await createJobVia(t.app, tenant.apiKey, locationId, { scheduled_start: '2026-02-25T09:00:00Z' })
        for (const s of steps) assert.equal((await req('PATCH', `${PATH}?id=${id}`, { key: tenant.apiKey, body: { job_status: s } })).status, 200)
        return id
      }

      for (const [status, steps] of [
        ['Closed', ['Assigned', 'In Progress', 'Completed', 'Invoiced', 'Paid', 'Closed']],
        ['Cancelled', ['Assigned', 'Cancelled']],
      ] as const) {
        it(`PUT on a ${status} job`, async () => {
          const id = await jobIn([...steps])
          const before = (await req('GET', `${PATH}?id=${id}`, { key: tenant.apiKey })).body.data
          for (const body of [{ job_title: 'Edited' }, { job_description: null }, { job_priority: 'Urgent', assigned_technician_id: null }, { asset_ids: [] }]) {
            const res = await req('PUT', `${PATH}?id=${id}`, { key: tenant.apiKey, body })
            assertError(res, 409, 'job_locked', `${status} ${JSON.stringify(body)}`)
            assert.ok(res.body.error.message.includes(status), res.body.error.message)
          }
          assert.deepEqual((await req('GET', `${PATH}?id=${id}`, { key: tenant.apiKey })).body.data, before)
          // Validation, on the request alone or against the record, comes first.
          assertError(await req('PUT', `${PATH}?id=${id}`, { key: tenant.apiKey, body: { job_title: 7 } }), 400, 'validation_failed', 'bad body on locked job')
          assertError(await req('PUT', `${PATH}?id=${id}`, { key: tenant.apiKey, body: { scheduled_end: '2026-02-25T08:00:00Z' } }), 400, 'validation_failed', 'end before stored start')
          // Status changes out of a terminal status are transitions, not locks.
          assertError(await req('PATCH', `${PATH}?id=${id}`, { key: tenant.apiKey, body: { job_status: 'Pending' } }), 400, 'invalid_status_transition')
        })
      }
    })

    describe('409 conflict', () => {
      it('an asset_tag already used in the company', async () => {
        const body = { asset_tag: 'DUP-1', asset_name: 'Rooftop AC Unit' }
        assert.equal((await req('POST', '/api/v1/assets', { key: tenant.apiKey, body })).status, 201)
        assertError(await req('POST', '/api/v1/assets', { key: tenant.apiKey, body }), 409, 'conflict')
      })
    })

    describe('413 payload_too_large', () => {
      it('a body over 1 MiB, on POST, PUT and PATCH', async () => {
        for (const [method, url] of [['POST', PATH], ['PUT', `${PATH}?id=1`], ['PATCH', `${PATH}?id=1`]] as const) {
          const res = await req(method, url, { key: tenant.apiKey, rawBody: bigBody(ONE_MIB + 1), headers: JSON_HEADERS })
          assertError(res, 413, 'payload_too_large', method)
        }
        const huge = await req('POST', PATH, { key: tenant.apiKey, rawBody: bigBody(3 * ONE_MIB), headers: JSON_HEADERS })
        assertError(huge, 413, 'payload_too_large', '3 MiB')
      })

      it('exactly 1 MiB is read (and then judged on its content)', async () => {
        const body = bigBody(ONE_MIB)
        assert.equal(Buffer.byteLength(body), ONE_MIB)
        const res = await req('POST', PATH, { key: tenant.apiKey, rawBody: body, headers: JSON_HEADERS })
        assertError(res, 400, 'validation_failed', '1 MiB')
        assert.ok(res.body.error.details.some((d: { field: string }) => d.field === 'job_description'))
      })
    })

    describe('415 unsupported_media_type', () => {
      it('writes without application/json', async () => {
        const id = await createJobVia(t.app, tenant.apiKey, locationId)
        const json = JSON.stringify(validJob())
        for (const [method, url] of [['POST', PATH], ['PUT', `${PATH}?id=${id}`], ['PATCH', `${PATH}?id=${id}`]] as const) {
          for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'text/json']) {
            const res = await req(method, url, { key: tenant.apiKey, rawBody: json, headers: { 'content-type': type } })
            assertError(res, 415, 'unsupported_media_type', `${method} ${type}`)
          }
          assertError(await req(method, url, { key: tenant.apiKey, rawBody: json }), 415, 'unsupported_media_type', `${method} no type`)
          assertError(await req(method, url, { key: tenant.apiKey }), 415, 'unsupported_media_type', `${method} no type, no body`)
          // JSON in any charset but UTF-8 (RFC 8259 §8.1) is refused as a type, not decoded as UTF-8.
          for (const type of ['application/json; charset=latin1', 'application/json;charset="iso-8859-1"', 'application/json; charset=utf-16']) {
            const res = await req(method, url, { key: tenant.apiKey, rawBody: json, headers: { 'content-type': type } })
            assertError(res, 415, 'unsupported_media_type', `${method} ${type}`)
            assert.equal(res.body.error.message, 'Content-Type charset must be utf-8')
          }
          // A charset named twice is refused, whichever comes first.
          for (const type of ['application/json; charset=utf-8; charset=latin1', 'application/json; charset=latin1; charset=utf-8', 'application/json; charset=utf-8;charset="UTF-8"']) {
            const res = await req(method, url, { key: tenant.apiKey, rawBody: json, headers: { 'content-type': type } })
            assertError(res, 415, 'unsupported_media_type', `${method} ${type}`)
            assert.equal(res.body.error.message, 'Content-Type must name its charset once (charset=utf-8)')
          }
        }
        assert.equal((await req('GET', `${PATH}?id=${id}`, { key: tenant.apiKey })).body.data.job_status, 'Pending')
        // Compressed bodies are not decoded: said so, whatever the bytes (plain JSON under `br` was taken before).
        for (const [coding, body] of [['gzip', gzipSync(json)], ['br', json], ['deflate, gzip', json]] as const) {
          const res = await req('POST', PATH, { key: tenant.apiKey, rawBody: body, headers: { 'content-type': 'application/json', 'content-encoding': coding } })
          assertError(res, 415, 'unsupported_media_type', `Content-Encoding ${coding}`)
          assert.equal(res.body.error.message, `Content-Encoding ${coding} is not supported; send the body uncompressed`)
        }
        assert.equal((await req('POST', PATH, { key: tenant.apiKey, rawBody: json, headers: { 'content-type': 'application/json', 'content-encoding': 'identity' } })).status, 201)
        for (const type of ['application/json; charset=UTF-8', 'application/json;charset="utf-8"', 'Application/JSON; charset=utf8']) {
          assert.equal((await req('PUT', `${PATH}?id=${id}`, { key: tenant.apiKey, rawBody: json, headers: { 'content-type': type } })).status, 200, type)
        }
      })
    })

    describe('429 rate_limit_exceeded', () => {
      it('a key with rateLimitPerMinute 3: every answer counts, the fourth request is refused', async () => {
        const limited = await createTenant(t.database, { rateLimitPerMinute: 3, name: 'Limited Co' })
        const started = Math.floor(Date.now() / 1000)
        const answers = [
          await req('GET', PATH, { key: limited.apiKey }), // 200
          await req('GET', `${PATH}?id=999999`, { key: limited.apiKey }), // 404 still counts
          await req('POST', PATH, { key: limited.apiKey, body: {} }), // 400 still counts
        ]
        assert.deepEqual(answers.map((r) => r.status), [200, 404, 400])
        // 3 a minute is a token every 20 s: the bucket is full again 20 s after the first request, 40 after the second, 60 after the third
        // (a second either way for the requests' own time and the rounding; a test of the bucket's arithmetic, not of its shape).
        const near = (value: number, expected: number, what: string) => assert.ok(Number.isInteger(value) && value >= expected - 1 && value <= expected + 2, `${what} ${value}, expected ${expected}`)
        answers.forEach((res, i) => {
          assert.equal(res.headers['x-ratelimit-limit'], '3')
          assert.equal(res.headers['x-ratelimit-remaining'], String(2 - i))
          near(Number(res.headers['x-ratelimit-reset']), started + 20 * (i + 1), `reset after request ${i + 1}`)
        })
        const refused = await req('GET', PATH, { key: limited.apiKey })
        assertError(refused, 429, 'rate_limit_exceeded')
        const retryAfter = refused.headers['retry-after']
        assert.match(String(retryAfter), /^\d+$/)
        // The next token comes 20 s after the bucket emptied.
        assert.ok(Number(retryAfter) >= 18 && Number(retryAfter) <= 20, `Retry-After ${retryAfter}`)
        assert.equal(refused.headers['x-ratelimit-limit'], '3')
        assert.equal(refused.headers['x-ratelimit-remaining'], '0')
        near(Number(refused.headers['x-ratelimit-reset']), started + 60, 'reset when refused')
        // Refused requests do not drain the bucket further, and keep being refused.
        const again = await req('POST', PATH, { key: limited.apiKey, body: validJob() })
        assertError(again, 429, 'rate_limit_exceeded', 'still limited')
        assert.ok(again.headers['retry-after'])
        // The limit is per key: another key of the company is not affected.
        const sibling = await createExtraKey(t.database, limited.companyId, ['jobs:read'])
        assert.equal((await req('GET', PATH, { key: sibling.apiKey })).status, 200)
      })

      it('every answer to a valid key carries the rate-limit headers', async () => {
        const reader = await createExtraKey(t.database, tenant.companyId, ['jobs:read'])
        const starter = await createTenant(t.database, { plan: 'starter' })
        for (const [label, res] of [
          ['200', await req('GET', PATH, { key: tenant.apiKey })],
          ['201', await req('POST', PATH, { key: tenant.apiKey, body: validJob() })],
          ['400', await req('GET', `${PATH}?stauts=x`, { key: tenant.apiKey })],
          ['404', await req('GET', `${PATH}?id=999999`, { key: tenant.apiKey })],
          ['403 plan', await req('GET', PATH, { key: starter.apiKey })],
          ['403 scope', await req('POST', PATH, { key: reader.apiKey, body: validJob() })],
          ['415', await req('POST', PATH, { key: tenant.apiKey, rawBody: 'x', headers: { 'content-type': 'text/plain' } })],
          ['404 path', await req('GET', '/api/v1/nope', { key: tenant.apiKey })],
          ['405', await req('DELETE', PATH, { key: tenant.apiKey })],
          ['405 unrouted method', await req('PROPFIND', PATH, { key: tenant.apiKey })],
        ] as const) {
          for (const h of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) {
            assert.match(String(res.headers[h]), /^\d+$/, `${label} ${h}`)
          }
        }
      })

      it('unknown paths and wrong methods count against a valid key, and stay 404 / 405 whatever the key', async () => {
        const limited = await createTenant(t.database, { rateLimitPerMinute: 3, name: 'Limited paths' })
        const answers = [
          await req('GET', '/api/v1/nope', { key: limited.apiKey }),
          await req('DELETE', PATH, { key: limited.apiKey }),
          await req('PROPFIND', '/api/v1/customers', { key: limited.apiKey }),
        ]
        assert.deepEqual(answers.map((r) => r.status), [404, 405, 405])
        assert.deepEqual(answers.map((r) => r.headers['x-ratelimit-remaining']), ['2', '1', '0'])
        assertError(await req('GET', PATH, { key: limited.apiKey }), 429, 'rate_limit_exceeded', 'the budget spent on refused routes')
        // The route's refusal still comes first (§2): an empty bucket does not make it 429.
        const emptied = await req('GET', '/api/v1/nope', { key: limited.apiKey })
        assertError(emptied, 404, 'not_found', 'unknown path, empty bucket')
        assert.equal(emptied.headers['x-ratelimit-remaining'], '0')
        // No key, or one that is not valid: 404 / 405 without rate-limit headers.
        for (const headers of [{}, { 'x-api-key': 'fsm_nonsense' }, { 'x-api-key': breakChecksum(tenant.apiKey) }] as Array<Record<string, string>>) {
          for (const [method, path, status] of [['GET', '/api/v1/nope', 404], ['DELETE', PATH, 405]] as const) {
            const res = await req(method, path, { headers })
            assert.equal(res.status, status, `${method} ${path} ${JSON.stringify(headers)}`)
            assert.equal(res.headers['x-ratelimit-limit'], undefined)
          }
        }
      })
    })

    describe('500 internal_error and 503', () => {
      it('/readyz is 503 for a database that answers but is not migrated to this version (dropped and made again empty under a running server: every request failed while /readyz said ok)', async () => {
        const t2 = await startTestApp(dialect)
        try {
          assert.equal((await call(t2.app, 'GET', '/readyz')).status, 200)
          await sql`drop table kysely_migration`.execute(t2.database.db)
          const ready = await call(t2.app, 'GET', '/readyz')
          assert.equal(ready.status, 503)
          assert.match(ready.body.database, /^not migrated/)
          assert.equal(ready.body.status, 'unavailable')
          // In the envelope, as every non-2xx answer (API.md §1), with the probe's fields beside it.
          assertReadyzEnvelope(ready)
          assert.equal(ready.body.error.message, 'The database is not migrated to this version: run fsm migrate, or restart fsm serve')
        } finally {
          await t2.close()
        }
      })

      it('a database whose tables were dropped under the running server answers 503 with Retry-After, not 500, and again 2xx once they are back', async () => {
        const emptied = await startTestApp(dialect)
        try {
          const owner = await createTenant(emptied.database)
          const basics = await createBasics(emptied.app, owner.apiKey)
          const jobId = await createJobVia(emptied.app, owner.apiKey, basics.locationId)
          // Renamed away, as dropped, and back: a restore puts them back the same way.
          for (const table of ['job_assets', 'job_status_changes', 'jobs']) await sql`alter table ${sql.table(table)} rename to ${sql.table(`${table}_gone`)}`.execute(emptied.database.db)
          const requests = [
            ['GET', PATH, undefined],
            ['GET', `${PATH}?id=${jobId}`, undefined],
            ['POST', PATH, { job_title: 'X', customer_location_id: basics.locationId }],
            ['PATCH', `${PATH}?id=${jobId}`, { job_status: 'Cancelled' }],
          ] as const
          for (const [method, url, body] of requests) {
            const res = await call(emptied.app, method, url, { key: owner.apiKey, ...(body && { body }) })
            assertError(res, 503, 'service_unavailable', `${method} ${url} with the jobs' tables gone`)
            assert.equal(res.headers['retry-after'], '1')
            assertNoLeak('503', res)
            assert.doesNotMatch(JSON.stringify(res.body), /jobs|table/i)
          }
          for (const table of ['jobs', 'job_status_changes', 'job_assets']) await sql`alter table ${sql.table(`${table}_gone`)} rename to ${sql.table(table)}`.execute(emptied.database.db)
          assert.equal((await call(emptied.app, 'GET', `${PATH}?id=${jobId}`, { key: owner.apiKey })).status, 200)
          // Nothing of the refused writes was done.
          const history = await call(emptied.app, 'GET', `${PATH}/history?id=${jobId}`, { key: owner.apiKey })
          assert.deepEqual(history.body.data?.map((line: { to_status: string }) => line.to_status), ['Pending'])
          assert.equal((await call(emptied.app, 'GET', PATH, { key: owner.apiKey })).body.pagination?.total, 1)
        } finally {
          await emptied.close()
        }
      })

      it('an unexpected failure answers internal_error without stack or SQL; /readyz fails when the database is gone', async () => {
        const broken = await startTestApp(dialect)
        try {
          const owner = await createTenant(broken.database)
          const basics = await createBasics(broken.app, owner.apiKey)
          await createJobVia(broken.app, owner.apiKey, basics.locationId)
          assert.equal((await call(broken.app, 'GET', '/readyz')).status, 200)
          // A column the server reads and writes, renamed by hand: nothing the server expects.
          await sql`alter table jobs rename column job_title to job_title_gone`.execute(broken.database.db)
          for (const [method, url, body] of [
            ['GET', PATH, undefined],
            ['GET', `${PATH}?id=1`, undefined],
            ['POST', PATH, { job_title: 'X', customer_location_id: basics.locationId }],
          ] as const) {
            const res = await call(broken.app, method, url, { key: owner.apiKey, ...(body && { body }) })
            assertError(res, 500, 'internal_error', `${method} ${url} on a broken database`)
            assert.match(res.body.error.message, new RegExp(res.body.request_id))
            assertNoLeak('500', res)
            assert.doesNotMatch(JSON.stringify(res.body), /jobs|table|column/i)
          }
          await broken.database.close()
          const ready = await call(broken.app, 'GET', '/readyz')
          assert.equal(ready.status, 503, JSON.stringify(ready.body))
          assertNoLeak('readyz', ready)
          assertReadyzEnvelope(ready)
          assert.equal(ready.body.database, 'unreachable')
          assert.equal(ready.body.error.message, 'The database is unavailable; retry shortly')
          const health = await call(broken.app, 'GET', '/healthz')
          assert.equal(health.status, 200)
          // A server that is shutting down refuses new requests with 503.
          broken.app.beginShutdown()
          const closing = await call(broken.app, 'GET', PATH, { key: owner.apiKey })
          assertError(closing, 503, 'service_unavailable', 'shutting down')
          // Retry-After on every 503, as the OpenAPI document says (it was missing on this one).
          assert.equal(closing.headers['retry-after'], '1')
        } finally {
          await broken.app.close().catch(() => undefined)
          await broken.close().catch(() => undefined)
        }
      })
    })

    if (dialect === 'postgres') {
      describe('503 when PostgreSQL cannot take the request', () => {
        /** `work` with the URL of a new role (`create role … login ATTRIBUTES`) and a schema of its own; both are dropped after. */
        async function asNewRole(prefix: string, attributes: string, work: (url: string, schema: string, admin: pg.Client) => Promise<void>) {
          const role = `${prefix}_${randomBytes(4).toString('hex')}`
          const admin = new pg.Client({ connectionString: PG_URL })
          await admin.connect()
          try {
            await admin.query(`create role ${role} login ${attributes}`)
            await admin.query(`create schema ${role} authorization ${role}`)
            const url = new URL(PG_URL!)
            url.username = role
            url.password = ''
            await work(url.toString(), role, admin)
          } finally {
            await admin.query(`drop schema if exists ${role} cascade`)
            await admin.query(`drop role if exists ${role}`)
            await admin.end()
          }
        }
        const settings = { config: { ...loadConfig({}), logLevel: 'silent', rateLimitPerMinute: 1_000_000, keyCacheMs: 0 }, logger: false, readThread: false } as const
        /** `work` with an app on a new role's migrated schema (asNewRole), connected with `options`, and a company's key; all closed after. */
        async function appOfNewRole(
          prefix: string,
          attributes: string,
          options: Omit<Parameters<typeof connectDatabase>[1] & object, 'pgSchema'>,
          work: (context: { app: Awaited<ReturnType<typeof buildApp>>; database: DatabaseHandle; owner: Tenant; schema: string; admin: pg.Client }) => Promise<void>,
        ) {
          await asNewRole(prefix, attributes, async (url, schema, admin) => {
            const database = connectDatabase(url, { ...options, pgSchema: schema })
            let app: Awaited<ReturnType<typeof buildApp>> | undefined
            try {
              await migrateToLatest(database.db)
              const owner = await createTenant(database)
              app = await buildApp({ ...settings, database })
              await app.ready()
              await work({ app, database, owner, schema, admin })
            } finally {
              await app?.close().catch(() => undefined)
              await database.close().catch(() => undefined)
            }
          })
        }

        it('requests past the connections allowed answer 503 service_unavailable, never 500', async () => {
          // A role allowed two connections, for a pool of ten: PostgreSQL refuses the rest with 53300 (too many connections).
          await appOfNewRole('fsm_limited', 'connection limit 2', { pgPoolSize: 10 }, async ({ app, owner }) => {
            const answers = await Promise.all(Array.from({ length: 40 }, () => call(app, 'GET', `${PATH}?per_page=1`, { key: owner.apiKey })))
            const statuses = answers.map((a) => a.status)
            assert.ok(statuses.every((s) => s === 200 || s === 503), statuses.join(','))
            const refused = answers.filter((a) => a.status === 503)
            assert.ok(refused.length > 0, 'the pool asked for more than two connections')
            for (const res of refused) {
              assertError(res, 503, 'service_unavailable', 'too many connections')
              assert.equal(res.headers['retry-after'], '1')
              assertNoLeak('503', res)
            }
          })
        })

        it('a database that refuses new connections (its role may no longer log in; it was dropped) answers 503, never 500', async () => {
          await asNewRole('fsm_nologin', '', async (url, schema, admin) => {
            const database = connectDatabase(url, { pgSchema: schema, pgPoolSize: 1 })
            let app: Awaited<ReturnType<typeof buildApp>> | undefined
            try {
              await migrateToLatest(database.db)
              const owner = await createTenant(database)
              app = await buildApp({ ...settings, database })
              assert.equal((await call(app, 'GET', `${PATH}?per_page=1`, { key: owner.apiKey })).status, 200)
              // 28000 for the connection the pool opens next.
              await admin.query(`alter role ${schema} nologin`)
              await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where usename = $1`, [schema])
              let res = await call(app, 'GET', `${PATH}?per_page=1`, { key: owner.apiKey })
              if (res.status === 503 && /Connection terminated/.test(res.body.error.message)) res = await call(app, 'GET', `${PATH}?per_page=1`, { key: owner.apiKey })
              assertError(res, 503, 'service_unavailable', 'a role that may not log in')
              assertNoLeak('503', res)
            } finally {
              await admin.query(`alter role ${schema} login`)
              await app?.close().catch(() => undefined)
              await database.close().catch(() => undefined)
            }
          })
          // 3D000: a database that is not there (dropped, renamed).
          const missing = new URL(PG_URL!)
          missing.pathname = `/fsm_missing_${randomBytes(4).toString('hex')}`
          const database = connectDatabase(missing.toString())
          const app = await buildApp({ ...settings, database })
          try {
            const res = await call(app, 'GET', `${PATH}?per_page=1`, { key: generateKey(1).apiKey })
            assertError(res, 503, 'service_unavailable', 'a database that does not exist')
          } finally {
            await app.close().catch(() => undefined)
            await database.close().catch(() => undefined)
          }
        })

        it('a database that takes no writes (a standby, after a failover): reads answer, writes answer 503 and change nothing', async () => {
          await asNewRole('fsm_standby', '', async (url, schema, admin) => {
            let database = connectDatabase(url, { pgSchema: schema, pgPoolSize: 2 })
            let app: Awaited<ReturnType<typeof buildApp>> | undefined
            try {
              await migrateToLatest(database.db)
              const owner = await createTenant(database)
              const writable = await buildApp({ ...settings, database })
              const basics = await createBasics(writable, owner.apiKey).finally(() => writable.close())
              await database.close()
              // Every new session of the role is read-only, as on a standby.
              await admin.query(`alter role ${schema} set default_transaction_read_only = on`)
              database = connectDatabase(url, { pgSchema: schema, pgPoolSize: 2 })
              app = await buildApp({ ...settings, database })
              await app.ready()
              const total = async () => (await call(app!, 'GET', `${PATH}?per_page=1`, { key: owner.apiKey })).body.pagination.total
              const before = await total()
              for (const [method, path, body] of [
                ['POST', PATH, { job_title: 'On a standby', customer_location_id: basics.locationId }],
                ['POST', '/api/v1/customers', { customer_name: 'On a standby' }],
              ] as const) {
                const res = await call(app, method, path, { key: owner.apiKey, body })
                assertError(res, 503, 'service_unavailable', `${method} ${path} on a read-only database`)
                assert.equal(res.headers['retry-after'], '1')
              }
              assert.equal(await total(), before)
            } finally {
              await app?.close().catch(() => undefined)
              await database.close().catch(() => undefined)
            }
          })
        })

        it('a table the role has lost its privileges on (a grant revoked by mistake): 503, never 500, and nothing half-written', async () => {
          await appOfNewRole('fsm_revoked', '', { pgPoolSize: 2 }, async ({ app, owner, schema, admin }) => {
            const basics = await createBasics(app, owner.apiKey)
            const total = async () => (await call(app, 'GET', `${PATH}?per_page=1`, { key: owner.apiKey })).body.pagination.total
            const before = await total()
            // 42501 insufficient_privilege: the job history (written with each create) can no longer be written.
            await admin.query(`revoke insert on ${schema}.job_status_changes from ${schema}`)
            const res = await call(app, 'POST', PATH, { key: owner.apiKey, body: { job_title: 'Without a grant', customer_location_id: basics.locationId } })
            assertError(res, 503, 'service_unavailable', 'a revoked grant')
            assert.equal(res.headers['retry-after'], '1')
            assertNoLeak('503', res)
            assert.equal(await total(), before, 'the job was not kept without its history row')
            await admin.query(`grant insert on ${schema}.job_status_changes to ${schema}`)
            assert.equal((await call(app, 'POST', PATH, { key: owner.apiKey, body: { job_title: 'With it back', customer_location_id: basics.locationId } })).status, 201)
          })
        })

        it('a statement PostgreSQL cancels (statement_timeout) answers 503 and keeps nothing', async () => {
          await appOfNewRole('fsm_slow', '', { pgTimeouts: { statementMs: 300, replyMs: 10_000 } }, async ({ app, database, owner }) => {
            const basics = await createBasics(app, owner.apiKey)
            await sql.raw(`create function slow() returns trigger language plpgsql as $$ begin perform pg_sleep(2); return new; end $$`).execute(database.db)
            await sql.raw(`create trigger slow before insert on jobs for each row when (new.job_title = 'Slow') execute function slow()`).execute(database.db)
            const res = await call(app, 'POST', PATH, { key: owner.apiKey, body: { job_title: 'Slow', customer_location_id: basics.locationId } })
            assertError(res, 503, 'service_unavailable', 'a statement over its timeout')
            assert.equal(res.body.error.message, 'The database is unavailable; retry shortly')
            const kept = await database.db.selectFrom('jobs').select('job_id').where('job_title', '=', 'Slow').execute()
            assert.deepEqual(kept, [])
          })
        })

        /**
         * `work` with an app on a role's own schema reached through a
         * `pausableProxy`, migrated, with a tenant and its basics; the key
         * stays cached, so that a write's own statements are the ones the
         * proxy holds or cuts.
         */
        async function throughProxy(
          prefix: string,
          connectOptions: { pgPoolSize?: number; pgTimeouts: { statementMs: number; replyMs: number } },
          work: (context: { app: Awaited<ReturnType<typeof buildApp>>; proxy: Awaited<ReturnType<typeof pausableProxy>>; database: DatabaseHandle; schema: string; admin: pg.Client; apiKey: string; locationId: number }) => Promise<void>,
        ) {
          await asNewRole(prefix, '', async (url, schema, admin) => {
            const proxy = await pausableProxy(new URL(url))
            const database = connectDatabase(proxy.url, { pgSchema: schema, ...connectOptions })
            let app: Awaited<ReturnType<typeof buildApp>> | undefined
            try {
              await migrateToLatest(database.db)
              const owner = await createTenant(database)
              app = await buildApp({ ...settings, config: { ...settings.config, keyCacheMs: 60_000 }, database })
              const { locationId } = await createBasics(app, owner.apiKey)
              await work({ app, proxy, database, schema, admin, apiKey: owner.apiKey, locationId })
            } finally {
              proxy.resume()
              await app?.close().catch(() => undefined)
              await database.close().catch(() => undefined)
              await proxy.close()
            }
          })
        }

        it("a database that stops answering mid-write: 503 saying the write may have been done (it was); reads answer the usual 503", async () => {
          await throughProxy('fsm_silent', { pgTimeouts: { statementMs: 10_000, replyMs: 500 } }, async ({ app, proxy, schema, admin, apiKey, locationId }) => {
            // The replies are held back; what the server sends still reaches PostgreSQL.
            proxy.pause()
            const write = await call(app, 'POST', PATH, { key: apiKey, body: { job_title: 'Maybe done', customer_location_id: locationId } })
            assertError(write, 503, 'service_unavailable', 'a write without its reply')
            assert.match(write.body.error.message, /stopped answering during this write, which may have been done: retry it with the same Idempotency-Key/)
            assert.equal(write.headers['retry-after'], '1')
            const read = await call(app, 'GET', `${PATH}?per_page=1`, { key: apiKey })
            assertError(read, 503, 'service_unavailable', 'a read without its reply')
            assert.equal(read.body.error.message, 'The database is unavailable; retry shortly')
            proxy.resume()
            // Done all the same: why the answer may not say "nothing was kept".
            const kept = await admin.query(`select count(*)::int as n from ${schema}.jobs where job_title = 'Maybe done'`)
            assert.equal(kept.rows[0].n, 1)
          })
        })

        it('a connection whose reply never came is closed, not reused: a late BEGIN took the next writes into a transaction never committed', async () => {
          // One connection, so that the next requests get the one the late BEGIN reached.
          await throughProxy('fsm_late', { pgPoolSize: 1, pgTimeouts: { statementMs: 10_000, replyMs: 500 } }, async ({ app, proxy, schema, admin, apiKey, locationId }) => {
            // A create with asset_ids is a transaction: its BEGIN is the statement whose reply is held.
            proxy.pause()
            const held = await call(app, 'POST', PATH, { key: apiKey, body: { job_title: 'Held', customer_location_id: locationId, asset_ids: [] } })
            assertError(held, 503, 'service_unavailable', 'a BEGIN without its reply')
            proxy.resume()
            await new Promise((resolve) => setTimeout(resolve, 100))
            for (let i = 0; i < 3; i++) {
              const created = await call(app, 'POST', PATH, { key: apiKey, body: { job_title: 'After', customer_location_id: locationId } })
              assert.equal(created.status, 201, JSON.stringify(created.body))
            }
            // Committed, as another connection sees them (they sat in the late BEGIN's transaction before).
            const kept = await admin.query(`select count(*)::int as n from ${schema}.jobs where job_title = 'After'`)
            assert.equal(kept.rows[0].n, 3)
          })
        })

        it('a connection cut during COMMIT: 503 saying the write may have been done (it was), not "nothing kept"', async () => {
          await throughProxy('fsm_cut', { pgTimeouts: { statementMs: 10_000, replyMs: 10_000 } }, async ({ app, proxy, database, schema, admin, apiKey, locationId }) => {
            // A COMMIT that takes a second (a slow disk, a synchronous standby): a trigger deferred to it.
            await sql.raw(`create function slow_commit() returns trigger language plpgsql as $$ begin perform pg_sleep(1); return null; end $$`).execute(database.db)
            await sql.raw(`create constraint trigger slow_commit after insert on jobs deferrable initially deferred for each row when (new.job_title = 'Slow commit') execute function slow_commit()`).execute(database.db)
            const pending = call(app, 'POST', PATH, { key: apiKey, body: { job_title: 'Slow commit', customer_location_id: locationId, asset_ids: [] } })
            await new Promise((resolve) => setTimeout(resolve, 400))
            proxy.cut()
            const write = await pending
            assertError(write, 503, 'service_unavailable', 'a COMMIT whose connection was cut')
            assert.match(write.body.error.message, /which may have been done/)
            await new Promise((resolve) => setTimeout(resolve, 1_000))
            const kept = await admin.query(`select count(*)::int as n from ${schema}.jobs where job_title = 'Slow commit'`)
            assert.equal(kept.rows[0].n, 1)
          })
        })

        it('a write that meets a deadlock or serialization failure is run again; one that meets it every time answers 503 and keeps nothing', async () => {
          const attempts = `fsm_test_attempts_${randomBytes(4).toString('hex')}`
          await sql.raw(`create sequence ${attempts}`).execute(t.database.db)
          const tried = async () => Number((await sql.raw<{ last_value: string }>(`select last_value from ${attempts}`).execute(t.database.db)).rows[0]!.last_value)
          const total = async () => (await req('GET', `${PATH}?per_page=1`, { key: tenant.apiKey })).body.pagination.total
          // A sequence moves even in a transaction rolled back, so it counts the attempts.
          const failFirst = await addTrigger(t.database, 'fail_first_attempt', 'before insert', 'jobs', "new.job_title = 'Retried'", {
            sqlite: 'select 1',
            postgres: `if nextval('${attempts}') = 1 then raise exception 'could not serialize access' using errcode = '40001'; end if`,
          })
          try {
            const created = await req('POST', PATH, { key: tenant.apiKey, body: { ...validJob(), job_title: 'Retried' } })
            assert.equal(created.status, 201, JSON.stringify(created.body))
            assert.equal(await tried(), 2)
          } finally {
            await failFirst()
          }
          const before = await total()
          const failAlways = await addTrigger(t.database, 'fail_every_attempt', 'before insert', 'jobs', "new.job_title = 'Deadlocked'", {
            sqlite: 'select 1',
            postgres: `perform nextval('${attempts}'); raise exception 'deadlock detected' using errcode = '40P01'`,
          })
          try {
            const res = await req('POST', PATH, { key: tenant.apiKey, body: { ...validJob(), job_title: 'Deadlocked' } })
            assertError(res, 503, 'service_unavailable', 'a deadlock at every attempt')
            assert.equal(res.headers['retry-after'], '1')
            assertNoLeak('deadlock', res)
            assert.equal(await tried(), 2 + 5, 'run five times in all')
            assert.equal(await total(), before)
          } finally {
            await failAlways()
            await sql.raw(`drop sequence ${attempts}`).execute(t.database.db)
          }
        })
      })
    }

    if (dialect === 'sqlite') {
      describe('503 when the disk is full', () => {
        it('writes answer 503 service_unavailable and keep nothing; reads go on; once there is room, writes do too', async () => {
          const full = await startTestApp('sqlite')
          try {
            const owner = await createTenant(full.database)
            const basics = await createBasics(full.app, owner.apiKey)
            const jobId = await createJobVia(full.app, owner.apiKey, basics.locationId)
            const total = async () => (await call(full.app, 'GET', `${PATH}?per_page=1`, { key: owner.apiKey })).body.pagination.total
            const before = await total()
            // The database may not grow by a page: SQLite answers SQLITE_FULL, as on a full disk.
            const pages = Number((await sql<{ page_count: number }>`pragma page_count`.execute(full.database.db)).rows[0]!.page_count)
            await sql.raw(`pragma max_page_count = ${pages}`).execute(full.database.db)
            const big = 'x'.repeat(9_000)
            let jobsCreated = 0
            for (const [method, url, body] of [
              ['POST', PATH, { job_title: 'No room', job_description: big, customer_location_id: basics.locationId }],
              ['PUT', `${PATH}?id=${jobId}`, { job_description: big }],
              ['POST', '/api/v1/customers', { customer_name: 'No room', notes: big }],
            ] as const) {
              // A few, so that one of them needs a new page whatever the free space inside the pages is.
              let refused: ApiResponse | undefined
              for (let i = 0; i < 20 && !refused; i++) {
                const res = await call(full.app, method, url, { key: owner.apiKey, body })
                if (res.status !== 200 && res.status !== 201) refused = res
                else if (method === 'POST' && url === PATH) jobsCreated++
              }
              assert.ok(refused, `${method} ${url}: the database never filled up`)
              assertError(refused, 503, 'service_unavailable', `${method} ${url} on a full disk`)
              assert.equal(refused.headers['retry-after'], '1')
              assertNoLeak('503', refused)
            }
            const stuck = await total()
            // Reads still answer, and hold the jobs whose creates were answered 201 and none of those refused.
            assert.equal(stuck, before + jobsCreated)
            assert.equal((await call(full.app, 'GET', `${PATH}?id=${jobId}`, { key: owner.apiKey })).status, 200)
            await sql.raw('pragma max_page_count = 1073741823').execute(full.database.db)
            const after = await call(full.app, 'POST', PATH, { key: owner.apiKey, body: { job_title: 'Room again', job_description: big, customer_location_id: basics.locationId } })
            assert.equal(after.status, 201, JSON.stringify(after.body))
            assert.equal(await total(), stuck + 1)
            const check = await sql<{ integrity_check: string }>`pragma integrity_check`.execute(full.database.db)
            assert.deepEqual(check.rows.map((r) => r.integrity_check), ['ok'])
          } finally {
            await full.close()
          }
        })
      })
    }

    describe('order of checks', () => {
      it('route before auth: unknown path without a key → 404; wrong method without a key → 405', async () => {
        assertError(await req('GET', '/api/v1/unknown'), 404, 'not_found')
        assertError(await req('DELETE', PATH), 405, 'method_not_allowed')
        assertError(await req('DELETE', PATH, { key: 'garbage' }), 405, 'method_not_allowed')
        assertError(await req('PUT', '/api/v1/jobs/history?id=1', { rawBody: 'x'.repeat(ONE_MIB + 10), headers: { 'content-type': 'text/plain' } }), 405, 'method_not_allowed')
        // An unknown path's body is never read: not JSON, of another type, compressed or too large, it is still 404 (it was 400, 415 or 413).
        for (const [label, options] of [
          ['bad JSON', { rawBody: '{', headers: JSON_HEADERS }],
          ['text/plain', { rawBody: 'x', headers: { 'content-type': 'text/plain' } }],
          ['gzip', { rawBody: '{}', headers: { ...JSON_HEADERS, 'content-encoding': 'gzip' } }],
          ['2 MiB', { rawBody: bigBody(2 * ONE_MIB), headers: JSON_HEADERS }],
        ] as const) {
          assertError(await req('POST', '/api/v1/nope', options), 404, 'not_found', `unknown path, ${label}`)
          assertError(await req('PROPFIND', PATH, options), 405, 'method_not_allowed', `unrouted method, ${label}`)
        }
      })

      it('auth before the body: bad key + over-size body → 401; no key + wrong type or bad JSON → 401', async () => {
        assertError(await req('POST', PATH, { key: breakChecksum(tenant.apiKey), rawBody: bigBody(2 * ONE_MIB), headers: JSON_HEADERS }), 401, 'unauthorized', 'bad key + 2 MiB')
        assertError(await req('POST', PATH, { rawBody: bigBody(2 * ONE_MIB), headers: JSON_HEADERS }), 401, 'unauthorized', 'no key + 2 MiB')
        assertError(await req('POST', PATH, { rawBody: 'x', headers: { 'content-type': 'text/plain' } }), 401, 'unauthorized', 'no key + text/plain')
        assertError(await req('POST', PATH, { rawBody: '{bad', headers: JSON_HEADERS }), 401, 'unauthorized', 'no key + bad JSON')
        assertError(await req('PATCH', `${PATH}?id=abc`, { body: { job_status: 'Nope' } }), 401, 'unauthorized', 'no key + invalid request')
      })

      it('revoked key → 401, not 403 (even on a starter plan without the scope)', async () => {
        const starter = await createTenant(t.database, { plan: 'starter', scopes: ['customers:read'] })
        await revokeKey(t.database.db, starter.keyId)
        assertError(await req('POST', PATH, { key: starter.apiKey, body: validJob() }), 401, 'unauthorized')
      })

      it('429 before 403: an over-limit key of a starter company gets 429', async () => {
        const starter = await createTenant(t.database, { plan: 'starter', rateLimitPerMinute: 1, scopes: ['customers:read'] })
        assertError(await req('GET', PATH, { key: starter.apiKey }), 403, 'plan_upgrade_required', 'first')
        assertError(await req('GET', PATH, { key: starter.apiKey }), 429, 'rate_limit_exceeded', 'second')
      })

      it('plan before scope: starter plan + missing scope → plan_upgrade_required', async () => {
        const starter = await createTenant(t.database, { plan: 'starter', scopes: ['customers:read'] })
        assertError(await req('GET', PATH, { key: starter.apiKey }), 403, 'plan_upgrade_required')
        assertError(await req('POST', PATH, { key: starter.apiKey, body: validJob() }), 403, 'plan_upgrade_required')
      })

      it('scope before the body: missing scope + over-size, wrong type or bad JSON → 403 insufficient_scope', async () => {
        const reader = await createExtraKey(t.database, tenant.companyId, ['jobs:read'])
        assertError(await req('POST', PATH, { key: reader.apiKey, rawBody: bigBody(2 * ONE_MIB), headers: JSON_HEADERS }), 403, 'insufficient_scope', '2 MiB')
        assertError(await req('POST', PATH, { key: reader.apiKey, rawBody: 'x', headers: { 'content-type': 'text/plain' } }), 403, 'insufficient_scope', 'text/plain')
        assertError(await req('POST', PATH, { key: reader.apiKey, rawBody: '{bad', headers: JSON_HEADERS }), 403, 'insufficient_scope', 'bad JSON')
      })

      it('413 / 415 / invalid_json before validation', async () => {
        assertError(await req('POST', `${PATH}?bogus=1`, { key: tenant.apiKey, rawBody: bigBody(2 * ONE_MIB), headers: JSON_HEADERS }), 413, 'payload_too_large')
        assertError(await req('POST', `${PATH}?bogus=1`, { key: tenant.apiKey, rawBody: '{"x":1}', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type')
        assertError(await req('PATCH', `${PATH}?id=abc`, { key: tenant.apiKey, rawBody: '{bad', headers: JSON_HEADERS }), 400, 'invalid_json')
        assertError(await req('PUT', `${PATH}?id=999999`, { key: tenant.apiKey, rawBody: '[1]', headers: JSON_HEADERS }), 400, 'invalid_json')
      })

      it('asset_ids without the module → 403 before validation_failed', async () => {
        const noModule = await createTenant(t.database, { modules: [] })
        const res = await req('POST', PATH, { key: noModule.apiKey, body: { job_title: 7, asset_ids: ['x'], bogus: true } })
        assertError(res, 403, 'plan_upgrade_required')
        assert.match(res.body.error.message, /Asset/i)
        assertError(await req('PUT', `${PATH}?id=999999`, { key: noModule.apiKey, body: { asset_ids: [1] } }), 403, 'plan_upgrade_required')
      })

      it('validation_failed before 404; 404 before invalid_status_transition and job_locked', async () => {
        assertError(await req('PATCH', `${PATH}?id=999999`, { key: tenant.apiKey, body: { job_status: 'Nope' } }), 400, 'validation_failed')
        assertError(await req('PUT', `${PATH}?id=999999`, { key: tenant.apiKey, body: { job_title: '' } }), 400, 'validation_failed')
        assertError(await req('PATCH', `${PATH}?id=999999`, { key: tenant.apiKey, body: { job_status: 'Closed' } }), 404, 'not_found')
        assertError(await req('PUT', `${PATH}?id=999999`, { key: tenant.apiKey, body: { job_title: 'x' } }), 404, 'not_found')
      })
    })

    describe('headers on every answer', () => {
      it('X-Request-Id equals the body request_id and is unique; nosniff everywhere', async () => {
        const ids = new Set<string>()
        const answers: ApiResponse[] = [
          await req('GET', PATH, { key: tenant.apiKey }),
          await req('POST', PATH, { key: tenant.apiKey, body: validJob() }),
          await req('GET', PATH, { key: tenant.apiKey }),
          await req('GET', PATH),
          await req('GET', '/nope'),
          await req('DELETE', PATH),
          await req('POST', PATH, { key: tenant.apiKey, body: {} }),
        ]
        for (const res of answers) {
          assert.equal(res.headers['x-request-id'], res.body.request_id)
          assert.equal(res.headers['x-content-type-options'], 'nosniff')
          ids.add(res.body.request_id)
        }
        assert.equal(ids.size, answers.length, 'request ids are unique')
        for (const url of ['/healthz', '/readyz', '/api/v1/openapi.json', '/docs']) {
          const res = await req('GET', url)
          assert.equal(res.headers['x-content-type-options'], 'nosniff', url)
          assert.match(String(res.headers['x-request-id']), /.+/, url)
        }
      })
    })

    describe('operations (§7), without a key', () => {
      it('/healthz and /readyz', async () => {
        const health = await req('GET', '/healthz')
        assert.equal(health.status, 200)
        assert.deepEqual(health.body, { status: 'ok' })
        const ready = await req('GET', '/readyz')
        assert.equal(ready.status, 200)
        assert.equal(ready.body.status, 'ok')
      })

      it('/docs serves the browsable documentation', async () => {
        let res = await t.app.inject({ method: 'GET', url: '/docs' })
        for (let hops = 0; res.statusCode >= 300 && res.statusCode < 400 && hops < 3; hops++) {
          res = await t.app.inject({ method: 'GET', url: String(res.headers.location) })
        }
        assert.equal(res.statusCode, 200)
        assert.match(String(res.headers['content-type']), /text\/html/)
        assert.match(res.body, /<html/i)
      })

      it('/api/v1/openapi.json is an OpenAPI 3.1 document of every /api/v1 path and method', async () => {
        const res = await req('GET', '/api/v1/openapi.json')
        assert.equal(res.status, 200)
        assert.match(String(res.headers['content-type']), /^application\/json/)
        const doc = res.body
        assert.match(doc.openapi, /^3\.1\.\d+$/)
        assert.equal(typeof doc.info?.title, 'string')
        assert.equal(typeof doc.info?.version, 'string')
        assert.equal(typeof doc.paths, 'object')
        // The API key scheme.
        const schemes = Object.values(doc.components?.securitySchemes ?? {}) as Array<Record<string, string>>
        assert.ok(schemes.some((s) => s.type === 'apiKey' && s.in === 'header' && s.name?.toLowerCase() === 'x-api-key'), JSON.stringify(schemes))

        const expected: Record<string, string[]> = {
          '/api/v1/jobs': ['get', 'post', 'put', 'patch'],
          '/api/v1/jobs/history': ['get'],
          '/api/v1/jobs/transitions': ['get'],
          '/api/v1/customers': ['get', 'post', 'put'],
          '/api/v1/locations': ['get', 'post', 'put'],
          '/api/v1/technicians': ['get', 'post', 'put'],
          '/api/v1/assets': ['get', 'post', 'put', 'delete'],
        }
        const HTTP = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'trace']
        for (const [path, methods] of Object.entries(expected)) {
          assert.ok(doc.paths[path], `${path} documented`)
          for (const m of methods) assert.ok(doc.paths[path][m], `${m.toUpperCase()} ${path} documented`)
        }
        // Every documented operation is routed, and every routed method of a documented path is documented.
        for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
          assert.ok(path.startsWith('/api/v1/'), `only API paths: ${path}`)
          const documented = Object.keys(item).filter((k) => HTTP.includes(k))
          for (const m of ['get', 'post', 'put', 'patch', 'delete']) {
            const probe = await req(m.toUpperCase(), path, m === 'get' || m === 'delete' ? {} : { body: {} })
            if (documented.includes(m)) assert.equal(probe.status, 401, `${m.toUpperCase()} ${path} is routed`)
            else assert.equal(probe.status, 405, `${m.toUpperCase()} ${path} is not routed, so not documented`)
          }
          for (const m of documented) {
            const op = item[m]
            assert.ok(op.responses && Object.keys(op.responses).length > 0, `${m} ${path} has responses`)
            for (const p of op.parameters ?? []) {
              assert.ok(['query', 'header', 'path', 'cookie'].includes(p.in), `${m} ${path} parameter in`)
              assert.equal(typeof p.name, 'string')
            }
          }
        }
        // Every route under /api/v1 appears: probe the paths the contract names.
        for (const path of Object.keys(expected)) assert.ok(Object.keys(doc.paths).includes(path))

        // The request schemas are the validating ones (they cannot drift).
        const create = doc.paths['/api/v1/jobs'].post.requestBody.content['application/json'].schema
        const resolved = create.$ref ? resolveRef(doc, create.$ref) : create
        assert.deepEqual([...resolved.required].sort(), ['customer_location_id', 'job_title'])
        assert.equal(resolved.additionalProperties, false)
        assert.deepEqual(resolved.properties.job_priority.enum, ['Low', 'Medium', 'High', 'Urgent'])
        assert.equal(resolved.properties.job_title.maxLength, 200)
        const patchBody = doc.paths['/api/v1/jobs'].patch.requestBody.content['application/json'].schema
        const patchResolved = patchBody.$ref ? resolveRef(doc, patchBody.$ref) : patchBody
        assert.deepEqual(Object.keys(patchResolved.properties), ['job_status'])

        // Every $ref resolves inside the document.
        const refs: string[] = []
        const walk = (node: unknown) => {
          if (Array.isArray(node)) node.forEach(walk)
          else if (node && typeof node === 'object') {
            for (const [k, v] of Object.entries(node)) {
              if (k === '$ref' && typeof v === 'string') refs.push(v)
              else walk(v)
            }
          }
        }
        walk(doc)
        for (const ref of refs) assert.ok(resolveRef(doc, ref), `$ref ${ref} resolves`)
      })

      it('the document carries the headers and status codes of sync (If-Match, If-None-Match, Idempotency-Key, 304, ETag, Link, Location, rate limits) and an operationId per operation', async () => {
        const doc = (await req('GET', '/api/v1/openapi.json')).body
        const headersIn = (op: any) => (op.parameters ?? []).filter((p: any) => p.in === 'header').map((p: any) => p.name).sort()
        const jobs = doc.paths['/api/v1/jobs']
        assert.deepEqual(headersIn(jobs.get), ['If-None-Match'])
        assert.deepEqual(headersIn(jobs.post), ['Idempotency-Key'])
        assert.deepEqual(headersIn(jobs.put), ['Idempotency-Key', 'If-Match', 'If-None-Match'])
        assert.deepEqual(headersIn(jobs.patch), ['Idempotency-Key', 'If-Match', 'If-None-Match'])
        assert.deepEqual(headersIn(doc.paths['/api/v1/assets'].delete), ['If-Match', 'If-None-Match'])
        assert.ok(jobs.get.responses['304'] && !jobs.get.responses['304'].content, '304 without a body')
        for (const name of ['ETag', 'Link', 'X-Request-Id', 'X-RateLimit-Remaining']) assert.ok(jobs.get.responses['200'].headers[name], `GET 200 ${name}`)
        assert.ok(jobs.post.responses['201'].headers.Location)
        assert.ok(jobs.put.responses['200'].headers.ETag)
        assert.ok(jobs.post.responses['4XX'].headers['Retry-After'])
        // What a generated client relies on, checked against a real answer: the headers documented for a single job's GET are sent.
        const owner = await createTenant(t.database, { name: 'Documented Co' })
        const { locationId: location } = await createBasics(t.app, owner.apiKey, ' (doc)')
        const id = await createJobVia(t.app, owner.apiKey, location)
        const single = await req('GET', `${PATH}?id=${id}`, { key: owner.apiKey })
        for (const name of ['ETag', 'X-Request-Id', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset']) assert.ok(single.headers[name.toLowerCase()], `sent: ${name}`)
        assert.equal((await req('GET', `${PATH}?id=${id}`, { key: owner.apiKey, headers: { 'if-none-match': String(single.headers.etag) } })).status, 304)
        const ids = Object.values(doc.paths as Record<string, Record<string, any>>).flatMap((item) => Object.values(item).map((op) => op.operationId))
        assert.ok(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id)), JSON.stringify(ids))
        assert.equal(new Set(ids).size, ids.length, 'operationIds are unique')
      })

      it("what a create accepts, its answer's documented schema allows (a client validating answers took a 254-character email for an error)", async () => {
        const doc = (await req('GET', '/api/v1/openapi.json')).body
        const resolve = (schema: any) => (schema?.$ref ? resolveRef(doc, schema.$ref) : schema)
        /** The longest text a schema allows (Infinity: no limit). */
        const longest = (schema: any): number => {
          schema = resolve(schema)
          const alternatives = schema?.anyOf ?? schema?.oneOf
          if (alternatives) return Math.max(...alternatives.map(longest))
          return [schema?.type].flat().includes('string') ? (schema.maxLength ?? Infinity) : -1
        }
        let compared = 0
        for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
          const post = item.post
          if (!post?.requestBody) continue
          const request = resolve(post.requestBody.content['application/json'].schema)
          const answer = resolve(post.responses['201'].content['application/json'].schema)
          const data = resolve(answer.properties.data)
          for (const [field, accepted] of Object.entries(request.properties as Record<string, unknown>)) {
            if (!(field in data.properties) || longest(accepted) < 0) continue
            compared++
            assert.ok(longest(data.properties[field]) >= longest(accepted), `${path} ${field}: accepts ${longest(accepted)} characters, answers at most ${longest(data.properties[field])}`)
          }
        }
        assert.ok(compared >= 20, `${compared} text fields compared`)
      })
    })

    describe('no stack or SQL text in any error', () => {
      it('none of the error answers of this file leaks internals', () => {
        assert.ok(seenErrors.length > 50, `checked ${seenErrors.length} answers`)
        for (const { label, res } of seenErrors) assertNoLeak(label, res)
      })
    })
  })
}

describe('rate limits kept by one process', () => {
  for (const dialect of DIALECTS) {
    it(`${dialect}: ${dialect === 'postgres' ? 'without REDIS_URL, the start warns that limits are not shared between processes' : 'no warning (one process per file is the usual set-up)'}`, async () => {
      const logged: string[] = []
      const stream = new Writable({
        write(chunk, _encoding, done) {
          logged.push(String(chunk))
          done()
        },
      })
      const t = await startTestApp(dialect, { logger: { level: 'warn', stream } })
      await t.close()
      const warned = logged.some((line) => /REDIS_URL is not set: rate limits are counted by this process alone/.test(line))
      assert.equal(warned, dialect === 'postgres', logged.join(''))
    })
  }
})

describe('the request log line (§7)', () => {
  /** An app logging at `level` into an array of parsed lines. */
  async function loggingApp(level: string) {
    const { stream, lines } = collectedLog()
    const t = await startTestApp('sqlite', { logger: { level, stream } })
    return { t, lines, requestLines: () => lines.filter((line) => line.msg === 'request') }
  }

  it("a shutdown's 503s are not logged as the database being unavailable (a warning with a stack trace each)", async () => {
    const { t, lines } = await loggingApp('warn')
    try {
      const tenant = await createTenant(t.database)
      t.app.beginShutdown()
      for (let i = 0; i < 3; i++) assert.equal((await call(t.app, 'GET', PATH, { key: tenant.apiKey })).status, 503)
      assert.deepEqual(lines, [])
    } finally {
      await t.close()
    }
  })

  it('a revoked key still sent is named in the log line (revoked_key_id), not in the answer; a wrong secret with its id is not', async () => {
    const { t, requestLines } = await loggingApp('info')
    try {
      const tenant = await createTenant(t.database)
      await revokeKey(t.database.db, tenant.keyId)
      const revoked = await call(t.app, 'GET', PATH, { key: tenant.apiKey })
      assert.equal(revoked.status, 401)
      assert.doesNotMatch(JSON.stringify(revoked.body), new RegExp(`\\b${tenant.keyId}\\b.*revoked|revoked_key`))
      const forged = `${tenant.apiKey.slice(0, -4)}${tenant.apiKey.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`
      await call(t.app, 'GET', PATH, { key: forged })
      const [first, second] = requestLines().slice(-2)
      assert.equal(first!.key_id, null)
      assert.equal(first!.revoked_key_id, tenant.keyId)
      assert.equal(second!.status, 401)
      assert.equal('revoked_key_id' in second!, false, JSON.stringify(second))
    } finally {
      await t.close()
    }
  })

  it('at info: one line per request, with its id and key id, never the key', async () => {
    const { t, lines, requestLines } = await loggingApp('info')
    try {
      const tenant = await createTenant(t.database)
      const { locationId } = await createBasics(t.app, tenant.apiKey)
      const jobId = await createJobVia(t.app, tenant.apiKey, locationId)
      const before = requestLines().length
      const answers = [
        { res: await call(t.app, 'GET', `${PATH}?id=${jobId}`, { key: tenant.apiKey }), path: `${PATH}?id=${jobId}`, keyId: tenant.keyId },
        { res: await call(t.app, 'GET', PATH), path: PATH, keyId: null },
        // A key pasted into the URL by mistake is redacted from the path.
        { res: await call(t.app, 'GET', `/healthz?key=${tenant.apiKey}`), path: '/healthz?key=fsm_[redacted]', keyId: null },
        { res: await call(t.app, 'POST', PATH, { key: tenant.apiKey, body: {} }), path: PATH, keyId: tenant.keyId },
        // …percent-encoded, or in capitals, too.
        { res: await call(t.app, 'GET', `/healthz?api_key=${tenant.apiKey.replaceAll('_', '%5F')}`), path: '/healthz?api_key=fsm_[redacted]', keyId: null },
        { res: await call(t.app, 'GET', `/healthz?k=${tenant.apiKey.toUpperCase()}&x=1`), path: '/healthz?k=fsm_[redacted]&x=1', keyId: null },
      ]
      const logged = requestLines().slice(before)
      assert.equal(logged.length, answers.length, JSON.stringify(logged))
      answers.forEach(({ res, path, keyId }, i) => {
        const line = logged[i]!
        assert.equal(line.method, i === 3 ? 'POST' : 'GET')
        assert.equal(line.path, path)
        assert.equal(line.status, res.status)
        assert.equal(line.request_id, res.headers['x-request-id'])
        assert.equal(line.key_id, keyId)
        assert.equal(typeof line.duration_ms, 'number')
      })
      assert.deepEqual(answers.map(({ res }) => res.status), [200, 401, 200, 400, 200, 200])
      const secret = tenant.apiKey.split('_').at(-1)!
      assert.ok(!JSON.stringify(lines).toLowerCase().includes(secret.toLowerCase()), 'the key is in the log')
    } finally {
      await t.close()
    }
  })

  it('at warn: no request lines', async () => {
    const { t, requestLines } = await loggingApp('warn')
    try {
      assert.equal((await call(t.app, 'GET', '/healthz')).status, 200)
      assert.equal((await call(t.app, 'GET', PATH)).status, 401)
      assert.equal(requestLines().length, 0)
    } finally {
      await t.close()
    }
  })
})

describe('a request that stops arriving', () => {
  // A client that sent part of a request and then nothing held its
  // connection forever, and a shutdown waited for it. The app's limits are
  // 60 s to arrive and 20 s of shutdown grace; here they are shortened.
  it('is answered 400 and its connection closed once the request timeout passes, and does not hold up a shutdown', async () => {
    const { database, cleanup } = await freshDatabase('sqlite')
    const { apiKey } = await createTenant(database)
    const logged: string[] = []
    const stream = new Writable({
      write(chunk, _encoding, done) {
        logged.push(String(chunk))
        done()
      },
    })
    const apps: Awaited<ReturnType<typeof buildApp>>[] = []
    const listening = async (options: { requestTimeoutMs?: number; shutdownGraceMs?: number }) => {
      const app = await buildApp({ config: { ...loadConfig({}), logLevel: 'warn' }, database, logger: { level: 'warn', stream }, ...options })
      apps.push(app)
      await app.listen({ port: 0, host: '127.0.0.1' })
      return { app, port: (app.server.address() as AddressInfo).port }
    }
    const stalled = (port: number, head: string) =>
      new Promise<{ answer: string; ms: number }>((resolve, reject) => {
        const began = Date.now()
        const socket = connect(port, '127.0.0.1', () => socket.write(head))
        let answer = ''
        socket.setEncoding('utf8').on('data', (chunk) => (answer += chunk))
        socket.on('close', () => resolve({ answer, ms: Date.now() - began }))
        socket.on('error', reject)
      })
    const body = `POST /api/v1/customers HTTP/1.1\r\nHost: x\r\nX-API-Key: ${apiKey}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"customer_name":`
    const head = 'GET /api/v1/jobs HTTP/1.1\r\nHost: x\r\nX-API-'
    try {
      const timing = await listening({ requestTimeoutMs: 300 })
      for (const [what, sent] of [['a body cut short', body], ['a head cut short', head]] as const) {
        const { answer, ms } = await stalled(timing.port, sent)
        assert.match(answer, /^HTTP\/1\.1 400 /, what)
        assert.match(answer, /"code":"validation_failed"/, what)
        assert.match(answer, /did not arrive in full in time/, what)
        assert.ok(ms < 5_000, `${what}: closed after ${ms} ms`)
      }
      // Answered before its body was read (no key: 401), then the body stops: the 401 alone, not a 400 after it.
      const answered = await stalled(timing.port, `POST /api/v1/customers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"cus`)
      assert.deepEqual([...answered.answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]), ['401'], answered.answer)
      assert.ok(answered.ms < 5_000, `closed after ${answered.ms} ms`)
      // A shutdown with such a request in flight: Node no longer times
      // requests out once its server closes, so the grace ends it (the
      // request timeout here is the app's own, 60 s).
      const closing = await listening({ shutdownGraceMs: 300 })
      const pending = stalled(closing.port, body)
      await new Promise((resolve) => setTimeout(resolve, 50))
      const began = Date.now()
      await closing.app.close()
      assert.ok(Date.now() - began < 5_000, `closed after ${Date.now() - began} ms`)
      assert.equal((await pending).answer, '', 'the connection was closed, the request not answered')
      // A body the client stopped sending is not the database's fault (it was logged as "database unavailable").
      assert.deepEqual(logged, [])
    } finally {
      for (const app of apps) await app.close()
      await database.close()
      await cleanup()
    }
  })
})

describe('requests as bytes on a socket', () => {
  /** Writes `bytes` on a new connection to `port` and collects what comes back until the server closes it. */
  const exchange = (port: number, bytes: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(bytes))
      let answer = ''
      socket.setEncoding('utf8').on('data', (chunk) => (answer += chunk))
      socket.on('close', () => resolve(answer))
      socket.on('error', reject)
      socket.setTimeout(10_000, () => socket.destroy(new Error(`no close: ${answer}`)))
    })
  /** Each answer's status, in order (an answer's status line follows the body before it on the same line). */
  const statuses = (answer: string) => [...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))
  /** `work` with an app listening on a port, on a database of its own; all closed after it. */
  async function listening(work: (context: { app: Awaited<ReturnType<typeof buildApp>>; port: number; database: DatabaseHandle }) => Promise<void>) {
    const { database, cleanup } = await freshDatabase('sqlite')
    const app = await buildApp({ config: { ...loadConfig({}), logLevel: 'silent' }, database, logger: false })
    try {
      await app.listen({ port: 0, host: '127.0.0.1' })
      await work({ app, port: (app.server.address() as AddressInfo).port, database })
    } finally {
      await app.close()
      await database.close()
      await cleanup()
    }
  }

  it('a request followed by bytes that are not HTTP is answered first, then the bytes 400 and the connection closed; each refusal has its log line', async () => {
    const { database, cleanup } = await freshDatabase('sqlite')
    const { stream, lines } = collectedLog()
    const app = await buildApp({ config: { ...loadConfig({}), logLevel: 'info' }, database, logger: { level: 'info', stream } })
    try {
      await app.listen({ port: 0, host: '127.0.0.1' })
      const port = (app.server.address() as AddressInfo).port
      const owner = await createTenant(database)
      const { locationId } = await createBasics(app, owner.apiKey)
      const body = JSON.stringify({ job_title: 'Pipelined, then junk', customer_location_id: locationId })
      const post = `POST ${PATH} HTTP/1.1\r\nHost: x\r\nX-API-Key: ${owner.apiKey}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
      // The create was done: its 201 must reach the client (a 400 alone made it send the job again).
      const answer = await exchange(port, `${post}xyz`)
      assert.deepEqual(statuses(answer), [201, 400], answer)
      assert.match(answer, /"job_title":"Pipelined, then junk"/)
      assert.match(answer, /is not a well-formed HTTP\/1\.1 request/)
      // Five creates pipelined, then junk: every 201 in order, then the 400 (the answers queued behind the first were lost).
      const five = await exchange(port, `${post.repeat(5)}NOT HTTP\r\n\r\n`)
      assert.deepEqual(statuses(five), [201, 201, 201, 201, 201, 400], five)
      const read = await exchange(port, `GET ${PATH}?per_page=1 HTTP/1.1\r\nHost: x\r\nX-API-Key: ${owner.apiKey}\r\n\r\n{"x":1}`)
      assert.deepEqual(statuses(read), [200, 400], read)
      // Bytes that are not HTTP from the start: the 400 alone.
      assert.deepEqual(statuses(await exchange(port, 'xyz\r\n\r\n')), [400])
      const refusals = lines.filter((line) => line.msg === 'request' && line.path === null)
      assert.equal(refusals.length, 4, JSON.stringify(lines))
      for (const line of refusals) {
        assert.equal(line.status, 400)
        assert.match(String(line.request_id), /^[0-9a-f]{16}$/)
      }
      assert.ok(answer.includes(`"request_id":"${refusals[0]!.request_id}"`), 'the answer and the log line share the request id')
    } finally {
      await app.close()
      await database.close()
      await cleanup()
    }
  })

  it('answers to pipelined requests for the OpenAPI document that are never read share one copy of it', async () => {
    // Serialised for each request, 600 such answers held 600 copies of its ~140 KB (no key needed).
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    let socket: Socket | undefined
    await listening(async ({ app, port }) => {
      const document = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' })
      assert.equal(document.statusCode, 200)
      assert.ok(document.body.length > 100_000, `the document is ${document.body.length} bytes`)
      assert.deepEqual((await app.inject({ method: 'GET', url: '/docs/json' })).json(), document.json())
      let received = 0
      app.server.on('request', () => received++)
      const count = 600
      gc()
      const before = process.memoryUsage().heapUsed
      const requests = 'GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\nGET /docs/json HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(count / 2)
      socket = connect(port, '127.0.0.1', () => socket!.write(requests))
      socket.pause()
      for (let waited = 0; received < count && waited < 10_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20))
      assert.equal(received, count)
      await new Promise((resolve) => setTimeout(resolve, 200))
      gc()
      const grownMb = (process.memoryUsage().heapUsed - before) / 1e6
      assert.ok(grownMb < 30, `the heap grew by ${grownMb.toFixed(1)} MB for ${count} answers of ${(document.body.length / 1e3).toFixed(0)} KB`)
    }).finally(() => socket?.destroy())
  })

  it('HTTP edges are answered in the envelope: Host twice or malformed, an unknown Expect, a transfer coding or Content-Type that cannot be taken, raw query text in Link, the documentation files', async () => {
    await listening(async ({ app, port, database }) => {
      const owner = await createTenant(database)
      const { locationId } = await createBasics(app, owner.apiKey)
      const get = (target: string, headers = '') => exchange(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nX-API-Key: ${owner.apiKey}\r\n${headers}Connection: close\r\n\r\n`)
      const envelope = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string; details?: Array<{ field: string; message: string }> } }
      // RFC 9112 §3.2: one Host, and a host (Node kept the first of two, and took "a b").
      for (const headers of ['Host: y\r\n', '']) {
        const twice = await exchange(port, `GET ${PATH} HTTP/1.1\r\nHost: x\r\n${headers}X-API-Key: ${owner.apiKey}\r\nConnection: close\r\n\r\n`)
        if (headers) {
          assert.deepEqual(statuses(twice), [400], twice)
          assert.deepEqual(envelope(twice).error.details, [{ field: 'Host', message: 'must be sent once' }])
        } else assert.deepEqual(statuses(twice), [200], twice)
      }
      const spaced = await exchange(port, `GET ${PATH} HTTP/1.1\r\nHost: a b\r\nX-API-Key: ${owner.apiKey}\r\nConnection: close\r\n\r\n`)
      assert.deepEqual(envelope(spaced).error.details, [{ field: 'Host', message: 'must be a host name or address, with an optional port' }])
      for (const host of ['127.0.0.1:3000', '[::1]:3000', 'fsm.example.com', 'fsm_1.internal']) {
        assert.deepEqual(statuses(await exchange(port, `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)), [200], host)
      }
      // An expectation Node does not know was its bare 417; it is ignored (RFC 9110 §10.1.1).
      assert.deepEqual(statuses(await get(`${PATH}?per_page=1`, 'Expect: foo\r\n')), [200])
      // Transfer codings other than chunked are not decoded (`gzip, chunked` was "not valid UTF-8", `foo, chunked` taken).
      const body = JSON.stringify({ job_title: 'Coded', customer_location_id: locationId })
      const chunked = (coding: string) =>
        exchange(port, `POST ${PATH} HTTP/1.1\r\nHost: x\r\nX-API-Key: ${owner.apiKey}\r\nContent-Type: application/json\r\nTransfer-Encoding: ${coding}\r\nConnection: close\r\n\r\n${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`)
      assert.deepEqual(statuses(await chunked('chunked')), [201])
      for (const coding of ['foo, chunked', 'gzip, chunked']) {
        const refused = await chunked(coding)
        assert.deepEqual(statuses(refused), [415], refused)
        assert.match(envelope(refused).error.message, /^Transfer-Encoding .* is not supported/)
      }
      // Two Content-Types: refused whichever comes first (the first was taken).
      for (const [first, second] of [['application/json', 'text/plain'], ['text/plain', 'application/json']]) {
        const two = await exchange(port, `POST ${PATH} HTTP/1.1\r\nHost: x\r\nX-API-Key: ${owner.apiKey}\r\nContent-Type: ${first}\r\nContent-Type: ${second}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
        assert.deepEqual(statuses(two), [415], two)
      }
      // Query text Node lets through raw is percent-encoded in Link: it put a link of the client's making there.
      const linked = await get('/api/v1/customers?q=a>;rel="last",<http://evil/>')
      const link = /\r\nlink: (.*)\r\n/i.exec(linked)![1]!
      assert.equal(link.split(', ').length, 2, link)
      assert.ok(link.includes('q=a%3E;rel=%22last%22,%3Chttp://evil/%3E&page=1'), link)
      // The documentation's files: outside their folder, a stale If-Match, a range past the end (each was 400 invalid_json).
      const outside = await get('/docs/static/../../package.json')
      assert.deepEqual(statuses(outside), [404], outside)
      assert.equal(envelope(outside).error.code, 'not_found')
      const stale = await get('/docs/static/logo.svg', 'If-Match: "x"\r\n')
      assert.deepEqual([statuses(stale), envelope(stale).error.code], [[412], 'precondition_failed'])
      const range = await get('/docs/static/logo.svg', 'Range: bytes=999999-\r\n')
      assert.deepEqual([statuses(range), envelope(range).error.details], [[400], [{ field: 'Range', message: 'is malformed or past the end of the file' }]])
      // Each says which header: a Range that is not one was "past the end", an old If-Unmodified-Since "does not match If-Match".
      const malformed = await get('/docs/static/logo.svg', 'Range: bytes=x\r\n')
      assert.deepEqual([statuses(malformed), envelope(malformed).error.details], [[400], [{ field: 'Range', message: 'is malformed or past the end of the file' }]])
      const unmodified = await get('/docs/static/logo.svg', 'If-Unmodified-Since: Mon, 01 Jan 1990 00:00:00 GMT\r\n')
      assert.deepEqual([statuses(unmodified), envelope(unmodified).error.message], [[412], 'The file does not meet If-Match or If-Unmodified-Since'])
    })
  })

  it('an HTTP/1.1 request without Host is 400 in the envelope (RFC 9112 §3.2); HTTP/1.0 needs none', async () => {
    await listening(async ({ port, database }) => {
      const owner = await createTenant(database)
      const without = await exchange(port, `GET ${PATH} HTTP/1.1\r\nX-API-Key: ${owner.apiKey}\r\nConnection: close\r\n\r\n`)
      assert.deepEqual(statuses(without), [400], without)
      assert.match(without, /"code":"validation_failed"/)
      assert.match(without, /has no Host header, which HTTP\/1\.1 requires/)
      const old = await exchange(port, `GET ${PATH} HTTP/1.0\r\nX-API-Key: ${owner.apiKey}\r\n\r\n`)
      assert.match(old, /^HTTP\/1\.1 200 /, old)
    })
  })
})

describe('routes with a scope', () => {
  // The write checks are added to every method of a route: a route that
  // mixed a read with a write would put them on the read.
  it('one that mixes reads and writes is refused when registered', async () => {
    const { database, cleanup } = await freshDatabase('sqlite')
    const app = await buildApp({ config: { ...loadConfig({}), logLevel: 'silent' }, database, logger: false })
    try {
      const mixed = () => app.route({ method: ['GET', 'POST'], url: '/api/v1/mixed', config: { scope: 'jobs:read' }, handler: async () => ({}) })
      assert.throws(mixed, /reads or writes, not both/)
    } finally {
      await app.close()
      await database.close()
      await cleanup()
    }
  })
})

/**
 * A TCP proxy to the PostgreSQL of `target` whose replies can be held back
 * (`pause`) and let through again (`resume`): a database that stops
 * answering, as in a network partition, while what is sent still reaches it.
 */
async function pausableProxy(target: URL) {
  let paused = false
  const held: Array<() => void> = []
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('error', () => undefined)
      s.on('close', () => sockets.delete(s))
    }
    client.on('data', (bytes) => upstream.write(bytes))
    upstream.on('data', (bytes) => (paused ? held.push(() => client.write(bytes)) : client.write(bytes)))
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = new URL(target)
  url.hostname = '127.0.0.1'
  url.port = String((server.address() as AddressInfo).port)
  return {
    url: url.toString(),
    pause: () => void (paused = true),
    resume: () => {
      paused = false
      for (const send of held.splice(0)) send()
    },
    /** Cuts every connection through the proxy (new ones still pass). */
    cut: () => {
      for (const s of sockets) s.destroy()
    },
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function resolveRef(doc: any, ref: string): any {
  assert.ok(ref.startsWith('#/'), `local $ref ${ref}`)
  let node = doc
  for (const part of ref.slice(2).split('/')) {
    node = node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')]
    assert.ok(node !== undefined, `$ref ${ref}`)
  }
  return node
}
