/**
 * The error codes of API.md §2 and the one error type that carries them.
 * Services throw these (they know nothing of HTTP beyond the code); the
 * error handler turns them into the documented envelope.
 */

export const ERROR_STATUS = {
  validation_failed: 400,
  invalid_json: 400,
  invalid_status_transition: 400,
  unauthorized: 401,
  insufficient_scope: 403,
  plan_upgrade_required: 403,
  not_found: 404,
  method_not_allowed: 405,
  job_locked: 409,
  conflict: 409,
  idempotency_key_in_use: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  idempotency_key_reused: 422,
  rate_limit_exceeded: 429,
  internal_error: 500,
  service_unavailable: 503,
} as const

export type ErrorCode = keyof typeof ERROR_STATUS

export interface FieldError {
  field: string
  message: string
}

export class ApiError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly details: FieldError[] | undefined
  readonly headers: Record<string, string> | undefined

  constructor(code: ErrorCode, message: string, options: { details?: FieldError[]; headers?: Record<string, string> } = {}) {
    super(message)
    this.name = 'ApiError'
    this.code = code
    this.status = ERROR_STATUS[code]
    this.details = options.details
    this.headers = options.headers
  }
}

/** Problems the message spells out; `details` lists every one. A body of 60,000 unknown fields had every one twice, a 4.8 MB answer. */
const MESSAGE_PROBLEMS = 20

/** What a PUT without a field to change is told (field `body`); the route's schema (minProperties) and each service say it. */
export const NOTHING_TO_UPDATE = 'Request body must contain at least one field to update'

/**
 * `validation_failed` listing every offending field (unknown ones up to a
 * thousand, validation.ts); the message names the first MESSAGE_PROBLEMS
 * and counts the rest (a detail about the body as a whole, or about a
 * field or query parameter without a name, says so in its message alone).
 */
export function validationError(details: FieldError[]): ApiError {
  const spelled = details.slice(0, MESSAGE_PROBLEMS).map((d) => (d.field === 'body' || d.field === '' ? d.message : `${d.field} ${d.message}`))
  const more = details.length - MESSAGE_PROBLEMS
  if (more > 0) spelled.push(`and ${more} more ${more === 1 ? 'problem' : 'problems'} (see details)`)
  return new ApiError('validation_failed', spelled.join('; '), { details })
}

/**
 * The detail of an id in a body that names no record of the caller's
 * company (another company's looks the same as none, API.md §3). Said of
 * the field, as every detail is: composed, it reads "customer_location_id
 * refers to location 5, which does not exist" (it was "customer_location_id
 * location 5 does not exist").
 */
export function refersToNone(what: string, id: number): string {
  return `refers to ${what} ${id}, which does not exist`
}

/**
 * A 401 says how to authenticate (RFC 9110 §11.6.1 requires a challenge):
 * the key, in the X-API-Key header (API.md §2). No scheme is registered for
 * that, so it is named as what it is.
 */
export const AUTH_CHALLENGE = 'ApiKey realm="FSM Navigator", header="X-API-Key"'

export function unauthorized(message: string): ApiError {
  return new ApiError('unauthorized', message, { headers: { 'www-authenticate': AUTH_CHALLENGE } })
}

export function notFound(resource: string, id: number | string): ApiError {
  return new ApiError('not_found', `${resource} ${id} not found`)
}
