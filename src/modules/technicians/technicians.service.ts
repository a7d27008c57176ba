/** Technicians (API.md §5): knows nothing of Fastify; a write's preconditions arrive as data (http/conditional.ts). */
import type { Kysely } from 'kysely'
import type { Database, TechnicianRow } from '../../db/types.ts'
import { nowSeconds, toIso } from '../../db/time.ts'
import { inTransaction, type BeforeCommit } from '../../db/transaction.ts'
import { searchText } from '../../db/search.ts'
import { assertConditions, isConditional, type WriteConditions, tagged, type Tagged } from '../../http/conditional.ts'
import { notFound, NOTHING_TO_UPDATE, validationError } from '../../http/errors.ts'
import { pageRequest, pagination } from '../../http/pagination.ts'
import type { Actor } from '../actor.ts'
import * as technicians from './technicians.repository.ts'
import { touchJobsShowing } from '../jobs/jobs.repository.ts'
import type {
  CreateTechnicianInput, TechnicianListQueryInput, TechnicianStatus, TechnicianView, UpdateTechnicianInput,
} from './technicians.schemas.ts'

type Db = Kysely<Database>

export function presentTechnician(row: TechnicianRow): TechnicianView {
  return {
    technician_id: row.technician_id,
    technician_name: row.technician_name,
    technician_email: row.technician_email,
    technician_phone: row.technician_phone,
    technician_status: row.technician_status as TechnicianStatus,
    created_at: toIso(row.created_at),
    updated_at: toIso(row.updated_at),
  }
}

/** The record and its ETag (representation and row version, API.md §8). */
const withTag = (row: TechnicianRow): Tagged<TechnicianView> => tagged(row.row_version, presentTechnician(row))

export async function getTechnician(db: Db, actor: Actor, technicianId: number) {
  const row = await technicians.findTechnician(db, actor.companyId, technicianId)
  if (!row) throw notFound('Technician', technicianId)
  return withTag(row)
}

export async function listTechnicians(db: Db, actor: Actor, query: TechnicianListQueryInput) {
  const filters: technicians.TechnicianFilters = {
    ...(query.status !== undefined && { status: query.status }),
    ...(query.q !== undefined && { q: query.q }),
  }
  const page = pageRequest(query.page, query.per_page)
  const total = await technicians.countTechnicians(db, actor.companyId, filters)
  const rows = page.offset < total ? await technicians.listTechnicians(db, actor.companyId, filters, page.perPage, page.offset) : []
  return { data: rows.map(presentTechnician), pagination: pagination(page, total), page }
}

export async function createTechnician(db: Db, actor: Actor, input: CreateTechnicianInput, beforeCommit?: BeforeCommit<TechnicianView>): Promise<TechnicianView> {
  const now = nowSeconds()
  return inTransaction(db, async (trx) => {
    const row = await technicians.insertTechnician(trx, {
    company_id: actor.companyId,
    technician_name: input.technician_name,
    search_text: searchText(input.technician_name),
    technician_email: input.technician_email ?? null,
    technician_phone: input.technician_phone ?? null,
      technician_status: input.technician_status ?? 'Active',
      created_at: now,
      updated_at: now,
    })
    return presentTechnician(row)
  }, beforeCommit)
}

/** Deactivating a technician leaves the jobs already assigned to them as they are (API.md §5). */
export async function updateTechnician(
  db: Db,
  actor: Actor,
  technicianId: number,
  input: UpdateTechnicianInput,
  conditions: WriteConditions = {},
  beforeCommit?: BeforeCommit<Tagged<TechnicianView>>,
): Promise<Tagged<TechnicianView>> {
  if (Object.keys(input).length === 0) throw validationError([{ field: 'body', message: NOTHING_TO_UPDATE }])
  return inTransaction(db, async (trx) => {
    const current = await technicians.findTechnicianForUpdate(trx, actor.companyId, technicianId)
    if (!current) throw notFound('Technician', technicianId)
    if (isConditional(conditions)) assertConditions(conditions, withTag(current).etag, 'technician')
    const now = nowSeconds()
    const changes: Partial<TechnicianRow> = { ...input, updated_at: Math.max(now, current.updated_at) }
    if (input.technician_name !== undefined) changes.search_text = searchText(input.technician_name)
    const row = await technicians.updateTechnician(trx, actor.companyId, technicianId, changes)
    // Jobs show their technician's name; only a new one changes them.
    if (input.technician_name !== undefined && input.technician_name !== current.technician_name) await touchJobsShowing(trx, actor.companyId, { technicianId }, now)
    if (!row) throw notFound('Technician', technicianId)
    return withTag(row)
  }, beforeCommit)
}
