/**
 * Customer locations SQL (Kysely only); every function is scoped by company.
 */
import type { Kysely } from 'kysely'
import type { Database } from '../../db/types.ts'

type Db = Kysely<Database>

export async function findLocation(db: Db, companyId: number, locationId: number) {
  return db
    .selectFrom('customer_locations')
    .selectAll()
    .where('company_id', '=', companyId)
    .where('customer_location_id', '=', locationId)
    .executeTakeFirst()
}
