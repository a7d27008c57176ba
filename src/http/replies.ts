/**
 * Success envelopes (API.md §1) and the `?id=` addressing shared by every
 * resource.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { validationError } from './errors.ts'
import { setLinkHeader, type PageRequest } from './pagination.ts'

const JSON_TYPE = 'application/json; charset=utf-8'

/** A read answer, serialised with `schema` (routes whose 200 has two shapes pick one here). */
export function sendRead(request: FastifyRequest, reply: FastifyReply, schema: object, data: unknown): FastifyReply {
  return reply.type(JSON_TYPE).send(reply.serializeInput({ data, request_id: request.id }, schema as Record<string, unknown>))
}

export function sendList(
  request: FastifyRequest,
  reply: FastifyReply,
  schema: object,
  result: { data: unknown[]; pagination: { total_pages: number }; page: PageRequest },
): FastifyReply {
  setLinkHeader(request, reply, result.page, result.pagination.total_pages)
  return reply.type(JSON_TYPE).send(reply.serializeInput({ data: result.data, pagination: result.pagination, request_id: request.id }, schema as Record<string, unknown>))
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
