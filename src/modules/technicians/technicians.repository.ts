/**
 * Technicians SQL (Kysely only); every function is scoped by company.
 */
import type { Kysely } from 'kysely'
import type { Database } from '../../db/types.ts'

type Db = Kysely<Database>

export async function findTechnician(db: Db, companyId: number, technicianId: number) {
  return db.selectFrom('technicians').selectAll().where('company_id', '=', companyId).where('technician_id', '=', technicianId).executeTakeFirst()
}
