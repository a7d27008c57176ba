/**
 * `npm run bench:lists -- [--out FILE] [--against FILE] [--db postgres://…]`:
 * how long every kind of list takes on the benchmark's million-job company,
 * in process (no HTTP): each filter alone and each pair of them, each sort,
 * pages 1, 20 and 100 of 50, fresh caches every time (the first request for
 * a list after a write), the second of two runs kept. The benchmark's
 * scenarios poll a few lists; an integrator may ask for any of them, and on
 * SQLite a slow one holds every other request for as long as it takes.
 *
 * Prints how many lists took how long, and the slowest; `--out` writes every
 * figure as JSON, `--against` compares with such a file from another
 * revision on the same machine (figures are milliseconds of this machine:
 * compare runs, not machines). On SQLite it reads a copy of the data set.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { connect } from '../src/db/connect.ts'
import { listJobs } from '../src/modules/jobs/jobs.service.ts'
import { JobListCaches } from '../src/modules/jobs/jobs.pages.ts'
import { postgresTarget } from './generate.ts'
import { SIZES, sqliteDataFile } from './dataset.ts'

const { values: args } = parseArgs({ options: { out: { type: 'string' }, against: { type: 'string' }, db: { type: 'string' }, top: { type: 'string', default: '25' } } })

const COMPANY = 1
const FILTERS: Array<Record<string, string | number>> = [
  {}, { status: 'Completed' }, { status: 'Closed' }, { status: 'Assigned' }, { status: 'Invoiced' }, { status: 'Pending,Assigned,In Progress' },
  { priority: 'Urgent' }, { assigned_technician_id: 2 }, { customer_location_id: 77 }, { customer_id: 5 },
  { created_after: '2020-01-01' }, { created_after: '2026-11-01' }, { updated_after: '2020-01-01' }, { updated_after: '2025-11-01' }, { updated_after: '2026-11-27' },
]
const SORTS = ['-created_at', 'updated_at', '-updated_at', 'scheduled_start', '-scheduled_start']
const PAGES = [1, 20, 100]

/** Each filter alone, and each pair of filters on different parameters. */
function filterSets() {
  const sets: Array<Record<string, string | number>> = []
  FILTERS.forEach((a, i) => {
    sets.push(a)
    for (const b of FILTERS.slice(i + 1)) {
      if (Object.keys(a).length > 0 && !Object.keys(a).some((name) => name in b)) sets.push({ ...a, ...b })
    }
  })
  return sets
}

let copy: string | undefined
let url: string
if (args.db) {
  url = postgresTarget(args.db).url
} else {
  const file = sqliteDataFile(SIZES.full, 42)
  if (!existsSync(file)) throw new Error(`no data set at ${file}: run node --import tsx bench/generate.ts first`)
  copy = join(mkdtempSync(join(tmpdir(), 'fsm-lists-')), 'lists.db')
  copyFileSync(file, copy)
  url = `sqlite:${copy}`
}
const database = connect(url)
const actor = { companyId: COMPANY, keyId: null, modules: new Set<string>() }
const figures: Record<string, number> = {}
try {
  for (const filters of filterSets()) {
    for (const sort of SORTS) {
      for (const page of PAGES) {
        let ms = 0
        for (let run = 0; run < 2; run++) {
          const started = performance.now()
          await listJobs(database.db, actor, { ...filters, sort, page, per_page: 50 } as never, new JobListCaches())
          ms = performance.now() - started
        }
        figures[`${JSON.stringify(filters)} ${sort} page ${page}`] = ms
      }
    }
  }
} finally {
  await database.close()
  if (copy) rmSync(join(copy, '..'), { recursive: true, force: true })
}

const BUCKETS: Array<[string, number]> = [['< 5 ms', 5], ['5–25 ms', 25], ['25–100 ms', 100], ['100–500 ms', 500], ['≥ 500 ms', Infinity]]
function distribution(set: Record<string, number>) {
  const counts = BUCKETS.map(([label, below]) => [label, Object.values(set).filter((ms) => ms < below).length] as const)
  return counts.map(([label, n], i) => `${label}: ${n - (i > 0 ? counts[i - 1]![1] : 0)}`).join(', ')
}
const total = (set: Record<string, number>) => Object.values(set).reduce((a, b) => a + b, 0)
const top = Number(args.top)

console.log(`${Object.keys(figures).length} lists, ${(total(figures) / 1000).toFixed(1)} s in all; ${distribution(figures)}`)
console.log('slowest:')
for (const [name, ms] of Object.entries(figures).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${ms.toFixed(1).padStart(8)} ms  ${name}`)
if (args.out) writeFileSync(args.out, JSON.stringify(figures, null, 1))
if (args.against) {
  const before = JSON.parse(readFileSync(args.against, 'utf8')) as Record<string, number>
  const shared = Object.keys(figures).filter((name) => name in before)
  const pick = (set: Record<string, number>) => Object.fromEntries(shared.map((name) => [name, set[name]!]))
  console.log(`\nagainst ${args.against} (${shared.length} lists in both):`)
  console.log(`  then: ${(total(pick(before)) / 1000).toFixed(1)} s; ${distribution(pick(before))}`)
  console.log(`  now:  ${(total(pick(figures)) / 1000).toFixed(1)} s; ${distribution(pick(figures))}`)
  const slower = shared.filter((name) => figures[name]! > 1.5 * before[name]! && figures[name]! - before[name]! > 5)
  console.log(`  ${slower.length} lists 1.5 × slower and 5 ms more now; the largest:`)
  for (const name of slower.sort((a, b) => figures[b]! - before[b]! - (figures[a]! - before[a]!)).slice(0, top)) {
    console.log(`  ${before[name]!.toFixed(1).padStart(8)} → ${figures[name]!.toFixed(1).padStart(8)} ms  ${name}`)
  }
}
