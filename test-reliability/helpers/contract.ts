/**
 * What the contract says an answer looks like (API.md §1, §2 and §8),
 * written out here from the documents rather than imported from src/, so
 * the suite checks the promise and not the implementation's own table.
 */
import assert from 'node:assert/strict'

/** API.md §2 and §8: every error code and its status. */
export const DOCUMENTED_CODES: Readonly<Record<string, number>> = {
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
}

/** Things that must never appear in an answer: stack frames, SQL, driver and framework internals. */
export const LEAK_PATTERNS: RegExp[] = [
  /\bat [\w.<>$]+ \(?(file:|node:|\/)/, // a stack frame
  /node_modules|\/src\/\w+|\.ts:\d+/,
  /\b(select|insert into|update|delete from)\b[^"]{0,80}\b(from|set|values|where)\b/i,
  /SQLITE_[A-Z]+|sqlite3?_|better-sqlite3|\bkysely\b|\bpg_\w+|relation "|syntax error at|duplicate key value/i,
  /FST_ERR|fastify/i,
  /TypeError|ReferenceError|RangeError|Cannot read propert|Maximum call stack/,
]

export function leaks(text: string): string | undefined {
  for (const pattern of LEAK_PATTERNS) {
    const m = pattern.exec(text)
    if (m) return m[0]
  }
  return undefined
}

export interface AnyAnswer {
  status: number
  text: string
  body: any
  header(name: string): string | null | undefined
}

/**
 * An error answer in the envelope of API.md §1: JSON, `success: false`, a
 * documented code whose status is the answer's, a message, `details` for
 * validation_failed, and the request id that is also in X-Request-Id.
 * Returns the code.
 */
export function assertErrorEnvelope(a: AnyAnswer, context: string, method = 'GET'): string {
  if (method === 'HEAD') {
    // No body on HEAD; the status must still be a documented one.
    assert.ok(Object.values(DOCUMENTED_CODES).includes(a.status), `${context}: HEAD answered undocumented ${a.status}`)
    return ''
  }
  assert.ok(a.body && typeof a.body === 'object', `${context}: error answer ${a.status} is not JSON: ${a.text.slice(0, 300)}`)
  assert.equal(a.body.success, false, `${context}: success must be false`)
  const error = a.body.error
  assert.ok(error && typeof error.code === 'string' && typeof error.message === 'string', `${context}: no error.code/message: ${a.text.slice(0, 300)}`)
  assert.ok(error.code in DOCUMENTED_CODES, `${context}: undocumented code ${error.code}`)
  assert.equal(DOCUMENTED_CODES[error.code], a.status, `${context}: code ${error.code} with status ${a.status}`)
  if (error.code === 'validation_failed') {
    assert.ok(Array.isArray(error.details) && error.details.length > 0, `${context}: validation_failed without details`)
    for (const d of error.details) assert.ok(typeof d.field === 'string' && typeof d.message === 'string', `${context}: bad detail ${JSON.stringify(d)}`)
  }
  assert.equal(typeof a.body.request_id, 'string', `${context}: no request_id`)
  assert.equal(a.header('x-request-id'), a.body.request_id, `${context}: X-Request-Id differs from request_id`)
  const leak = leaks(a.text)
  assert.equal(leak, undefined, `${context}: the answer shows internals (${leak}): ${a.text.slice(0, 300)}`)
  return error.code as string
}

/** A success answer in the envelope of API.md §1 (reads: data; writes: success, message, data). */
export function assertSuccessEnvelope(a: AnyAnswer, context: string, method: string): void {
  if (method === 'HEAD' || a.status === 304) return
  assert.ok(a.body && typeof a.body === 'object', `${context}: success answer is not JSON: ${a.text.slice(0, 200)}`)
  assert.ok('data' in a.body, `${context}: no data`)
  assert.equal(typeof a.body.request_id, 'string', `${context}: no request_id`)
  if (method !== 'GET') {
    assert.equal(a.body.success, true, `${context}: write answer without success: true`)
    assert.equal(typeof a.body.message, 'string', `${context}: write answer without message`)
  }
}

/** Wraps a fetch Answer or a raw answer into the shape the checks read. */
export function view(a: { status: number; text: string; body: any; headers: Headers | Record<string, string> }): AnyAnswer {
  const headers = a.headers
  return {
    status: a.status,
    text: a.text,
    body: a.body,
    header: (name) => (headers instanceof Headers ? headers.get(name) : headers[name.toLowerCase()]),
  }
}
