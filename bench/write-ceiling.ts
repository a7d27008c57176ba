/**
 * `npm run bench:writes -- [--quick] [--duration S] [--only a,b]`: the most
 * writes a second SQLite can take from one thread, with no HTTP at all. The
 * benchmark's own write requests (create_job, update_job and patch_status,
 * made by bench/scenarios.ts from the same samples of ids) go straight to
 * the service functions the routes call, 32 in flight as autocannon keeps
 * 32 connections busy, on a copy of the data set, with the checkpoint
 * worker `fsm serve` runs. Each is measured between two runs of the bare
 * Fastify baseline (autocannon in its own process, as in `npm run bench`),
 * and reported as a ratio to them: the ceiling a write's ratio could reach
 * if its HTTP side cost nothing and took nothing from the core SQLite
 * writes on. A target above its ceiling cannot be met by the HTTP side,
 * only by less database work a write (docs/performance.md, "The database
 * side against the HTTP side").
 *
 * Prints writes a second, the ratio, this process's CPU a write (its
 * event loop and the checkpoint worker; making the requests, as the load
 * generator would, was ~5% of it in a profile), and how many writes were
 * refused (any is a fault of the tool or of the data set). SQLite only: on PostgreSQL
 * the database's processes share the machine, and there is no single
 * writer.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { connect } from '../src/db/connect.ts'
import { watchWriteStalls } from '../src/db/transaction.ts'
import { ApiError } from '../src/http/errors.ts'
import { changeJobStatus, createJob, updateJob } from '../src/modules/jobs/jobs.service.ts'
import { SIZES, type SizeName } from './dataset.ts'
import { ensureSqliteDataSet } from './generate.ts'
import { samplePools } from './pools.ts'
import { freePort, runLoad, startBaselineServer, upOnFreePort } from './processes.ts'
import { Random } from './random.ts'
import { median } from './report.ts'
import { buildRequests, Unexpected, type LoadJob, type ScenarioName } from './scenarios.ts'

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    only: { type: 'string' },
    seed: { type: 'string', default: '42' },
  },
})

const WRITES = ['create_job', 'update_job', 'patch_status'] as const satisfies readonly ScenarioName[]
/** As `npm run bench` (autocannon's connections there). */
const IN_FLIGHT = 32
const mode: SizeName = args.quick ? 'quick' : 'full'
const seed = Number(args.seed)
const durationS = Number(args.duration ?? (args.quick ? 3 : 8))
const only = args.only?.split(',')
const unknown = only?.filter((name) => !(WRITES as readonly string[]).includes(name))
if (unknown?.length) throw new Error(`unknown write ${unknown.join(', ')}; known: ${WRITES.join(', ')}`)
const writes = WRITES.filter((name) => !only || only.includes(name))
const log = (line: string) => console.log(`[writes] ${line}`)

type Db = ReturnType<typeof connect>['db']
type Actor = Parameters<typeof createJob>[1]
type Request = ReturnType<typeof buildRequests>[number]

/** One request as the load generator would send it, run through the service its route calls; its status and body as the route would answer. */
async function perform(db: Db, actor: Actor, method: string, path: string, body: Record<string, unknown>): Promise<[number, string]> {
  const id = Number(new URL(path, 'http://x').searchParams.get('id'))
  try {
    if (method === 'POST') await createJob(db, actor, body as never)
    else if (method === 'PUT') await updateJob(db, actor, id, body as never)
    else if (method === 'PATCH') {
      const { data } = await changeJobStatus(db, actor, id, body.job_status as never)
      return [200, JSON.stringify({ data })]
    } else throw new Error(`not a write: ${method} ${path}`)
    return [method === 'POST' ? 201 : 200, '{}']
  } catch (error) {
    if (error instanceof ApiError) return [error.status, JSON.stringify({ error: { code: error.code, message: error.message } })]
    throw error
  }
}

/**
 * `IN_FLIGHT` lanes, each a connection of the load generator, for `seconds`:
 * writes a second, CPU microseconds a write, how many were refused (not
 * 2xx), and the first few refusals.
 */
async function drive(db: Db, actor: Actor, job: LoadJob, seconds: number): Promise<{ rate: number; cpuUs: number; refused: number; unexpected: Unexpected }> {
  const unexpected = new Unexpected()
  const [template] = buildRequests(job, new Random(job.seed), unexpected) as [Request]
  let done = 0
  let refused = 0
  const cpuBefore = process.cpuUsage()
  const began = performance.now()
  const end = began + seconds * 1000
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      // autocannon copies the request object for each connection: its `state` is the connection's own.
      const lane: Request = { ...template, state: {} }
      const context: Record<string, unknown> = {}
      while (performance.now() < end) {
        const request = lane.setupRequest!({ ...lane }, context)
        const [status, answer] = await perform(db, actor, request.method!, request.path!, JSON.parse(request.body ?? '{}'))
        lane.onResponse!(status, answer, context)
        done++
        if (status >= 300) refused++
      }
    }),
  )
  const wallS = (performance.now() - began) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  return { rate: done / wallS, cpuUs: (cpu.user + cpu.system) / done, refused, unexpected }
}

async function main() {
  const { file, meta } = await ensureSqliteDataSet(SIZES[mode], seed, false, log)
  const directory = mkdtempSync(join(tmpdir(), 'fsm-writes-'))
  const copy = join(directory, 'writes.db')
  copyFileSync(file, copy)
  const big = meta.companies[0]!
  const random = new Random(seed)
  const { pools, patchPools } = await samplePools(`sqlite:${copy}`, big.company_id, random)
  // As `fsm serve` opens it: its checkpoints on a worker thread.
  const database = connect(`sqlite:${copy}`, { sqliteBackgroundCheckpoints: true })
  const actor: Actor = { companyId: big.company_id, keyId: big.key_id, modules: new Set(['assets']) }
  // Every COMMIT, to tell how many writes each group made durable.
  const commits = { groups: 0, writes: 0 }
  watchWriteStalls(database.db, 0, (stall) => {
    if (stall.phase !== 'commit') return
    commits.groups++
    commits.writes += stall.writes
  })
  let baseline = startBaselineServer(await freePort())
  let seedOffset = 0
  const job = (scenario: ScenarioName, seconds: number): LoadJob => ({
    scenario,
    origin: baseline.origin,
    apiKey: big.api_key,
    durationS: seconds,
    connections: IN_FLIGHT,
    seed: seed + ++seedOffset,
    pools,
    patchPool: patchPools.patch_status,
    deepPage: 1,
    now: Math.floor(Date.now() / 1000),
  })
  const measureBaseline = async () => (await runLoad(job('baseline', durationS))).rps
  try {
    baseline = await upOnFreePort(baseline, startBaselineServer, '/baseline')
    log(`${writes.length} writes × ${durationS} s, ${IN_FLIGHT} in flight, each between two baseline runs; data set copied to ${copy}`)
    // Warm the caches first (2 s of PUTs: random rows and index pages read and written), as the benchmark warms `fsm serve`.
    await drive(database.db, actor, job('update_job', 2), 2)
    const baselines = [await measureBaseline()]
    const rows: string[] = []
    for (const name of writes) {
      Object.assign(commits, { groups: 0, writes: 0 })
      const { rate, cpuUs, refused, unexpected } = await drive(database.db, actor, job(name, durationS), durationS)
      const perCommit = commits.writes / Math.max(1, commits.groups)
      baselines.push(await measureBaseline())
      const around = (baselines.at(-2)! + baselines.at(-1)!) / 2
      log(`${name.padEnd(13)} ${rate.toFixed(0).padStart(7)} writes/s, ${perCommit.toFixed(1)} a COMMIT  (baselines ${baselines.at(-2)!.toFixed(0)}, ${baselines.at(-1)!.toFixed(0)} req/s)`)
      for (const sample of unexpected.samples) log(`  unexpected ${sample.status} for ${sample.request}: ${sample.body}`)
      rows.push(`| ${name} | ${Math.round(rate).toLocaleString('en-US')} | ${(rate / around).toFixed(3)} | ${cpuUs.toFixed(0)} | ${refused} |`)
    }
    console.log(`\nSQLite writes with no HTTP (${mode} data set, ${durationS} s each, ${IN_FLIGHT} in flight); baseline median ${Math.round(median(baselines)).toLocaleString('en-US')} req/s\n`)
    console.log('| write | writes/s | ceiling (ratio to baseline) | CPU µs a write | refused (not 2xx) |')
    console.log('|:--|--:|--:|--:|--:|')
    for (const row of rows) console.log(row)
  } finally {
    await baseline.stop()
    await database.close()
    rmSync(directory, { recursive: true, force: true })
  }
}

await main()
