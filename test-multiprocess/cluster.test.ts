/**
 * Several stateless `fsm serve` processes on one PostgreSQL and one Redis
 * (issue 5): run with `npm run test:multiprocess` (CI runs it). Needs
 * FSM_TEST_DATABASE_URL and REDIS_URL; skipped, saying so, without them.
 *
 * The processes reach PostgreSQL through a TCP proxy owned by this test, so
 * the database can be made unreachable and brought back without touching
 * the real server.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { promisify } from 'node:util'
import pg from 'pg'
import { connect, type DatabaseHandle } from '../src/db/connect.ts'
import { migrateToLatest } from '../src/db/migrator.ts'
import { canTransition, JOB_STATUSES, type JobStatus } from '../src/modules/jobs/status.ts'
import { createTenant, createExtraKey, type Tenant } from '../test/helpers/factories.ts'
import { freePort, spawnServer, waitFor, type ServerProcess } from '../test-reliability/helpers/server.ts'

const PG_URL = process.env.FSM_TEST_DATABASE_URL
const REDIS_URL = process.env.REDIS_URL
const run = promisify(execFile)

/** A TCP proxy to PostgreSQL that can be cut and restored. */
class Proxy {
  server: net.Server | undefined
  sockets = new Set<net.Socket>()
  constructor(readonly port: number, readonly target: { host: string; port: number }) {}
  async start() {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host)
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => s.destroy())
      }
      client.pipe(upstream).pipe(client)
    })
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve))
  }
  async stop() {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
    this.server = undefined
  }
}

describe('three fsm serve processes on PostgreSQL and Redis', { skip: PG_URL && REDIS_URL ? false : 'FSM_TEST_DATABASE_URL and REDIS_URL are not both set', timeout: 120_000 }, () => {
  const schema = `fsm_mp_${randomBytes(5).toString('hex')}`
  const servers: ServerProcess[] = []
  const bases: string[] = []
  let proxy: Proxy
  let database: DatabaseHandle
  let databaseUrl: string
  let tenant: Tenant
  let locationId: number

  before(async () => {
    const admin = new pg.Client({ connectionString: PG_URL })
    await admin.connect()
    await admin.query(`create schema ${schema}`)
    await admin.end()
    const target = new URL(PG_URL!)
    proxy = new Proxy(await freePort(), { host: target.hostname, port: Number(target.port || 5432) })
    await proxy.start()
    const viaProxy = new URL(PG_URL!)
    viaProxy.hostname = '127.0.0.1'
    viaProxy.port = String(proxy.port)
    viaProxy.searchParams.set('options', `-c search_path=${schema}`)
    databaseUrl = viaProxy.toString()

    database = connect(PG_URL!, { pgSchema: schema })
    await migrateToLatest(database.db)
    tenant = await createTenant(database)
    const { createCustomer } = await import('../src/modules/customers/customers.service.ts')
    const { createLocation } = await import('../src/modules/locations/locations.service.ts')
    const actor = { companyId: tenant.companyId, keyId: null, modules: new Set(['assets']) }
    const customer = await createCustomer(database.db, actor, { customer_name: 'Cluster Customer' })
    locationId = (await createLocation(database.db, actor, { customer_id: customer.customer_id, customer_location_name: 'Cluster Site' })).customer_location_id

    // One after the other: a port chosen while a sibling already listens cannot be the sibling's.
    for (let i = 0; i < 3; i++) {
      const server = await spawnServer({ databaseUrl, env: { REDIS_URL: REDIS_URL!, FSM_KEY_CACHE_MS: '500' } })
      servers.push(server)
      bases.push(server.base)
    }
  })

  after(async () => {
    const exits = await Promise.all(servers.map((server) => server.stop()))
    await proxy?.stop()
    await database?.close()
    const admin = new pg.Client({ connectionString: PG_URL })
    await admin.connect()
    await admin.query(`drop schema if exists ${schema} cascade`)
    await admin.end()
    assert.deepEqual(exits.map((exit) => exit.code), [0, 0, 0], 'SIGTERM: graceful exit 0')
  })

  const api = (i: number, path: string, init: RequestInit & { key?: string } = {}) =>
    fetch(`${bases[i % bases.length]}/api/v1${path}`, {
      ...init,
      headers: { 'x-api-key': init.key ?? tenant.apiKey, ...(init.body ? { 'content-type': 'application/json' } : {}), ...(init.headers as object) },
    })

  it('(a) hundreds of concurrent PATCHes over three processes leave only valid histories', async () => {
    const jobIds: number[] = []
    for (let i = 0; i < 4; i++) {
      const r = await api(i, '/jobs', { method: 'POST', body: JSON.stringify({ job_title: `Race ${i}`, customer_location_id: locationId }) })
      assert.equal(r.status, 201)
      jobIds.push(((await r.json()) as any).data.job_id)
    }
    const targets: JobStatus[] = [...JOB_STATUSES.filter((s) => s !== 'Pending' && s !== 'Closed' && s !== 'Cancelled'), 'Pending']
    const results: Array<{ jobId: number; status: number; body: any }> = []
    const requests = Array.from({ length: 360 }, (_, n) => ({ jobId: jobIds[n % jobIds.length]!, to: targets[(n * 7) % targets.length]! }))
    // 30 in flight at a time, spread round-robin over the three processes.
    let next = 0
    await Promise.all(
      Array.from({ length: 30 }, async () => {
        while (next < requests.length) {
          const n = next++
          const { jobId, to } = requests[n]!
          const r = await api(n, `/jobs?id=${jobId}`, { method: 'PATCH', body: JSON.stringify({ job_status: to }) })
          results.push({ jobId, status: r.status, body: await r.json() })
        }
      }),
    )
    assert.ok(results.every((r) => r.status === 200 || (r.status === 400 && r.body.error.code === 'invalid_status_transition')), 'only successes and refused transitions')
    for (const jobId of jobIds) {
      const history = await database.db.selectFrom('job_status_changes').select(['from_status', 'to_status']).where('job_id', '=', jobId).orderBy('change_id').execute()
      assert.equal(history[0]!.from_status, null)
      for (let i = 1; i < history.length; i++) {
        assert.equal(history[i]!.from_status, history[i - 1]!.to_status, 'each change starts where the previous ended')
        assert.ok(canTransition(history[i]!.from_status as JobStatus, history[i]!.to_status as JobStatus), 'a path through the table')
      }
      const successes = results.filter((r) => r.jobId === jobId && r.status === 200).map((r) => [r.body.data.previous_status, r.body.data.job_status])
      assert.equal(successes.length, history.length - 1, 'every success is one recorded change')
      const recorded = history.slice(1).map((h) => [h.from_status, h.to_status])
      assert.deepEqual([...successes].sort(), [...recorded].sort())
    }
  })

  it('(b) a key limited to L requests a minute gets at most L + 3 successes across the three', async () => {
    const limit = 30
    const limited = await createExtraKey(database, tenant.companyId, ['jobs:read'], limit)
    const statuses = await Promise.all(Array.from({ length: 90 }, (_, n) => api(n, '/jobs?per_page=1', { key: limited.apiKey }).then((r) => r.status)))
    const ok = statuses.filter((s) => s === 200).length
    assert.ok(ok >= limit && ok <= limit + 3, `${ok} successes for a limit of ${limit}`)
    assert.equal(statuses.filter((s) => s === 429).length, 90 - ok)
  })

  it('(c) a key revoked through the CLI is refused by all three within one second', async () => {
    const victim = await createExtraKey(database, tenant.companyId, ['jobs:read'])
    for (let i = 0; i < 3; i++) assert.equal((await api(i, '/jobs?per_page=1', { key: victim.apiKey })).status, 200)
    await run(process.execPath, ['bin/fsm.mjs', 'key', 'revoke', String(victim.keyId), '--json'], { env: { ...process.env, DATABASE_URL: databaseUrl } })
    const revokedAt = Date.now()
    const waits = await Promise.all(
      [0, 1, 2].map((i) => waitFor(async () => (await api(i, '/jobs?per_page=1', { key: victim.apiKey })).status === 401, 5000, `process ${i} refuses`)),
    )
    const slowest = Date.now() - revokedAt
    assert.ok(slowest <= 1000, `refused by all three after ${slowest} ms (${waits.join(', ')})`)
  })

  it('(d) /readyz is 503 while the database is unreachable, and recovers when it is back', async () => {
    await proxy.stop()
    for (const base of bases) {
      await waitFor(async () => (await fetch(`${base}/readyz`)).status === 503, 15_000, `${base} unready`)
      const r = await fetch(`${base}/api/v1/jobs?per_page=1`, { headers: { 'x-api-key': tenant.apiKey } })
      assert.ok(r.status === 503 || r.status === 200, `API answers ${r.status} (200 only from a cached key)`)
      if (r.status === 503) assert.equal(((await r.json()) as any).error.code, 'service_unavailable')
    }
    await proxy.start()
    for (const base of bases) await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 15_000, `${base} ready again`)
    assert.equal((await api(0, '/jobs?per_page=1')).status, 200)
  })
})
