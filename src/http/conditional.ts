/**
 * Conditional requests (API.md §8): strong ETags derived from the whole
 * representation, so a tag changes whenever any field of the answer does
 * (including live names and linked assets), not only with updated_at.
 */
import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ApiError } from './errors.ts'

/** A record as a write answers it, with its new ETag. */
export interface Tagged<T> {
  data: T
  etag: string
}

export function etagOf(representation: unknown): string {
  return tagOfJson(JSON.stringify(representation))
}

/** A record's answer to a write, tagged as its GET tags it: its row version and presented data. */
export function tagged<T>(rowVersion: number, data: T): Tagged<T> {
  return { data, etag: etagOf([rowVersion, data]) }
}

function tagOfJson(json: string): string {
  return `"${createHash('sha256').update(json).digest('base64url').slice(0, 32)}"`
}

/**
 * A record's JSON, to be sent as is, and its ETag: the same tag as
 * `etagOf([rowVersion, data])`, computed from that JSON instead of a second
 * serialisation of the record (issue 6). `data` must already be exactly the
 * documented shape, field by field, since no response schema filters it.
 */
export function serializedWithTag(rowVersion: unknown, data: unknown): { json: string; etag: string } {
  const json = JSON.stringify(data)
  return { json, etag: tagOfJson(`[${JSON.stringify(rowVersion)},${json}]`) }
}

function tagsOf(header: string): string[] {
  return header.split(',').map((t) => t.trim()).filter(Boolean)
}

/** If-None-Match uses the weak comparison (RFC 9110 §13.1.2). */
export function noneMatchHits(header: string | undefined, etag: string): boolean {
  if (!header) return false
  if (header.trim() === '*') return true
  return tagsOf(header).some((tag) => tag.replace(/^W\//, '') === etag)
}

/** An entity-tag as RFC 9110 §8.8.3 writes it: opaque text in double quotes, optionally marked weak. */
const ENTITY_TAG = /^(W\/)?"[^"]*"$/

/** If-Match uses the strong comparison: a weak tag never matches. */
export function assertIfMatch(header: string | undefined, etag: string, what: string): void {
  if (header === undefined) return
  if (header.trim() === '*') return
  const tags = tagsOf(header)
  if (!tags.includes(etag)) throw new ApiError('precondition_failed', ifMatchRefusal(tags, etag, what))
}

/**
 * Why If-Match failed, told so that the client's next step works. "Changed
 * since you read it; GET it again" is true of a stale tag only: a tag sent
 * weak (`W/"…"`, as a proxy that compresses answers makes it) or without
 * its quotes fails again after every GET, and a sync told to re-read and
 * retry did so for good.
 */
function ifMatchRefusal(tags: string[], etag: string, what: string): string {
  if (tags.includes(`W/${etag}`)) {
    return `If-Match holds a weak tag (W/"…"), which a write never matches: send the ETag as the GET answered it, without W/ (a proxy that compresses answers may have added it); nothing was written`
  }
  if (!tags.some((tag) => ENTITY_TAG.test(tag))) {
    return `If-Match must be an ETag as the GET answered it, in its double quotes ("…"); nothing was written`
  }
  return `The ${what} has changed since you read it (If-Match does not match its current ETag); GET it again and retry`
}

/** The preconditions of a write: the client's If-Match and If-None-Match headers, if any. */
export interface WriteConditions {
  ifMatch?: string | undefined
  ifNoneMatch?: string | undefined
}

export function conditionsOf(request: FastifyRequest): WriteConditions {
  const ifMatch = request.headers['if-match']
  const ifNoneMatch = request.headers['if-none-match']
  return { ifMatch: typeof ifMatch === 'string' ? ifMatch : undefined, ifNoneMatch: typeof ifNoneMatch === 'string' ? ifNoneMatch : undefined }
}

/** Does the write carry a precondition (and so need the record's current tag)? */
export function isConditional(conditions: WriteConditions): boolean {
  return conditions.ifMatch !== undefined || conditions.ifNoneMatch !== undefined
}

/**
 * A write's preconditions against the record's current ETag (RFC 9110
 * §13.2.2): If-Match first, then If-None-Match; a failed one is 412 and
 * nothing is written. If-None-Match on a write means "unless it is in this
 * version" (`*`: "unless it exists"), so it fails when it names the current
 * tag (compared weakly), and with `*` always: every write here is to a
 * record that exists. It was ignored, and a PUT under `If-None-Match: *`
 * overwrote the record its client meant to keep.
 */
export function assertConditions(conditions: WriteConditions, etag: string, what: string): void {
  assertIfMatch(conditions.ifMatch, etag, what)
  if (noneMatchHits(conditions.ifNoneMatch, etag)) {
    throw new ApiError('precondition_failed', `The ${what} exists${conditions.ifNoneMatch!.trim() === '*' ? '' : ' in a version If-None-Match names'}, and If-None-Match asks to write only if it does not; nothing was written`)
  }
}

/**
 * Sends a single record with its ETag, or `304 Not Modified` (no body, with
 * ETag and X-Request-Id) when the client's copy is current.
 */
export function sendConditional(request: FastifyRequest, reply: FastifyReply, etag: string, send: () => FastifyReply): FastifyReply {
  reply.header('etag', etag)
  const header = request.headers['if-none-match']
  if (noneMatchHits(typeof header === 'string' ? header : undefined, etag)) return reply.code(304).send()
  return send()
}
