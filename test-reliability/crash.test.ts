/**
 * Promise 1: no acknowledged write is lost on a crash, and nothing is left
 * half-applied.
 *
 * Each round: a server runs, many clients send creates, PUTs and PATCHes
 * concurrently, and at a random moment the server is killed with SIGKILL.
 * Then a new server starts on the same database and the test compares what
 * is stored with what was answered:
 *
 * - every create answered 201 exists with the fields it was sent;
 * - each job's fields are those of one whole write (every PUT sends every
 *   field, tagged with a token): the last acknowledged one, or one that was
 *   still in flight at the kill, or one acknowledged concurrently with it
 *   (never one superseded by a write sent after its answer came back);
 * - its asset links are exactly that write's (the PUT is atomic);
 * - its status history chains from the creation along the transition
 *   table, its status is the last history row's, every acknowledged PATCH
 *   is one row, and extra rows come only from PATCHes in flight at the kill;
 * - its row version counts every acknowledged write once, and in-flight
 *   ones at most once;
 * - no job exists that nobody asked for; list totals equal the stored rows;
 * - SQLite's `PRAGMA integrity_check` is ok and no foreign key dangles.
 *
 * On SQLite with FSM_SQLITE_SYNCHRONOUS=NORMAL and FULL, and on PostgreSQL.
 * (SIGKILL is a process crash: the operating system keeps what was written,
 * so this does not simulate power loss, where NORMAL and FULL differ.)
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { sql } from 'kysely'
import { api, NoAnswer, type Answer } from './helpers/http.ts'
import { budget, SEED, rng, type Rng } from './helpers/mode.ts'
import { postgresReachable, sqliteChecks, target, type Target } from './helpers/db.ts'
import { spawnServer, sleep, type ServerProcess } from './helpers/server.ts'
import { recorded, type Figures } from './helpers/report.ts'
import { createCompany } from '../src/modules/companies/companies.service.ts'
import { historyProblem, seedWorld, TRANSITIONS, type JobStatus, type World } from './helpers/world.ts'

/**
 * Per backend: at least MIN_ROUNDS rounds and `minAcked` acknowledged writes
 * (a full run: ≥ 21 rounds and ≥ 21,000 writes in all; PostgreSQL commits
 * are the slowest here, so it carries fewer).
 */
const BACKENDS = [
  { name: 'sqlite-NORMAL', dialect: 'sqlite' as const, synchronous: 'NORMAL', minAcked: budget(250, 8000) },
  { name: 'sqlite-FULL', dialect: 'sqlite' as const, synchronous: 'FULL', minAcked: budget(250, 8000) },
  { name: 'postgres', dialect: 'postgres' as const, synchronous: 'NORMAL', minAcked: budget(250, 5000) },
]
const MIN_ROUNDS = budget(2, 7)
const MAX_ROUNDS = budget(4, 20)
const CLIENTS = 24
const pgUp = await postgresReachable()

// ---- The client-side model

type Outcome = 'acked' | 'rejected' | 'unknown'

interface Fields {
  job_title: string
  job_description: string
  job_priority: string
  customer_location_id: number
  assigned_technician_id: number | null
  scheduled_start: string | null
  scheduled_end: string | null
  asset_ids: number[]
}

interface Write {
  kind: 'create' | 'put' | 'patch'
  token?: string
  fields?: Fields
  to?: JobStatus
  sentAt: number
  ackedAt?: number
  outcome?: Outcome
  answer?: any
}

interface JobModel {
  jobId: number
  /** State confirmed by the last verification (or the create's answer). */
  baseToken: string
  baseStatus: JobStatus
  baseHistory: number
  baseRowVersion: number
  /** Writes since the last verification. */
  writes: Write[]
  /** The status this client last saw (answers of PATCHes); may be stale under concurrency. */
  seenStatus: JobStatus
}

const PRIORITIES = ['Low', 'Medium', 'High', 'Urgent']

function fieldsFor(token: string, world: World, r: Rng): Fields {
  const scheduled = r.chance(0.5)
  const start = Date.UTC(2027, r.int(0, 11), r.int(1, 28), r.int(0, 20)) / 1000
  const assetCount = r.int(0, Math.min(3, world.assetIds.length))
  const assets = [...world.assetIds].sort(() => r.next() - 0.5).slice(0, assetCount)
  return {
    job_title: `t-${token}`,
    job_description: `d-${token}`,
    job_priority: r.pick(PRIORITIES),
    customer_location_id: r.pick(world.locationIds),
    assigned_technician_id: r.chance(0.3) ? null : r.pick(world.technicianIds),
    scheduled_start: scheduled ? new Date(start * 1000).toISOString().replace('.000Z', 'Z') : null,
    scheduled_end: scheduled ? new Date((start + r.int(1, 8) * 3600) * 1000).toISOString().replace('.000Z', 'Z') : null,
    asset_ids: assets,
  }
}

/** The next status a client would ask for: mostly forward, sometimes back, rarely a cancellation. */
function nextStatus(from: JobStatus, r: Rng): JobStatus | undefined {
  const options = TRANSITIONS[from].filter((s) => s !== 'Cancelled' || r.chance(0.04))
  return options.length ? r.pick(options) : undefined
}

const seconds = (iso: string | null) => (iso === null ? null : Date.parse(iso) / 1000)

// ---- One backend

interface Totals {
  rounds: number
  acked: number
  ackedCreates: number
  ackedPuts: number
  ackedPatches: number
  rejected: number
  inFlightAtKill: number
  inFlightApplied: number
  jobsChecked: number
  serverErrors: number
}

async function runBackend(backend: (typeof BACKENDS)[number], figures: Figures) {
  const db: Target = await target(backend.dialect)
  let server: ServerProcess | undefined
  const totals: Totals = { rounds: 0, acked: 0, ackedCreates: 0, ackedPuts: 0, ackedPatches: 0, rejected: 0, inFlightAtKill: 0, inFlightApplied: 0, jobsChecked: 0, serverErrors: 0 }
  const publish = () => Object.assign(figures, totals, { seed: SEED })
  try {
    const world = await seedWorld(db.database, { name: `Crash ${backend.name}`, locations: 3, technicians: 3, assets: 5 })
    const jobs = new Map<number, JobModel>()
    const start = () => spawnServer({ databaseUrl: db.url, env: { FSM_SQLITE_SYNCHRONOUS: backend.synchronous, FSM_KEY_CACHE_MS: '1000' } })
    server = await start()
    const r = rng(SEED + backend.name.length * 7919)

    while (totals.rounds < MAX_ROUNDS && (totals.rounds < MIN_ROUNDS || totals.acked < backend.minAcked)) {
      const round = ++totals.rounds
      const roundCreates: Write[] = []
      // The kill comes after a random number of acknowledged writes (60–140 % of an even share).
      const perRound = budget(140, Math.round(backend.minAcked / MIN_ROUNDS))
      const killAfter = Math.round(perRound * (0.6 + 0.8 * r.next()))
      let ackedThisRound = 0
      let killed = false
      let inFlight = 0
      let counter = 0
      const base = server.base
      const send = async (w: Write, method: string, path: string, json: unknown): Promise<Answer | undefined> => {
        w.sentAt = performance.now()
        inFlight++
        try {
          const a = await api(base, method, path, { key: world.apiKey, json, timeoutMs: 30_000 })
          w.ackedAt = performance.now()
          if (a.status >= 500) {
            totals.serverErrors++
            w.outcome = 'unknown'
          } else w.outcome = a.status < 300 ? 'acked' : 'rejected'
          w.answer = a.body
          return a
        } catch (error) {
          if (!(error instanceof NoAnswer)) throw error
          w.outcome = 'unknown'
          return undefined
        } finally {
          inFlight--
        }
      }
      const active = () => [...jobs.values()].filter((j) => TRANSITIONS[j.seenStatus].length > 0)

      const client = async (c: number) => {
        const cr = rng(SEED + round * 1000 + c)
        while (!killed) {
          const candidates = active().slice(-150)
          const op = candidates.length === 0 || cr.chance(0.25) ? 'create' : cr.chance(0.5) ? 'put' : 'patch'
          if (op === 'create') {
            const token = `${backend.name}-${round}-${c}-${counter++}`
            const w: Write = { kind: 'create', token, fields: fieldsFor(token, world, cr), sentAt: 0 }
            roundCreates.push(w)
            const a = await send(w, 'POST', '/api/v1/jobs', w.fields)
            if (w.outcome === 'acked') {
              assert.equal(a!.status, 201)
              const jobId = a!.body.data.job_id as number
              jobs.set(jobId, { jobId, baseToken: token, baseStatus: 'Pending', baseHistory: 1, baseRowVersion: 1, writes: [], seenStatus: 'Pending' })
            }
          } else {
            const job = cr.pick(candidates)
            let w: Write
            if (op === 'put') {
              const token = `${backend.name}-${round}-${c}-${counter++}`
              w = { kind: 'put', token, fields: fieldsFor(token, world, cr), sentAt: 0 }
              job.writes.push(w)
              await send(w, 'PUT', `/api/v1/jobs?id=${job.jobId}`, w.fields)
            } else {
              const to = nextStatus(job.seenStatus, cr)
              if (!to) continue
              w = { kind: 'patch', to, sentAt: 0 }
              job.writes.push(w)
              await send(w, 'PATCH', `/api/v1/jobs?id=${job.jobId}`, { job_status: to })
              if (w.outcome === 'acked') job.seenStatus = to
              else if (w.outcome === 'rejected' && w.answer?.error?.code === 'invalid_status_transition') {
                // Someone else moved it: learn the current status from the message's "from".
                const m = /from ([A-Za-z ]+?)(?: to |\.|:)/.exec(w.answer.error.message ?? '') ?? /already ([A-Za-z ]+?)\./.exec(w.answer.error.message ?? '')
                if (m && m[1]! in TRANSITIONS) job.seenStatus = m[1] as JobStatus
              }
            }
          }
        }
      }

      // The killer: after `killAfter` acknowledged writes of this round, plus a random few ms.
      const counted = () =>
        roundCreates.filter((w) => w.outcome === 'acked').length +
        [...jobs.values()].reduce((n, j) => n + j.writes.filter((w) => w.outcome === 'acked').length, 0)
      const killer = (async () => {
        const deadline = Date.now() + 120_000
        while ((ackedThisRound = counted()) < killAfter && Date.now() < deadline) await sleep(5)
        await sleep(r.int(0, 25))
        killed = true
        totals.inFlightAtKill += inFlight
        await server!.kill9()
      })()
      await Promise.all([killer, ...Array.from({ length: CLIENTS }, (_, c) => client(c))])
      ackedThisRound = counted()

      // Restart on the same database, then compare.
      server = await start()
      if (round === 1) figures.checker_self_test = await selfTest(db, server, world, jobs, roundCreates)
      const check = await verify(db, server, world, jobs, roundCreates)
      totals.inFlightApplied += check.inFlightApplied
      totals.jobsChecked = jobs.size
      totals.acked += ackedThisRound
      totals.ackedCreates += roundCreates.filter((w) => w.outcome === 'acked').length
      for (const j of jobs.values()) {
        totals.ackedPuts += j.writes.filter((w) => w.kind === 'put' && w.outcome === 'acked').length
        totals.ackedPatches += j.writes.filter((w) => w.kind === 'patch' && w.outcome === 'acked').length
        totals.rejected += j.writes.filter((w) => w.outcome === 'rejected').length
      }
      check.commit()
      publish()
      assert.equal(totals.serverErrors, 0, 'no 5xx answers during the load')
    }
    if (db.file) {
      const checks = sqliteChecks(db.file)
      figures.integrity_check = checks.integrity
    }
    publish()
    // Every round verified: nothing acknowledged was lost.
    figures.lost = 0
  } finally {
    await server?.stop()
    await db.cleanup()
  }
}

// ---- Verification after a restart

async function verify(db: Target, server: ServerProcess, world: World, jobs: Map<number, JobModel>, roundCreates: Write[]) {
  const { db: k } = db.database
  const companyId = world.companyId
  const rows = await k.selectFrom('jobs').selectAll().where('company_id', '=', companyId).execute()
  const historyRows = await k
    .selectFrom('job_status_changes')
    .select(['job_id', 'from_status', 'to_status'])
    .where('company_id', '=', companyId)
    .orderBy('job_id')
    .orderBy('change_id')
    .execute()
  const linkRows = await k.selectFrom('job_assets').select(['job_id', 'asset_id']).where('company_id', '=', companyId).execute()
  const histories = new Map<number, Array<{ from_status: string | null; to_status: string }>>()
  for (const h of historyRows) (histories.get(h.job_id) ?? histories.set(h.job_id, []).get(h.job_id)!).push(h)
  const links = new Map<number, number[]>()
  for (const l of linkRows) (links.get(l.job_id) ?? links.set(l.job_id, []).get(l.job_id)!).push(l.asset_id)

  const byToken = new Map<string, Write>()
  for (const w of roundCreates) byToken.set(w.token!, w)
  for (const j of jobs.values()) for (const w of j.writes) if (w.token) byToken.set(w.token, w)
  let inFlightApplied = 0

  const sameFields = (row: (typeof rows)[number], f: Fields, jobId: number, why: string) => {
    assert.equal(row.job_title, f.job_title, `${why}: job ${jobId} title`)
    assert.equal(row.job_description, f.job_description, `${why}: job ${jobId} description`)
    assert.equal(row.job_priority, f.job_priority, `${why}: job ${jobId} priority`)
    assert.equal(Number(row.customer_location_id), f.customer_location_id, `${why}: job ${jobId} location`)
    assert.equal(row.assigned_technician_id === null ? null : Number(row.assigned_technician_id), f.assigned_technician_id, `${why}: job ${jobId} technician`)
    assert.equal(row.scheduled_start === null ? null : Number(row.scheduled_start), seconds(f.scheduled_start), `${why}: job ${jobId} scheduled_start`)
    assert.equal(row.scheduled_end === null ? null : Number(row.scheduled_end), seconds(f.scheduled_end), `${why}: job ${jobId} scheduled_end`)
    assert.deepEqual((links.get(jobId) ?? []).map(Number).sort((a, b) => a - b), [...f.asset_ids].sort((a, b) => a - b), `${why}: job ${jobId} asset links are the same write's`)
  }

  // Nothing in the model changes unless every check passes (the self-test re-runs this).
  const adopted = new Map<number, JobModel>()
  const rebase: Array<() => void> = []

  // Creates: every acknowledged one exists; an unanswered one exists whole or not at all.
  const byTitle = new Map(rows.map((row) => [row.job_title, row]))
  const byId = new Map(rows.map((row) => [Number(row.job_id), row]))
  for (const w of roundCreates) {
    if (w.outcome === 'acked') {
      // Later PUTs may have changed its fields; those are checked per job below.
      assert.ok(byId.has(w.answer.data.job_id), `acknowledged create ${w.token} (job ${w.answer.data.job_id}) is lost`)
      continue
    }
    // A create without an answer cannot have been updated since (nobody knew its id).
    const row = byTitle.get(`t-${w.token}`)
    if (w.outcome === 'unknown' && row && !jobs.has(Number(row.job_id))) {
      // In flight at the kill and committed: it must be whole, with only its creation in history.
      sameFields(row, w.fields!, Number(row.job_id), `in-flight create ${w.token}`)
      assert.deepEqual((histories.get(Number(row.job_id)) ?? []).map((h) => [h.from_status, h.to_status]), [[null, 'Pending']])
      adopted.set(Number(row.job_id), { jobId: Number(row.job_id), baseToken: w.token!, baseStatus: 'Pending', baseHistory: 1, baseRowVersion: Number(row.row_version), writes: [], seenStatus: 'Pending' })
      inFlightApplied++
    } else if (w.outcome === 'rejected') {
      assert.equal(row, undefined, `rejected create ${w.token} was stored`)
    }
  }
  // Nothing nobody asked for.
  for (const row of rows) assert.ok(jobs.has(Number(row.job_id)) || adopted.has(Number(row.job_id)), `job ${row.job_id} ("${row.job_title}") matches no request`)

  for (const job of [...jobs.values(), ...adopted.values()]) {
    const row = byId.get(job.jobId)
    assert.ok(row, `job ${job.jobId} is lost`)
    const history = histories.get(job.jobId) ?? []

    // Fields: exactly one whole write, and an allowed one.
    const token = /^d-(.*)$/.exec(row.job_description ?? '')?.[1]
    assert.ok(token, `job ${job.jobId}: description ${row.job_description} carries no write token`)
    const puts = job.writes.filter((w) => w.kind === 'put')
    const acked = puts.filter((w) => w.outcome === 'acked')
    const supersededBySomeAck = (w: Write) => acked.some((a) => a !== w && a.sentAt > (w.ackedAt ?? Infinity))
    const allowed = new Set<string>()
    if (acked.length === 0) allowed.add(job.baseToken)
    for (const w of acked) if (!supersededBySomeAck(w)) allowed.add(w.token!)
    for (const w of puts) if (w.outcome === 'unknown') allowed.add(w.token!)
    assert.ok(allowed.has(token), `job ${job.jobId} shows write ${token}; allowed: ${[...allowed].join(', ')} (an acknowledged PUT was lost or overwritten by an older one)`)
    const write = token === job.baseToken && !byToken.get(token)?.fields ? undefined : byToken.get(token)
    if (write?.fields) sameFields(row, write.fields, job.jobId, `write ${token}`)
    if (write?.outcome === 'unknown') inFlightApplied++

    // History: a chain along the table, ending in the stored status.
    const problem = historyProblem(history)
    assert.equal(problem, undefined, `job ${job.jobId}: ${problem}`)
    assert.equal(row.job_status, history.at(-1)!.to_status, `job ${job.jobId}: status ${row.job_status} is not the last history row's (half-applied)`)
    const newRows = history.slice(job.baseHistory).map((h) => `${h.from_status}>${h.to_status}`)
    const patches = job.writes.filter((w) => w.kind === 'patch')
    const ackedPatches = patches.filter((w) => w.outcome === 'acked').map((w) => `${w.answer.data.previous_status}>${w.answer.data.job_status}`)
    const unmatched = [...newRows]
    for (const p of ackedPatches) {
      const i = unmatched.indexOf(p)
      assert.ok(i >= 0, `job ${job.jobId}: acknowledged PATCH ${p} is not in the history ${newRows.join(', ')}`)
      unmatched.splice(i, 1)
    }
    const unknownTargets = patches.filter((w) => w.outcome === 'unknown').map((w) => w.to!)
    for (const extra of unmatched) {
      const to = extra.split('>')[1] as JobStatus
      const i = unknownTargets.indexOf(to)
      assert.ok(i >= 0, `job ${job.jobId}: history row ${extra} matches no request`)
      unknownTargets.splice(i, 1)
      inFlightApplied++
    }
    const ackedPatchWrites = patches.filter((w) => w.outcome === 'acked')
    const lastAcked = ackedPatchWrites.filter((w) => !ackedPatchWrites.some((o) => o !== w && o.sentAt > w.ackedAt!))
    if (ackedPatchWrites.length && patches.every((w) => w.outcome !== 'unknown')) {
      assert.ok(lastAcked.some((w) => w.to === row.job_status), `job ${job.jobId}: status ${row.job_status} is not the last acknowledged PATCH's (${lastAcked.map((w) => w.to).join('/')})`)
    }
    if (row.job_status === 'In Progress') assert.notEqual(row.actual_start, null, `job ${job.jobId}: In Progress without actual_start`)

    // Row version: each acknowledged write applied once, in-flight ones at most once.
    const appliedWrites = Number(row.row_version) - job.baseRowVersion
    const appliedPuts = appliedWrites - newRows.length
    const unknownPuts = puts.filter((w) => w.outcome === 'unknown').length
    assert.ok(appliedPuts >= acked.length && appliedPuts <= acked.length + unknownPuts, `job ${job.jobId}: ${appliedPuts} PUTs applied for ${acked.length} acknowledged and ${unknownPuts} in flight`)

    rebase.push(() => {
      job.baseToken = token
      job.baseStatus = row.job_status as JobStatus
      job.seenStatus = row.job_status as JobStatus
      job.baseHistory = history.length
      job.baseRowVersion = Number(row.row_version)
      job.writes = []
    })
  }

  // Totals the API reports equal the stored rows, overall and per status.
  const total = await api(server.base, 'GET', '/api/v1/jobs?per_page=1', { key: world.apiKey })
  assert.equal(total.status, 200)
  assert.equal(total.body.pagination.total, rows.length, 'list total equals stored jobs')
  const statuses = [...new Set(rows.map((row) => row.job_status))]
  for (const status of statuses) {
    const a = await api(server.base, 'GET', `/api/v1/jobs?per_page=1&status=${encodeURIComponent(status)}`, { key: world.apiKey })
    assert.equal(a.body.pagination.total, rows.filter((row) => row.job_status === status).length, `list total for ${status}`)
  }

  // The database itself.
  if (db.file) {
    const checks = sqliteChecks(db.file)
    assert.equal(checks.integrity, 'ok', 'PRAGMA integrity_check')
    assert.equal(checks.foreignKeyProblems, 0, 'PRAGMA foreign_key_check')
  } else {
    const orphans = await sql<{ n: number }>`
      select (select count(*) from job_assets ja where not exists (select 1 from jobs j where j.job_id = ja.job_id))
           + (select count(*) from job_status_changes h where not exists (select 1 from jobs j where j.job_id = h.job_id))
           + (select count(*) from jobs j where not exists (select 1 from job_status_changes h where h.job_id = j.job_id)) as n`.execute(k)
    assert.equal(Number(orphans.rows[0]!.n), 0, 'no orphan links or history rows, no job without history')
  }
  return {
    inFlightApplied,
    /** Accept what was found as the new baseline of every job. */
    commit: () => {
      for (const [id, job] of adopted) jobs.set(id, job)
      for (const apply of rebase) apply()
    },
  }
}

/**
 * The checker must be able to fail: damage the database the way a lost or
 * half-applied write would (an acknowledged PUT reverted, a status changed
 * without its history row, an acknowledged create deleted) and expect
 * `verify` to refuse each, then undo the damage.
 */
async function selfTest(db: Target, server: ServerProcess, world: World, jobs: Map<number, JobModel>, roundCreates: Write[]): Promise<string> {
  const k = db.database.db
  const put = [...jobs.values()].find((j) => j.writes.some((w) => w.kind === 'put' && w.outcome === 'acked') && j.writes.every((w) => w.outcome !== 'unknown'))
  const created = [...jobs.values()].find((j) => j.writes.length === 0 && roundCreates.some((w) => w.outcome === 'acked' && w.answer.data.job_id === j.jobId))
  const damages: Array<{ what: string; damage: () => Promise<() => Promise<void>> }> = []
  if (put) {
    damages.push({
      what: 'an acknowledged PUT reverted',
      damage: async () => {
        const before = await k.selectFrom('jobs').select(['job_title', 'job_description']).where('job_id', '=', put.jobId).executeTakeFirstOrThrow()
        await k.updateTable('jobs').set({ job_title: `t-${put.baseToken}`, job_description: `d-${put.baseToken}` }).where('job_id', '=', put.jobId).execute()
        return async () => void (await k.updateTable('jobs').set(before).where('job_id', '=', put.jobId).execute())
      },
    })
    damages.push({
      what: 'a status changed without its history row',
      damage: async () => {
        const before = await k.selectFrom('jobs').select(['job_status']).where('job_id', '=', put.jobId).executeTakeFirstOrThrow()
        await k.updateTable('jobs').set({ job_status: before.job_status === 'Cancelled' ? 'Pending' : 'Cancelled' }).where('job_id', '=', put.jobId).execute()
        return async () => void (await k.updateTable('jobs').set(before).where('job_id', '=', put.jobId).execute())
      },
    })
  }
  if (created) {
    damages.push({
      what: 'an acknowledged create lost',
      damage: async () => {
        const elsewhere = await createCompany(k, { name: 'Self-test elsewhere' })
        await k.updateTable('jobs').set({ company_id: elsewhere.company_id }).where('job_id', '=', created.jobId).execute()
        return async () => void (await k.updateTable('jobs').set({ company_id: world.companyId }).where('job_id', '=', created.jobId).execute())
      },
    })
  }
  const caught: string[] = []
  for (const { what, damage } of damages) {
    const undo = await damage()
    try {
      await assert.rejects(verify(db, server, world, jobs, roundCreates), `the checker must notice ${what}`)
      caught.push(what)
    } finally {
      await undo()
    }
  }
  assert.ok(caught.length >= 2, `the self-test damaged ${caught.length} things`)
  return `caught ${caught.length}/${damages.length} injected losses`
}

// ---- Idempotent creates across a crash (promise 2: a retried request is done once)

/**
 * Rounds of concurrent creates, each under its own Idempotency-Key, ended by
 * `kill -9`; after the restart every create is retried with its key and
 * body, once the claims the dead process left open are 60 s old (aged in the
 * database, as the clock would). Every retry must answer 201, a retry of an
 * answered create must replay that answer (request_id included), and each
 * key must have made exactly one job: a create that committed but whose
 * answer was not yet stored when the process died must not run again.
 */
interface IdempotentCreate {
  key: string
  body: { job_title: string; customer_location_id: number }
  /** Its answer, if one came before the kill. */
  answer?: Answer
}

async function idempotentCreatesAcrossCrashes(dialect: 'sqlite' | 'postgres', figures: Figures) {
  const db: Target = await target(dialect)
  let server: ServerProcess | undefined
  const totals = { rounds: 0, creates: 0, answered: 0, unanswered: 0, committed_unanswered: 0, run_on_retry: 0, duplicates: 0 }
  try {
    const world = await seedWorld(db.database, { name: `Idempotent crash ${dialect}`, locations: 2, technicians: 1, assets: 0 })
    const start = () => spawnServer({ databaseUrl: db.url, env: { FSM_KEY_CACHE_MS: '1000' } })
    const r = rng(SEED + 4243 + dialect.length)
    for (let round = 1; round <= budget(2, 6); round++) {
      totals.rounds = round
      server = await start()
      const base = server.base
      const sent: IdempotentCreate[] = []
      let killed = false
      const killAfter = r.int(budget(30, 100), budget(80, 400))
      const client = async (c: number) => {
        for (let n = 0; !killed; n++) {
          const key = `${dialect}-${round}-${c}-${n}`
          const create: IdempotentCreate = { key, body: { job_title: `i-${key}`, customer_location_id: r.pick(world.locationIds) } }
          sent.push(create)
          try {
            create.answer = await api(base, 'POST', '/api/v1/jobs', { key: world.apiKey, json: create.body, headers: { 'idempotency-key': key }, timeoutMs: 30_000 })
            assert.equal(create.answer.status, 201, `create ${key}: ${create.answer.text}`)
          } catch (error) {
            if (!(error instanceof NoAnswer)) throw error
          }
        }
      }
      const killer = (async () => {
        const deadline = Date.now() + 60_000
        while (sent.filter((c) => c.answer).length < killAfter && Date.now() < deadline) await sleep(2)
        await sleep(r.int(0, 10))
        killed = true
        await server!.kill9()
      })()
      await Promise.all([killer, ...Array.from({ length: CLIENTS }, (_, c) => client(c))])

      server = await start()
      await db.database.db.updateTable('idempotency_keys').set((eb) => ({ locked_at: eb('locked_at', '-', 61) })).where('state', '=', 'running').execute()
      const retries = new Map<string, Answer>()
      for (let i = 0; i < sent.length; i += CLIENTS) {
        await Promise.all(
          sent.slice(i, i + CLIENTS).map(async (create) => {
            retries.set(create.key, await api(server!.base, 'POST', '/api/v1/jobs', { key: world.apiKey, json: create.body, headers: { 'idempotency-key': create.key } }))
          }),
        )
      }
      const titles = new Map<string, number>()
      const rows = await db.database.db.selectFrom('jobs').select('job_title').where('company_id', '=', world.companyId).execute()
      for (const row of rows) titles.set(row.job_title, (titles.get(row.job_title) ?? 0) + 1)
      totals.duplicates += [...titles.values()].filter((n) => n > 1).length
      for (const create of sent) {
        const retry = retries.get(create.key)!
        assert.equal(retry.status, 201, `retry of ${create.key}: ${retry.text}`)
        assert.equal(titles.get(create.body.job_title), 1, `${create.key} made ${titles.get(create.body.job_title) ?? 0} jobs (done once on a retry, also across a crash)`)
        const replayed = retry.headers.get('idempotent-replayed') === 'true'
        if (create.answer) {
          assert.ok(replayed, `the retry of answered create ${create.key} was not a replay`)
          assert.deepEqual(retry.body, create.answer.body, `the replay of ${create.key} is the first answer`)
        } else if (replayed) totals.committed_unanswered++
        else totals.run_on_retry++
      }
      totals.creates += sent.length
      totals.answered += sent.filter((c) => c.answer).length
      totals.unanswered += sent.filter((c) => !c.answer).length
      Object.assign(figures, totals)
      await server.stop()
      server = undefined
    }
  } finally {
    Object.assign(figures, totals)
    await server?.stop()
    await db.cleanup()
  }
}

describe('2. a create retried under its Idempotency-Key is done once, across kill -9', { timeout: budget(120_000, 300_000) }, () => {
  for (const dialect of ['sqlite', 'postgres'] as const) {
    const skip = dialect === 'postgres' && !pgUp ? 'PostgreSQL is not reachable (FSM_TEST_DATABASE_URL)' : false
    it(`${dialect}: rounds of idempotent creates ended by SIGKILL, then every create retried with its key`, { skip }, () =>
      recorded('2-histories', `idempotent-creates-across-kill-9-${dialect}`, (figures) => idempotentCreatesAcrossCrashes(dialect, figures)),
    )
  }
})

describe('1. no acknowledged write is lost on a crash (kill -9)', { timeout: budget(240_000, 900_000) }, () => {
  for (const backend of BACKENDS) {
    const skip = backend.dialect === 'postgres' && !pgUp ? 'PostgreSQL is not reachable (FSM_TEST_DATABASE_URL)' : false
    it(`${backend.name}: rounds of concurrent creates, PUTs and PATCHes, each ended by SIGKILL, then a restart`, { skip }, () =>
      recorded('1-crash', backend.name, (figures) => runBackend(backend, figures)),
    )
  }
})
