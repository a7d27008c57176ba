// Whether dist/ holds a build of the current src/: its stamp (dist/.built,
// written by scripts/build.mjs) is newer than every source file. bin/fsm.mjs
// runs dist/ only then, and the benchmark builds first otherwise.
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

export function isBuildFresh() {
  return existsSync(stamp) && statSync(stamp).mtimeMs >= newestSource(src)
}
