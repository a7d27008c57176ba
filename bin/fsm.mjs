#!/usr/bin/env node
// The `fsm` command. It runs the compiled JavaScript in dist/ (built by
// `npm ci` through the prepare script) while that build is newer than every
// source file, and otherwise the TypeScript sources through tsx's loader, so
// a checkout works right after `npm ci` and an edited one never runs stale
// code (API.md §6).
import { existsSync, readdirSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const src = fileURLToPath(new URL('../src', import.meta.url))
const stamp = fileURLToPath(new URL('../dist/.built', import.meta.url))

function newestSource(dir) {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs)
  }
  return newest
}

if (existsSync(stamp) && statSync(stamp).mtimeMs >= newestSource(src)) {
  await import('../dist/cli/main.js')
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../src/cli/main.ts')
}
