/**
 * The database as Kysely sees it. Timestamps are stored as whole Unix seconds
 * (INTEGER in SQLite, BIGINT in PostgreSQL): one representation on both
 * dialects, exact range comparisons, and the API's one-second resolution.
 * Conversion to `YYYY-MM-DDTHH:MM:SSZ` happens in the presenters.
 */
import type { Generated, Insertable, Selectable } from 'kysely'

export interface CompaniesTable {
  company_id: Generated<number>
  company_name: string
  plan: string
  /** Comma-separated module names, e.g. `assets`. */
  modules: string
  created_at: number
}

export interface ApiKeysTable {
  key_id: Generated<number>
  company_id: number
  key_name: string
  /** The visible start of the key, for people to recognise it. */
  key_prefix: string
  /** Hex SHA-256 of the whole key; the key itself is never stored. */
  key_hash: string
  /** Comma-separated scopes. */
  scopes: string
  /** Requests per minute; null means the configured default. */
  rate_limit_per_minute: number | null
  created_at: number
  last_used_at: number | null
  revoked_at: number | null
}

export interface CustomersTable {
  /** Bumped by every write; part of the ETag (API.md §8). */
  row_version: Generated<number>
  customer_id: Generated<number>
  company_id: number
  customer_name: string
  /** Lower-cased name for `q`, so search is the same on every dialect. */
  search_text: string
  customer_email: string | null
  customer_phone: string | null
  billing_address: string | null
  notes: string | null
  created_at: number
  updated_at: number
}

export interface CustomerLocationsTable {
  /** Bumped by every write; part of the ETag (API.md §8). */
  row_version: Generated<number>
  customer_location_id: Generated<number>
  company_id: number
  customer_id: number
  customer_location_name: string
  search_text: string
  address_line1: string | null
  address_line2: string | null
  city: string | null
  region: string | null
  postal_code: string | null
  country: string | null
  latitude: number | null
  longitude: number | null
  created_at: number
  updated_at: number
}

export interface TechniciansTable {
  /** Bumped by every write; part of the ETag (API.md §8). */
  row_version: Generated<number>
  technician_id: Generated<number>
  company_id: number
  technician_name: string
  search_text: string
  technician_email: string | null
  technician_phone: string | null
  technician_status: string
  created_at: number
  updated_at: number
}

export interface AssetsTable {
  /** Bumped by every write; part of the ETag (API.md §8). */
  row_version: Generated<number>
  asset_id: Generated<number>
  company_id: number
  asset_tag: string
  asset_name: string
  search_text: string
  asset_type: string | null
  asset_status: string
  customer_location_id: number | null
  serial_number: string | null
  manufacturer: string | null
  model: string | null
  installed_at: number | null
  created_at: number
  updated_at: number
  /** Soft delete: a deleted asset is `not_found` everywhere. */
  deleted_at: number | null
}

export interface JobsTable {
  /** Bumped by every write; part of the ETag (API.md §8). */
  row_version: Generated<number>
  job_id: Generated<number>
  company_id: number
  job_title: string
  job_description: string | null
  job_status: string
  job_priority: string
  assigned_technician_id: number | null
  customer_location_id: number
  scheduled_start: number | null
  scheduled_end: number | null
  actual_start: number | null
  actual_end: number | null
  created_at: number
  updated_at: number
}

export interface JobAssetsTable {
  job_id: number
  asset_id: number
  company_id: number
  relationship_type: string
  relationship_notes: string | null
  linked_at: number
}

export interface JobStatusChangesTable {
  change_id: Generated<number>
  job_id: number
  company_id: number
  from_status: string | null
  to_status: string
  changed_at: number
  /** The API key that made the change; null for changes made outside the API. */
  key_id: number | null
}

export interface IdempotencyKeysTable {
  key_id: number
  idempotency_key: string
  /** SHA-256 of method, path with query, and the canonical JSON body. */
  fingerprint: string
  state: 'running' | 'done'
  response_status: number | null
  response_body: string | null
  response_headers: string | null
  request_id: string | null
  created_at: number
  locked_at: number
}

/**
 * Jobs per company, status and priority, kept with every job write (exact
 * list totals), in stripes: the count is the sum over a cell's stripes
 * (migration 0006 says why).
 */
export interface JobCountsTable {
  company_id: number
  job_status: string
  job_priority: string
  stripe: number
  job_count: number
  /** Moved by every job write whose job leaves, enters or stays in the cell (migration 0011). */
  write_seq: Generated<number>
}

/** Bumped by every job write of the company, in stripes (summed): list caches compare them. */
export interface JobWriteSeqsTable {
  company_id: number
  stripe: number
  /** Bumped by every job write and by every write to what job lists show. */
  write_seq: number
  /** Bumped only by writes to names that job lists show (customers, locations, technicians). */
  names_seq: Generated<number>
}

export interface Database {
  companies: CompaniesTable
  api_keys: ApiKeysTable
  customers: CustomersTable
  customer_locations: CustomerLocationsTable
  technicians: TechniciansTable
  assets: AssetsTable
  jobs: JobsTable
  job_assets: JobAssetsTable
  job_status_changes: JobStatusChangesTable
  idempotency_keys: IdempotencyKeysTable
  job_counts: JobCountsTable
  job_write_seqs: JobWriteSeqsTable
  installation: InstallationTable
}

export type CompanyRow = Selectable<CompaniesTable>
export type ApiKeyRow = Selectable<ApiKeysTable>
export type CustomerRow = Selectable<CustomersTable>
export type LocationRow = Selectable<CustomerLocationsTable>
export type TechnicianRow = Selectable<TechniciansTable>
export type AssetRow = Selectable<AssetsTable>
export type JobRow = Selectable<JobsTable>
export type NewJob = Insertable<JobsTable>

/** One row: the installation's id (migration 20261129-0005 says what it is for). */
export interface InstallationTable {
  installation_id: string
}
