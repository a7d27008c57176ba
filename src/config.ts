/**
 * The environment, parsed and validated once. Everything else receives a
 * `Config` and never reads `process.env` itself, so tests can build an app
 * with any configuration side by side.
 */
export interface Config {
  /** `sqlite:PATH` or `postgres://…`; see API.md §6. */
  databaseUrl: string
  port: number
  host: string
  /** Redis for rate limits shared by several processes; null keeps them in-process. */
  redisUrl: string | null
  /** Default per-key budget, requests per minute (API.md §3). */
  rateLimitPerMinute: number
  /** SQLite durability: NORMAL survives a process crash, FULL also power loss. */
  sqliteSynchronous: 'NORMAL' | 'FULL'
  logLevel: string
  /** `npm start` seeds demo data into an empty database unless this is false. */
  demoOnEmpty: boolean
  /** How long a key lookup may be served from memory; bounds how late a revocation is seen. */
  keyCacheMs: number
  /** `fsm serve` on SQLite reads jobs (single and listed) on a thread of its own (jobs.reader.ts) unless this is false. */
  sqliteReadThread: boolean
}

export class ConfigError extends Error {}

function integer(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`)
  const value = Number(raw)
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`)
  return value
}

/** pino's levels: another name made pino throw a message naming none of these. */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

function logLevel(raw: string | undefined): string {
  if (raw === undefined || raw === '') return 'info'
  if (!LOG_LEVELS.includes(raw)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`)
  return raw
}

/**
 * The most requests a minute a key may be given, by FSM_RATE_LIMIT or by
 * `fsm key create --rate-limit`: a billion is no limit in practice (the
 * benchmark's keys have 100,000,000), fits PostgreSQL's integer column,
 * and stays exact in the Redis bucket's arithmetic (Lua numbers print 14
 * significant digits).
 */
export const MAX_RATE_LIMIT_PER_MINUTE = 1_000_000_000

/**
 * A switch that is on unless turned off: `0`/`false`/`no`/`off` turn it off,
 * `1`/`true`/`yes`/`on` or nothing leave it on. Only `0` turned it off
 * before, so `FSM_DEMO=false` seeded the demo all the same.
 */
function switchedOn(name: string, raw: string | undefined): boolean {
  const value = (raw ?? '').trim().toLowerCase()
  if (['', '1', 'true', 'yes', 'on'].includes(value)) return true
  if (['0', 'false', 'no', 'off'].includes(value)) return false
  throw new ConfigError(`${name} must be 0 or 1 (or false/true, no/yes, off/on), got "${raw}"`)
}

/** A URL as it may be shown: its password replaced, whether or not the rest of it parses. */
function withoutPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*:)[^@/]*@/i, '$1***@')
}

/**
 * REDIS_URL: a `redis://` or `rediss://` URL with a host and, if any, a
 * database number, or a Unix socket's absolute path. The Redis client takes
 * more and guesses: it took `http://host:6379` for a socket's path (the
 * server ran without shared limits) and crashed the server on `/abc` once
 * it was listening.
 */
function redisUrl(raw: string | undefined): string | null {
  if (raw === undefined || raw === '') return null
  if (raw.startsWith('/')) return raw
  const problem = `REDIS_URL must be redis://[user:password@]host[:port][/database], rediss://… for TLS, or a Unix socket's path; got "${withoutPassword(raw)}"`
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new ConfigError(problem)
  }
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '' || !/^\/?(\d+)?$/.test(url.pathname)) throw new ConfigError(problem)
  return raw
}

/** What every `fsm` command needs: the database. Commands that do not serve read nothing else, so a bad PORT or REDIS_URL cannot stand in the way of revoking a key. */
export function loadDatabaseConfig(env: NodeJS.ProcessEnv = process.env): Pick<Config, 'databaseUrl' | 'sqliteSynchronous'> {
  const synchronous = (env.FSM_SQLITE_SYNCHRONOUS || 'NORMAL').toUpperCase()
  if (synchronous !== 'NORMAL' && synchronous !== 'FULL') {
    throw new ConfigError(`FSM_SQLITE_SYNCHRONOUS must be NORMAL or FULL, got "${env.FSM_SQLITE_SYNCHRONOUS}"`)
  }
  return { databaseUrl: env.DATABASE_URL || 'sqlite:./data/fsm.db', sqliteSynchronous: synchronous }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    ...loadDatabaseConfig(env),
    port: integer('PORT', env.PORT, 3000, 0, 65535),
    host: env.HOST || '127.0.0.1',
    redisUrl: redisUrl(env.REDIS_URL),
    rateLimitPerMinute: integer('FSM_RATE_LIMIT', env.FSM_RATE_LIMIT, 600, 1, MAX_RATE_LIMIT_PER_MINUTE),
    logLevel: logLevel(env.LOG_LEVEL),
    demoOnEmpty: switchedOn('FSM_DEMO', env.FSM_DEMO),
    keyCacheMs: integer('FSM_KEY_CACHE_MS', env.FSM_KEY_CACHE_MS, 500, 0, 1000),
    sqliteReadThread: switchedOn('FSM_SQLITE_READ_THREAD', env.FSM_SQLITE_READ_THREAD),
  }
}
