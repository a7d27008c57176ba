#!/usr/bin/env node
// `npm test`: every test/**/*.test.ts through node's test runner (with tsx).
// PostgreSQL and Redis paths run only when their URLs are set; say so plainly.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join, sep } from 'node:path'
import { availableParallelism } from 'node:os'

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'helpers' ? [] : find(path)
    return entry.name.endsWith('.test.ts') ? [path] : []
  })
}

// The files that take longest start first, so the last minute is not one of them running alone.
const SLOWEST_FIRST = ['test/jobs-scale.test.ts', 'test/cli.test.ts', 'test/errors-and-auth.test.ts', 'test/sync.test.ts']
const slowness = (file) => {
  const rank = SLOWEST_FIRST.indexOf(file.split(sep).join('/'))
  return rank === -1 ? SLOWEST_FIRST.length : rank
}

const only = process.argv.slice(2)
const files = only.length ? only : find('test').sort((a, b) => slowness(a) - slowness(b) || a.localeCompare(b))
// Two files at a time even on two cores: most of a file's time is spent waiting on child
// processes, sockets and the databases (on two cores the suite took 110-142 s against 186 s one at a time).
// Each file has its own SQLite files, PostgreSQL schemas and Redis keys.
const concurrency = Math.max(2, Math.min(4, availableParallelism() - 1))
if (!process.env.FSM_TEST_DATABASE_URL) {
  console.log('NOTE: FSM_TEST_DATABASE_URL is not set: PostgreSQL runs of the test suite are SKIPPED (SQLite only).')
}
if (!process.env.REDIS_URL) {
  console.log('NOTE: REDIS_URL is not set: Redis rate-limit tests are SKIPPED.')
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${concurrency}`, ...files], { stdio: 'inherit' })
process.exit(result.status ?? 1)
