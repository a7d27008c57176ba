/**
 * The one place that turns errors into HTTP answers: every non-2xx answer is
 * the envelope of API.md §1, with the request id; nothing internal (stack,
 * SQL) leaves the process, it goes to the log instead.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { isOutcomeUnknownError, isUnavailableError } from '../db/dialect.ts'
import { ApiError, validationError, type ErrorCode } from './errors.ts'
import { problemsIn } from './validation.ts'

/** Fastify's own errors (raised before our code runs) mapped to our codes. */
const FASTIFY_CODES: Record<string, [ErrorCode, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ['payload_too_large', 'Request body exceeds 1 MiB'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['unsupported_media_type', 'Content-Type must be application/json'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['invalid_json', 'Request body length does not match Content-Length'],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['invalid_json', 'Request body is empty; send a JSON object'],
  FST_ERR_CTP_INVALID_JSON_BODY: ['invalid_json', 'Request body is not valid JSON'],
}

export function toApiError(error: FastifyError | Error): ApiError | null {
  if (error instanceof ApiError) return error
  const code = (error as FastifyError).code
  if (code && FASTIFY_CODES[code]) {
    const [apiCode, message] = FASTIFY_CODES[code]
    return new ApiError(apiCode, message)
  }
  const status = (error as FastifyError).statusCode
  if (status && status >= 400 && status < 500) return otherClientError(status, code, error.message)
  if (isUnavailableError(error)) return new ApiError('service_unavailable', 'The database is unavailable; retry shortly', { headers: { 'retry-after': '1' } })
  return null
}

/**
 * Any other client error Fastify or a plugin raises (a body cut short, the
 * documentation's static files asked for outside their folder, with a stale
 * If-Match or a range past their end), as the code of API.md §2 closest to
 * it: `invalid_json` only for the body, which every such error was before.
 * Before the database check: a body the client stopped sending is an
 * ECONNRESET too, and was logged as "database unavailable".
 */
function otherClientError(status: number, code: string | undefined, message: string): ApiError {
  if (code === 'ECONNRESET') return new ApiError('invalid_json', 'The request body was cut short')
  if (status === 413) return new ApiError('payload_too_large', message)
  if (status === 415) return new ApiError('unsupported_media_type', message)
  // A path outside the static files' folder is one we do not have (`send` says 403).
  if (status === 403 || status === 404) return new ApiError('not_found', 'No such file')
  // `send` answers 412 for If-Unmodified-Since too, and 416 for a range it cannot read as well as one past the end.
  if (status === 412) return new ApiError('precondition_failed', 'The file does not meet If-Match or If-Unmodified-Since')
  if (status === 416) return validationError([{ field: 'Range', message: 'is malformed or past the end of the file' }])
  if (code?.startsWith('FST_ERR_CTP_')) return new ApiError('invalid_json', message)
  return validationError([{ field: 'request', message: `was refused: ${message}` }])
}

export function errorBody(error: ApiError, requestId: string) {
  return {
    success: false as const,
    error: {
      code: error.code,
      message: error.message,
      ...(error.details ? { details: error.details } : {}),
    },
    request_id: requestId,
  }
}

export function sendError(error: ApiError, request: FastifyRequest, reply: FastifyReply) {
  if (error.headers) reply.headers(error.headers)
  return reply.code(error.status).type('application/json; charset=utf-8').send(errorBody(error, request.id))
}

/**
 * Fastify validates a request's body before its query string and stops at
 * the first part that fails: a body refused by validation is answered with
 * the query's problems too (first, as they come first in the request), so
 * `PUT ?id=abc` with a bad body names `id` as well (problemsIn).
 */
function withQueryProblems(error: ApiError, request: FastifyRequest): ApiError {
  const queryProblems = problemsIn(request, 'querystring')
  return queryProblems.length ? validationError([...queryProblems, ...(error.details ?? [])]) : error
}

const READS = new Set(['GET', 'HEAD'])

/**
 * A write during which the database stopped answering (isOutcomeUnknownError):
 * still 503, as the client should retry, but not "nothing was kept". With
 * the same Idempotency-Key the retry is safe either way (a replay if it was
 * done: docs/syncing.md §4).
 */
const WRITE_OUTCOME_UNKNOWN = new ApiError(
  'service_unavailable',
  'The database stopped answering during this write, which may have been done: retry it with the same Idempotency-Key, or read the record before sending it again',
  { headers: { 'retry-after': '1' } },
)

export async function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  let known = toApiError(error)
  if (known?.code === 'validation_failed' && error.validationContext === 'body') known = await withReferenceProblems(withQueryProblems(known, request), request)
  if (known?.code === 'service_unavailable' && !READS.has(request.method) && isOutcomeUnknownError(error)) known = WRITE_OUTCOME_UNKNOWN
  if (known) {
    // Ours (a shutdown's refusal) are expected, and are not the database's.
    if (known.code === 'service_unavailable' && !(error instanceof ApiError)) request.log.warn({ err: error }, 'database unavailable')
    return sendError(known, request, reply)
  }
  request.log.error({ err: error }, 'unexpected error')
  return sendError(new ApiError('internal_error', `An unexpected error occurred; quote request id ${request.id} when reporting it`), request, reply)
}

/**
 * API.md §1 lists every offending field, and §2 counts ids inside a body
 * that are not the caller's company's among the problems of the request
 * alone. Those need the database, which a body's validation does not
 * read, so a body refused by validation is answered with the problems of
 * its well-formed ids too (the route's `referenceProblems`): a body with a
 * malformed title and a location of another company names both at once.
 * A failure to check them leaves the answer as it was.
 */
async function withReferenceProblems(error: ApiError, request: FastifyRequest): Promise<ApiError> {
  const check = request.routeOptions.config.referenceProblems
  if (!check || !request.auth) return error
  const listed = new Set(error.details?.map((d) => d.field))
  try {
    const problems = (await check(request)).filter((d) => !listed.has(d.field))
    return problems.length ? validationError([...(error.details ?? []), ...problems]) : error
  } catch (failure) {
    request.log.warn({ err: failure }, 'ids of a refused body not checked')
    return error
  }
}
