/**
 * Authentication, rate limiting, plan and scope checks, in the order of
 * API.md §2: 401 → 429 → 403 plan → 403 scope. They run in `onRequest`,
 * before the body is read, so an unauthenticated client cannot make the
 * server parse a megabyte, and only on the routes that need a scope.
 */
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import type { Kysely } from 'kysely'
import type { Database } from '../db/types.ts'
import { nowSeconds } from '../db/time.ts'
import { findKeyForAuth, touchKey } from '../modules/api-keys/api-keys.service.ts'
import { hashesEqual, hashKey, parseKey } from '../modules/api-keys/key-format.ts'
import type { Scope } from '../modules/api-keys/scopes.ts'
import { ASSETS_API_NEEDS_MODULE } from '../modules/actor.ts'
import { parseModules, type Module } from '../modules/companies/companies.service.ts'
import { ApiError, unauthorized, type FieldError } from './errors.ts'
import { sentMoreThanOnce } from './headers.ts'
import type { RateLimitDecision, RateLimitStore } from './rate-limit.ts'

export interface AuthContext {
  keyId: number
  companyId: number
  scopes: ReadonlySet<string>
  modules: ReadonlySet<Module>
  plan: string
  /** The key's own budget, or null for the configured default. */
  rateLimitPerMinute: number | null
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext | null
    /** A revoked key presented in full (its secret matched): named in the request's log line, not in the answer. */
    revokedKeyId: number | null
  }
  interface FastifyContextConfig {
    /** The scope a route needs; routes without one are public. */
    scope?: Scope
    /** A module the company needs for the route (checked with the plan, before the scope). */
    module?: Module
    /** A write's check of the ids in a body its validation refused (error-handler.ts, `withReferenceProblems`). */
    referenceProblems?: (request: FastifyRequest) => Promise<FieldError[]>
  }
}

type KeyRecord = NonNullable<Awaited<ReturnType<typeof findKeyForAuth>>>

interface AuthOptions {
  db: Kysely<Database>
  rateLimits: RateLimitStore
  defaultRateLimit: number
  /** Key lookups are cached this long; it bounds how late a revocation takes effect. */
  cacheMs: number
  onBackgroundError: (error: unknown) => void
}

/**
 * Milliseconds for the key cache's window, on a monotonic clock: on
 * Date.now, a wall clock stepped back (an NTP correction, a VM resumed)
 * kept every cached key, revoked or not, good for as long as the step,
 * where API.md §3 allows one second.
 */
const monotonicMs = () => performance.now()

/** last_used_at is written at most this often per key, not on every request. */
const TOUCH_INTERVAL_SECONDS = 60

export function createAuthenticator(options: AuthOptions) {
  const cache = new Map<number, { record: KeyRecord | undefined; expiresMs: number }>()
  const touched = new Map<number, number>()
  // Keys that passed every check below, by their exact text, for as long as
  // their record stays cached: a repeat request skips the parse, checksum,
  // hash and comparison (a few µs each request, issue 6). Found by the
  // Map's hash of the whole text, so a wrong guess never compares against
  // a right key character by character.
  const verified = new Map<string, { auth: AuthContext; record: KeyRecord; expiresMs: number }>()

  async function lookup(keyId: number, nowMs: number): Promise<{ record: KeyRecord | undefined; expiresMs: number }> {
    const hit = cache.get(keyId)
    if (hit && hit.expiresMs > nowMs) return hit
    const entry = { record: await findKeyForAuth(options.db, keyId), expiresMs: nowMs + options.cacheMs }
    if (cache.size > 10_000) cache.clear()
    cache.set(keyId, entry)
    return entry
  }

  function touch(record: KeyRecord) {
    const now = nowSeconds()
    const last = touched.get(record.key_id) ?? record.last_used_at ?? 0
    if (now - last < TOUCH_INTERVAL_SECONDS) return
    touched.set(record.key_id, now)
    touchKey(options.db, record.key_id, now).catch(options.onBackgroundError)
  }

  /** The context of a key verified moments ago, if this is one. */
  function recentlyVerified(header: string | string[] | undefined): AuthContext | undefined {
    if (typeof header !== 'string') return undefined
    const hit = verified.get(header)
    if (!hit || hit.expiresMs <= monotonicMs()) return undefined
    touch(hit.record)
    return hit.auth
  }

  async function authenticate(request: FastifyRequest): Promise<AuthContext> {
    const header = request.headers['x-api-key']
    const recent = recentlyVerified(header)
    if (recent) return recent
    if (header === undefined || header === '') throw unauthorized('X-API-Key header is required')
    // Node joins a header sent twice ("k1, k2"): "Invalid API key" sent the client to check a key that was fine.
    if (sentMoreThanOnce(request.raw.rawHeaders, 'x-api-key')) throw unauthorized('X-API-Key header must be sent once')
    const keyId = typeof header === 'string' ? parseKey(header) : null
    if (keyId === null) throw unauthorized('Invalid API key')
    const { record, expiresMs } = await lookup(keyId, monotonicMs())
    if (!record || !hashesEqual(hashKey(header as string), record.key_hash)) throw unauthorized('Invalid or revoked API key')
    if (record.revoked_at !== null) {
      // Whoever still sends it is worth finding: the log line names the key
      // (the answer says no more than for a wrong key).
      request.revokedKeyId = record.key_id
      throw unauthorized('Invalid or revoked API key')
    }
    touch(record)
    // Shared by the requests that present this key until it expires: never mutated.
    const auth: AuthContext = Object.freeze({
      keyId: record.key_id,
      companyId: record.company_id,
      scopes: new Set(record.scopes.split(',')),
      modules: new Set(parseModules(record.modules)),
      plan: record.plan,
      rateLimitPerMinute: record.rate_limit_per_minute,
    })
    if (verified.size > 10_000) verified.clear()
    verified.set(header as string, { auth, record, expiresMs })
    return auth
  }

  function rateLimitHeaders(reply: FastifyReply, decision: RateLimitDecision) {
    reply.header('x-ratelimit-limit', decision.limit)
    reply.header('x-ratelimit-remaining', decision.remaining)
    reply.header('x-ratelimit-reset', decision.resetAt)
  }

  const take = (auth: AuthContext) => options.rateLimits.take(`key:${auth.keyId}`, auth.rateLimitPerMinute ?? options.defaultRateLimit, Date.now())

  /** The checks after authentication, in API.md §2's order: the error to answer with, if any. */
  function refusal(reply: FastifyReply, auth: AuthContext, decision: RateLimitDecision, scope: Scope, module: Module | undefined): ApiError | undefined {
    rateLimitHeaders(reply, decision)
    if (!decision.allowed) {
      return new ApiError('rate_limit_exceeded', `Rate limit of ${decision.limit} requests per minute exceeded; retry in ${decision.retryAfter} s`, {
        headers: { 'retry-after': String(decision.retryAfter) },
      })
    }
    if (auth.plan !== 'enterprise') return new ApiError('plan_upgrade_required', 'The REST API is available on Enterprise plans')
    if (module === 'assets' && !auth.modules.has(module)) {
      return new ApiError('plan_upgrade_required', ASSETS_API_NEEDS_MODULE)
    }
    if (!auth.scopes.has(scope)) return new ApiError('insufficient_scope', `This API key lacks the ${scope} scope`)
    return undefined
  }

  /**
   * The onRequest hook of a route that needs `scope` (and `module`), added
   * to those routes only. Callback-style, and synchronous from start to end
   * for a key verified moments ago and an in-memory rate-limit store: no
   * promise or microtask per request (issue 6).
   */
  function guardFor(scope: Scope, module?: Module): onRequestHookHandler {
    return function guard(request, reply, done) {
      const admit = (auth: AuthContext) => {
        request.auth = auth
        const decision = take(auth)
        if ('then' in decision) decision.then((taken) => done(refusal(reply, auth, taken, scope, module))).catch(done)
        else done(refusal(reply, auth, decision, scope, module))
      }
      const recent = recentlyVerified(request.headers['x-api-key'])
      if (recent) admit(recent)
      // .catch, not .then's second argument: whatever admit throws must answer, never become an unhandled rejection.
      else authenticate(request).then(admit).catch(done)
    }
  }

  /**
   * For a request the route checks refuse (404 unknown path, 405 wrong
   * method), which come before the key in API.md §2's order: if it bears a
   * valid key, it counts against the key's budget and its answer carries
   * the rate-limit headers, as every answer to a valid key does (§3); an
   * unknown path sent in a loop is limited like any other request. The
   * answer stays 404 or 405 whatever the key: an invalid one, an empty
   * bucket (not drawn further) or a database that cannot be asked add
   * nothing.
   */
  async function meterRefusedRoute(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (request.headers['x-api-key'] === undefined) return
    try {
      const auth = recentlyVerified(request.headers['x-api-key']) ?? (await authenticate(request))
      rateLimitHeaders(reply, await take(auth))
    } catch {
      // Not a valid key, or it could not be checked now: the route's refusal is the answer.
    }
  }

  return { guardFor, meterRefusedRoute }
}
