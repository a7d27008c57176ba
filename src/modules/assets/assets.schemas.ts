/** Assets API schemas (API.md §5): the Asset Management module. */
import { Type, type Static } from 'typebox'
import {
  Enum, Id, ListEnvelope, Name, NullableDateTimeIn, NullableId, NullableName, NullableTimestamp, QueryId, QueryPage, QueryPerPage,
  QueryText, ReadEnvelope, Timestamp, UpdateBody, WriteEnvelope,
} from '../../http/schemas.ts'

export const ASSET_STATUSES = ['Active', 'In Maintenance', 'Out of Service', 'Retired'] as const
export type AssetStatus = (typeof ASSET_STATUSES)[number]

export const Asset = Type.Object({
  asset_id: Id({ description: 'Unique asset identifier' }),
  asset_tag: Type.String({ description: "The company's own tag for the asset, unique among its assets" }),
  asset_name: Type.String({ description: 'Asset name' }),
  asset_type: NullableName({ description: 'Kind of asset (e.g. HVAC), or null' }),
  asset_status: Enum(ASSET_STATUSES, { description: 'Active, In Maintenance, Out of Service, or Retired' }),
  customer_location_id: NullableId({ description: 'ID of the customer location where the asset is, or null' }),
  serial_number: NullableName({ description: 'Serial number, or null' }),
  manufacturer: NullableName({ description: 'Manufacturer, or null' }),
  model: NullableName({ description: 'Model, or null' }),
  installed_at: NullableTimestamp({ description: 'When the asset was installed, or null' }),
  created_at: Timestamp(),
  updated_at: Timestamp(),
})
export type AssetView = Static<typeof Asset>

export const AssetListQuery = Type.Object(
  {
    id: Type.Optional(QueryId({ description: 'Return this one asset instead of a list' })),
    customer_location_id: Type.Optional(QueryId({ description: 'Filter by customer location' })),
    status: Type.Optional(Enum(ASSET_STATUSES, { description: 'Filter by asset status' })),
    q: Type.Optional(QueryText({ description: 'Tag or name contains this text (case-insensitive)' })),
    page: Type.Optional(QueryPage()),
    per_page: Type.Optional(QueryPerPage()),
  },
  { additionalProperties: false },
)
export type AssetListQueryInput = Static<typeof AssetListQuery>

const writable = {
  asset_tag: Name({ description: "The company's own tag, unique among its assets that are not deleted" }),
  asset_name: Name({ description: 'Asset name' }),
  asset_type: NullableName({ description: 'Kind of asset (e.g. HVAC)' }),
  asset_status: Enum(ASSET_STATUSES, { description: 'Active (default), In Maintenance, Out of Service, or Retired; not nullable' }),
  customer_location_id: NullableId({ description: "A location of the caller's company" }),
  serial_number: NullableName({ description: 'Serial number' }),
  manufacturer: NullableName({ description: 'Manufacturer' }),
  model: NullableName({ description: 'Model' }),
  installed_at: NullableDateTimeIn({ description: 'When the asset was installed (RFC 3339, with Z or an offset)' }),
}

export const CreateAssetBody = Type.Object(
  {
    asset_tag: writable.asset_tag,
    asset_name: writable.asset_name,
    asset_type: Type.Optional(writable.asset_type),
    asset_status: Type.Optional(writable.asset_status),
    customer_location_id: Type.Optional(writable.customer_location_id),
    serial_number: Type.Optional(writable.serial_number),
    manufacturer: Type.Optional(writable.manufacturer),
    model: Type.Optional(writable.model),
    installed_at: Type.Optional(writable.installed_at),
  },
  { additionalProperties: false },
)
export type CreateAssetInput = Static<typeof CreateAssetBody>

/** PUT: the fields POST takes, each optional (only those sent change). */
export const UpdateAssetBody = UpdateBody(CreateAssetBody)
export type UpdateAssetInput = Static<typeof UpdateAssetBody>

export const DeletedAsset = Type.Object({ asset_id: Id({ description: 'The deleted asset' }) })

export const AssetListResponse = ListEnvelope(Asset)
export const AssetResponse = ReadEnvelope(Asset)
export const AssetWriteResponse = WriteEnvelope(Asset)
export const AssetDeleteResponse = WriteEnvelope(DeletedAsset)
