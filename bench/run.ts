/**
 * `npm run bench`: the data set (generated once, then cached), `fsm serve`
 * and a bare-Fastify baseline each in its own process, and every scenario
 * measured by autocannon from a third process, each one between two baseline
 * measurements so that background noise on the machine moves both.
 *
 *   npm run bench                      full data set (1,000,000 jobs), 10 s per measurement
 *   npm run bench -- --quick           100,000 jobs, 3 s per measurement
 *   npm run bench -- --db postgres://user@host/db    the same on PostgreSQL (schema "bench")
 *   npm run bench -- --only list_deep --cpu-prof     one scenario, with a CPU profile of the server
 *   npm run bench -- --only mixed --sql-prof         one scenario, with the server's time in each SQLite statement
 *
 * Options: --seed N (42), --duration S, --connections N (32), --only a,b,
 * --cpu-prof, --sql-prof (bench/sql-profile.mjs), --regenerate (SQLite:
 * rebuild the cached file), --keep (keep the SQLite copy the server ran on).
 *
 * The server is never tuned for the benchmark: it runs as `fsm serve` with
 * its defaults (LOG_LEVEL=warn so logging does not dominate; in-process rate
 * limits as a single instance has them; the keys have a huge budget so that
 * the limiter counts but never refuses).
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { sql, type Kysely } from 'kysely'
import { isBuildFresh } from '../scripts/build-stamp.mjs'
import { connect } from '../src/db/connect.ts'
import { rebuildJobCounts } from '../src/db/job-counts.ts'
import { DATA_DIR, REPO_DIR, SIZES, type BenchMeta, type SizeName } from './dataset.ts'
import { ensurePostgresDataSet, ensureSqliteDataSet } from './generate.ts'
import type { LoadSummary } from './load-worker.ts'
import { assertRunning, cpuSeconds, drain, freePort, procStatus, runLoad, startBaselineServer, startFsmServer, upOnFreePort, watchRss, type ServerProcess } from './processes.ts'
import { summariseProfile, type ProfileWindow } from './profile-summary.ts'
import { Random } from './random.ts'
import { codeVersion, evaluateTargets, machineInfo, median, printReport, writeDocs, writeJson, type GrowthSlices, type RunReport, type ScenarioResult, type TotalCheck } from './report.ts'
import { samplePools } from './pools.ts'
import { GROWTH_PAIRS, SCENARIOS, type LoadJob, type PatchJob, type ScenarioName } from './scenarios.ts'

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    db: { type: 'string' },
    seed: { type: 'string', default: '42' },
    duration: { type: 'string' },
    connections: { type: 'string', default: '32' },
    only: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    'sql-prof': { type: 'boolean', default: false },
    regenerate: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
})

const mode: SizeName = args.quick ? 'quick' : 'full'
const size = SIZES[mode]
const seed = Number(args.seed)
const durationS = Number(args.duration ?? (args.quick ? 3 : 10))
/** Each slice of a growth pair's alternating runs (see `alternate`). */
const growthSliceS = Math.max(2, durationS / 2)
const connections = Number(args.connections)
const warmupS = args.quick ? 2 : 5
const log = (line: string) => console.log(`[bench] ${line}`)

// ------------------------------------------------------------------ the data set

interface Prepared {
  dialect: 'sqlite' | 'postgres'
  /** DATABASE_URL for `fsm serve`. */
  serveUrl: string
  meta: BenchMeta
  cleanup(): Promise<void>
}

async function prepareDatabase(): Promise<Prepared> {
  if (args.db && /^postgres(ql)?:\/\//.test(args.db)) {
    const target = await ensurePostgresDataSet(args.db, size, seed, log)
    // Writes of a run change the data set in place; remove the jobs runs
    // created (the generator's ids end at counts.jobs) so every run starts
    // from the same number of jobs. Edits and status moves of existing jobs
    // stay, recorded in their history as the benchmark key's changes.
    const removeCreated = async () => {
      const handle = connect(target.url)
      try {
        const last = target.meta.counts.jobs!
        await handle.db.deleteFrom('job_status_changes').where('job_id', '>', last).execute()
        await handle.db.deleteFrom('job_assets').where('job_id', '>', last).execute()
        await handle.db.deleteFrom('jobs').where('job_id', '>', last).execute()
        await sql`delete from idempotency_keys`.execute(handle.db)
        await rebuildJobCounts(handle.db)
      } finally {
        await handle.close()
      }
    }
    await removeCreated()
    return { dialect: 'postgres', serveUrl: target.url, meta: target.meta, cleanup: removeCreated }
  }
  if (args.db) throw new Error('--db takes a postgres:// URL; SQLite data sets live in bench/data/')
  const began = Date.now()
  const { file, meta } = await ensureSqliteDataSet(size, seed, args.regenerate, log)
  // The server writes (create, update, patch): it runs on a copy, so the
  // cached file stays as generated and every run starts from the same data.
  // A copy of its own: when two runs shared one path, each removed the
  // other's files, and a run started while another ran measured nothing
  // but 401 answers.
  removeCopiesOfEndedRuns()
  const copy = join(DATA_DIR, `run-${mode}-${seed}-${process.pid}.db`)
  copyFileSync(file, copy)
  log(`data set ready (${(statSync(copy).size / 2 ** 20).toFixed(0)} MB, copied to ${copy}) in ${((Date.now() - began) / 1000).toFixed(1)} s`)
  return {
    dialect: 'sqlite',
    serveUrl: `sqlite:${copy}`,
    meta,
    async cleanup() {
      if (!args.keep) for (const suffix of ['', '-wal', '-shm']) rmSync(copy + suffix, { force: true })
    },
  }
}

/** A run's copy of the data set (and its WAL and shared memory), named by the run's process id. */
const RUN_COPY = /^run-.+-(\d+)\.db(-wal|-shm)?$/

/** The copies left by runs that ended without removing theirs (killed, or `--keep`): each is as large as the data set. */
function removeCopiesOfEndedRuns() {
  for (const name of readdirSync(DATA_DIR)) {
    const pid = RUN_COPY.exec(name)?.[1]
    if (pid !== undefined && !processRuns(Number(pid))) rmSync(join(DATA_DIR, name), { force: true })
  }
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * `fsm serve` runs dist/ only while it is a build of the current src/
 * (bin/fsm.mjs), and the TypeScript through tsx otherwise, ~100 MB larger
 * and slower to start: an edited tree would measure that silently. So the
 * benchmark builds first, as `npm ci` does.
 */
function ensureBuilt() {
  if (isBuildFresh()) return
  log('dist/ is older than src/: building it (npm run build) so that fsm serve runs the compiled code')
  const built = spawnSync(process.execPath, [join(REPO_DIR, 'scripts/build.mjs')], { cwd: REPO_DIR, stdio: 'inherit' })
  if (built.status !== 0 || !isBuildFresh()) throw new Error('the build failed: fsm serve would run the TypeScript sources; fix the build first')
}

// ------------------------------------------------------------------ measuring

interface Measured {
  summary: LoadSummary
  peakRssMb: number
  cpuMsPerRequest: number
  /** The share of the load's time the server's event loop was on a CPU. */
  eventLoopBusy: number
  drainS: number
}

async function measure(server: ServerProcess, job: LoadJob, label: string, fsm: ServerProcess): Promise<Measured> {
  const pid = server.child.pid!
  const rss = watchRss(pid)
  const cpuBefore = cpuSeconds(pid)
  const loopBefore = cpuSeconds(pid, pid)
  const summary = await runLoad(job)
  const cpuUsed = cpuSeconds(pid) - cpuBefore
  // Over autocannon's own duration: the load worker's start and end around it leave the server idle.
  const eventLoopBusy = (cpuSeconds(pid, pid) - loopBefore) / summary.duration_s
  assertRunning(server)
  assertRunning(fsm)
  // The fsm server may still be working through requests sent before the end.
  const drainMs = await drain(fsm)
  const peakRssMb = rss.stop()
  const cpuMsPerRequest = summary.requests > 0 ? (cpuUsed * 1000) / summary.requests : 0
  const problems = summary.errors || summary.non2xx ? `  errors ${summary.errors} (timeouts ${summary.timeouts}), non-2xx ${summary.non2xx}` : ''
  log(`${label.padEnd(22)} ${summary.rps.toFixed(0).padStart(7)} req/s  p50 ${summary.p50_ms.toFixed(2)} ms  p99 ${summary.p99_ms.toFixed(2)} ms${problems}${drainMs > 1000 ? `  (server busy ${(drainMs / 1000).toFixed(1)} s after the load stopped)` : ''}`)
  return { summary, peakRssMb, cpuMsPerRequest, eventLoopBusy, drainS: drainMs / 1000 }
}

/**
 * The lists whose totals are checked right after `mixed`: the scenario's
 * own list requests, and filters its writes move in other ways (its PATCHes
 * move jobs between these statuses, its PUTs change priorities).
 */
const TOTALS_CHECKED: Array<{ statuses?: string[]; priority?: string }> = [
  {},
  { statuses: ['Pending'], priority: 'High' },
  { statuses: ['Assigned', 'In Progress', 'On Hold'] },
  { statuses: ['Assigned'], priority: 'Urgent' },
  { priority: 'Low' },
]

/**
 * Each list's total as `fsm serve` answers it once a scenario's writes have
 * stopped, against the jobs the database counts for it (a connection of
 * its own): totals may be remembered only if they are exact right after
 * writes (issue 6). Called after the server has drained.
 */
async function checkTotals(origin: string, apiKey: string, databaseUrl: string, companyId: number): Promise<TotalCheck[]> {
  const handle = connect(databaseUrl)
  try {
    const db = handle.db as Kysely<any>
    const checks: TotalCheck[] = []
    for (const { statuses, priority } of TOTALS_CHECKED) {
      // The request's query string from the same filters the database counts by.
      const params = new URLSearchParams({ ...(statuses && { status: statuses.join(',') }), ...(priority && { priority }) }).toString()
      const query = params ? `?${params}` : ''
      const answer = await fetch(`${origin}/api/v1/jobs${query}`, { headers: { 'x-api-key': apiKey } })
      if (!answer.ok) throw new Error(`GET /api/v1/jobs${query} after the writes answered ${answer.status}: ${await answer.text()}`)
      const { pagination } = (await answer.json()) as { pagination: { total: number } }
      let count = db.selectFrom('jobs').select((eb) => eb.fn.countAll<number>().as('n')).where('company_id', '=', companyId)
      if (statuses) count = count.where('job_status', 'in', statuses)
      if (priority) count = count.where('job_priority', '=', priority)
      const { n } = await count.executeTakeFirstOrThrow()
      checks.push({ request: `GET /api/v1/jobs${query}`, api_total: pagination.total, database_total: Number(n) })
    }
    return checks
  } finally {
    await handle.close()
  }
}

async function main() {
  ensureBuilt()
  const machine = machineInfo()
  const only = args.only ? (args.only.split(',') as ScenarioName[]) : undefined
  const unknown = only?.filter((name) => !SCENARIOS.some((s) => s.name === name))
  if (unknown?.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`)
  const scenarios = SCENARIOS.filter((s) => !only || only.includes(s.name))

  const prepared = await prepareDatabase()
  const { meta } = prepared
  const big = meta.companies[0]!
  const small = meta.companies[1]!
  const random = new Random(seed)
  log('sampling ids for the request generators')
  const bigPools = await samplePools(prepared.serveUrl, big.company_id, random)
  const smallPools = await samplePools(prepared.serveUrl, small.company_id, random)
  const deepPage = Math.max(1, Math.round(big.jobs / 50 / 2))
  if (bigPools.patchPools.patch_status.length < connections) {
    throw new Error(`only ${bigPools.patchPools.patch_status.length} open jobs per PATCH pool for ${connections} connections; use fewer --connections`)
  }

  const profileDir = join(DATA_DIR, 'profiles')
  const nodeArgs = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []
  if (args['cpu-prof'] || args['sql-prof']) mkdirSync(profileDir, { recursive: true })
  const sqlProfile = args['sql-prof'] ? join(profileDir, `sql-${new Date().toISOString().replace(/[:.]/g, '-')}.txt`) : undefined
  if (sqlProfile) nodeArgs.push('--import', join(import.meta.dirname, 'sql-profile.mjs'))
  const startFsm = (port: number) => startFsmServer(prepared.serveUrl, port, nodeArgs, sqlProfile ? { FSM_SQL_PROFILE: sqlProfile } : {})
  let fsm = startFsm(await freePort())
  let baselineServer = startBaselineServer(await freePort())
  const results: ScenarioResult[] = []
  /** When each scenario's load ran, to cut the server's CPU profile into scenarios. */
  const windows = new Map<string, ProfileWindow>()
  const baselines: number[] = []
  const baselineCpu: number[] = []
  const baselineBusy: number[] = []
  const baselineProblems = { errors: 0, non2xx: 0 }
  const growthSlices = new Map<ScenarioName, GrowthSlices>()
  let peakRssMb = 0
  let rssAtStartMb = 0
  let fsmPid = 0
  // Ctrl-C: never leave the servers running, nor the copy of the data set behind.
  const interrupted = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping the servers`)
    void Promise.allSettled([fsm.stop(), baselineServer.stop()])
      .then(() => prepared.cleanup())
      .finally(() => process.exit(130))
  }
  process.once('SIGINT', interrupted)
  process.once('SIGTERM', interrupted)
  try {
    fsm = await upOnFreePort(fsm, startFsm, '/readyz')
    baselineServer = await upOnFreePort(baselineServer, startBaselineServer, '/baseline')
    fsmPid = fsm.child.pid!
    rssAtStartMb = procStatus(fsmPid)?.rssMb ?? 0
    log(`fsm serve (pid ${fsm.child.pid}, ${rssAtStartMb.toFixed(0)} MB resident when ready) on ${prepared.dialect}, baseline (pid ${baselineServer.child.pid}); ${scenarios.length} scenarios × ${durationS} s at ${connections} connections`)

    let seedOffset = 0
    const job = (scenario: ScenarioName, company: 'big' | 'small', seconds: number, patchPool: PatchJob[] = []): LoadJob => ({
      scenario,
      origin: scenario === 'baseline' ? baselineServer.origin : fsm.origin,
      apiKey: company === 'big' ? big.api_key : small.api_key,
      durationS: seconds,
      connections,
      seed: seed + ++seedOffset,
      pools: company === 'big' ? bigPools.pools : smallPools.pools,
      patchPool,
      deepPage,
      now: Math.floor(Date.now() / 1000),
    })

    // Warm-up (JIT, caches, page cache), not recorded.
    await measure(baselineServer, job('baseline', 'big', warmupS), 'warm-up baseline', fsm)
    await measure(fsm, job('mixed', 'big', warmupS, bigPools.patchPools.warmup), 'warm-up fsm (mixed)', fsm)

    const baselineRun = async () => {
      const measured = await measure(baselineServer, job('baseline', 'big', durationS), 'baseline', fsm)
      baselines.push(measured.summary.rps)
      baselineCpu.push(measured.cpuMsPerRequest)
      baselineBusy.push(measured.eventLoopBusy)
      baselineProblems.errors += measured.summary.errors
      baselineProblems.non2xx += measured.summary.non2xx
      return measured.summary
    }
    /**
     * The growth figure's measurement: the pair again, in slices of half a
     * scenario's time, big, small, small, big. Each scenario's ratio is
     * taken against the baselines just before and just after it, and when
     * the machine's speed changes during one (baselines have swung from
     * 28,000 to 18,000 req/s between two), the two ratios of a pair are
     * taken at different speeds and the figure moves with them (1.66 for
     * `get_job` in such a run, 0.98–1.22 in calm ones). Slices in this
     * order, seconds apart, see the same machine, and a drift during them
     * weighs on both sides alike.
     */
    const alternate = async ([bigTwin, smallTwin]: (typeof GROWTH_PAIRS)[number]) => {
      const measured: GrowthSlices = { rps_big: [], rps_small: [], errors: 0, non2xx: 0 }
      let slicesPeakRssMb = 0
      for (const company of ['big', 'small', 'small', 'big'] as const) {
        const name = company === 'big' ? bigTwin : smallTwin
        const slice = await measure(fsm, job(name, company, growthSliceS), `${name} (growth slice)`, fsm)
        ;(company === 'big' ? measured.rps_big : measured.rps_small).push(slice.summary.rps)
        measured.errors += slice.summary.errors
        measured.non2xx += slice.summary.non2xx
        slicesPeakRssMb = Math.max(slicesPeakRssMb, slice.peakRssMb)
      }
      return { measured, peakRssMb: slicesPeakRssMb }
    }

    let before = await baselineRun()
    for (const scenario of scenarios) {
      const patchPool = scenario.name === 'patch_status' ? bigPools.patchPools.patch_status : scenario.name === 'mixed' ? bigPools.patchPools.mixed : []
      const fromUs = Number(process.hrtime.bigint() / 1000n)
      const warningsBefore = fsm.warnings.length
      const measured = await measure(fsm, job(scenario.name, scenario.company, durationS, patchPool), scenario.name, fsm)
      windows.set(scenario.name, { fromUs, toUs: Number(process.hrtime.bigint() / 1000n) })
      const totals = scenario.name === 'mixed' ? await checkTotals(fsm.origin, big.api_key, prepared.serveUrl, big.company_id) : undefined
      if (totals) log(`mixed: list totals right after its writes: ${totals.map((c) => `${c.api_total}${c.api_total === c.database_total ? '' : ` (database: ${c.database_total})`}`).join(', ')}`)
      const after = await baselineRun()
      // The baselines measured just before and just after: noise that lasts a scenario moves them too.
      const baselineRps = (before.rps + after.rps) / 2
      const s = measured.summary
      results.push({
        name: scenario.name,
        request: scenario.request,
        rps: s.rps,
        ratio: Math.round((s.rps / baselineRps) * 1000) / 1000,
        baseline_rps: Math.round(baselineRps),
        p50_ms: s.p50_ms,
        p90_ms: s.p90_ms,
        p99_ms: s.p99_ms,
        max_ms: s.max_ms,
        bytes_per_answer: s.bytes_per_answer,
        errors: s.errors,
        timeouts: s.timeouts,
        non2xx: s.non2xx,
        status_codes: s.status_codes,
        peak_rss_mb: Math.round(measured.peakRssMb),
        server_cpu_ms_per_request: Math.round(measured.cpuMsPerRequest * 100) / 100,
        event_loop_busy: Math.round(measured.eventLoopBusy * 100) / 100,
        drain_s: Math.round(measured.drainS * 10) / 10,
        unexpected: s.unexpected,
        server_warnings: { count: fsm.warnings.length - warningsBefore, first: fsm.warnings.slice(warningsBefore, warningsBefore + 3) },
        ...(totals && { totals_after_writes: totals }),
      })
      peakRssMb = Math.max(peakRssMb, measured.peakRssMb)
      before = after
      const pair = GROWTH_PAIRS.find(([bigTwin, smallTwin]) => smallTwin === scenario.name && results.some((r) => r.name === bigTwin))
      if (pair) {
        const slices = await alternate(pair)
        growthSlices.set(pair[0], slices.measured)
        peakRssMb = Math.max(peakRssMb, slices.peakRssMb)
        // The next scenario's baseline before it, measured right before it.
        before = await baselineRun()
      }
    }
    // VmHWM: the true peak, including moments between two samples.
    peakRssMb = Math.max(peakRssMb, procStatus(fsm.child.pid!)?.hwmMb ?? 0)
  } finally {
    await fsm.stop()
    await baselineServer.stop()
    await prepared.cleanup()
  }

  const { targets, growth } = evaluateTargets(results, growthSlices, peakRssMb, big.jobs, small.jobs, baselineProblems)
  const notes = [
    `list_deep asks for page ${deepPage.toLocaleString('en-US')} (the middle of the big company's list at 50 per page).`,
    'Ratio = scenario req/s ÷ the mean of the baseline runs just before and just after it (baseline_rps at the top is the median of all of them, for reference). Latency counts 2xx answers only (as autocannon does).',
    'Server CPU counts every thread of fsm serve (the event loop, the checkpoint worker, V8\'s helpers); event loop busy is the share of the scenario\'s time its main thread was on a CPU: near 100% the scenario is bound by that thread\'s CPU per request, well below it by waits (for a core, a checkpoint catch-up, the disk, PostgreSQL) or by the client.',
    `Growth = cost(big) ÷ cost(small), cost = 1 ÷ req/s: after each pair's own runs, the pair runs again in slices of ${growthSliceS} s ` +
      `(the ${big.jobs.toLocaleString('en-US')}-job company, the ${small.jobs.toLocaleString('en-US')}-job one, it again, the big one again), and growth = Σ small req/s ÷ Σ big req/s, ` +
      'the same machine at the same moment for both, whatever its speed did between two baselines.',
    ...[...growthSlices].map(([name, g]) => `${name} growth slices (big, small, small, big): ${[g.rps_big[0], g.rps_small[0], g.rps_small[1], g.rps_big[1]].map((n) => Math.round(n ?? 0).toLocaleString('en-US')).join(' / ')} req/s.`),
  ]
  notes.push(
    `list_filtered matches ${bigPools.filteredTotal.toLocaleString('en-US')} jobs in the big company (a full page of 50) and ${smallPools.filteredTotal.toLocaleString('en-US')} in the small one ` +
      `(a page of ${Math.min(50, smallPools.filteredTotal)}): its growth figure compares answers of different sizes, not only companies of different sizes.`,
  )
  for (const { name, server_warnings: warned } of results) {
    if (warned.count) notes.push(`fsm serve logged ${warned.count} warning(s) during ${name}, the first: ${warned.first.join(' ')}`)
  }
  const slow = results.filter((r) => r.drain_s > 1)
  if (slow.length) notes.push(`Still busy after the load stopped (backlog of slow requests): ${slow.map((r) => `${r.name} ${r.drain_s} s`).join(', ')}.`)
  const report: RunReport = {
    baseline_rps: Math.round(median(baselines)),
    baseline_cpu_ms_per_request: Math.round(median(baselineCpu) * 1000) / 1000,
    baseline_event_loop_busy: Math.round(median(baselineBusy) * 100) / 100,
    scenarios: results,
    peak_rss_mb: Math.round(peakRssMb),
    rss_when_ready_mb: Math.round(rssAtStartMb),
    dialect: prepared.dialect,
    jobs: big.jobs,
    mode,
    duration_s: durationS,
    connections,
    growth,
    targets,
    targets_met: targets.every((t) => t.met),
    baselines_rps: baselines.map((n) => Math.round(n)),
    baseline_errors: baselineProblems.errors,
    baseline_non2xx: baselineProblems.non2xx,
    data_set: { seed, counts: meta.counts, generation_seconds: meta.generation_seconds, deep_page: deepPage },
    machine,
    code: codeVersion(),
    measured_at: new Date().toISOString(),
    notes,
  }
  printReport(report)
  log(`results: ${writeJson(report, !!only)}`)
  if (!only) log(`docs: ${writeDocs(report)}`)
  else log('docs/performance.md not updated (a partial run with --only)')

  if (sqlProfile && existsSync(sqlProfile)) {
    console.log(`\n${readFileSync(sqlProfile, 'utf8')}\n[bench] SQL profile (the whole run, warm-up included): ${sqlProfile}`)
  }

  if (args['cpu-prof'] && existsSync(profileDir)) {
    // One file per thread (CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile); thread 0 is the
    // main thread, where requests are served (the others are tsx's module loader).
    const main = readdirSync(profileDir).find((f) => f.includes(`.${fsmPid}.0.`) && f.endsWith('.cpuprofile'))
    if (main) {
      const file = join(profileDir, main)
      const text = [`CPU profile of fsm serve: ${file}`, '(profiling slows the server a little: use the ratios of a run without --cpu-prof)']
      for (const [name, window] of windows) text.push('', `== ${name}: ${summariseProfile(file, 20, window).join('\n')}`)
      const summary = file.replace(/\.cpuprofile$/, '.txt')
      writeFileSync(summary, text.join('\n') + '\n')
      console.log(`\n${text.join('\n')}\n\n[bench] profile summary: ${summary}`)
    }
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
