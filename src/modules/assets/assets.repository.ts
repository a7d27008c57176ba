/**
 * Assets SQL (Kysely only); every function is scoped by company. Deleted
 * assets (soft delete) are invisible to every read and write here.
 */
import { sql, type Insertable, type Kysely } from 'kysely'
import type { AssetRow, AssetsTable, Database } from '../../db/types.ts'
import { forUpdate } from '../../db/dialect.ts'
import { byShape, prepared } from '../../db/prepared.ts'
import { likeContains } from '../../db/search.ts'

type Db = Kysely<Database>

export interface AssetFilters {
  customerLocationId?: number
  status?: string
  q?: string
}

/** One prepared query per number of ids (a job's write names at most 100 assets). */
const liveAssetIdsOf = byShape(() =>
  prepared((db, companyId: number, ...assetIds: number[]) =>
    db.selectFrom('assets').select('asset_id').where('company_id', '=', companyId).where('asset_id', 'in', assetIds).where('deleted_at', 'is', null),
  ),
)

/** Of `assetIds`, those that are the company's live assets. */
export async function liveAssetIds(db: Db, companyId: number, assetIds: number[]): Promise<number[]> {
  if (assetIds.length === 0) return []
  const rows = await liveAssetIdsOf(String(assetIds.length))(db, companyId, ...assetIds)
  const live = new Set(rows.map((r) => r.asset_id))
  return assetIds.filter((id) => live.has(id))
}

function live(db: Db, companyId: number) {
  return db.selectFrom('assets').where('company_id', '=', companyId).where('deleted_at', 'is', null)
}

export async function findAsset(db: Db, companyId: number, assetId: number): Promise<AssetRow | undefined> {
  return live(db, companyId).selectAll().where('asset_id', '=', assetId).executeTakeFirst()
}

/** As findAsset, locking the row until the transaction ends. */
export async function findAssetForUpdate(db: Db, companyId: number, assetId: number): Promise<AssetRow | undefined> {
  return forUpdate(db, live(db, companyId).selectAll().where('asset_id', '=', assetId)).executeTakeFirst()
}

function filtered(db: Db, companyId: number, filters: AssetFilters) {
  let query = live(db, companyId)
  if (filters.customerLocationId !== undefined) query = query.where('customer_location_id', '=', filters.customerLocationId)
  if (filters.status !== undefined) query = query.where('asset_status', '=', filters.status)
  if (filters.q !== undefined) query = query.where(likeContains('search_text', filters.q))
  return query
}

export async function countAssets(db: Db, companyId: number, filters: AssetFilters): Promise<number> {
  const row = await filtered(db, companyId, filters).select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow()
  return Number(row.total)
}

export async function listAssets(db: Db, companyId: number, filters: AssetFilters, limit: number, offset: number): Promise<AssetRow[]> {
  return filtered(db, companyId, filters).selectAll().orderBy('created_at', 'desc').orderBy('asset_id', 'desc').limit(limit).offset(offset).execute()
}

/** Throws the dialect's unique violation when the tag is taken by a live asset of the company. */
export async function insertAsset(db: Db, values: Insertable<AssetsTable>): Promise<AssetRow> {
  return db.insertInto('assets').values(values).returningAll().executeTakeFirstOrThrow()
}

/** Undefined when there is no such live asset; throws a unique violation as insertAsset does. */
export async function updateAsset(db: Db, companyId: number, assetId: number, changes: Partial<AssetRow>): Promise<AssetRow | undefined> {
  return db
    .updateTable('assets')
    .set({ ...changes, row_version: sql<number>`row_version + 1` })
    .where('company_id', '=', companyId)
    .where('asset_id', '=', assetId)
    .where('deleted_at', 'is', null)
    .returningAll()
    .executeTakeFirst()
}

/** Soft delete; false when there is no such live asset. */
export async function softDeleteAsset(db: Db, companyId: number, assetId: number, now: number): Promise<boolean> {
  const row = await db
    .updateTable('assets')
    .set({ deleted_at: now, updated_at: now, row_version: sql<number>`row_version + 1` })
    .where('company_id', '=', companyId)
    .where('asset_id', '=', assetId)
    .where('deleted_at', 'is', null)
    .returning('asset_id')
    .executeTakeFirst()
  return row !== undefined
}
