/** Technicians API schemas (API.md §5). */
import { Type, type Static } from 'typebox'
import {
  Enum, Id, ListEnvelope, Name, NullableEmail, NullableName, QueryId, QueryPage, QueryPerPage, QueryText, ReadEnvelope, Timestamp,
  UpdateBody, WriteEnvelope,
} from '../../http/schemas.ts'

/** Only Active technicians can be assigned to jobs (API.md §5). */
export const TECHNICIAN_STATUSES = ['Active', 'Inactive'] as const
export type TechnicianStatus = (typeof TECHNICIAN_STATUSES)[number]

export const Technician = Type.Object({
  technician_id: Id({ description: 'Unique technician identifier' }),
  technician_name: Type.String({ description: 'Full name' }),
  technician_email: NullableEmail({ description: 'Email, or null' }),
  technician_phone: NullableName({ description: 'Phone, or null' }),
  technician_status: Enum(TECHNICIAN_STATUSES, { description: 'Active or Inactive; only Active technicians can be assigned to jobs' }),
  created_at: Timestamp(),
  updated_at: Timestamp(),
})
export type TechnicianView = Static<typeof Technician>

export const TechnicianListQuery = Type.Object(
  {
    id: Type.Optional(QueryId({ description: 'Return this one technician instead of a list' })),
    status: Type.Optional(Enum(TECHNICIAN_STATUSES, { description: 'Filter by status' })),
    q: Type.Optional(QueryText({ description: 'Name contains this text (case-insensitive)' })),
    page: Type.Optional(QueryPage()),
    per_page: Type.Optional(QueryPerPage()),
  },
  { additionalProperties: false },
)
export type TechnicianListQueryInput = Static<typeof TechnicianListQuery>

const writable = {
  technician_name: Name({ description: 'Full name' }),
  technician_email: NullableEmail({ description: 'Email' }),
  technician_phone: NullableName({ description: 'Phone' }),
  technician_status: Enum(TECHNICIAN_STATUSES, { description: 'Active (default) or Inactive; cannot be null' }),
}

export const CreateTechnicianBody = Type.Object(
  {
    technician_name: writable.technician_name,
    technician_email: Type.Optional(writable.technician_email),
    technician_phone: Type.Optional(writable.technician_phone),
    technician_status: Type.Optional(writable.technician_status),
  },
  { additionalProperties: false },
)
export type CreateTechnicianInput = Static<typeof CreateTechnicianBody>

/** PUT: the fields POST takes, each optional (only those sent change). */
export const UpdateTechnicianBody = UpdateBody(CreateTechnicianBody)
export type UpdateTechnicianInput = Static<typeof UpdateTechnicianBody>

export const TechnicianListResponse = ListEnvelope(Technician)
export const TechnicianResponse = ReadEnvelope(Technician)
export const TechnicianWriteResponse = WriteEnvelope(Technician)
