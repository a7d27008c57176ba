/**
 * Factories: tenants and keys through the same services the CLI uses, and
 * records through the API itself, so tests exercise what integrators do.
 */
import type { FastifyInstance } from 'fastify'
import type { DatabaseHandle } from '../../src/db/connect.ts'
import { createKey } from '../../src/modules/api-keys/api-keys.service.ts'
import { SCOPES } from '../../src/modules/api-keys/scopes.ts'
import { createCompany } from '../../src/modules/companies/companies.service.ts'

export const ALL_SCOPES = [...SCOPES]

export interface Tenant {
  companyId: number
  keyId: number
  apiKey: string
}

export async function createTenant(
  database: DatabaseHandle,
  options: { plan?: string; modules?: string[]; scopes?: string[]; name?: string; rateLimitPerMinute?: number } = {},
): Promise<Tenant> {
  const company = await createCompany(database.db, { name: options.name ?? 'Test Co', plan: options.plan ?? 'enterprise', modules: options.modules ?? ['assets'] })
  const key = await createKey(database.db, {
    companyId: company.company_id,
    scopes: options.scopes ?? ALL_SCOPES,
    ...(options.rateLimitPerMinute !== undefined && { rateLimitPerMinute: options.rateLimitPerMinute }),
  })
  return { companyId: company.company_id, keyId: key.keyId, apiKey: key.apiKey }
}

/** Another key for an existing company. */
export async function createExtraKey(database: DatabaseHandle, companyId: number, scopes: string[], rateLimitPerMinute?: number) {
  const key = await createKey(database.db, { companyId, scopes, ...(rateLimitPerMinute !== undefined && { rateLimitPerMinute }) })
  return { companyId, keyId: key.keyId, apiKey: key.apiKey }
}

export interface ApiResponse {
  status: number
  body: any
  headers: Record<string, string | string[] | number | undefined>
}

export interface CallOptions {
  key?: string | undefined
  body?: unknown
  /** Sent as-is (not JSON-encoded): text, or bytes exactly as given. */
  rawBody?: string | Buffer
  headers?: Record<string, string>
}

export async function call(app: FastifyInstance, method: string, url: string, options: CallOptions = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...(options.key !== undefined && { 'x-api-key': options.key }) }
  let payload: string | Buffer | undefined
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json'
    payload = JSON.stringify(options.body)
  } else if (options.rawBody !== undefined) {
    payload = options.rawBody
  }
  Object.assign(headers, options.headers)
  const response = await app.inject({ method: method as 'GET', url, headers, ...(payload !== undefined && { payload }) })
  let body: unknown = undefined
  if (response.body) {
    try {
      body = JSON.parse(response.body)
    } catch {
      body = response.body
    }
  }
  return { status: response.statusCode, body, headers: response.headers }
}

/** A customer, a location, an Active technician and (with the module) an asset, made through the API. */
export async function createBasics(app: FastifyInstance, key: string, suffix = '') {
  const customer = await call(app, 'POST', '/api/v1/customers', { key, body: { customer_name: `Acme Corporation${suffix}` } })
  if (customer.status !== 201) throw new Error(`customer: ${customer.status} ${JSON.stringify(customer.body)}`)
  const location = await call(app, 'POST', '/api/v1/locations', {
    key,
    body: { customer_id: customer.body.data.customer_id, customer_location_name: `Main Office${suffix}` },
  })
  if (location.status !== 201) throw new Error(`location: ${location.status} ${JSON.stringify(location.body)}`)
  const technician = await call(app, 'POST', '/api/v1/technicians', { key, body: { technician_name: `John Smith${suffix}` } })
  if (technician.status !== 201) throw new Error(`technician: ${technician.status} ${JSON.stringify(technician.body)}`)
  return {
    customerId: customer.body.data.customer_id as number,
    locationId: location.body.data.customer_location_id as number,
    technicianId: technician.body.data.technician_id as number,
  }
}

export async function createAssetVia(app: FastifyInstance, key: string, tag: string, extra: Record<string, unknown> = {}) {
  const asset = await call(app, 'POST', '/api/v1/assets', { key, body: { asset_tag: tag, asset_name: `Asset ${tag}`, ...extra } })
  if (asset.status !== 201) throw new Error(`asset: ${asset.status} ${JSON.stringify(asset.body)}`)
  return asset.body.data.asset_id as number
}

export async function createJobVia(app: FastifyInstance, key: string, locationId: number, extra: Record<string, unknown> = {}) {
  const job = await call(app, 'POST', '/api/v1/jobs', { key, body: { job_title: 'AC unit repair', customer_location_id: locationId, ...extra } })
  if (job.status !== 201) throw new Error(`job: ${job.status} ${JSON.stringify(job.body)}`)
  return job.body.data.job_id as number
}
