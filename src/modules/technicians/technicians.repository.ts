/**
 * Technicians SQL (Kysely only); every function is scoped by company.
 */
import { sql, type Insertable, type Kysely } from 'kysely'
import type { Database, TechnicianRow, TechniciansTable } from '../../db/types.ts'
import { forUpdate } from '../../db/dialect.ts'
import { prepared } from '../../db/prepared.ts'
import { likeContains } from '../../db/search.ts'

type Db = Kysely<Database>

export interface TechnicianFilters {
  status?: string
  q?: string
}

const technicianById = prepared((db, companyId: number, technicianId: number) =>
  db.selectFrom('technicians').selectAll().where('company_id', '=', companyId).where('technician_id', '=', technicianId),
)

export async function findTechnician(db: Db, companyId: number, technicianId: number): Promise<TechnicianRow | undefined> {
  return (await technicianById(db, companyId, technicianId))[0]
}

export async function findTechnicianForUpdate(db: Db, companyId: number, technicianId: number): Promise<TechnicianRow | undefined> {
  return forUpdate(db, db.selectFrom('technicians').selectAll().where('company_id', '=', companyId).where('technician_id', '=', technicianId)).executeTakeFirst()
}

function filtered(db: Db, companyId: number, f: TechnicianFilters) {
  let query = db.selectFrom('technicians').where('company_id', '=', companyId)
  if (f.status !== undefined) query = query.where('technician_status', '=', f.status)
  if (f.q !== undefined) query = query.where(likeContains('search_text', f.q))
  return query
}

export async function countTechnicians(db: Db, companyId: number, filters: TechnicianFilters): Promise<number> {
  const row = await filtered(db, companyId, filters).select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow()
  return Number(row.total)
}

export async function listTechnicians(db: Db, companyId: number, filters: TechnicianFilters, limit: number, offset: number): Promise<TechnicianRow[]> {
  return filtered(db, companyId, filters).selectAll().orderBy('created_at', 'desc').orderBy('technician_id', 'desc').limit(limit).offset(offset).execute()
}

export async function insertTechnician(db: Db, values: Insertable<TechniciansTable>): Promise<TechnicianRow> {
  return db.insertInto('technicians').values(values).returningAll().executeTakeFirstOrThrow()
}

export async function updateTechnician(db: Db, companyId: number, technicianId: number, changes: Partial<TechnicianRow>): Promise<TechnicianRow | undefined> {
  return db
    .updateTable('technicians')
    .set({ ...changes, row_version: sql<number>`row_version + 1` })
    .where('company_id', '=', companyId)
    .where('technician_id', '=', technicianId)
    .returningAll()
    .executeTakeFirst()
}
