/**
 * Jobs SQL (Kysely only). Every function takes the company id: a query
 * without a tenant cannot be written by accident (DESIGN.md habit 4).
 */
import { setImmediate } from 'node:timers/promises'
import { sql, type Kysely, type QueryCreator, type RawBuilder } from 'kysely'
import type { Database, JobRow, NewJob } from '../../db/types.ts'
import { isSqlite } from '../../db/dialect.ts'
import { byShape, prepared, preparedWrite } from '../../db/prepared.ts'
import type { JobSort } from './jobs.schemas.ts'
import { LOCKED_STATUSES, type JobStatus } from './status.ts'

type Db = Kysely<Database>

export interface JobFilters {
  statuses?: string[]
  priority?: string
  assignedTechnicianId?: number
  customerLocationId?: number
  customerId?: number
  createdFrom?: number
  createdTo?: number
  updatedFrom?: number
}

/** A job joined with the live names it shows (API.md §4: names are never copied); the caller scopes it to a company. */
function unscopedJobView(db: Db) {
  return db
    .selectFrom('jobs as j')
    .innerJoin('customer_locations as l', 'l.customer_location_id', 'j.customer_location_id')
    .innerJoin('customers as c', 'c.customer_id', 'l.customer_id')
    .leftJoin('technicians as t', 't.technician_id', 'j.assigned_technician_id')
    .select([
      'j.job_id', 'j.job_title', 'j.job_description', 'j.job_status', 'j.job_priority',
      'j.assigned_technician_id', 't.technician_name as assigned_technician_name',
      'j.customer_location_id', 'l.customer_location_name', 'l.customer_id', 'c.customer_name',
      'j.scheduled_start', 'j.scheduled_end', 'j.actual_start', 'j.actual_end', 'j.created_at', 'j.updated_at', 'j.row_version',
    ])
}

function jobView(db: Db, companyId: number) {
  return unscopedJobView(db).where('j.company_id', '=', companyId)
}

export type JobViewRow = NonNullable<Awaited<ReturnType<ReturnType<typeof jobView>['executeTakeFirst']>>>

/** One job as GET shows it, and whether it has asset links at all (most jobs have none: no second query for them). */
function jobViewWithLinks(db: Db, companyId: number, jobId: number) {
  return jobView(db, companyId)
    .where('j.job_id', '=', jobId)
    .select((eb) => eb.exists(eb.selectFrom('job_assets as x').select('x.job_id').whereRef('x.job_id', '=', 'j.job_id')).as('has_asset_links'))
}

export type JobViewWithLinks = JobViewRow & { has_asset_links: unknown }

const jobViewById = prepared((db, companyId: number, jobId: number) => jobViewWithLinks(db, companyId, jobId))

export async function findJobView(db: Db, companyId: number, jobId: number): Promise<JobViewWithLinks | undefined> {
  return (await jobViewById(db, companyId, jobId))[0]
}

/**
 * PostgreSQL: the job view with its row locked (`FOR UPDATE OF j`), and the
 * row's version as the statement's snapshot saw it before the lock.
 */
const lockedJobViewById = prepared((db, companyId: number, jobId: number) =>
  jobViewWithLinks(db, companyId, jobId)
    .select((eb) => eb.selectFrom('jobs as s').select('s.row_version').whereRef('s.job_id', '=', 'j.job_id').as('row_version_before_lock'))
    .forUpdate('j'),
)

const lockJobRow = prepared((db, companyId: number, jobId: number) =>
  db.selectFrom('jobs').select('job_id').where('company_id', '=', companyId).where('job_id', '=', jobId).forUpdate(),
)

/**
 * A job as GET shows it, read for a write: its row stays locked until the
 * transaction ends. A write then answers its new ETag from this and what
 * the write returns, without reading the job again. SQLite runs one write
 * transaction at a time (BEGIN IMMEDIATE): a plain read.
 *
 * On PostgreSQL one statement reads the view and locks the job's row. If
 * it had to wait for the lock behind another write to the job, what it
 * returns is wrong: PostgreSQL rechecks the job's new row against the rows
 * it joined before the wait, so a job moved to another location drops out
 * (a 404 for a job that exists) and one given another technician comes
 * back without the technician's name, and the asset links are as the
 * statement's snapshot, taken before the wait, saw them. Its own versions
 * tell: the locked row's is the newest, the one read beside it the
 * snapshot's. When they differ, or the job was not found, the view is read
 * again by a statement of its own, which sees every write committed
 * before it, with the row locked (a job that is not found is locked
 * first, to tell one that does not exist from one that dropped out).
 */
export async function findJobViewForUpdate(db: Db, companyId: number, jobId: number): Promise<JobViewWithLinks | undefined> {
  if (isSqlite(db)) return (await jobViewById(db, companyId, jobId))[0]
  const [locked] = await lockedJobViewById(db, companyId, jobId)
  if (locked) {
    const { row_version_before_lock: before, ...view } = locked
    if (Number(before) === Number(view.row_version)) return view
  } else if ((await lockJobRow(db, companyId, jobId)).length === 0) {
    return undefined
  }
  return (await jobViewById(db, companyId, jobId))[0]
}

const jobById = prepared((db, companyId: number, jobId: number) => db.selectFrom('jobs').selectAll().where('company_id', '=', companyId).where('job_id', '=', jobId))

export async function findJob(db: Db, companyId: number, jobId: number): Promise<JobRow | undefined> {
  return (await jobById(db, companyId, jobId))[0]
}

/** Status changes of a job, oldest first, with the name of the key that made each. */
export async function findHistory(db: Db, companyId: number, jobId: number) {
  return db
    .selectFrom('job_status_changes as h')
    .leftJoin('api_keys as k', 'k.key_id', 'h.key_id')
    .select(['h.from_status', 'h.to_status', 'h.changed_at', 'h.key_id', 'k.key_name'])
    .where('h.company_id', '=', companyId)
    .where('h.job_id', '=', jobId)
    .orderBy('h.change_id')
    .execute()
}

/**
 * Which index SQLite walks for a list or a count, where the planner's guess
 * is known to go wrong. Its statistics are sampled (`analysis_limit`, see
 * db/connect.ts) and say nothing about one company's data, so on the
 * benchmark's data set it picked the updated_at index for a technician's
 * 715 jobs updated since 2020 and read a million rows of the table to find
 * them (570 ms, on the event loop), and walked the company's created_at
 * index for a customer's 1,713 jobs (85 ms for page 6). `estimateWalk`
 * counts what each index would read and names one; every other condition
 * is written `+column`: the same condition, which no index serves.
 *   - `planner`: SQLite chooses (nothing to choose; or PostgreSQL, whose
 *     statistics do know);
 *   - `status`, `priority`: that index;
 *   - `reference`: the technician's, location's or customer's locations' index;
 *   - `created`, `updated`, `scheduled`: that date's index, over the
 *     filter's range of it or in the list's order.
 */
export type IndexWalk = 'planner' | 'status' | 'priority' | 'reference' | DateIndex
type DateIndex = 'created' | 'updated' | 'scheduled'

/** Whether `walk` leads with another index than `index`: `index`'s conditions are then written `+column`. */
function hides(walk: IndexWalk, index: Exclude<IndexWalk, 'planner'>): boolean {
  return walk !== 'planner' && walk !== index
}

function sortIndexOf(sort: JobSort): DateIndex {
  const { column } = sortParts(sort)
  return column === 'created_at' ? 'created' : column === 'updated_at' ? 'updated' : 'scheduled'
}

/** A column as a condition or an order names it, or as `+column`, which no index serves, when `hidden`. */
function column(name: string, hidden: boolean) {
  return hidden ? sql.raw(`+${name}`) : sql.ref(name)
}

/**
 * `replaced`: the filter bounds a seek's start or a page's last row
 * (jobKeysQuery) replace as an end of the index range. Two bounds on the
 * same side of one column leave SQLite to pick one, and it picked the
 * filter's: a seek to the 100th position of
 * `updated_after=2020-01-01&sort=updated_at` then walked the index from
 * 2020 every time (2.7 ms a seek, 270 ms for the positions of page 2,000,
 * instead of 0.15 ms a seek). The bound is still checked, as `+column`.
 */
function applyFilters<Q extends { where: (...args: any[]) => any }>(
  query: Q, f: JobFilters, walk: IndexWalk = 'planner', replaced: ReadonlyArray<keyof JobFilters> = [],
): Q {
  let q: any = query
  const status = column('j.job_status', hides(walk, 'status'))
  const referenced = (name: string) => column(name, hides(walk, 'reference'))
  if (f.statuses) q = f.statuses.length === 1 ? q.where(status, '=', f.statuses[0]) : q.where(status, 'in', f.statuses)
  if (f.priority !== undefined) q = q.where(column('j.job_priority', hides(walk, 'priority')), '=', f.priority)
  if (f.assignedTechnicianId !== undefined) q = q.where(referenced('j.assigned_technician_id'), '=', f.assignedTechnicianId)
  if (f.customerLocationId !== undefined) q = q.where(referenced('j.customer_location_id'), '=', f.customerLocationId)
  if (f.createdFrom !== undefined) q = q.where(column('j.created_at', hides(walk, 'created') || replaced.includes('createdFrom')), '>=', f.createdFrom)
  if (f.createdTo !== undefined) q = q.where(column('j.created_at', hides(walk, 'created') || replaced.includes('createdTo')), '<=', f.createdTo)
  if (f.updatedFrom !== undefined) q = q.where(column('j.updated_at', hides(walk, 'updated') || replaced.includes('updatedFrom')), '>=', f.updatedFrom)
  if (f.customerId !== undefined) {
    // Jobs do not copy customer_id: it is the location's, whatever it is now.
    q = q.where(referenced('j.customer_location_id'), 'in', (eb: any) =>
      eb.selectFrom('customer_locations as fl').select('fl.customer_location_id').where('fl.customer_id', '=', f.customerId),
    )
  }
  return q
}

/** Filters by technician, location or customer. */
function hasReferenceFilter(f: JobFilters): boolean {
  return f.assignedTechnicianId !== undefined || f.customerLocationId !== undefined || f.customerId !== undefined
}

/** The sum of the job_counts cells that `f`'s status and priority filters select (every cell without them), 0 for none. */
function jobCountsSum(db: Db, companyId: number, f: JobFilters) {
  return db
    .selectFrom('job_counts')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('job_count'), sql<number>`0`).as('n'))
    .where('company_id', '=', companyId)
    .$if(f.statuses !== undefined, (q) => q.where('job_status', 'in', f.statuses!))
    .$if(f.priority !== undefined, (q) => q.where('job_priority', '=', f.priority!))
}

/** Rows an estimate counts at most: about a millisecond of index entries, without reading the table. */
const ESTIMATE_CAP = 50_000

/** The filters' indexes that could lead a walk (each of their rows then read from the table). */
function filterIndexes(f: JobFilters): Array<Exclude<IndexWalk, 'planner' | 'scheduled'>> {
  return [
    ...(f.statuses !== undefined ? (['status'] as const) : []),
    ...(f.priority !== undefined ? (['priority'] as const) : []),
    ...(hasReferenceFilter(f) ? (['reference'] as const) : []),
    ...(f.createdFrom !== undefined || f.createdTo !== undefined ? (['created'] as const) : []),
    ...(f.updatedFrom !== undefined ? (['updated'] as const) : []),
  ]
}

/**
 * Whether SQLite is left to choose wrongly: two of the filters' indexes
 * could lead; or a list ordered by a date whose index is not one of them.
 * Left to SQLite: a list in created_at order filtered by one status, one
 * technician or one location (their indexes hold jobs in that order), or a
 * created_at range, or both: the lists polled all day.
 */
function needsChoice(f: JobFilters, sortIndex?: DateIndex): boolean {
  const leads = filterIndexes(f)
  if (sortIndex === undefined) return leads.length >= 2
  if (sortIndex !== 'created') return leads.some((index) => index !== sortIndex)
  const statusOrPriority = f.statuses !== undefined || f.priority !== undefined
  const oneInOrder = (f.statuses?.length ?? 0) <= 1 && f.customerId === undefined && !(hasReferenceFilter(f) && statusOrPriority)
  return leads.includes('updated') || !oneInOrder
}

/**
 * The walk for `filters` (IndexWalk), on SQLite. `order`: the list's sort and
 * how many rows a page needs (offset + limit); none for a count.
 */
export async function chooseWalk(db: Db, companyId: number, filters: JobFilters, order?: { sort: JobSort; rows: number }): Promise<IndexWalk> {
  return (await estimateWalk(db, companyId, filters, order)).walk
}

/**
 * chooseWalk, and for a page in a date's order whether to try that order
 * first: `dateFirst` is how many rows of it to read before giving up.
 *
 * A filter's index reads every row it matches; the sort's index its range
 * of the date (every job without one), or, in order, rows until the page is
 * full: about `rows` × (company's jobs ÷ matching jobs) if the matching
 * jobs are spread over the order, but up to all of them if they are not
 * (open jobs are the recently updated ones: the first Assigned job by
 * updated_at, oldest first, is among the last, 700 ms away). So the choice
 * goes by what each reads for certain, and the order is tried first, for
 * at most half the rows the chosen index would read. One statement counts
 * what each filter's index would read, through the index alone, each at
 * most ESTIMATE_CAP (status, priority: exactly, from job_counts).
 */
async function estimateWalk(db: Db, companyId: number, filters: JobFilters, order?: { sort: JobSort; rows: number }): Promise<{ walk: IndexWalk; dateFirst?: number }> {
  const sortIndex = order && sortIndexOf(order.sort)
  if (!isSqlite(db) || !needsChoice(filters, sortIndex)) return { walk: 'planner' }
  const leads = filterIndexes(filters)
  const references: JobFilters = { assignedTechnicianId: filters.assignedTechnicianId, customerLocationId: filters.customerLocationId, customerId: filters.customerId }
  const row = (
    await db
      .selectNoFrom(() => [
        jobCountsSum(db, companyId, {}).as('company'),
        (leads.includes('status') ? jobCountsSum(db, companyId, { statuses: filters.statuses }) : sql`null`).as('status'),
        (leads.includes('priority') ? jobCountsSum(db, companyId, { priority: filters.priority }) : sql`null`).as('priority'),
        (leads.includes('reference') ? cappedCount(db, companyId, (q) => applyFilters(q, references)) : sql`null`).as('reference'),
        (leads.includes('created') ? cappedCount(db, companyId, (q) => applyFilters(q, { createdFrom: filters.createdFrom, createdTo: filters.createdTo })) : sql`null`).as('created'),
        (leads.includes('updated') ? cappedCount(db, companyId, (q) => applyFilters(q, { updatedFrom: filters.updatedFrom })) : sql`null`).as('updated'),
      ])
      .execute()
  )[0] as Record<string, unknown>
  const reads = (index: IndexWalk) => (row[index] === null || row[index] === undefined ? Infinity : Number(row[index]))
  const [best] = leads.filter((index) => index !== sortIndex).sort((a, b) => reads(a) - reads(b))
  const walk: IndexWalk = best !== undefined && reads(best) < ESTIMATE_CAP ? best : 'planner'
  if (!sortIndex) return { walk }
  // The sort's index reads no more rows than any filter's, for certain.
  const inOrder = leads.includes(sortIndex as 'created' | 'updated') ? reads(sortIndex) : Number(row.company)
  if (best === undefined || inOrder <= reads(best)) return { walk: sortIndex }
  // No try within a budget in scheduled_start order (a bound there may fall
  // among the jobs without one). When every filter matches many jobs, its
  // order finds a page soonest; else the filter's index leads.
  if (sortIndex === 'scheduled') return { walk: walk === 'planner' ? 'scheduled' : walk }
  return { walk, dateFirst: Math.max(DATE_FIRST_MIN, Math.ceil(Math.min(reads(best), ESTIMATE_CAP) / 2)) }
}

/** Rows of a date's order tried first at least (estimateWalk): a few hundred microseconds. */
const DATE_FIRST_MIN = 500

/**
 * The keys of a page read in its date's order, reading at most `budget`
 * rows of that order: the page must be full by the row `budget` rows past
 * its start (found first, through the index alone), else undefined.
 */
async function keysWithinDateWalk(
  db: Db, companyId: number, filters: JobFilters, sort: JobSort, limit: number, offset: number, after: ListKey | undefined, budget: number,
): Promise<KeyRow[] | undefined> {
  const index = sortIndexOf(sort)
  // Through the sort's index alone: only the filter on its own column.
  const own: JobFilters = index === 'updated' ? { updatedFrom: filters.updatedFrom } : { createdFrom: filters.createdFrom, createdTo: filters.createdTo }
  const [last] = await jobKeysQuery(db, companyId, own, sort, 1, budget - 1, after, index).execute()
  const until = last && { value: Number(last.value), jobId: last.job_id }
  const rows = await jobKeysQuery(db, companyId, filters, sort, limit, offset, after, index, until).execute()
  return rows.length === limit || until === undefined ? rows : undefined
}

/** How many of a company's jobs `where` keeps (as `j`), counting at most `cap`. */
function cappedCount(db: Db, companyId: number, where: (q: any) => any, cap: number = ESTIMATE_CAP) {
  const rows = where(db.selectFrom('jobs as j').select(sql`1`.as('one')).where('j.company_id', '=', companyId)).limit(cap)
  return db.selectFrom(rows.as('capped')).select((c) => c.fn.countAll<number>().as('n'))
}

/** jobCountsSum, prepared: one query per (number of statuses, with or without a priority); at most 9 × 2. */
const countsSumOf = byShape((shape) => {
  const [statusCount, priorityCount] = shape.split('|').map(Number) as [number, number]
  return prepared((db, companyId: number, ...values: string[]) =>
    jobCountsSum(db, companyId, {
      ...(statusCount > 0 && { statuses: values.slice(0, statusCount) }),
      ...(priorityCount > 0 && { priority: values[statusCount]! }),
    }),
  )
})

/** Filters that the per-(status, priority) counts can answer without counting rows (and that prepared page-keys queries take). */
function countsAnswer(f: JobFilters): boolean {
  return Object.entries(f).every(([name, value]) => value === undefined || name === 'statuses' || name === 'priority')
}

/**
 * The exact number of jobs matching `filters`: from job_counts when only
 * status and priority filter (kept in each write's transaction, so exact
 * right after any write); with dates, from the jobs outside them when those
 * are few (countFromOutside); else counted through the index chooseWalk names.
 */
export async function countJobs(db: Db, companyId: number, filters: JobFilters, outsideCap = OUTSIDE_COUNT_CAP): Promise<number> {
  if (countsAnswer(filters)) {
    const statuses = filters.statuses ?? []
    const priorities = filters.priority !== undefined ? [filters.priority] : []
    const [row] = await countsSumOf(`${statuses.length}|${priorities.length}`)(db, companyId, ...statuses, ...priorities)
    return Number(row!.n)
  }
  return (await countFromOutside(db, companyId, filters, outsideCap)) ?? countRows(db, companyId, filters, await chooseWalk(db, companyId, filters))
}

/** Jobs outside a date bound counted at most, each side (about 0.2 ms of index entries). */
const OUTSIDE_COUNT_CAP = 10_000

/** The jobs a date filter leaves out, on one side of it. */
interface OutsideSide {
  column: 'created_at' | 'updated_at'
  op: '<' | '>'
  value: number
}

function outsideSides(f: JobFilters): OutsideSide[] {
  const sides: OutsideSide[] = []
  if (f.createdFrom !== undefined) sides.push({ column: 'created_at', op: '<', value: f.createdFrom })
  if (f.createdTo !== undefined) sides.push({ column: 'created_at', op: '>', value: f.createdTo })
  if (f.updatedFrom !== undefined) sides.push({ column: 'updated_at', op: '<', value: f.updatedFrom })
  return sides
}

/**
 * The number of jobs matching date filters (and status and priority ones),
 * counted from the jobs the dates leave out, when those are few: the
 * status and priority count (job_counts), less the matching jobs outside
 * each side of each date bound, plus those outside a bound of both dates
 * (counted twice). A sync from an old mark (`updated_after=2020-01-01`,
 * with or without `status=Closed`) matches nearly every job: counting those
 * read a million index entries on every page (20-30 ms on the benchmark's
 * data set; 700 ms with a status, reading each row of the table), where the
 * jobs outside are none. First, through each date's index alone, how many
 * jobs are outside each side, at most `cap`; if every side has fewer, one
 * statement counts, each side through its date's index (its few rows),
 * so all of it is of the same moment. Undefined otherwise, and for filters
 * by technician, location or customer (counted through their index).
 */
async function countFromOutside(db: Db, companyId: number, filters: JobFilters, cap: number): Promise<number | undefined> {
  const sides = outsideSides(filters)
  if (sides.length === 0 || hasReferenceFilter(filters)) return undefined
  const outside = (...these: OutsideSide[]) => (q: any) => these.reduce((w, side) => w.where(`j.${side.column}`, side.op, side.value), q)
  const [sizes] = await db
    .selectNoFrom(() => sides.map((side, i) => cappedCount(db, companyId, outside(side), cap).as(`side${i}`)))
    .execute()
  if (sides.some((_, i) => Number((sizes as Record<string, unknown>)[`side${i}`]) >= cap)) return undefined
  // Sides of one date are disjoint; a side of each date overlap.
  const pairs = sides.flatMap((a, i) => sides.slice(i + 1).filter((b) => b.column !== a.column).map((b) => [a, b]))
  const statusAndPriority: JobFilters = { statuses: filters.statuses, priority: filters.priority }
  // On SQLite through the first side's date index, not a status index that may hold most of the company.
  const walkOf = (side: OutsideSide): IndexWalk => (!isSqlite(db) ? 'planner' : side.column === 'created_at' ? 'created' : 'updated')
  const matchingOutside = (these: OutsideSide[]) => (eb: any) =>
    outside(...these)(applyFilters(eb.selectFrom('jobs as j').select((c: any) => c.fn.countAll().as('n')).where('j.company_id', '=', companyId), statusAndPriority, walkOf(these[0]!)))
  const [row] = (await db
    .selectNoFrom((eb) => [
      jobCountsSum(db, companyId, statusAndPriority).as('matching'),
      ...sides.map((side, i) => matchingOutside([side])(eb).as(`side${i}`)),
      ...pairs.map((pair, i) => matchingOutside(pair)(eb).as(`both${i}`)),
    ])
    .execute()) as Array<Record<string, unknown>>
  const sum = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => Number(row![`${prefix}${i}`])).reduce((a, b) => a + b, 0)
  return Number(row!.matching) - sum('side', sides.length) + sum('both', pairs.length)
}

/**
 * How many stripes a company's write sequence and counts are kept in
 * (migration 0006): on PostgreSQL a write locks the rows of the one it
 * picks until COMMIT, so writes that pick different stripes do not wait
 * for each other. SQLite runs one write at a time: one stripe.
 */
const POSTGRES_STRIPES = 16

function stripeFor(db: Db): number {
  return isSqlite(db) ? 0 : Math.floor(Math.random() * POSTGRES_STRIPES)
}

/** Jobs leaving (-1) or entering (+1) a (status, priority) cell of the counts. */
export interface CountMove {
  status: string
  priority: string
  delta: 1 | -1
}

/** A line of a job's status history (the company is the write's). */
export interface StatusChange {
  jobId: number
  from: string | null
  to: string
  at: number
  keyId: number | null
}

/**
 * Records a job write: the status change in the job's history, if there is
 * one; then bumps the company's write sequence and moves counts between
 * (status, priority) cells, all in one stripe. The stripe's sequence row is
 * taken first on purpose: on PostgreSQL it serialises the writes that
 * picked the same stripe, so two of them moving counts in opposite
 * directions (High→Low and Low→High) can never lock the count rows in
 * opposite orders and deadlock. Callers make it the last step of their
 * transaction: the rows stay locked until COMMIT, so anything after it
 * makes the stripe's other writes wait longer.
 */
export async function recordJobWrite(db: Db, companyId: number, moves: CountMove[] = [], statusChange?: StatusChange) {
  const stripe = stripeFor(db)
  const ordered = inLockOrder(moves)
  const [first, second] = ordered
  const twoCells = first && second && ordered.length === 2 && (first.status !== second.status || first.priority !== second.priority)
  if (!isSqlite(db) && (ordered.length === 1 || twoCells)) {
    // One round trip instead of up to four: on PostgreSQL each statement of
    // a write is one, and they were most of a write's cost (issue 6).
    const history = statusChange ? [statusChange.jobId, statusChange.from, statusChange.to, statusChange.at, statusChange.keyId] : []
    await recordOnPostgres(`${history.length > 0 ? 1 : 0}|${ordered.length}`)(db, companyId, stripe, ...history, ...cellValues(ordered))
    return
  }
  if (statusChange) {
    const { jobId, from, to, at, keyId } = statusChange
    await insertStatusChange(db, jobId, companyId, from, to, at, keyId)
  }
  await bumpWriteSeq(db, companyId, stripe)
  // A move between two cells is one statement.
  if (twoCells) {
    await moveCounts(db, companyId, stripe, first.status, first.priority, first.delta, second.status, second.priority, second.delta)
    return
  }
  for (const move of ordered) await moveCount(db, companyId, stripe, move.status, move.priority, move.delta)
}

/** Count moves sorted by cell: writes that lock the same cells lock them in the same order. */
function inLockOrder(moves: CountMove[]): CountMove[] {
  return [...moves].sort((a, b) => (a.status === b.status ? a.priority.localeCompare(b.priority) : a.status.localeCompare(b.status)))
}

/** Count moves as the parameters of withRecordOnPostgres: status, priority and delta of each, in turn. */
function cellValues(moves: CountMove[]): Array<string | number> {
  return moves.flatMap((move) => [move.status, move.priority, move.delta])
}

/**
 * The record of a job write on PostgreSQL, as data-modifying CTEs of one
 * statement on `written`, a CTE with one row if the write happened and none
 * if it did not: the sequence bump and the history line are selected from
 * `written`, the count moves from the bump's RETURNING row. That row is
 * what orders them: the counts cannot be written before the bump has taken
 * the stripe's sequence row (PostgreSQL runs the CTEs of one statement in no
 * set order otherwise).
 */
function withRecordOnPostgres<Written extends object>(
  db: QueryCreator<Database & { written: Written }>,
  companyId: number,
  stripe: number,
  history: Array<string | number | null>,
  cells: Array<string | number | null>,
) {
  const [jobId, from, to, at, keyId] = history
  const bumped = db.with('bumped', (w) =>
    w
      .insertInto('job_write_seqs')
      .columns(['company_id', 'stripe', 'write_seq'])
      .expression((eb) =>
        eb.selectFrom('written').select((s) => [s.cast<number>(s.val(companyId), 'bigint').as('company_id'), s.cast<number>(s.val(stripe), 'integer').as('stripe'), sql<number>`1`.as('write_seq')]),
      )
      .onConflict((oc) => oc.columns(['company_id', 'stripe']).doUpdateSet({ write_seq: sql<number>`job_write_seqs.write_seq + 1` }))
      .returning('write_seq'),
  )
  const recorded =
    history.length > 0
      ? bumped.with('history', (w) =>
          w
            .insertInto('job_status_changes')
            .columns(['job_id', 'company_id', 'from_status', 'to_status', 'changed_at', 'key_id'])
            .expression((eb) =>
              eb.selectFrom('written').select((s) => [
                s.cast<number>(s.val(jobId), 'bigint').as('job_id'),
                s.cast<number>(s.val(companyId), 'bigint').as('company_id'),
                s.cast<string | null>(s.val(from), 'text').as('from_status'),
                s.cast<string>(s.val(to), 'text').as('to_status'),
                s.cast<number>(s.val(at), 'bigint').as('changed_at'),
                s.cast<number | null>(s.val(keyId), 'bigint').as('key_id'),
              ]),
            ),
        )
      : bumped
  // Nothing below refers to `history`: the statement is the same either way.
  return (recorded as typeof bumped).with('counted', (w) =>
    w
      .insertInto('job_counts')
      .columns(['company_id', 'job_status', 'job_priority', 'stripe', 'job_count'])
      .expression((eb) => {
        const cell = (i: number) =>
          eb
            .selectFrom('bumped')
            .select((s) => [
              s.cast<number>(s.val(companyId), 'bigint').as('company_id'),
              s.cast<string>(s.val(cells[i * 3]), 'text').as('job_status'),
              s.cast<string>(s.val(cells[i * 3 + 1]), 'text').as('job_priority'),
              s.cast<number>(s.val(stripe), 'integer').as('stripe'),
              s.cast<number>(s.val(cells[i * 3 + 2]), 'bigint').as('job_count'),
            ])
        return cells.length === 6 ? cell(0).unionAll(cell(1)) : cell(0)
      })
      .onConflict((oc) => oc.columns(COUNT_CELL).doUpdateSet({ job_count: sql<number>`job_counts.job_count + excluded.job_count` })),
  )
}

/** recordJobWrite on PostgreSQL, one statement per shape (with or without a history line; one or two count cells). */
const recordOnPostgres = byShape((shape) => {
  const withHistory = shape.startsWith('1|')
  return preparedWrite((db, companyId: number, stripe: number, ...values: Array<string | number | null>) =>
    withRecordOnPostgres(db.with('written', (w) => w.selectNoFrom(sql<number>`1`.as('one'))), companyId, stripe, values.slice(0, withHistory ? 5 : 0), values.slice(withHistory ? 5 : 0))
      .selectFrom('written')
      .select('one'),
  )
})

const bumpWriteSeq = preparedWrite((db, companyId: number, stripe: number) =>
  db
    .insertInto('job_write_seqs')
    .values({ company_id: companyId, stripe, write_seq: 1 })
    .onConflict((oc) => oc.columns(['company_id', 'stripe']).doUpdateSet({ write_seq: sql<number>`job_write_seqs.write_seq + 1` })),
)

const COUNT_CELL = ['company_id', 'job_status', 'job_priority', 'stripe'] as const

const moveCounts = preparedWrite(
  (db, companyId: number, stripe: number, status1: string, priority1: string, delta1: number, status2: string, priority2: string, delta2: number) =>
    db
      .insertInto('job_counts')
      .values([
        { company_id: companyId, job_status: status1, job_priority: priority1, stripe, job_count: delta1 },
        { company_id: companyId, job_status: status2, job_priority: priority2, stripe, job_count: delta2 },
      ])
      .onConflict((oc) => oc.columns(COUNT_CELL).doUpdateSet({ job_count: sql<number>`job_counts.job_count + excluded.job_count` })),
)

const moveCount = preparedWrite((db, companyId: number, stripe: number, status: string, priority: string, delta: number) =>
  db
    .insertInto('job_counts')
    .values({ company_id: companyId, job_status: status, job_priority: priority, stripe, job_count: delta })
    .onConflict((oc) => oc.columns(COUNT_CELL).doUpdateSet({ job_count: sql<number>`job_counts.job_count + excluded.job_count` })),
)

/**
 * Marks the company's job lists as changed without moving counts: for writes
 * to what job lists show (customer, location and technician names) and for
 * anyone who edits jobs outside the API.
 */
export async function touchJobLists(db: Db, companyId: number): Promise<void> {
  await bumpBothSeqs(db, companyId, stripeFor(db))
}

const bumpBothSeqs = preparedWrite((db, companyId: number, stripe: number) =>
  db
    .insertInto('job_write_seqs')
    .values({ company_id: companyId, stripe, write_seq: 1, names_seq: 1 })
    .onConflict((oc) =>
      oc.columns(['company_id', 'stripe']).doUpdateSet({ write_seq: sql<number>`job_write_seqs.write_seq + 1`, names_seq: sql<number>`job_write_seqs.names_seq + 1` }),
    ),
)

const listSeqs = prepared((db, companyId: number) =>
  db
    .selectFrom('job_write_seqs')
    .select((eb) => [eb.fn.sum<number>('write_seq').as('write_seq'), eb.fn.sum<number>('names_seq').as('names_seq')])
    .where('company_id', '=', companyId),
)

/**
 * The company's job write sequence and names sequence, read together: each
 * the sum of its stripes, which moves with every committed write.
 */
export async function readListSeqs(db: Db, companyId: number): Promise<{ writeSeq: number; namesSeq: number }> {
  const [row] = await listSeqs(db, companyId)
  return { writeSeq: Number(row?.write_seq ?? 0), namesSeq: Number(row?.names_seq ?? 0) }
}

/** One prepared query per number of ids (a page holds at most 100). */
const jobVersionsOf = byShape(() =>
  prepared((db, companyId: number, ...jobIds: number[]) =>
    // `+j.company_id`: primary-key lookups, as in findJobViews.
    db.selectFrom('jobs as j').select(['j.job_id', 'j.row_version']).where(sql<number>`+j.company_id`, '=', companyId).where('j.job_id', 'in', jobIds),
  ),
)

/** The row versions of the given jobs (absent ids are left out). */
export async function readJobVersions(db: Db, companyId: number, jobIds: number[]): Promise<Map<number, number>> {
  if (jobIds.length === 0) return new Map()
  const rows = await jobVersionsOf(String(jobIds.length))(db, companyId, ...jobIds)
  return new Map(rows.map((r) => [r.job_id, Number(r.row_version)]))
}

async function countRows(db: Db, companyId: number, filters: JobFilters, walk: IndexWalk): Promise<number> {
  const query = applyFilters(db.selectFrom('jobs as j').where('j.company_id', '=', companyId), filters, walk)
  const row = await query.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow()
  return Number(row.total)
}

/** A row of a page-keys query. */
type KeyRow = { value: unknown; job_id: number }

/** A position in a list's order: the sort column's value and the job id. */
export interface ListKey {
  value: number
  jobId: number
}

function sortParts(sort: JobSort) {
  const direction = sort.startsWith('-') ? ('desc' as const) : ('asc' as const)
  const column = sort.replace('-', '') as 'created_at' | 'updated_at' | 'scheduled_start'
  return { direction, column }
}

/** Where a seek starts: a known row's key, or columns of an outer query (listJobBoundaries). */
interface SeekFrom {
  value: number | RawBuilder<number>
  jobId: number | RawBuilder<number>
}

/** The query of listJobKeys, built with Kysely (exported for tests that read its plan). */
export function jobKeysQuery(
  db: Db, companyId: number, filters: JobFilters, sort: JobSort, limit: number, offset: number, after?: SeekFrom, walk: IndexWalk = 'planner', until?: ListKey,
) {
  const { direction, column: name } = sortParts(sort)
  // Led by another index: the date it sorts by must not offer its own, for its order or a seek either.
  const sortColumn = column(`j.${name}`, hides(walk, sortIndexOf(sort)))
  // The filter's bounds on the sort column that the seek (where the walk starts) and `until` (where it ends) replace.
  const lower = name === 'created_at' ? 'createdFrom' : name === 'updated_at' ? 'updatedFrom' : undefined
  const upper = name === 'created_at' ? 'createdTo' : undefined
  const [start, end] = direction === 'asc' ? [lower, upper] : [upper, lower]
  const replaced = [after && start, until && end].filter((bound): bound is keyof JobFilters => bound !== undefined)
  let query = applyFilters(db.selectFrom('jobs as j').where('j.company_id', '=', companyId), filters, walk, replaced)
  if (after) {
    // Only for created_at / updated_at, which are never null.
    query = query.where(sql<boolean>`(${sortColumn}, j.job_id) ${sql.raw(direction === 'desc' ? '<' : '>')} (${after.value}, ${after.jobId})`)
  }
  if (until) {
    // The last row the page may come from (keysWithinDateWalk).
    query = query.where(sql<boolean>`(${sortColumn}, j.job_id) ${sql.raw(direction === 'desc' ? '>=' : '<=')} (${until.value}, ${until.jobId})`)
  }
  // Jobs without a scheduled start come last in both directions. Said as
  // NULLS LAST, SQLite reads the order from the index (in two passes);
  // said as an `is null` term first, it sorted the whole company (218-444
  // ms for `sort=-scheduled_start` over a million jobs). PostgreSQL keeps
  // the term: given NULLS LAST it walked the index in order for a few
  // hundred matching jobs too (`status=Assigned&sort=scheduled_start`:
  // 4 → 360 ms), where with the term it sorts what the filter's index finds.
  const nullsLastByTerm = name === 'scheduled_start' && !isSqlite(db)
  if (nullsLastByTerm) query = query.orderBy(sql`(j.scheduled_start is null)`, 'asc')
  return query
    .select([`j.${name} as value`, 'j.job_id'])
    .orderBy(sortColumn, (order) => (name === 'scheduled_start' && !nullsLastByTerm ? order[direction]().nullsLast() : order[direction]()))
    .orderBy('j.job_id', direction)
    .limit(limit)
    .offset(offset)
}

/**
 * listJobKeys of the lists integrators poll all day (no filter, or status
 * and priority only): prepared, one query per shape (sort, number of
 * statuses, priority or not, seek or not, and the walk).
 * Building and compiling the query with Kysely on each call cost 10-14 µs,
 * and in `mixed` every list after a write reads its page keys again (issue
 * 6). Lists with other filters are rarer and their shapes many: built per call.
 */
const preparedJobKeysOf = byShape((shape) => {
  const [sort, statusCount, withPriority, withAfter, walk] = shape.split('|') as [JobSort, string, string, string, IndexWalk]
  const statuses = Number(statusCount)
  return prepared((db, companyId: number, limit: number, offset: number, ...values: Array<string | number>) => {
    const filters: JobFilters = {
      ...(statuses > 0 && { statuses: values.slice(0, statuses) as string[] }),
      ...(withPriority === '1' && { priority: values[statuses] as string }),
    }
    const rest = values.slice(statuses + Number(withPriority))
    const after = withAfter === '1' ? { value: rest[0] as number, jobId: rest[1] as number } : undefined
    return jobKeysQuery(db, companyId, filters, sort, limit, offset, after, walk)
  })
})

/**
 * The ids (and sort keys) of one page, read from the jobs table alone so a
 * deep OFFSET steps through the covering index instead of joining every
 * skipped row; `after` starts the page just past a known position (a seek).
 * `walk`: chosen for the page when not given (chooseWalk).
 */
export async function listJobKeys(
  db: Db, companyId: number, filters: JobFilters, sort: JobSort, limit: number, offset: number, after?: ListKey, walk?: IndexWalk,
): Promise<ListKey[]> {
  let rows: KeyRow[] | undefined
  // The lists polled all day have nothing to choose: no promise spent on them.
  if (walk === undefined && isSqlite(db) && needsChoice(filters, sortIndexOf(sort))) {
    const estimate = await estimateWalk(db, companyId, filters, { sort, rows: offset + limit })
    walk = estimate.walk
    if (estimate.dateFirst) rows = await keysWithinDateWalk(db, companyId, filters, sort, limit, offset, after, estimate.dateFirst)
  }
  walk ??= 'planner'
  if (rows === undefined && countsAnswer(filters)) {
    const statuses = filters.statuses ?? []
    const priorities = filters.priority !== undefined ? [filters.priority] : []
    const seek = after ? [after.value, after.jobId] : []
    const shape = `${sort}|${statuses.length}|${priorities.length}|${seek.length ? 1 : 0}|${walk}`
    rows = await preparedJobKeysOf(shape)(db, companyId, limit, offset, ...statuses, ...priorities, ...seek)
  }
  rows ??= await jobKeysQuery(db, companyId, filters, sort, limit, offset, after, walk).execute()
  return rows.map((r) => ({ value: Number(r.value), jobId: r.job_id }))
}

/** SQLite seeks between two turns of the event loop while boundaries are walked: ~1 ms of work at 1,000 rows a step. */
const SQLITE_BOUNDARIES_PER_TURN = 8

/**
 * Keys of up to `count` rows of a list sorted by created_at or updated_at
 * (never null), each `step` rows past the one before, the first `step` rows
 * past `after`; fewer where the list ends. Remembered positions for deep
 * pages (jobs.pages.ts). On SQLite one short seek per key, each a call
 * into the library (~0.1 µs an index entry), letting other requests run
 * every few seeks. On PostgreSQL each would be a
 * round trip (499 of them for the middle of a million-job list, seconds
 * under load), so one recursive statement walks the index once for all.
 */
export async function listJobBoundaries(db: Db, companyId: number, filters: JobFilters, sort: JobSort, after: ListKey, step: number, count: number): Promise<ListKey[]> {
  if (isSqlite(db)) {
    const keys: ListKey[] = []
    let previous = after
    const walk = await chooseWalk(db, companyId, filters, { sort, rows: step })
    if (hides(walk, sortIndexOf(sort))) return everyStepth(db, companyId, filters, sort, after, step, count, walk)
    while (keys.length < count) {
      // better-sqlite3 answers on the event loop and Kysely's promises
      // resolve as microtasks, so without this the walk to the middle of a
      // million-job list (~60 ms) held up every other request.
      if (keys.length > 0 && keys.length % SQLITE_BOUNDARIES_PER_TURN === 0) await setImmediate()
      const [next] = await listJobKeys(db, companyId, filters, sort, 1, step - 1, previous, walk)
      if (!next) break
      keys.push((previous = next))
    }
    return keys
  }
  if (sortParts(sort).column === 'scheduled_start') throw new Error('boundaries need a sort column without nulls')
  // The row `step` rows past the boundary before (b), with the list's filters.
  const next = jobKeysQuery(db, companyId, filters, sort, 1, step - 1, { value: sql.ref<number>('b.value'), jobId: sql.ref<number>('b.job_id') })
  const { rows } = await sql<{ value: number; job_id: number }>`
    with recursive b (k, value, job_id) as (
      select 0, cast(${after.value} as bigint), cast(${after.jobId} as bigint)
      union all
      select b.k + 1, n.value, n.job_id from b cross join lateral (${next}) as n where b.k < ${count}
    )
    select value, job_id from b where k > 0 order by k`.execute(db)
  return rows.map((r) => ({ value: Number(r.value), jobId: Number(r.job_id) }))
}

/**
 * listJobBoundaries for a list led by a filter's index rather than its
 * sort's (chooseWalk): each seek would read and sort every row the filter matches
 * again (a hundred positions of `status=Assigned&sort=updated_at`, 6,546
 * jobs, took 640 ms), so one statement sorts them once and keeps every
 * `step`-th. The walk is chosen only for at most ESTIMATE_CAP rows.
 */
async function everyStepth(
  db: Db, companyId: number, filters: JobFilters, sort: JobSort, after: ListKey, step: number, count: number, walk: IndexWalk,
): Promise<ListKey[]> {
  const direction = sql.raw(sortParts(sort).direction)
  const keys = jobKeysQuery(db, companyId, filters, sort, step * count, 0, after, walk)
  const numbered = db
    .selectFrom(keys.as('k'))
    .select(['k.value', 'k.job_id', sql<number>`row_number() over (order by k.value ${direction}, k.job_id ${direction})`.as('n')])
  const rows = await db.selectFrom(numbered.as('w')).select(['w.value', 'w.job_id']).where(sql<number>`w.n % ${step}`, '=', 0).orderBy('w.n').execute()
  return rows.map((r) => ({ value: Number(r.value), jobId: Number(r.job_id) }))
}

/**
 * How a company's newest-first list moved since `mark` was its first row:
 * the company's job count now, how many jobs now sort before `mark`, and
 * the list's first row now, in one statement, so all three describe the
 * same moment on either dialect.
 */
export async function readListGrowth(db: Db, companyId: number, mark: ListKey): Promise<{ total: number; ahead: number; newest: ListKey }> {
  const [row] = await listGrowth(db, companyId, mark.value, mark.jobId)
  return {
    total: Number(row?.total ?? 0),
    ahead: Number(row?.ahead ?? 0),
    // Jobs are never deleted, so the list still has a first row (mark, at least).
    newest: { value: Number(row?.newest_created_at ?? mark.value), jobId: Number(row?.newest_job_id ?? mark.jobId) },
  }
}

const listGrowth = prepared((db, companyId: number, createdAt: number, jobId: number) => {
  const newest = <C extends 'created_at' | 'job_id'>(column: C) =>
    db.selectFrom('jobs as n').select(`n.${column}`).where('n.company_id', '=', companyId).orderBy('n.created_at', 'desc').orderBy('n.job_id', 'desc').limit(1)
  return db.selectNoFrom((eb) => [
    eb.selectFrom('job_counts').select((c) => c.fn.sum<number>('job_count').as('n')).where('company_id', '=', companyId).as('total'),
    eb
      .selectFrom('jobs as j')
      .select((c) => c.fn.countAll<number>().as('n'))
      .where('j.company_id', '=', companyId)
      .where((c) => c(c.refTuple('j.created_at', 'j.job_id'), '>', c.tuple(createdAt, jobId)))
      .as('ahead'),
    newest('created_at').as('newest_created_at'),
    newest('job_id').as('newest_job_id'),
  ])
})

/** One prepared query per number of ids (a page holds at most 100). */
const jobViewsOf = byShape(() =>
  prepared((db, companyId: number, ...jobIds: number[]) =>
    // `+j.company_id` keeps the tenant check but tells the planner not to walk
    // a company_id index: the ids are primary keys, 50 direct lookups.
    unscopedJobView(db).where(sql<number>`+j.company_id`, '=', companyId).where('j.job_id', 'in', jobIds),
  ),
)

/** Full rows of the given jobs, in the given order. */
export async function findJobViews(db: Db, companyId: number, jobIds: number[]): Promise<JobViewRow[]> {
  if (jobIds.length === 0) return []
  const rows = await jobViewsOf(String(jobIds.length))(db, companyId, ...jobIds)
  const byId = new Map(rows.map((r) => [r.job_id, r]))
  return jobIds.map((id) => byId.get(id)).filter((r): r is JobViewRow => r !== undefined)
}

/** The columns a new job is written with (row_version and job_id take their defaults). */
const NEW_JOB_COLUMNS = [
  'company_id', 'job_title', 'job_description', 'job_status', 'job_priority', 'assigned_technician_id', 'customer_location_id',
  'scheduled_start', 'scheduled_end', 'actual_start', 'actual_end', 'created_at', 'updated_at',
] as const satisfies ReadonlyArray<keyof NewJob>

const insertJobRow = prepared((db, ...values: unknown[]) =>
  db
    .insertInto('jobs')
    .values(Object.fromEntries(NEW_JOB_COLUMNS.map((column, i) => [column, values[i]])) as NewJob)
    .returning('job_id'),
)

export async function insertJob(db: Db, job: Required<Omit<NewJob, 'job_id' | 'row_version'>>): Promise<number> {
  const [row] = await insertJobRow(db, ...NEW_JOB_COLUMNS.map((column) => job[column]))
  return row!.job_id
}

/**
 * updated_at never moves back, even if clocks of two servers disagree (API.md §8).
 */
export function bumpUpdatedAt(now: number) {
  return sql<number>`case when updated_at > ${now} then updated_at else ${now} end`
}

/** The columns a PUT may change (API.md §4); the service sends only those it changes. */
export type UpdatableJobColumns = Partial<
  Pick<JobRow, 'job_title' | 'job_description' | 'job_priority' | 'customer_location_id' | 'assigned_technician_id' | 'scheduled_start' | 'scheduled_end'>
>

/** One prepared statement per set of changed columns (at most 2^7; a PUT's SQL differs with what it sends). */
const updateOf = byShape((shape) => {
  const columns = shape.split(',')
  return prepared((db, companyId: number, jobId: number, now: number, ...values: unknown[]) =>
    db
      .updateTable('jobs')
      .set({ ...Object.fromEntries(columns.map((column, i) => [column, values[i]])), updated_at: bumpUpdatedAt(now), row_version: sql<number>`row_version + 1` })
      .where('company_id', '=', companyId)
      .where('job_id', '=', jobId)
      .where('job_status', 'not in', [...LOCKED_STATUSES])
      .returning(['updated_at', 'row_version']),
  )
})

/** The columns every update sets besides the changed ones, as the database wrote them. */
export type UpdateResult = Pick<JobRow, 'updated_at' | 'row_version'>

/** Partial update of a job that is not locked; returns what it wrote, or undefined when the job became locked (or vanished). */
export async function updateJob(db: Db, companyId: number, jobId: number, changes: UpdatableJobColumns, now: number): Promise<UpdateResult | undefined> {
  const columns = (Object.keys(changes) as Array<keyof UpdatableJobColumns>).sort()
  return (await updateOf(columns.join(','))(db, companyId, jobId, now, ...columns.map((column) => changes[column])))[0]
}

/** The columns a status change sets besides the status, as the database wrote them. */
const STATUS_CHANGE_RETURNS = ['updated_at', 'actual_start', 'actual_end', 'row_version'] as const
export type StatusChangeResult = Pick<JobRow, (typeof STATUS_CHANGE_RETURNS)[number]>

/**
 * The status change as one conditional write: it succeeds only if the job is
 * still in `from`, so concurrent changes cannot both pass the table check.
 * Returns what it wrote, or undefined if the job was no longer in `from`.
 */
async function changeStatus(db: Db, companyId: number, jobId: number, from: JobStatus, to: JobStatus, now: number): Promise<StatusChangeResult | undefined> {
  return (await statusChanges[shapeOf(to)](db, companyId, jobId, from, to, now))[0]
}

/**
 * changeStatus, then (if it wrote) recordJobWrite with the job's history
 * line and its count moving from `from` to `to` in its priority. On
 * PostgreSQL one statement, the write itself the `written` CTE of the
 * record's: one round trip instead of two.
 */
export async function changeStatusRecorded(
  db: Db,
  companyId: number,
  jobId: number,
  change: { from: JobStatus; to: JobStatus; at: number; keyId: number | null },
  priority: string,
): Promise<StatusChangeResult | undefined> {
  const { from, to, at, keyId } = change
  const moves: CountMove[] = [
    { status: from, priority, delta: -1 },
    { status: to, priority, delta: 1 },
  ]
  if (isSqlite(db)) {
    const written = await changeStatus(db, companyId, jobId, from, to, at)
    if (written) await recordJobWrite(db, companyId, moves, { jobId, from, to, at, keyId })
    return written
  }
  const record = statusChangesRecordedOnPostgres[shapeOf(to)]
  return (await record(db, companyId, stripeFor(db), jobId, from, to, at, keyId, ...cellValues(inLockOrder(moves))))[0]
}

/** The three shapes of a status change: starting work sets actual_start once, completing it sets actual_end. */
type StatusChangeShape = 'plain' | 'start' | 'end'

function shapeOf(to: JobStatus): StatusChangeShape {
  return to === 'In Progress' ? 'start' : to === 'Completed' ? 'end' : 'plain'
}

/** One of `make`'s for each shape. */
function perShape<T>(make: (shape: StatusChangeShape) => T): Record<StatusChangeShape, T> {
  return { plain: make('plain'), start: make('start'), end: make('end') }
}

function statusChangeQuery(db: QueryCreator<Database>, companyId: number, jobId: number, from: string, to: string, now: number, shape: StatusChangeShape) {
  return db
    .updateTable('jobs')
    .set({
      job_status: to,
      updated_at: bumpUpdatedAt(now),
      row_version: sql<number>`row_version + 1`,
      ...(shape === 'start' ? { actual_start: sql<number>`coalesce(actual_start, ${now})` } : {}),
      ...(shape === 'end' ? { actual_end: now } : {}),
    })
    .where('company_id', '=', companyId)
    .where('job_id', '=', jobId)
    .where('job_status', '=', from)
    .returning(STATUS_CHANGE_RETURNS)
}

/** Each shape is its own prepared statement (its SQL differs). */
function preparedStatusChange(shape: StatusChangeShape) {
  return prepared((db, companyId: number, jobId: number, from: string, to: string, now: number) => statusChangeQuery(db, companyId, jobId, from, to, now, shape))
}

const statusChanges = perShape(preparedStatusChange)

/** A status change with its record, on PostgreSQL: per shape, one statement. */
function preparedStatusChangeRecordedOnPostgres(shape: StatusChangeShape) {
  return prepared((db, companyId: number, stripe: number, jobId: number, from: string, to: string, at: number, keyId: number | null, ...cells: Array<string | number>) =>
    withRecordOnPostgres(
      db.with('written', (w) => statusChangeQuery(w, companyId, jobId, from, to, at, shape)),
      companyId,
      stripe,
      [jobId, from, to, at, keyId],
      cells,
    )
      .selectFrom('written')
      .select(STATUS_CHANGE_RETURNS),
  )
}

const statusChangesRecordedOnPostgres = perShape(preparedStatusChangeRecordedOnPostgres)

const insertStatusChange = preparedWrite((db, jobId: number, companyId: number, from: string | null, to: string, at: number, keyId: number | null) =>
  db.insertInto('job_status_changes').values({ job_id: jobId, company_id: companyId, from_status: from, to_status: to, changed_at: at, key_id: keyId }),
)

// ---- Asset links

const jobAssets = prepared((db, companyId: number, jobId: number) =>
  db
    .selectFrom('job_assets as ja')
    .innerJoin('assets as a', 'a.asset_id', 'ja.asset_id')
    .select(['a.asset_id', 'a.asset_tag', 'a.asset_name', 'a.asset_status', 'ja.relationship_type', 'ja.relationship_notes', 'ja.linked_at'])
    .where('ja.company_id', '=', companyId)
    .where('ja.job_id', '=', jobId)
    .where('a.deleted_at', 'is', null)
    .orderBy('ja.linked_at')
    .orderBy('a.asset_id'),
)

export async function findJobAssets(db: Db, companyId: number, jobId: number) {
  return jobAssets(db, companyId, jobId)
}

// The link reads and writes of a create or PUT: prepared, one statement per
// number of asset ids (through the API a job has at most 100 links, the most
// a request may name). Kysely built each on every call: in a profile of
// update_job, where 15% of PUTs send asset_ids, replacing links was 6% of
// the server's samples, much of it building queries (issue 6).

const linksOfJob = prepared((db, companyId: number, jobId: number) =>
  db.selectFrom('job_assets').select(['asset_id', 'relationship_type']).where('company_id', '=', companyId).where('job_id', '=', jobId),
)

export async function findLinks(db: Db, companyId: number, jobId: number) {
  return linksOfJob(db, companyId, jobId)
}

const insertLinksOf = byShape((count) =>
  preparedWrite((db, companyId: number, jobId: number, relationshipType: string, now: number, ...assetIds: number[]) =>
    db
      .insertInto('job_assets')
      .values(Array.from({ length: Number(count) }, (_, i) => ({ job_id: jobId, asset_id: assetIds[i]!, company_id: companyId, relationship_type: relationshipType, relationship_notes: null, linked_at: now }))),
  ),
)

export async function insertLinks(db: Db, companyId: number, jobId: number, assetIds: number[], relationshipType: string, now: number) {
  if (assetIds.length === 0) return
  await insertLinksOf(String(assetIds.length))(db, companyId, jobId, relationshipType, now, ...assetIds)
}

const deleteLinksOf = byShape(() =>
  preparedWrite((db, companyId: number, jobId: number, ...assetIds: number[]) =>
    db.deleteFrom('job_assets').where('company_id', '=', companyId).where('job_id', '=', jobId).where('asset_id', 'in', assetIds),
  ),
)

export async function deleteLinks(db: Db, companyId: number, jobId: number, assetIds: number[]) {
  if (assetIds.length === 0) return
  await deleteLinksOf(String(assetIds.length))(db, companyId, jobId, ...assetIds)
}

const setLinkTypeOf = byShape(() =>
  preparedWrite((db, companyId: number, jobId: number, relationshipType: string, ...assetIds: number[]) =>
    db
      .updateTable('job_assets')
      .set({ relationship_type: relationshipType })
      .where('company_id', '=', companyId)
      .where('job_id', '=', jobId)
      .where('asset_id', 'in', assetIds),
  ),
)

export async function setLinkType(db: Db, companyId: number, jobId: number, assetIds: number[], relationshipType: string) {
  if (assetIds.length === 0) return
  await setLinkTypeOf(String(assetIds.length))(db, companyId, jobId, relationshipType, ...assetIds)
}
