/**
 * Write stalls on SQLite (watchWriteStalls, src/db/transaction.ts): a group
 * of writes that waits long for a checkpoint catch-up, for the write lock
 * another process holds, or in its COMMIT is reported, and the server logs
 * it as a warning (app.ts), so an operator can tell why writes were slow.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { logWriteStall } from '../src/app.ts'
import { connect, type DatabaseHandle } from '../src/db/connect.ts'
import { inTransaction, watchWriteStalls, type WriteStall } from '../src/db/transaction.ts'
import { collectedLog, startTestApp } from './helpers/app.ts'
import { createBasics, createTenant } from './helpers/factories.ts'
import { until } from './helpers/wal.ts'

const DRIVER = createRequire(import.meta.url).resolve('better-sqlite3')

/**
 * Another process takes SQLite's write lock on `file` and holds it for
 * `ms`, as the CLI or a backup would; resolves once it holds it, with a
 * promise of its exit.
 */
async function holdWriteLock(file: string, ms: number): Promise<{ exited: Promise<number | null> }> {
  const source = `
    const Database = require(${JSON.stringify(DRIVER)})
    const db = new Database(process.argv[1])
    db.pragma('busy_timeout = 5000')
    db.exec('begin immediate')
    process.stdout.write('held\\n')
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.argv[2]))
    db.exec('commit')
    db.close()`
  const child = spawn(process.execPath, ['-e', source, file, String(ms)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve())
    child.once('exit', (code) => reject(new Error(`the lock holder exited (${code}) before holding the lock`)))
  })
  return { exited }
}

const insertNote = (database: DatabaseHandle, text: string) =>
  inTransaction(database.db, (trx) => sql`insert into notes (text) values (${text})`.execute(trx))

describe('write stalls (sqlite)', () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'fsm-stalls-'))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  async function database(name: string, options: Parameters<typeof connect>[1] = {}): Promise<DatabaseHandle & { file: string }> {
    const file = join(dir, `${name}.db`)
    const handle = connect(`sqlite:${file}`, options)
    await sql`create table notes (id integer primary key, text text)`.execute(handle.db)
    return Object.assign(handle, { file })
  }

  it('each COMMIT is timed: a watcher at 0 ms hears every group with its writes, one at a minute hears nothing', async () => {
    const db = await database('commits')
    try {
      const heard: WriteStall[] = []
      watchWriteStalls(db.db, 60_000, (stall) => heard.push(stall))
      await Promise.all(Array.from({ length: 5 }, (_, i) => insertNote(db, `quiet ${i}`)))
      assert.equal(heard.length, 0)
      watchWriteStalls(db.db, 0, (stall) => heard.push(stall))
      await Promise.all(Array.from({ length: 5 }, (_, i) => insertNote(db, `heard ${i}`)))
      // Each group takes the write lock, then commits: both heard, every write in a group whose COMMIT was.
      const commits = heard.filter((stall) => stall.phase === 'commit')
      assert.ok(commits.length >= 1 && commits.every((stall) => stall.waitedMs >= 0), JSON.stringify(heard))
      assert.equal(heard.filter((stall) => stall.phase === 'write lock').length, commits.length, JSON.stringify(heard))
      assert.equal(commits.reduce((sum, stall) => sum + stall.writes, 0), 5)
    } finally {
      await db.close()
    }
  })

  it('a watcher that throws fails no write', async () => {
    const db = await database('throwing')
    try {
      watchWriteStalls(db.db, 0, () => {
        throw new Error('a broken watcher')
      })
      await insertNote(db, 'kept')
      const { rows } = await sql<{ text: string }>`select text from notes`.execute(db.db)
      assert.deepEqual(rows, [{ text: 'kept' }])
    } finally {
      await db.close()
    }
  })

  it('writes waiting for the write lock another process holds are a stall of the write lock, as long as it was held', async () => {
    const db = await database('locked')
    try {
      const heard: WriteStall[] = []
      watchWriteStalls(db.db, 200, (stall) => heard.push(stall))
      const holder = await holdWriteLock(db.file, 500)
      const started = performance.now()
      await insertNote(db, 'after the lock')
      const waited = performance.now() - started
      assert.equal(await holder.exited, 0)
      assert.equal(heard.length, 1, JSON.stringify(heard))
      const [stall] = heard
      assert.equal(stall!.phase, 'write lock')
      assert.equal(stall!.writes, 1)
      assert.ok(stall!.waitedMs >= 300 && stall!.waitedMs <= waited, `${stall!.waitedMs} ms heard, ${waited} ms waited`)
    } finally {
      await db.close()
    }
  })

  it('while writes wait for the write lock another process holds, the event loop runs: timers fire and reads are answered', async () => {
    const db = await database('waiting')
    try {
      await insertNote(db, 'before the lock')
      const holder = await holdWriteLock(db.file, 600)
      let written = false
      const write = insertNote(db, 'after the lock').then(() => (written = true))
      const started = performance.now()
      // SQLite's own wait (busy_timeout) sleeps inside the statement: this timer and read would come after the write.
      await new Promise((resolve) => setTimeout(resolve, 20))
      const timerLate = performance.now() - started - 20
      const rows = await sql<{ n: number }>`select count(*) as n from notes`.execute(db.db)
      assert.equal(written, false, 'the lock was held for 600 ms: the write should still be waiting')
      assert.ok(timerLate < 200, `a 20 ms timer fired ${Math.round(timerLate)} ms late`)
      assert.equal(Number(rows.rows[0]!.n), 1, 'the read sees what was committed before the lock')
      await write
      assert.equal(await holder.exited, 0)
      assert.ok(performance.now() - started >= 300, 'the write waited for the lock')
    } finally {
      await db.close()
    }
  })

  it('each write waits for the write lock as long as busy_timeout from when it came, then fails as busy (503) and leaves nothing', async () => {
    const db = await database('too-long')
    try {
      // Read by the group committer when it is made, at the first write.
      await sql`pragma busy_timeout = 300`.execute(db.db)
      const heard: WriteStall[] = []
      watchWriteStalls(db.db, 200, (stall) => heard.push(stall))
      const holder = await holdWriteLock(db.file, 1500)
      const waitedFor = async (text: string) => {
        const started = performance.now()
        await assert.rejects(insertNote(db, text), (error: { code?: string }) => error.code === 'SQLITE_BUSY')
        return performance.now() - started
      }
      const first = waitedFor('never')
      await new Promise((resolve) => setTimeout(resolve, 200))
      // Queued while the first waits: it gets its own 300 ms, not what is left of the first's.
      const second = waitedFor('never either')
      const waited = [await first, await second]
      for (const ms of waited) assert.ok(ms >= 250 && ms < 1400, `gave up after ${waited.map(Math.round).join(' and ')} ms`)
      assert.equal(await holder.exited, 0)
      const rows = await sql<{ n: number }>`select count(*) as n from notes where text like 'never%'`.execute(db.db)
      assert.equal(Number(rows.rows[0]!.n), 0)
      // Each refusal is a stall of the write lock, which the log names (only a wait that ended with the lock was heard).
      const refusals = heard.filter((stall) => stall.refused)
      assert.deepEqual(refusals.map((stall) => [stall.phase, stall.refused]), [['write lock', 1], ['write lock', 1]], JSON.stringify(heard))
    } finally {
      await db.close()
    }
  })

  it('with background checkpoints, writes waiting for a catch-up are a stall of the checkpoint catch-up', async () => {
    const db = await database('catch-up', { sqliteBackgroundCheckpoints: true })
    try {
      const heard: WriteStall[] = []
      // More than the 2,000 WAL pages after which the writer waits for a catch-up (connect.ts).
      const page = 'x'.repeat(4000)
      await inTransaction(db.db, async (trx) => {
        for (let i = 0; i < 2100; i++) await sql`insert into notes (text) values (${page})`.execute(trx)
      })
      await until(() => db.checkpointer!.walFrames >= 2000, 10_000)
      watchWriteStalls(db.db, 0, (stall) => heard.push(stall))
      await insertNote(db, 'after the catch-up')
      assert.deepEqual(
        heard.map((stall) => stall.phase),
        ['checkpoint catch-up', 'write lock', 'commit'],
      )
      assert.equal(heard[0]!.writes, 1, 'the one write queued waited for it')
    } finally {
      await db.close()
    }
  })
})

describe('write stalls in the server log', () => {
  it('one warning a second at most, with the stalls between counted in the next', async () => {
    const lines: Array<{ fields: Record<string, unknown>; message: string }> = []
    const log = logWriteStall({ warn: (fields: Record<string, unknown>, message: string) => lines.push({ fields, message }) } as never)
    log({ phase: 'commit', waitedMs: 1000.4, writes: 12 })
    log({ phase: 'checkpoint catch-up', waitedMs: 300, writes: 3 })
    log({ phase: 'write lock', waitedMs: 250, writes: 1 })
    assert.deepEqual(lines, [{ fields: { phase: 'commit', waited_ms: 1000, writes: 12, unlogged_before: 0 }, message: 'writes stalled' }])
    await new Promise((resolve) => setTimeout(resolve, 1050))
    log({ phase: 'write lock', waitedMs: 400, writes: 2 })
    assert.equal(lines.length, 2)
    assert.deepEqual(lines[1]!.fields, { phase: 'write lock', waited_ms: 400, writes: 2, unlogged_before: 2 })
  })

  it('a write that waited for the lock another process held is answered, and the stall is a warning in the log', async () => {
    const { stream, lines } = collectedLog()
    const t = await startTestApp('sqlite', { logger: { level: 'warn', stream } })
    try {
      const tenant = await createTenant(t.database)
      const { locationId } = await createBasics(t.app, tenant.apiKey)
      const holder = await holdWriteLock(t.database.description.slice('sqlite:'.length), 500)
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/jobs',
        headers: { 'x-api-key': tenant.apiKey },
        payload: { job_title: 'Waited for the lock', customer_location_id: locationId },
      })
      assert.equal(res.statusCode, 201, res.body)
      assert.equal(await holder.exited, 0)
      const stalls = lines.filter((line) => line.msg === 'writes stalled')
      assert.equal(stalls.length, 1, JSON.stringify(lines))
      assert.equal(stalls[0]!.level, 40)
      assert.equal(stalls[0]!.phase, 'write lock')
      assert.ok(Number(stalls[0]!.waited_ms) >= 300, JSON.stringify(stalls[0]))
    } finally {
      await t.close()
    }
  })
})
