import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely'
import { isSqlite } from './dialect.ts'
import * as initial from './migrations/20261128-0001-initial.ts'
import * as idempotency from './migrations/20261128-0002-idempotency.ts'
import * as jobCounts from './migrations/20261128-0003-job-counts.ts'
import * as namesSeq from './migrations/20261129-0004-names-seq.ts'
import * as installation from './migrations/20261129-0005-installation.ts'
import * as stripedCounts from './migrations/20261129-0006-striped-counts.ts'
import * as updatedIndexStatus from './migrations/20261130-0007-updated-index-status.ts'
import * as updatedIndexSchedule from './migrations/20261130-0008-updated-index-schedule.ts'
import * as searchFinalSigma from './migrations/20261201-0009-search-final-sigma.ts'
import * as searchNfc from './migrations/20261202-0010-search-nfc.ts'
import * as cellWriteSeqs from './migrations/20261202-0011-cell-write-seqs.ts'

/**
 * Migrations are listed here rather than read from the folder, so they work
 * the same from a checkout, a bundle or a test; names sort by date.
 */
const migrations: Record<string, Migration> = {
  '20261128-0001-initial': initial,
  '20261128-0002-idempotency': idempotency,
  '20261128-0003-job-counts': jobCounts,
  '20261129-0004-names-seq': namesSeq,
  '20261129-0005-installation': installation,
  '20261129-0006-striped-counts': stripedCounts,
  '20261130-0007-updated-index-status': updatedIndexStatus,
  '20261130-0008-updated-index-schedule': updatedIndexSchedule,
  '20261201-0009-search-final-sigma': searchFinalSigma,
  '20261202-0010-search-nfc': searchNfc,
  '20261202-0011-cell-write-seqs': cellWriteSeqs,
}

class StaticMigrationProvider implements MigrationProvider {
  async getMigrations() {
    return migrations
  }
}

export class MigrationError extends Error {}

/** Where Kysely keeps the names of applied migrations (its default table). */
const MIGRATION_TABLE = 'kysely_migration'

/**
 * The schema Kysely's tables are in: on PostgreSQL it looks for them in
 * every schema unless told which one, so name the connection's, and
 * installations (and test runs) in separate schemas of one database never
 * see each other's. None on SQLite.
 */
async function migrationSchemaOf(db: Kysely<any>): Promise<string | undefined> {
  return isSqlite(db) ? undefined : (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
}

/** Kysely's migrator over our migrations, for this connection's schema (`migrationTableSchema`, if already known). */
export async function migratorFor(db: Kysely<any>, migrationTableSchema?: string): Promise<Migrator> {
  migrationTableSchema ??= await migrationSchemaOf(db)
  if (!migrationTableSchema) return new Migrator({ db, provider: new StaticMigrationProvider() })
  return new Migrator({ db: introspectingOnly(db, migrationTableSchema), provider: new StaticMigrationProvider(), migrationTableSchema })
}

/**
 * `db` whose introspection sees `schema` alone. Kysely's migrator asks the
 * introspector whether its schema and tables exist, and PostgreSQL's
 * introspector reads every table of every schema in the database, naming
 * each schema to functions (`has_schema_privilege`, `pg_get_serial_sequence`)
 * as it goes: a schema another session dropped meanwhile failed the
 * migration ("schema … does not exist"; seen with test files dropping
 * their schemas beside a migration, and as likely with installations
 * sharing a database). The migrator uses a schema's and a table's name
 * only; both are read here from the catalog, for `schema` alone.
 */
function introspectingOnly(db: Kysely<any>, schema: string): Kysely<any> {
  const introspection = {
    getSchemas: async () => (await sql<{ name: string }>`select nspname as name from pg_catalog.pg_namespace where nspname = ${schema}`.execute(db)).rows,
    getTables: async () =>
      (
        await sql<{ name: string; schema: string; isView: boolean }>`
          select c.relname as name, n.nspname as schema, c.relkind = 'v' as "isView"
          from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
          where n.nspname = ${schema} and c.relkind in ('r', 'p', 'v')`.execute(db)
      ).rows.map((table) => ({ ...table, columns: [] })),
  }
  return new Proxy(db, {
    get(target, property) {
      if (property === 'introspection') return introspection
      const value = Reflect.get(target, property, target)
      // Kysely's methods use private fields: they must run on the instance itself.
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

/**
 * The names of the migrations applied to this database, as Kysely recorded
 * them; none where its table is missing (a database that is not ours, or
 * a new one). Read from its table: Kysely's migrator reports only the
 * migrations this version knows.
 */
async function appliedMigrations(db: Kysely<any>, schema: string | undefined): Promise<string[]> {
  const table = schema === undefined
    ? sql`select 1 from sqlite_master where type = 'table' and name = ${MIGRATION_TABLE}`
    : sql`select 1 from information_schema.tables where table_schema = ${schema} and table_name = ${MIGRATION_TABLE}`
  if ((await table.execute(db)).rows.length === 0) return []
  const applied = await (schema ? db.withSchema(schema) : db).selectFrom(MIGRATION_TABLE).select('name').execute()
  return applied.map((row) => row.name as string)
}

/**
 * What the migrations applied here say, from one read of them:
 * `installed`, whether any was ever applied (false for a database that is
 * not FSM Navigator's: it creates nothing); `upToDate`, whether they are
 * exactly this version's (nothing for `migrateToLatest` to do, nor to
 * refuse: `fsm copy` then only reads its source).
 */
export async function installationState(db: Kysely<any>): Promise<{ installed: boolean; upToDate: boolean }> {
  const applied = new Set(await appliedMigrations(db, await migrationSchemaOf(db)))
  const names = Object.keys(migrations)
  return { installed: applied.size > 0, upToDate: applied.size === names.length && names.every((name) => applied.has(name)) }
}

/**
 * Whether this version's last migration is recorded: false for a database
 * dropped and made again empty, or restored from before it, under a
 * running server (/readyz). A database migrated further, by a newer
 * version, holds it too.
 */
export async function hasLatestMigration(db: Kysely<any>): Promise<boolean> {
  const latest = Object.keys(migrations).at(-1)!
  return (await appliedMigrations(db, await migrationSchemaOf(db))).includes(latest)
}

/** Applies pending migrations; returns the names applied. Throws (and so exits non-zero) on failure. */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  return isSqlite(db) ? migrateSqliteAtomically(db) : migrate(db)
}

/** How long a process waits for another's migration (or any write) to let go of a SQLite database before it gives up. */
const SQLITE_MIGRATION_WAIT_MS = 10 * 60_000

/**
 * SQLite: Kysely runs migrations there outside any transaction (its adapter
 * says SQLite has no transactional DDL, which it has) and takes no lock:
 * two processes starting on a new file at once both created the tables,
 * and one failed ('table "companies" already exists'); a crash in the
 * middle of a migration left part of it. Here they run inside one
 * `BEGIN IMMEDIATE`, which takes the write lock first: a second process
 * waits for the first (`busy_timeout`, again and again while it is busy)
 * and then finds nothing to do, and a migration is done whole or not at all.
 */
async function migrateSqliteAtomically(db: Kysely<any>): Promise<string[]> {
  return db.connection().execute(async (connection) => {
    const began = Date.now()
    for (;;) {
      try {
        await sql`begin immediate`.execute(connection)
        break
      } catch (error) {
        const busy = /^SQLITE_BUSY/.test((error as { code?: string }).code ?? '')
        if (!busy || Date.now() - began > SQLITE_MIGRATION_WAIT_MS) throw error
      }
    }
    try {
      const applied = await migrate(connection)
      await sql`commit`.execute(connection)
      return applied
    } catch (error) {
      await sql`rollback`.execute(connection).catch(() => undefined)
      throw error
    }
  })
}

/**
 * PostgreSQL keeps text in the database's encoding: in one that is not
 * UTF8, a write with a character outside it (an emoji; Greek in LATIN1)
 * cannot be stored and fails as it is made, a 500 to the client, and
 * SQL_ASCII takes any bytes without checking them. Refused before anything
 * is migrated or served.
 */
async function requireUtf8(db: Kysely<any>): Promise<void> {
  if (isSqlite(db)) return
  const encoding = (await sql<{ server_encoding: string }>`show server_encoding`.execute(db)).rows[0]?.server_encoding
  if (encoding !== 'UTF8') {
    throw new MigrationError(`the PostgreSQL database's encoding is ${encoding}, and FSM Navigator needs UTF8 to store text in every language: create the database with ENCODING 'UTF8' (createdb -E UTF8 -T template0 NAME) and restore into it`)
  }
}

async function migrate(db: Kysely<any>): Promise<string[]> {
  await requireUtf8(db)
  const schema = await migrationSchemaOf(db)
  // Applied here but unknown to this version: a newer version migrated the
  // database (an upgrade rolled back, say). Kysely refuses such a database
  // as "corrupted migrations", which it is not.
  const newer = (await appliedMigrations(db, schema)).filter((name) => !Object.hasOwn(migrations, name)).sort()
  if (newer.length) {
    throw new MigrationError(
      `this database was migrated by a newer version of FSM Navigator (it has ${newer.join(', ')}, which this version does not know): run that version or a later one, or restore a backup taken before the upgrade`,
    )
  }
  const { error, results } = await (await migratorFor(db, schema)).migrateToLatest()
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown'
    throw new MigrationError(`migration ${failed} failed: ${(error as Error).message ?? String(error)}`)
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}
