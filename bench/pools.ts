/**
 * The ids the request generators draw from (bench/scenarios.ts), sampled
 * from the data set before the load starts: by the benchmark (run.ts) and
 * by the write ceiling (write-ceiling.ts), which must send the same writes.
 */
import { connect } from '../src/db/connect.ts'
import type { Random } from './random.ts'
import type { PatchJob, Pools } from './scenarios.ts'

function sample<T>(items: readonly T[], n: number, random: Random): T[] {
  const copy = [...items]
  const count = Math.min(n, copy.length)
  for (let i = 0; i < count; i++) {
    const j = i + random.int(copy.length - i)
    ;[copy[i], copy[j]] = [copy[j]!, copy[i]!]
  }
  return copy.slice(0, count)
}

export interface CompanyPools {
  pools: Pools
  /** How many jobs list_filtered matches (its page holds up to 50 of them). */
  filteredTotal: number
  /**
   * Disjoint sets of jobs for the measurements that PATCH (warm-up,
   * patch_status, mixed): a third each of the company's Assigned, In
   * Progress and On Hold jobs (~1,850 each in the full data set), so a
   * PATCH's job is a random one of them (until the first 2026-12-02
   * session, 20 a connection, taken in turn, whose pages stayed in every
   * cache).
   */
  patchPools: Record<'warmup' | 'patch_status' | 'mixed', PatchJob[]>
}

/** Reads the ids the request generators draw from, before the load starts. */
export async function samplePools(url: string, companyId: number, random: Random): Promise<CompanyPools> {
  const handle = connect(url)
  try {
    const db = handle.db
    const jobs = await db.selectFrom('jobs').select(['job_id', 'job_status']).where('company_id', '=', companyId).execute()
    const linked = await db.selectFrom('job_assets').select('job_id').distinct().where('company_id', '=', companyId).execute()
    const locations = await db.selectFrom('customer_locations').select('customer_location_id').where('company_id', '=', companyId).execute()
    const technicians = await db.selectFrom('technicians').select('technician_id').where('company_id', '=', companyId).where('technician_status', '=', 'Active').execute()
    const assets = await db.selectFrom('assets').select('asset_id').where('company_id', '=', companyId).where('deleted_at', 'is', null).execute()

    const filteredTotal = jobs.length ? (await db.selectFrom('jobs').select((eb) => eb.fn.countAll<number>().as('n')).where('company_id', '=', companyId).where('job_status', '=', 'Pending').where('job_priority', '=', 'High').executeTakeFirstOrThrow()).n : 0
    const patchable = sample(jobs.filter((j) => ['Assigned', 'In Progress', 'On Hold'].includes(j.job_status)), Number.MAX_SAFE_INTEGER, random)
    const perPool = Math.floor(patchable.length / 3)
    const pool = (k: number) => patchable.slice(k * perPool, (k + 1) * perPool).map((j) => ({ id: j.job_id, status: j.job_status as PatchJob['status'] }))
    return {
      filteredTotal: Number(filteredTotal),
      // Every job of the company, not a sample: a read or a PUT finds any of them, as a client's would.
      pools: {
        readIds: jobs.map((j) => j.job_id),
        linkedIds: linked.map((j) => j.job_id),
        // Jobs that are not locked and that no PATCH moves (PATCH pools are all Assigned / In Progress / On Hold).
        updateIds: jobs.filter((j) => ['Pending', 'Completed', 'Invoiced', 'Paid'].includes(j.job_status)).map((j) => j.job_id),
        locationIds: sample(locations.map((l) => l.customer_location_id), 5_000, random),
        technicianIds: technicians.map((t) => t.technician_id),
        assetIds: sample(assets.map((a) => a.asset_id), 5_000, random),
      },
      patchPools: { warmup: pool(0), patch_status: pool(1), mixed: pool(2) },
    }
  } finally {
    await handle.close()
  }
}
