import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely'
import * as initial from './migrations/20261128-0001-initial.ts'
import * as idempotency from './migrations/20261128-0002-idempotency.ts'

/**
 * Migrations are listed here rather than read from the folder, so they work
 * the same from a checkout, a bundle or a test; names sort by date.
 */
const migrations: Record<string, Migration> = {
  '20261128-0001-initial': initial,
  '20261128-0002-idempotency': idempotency,
}

class StaticMigrationProvider implements MigrationProvider {
  async getMigrations() {
    return migrations
  }
}

export class MigrationError extends Error {}

/** Applies pending migrations; returns the names applied. Throws (and so exits non-zero) on failure. */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new StaticMigrationProvider() })
  const { error, results } = await migrator.migrateToLatest()
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown'
    throw new MigrationError(`migration ${failed} failed: ${(error as Error).message ?? String(error)}`)
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}
