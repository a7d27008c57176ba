#!/usr/bin/env node
// The `fsm` command. It runs the compiled JavaScript in dist/ (built by
// `npm ci` through the prepare script) while that build is newer than every
// source file, and otherwise the TypeScript sources through tsx's loader, so
// a checkout works right after `npm ci` and an edited one never runs stale
// code (API.md §6).
import { isBuildFresh } from '../scripts/build-stamp.mjs'

if (isBuildFresh()) {
  await import('../dist/cli/main.js')
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../src/cli/main.ts')
}
