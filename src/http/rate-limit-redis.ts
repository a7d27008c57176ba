/**
 * The token bucket of rate-limit.ts kept in Redis, so every `fsm serve`
 * process shares one budget per key (API.md §3). One Lua script reads,
 * refills, takes and writes atomically, on Redis's clock (processes' clocks
 * may disagree). If Redis is unreachable the API keeps answering: requests
 * are let through (fail open), the outage is logged once, and /readyz says so.
 */
import { Redis } from 'ioredis'
import { decisionFor, type RateLimitDecision, type RateLimitStore } from './rate-limit.ts'

const TAKE = `
local limit = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local data = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'limit')
local tokens = tonumber(data[1])
local rate = limit / 60000
if tokens == nil or tonumber(data[3]) ~= limit then
  tokens = limit
else
  tokens = math.min(limit, tokens + math.max(0, now - tonumber(data[2])) * rate)
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now, 'limit', limit)
redis.call('PEXPIRE', KEYS[1], 61000)
return {allowed, tostring(tokens), now}
`

/**
 * A Redis error as it may be logged. ioredis hangs the command that failed
 * on its errors, arguments and all: for the HELLO or AUTH it sends first,
 * those are REDIS_URL's user and password, which went to the log with a
 * wrong password. The command's name is kept.
 */
export function withoutCommandArguments(error: unknown): unknown {
  if (!(error instanceof Error) || !('command' in error)) return error
  const { command, code } = error as { command?: { name?: unknown }; code?: unknown }
  const safe = Object.assign(new Error(error.message), { code, command: command?.name })
  safe.name = error.name
  safe.stack = error.stack ?? ''
  return safe
}

/**
 * Whether Redis refused to switch to REDIS_URL's database (a number past its
 * `databases` setting). ioredis selects it on every connection and, when
 * Redis refuses, emits the error and goes on in database 0.
 */
function refusedDatabase(error: unknown): boolean {
  return error instanceof Error && (error as { command?: { name?: unknown } }).command?.name === 'select'
}

export class RedisRateLimitStore implements RateLimitStore {
  readonly #redis: Redis
  readonly #warn: (message: string, error?: unknown) => void
  #healthy = true
  /**
   * Redis refused REDIS_URL's database on the current connection: the
   * buckets are not used (they would land in database 0, beside whatever
   * else lives there) and limits fail open until a connection selects it.
   */
  #databaseRefused = false
  /** Set by start(); until then (never, in the server) the buckets of no installation. */
  #prefix = 'fsm:-:rl:'

  constructor(url: string, warn: (message: string, error?: unknown) => void) {
    this.#warn = warn
    this.#redis = new Redis(url, {
      // Fail fast instead of queueing while Redis is away: the request must not wait.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 1000,
      commandTimeout: 500,
      retryStrategy: (times) => Math.min(times * 200, 2000),
      lazyConnect: true,
    })
    // Each connection selects the database anew ('connect' comes before its handshake, 'ready' after).
    this.#redis.on('connect', () => (this.#databaseRefused = false))
    this.#redis.on('error', (error) => {
      if (refusedDatabase(error)) this.#databaseRefused = true
      this.#markDown(error)
    })
    this.#redis.on('ready', () => {
      if (this.#databaseRefused) this.#markDown()
      else this.#markUp()
    })
    this.#redis.defineCommand('fsmTakeToken', { numberOfKeys: 1, lua: TAKE })
  }

  #markUp() {
    if (!this.#healthy) this.#warn('redis reachable again: shared rate limits restored')
    this.#healthy = true
  }

  #markDown(error?: unknown) {
    if (this.#healthy) {
      if (this.#databaseRefused) {
        this.#warn(`redis refused REDIS_URL's database ${this.#redis.options.db}: rate limits fail open until it is one that Redis has (its \`databases\` setting)`, withoutCommandArguments(error))
      } else this.#warn('redis unreachable: rate limits fail open until it is back', withoutCommandArguments(error))
    }
    this.#healthy = false
  }

  /**
   * Connects before the first request; an unreachable Redis is reported, not
   * fatal. Buckets are kept under the installation's id: API key ids are per
   * database, and installations may share one Redis.
   */
  async start(installationId: string) {
    this.#prefix = `fsm:${installationId}:rl:`
    await this.#redis.connect().catch((error) => this.#markDown(error))
  }

  async take(key: string, limit: number, nowMs: number): Promise<RateLimitDecision> {
    if (this.#databaseRefused) return decisionFor(true, limit - 1, limit, nowMs)
    try {
      const [allowed, tokens, redisNow] = (await (this.#redis as any).fsmTakeToken(this.#prefix + key, limit)) as [number, string, number]
      // Answering again after it hung without losing the connection: no 'ready' says so.
      if (!this.#healthy) this.#markUp()
      return decisionFor(allowed === 1, Number(tokens), limit, Number(redisNow))
    } catch (error) {
      this.#markDown(error)
      return decisionFor(true, limit - 1, limit, nowMs)
    }
  }

  status() {
    return { store: 'redis', healthy: this.#healthy, ...(this.#databaseRefused && { problem: `database ${this.#redis.options.db} refused` }) }
  }

  async close() {
    this.#redis.disconnect()
  }
}
