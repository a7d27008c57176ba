/**
 * The `fsm` command line as API.md §6 documents it, run as a user runs it
 * (`node bin/fsm.mjs …` in a child process, on a SQLite file of its own):
 * each command's `--json` document, text for people without it, and every
 * error on stderr with exit code 1: `fsm: …` for people, and with `--json`
 * one JSON document `{"error": …}`, usage errors included.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { connect as connectSocket, createServer, type AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createHash, randomBytes } from 'node:crypto'
import SqliteDatabase from 'better-sqlite3'
import pg from 'pg'
import { PG_URL } from './helpers/app.ts'
import { until } from './helpers/wal.ts'
import { SCOPES } from '../src/modules/api-keys/scopes.ts'
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import { connect } from '../src/db/connect.ts'
import { migratorFor } from '../src/db/migrator.ts'
import { sql } from 'kysely'
import { call, createAssetVia, createBasics, createJobVia } from './helpers/factories.ts'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const run = promisify(execFile)

interface Outcome {
  code: number
  stdout: string
  stderr: string
}

describe('fsm, the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fsm-cli-'))
  const env = { ...process.env, DATABASE_URL: `sqlite:${join(dir, 'cli.db')}` }
  after(() => rmSync(dir, { recursive: true, force: true }))

  async function fsm(...args: string[]): Promise<Outcome> {
    return fsmOn(env, ...args)
  }

  /** `fsm` with another environment (another database). */
  async function fsmOn(environment: NodeJS.ProcessEnv, ...args: string[]): Promise<Outcome> {
    try {
      const { stdout, stderr } = await run(process.execPath, ['bin/fsm.mjs', ...args], { cwd: ROOT, env: environment, timeout: 60_000 })
      return { code: 0, stdout, stderr }
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string }
      if (typeof failed.code !== 'number') throw error
      return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' }
    }
  }

  /** A command that must succeed with `--json`: its one JSON document. */
  async function json(...args: string[]): Promise<Record<string, any>> {
    const outcome = await fsm(...args, '--json')
    assert.equal(outcome.code, 0, `fsm ${args.join(' ')}: ${outcome.stderr}`)
    assert.equal(outcome.stderr, '')
    const lines = outcome.stdout.trimEnd().split('\n')
    assert.equal(lines.length, 1, `one JSON line: ${outcome.stdout}`)
    return JSON.parse(lines[0]!)
  }

  /** A command that must fail, run without `--json`: exit 1, nothing on stdout, `fsm: …` on stderr. */
  async function refusedAsText(args: string[], message: RegExp): Promise<string> {
    const text = await fsm(...args)
    assert.equal(text.code, 1, `fsm ${args.join(' ')}`)
    assert.equal(text.stdout, '')
    assert.match(text.stderr, message)
    return text.stderr
  }

  /** A command that must fail, run with `--json`: exit 1, nothing on stdout, one JSON document `{"error": …}` on stderr. */
  async function refused(args: string[], message: RegExp): Promise<void> {
    const withJson = await fsm(...args, '--json')
    assert.equal(withJson.code, 1, `fsm ${args.join(' ')} --json`)
    assert.equal(withJson.stdout, '')
    const lines = withJson.stderr.trimEnd().split('\n')
    assert.equal(lines.length, 1, `one JSON line, no help text: ${withJson.stderr}`)
    const document = JSON.parse(lines[0]!) as { error: unknown }
    assert.deepEqual(Object.keys(document), ['error'])
    assert.equal(typeof document.error, 'string')
    assert.match(document.error as string, message)
  }

  let companyId: number
  let keyId: number
  let apiKey: string

  before(async () => {
    // A database of its own, migrated from nothing.
    const migrated = await json('migrate')
    assert.ok(Array.isArray(migrated.applied) && migrated.applied.length > 0, JSON.stringify(migrated))
  })

  it('migrate applies nothing twice', async () => {
    assert.deepEqual(await json('migrate'), { applied: [] })
    const text = await fsm('migrate')
    assert.equal(text.code, 0)
    assert.equal(text.stdout, 'database is up to date\n')
  })

  it('processes migrating one new SQLite file at once all succeed, and the migrations are applied once', async () => {
    // Kysely migrates SQLite outside a transaction and without a lock: one of two processes failed with 'table "companies" already exists'.
    const shared = { ...process.env, DATABASE_URL: `sqlite:${join(dir, 'raced', 'fsm.db')}` }
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => fsmOn(shared, 'migrate', '--json')))
    for (const outcome of outcomes) assert.equal(outcome.code, 0, outcome.stderr)
    const applied = outcomes.map((outcome) => (JSON.parse(outcome.stdout) as { applied: string[] }).applied)
    assert.equal(applied.filter((names) => names.length > 0).length, 1, JSON.stringify(applied))
    assert.ok(applied.flat().length >= 8, JSON.stringify(applied))
    assert.equal((await fsmOn(shared, 'migrate')).stdout, 'database is up to date\n')
  })

  it('company create, key create, key list and key revoke print the documented documents', async () => {
    const company = await json('company', 'create', '--name', 'Acme Heating', '--modules', 'assets')
    assert.deepEqual(Object.keys(company), ['company_id'])
    companyId = company.company_id
    assert.ok(Number.isInteger(companyId))

    const created = await json('key', 'create', '--company', String(companyId), '--scopes', 'jobs:read,jobs:write', '--name', 'ERP sync', '--rate-limit', '120')
    assert.deepEqual(Object.keys(created).sort(), ['api_key', 'key_id'])
    keyId = created.key_id
    apiKey = created.api_key
    assert.match(apiKey, new RegExp(`^fsm_${keyId}_`))

    const listed = await fsm('key', 'list', '--company', String(companyId), '--json')
    assert.equal(listed.code, 0)
    assert.ok(!listed.stdout.includes(apiKey), 'a key is shown once, never listed')
    const { keys } = JSON.parse(listed.stdout) as { keys: Array<Record<string, unknown>> }
    assert.equal(keys.length, 1)
    const [key] = keys
    for (const field of ['key_id', 'name', 'prefix', 'scopes', 'created_at', 'last_used_at', 'revoked_at']) assert.ok(Object.hasOwn(key!, field), field)
    assert.equal(key!.key_id, keyId)
    assert.equal(key!.name, 'ERP sync')
    assert.deepEqual(key!.scopes, ['jobs:read', 'jobs:write'])
    assert.ok(apiKey.startsWith(String(key!.prefix)))
    assert.equal(key!.last_used_at, null)
    assert.equal(key!.revoked_at, null)

    const revoked = await json('key', 'revoke', String(keyId))
    assert.deepEqual(Object.keys(revoked).sort(), ['key_id', 'revoked_at'])
    assert.equal(revoked.key_id, keyId)
    assert.match(revoked.revoked_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    const listedAgain = JSON.parse((await fsm('key', 'list', '--company', String(companyId), '--json')).stdout) as { keys: Array<Record<string, unknown>> }
    assert.equal(listedAgain.keys[0]!.revoked_at, revoked.revoked_at)
  })

  it("company list and company update: a company's plan and modules change, and its keys see it (errors.md's remedy for plan_upgrade_required)", async () => {
    const { company_id: id } = await json('company', 'create', '--name', 'Starter Co', '--plan', 'starter')
    const { api_key: key } = await json('key', 'create', '--company', String(id), '--scopes', 'jobs:read,assets:read')
    const database = connect(env.DATABASE_URL)
    const app = await buildApp({ config: { ...loadConfig({}), logLevel: 'silent', keyCacheMs: 0 }, database, logger: false })
    try {
      const status = async (path: string) => (await app.inject({ method: 'GET', url: path, headers: { 'x-api-key': key } })).statusCode
      assert.equal(await status('/api/v1/jobs'), 403)
      const updated = await json('company', 'update', String(id), '--plan', 'enterprise')
      assert.deepEqual(updated, { company_id: id, name: 'Starter Co', plan: 'enterprise', modules: [], created_at: updated.created_at })
      assert.equal(await status('/api/v1/jobs'), 200)
      assert.equal(await status('/api/v1/assets'), 403)
      assert.deepEqual((await json('company', 'update', String(id), '--modules', 'assets', '--name', 'Grown Co')).modules, ['assets'])
      assert.equal(await status('/api/v1/assets'), 200)
      const { companies } = await json('company', 'list')
      assert.deepEqual(
        companies.find((c: { company_id: number }) => c.company_id === id),
        { company_id: id, name: 'Grown Co', plan: 'enterprise', modules: ['assets'], created_at: updated.created_at },
      )
      await refused(['company', 'update', String(id)], /nothing to change: give --name, --plan or --modules/)
      await refused(['company', 'update', '999999', '--plan', 'starter'], /company 999999 not found/)
      await refused(['company', 'update', String(id), '--plan', 'gold'], /plan must be one of/)
    } finally {
      await app.close()
      await database.close()
    }
  })

  it("company update: when the assets module comes or goes, the jobs with asset links move their updated_at (their assets show or become []), and no other job does", async () => {
    const { company_id: id } = await json('company', 'create', '--name', 'Linked Co', '--modules', 'assets')
    const { api_key: key } = await json('key', 'create', '--company', String(id), '--scopes', SCOPES.join(','))
    const database = connect(env.DATABASE_URL)
    const app = await buildApp({ config: { ...loadConfig({}), logLevel: 'silent', keyCacheMs: 0 }, database, logger: false })
    try {
      const { locationId } = await createBasics(app, key)
      const assetId = await createAssetVia(app, key, 'LINK-1')
      const linked = await createJobVia(app, key, locationId, { asset_ids: [assetId] })
      const plain = await createJobVia(app, key, locationId)
      const job = async (jobId: number) => (await call(app, 'GET', `/api/v1/jobs?id=${jobId}`, { key })).body.data
      // Timestamps have one-second resolution: both jobs set a minute back, so a move shows.
      await database.db.updateTable('jobs').set({ updated_at: sql<number>`updated_at - 60` }).where('company_id', '=', id).execute()
      const before = { linked: await job(linked), plain: await job(plain) }
      assert.deepEqual(before.linked.assets.map((a: { asset_id: number }) => a.asset_id), [assetId])

      await json('company', 'update', String(id), '--modules', '')
      const off = { linked: await job(linked), plain: await job(plain) }
      assert.deepEqual(off.linked.assets, [])
      assert.ok(off.linked.updated_at > before.linked.updated_at, `${off.linked.updated_at} after ${before.linked.updated_at}`)
      assert.equal(off.plain.updated_at, before.plain.updated_at, 'a job without links shows nothing new')
      const since = (at: string) => call(app, 'GET', `/api/v1/jobs?updated_after=${encodeURIComponent(at)}`, { key })
      // updated_after is inclusive: from the second after the jobs' old stamp.
      const next = new Date(Date.parse(before.linked.updated_at) + 1000).toISOString().replace(/\.\d+Z$/, 'Z')
      assert.deepEqual((await since(next)).body.data.map((j: { job_id: number }) => j.job_id), [linked], 'a sync by updated_after sees it, and only it')

      await database.db.updateTable('jobs').set({ updated_at: sql<number>`updated_at - 60` }).where('company_id', '=', id).execute()
      const again = await job(linked)
      await json('company', 'update', String(id), '--modules', 'assets')
      const on = await job(linked)
      assert.deepEqual(on.assets.map((a: { asset_id: number }) => a.asset_id), [assetId])
      assert.ok(on.updated_at > again.updated_at)
      // A change that does not touch the module (the name, the plan) moves no job.
      const settled = await job(linked)
      await database.db.updateTable('jobs').set({ updated_at: sql<number>`updated_at - 60` }).where('company_id', '=', id).execute()
      const still = await job(linked)
      await json('company', 'update', String(id), '--name', 'Renamed Linked Co', '--plan', 'enterprise', '--modules', 'assets')
      assert.equal((await job(linked)).updated_at, still.updated_at)
      assert.ok(settled.updated_at > still.updated_at)
    } finally {
      await app.close()
      await database.close()
    }
  })

  it('text output for people: the key once, and a line a key', async () => {
    const created = await fsm('key', 'create', '--company', String(companyId), '--scopes', 'jobs:read')
    assert.equal(created.code, 0, created.stderr)
    const key = /^(fsm_\d+_\S+)$/m.exec(created.stdout)?.[1]
    assert.ok(key, created.stdout)
    const listed = await fsm('key', 'list', '--company', String(companyId))
    assert.equal(listed.code, 0)
    assert.ok(!listed.stdout.includes(key))
    assert.equal(listed.stdout.trimEnd().split('\n').length, 2, 'two keys, one line each')
  })

  it('demo seeds a company and prints its key, which has every scope', async () => {
    const demo = await json('demo')
    assert.deepEqual(Object.keys(demo).sort(), ['api_key', 'company_id'])
    const { keys } = JSON.parse((await fsm('key', 'list', '--company', String(demo.company_id), '--json')).stdout) as { keys: Array<{ scopes: string[] }> }
    assert.equal(keys.length, 1)
    assert.deepEqual([...keys[0]!.scopes].sort(), [...SCOPES].sort())
    assert.ok(demo.api_key.startsWith(`fsm_`))
  })

  it("errors of the commands' input: exit 1 and one line on stderr", async () => {
    // Independent commands: run side by side.
    await Promise.all([
      refused(['company', 'create', '--name', '   '], /company name must be 1 to 200 characters/),
      refused(['company', 'create', '--name', 'x'.repeat(201)], /company name must be 1 to 200 characters/),
      refused(['company', 'create', '--name', 'Acme\tHeating'], /company name must be one line without control characters/),
      refused(['company', 'create', '--name', 'A', '--plan', 'gold'], /plan must be one of/),
      refused(['company', 'create', '--name', 'A', '--modules', 'assets,fleet'], /unknown module fleet/),
      refused(['key', 'create', '--company', String(companyId), '--scopes', 'jobs:read,jobs:delete'], /unknown scope jobs:delete/),
      refused(['key', 'create', '--company', '999999', '--scopes', 'jobs:read'], /company 999999 not found/),
      // Past a billion a minute: PostgreSQL's integer column refused it with its own message, SQLite kept it.
      refused(['key', 'create', '--company', String(companyId), '--scopes', 'jobs:read', '--rate-limit', '2147483648'], /rate limit must be a whole number from 1 to 1000000000 requests a minute/),
      refused(['key', 'list', '--company', '999999'], /company 999999 not found/),
      refused(['key', 'revoke', '999999'], /key 999999 not found/),
    ])
    // For people: the message after `fsm: `, on one line.
    assert.equal(await refusedAsText(['key', 'revoke', '999999'], /key 999999 not found/), 'fsm: key 999999 not found\n')
  })

  it('a key name is one line of at most 200 characters (it is shown in every history answer that names the key)', async () => {
    await Promise.all([
      refused(['key', 'create', '--company', String(companyId), '--scopes', 'jobs:read', '--name', 'x'.repeat(201)], /key name must be at most 200 characters/),
      refused(['key', 'create', '--company', String(companyId), '--scopes', 'jobs:read', '--name', 'two\nlines'], /key name must be one line/),
    ])
    // 200 code points, each two UTF-16 units: within the limit.
    const name = '🔧'.repeat(200)
    const created = await json('key', 'create', '--company', String(companyId), '--scopes', 'jobs:read', '--name', name)
    const { keys } = JSON.parse((await fsm('key', 'list', '--company', String(companyId), '--json')).stdout) as { keys: Array<{ key_id: number; name: string }> }
    assert.equal(keys.find((k) => k.key_id === created.key_id)?.name, name)
  })

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
    assert.deepEqual(await fsm('--version'), { code: 0, stdout: `${version}\n`, stderr: '' })
  })

  it('usage errors (bad or missing arguments, unknown commands) are answered like any other error', async () => {
    await Promise.all([
      refused(['key', 'create', '--company', 'x', '--scopes', 'jobs:read'], /option '--company <id>' argument 'x' is invalid/),
      refused(['key', 'create', '--company', '0', '--scopes', 'jobs:read'], /must be a positive whole number/),
      refused(['key', 'create', '--scopes', 'jobs:read'], /required option '--company <id>' not specified/),
      refused(['key', 'create', '--company', String(companyId), '--scopes', 'jobs:read', '--rate-limit', '0'], /--rate-limit/),
      refused(['key', 'revoke', '1', '2'], /too many arguments/),
      refused(['key', 'rotate', '1'], /unknown command 'rotate'/),
      refused(['serve', '--port', '70000'], /must be a port number/),
    ])
    // Without --json, people get `fsm: …` as for every other error, then the command's help (commander's own `error: …` before).
    const text = await refusedAsText(['key', 'create', '--company', 'x', '--scopes', 'jobs:read'], /argument 'x' is invalid/)
    assert.match(text, /^fsm: option '--company <id>' argument 'x' is invalid/)
    assert.match(text, /Usage: fsm key create/)
  })

  it('copy moves the installation into a new database, and refuses a source that is not one', async () => {
    const copy = join(dir, 'copy.db')
    const done = await json('copy', '--from', env.DATABASE_URL, '--to', `sqlite:${copy}`)
    assert.ok(done.copied.companies >= 2 && done.copied.api_keys >= 2, JSON.stringify(done))
    // Not into a database that holds data (the same copy again).
    await refused(['copy', '--from', env.DATABASE_URL, '--to', `sqlite:${copy}`], /the target database is not empty/)
    // A mistyped source is not made (a new empty file, "copied" as nothing).
    const missing = join(dir, 'no-such-dir', 'fsm.db')
    await refused(['copy', '--from', `sqlite:${missing}`, '--to', `sqlite:${join(dir, 'never.db')}`], /the SQLite database .*no-such-dir\/fsm\.db does not exist/)
    assert.ok(!existsSync(join(dir, 'no-such-dir')), 'the missing source was not created')
    assert.ok(!existsSync(join(dir, 'never.db')), 'nor the target')
    // A database that is not an installation: refused, and left without our tables.
    const stranger = join(dir, 'stranger.db')
    writeFileSync(stranger, '')
    await refused(['copy', '--from', `sqlite:${stranger}`, '--to', `sqlite:${join(dir, 'never.db')}`], /holds no FSM Navigator data \(it was never migrated\); check --from/)
    assert.equal(statSync(stranger).size, 0, 'nothing was written into it')
    // A file that is not a database is named; a URL is named as the option that gave it, not DATABASE_URL.
    const text = join(dir, 'notes.txt')
    writeFileSync(text, 'not a database, just text that is long enough to have a header\n'.repeat(20))
    await refused(['copy', '--from', `sqlite:${text}`, '--to', `sqlite:${join(dir, 'never.db')}`], /cannot open the SQLite database .*notes\.txt: file is not a database/)
    await refused(['copy', '--from', env.DATABASE_URL, '--to', 'mysql://db/fsm'], /^--to must start with sqlite:, postgres:\/\/ or postgresql:\/\//)
    await refused(['copy', '--from', 'mysql://db/fsm', '--to', `sqlite:${join(dir, 'never.db')}`], /^--from must start with sqlite:/)
    assert.ok(!existsSync(join(dir, 'never.db')), 'no target was made')
  })

  it('copy only reads a source of this version (a backup is left byte for byte), and a refused source leaves no target', async () => {
    // A backup as docs/deployment.md takes it (VACUUM INTO: a file in rollback-journal mode).
    await json('company', 'create', '--name', 'Backed Up Co')
    const backup = join(dir, 'backup.db')
    const live = new SqliteDatabase(env.DATABASE_URL.slice('sqlite:'.length))
    live.exec(`vacuum into '${backup}'`)
    live.close()
    const digest = () => createHash('sha256').update(readFileSync(backup)).digest('hex')
    const before = digest()
    const done = await json('copy', '--from', `sqlite:${backup}`, '--to', `sqlite:${join(dir, 'from-backup.db')}`)
    assert.ok(done.copied.companies >= 1)
    // Opened for writing, the source was turned to WAL mode (and a read-only one could not be copied at all).
    assert.equal(digest(), before, 'the backup is unchanged')
    assert.ok(!existsSync(`${backup}-wal`))
    // A source a newer version migrated: refused, with no target file made.
    const newer = new SqliteDatabase(backup)
    newer.prepare('insert into kysely_migration (name, timestamp) values (?, ?)').run('20991231-9999-future', new Date().toISOString())
    newer.close()
    await refused(['copy', '--from', `sqlite:${backup}`, '--to', `sqlite:${join(dir, 'never-newer.db')}`], /^--from \(sqlite:.*backup\.db\): this database was migrated by a newer version/)
    assert.ok(!existsSync(join(dir, 'never-newer.db')), 'no target was made')
  })

  it("copy refuses a target that is another application's database, and adds nothing to it", async () => {
    const stranger = join(dir, 'invoices.db')
    const other = new SqliteDatabase(stranger)
    other.exec('create table invoices (id integer primary key, amount real); insert into invoices values (1, 9.5)')
    other.close()
    await refused(['copy', '--from', env.DATABASE_URL, '--to', `sqlite:${stranger}`], /the target database holds tables that are not FSM Navigator's \(invoices\); copy only into an empty database/)
    const after = new SqliteDatabase(stranger, { readonly: true })
    try {
      assert.deepEqual(after.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite%'").all(), [{ name: 'invoices' }])
    } finally {
      after.close()
    }
  })

  it('copy refuses a target of an older version that holds data, and leaves it at its version', async () => {
    // A live installation of the version before the last migration, given as --to by mistake (or --from and --to swapped).
    const previous = '20261201-0009-search-final-sigma'
    const schema = `fsm_cli_${randomBytes(6).toString('hex')}`
    const admin = async (statement: string) => {
      const client = new pg.Client({ connectionString: PG_URL })
      await client.connect()
      await client.query(statement)
      await client.end()
    }
    const targets = [`sqlite:${join(dir, 'older.db')}`, ...(PG_URL ? [`${PG_URL}${PG_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`] : [])]
    for (const url of targets) {
      const postgres = !url.startsWith('sqlite:')
      if (postgres) await admin(`create schema ${schema}`)
      try {
        const older = connect(url)
        try {
          const { error } = await (await migratorFor(older.db)).migrateTo(previous)
          assert.equal(error, undefined)
          await older.db.insertInto('companies').values({ company_name: 'Live Co', plan: 'enterprise', modules: '', created_at: 0 }).execute()
        } finally {
          await older.close()
        }
        await refused(['copy', '--from', env.DATABASE_URL, '--to', url], /the target database is not empty \(table companies has rows\)/)
        const after = connect(url)
        try {
          const applied = await after.db.selectFrom('kysely_migration' as never).select('name' as never).execute()
          assert.equal(applied.map((row) => (row as { name: string }).name).sort().at(-1), previous, `${url.split(':')[0]}: not migrated past its version`)
        } finally {
          await after.close()
        }
      } finally {
        if (postgres) await admin(`drop schema if exists ${schema} cascade`)
      }
    }
  })

  it('copy from PostgreSQL: a schema that is not an installation is refused and left empty; one that is copies', { skip: PG_URL ? false : 'FSM_TEST_DATABASE_URL is not set' }, async () => {
    const schema = `fsm_cli_${randomBytes(6).toString('hex')}`
    // The schema the command works in, named in the URL (libpq's `options`), as an operator would.
    const url = `${PG_URL}${PG_URL!.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`
    const admin = new pg.Client({ connectionString: PG_URL })
    await admin.connect()
    const saved = env.DATABASE_URL
    try {
      await admin.query(`create schema ${schema}`)
      await refused(['copy', '--from', url, '--to', `sqlite:${join(dir, 'from-pg.db')}`], /holds no FSM Navigator data/)
      const tables = await admin.query<{ n: number }>('select count(*)::int as n from information_schema.tables where table_schema = $1', [schema])
      assert.equal(tables.rows[0]!.n, 0, 'none of our tables were made in it')
      assert.ok(!existsSync(join(dir, 'from-pg.db')))
      env.DATABASE_URL = url
      const demo = await json('demo')
      env.DATABASE_URL = saved
      const done = await json('copy', '--from', url, '--to', `sqlite:${join(dir, 'from-pg.db')}`)
      assert.equal(done.copied.companies, 1)
      assert.ok(done.copied.jobs > 0)
      assert.ok(Number.isInteger(demo.company_id))
    } finally {
      env.DATABASE_URL = saved
      await admin.query(`drop schema if exists ${schema} cascade`)
      await admin.end()
    }
  })

  it('a DATABASE_URL it cannot use is an error, not a hang or a stack trace', async () => {
    const saved = env.DATABASE_URL
    try {
      env.DATABASE_URL = 'mysql://localhost/fsm'
      await refused(['migrate'], /DATABASE_URL must start with sqlite:, postgres:\/\/ or postgresql:\/\//)
      // The driver said "Invalid URL", naming nothing.
      env.DATABASE_URL = 'postgres://postgres@127.0.0.1:99999/fsm'
      await refused(['company', 'list'], /^DATABASE_URL is not a valid URL/)
      // PostgreSQL's errors name neither the URL nor the side of a copy; the password is not shown.
      env.DATABASE_URL = 'postgres://postgres:s3cret@127.0.0.1:1/fsm'
      await refused(['migrate'], /^DATABASE_URL \(postgres:\/\/postgres@127\.0\.0\.1:1\/fsm\): connect ECONNREFUSED/)
      await refused(['copy', '--from', `sqlite:${join(dir, 'cli.db')}`, '--to', 'postgres://postgres:s3cret@127.0.0.1:1/fsm'], /^--to \(postgres:\/\/postgres@127\.0\.0\.1:1\/fsm\): connect ECONNREFUSED/)
    } finally {
      env.DATABASE_URL = saved
    }
  })

  it('a setting it cannot use is one line naming it, for the commands that use it (serve, demo); the others read only the database settings, so a bad PORT cannot stop a key being revoked', async () => {
    const bad = { ...env, LOG_LEVEL: 'bogus', PORT: 'abc', REDIS_URL: 'nonsense' }
    await Promise.all(
      [['serve'], ['demo']].map(async (args) => {
        for (const json of [true, false]) {
          const outcome = await fsmOn(bad, ...args, ...(json ? ['--json'] : []))
          assert.equal(outcome.code, 1, `fsm ${args.join(' ')}`)
          assert.equal(outcome.stderr.trimEnd().split('\n').length, 1, `one line: ${outcome.stderr}`)
          assert.match(outcome.stderr, json ? /^\{"error":"(PORT|LOG_LEVEL|REDIS_URL) must/ : /^fsm: (PORT|LOG_LEVEL|REDIS_URL) must/, `fsm ${args.join(' ')}`)
        }
      }),
    )
    const { company_id } = JSON.parse((await fsmOn(bad, 'company', 'create', '--name', 'Despite Co', '--json')).stdout)
    const created = JSON.parse((await fsmOn(bad, 'key', 'create', '--company', String(company_id), '--scopes', 'jobs:read', '--json')).stdout)
    const revoked = await fsmOn(bad, 'key', 'revoke', String(created.key_id), '--json')
    assert.equal(revoked.code, 0, revoked.stderr)
    assert.equal(JSON.parse(revoked.stdout).key_id, created.key_id)
    for (const args of [['migrate'], ['company', 'list'], ['key', 'list', '--company', String(company_id)]]) assert.equal((await fsmOn(bad, ...args, '--json')).code, 0, `fsm ${args.join(' ')}`)
  })

  it('an option given twice, or without its value, is refused (the last one was kept: a key with fewer scopes, or for another company)', async () => {
    const twice = /is given twice: give it once/
    await Promise.all([
      refused(['key', 'create', '--company', '1', '--scopes', 'jobs:read', '--scopes', 'jobs:write'], twice),
      refused(['key', 'create', '--company', '1', '--company', '2', '--scopes', 'jobs:read'], twice),
      refused(['company', 'create', '--name', 'A', '--name', 'B'], twice),
      refused(['company', 'create', '--name', 'A', '--plan', 'starter', '--plan', 'enterprise'], twice),
      refused(['serve', '--port', '3000', '--port', '3001'], twice),
      refused(['company', 'create', '--name', '--json'], /is missing: the next word is an option/),
      // An empty --host (an unset variable in a script) listened on every interface.
      refused(['serve', '--host', ''], /--host <host>' argument '' is invalid. must be an address or host name/),
      refused(['serve', '--host', ' '], /must be an address or host name/),
    ])
    // The defaults still apply when an option is not given at all.
    const { company_id } = await json('company', 'create', '--name', 'Defaults Co')
    const listed = await json('company', 'list')
    const made = listed.companies.find((c: { company_id: number }) => c.company_id === company_id)
    assert.equal(made.plan, 'enterprise')
    assert.deepEqual(made.modules, [])
  })

  it("npm start seeds its demo once the server listens (a start that could not listen kept the demo and never printed its key), and a second SIGTERM or SIGINT does not cut short the requests in flight", async () => {
    const fresh = { ...env, DATABASE_URL: `sqlite:${join(dir, 'start.db')}`, FSM_DEMO: '', LOG_LEVEL: 'warn' }
    const serve = (...args: string[]) => {
      const child = spawn(process.execPath, ['bin/fsm.mjs', 'serve', '--demo-if-empty', '--host', '127.0.0.1', ...args], { cwd: ROOT, env: fresh })
      const output = { stdout: '', stderr: '' }
      child.stdout.on('data', (chunk) => (output.stdout += chunk))
      child.stderr.on('data', (chunk) => (output.stderr += chunk))
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
      return { child, output, exited }
    }

    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    try {
      const refused = serve('--port', String((taken.address() as AddressInfo).port))
      assert.deepEqual(await refused.exited, { code: 1, signal: null })
      assert.match(refused.output.stderr, /EADDRINUSE/)
      assert.doesNotMatch(refused.output.stdout, /API key/)
    } finally {
      taken.close()
    }
    assert.deepEqual((JSON.parse((await fsmOn(fresh, 'company', 'list', '--json')).stdout) as { companies: unknown[] }).companies, [], 'nothing seeded')

    const server = serve('--port', '0')
    try {
      await until(() => /curl -s "http:\/\/127\.0\.0\.1:\d+/.test(server.output.stdout), 30_000)
      const [, base, key] = /curl -s "(http:\/\/127\.0\.0\.1:\d+)\/api\/v1\/jobs\?status=Pending" -H "X-API-Key: (fsm_\w+)"/.exec(server.output.stdout)!
      assert.equal((await fetch(`${base}/api/v1/jobs`, { headers: { 'x-api-key': key! } })).status, 200)

      // A write whose body is still arriving when the signals come.
      const { port } = new URL(base!)
      const socket = connectSocket(Number(port), '127.0.0.1')
      let answer = ''
      socket.on('data', (chunk) => (answer += chunk))
      const closed = new Promise((resolve) => socket.on('close', resolve))
      const body = JSON.stringify({ job_title: 'Arrived during shutdown', customer_location_id: 1 })
      socket.write(`POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`)
      await sleep(200)
      server.child.kill('SIGTERM')
      await sleep(100)
      server.child.kill('SIGTERM')
      await sleep(100)
      server.child.kill('SIGINT')
      await sleep(100)
      socket.end(body.slice(10))
      await closed
      assert.match(answer, /^HTTP\/1\.1 (201|503) /, `a complete answer: ${answer}`)
      assert.deepEqual(await server.exited, { code: 0, signal: null }, server.output.stderr)
      assert.match(server.output.stdout, /already shutting down/)
    } finally {
      server.child.kill('SIGKILL')
    }
  })
})
