/** Assertions shared by the resource tests: the error envelope (API.md §1), timestamps. */
import assert from 'node:assert/strict'
import type { ApiResponse } from './factories.ts'

export const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/

/** A non-2xx answer in the envelope, with this status and code, and its request id in body and header. */
export function assertError(res: ApiResponse, status: number, code: string) {
  assert.equal(res.status, status, JSON.stringify(res.body))
  assert.equal(res.body.success, false)
  assert.equal(res.body.error.code, code, JSON.stringify(res.body))
  assert.equal(typeof res.body.error.message, 'string')
  assert.equal(res.body.request_id, res.headers['x-request-id'])
}

/** validation_failed whose details name exactly `fields` (in any order); optionally the first message matches. */
export function assertInvalid(res: ApiResponse, fields: string[], messagePart?: RegExp) {
  assertError(res, 400, 'validation_failed')
  const got = (res.body.error.details as Array<{ field: string; message: string }>).map((d) => d.field).sort()
  assert.deepEqual(got, [...fields].sort(), JSON.stringify(res.body.error))
  if (messagePart) assert.match(res.body.error.details[0].message, messagePart)
}

/**
 * A record's `updated_at` set back to 2023-11-14 in the database, so that a
 * write's "it moved" can fail: a write in the same second as the create
 * would leave it equal, and `>=` holds whether it moved or not.
 */
export const BACKDATED = 1_700_000_000

/** An answer's timestamp within `slackS` seconds of now. */
export function assertRecent(iso: string, slackS = 30) {
  assert.match(iso, TIMESTAMP)
  assert.ok(Math.abs(Date.parse(iso) - Date.now()) <= slackS * 1000, `${iso} is not now`)
}

/** Emails with what no text field takes: C0, DEL, C1, an escape sequence, a line separator, a lone surrogate, in each part of the address. */
export const EMAILS_WITH_CONTROL_CHARACTERS = ['a\u0000b@x.example', 'a@x\u0001y.example', 'a@x.ex\u007fample', '\u001b[31mred@x.example', 'a\u0085b@x.example', 'a\u2028b@x.example', 'a@x.\ud800example']
