/**
 * The benchmark's data set, written straight into the database.
 *
 * One company with 1,000,000 jobs and nine with 10,000 (a tenth with
 * `--quick`), with the customers, locations, technicians and assets around
 * them, all from one seeded PRNG. Companies and API keys go through the
 * product's own services (createCompany, createKey); everything else is bulk
 * inserted (see sinks.ts).
 *
 * The jobs are made to look like a real office's three years:
 * - created_at follows working hours and weekdays, and grows with the company;
 *   job ids increase with created_at, as the API hands them out;
 * - every job lives a lifecycle through the seed's transition table
 *   (Pending → Assigned → In Progress [→ On Hold → In Progress] → Completed →
 *   Invoiced → Paid → Closed, or Cancelled on the way, or stuck somewhere),
 *   each step at a plausible delay, and is cut at "now": so old jobs are
 *   Closed/Paid/Invoiced and recent ones Pending/Assigned/In Progress, with
 *   technicians, schedules and actual times set exactly when that lifecycle
 *   would have set them (nulls elsewhere), and one status-history row per step;
 * - a tenth of the jobs link one to three assets at the job's location.
 *
 *   node --import tsx bench/generate.ts [--quick] [--seed N] [--db postgres://…] [--force]
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { sql, type Kysely } from 'kysely'
import pg from 'pg'
import { connect } from '../src/db/connect.ts'
import { migrateToLatest } from '../src/db/migrator.ts'
import { rebuildJobCounts } from '../src/db/job-counts.ts'
import { createKey } from '../src/modules/api-keys/api-keys.service.ts'
import { SCOPES } from '../src/modules/api-keys/scopes.ts'
import { createCompany } from '../src/modules/companies/companies.service.ts'
import { canTransition, type JobStatus } from '../src/modules/jobs/status.ts'
import { DATA_DIR, GENERATOR_VERSION, META_TABLE, SIZES, sqliteDataFile, totalJobs, type BenchMeta, type CompanyShape, type DataSize, type MetaCompany, type SizeName } from './dataset.ts'
import { Random } from './random.ts'
import { PostgresSink, SqliteSink, type Sink } from './sinks.ts'
import * as words from './vocabulary.ts'

const HOUR = 3600
const DAY = 86_400
const YEAR = 365 * DAY
/** How far back the jobs go. */
const SPAN = 3 * YEAR
/**
 * "Now" of the data set, where every job's lifecycle is cut: a fixed
 * moment, so that the same seed gives the same data whenever it is
 * generated (it was the hour of generation: a set made at night had 16 jobs
 * In Progress of 1,090,000, one made in office hours thousands), and a
 * Wednesday afternoon of working hours (08:00–17:00 UTC), when an office has
 * work in every status.
 */
const DATA_NOW = Date.UTC(2026, 10, 25, 15) / 1000
/** Effectively unlimited, so the load generator never meets a 429. */
const BENCH_RATE_LIMIT = 100_000_000

const BIG_COMPANY_NAME = 'Atlas Facility Services'
const SMALL_COMPANY_NAMES = [
  'Brightline Plumbing', 'Cedar Electric', 'Polar Air Mechanical', 'Hometown HVAC', 'Keystone Boiler Works',
  'Riverbend Property Care', 'Summit Refrigeration', 'Lakeshore Doors & Docks', 'Prairie Facility Repair',
]

// ------------------------------------------------------------------ helpers

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0')
}

/** Places a time inside working hours (08:00–17:00 UTC, Monday–Friday) on or after `t`. */
function workingTime(t: number, random: Random): number {
  let day = Math.floor(t / DAY) * DAY
  const hour = random.between(8, 16)
  let candidate = day + hour * HOUR + random.pick([0, 0, 15, 30, 45]) * 60
  if (candidate < t) {
    day += DAY
    candidate = day + hour * HOUR
  }
  // 1970-01-01 was a Thursday: weekday 0 = Thursday … 2 = Saturday, 3 = Sunday.
  const weekday = Math.floor(candidate / DAY) % 7
  if (weekday === 2) candidate += 2 * DAY
  else if (weekday === 3) candidate += DAY
  return candidate
}

/** Relative amount of work created in the hour starting at `t`: office hours, weekdays, and a company growing by two thirds over the span. */
function hourWeight(t: number, start: number): number {
  const hour = Math.floor(t / HOUR) % 24
  const weekday = Math.floor(t / DAY) % 7
  const dayFactor = weekday === 2 ? 0.35 : weekday === 3 ? 0.15 : 1
  const hourFactor = hour >= 7 && hour <= 17 ? 1 : hour === 6 || (hour >= 18 && hour <= 20) ? 0.3 : 0.05
  return dayFactor * hourFactor * (0.6 + (0.4 * (t - start)) / SPAN)
}

/**
 * `count` creation times in [start, now), sorted, distributed like
 * hourWeight: sorted uniforms in "work time" (cumulative weight), mapped back
 * to seconds through the hourly cumulative weights.
 */
function creationTimes(count: number, start: number, now: number, random: Random): Float64Array {
  const hours = Math.ceil((now - start) / HOUR)
  const weights = new Float64Array(hours)
  const cumulative = new Float64Array(hours + 1)
  for (let h = 0; h < hours; h++) {
    weights[h] = hourWeight(start + h * HOUR, start)
    cumulative[h + 1] = cumulative[h]! + weights[h]!
  }
  const gaps = new Float64Array(count + 1)
  let sum = 0
  for (let i = 0; i <= count; i++) sum += gaps[i] = random.exp(1)
  const times = new Float64Array(count)
  const total = cumulative[hours]!
  let acc = 0
  let h = 0
  for (let i = 0; i < count; i++) {
    acc += gaps[i]!
    const u = (acc / sum) * total
    while (h < hours - 1 && cumulative[h + 1]! <= u) h++
    const within = (u - cumulative[h]!) / weights[h]!
    times[i] = Math.min(now - 1, Math.floor(start + (h + Math.min(within, 0.9999)) * HOUR))
  }
  return times
}

// ------------------------------------------------------------------ records around jobs

interface CompanyRecords {
  companyId: number
  keyId: number
  shape: CompanyShape
  /** Location ids and creation times, oldest first. */
  locationIds: number[]
  locationCreated: number[]
  /** How many locations exist at the current job's time (jobs come in time order). */
  locationsKnown: number
  technicianIds: number[]
  technicianHired: number[]
  technicianLeft: number[]
  assetIds: number[]
  assetCreated: number[]
  assetLocation: Array<number | null>
  assetsAtLocation: Map<number, number[]>
}

interface IdCounters {
  customer: number
  location: number
  technician: number
  asset: number
}

function personName(random: Random): string {
  return `${random.pick(words.FIRST_NAMES)} ${random.pick(words.LAST_NAMES)}`
}

function makeRecords(sink: Sink, random: Random, companyId: number, keyId: number, shape: CompanyShape, ids: IdCounters, start: number, now: number): CompanyRecords {
  const domain = `c${companyId}.example`

  // Locations: 40% were imported from the previous system before the
  // period began, the rest were added along the way.
  const created: number[] = []
  for (let i = 0; i < shape.locations; i++) {
    created.push(random.chance(0.4) ? start - random.int(2 * YEAR) : start + random.int(now - start - DAY))
  }
  created.sort((a, b) => a - b)

  // Every customer has at least one location; some (chains, property
  // managers) have many.
  const customerCount = Math.min(shape.customers, shape.locations)
  const customerOf: number[] = created.map((_, i) => (i < customerCount ? i : Math.floor(customerCount * random.next() ** 2)))
  const customerIds: number[] = []
  const customerBusiness: boolean[] = []
  const customerNames: string[] = []
  for (let c = 0; c < customerCount; c++) {
    const id = ++ids.customer
    customerIds.push(id)
    const business = random.chance(0.55)
    customerBusiness.push(business)
    const name = business
      ? `${random.pick(words.BUSINESS_FIRST)} ${random.pick(words.BUSINESS_SECOND)}${random.pick(words.BUSINESS_SUFFIX)}`
      : personName(random)
    customerNames.push(name)
    const createdAt = created[c]! - random.int(3 * DAY)
    const updatedAt = random.chance(0.2) ? Math.min(now, createdAt + random.int(now - createdAt)) : createdAt
    const [city, region] = random.pick(words.CITIES)
    sink.add('customers', [
      id, companyId, name, name.toLowerCase(),
      random.chance(0.8) ? `${business ? 'facilities' : name.split(' ')[0]!.toLowerCase()}@${name.split(' ')[0]!.toLowerCase()}.example` : null,
      random.chance(0.7) ? `+1 555 ${pad(random.int(10_000), 4)}` : null,
      random.chance(0.6) ? `${random.between(1, 9999)} ${random.pick(words.STREETS)}\n${city}, ${region}` : null,
      random.chance(0.1) ? 'Net 30 terms; send invoices to accounts payable' : null,
      createdAt, updatedAt,
    ])
  }

  const locationIds: number[] = []
  const sitesUsed = new Map<number, number>()
  for (let i = 0; i < shape.locations; i++) {
    const id = ++ids.location
    locationIds.push(id)
    const c = customerOf[i]!
    const n = (sitesUsed.get(c) ?? 0) + 1
    sitesUsed.set(c, n)
    const site = customerBusiness[c] ? random.pick(words.BUSINESS_SITES) : random.pick(words.HOME_SITES)
    const name = n > 1 && customerBusiness[c] ? `${site} (${n})` : site
    const [city, region, lat, lon] = random.pick(words.CITIES)
    const hasGeo = random.chance(0.85)
    const updatedAt = random.chance(0.15) ? Math.min(now, created[i]! + random.int(now - created[i]!)) : created[i]!
    sink.add('customer_locations', [
      id, companyId, customerIds[c]!, name, name.toLowerCase(),
      `${random.between(1, 9999)} ${random.pick(words.STREETS)}`,
      random.chance(0.15) ? random.pick(['Suite 200', 'Unit 3B', 'Floor 2', 'Rear entrance']) : null,
      city, region, pad(random.between(40_000, 63_999), 5), 'US',
      hasGeo ? Math.round((lat + (random.next() - 0.5) * 0.2) * 1e6) / 1e6 : null,
      hasGeo ? Math.round((lon + (random.next() - 0.5) * 0.2) * 1e6) / 1e6 : null,
      created[i]!, updatedAt,
    ])
  }

  // Technicians: the first one has been there all along; about half the
  // rest were there when the period began, the others were hired during
  // it, and some left (Inactive) after a while.
  const technicianIds: number[] = []
  const technicianHired: number[] = []
  const technicianLeft: number[] = []
  for (let i = 0; i < shape.technicians; i++) {
    const id = ++ids.technician
    const hired = i === 0 || random.chance(0.55) ? start - random.int(5 * YEAR) : start + random.int(now - start - 30 * DAY)
    let left = Number.POSITIVE_INFINITY
    if (i > 0 && random.chance(0.12)) {
      const candidate = Math.max(hired, start) + random.between(90, 900) * DAY
      if (candidate < now - 7 * DAY) left = candidate
    }
    technicianIds.push(id)
    technicianHired.push(hired)
    technicianLeft.push(left)
    const name = personName(random)
    const [first, last] = name.toLowerCase().split(' ')
    sink.add('technicians', [
      id, companyId, name, name.toLowerCase(),
      random.chance(0.9) ? `${first}.${last}${i}@${domain}` : null,
      random.chance(0.7) ? `+1 555 ${pad(random.int(10_000), 4)}` : null,
      Number.isFinite(left) ? 'Inactive' : 'Active',
      hired, Number.isFinite(left) ? left : hired,
    ])
  }

  // Assets: most were recorded when the location came in; a few are retired
  // or out of service, one in a hundred was deleted (still linked from old jobs).
  const assetIds: number[] = []
  const assetCreated: number[] = []
  const assetLocation: Array<number | null> = []
  const assetsAtLocation = new Map<number, number[]>()
  for (let i = 0; i < shape.assets; i++) {
    const id = ++ids.asset
    const kind = random.pick(words.ASSET_TYPES)
    const locationIndex = random.chance(0.9) ? random.int(shape.locations) : -1
    const location = locationIndex >= 0 ? locationIds[locationIndex]! : null
    const base = locationIndex >= 0 ? Math.max(created[locationIndex]!, start - 2 * YEAR) : start - random.int(YEAR)
    const createdAt = random.chance(0.7) ? base : base + random.int(Math.max(1, now - base - DAY))
    const status = random.weighted({ Active: 85, 'In Maintenance': 5, 'Out of Service': 3, Retired: 7 })
    const deletedAt = random.chance(0.01) ? createdAt + random.int(Math.max(1, now - createdAt)) : null
    const name = `${random.pick(kind.names)} #${random.between(1, 40)}`
    assetIds.push(id)
    assetCreated.push(createdAt)
    assetLocation.push(location)
    if (location !== null) {
      const list = assetsAtLocation.get(location) ?? []
      list.push(i)
      assetsAtLocation.set(location, list)
    }
    const maker = random.pick(kind.makers)
    sink.add('assets', [
      id, companyId, `${kind.prefix}-${pad(i + 1, 5)}`, name, name.toLowerCase(), kind.type, status, location,
      random.chance(0.8) ? `${maker.slice(0, 2).toUpperCase()}${pad(random.int(1e8), 8)}` : null,
      maker,
      random.chance(0.7) ? random.pick(kind.models) : null,
      random.chance(0.7) ? createdAt - random.int(10 * YEAR) : null,
      createdAt, deletedAt ?? createdAt, deletedAt,
    ])
  }

  return {
    companyId, keyId, shape, locationIds, locationCreated: created, locationsKnown: 0,
    technicianIds, technicianHired, technicianLeft, assetIds, assetCreated, assetLocation, assetsAtLocation,
  }
}

// ------------------------------------------------------------------ jobs

/** A technician working for the company at `t` (hired, not yet left). */
function technicianAt(records: CompanyRecords, t: number, random: Random): number {
  const n = records.technicianIds.length
  for (let attempt = 0; attempt < 30; attempt++) {
    const i = random.int(n)
    if (records.technicianHired[i]! <= t && t < records.technicianLeft[i]!) return records.technicianIds[i]!
  }
  return records.technicianIds[0]! // always employed
}

/** A location that exists at `t`; older locations (long-time customers) get more work. */
function locationAt(records: CompanyRecords, t: number, random: Random): number {
  const created = records.locationCreated
  while (records.locationsKnown < created.length && created[records.locationsKnown]! <= t) records.locationsKnown++
  const known = Math.max(1, records.locationsKnown)
  return records.locationIds[Math.floor(known * random.next() ** 2)]!
}

type Step = [JobStatus, number]

/**
 * The whole life a job will have (times may lie in the future), through the
 * seed's transition table. The caller keeps the steps up to "now".
 */
function lifecycle(created: number, priority: string, random: Random): { steps: Step[]; preassigned: boolean; scheduledAtCreation: boolean } {
  const steps: Step[] = [['Pending', created]]
  const preassigned = random.chance(0.25)
  const scheduledAtCreation = preassigned || random.chance(0.45)
  const fate = random.next()
  if (fate < 0.004) return { steps, preassigned, scheduledAtCreation } // forgotten: Pending for ever
  if (fate < 0.034) {
    steps.push(['Cancelled', created + Math.round(random.exp(2 * DAY)) + 60])
    return { steps, preassigned, scheduledAtCreation }
  }
  let t = created + (preassigned ? random.between(60, 600) : Math.round(random.exp(6 * HOUR)) + 60)
  steps.push(['Assigned', t])
  if (fate < 0.059) {
    steps.push(['Cancelled', t + Math.round(random.exp(DAY)) + 60])
    return { steps, preassigned, scheduledAtCreation }
  }
  // Work starts at the scheduled time (see scheduleFor), give or take.
  const lead = priority === 'Urgent' ? random.between(1, 8) * HOUR : priority === 'High' ? random.between(4, 48) * HOUR : random.between(1, 10) * DAY
  t = Math.max(t + 60, workingTime(t + lead, random) + random.between(-1800, 1800))
  steps.push(['In Progress', t])
  if (random.chance(0.12)) {
    // Waiting for parts or access.
    t += random.between(30, 120) * 60
    steps.push(['On Hold', t])
    t += Math.round(random.exp(3 * DAY)) + HOUR
    steps.push(['In Progress', t])
  }
  if (fate < 0.074) {
    steps.push(['Cancelled', t + random.between(1, 3) * HOUR])
    return { steps, preassigned, scheduledAtCreation }
  }
  t += random.between(30, 240) * 60
  steps.push(['Completed', t])
  if (fate > 0.995) return { steps, preassigned, scheduledAtCreation } // never invoiced
  t += Math.round(random.exp(1.5 * DAY)) + HOUR
  steps.push(['Invoiced', t])
  if (fate > 0.985) return { steps, preassigned, scheduledAtCreation } // never paid
  t += random.between(7, 45) * DAY + random.int(DAY)
  steps.push(['Paid', t])
  if (fate > 0.975) return { steps, preassigned, scheduledAtCreation } // never closed
  t += Math.round(random.exp(2 * DAY)) + 60
  steps.push(['Closed', t])
  return { steps, preassigned, scheduledAtCreation }
}

interface JobTotals {
  jobs: number
  job_status_changes: number
  job_assets: number
  byStatus: Record<string, number>
}

function makeJobs(sink: Sink, random: Random, companies: CompanyRecords[], jobCounts: number[], start: number, now: number): AsyncGenerator<number, JobTotals> {
  return (async function* () {
    const total = jobCounts.reduce((a, b) => a + b, 0)
    const created = creationTimes(total, start, now, random)
    // Which company each job (in creation order) belongs to: exact counts, shuffled.
    const owner = new Uint8Array(total)
    let k = 0
    jobCounts.forEach((count, c) => {
      owner.fill(c, k, k + count)
      k += count
    })
    random.shuffle(owner)

    const totals: JobTotals = { jobs: total, job_status_changes: 0, job_assets: 0, byStatus: {} }
    let changeId = 0
    for (let i = 0; i < total; i++) {
      const jobId = i + 1
      const records = companies[owner[i]!]!
      const companyId = records.companyId
      const t0 = created[i]!
      const priority = random.weighted(words.PRIORITY_WEIGHTS)
      const { steps, preassigned, scheduledAtCreation } = lifecycle(t0, priority, random)

      // What has happened by now.
      let kept = 1
      while (kept < steps.length && steps[kept]![1] <= now) kept++
      const status = steps[kept - 1]![0]
      const at = (s: JobStatus) => steps.slice(0, kept).find(([name]) => name === s)?.[1] ?? null
      const assignedAt = at('Assigned')

      // Links first: a job about an asset happens at that asset's location.
      let location = locationAt(records, t0, random)
      const linked: number[] = []
      if (random.chance(0.1) && records.assetIds.length > 0) {
        for (let attempt = 0; attempt < 5 && linked.length === 0; attempt++) {
          const a = random.int(records.assetIds.length)
          if (records.assetCreated[a]! > t0) continue
          linked.push(a)
          const assetLocation = records.assetLocation[a]
          if (assetLocation != null) {
            location = assetLocation
            for (const other of records.assetsAtLocation.get(assetLocation) ?? []) {
              if (linked.length >= 3) break
              if (other !== a && records.assetCreated[other]! <= t0 && random.chance(0.3)) linked.push(other)
            }
          }
        }
      }

      const technician = preassigned || assignedAt !== null ? technicianAt(records, preassigned ? t0 : assignedAt!, random) : null
      // Scheduled when created (some), or when assigned; the visit lasts 1–4 hours.
      let scheduledStart: number | null = null
      let scheduledEnd: number | null = null
      if (scheduledAtCreation || assignedAt !== null) {
        const inProgress = steps.find(([s]) => s === 'In Progress')?.[1]
        scheduledStart = inProgress !== undefined ? Math.floor(inProgress / 900) * 900 : workingTime(t0 + random.between(1, 10) * DAY, random)
        scheduledEnd = scheduledStart + random.between(1, 4) * HOUR
      }
      const lastChange = steps[kept - 1]![1]
      // Some open jobs were edited (notes, schedule) after their last status change.
      const editable = status !== 'Closed' && status !== 'Cancelled'
      const edited = editable && random.chance(0.15) ? Math.min(now, lastChange + random.int(2 * DAY)) : lastChange
      const keyId = random.chance(0.35) ? records.keyId : null // the rest came from the web dashboard

      const description = random.chance(0.65)
        ? random.chance(0.25) ? `${random.pick(words.JOB_DESCRIPTIONS)}. ${random.pick(words.JOB_DESCRIPTIONS)}` : random.pick(words.JOB_DESCRIPTIONS)
        : null
      sink.add('jobs', [
        jobId, companyId, random.pick(words.JOB_TITLES), description, status, priority, technician, location,
        scheduledStart, scheduledEnd, at('In Progress'), at('Completed'), t0, edited, kept + (edited !== lastChange ? 1 : 0),
      ])
      let from: JobStatus | null = null
      for (let s = 0; s < kept; s++) {
        const [to, changedAt] = steps[s]!
        if (from !== null && !canTransition(from, to)) throw new Error(`generator bug: ${from} → ${to} is not in the transition table`)
        sink.add('job_status_changes', [++changeId, jobId, companyId, from, to, changedAt, keyId])
        from = to
      }
      for (const a of linked) {
        sink.add('job_assets', [jobId, records.assetIds[a]!, companyId, random.weighted(words.RELATIONSHIP_WEIGHTS), null, t0 + random.int(HOUR)])
      }
      totals.job_status_changes += kept
      totals.job_assets += linked.length
      totals.byStatus[status] = (totals.byStatus[status] ?? 0) + 1
      if (sink.wantsFlush) await sink.flush()
      if (jobId % 100_000 === 0) yield jobId
    }
    return totals
  })()
}

// ------------------------------------------------------------------ the whole data set

export interface GenerateOptions {
  size: DataSize
  seed: number
  /** sqlite:PATH or postgres://… (with the schema in its search_path). */
  url: string
  /** For PostgreSQL: the schema (already created, empty). */
  pgSchema?: string
  log?: (line: string) => void
}

/** Writes the data set into an empty, not yet migrated database; returns its metadata (also stored in bench_meta). */
export async function generateDataSet(options: GenerateOptions): Promise<BenchMeta> {
  const { size, seed, url } = options
  const log = options.log ?? (() => {})
  const began = Date.now()
  const random = new Random(seed)
  const now = DATA_NOW
  const start = now - SPAN

  // Companies and keys through the product's services, so they are exactly
  // what `fsm company create` / `fsm key create` make.
  const handle = connect(url)
  const companies: MetaCompany[] = []
  try {
    await migrateToLatest(handle.db)
    const shapes = [size.big, ...Array.from({ length: size.smallCompanies }, () => size.small)]
    for (const [i, shape] of shapes.entries()) {
      const name = i === 0 ? BIG_COMPANY_NAME : SMALL_COMPANY_NAMES[(i - 1) % SMALL_COMPANY_NAMES.length]!
      const company = await createCompany(handle.db, { name, plan: 'enterprise', modules: ['assets'] })
      const key = await createKey(handle.db, { companyId: company.company_id, scopes: [...SCOPES], name: 'Benchmark', rateLimitPerMinute: BENCH_RATE_LIMIT })
      companies.push({ company_id: company.company_id, company_name: name, jobs: shape.jobs, key_id: key.keyId, api_key: key.apiKey })
    }
  } finally {
    await handle.close()
  }

  const sink: Sink = url.startsWith('sqlite:') ? new SqliteSink(url.slice('sqlite:'.length)) : await PostgresSink.open(url, options.pgSchema!)
  const ids: IdCounters = { customer: 0, location: 0, technician: 0, asset: 0 }
  const shapes = [size.big, ...Array.from({ length: size.smallCompanies }, () => size.small)]
  const records = companies.map((c, i) => makeRecords(sink, random, c.company_id, c.key_id, shapes[i]!, ids, start, now))
  await sink.flush()
  log(`records: ${ids.customer} customers, ${ids.location} locations, ${ids.technician} technicians, ${ids.asset} assets (${((Date.now() - began) / 1000).toFixed(1)} s)`)

  const jobs = makeJobs(sink, random, records, shapes.map((s) => s.jobs), start, now)
  let step = await jobs.next()
  while (!step.done) {
    log(`jobs: ${step.value.toLocaleString('en-US')} of ${totalJobs(size).toLocaleString('en-US')} (${((Date.now() - began) / 1000).toFixed(1)} s)`)
    step = await jobs.next()
  }
  const totals = step.value
  log('building indexes')
  await sink.finish()

  const meta: BenchMeta = {
    generator_version: GENERATOR_VERSION,
    size: size.name,
    seed,
    now,
    generated_at: new Date().toISOString(),
    generation_seconds: 0,
    companies,
    counts: {
      companies: companies.length,
      customers: ids.customer,
      customer_locations: ids.location,
      technicians: ids.technician,
      assets: ids.asset,
      jobs: totals.jobs,
      job_status_changes: totals.job_status_changes,
      job_assets: totals.job_assets,
      ...Object.fromEntries(Object.entries(totals.byStatus).map(([status, n]) => [`jobs ${status}`, n])),
    },
  }

  // Derived data that the migrations built while the tables were empty
  // (per-status counts) must be rebuilt from the loaded jobs.
  const again = connect(url)
  try {
    await rebuildJobCounts(again.db)
    meta.generation_seconds = Math.round((Date.now() - began) / 100) / 10
    await writeMeta(again.db, meta)
  } finally {
    await again.close()
  }
  log(`done in ${meta.generation_seconds} s`)
  return meta
}

async function writeMeta(db: Kysely<any>, meta: BenchMeta): Promise<void> {
  await sql`create table if not exists ${sql.table(META_TABLE)} (name text primary key, value text not null)`.execute(db)
  await sql`delete from ${sql.table(META_TABLE)}`.execute(db)
  await sql`insert into ${sql.table(META_TABLE)} (name, value) values ('meta', ${JSON.stringify(meta)})`.execute(db)
}

/** The metadata of an existing data set, or undefined if the database holds none. */
export async function readMeta(db: Kysely<any>): Promise<BenchMeta | undefined> {
  try {
    const { rows } = await sql<{ value: string }>`select value from ${sql.table(META_TABLE)} where name = 'meta'`.execute(db)
    return rows[0] ? (JSON.parse(rows[0].value) as BenchMeta) : undefined
  } catch {
    return undefined
  }
}

// ------------------------------------------------------------------ where the data set lives

export interface DataSetLocation {
  /** DATABASE_URL for the generator and readers. */
  url: string
  dialect: 'sqlite' | 'postgres'
  pgSchema?: string
}

/**
 * The cached SQLite file for (size, seed), generated first if missing. It is
 * written under a temporary name and renamed when complete, so an interrupted
 * generation never leaves a file that looks finished.
 */
export async function ensureSqliteDataSet(size: DataSize, seed: number, force: boolean, log: (line: string) => void): Promise<{ file: string; meta: BenchMeta }> {
  const file = sqliteDataFile(size, seed)
  mkdirSync(DATA_DIR, { recursive: true })
  if (force) rmSync(file, { force: true })
  if (!existsSync(file)) {
    const partial = `${file}.partial`
    for (const suffix of ['', '-wal', '-shm']) rmSync(partial + suffix, { force: true })
    log(`generating ${size.name} data set (seed ${seed}) into ${file}`)
    await generateDataSet({ size, seed, url: `sqlite:${partial}`, log })
    renameSync(partial, file)
  }
  const handle = connect(`sqlite:${file}`)
  try {
    const meta = await readMeta(handle.db)
    if (!meta) throw new Error(`${file} has no benchmark metadata; delete it to regenerate`)
    return { file, meta }
  } finally {
    await handle.close()
  }
}

/** Splits a PostgreSQL URL into the schema to use (from `options=-c search_path=…`, else `bench`) and a URL that selects it. */
export function postgresTarget(url: string): { url: string; schema: string } {
  const parsed = new URL(url)
  const options = parsed.searchParams.get('options') ?? ''
  const match = /search_path\s*=\s*"?([A-Za-z_][A-Za-z0-9_]*)"?/.exec(options)
  if (match) return { url, schema: match[1]! }
  parsed.searchParams.set('options', `${options ? `${options} ` : ''}-c search_path=bench`)
  return { url: parsed.toString(), schema: 'bench' }
}

/**
 * The data set in a PostgreSQL schema: generated when the schema is empty,
 * reused when it holds a bench data set of the same size, seed and
 * generator version, refused otherwise (never write into someone's data).
 */
export async function ensurePostgresDataSet(url: string, size: DataSize, seed: number, log: (line: string) => void): Promise<{ url: string; schema: string; meta: BenchMeta }> {
  const target = postgresTarget(url)
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  let tables: number
  try {
    await admin.query(`create schema if not exists "${target.schema}"`)
    const { rows } = await admin.query<{ n: string }>('select count(*) as n from information_schema.tables where table_schema = $1', [target.schema])
    tables = Number(rows[0]!.n)
  } finally {
    await admin.end()
  }
  if (tables > 0) {
    const handle = connect(target.url)
    try {
      const meta = await readMeta(handle.db)
      if (!meta) throw new Error(`schema "${target.schema}" is not empty and holds no benchmark data set; refusing to write into it (choose another schema with ?options=-c%20search_path%3DNAME)`)
      if (meta.size !== size.name || meta.seed !== seed || meta.generator_version !== GENERATOR_VERSION) {
        throw new Error(`schema "${target.schema}" holds a ${meta.size} data set (seed ${meta.seed}, generator v${meta.generator_version}), not ${size.name} (seed ${seed}, v${GENERATOR_VERSION}); drop it or choose another schema`)
      }
      await migrateToLatest(handle.db)
      return { ...target, meta }
    } finally {
      await handle.close()
    }
  }
  log(`generating ${size.name} data set (seed ${seed}) into PostgreSQL schema "${target.schema}"`)
  const meta = await generateDataSet({ size, seed, url: target.url, pgSchema: target.schema, log })
  return { ...target, meta }
}

// ------------------------------------------------------------------ command line

async function main() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      seed: { type: 'string', default: '42' },
      db: { type: 'string' },
      force: { type: 'boolean', default: false },
    },
  })
  const size = SIZES[(values.quick ? 'quick' : 'full') as SizeName]
  const seed = Number(values.seed)
  const log = (line: string) => console.log(line)
  if (values.db && /^postgres(ql)?:\/\//.test(values.db)) {
    const { schema, meta } = await ensurePostgresDataSet(values.db, size, seed, log)
    console.log(`schema "${schema}":`, meta.counts)
  } else {
    const { file, meta } = await ensureSqliteDataSet(size, seed, values.force, log)
    console.log(`${file}:`, meta.counts)
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    console.error(error)
    process.exit(1)
  })
}
