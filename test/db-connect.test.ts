/**
 * Opening a SQLite database by path: the file's missing directories are
 * made, and a path whose directory cannot be made is a clear error at once.
 * (Node's recursive mkdir spins forever on Linux when a parent exists but
 * cannot hold a child: a dangling symlink, a path under /proc.)
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { connect } from '../src/db/connect.ts'
import { migrateToLatest } from '../src/db/migrator.ts'

describe('opening a SQLite database file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fsm-connect-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('makes the directories the file is in, and opens it again once they exist', async () => {
    const url = `sqlite:${join(dir, 'a', 'b', 'c', 'fsm.db')}`
    const first = connect(url)
    try {
      assert.ok((await migrateToLatest(first.db)).length > 0)
    } finally {
      await first.close()
    }
    const again = connect(url)
    try {
      assert.deepEqual(await migrateToLatest(again.db), [])
    } finally {
      await again.close()
    }
  })

  it('keeps temporary storage in files (temp_store = FILE): with MEMORY a savepoint journal of a large touch of jobs held ~580 MB', async () => {
    const database = connect(`sqlite:${join(dir, 'temp-store.db')}`)
    try {
      const { rows } = await sql<{ temp_store: number }>`pragma temp_store`.execute(database.db)
      assert.deepEqual(rows, [{ temp_store: 1 }])
    } finally {
      await database.close()
    }
  })

  it('a file that cannot be opened is an error naming it', () => {
    // Its directory exists; the file's name is a directory's.
    const path = join(dir, 'a-directory')
    mkdirSync(path)
    assert.throws(() => connect(`sqlite:${path}`), (error: Error & { code?: string }) => {
      assert.equal(error.message, `cannot open the SQLite database ${path}: unable to open database file`)
      assert.equal(error.code, 'SQLITE_CANTOPEN')
      return true
    })
  })

  it('a file that is not a SQLite database is an error naming it, and is left as it was', () => {
    const path = join(dir, 'not-a-database.db')
    const junk = Buffer.from('these bytes are not a SQLite database header, and there are more than 100 of them'.repeat(4))
    writeFileSync(path, junk)
    assert.throws(() => connect(`sqlite:${path}`), (error: Error & { code?: string }) => {
      assert.equal(error.message, `cannot open the SQLite database ${path}: file is not a database`)
      assert.equal(error.code, 'SQLITE_NOTADB')
      return true
    })
    assert.deepEqual(readFileSync(path), junk)
  })

  it('a directory that cannot be made is refused at once, naming it', () => {
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'))
    writeFileSync(join(dir, 'plain'), '')
    const cases: Array<[string, RegExp]> = [
      [join(dir, 'dangling', 'sub', 'fsm.db'), /ENOENT: .*dangling\/sub/],
      [join(dir, 'plain', 'sub', 'fsm.db'), /ENOTDIR: .*plain\/sub/],
    ]
    if (existsSync('/proc/self')) cases.push(['/proc/fsm-none/sub/fsm.db', /ENOENT: .*\/proc\/fsm-none/])
    // In a child process with a time limit: a regression would spin in
    // mkdir, synchronously, and hang this whole test run instead of failing.
    const script = `import { connect } from './src/db/connect.ts'
      for (const path of ${JSON.stringify(cases.map(([path]) => path))}) {
        try { connect('sqlite:' + path); console.log('opened') } catch (error) { console.log(error.message) }
      }`
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 })
    assert.equal(child.signal, null, `connect did not return within 20 s (${child.signal})`)
    const lines = child.stdout.trim().split('\n')
    assert.equal(lines.length, cases.length, child.stdout + child.stderr)
    cases.forEach(([path, message], i) => {
      assert.match(lines[i]!, /^cannot create the SQLite database's directory: /, path)
      assert.match(lines[i]!, message, path)
    })
  })
})
