/**
 * A tenant with the records jobs need, made in-process through the same
 * services the CLI and the API use (no HTTP, so it can be seeded before a
 * server starts), plus the job lifecycle helpers the tests share.
 */
import type { DatabaseHandle } from '../../src/db/connect.ts'
import { createAsset } from '../../src/modules/assets/assets.service.ts'
import { createCustomer } from '../../src/modules/customers/customers.service.ts'
import { createLocation } from '../../src/modules/locations/locations.service.ts'
import { createTechnician } from '../../src/modules/technicians/technicians.service.ts'
import { createExtraKey, createTenant, type Tenant } from '../../test/helpers/factories.ts'
// The seed's table as the tests write it out, not the server's copy: a wrong table in src/ must not look right to the checkers.
import { TABLE as TRANSITIONS, type Status as JobStatus } from '../../test/helpers/seed-table.ts'

export { TRANSITIONS, type JobStatus }

export interface World extends Tenant {
  customerIds: number[]
  locationIds: number[]
  technicianIds: number[]
  assetIds: number[]
}

export async function seedWorld(
  database: DatabaseHandle,
  options: { name?: string; locations?: number; technicians?: number; assets?: number; modules?: string[]; scopes?: string[]; rateLimitPerMinute?: number; plan?: string } = {},
): Promise<World> {
  const modules = options.modules ?? ['assets']
  const tenant = await createTenant(database, {
    name: options.name ?? 'Reliability Co',
    modules,
    ...(options.plan && { plan: options.plan }),
    ...(options.scopes && { scopes: options.scopes }),
    ...(options.rateLimitPerMinute !== undefined && { rateLimitPerMinute: options.rateLimitPerMinute }),
  })
  const actor = { companyId: tenant.companyId, keyId: null, modules: new Set(modules) }
  const world: World = { ...tenant, customerIds: [], locationIds: [], technicianIds: [], assetIds: [] }
  const customer = await createCustomer(database.db, actor, { customer_name: `${options.name ?? 'Reliability'} Customer` })
  world.customerIds.push(customer.customer_id)
  for (let i = 0; i < (options.locations ?? 2); i++) {
    const location = await createLocation(database.db, actor, { customer_id: customer.customer_id, customer_location_name: `Site ${i}` })
    world.locationIds.push(location.customer_location_id)
  }
  for (let i = 0; i < (options.technicians ?? 2); i++) {
    world.technicianIds.push((await createTechnician(database.db, actor, { technician_name: `Technician ${i}` })).technician_id)
  }
  if (modules.includes('assets')) {
    for (let i = 0; i < (options.assets ?? 3); i++) {
      world.assetIds.push((await createAsset(database.db, actor, { asset_tag: `TAG-${i}`, asset_name: `Unit ${i}` })).asset_id)
    }
  }
  return world
}

export { createExtraKey }

/** Does the recorded history (oldest first) chain, start at creation and follow the table? Returns the problem, if any. */
export function historyProblem(history: Array<{ from_status: string | null; to_status: string }>): string | undefined {
  if (history.length === 0) return 'no history at all'
  if (history[0]!.from_status !== null || history[0]!.to_status !== 'Pending') return `first row is ${JSON.stringify(history[0])}, not the creation`
  for (let i = 1; i < history.length; i++) {
    const { from_status: from, to_status: to } = history[i]!
    if (from !== history[i - 1]!.to_status) return `row ${i} starts at ${from} but the previous row ended at ${history[i - 1]!.to_status}`
    if (!TRANSITIONS[from as JobStatus]?.includes(to as JobStatus)) return `row ${i}: ${from} → ${to} is not in the transition table`
  }
  return undefined
}
