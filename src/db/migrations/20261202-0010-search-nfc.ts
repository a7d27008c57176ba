import type { Kysely } from 'kysely'

/**
 * `q` search compares text in Unicode's composed form, with the dot of a
 * lowered İ dropped (foldCase, src/db/search.ts): searchable text stored
 * before keeps the form it was sent in, and is folded here as foldCase now
 * folds (NFC, which SQLite cannot do in SQL, so row by row in batches).
 * Only rows whose text changes are rewritten; the folding stored text had
 * already been through (lower case, ς as σ) commutes with both.
 */
const TABLES: Array<[string, string]> = [
  ['customers', 'customer_id'],
  ['customer_locations', 'customer_location_id'],
  ['technicians', 'technician_id'],
  ['assets', 'asset_id'],
]
const BATCH = 1000

export async function up(db: Kysely<any>): Promise<void> {
  for (const [table, id] of TABLES) {
    let after = 0
    for (;;) {
      const rows: Array<Record<string, unknown>> = await db.selectFrom(table).select([id, 'search_text']).where(id, '>', after).orderBy(id).limit(BATCH).execute()
      for (const row of rows) {
        const text = String(row.search_text)
        const composed = text.replaceAll('i\u0307', 'i').normalize('NFC')
        if (composed !== text) await db.updateTable(table).set({ search_text: composed }).where(id, '=', row[id]).execute()
      }
      if (rows.length < BATCH) break
      after = Number(rows.at(-1)![id])
    }
  }
}

/** Nothing to undo: composed text is found by the code before as well, by a `q` sent composed. */
export async function down(): Promise<void> {}
