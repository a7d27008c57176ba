/** Customer locations (API.md §5): knows nothing of Fastify; a write's preconditions arrive as data (http/conditional.ts). */
import type { Kysely } from 'kysely'
import type { Database, LocationRow } from '../../db/types.ts'
import { nowSeconds, toIso } from '../../db/time.ts'
import { inTransaction, type BeforeCommit } from '../../db/transaction.ts'
import { searchText } from '../../db/search.ts'
import { assertConditions, isConditional, type WriteConditions, tagged, type Tagged } from '../../http/conditional.ts'
import { notFound, NOTHING_TO_UPDATE, refersToNone, validationError, type FieldError } from '../../http/errors.ts'
import { pageRequest, pagination } from '../../http/pagination.ts'
import { isWellFormedId } from '../../http/schemas.ts'
import type { Actor } from '../actor.ts'
import { findCustomer } from '../customers/customers.repository.ts'
import * as locations from './locations.repository.ts'
import type { CreateLocationInput, LocationListQueryInput, LocationView, UpdateLocationInput } from './locations.schemas.ts'
import { touchJobsShowing } from '../jobs/jobs.repository.ts'

type Db = Kysely<Database>

export function presentLocation(row: locations.LocationViewRow): LocationView {
  return {
    customer_location_id: row.customer_location_id,
    customer_location_name: row.customer_location_name,
    customer_id: row.customer_id,
    customer_name: row.customer_name,
    address_line1: row.address_line1,
    address_line2: row.address_line2,
    city: row.city,
    region: row.region,
    postal_code: row.postal_code,
    country: row.country,
    latitude: row.latitude,
    longitude: row.longitude,
    created_at: toIso(row.created_at),
    updated_at: toIso(row.updated_at),
  }
}

/**
 * The record and its ETag (representation and row version, API.md §8). The
 * representation holds the customer's live name, so renaming the customer
 * changes the location's tag too.
 */
const withTag = (row: locations.LocationViewRow): Tagged<LocationView> => tagged(row.row_version, presentLocation(row))

async function currentView(db: Db, actor: Actor, locationId: number): Promise<locations.LocationViewRow> {
  const row = await locations.findLocationView(db, actor.companyId, locationId)
  if (!row) throw notFound('Location', locationId)
  return row
}

/** `customer_id` must be one of the caller's company's customers (API.md §3); another company's looks the same as none. */
async function checkCustomer(db: Db, actor: Actor, customerId: number | undefined, details: FieldError[]) {
  if (customerId === undefined) return
  const customer = await findCustomer(db, actor.companyId, customerId)
  if (!customer) details.push({ field: 'customer_id', message: refersToNone('customer', customerId) })
}

/** The problem of a well-formed `customer_id` in a location body its validation refused (the write routes' `referenceProblems`, error-handler.ts). */
export async function locationReferenceProblems(db: Db, actor: Actor, body: unknown): Promise<FieldError[]> {
  const customerId = (body as Record<string, unknown> | undefined)?.customer_id
  const details: FieldError[] = []
  if (isWellFormedId(customerId)) await checkCustomer(db, actor, customerId, details)
  return details
}

export async function getLocation(db: Db, actor: Actor, locationId: number) {
  return withTag(await currentView(db, actor, locationId))
}

export async function listLocations(db: Db, actor: Actor, query: LocationListQueryInput) {
  const filters: locations.LocationFilters = {
    ...(query.customer_id !== undefined && { customerId: query.customer_id }),
    ...(query.q !== undefined && { q: query.q }),
  }
  const page = pageRequest(query.page, query.per_page)
  const total = await locations.countLocations(db, actor.companyId, filters)
  const rows = page.offset < total ? await locations.listLocations(db, actor.companyId, filters, page.perPage, page.offset) : []
  return { data: rows.map(presentLocation), pagination: pagination(page, total), page }
}

export async function createLocation(db: Db, actor: Actor, input: CreateLocationInput, beforeCommit?: BeforeCommit<LocationView>): Promise<LocationView> {
  return inTransaction(db, async (trx) => {
    const details: FieldError[] = []
    await checkCustomer(trx, actor, input.customer_id, details)
    if (details.length) throw validationError(details)
    const now = nowSeconds()
    const locationId = await locations.insertLocation(trx, {
      company_id: actor.companyId,
      customer_id: input.customer_id,
      customer_location_name: input.customer_location_name,
      search_text: searchText(input.customer_location_name),
      address_line1: input.address_line1 ?? null,
      address_line2: input.address_line2 ?? null,
      city: input.city ?? null,
      region: input.region ?? null,
      postal_code: input.postal_code ?? null,
      country: input.country ?? null,
      latitude: input.latitude ?? null,
      longitude: input.longitude ?? null,
      created_at: now,
      updated_at: now,
    })
    return presentLocation(await currentView(trx, actor, locationId))
  }, beforeCommit)
}

export async function updateLocation(
  db: Db,
  actor: Actor,
  locationId: number,
  input: UpdateLocationInput,
  conditions: WriteConditions = {},
  beforeCommit?: BeforeCommit<Tagged<LocationView>>,
): Promise<Tagged<LocationView>> {
  const details: FieldError[] = []
  if (Object.keys(input).length === 0) details.push({ field: 'body', message: NOTHING_TO_UPDATE })
  return inTransaction(db, async (trx) => {
    // As for jobs: ids inside the body are checked with the request, before the record is looked up.
    await checkCustomer(trx, actor, input.customer_id, details)
    if (details.length) throw validationError(details)
    const current = await locations.findLocationForUpdate(trx, actor.companyId, locationId)
    if (!current) throw notFound('Location', locationId)
    if (isConditional(conditions)) assertConditions(conditions, withTag(await currentView(trx, actor, locationId)).etag, 'location')
    const now = nowSeconds()
    const changes: Partial<LocationRow> = { ...input, updated_at: Math.max(now, current.updated_at) }
    if (input.customer_location_name !== undefined) changes.search_text = searchText(input.customer_location_name)
    if (!(await locations.updateLocation(trx, actor.companyId, locationId, changes))) throw notFound('Location', locationId)
    // Jobs show their location's name and its customer; only a change of either changes them.
    const shownChange =
      (input.customer_location_name !== undefined && input.customer_location_name !== current.customer_location_name) ||
      (input.customer_id !== undefined && input.customer_id !== current.customer_id)
    if (shownChange) await touchJobsShowing(trx, actor.companyId, { locationId }, now)
    return withTag(await currentView(trx, actor, locationId))
  }, beforeCommit)
}
