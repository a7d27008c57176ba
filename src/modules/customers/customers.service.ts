/** Customers (API.md §5): knows nothing of Fastify; a write's preconditions arrive as data (http/conditional.ts). */
import type { Kysely } from 'kysely'
import type { CustomerRow, Database } from '../../db/types.ts'
import { nowSeconds, toIso } from '../../db/time.ts'
import { inTransaction, type BeforeCommit } from '../../db/transaction.ts'
import { searchText } from '../../db/search.ts'
import { assertConditions, isConditional, type WriteConditions, tagged, type Tagged } from '../../http/conditional.ts'
import { notFound, NOTHING_TO_UPDATE, validationError } from '../../http/errors.ts'
import { pageRequest, pagination } from '../../http/pagination.ts'
import type { Actor } from '../actor.ts'
import * as customers from './customers.repository.ts'
import type { CreateCustomerInput, CustomerListQueryInput, CustomerView, UpdateCustomerInput } from './customers.schemas.ts'
import { touchJobsShowing } from '../jobs/jobs.repository.ts'

type Db = Kysely<Database>

export function presentCustomer(row: CustomerRow): CustomerView {
  return {
    customer_id: row.customer_id,
    customer_name: row.customer_name,
    customer_email: row.customer_email,
    customer_phone: row.customer_phone,
    billing_address: row.billing_address,
    notes: row.notes,
    created_at: toIso(row.created_at),
    updated_at: toIso(row.updated_at),
  }
}

/** The record and its ETag (representation and row version, API.md §8). */
const withTag = (row: CustomerRow): Tagged<CustomerView> => tagged(row.row_version, presentCustomer(row))

export async function getCustomer(db: Db, actor: Actor, customerId: number) {
  const row = await customers.findCustomer(db, actor.companyId, customerId)
  if (!row) throw notFound('Customer', customerId)
  return withTag(row)
}

export async function listCustomers(db: Db, actor: Actor, query: CustomerListQueryInput) {
  const page = pageRequest(query.page, query.per_page)
  const total = await customers.countCustomers(db, actor.companyId, query.q)
  const rows = page.offset < total ? await customers.listCustomers(db, actor.companyId, query.q, page.perPage, page.offset) : []
  return { data: rows.map(presentCustomer), pagination: pagination(page, total), page }
}

export async function createCustomer(db: Db, actor: Actor, input: CreateCustomerInput, beforeCommit?: BeforeCommit<CustomerView>): Promise<CustomerView> {
  const now = nowSeconds()
  return inTransaction(db, async (trx) => {
    const row = await customers.insertCustomer(trx, {
    company_id: actor.companyId,
    customer_name: input.customer_name,
    search_text: searchText(input.customer_name),
    customer_email: input.customer_email ?? null,
    customer_phone: input.customer_phone ?? null,
    billing_address: input.billing_address ?? null,
      notes: input.notes ?? null,
      created_at: now,
      updated_at: now,
    })
    return presentCustomer(row)
  }, beforeCommit)
}

export async function updateCustomer(
  db: Db,
  actor: Actor,
  customerId: number,
  input: UpdateCustomerInput,
  conditions: WriteConditions = {},
  beforeCommit?: BeforeCommit<Tagged<CustomerView>>,
): Promise<Tagged<CustomerView>> {
  if (Object.keys(input).length === 0) throw validationError([{ field: 'body', message: NOTHING_TO_UPDATE }])
  return inTransaction(db, async (trx) => {
    const current = await customers.findCustomerForUpdate(trx, actor.companyId, customerId)
    if (!current) throw notFound('Customer', customerId)
    if (isConditional(conditions)) assertConditions(conditions, withTag(current).etag, 'customer')
    const now = nowSeconds()
    const changes: Partial<CustomerRow> = { ...input, updated_at: Math.max(now, current.updated_at) }
    if (input.customer_name !== undefined) changes.search_text = searchText(input.customer_name)
    const row = await customers.updateCustomer(trx, actor.companyId, customerId, changes)
    // Jobs show their customer's name; only a new one changes them.
    if (input.customer_name !== undefined && input.customer_name !== current.customer_name) await touchJobsShowing(trx, actor.companyId, { customerId }, now)
    if (!row) throw notFound('Customer', customerId)
    return withTag(row)
  }, beforeCommit)
}
