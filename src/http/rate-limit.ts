/**
 * Per-key token buckets (API.md §3): a bucket holds the per-minute budget and
 * refills at that rate, so a burst of the whole budget passes and the next
 * request waits. @fastify/rate-limit counts fixed windows, which lets twice
 * the budget through across a window edge, so the bucket is ours; the store
 * is an interface so that several processes can share one (Redis).
 */

export interface RateLimitDecision {
  allowed: boolean
  limit: number
  remaining: number
  /** Unix seconds when the bucket is full again. */
  resetAt: number
  /** Whole seconds until one request would pass (only when refused). */
  retryAfter: number
}

export interface RateLimitStore {
  take(key: string, limitPerMinute: number, nowMs: number): Promise<RateLimitDecision> | RateLimitDecision
  /** For /readyz: what the store is, whether it works, and if not, why when that is not plain unreachability. */
  status(): { store: string; healthy: boolean; problem?: string }
  /**
   * Called before the server takes requests (connect, or give up quickly and
   * fail open), with the installation's id: a store shared by several
   * installations keeps each one's buckets apart under it.
   */
  start?(installationId: string): Promise<void>
  close?(): Promise<void>
}

interface Bucket {
  tokens: number
  updatedMs: number
  limit: number
}

/** The answer's numbers, given the tokens left after this request. */
export function decisionFor(allowed: boolean, tokens: number, limit: number, nowMs: number): RateLimitDecision {
  const ratePerMs = limit / 60_000
  return {
    allowed,
    limit,
    remaining: Math.floor(tokens),
    resetAt: Math.ceil((nowMs + (limit - tokens) / ratePerMs) / 1000),
    retryAfter: allowed ? 0 : Math.max(1, Math.ceil((1 - tokens) / ratePerMs / 1000)),
  }
}

/** Pure token-bucket arithmetic (the Redis store runs the same steps in Lua). */
export function takeToken(bucket: Bucket | undefined, limit: number, nowMs: number): { bucket: Bucket; decision: RateLimitDecision } {
  const ratePerMs = limit / 60_000
  let tokens = limit
  if (bucket && bucket.limit === limit) tokens = Math.min(limit, bucket.tokens + Math.max(0, nowMs - bucket.updatedMs) * ratePerMs)
  const allowed = tokens >= 1
  if (allowed) tokens -= 1
  return { bucket: { tokens, updatedMs: nowMs, limit }, decision: decisionFor(allowed, tokens, limit, nowMs) }
}

export class MemoryRateLimitStore implements RateLimitStore {
  readonly #buckets = new Map<string, Bucket>()

  take(key: string, limit: number, nowMs: number): RateLimitDecision {
    const { bucket, decision } = takeToken(this.#buckets.get(key), limit, nowMs)
    // Full buckets carry no information; dropping them bounds memory.
    if (this.#buckets.size > 100_000) {
      for (const [k, b] of this.#buckets) if (b.tokens + (nowMs - b.updatedMs) * (b.limit / 60_000) >= b.limit) this.#buckets.delete(k)
    }
    this.#buckets.set(key, bucket)
    return decision
  }

  status() {
    return { store: 'memory', healthy: true }
  }
}
