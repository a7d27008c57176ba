/**
 * Test apps against real databases (DESIGN.md habit 7): SQLite always (a
 * fresh file per app), PostgreSQL too when FSM_TEST_DATABASE_URL is set,
 * each app in a schema of its own so runs cannot interfere.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import pg from 'pg'
import { buildApp } from '../../src/app.ts'
import { loadConfig, type Config } from '../../src/config.ts'
import { connect, type DatabaseHandle, type Dialect } from '../../src/db/connect.ts'
import { migrateToLatest } from '../../src/db/migrator.ts'
import type { RateLimitStore } from '../../src/http/rate-limit.ts'

export const PG_URL = process.env.FSM_TEST_DATABASE_URL

/** The dialects this run covers: the same test file runs once for each. */
export const DIALECTS: Dialect[] = PG_URL ? ['sqlite', 'postgres'] : ['sqlite']

export interface TestApp {
  app: FastifyInstance
  database: DatabaseHandle
  dialect: Dialect
  config: Config
  close(): Promise<void>
}

/** A stream for an app's logger (`logger: { level, stream }`) that keeps each JSON log line it is given, parsed, in `lines`. */
export function collectedLog(): { stream: Writable; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line))
      done()
    },
  })
  return { stream, lines }
}

export interface TestAppOptions {
  config?: Partial<Config>
  rateLimits?: RateLimitStore
  /** Fastify's logger option; none by default. */
  logger?: FastifyServerOptions['logger']
  /** SQLite: read jobs (single and listed) on their own thread, as `fsm serve` does (off by default). */
  readThread?: boolean
}

/** A fresh, migrated (unless `migrate` is false), empty database of the dialect; `cleanup` removes it. */
export async function freshDatabase(dialect: Dialect, { migrate = true } = {}): Promise<{ database: DatabaseHandle; url: string; cleanup(): Promise<void> }> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'fsm-test-'))
    const url = `sqlite:${join(dir, 'test.db')}`
    const database = connect(url)
    if (migrate) await migrateToLatest(database.db)
    return { database, url, cleanup: async () => rmSync(dir, { recursive: true, force: true }) }
  }
  if (!PG_URL) throw new Error('FSM_TEST_DATABASE_URL is not set')
  const schema = `fsm_test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: PG_URL })
  await admin.connect()
  await admin.query(`create schema ${schema}`)
  await admin.end()
  const database = connect(PG_URL, { pgSchema: schema, pgPoolSize: 5 })
  const cleanup = async () => {
    const client = new pg.Client({ connectionString: PG_URL })
    await client.connect()
    await client.query(`drop schema if exists ${schema} cascade`)
    await client.end()
  }
  try {
    if (migrate) await migrateToLatest(database.db)
  } catch (error) {
    await database.close()
    await cleanup()
    throw error
  }
  return { database, url: PG_URL, cleanup }
}

export async function startTestApp(dialect: Dialect = 'sqlite', options: TestAppOptions = {}): Promise<TestApp> {
  const { database, cleanup } = await freshDatabase(dialect)
  const config: Config = { ...loadConfig({}), logLevel: 'silent', rateLimitPerMinute: 1_000_000, keyCacheMs: 0, ...options.config }
  const app = await buildApp({ config, database, ...(options.rateLimits && { rateLimits: options.rateLimits }), logger: options.logger ?? false, readThread: options.readThread ?? false })
  await app.ready()
  return {
    app,
    database,
    dialect,
    config,
    close: async () => {
      await app.close()
      await database.close()
      await cleanup()
    },
  }
}
