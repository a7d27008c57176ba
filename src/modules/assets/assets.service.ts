/**
 * Assets (API.md §5): the Asset Management module. Knows nothing of
 * Fastify (a write's preconditions arrive as data, http/conditional.ts);
 * takes `db` first, throws ApiError codes. Deleted assets are `not_found`
 * everywhere; the unique index on live tags is what guards `asset_tag`.
 */
import type { Kysely } from 'kysely'
import type { AssetRow, Database } from '../../db/types.ts'
import { isUniqueViolation } from '../../db/dialect.ts'
import { nowSeconds, toIso } from '../../db/time.ts'
import { inTransaction, type BeforeCommit } from '../../db/transaction.ts'
import { searchText } from '../../db/search.ts'
import { assertConditions, isConditional, type WriteConditions, tagged, type Tagged } from '../../http/conditional.ts'
import { ApiError, notFound, NOTHING_TO_UPDATE, refersToNone, validationError, type FieldError } from '../../http/errors.ts'
import { parseDateTime } from '../../http/formats.ts'
import { pageRequest, pagination } from '../../http/pagination.ts'
import { isWellFormedId } from '../../http/schemas.ts'
import { ASSETS_API_NEEDS_MODULE, requireAssetsModule, type Actor } from '../actor.ts'
import { touchJobsShowing } from '../jobs/jobs.repository.ts'
import { findLocation } from '../locations/locations.repository.ts'
import * as assets from './assets.repository.ts'
import type { AssetListQueryInput, AssetStatus, AssetView, CreateAssetInput, UpdateAssetInput } from './assets.schemas.ts'

type Db = Kysely<Database>

/** Every assets endpoint needs the company's Asset Management module (API.md §2, §5). */
const requireAssetsApi = (actor: Actor) => requireAssetsModule(actor, ASSETS_API_NEEDS_MODULE)

export function presentAsset(row: AssetRow): AssetView {
  return {
    asset_id: row.asset_id,
    asset_tag: row.asset_tag,
    asset_name: row.asset_name,
    asset_type: row.asset_type,
    asset_status: row.asset_status as AssetStatus,
    customer_location_id: row.customer_location_id,
    serial_number: row.serial_number,
    manufacturer: row.manufacturer,
    model: row.model,
    installed_at: toIso(row.installed_at),
    created_at: toIso(row.created_at),
    updated_at: toIso(row.updated_at),
  }
}

/** The record and its ETag (representation and row version, API.md §8). */
const withTag = (row: AssetRow): Tagged<AssetView> => tagged(row.row_version, presentAsset(row))

/** The location must be the caller's company's (API.md §3); null clears it and needs no check. */
async function locationProblems(db: Db, actor: Actor, locationId: number | null | undefined): Promise<FieldError[]> {
  if (locationId === undefined || locationId === null || (await findLocation(db, actor.companyId, locationId))) return []
  return [{ field: 'customer_location_id', message: refersToNone('location', locationId) }]
}

async function checkLocation(db: Db, actor: Actor, locationId: number | null | undefined) {
  const problems = await locationProblems(db, actor, locationId)
  if (problems.length) throw validationError(problems)
}

/** The problem of a well-formed `customer_location_id` in an asset body its validation refused (the write routes' `referenceProblems`, error-handler.ts). */
export async function assetReferenceProblems(db: Db, actor: Actor, body: unknown): Promise<FieldError[]> {
  const locationId = (body as Record<string, unknown> | undefined)?.customer_location_id
  return isWellFormedId(locationId) ? locationProblems(db, actor, locationId) : []
}

/** Runs a write that may hit the unique index on live tags, turning the violation into 409 conflict. */
async function guardTag<T>(tag: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write()
  } catch (error) {
    if (isUniqueViolation(error)) throw new ApiError('conflict', `asset_tag ${JSON.stringify(tag)} is already used by another asset of this company`)
    throw error
  }
}

/** Schema-checked date-time text → Unix seconds (null stays null). */
function seconds(value: string | null): number | null {
  return value === null ? null : parseDateTime(value)
}

export async function getAsset(db: Db, actor: Actor, assetId: number) {
  requireAssetsApi(actor)
  const row = await assets.findAsset(db, actor.companyId, assetId)
  if (!row) throw notFound('Asset', assetId)
  return withTag(row)
}

export async function listAssets(db: Db, actor: Actor, query: AssetListQueryInput) {
  requireAssetsApi(actor)
  const filters: assets.AssetFilters = {
    ...(query.customer_location_id !== undefined && { customerLocationId: query.customer_location_id }),
    ...(query.status !== undefined && { status: query.status }),
    ...(query.q !== undefined && { q: query.q }),
  }
  const page = pageRequest(query.page, query.per_page)
  const total = await assets.countAssets(db, actor.companyId, filters)
  const rows = page.offset < total ? await assets.listAssets(db, actor.companyId, filters, page.perPage, page.offset) : []
  return { data: rows.map(presentAsset), pagination: pagination(page, total), page }
}

export async function createAsset(db: Db, actor: Actor, input: CreateAssetInput, beforeCommit?: BeforeCommit<AssetView>): Promise<AssetView> {
  requireAssetsApi(actor)
  await checkLocation(db, actor, input.customer_location_id)
  const now = nowSeconds()
  return inTransaction(db, async (trx) => {
    const row = await guardTag(input.asset_tag, () =>
      assets.insertAsset(trx, {
        company_id: actor.companyId,
        asset_tag: input.asset_tag,
        asset_name: input.asset_name,
        search_text: searchText(input.asset_tag, input.asset_name),
        asset_type: input.asset_type ?? null,
        asset_status: input.asset_status ?? 'Active',
        customer_location_id: input.customer_location_id ?? null,
        serial_number: input.serial_number ?? null,
        manufacturer: input.manufacturer ?? null,
        model: input.model ?? null,
        installed_at: input.installed_at === undefined ? null : seconds(input.installed_at),
        created_at: now,
        updated_at: now,
        deleted_at: null,
      }),
    )
    return presentAsset(row)
  }, beforeCommit)
}

export async function updateAsset(
  db: Db,
  actor: Actor,
  assetId: number,
  input: UpdateAssetInput,
  conditions: WriteConditions = {},
  beforeCommit?: BeforeCommit<Tagged<AssetView>>,
): Promise<Tagged<AssetView>> {
  requireAssetsApi(actor)
  if (Object.keys(input).length === 0) throw validationError([{ field: 'body', message: NOTHING_TO_UPDATE }])
  await checkLocation(db, actor, input.customer_location_id)

  const changes: Partial<AssetRow> = {}
  if (input.asset_tag !== undefined) changes.asset_tag = input.asset_tag
  if (input.asset_name !== undefined) changes.asset_name = input.asset_name
  if (input.asset_type !== undefined) changes.asset_type = input.asset_type
  if (input.asset_status !== undefined) changes.asset_status = input.asset_status
  if (input.customer_location_id !== undefined) changes.customer_location_id = input.customer_location_id
  if (input.serial_number !== undefined) changes.serial_number = input.serial_number
  if (input.manufacturer !== undefined) changes.manufacturer = input.manufacturer
  if (input.model !== undefined) changes.model = input.model
  if (input.installed_at !== undefined) changes.installed_at = seconds(input.installed_at)

  return inTransaction(db, async (trx) => {
    // Locked: search_text is computed from the stored tag or name not sent.
    const current = await assets.findAssetForUpdate(trx, actor.companyId, assetId)
    if (!current) throw notFound('Asset', assetId)
    if (isConditional(conditions)) assertConditions(conditions, withTag(current).etag, 'asset')
    const tag = changes.asset_tag ?? current.asset_tag
    changes.search_text = searchText(tag, changes.asset_name ?? current.asset_name)
    const now = nowSeconds()
    changes.updated_at = Math.max(now, current.updated_at)
    const row = await guardTag(tag, () => assets.updateAsset(trx, actor.companyId, assetId, changes))
    if (!row) throw notFound('Asset', assetId)
    // A job shows its assets' tag, name and status (jobs.presenter.ts); only a change of those changes the jobs linked.
    if (row.asset_tag !== current.asset_tag || row.asset_name !== current.asset_name || row.asset_status !== current.asset_status) {
      await touchJobsShowing(trx, actor.companyId, { assetId }, now)
    }
    return withTag(row)
  }, beforeCommit)
}

/** Soft delete; honours If-Match like PUT, so a client can delete only the version it saw. */
export async function deleteAsset(db: Db, actor: Actor, assetId: number, conditions: WriteConditions = {}): Promise<{ asset_id: number }> {
  requireAssetsApi(actor)
  return inTransaction(db, async (trx) => {
    const current = await assets.findAssetForUpdate(trx, actor.companyId, assetId)
    if (!current) throw notFound('Asset', assetId)
    if (isConditional(conditions)) assertConditions(conditions, withTag(current).etag, 'asset')
    const now = nowSeconds()
    if (!(await assets.softDeleteAsset(trx, actor.companyId, assetId, now))) throw notFound('Asset', assetId)
    // The jobs linked no longer show it.
    await touchJobsShowing(trx, actor.companyId, { assetId }, now)
    return { asset_id: assetId }
  })
}
