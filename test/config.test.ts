/**
 * The environment `fsm` reads (README, "Configuration"): defaults, and a
 * clear error naming the variable for every value it cannot use, before
 * anything starts. REDIS_URL is a redis:// or rediss:// URL or a Unix
 * socket's path: the Redis client's guesses at anything else ran the server
 * without shared limits, or crashed it (a Redis it cannot reach is logged,
 * and limits fail open: docs/deployment.md).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ConfigError, loadConfig, loadDatabaseConfig } from '../src/config.ts'

describe('configuration from the environment', () => {
  it('defaults', () => {
    const config = loadConfig({})
    assert.equal(config.databaseUrl, 'sqlite:./data/fsm.db')
    assert.equal(config.port, 3000)
    assert.equal(config.host, '127.0.0.1')
    assert.equal(config.redisUrl, null)
    assert.equal(config.rateLimitPerMinute, 600)
    assert.equal(config.sqliteSynchronous, 'NORMAL')
    assert.equal(config.logLevel, 'info')
    assert.equal(config.keyCacheMs, 500)
    assert.equal(config.demoOnEmpty, true)
    assert.equal(config.sqliteReadThread, true)
  })

  it('values it can use', () => {
    const config = loadConfig({ PORT: '8080', REDIS_URL: 'rediss://:secret@cache.internal:6380/2', FSM_RATE_LIMIT: '1200', FSM_SQLITE_SYNCHRONOUS: 'full', LOG_LEVEL: 'warn', FSM_KEY_CACHE_MS: '0', FSM_DEMO: '0' })
    assert.equal(config.port, 8080)
    assert.equal(config.redisUrl, 'rediss://:secret@cache.internal:6380/2')
    assert.equal(config.rateLimitPerMinute, 1200)
    assert.equal(config.sqliteSynchronous, 'FULL')
    assert.equal(config.logLevel, 'warn')
    assert.equal(config.keyCacheMs, 0)
    assert.equal(config.demoOnEmpty, false)
    for (const url of ['redis://127.0.0.1:6379', 'redis://cache.internal', 'redis://127.0.0.1:6379/', 'redis://user:pw@127.0.0.1:6379/15', '/run/redis/redis.sock']) assert.equal(loadConfig({ REDIS_URL: url }).redisUrl, url)
  })

  it('a value it cannot use is an error naming the variable', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ PORT: 'abc' }, /^PORT must be a whole number, got "abc"$/],
      [{ PORT: '70000' }, /^PORT must be between 0 and 65535, got 70000$/],
      [{ FSM_RATE_LIMIT: '0' }, /^FSM_RATE_LIMIT must be between 1 and/],
      [{ FSM_KEY_CACHE_MS: '5000' }, /^FSM_KEY_CACHE_MS must be between 0 and 1000/],
      [{ FSM_SQLITE_SYNCHRONOUS: 'off' }, /^FSM_SQLITE_SYNCHRONOUS must be NORMAL or FULL/],
      [{ LOG_LEVEL: 'verbose' }, /^LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"$/],
      // Taken for a socket's path (no shared limits), and a crash once listening.
      ...['http://127.0.0.1:6379', 'redis://127.0.0.1:6379/abc', '127.0.0.1:6379', 'redis://', 'redis://127.0.0.1:6379/0/1'].map(
        (url): [Record<string, string>, RegExp] => [{ REDIS_URL: url }, /^REDIS_URL must be redis:\/\/\[user:password@\]host\[:port\]\[\/database\]/],
      ),
    ]
    for (const [env, message] of cases) assert.throws(() => loadConfig(env), (error: Error) => error instanceof ConfigError && message.test(error.message), JSON.stringify(env))
  })

  it('switches: 0, false, no and off turn FSM_DEMO and FSM_SQLITE_READ_THREAD off (FSM_DEMO=false seeded the demo); anything else is an error', () => {
    for (const off of ['0', 'false', 'FALSE', 'no', 'off']) {
      assert.equal(loadConfig({ FSM_DEMO: off }).demoOnEmpty, false, off)
      assert.equal(loadConfig({ FSM_SQLITE_READ_THREAD: off }).sqliteReadThread, false, off)
    }
    for (const on of ['', '1', 'true', 'yes', 'On']) assert.equal(loadConfig({ FSM_DEMO: on }).demoOnEmpty, true, on)
    assert.throws(() => loadConfig({ FSM_DEMO: 'nope' }), /^Error: FSM_DEMO must be 0 or 1 \(or false\/true, no\/yes, off\/on\), got "nope"$/)
    assert.throws(() => loadConfig({ FSM_SQLITE_READ_THREAD: '2' }), /FSM_SQLITE_READ_THREAD must be 0 or 1/)
    // Empty means the default, as for every other variable.
    assert.equal(loadConfig({ FSM_SQLITE_SYNCHRONOUS: '' }).sqliteSynchronous, 'NORMAL')
  })

  it("a REDIS_URL it cannot use is shown without its password", () => {
    for (const url of ['redis://:s3cret-pw@127.0.0.1:6379/abc', 'redis://user:s3cret-pw@127.0.0.1:6379/0/1', 'http://user:s3cret-pw@127.0.0.1:6379']) {
      assert.throws(
        () => loadConfig({ REDIS_URL: url }),
        (error: Error) => error.message.includes('***@127.0.0.1:6379') && !error.message.includes('s3cret-pw'),
        url,
      )
    }
  })

  it('the commands that only use the database read nothing else: a bad PORT or REDIS_URL does not stop a key being revoked', () => {
    const env = { DATABASE_URL: 'sqlite:/tmp/x.db', PORT: 'abc', REDIS_URL: 'nonsense', LOG_LEVEL: 'loud', FSM_SQLITE_SYNCHRONOUS: 'full' }
    assert.deepEqual(loadDatabaseConfig(env), { databaseUrl: 'sqlite:/tmp/x.db', sqliteSynchronous: 'FULL' })
    assert.throws(() => loadConfig(env), /PORT/)
  })
})
