/**
 * The `fsm` command line (API.md §6). Commands call services directly,
 * never the HTTP API.
 */
import { readFileSync } from 'node:fs'
import { Command, InvalidArgumentError } from 'commander'
import { loadConfig, loadDatabaseConfig, type Config } from '../config.ts'
import { connect, SERVING_TIMEOUTS, type DatabaseHandle } from '../db/connect.ts'
import { installationState, migrateToLatest } from '../db/migrator.ts'
import { createKey, listKeys, revokeKey } from '../modules/api-keys/api-keys.service.ts'
import { createCompany, listCompanies, presentCompany, updateCompany } from '../modules/companies/companies.service.ts'
import type { DemoResult } from '../modules/demo/demo.service.ts'
import { fail, print } from './output.ts'

function positiveInteger(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) throw new InvalidArgumentError('must be a positive whole number')
  return Number(text)
}

/**
 * Every option's value goes through this. Commander keeps the last of an
 * option given twice, so `--scopes jobs:read --scopes jobs:write` made a
 * key with jobs:write alone, and `--company 1 --company 2` a key of
 * company 2: refused instead (no option has a commander default, so
 * `previous` is a value given before). And an option's value is the next
 * word whatever it is, so `--name --json` named a company "--json":
 * a value that is an option is refused too.
 */
function once<T>(parse: (text: string) => T) {
  return (text: string, previous: T | undefined): T => {
    if (previous !== undefined) throw new InvalidArgumentError('is given twice: give it once')
    if (text.startsWith('--')) throw new InvalidArgumentError('is missing: the next word is an option')
    return parse(text)
  }
}
/** A value taken as given (once). */
const anyText = once((value: string) => value)

/** An empty `--host` (an unset variable in a script) bound every interface; `$HOST` empty means the default. */
function host(text: string): string {
  if (text.trim() === '') throw new InvalidArgumentError('must be an address or host name (default 127.0.0.1), not empty')
  return text
}

function port(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw new InvalidArgumentError('must be a port number (0-65535)')
  return Number(text)
}

/**
 * A database's first statements, whose failure says which database it was:
 * PostgreSQL's errors name neither the URL ("connect ECONNREFUSED …") nor,
 * for `fsm copy`, the side ("database "x" does not exist"); a migration
 * refused names neither on either dialect ("migrated by a newer version",
 * of the source or of the target?). SQLite's own errors name their file:
 * those get the side alone.
 */
async function reaching<T>(database: DatabaseHandle, urlName: string, work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (error) {
    if (!(error instanceof Error)) throw error
    const namesFile = database.sqliteFile !== undefined && error.message.includes(database.sqliteFile)
    throw new Error(namesFile ? `${urlName}: ${error.message}` : `${urlName} (${database.description}): ${error.message}`)
  }
}

/** Opens the configured database, migrated, runs `work`, always closes. */
async function withDatabase<T>(config: Pick<Config, 'databaseUrl' | 'sqliteSynchronous'>, work: (database: DatabaseHandle) => Promise<T>): Promise<T> {
  const database = connect(config.databaseUrl, { sqliteSynchronous: config.sqliteSynchronous })
  try {
    await reaching(database, 'DATABASE_URL', migrateToLatest(database.db))
    return await work(database)
  } finally {
    await database.close()
  }
}

function demoText(demo: DemoResult, baseUrl: string): string {
  return [
    `Demo company "${demo.company_name}" (id ${demo.company_id}) is ready.`,
    `API key (shown once; it has every scope): ${demo.api_key}`,
    'Try:',
    `  curl -s "${baseUrl}/api/v1/jobs?status=Pending" -H "X-API-Key: ${demo.api_key}"`,
  ].join('\n')
}

/** The package's version (the same file from src/cli and dist/cli). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
}

/**
 * Commander's own message for a usage error ("error: option '--company
 * <id>' argument 'x' is invalid. …"), without its prefix and newline.
 */
function usageError(message: string): string {
  return message.replace(/^error: /, '').trim()
}

/**
 * `argv`: the command line, to tell whether `--json` is on it before
 * commander parses it. Commander answers usage errors itself (an invalid or
 * missing argument, an unknown command or option), before any command
 * runs: with `--json` they come as the same one JSON document on stderr as
 * every other error (`fail`), so a script parsing it never meets help text.
 */
export function buildCli(argv: readonly string[] = process.argv): Command {
  const program = new Command('fsm')
    .description('FSM Navigator: the field-service Jobs API server and its administration')
    .version(packageVersion(), '--version', 'print the version')
  // Before the commands are added: each copies its parent's output settings.
  if (argv.includes('--json')) program.configureOutput({ outputError: (message, write) => write(`${JSON.stringify({ error: usageError(message) })}\n`) })
  else program.configureOutput({ outputError: (message, write) => write(`fsm: ${usageError(message)}\n`) }).showHelpAfterError()
  const config = () => loadConfig()
  const databaseConfig = () => loadDatabaseConfig()
  // `work` runs inside the promise: an error it throws before its first await (loadConfig's) was a stack trace.
  const run = (json: boolean, work: () => Promise<void>) =>
    Promise.resolve()
      .then(work)
      .catch((error: Error) => fail(json, error.message))

  program
    .command('serve')
    .description('apply pending migrations, then serve the API')
    .option('--port <port>', 'port to listen on (default: $PORT or 3000)', once(port))
    .option('--host <host>', 'address to bind (default: $HOST or 127.0.0.1)', once(host))
    .option('--demo-if-empty', 'once listening, seed the demo company if the database is empty, and print its key (npm start; FSM_DEMO=0 disables)')
    .option('--json', 'machine-readable output')
    .action((options: { port?: number; host?: string; demoIfEmpty?: boolean; json?: boolean }) =>
      run(!!options.json, async () => {
        // Loaded here, as the demo's and the copy's modules are by their commands:
        // the HTTP server's modules take twice as long to load as everything
        // the company and key commands need, and people and scripts run those
        // often.
        const { limitHeapGrowth, startServer, stopAllocationSitePretenuring } = await import('../server.ts')
        const { seedDemoIfEmpty } = await import('../modules/demo/demo.service.ts')
        limitHeapGrowth()
        stopAllocationSitePretenuring()
        const base = config()
        const cfg = { ...base, port: options.port ?? base.port, host: options.host ?? base.host }
        // Migrated on a connection of its own, without the timeouts of serving (a migration may rebuild an index for minutes).
        const migrating = connect(cfg.databaseUrl, { sqliteSynchronous: cfg.sqliteSynchronous })
        await reaching(migrating, 'DATABASE_URL', migrateToLatest(migrating.db)).finally(() => migrating.close())
        const database = connect(cfg.databaseUrl, { sqliteSynchronous: cfg.sqliteSynchronous, sqliteBackgroundCheckpoints: true, pgTimeouts: SERVING_TIMEOUTS })
        const server = await startServer(cfg, database)
        // Seeded once the server listens: seeded before, a start that could
        // not listen (the port taken) kept the demo company and never printed
        // its key, and the next start found the database no longer empty.
        const demo = options.demoIfEmpty && cfg.demoOnEmpty ? await seedDemoIfEmpty(database.db) : undefined
        if (demo) print(!!options.json, demo, `\n${demoText(demo, server.address)}\n`)
      }),
    )

  program
    .command('migrate')
    .description('apply pending migrations')
    .option('--json', 'machine-readable output')
    .action((options: { json?: boolean }) =>
      run(!!options.json, async () => {
        const database = connect(databaseConfig().databaseUrl)
        try {
          const applied = await reaching(database, 'DATABASE_URL', migrateToLatest(database.db))
          print(!!options.json, { applied }, applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date')
        } finally {
          await database.close()
        }
      }),
    )

  const company = program.command('company').description('manage companies (tenants)')
  company
    .command('create')
    .description('create a company')
    .requiredOption('--name <name>', 'company name', anyText)
    .option('--plan <plan>', 'starter, professional or enterprise (default: enterprise)', anyText)
    .option('--modules <list>', 'comma-separated modules (assets; default: none)', anyText)
    .option('--json', 'machine-readable output')
    .action((options: { name: string; plan?: string; modules?: string; json?: boolean }) =>
      run(!!options.json, () =>
        withDatabase(databaseConfig(), async ({ db }) => {
          const row = await createCompany(db, { name: options.name, plan: options.plan ?? 'enterprise', modules: (options.modules ?? '').split(',') })
          print(!!options.json, { company_id: row.company_id }, `company ${row.company_id} created (${row.plan}${row.modules ? `, modules: ${row.modules}` : ''})`)
        }),
      ),
    )

  company
    .command('list')
    .description('list the companies, with their plans and modules')
    .option('--json', 'machine-readable output')
    .action((options: { json?: boolean }) =>
      run(!!options.json, () =>
        withDatabase(databaseConfig(), async ({ db }) => {
          const companies = (await listCompanies(db)).map(presentCompany)
          const lines = companies.map((c) => `${c.company_id}\t${c.name}\t${c.plan}\t${c.modules.join(',') || '-'}`)
          print(!!options.json, { companies }, lines.length ? lines.join('\n') : 'no companies')
        }),
      ),
    )
  company
    .command('update')
    .description("change a company's name, plan or modules (its keys see it within FSM_KEY_CACHE_MS)")
    .argument('<companyId>', 'company id', positiveInteger)
    .option('--name <name>', 'company name', anyText)
    .option('--plan <plan>', 'starter, professional or enterprise', anyText)
    .option('--modules <list>', "comma-separated modules, replacing the company's (assets; empty for none)", anyText)
    .option('--json', 'machine-readable output')
    .action((companyId: number, options: { name?: string; plan?: string; modules?: string; json?: boolean }) =>
      run(!!options.json, () =>
        withDatabase(databaseConfig(), async ({ db }) => {
          const row = presentCompany(
            await updateCompany(db, companyId, {
              ...(options.name !== undefined && { name: options.name }),
              ...(options.plan !== undefined && { plan: options.plan }),
              ...(options.modules !== undefined && { modules: options.modules.split(',') }),
            }),
          )
          print(!!options.json, row, `company ${row.company_id} updated (${row.plan}${row.modules.length ? `, modules: ${row.modules.join(',')}` : ''})`)
        }),
      ),
    )

  const key = program.command('key').description('manage API keys')
  key
    .command('create')
    .description('create an API key (shown once)')
    .requiredOption('--company <id>', 'company id', once(positiveInteger))
    .requiredOption('--scopes <list>', 'comma-separated scopes, e.g. jobs:read,jobs:write', anyText)
    .option('--name <name>', 'a name to recognise the key by', anyText)
    .option('--rate-limit <perMinute>', 'requests per minute for this key', once(positiveInteger))
    .option('--json', 'machine-readable output')
    .action((options: { company: number; scopes: string; name?: string; rateLimit?: number; json?: boolean }) =>
      run(!!options.json, () =>
        withDatabase(databaseConfig(), async ({ db }) => {
          const created = await createKey(db, {
            companyId: options.company,
            scopes: options.scopes.split(','),
            ...(options.name !== undefined && { name: options.name }),
            ...(options.rateLimit !== undefined && { rateLimitPerMinute: options.rateLimit }),
          })
          print(!!options.json, { key_id: created.keyId, api_key: created.apiKey }, `key ${created.keyId} created; store it now, it is not shown again:\n${created.apiKey}`)
        }),
      ),
    )
  key
    .command('list')
    .description("list a company's keys (never their secrets)")
    .requiredOption('--company <id>', 'company id', once(positiveInteger))
    .option('--json', 'machine-readable output')
    .action((options: { company: number; json?: boolean }) =>
      run(!!options.json, () =>
        withDatabase(databaseConfig(), async ({ db }) => {
          const keys = await listKeys(db, options.company)
          const lines = keys.map((k) => `${k.key_id}\t${k.prefix}…\t${k.name}\t${k.scopes.join(',')}\t${k.revoked_at ? `revoked ${k.revoked_at}` : 'active'}`)
          print(!!options.json, { keys }, lines.length ? lines.join('\n') : 'no keys')
        }),
      ),
    )
  key
    .command('revoke')
    .description('revoke a key; every server refuses it within a second')
    .argument('<keyId>', 'key id', positiveInteger)
    .option('--json', 'machine-readable output')
    .action((keyId: number, options: { json?: boolean }) =>
      run(!!options.json, () =>
        withDatabase(databaseConfig(), async ({ db }) => {
          const revoked = await revokeKey(db, keyId)
          if (!revoked) throw new Error(`key ${keyId} not found`)
          print(!!options.json, revoked, `key ${keyId} revoked at ${revoked.revoked_at}`)
        }),
      ),
    )

  program
    .command('copy')
    .description('copy every record, with its id, into an empty database (SQLite <-> PostgreSQL)')
    .requiredOption('--from <url>', 'source DATABASE_URL', anyText)
    .requiredOption('--to <url>', 'target DATABASE_URL (must be empty)', anyText)
    .option('--json', 'machine-readable output')
    .action((options: { from: string; to: string; json?: boolean }) =>
      run(!!options.json, async () => {
        // The source must be an installation already: a mistyped path or
        // database name would otherwise be made (a new empty file, or our
        // tables in someone else's database) and "copied" as nothing. Looked
        // at first on a read-only connection, which writes nothing into it.
        const probe = connect(options.from, { sqliteReadOnly: true, sqliteMustExist: true, urlName: '--from' })
        const { installed, upToDate } = await reaching(probe, '--from', installationState(probe.db)).finally(() => probe.close())
        if (!installed) throw new Error('the source database (--from) holds no FSM Navigator data (it was never migrated); check --from')
        // A source of this version is only read: on SQLite opened read-only
        // (opened for writing, a backup on a read-only disk or of another
        // user could not be copied, "attempt to write a readonly database",
        // and a backup's file was changed: WAL mode turned on).
        const source = connect(options.from, { urlName: '--from', sqliteReadOnly: upToDate })
        let target: DatabaseHandle | undefined
        try {
          // An installation of an older version: brought up to date, as fsm serve would; a newer one is refused.
          if (!upToDate) await reaching(source, '--from', migrateToLatest(source.db))
          // Opened once the source is known good: a refused source leaves no target file behind.
          target = connect(options.to, { urlName: '--to' })
          const { copyDatabase, refuseTargetWithData } = await import('../db/copy.ts')
          // A target holding data is refused before it is migrated, so it is left as it was.
          await reaching(target, '--to', refuseTargetWithData(target.db))
          await reaching(target, '--to', migrateToLatest(target.db))
          const copied = await copyDatabase(source.db, target.db)
          const lines = Object.entries(copied).map(([table, n]) => `${table}: ${n}`)
          print(!!options.json, { copied }, `copied ${source.description} -> ${target.description}, counts verified\n${lines.join('\n')}`)
        } finally {
          await source.close()
          await target?.close()
        }
      }),
    )

  program
    .command('demo')
    .description('seed a demo company with records and jobs in every status, and print a working key')
    .option('--json', 'machine-readable output')
    .action((options: { json?: boolean }) =>
      run(!!options.json, () =>
        withDatabase(databaseConfig(), async ({ db }) => {
          const cfg = config() // for the curl line, before anything is seeded
          const { seedDemo } = await import('../modules/demo/demo.service.ts')
          const demo = await seedDemo(db)
          print(!!options.json, { company_id: demo.company_id, api_key: demo.api_key }, demoText(demo, `http://${cfg.host}:${cfg.port}`))
        }),
      ),
    )

  return program
}

await buildCli().parseAsync(process.argv)
