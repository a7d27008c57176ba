/**
 * What the OpenAPI document says beyond the schemas that validate requests
 * and serialise answers (API.md §7): the headers and status codes of
 * API.md §3 and §8, which those schemas do not carry. A client generated
 * from the document had no way to send `If-Match`, `If-None-Match` or
 * `Idempotency-Key`, and did not know of `304`, `ETag`, `Link`,
 * `Location` or the rate-limit headers. Added to a copy of each API
 * route's schema for the document alone (@fastify/swagger's `transform`):
 * requests are not validated against them, and the answers' serialisers
 * are untouched.
 */
import type { RouteOptions } from 'fastify'
import { AUTH_CHALLENGE, ERROR_STATUS } from './errors.ts'

type Schema = Record<string, any>

/**
 * The document's introduction: the rules every operation shares, which
 * the schemas cannot say (a reader of the served document has no
 * repository to look in).
 */
export const API_DESCRIPTION = [
  'Jobs, customers, locations, technicians and assets for field-service companies.',
  'Every request sends its key in `X-API-Key`; a key belongs to one company and sees only its records (another company\'s id is 404, or 400 in a body).',
  'Text in bodies and query strings is trimmed; text that is empty after trimming counts as absent (a required field is then "is required") or as null (a nullable one). Date-times are RFC 3339 with `Z` or an offset, years 0001-9999, no leap second (`:60`); they are kept to the whole second and answered in UTC as `YYYY-MM-DDTHH:MM:SSZ`.',
  `Every answer that is not 2xx or 304 is \`{"success": false, "error": {"code", "message", "details"?}, "request_id"}\`; the codes, by status: ${Object.entries(ERROR_STATUS)
    .map(([code, status]) => `${status} \`${code}\``)
    .join(', ')}.`,
].join('\n\n')

const string = (description: string, extra: Schema = {}) => ({ type: 'string', description, ...extra })
const integer = (description: string, extra: Schema = {}) => ({ type: 'integer', description, ...extra })

/** On every answer to a request with a valid key (API.md §3), and every answer's id. */
const EVERY_ANSWER = {
  'X-Request-Id': string('The request id, as in the body; quote it when reporting a problem'),
  'X-RateLimit-Limit': integer("The key's requests a minute"),
  'X-RateLimit-Remaining': integer('Requests left in the bucket'),
  'X-RateLimit-Reset': integer('Unix seconds when the bucket is full again'),
}
const ERROR_ANSWER = {
  ...EVERY_ANSWER,
  'Retry-After': integer('Seconds to wait: on 429 rate_limit_exceeded, 409 idempotency_key_in_use and 503 service_unavailable', { minimum: 0 }),
  'WWW-Authenticate': string(`On 401 unauthorized: how to authenticate, \`${AUTH_CHALLENGE}\` (the key goes in the X-API-Key header)`),
}
const ETAG = { ETag: string('Strong tag of the record as answered; send it in If-Match to write only that version, or If-None-Match to re-read only if it changed (docs/syncing.md)') }
const REPLAYED = { 'Idempotent-Replayed': string('"true" when this is the stored answer to an earlier request with the same Idempotency-Key') }

const IDEMPOTENCY_KEY = string('1-255 printable ASCII characters, new for each change; the same on every retry of it: a retry is answered with the first answer and does nothing twice (docs/syncing.md §4)', {
  minLength: 1,
  maxLength: 255,
  pattern: '^[ -~]+$',
})
const IF_MATCH = string("The record's ETag as last read: the write is done only if the record is still that version, else 412 precondition_failed")
const IF_NONE_MATCH = string('ETags already held (or *): 304 with no body when the record still has one of them')
const IF_NONE_MATCH_WRITE = string('ETags (or *) the record must not have: the write is done only if its current tag is none of them, else 412 precondition_failed (with *, always 412: the record exists)')

/** The paths whose `GET ?id=` answers one record with an ETag (the lists on the same paths send `Link`). */
const RECORD_PATHS = new Set(['/api/v1/jobs', '/api/v1/customers', '/api/v1/locations', '/api/v1/technicians', '/api/v1/assets'])

/** `GET /api/v1/jobs/history` → `getJobsHistory`: a stable name per operation for generated clients. */
function operationIdOf(method: string, url: string): string {
  const words = url.replace(/^\/api\/v1\//, '').split(/[/_-]/)
  return method.toLowerCase() + words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('')
}

/**
 * What the key and the company need for an operation, for the people
 * reading the document; the scope is also the operation's security
 * requirement (OpenAPI 3.1 lets an API key's requirement name roles).
 */
function accessNote(scope: string, module: string | undefined): string {
  const company = module ? `on the Enterprise plan with the ${module} module` : 'on the Enterprise plan'
  return `Needs a key of a company ${company} (else 403 plan_upgrade_required) with the \`${scope}\` scope (else 403 insufficient_scope).`
}

/**
 * A request schema as the document shows it: without the keywords only
 * this server's validator knows. `x-field-hints` (better messages for
 * fields that may not be sent) is ours alone, and `date-or-date-time` is a
 * format of ours that a strict validator refuses to compile; it is either
 * of two standard formats.
 */
function portable(schema: Schema | undefined): Schema | undefined {
  if (!schema || typeof schema !== 'object') return schema
  const { 'x-field-hints': _hints, ...rest } = schema
  if (rest.format === 'date-or-date-time') {
    const { format: _format, ...text } = rest
    return { ...text, anyOf: [{ format: 'date' }, { format: 'date-time' }] }
  }
  if (!rest.properties) return rest
  return { ...rest, properties: Object.fromEntries(Object.entries(rest.properties as Schema).map(([name, field]) => [name, portable(field)])) }
}

/** What a success answer is, where its schema does not say (@fastify/swagger would say "Default Response"). */
const SUCCESS: Record<string, string> = { '200': 'Success', '201': 'Created: the record, at the path in Location' }

/** `schema` with the headers it answers with, as a new object. */
function withHeaders(schema: Schema | undefined, headers: Schema): Schema | undefined {
  return schema && { ...schema, headers: { ...schema.headers, ...headers } }
}

/** The document's view of an API route's schema; other routes' as they are. */
export function documentedSchema(schema: Schema | undefined, route: RouteOptions): Schema | undefined {
  const scope = route.config?.scope
  if (!schema || !scope) return schema
  const method = [route.method].flat()[0]!
  const record = RECORD_PATHS.has(route.url)
  const write = method === 'POST' || method === 'PUT' || method === 'PATCH'
  const requestHeaders: Schema = {}
  if (write) requestHeaders['Idempotency-Key'] = IDEMPOTENCY_KEY
  if (record && (method === 'PUT' || method === 'PATCH' || method === 'DELETE')) {
    requestHeaders['If-Match'] = IF_MATCH
    requestHeaders['If-None-Match'] = IF_NONE_MATCH_WRITE
  }
  if (record && method === 'GET') requestHeaders['If-None-Match'] = IF_NONE_MATCH

  const response: Schema = {}
  for (const [status, answer] of Object.entries(schema.response ?? {})) {
    const success = status.startsWith('2')
    let headers: Schema = success ? { ...EVERY_ANSWER } : { ...ERROR_ANSWER }
    if (write) headers = { ...headers, ...REPLAYED }
    if (success && record && method !== 'POST' && method !== 'DELETE') headers = { ...headers, ...ETAG }
    if (success && record && method === 'GET') headers.Link = string('RFC 8288 links to the first, previous, next and last pages of a list (lists only)')
    if (status === '201') headers.Location = string('The path of the record created')
    // Every error answer is the one envelope: one model for a generated client, not one per operation.
    const documented = success ? { description: SUCCESS[status] ?? 'Success', ...(answer as Schema) } : { $ref: 'ErrorEnvelope#', description: 'An error: `error.code` says which' }
    response[status] = withHeaders(documented, headers)
  }
  if (record && method === 'GET') {
    response['304'] = { type: 'null', description: 'Not Modified: If-None-Match holds the ETag the record still has; no body', headers: { ...ETAG, ...EVERY_ANSWER } }
  }
  return {
    ...schema,
    description: [schema.description, accessNote(scope, route.config?.module)].filter(Boolean).join('\n\n'),
    operationId: operationIdOf(method, route.url),
    security: [{ apiKey: [scope] }],
    ...(schema.body && { body: portable(schema.body) }),
    ...(schema.querystring && { querystring: portable(schema.querystring) }),
    ...(Object.keys(requestHeaders).length && { headers: { type: 'object', properties: { ...schema.headers?.properties, ...requestHeaders } } }),
    response,
  }
}
