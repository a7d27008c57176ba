/**
 * Deep pages without deep scans (issue 6). `OFFSET 499950` steps through half
 * a million index entries on every request. Instead, remember where every
 * STEP-th row of a list is (its sort key), and start a deep page with a seek
 * just past the nearest remembered position, then a short OFFSET. Each deep
 * page asked for also leaves an anchor, a remembered row a little before it,
 * so asking for it again seeks within ANCHOR_LEAD rows of it.
 *
 * Remembered positions must never be stale:
 *   - The newest-first list without filters (the one integrators page
 *     through) changes only when jobs are created: edits and status changes
 *     move nothing in it, and jobs are never deleted. New jobs are newer
 *     than everything, so they land in front and every remembered row moves
 *     down by the same number. Each use after a write checks that in one
 *     statement: the number of jobs now in front of the row that was first
 *     at the last check must equal the number of jobs added since (the
 *     company's job count, kept exactly in every write's transaction); if
 *     not, the same count from `head` (a job committed late on PostgreSQL,
 *     see #stillValid). If a new job landed behind `head` too (another
 *     server's clock behind), the positions are rebuilt; after MAX_SHIFT
 *     creates too.
 *   - Any other list (filters, other orders) can change with any job write:
 *     its positions carry the company's job write sequence (bumped in every
 *     job write's transaction, by every process) and are rebuilt when it moved,
 *     unless the count cells answer the list's total (no filter but status
 *     and priority) and neither its cells' write sequence nor the names
 *     sequence moved (PositionsAt): then no job the list holds or could hold
 *     was written, and no job's updated_at moved by a touch (touchJobLists
 *     moves the names sequence), so no row changed places. An integrator
 *     paging through every Closed job while dispatchers write to Pending and
 *     Assigned ones keeps them (docs/performance.md).
 */
import type { Kysely } from 'kysely'
import type { Database } from '../../db/types.ts'
import type { JobSort } from './jobs.schemas.ts'
import { estimateWalk, listJobBoundaries, listJobKeys, readListGrowth, type JobFilters, type ListKey, type WalkEstimate } from './jobs.list-queries.ts'
import type { ListSeqs } from './jobs.write-record.ts'

type Db = Kysely<Database>

const STEP = 1000
/** Below this offset a plain OFFSET is cheap enough. */
const SEEK_FROM = 2 * STEP
const MAX_ENTRIES = 500
/**
 * The newest-first list keeps its positions across this many creates; then
 * they are built again. Pages that start among the jobs created since are
 * read with a plain OFFSET (under MAX_SHIFT rows), the ones just behind
 * them with a seek from `head`.
 */
const MAX_SHIFT = 4 * STEP
/** Boundaries one query asks for at most (each STEP rows on: a chunk reads up to CHUNK × STEP index entries). */
const CHUNK = 100
/** Anchors a list remembers; past this they start over. */
const MAX_ANCHORS = 64
/** How far before a deep page its anchor is taken (rows): a short OFFSET from it is cheap. */
const ANCHOR_LEAD = 100

/**
 * The sequences a list's positions are read at: the company's job write and
 * names sequences (readListSeqs), and for a list whose total the count cells
 * answer its cells' write sequence (countJobsAndCellsSeq), each read before
 * the list's keys.
 */
export type PositionsAt = ListSeqs & { cellsSeq?: number | undefined }

/** What a list's positions hold at while the company's write sequence moves, if its cells tell (PositionsAt). */
const cellsAndNames = ({ namesSeq, cellsSeq }: PositionsAt) => (cellsSeq === undefined ? undefined : `${cellsSeq}|${namesSeq}`)

interface Entry {
  /** The company's job write sequence when the entry was built or last found to hold. */
  seq: number
  /** For a list whose total the count cells answer: its cells' write sequence and the names sequence when the entry was built (it holds while they stand). */
  cells?: string
  /** For the unfiltered newest-first list only: what its checks need (#stillValid). */
  growth?: {
    /** How many jobs were at or behind `head` (every other job is in front of it). */
    base: number
    /**
     * The list's first row at the last check, and how many jobs were at or
     * behind it then: the next check counts only the jobs in front of it,
     * so it stays short however many were created since the entry was built.
     */
    mark: ListKey
    behind: number
  }
  /** The list's first row when the entry was built: position `shift` now. */
  head: ListKey
  /**
   * The walk (and try in order) the list is read with, estimated once when
   * the entry was built: a deep page reads its list three or four times
   * (head, positions, the page), and on PostgreSQL an estimate costs a
   * round trip and up to ~10 ms of index entries.
   */
  estimate: WalkEstimate
  /** How many rows now sort before `head` (jobs created since the entry was built; at most MAX_SHIFT). */
  shift: number
  /** boundaries[k] is the key of the row at position (k + 1) * STEP - 1 + shift. */
  boundaries: ListKey[]
  /**
   * Keys of rows ANCHOR_LEAD rows before deep pages asked for, by their
   * position as built (the row at position p as built is at p + shift now):
   * the next request for such a page seeks from there instead of from the
   * boundary before it, up to STEP - 1 rows further back (issue 6).
   */
  anchors: Map<number, ListKey>
  /** The one request extending `boundaries` now; others wait for it instead of repeating its queries. */
  extending?: Promise<unknown>
}

export class PagePositions {
  readonly #entries = new Map<string, Entry>()
  #builds = 0

  /** How many times positions were built (each costs a query per STEP rows reached): for tests and diagnostics. */
  get builds(): number {
    return this.#builds
  }

  /** The keys of one page: `limit` rows from `offset`, at the sequences `at` (read before). */
  async page(db: Db, companyId: number, at: PositionsAt, filters: JobFilters, sort: JobSort, limit: number, offset: number): Promise<ListKey[]> {
    // Seeks need a sort column without nulls.
    if (offset < SEEK_FROM || sort.endsWith('scheduled_start')) return listJobKeys(db, companyId, filters, sort, limit, offset)
    const name = `${companyId}|${sort}|${JSON.stringify(filters)}`
    const growsOnlyAtTop = sort === '-created_at' && Object.keys(filters).length === 0
    let entry = this.#entries.get(name)
    if (entry && !(await this.#stillValid(db, companyId, at, entry))) entry = undefined
    if (!entry) {
      entry = await this.#build(db, companyId, at, filters, sort, growsOnlyAtTop)
      if (!entry) return [] // an empty list
      if (this.#entries.size >= MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!)
      this.#entries.set(name, entry)
    }
    // Read once: a concurrent request may move it (for a later moment) while this one waits.
    const shift = entry.shift
    // Positions as built: `before` is the row just before the page. Start
    // from the nearest remembered row at or before it: `head` (position 0),
    // boundary k, or an anchor.
    const before = offset - 1 - shift
    if (before < 0) return listJobKeys(db, companyId, filters, sort, limit, offset, undefined, entry.estimate) // among the jobs created since
    const k = Math.floor((offset - shift) / STEP) - 1
    let from = 0
    let fromKey = entry.head
    if (k >= 0) {
      if (!(await this.#extendTo(db, companyId, filters, sort, entry, k))) return [] // the list is shorter than offset
      from = (k + 1) * STEP - 1
      fromKey = entry.boundaries[k]!
    }
    for (const [position, key] of entry.anchors) {
      if (position > from && position <= before) [from, fromKey] = [position, key]
    }
    const skip = before - from
    if (skip <= ANCHOR_LEAD) return listJobKeys(db, companyId, filters, sort, limit, skip, fromKey, entry.estimate)
    // Far from any remembered row: read from ANCHOR_LEAD rows before the page
    // and remember the first of them. Not right at `before`: each create moves
    // the page's rows one down (`before` one less), and an anchor past
    // `before` cannot be sought from; this one serves the page again until
    // ANCHOR_LEAD jobs have been created.
    const keys = await listJobKeys(db, companyId, filters, sort, ANCHOR_LEAD + limit, skip - ANCHOR_LEAD, fromKey, entry.estimate)
    if (keys.length > 0) {
      if (entry.anchors.size >= MAX_ANCHORS) entry.anchors.clear()
      entry.anchors.set(before - ANCHOR_LEAD + 1, keys[0]!)
    }
    return keys.slice(ANCHOR_LEAD)
  }

  /**
   * Makes boundaries[k] known, up to CHUNK at a time, each STEP rows past the
   * one before. Requests for deep pages of one list arrive together: one of
   * them extends the positions while the others wait for it, so no query is
   * repeated and no position is added twice. False if the list ends before
   * boundary k.
   */
  async #extendTo(db: Db, companyId: number, filters: JobFilters, sort: JobSort, entry: Entry, k: number): Promise<boolean> {
    while (entry.boundaries.length <= k) {
      if (entry.extending) {
        // Its failure is its own request's answer; this one tries again itself.
        await entry.extending.catch(() => undefined)
        continue
      }
      const known = entry.boundaries.length
      // head is at position 0 of the list as built, boundary 0 at STEP - 1.
      const wanted = known === 0 ? 1 : Math.min(k + 1 - known, CHUNK)
      const extension =
        known === 0
          ? listJobKeys(db, companyId, filters, sort, 1, STEP - 2, entry.head, entry.estimate)
          : listJobBoundaries(db, companyId, filters, sort, entry.boundaries[known - 1]!, STEP, wanted, entry.estimate)
      entry.extending = extension
      let found: ListKey[]
      try {
        found = await extension
      } finally {
        entry.extending = undefined
      }
      if (entry.boundaries.length === known) entry.boundaries.push(...found)
      if (found.length < wanted) return entry.boundaries.length > k
    }
    return true
  }

  async #build(db: Db, companyId: number, at: PositionsAt, filters: JobFilters, sort: JobSort, growsOnlyAtTop: boolean): Promise<Entry | undefined> {
    this.#builds++
    const seq = at.writeSeq
    const estimate = await estimateWalk(db, companyId, filters, { sort, rows: STEP })
    const [head] = await listJobKeys(db, companyId, filters, sort, 1, 0, undefined, estimate)
    if (!head) return undefined
    if (!growsOnlyAtTop) return { seq, cells: cellsAndNames(at), head, estimate, shift: 0, boundaries: [], anchors: new Map() }
    // Jobs created since the read above are in front of head already.
    const { total, ahead, newest } = await readListGrowth(db, companyId, head)
    return { seq, growth: { base: total - ahead, mark: newest, behind: total }, head, estimate, shift: ahead, boundaries: [], anchors: new Map() }
  }

  async #stillValid(db: Db, companyId: number, at: PositionsAt, entry: Entry): Promise<boolean> {
    const { growth } = entry
    const seq = at.writeSeq
    if (entry.seq === seq) return true
    if (!growth) {
      if (entry.cells === undefined || entry.cells !== cellsAndNames(at)) return false
      entry.seq = seq
      return true
    }
    let { total, ahead, newest } = await readListGrowth(db, companyId, growth.mark)
    // Not too many jobs added since the build.
    if (total - growth.base > MAX_SHIFT) return false
    // Every job added since the last check is in front of the first row then
    // (so also in front of head). If not, one may still be in front of head,
    // behind that row: on PostgreSQL writes run side by side, and a job
    // stamped a moment before another can commit after it, after a check
    // has seen the other. Then count from head rather than build the
    // positions again (a query per STEP rows: 499 round trips for the middle
    // of a million-job list, while its deep pages wait).
    if (ahead !== total - growth.behind) {
      ;({ total, ahead, newest } = await readListGrowth(db, companyId, entry.head))
      if (ahead !== total - growth.base || total - growth.base > MAX_SHIFT) return false
    }
    entry.shift = total - growth.base
    entry.growth = { base: growth.base, mark: newest, behind: total }
    entry.seq = seq
    return true
  }
}

/** What a remembered page showed, to check it against the database instead of rebuilding it. */
export interface PageProof {
  /** The company's names sequence when the page was built. */
  namesSeq: number
  /**
   * For a list filtered by status and priority alone, the sum of its count
   * cells' write sequences, read with the total when the page was built or
   * last checked (countJobsAndCellsSeq).
   */
  cellsSeq: number | undefined
  total: number
  /** The jobs shown, in order, and the row version each was shown at. */
  jobIds: number[]
  rowVersions: number[]
}

/**
 * Whole list answers. Integrators poll the same lists all day; between two
 * writes the answer is the same. Each answer carries the company's job
 * write sequence it was built at: while that has not moved (it moves in
 * every job write's transaction, by any process), the answer is served as
 * it is. When it has moved, the answer is still the same if no name the
 * page shows changed (the names sequence) and either no job of the list's
 * count cells was written (their write sequences; lists filtered by status
 * and priority alone) or the list's total, the ids on the page and each of
 * their row versions are the same: the caller checks that (cheaper than
 * rebuilding the page) and confirms the answer for the new sequence, or
 * rebuilds it.
 */
export class ListAnswers<T, Proof = PageProof> {
  readonly #entries = new Map<string, { seq: number; answer: T; proof: Proof }>()

  get(key: string, seq: number): T | undefined {
    const entry = this.#entries.get(key)
    return entry && entry.seq === seq ? entry.answer : undefined
  }

  /** An answer built at an older sequence, with what it showed. */
  stale(key: string): { answer: T; proof: Proof } | undefined {
    return this.#entries.get(key)
  }

  /** The answer, checked, is also the answer at `seq` (and, if given, what it showed was read at `proof`). */
  confirm(key: string, seq: number, proof?: Proof): void {
    const entry = this.#entries.get(key)
    if (!entry) return
    entry.seq = seq
    if (proof !== undefined) entry.proof = proof
  }

  set(key: string, seq: number, answer: T, proof: Proof): void {
    this.#entries.delete(key)
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!)
    this.#entries.set(key, { seq, answer, proof })
  }
}

/** The per-database caches of job lists (ids mean nothing across databases). */
export class JobListCaches {
  readonly positions = new PagePositions()
  readonly answers = new ListAnswers<unknown>()
}
