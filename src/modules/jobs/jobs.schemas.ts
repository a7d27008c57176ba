/**
 * Jobs API schemas: the seed's fields and shapes (seed/jobs-api.md), with
 * the decisions of API.md §4. They validate requests, serialise answers and
 * make the OpenAPI document.
 */
import { Type, type Static } from 'typebox'
import {
  Enum, exactPattern, Id, IdQuery, NullableEnum, ListEnvelope, Name, NullableDateTimeIn, NullableId, NullableName, NullableText, NullableTimestamp,
  QueryDate, QueryId, QueryPage, QueryPerPage, ReadEnvelope, Timestamp, UpdateBody, WriteEnvelope,
} from '../../http/schemas.ts'
import { addBodyCheck } from '../../http/validation.ts'
import { ASSET_STATUSES } from '../assets/assets.schemas.ts'
import { jobRequestRules } from './jobs.rules.ts'
import { JOB_PRIORITIES, JOB_STATUSES, RELATIONSHIP_TYPES } from './status.ts'

export const JOB_SORTS = ['created_at', '-created_at', 'updated_at', '-updated_at', 'scheduled_start', '-scheduled_start'] as const
export type JobSort = (typeof JOB_SORTS)[number]

const statusAlternatives = JOB_STATUSES.join('|')
/** One status, or several separated by commas (`status=Pending,Assigned`); exact, never trimmed, as every enum value. */
export const STATUS_LIST_PATTERN = exactPattern(
  `^(${statusAlternatives})(,(${statusAlternatives}))*$`,
  `must be one or more of: ${JOB_STATUSES.join(', ')}, separated by commas`,
)

export const JobAsset = Type.Object({
  asset_id: Id(),
  asset_tag: Type.String(),
  asset_name: Type.String(),
  asset_status: Enum(ASSET_STATUSES),
  relationship_type: Enum(RELATIONSHIP_TYPES),
  relationship_notes: NullableText({ description: 'Notes on the link, free text; null (this version has no endpoint that sets them)' }),
  linked_at: Timestamp(),
})

const jobFields = {
  job_id: Id({ description: 'Unique job identifier' }),
  job_title: Type.String({ description: 'Short description of the work' }),
  job_description: NullableText({ description: 'Detailed notes for the technician' }),
  job_status: Enum(JOB_STATUSES, { description: 'Current status' }),
  job_priority: Enum(JOB_PRIORITIES, { description: 'Low, Medium, High, or Urgent' }),
  assigned_technician_id: NullableId({ description: 'ID of the assigned technician, or null' }),
  assigned_technician_name: NullableName({ description: 'Full name of the assigned technician, or null' }),
  customer_location_id: Id({ description: 'ID of the service location' }),
  customer_location_name: Type.String({ description: 'Name of the service location' }),
  customer_id: Id({ description: 'ID of the customer' }),
  customer_name: Type.String({ description: 'Name of the customer' }),
  scheduled_start: NullableTimestamp({ description: 'Scheduled start time, or null' }),
  scheduled_end: NullableTimestamp({ description: 'Scheduled end time, or null' }),
  actual_start: NullableTimestamp({ description: 'Actual start time, or null' }),
  actual_end: NullableTimestamp({ description: 'Actual end time, or null' }),
  created_at: Timestamp({ description: 'When the job was created' }),
  updated_at: Timestamp({ description: 'When the job was last updated' }),
}

/** A job in a list: every field but `assets` (API.md §4 keeps lists cheap). */
export const JobListItem = Type.Object(jobFields)
/** A single job: always with `assets` (`[]` when none, or without the Asset Management module). */
export const Job = Type.Object({ ...jobFields, assets: Type.Array(JobAsset, { description: 'Linked assets (Enterprise only)' }) })
export type JobView = Static<typeof Job>
export type JobListItemView = Static<typeof JobListItem>

export const JobListQuery = Type.Object(
  {
    id: Type.Optional(QueryId({ description: 'Return this one job instead of a list' })),
    status: Type.Optional(Type.String({ pattern: STATUS_LIST_PATTERN, description: 'Filter by status; several separated by commas' })),
    priority: Type.Optional(Enum(JOB_PRIORITIES, { description: 'Filter by priority' })),
    assigned_technician_id: Type.Optional(QueryId({ description: 'Filter by assigned technician' })),
    customer_location_id: Type.Optional(QueryId({ description: 'Filter by customer location' })),
    customer_id: Type.Optional(QueryId({ description: 'Filter by customer' })),
    created_after: Type.Optional(QueryDate({ description: 'Jobs created on or after this date or date-time' })),
    created_before: Type.Optional(QueryDate({ description: 'Jobs created on or before this date (the whole UTC day) or date-time' })),
    updated_after: Type.Optional(QueryDate({ description: 'Jobs updated on or after this date or date-time (inclusive; for syncing)' })),
    sort: Type.Optional(Enum(JOB_SORTS, { description: 'Order; default -created_at. Ties by job_id in the same direction' })),
    page: Type.Optional(QueryPage()),
    per_page: Type.Optional(QueryPerPage()),
  },
  { additionalProperties: false },
)
export type JobListQueryInput = Static<typeof JobListQuery>

export const JobIdQuery = IdQuery('job')

const writableFields = {
  job_title: Name({ description: 'Short description of the work' }),
  job_description: NullableText({ description: 'Detailed notes for the technician' }),
  job_priority: Enum(JOB_PRIORITIES, { description: 'Low, Medium (default), High, or Urgent' }),
  customer_location_id: Id({ description: 'ID of the customer location' }),
  assigned_technician_id: NullableId({ description: 'Assign to a specific (Active) technician' }),
  scheduled_start: NullableDateTimeIn({ description: 'Scheduled start time (RFC 3339, with Z or an offset)' }),
  scheduled_end: NullableDateTimeIn({ description: 'Scheduled end time; must be after scheduled_start' }),
  asset_ids: Type.Array(Id(), { maxItems: 100, description: 'IDs of assets to link (Asset Management module). Unknown or deleted ids are skipped' }),
  asset_relationship_type: Enum(RELATIONSHIP_TYPES, { description: 'Relationship for the links this request makes; default serviced. Only with asset_ids' }),
}

/** Fields that exist on a job but may not be written by POST, and why. */
const CREATE_HINTS: Record<string, string> = {
  job_status: 'cannot be set here; new jobs start as Pending and status changes go through PATCH',
}
/** …and by PUT. */
const UPDATE_HINTS: Record<string, string> = {
  job_status: 'cannot be set here; status changes go through PATCH',
}

export const CreateJobBody = Type.Object(
  {
    job_title: writableFields.job_title,
    customer_location_id: writableFields.customer_location_id,
    job_description: Type.Optional(writableFields.job_description),
    job_priority: Type.Optional(writableFields.job_priority),
    assigned_technician_id: Type.Optional(writableFields.assigned_technician_id),
    scheduled_start: Type.Optional(writableFields.scheduled_start),
    scheduled_end: Type.Optional(writableFields.scheduled_end),
    asset_ids: Type.Optional(writableFields.asset_ids),
    asset_relationship_type: Type.Optional(writableFields.asset_relationship_type),
  },
  { additionalProperties: false, 'x-field-hints': CREATE_HINTS },
)
export type CreateJobInput = Static<typeof CreateJobBody>

/** PUT: the fields POST takes, each optional (only those sent change). */
export const UpdateJobBody = UpdateBody(CreateJobBody, { 'x-field-hints': UPDATE_HINTS })
export type UpdateJobInput = Static<typeof UpdateJobBody>

addBodyCheck(CreateJobBody, jobRequestRules)
addBodyCheck(UpdateJobBody, jobRequestRules)

export const PatchJobBody = Type.Object({ job_status: Enum(JOB_STATUSES, { description: 'The new status' }) }, { additionalProperties: false })

export const JobListResponse = ListEnvelope(JobListItem)
export const JobResponse = ReadEnvelope(Job)
export const CreateJobResponse = WriteEnvelope(
  Type.Object({ job_id: Id(), job_title: Type.String(), job_status: Enum(JOB_STATUSES), created_at: Timestamp() }),
)
export const UpdateJobResponse = WriteEnvelope(Type.Object({ job_id: Id(), job_title: Type.String(), job_status: Enum(JOB_STATUSES) }))
export const PatchJobResponse = WriteEnvelope(
  Type.Object({ job_id: Id(), job_status: Enum(JOB_STATUSES), previous_status: Enum(JOB_STATUSES) }),
)


/** One entry of a job's status history (API.md §8); creation is the first. */
export const JobHistoryEntry = Type.Object({
  from_status: NullableEnum(JOB_STATUSES, { description: 'Status before the change; null for the creation' }),
  to_status: Enum(JOB_STATUSES),
  changed_at: Timestamp(),
  changed_by: Type.Union([Type.Object({ key_id: Id(), key_name: Type.String() }), Type.Null()], {
    description: 'The API key that made the change (never its secret); null for changes made outside the API',
  }),
})
export const JobHistoryResponse = ReadEnvelope(Type.Array(JobHistoryEntry))
export const JobTransitionsResponse = ReadEnvelope(
  Type.Object({
    job_id: Id(),
    job_status: Enum(JOB_STATUSES),
    allowed_transitions: Type.Array(Enum(JOB_STATUSES), { description: "The statuses PATCH accepts now, in the seed table's order" }),
  }),
)
