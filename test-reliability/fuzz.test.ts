/**
 * Promise 3: bad input gets a documented 4xx, never a 5xx or a hang, and
 * changes nothing.
 *
 * Requests are generated from the server's own OpenAPI document with
 * fast-check (seeded: the seed is in the report), plus fixed cases that
 * only a raw socket can send. Every answer must be a 2xx (valid input) or a
 * 4xx in the error envelope of API.md §1 with a code of §2 that fits the
 * status; requests built to be wrong must get a 4xx (with the expected
 * code); nothing may take longer than the client timeout; no answer may
 * carry an injected header. The database is hashed before and after all
 * the requests that must be refused: it must not have changed.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import SqliteDatabase from 'better-sqlite3'
import { api, NoAnswer, pool, raw, rawRequest } from './helpers/http.ts'
import { assertErrorEnvelope, assertSuccessEnvelope, view, type AnyAnswer } from './helpers/contract.ts'
import { budget, SEED } from './helpers/mode.ts'
import { sqliteTarget, type Target } from './helpers/db.ts'
import { spawnServer, type ServerProcess } from './helpers/server.ts'
import { recorded, type Figures } from './helpers/report.ts'
import { seedWorld, type World } from './helpers/world.ts'
import { idsFor, invalidBody, invalidQuery, operationsOf, validBody, validQuery, type FuzzRequest, type Ids, type Operation } from './helpers/generators.ts'
import { createJob } from '../src/modules/jobs/jobs.service.ts'

const TOTAL = budget(1500, 10_000)
const CONCURRENCY = 6
const TIMEOUT_MS = 15_000

/** Hash of every business table (not idempotency keys, not the keys' last_used_at). */
function snapshot(file: string): Record<string, string> {
  const db = new SqliteDatabase(file)
  try {
    db.pragma('busy_timeout = 10000')
    const tables = (db.prepare(`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like 'kysely_%' and name not in ('idempotency_keys', 'api_keys') order by name`).all() as Array<{ name: string }>).map((t) => t.name)
    const out: Record<string, string> = {}
    for (const table of tables) {
      const rows = db.prepare(`select * from "${table}" order by rowid`).all()
      out[table] = `${rows.length}:${createHash('sha256').update(JSON.stringify(rows)).digest('hex').slice(0, 16)}`
    }
    return out
  } finally {
    db.close()
  }
}

interface Outcome {
  req: FuzzRequest | { category: string; expect: 'reject' | 'any'; codes?: string[]; method: string; path: string }
  answer?: AnyAnswer
  headers?: Record<string, string>
  error?: string
}

/** Checks one answer against the promise; returns what is wrong, if anything. */
/**
 * An upload over 1 MiB: the server answers 413 and closes at once (Fastify's `Connection: close`);
 * with the rest of the upload unread, the close is a TCP reset that can destroy the 413 before the
 * client reads it. Not a hang, not a 5xx, nothing stored: counted apart (see docs/reliability.md).
 */
function cutUpload(o: Outcome): boolean {
  const oversized = o.req.category.includes('over 1 MiB') || ('body' in o.req && o.req.body !== undefined && Buffer.byteLength(o.req.body) > 1024 * 1024)
  return !o.answer && oversized && /EPIPE|ECONNRESET|UND_ERR_SOCKET|closed without an answer/.test(o.error ?? '')
}

function judge(o: Outcome): string | undefined {
  const { req, answer } = o
  if (cutUpload(o)) return undefined
  if (!answer) return `no answer (${o.error})`
  if (answer.status >= 500) return `${answer.status} ${answer.body?.error?.code ?? answer.text.slice(0, 100)}`
  const publicPath = /^\/(healthz|readyz|docs|api\/v1\/openapi\.json)/.test(req.path)
  try {
    if (answer.status >= 400) {
      const code = assertErrorEnvelope(answer, 'answer', req.method)
      if (req.codes && req.method !== 'HEAD' && !req.codes.includes(code)) return `${answer.status} ${code}, expected ${req.codes.join('/')}`
      if (code === 'method_not_allowed' && !answer.header('allow')) return '405 without Allow'
    } else {
      if (req.expect === 'reject') return `accepted (${answer.status}) though it must be refused`
      if (!publicPath && answer.status < 300) assertSuccessEnvelope(answer, 'answer', req.method)
    }
  } catch (error) {
    return (error as Error).message.split('\n')[0]
  }
  if (answer.header('x-content-type-options') !== 'nosniff') return 'no X-Content-Type-Options: nosniff'
  if (answer.header('set-cookie') !== undefined && answer.header('set-cookie') !== null) return 'an injected Set-Cookie header'
  if (answer.header('x-injected')) return 'an injected header'
  const link = answer.header('link')
  if (link && !/^<\/api\/v1\/[^>]*>; rel="first"/.test(link)) return `Link does not point at a path of this API: ${link.slice(0, 120)}`
  return undefined
}

// ---- Fixed cases: every method on every path, and what only a raw socket sends.

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND', 'SEARCH', 'PURGE', 'LOCK', 'CONNECT', 'FOO']
const UNKNOWN_PATHS = [
  '/', '/api', '/api/v1', '/api/v1/', '/api/v1/jobs/', '/API/V1/JOBS', '/api/v1/jobs/1', '/api/v1/job', '/api/v2/jobs', '//api/v1/jobs',
  '/api/v1/jobs/history/', '/api/v1/jobs%2Fhistory', '/api/v1/jobs;x=1', '/api/v1/jobs/..', '/.env', '/admin', '/metrics', '/debug/pprof', '/api/v1/companies', '/api/v1/keys',
]

function matrix(ops: Operation[], key: string): Array<{ req: Outcome['req']; bytes: Buffer }> {
  const documented = new Map<string, Set<string>>()
  for (const op of ops) (documented.get(op.path) ?? documented.set(op.path, new Set()).get(op.path)!).add(op.method)
  const cases: Array<{ req: Outcome['req']; bytes: Buffer }> = []
  const paths = [...documented.keys(), '/healthz', '/readyz', '/api/v1/openapi.json', ...UNKNOWN_PATHS]
  for (const path of paths) {
    for (const method of METHODS) {
      const allowed = documented.get(path)
      const isPublic = ['/healthz', '/readyz', '/api/v1/openapi.json'].includes(path)
      let req: Outcome['req']
      if (allowed) {
        const ok = allowed.has(method) || (method === 'HEAD' && allowed.has('GET'))
        req = ok ? { category: 'method matrix', expect: 'any', method, path } : { category: 'method matrix', expect: 'reject', codes: ['method_not_allowed'], method, path }
      } else if (isPublic) {
        req = method === 'GET' || method === 'HEAD' ? { category: 'method matrix', expect: 'any', method, path } : { category: 'method matrix', expect: 'reject', codes: ['method_not_allowed'], method, path }
      } else {
        req = { category: 'method matrix', expect: 'reject', codes: ['not_found'], method, path }
      }
      // Node's HTTP parser refuses FOO itself, and CONNECT is a tunnel request: any documented 4xx in the envelope will do.
      if (method === 'FOO' || method === 'CONNECT') req = { category: 'method matrix', expect: 'reject', method, path }
      const body = ['POST', 'PUT', 'PATCH'].includes(method) ? '{}' : undefined
      const headers: Array<[string, string]> = [['X-API-Key', key], ...(body ? ([['Content-Type', 'application/json']] as Array<[string, string]>) : [])]
      cases.push({ req: { ...req, path: method === 'CONNECT' ? '127.0.0.1:80' : path }, bytes: rawRequest(method, method === 'CONNECT' ? '127.0.0.1:80' : path, headers, body) })
    }
  }
  return cases
}

function protocolCases(key: string, ids: Ids): Array<{ req: Outcome['req']; bytes: Buffer }> {
  const job = ids.jobs[0]!
  const R = (name: string, codes: string[] | undefined, method: string, path: string, bytes: Buffer, expect: 'reject' | 'any' = 'reject') => ({ req: { category: `protocol: ${name}`, expect, ...(codes && { codes }), method, path }, bytes })
  const head = (lines: string[], body = '') => Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1')
  const valid = JSON.stringify({ job_title: 'Protocol case', customer_location_id: ids.locations[0] })
  return [
    R('control character in a header value', undefined, 'GET', '/api/v1/jobs', rawRequest('GET', '/api/v1/jobs', [['X-API-Key', key], ['X-Note', 'a\u0001b']])),
    R('invalid header name', undefined, 'GET', '/api/v1/jobs', rawRequest('GET', '/api/v1/jobs', [['X-API-Key', key], ['Bad Header', 'x']])),
    R('header injection via CR/LF in the query', undefined, 'GET', '/api/v1/jobs?id=1%0d%0aSet-Cookie:%20x=1', rawRequest('GET', `/api/v1/jobs?id=${job}%0d%0aSet-Cookie:%20x=1%0d%0aX-Injected:%201`, [['X-API-Key', key]])),
    R('header injection via CR/LF in q', undefined, 'GET', '/api/v1/customers?q=…', rawRequest('GET', '/api/v1/customers?q=a%0d%0aX-Injected:%201', [['X-API-Key', key]])),
    R('space inside the request target', undefined, 'GET', '/api/v1/jobs?id=1 2', head([`GET /api/v1/jobs?id=${job} 2 HTTP/1.1`, 'Host: x', 'Connection: close', `X-API-Key: ${key}`])),
    R('absolute-form request target', undefined, 'GET', 'http://evil.example/api/v1/jobs', rawRequest('GET', 'http://evil.example/api/v1/jobs', [['X-API-Key', key]]), 'any'),
    R('bad percent-encoding in the path', undefined, 'GET', '/api/v1/jobs%ZZ', rawRequest('GET', '/api/v1/jobs%ZZ', [['X-API-Key', key]])),
    R('bad percent-encoding in the query', ['validation_failed'], 'GET', '/api/v1/jobs?id=%ZZ', rawRequest('GET', '/api/v1/jobs?id=%ZZ', [['X-API-Key', key]])),
    R('request line and headers over 16 KiB (URL)', undefined, 'GET', '/api/v1/customers?q=aaaa…', rawRequest('GET', `/api/v1/customers?q=${'a'.repeat(70_000)}`, [['X-API-Key', key]])),
    R('request line and headers over 16 KiB (header)', undefined, 'GET', '/api/v1/jobs', rawRequest('GET', '/api/v1/jobs', [['X-API-Key', key], ['X-Long', 'a'.repeat(70_000)]])),
    R('Content-Length and Transfer-Encoding together', undefined, 'POST', '/api/v1/jobs', head(['POST /api/v1/jobs HTTP/1.1', 'Host: x', 'Connection: close', `X-API-Key: ${key}`, 'Content-Type: application/json', 'Content-Length: 2', 'Transfer-Encoding: chunked'], '0\r\n\r\n')),
    R('a malformed chunk', undefined, 'POST', '/api/v1/jobs', head(['POST /api/v1/jobs HTTP/1.1', 'Host: x', 'Connection: close', `X-API-Key: ${key}`, 'Content-Type: application/json', 'Transfer-Encoding: chunked'], 'zz\r\n{}\r\n0\r\n\r\n')),
    R('chunked body over 1 MiB', ['payload_too_large'], 'POST', '/api/v1/jobs', head(['POST /api/v1/jobs HTTP/1.1', 'Host: x', 'Connection: close', `X-API-Key: ${key}`, 'Content-Type: application/json', 'Transfer-Encoding: chunked'], `${(1024 * 1024 + 10).toString(16)}\r\n{"a":"${'x'.repeat(1024 * 1024 + 2)}"}\r\n0\r\n\r\n`)),
    R('no Host header', ['validation_failed'], 'GET', '/api/v1/jobs', head(['GET /api/v1/jobs HTTP/1.1', 'Connection: close', `X-API-Key: ${key}`])),
    R('HTTP/1.0', undefined, 'GET', '/api/v1/jobs', head(['GET /api/v1/jobs HTTP/1.0', `X-API-Key: ${key}`]), 'any'),
    // Node keeps the first of repeated Content-Type headers.
    R('two Content-Type headers', ['unsupported_media_type'], 'POST', '/api/v1/jobs', rawRequest('POST', '/api/v1/jobs', [['X-API-Key', key], ['Content-Type', 'text/plain'], ['Content-Type', 'application/json']], valid)),
    R('Content-Type text/plain', ['unsupported_media_type'], 'POST', '/api/v1/jobs', rawRequest('POST', '/api/v1/jobs', [['X-API-Key', key], ['Content-Type', 'text/plain']], valid)),
    R('no Content-Type', ['unsupported_media_type'], 'POST', '/api/v1/jobs', rawRequest('POST', '/api/v1/jobs', [['X-API-Key', key]], valid)),
    R('Content-Type application/jsonx', ['unsupported_media_type'], 'POST', '/api/v1/jobs', rawRequest('POST', '/api/v1/jobs', [['X-API-Key', key], ['Content-Type', 'application/jsonx']], valid)),
    R('Content-Type form', ['unsupported_media_type'], 'POST', '/api/v1/jobs', rawRequest('POST', '/api/v1/jobs', [['X-API-Key', key], ['Content-Type', 'application/x-www-form-urlencoded']], 'job_title=x&customer_location_id=1')),
    R('a body that is not UTF-8', undefined, 'POST', '/api/v1/jobs', rawRequest('POST', '/api/v1/jobs', [['X-API-Key', key], ['Content-Type', 'application/json']], Buffer.from([0x7b, 0x22, 0x6a, 0x6f, 0x62, 0x5f, 0x74, 0x69, 0x74, 0x6c, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc0, 0x22, 0x7d]))),
    R('Idempotency-Key of 256 characters', ['validation_failed'], 'POST', '/api/v1/jobs', rawRequest('POST', '/api/v1/jobs', [['X-API-Key', key], ['Content-Type', 'application/json'], ['Idempotency-Key', 'k'.repeat(256)]], valid)),
    R('empty Idempotency-Key', ['validation_failed'], 'POST', '/api/v1/jobs', rawRequest('POST', '/api/v1/jobs', [['X-API-Key', key], ['Content-Type', 'application/json'], ['Idempotency-Key', '']], valid)),
    R('non-ASCII Idempotency-Key', ['validation_failed'], 'POST', '/api/v1/jobs', Buffer.concat([rawRequest('POST', '/api/v1/jobs', [['X-API-Key', key], ['Content-Type', 'application/json'], ['Idempotency-Key', 'XX']], valid)].map((b) => Buffer.from(b.toString('latin1').replace('Idempotency-Key: XX', 'Idempotency-Key: \u00d0\u00ba\u00d0\u00bb'), 'latin1')))),
    R('Idempotency-Key with a tab inside', ['validation_failed'], 'POST', '/api/v1/jobs', rawRequest('POST', '/api/v1/jobs', [['X-API-Key', key], ['Content-Type', 'application/json'], ['Idempotency-Key', 'a\tb']], valid)),
    R('deep nesting with an Idempotency-Key', ['validation_failed'], 'POST', '/api/v1/jobs', rawRequest('POST', '/api/v1/jobs', [['X-API-Key', key], ['Content-Type', 'application/json'], ['Idempotency-Key', 'deep-nesting-1']], `{"job_title":${'['.repeat(100_000)}${']'.repeat(100_000)},"customer_location_id":1}`)),
    R('deep object nesting with an Idempotency-Key', ['validation_failed'], 'PUT', `/api/v1/jobs?id=${job}`, rawRequest('PUT', `/api/v1/jobs?id=${job}`, [['X-API-Key', key], ['Content-Type', 'application/json'], ['Idempotency-Key', 'deep-nesting-2']], `{"job_description":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}`)),
    R('X-API-Key twice', undefined, 'GET', '/api/v1/jobs', rawRequest('GET', '/api/v1/jobs', [['X-API-Key', key], ['X-API-Key', key]])),
  ]
}

async function send(base: string, port: number, key: string, req: FuzzRequest): Promise<Outcome> {
  try {
    if (['TRACE', 'CONNECT', 'FOO'].includes(req.method)) {
      const a = await raw(port, rawRequest(req.method, req.path, Object.entries({ 'X-API-Key': key, ...req.headers }), req.body), TIMEOUT_MS)
      return { req, answer: view(a) }
    }
    const a = await api(base, req.method, req.path, { key, headers: req.headers, ...(req.body !== undefined && { raw: req.body }), timeoutMs: TIMEOUT_MS })
    return { req, answer: view(a) }
  } catch (error) {
    if (error instanceof NoAnswer) return { req, error: error.reason + (error.timedOut ? ' (client timeout: a hang)' : '') }
    return { req, error: String(error) }
  }
}

function generated(ops: Operation[], ids: Ids, count: number, seed: number, mode: 'reject' | 'valid'): FuzzRequest[] {
  const json = { 'content-type': 'application/json' }
  const withBody = ops.filter((op) => op.body)
  const withQuery = ops.filter((op) => Object.keys(op.query).length || op.method !== 'GET')
  const path = (op: Operation, query: string) => (query ? `${op.path}?${query}` : op.path)
  const idQuery = (op: Operation) => fc.constantFrom(...idsFor(op.path, ids)).map((n) => (op.method === 'POST' ? '' : `id=${n}`))
  const arbitrary: fc.Arbitrary<FuzzRequest> =
    mode === 'reject'
      ? fc.oneof(
          {
            weight: 6,
            arbitrary: fc.constantFrom(...withBody).chain((op) =>
              fc.tuple(invalidBody(op, ids), idQuery(op), fc.boolean()).map(([b, q, idem]) => ({
                category: `body: ${b.kind.replace(/ \(.*\)$/, '').replace(/ U\+\w+$/, '')}`,
                expect: 'reject' as const,
                codes: b.codes,
                method: op.method,
                path: path(op, q),
                headers: { ...json, ...(idem && { 'idempotency-key': `fuzz-${seed}-${Math.random().toString(36).slice(2)}` }) },
                body: b.body,
              })),
            ),
          },
          {
            weight: 3,
            arbitrary: fc.constantFrom(...withQuery).chain((op) =>
              fc.tuple(invalidQuery(op, ids), op.body ? validBody(op.body, ids, 1) : fc.constant(undefined)).map(([q, body]) => ({
                category: `query: ${q.kind.replace(/ .*$/, '')}`,
                expect: 'reject' as const,
                codes: ['validation_failed'],
                method: op.method,
                path: path(op, q.query),
                headers: body ? json : {},
                ...(body && { body: JSON.stringify(body) }),
              })),
            ),
          },
        )
      : fc.constantFrom(...ops).chain((op) =>
          fc.tuple(validQuery(op, ids), op.body ? validBody(op.body, ids, op.method === 'PUT' ? 1 : 0) : fc.constant(undefined)).map(([q, body]) => ({
            category: `valid ${op.method}`,
            expect: 'any' as const,
            method: op.method,
            path: path(op, op.method === 'POST' ? '' : q || (op.method === 'GET' ? '' : `id=${idsFor(op.path, ids)[0]}`)),
            headers: body ? json : {},
            ...(body && { body: JSON.stringify(body) }),
          })),
        )
  return fc.sample(arbitrary, { numRuns: count, seed })
}

async function fuzz(figures: Figures) {
  const db: Target = await sqliteTarget()
  let server: ServerProcess | undefined
  try {
    const world: World = await seedWorld(db.database, { name: 'Fuzz Co', locations: 3, technicians: 3, assets: 4 })
    const actor = { companyId: world.companyId, keyId: null, modules: new Set(['assets']) }
    const jobs = [] as number[]
    for (let i = 0; i < 3; i++) jobs.push((await createJob(db.database.db, actor, { job_title: `Fuzz job ${i}`, customer_location_id: world.locationIds[0]! })).job_id)
    const ids: Ids = { jobs, customers: world.customerIds, locations: world.locationIds, technicians: world.technicianIds, assets: world.assetIds }
    server = await spawnServer({ databaseUrl: db.url })
    const doc = await (await fetch(`${server.base}/api/v1/openapi.json`)).json()
    const ops = operationsOf(doc)
    assert.ok(ops.length >= 15, `the OpenAPI document lists ${ops.length} operations`)

    const fixed = [...matrix(ops, world.apiKey), ...protocolCases(world.apiKey, ids)]
    const rejectCount = Math.round((TOTAL - fixed.length) * 0.7)
    const validCount = TOTAL - fixed.length - rejectCount
    const rejects = generated(ops, ids, rejectCount, SEED, 'reject')
    const valids = generated(ops, ids, validCount, SEED + 1, 'valid')

    const outcomes: Outcome[] = []
    const before = snapshot(db.file!)
    // Phase 1: everything that must be refused (and the reads of the method matrix).
    await pool(fixed, CONCURRENCY, async (c) => {
      try {
        const a = await raw(server!.port, c.bytes, TIMEOUT_MS)
        outcomes.push({ req: c.req, answer: view(a), headers: a.headers })
      } catch (error) {
        outcomes.push({ req: c.req, error: error instanceof NoAnswer ? error.reason + (error.timedOut ? ' (client timeout: a hang)' : '') : String(error) })
      }
    })
    await pool(rejects, CONCURRENCY, async (req) => void outcomes.push(await send(server!.base, server!.port, world.apiKey, req)))
    const writesAccepted = outcomes.filter((o) => o.answer && o.answer.status < 300 && !['GET', 'HEAD'].includes(o.req.method)).length
    const after = snapshot(db.file!)
    // Phase 2: valid input (any documented answer).
    await pool(valids, CONCURRENCY, async (req) => void outcomes.push(await send(server!.base, server!.port, world.apiKey, req)))

    const failures = new Map<string, { count: number; example: string }>()
    for (const o of outcomes) {
      const problem = judge(o)
      if (!problem) continue
      const group = `${o.req.category} → ${problem.replace(/\d{3,}/g, 'N').slice(0, 140)}`
      const entry = failures.get(group) ?? { count: 0, example: `${o.req.method} ${o.req.path.slice(0, 100)}${'body' in o.req && o.req.body ? ` body ${o.req.body.length > 300 ? `${o.req.body.slice(0, 100)}…${o.req.body.slice(-200)}` : o.req.body}` : ''} → ${o.answer?.status ?? 'no answer'} ${(o.answer?.text ?? o.error ?? '').slice(0, 160)}` }
      entry.count++
      failures.set(group, entry)
    }
    const statuses: Record<string, number> = {}
    for (const o of outcomes) statuses[o.answer ? String(o.answer.status) : 'none'] = (statuses[o.answer ? String(o.answer.status) : 'none'] ?? 0) + 1
    Object.assign(figures, {
      requests: outcomes.length,
      must_refuse: fixed.filter((c) => c.req.expect === 'reject').length + rejects.length,
      valid_input: validCount,
      method_path_pairs: matrix(ops, world.apiKey).length,
      raw_protocol_cases: protocolCases(world.apiKey, ids).length,
      answers_5xx: outcomes.filter((o) => o.answer && o.answer.status >= 500).length,
      no_answer_or_hang: outcomes.filter((o) => !o.answer && !cutUpload(o)).length,
      oversized_uploads_reset_before_413: outcomes.filter(cutUpload).length,
      statuses: Object.entries(statuses).sort().map(([s, n]) => `${s}×${n}`).join(' '),
      records_changed_by_refused: JSON.stringify(before) === JSON.stringify(after) ? 0 : 1,
      failure_kinds: failures.size,
      seed: SEED,
    })
    const report = [...failures].map(([group, { count, example }]) => `  ${count}× ${group}\n      e.g. ${example}`).join('\n')
    assert.equal(failures.size, 0, `answers that break the promise (seed ${SEED}):\n${report}`)
    assert.equal(writesAccepted, 0, 'no write was accepted among the requests that must be refused')
    assert.deepEqual(after, before, 'records are unchanged by the refused requests')
  } finally {
    await server?.stop()
    await db.cleanup()
  }
}

describe('3. bad input: documented 4xx, never a 5xx or a hang, nothing changed', { timeout: budget(180_000, 600_000) }, () => {
  it(`${TOTAL} requests generated from the OpenAPI document (fast-check) plus raw-socket cases`, () => recorded('3-fuzz', 'sqlite', fuzz))
})
