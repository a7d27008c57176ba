/**
 * Jobs SQL for lists (Kysely only): filters, the index a list reads, exact
 * totals, a page's keys and the remembered positions of deep pages
 * (jobs.pages.ts keeps those and the pages). Every function takes the
 * company id (DESIGN.md habit 4).
 */
import { setImmediate } from 'node:timers/promises'
import { sql, type Kysely, type RawBuilder } from 'kysely'
import type { Database } from '../../db/types.ts'
import { isSqlite } from '../../db/dialect.ts'
import { byShape, prepared } from '../../db/prepared.ts'
import type { JobSort } from './jobs.schemas.ts'

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

/**
 * Which index the database walks for a list or a count, where the planner's
 * guess is known to go wrong. SQLite's statistics are sampled
 * (`analysis_limit`, see db/connect.ts) and say nothing about one company's
 * data, so on the benchmark's data set it picked the updated_at index for a
 * technician's 715 jobs updated since 2020 and read a million rows of the
 * table to find them (570 ms, on the event loop), and walked the company's
 * created_at index for a customer's 1,713 jobs (85 ms for page 6).
 * PostgreSQL's statistics know how many jobs a filter matches, but not where
 * they fall in a date's order: for the 32,000 jobs created since 2026-11-01
 * in updated_at order, or a technician's 1,252, it walked the updated_at
 * index from the oldest, reading most of the company (380-670 ms for page
 * 1). `estimateWalk` counts what each index would read and names one;
 * on SQLite every other condition is written so that no index serves it
 * (`column`), on PostgreSQL only the list's date (applyFilters says why).
 *   - `planner`: the database chooses (nothing to choose, or on PostgreSQL
 *     nothing it chooses wrongly: needsChoice);
 *   - `status`, `priority`: that index;
 *   - `reference`: the technician's, location's or customer's locations' index;
 *   - `created`, `updated`, `scheduled`: that date's index, over the
 *     filter's range of it or in the list's order.
 */
export type IndexWalk = 'planner' | 'status' | 'priority' | 'reference' | DateIndex
type DateIndex = 'created' | 'updated' | 'scheduled'

/**
 * The jobs table as `j`; for a status or priority walk on SQLite, read
 * through that index (INDEXED BY, in a subquery SQLite flattens into the
 * query). Writing the other conditions `+column` keeps SQLite from seeking
 * by them, but not from reading a whole index that holds every column a
 * query names: since migration 0007 the updated_at index holds status and
 * priority, and SQLite, whose sampled statistics take a company for about
 * 1,000 jobs, read status walks from it, the whole company each time
 * (page 100 of `status=Pending,Assigned,In Progress&sort=updated_at`: 52
 * → 256 ms, the first jobs by updated_at being closed ones).
 */
function jobsThrough(db: Db, walk: IndexWalk) {
  const index = walk === 'status' ? 'jobs_company_status' : walk === 'priority' ? 'jobs_company_priority' : undefined
  if (index === undefined || !isSqlite(db)) return db.selectFrom('jobs as j')
  return db.selectFrom(sql<Database['jobs']>`(select * from jobs indexed by ${sql.id(index)})`.as('j'))
}

/** Whether `walk` leads with another index than `index`: `index`'s conditions are then written `+column`. */
function hides(walk: IndexWalk, index: Exclude<IndexWalk, 'planner'>): boolean {
  return walk !== 'planner' && walk !== index
}

function sortIndexOf(sort: JobSort): DateIndex {
  const { column } = sortParts(sort)
  return column === 'created_at' ? 'created' : column === 'updated_at' ? 'updated' : 'scheduled'
}

/** A column as a condition or an order names it, or as `+column`, which no index serves, when `hidden` (numbers only on PostgreSQL). */
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
 *
 * PostgreSQL is left every filter's index, whatever the walk: it knows how
 * many jobs each matches (a walk only keeps it from reading a list's date
 * index in order: jobKeysQuery), and a condition written `+column` is one
 * it cannot estimate (it guesses half a percent of the rows). With them
 * hidden, page 100 of `status=Closed&sort=updated_at` (865,000 jobs) took
 * 50 ms instead of 3 in the list sweep.
 */
function applyFilters<Q extends { where: (...args: any[]) => any }>(
  db: Db, query: Q, f: JobFilters, walk: IndexWalk = 'planner', replaced: ReadonlyArray<keyof JobFilters> = [],
): Q {
  let q: any = query
  if (!isSqlite(db)) walk = 'planner'
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

/** Whether `f` filters on none but `names`. */
function filtersOnly(f: JobFilters, ...names: Array<keyof JobFilters>): boolean {
  return Object.entries(f).every(([name, value]) => value === undefined || names.includes(name as keyof JobFilters))
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

/** The filters' indexes that could lead a walk (each of their rows then read from the table, unless the index holds the filters: heldByUpdatedIndex). */
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
 * Whether the planner is left to choose wrongly: two of the filters' indexes
 * could lead; or a list ordered by a date whose index is not one of them.
 * Left to the planner: a list in created_at order filtered by one status, one
 * technician or one location (their indexes hold jobs in that order), or a
 * created_at range, or both: the lists polled all day.
 *
 * On PostgreSQL only lists: their order is the one thing its statistics
 * get wrong (IndexWalk), and counts it plans well (combining indexes). Not
 * a list in updated_at order under filters that index holds either:
 * PostgreSQL walks it alone, in order, stopping when the page is full and
 * at worst at the company's end (23 ms for a million jobs on the
 * benchmark's data set), where the status index reads each matching job
 * from the table (0.45 µs each: 17 ms for the 36,813 Invoiced jobs,
 * sorted on every page).
 */
function needsChoice(db: Db, f: JobFilters, sortIndex?: DateIndex): boolean {
  if (!isSqlite(db) && (sortIndex === undefined || (sortIndex === 'updated' && heldByUpdatedIndex(f)))) return false
  const leads = filterIndexes(f)
  if (sortIndex === undefined) return leads.length >= 2
  if (sortIndex !== 'created') return leads.some((index) => index !== sortIndex)
  const statusOrPriority = f.statuses !== undefined || f.priority !== undefined
  const oneInOrder = (f.statuses?.length ?? 0) <= 1 && f.customerId === undefined && !(hasReferenceFilter(f) && statusOrPriority)
  return leads.includes('updated') || !oneInOrder
}

/**
 * The walk for `filters` (IndexWalk). `order`: the list's sort and
 * how many rows a page needs (offset + limit); none for a count.
 */
export async function chooseWalk(db: Db, companyId: number, filters: JobFilters, order?: { sort: JobSort; rows: number }): Promise<IndexWalk> {
  return (await estimateWalk(db, companyId, filters, order)).walk
}

/** What estimateWalk found: the walk, and for a list in a date's order how many rows of that order to try first (`dateFirst`). */
export interface WalkEstimate {
  walk: IndexWalk
  dateFirst?: number
  /** The list's created_at bounds are checked by the ids of the few jobs outside them (excludeOutsideCreated). */
  createdByExclusion?: boolean
}

/**
 * chooseWalk, and for a page in a date's order whether to try that order
 * first: `dateFirst` is how many rows of it to read before giving up.
 * The positions of a list's deep pages keep theirs (jobs.pages.ts).
 *
 * A filter's index reads every row it matches; the sort's index its range
 * of the date (every job without one), or, in order, rows until the page is
 * full: about `rows` × (company's jobs ÷ matching jobs) if the matching
 * jobs are spread over the order, but up to all of them if they are not
 * (open jobs are the recently updated ones: the first Assigned job by
 * updated_at, oldest first, is among the last, 700 ms away). So the choice
 * goes by what each reads for certain, and the order is tried first, for
 * at most half the rows the chosen index would read (scheduled_start order
 * on SQLite only: PostgreSQL reads it in two parts). One statement counts
 * what each filter's index would read, through the index alone, each at
 * most ESTIMATE_CAP (status, priority: exactly, from job_counts).
 */
export async function estimateWalk(db: Db, companyId: number, filters: JobFilters, order?: { sort: JobSort; rows: number }): Promise<WalkEstimate> {
  const sortIndex = order && sortIndexOf(order.sort)
  if (!needsChoice(db, filters, sortIndex)) return { walk: 'planner' }
  const leads = filterIndexes(filters)
  const references: JobFilters = { assignedTechnicianId: filters.assignedTechnicianId, customerLocationId: filters.customerLocationId, customerId: filters.customerId }
  // In scheduled_start order on SQLite, beside an updated_at mark, created_at
  // bounds that leave out few jobs are held by the updated_at index too,
  // written as the ids of those jobs (excludeOutsideCreated), which it holds.
  const createdSides = outsideSides(filters).filter((side) => side.column === 'created_at')
  const mayExclude =
    isSqlite(db) && sortIndex === 'scheduled' && filters.updatedFrom !== undefined && createdSides.length > 0 &&
    filtersOnly(filters, 'statuses', 'priority', 'updatedFrom', 'createdFrom', 'createdTo')
  const row = (
    await db
      .selectNoFrom(() => [
        ...(mayExclude ? createdSides.map((side, i) => cappedCount(db, companyId, outsideOf([side]), OUTSIDE_COUNT_CAP).as(`outside${i}`)) : []),
        jobCountsSum(db, companyId, {}).as('company'),
        (leads.includes('status') ? jobCountsSum(db, companyId, { statuses: filters.statuses }) : sql`null`).as('status'),
        (leads.includes('priority') ? jobCountsSum(db, companyId, { priority: filters.priority }) : sql`null`).as('priority'),
        (leads.includes('reference') ? cappedCount(db, companyId, (q) => applyFilters(db, q, references)) : sql`null`).as('reference'),
        (leads.includes('created') ? cappedCount(db, companyId, (q) => applyFilters(db, q, { createdFrom: filters.createdFrom, createdTo: filters.createdTo }), ESTIMATE_CAP, 'j.created_at') : sql`null`).as('created'),
        (leads.includes('updated') ? cappedCount(db, companyId, (q) => applyFilters(db, q, { updatedFrom: filters.updatedFrom }), ESTIMATE_CAP, 'j.updated_at') : sql`null`).as('updated'),
      ])
      .execute()
  )[0] as Record<string, unknown>
  const company = Number(row.company)
  const counted = (index: IndexWalk) => (row[index] === null || row[index] === undefined ? Infinity : Number(row[index]))
  const createdByExclusion = mayExclude && createdSides.every((_, i) => Number(row[`outside${i}`]) < OUTSIDE_COUNT_CAP)
  // What a walk costs, in rows read from the table. A walk of the updated_at
  // index under filters it holds reads the index alone, all of its range if
  // need be (the whole company when the count stopped at the cap), for a
  // count or a list in updated_at order, and on SQLite in scheduled_start
  // order (migration 0008), where scheduled_start order is tried first
  // (below); created_at order reads each matching row's created_at from the
  // table. PostgreSQL reads a page in scheduled_start order without a try:
  // there the updated_at walk sorted a million entries for an old mark
  // (`updated_after=2020-01-01`, page 20: 12 → 170 ms) where that order
  // finds the page at once.
  const indexOnly = (index: IndexWalk) =>
    index === 'updated' &&
    (heldByUpdatedIndex(filters) || createdByExclusion) &&
    (sortIndex === undefined || sortIndex === 'updated' || (sortIndex === 'scheduled' && isSqlite(db)))
  const weighed = (index: IndexWalk, rows: number) => (indexOnly(index) ? rows / (index === sortIndex ? IN_ORDER_SPEEDUP : INDEX_ONLY_SPEEDUP) : rows)
  const reads = (index: IndexWalk) => weighed(index, indexOnly(index) && counted(index) >= ESTIMATE_CAP ? company : counted(index))
  const candidates = leads.filter((index) => index !== sortIndex).sort((a, b) => reads(a) - reads(b))
  const [best] = candidates
  // A walk is chosen when what it reads is known to be few, or bounded by
  // the index alone: the cheapest such. The updated_at index read alone may
  // be it where a filter's index reads fewer rows, but each from the table
  // (the 80,000 Urgent jobs against a mark a year back: that walk reads
  // 449,000 index entries and no table row).
  const walk: IndexWalk = candidates.find((index) => reads(index) < ESTIMATE_CAP || indexOnly(index)) ?? 'planner'
  if (!sortIndex) return { walk }
  // The sort's index reads no more rows than any filter's, for certain.
  const inOrder = leads.includes(sortIndex as 'created' | 'updated') ? reads(sortIndex) : weighed(sortIndex, company)
  if (best === undefined || inOrder <= reads(best)) return { walk: sortIndex }
  if (sortIndex === 'scheduled') {
    // When every filter matches many jobs, scheduled_start order finds a
    // page soonest. On PostgreSQL a page of it is read in two parts
    // (keysByScheduleParts), without a try.
    if (walk === 'planner') return { walk: 'scheduled' }
    if (!isSqlite(db)) return { walk }
  }
  // At most half the rows the chosen index would read; where it reads the
  // updated_at index alone past the estimate's cap, ESTIMATE_CAP rows: that
  // walk then sorts more entries than that (in scheduled_start order, a
  // million of them took 110-350 ms for a page on the benchmark's data set).
  const budget = indexOnly(walk) && counted(walk) >= ESTIMATE_CAP ? ESTIMATE_CAP : Math.ceil(Math.min(reads(best), ESTIMATE_CAP) / 2)
  return { walk, dateFirst: Math.max(DATE_FIRST_MIN, budget), ...(createdByExclusion && walk === 'updated' && { createdByExclusion }) }
}

/**
 * Whether the updated_at index holds every column `f` filters on (status,
 * priority and updated_at: migration 0007), so a walk of it reads no table
 * rows but the matching ones. It holds scheduled_start too (migration
 * 0008), so a list in that order needs none of them either.
 */
function heldByUpdatedIndex(f: JobFilters): boolean {
  return filtersOnly(f, 'statuses', 'priority', 'updatedFrom')
}

/**
 * How many index entries cost as much as one row read from the table: on
 * the benchmark's data set the count of `status=Closed&updated_after=2025-11-01`
 * through the updated_at index took 451 ms reading each job's status from
 * the table and 37 ms reading it from the index (449,000 entries).
 */
const INDEX_ONLY_SPEEDUP = 10

/**
 * The same, for a walk of the updated_at index alone in its own order,
 * which neither reads the table nor sorts, and stops when the page is
 * full. It seeks too: a deep page starts from a remembered position,
 * where a status walk reads and sorts every job of the status again for
 * each seek. On the benchmark's data set, page 100 of
 * `status=Invoiced&sort=updated_at` (36,683 jobs): 89 ms through the
 * status index (26 ms a seek), 29 ms in order (5 ms a seek); through the
 * whole company in order, a page of a status no job has: 55 ms. 50 was
 * measured against 10 in the list sweep (bench:lists): 11 lists faster by
 * 0.4 s in all, and the slower within its noise.
 */
const IN_ORDER_SPEEDUP = 50

/** Rows of a date's order tried first at least (estimateWalk): a few hundred microseconds. */
const DATE_FIRST_MIN = 500

/**
 * The keys of a page read in its date's order, reading at most `budget`
 * rows of that order: the page must be full by the row `budget` rows past
 * its start (found first, through the index alone), else undefined. Also
 * undefined, without a try, when that row is a job without a scheduled
 * start: the jobs without one are last in that order, and a bound among
 * them is not one the index can end a walk at.
 */
async function keysWithinDateWalk(
  db: Db, companyId: number, filters: JobFilters, sort: JobSort, limit: number, offset: number, after: ListKey | undefined, budget: number,
): Promise<KeyRow[] | undefined> {
  const index = sortIndexOf(sort)
  // Through the sort's index alone: only the filter on its own column.
  const own: JobFilters =
    index === 'updated' ? { updatedFrom: filters.updatedFrom } : index === 'created' ? { createdFrom: filters.createdFrom, createdTo: filters.createdTo } : {}
  const [last] = await jobKeysQuery(db, companyId, own, sort, 1, budget - 1, { after, walk: index }).execute()
  if (last && last.value === null) return undefined
  const until = last && { value: Number(last.value), jobId: last.job_id }
  const rows = await jobKeysQuery(db, companyId, filters, sort, limit, offset, { after, walk: index, until }).execute()
  return rows.length === limit || until === undefined ? rows : undefined
}

/** How many of a company's jobs `where` keeps (as `j`), counting at most `cap`; `inOrderOf`: the date whose index holds the range. */
function cappedCount(db: Db, companyId: number, where: (q: any) => any, cap: number = ESTIMATE_CAP, inOrderOf?: 'j.created_at' | 'j.updated_at') {
  let rows = where(db.selectFrom('jobs as j').select(sql`1`.as('one')).where('j.company_id', '=', companyId)).limit(cap)
  // A date's range read in its order: PostgreSQL read most of a company's
  // range from the table instead of its index (a sequential scan to the cap,
  // 13 ms, against ~1 ms through the index alone).
  if (inOrderOf) rows = rows.orderBy(inOrderOf)
  return db.selectFrom(rows.as('capped')).select((c) => c.fn.countAll<number>().as('n'))
}

/**
 * jobCountsSum with the sum of the same cells' write sequences (`seq`),
 * prepared: one query per (number of statuses, with or without a
 * priority); at most 10 × 2.
 */
const countsSumOf = byShape((shape) => {
  const [statusCount, priorityCount] = shape.split('|').map(Number) as [number, number]
  return prepared((db, companyId: number, ...values: string[]) =>
    jobCountsSum(db, companyId, {
      ...(statusCount > 0 && { statuses: values.slice(0, statusCount) }),
      ...(priorityCount > 0 && { priority: values[statusCount]! }),
    }).select((eb) => eb.fn.coalesce(eb.fn.sum<number>('write_seq'), sql<number>`0`).as('seq')),
  )
})

/** Filters that the per-(status, priority) counts can answer without counting rows (and that prepared page-keys queries take). */
function countsAnswer(f: JobFilters): boolean {
  return filtersOnly(f, 'statuses', 'priority')
}

/**
 * A list filtered by status or priority and by nothing else: its count
 * cells' write sequence (countJobsAndCellsSeq) moves with only some job
 * writes, so it is worth reading to tell whether a page may have changed
 * (without filters every job write moves it, as the company's does).
 */
export function filteredByCellsAlone(f: JobFilters): boolean {
  return countsAnswer(f) && (f.statuses !== undefined || f.priority !== undefined)
}

/**
 * The exact number of jobs matching `filters`: from job_counts when only
 * status and priority filter (kept in each write's transaction, so exact
 * right after any write); with dates, from the jobs outside them when those
 * are few (countFromOutside); else counted through the index chooseWalk names.
 * `outsideCap`: tests count both ways on one data set (jobs-scale.test.ts).
 */
export async function countJobs(db: Db, companyId: number, filters: JobFilters, outsideCap = OUTSIDE_COUNT_CAP): Promise<number> {
  return (await countJobsAndCellsSeq(db, companyId, filters, outsideCap)).total
}

/**
 * countJobs, and when the counts answer the filters (status and priority
 * alone), the sum of the write sequences of the cells they select, read
 * with the counts: it moves with every write to a job the filters keep,
 * before or after the write, and with no other (recordJobWrite).
 */
export async function countJobsAndCellsSeq(
  db: Db, companyId: number, filters: JobFilters, outsideCap = OUTSIDE_COUNT_CAP,
): Promise<{ total: number; cellsSeq?: number }> {
  if (countsAnswer(filters)) {
    const statuses = filters.statuses ?? []
    const priorities = filters.priority !== undefined ? [filters.priority] : []
    const [row] = await countsSumOf(`${statuses.length}|${priorities.length}`)(db, companyId, ...statuses, ...priorities)
    return { total: Number(row!.n), cellsSeq: Number(row!.seq) }
  }
  const total = (await countFromOutside(db, companyId, filters, outsideCap)) ?? (await countRows(db, companyId, filters, await chooseWalk(db, companyId, filters)))
  return { total }
}

/** Jobs outside a date bound counted at most, each side (about 0.2 ms of index entries). */
const OUTSIDE_COUNT_CAP = 10_000

/** The jobs a date filter leaves out, on one side of it. */
interface OutsideSide {
  /** The filter that leaves them out. */
  bound: 'createdFrom' | 'createdTo' | 'updatedFrom'
  column: 'created_at' | 'updated_at'
  op: '<' | '>'
  value: number
}

/**
 * `query` (jobs as `j`) keeping only jobs within `f`'s created_at bounds,
 * said as "not one of the company's jobs outside them": the updated_at
 * index holds job_id, so a walk of it checks that without reading the table
 * (the ids, through the created_at index alone, are gathered once). For
 * bounds that leave out few jobs (estimateWalk): page 100 of
 * `created_after=2020-01-01&updated_after=2025-11-01&sort=scheduled_start`
 * on the benchmark's data set, which leaves out none, 244 ms reading each
 * job's dates from the table, 54 ms so.
 */
function excludeOutsideCreated<Q extends { where: (...args: any[]) => any }>(db: Db, query: Q, companyId: number, f: JobFilters): Q {
  let q: any = query
  for (const side of outsideSides(f).filter((s) => s.column === 'created_at')) {
    q = q.where('j.job_id', 'not in', outsideOf([side], 'o')(db.selectFrom('jobs as o').select('o.job_id').where('o.company_id', '=', companyId)))
  }
  return q
}

/** A condition on jobs as `alias`: outside each of `sides`. */
function outsideOf(sides: OutsideSide[], alias: 'j' | 'o' = 'j') {
  return (q: any) => sides.reduce((w, side) => w.where(`${alias}.${side.column}`, side.op, side.value), q)
}

function outsideSides(f: JobFilters): OutsideSide[] {
  const sides: OutsideSide[] = []
  if (f.createdFrom !== undefined) sides.push({ bound: 'createdFrom', column: 'created_at', op: '<', value: f.createdFrom })
  if (f.createdTo !== undefined) sides.push({ bound: 'createdTo', column: 'created_at', op: '>', value: f.createdTo })
  if (f.updatedFrom !== undefined) sides.push({ bound: 'updatedFrom', column: 'updated_at', op: '<', value: f.updatedFrom })
  return sides
}

/**
 * The number of jobs matching date filters (and status and priority ones),
 * counted from the jobs the dates leave out, where those are few: the jobs
 * matching the other filters (from job_counts when those are status and
 * priority alone), less the matching jobs outside each date bound with few
 * outside it, plus those outside a bound of both dates (counted twice). A
 * sync from an old mark (`updated_after=2020-01-01`, with or without
 * `status=Closed`) matches nearly every job: counting those read a million
 * index entries on every page (20-30 ms on the benchmark's data set; 700
 * ms with a status, reading each row of the table), where the jobs outside
 * are none. Beside a bound with many jobs on both sides, one with none
 * outside it (`created_after=2020-01-01&updated_after=2025-11-01`) made
 * the count read each job's created_at from the table (120 ms); now the
 * other bound is counted through its index alone. First, through each
 * date's index alone, how many jobs are outside each bound, at most `cap`;
 * then one statement counts, each side through its date's index (its few
 * rows), so all of it is of the same moment. Undefined when no bound has
 * few outside it, and for filters by technician, location or customer
 * (counted through their index).
 */
async function countFromOutside(db: Db, companyId: number, filters: JobFilters, cap: number): Promise<number | undefined> {
  // A created_at range that ends before it starts holds no job; its two
  // outsides overlap, and subtracting both would count below zero.
  if (filters.createdFrom !== undefined && filters.createdTo !== undefined && filters.createdFrom > filters.createdTo) return 0
  const sides = outsideSides(filters)
  if (sides.length === 0 || hasReferenceFilter(filters)) return undefined
  const [sizes] = await db
    .selectNoFrom(() => sides.map((side, i) => cappedCount(db, companyId, outsideOf([side]), cap).as(`side${i}`)))
    .execute()
  const few = sides.filter((_, i) => Number((sizes as Record<string, unknown>)[`side${i}`]) < cap)
  if (few.length === 0) return undefined
  // What is counted inside: status and priority, and the bounds with many jobs outside them.
  const inside: JobFilters = { statuses: filters.statuses, priority: filters.priority }
  for (const side of sides) if (!few.includes(side)) inside[side.bound] = side.value
  const matching = countsAnswer(inside) ? jobCountsSum(db, companyId, inside) : rowsCount(db, companyId, inside, await chooseWalk(db, companyId, inside))
  // Sides of one date are disjoint (the range is not inverted, above); a side of each date overlap.
  const pairs = few.flatMap((a, i) => few.slice(i + 1).filter((b) => b.column !== a.column).map((b) => [a, b]))
  // On SQLite through the first side's date index, not a status index that may hold most of the company.
  const walkOf = (side: OutsideSide): IndexWalk => (!isSqlite(db) ? 'planner' : side.column === 'created_at' ? 'created' : 'updated')
  const matchingOutside = (these: OutsideSide[]) => (eb: any) =>
    outsideOf(these)(applyFilters(db, eb.selectFrom('jobs as j').select((c: any) => c.fn.countAll().as('n')).where('j.company_id', '=', companyId), inside, walkOf(these[0]!)))
  const [row] = (await db
    .selectNoFrom((eb) => [
      matching.as('matching'),
      ...few.map((side, i) => matchingOutside([side])(eb).as(`side${i}`)),
      ...pairs.map((pair, i) => matchingOutside(pair)(eb).as(`both${i}`)),
    ])
    .execute()) as Array<Record<string, unknown>>
  const sum = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => Number(row![`${prefix}${i}`])).reduce((a, b) => a + b, 0)
  return Number(row!.matching) - sum('side', few.length) + sum('both', pairs.length)
}

/** How many of a company's jobs match `filters`, counted through `walk` (a query of one row, `n`). */
function rowsCount(db: Db, companyId: number, filters: JobFilters, walk: IndexWalk) {
  return applyFilters(db, jobsThrough(db, walk).where('j.company_id', '=', companyId), filters, walk).select((eb) => eb.fn.countAll<number>().as('n'))
}

async function countRows(db: Db, companyId: number, filters: JobFilters, walk: IndexWalk): Promise<number> {
  const row = await rowsCount(db, companyId, filters, walk).executeTakeFirstOrThrow()
  return Number(row.n)
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

/** Where a page-keys query starts and ends, and the index it walks (jobKeysQuery). */
export interface KeysQueryOptions {
  /** A seek: the page starts just past this row (created_at and updated_at orders). */
  after?: SeekFrom
  walk?: IndexWalk
  /** The last row the page may come from (keysWithinDateWalk). */
  until?: ListKey
  /** Check the created_at bounds by the ids of the jobs outside them (excludeOutsideCreated). */
  createdByExclusion?: boolean
  /**
   * In scheduled_start order on PostgreSQL, one of the list's two parts:
   * the jobs with a schedule (true) or those without (false). See
   * keysByScheduleParts.
   */
  scheduled?: boolean
}

/** The query of listJobKeys, built with Kysely (exported for tests that read its plan). */
export function jobKeysQuery(db: Db, companyId: number, filters: JobFilters, sort: JobSort, limit: number, offset: number, options: KeysQueryOptions = {}) {
  const { after, walk = 'planner', until, scheduled, createdByExclusion } = options
  const { direction, column: name } = sortParts(sort)
  // Led by another index: the date it sorts by must not offer its own, for its order or a seek either.
  const sortColumn = column(`j.${name}`, hides(walk, sortIndexOf(sort)))
  // The filter's bounds on the sort column that the seek (where the walk starts) and `until` (where it ends) replace.
  const lower = name === 'created_at' ? 'createdFrom' : name === 'updated_at' ? 'updatedFrom' : undefined
  const upper = name === 'created_at' ? 'createdTo' : undefined
  const [start, end] = direction === 'asc' ? [lower, upper] : [upper, lower]
  const replaced = [after && start, until && end].filter((bound): bound is keyof JobFilters => bound !== undefined)
  const applied = createdByExclusion ? { ...filters, createdFrom: undefined, createdTo: undefined } : filters
  let query = applyFilters(db, jobsThrough(db, walk).where('j.company_id', '=', companyId), applied, walk, replaced)
  if (createdByExclusion) query = excludeOutsideCreated(db, query, companyId, filters)
  if (after) {
    // Only for created_at / updated_at, which are never null (jobs.pages.ts seeks in no other order).
    if (name === 'scheduled_start') throw new Error('a seek needs a sort column without nulls')
    query = query.where(sql<boolean>`(${sortColumn}, j.job_id) ${sql.raw(direction === 'desc' ? '<' : '>')} (${after.value}, ${after.jobId})`)
  }
  if (until) {
    query = query.where(sql<boolean>`(${sortColumn}, j.job_id) ${sql.raw(direction === 'desc' ? '>=' : '<=')} (${until.value}, ${until.jobId})`)
  }
  // Jobs without a scheduled start come last in both directions. Said as
  // NULLS LAST, SQLite reads the order from the index (in two passes);
  // said as an `is null` term first, it sorted the whole company (218-444
  // ms for `sort=-scheduled_start` over a million jobs). PostgreSQL reads
  // neither from the index (backwards, its nulls come first), so it reads
  // each part of the list by itself (`scheduled`); the term, which sorts
  // every matching job, is left for a query asked for whole.
  if (scheduled !== undefined) query = query.where(sortColumn, scheduled ? 'is not' : 'is', null)
  const nullsLastByTerm = name === 'scheduled_start' && !isSqlite(db) && scheduled === undefined
  if (nullsLastByTerm) query = query.orderBy(sql`(j.scheduled_start is null)`, 'asc')
  if (walk === 'updated' && name === 'scheduled_start' && direction === 'desc' && isSqlite(db)) {
    // Sorted from the updated_at index (migration 0008), which SQLite reads
    // oldest first: the jobs with the latest schedules, the recently
    // updated ones, came last, and each displaced one the sort had kept
    // (page 100 of `priority=Urgent&updated_after=2020-01-01`, 80,000 jobs:
    // this statement took 96 ms; of `status=Closed`, 865,000: 328 ms).
    // Read newest first (a subquery in that order, which LIMIT -1 keeps
    // SQLite from merging into this query), most are never kept: 61 and
    // 119-160 ms.
    const newestFirst = query.select(['j.scheduled_start as value', 'j.job_id']).orderBy('j.updated_at', 'desc').limit(sql.lit(-1))
    return db
      .selectFrom(newestFirst.as('j'))
      .select(['j.value', 'j.job_id'])
      .orderBy('j.value', (order) => order.desc().nullsLast())
      .orderBy('j.job_id', 'desc')
      .limit(limit)
      .offset(offset)
  }
  return query
    .select([`j.${name} as value`, 'j.job_id'])
    .orderBy(sortColumn, (order) => (name === 'scheduled_start' && isSqlite(db) ? order[direction]().nullsLast() : order[direction]()))
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
    return jobKeysQuery(db, companyId, filters, sort, limit, offset, { after, walk })
  })
})

/**
 * The ids (and sort keys) of one page, read from the jobs table alone so a
 * deep OFFSET steps through the covering index instead of joining every
 * skipped row; `after` starts the page just past a known position (a seek).
 * `choice`: the walk, or an estimate to follow (a deep page's positions
 * keep the one they were built with); estimated for the page when not given.
 */
export async function listJobKeys(
  db: Db, companyId: number, filters: JobFilters, sort: JobSort, limit: number, offset: number, after?: ListKey, choice?: IndexWalk | WalkEstimate,
): Promise<ListKey[]> {
  let rows: KeyRow[] | undefined
  let estimate: WalkEstimate = typeof choice === 'object' ? choice : { walk: choice ?? 'planner' }
  // The lists polled all day have nothing to choose: no promise spent on them.
  if (choice === undefined && needsChoice(db, filters, sortIndexOf(sort))) estimate = await estimateWalk(db, companyId, filters, { sort, rows: offset + limit })
  if (estimate.dateFirst) rows = await keysWithinDateWalk(db, companyId, filters, sort, limit, offset, after, estimate.dateFirst)
  const { walk } = estimate
  if (!isSqlite(db) && sortParts(sort).column === 'scheduled_start') rows = await keysByScheduleParts(db, companyId, filters, sort, limit, offset, after, walk)
  if (rows === undefined && countsAnswer(filters)) {
    const statuses = filters.statuses ?? []
    const priorities = filters.priority !== undefined ? [filters.priority] : []
    const seek = after ? [after.value, after.jobId] : []
    const shape = `${sort}|${statuses.length}|${priorities.length}|${seek.length ? 1 : 0}|${walk}`
    rows = await preparedJobKeysOf(shape)(db, companyId, limit, offset, ...statuses, ...priorities, ...seek)
  }
  rows ??= await jobKeysQuery(db, companyId, filters, sort, limit, offset, { after, walk, createdByExclusion: estimate.createdByExclusion }).execute()
  return rows.map((r) => ({ value: Number(r.value), jobId: r.job_id }))
}

/**
 * A page in scheduled_start order on PostgreSQL: first the jobs with a
 * schedule, in its order (from the scheduled_start index when that walk
 * leads), then, if the page reaches past them, the jobs without one. Asked
 * for as one query, PostgreSQL sorted every matching job (page 100 of
 * `status=Closed&sort=-scheduled_start`, 865,000 jobs: 600 ms).
 */
async function keysByScheduleParts(
  db: Db, companyId: number, filters: JobFilters, sort: JobSort, limit: number, offset: number, after: ListKey | undefined, walk: IndexWalk,
): Promise<KeyRow[]> {
  // `after`: none in this order, which jobKeysQuery enforces.
  const scheduled = await jobKeysQuery(db, companyId, filters, sort, limit, offset, { after, walk, scheduled: true }).execute()
  if (scheduled.length === limit) return scheduled
  // How many jobs have a schedule: all of them are before this page's unscheduled rows.
  const before = scheduled.length > 0 ? offset + scheduled.length : await countScheduled(db, companyId, filters)
  const unscheduled = await jobKeysQuery(db, companyId, filters, sort, limit - scheduled.length, Math.max(0, offset - before), { walk, scheduled: false }).execute()
  return [...scheduled, ...unscheduled]
}

async function countScheduled(db: Db, companyId: number, filters: JobFilters): Promise<number> {
  const row = await rowsCount(db, companyId, filters, 'planner').where('j.scheduled_start', 'is not', null).executeTakeFirstOrThrow()
  return Number(row.n)
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
 * `estimate`: the positions' (listJobKeys), made when not given.
 */
export async function listJobBoundaries(
  db: Db, companyId: number, filters: JobFilters, sort: JobSort, after: ListKey, step: number, count: number, estimate?: WalkEstimate,
): Promise<ListKey[]> {
  if (sortParts(sort).column === 'scheduled_start') throw new Error('boundaries need a sort column without nulls')
  const walk = estimate?.walk ?? (await chooseWalk(db, companyId, filters, { sort, rows: step }))
  if (hides(walk, sortIndexOf(sort))) return everyStepth(db, companyId, filters, sort, after, step, count, walk)
  if (isSqlite(db)) {
    const keys: ListKey[] = []
    let previous = after
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
  // The row `step` rows past the boundary before (b), with the list's filters.
  const next = jobKeysQuery(db, companyId, filters, sort, 1, step - 1, { after: { value: sql.ref<number>('b.value'), jobId: sql.ref<number>('b.job_id') }, walk })
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
  const keys = jobKeysQuery(db, companyId, filters, sort, step * count, 0, { after, walk })
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
    jobCountsSum(db, companyId, {}).as('total'),
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
