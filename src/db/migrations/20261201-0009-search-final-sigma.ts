import { sql, type Kysely } from 'kysely'

/**
 * `q` search compares text with the final sigma folded into the sigma
 * (foldCase, src/db/search.ts): the searchable text stored before holds
 * ς wherever a name had Σ or ς at the end of a word, and is folded here the
 * same way. Only rows holding ς are rewritten.
 */
const TABLES = ['customers', 'customer_locations', 'technicians', 'assets']

export async function up(db: Kysely<any>): Promise<void> {
  for (const table of TABLES) {
    await sql`update ${sql.table(table)} set search_text = replace(search_text, 'ς', 'σ') where search_text like '%ς%'`.execute(db)
  }
}

/** Nothing to undo: folded text is found by the code before as well, except by a `q` ending in ς. */
export async function down(): Promise<void> {}
