/**
 * `npm run bench:ab -- --against REV --only a,b`: is this checkout faster or
 * slower than REV? On a shared 2-core machine one run against another
 * differs by 10–40%, so a change is judged by alternating runs of both
 * versions (docs/performance.md, "Method"). This does exactly that: REV is
 * checked out into a temporary git worktree (sharing node_modules, and the
 * cached data set if both sides have the same migrations: a SQLite data set
 * is generated migrated, and a version cannot open a database migrated
 * further than it knows; with other migrations REV generates its own, ~1
 * minute and ~700 MB, removed with the worktree), both are built, then
 * each round runs `npm run bench --
 * --only …` once in each, the order alternating from round to round, and
 * the per-round figures and their medians are printed side by side.
 *
 * Options: --against REV (required), --only a,b (required), --rounds N (3),
 * --duration S (10), --quick, --db postgres://… (both sides on that
 * database's data set; with other migrations REV gets a schema of its own,
 * `bench_ab_other`, generated once and kept for the next comparison; drop
 * it when done). The working tree is "this" as it is, uncommitted changes
 * included.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { DATA_DIR, REPO_DIR, RESULTS_DIR } from './dataset.ts'
import { median, percent } from './report.ts'
import type { RunReport } from './report.ts'

const { values: args } = parseArgs({
  options: {
    against: { type: 'string' },
    only: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    quick: { type: 'boolean', default: false },
    db: { type: 'string' },
  },
})
if (!args.against || !args.only) {
  console.error('usage: npm run bench:ab -- --against REV --only scenario[,scenario] [--rounds N] [--duration S] [--quick] [--db postgres://…]')
  process.exit(2)
}
const rounds = Number(args.rounds)
const scenarios = args.only.split(',')

interface Side {
  label: string
  dir: string
  /** The PostgreSQL database (and schema) it runs on, with --db. */
  db?: string
}

/** One scenario in one run: its ratio to the baseline, its server CPU per request ÷ the baseline's, its p99. */
interface Measured {
  ratio: number
  cpuCost: number
  p99: number
  /** The share of the time the server's event loop was on a CPU (absent from runs of versions before it was measured). */
  loopBusy: number | undefined
}

/** One run of the benchmark on one side: each scenario, and the server's peak resident memory over the run. */
interface Run {
  scenarios: Map<string, Measured>
  peakRssMb: number
}

function run(side: Side): Run {
  const benchArgs = ['--import', 'tsx', 'bench/run.ts', '--only', args.only!, '--duration', args.duration!, ...(args.quick ? ['--quick'] : []), ...(side.db ? ['--db', side.db] : [])]
  const started = Date.now()
  const result = spawnSync(process.execPath, benchArgs, { cwd: side.dir, stdio: ['ignore', 'inherit', 'inherit'] })
  if (result.status !== 0) throw new Error(`the benchmark failed in ${side.label} (${side.dir}), exit ${result.status}`)
  // Versions before partial.json wrote a partial run to latest.json (only ever in the throwaway worktree here).
  const written = ['partial.json', 'latest.json'].map((name) => join(side.dir, 'bench', 'results', name)).find((file) => existsSync(file) && statSync(file).mtimeMs >= started)
  if (!written) throw new Error(`the benchmark in ${side.label} wrote no results`)
  const report = JSON.parse(readFileSync(written, 'utf8')) as RunReport
  const scenarios = new Map(
    report.scenarios.map((s) => [
      s.name,
      { ratio: s.ratio, cpuCost: s.server_cpu_ms_per_request / report.baseline_cpu_ms_per_request, p99: s.p99_ms, loopBusy: s.event_loop_busy },
    ]),
  )
  return { scenarios, peakRssMb: report.peak_rss_mb }
}

function build(side: Side) {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: side.dir, stdio: 'inherit' })
}

const head = (rev: string) => execFileSync('git', ['rev-parse', '--short', rev], { cwd: REPO_DIR, encoding: 'utf8' }).trim()
const worktree = mkdtempSync(join(tmpdir(), 'fsm-ab-'))
const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bench', 'scripts', 'package.json'], { cwd: REPO_DIR, encoding: 'utf8' }).trim() !== ''
const sides: Side[] = [
  { label: `this (${head('HEAD')}${dirty ? ' + changes' : ''})`, dir: REPO_DIR, db: args.db },
  { label: `against (${head(args.against)})`, dir: worktree, db: args.db },
]

/** `url` with its search_path set to `schema` (the benchmark takes its schema from there, bench/generate.ts). */
function inSchema(url: string, schema: string): string {
  const parsed = new URL(url)
  parsed.searchParams.set('options', `-c search_path=${schema}`)
  return parsed.toString()
}

// Ctrl-C reaches the running benchmark too (same process group), which
// stops; with a listener this process is not killed with it, and the
// failed run takes the `finally` below, which removes the worktree.
process.on('SIGINT', () => console.log('\n[ab] interrupted: removing the worktree'))

try {
  execFileSync('git', ['worktree', 'add', '--detach', worktree, args.against], { cwd: REPO_DIR, stdio: 'inherit' })
  // The same dependencies and, with the same migrations, the same cached data set (generated once, by whichever side runs first).
  symlinkSync(join(REPO_DIR, 'node_modules'), join(worktree, 'node_modules'))
  const migrationsOf = (dir: string) => readdirSync(join(dir, 'src', 'db', 'migrations')).sort().join()
  if (migrationsOf(REPO_DIR) === migrationsOf(worktree)) {
    mkdirSync(DATA_DIR, { recursive: true })
    symlinkSync(DATA_DIR, join(worktree, 'bench', 'data'))
  } else if (!args.db) {
    console.log(`[ab] the two sides' migrations differ: ${args.against} generates a data set of its own in the worktree`)
  } else {
    sides[1]!.db = inSchema(args.db, 'bench_ab_other')
    console.log(`[ab] the two sides' migrations differ: ${args.against} runs on a data set of its own, in schema bench_ab_other (kept; drop it when done)`)
  }
  for (const side of sides) build(side)

  const results = sides.map(() => [] as Run[])
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? [0, 1] : [1, 0]
    for (const i of order) {
      console.log(`\n[ab] round ${round + 1} of ${rounds}: ${sides[i]!.label}`)
      results[i]!.push(run(sides[i]!))
    }
  }

  const fmt = (n: number, digits: number) => n.toFixed(digits)
  console.log(`\n[ab] ${rounds} rounds × ${args.duration} s, alternating; ratio = req/s ÷ the baseline's in the same run; cost = server CPU per request ÷ the baseline's`)
  for (const name of scenarios) {
    console.log(`\n${name}`)
    console.log('| side | ratios (each round) | median ratio | costs (each round) | median cost | median p99 ms | median event loop busy |')
    console.log('|:--|:--|--:|:--|--:|--:|--:|')
    const medians = sides.map((side, i) => {
      const rows = results[i]!.map((r) => r.scenarios.get(name)!).filter(Boolean)
      const ratio = median(rows.map((r) => r.ratio))
      const cost = median(rows.map((r) => r.cpuCost))
      // Versions of the benchmark before it measured the event loop leave it out.
      const busy = rows.flatMap((r) => (r.loopBusy === undefined ? [] : [r.loopBusy]))
      console.log(
        `| ${side.label} | ${rows.map((r) => fmt(r.ratio, 3)).join(', ')} | ${fmt(ratio, 3)} | ${rows.map((r) => fmt(r.cpuCost, 1)).join(', ')} | ${fmt(cost, 1)} | ${fmt(median(rows.map((r) => r.p99)), 1)} | ${busy.length ? percent(median(busy)) : '–'} |`,
      )
      return { ratio, cost }
    })
    const [mine, theirs] = medians as [{ ratio: number; cost: number }, { ratio: number; cost: number }]
    console.log(`this ÷ against: ratio ${fmt(mine.ratio / theirs.ratio, 3)}, server CPU per request ${fmt(mine.cost / theirs.cost, 3)}`)
  }
  console.log('\npeak RSS of fsm serve (MB), each run')
  for (const [i, side] of sides.entries()) console.log(`  ${side.label}: ${results[i]!.map((r) => r.peakRssMb).join(', ')}`)
  console.log(`\n[ab] the last full report of this side: ${join(RESULTS_DIR, 'partial.json')}`)
} finally {
  execFileSync('git', ['worktree', 'remove', '--force', worktree], { cwd: REPO_DIR, stdio: 'inherit' })
  rmSync(worktree, { recursive: true, force: true })
}
