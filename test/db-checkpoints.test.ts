/**
 * SQLite WAL checkpoints on a worker thread (src/db/checkpointer.ts), as
 * `fsm serve` runs them: the server's connection checkpoints inside a
 * COMMIT only as a backstop, the worker keeps the WAL short, the writer
 * waits for a catch-up now and then so that the WAL starts over, and a
 * worker that stops hands checkpoints back to the connection. (That the WAL stays
 * bounded under a long write load with readers is the reliability suite's
 * part 5, sqlite-wal-bounded.)
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import SqliteDatabase from 'better-sqlite3'
import { connect, type DatabaseHandle } from '../src/db/connect.ts'
import { startCheckpointer } from '../src/db/checkpointer.ts'
import { inTransaction } from '../src/db/transaction.ts'
import { until, walSequenceNow } from './helpers/wal.ts'

const PAGE = 4096

async function autocheckpoint(database: DatabaseHandle): Promise<number> {
  const { rows } = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(database.db)
  return rows[0]!.wal_autocheckpoint
}

/** About `pages` pages of new data, in one transaction. */
async function writePages(database: DatabaseHandle, pages: number): Promise<void> {
  await database.db.transaction().execute(async (trx) => {
    for (let i = 0; i < pages; i++) await sql`insert into filler (data) values (${Buffer.alloc(PAGE - 100, i % 251)})`.execute(trx)
  })
}

describe('WAL checkpoints on a worker thread (sqlite)', () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'fsm-checkpoints-'))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('the connection leaves checkpoints to the worker (but for a backstop), which copies the whole WAL back while nothing reads it', async () => {
    const file = join(dir, 'background.db')
    const database = connect(`sqlite:${file}`, { sqliteBackgroundCheckpoints: true })
    try {
      assert.ok(database.checkpointer)
      // A backstop only: well past the 1,000 pages of SQLite's default.
      assert.equal(await autocheckpoint(database), 8000)
      await sql`create table filler (id integer primary key, data blob)`.execute(database.db)
      // More than the 1,000 pages after which the connection would have checkpointed by itself.
      await writePages(database, 1500)
      await until(() => (database.checkpointer!.last?.log ?? 0) >= 1500 && database.checkpointer!.last!.checkpointed === database.checkpointer!.last!.log)
      // The next write starts the WAL over (everything was copied back): it stays short.
      await writePages(database, 10)
      await until(() => database.checkpointer!.last!.log < 100)
    } finally {
      await database.close()
    }
    // Closing stopped the worker first; the last connection removed the WAL, and the data is in the file.
    assert.equal(existsSync(`${file}-wal`), false)
    const reopened = connect(`sqlite:${file}`)
    try {
      const { rows } = await sql<{ n: number }>`select count(*) as n from filler`.execute(reopened.db)
      assert.equal(rows[0]!.n, 1510)
    } finally {
      await reopened.close()
    }
  })

  it('a catch-up asked for while no write runs copies every frame back, and the next write starts the WAL over', async () => {
    const file = join(dir, 'catch-up.db')
    const database = connect(`sqlite:${file}`, { sqliteBackgroundCheckpoints: true })
    const checkpointer = database.checkpointer!
    try {
      await sql`create table filler (id integer primary key, data blob)`.execute(database.db)
      await writePages(database, 300)
      await until(() => checkpointer.walFrames >= 300)
      const sequence = walSequenceNow(`${file}-wal`)
      assert.equal(await checkpointer.catchUp(5000), true)
      assert.equal(checkpointer.last!.checkpointed, checkpointer.last!.log)
      // Until the worker's next checkpoint finds the WAL at another size, no second catch-up is asked for.
      assert.equal(checkpointer.walFrames, 0)
      await inTransaction(database.db, (trx) => sql`insert into filler (data) values (${Buffer.alloc(10)})`.execute(trx))
      assert.equal(walSequenceNow(`${file}-wal`), sequence + 1)
      await until(() => checkpointer.last!.log < 10)
    } finally {
      await database.close()
    }
    // A catch-up after the worker has stopped does not wait for it.
    assert.equal(await checkpointer.catchUp(5000), false)
  })

  it('a catch-up that a reader keeps from copying everything says so, and is not asked for again until the WAL changes', async () => {
    const file = join(dir, 'held.db')
    const database = connect(`sqlite:${file}`, { sqliteBackgroundCheckpoints: true })
    const checkpointer = database.checkpointer!
    const reader = new SqliteDatabase(file, { readonly: true })
    try {
      await sql`create table filler (id integer primary key, data blob)`.execute(database.db)
      await writePages(database, 50)
      // A reader's snapshot: frames written after it cannot be copied back while it lasts.
      reader.exec('begin')
      reader.prepare('select count(*) from filler').get()
      await writePages(database, 50)
      assert.equal(await checkpointer.catchUp(5000), false)
      assert.ok(checkpointer.last!.checkpointed < checkpointer.last!.log, JSON.stringify(checkpointer.last))
      assert.equal(checkpointer.walFrames, 0, 'not asked for again at once')
      // Writes go on (nothing waits for the reader).
      await inTransaction(database.db, (trx) => sql`insert into filler (data) values (${Buffer.alloc(10)})`.execute(trx))
      reader.exec('commit')
      // The WAL changed: the next periodic checkpoint reports it, and a catch-up may be asked for again.
      await until(() => checkpointer.walFrames > 0)
      assert.equal(await checkpointer.catchUp(5000), true)
    } finally {
      reader.close()
      await database.close()
    }
  })

  it('under a steady stream of grouped writes, the writer waits for catch-ups and the WAL starts over again and again', async () => {
    const file = join(dir, 'steady.db')
    const database = connect(`sqlite:${file}`, { sqliteBackgroundCheckpoints: true })
    const checkpointer = database.checkpointer!
    // Count the catch-ups the group committer asks for (and whether they copied everything).
    const catchUp = checkpointer.catchUp.bind(checkpointer)
    let copiedAll = 0
    checkpointer.catchUp = async (timeoutMs) => {
      const copied = await catchUp(timeoutMs)
      if (copied) copiedAll++
      return copied
    }
    const wal = `${file}-wal`
    try {
      await sql`create table filler (id integer primary key, data blob)`.execute(database.db)
      const firstSequence = walSequenceNow(wal)
      // Eight writers, each always with a write queued: groups follow one
      // another with no pause in which the worker could copy everything back
      // on its own. A catch-up is asked for once the worker has seen 4,000
      // pages in the WAL: writing goes on until three catch-ups copied it
      // all, or 60,000 pages (usually 3 or 4 come in 20,000, but a machine
      // whose writer outruns the worker's 50 ms ticks can need more; a fixed
      // 20,000 failed now and then in CI).
      const row = Buffer.alloc(PAGE - 100, 7)
      let pagesLeft = 60_000
      let rowsWritten = 0
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (pagesLeft > 0 && copiedAll < 3) {
            pagesLeft -= 20
            await inTransaction(database.db, async (trx) => {
              for (let i = 0; i < 20; i++) await sql`insert into filler (data) values (${row})`.execute(trx)
            })
            rowsWritten += 20
          }
        }),
      )
      const restarts = walSequenceNow(wal) - firstSequence
      assert.ok(copiedAll >= 2, `${copiedAll} catch-ups copied the whole WAL in ${rowsWritten} pages`)
      assert.ok(restarts >= 2, `the WAL was started over ${restarts} times`)
      assert.ok(statSync(wal).size < 64 * 1024 * 1024, `the WAL grew to ${statSync(wal).size} bytes`)
      const { rows } = await sql<{ n: number }>`select count(*) as n from filler`.execute(database.db)
      assert.equal(Number(rows[0]!.n), rowsWritten)
    } finally {
      await database.close()
    }
  })

  it('other connections (the CLI, tests) checkpoint inside COMMIT as SQLite does by default', async () => {
    const database = connect(`sqlite:${join(dir, 'default.db')}`)
    try {
      assert.equal(database.checkpointer, undefined)
      assert.equal(await autocheckpoint(database), 1000)
    } finally {
      await database.close()
    }
  })

  it('a worker that stops on its own is reported, so the connection can checkpoint again', async () => {
    let stopped: unknown = 'not called'
    // A database the worker cannot open: it fails at once.
    const checkpointer = startCheckpointer(join(dir, 'no-such-dir', 'x.db'), (error) => {
      stopped = error
    })
    await until(() => stopped !== 'not called')
    assert.ok(stopped instanceof Error, String(stopped))
    assert.equal(checkpointer.last, undefined)
    await checkpointer.stop()
  })
})
