/**
 * Page arithmetic and the RFC 8288 `Link` header of API.md §4.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'

export const DEFAULT_PER_PAGE = 50
export const MAX_PER_PAGE = 100

export interface PageRequest {
  page: number
  perPage: number
  offset: number
}

/** `per_page` above the maximum is clamped (and the answer says so); below 1 never gets here. */
export function pageRequest(page: number | undefined, perPage: number | undefined): PageRequest {
  const p = page ?? 1
  const size = Math.min(perPage ?? DEFAULT_PER_PAGE, MAX_PER_PAGE)
  return { page: p, perPage: size, offset: (p - 1) * size }
}

export function pagination(request: PageRequest, total: number) {
  return {
    page: request.page,
    per_page: request.perPage,
    total,
    total_pages: Math.ceil(total / request.perPage),
  }
}

/** Characters Node's parser lets through in a request target that a URI may not hold (RFC 3986). */
const NOT_URI = /[^\w\-.~%!$&'()*+,;=:@/?]/g
const HAS_NOT_URI = new RegExp(NOT_URI.source)

/**
 * The request's own text, with what a URI may not hold percent-encoded (each
 * character a byte: Node reads the target as latin1): `?q=a>;rel="last"`
 * sent raw put a link of the client's making into the header (RFC 8288 needs
 * URI references between `<` and `>`).
 */
function uriText(text: string): string {
  // Tested first: a list answer's Link is made on every request, and there is nothing to encode in almost all.
  if (!HAS_NOT_URI.test(text)) return text
  return text.replace(NOT_URI, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)
}

const PAGING = new Set(['page', 'per_page'])

/**
 * A query part's parameter name as the parser reads it: `pa%67e=2` is
 * `page`, and kept beside the link's own `page` it made every link a
 * repeated parameter (400). A name that does not decode was refused
 * before a list was read.
 */
function nameOf(part: string): string {
  const name = part.split('=', 1)[0]!
  if (!name.includes('%')) return name
  try {
    return decodeURIComponent(name.replaceAll('+', ' '))
  } catch {
    return name
  }
}

/** Sets `Link` with first/prev/next/last, keeping the request's other parameters. */
export function setLinkHeader(req: FastifyRequest, reply: FastifyReply, page: PageRequest, totalPages: number) {
  // An absolute-form request target (`GET http://host/api/v1/jobs`) must not put its host into our links.
  const url = req.url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '')
  // The query is everything after the first `?`: a `?` inside it is data (`q=what?`), and
  // `split('?', 2)` dropped it with every parameter after it.
  const at = url.indexOf('?')
  const path = at === -1 ? url : url.slice(0, at)
  const query = at === -1 ? '' : url.slice(at + 1)
  // Keep the client's own encoding of the other parameters (e.g. a literal comma in status=).
  const base = query
    .split('&')
    .filter((part) => part !== '' && !PAGING.has(nameOf(part)))
    .join('&')
  const start = `<${uriText(path)}?${base ? `${uriText(base)}&` : ''}`
  const target = (n: number) => `${start}page=${n}&per_page=${page.perPage}>`
  const links: string[] = []
  const last = Math.max(totalPages, 1)
  links.push(`${target(1)}; rel="first"`)
  if (page.page > 1) links.push(`${target(page.page - 1)}; rel="prev"`)
  if (page.page < totalPages) links.push(`${target(page.page + 1)}; rel="next"`)
  links.push(`${target(last)}; rel="last"`)
  reply.header('link', links.join(', '))
}
