/**
 * `npm run test:reliability` (full, 5–10 min, at most 15) and
 * `npm run test:reliability:short` (CI, ~2 min): runs the reliability
 * suite through node's test runner, one file at a time in the full run (the
 * machine has two cores and the servers under test need them; the short run
 * takes two at a time but the faults file), then writes
 * docs/reliability.md from the figures each test recorded. A short run
 * prints the table and writes the doc only with --write-doc (marked short).
 *
 *   node --import tsx test-reliability/run.ts [--short] [--write-doc] [file…]
 *
 * FSM_RELIABILITY_SEED replays a run; FSM_TEST_DATABASE_URL points at
 * PostgreSQL (default postgres://postgres@127.0.0.1:5432/test).
 */
import { spawnSync, execSync } from 'node:child_process'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readResults, type PromiseResult } from './helpers/report.ts'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const args = process.argv.slice(2)
const short = args.includes('--short') || process.env.FSM_RELIABILITY === 'short'
const writeDoc = !short || args.includes('--write-doc')
const FILES = ['crash', 'histories', 'fuzz', 'security', 'faults'].map((name) => `test-reliability/${name}.test.ts`)
const files = args.filter((a) => !a.startsWith('--'))
const seed = process.env.FSM_RELIABILITY_SEED ?? String(Math.floor(Math.random() * 2 ** 31))
const results = mkdtempSync(join(tmpdir(), 'fsm-reliability-results-'))
const pgUrl = process.env.FSM_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test'
// Named by the caller (CI does): PostgreSQL's parts must run, and one that cannot be reached fails the run instead of skipping them.
const pgRequired = Boolean(process.env.FSM_TEST_DATABASE_URL)

console.log(`Reliability suite, ${short ? 'SHORT' : 'FULL'} run, seed ${seed} (replay with FSM_RELIABILITY_SEED=${seed}); PostgreSQL: ${pgUrl}`)
const started = Date.now()
const runFiles = (list: string[], concurrency: number) =>
  spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${concurrency}`, ...list], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, FSM_RELIABILITY: short ? 'short' : 'full', FSM_RELIABILITY_RESULTS: results, FSM_RELIABILITY_SEED: seed, FSM_TEST_DATABASE_URL: pgUrl, FSM_RELIABILITY_PG_REQUIRED: pgRequired ? '1' : '' },
  })
const chosen = files.length ? files : FILES
// The short run (CI) takes two files at a time, ~25% less wall time: their
// checks are of outcomes, not of speed. The faults file runs alone: it
// bounds how long reads wait, and a second file's servers would be what it
// measured. The full run keeps one file at a time, so its figures are the server's own.
const alone = chosen.filter((file) => !short || file.endsWith('faults.test.ts'))
const together = chosen.filter((file) => !alone.includes(file))
const runs = [...(together.length ? [runFiles(together, 2)] : []), ...(alone.length ? [runFiles(alone, 1)] : [])]
const run = runs.find((r) => r.status !== 0) ?? runs[0]!
const minutes = (Date.now() - started) / 60_000
const parts = readResults(results)
rmSync(results, { recursive: true, force: true })

// ---- The document

const PROMISES: Array<{ id: string; promise: string; how: string }> = [
  {
    id: '1-crash',
    promise: 'No acknowledged write is lost on a crash, and nothing is half-applied',
    how: 'Rounds of concurrent creates, PUTs (every field, tagged) and PATCHes against a spawned `fsm serve`, ended by `kill -9` after a random number of answered writes; restart on the same database; every answered write is present in its answered state (or superseded by a later answered write, or by one in flight at the kill); asset links belong to the same write as the fields; each history chains along the table and ends in the stored status; row versions count each answered write once; no job nobody asked for; list totals equal the rows; `PRAGMA integrity_check` and `foreign_key_check`. A self-test damages the database three ways and expects the checker to notice each. SQLite with `FSM_SQLITE_SYNCHRONOUS=NORMAL` and `FULL`, and PostgreSQL.',
  },
  {
    id: '2-histories',
    promise: 'Concurrent writers cannot corrupt a job',
    how: 'Hundreds of clients race on six jobs: PATCHes to random statuses, groups of PUTs and PATCHes holding the same ETag in `If-Match`, PATCHes and creates retried under one `Idempotency-Key` (at once and after the answer). Histories must be paths through the transition table; the successful PATCHes must be exactly the history rows; at most one winner per (job, ETag); every answer to a key identical (status, body, `request_id`) with one original; one job per idempotent create; row version = successes. SQLite (one server) and PostgreSQL (three servers on one schema). Then rounds of creates, each under its own `Idempotency-Key`, ended by `kill -9`; after the restart (and with the dead process\'s claims aged past 60 s) every create is retried with its key: each answers 201, an answered one replays its first answer, and each key made exactly one job (`committed unanswered`: creates that committed but whose answer never reached the client, replayed on the retry instead of run again).',
  },
  {
    id: '3-fuzz',
    promise: 'Bad input gets a documented 4xx in the error envelope, never a 5xx or a hang, and changes nothing',
    how: 'Requests generated with fast-check from the served OpenAPI document: wrong types, limits ±1 (in code points: emoji, right-to-left, combining marks), missing and unknown fields (`__proto__`, `constructor`), control characters and lone surrogates, numbers past 2^53 and `1e400` as raw JSON, duplicate keys, deep nesting, huge arrays and strings under and over 1 MiB, impossible dates, malformed `?id=`, bad `Idempotency-Key`s; every method on every path; raw-socket cases (bad header bytes, oversized heads, smuggling framing, CONNECT, absolute-form targets, header injection). The database is hashed before and after the requests that must be refused.',
  },
  {
    id: '4-security',
    promise: 'Tenants, keys and limits hold: the OWASP API Security Top 10 (2023)',
    how: 'One test per item against a spawned server: other companies\' ids in queries and bodies, lists and totals (API1); missing, malformed, unknown, revoked and misplaced keys, revocation within 1 s (API2); mass assignment and internal fields (API3); 1 MiB bodies, 100 `asset_ids`, page size, text limits, 429 with `Retry-After` (API4); every scope × every endpoint, plans, modules, no admin routes (API5); lifecycle shortcuts (API6); URLs in bodies never fetched (API7); nosniff, no banner, no CORS, TRACE/OPTIONS refused (API8); OpenAPI lists every route (API9); a Redis that is down or answers garbage (API10); `q` taken literally; keys searched for in the SQLite files (`-wal`, `-shm`), the server log at `trace` and every answer.',
  },
  {
    id: '5-faults',
    promise: 'Under faults the API answers 2xx or 503 — never 500 or silence — and recovers by itself; SIGTERM loses nothing',
    how: 'A second connection holds SQLite\'s write lock (`BEGIN IMMEDIATE`) for 2 s and 11 s (6.5 s in the short run; busy_timeout 5 s), with reads sent meanwhile answered within 1 s; a long write load with readers while the `-wal` size is sampled; PostgreSQL through a TCP proxy that refuses connections, then drops every byte (a partition), then comes back — same process, `/readyz` following; SIGTERM at a random moment under load on SQLite and PostgreSQL: exit 0, every request sent before the signal answered 2xx or 503, every 2xx write stored.',
  },
]

function figuresText(p: PromiseResult & { part: string }): string {
  const entries = Object.entries(p.figures).filter(([k]) => k !== 'seed')
  const error = (p.error ?? '').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('e.g.'))
  const why = error.slice(0, 6).join('; ').replace(/\|/g, '\\|').slice(0, 700)
  return `**${p.part}**: ${entries.map(([k, v]) => `${k.replace(/_/g, ' ')} ${v}`).join(', ')}${p.outcome === 'FAIL' ? `. **Failed:** ${why}` : ''}`
}

function totals(id: string, keys: string[]): string {
  const mine = parts.filter((p) => p.id === id)
  const sum = (k: string) => mine.reduce((n, p) => n + (typeof p.figures[k] === 'number' ? (p.figures[k] as number) : 0), 0)
  return keys.map((k) => `${k.replace(/_/g, ' ')} ${sum(k)}`).join(', ')
}

const failed = parts.filter((p) => p.outcome === 'FAIL')
let commit = 'unknown'
try {
  commit = execSync('git rev-parse --short HEAD', { cwd: ROOT }).toString().trim() + (execSync('git status --porcelain src', { cwd: ROOT }).toString().trim() ? ' (with uncommitted changes in src/)' : '')
} catch {
  // Not a git checkout.
}

const rows = PROMISES.map(({ id, promise, how }) => {
  const mine = parts.filter((p) => p.id === id)
  const result = mine.length === 0 ? 'not run' : mine.some((p) => p.outcome === 'FAIL') ? `**FAIL** (${mine.filter((p) => p.outcome === 'FAIL').length} of ${mine.length} parts)` : `pass (${mine.length} parts)`
  let figures = mine.map(figuresText).join('<br>')
  if (id === '1-crash' && mine.length) figures = `Total: ${totals(id, ['rounds', 'acked', 'inFlightAtKill', 'inFlightApplied'])}, lost 0 (asserted).<br>${figures}`
  return `| ${id.split('-')[0]}. ${promise} | ${how} | ${figures || '—'} | ${result} |`
})

const doc = `# Reliability

What FSM Navigator promises, in plain words, and the suite that tries to
break each promise (\`test-reliability/\`). **This file is regenerated by
\`npm run test:reliability\`**; edit \`test-reliability/run.ts\`, not this file.

## The promises

1. **A write we acknowledged is never lost.** Once the API has answered a
   create, update or status change with 2xx, it survives a crash of the
   server process (\`kill -9\`), on SQLite and on PostgreSQL. A write is
   applied whole or not at all: never a job whose fields come from two
   requests, never a status without its history row.
2. **Concurrent writers cannot corrupt a job.** However many clients race,
   a job's history is a path through the transition table, every successful
   PATCH is one history row, of the writers holding the same ETag at most one
   wins, and a request retried with the same \`Idempotency-Key\` is done once,
   even when the server crashed between doing it and answering.
3. **Bad input is refused politely.** Whatever a client sends — wrong types,
   huge or deeply nested bodies, broken JSON or HTTP, odd methods and paths —
   the answer is a documented 4xx in the error envelope, never a 5xx, never a
   hang, and it changes no record.
4. **Tenants, keys and limits hold** (OWASP API Security Top 10, 2023): a
   key sees only its own company's records, needs the scope it uses, cannot
   write fields it does not own, is limited in size and rate, is never
   stored, logged or echoed; nothing fetches URLs or answers with internals.
5. **Faults are answered, not suffered.** A locked, unreachable or silent
   database gives 2xx or 503 (never 500, never silence) and the same process
   recovers when it is back; the WAL stays bounded; SIGTERM finishes what it
   started and loses nothing.

## How to run

\`\`\`sh
npm run test:reliability         # full: 5–10 minutes on 2 cores (bounded at 15); rewrites this file
npm run test:reliability:short   # CI: ~2 minutes; prints the table
FSM_RELIABILITY_SEED=123 npm run test:reliability   # replay a run's random choices
\`\`\`

PostgreSQL comes from \`FSM_TEST_DATABASE_URL\` (default
\`postgres://postgres@127.0.0.1:5432/test\`; each test makes a fresh schema and
drops it); PostgreSQL parts are skipped, and say so, when it is not reachable
at the default; when \`FSM_TEST_DATABASE_URL\` is set (as in CI), an unreachable
PostgreSQL fails the run instead.
All traffic goes to 127.0.0.1.

## Last run

${short ? '**SHORT run** (the CI size; the figures of a full run are larger).' : '**Full run.**'} ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, commit ${commit}, Node ${process.version},
seed ${seed}, ${minutes.toFixed(1)} minutes, ${parts.length} parts recorded, ${failed.length} failed${run.status === 0 ? '' : ` (test runner exit ${run.status})`}.

| Promise | How it is tested | Figures of the last run | Result |
|---|---|---|---|
${rows.join('\n')}

## Observed limits (kept, not failures)

- **Uploads over 1 MiB** are answered 413 and the connection is closed at once
  (Fastify's choice, as the client may still be sending). A client still
  uploading can then see a TCP reset instead of the 413; the fuzz figures count
  these (\`oversized uploads reset before 413\`). Nothing is stored either way.
  Behind nginx (docs/deployment.md) its lingering close avoids this.
- **A SQLite write waits at most 5 s for a lock another process holds** (the
  CLI, a backup): it waits off the event loop, so reads go on meanwhile
  (promise 5's \`slowest read ms\`), then it is answered 503. A read that meets
  a lock (rare in WAL mode) still waits inside SQLite, holding the process.

## Not covered

- **Power loss.** \`kill -9\` ends the process, not the machine: the operating
  system still writes what SQLite handed it, so NORMAL and FULL behave the same
  here. What FULL adds (surviving power loss) needs a VM or a fault-injecting
  file system.
- **Disk full, read-only or corrupt files**, and PostgreSQL failover or
  restarts of the database server itself (the proxy simulates the network).
- **Several hosts and clock skew**: every process runs on one machine.
- **Redis under load and Redis data loss**: Redis faults are tested only for
  failing open (API10).
- **Timing attacks on key comparison** (the comparison is constant-time in the
  code; not measured).
`

if (writeDoc) {
  writeFileSync(join(ROOT, 'docs/reliability.md'), doc)
  console.log(`\nWrote docs/reliability.md (${short ? 'short run' : 'full run'}).`)
} else {
  console.log(`\n${rows.join('\n')}\n\n(short run: docs/reliability.md left as it is; add --write-doc to rewrite it)`)
}
console.log(`Reliability suite, ${short ? 'short' : 'full'} run: ${minutes.toFixed(1)} minutes.`)
console.log(`parts: ${parts.length - failed.length} passed, ${failed.length} failed`)
process.exit(run.status ?? 1)
