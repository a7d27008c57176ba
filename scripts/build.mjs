#!/usr/bin/env node
// `npm ci` runs this (the `prepare` script): compiles src/ to dist/ so that
// `fsm` runs plain JavaScript (faster start, ~100 MB less memory than the
// TypeScript loader). Without TypeScript installed (npm ci --omit=dev) it
// does nothing and `fsm` runs the sources through tsx.
import { spawnSync } from 'node:child_process'
import { existsSync, writeFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
let tsc
try {
  tsc = require.resolve('typescript/bin/tsc')
} catch {
  console.log('build: TypeScript is not installed; fsm will run the sources through tsx')
  process.exit(0)
}
rmSync('dist', { recursive: true, force: true })
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
if (result.status !== 0) process.exit(result.status ?? 1)
// bin/fsm.mjs uses dist/ only while this stamp is newer than every source file.
writeFileSync('dist/.built', new Date().toISOString())
if (!existsSync('dist/cli/main.js')) process.exit(1)
