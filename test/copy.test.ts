/**
 * `fsm copy` (issue 5): every record moves with its id, the target's
 * sequences continue after them, answers are identical on both sides, and
 * a non-empty target is refused. SQLite → SQLite always; SQLite →
 * PostgreSQL → SQLite when FSM_TEST_DATABASE_URL is set.
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import { CopyError, copyDatabase, TABLES } from '../src/db/copy.ts'
import type { DatabaseHandle, Dialect } from '../src/db/connect.ts'
import { seedDemo } from '../src/modules/demo/demo.service.ts'
import { DIALECTS, freshDatabase } from './helpers/app.ts'
import SqliteDatabase from 'better-sqlite3'
import { call } from './helpers/factories.ts'

const config = { ...loadConfig({}), logLevel: 'silent', keyCacheMs: 0 }

/** Every answer an integrator could see, minus request ids. */
async function snapshot(database: DatabaseHandle, key: string) {
  const app = await buildApp({ config, database, logger: false })
  try {
    const out: Record<string, unknown> = {}
    for (const path of ['/api/v1/jobs?per_page=100', '/api/v1/customers', '/api/v1/locations', '/api/v1/technicians', '/api/v1/assets']) {
      const r = await call(app, 'GET', path, { key })
      assert.equal(r.status, 200, path)
      out[path] = r.body.data
      for (const item of r.body.data as Array<Record<string, number>>) {
        const id = item.job_id ?? item.customer_id ?? item.customer_location_id ?? item.technician_id ?? item.asset_id
        const one = await call(app, 'GET', `${path.split('?')[0]}?id=${id}`, { key })
        out[`${path}#${id}`] = [one.body.data, one.headers.etag]
        if (item.job_id) out[`history#${id}`] = (await call(app, 'GET', `/api/v1/jobs/history?id=${id}`, { key })).body.data
      }
    }
    return out
  } finally {
    await app.close()
  }
}

async function counts(database: DatabaseHandle) {
  const result: Record<string, number> = {}
  for (const [table] of TABLES) {
    const row = await database.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
    result[table] = Number(row.n)
  }
  return result
}

describe('fsm copy', () => {
  const cleanups: Array<() => Promise<void>> = []
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup()
  })

  async function fresh(dialect: Dialect) {
    const handle = await freshDatabase(dialect)
    cleanups.push(async () => {
      await handle.database.close()
      await handle.cleanup()
    })
    return handle.database
  }

  const routes: Array<[Dialect, Dialect]> = DIALECTS.includes('postgres') ? [['sqlite', 'postgres'], ['postgres', 'sqlite']] : [['sqlite', 'sqlite']]

  it(`moves everything with its ids (${routes.map((r) => r.join(' → ')).join(', ')})`, async () => {
    let source = await fresh('sqlite')
    const demo = await seedDemo(source.db)
    const expected = await snapshot(source, demo.api_key)
    const expectedCounts = await counts(source)
    assert.ok(expectedCounts.jobs! >= 9 && expectedCounts.job_status_changes! > expectedCounts.jobs!)

    for (const [, toDialect] of routes) {
      const target = await fresh(toDialect)
      const copied = await copyDatabase(source.db, target.db, 4)
      assert.deepEqual(copied, expectedCounts)
      assert.deepEqual(await counts(target), expectedCounts)
      assert.deepEqual(await snapshot(target, demo.api_key), expected, `identical answers after copying to ${toDialect}`)
      source = target
    }

    // New records continue after the copied ids.
    const app = await buildApp({ config, database: source, logger: false })
    try {
      const job = await call(app, 'POST', '/api/v1/jobs', { key: demo.api_key, body: { job_title: 'After copy', customer_location_id: 1 } })
      assert.equal(job.status, 201)
      assert.equal(job.body.data.job_id, expectedCounts.jobs! + 1)
    } finally {
      await app.close()
    }
  })

  it(`reads each batch from where the last ended, by its key, not by OFFSET (${routes.map((r) => r.join(' → ')).join(', ')})`, async () => {
    let source = await fresh('sqlite')
    const demo = await seedDemo(source.db)
    // Keys of two columns, one of them text, across batch boundaries.
    const key = await source.db.selectFrom('api_keys').select('key_id').where('company_id', '=', demo.company_id).executeTakeFirstOrThrow()
    await source.db.insertInto('idempotency_keys').values(['b', 'A', 'a', 'B', 'a-1', 'Z', 'é', 'e\u0301', '~'].map((name, i) => ({ key_id: key.key_id, idempotency_key: name, fingerprint: 'f', state: 'done' as const, response_status: 201, response_body: '{}', response_headers: '{}', request_id: `r${i}`, created_at: 1, locked_at: 1 }))).execute()
    const rows = async (database: DatabaseHandle) => {
      const all: Record<string, unknown[]> = {}
      for (const [table] of TABLES) {
        const list = await database.db.selectFrom(table).selectAll().execute()
        all[table] = list.map((row) => JSON.stringify(row, Object.keys(row).sort())).sort()
        assert.ok(all[table]!.length > (['jobs', 'job_assets', 'job_status_changes', 'idempotency_keys'].includes(table) ? 3 : 0), `${table}: rows (in more than one batch of 3 for the larger tables)`)
      }
      return all
    }
    const expected = await rows(source)
    for (const [, toDialect] of routes) {
      const statements: string[] = []
      const watched = source.db.withPlugin({
        transformQuery: (args) => {
          if (args.node.kind === 'SelectQueryNode') statements.push(JSON.stringify(args.node))
          return args.node
        },
        transformResult: async (args) => args.result,
      })
      const target = await fresh(toDialect)
      await copyDatabase(watched, target.db, 3)
      assert.ok(statements.length > 20)
      assert.ok(statements.every((s) => !s.includes('"offset"')), 'no batch is read by OFFSET')
      assert.deepEqual(await rows(target), expected, `every row of every table, on ${toDialect}`)
      source = target
    }
  })

  it('refuses a target that holds data', async () => {
    const source = await fresh('sqlite')
    await seedDemo(source.db)
    const target = await fresh(DIALECTS.includes('postgres') ? 'postgres' : 'sqlite')
    await seedDemo(target.db)
    const before = await counts(target)
    await assert.rejects(copyDatabase(source.db, target.db), CopyError)
    assert.deepEqual(await counts(target), before)
  })
  it('a NUL an earlier version stored in an email is named, record and field, before PostgreSQL refuses it', { skip: DIALECTS.includes('postgres') ? false : 'FSM_TEST_DATABASE_URL is not set' }, async () => {
    const source = await fresh('sqlite')
    await seedDemo(source.db)
    // As versions before the first 2026-12-02 session stored an email sent with a NUL (SQLite keeps it).
    const customer = await source.db.selectFrom('customers').select('customer_id').orderBy('customer_id', 'desc').executeTakeFirstOrThrow()
    await source.db.updateTable('customers').set({ customer_email: 'a\u0000b@example.com' }).where('customer_id', '=', customer.customer_id).execute()
    const target = await fresh('postgres')
    // PostgreSQL's own word was 'invalid byte sequence for encoding "UTF8": 0x00', naming no table, record or field.
    await assert.rejects(copyDatabase(source.db, target.db, 4), (error: Error) => {
      assert.ok(error instanceof CopyError, error.message)
      assert.equal(error.message.split(':')[0], `customers customer_id ${customer.customer_id}`)
      assert.match(error.message, /customer_email holds a NUL character \(U\+0000\).*PUT \/api\/v1\/customers\?id=\d+.*nothing was kept/)
      return true
    })
    assert.ok(Object.values(await counts(target)).every((n) => n === 0), 'nothing was kept')
  })

  it(`a source written to while it is copied is copied as it was at one moment, and checked before the target commits (sqlite → ${routes.map((r) => r[1]).join(', ')})`, async () => {
    const handle = await freshDatabase('sqlite')
    const source = handle.database
    // A server writing meanwhile, on a connection of its own: a history entry before each of the copy's statements.
    const writer = new SqliteDatabase(handle.url.slice('sqlite:'.length))
    const write = writer.prepare(`insert into job_status_changes (job_id, company_id, from_status, to_status, changed_at) select job_id, company_id, 'Pending', 'Pending', 0 from jobs limit 1`)
    cleanups.push(async () => {
      writer.close()
      await source.close()
      await handle.cleanup()
    })
    await seedDemo(source.db)
    let written = 0
    const writing = source.db.withPlugin({
      transformQuery: (args) => {
        write.run()
        written++
        return args.node
      },
      transformResult: async (args) => args.result,
    })
    for (const [, toDialect] of routes) {
      const target = await fresh(toDialect)
      const before = written
      const copied = await copyDatabase(writing, target.db, 2)
      assert.ok(written - before > 10, 'written during the copy')
      assert.deepEqual(await counts(target), copied, 'the target holds what the copy read')
      assert.ok((await counts(source)).job_status_changes! > copied.job_status_changes!, 'the source moved on after the moment copied')
    }
  })
})
