/**
 * Success envelopes (API.md §1) and the `?id=` addressing shared by every
 * resource.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { sendConditional } from './conditional.ts'
import { validationError } from './errors.ts'
import { setLinkHeader, type PageRequest } from './pagination.ts'

const JSON_TYPE = 'application/json; charset=utf-8'

/**
 * A read answer, serialised with `schema` (routes whose 200 has two shapes
 * pick one here), or around `json` when the record comes serialised already
 * (see serializedWithTag).
 */
export function sendRead(request: FastifyRequest, reply: FastifyReply, schema: object, data: unknown, json?: string): FastifyReply {
  if (json !== undefined) return reply.type(JSON_TYPE).send(`{"data":${json},"request_id":${JSON.stringify(request.id)}}`)
  return reply.type(JSON_TYPE).send(reply.serializeInput({ data, request_id: request.id }, schema as Record<string, unknown>))
}

export interface PageResult {
  data: unknown[]
  pagination: { total_pages: number }
  page: PageRequest
}

/** The serialised answer without its request id, kept on a (possibly remembered) page result. */
const WIRE = Symbol('wire')
const ID_TAIL = '"request_id":""}'

export function sendList(request: FastifyRequest, reply: FastifyReply, schema: object, result: PageResult & { [WIRE]?: string }): FastifyReply {
  setLinkHeader(request, reply, result.page, result.pagination.total_pages)
  // A remembered page is serialised once; each answer only adds its own
  // request id (the last property of the envelope's schema).
  let wire = result[WIRE]
  if (wire === undefined) {
    const full = reply.serializeInput({ data: result.data, pagination: result.pagination, request_id: '' }, schema as Record<string, unknown>) as string
    if (!full.endsWith(ID_TAIL)) throw new Error('list envelope must end with request_id')
    wire = full.slice(0, -ID_TAIL.length)
    Object.defineProperty(result, WIRE, { value: wire })
  }
  return reply.type(JSON_TYPE).send(`${wire}"request_id":${JSON.stringify(request.id)}}`)
}

export function written<T>(request: FastifyRequest, message: string, data: T) {
  return { success: true as const, message, data, request_id: request.id }
}

/** `GET ?id=` returns one record; any list parameter beside it is an error (API.md §4). */
export function assertIdAlone(query: Record<string, unknown>) {
  if (query.id === undefined) return
  const others = Object.keys(query).filter((k) => k !== 'id')
  if (others.length) throw validationError(others.map((field) => ({ field, message: 'cannot be combined with id' })))
}

/**
 * GET on a collection path: with `?id=`, that record (with its ETag, or 304
 * when the client's copy is current); without, a page of the list.
 */
export async function sendOneOrPage(
  request: FastifyRequest,
  reply: FastifyReply,
  query: { id?: number | undefined },
  one: { schema: object; load: (id: number) => Promise<{ data: unknown; etag: string; json?: string }> },
  page: { schema: object; load: () => Promise<PageResult> },
): Promise<FastifyReply> {
  assertIdAlone(query)
  if (query.id !== undefined) {
    const { data, etag, json } = await one.load(query.id)
    return sendConditional(request, reply, etag, () => sendRead(request, reply, one.schema, data, json))
  }
  return sendList(request, reply, page.schema, await page.load())
}
