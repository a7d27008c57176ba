#!/usr/bin/env node
// `npm test`: every test/**/*.test.ts through node's test runner (with tsx).
// PostgreSQL and Redis paths run only when their URLs are set; say so plainly.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'helpers' ? [] : find(path)
    return entry.name.endsWith('.test.ts') ? [path] : []
  })
}

const only = process.argv.slice(2)
const files = only.length ? only : find('test').sort()
if (!process.env.FSM_TEST_DATABASE_URL) {
  console.log('NOTE: FSM_TEST_DATABASE_URL is not set: PostgreSQL runs of the test suite are SKIPPED (SQLite only).')
}
if (!process.env.REDIS_URL) {
  console.log('NOTE: REDIS_URL is not set: Redis rate-limit tests are SKIPPED.')
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], { stdio: 'inherit' })
process.exit(result.status ?? 1)
