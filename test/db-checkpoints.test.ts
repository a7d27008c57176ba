/**
 * SQLite WAL checkpoints on a worker thread (src/db/checkpointer.ts), as
 * `fsm serve` runs them: the server's connection checkpoints inside a
 * COMMIT only as a backstop, the worker keeps the WAL short, and a worker
 * that stops hands checkpoints back to the connection. (That the WAL stays
 * bounded under a long write load with readers is the reliability suite's
 * part 5, sqlite-wal-bounded.)
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { connect, type DatabaseHandle } from '../src/db/connect.ts'
import { startCheckpointer } from '../src/db/checkpointer.ts'

const PAGE = 4096

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

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
      assert.equal(await autocheckpoint(database), 3000)
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
