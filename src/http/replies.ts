/**
 * Success envelopes (API.md §1) and the `?id=` addressing shared by every
 * resource.
 */
import type { OutgoingHttpHeaders } from 'node:http'
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

/** The serialised answer without its request id, as UTF-8, kept on a (possibly remembered) page result. */
const WIRE = Symbol('wire')
const ID_TAIL = '"request_id":""}'

/**
 * A page's envelope as `serialize` (the list schema's serialiser) writes it,
 * without its request id: the part that every answer of the page shares.
 */
export function pageJsonWithoutId(result: PageResult, serialize: (envelope: Record<string, unknown>) => string): string {
  const full = serialize({ data: result.data, pagination: result.pagination, request_id: '' })
  if (!full.endsWith(ID_TAIL)) throw new Error('list envelope must end with request_id')
  return full.slice(0, -ID_TAIL.length)
}

/** A page serialised elsewhere (by the read thread, jobs.read-thread.ts): its bytes as pageJsonWithoutId made them, and what the Link header needs. */
export function serialisedPage(wire: Buffer, page: PageRequest, totalPages: number): PageResult {
  return Object.defineProperty({ data: [], pagination: { total_pages: totalPages }, page }, WIRE, { value: wire })
}

/**
 * A page of a list. A remembered page is serialised and encoded once; each
 * answer adds only its own request id (the last property of the envelope's
 * schema). A page is ~26 KB: sent as one string, every answer measured its
 * UTF-8 length, joined it to the id and encoded it again (15% of a remembered
 * page's cost); joined into one Buffer per answer, the 26 KB allocations made
 * V8 collect garbage twice as often. So the page's bytes are written as they
 * are, followed by the id, and Fastify's serialisation is stepped around
 * (`hijack`: the onSend hooks do nothing for GETs; onResponse still runs).
 */
export function sendList(request: FastifyRequest, reply: FastifyReply, schema: object, result: PageResult & { [WIRE]?: Buffer }): FastifyReply {
  setLinkHeader(request, reply, result.page, result.pagination.total_pages)
  let wire = result[WIRE]
  if (wire === undefined) {
    wire = Buffer.from(pageJsonWithoutId(result, (envelope) => reply.serializeInput(envelope, schema as Record<string, unknown>) as string))
    Object.defineProperty(result, WIRE, { value: wire })
  }
  const tail = `"request_id":${JSON.stringify(request.id)}}`
  reply.hijack()
  const headers = reply.getHeaders() as OutgoingHttpHeaders
  headers['content-type'] = JSON_TYPE
  headers['content-length'] = String(wire.length + Buffer.byteLength(tail))
  // On HEAD, Node sends the headers and drops the body.
  reply.raw.writeHead(reply.statusCode, headers)
  reply.raw.write(wire)
  reply.raw.end(tail)
  return reply
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
  one: { schema: object; load: (id: number) => Promise<{ data?: unknown; etag: string; json?: string }> },
  page: { schema: object; load: () => Promise<PageResult> },
): Promise<FastifyReply> {
  assertIdAlone(query)
  if (query.id !== undefined) {
    const { data, etag, json } = await one.load(query.id)
    return sendConditional(request, reply, etag, () => sendRead(request, reply, one.schema, data, json))
  }
  return sendList(request, reply, page.schema, await page.load())
}
