/**
 * `q` search (API.md §5): "contains, case-insensitive", the same on every
 * dialect. Records keep a lower-cased copy of their searchable text
 * (`search_text`, lowered by JavaScript's full Unicode rules rather than a
 * dialect's), and `q` is matched with LIKE, its wildcards escaped so `%`
 * and `_` are taken literally.
 */
import { sql } from 'kysely'

/**
 * Text as it is compared: lower case, in Unicode's composed form (NFC), with
 * the final sigma as the sigma and the dotted i as i.
 * JavaScript lowers Σ to ς at the end of a word and to σ elsewhere, so a
 * name lowered whole and a `q` lowered alone disagreed: "ΚΑΣΑ" did not
 * contain "ΚΑΣ", nor "ΟΔΟΣ 19" " Σ ". It is the one lower-casing rule
 * that depends on the letters around (migration 0009 folds stored text).
 * An accent can be sent as its own code point after the letter (NFD: what
 * macOS file names, Vietnamese keyboards and some imports produce) or
 * composed with it, and the two are the same text: "café" did not find a
 * "cafe\u0301" (migration 0010 composes stored text).
 * The capital dotted I (İ, Turkish and Azerbaijani) lowers to i and a
 * combining dot above (Unicode has no single letter for it), so "İzmir"
 * was found by "İzmir" alone, not by "izmir" or "IZMIR": the dot is
 * dropped (migration 0010 drops it from stored text too).
 */
export function foldCase(text: string): string {
  return text.toLowerCase().replaceAll(DOTTED_I, 'i').normalize('NFC').replaceAll('ς', 'σ')
}

/** What JavaScript lowers İ to: i and U+0307 COMBINING DOT ABOVE. */
const DOTTED_I = 'i\u0307'

export function searchText(...parts: Array<string | null | undefined>): string {
  return foldCase(parts.filter((p): p is string => !!p).join('\n'))
}

export function containsPattern(q: string): string {
  return `%${foldCase(q).replace(/[\\%_]/g, (c) => `\\${c}`)}%`
}

/** `column LIKE pattern ESCAPE '\'`: case-sensitive on both dialects once both sides are lower case. */
export function likeContains(column: string, q: string) {
  return sql<boolean>`${sql.ref(column)} like ${containsPattern(q)} escape '\\'`
}
