/** Customers API schemas (API.md §5). */
import { Type, type Static } from 'typebox'
import {
  Id, ListEnvelope, Name, NullableEmail, NullableName, NullableText, QueryId, QueryPage, QueryPerPage, QueryText, ReadEnvelope,
  Timestamp, UpdateBody, WriteEnvelope,
} from '../../http/schemas.ts'

export const Customer = Type.Object({
  customer_id: Id({ description: 'Unique customer identifier' }),
  customer_name: Type.String({ description: 'Customer name' }),
  customer_email: NullableEmail({ description: 'Contact email, or null' }),
  customer_phone: NullableName({ description: 'Contact phone, or null' }),
  billing_address: NullableText({ description: 'Billing address (several lines allowed), or null' }),
  notes: NullableText({ description: 'Free notes, or null' }),
  created_at: Timestamp(),
  updated_at: Timestamp(),
})
export type CustomerView = Static<typeof Customer>

export const CustomerListQuery = Type.Object(
  {
    id: Type.Optional(QueryId({ description: 'Return this one customer instead of a list' })),
    q: Type.Optional(QueryText({ description: 'Name contains this text (case-insensitive)' })),
    page: Type.Optional(QueryPage()),
    per_page: Type.Optional(QueryPerPage()),
  },
  { additionalProperties: false },
)
export type CustomerListQueryInput = Static<typeof CustomerListQuery>

const writable = {
  customer_name: Name({ description: 'Customer name' }),
  customer_email: NullableEmail({ description: 'Contact email' }),
  customer_phone: NullableName({ description: 'Contact phone' }),
  billing_address: NullableText({ description: 'Billing address' }),
  notes: NullableText({ description: 'Free notes' }),
}

export const CreateCustomerBody = Type.Object(
  {
    customer_name: writable.customer_name,
    customer_email: Type.Optional(writable.customer_email),
    customer_phone: Type.Optional(writable.customer_phone),
    billing_address: Type.Optional(writable.billing_address),
    notes: Type.Optional(writable.notes),
  },
  { additionalProperties: false },
)
export type CreateCustomerInput = Static<typeof CreateCustomerBody>

/** PUT: the fields POST takes, each optional (only those sent change). */
export const UpdateCustomerBody = UpdateBody(CreateCustomerBody)
export type UpdateCustomerInput = Static<typeof UpdateCustomerBody>

export const CustomerListResponse = ListEnvelope(Customer)
export const CustomerResponse = ReadEnvelope(Customer)
export const CustomerWriteResponse = WriteEnvelope(Customer)
