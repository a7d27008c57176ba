/**
 * Companies are tenants. They are made through the CLI (API.md §6), not the
 * REST API, and carry the plan and modules that gate the API.
 */
import type { Kysely } from 'kysely'
import type { Database, CompanyRow } from '../../db/types.ts'
import { nowSeconds, toIso } from '../../db/time.ts'
import { forUpdate } from '../../db/dialect.ts'
import { inTransaction } from '../../db/transaction.ts'
import { touchJobsShowing } from '../jobs/jobs.repository.ts'
import { NAME_MAX, oneLineName } from '../one-line-name.ts'

export const PLANS = ['starter', 'professional', 'enterprise'] as const
export type Plan = (typeof PLANS)[number]
export const MODULES = ['assets'] as const
export type Module = (typeof MODULES)[number]

export class CompanyInputError extends Error {}

export interface NewCompany {
  name: string
  plan?: string
  modules?: string[]
}

export function parseModules(text: string): Module[] {
  return text.split(',').map((m) => m.trim()).filter((m): m is Module => (MODULES as readonly string[]).includes(m))
}

function checkedName(text: string): string {
  const checked = oneLineName(text)
  if ('problem' in checked && checked.problem === 'not one line') throw new CompanyInputError('company name must be one line without control characters')
  if (!('name' in checked) || !checked.name) throw new CompanyInputError(`company name must be 1 to ${NAME_MAX} characters`)
  return checked.name
}

function checkedPlan(plan: string): Plan {
  if (!(PLANS as readonly string[]).includes(plan)) throw new CompanyInputError(`plan must be one of: ${PLANS.join(', ')}`)
  return plan as Plan
}

/** The modules as stored: known ones, once each, comma-separated. */
function checkedModules(modules: string[]): string {
  const named = [...new Set(modules.map((m) => m.trim()).filter(Boolean))]
  const unknown = named.filter((m) => !(MODULES as readonly string[]).includes(m))
  if (unknown.length) throw new CompanyInputError(`unknown module ${unknown.join(', ')}; known: ${MODULES.join(', ')}`)
  return named.join(',')
}

export async function createCompany(db: Kysely<Database>, input: NewCompany): Promise<CompanyRow> {
  return db
    .insertInto('companies')
    .values({ company_name: checkedName(input.name), plan: checkedPlan(input.plan ?? 'enterprise'), modules: checkedModules(input.modules ?? []), created_at: nowSeconds() })
    .returningAll()
    .executeTakeFirstOrThrow()
}

/** A company as `fsm company list` and `update` print it. */
export function presentCompany(row: CompanyRow) {
  return { company_id: row.company_id, name: row.company_name, plan: row.plan, modules: parseModules(row.modules), created_at: toIso(row.created_at) }
}

export async function listCompanies(db: Kysely<Database>): Promise<CompanyRow[]> {
  return db.selectFrom('companies').selectAll().orderBy('company_id').execute()
}

/**
 * Changes a company's name, plan or modules (what errors.md tells an
 * operator to do after `plan_upgrade_required`); its keys see the change
 * within FSM_KEY_CACHE_MS. Modules given replace the company's.
 */
export async function updateCompany(db: Kysely<Database>, companyId: number, changes: Partial<NewCompany>): Promise<CompanyRow> {
  const set = {
    ...(changes.name !== undefined && { company_name: checkedName(changes.name) }),
    ...(changes.plan !== undefined && { plan: checkedPlan(changes.plan) }),
    ...(changes.modules !== undefined && { modules: checkedModules(changes.modules) }),
  }
  if (Object.keys(set).length === 0) throw new CompanyInputError('nothing to change: give --name, --plan or --modules')
  return inTransaction(db, async (trx) => {
    const current = await forUpdate(trx, trx.selectFrom('companies').select('modules').where('company_id', '=', companyId)).executeTakeFirst()
    if (!current) throw new CompanyInputError(`company ${companyId} not found`)
    const row = await trx.updateTable('companies').set(set).where('company_id', '=', companyId).returningAll().executeTakeFirstOrThrow()
    // A job's answer lists its assets only while its company has the module
    // (`[]` otherwise): when the module comes or goes, the jobs with links
    // change without a write of their own, and a sync by updated_after must see them.
    const withAssets = (modules: string) => parseModules(modules).includes('assets')
    if (withAssets(current.modules) !== withAssets(row.modules)) await touchJobsShowing(trx, companyId, { anyAsset: true }, nowSeconds())
    return row
  })
}

export async function getCompany(db: Kysely<Database>, companyId: number): Promise<CompanyRow | undefined> {
  return db.selectFrom('companies').selectAll().where('company_id', '=', companyId).executeTakeFirst()
}
