/**
 * The scenarios: what each one asks the server, as autocannon `requests`
 * whose `setupRequest` draws a fresh id or body for every request.
 *
 * Request generators are designed so that every request should succeed: a
 * non-2xx answer is a finding, never noise from the harness. In particular
 * PATCH only sends transitions that are valid for the job's current status:
 * each connection owns its own jobs (no two connections race on one), knows
 * their status from the previous answer, and moves them between Assigned, In
 * Progress and On Hold (never into a terminal status, so they stay usable).
 */
import type { Random } from './random.ts'

export type ScenarioName =
  | 'baseline'
  | 'get_job'
  | 'list_default'
  | 'list_filtered'
  | 'list_deep'
  | 'create_job'
  | 'create_job_idempotent'
  | 'update_job'
  | 'patch_status'
  | 'mixed'
  | 'get_job_small'
  | 'list_filtered_small'

export interface ScenarioInfo {
  name: ScenarioName
  /** What it sends, for the report. */
  request: string
  /** Minimum ratio to the baseline (issue 6), when there is one. */
  target?: number
  /** Which company's key: the 1,000,000-job one, or a 10,000-job one (growth). */
  company: 'big' | 'small'
}

/**
 * In run order. Each growth scenario runs right after its twin on the big
 * company, so the two its figure compares are measured a minute apart:
 * last in the run, they came up to eight minutes after their twins, and
 * a machine whose speed drifted meanwhile moved the figure (2026-11-30:
 * baselines fell from ~26,000 to 17,800 req/s in the run's last two
 * minutes, and list_filtered's growth read 1.53). No scenario writes to a
 * small company, so running them before the writes changes nothing else.
 */
export const SCENARIOS: ScenarioInfo[] = [
  { name: 'get_job', request: 'GET /api/v1/jobs?id=<random job; 1 in 5 with asset links>', target: 0.5, company: 'big' },
  { name: 'get_job_small', request: 'get_job on a 10,000-job company', company: 'small' },
  { name: 'list_default', request: 'GET /api/v1/jobs (page 1, 50 per page, with total)', target: 0.25, company: 'big' },
  { name: 'list_filtered', request: 'GET /api/v1/jobs?status=Pending&priority=High', target: 0.25, company: 'big' },
  { name: 'list_filtered_small', request: 'list_filtered on a 10,000-job company', company: 'small' },
  { name: 'list_deep', request: 'GET /api/v1/jobs?page=<middle of the list> (50 per page)', target: 0.1, company: 'big' },
  { name: 'create_job', request: 'POST /api/v1/jobs (random valid body)', target: 0.3, company: 'big' },
  { name: 'create_job_idempotent', request: 'create_job, each with a new Idempotency-Key (as docs/syncing.md asks of integrators)', company: 'big' },
  { name: 'update_job', request: 'PUT /api/v1/jobs?id=<random open job> (random valid partial body)', target: 0.3, company: 'big' },
  { name: 'patch_status', request: 'PATCH /api/v1/jobs?id=<own job per connection> (valid transition)', target: 0.3, company: 'big' },
  { name: 'mixed', request: '80% reads (get 40, list 15, filtered 15, deep 10), 20% writes (create 7, update 7, patch 6)', target: 0.25, company: 'big' },
]

/**
 * The growth pairs (issue 6): a scenario on the big company and its twin on
 * a small one. Besides their own runs between baselines, each pair runs
 * again in alternating slices (run.ts, `growthSlices`), which the growth
 * figure is taken from.
 */
export const GROWTH_PAIRS = [
  ['get_job', 'get_job_small'],
  ['list_filtered', 'list_filtered_small'],
] as const satisfies ReadonlyArray<readonly [ScenarioName, ScenarioName]>

/** Ids the request generators draw from (sampled from the data set before the run). */
export interface Pools {
  readIds: number[]
  linkedIds: number[]
  /** Jobs that are not Closed/Cancelled and that no PATCH touches. */
  updateIds: number[]
  locationIds: number[]
  /** Active technicians only: only they can be assigned. */
  technicianIds: number[]
  assetIds: number[]
}

export type PatchableStatus = 'Assigned' | 'In Progress' | 'On Hold'
export interface PatchJob {
  id: number
  status: PatchableStatus
}

/** Everything a load worker needs for one measurement. */
export interface LoadJob {
  scenario: ScenarioName
  origin: string
  apiKey: string
  durationS: number
  connections: number
  seed: number
  pools: Pools
  /** This measurement's own jobs for PATCH, split among its connections. */
  patchPool: PatchJob[]
  deepPage: number
  /** Seconds, for schedules in request bodies. */
  now: number
}

/** Valid next statuses inside the Assigned / In Progress / On Hold loop (all in the seed's table). */
const NEXT: Record<PatchableStatus, PatchableStatus[]> = {
  Assigned: ['In Progress', 'On Hold'],
  'In Progress': ['Assigned', 'On Hold'],
  'On Hold': ['In Progress', 'Assigned'],
}

const TITLES = ['AC unit repair', 'Thermostat replacement', 'Leaking kitchen tap', 'Annual boiler inspection', 'Breaker keeps tripping', 'Quarterly filter change']
const DESCRIPTIONS = ['Customer reports AC not cooling in main office', 'Parts ordered, waiting for delivery', 'Follow-up visit requested by the customer', null]
const PRIORITIES = ['Low', 'Medium', 'High', 'Urgent']
const RELATIONSHIPS = ['serviced', 'maintenance', 'inspected']

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19) + 'Z'
}

/** Per-connection state: autocannon deep-clones each request object per connection, so this object is each connection's own. */
interface ConnectionState {
  slot?: number
  /** The jobs this connection owns: no other connection PATCHes them, so their statuses are known here. */
  jobs?: PatchJob[]
  /** The PATCH sent and not yet answered (a lost answer makes that job's status unknown). */
  pending?: { job: PatchJob; to: PatchableStatus } | null
}

interface AutocannonRequest {
  method?: string
  path?: string
  headers?: Record<string, string>
  body?: string
  state?: ConnectionState
  setupRequest?: (req: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest
  onResponse?: (status: number, body: string, context: Record<string, unknown>) => void
}

/** Unexpected answers, kept for the report (the first few bodies of each status). */
export class Unexpected {
  readonly samples: Array<{ status: number; request: string; body: string }> = []
  record(status: number, request: string, body: string) {
    if (this.samples.length < 8) this.samples.push({ status, request, body: body.slice(0, 300) })
  }
}

export function buildRequests(job: LoadJob, random: Random, unexpected: Unexpected): AutocannonRequest[] {
  const { pools, connections } = job
  const json = { 'content-type': 'application/json' }

  const getJob = (req: AutocannonRequest): AutocannonRequest => {
    const ids = pools.linkedIds.length > 0 && random.chance(0.2) ? pools.linkedIds : pools.readIds
    req.method = 'GET'
    req.path = `/api/v1/jobs?id=${random.pick(ids)}`
    return req
  }
  const list = (path: string) => (req: AutocannonRequest): AutocannonRequest => {
    req.method = 'GET'
    req.path = path
    return req
  }
  const listDefault = list('/api/v1/jobs')
  const listFiltered = list('/api/v1/jobs?status=Pending&priority=High')
  const listDeep = list(`/api/v1/jobs?page=${job.deepPage}`)

  const schedule = (body: Record<string, unknown>) => {
    const start = job.now + random.between(1, 14) * 86_400 + random.between(8, 16) * 3600 - (job.now % 86_400)
    body.scheduled_start = iso(start)
    body.scheduled_end = iso(start + random.between(1, 4) * 3600)
  }
  const someAssets = () => Array.from({ length: random.between(1, 3) }, () => random.pick(pools.assetIds))

  const createJob = (req: AutocannonRequest): AutocannonRequest => {
    const body: Record<string, unknown> = {
      job_title: random.pick(TITLES),
      customer_location_id: random.pick(pools.locationIds),
      job_priority: random.pick(PRIORITIES),
    }
    const description = random.pick(DESCRIPTIONS)
    if (description) body.job_description = description
    if (random.chance(0.6) && pools.technicianIds.length) body.assigned_technician_id = random.pick(pools.technicianIds)
    if (random.chance(0.7)) schedule(body)
    if (random.chance(0.1) && pools.assetIds.length) body.asset_ids = someAssets()
    req.method = 'POST'
    req.path = '/api/v1/jobs'
    req.headers = { ...req.headers, ...json }
    req.body = JSON.stringify(body)
    return req
  }

  // Unique across runs too: a PostgreSQL data set keeps the keys of earlier runs.
  const keyPrefix = `bench-${process.pid}-${Date.now()}-`
  let keys = 0
  const createJobIdempotent = (req: AutocannonRequest): AutocannonRequest => {
    createJob(req)
    req.headers = { ...req.headers, 'idempotency-key': keyPrefix + keys++ }
    return req
  }

  const updateJob = (req: AutocannonRequest): AutocannonRequest => {
    const body: Record<string, unknown> = {}
    if (random.chance(0.5)) body.job_priority = random.pick(PRIORITIES)
    if (random.chance(0.3)) body.job_description = random.pick(DESCRIPTIONS)
    if (random.chance(0.2)) body.job_title = random.pick(TITLES)
    if (random.chance(0.3) && pools.technicianIds.length) body.assigned_technician_id = random.chance(0.1) ? null : random.pick(pools.technicianIds)
    // Both bounds together, so the rule "end after start" never meets a stored value.
    if (random.chance(0.2)) schedule(body)
    if (random.chance(0.1)) body.customer_location_id = random.pick(pools.locationIds)
    if (random.chance(0.15) && pools.assetIds.length) {
      body.asset_ids = random.chance(0.2) ? [] : someAssets()
      if (random.chance(0.3)) body.asset_relationship_type = random.pick(RELATIONSHIPS)
    }
    if (Object.keys(body).length === 0) body.job_priority = random.pick(PRIORITIES)
    req.method = 'PUT'
    req.path = `/api/v1/jobs?id=${random.pick(pools.updateIds)}`
    req.headers = { ...req.headers, ...json }
    req.body = JSON.stringify(body)
    return req
  }

  // PATCH: connection k owns patchPool[k], patchPool[k + connections], …
  let slots = 0
  const patchStatus = (req: AutocannonRequest, context: Record<string, unknown>): AutocannonRequest => {
    const state = req.state!
    context.state = state
    if (state.slot === undefined) {
      state.slot = slots++
      state.jobs = job.patchPool.filter((_, i) => i % connections === state.slot! % connections)
      if (state.jobs.length === 0) throw new Error(`patch pool too small: ${job.patchPool.length} jobs for ${connections} connections`)
    }
    if (state.pending) {
      // The previous PATCH got no answer (timeout): its job's status is unknown now; stop using it.
      const lost = state.pending.job
      state.jobs = state.jobs!.length > 1 ? state.jobs!.filter((j) => j !== lost) : state.jobs
      state.pending = null
    }
    // A random one of the connection's jobs (its share of the pool: ~57 of ~1,850 in the full data set).
    const target = random.pick(state.jobs!)
    const to = random.pick(NEXT[target.status])
    state.pending = { job: target, to }
    req.method = 'PATCH'
    req.path = `/api/v1/jobs?id=${target.id}`
    req.headers = { ...req.headers, ...json }
    req.body = JSON.stringify({ job_status: to })
    return req
  }
  const patchAnswered = (status: number, body: string, context: Record<string, unknown>) => {
    const state = context.state as ConnectionState | undefined
    const pending = state?.pending
    if (!state || !pending) return
    state.pending = null
    if (status >= 200 && status < 300) {
      pending.job.status = (JSON.parse(body) as { data: { job_status: PatchableStatus } }).data.job_status
    } else {
      unexpected.record(status, `PATCH ${pending.job.id} ${pending.job.status} -> ${pending.to}`, body)
    }
  }

  const recordUnexpected = (status: number, body: string, context: Record<string, unknown>) => {
    if (status < 200 || status >= 300) unexpected.record(status, String(context.request ?? ''), body)
  }
  const sentMethod = (context: Record<string, unknown>) => String(context.request ?? '').split(' ')[0]
  /** Wraps a generator so the request line is known when its answer is unexpected. */
  const single = (make: (req: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest): AutocannonRequest[] => [
    {
      state: {},
      setupRequest: (req, context) => {
        const built = make(req, context)
        context.request = `${built.method} ${built.path}`
        return built
      },
      onResponse: (status, body, context) => {
        if (sentMethod(context) === 'PATCH') patchAnswered(status, body, context)
        else recordUnexpected(status, body, context)
      },
    },
  ]

  switch (job.scenario) {
    case 'baseline':
      // The same per-request work in the load generator as get_job (a random id), so the ratio compares servers, not generators.
      return single((req) => {
        req.method = 'GET'
        req.path = `/baseline?id=${random.pick(pools.readIds)}`
        return req
      })
    case 'get_job':
    case 'get_job_small':
      return single(getJob)
    case 'list_default':
      return single(listDefault)
    case 'list_filtered':
    case 'list_filtered_small':
      return single(listFiltered)
    case 'list_deep':
      return single(listDeep)
    case 'create_job':
      return single(createJob)
    case 'create_job_idempotent':
      return single(createJobIdempotent)
    case 'update_job':
      return single(updateJob)
    case 'patch_status':
      return single(patchStatus)
    case 'mixed': {
      const kinds = { get: 40, list: 15, filtered: 15, deep: 10, create: 7, update: 7, patch: 6 } as const
      return single((req, context) => {
        switch (random.weighted(kinds)) {
          case 'get': return getJob(req)
          case 'list': return listDefault(req)
          case 'filtered': return listFiltered(req)
          case 'deep': return listDeep(req)
          case 'create': return createJob(req)
          case 'update': return updateJob(req)
          case 'patch': return patchStatus(req, context)
        }
      })
    }
  }
}
