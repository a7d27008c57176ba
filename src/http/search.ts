/**
 * `q` search (API.md §5): "contains, case-insensitive", the same on every
 * dialect. Records keep a lower-cased copy of their searchable text
 * (`search_text`, lowered by JavaScript's full Unicode rules rather than a
 * dialect's), and `q` is matched with LIKE, its wildcards escaped so `%`
 * and `_` are taken literally.
 */
import { sql } from 'kysely'

export function searchText(...parts: Array<string | null | undefined>): string {
  return parts.filter((p): p is string => !!p).join('\n').toLowerCase()
}

export function containsPattern(q: string): string {
  return `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`
}

/** `column LIKE pattern ESCAPE '\'`: case-sensitive on both dialects once both sides are lower case. */
export function likeContains(column: string, q: string) {
  return sql<boolean>`${sql.ref(column)} like ${containsPattern(q)} escape '\\'`
}
