/**
 * Databases for the suite: a SQLite file in a fresh folder, or a fresh
 * PostgreSQL schema (dropped afterwards), either direct or through a proxy.
 * The test process opens its own connection to seed tenants and to check
 * what the servers wrote.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import SqliteDatabase from 'better-sqlite3'
import { connect, type DatabaseHandle } from '../../src/db/connect.ts'
import { migrateToLatest } from '../../src/db/migrator.ts'
import { PG_URL } from './mode.ts'

export interface Target {
  dialect: 'sqlite' | 'postgres'
  /** DATABASE_URL for `fsm serve`. */
  url: string
  /** The SQLite file (sqlite only). */
  file?: string
  /** The PostgreSQL schema (postgres only). */
  schema?: string
  /** A connection for the test process (migrated). */
  database: DatabaseHandle
  /** DATABASE_URL through a proxy on `port` (postgres only). */
  urlVia(port: number): string
  cleanup(): Promise<void>
}

/**
 * Whether PostgreSQL's parts can run (skipped when not). When the caller
 * named the database (FSM_TEST_DATABASE_URL, as CI does), one that cannot
 * be reached is an error: a broken service must not pass as skipped parts.
 */
export async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('select 1')
    return true
  } catch (error) {
    if (process.env.FSM_RELIABILITY_PG_REQUIRED === '1') throw new Error(`FSM_TEST_DATABASE_URL is set, but PostgreSQL cannot be reached: ${(error as Error).message}`)
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

export async function sqliteTarget(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'fsm-reliability-'))
  const file = join(dir, 'fsm.db')
  const url = `sqlite:${file}`
  const database = connect(url)
  await migrateToLatest(database.db)
  return {
    dialect: 'sqlite',
    url,
    file,
    database,
    urlVia: () => url,
    cleanup: async () => {
      await database.close().catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export async function postgresTarget(): Promise<Target> {
  const schema = `fsm_rel_${randomBytes(5).toString('hex')}`
  const admin = new pg.Client({ connectionString: PG_URL })
  await admin.connect()
  await admin.query(`create schema ${schema}`)
  await admin.end()
  const withSchema = (host: string, port: string) => {
    const url = new URL(PG_URL)
    url.hostname = host
    url.port = port
    url.searchParams.set('options', `-c search_path=${schema}`)
    return url.toString()
  }
  const direct = new URL(PG_URL)
  const database = connect(PG_URL, { pgSchema: schema, pgPoolSize: 4 })
  await migrateToLatest(database.db)
  return {
    dialect: 'postgres',
    url: withSchema(direct.hostname, direct.port || '5432'),
    schema,
    database,
    urlVia: (port) => withSchema('127.0.0.1', String(port)),
    cleanup: async () => {
      await database.close().catch(() => {})
      const client = new pg.Client({ connectionString: PG_URL })
      await client.connect()
      await client.query(`drop schema if exists ${schema} cascade`)
      await client.end()
    },
  }
}

export function target(dialect: 'sqlite' | 'postgres'): Promise<Target> {
  return dialect === 'sqlite' ? sqliteTarget() : postgresTarget()
}

/** `PRAGMA integrity_check` and `foreign_key_check` on a SQLite file, from a connection of its own. */
export function sqliteChecks(file: string): { integrity: string; foreignKeyProblems: number } {
  const db = new SqliteDatabase(file)
  try {
    db.pragma('busy_timeout = 10000')
    const integrity = (db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check).join('; ')
    const foreignKeyProblems = (db.pragma('foreign_key_check') as unknown[]).length
    return { integrity, foreignKeyProblems }
  } finally {
    db.close()
  }
}
