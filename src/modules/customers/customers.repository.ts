/** Customers SQL (Kysely only); every function is scoped by company. */
import { sql, type Insertable, type Kysely } from 'kysely'
import type { CustomerRow, CustomersTable, Database } from '../../db/types.ts'
import { forUpdate } from '../../db/dialect.ts'
import { prepared } from '../../db/prepared.ts'
import { likeContains } from '../../db/search.ts'

type Db = Kysely<Database>

/** The bare row; a PUT that moves a job to another location reads its customer's name with it. */
const customerById = prepared((db, companyId: number, customerId: number) =>
  db.selectFrom('customers').selectAll().where('company_id', '=', companyId).where('customer_id', '=', customerId),
)

export async function findCustomer(db: Db, companyId: number, customerId: number): Promise<CustomerRow | undefined> {
  return (await customerById(db, companyId, customerId))[0]
}

export async function findCustomerForUpdate(db: Db, companyId: number, customerId: number): Promise<CustomerRow | undefined> {
  return forUpdate(db, db.selectFrom('customers').selectAll().where('company_id', '=', companyId).where('customer_id', '=', customerId)).executeTakeFirst()
}

function filtered(db: Db, companyId: number, q: string | undefined) {
  let query = db.selectFrom('customers').where('company_id', '=', companyId)
  if (q !== undefined) query = query.where(likeContains('search_text', q))
  return query
}

export async function countCustomers(db: Db, companyId: number, q: string | undefined): Promise<number> {
  const row = await filtered(db, companyId, q).select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow()
  return Number(row.total)
}

export async function listCustomers(db: Db, companyId: number, q: string | undefined, limit: number, offset: number): Promise<CustomerRow[]> {
  return filtered(db, companyId, q).selectAll().orderBy('created_at', 'desc').orderBy('customer_id', 'desc').limit(limit).offset(offset).execute()
}

export async function insertCustomer(db: Db, values: Insertable<CustomersTable>): Promise<CustomerRow> {
  return db.insertInto('customers').values(values).returningAll().executeTakeFirstOrThrow()
}

export async function updateCustomer(db: Db, companyId: number, customerId: number, changes: Partial<CustomerRow>): Promise<CustomerRow | undefined> {
  return db.updateTable('customers').set({ ...changes, row_version: sql<number>`row_version + 1` }).where('company_id', '=', companyId).where('customer_id', '=', customerId).returningAll().executeTakeFirst()
}
