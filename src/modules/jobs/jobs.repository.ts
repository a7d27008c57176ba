/**
 * Jobs SQL (Kysely only) by job id: the job as GET shows it (one, or the
 * jobs of a list page by their ids), its history and asset links, and the
 * writes, among them `touchJobsShowing`, which the other modules call when
 * a record jobs show changes. Which jobs a list holds, and their totals,
 * are found in jobs.list-queries.ts; the record every job write leaves
 * (history line, write sequence, counts) is in jobs.write-record.ts. Every
 * function takes the company id: a query without a tenant cannot be
 * written by accident (DESIGN.md habit 4).
 */
import { setImmediate } from 'node:timers/promises'
import { sql, type Kysely, type QueryCreator } from 'kysely'
import type { Database, JobRow, NewJob } from '../../db/types.ts'
import { isSqlite } from '../../db/dialect.ts'
import { byShape, prepared, preparedInsert, preparedWrite } from '../../db/prepared.ts'
import { LOCKED_STATUSES, type JobStatus } from './status.ts'
import { cellsInLockOrder, recordJobWrite, stripeFor, touchJobLists, withRecordOnPostgres, WRITTEN_JOB_ID, WRITTEN_UPDATED_AT, type CountMoves } from './jobs.write-record.ts'

type Db = Kysely<Database>

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
 * PostgreSQL: the job view with its row locked (`FOR NO KEY UPDATE OF j`), and the
 * row's version as the statement's snapshot saw it before the lock.
 */
const lockedJobViewById = prepared((db, companyId: number, jobId: number) =>
  jobViewWithLinks(db, companyId, jobId)
    .select((eb) => eb.selectFrom('jobs as s').select('s.row_version').whereRef('s.job_id', '=', 'j.job_id').as('row_version_before_lock'))
    .forNoKeyUpdate('j'),
)

const lockJobRow = prepared((db, companyId: number, jobId: number) =>
  db.selectFrom('jobs').select('job_id').where('company_id', '=', companyId).where('job_id', '=', jobId).forNoKeyUpdate(),
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

const insertJobRow = preparedInsert((db, ...values: unknown[]) => {
  const insert = db.insertInto('jobs').values(Object.fromEntries(NEW_JOB_COLUMNS.map((column, i) => [column, values[i]])) as NewJob)
  return isSqlite(db) ? insert : insert.returning('job_id')
})

export function insertJob(db: Db, job: Required<Omit<NewJob, 'job_id' | 'row_version'>>): Promise<number> {
  return insertJobRow(db, ...NEW_JOB_COLUMNS.map((column) => job[column]))
}

/** What a new job's parameters are cast to in insertJobRecordedOnPostgres (a SELECT list has no column to infer them from). */
const NEW_JOB_TYPES = {
  company_id: 'bigint', job_title: 'text', job_description: 'text', job_status: 'text', job_priority: 'text', assigned_technician_id: 'bigint',
  customer_location_id: 'bigint', scheduled_start: 'bigint', scheduled_end: 'bigint', actual_start: 'bigint', actual_end: 'bigint',
  created_at: 'bigint', updated_at: 'bigint',
} as const satisfies Record<(typeof NEW_JOB_COLUMNS)[number], 'bigint' | 'text'>

/**
 * A create on PostgreSQL as one statement (issue 6): the job is inserted only
 * if its location is the company's and its technician, if it has one, is
 * the company's and Active (the service's reference rules), and is recorded
 * (history line, write sequence, count) by CTEs on the insert's RETURNING
 * row. A statement is atomic by itself, so outside an idempotent request it
 * needs no BEGIN and COMMIT: one round trip where a create took five or six,
 * each of which costs both processes system calls and a wake-up.
 */
const insertJobRecordedOnPostgres = prepared((db, stripe: number, keyId: number | null, ...values: unknown[]) => {
  const job = Object.fromEntries(NEW_JOB_COLUMNS.map((column, i) => [column, values[i]])) as Required<Omit<NewJob, 'job_id' | 'row_version'>>
  return withRecordOnPostgres(
    db.with('written', (w) =>
      w
        .insertInto('jobs')
        .columns([...NEW_JOB_COLUMNS])
        .expression(
          w
            .selectNoFrom((s) => NEW_JOB_COLUMNS.map((column) => s.cast(s.val(job[column]), NEW_JOB_TYPES[column]).as(column)))
            .where((s) =>
              s.and([
                s.exists(
                  s.selectFrom('customer_locations').select(sql<number>`1`.as('one')).where('company_id', '=', job.company_id).where('customer_location_id', '=', job.customer_location_id),
                ),
                s.or([
                  s(s.cast(s.val(job.assigned_technician_id), 'bigint'), 'is', null),
                  s.exists(
                    s
                      .selectFrom('technicians')
                      .select(sql<number>`1`.as('one'))
                      .where('company_id', '=', job.company_id)
                      .where('technician_id', '=', job.assigned_technician_id)
                      .where('technician_status', '=', 'Active'),
                  ),
                ]),
              ]),
            ),
        )
        .returning('job_id'),
    ),
    job.company_id,
    stripe,
    [WRITTEN_JOB_ID, null, job.job_status, job.created_at, keyId],
    [job.job_status, job.job_priority, 1],
  )
    .selectFrom('written')
    .select('job_id')
})

/**
 * insertJobRecordedOnPostgres: the new job's id, or undefined when a
 * reference rule failed (nothing was written; the service's checks say which).
 */
export async function insertJobRecorded(db: Db, job: Required<Omit<NewJob, 'job_id' | 'row_version'>>, keyId: number | null): Promise<number | undefined> {
  const [row] = await insertJobRecordedOnPostgres(db, stripeFor(db), keyId, ...NEW_JOB_COLUMNS.map((column) => job[column]))
  return row?.job_id
}

/**
 * updated_at never moves back, even if clocks of two servers disagree (API.md §8).
 */
export function bumpUpdatedAt(now: number) {
  return sql<number>`case when updated_at > ${now} then updated_at else ${now} end`
}

/** A record whose change shows on the jobs that refer to it; `anyAsset`: every job with asset links (the company's assets module came or went). */
export type ShownRecord = { technicianId: number } | { locationId: number } | { customerId: number } | { assetId: number } | { anyAsset: true }

/**
 * Jobs whose answer changed without a write of their own: the customer,
 * location or technician whose name they show was renamed, their location
 * moved to another customer, an asset linked to them changed what jobs
 * show of it or was deleted, or their company gained or lost the assets
 * module (their `assets` appear or become `[]`). Their `updated_at` and row version move as a
 * write's do (never backwards), so a sync by `updated_after` sees them
 * (docs/syncing.md: a renamed technician's jobs came back with the old name
 * in an integrator's copy, for good), and the company's job lists are
 * marked changed. Closed and Cancelled jobs too: their answer changed.
 */
export async function touchJobsShowing(db: Db, companyId: number, shown: ShownRecord, now: number): Promise<void> {
  let showing = db.selectFrom('jobs').select('job_id').where('company_id', '=', companyId)
  if ('technicianId' in shown) showing = showing.where('assigned_technician_id', '=', shown.technicianId)
  else if ('locationId' in shown) showing = showing.where('customer_location_id', '=', shown.locationId)
  else if ('customerId' in shown) {
    const locations = db.selectFrom('customer_locations').select('customer_location_id').where('company_id', '=', companyId).where('customer_id', '=', shown.customerId)
    showing = showing.where('customer_location_id', 'in', locations)
  } else {
    let linked = db.selectFrom('job_assets').select('job_id').where('company_id', '=', companyId)
    if ('assetId' in shown) linked = linked.where('asset_id', '=', shown.assetId)
    showing = showing.where('job_id', 'in', linked)
  }
  const touch = (jobs: typeof showing | number[]) =>
    db
      .updateTable('jobs')
      .set({ updated_at: bumpUpdatedAt(now), row_version: sql<number>`row_version + 1` })
      // `+company_id`: no index serves it, so SQLite finds the jobs by their ids
      // (by a company index it read the whole company for each slice).
      .where(sql.raw('+company_id'), '=', companyId)
      .where('job_id', 'in', jobs)
      .execute()
  if (isSqlite(db)) {
    // better-sqlite3 runs a statement on the event loop: a technician's
    // 3,360 jobs in the benchmark's data took 100-215 ms in one statement,
    // a customer's 6,991 jobs 310 ms, with every request waiting. In
    // slices, with a turn of the event loop between them, it answers
    // meanwhile (the transaction stays one; other writes queue behind it):
    // renames of the largest technicians and customers, with fsm serve's
    // checkpoint worker, held the event loop at most 266 ms (the COMMIT),
    // p99 41 ms, against 516 ms and 184 ms in one statement.
    const ids = (await showing.orderBy('job_id').execute()).map((row) => row.job_id)
    for (let at = 0; at < ids.length; at += TOUCH_SLICE) {
      if (at > 0) await setImmediate()
      await touch(ids.slice(at, at + TOUCH_SLICE))
    }
  } else {
    // The rows locked in job_id order first, so that two touches of
    // overlapping jobs (a technician's and a location's) cannot each hold a
    // row the other waits for.
    await touch(showing.orderBy('job_id').forNoKeyUpdate())
  }
  await touchJobLists(db, companyId)
}

/** Jobs a SQLite touch writes in one statement (about 10-20 ms of the event loop on the benchmark's data). */
const TOUCH_SLICE = 400

/** The columns a PUT may change (API.md §4); the service sends only those it changes. */
export type UpdatableJobColumns = Partial<
  Pick<JobRow, 'job_title' | 'job_description' | 'job_priority' | 'customer_location_id' | 'assigned_technician_id' | 'scheduled_start' | 'scheduled_end'>
>

function updateQuery(db: QueryCreator<Database>, companyId: number, jobId: number, now: number, columns: string[], values: unknown[]) {
  return db
    .updateTable('jobs')
    .set({ ...Object.fromEntries(columns.map((column, i) => [column, values[i]])), updated_at: bumpUpdatedAt(now), row_version: sql<number>`row_version + 1` })
    .where('company_id', '=', companyId)
    .where('job_id', '=', jobId)
    .where('job_status', 'not in', [...LOCKED_STATUSES])
    .returning(['updated_at', 'row_version'])
}

/** The changed columns of a shape of updateOf (none: a PUT that changes nothing still moves updated_at). */
const columnsOf = (shape: string) => (shape === '' ? [] : shape.split(','))

/** One prepared statement per set of changed columns (at most 2^7; a PUT's SQL differs with what it sends). */
const updateOf = byShape((shape) => {
  const columns = columnsOf(shape)
  return prepared((db, companyId: number, jobId: number, now: number, ...values: unknown[]) => updateQuery(db, companyId, jobId, now, columns, values))
})

/** The columns every update sets besides the changed ones, as the database wrote them. */
export type UpdateResult = Pick<JobRow, 'updated_at' | 'row_version'>

/** Partial update of a job that is not locked; returns what it wrote, or undefined when the job became locked (or vanished). */
export async function updateJob(db: Db, companyId: number, jobId: number, changes: UpdatableJobColumns, now: number): Promise<UpdateResult | undefined> {
  const columns = (Object.keys(changes) as Array<keyof UpdatableJobColumns>).sort()
  return (await updateOf(columns.join(','))(db, companyId, jobId, now, ...columns.map((column) => changes[column])))[0]
}

/**
 * updateJob on PostgreSQL with its record (the write sequence, and the
 * count cells: a move if the priority changes, else the job's own cell) in
 * one statement, written only if the job is still at `rowVersion`: the
 * caller read it without a lock. One statement per set of changed columns
 * and number of count cells.
 */
const updateRecordedOnPostgresOf = byShape((shape) => {
  const [changed = ''] = shape.split('|')
  const columns = columnsOf(changed)
  return prepared((db, companyId: number, stripe: number, jobId: number, now: number, rowVersion: number, ...values: unknown[]) =>
    withRecordOnPostgres(
      db.with('written', (w) => updateQuery(w, companyId, jobId, now, columns, values).where('row_version', '=', rowVersion)),
      companyId,
      stripe,
      [],
      values.slice(columns.length) as Array<string | number>,
    )
      .selectFrom('written')
      .select(['updated_at', 'row_version']),
  )
})

/**
 * updateJob and its record (`moves`, as for recordJobWrite) as one write, if
 * the job is still at `rowVersion` and not locked (PostgreSQL); undefined if
 * not (nothing written).
 */
export async function updateJobRecorded(
  db: Db,
  companyId: number,
  jobId: number,
  rowVersion: number,
  changes: UpdatableJobColumns,
  now: number,
  moves: CountMoves,
): Promise<UpdateResult | undefined> {
  const columns = (Object.keys(changes) as Array<keyof UpdatableJobColumns>).sort()
  const update = updateRecordedOnPostgresOf(`${columns.join(',')}|${moves.length}`)
  return (await update(db, companyId, stripeFor(db), jobId, now, rowVersion, ...columns.map((column) => changes[column]), ...cellsInLockOrder(moves)))[0]
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
 * record's: one round trip instead of two. There it writes only if the
 * job is still at `rowVersion` as well, the version `priority` was read at:
 * the caller need not have locked the row (a write in between, which could
 * have moved the job to another priority, makes it write nothing).
 */
export async function changeStatusRecorded(
  db: Db,
  companyId: number,
  jobId: number,
  change: { from: JobStatus; to: JobStatus; at: number; keyId: number | null },
  priority: string,
  rowVersion: number,
): Promise<StatusChangeResult | undefined> {
  const { from, to, at, keyId } = change
  const moves: CountMoves = [
    { status: from, priority, delta: -1 },
    { status: to, priority, delta: 1 },
  ]
  if (isSqlite(db)) {
    const written = await changeStatus(db, companyId, jobId, from, to, at)
    // The history line is stamped as the job was (never before its last stamp).
    if (written) await recordJobWrite(db, companyId, moves, { jobId, from, to, at: written.updated_at, keyId })
    return written
  }
  const record = statusChangesRecordedOnPostgres[shapeOf(to)]
  return (await record(db, companyId, stripeFor(db), jobId, from, to, at, keyId, rowVersion, ...cellsInLockOrder(moves)))[0]
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
      // Stamped as updated_at is (never before the job's last stamp), so
      // created_at <= actual_start <= actual_end <= updated_at holds even
      // when this server's clock is behind a stamp already written.
      ...(shape === 'start' ? { actual_start: sql<number>`coalesce(actual_start, ${bumpUpdatedAt(now)})` } : {}),
      ...(shape === 'end' ? { actual_end: bumpUpdatedAt(now) } : {}),
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
  return prepared((db, companyId: number, stripe: number, jobId: number, from: string, to: string, at: number, keyId: number | null, rowVersion: number, ...cells: Array<string | number>) =>
    withRecordOnPostgres(
      db.with('written', (w) => statusChangeQuery(w, companyId, jobId, from, to, at, shape).where('row_version', '=', rowVersion)),
      companyId,
      stripe,
      // The history line is stamped as the job was (never before its last stamp).
      [jobId, from, to, WRITTEN_UPDATED_AT, keyId],
      cells,
    )
      .selectFrom('written')
      .select(STATUS_CHANGE_RETURNS),
  )
}

const statusChangesRecordedOnPostgres = perShape(preparedStatusChangeRecordedOnPostgres)

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
