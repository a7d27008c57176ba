/**
 * Assets SQL (Kysely only); every function is scoped by company. Deleted
 * assets (soft delete) are invisible to every read here.
 */
import type { Kysely } from 'kysely'
import type { Database } from '../../db/types.ts'

type Db = Kysely<Database>

/** Of `assetIds`, those that are the company's live assets. */
export async function liveAssetIds(db: Db, companyId: number, assetIds: number[]): Promise<number[]> {
  if (assetIds.length === 0) return []
  const rows = await db
    .selectFrom('assets')
    .select('asset_id')
    .where('company_id', '=', companyId)
    .where('asset_id', 'in', assetIds)
    .where('deleted_at', 'is', null)
    .execute()
  const live = new Set(rows.map((r) => r.asset_id))
  return assetIds.filter((id) => live.has(id))
}
