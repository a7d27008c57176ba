/** Rows → the API's job shapes (seed/jobs-api.md). */
import { toIso } from '../../db/time.ts'
import type { JobListItemView, JobView } from './jobs.schemas.ts'
import type { JobViewRow, findJobAssets } from './jobs.repository.ts'

type AssetRow = Awaited<ReturnType<typeof findJobAssets>>[number]

export function presentJobListItem(row: JobViewRow): JobListItemView {
  return {
    job_id: row.job_id,
    job_title: row.job_title,
    job_description: row.job_description,
    job_status: row.job_status as JobView['job_status'],
    job_priority: row.job_priority as JobView['job_priority'],
    assigned_technician_id: row.assigned_technician_id,
    assigned_technician_name: row.assigned_technician_name,
    customer_location_id: row.customer_location_id,
    customer_location_name: row.customer_location_name,
    customer_id: row.customer_id,
    customer_name: row.customer_name,
    scheduled_start: toIso(row.scheduled_start),
    scheduled_end: toIso(row.scheduled_end),
    actual_start: toIso(row.actual_start),
    actual_end: toIso(row.actual_end),
    created_at: toIso(row.created_at),
    updated_at: toIso(row.updated_at),
  }
}

export function presentJob(row: JobViewRow, assets: AssetRow[]): JobView {
  // Adding `assets` to the list item (rather than spreading it into a new
  // literal) keeps the field order and skips V8's slow path for spreads.
  const job = presentJobListItem(row) as JobView
  job.assets = assets.map((a) => ({
    asset_id: a.asset_id,
    asset_tag: a.asset_tag,
    asset_name: a.asset_name,
    asset_status: a.asset_status as JobView['assets'][number]['asset_status'],
    relationship_type: a.relationship_type as JobView['assets'][number]['relationship_type'],
    relationship_notes: a.relationship_notes,
    linked_at: toIso(a.linked_at),
  }))
  return job
}
