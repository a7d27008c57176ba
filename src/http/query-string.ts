/**
 * The query-string parser of Fastify's router: fast-querystring, the
 * router's own default, which keeps a parameter whose percent-encoding
 * does not decode (`%FF`, `%zz`, a lone `%`) as its raw text, so
 * `?q=%FF` searched for the three characters "%FF". The parameters it
 * could not decode are recorded under `UNDECODABLE`, and validation
 * (validation.ts) refuses them with the request's other problems, in
 * API.md §2's place for them.
 */
import { parse } from 'fast-querystring'

export const UNDECODABLE: unique symbol = Symbol('query parameters whose percent-encoding does not decode')

export type ParsedQuery = Record<string, unknown> & { [UNDECODABLE]?: string[] }

export function parseQueryString(text: string): ParsedQuery {
  const query: ParsedQuery = parse(text)
  if (text.includes('%')) {
    const names = undecodable(text)
    if (names.length) Object.defineProperty(query, UNDECODABLE, { value: names })
  }
  return query
}

/** The names of the parameters of `text` that do not decode (a name that does not decode itself, as written). */
function undecodable(text: string): string[] {
  const names: string[] = []
  for (const pair of text.split('&')) {
    if (!pair.includes('%') || decodes(pair)) continue
    const name = pair.split('=', 1)[0]!
    names.push(decodes(name) ? decodeURIComponent(name.replaceAll('+', ' ')) : name.replaceAll('+', ' '))
  }
  return names
}

function decodes(text: string): boolean {
  try {
    decodeURIComponent(text.replaceAll('+', ' '))
    return true
  } catch {
    return false
  }
}
