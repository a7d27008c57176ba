/**
 * The Redis rate-limit store (API.md §3, issue 5): one budget shared by
 * the processes of an installation, never by two installations on one
 * Redis, and failing open when Redis is unreachable.
 * Runs only when REDIS_URL is set (CI sets it).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { Redis } from 'ioredis'
import { RedisRateLimitStore } from '../src/http/rate-limit-redis.ts'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.ts'
import { loadConfig, type Config } from '../src/config.ts'
import { readInstallationId } from '../src/db/installation.ts'
import { collectedLog, freshDatabase, startTestApp, type TestApp } from './helpers/app.ts'
import { until } from './helpers/wal.ts'
import { call, createTenant } from './helpers/factories.ts'

const REDIS_URL = process.env.REDIS_URL

describe('Redis rate-limit store', { skip: REDIS_URL ? false : 'REDIS_URL is not set' }, () => {
  const warnings: string[] = []
  let store: RedisRateLimitStore
  before(async () => {
    store = new RedisRateLimitStore(REDIS_URL!, (message) => warnings.push(message))
    await store.start(`test-${randomBytes(6).toString('hex')}`)
  })
  after(() => store.close())

  it('is a token bucket: the full budget passes, the next is refused with Retry-After', async () => {
    const key = `test:${randomBytes(6).toString('hex')}`
    const decisions = []
    for (let i = 0; i < 6; i++) decisions.push(await store.take(key, 5, Date.now()))
    assert.deepEqual(decisions.map((d) => d.allowed), [true, true, true, true, true, false])
    assert.deepEqual(decisions.slice(0, 5).map((d) => d.remaining), [4, 3, 2, 1, 0])
    const refused = decisions[5]!
    assert.equal(refused.limit, 5)
    assert.ok(refused.retryAfter >= 1 && refused.retryAfter <= 12, String(refused.retryAfter))
    assert.ok(refused.resetAt >= Math.floor(Date.now() / 1000))
  })

  /** A request with `tenant`'s key to each app in turn; the statuses. */
  async function alternate(apps: FastifyInstance[], apiKey: string, n: number): Promise<number[]> {
    const statuses: number[] = []
    for (let i = 0; i < n; i++) {
      const r = await call(apps[i % apps.length]!, 'GET', '/api/v1/jobs', { key: apiKey })
      statuses.push(r.status)
      if (r.status === 429) assert.ok(Number(r.headers['retry-after']) >= 1)
    }
    return statuses
  }

  it('shares one budget between the processes of one installation (two apps on one database)', async () => {
    const { database, cleanup } = await freshDatabase('sqlite')
    const config: Config = { ...loadConfig({}), logLevel: 'silent', keyCacheMs: 0, redisUrl: REDIS_URL!, rateLimitPerMinute: 1_000_000 }
    const apps = [await buildApp({ config, database, logger: false }), await buildApp({ config, database, logger: false })]
    try {
      for (const app of apps) await app.ready()
      const tenant = await createTenant(database, { rateLimitPerMinute: 4 })
      assert.deepEqual(await alternate(apps, tenant.apiKey, 6), [200, 200, 200, 200, 429, 429])
    } finally {
      for (const app of apps) await app.close()
      await database.close()
      await cleanup()
    }
  })

  it('never shares a budget between two installations on one Redis (both have key id 1)', async () => {
    const a: TestApp = await startTestApp('sqlite', { config: { redisUrl: REDIS_URL!, rateLimitPerMinute: 1_000_000 } })
    const b: TestApp = await startTestApp('sqlite', { config: { redisUrl: REDIS_URL!, rateLimitPerMinute: 1_000_000 } })
    try {
      const tenantA = await createTenant(a.database, { rateLimitPerMinute: 4 })
      const tenantB = await createTenant(b.database, { rateLimitPerMinute: 4 })
      assert.equal(tenantA.keyId, tenantB.keyId)
      assert.notEqual(await readInstallationId(a.database.db), await readInstallationId(b.database.db))
      assert.deepEqual(await alternate([a.app], tenantA.apiKey, 5), [200, 200, 200, 200, 429])
      // Installation A's key 1 has spent its budget; installation B's key 1 has all of its own.
      assert.deepEqual(await alternate([b.app], tenantB.apiKey, 5), [200, 200, 200, 200, 429])
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('fails open, and says so, when Redis is unreachable', async () => {
    const down = new RedisRateLimitStore('redis://127.0.0.1:1', (message) => warnings.push(message))
    try {
      await down.start('test-down')
      const decision = await down.take('k', 3, Date.now())
      assert.equal(decision.allowed, true)
      assert.equal(down.status().healthy, false)
      assert.ok(warnings.some((w) => w.includes('fail open')))
      const t = await startTestApp('sqlite', { rateLimits: down })
      try {
        const tenant = await createTenant(t.database, { rateLimitPerMinute: 1 })
        for (let i = 0; i < 3; i++) assert.equal((await call(t.app, 'GET', '/api/v1/jobs', { key: tenant.apiKey })).status, 200)
        const ready = await call(t.app, 'GET', '/readyz')
        assert.equal(ready.status, 200)
        assert.deepEqual(ready.body.rate_limit, { store: 'redis', status: 'unreachable (failing open)' })
      } finally {
        await t.close()
      }
    } finally {
      await down.close()
    }
  })

  it("fails open, and says why, when Redis refuses REDIS_URL's database (ioredis would go on in database 0)", { skip: REDIS_URL?.startsWith('/') ? 'REDIS_URL is a socket' : false }, async () => {
    const url = new URL(REDIS_URL!)
    url.pathname = '/9999'
    const seen: string[] = []
    const installation = `test-${randomBytes(6).toString('hex')}`
    const refused = new RedisRateLimitStore(url.toString(), (message) => seen.push(message))
    const inspector = new Redis(REDIS_URL!, { lazyConnect: true })
    try {
      await refused.start(installation)
      const decisions = []
      for (let i = 0; i < 3; i++) decisions.push(await refused.take('k', 2, Date.now()))
      assert.deepEqual(decisions.map((d) => d.allowed), [true, true, true], 'limits fail open')
      assert.deepEqual(refused.status(), { store: 'redis', healthy: false, problem: 'database 9999 refused' })
      assert.ok(seen.some((w) => w.includes("refused REDIS_URL's database 9999")), seen.join('; '))
      assert.ok(!seen.some((w) => w.includes('reachable again')), seen.join('; '))
      // Nothing was written to REDIS_URL's own database instead.
      await inspector.connect()
      assert.deepEqual(await inspector.keys(`fsm:${installation}:*`), [])
      const t = await startTestApp('sqlite', { rateLimits: refused })
      try {
        const ready = await call(t.app, 'GET', '/readyz')
        assert.equal(ready.status, 200)
        assert.deepEqual(ready.body.rate_limit, { store: 'redis', status: 'database 9999 refused (failing open)' })
      } finally {
        await t.close()
      }
    } finally {
      await refused.close()
      inspector.disconnect()
    }
  })

  it("never logs REDIS_URL's password, though Redis refuses it (ioredis puts the command's arguments on its error)", { skip: REDIS_URL?.startsWith('/') ? 'REDIS_URL is a socket' : false }, async () => {
    const password = `pw-${randomBytes(6).toString('hex')}`
    const url = new URL(REDIS_URL!)
    url.username = 'fsm-test-nobody'
    url.password = password
    const log = collectedLog()
    const t = await startTestApp('sqlite', { config: { redisUrl: url.toString() }, logger: { level: 'warn', stream: log.stream } })
    try {
      await until(() => log.lines.some((line) => String(line.msg).startsWith('redis unreachable')))
      const refusal = log.lines.find((line) => String(line.msg).startsWith('redis unreachable'))!
      const err = refusal.err as Record<string, unknown>
      assert.match(String(err.message), /WRONGPASS|AUTH|password/i, JSON.stringify(refusal))
      assert.ok(['hello', 'auth'].includes(String(err.command)), JSON.stringify(refusal))
      assert.ok(!JSON.stringify(log.lines).includes(password), JSON.stringify(log.lines))
    } finally {
      await t.close()
    }
  })

  it('is healthy again once Redis answers after hanging, though its connection never dropped', async () => {
    // A proxy that can hold Redis's replies: a hang, with no reconnect to say it is over.
    let holding = false
    const held: Array<() => void> = []
    const sockets = new Set<Socket>()
    const target = new URL(REDIS_URL!)
    const proxy = createServer((client) => {
      const upstream = connect(Number(target.port || 6379), target.hostname)
      for (const s of [client, upstream]) {
        sockets.add(s)
        s.on('error', () => undefined)
      }
      client.on('data', (bytes) => upstream.write(bytes))
      upstream.on('data', (bytes) => (holding ? held.push(() => client.write(bytes)) : client.write(bytes)))
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    const url = new URL(REDIS_URL!)
    url.hostname = '127.0.0.1'
    url.port = String((proxy.address() as AddressInfo).port)
    const seen: string[] = []
    const hanging = new RedisRateLimitStore(url.toString(), (message) => seen.push(message))
    try {
      await hanging.start(`test-${randomBytes(6).toString('hex')}`)
      assert.equal((await hanging.take('k', 3, Date.now())).remaining, 2)
      holding = true
      assert.equal((await hanging.take('k', 3, Date.now())).allowed, true, 'fails open while Redis hangs')
      assert.equal(hanging.status().healthy, false)
      holding = false
      for (const send of held.splice(0)) send()
      // The answers of the hang are late; a new one comes in time.
      const after = await hanging.take('k', 3, Date.now())
      assert.ok(after.remaining < 2, `counted by Redis again (remaining ${after.remaining})`)
      assert.equal(hanging.status().healthy, true, '/readyz said "unreachable" for good')
      assert.ok(seen.some((w) => w.includes('reachable again')), seen.join('; '))
    } finally {
      await hanging.close()
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => proxy.close(() => resolve()))
    }
  })
})
