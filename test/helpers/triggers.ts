/**
 * Triggers a test adds to watch or break what the application writes (a
 * fault injected inside the write's own transaction, or a write that must
 * not happen), on SQLite or PostgreSQL.
 */
import { sql } from 'kysely'
import type { DatabaseHandle } from '../../src/db/connect.ts'

/**
 * A trigger on `table` running `statement` (in each dialect's language) for
 * each row `event` touches where `when` holds; returns its removal.
 * `event` is e.g. `before update`, `after insert`, `before update of a, b`.
 */
export async function addTrigger(database: DatabaseHandle, name: string, event: string, table: string, when: string, statement: { sqlite: string; postgres: string }) {
  const db = database.db
  if (database.dialect === 'sqlite') {
    await sql.raw(`create trigger ${name} ${event} on ${table} when ${when} begin ${statement.sqlite}; end`).execute(db)
    return async () => void (await sql.raw(`drop trigger ${name}`).execute(db))
  }
  await sql.raw(`create function ${name}() returns trigger language plpgsql as $$ begin ${statement.postgres}; return new; end $$`).execute(db)
  await sql.raw(`create trigger ${name} ${event} on ${table} for each row when (${when}) execute function ${name}()`).execute(db)
  return async () => {
    await sql.raw(`drop trigger ${name} on ${table}`).execute(db)
    await sql.raw(`drop function ${name}()`).execute(db)
  }
}

/** The statement that makes a trigger fail the write, in each dialect. */
export const refuse = (why: string) => ({ sqlite: `select raise(abort, '${why}')`, postgres: `raise exception '${why}'` })
