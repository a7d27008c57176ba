/** Locations API schemas (API.md §5): a customer's service sites. */
import { Type, type Static } from 'typebox'
import {
  Id, ListEnvelope, Name, Nullable, NullableAddressLine, NullableName, QueryId, QueryPage, QueryPerPage, QueryText, ReadEnvelope,
  Timestamp, UpdateBody, WriteEnvelope,
} from '../../http/schemas.ts'

const Latitude = (description: string) => Nullable(Type.Number({ minimum: -90, maximum: 90, description }))
const Longitude = (description: string) => Nullable(Type.Number({ minimum: -180, maximum: 180, description }))

export const Location = Type.Object({
  customer_location_id: Id({ description: 'Unique location identifier' }),
  customer_location_name: Type.String({ description: 'Location name' }),
  customer_id: Id({ description: 'ID of the customer the location belongs to' }),
  customer_name: Type.String({ description: "The customer's current name (live, never copied)" }),
  address_line1: NullableAddressLine({ description: 'First address line, or null' }),
  address_line2: NullableAddressLine({ description: 'Second address line, or null' }),
  city: NullableName({ description: 'City, or null' }),
  region: NullableName({ description: 'Region, state or province, or null' }),
  postal_code: NullableName({ description: 'Postal code, or null' }),
  country: NullableName({ description: 'Country, or null' }),
  latitude: Latitude('Latitude in degrees (-90 to 90), or null'),
  longitude: Longitude('Longitude in degrees (-180 to 180), or null'),
  created_at: Timestamp(),
  updated_at: Timestamp(),
})
export type LocationView = Static<typeof Location>

export const LocationListQuery = Type.Object(
  {
    id: Type.Optional(QueryId({ description: 'Return this one location instead of a list' })),
    customer_id: Type.Optional(QueryId({ description: 'Filter by customer' })),
    q: Type.Optional(QueryText({ description: 'Location name contains this text (case-insensitive)' })),
    page: Type.Optional(QueryPage()),
    per_page: Type.Optional(QueryPerPage()),
  },
  { additionalProperties: false },
)
export type LocationListQueryInput = Static<typeof LocationListQuery>

const writable = {
  customer_id: Id({ description: "ID of one of the company's customers" }),
  customer_location_name: Name({ description: 'Location name' }),
  address_line1: NullableAddressLine({ description: 'First address line' }),
  address_line2: NullableAddressLine({ description: 'Second address line' }),
  city: NullableName({ description: 'City' }),
  region: NullableName({ description: 'Region, state or province' }),
  postal_code: NullableName({ description: 'Postal code' }),
  country: NullableName({ description: 'Country' }),
  latitude: Latitude('Latitude in degrees, -90 to 90'),
  longitude: Longitude('Longitude in degrees, -180 to 180'),
}

export const CreateLocationBody = Type.Object(
  {
    customer_id: writable.customer_id,
    customer_location_name: writable.customer_location_name,
    address_line1: Type.Optional(writable.address_line1),
    address_line2: Type.Optional(writable.address_line2),
    city: Type.Optional(writable.city),
    region: Type.Optional(writable.region),
    postal_code: Type.Optional(writable.postal_code),
    country: Type.Optional(writable.country),
    latitude: Type.Optional(writable.latitude),
    longitude: Type.Optional(writable.longitude),
  },
  { additionalProperties: false },
)
export type CreateLocationInput = Static<typeof CreateLocationBody>

/** PUT: the fields POST takes, each optional (only those sent change). */
export const UpdateLocationBody = UpdateBody(CreateLocationBody)
export type UpdateLocationInput = Static<typeof UpdateLocationBody>

export const LocationListResponse = ListEnvelope(Location)
export const LocationResponse = ReadEnvelope(Location)
export const LocationWriteResponse = WriteEnvelope(Location)
