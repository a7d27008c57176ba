/**
 * Names given on the command line (a company's, an API key's) follow the
 * API's own rule for names (http/schemas.ts `Name`): one line, at most 200
 * code points. Both are shown to people: a key's name in every history
 * answer that names the key, both one per line by `fsm company list` and
 * `fsm key list`.
 */
export const NAME_MAX = 200

/** A control character (C0, DEL, C1, as the API's names: http/schemas.ts `SINGLE_LINE`) or a lone surrogate, which no text encoding can carry. */
const NOT_ONE_LINE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\uD800-\uDFFF]/u

/** `name` trimmed, or why it cannot be one: 'too long' or 'not one line'. */
export function oneLineName(name: string): { name: string } | { problem: 'too long' | 'not one line' } {
  const trimmed = name.trim()
  if ([...trimmed].length > NAME_MAX) return { problem: 'too long' }
  if (NOT_ONE_LINE.test(trimmed)) return { problem: 'not one line' }
  return { name: trimmed }
}
