/**
 * Idempotency-Key (API.md §8). The first request under a key claims it with
 * one atomic insert (a concurrent twin finds the claim and gets 409); its
 * answer (below 500) is stored and replayed to every later retry of the same
 * request for 24 hours; the same key with a different request is 422.
 *
 * A write's answer is stored by the write's own transaction (`answerWrite`):
 * stored after its COMMIT, a crash in between (or a failed store) left the
 * write done and its claim open, and a retry 60 s later did it again.
 * Answers of requests that wrote nothing (refusals) are stored on sending.
 */
import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest, onSendHookHandler, preValidationHookHandler } from 'fastify'
import type { Kysely } from 'kysely'
import type { Database } from '../db/types.ts'
import { nowSeconds } from '../db/time.ts'
import { preparedWrite } from '../db/prepared.ts'
import { singleWrite, type BeforeCommit } from '../db/transaction.ts'
import { ApiError, validationError } from './errors.ts'
import { sentMoreThanOnce } from './headers.ts'
import { problemsIn } from './validation.ts'

export const KEEP_SECONDS = 24 * 3600
/** A claim still `running` this long after a crash is released. */
export const STALE_CLAIM_SECONDS = 60
const KEY_PATTERN = /^[\x20-\x7E]{1,255}$/
/** Headers a replay repeats besides the body and status. */
const REPLAYED_HEADERS = ['location', 'etag'] as const
const JSON_TYPE = 'application/json; charset=utf-8'
/** Expired keys deleted per statement by the purge: on SQLite ~1.2 ms a batch, COMMIT included (the statement took 20-38 ms at times with 500 or 1,000). */
const PURGE_BATCH = 250

/** A claim on a key, as this request holds it (`lockedAt` tells it from a later takeover). */
interface Claim {
  keyId: number
  key: string
  lockedAt: number
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set while this request owns an idempotency claim whose answer is not stored yet. */
    idempotencyClaim: Claim | null
  }
}

const IN_USE = () => new ApiError('idempotency_key_in_use', 'A request with this Idempotency-Key is still being processed; retry shortly', { headers: { 'retry-after': '1' } })

// Prepared (src/db/prepared.ts): an idempotent write runs both.
const insertClaim = preparedWrite((db, keyId: number, key: string, print: string, now: number) =>
  db
    .insertInto('idempotency_keys')
    .values({ key_id: keyId, idempotency_key: key, fingerprint: print, state: 'running', response_status: null, response_body: null, response_headers: null, request_id: null, created_at: now, locked_at: now })
    .onConflict((oc) => oc.columns(['key_id', 'idempotency_key']).doNothing()),
)

const updateAnswer = preparedWrite(
  (db, keyId: number, key: string, lockedAt: number, status: number, body: string, headers: string, requestId: string) =>
    db
      .updateTable('idempotency_keys')
      .set({ state: 'done', response_status: status, response_body: body, response_headers: headers, request_id: requestId })
      .where('key_id', '=', keyId)
      .where('idempotency_key', '=', key)
      .where('state', '=', 'running')
      .where('locked_at', '=', lockedAt),
)

/**
 * Stores the answer on the claim, if the claim is still this request's (a
 * request running past STALE_CLAIM_SECONDS may have lost it to a retry).
 */
async function storeAnswer(db: Kysely<Database>, claim: Claim, status: number, body: string, headers: Record<string, string>, requestId: string): Promise<boolean> {
  return (await updateAnswer(db, claim.keyId, claim.key, claim.lockedAt, status, body, JSON.stringify(headers), requestId)) === 1
}

/** What a write answers: its status, the headers a replay repeats, and its body (serialised with the route's schema for that status). */
export interface WriteAnswer {
  status: number
  headers?: Partial<Record<(typeof REPLAYED_HEADERS)[number], string>>
  body: Record<string, unknown>
}

/**
 * Runs a write and answers it. `write` passes `beforeCommit` on to the
 * write's transaction; under a claimed Idempotency-Key it stores the answer
 * there, so the write and its stored answer commit together or not at all.
 * If the claim was taken over meanwhile (the request ran past
 * STALE_CLAIM_SECONDS and a retry took it), the write is rolled back and
 * answered 409: only one of the two may do it.
 */
export async function answerWrite<R>(
  request: FastifyRequest,
  reply: FastifyReply,
  // `any`, not R: typed with R, TypeScript would fix R from this parameter
  // (to unknown) before seeing what `write` returns. The service's own
  // signature ties its `beforeCommit` to its result.
  write: (beforeCommit: BeforeCommit<any> | undefined) => Promise<R>,
  answerOf: (result: R) => WriteAnswer,
): Promise<FastifyReply> {
  const claim = request.idempotencyClaim
  let stored: { answer: WriteAnswer; json: string } | undefined
  let store: BeforeCommit<R> | undefined
  if (claim) {
    store = async (trx, result) => {
      const answer = answerOf(result)
      const json = reply.serializeInput(answer.body, String(answer.status)) as string
      if (!(await storeAnswer(trx, claim, answer.status, json, answer.headers ?? {}, request.id))) {
        request.idempotencyClaim = null // the claim is the other request's now: leave it alone
        throw IN_USE()
      }
      stored = { answer, json }
    }
  }
  const result = await write(store)
  const answer = stored?.answer ?? answerOf(result)
  reply.code(answer.status)
  for (const [name, value] of Object.entries(answer.headers ?? {})) reply.header(name, value)
  if (!stored) return reply.send(answer.body)
  request.idempotencyClaim = null // stored with the write
  return reply.type(JSON_TYPE).send(stored.json)
}

/**
 * JSON with object keys sorted, so JSON-equal bodies give equal fingerprints.
 * Iterative, not recursive: a body nested thousands of levels deep (refused
 * later by validation) must not overflow the stack here.
 */
function canonicalJson(root: unknown): string {
  const out: string[] = []
  const stack: Array<{ text: string } | { value: unknown }> = [{ value: root }]
  while (stack.length) {
    const item = stack.pop()!
    if ('text' in item) {
      out.push(item.text)
      continue
    }
    const value = item.value
    if (Array.isArray(value)) {
      stack.push({ text: ']' })
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i] }, { text: i > 0 ? ',' : '' })
      stack.push({ text: '[' })
    } else if (value !== null && typeof value === 'object') {
      const keys = Object.keys(value).sort()
      stack.push({ text: '}' })
      for (let i = keys.length - 1; i >= 0; i--) {
        stack.push({ value: (value as Record<string, unknown>)[keys[i]!] }, { text: `${i > 0 ? ',' : ''}${JSON.stringify(keys[i])}:` })
      }
      stack.push({ text: '{' })
    } else {
      out.push(JSON.stringify(value) ?? 'null')
    }
  }
  return out.join('')
}

function fingerprint(request: FastifyRequest): string {
  return createHash('sha256').update(`${request.method} ${request.url}\n${canonicalJson(request.body ?? null)}`).digest('hex')
}

export function createIdempotency(db: Kysely<Database>, log: { warn: (obj: object, msg: string) => void }) {
  async function claim(keyId: number, key: string, print: string, now: number): Promise<boolean> {
    return (await singleWrite(db, (trx) => insertClaim(trx, keyId, key, print, now))) === 1
  }

  /**
   * preValidation hook of the write routes: claim the key, or replay /
   * refuse. Callback-style, so a write without a key costs no promise.
   */
  const before: preValidationHookHandler = (request, reply, done) => {
    if (request.headers['idempotency-key'] === undefined || !request.auth) return done()
    claimOrReplay(request, reply, request.auth.keyId).then(() => done()).catch(done)
  }

  async function claimOrReplay(request: FastifyRequest, reply: FastifyReply, keyId: number) {
    const header = request.headers['idempotency-key']
    // Node joins a header sent twice into one value ("a, b"), which is
    // printable ASCII, so two keys were taken silently as a third.
    const twice = sentMoreThanOnce(request.raw.rawHeaders, 'idempotency-key')
    if (typeof header !== 'string' || !KEY_PATTERN.test(header) || twice) {
      // With the request's other problems, in the order they come in it (API.md §1: every offending field).
      const malformed = { field: 'Idempotency-Key', message: twice ? 'must be sent once' : 'must be 1 to 255 printable ASCII characters' }
      throw validationError([...problemsIn(request, 'querystring'), malformed, ...problemsIn(request, 'body')])
    }
    const print = fingerprint(request)
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = nowSeconds()
      if (await claim(keyId, header, print, now)) {
        request.idempotencyClaim = { keyId, key: header, lockedAt: now }
        return
      }
      const row = await db.selectFrom('idempotency_keys').selectAll().where('key_id', '=', keyId).where('idempotency_key', '=', header).executeTakeFirst()
      if (!row) continue // released in between: claim again
      if (row.created_at <= now - KEEP_SECONDS) {
        // Expired: as if never used.
        await singleWrite(db, (trx) => trx.deleteFrom('idempotency_keys').where('key_id', '=', keyId).where('idempotency_key', '=', header).where('created_at', '=', row.created_at).execute())
        continue
      }
      if (row.fingerprint !== print) {
        throw new ApiError('idempotency_key_reused', 'This Idempotency-Key was already used for a different request (method, path or body); use a new key')
      }
      if (row.state === 'running') {
        if (row.locked_at > now - STALE_CLAIM_SECONDS) {
          throw IN_USE()
        }
        // The first attempt died (crash) without answering: take the claim over, once.
        const taken = await singleWrite(db, (trx) =>
          trx
            .updateTable('idempotency_keys')
            .set({ locked_at: now })
            .where('key_id', '=', keyId)
            .where('idempotency_key', '=', header)
            .where('state', '=', 'running')
            .where('locked_at', '=', row.locked_at)
            .executeTakeFirst(),
        )
        if (Number(taken.numUpdatedRows) === 1) {
          request.idempotencyClaim = { keyId, key: header, lockedAt: now }
          return
        }
        continue
      }
      const headers = JSON.parse(row.response_headers ?? '{}') as Record<string, string>
      reply.headers(headers)
      reply.header('x-request-id', row.request_id ?? request.id)
      reply.header('idempotent-replayed', 'true')
      return reply.code(row.response_status ?? 200).type(JSON_TYPE).send(row.response_body ?? '')
    }
    throw IN_USE()
  }

  /**
   * onSend hook of the write routes: store the answer of a claimed request
   * that wrote nothing (a refusal: its answer is the same on a retry), or
   * release the claim after a 5xx. A write's answer was stored with the
   * write (answerWrite). Callback-style, like `before`: a request without a
   * claim costs no promise.
   */
  const after: onSendHookHandler = (request, reply, payload, done) => {
    const claimed = request.idempotencyClaim
    if (!claimed) return done(null, payload)
    request.idempotencyClaim = null
    storeOrRelease(request, reply, claimed, payload).then((stored) => done(null, stored), done)
  }

  /** Deletes the claim, if it is still this request's. */
  const release = (claimed: Claim) =>
    singleWrite(db, (trx) =>
      trx
        .deleteFrom('idempotency_keys')
        .where('key_id', '=', claimed.keyId)
        .where('idempotency_key', '=', claimed.key)
        .where('state', '=', 'running')
        .where('locked_at', '=', claimed.lockedAt)
        .execute(),
    )

  /**
   * Tries the release again every second until it is done or the claim is
   * stale anyway: the database that failed the request often failed its
   * release too, and every retry with the key, as docs/errors.md asks for
   * after a 503, was answered 409 until the claim went stale (60 s).
   */
  function releaseLater(claimed: Claim, attempt = 1) {
    if (attempt >= STALE_CLAIM_SECONDS) return
    setTimeout(() => void release(claimed).catch(() => releaseLater(claimed, attempt + 1)), 1000).unref()
  }

  async function storeOrRelease(request: FastifyRequest, reply: FastifyReply, claimed: Claim, payload: unknown) {
    try {
      if (reply.statusCode >= 500) {
        await release(claimed)
        return payload
      }
      const headers: Record<string, string> = {}
      for (const name of REPLAYED_HEADERS) {
        const value = reply.getHeader(name)
        if (value !== undefined) headers[name] = String(value)
      }
      const body = typeof payload === 'string' ? payload : String(payload ?? '')
      await singleWrite(db, (trx) => storeAnswer(trx, claimed, reply.statusCode, body, headers, request.id))
    } catch (error) {
      // Nothing was written, so nothing is lost: once the claim is released, a retry runs the request again.
      log.warn({ err: error }, 'could not store idempotent answer')
      releaseLater(claimed)
    }
    return payload
  }

  /**
   * Deletes keys older than 24 hours; run every 10 minutes. In batches of
   * `batch` keys, each a short write of its own with requests let in
   * between: an integrator that sends a key with every write, as
   * docs/syncing.md asks, leaves 60,000 keys to purge at 100 writes a
   * second, and on SQLite one statement deleting them held the event loop
   * (every request) for 290 ms (1.5 s for 300,000). Keys that expire while
   * it runs are left to the next purge.
   */
  async function purgeExpired(batch = PURGE_BATCH): Promise<number> {
    const cutoff = nowSeconds() - KEEP_SECONDS
    let purged = 0
    for (;;) {
      const result = await singleWrite(db, (trx) =>
        trx
          .deleteFrom('idempotency_keys')
          .where(({ eb, refTuple, selectFrom }) =>
            eb(refTuple('key_id', 'idempotency_key'), 'in', selectFrom('idempotency_keys').select(['key_id', 'idempotency_key']).where('created_at', '<=', cutoff).limit(batch).$asTuple('key_id', 'idempotency_key')),
          )
          .executeTakeFirst(),
      )
      const deleted = Number(result.numDeletedRows)
      purged += deleted
      if (deleted < batch) return purged
      await new Promise((resolve) => setImmediate(resolve))
    }
  }

  return { before, after, purgeExpired }
}
