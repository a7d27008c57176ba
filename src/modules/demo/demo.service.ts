/**
 * Demo data (API.md §6): a company with customers, locations, technicians,
 * assets and jobs in every status, made through the same services the API
 * uses, so the demo is valid data by construction.
 */
import { sql, type Kysely } from 'kysely'
import { isSqlite } from '../../db/dialect.ts'
import type { Database } from '../../db/types.ts'
import { inTransaction } from '../../db/transaction.ts'
import type { Actor } from '../actor.ts'
import { createKey } from '../api-keys/api-keys.service.ts'
import { SCOPES } from '../api-keys/scopes.ts'
import { createAsset } from '../assets/assets.service.ts'
import { createCompany } from '../companies/companies.service.ts'
import { createCustomer } from '../customers/customers.service.ts'
import { changeJobStatus, createJob } from '../jobs/jobs.service.ts'
import type { JobPriority, JobStatus } from '../jobs/status.ts'
import { createLocation } from '../locations/locations.service.ts'
import { createTechnician } from '../technicians/technicians.service.ts'

export interface DemoResult {
  company_id: number
  company_name: string
  api_key: string
}

export async function databaseIsEmpty(db: Kysely<Database>): Promise<boolean> {
  const row = await db.selectFrom('companies').select('company_id').limit(1).executeTakeFirst()
  return row === undefined
}

/** The path through the seed's table that reaches each status. */
const PATHS: Record<JobStatus, JobStatus[]> = {
  Pending: [],
  Assigned: ['Assigned'],
  'In Progress': ['Assigned', 'In Progress'],
  'On Hold': ['Assigned', 'In Progress', 'On Hold'],
  Completed: ['Assigned', 'In Progress', 'Completed'],
  Invoiced: ['Assigned', 'In Progress', 'Completed', 'Invoiced'],
  Paid: ['Assigned', 'In Progress', 'Completed', 'Invoiced', 'Paid'],
  Closed: ['Assigned', 'In Progress', 'Completed', 'Invoiced', 'Paid', 'Closed'],
  Cancelled: ['Cancelled'],
}

const DAY = 86_400_000

function at(daysFromNow: number, hour: number): string {
  const date = new Date(Date.now() + daysFromNow * DAY)
  date.setUTCHours(hour, 0, 0, 0)
  return date.toISOString().slice(0, 19) + 'Z'
}

/**
 * The demo company, its records, jobs and key, as one transaction: a
 * failure part way (a full disk) left a company half seeded and a key no
 * one was shown, and a database no longer empty, which `npm start` then
 * did not seed again.
 */
export async function seedDemo(db: Kysely<Database>): Promise<DemoResult> {
  return inTransaction(db, seedDemoIn)
}

/**
 * `npm start`'s demo: seeded only into a database without companies,
 * looked at inside the seeding's transaction. Two `fsm serve
 * --demo-if-empty` starting at once on an empty PostgreSQL database both
 * found it empty and seeded two demo companies; the table lock makes the
 * second wait for the first and find its company. (On SQLite the write
 * lock, taken by the transaction's BEGIN IMMEDIATE, does the same.)
 */
export async function seedDemoIfEmpty(db: Kysely<Database>): Promise<DemoResult | undefined> {
  return inTransaction(db, async (trx) => {
    if (!isSqlite(trx)) await sql`lock table companies in share row exclusive mode`.execute(trx)
    return (await databaseIsEmpty(trx)) ? seedDemoIn(trx) : undefined
  })
}

async function seedDemoIn(db: Kysely<Database>): Promise<DemoResult> {
  const company = await createCompany(db, { name: 'Demo HVAC & Plumbing', plan: 'enterprise', modules: ['assets'] })
  const actor: Actor = { companyId: company.company_id, keyId: null, modules: new Set(['assets']) }

  const acme = await createCustomer(db, actor, { customer_name: 'Acme Corporation', customer_email: 'facilities@acme.example', customer_phone: '+1 555 0100', billing_address: '1 Acme Plaza\nSpringfield' })
  const greenleaf = await createCustomer(db, actor, { customer_name: 'Greenleaf Apartments', customer_email: 'office@greenleaf.example' })
  const rosa = await createCustomer(db, actor, { customer_name: 'Rosa Martinez', customer_phone: '+1 555 0177' })

  const mainOffice = await createLocation(db, actor, { customer_id: acme.customer_id, customer_location_name: 'Main Office', address_line1: '1 Acme Plaza', city: 'Springfield', region: 'IL', postal_code: '62701', country: 'US', latitude: 39.7817, longitude: -89.6501 })
  const warehouse = await createLocation(db, actor, { customer_id: acme.customer_id, customer_location_name: 'Warehouse 2', address_line1: '400 Industrial Way', city: 'Springfield', country: 'US' })
  const buildingA = await createLocation(db, actor, { customer_id: greenleaf.customer_id, customer_location_name: 'Building A', address_line1: '12 Greenleaf Ct', city: 'Shelbyville', country: 'US' })
  const home = await createLocation(db, actor, { customer_id: rosa.customer_id, customer_location_name: 'Home', address_line1: '88 Elm St', city: 'Springfield', country: 'US' })

  const john = await createTechnician(db, actor, { technician_name: 'John Smith', technician_email: 'john@demo.example', technician_phone: '+1 555 0142' })
  const priya = await createTechnician(db, actor, { technician_name: 'Priya Patel', technician_email: 'priya@demo.example' })
  const marco = await createTechnician(db, actor, { technician_name: 'Marco Rossi' })
  await createTechnician(db, actor, { technician_name: 'Dana Lee', technician_status: 'Inactive' })

  const rooftop = await createAsset(db, actor, { asset_tag: 'HVAC-007', asset_name: 'Rooftop AC Unit #7', asset_type: 'HVAC', asset_status: 'In Maintenance', customer_location_id: mainOffice.customer_location_id, manufacturer: 'Carrier', model: '48TC', serial_number: 'CR48-77102' })
  const boiler = await createAsset(db, actor, { asset_tag: 'BLR-002', asset_name: 'Basement Boiler', asset_type: 'Boiler', customer_location_id: buildingA.customer_location_id, manufacturer: 'Weil-McLain' })
  const heater = await createAsset(db, actor, { asset_tag: 'WH-015', asset_name: 'Water Heater', asset_type: 'Plumbing', customer_location_id: home.customer_location_id })
  const dock = await createAsset(db, actor, { asset_tag: 'DOOR-004', asset_name: 'Loading Dock Door', asset_type: 'Door', customer_location_id: warehouse.customer_location_id })

  const plans: Array<{ title: string; status: JobStatus; location: number; tech?: number; priority: JobPriority; assets?: number[]; day: number; description?: string }> = [
    { title: 'AC unit repair', status: 'Pending', location: mainOffice.customer_location_id, priority: 'High', assets: [rooftop.asset_id], day: 1, description: 'Customer reports AC not cooling in main office' },
    { title: 'Annual boiler inspection', status: 'Assigned', location: buildingA.customer_location_id, tech: priya.technician_id, priority: 'Medium', assets: [boiler.asset_id], day: 2 },
    { title: 'Replace water heater element', status: 'In Progress', location: home.customer_location_id, tech: john.technician_id, priority: 'Urgent', assets: [heater.asset_id], day: 0 },
    { title: 'Dock door sensor fault', status: 'On Hold', location: warehouse.customer_location_id, tech: marco.technician_id, priority: 'Low', assets: [dock.asset_id], day: -1, description: 'Waiting for replacement sensor' },
    { title: 'Thermostat replacement', status: 'Completed', location: mainOffice.customer_location_id, tech: john.technician_id, priority: 'Medium', day: -3 },
    { title: 'Leaking kitchen tap', status: 'Invoiced', location: home.customer_location_id, tech: priya.technician_id, priority: 'Low', day: -6 },
    { title: 'Filter change, all units', status: 'Paid', location: buildingA.customer_location_id, tech: marco.technician_id, priority: 'Low', day: -10 },
    { title: 'Emergency no-heat call', status: 'Closed', location: buildingA.customer_location_id, tech: john.technician_id, priority: 'Urgent', assets: [boiler.asset_id], day: -20 },
    { title: 'Duplicate booking', status: 'Cancelled', location: warehouse.customer_location_id, priority: 'Medium', day: 3 },
  ]
  for (const plan of plans) {
    const job = await createJob(db, actor, {
      job_title: plan.title,
      customer_location_id: plan.location,
      job_priority: plan.priority,
      ...(plan.description && { job_description: plan.description }),
      ...(plan.tech && { assigned_technician_id: plan.tech }),
      scheduled_start: at(plan.day, 9),
      scheduled_end: at(plan.day, 11),
      ...(plan.assets && { asset_ids: plan.assets }),
    })
    for (const status of PATHS[plan.status]) await changeJobStatus(db, actor, job.job_id, status)
  }

  const { apiKey } = await createKey(db, { companyId: company.company_id, scopes: [...SCOPES], name: 'Demo key' })
  return { company_id: company.company_id, company_name: company.company_name, api_key: apiKey }
}
