/**
 * Deep pages without deep scans (issue 6). `OFFSET 499950` steps through half
 * a million index entries on every request. Instead, remember where every
 * STEP-th row of a list is (its sort key), and start a deep page with a seek
 * just past the nearest remembered position, then a short OFFSET.
 *
 * The positions are valid only while the company's jobs do not change: each
 * entry carries the company's job write sequence (bumped in every job
 * write's transaction, by every process) and is rebuilt when it moved.
 */
import type { Kysely } from 'kysely'
import type { Database } from '../../db/types.ts'
import type { JobSort } from './jobs.schemas.ts'
import { listJobKeys, type JobFilters, type ListKey } from './jobs.repository.ts'

type Db = Kysely<Database>

const STEP = 1000
/** Below this offset a plain OFFSET is cheap enough. */
const SEEK_FROM = 2 * STEP
const MAX_ENTRIES = 500

interface Entry {
  seq: number
  /** boundaries[k] is the key of row (k + 1) * STEP - 1: the last row before position (k + 1) * STEP. */
  boundaries: ListKey[]
}

export class PagePositions {
  readonly #entries = new Map<string, Entry>()

  /** The keys of one page: `limit` rows from `offset`; `seq` is the company's job write sequence, read before. */
  async page(db: Db, companyId: number, seq: number, filters: JobFilters, sort: JobSort, limit: number, offset: number): Promise<ListKey[]> {
    // Seeks need a sort column without nulls.
    if (offset < SEEK_FROM || sort.endsWith('scheduled_start')) return listJobKeys(db, companyId, filters, sort, limit, offset)
    const name = `${companyId}|${sort}|${JSON.stringify(filters)}`
    let entry = this.#entries.get(name)
    if (!entry || entry.seq !== seq) {
      entry = { seq, boundaries: [] }
      if (this.#entries.size >= MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!)
      this.#entries.set(name, entry)
    }
    const chunk = Math.floor(offset / STEP)
    // Extend the known positions up to the chunk holding `offset`, one STEP at a time.
    while (entry.boundaries.length < chunk) {
      const previous = entry.boundaries[entry.boundaries.length - 1]
      const [next] = await listJobKeys(db, companyId, filters, sort, 1, STEP - 1, previous)
      if (!next) return [] // the list is shorter than offset
      entry.boundaries.push(next)
    }
    const start = entry.boundaries[chunk - 1]
    return listJobKeys(db, companyId, filters, sort, limit, offset - chunk * STEP, start)
  }
}

/**
 * Whole list answers, remembered while the company's jobs do not change.
 * Integrators poll the same lists all day; between two writes the answer is
 * the same, and a write (by any process) bumps the sequence that every
 * entry is checked against before use, so an answer is never stale.
 */
export class ListAnswers<T> {
  readonly #entries = new Map<string, { seq: number; answer: T }>()

  get(key: string, seq: number): T | undefined {
    const entry = this.#entries.get(key)
    return entry && entry.seq === seq ? entry.answer : undefined
  }

  set(key: string, seq: number, answer: T): void {
    this.#entries.delete(key)
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!)
    this.#entries.set(key, { seq, answer })
  }
}

/** The per-database caches of job lists (ids mean nothing across databases). */
export class JobListCaches {
  readonly positions = new PagePositions()
  readonly answers = new ListAnswers<unknown>()
}
