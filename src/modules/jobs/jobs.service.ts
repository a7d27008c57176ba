/**
 * Jobs: the rules of seed/jobs-api.md and API.md §4. Knows nothing of
 * Fastify (a write's preconditions arrive as data, http/conditional.ts);
 * takes `db` (or a transaction) first, throws ApiError codes.
 */
import type { Kysely } from 'kysely'
import type { Database, LocationRow, TechnicianRow } from '../../db/types.ts'
import { isSqlite } from '../../db/dialect.ts'
import { nowSeconds, toIso } from '../../db/time.ts'
import { inTransaction, singleWrite, type BeforeCommit } from '../../db/transaction.ts'
import { assertConditions, isConditional, type WriteConditions, serializedWithTag, type Tagged } from '../../http/conditional.ts'
import { ApiError, notFound, NOTHING_TO_UPDATE, refersToNone, validationError, type FieldError } from '../../http/errors.ts'
import { parseDateBound } from '../../http/formats.ts'
import { pageRequest, pagination } from '../../http/pagination.ts'
import { isWellFormedId } from '../../http/schemas.ts'
import { ASSET_LINKS_NEED_MODULE, requireAssetsModule, type Actor } from '../actor.ts'
import { liveAssetIds } from '../assets/assets.repository.ts'
import { findCustomer } from '../customers/customers.repository.ts'
import { findLocation } from '../locations/locations.repository.ts'
import { findTechnician } from '../technicians/technicians.repository.ts'
import * as jobs from './jobs.repository.ts'
import { countJobsAndCellsSeq, type JobFilters } from './jobs.list-queries.ts'
import { readListSeqs, recordJobWrite, type CountMoves, type ListSeqs } from './jobs.write-record.ts'
import type { CreateJobInput, JobListItemView, JobListQueryInput, JobSort, UpdateJobInput } from './jobs.schemas.ts'
import { presentJob, presentJobListItem } from './jobs.presenter.ts'
import type { JobListCaches } from './jobs.pages.ts'
import { jobRequestRules, scheduleProblem, toSeconds } from './jobs.rules.ts'
import { canTransition, LOCKED_STATUSES, TRANSITIONS, transitionRefusal, type JobStatus } from './status.ts'

type Db = Kysely<Database>

const DEFAULT_RELATIONSHIP = 'serviced'

/** Job writes with `asset_ids` need the company's Asset Management module. */
export const requireAssetLinking = (actor: Actor) => requireAssetsModule(actor, ASSET_LINKS_NEED_MODULE)

/** The asset links a job shows: none without the asset module, and no query for a job without links. */
async function assetsShown(db: Db, actor: Actor, row: jobs.JobViewWithLinks) {
  // has_asset_links is 0/1 on SQLite, a boolean on PostgreSQL.
  return actor.modules.has('assets') && row.has_asset_links ? jobs.findJobAssets(db, actor.companyId, row.job_id) : []
}

/** A job as GET shows it, with its ETag (the representation and the row's version). */
function shown(row: jobs.JobViewRow, assets: Awaited<ReturnType<typeof assetsShown>>) {
  const job = presentJob(row, assets)
  // presentJob builds the documented fields one by one, so its JSON is the answer's `data` as is.
  return { data: job, ...serializedWithTag(row.row_version, job) }
}

export async function getJob(db: Db, actor: Actor, jobId: number) {
  const row = await jobs.findJobView(db, actor.companyId, jobId)
  if (!row) throw notFound('Job', jobId)
  return shown(row, await assetsShown(db, actor, row))
}


export async function getHistory(db: Db, actor: Actor, jobId: number) {
  if (!(await jobs.findJob(db, actor.companyId, jobId))) throw notFound('Job', jobId)
  const rows = await jobs.findHistory(db, actor.companyId, jobId)
  return rows.map((r) => ({
    from_status: r.from_status as JobStatus | null,
    to_status: r.to_status as JobStatus,
    changed_at: toIso(r.changed_at),
    changed_by: r.key_id === null ? null : { key_id: r.key_id, key_name: r.key_name ?? '' },
  }))
}

export async function getTransitions(db: Db, actor: Actor, jobId: number) {
  const job = await jobs.findJob(db, actor.companyId, jobId)
  if (!job) throw notFound('Job', jobId)
  const status = job.job_status as JobStatus
  return { job_id: jobId, job_status: status, allowed_transitions: [...TRANSITIONS[status]] }
}

/**
 * What a list request asks for, and the key its remembered answer is kept
 * under (company, sort, page and filters: two requests with the same key
 * have the same answer while the company's job write sequence stands).
 */
export function listRequestOf(companyId: number, query: JobListQueryInput) {
  const filters: JobFilters = {
    ...(query.status !== undefined && { statuses: [...new Set(query.status.split(','))] }),
    ...(query.priority !== undefined && { priority: query.priority }),
    ...(query.assigned_technician_id !== undefined && { assignedTechnicianId: query.assigned_technician_id }),
    ...(query.customer_location_id !== undefined && { customerLocationId: query.customer_location_id }),
    ...(query.customer_id !== undefined && { customerId: query.customer_id }),
    // The schema has already checked the formats, so these parse.
    ...(query.created_after !== undefined && { createdFrom: parseDateBound(query.created_after, false)! }),
    ...(query.created_before !== undefined && { createdTo: parseDateBound(query.created_before, true)! }),
    ...(query.updated_after !== undefined && { updatedFrom: parseDateBound(query.updated_after, false)! }),
  }
  const page = pageRequest(query.page, query.per_page)
  const sort: JobSort = query.sort ?? '-created_at'
  const cacheKey = `${companyId}|${sort}|${page.page}|${page.perPage}|${JSON.stringify(filters)}`
  return { filters, page, sort, cacheKey }
}

/** A list request as listRequestOf reads it. */
export type ListRequest = ReturnType<typeof listRequestOf>

/**
 * A page of jobs with its exact total. `caches` remembers answers and where
 * deep pages start, both checked against the company's job write sequence.
 */
export async function listJobs(db: Db, actor: Actor, query: JobListQueryInput, caches: JobListCaches) {
  return listJobsAt(db, actor, listRequestOf(actor.companyId, query), caches, await readListSeqs(db, actor.companyId))
}

/**
 * listJobs of a request already read (listRequestOf), at the company's
 * sequences, read in the same snapshot (the read thread reports the write
 * sequence its page holds at, and looks up what the page was read at).
 */
export async function listJobsAt(db: Db, actor: Actor, { filters, page, sort, cacheKey }: ListRequest, caches: JobListCaches, { writeSeq: seq, namesSeq }: ListSeqs) {
  const cached = caches.answers.get(cacheKey, seq) as ReturnType<typeof answer> | undefined
  if (cached) return cached
  const { total, cellsSeq } = await countJobsAndCellsSeq(db, actor.companyId, filters)
  const stale = caches.answers.stale(cacheKey)
  const namesHold = stale !== undefined && stale.proof.namesSeq === namesSeq
  if (namesHold && cellsSeq !== undefined && stale.proof.cellsSeq === cellsSeq && stale.proof.total === total) {
    // A list filtered by status and priority alone, and no job of its cells
    // was written since the remembered answer (before or after its write):
    // no job the list shows or could show changed, so the answer holds
    // without reading its keys and row versions. Under `mixed`'s writes
    // most writes are to jobs of other cells.
    caches.answers.confirm(cacheKey, seq)
    return stale.answer as ReturnType<typeof answer>
  }
  const keys = page.offset < total ? await caches.positions.page(db, actor.companyId, { writeSeq: seq, namesSeq, cellsSeq }, filters, sort, page.perPage, page.offset) : []
  const jobIds = keys.map((k) => k.jobId)
  // Items of the remembered answer that still hold, by job, with the row version each showed.
  const remembered = new Map<number, { rowVersion: number; item: JobListItemView }>()
  if (namesHold) {
    // Jobs were written since the remembered answer, and no name it shows
    // changed. Its items are still right for the jobs that are at the same
    // row version (every job write moves it): if that is every job on this
    // page and the total is the same, the answer still holds; otherwise read
    // only the other jobs (after a create, the page has shifted by one).
    const versions = await jobs.readJobVersions(db, actor.companyId, jobIds)
    const rowVersions = jobIds.map((id) => versions.get(id) ?? -1)
    if (stale.proof.total === total && sameNumbers(stale.proof.jobIds, jobIds) && sameNumbers(stale.proof.rowVersions, rowVersions)) {
      // Checked at these cells' sequence too (read before the keys).
      caches.answers.confirm(cacheKey, seq, { ...stale.proof, cellsSeq })
      return stale.answer as ReturnType<typeof answer>
    }
    const rememberedItems = (stale.answer as ReturnType<typeof answer>).data
    // `versions` holds only jobs on this page.
    stale.proof.jobIds.forEach((id, i) => {
      const rowVersion = stale.proof.rowVersions[i]!
      if (versions.get(id) === rowVersion) remembered.set(id, { rowVersion, item: rememberedItems[i]! })
    })
  }
  const read = new Map((await jobs.findJobViews(db, actor.companyId, jobIds.filter((id) => !remembered.has(id)))).map((row) => [row.job_id, row]))
  const items: JobListItemView[] = []
  const proof = { namesSeq, cellsSeq, total, jobIds: [] as number[], rowVersions: [] as number[] }
  for (const id of jobIds) {
    const row = read.get(id)
    const kept = remembered.get(id)
    // Neither: not found by the read (as in findJobViews, a job that is gone is not shown).
    if (!row && !kept) continue
    items.push(row ? presentJobListItem(row) : kept!.item)
    proof.jobIds.push(id)
    proof.rowVersions.push(row ? Number(row.row_version) : kept!.rowVersion)
  }
  const result = answer(items, total)
  caches.answers.set(cacheKey, seq, result, proof)
  return result

  function answer(data: JobListItemView[], total: number) {
    return { data, pagination: pagination(page, total), page }
  }
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i])
}

/**
 * Foreign ids inside the body must be the caller's company's (API.md §3); all
 * problems are reported together. `currentTechnicianId` is the job's
 * technician now: re-sending it (a sync client sending the whole record) is
 * not a new assignment, so it passes even if that technician was deactivated
 * since (API.md §5 leaves such jobs as they are). A create on PostgreSQL
 * checks the same rules inside its one statement (jobs.insertJobRecorded):
 * a rule added here must be added there.
 */
async function checkReferences(
  db: Db,
  actor: Actor,
  input: { customer_location_id?: number; assigned_technician_id?: number | null },
  details: FieldError[],
  currentTechnicianId: number | null = null,
) {
  const found: { location?: LocationRow; technician?: TechnicianRow } = {}
  if (input.customer_location_id !== undefined) {
    found.location = await findLocation(db, actor.companyId, input.customer_location_id)
    if (!found.location) details.push({ field: 'customer_location_id', message: refersToNone('location', input.customer_location_id) })
  }
  if (input.assigned_technician_id !== undefined && input.assigned_technician_id !== null) {
    const technician = (found.technician = await findTechnician(db, actor.companyId, input.assigned_technician_id))
    if (!technician) details.push({ field: 'assigned_technician_id', message: refersToNone('technician', input.assigned_technician_id) })
    else if (technician.technician_status !== 'Active' && technician.technician_id !== currentTechnicianId) {
      details.push({ field: 'assigned_technician_id', message: `refers to technician ${input.assigned_technician_id}, who is ${technician.technician_status}: only Active technicians can be assigned` })
    }
  }
  // The rows a write refers to, as found (read in its transaction).
  return found
}

/**
 * The problems of the ids in a job body that its validation refused (the
 * POST and PUT routes' `referenceProblems`, error-handler.ts): those
 * `checkReferences` finds, for the ids that are well-formed. On a PUT the
 * job's own technician re-sent is no new assignment; when the job's id is
 * malformed itself that cannot be told, so such a technician is taken as
 * the job's own and a non-Active one is reported once the id is fixed.
 */
export async function jobReferenceProblems(db: Db, actor: Actor, body: unknown, update?: { jobId: number | undefined }): Promise<FieldError[]> {
  const fields = (body ?? {}) as Record<string, unknown>
  const input = {
    ...(isWellFormedId(fields.customer_location_id) && { customer_location_id: fields.customer_location_id }),
    ...(isWellFormedId(fields.assigned_technician_id) && { assigned_technician_id: fields.assigned_technician_id }),
  }
  let currentTechnicianId: number | null = null
  if (update && input.assigned_technician_id !== undefined) {
    currentTechnicianId =
      update.jobId === undefined ? input.assigned_technician_id : ((await jobs.findJob(db, actor.companyId, update.jobId))?.assigned_technician_id ?? null)
  }
  const details: FieldError[] = []
  await checkReferences(db, actor, input, details, currentTechnicianId)
  return details
}

/** What the write routes answer (`beforeCommit` gets it inside the write's transaction). */
export interface JobCreated {
  job_id: number
  job_title: string
  job_status: 'Pending'
  created_at: string
}
export type JobUpdated = Tagged<{ job_id: number; job_title: string; job_status: JobStatus }>
export type JobStatusChanged = Tagged<{ job_id: number; job_status: JobStatus; previous_status: JobStatus }>

export async function createJob(db: Db, actor: Actor, input: CreateJobInput, beforeCommit?: BeforeCommit<JobCreated>): Promise<JobCreated> {
  if (input.asset_ids !== undefined) requireAssetLinking(actor)
  const start = toSeconds(input.scheduled_start)
  const end = toSeconds(input.scheduled_end)
  const details: FieldError[] = jobRequestRules(input)
  const newJob = (now: number) => ({
    company_id: actor.companyId,
    job_title: input.job_title,
    job_description: input.job_description ?? null,
    job_status: 'Pending',
    job_priority: input.job_priority ?? 'Medium',
    assigned_technician_id: input.assigned_technician_id ?? null,
    customer_location_id: input.customer_location_id,
    scheduled_start: start ?? null,
    scheduled_end: end ?? null,
    actual_start: null,
    actual_end: null,
    created_at: now,
    updated_at: now,
  })
  const created = (jobId: number, now: number): JobCreated => ({ job_id: jobId, job_title: input.job_title, job_status: 'Pending', created_at: toIso(now) })

  if (!isSqlite(db) && details.length === 0 && input.asset_ids === undefined) {
    const done = await createInOneStatement(db, actor, newJob(nowSeconds()), created, beforeCommit)
    if (done) return done
    // A reference rule failed: the transaction below finds which and answers
    // validation_failed naming it (or creates the job, if the rule holds by now).
  }
  return inTransaction(db, async (trx) => {
    await checkReferences(trx, actor, input, details)
    if (details.length) throw validationError(details)
    const job = newJob(nowSeconds())
    const jobId = await jobs.insertJob(trx, job)
    if (input.asset_ids?.length) {
      const assetIds = await liveAssetIds(trx, actor.companyId, [...new Set(input.asset_ids)])
      await jobs.insertLinks(trx, actor.companyId, jobId, assetIds, input.asset_relationship_type ?? DEFAULT_RELATIONSHIP, job.created_at)
    }
    await recordJobWrite(trx, actor.companyId, [{ status: 'Pending', priority: job.job_priority, delta: 1 }], {
      jobId,
      from: null,
      to: 'Pending',
      at: job.created_at,
      keyId: actor.keyId,
    })
    return created(jobId, job.created_at)
  }, beforeCommit)
}

/**
 * A create without asset links on PostgreSQL: the reference rules, the job
 * and its record in one statement (jobs.insertJobRecorded), alone, or in a
 * transaction with the idempotent answer stored beside it. Undefined if a
 * reference rule failed: nothing was written.
 */
async function createInOneStatement(
  db: Db,
  actor: Actor,
  job: Parameters<typeof jobs.insertJobRecorded>[1],
  created: (jobId: number, now: number) => JobCreated,
  beforeCommit: BeforeCommit<JobCreated> | undefined,
): Promise<JobCreated | undefined> {
  const create = async (trx: Db) => {
    const jobId = await jobs.insertJobRecorded(trx, job, actor.keyId)
    return jobId === undefined ? undefined : created(jobId, job.created_at)
  }
  return writeOnce(db, create, beforeCommit)
}

/** PUT: only links in `assetIds` remain; staying links keep linked_at, and their type unless one is sent. */
async function syncLinks(trx: Db, actor: Actor, jobId: number, requested: number[], relationshipType: string | undefined, now: number) {
  const wanted = await liveAssetIds(trx, actor.companyId, [...new Set(requested)])
  const current = await jobs.findLinks(trx, actor.companyId, jobId)
  const wantedSet = new Set(wanted)
  const currentIds = new Set(current.map((l) => l.asset_id))
  await jobs.deleteLinks(trx, actor.companyId, jobId, current.filter((l) => !wantedSet.has(l.asset_id)).map((l) => l.asset_id))
  if (relationshipType !== undefined) {
    const retype = current.filter((l) => wantedSet.has(l.asset_id) && l.relationship_type !== relationshipType).map((l) => l.asset_id)
    await jobs.setLinkType(trx, actor.companyId, jobId, retype, relationshipType)
  }
  await jobs.insertLinks(trx, actor.companyId, jobId, wanted.filter((id) => !currentIds.has(id)), relationshipType ?? DEFAULT_RELATIONSHIP, now)
}

export async function updateJob(
  db: Db,
  actor: Actor,
  jobId: number,
  input: UpdateJobInput,
  conditions: WriteConditions = {},
  beforeCommit?: BeforeCommit<JobUpdated>,
): Promise<JobUpdated> {
  if (input.asset_ids !== undefined) requireAssetLinking(actor)
  const details: FieldError[] = jobRequestRules(input)
  if (Object.keys(input).length === 0) details.push({ field: 'body', message: NOTHING_TO_UPDATE })
  const request: UpdateRequest = { input, details, start: toSeconds(input.scheduled_start), end: toSeconds(input.scheduled_end), conditions }

  if (!isSqlite(db) && details.length === 0 && input.asset_ids === undefined) {
    const done = await writeUnlocked(db, actor, jobId, (trx, job) => tryUpdate(trx, actor, jobId, job, request, false), beforeCommit)
    if (done) return done
  }
  return inTransaction(db, async (trx) => {
    // Read (and lock) the job as GET shows it first, but report request problems before its absence (API.md §2).
    const job = await jobs.findJobViewForUpdate(trx, actor.companyId, jobId)
    const updated = await tryUpdate(trx, actor, jobId, job, request, true)
    if (!updated) throw new ApiError('job_locked', `Job ${jobId} was closed or cancelled while being updated`)
    return updated
  }, beforeCommit)
}

/** A PUT's body and headers, with what the service derived from them before reading the job. */
interface UpdateRequest {
  input: UpdateJobInput
  /** Problems of the body alone. */
  details: FieldError[]
  start: number | null | undefined
  end: number | null | undefined
  conditions: WriteConditions
}

/**
 * A PUT on the job as read (`locked`: in the transaction that locked it).
 * Unlocked (PostgreSQL, no asset links sent), the update and its record are
 * one statement that writes only if the job is still at the version read;
 * undefined if it was not (nothing written).
 */
async function tryUpdate(trx: Db, actor: Actor, jobId: number, job: jobs.JobViewWithLinks | undefined, request: UpdateRequest, locked: boolean): Promise<JobUpdated | undefined> {
  const { input, start, end, conditions } = request
  const details = [...request.details]
  const found = await checkReferences(trx, actor, input, details, job?.assigned_technician_id ?? null)
  if (details.length) throw validationError(details)
  if (!job) throw notFound('Job', jobId)

  // Compare the schedule with the stored value of the bound not sent.
  const effectiveStart = start === undefined ? job.scheduled_start : start
  const effectiveEnd = end === undefined ? job.scheduled_end : end
  details.push(...scheduleProblem(effectiveStart, effectiveEnd, end !== undefined ? 'scheduled_end' : 'scheduled_start'))
  if (details.length) throw validationError(details)
  // The asset links GET shows now: for If-Match, and for the new tag unless asset_ids replaces them.
  let assets = isConditional(conditions) || input.asset_ids === undefined ? await assetsShown(trx, actor, job) : []
  if (isConditional(conditions)) assertConditions(conditions, shown(job, assets).etag, 'job')
  if (LOCKED_STATUSES.has(job.job_status as JobStatus)) {
    throw new ApiError('job_locked', `Job ${jobId} is ${job.job_status} and can no longer be updated`)
  }

  // Only the fields whose value changes: SQLite rewrites the index entries
  // of every column in the SET list, changed or not, and syncs often send
  // a whole record back (docs/performance.md). The job still counts as
  // updated (updated_at, row_version) when nothing differs.
  const changes: jobs.UpdatableJobColumns = {}
  const change = <K extends keyof jobs.UpdatableJobColumns>(column: K, value: jobs.JobViewRow[K] | undefined) => {
    if (value !== undefined && value !== job[column]) changes[column] = value
  }
  change('job_title', input.job_title)
  change('job_description', input.job_description)
  change('job_priority', input.job_priority)
  change('customer_location_id', input.customer_location_id)
  change('assigned_technician_id', input.assigned_technician_id)
  change('scheduled_start', start)
  change('scheduled_end', end)
  // The job as GET shows it after this write, without reading it again:
  // as read, with the changes, the names of a new technician or location
  // (and the location's customer), and what the UPDATE writes.
  const after: jobs.JobViewRow = { ...job, ...changes }
  if (changes.assigned_technician_id !== undefined) after.assigned_technician_name = found.technician?.technician_name ?? null
  if (changes.customer_location_id !== undefined) {
    const location = found.location!
    const customer = await findCustomer(trx, actor.companyId, location.customer_id)
    if (!customer) throw new Error(`location ${location.customer_location_id} has no customer ${location.customer_id}`)
    Object.assign(after, { customer_location_name: location.customer_location_name, customer_id: location.customer_id, customer_name: customer.customer_name })
  }
  const now = nowSeconds()
  // The job leaves its (status, priority) count for the new priority's, or
  // stays in its cell, whose write sequence moves all the same.
  const moves: CountMoves =
    changes.job_priority === undefined
      ? [{ status: job.job_status, priority: job.job_priority, delta: 0 }]
      : [
          { status: job.job_status, priority: job.job_priority, delta: -1 },
          { status: job.job_status, priority: changes.job_priority, delta: 1 },
        ]
  let written: jobs.UpdateResult | undefined
  if (locked) {
    written = await jobs.updateJob(trx, actor.companyId, jobId, changes, now)
    if (!written) return undefined
    if (input.asset_ids !== undefined) {
      await syncLinks(trx, actor, jobId, input.asset_ids, input.asset_relationship_type, now)
      assets = await jobs.findJobAssets(trx, actor.companyId, jobId)
    }
    // Last, just before COMMIT: on PostgreSQL the company's write sequence row stays locked until then (see recordJobWrite).
    await recordJobWrite(trx, actor.companyId, moves)
  } else {
    written = await jobs.updateJobRecorded(trx, actor.companyId, jobId, job.row_version, changes, now, moves)
    if (!written) return undefined
  }
  const { etag } = shown({ ...after, ...written }, assets)
  return { data: { job_id: jobId, job_title: changes.job_title ?? job.job_title, job_status: job.job_status as JobStatus }, etag }
}

export async function changeJobStatus(
  db: Db,
  actor: Actor,
  jobId: number,
  to: JobStatus,
  conditions: WriteConditions = {},
  beforeCommit?: BeforeCommit<JobStatusChanged>,
): Promise<JobStatusChanged> {
  if (!isSqlite(db)) {
    const done = await writeUnlocked(db, actor, jobId, (trx, job) => {
      if (!job) throw notFound('Job', jobId)
      return tryStatusChange(trx, actor, job, to, conditions)
    }, beforeCommit)
    if (done) return done
  }
  return inTransaction(db, async (trx) => {
    // The row is locked for the transaction and the write is conditional on
    // the status just read as well: if another change won in between
    // anyway, read again and judge the request against the new status.
    for (;;) {
      const job = await jobs.findJobViewForUpdate(trx, actor.companyId, jobId)
      if (!job) throw notFound('Job', jobId)
      const written = await tryStatusChange(trx, actor, job, to, conditions)
      if (written) return written
    }
  }, beforeCommit)
}

/**
 * The checks of a status change on the job as read, then the change with
 * its record, which writes only if the job is still as read (in its status;
 * on PostgreSQL also at its row version). Undefined if it no longer was.
 */
async function tryStatusChange(trx: Db, actor: Actor, job: jobs.JobViewWithLinks, to: JobStatus, conditions: WriteConditions): Promise<JobStatusChanged | undefined> {
  // A status change leaves names and asset links as they are: the job as
  // read here, with what the write returns, is the job after it, so its new
  // ETag needs no second read.
  const assets = await assetsShown(trx, actor, job)
  if (isConditional(conditions)) assertConditions(conditions, shown(job, assets).etag, 'job')
  const from = job.job_status as JobStatus
  if (!canTransition(from, to)) throw new ApiError('invalid_status_transition', transitionRefusal(from, to))
  const change = { from, to, at: nowSeconds(), keyId: actor.keyId }
  // The write with its record (history, write sequence, counts), last: on
  // PostgreSQL the company's write sequence row stays locked until COMMIT (see recordJobWrite).
  const written = await jobs.changeStatusRecorded(trx, actor.companyId, job.job_id, change, job.job_priority, job.row_version)
  if (!written) return undefined
  const { etag } = shown({ ...job, job_status: to, ...written }, assets)
  return { data: { job_id: job.job_id, job_status: to, previous_status: from }, etag }
}

/** Writes on PostgreSQL tried without a lock before the locked transaction takes over. */
const UNLOCKED_TRIES = 3

/**
 * A job write on PostgreSQL without locking the row first: the job is read,
 * then written by one statement that writes only if no write came in
 * between (its row version), alone or, for an idempotent request, in a
 * transaction with its stored answer. Two or three round trips where the
 * locked transaction takes four to seven (BEGIN, the locked read, the
 * reads the write checks, the write, its record, COMMIT; issue 6).
 * Undefined when other writes to the job won every try: the locked
 * transaction then waits its turn instead.
 */
async function writeUnlocked<T>(
  db: Db,
  actor: Actor,
  jobId: number,
  attempt: (trx: Db, job: jobs.JobViewWithLinks | undefined) => Promise<T | undefined>,
  beforeCommit: BeforeCommit<T> | undefined,
): Promise<T | undefined> {
  for (let tries = 0; tries < UNLOCKED_TRIES; tries++) {
    const job = await jobs.findJobView(db, actor.companyId, jobId)
    const write = (trx: Db) => attempt(trx, job)
    try {
      const written = await writeOnce(db, write, beforeCommit)
      if (written) return written
    } catch (error) {
      // The job and its asset links are two reads here, each of its own
      // moment: a tag they fail to match may be the tag of neither. The
      // locked transaction reads both as one and judges If-Match again.
      if (error instanceof ApiError && error.code === 'precondition_failed') return undefined
      throw error
    }
  }
  return undefined
}

/** Thrown to roll back a transaction whose one write wrote nothing (writeOnce). */
const NOTHING_WRITTEN = Symbol('nothing written')

/**
 * `work`, one statement, alone; or, with `beforeCommit` (an idempotent
 * answer to store with it), in a transaction committed only if `work`
 * returns a result: undefined (it wrote nothing) rolls it back unstored.
 */
async function writeOnce<T>(db: Db, work: (trx: Db) => Promise<T | undefined>, beforeCommit: BeforeCommit<T> | undefined): Promise<T | undefined> {
  if (!beforeCommit) return singleWrite(db, work)
  try {
    return await inTransaction(db, async (trx) => {
      const result = await work(trx)
      if (result === undefined) throw NOTHING_WRITTEN
      return result
    }, beforeCommit)
  } catch (error) {
    if (error === NOTHING_WRITTEN) return undefined
    throw error
  }
}
