/**
 * What every job write leaves in its own transaction besides the job:
 * its status history line, the company's job write sequence (which
 * remembered list pages are checked against, jobs.pages.ts) and the exact
 * per-(status, priority) counts that list totals are read from, with the
 * write sequence of each count cell the job leaves, enters or stays in,
 * which pages of lists filtered by status and priority are checked
 * against (listJobsAt). Kysely only.
 */
import { isExpression, sql, type Kysely, type QueryCreator, type RawBuilder } from 'kysely'
import type { Database } from '../../db/types.ts'
import { isSqlite } from '../../db/dialect.ts'
import { byShape, prepared, preparedWrite } from '../../db/prepared.ts'

type Db = Kysely<Database>

/**
 * How many stripes a company's write sequence and counts are kept in
 * (migration 0006): on PostgreSQL a write locks the rows of the one it
 * picks until COMMIT, so writes that pick different stripes do not wait
 * for each other. SQLite runs one write at a time: one stripe.
 */
const POSTGRES_STRIPES = 16

export function stripeFor(db: Db): number {
  return isSqlite(db) ? 0 : Math.floor(Math.random() * POSTGRES_STRIPES)
}

/**
 * A job leaving (-1), entering (+1) or staying in (0) a (status, priority)
 * cell of the counts: each moves the cell's write sequence.
 */
export interface CountMove {
  status: string
  priority: string
  delta: 1 | -1 | 0
}

/**
 * The cells a job write touches: at least one, for the write sequence of
 * the cell its job is in moves with every write (a page filtered by status
 * and priority is served again while its cells' sequence stands).
 */
export type CountMoves = [CountMove, ...CountMove[]]

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
 * one; then bumps the company's write sequence, moves counts between
 * (status, priority) cells and bumps those cells' write sequences, all in
 * one stripe. The stripe's sequence row is taken first on purpose: on
 * PostgreSQL it serialises the writes that picked the same stripe, so two
 * of them moving counts in opposite directions (High→Low and Low→High) can
 * never lock the count rows in opposite orders and deadlock. Callers make
 * it the last step of their transaction: the rows stay locked until
 * COMMIT, so anything after it makes the stripe's other writes wait longer.
 */
export async function recordJobWrite(db: Db, companyId: number, moves: CountMoves, statusChange?: StatusChange) {
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

/** cellValues of `moves` in lock order: the count cells a statement built on withRecordOnPostgres takes. */
export function cellsInLockOrder(moves: CountMoves): Array<string | number> {
  return cellValues(inLockOrder(moves))
}

/**
 * The record of a job write on PostgreSQL, as data-modifying CTEs of one
 * statement on `written`, a CTE with one row if the write happened and none
 * if it did not: the sequence bump and the history line are selected from
 * `written`, the count moves from the bump's RETURNING row. That row is
 * what orders them: the counts cannot be written before the bump has taken
 * the stripe's sequence row (PostgreSQL runs the CTEs of one statement in no
 * set order otherwise). The history line's job is `history[0]`: an id, or
 * WRITTEN_JOB_ID for the job the statement itself creates; its time
 * `history[3]`, a number or WRITTEN_UPDATED_AT; no history
 * values, no line. `cells` are one or two count moves.
 */
export function withRecordOnPostgres<Written extends object>(
  db: QueryCreator<Database & { written: Written }>,
  companyId: number,
  stripe: number,
  history: Array<string | number | null | RawBuilder<number>>,
  cells: Array<string | number | null>,
) {
  const [jobId, from, to, at, keyId] = history as [number | RawBuilder<number>, string | null, string, number | RawBuilder<number>, number | null]
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
                isExpression(jobId) ? jobId.as('job_id') : s.cast<number>(s.val(jobId), 'bigint').as('job_id'),
                s.cast<number>(s.val(companyId), 'bigint').as('company_id'),
                s.cast<string | null>(s.val(from), 'text').as('from_status'),
                s.cast<string>(s.val(to), 'text').as('to_status'),
                isExpression(at) ? at.as('changed_at') : s.cast<number>(s.val(at), 'bigint').as('changed_at'),
                s.cast<number | null>(s.val(keyId), 'bigint').as('key_id'),
              ]),
            ),
        )
      : bumped
  // Nothing below refers to `history`: the statement is the same either way.
  const counted = (recorded as typeof bumped).with('counted', (w) =>
    w
      .insertInto('job_counts')
      .columns(['company_id', 'job_status', 'job_priority', 'stripe', 'job_count', 'write_seq'])
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
              sql<number>`1`.as('write_seq'),
            ])
        return cells.length === 6 ? cell(0).unionAll(cell(1)) : cell(0)
      })
      .onConflict((oc) => oc.columns(COUNT_CELL).doUpdateSet(MOVED_CELL)),
  )
  return counted
}

/** withRecordOnPostgres's history line for a job created by `written` (which returns its `job_id`). */
export const WRITTEN_JOB_ID: RawBuilder<number> = sql.ref<number>('written.job_id')

/** withRecordOnPostgres's history line stamped with the `updated_at` that `written` returns. */
export const WRITTEN_UPDATED_AT: RawBuilder<number> = sql.ref<number>('written.updated_at')

/** recordJobWrite on PostgreSQL, one statement per shape (with or without a history line; one or two count cells). */
const recordOnPostgres = byShape((shape) => {
  const withHistory = shape.startsWith('1|')
  return preparedWrite((db, companyId: number, stripe: number, ...values: Array<string | number | null>) =>
    withRecordOnPostgres(db.with('written', (w) => w.selectNoFrom(sql<number>`1`.as('one'))), companyId, stripe, values.slice(0, withHistory ? 5 : 0), values.slice(withHistory ? 5 : 0))
      .selectFrom('written')
      .select('one'),
  )
})

const insertStatusChange = preparedWrite((db, jobId: number, companyId: number, from: string | null, to: string, at: number, keyId: number | null) =>
  db.insertInto('job_status_changes').values({ job_id: jobId, company_id: companyId, from_status: from, to_status: to, changed_at: at, key_id: keyId }),
)

const bumpWriteSeq = preparedWrite((db, companyId: number, stripe: number) =>
  db
    .insertInto('job_write_seqs')
    .values({ company_id: companyId, stripe, write_seq: 1 })
    .onConflict((oc) => oc.columns(['company_id', 'stripe']).doUpdateSet({ write_seq: sql<number>`job_write_seqs.write_seq + 1` })),
)

const COUNT_CELL = ['company_id', 'job_status', 'job_priority', 'stripe'] as const

/** A count cell's row after a move (inserted: its delta, and 1 for its write sequence). */
const MOVED_CELL = {
  job_count: sql<number>`job_counts.job_count + excluded.job_count`,
  write_seq: sql<number>`job_counts.write_seq + 1`,
}

const moveCounts = preparedWrite(
  (db, companyId: number, stripe: number, status1: string, priority1: string, delta1: number, status2: string, priority2: string, delta2: number) =>
    db
      .insertInto('job_counts')
      .values([
        { company_id: companyId, job_status: status1, job_priority: priority1, stripe, job_count: delta1, write_seq: 1 },
        { company_id: companyId, job_status: status2, job_priority: priority2, stripe, job_count: delta2, write_seq: 1 },
      ])
      .onConflict((oc) => oc.columns(COUNT_CELL).doUpdateSet(MOVED_CELL)),
)

const moveCount = preparedWrite((db, companyId: number, stripe: number, status: string, priority: string, delta: number) =>
  db
    .insertInto('job_counts')
    .values({ company_id: companyId, job_status: status, job_priority: priority, stripe, job_count: delta, write_seq: 1 })
    .onConflict((oc) => oc.columns(COUNT_CELL).doUpdateSet(MOVED_CELL)),
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

/** A company's job write sequence and names sequence (what remembered list pages are checked against). */
export interface ListSeqs {
  writeSeq: number
  namesSeq: number
}

/**
 * The company's job write sequence and names sequence, read together: each
 * the sum of its stripes, which moves with every committed write.
 */
export async function readListSeqs(db: Db, companyId: number): Promise<ListSeqs> {
  const [row] = await listSeqs(db, companyId)
  return { writeSeq: Number(row?.write_seq ?? 0), namesSeq: Number(row?.names_seq ?? 0) }
}
