/**
 * Customer locations SQL (Kysely only); every function is scoped by company.
 * Reads for the API join the customer so `customer_name` is always the
 * customer's current name (never copied into the location).
 */
import { sql, type Insertable, type Kysely } from 'kysely'
import type { CustomerLocationsTable, Database, LocationRow } from '../../db/types.ts'
import { forUpdate } from '../../db/dialect.ts'
import { prepared } from '../../db/prepared.ts'
import { likeContains } from '../../db/search.ts'

type Db = Kysely<Database>

export interface LocationFilters {
  customerId?: number
  q?: string
}

/** The bare row (jobs use it to check `customer_location_id`). */
const locationById = prepared((db, companyId: number, locationId: number) =>
  db.selectFrom('customer_locations').selectAll().where('company_id', '=', companyId).where('customer_location_id', '=', locationId),
)

export async function findLocation(db: Db, companyId: number, locationId: number) {
  return (await locationById(db, companyId, locationId))[0]
}

/** The bare row, locked for the rest of the transaction (PostgreSQL; SQLite write transactions are exclusive). */
export async function findLocationForUpdate(db: Db, companyId: number, locationId: number): Promise<LocationRow | undefined> {
  return forUpdate(
    db,
    db.selectFrom('customer_locations').selectAll().where('company_id', '=', companyId).where('customer_location_id', '=', locationId),
  ).executeTakeFirst()
}

/** Locations joined with their customer's live name. */
function locationView(db: Db, companyId: number) {
  return db
    .selectFrom('customer_locations as l')
    .innerJoin('customers as c', (join) => join.onRef('c.customer_id', '=', 'l.customer_id').onRef('c.company_id', '=', 'l.company_id'))
    .select([
      'l.customer_location_id', 'l.customer_location_name', 'l.customer_id', 'c.customer_name',
      'l.address_line1', 'l.address_line2', 'l.city', 'l.region', 'l.postal_code', 'l.country', 'l.latitude', 'l.longitude',
      'l.created_at', 'l.updated_at', 'l.row_version',
    ])
    .where('l.company_id', '=', companyId)
}

export type LocationViewRow = NonNullable<Awaited<ReturnType<ReturnType<typeof locationView>['executeTakeFirst']>>>

export async function findLocationView(db: Db, companyId: number, locationId: number): Promise<LocationViewRow | undefined> {
  return locationView(db, companyId).where('l.customer_location_id', '=', locationId).executeTakeFirst()
}

function applyFilters<Q extends { where: (...args: any[]) => any }>(query: Q, f: LocationFilters): Q {
  let q: any = query
  if (f.customerId !== undefined) q = q.where('l.customer_id', '=', f.customerId)
  if (f.q !== undefined) q = q.where(likeContains('l.search_text', f.q))
  return q
}

export async function countLocations(db: Db, companyId: number, filters: LocationFilters): Promise<number> {
  const query = applyFilters(db.selectFrom('customer_locations as l').where('l.company_id', '=', companyId), filters)
  const row = await query.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow()
  return Number(row.total)
}

export async function listLocations(db: Db, companyId: number, filters: LocationFilters, limit: number, offset: number): Promise<LocationViewRow[]> {
  return applyFilters(locationView(db, companyId), filters)
    .orderBy('l.created_at', 'desc')
    .orderBy('l.customer_location_id', 'desc')
    .limit(limit)
    .offset(offset)
    .execute()
}

export async function insertLocation(db: Db, values: Insertable<CustomerLocationsTable>): Promise<number> {
  const row = await db.insertInto('customer_locations').values(values).returning('customer_location_id').executeTakeFirstOrThrow()
  return row.customer_location_id
}

/** Returns false when the location is not the company's. */
export async function updateLocation(db: Db, companyId: number, locationId: number, changes: Partial<LocationRow>): Promise<boolean> {
  const result = await db
    .updateTable('customer_locations')
    .set({ ...changes, row_version: sql<number>`row_version + 1` })
    .where('company_id', '=', companyId)
    .where('customer_location_id', '=', locationId)
    .executeTakeFirst()
  return Number(result.numUpdatedRows) === 1
}
