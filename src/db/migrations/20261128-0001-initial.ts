import { sql, type Kysely } from 'kysely'
import { withIdColumn } from '../dialect.ts'

/** The first schema: tenants, keys, the records around jobs, jobs, links and status history. */
export async function up(db: Kysely<any>): Promise<void> {
  await withIdColumn(db, db.schema.createTable('companies'), 'company_id')
    .addColumn('company_name', 'text', (c) => c.notNull())
    .addColumn('plan', 'text', (c) => c.notNull())
    .addColumn('modules', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()

  await withIdColumn(db, db.schema.createTable('api_keys'), 'key_id')
    .addColumn('company_id', 'bigint', (c) => c.notNull().references('companies.company_id'))
    .addColumn('key_name', 'text', (c) => c.notNull())
    .addColumn('key_prefix', 'text', (c) => c.notNull())
    .addColumn('key_hash', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('rate_limit_per_minute', 'integer')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .execute()
  await db.schema.createIndex('api_keys_company').on('api_keys').columns(['company_id', 'key_id']).execute()

  await withIdColumn(db, db.schema.createTable('customers'), 'customer_id')
    .addColumn('company_id', 'bigint', (c) => c.notNull().references('companies.company_id'))
    .addColumn('customer_name', 'text', (c) => c.notNull())
    .addColumn('search_text', 'text', (c) => c.notNull())
    .addColumn('customer_email', 'text')
    .addColumn('customer_phone', 'text')
    .addColumn('billing_address', 'text')
    .addColumn('notes', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('customers_company_created').on('customers').columns(['company_id', 'created_at', 'customer_id']).execute()

  await withIdColumn(db, db.schema.createTable('customer_locations'), 'customer_location_id')
    .addColumn('company_id', 'bigint', (c) => c.notNull().references('companies.company_id'))
    .addColumn('customer_id', 'bigint', (c) => c.notNull().references('customers.customer_id'))
    .addColumn('customer_location_name', 'text', (c) => c.notNull())
    .addColumn('search_text', 'text', (c) => c.notNull())
    .addColumn('address_line1', 'text')
    .addColumn('address_line2', 'text')
    .addColumn('city', 'text')
    .addColumn('region', 'text')
    .addColumn('postal_code', 'text')
    .addColumn('country', 'text')
    .addColumn('latitude', 'double precision')
    .addColumn('longitude', 'double precision')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('locations_company_created').on('customer_locations').columns(['company_id', 'created_at', 'customer_location_id']).execute()
  await db.schema.createIndex('locations_customer').on('customer_locations').columns(['company_id', 'customer_id', 'created_at']).execute()

  await withIdColumn(db, db.schema.createTable('technicians'), 'technician_id')
    .addColumn('company_id', 'bigint', (c) => c.notNull().references('companies.company_id'))
    .addColumn('technician_name', 'text', (c) => c.notNull())
    .addColumn('search_text', 'text', (c) => c.notNull())
    .addColumn('technician_email', 'text')
    .addColumn('technician_phone', 'text')
    .addColumn('technician_status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('technicians_company_created').on('technicians').columns(['company_id', 'created_at', 'technician_id']).execute()

  await withIdColumn(db, db.schema.createTable('assets'), 'asset_id')
    .addColumn('company_id', 'bigint', (c) => c.notNull().references('companies.company_id'))
    .addColumn('asset_tag', 'text', (c) => c.notNull())
    .addColumn('asset_name', 'text', (c) => c.notNull())
    .addColumn('search_text', 'text', (c) => c.notNull())
    .addColumn('asset_type', 'text')
    .addColumn('asset_status', 'text', (c) => c.notNull())
    .addColumn('customer_location_id', 'bigint', (c) => c.references('customer_locations.customer_location_id'))
    .addColumn('serial_number', 'text')
    .addColumn('manufacturer', 'text')
    .addColumn('model', 'text')
    .addColumn('installed_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('deleted_at', 'bigint')
    .execute()
  // A tag is unique among the company's live assets; a deleted asset's tag can be reused.
  await db.schema.createIndex('assets_company_tag').on('assets').columns(['company_id', 'asset_tag']).unique().where(sql.ref('deleted_at'), 'is', null).execute()
  await db.schema.createIndex('assets_company_created').on('assets').columns(['company_id', 'created_at', 'asset_id']).execute()
  await db.schema.createIndex('assets_location').on('assets').columns(['company_id', 'customer_location_id']).execute()

  await withIdColumn(db, db.schema.createTable('jobs'), 'job_id')
    .addColumn('company_id', 'bigint', (c) => c.notNull().references('companies.company_id'))
    .addColumn('job_title', 'text', (c) => c.notNull())
    .addColumn('job_description', 'text')
    .addColumn('job_status', 'text', (c) => c.notNull())
    .addColumn('job_priority', 'text', (c) => c.notNull())
    .addColumn('assigned_technician_id', 'bigint', (c) => c.references('technicians.technician_id'))
    .addColumn('customer_location_id', 'bigint', (c) => c.notNull().references('customer_locations.customer_location_id'))
    .addColumn('scheduled_start', 'bigint')
    .addColumn('scheduled_end', 'bigint')
    .addColumn('actual_start', 'bigint')
    .addColumn('actual_end', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()
  // One index per list filter, each ending in the default order so a page is
  // read straight from the index (API.md §4).
  const jobIndexes: Array<[string, string[]]> = [
    ['jobs_company_created', ['company_id', 'created_at', 'job_id']],
    ['jobs_company_status', ['company_id', 'job_status', 'created_at', 'job_id']],
    ['jobs_company_priority', ['company_id', 'job_priority', 'created_at', 'job_id']],
    ['jobs_company_technician', ['company_id', 'assigned_technician_id', 'created_at', 'job_id']],
    ['jobs_company_location', ['company_id', 'customer_location_id', 'created_at', 'job_id']],
    ['jobs_company_updated', ['company_id', 'updated_at', 'job_id']],
    ['jobs_company_scheduled', ['company_id', 'scheduled_start', 'job_id']],
  ]
  for (const [name, columns] of jobIndexes) await db.schema.createIndex(name).on('jobs').columns(columns).execute()

  await db.schema
    .createTable('job_assets')
    .addColumn('job_id', 'bigint', (c) => c.notNull().references('jobs.job_id'))
    .addColumn('asset_id', 'bigint', (c) => c.notNull().references('assets.asset_id'))
    .addColumn('company_id', 'bigint', (c) => c.notNull())
    .addColumn('relationship_type', 'text', (c) => c.notNull())
    .addColumn('relationship_notes', 'text')
    .addColumn('linked_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('job_assets_pk', ['job_id', 'asset_id'])
    .execute()
  await db.schema.createIndex('job_assets_asset').on('job_assets').columns(['asset_id']).execute()

  await withIdColumn(db, db.schema.createTable('job_status_changes'), 'change_id')
    .addColumn('job_id', 'bigint', (c) => c.notNull().references('jobs.job_id'))
    .addColumn('company_id', 'bigint', (c) => c.notNull())
    .addColumn('from_status', 'text')
    .addColumn('to_status', 'text', (c) => c.notNull())
    .addColumn('changed_at', 'bigint', (c) => c.notNull())
    .addColumn('key_id', 'bigint', (c) => c.references('api_keys.key_id'))
    .execute()
  await db.schema.createIndex('job_status_changes_job').on('job_status_changes').columns(['job_id', 'change_id']).execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['job_status_changes', 'job_assets', 'jobs', 'assets', 'technicians', 'customer_locations', 'customers', 'api_keys', 'companies']) {
    await db.schema.dropTable(table).execute()
  }
}
