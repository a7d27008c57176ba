/** The installation's id (migration 20261129-0005 made it): the namespace of its state outside the database. */
import type { Kysely } from 'kysely'
import type { Database } from './types.ts'

export async function readInstallationId(db: Kysely<Database>): Promise<string> {
  const row = await db.selectFrom('installation').select('installation_id').limit(1).executeTakeFirstOrThrow()
  return row.installation_id
}
