/**
 * Companies are tenants. They are made through the CLI (API.md §6), not the
 * REST API, and carry the plan and modules that gate the API.
 */
import type { Kysely } from 'kysely'
import type { Database, CompanyRow } from '../../db/types.ts'
import { nowSeconds } from '../../db/time.ts'
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

export async function createCompany(db: Kysely<Database>, input: NewCompany): Promise<CompanyRow> {
  const checked = oneLineName(input.name)
  if ('problem' in checked && checked.problem === 'not one line') throw new CompanyInputError('company name must be one line without control characters')
  if (!('name' in checked) || !checked.name) throw new CompanyInputError(`company name must be 1 to ${NAME_MAX} characters`)
  const name = checked.name
  const plan = input.plan ?? 'enterprise'
  if (!(PLANS as readonly string[]).includes(plan)) throw new CompanyInputError(`plan must be one of: ${PLANS.join(', ')}`)
  const modules = [...new Set((input.modules ?? []).map((m) => m.trim()).filter(Boolean))]
  const unknown = modules.filter((m) => !(MODULES as readonly string[]).includes(m))
  if (unknown.length) throw new CompanyInputError(`unknown module ${unknown.join(', ')}; known: ${MODULES.join(', ')}`)
  return db
    .insertInto('companies')
    .values({ company_name: name, plan, modules: modules.join(','), created_at: nowSeconds() })
    .returningAll()
    .executeTakeFirstOrThrow()
}

export async function getCompany(db: Kysely<Database>, companyId: number): Promise<CompanyRow | undefined> {
  return db.selectFrom('companies').selectAll().where('company_id', '=', companyId).executeTakeFirst()
}
