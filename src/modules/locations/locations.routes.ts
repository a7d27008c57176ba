/** /api/v1/locations (API.md §5), addressed by `?id=` like jobs; scopes customers:*. */
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { AppContext } from '../../app.ts'
import { conditionsOf } from '../../http/conditional.ts'
import { answerWrite } from '../../http/idempotency.ts'
import { sendOneOrPage, written } from '../../http/replies.ts'
import { ERROR_RESPONSES, IdQuery, NoQuery } from '../../http/schemas.ts'
import {
  CreateLocationBody, LocationListQuery, LocationListResponse, LocationResponse, LocationWriteResponse, UpdateLocationBody,
} from './locations.schemas.ts'
import * as service from './locations.service.ts'

const tags = ['Locations']

export async function locationsRoutes(fastify: FastifyInstance, { database }: AppContext): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const db = database.db

  app.get(
    '/api/v1/locations',
    {
      config: { scope: 'customers:read' },
      schema: {
        tags,
        summary: 'List customer locations, or get one with ?id=',
        description: 'Without `id`: a page of locations, newest first, with a `Link` header. `customer_name` is always the customer\'s current name.',
        querystring: LocationListQuery,
        response: { 200: Type.Union([LocationListResponse, LocationResponse]), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      return sendOneOrPage(
        request,
        reply,
        request.query,
        { schema: LocationResponse, load: (id) => service.getLocation(db, request.auth!, id) },
        { schema: LocationListResponse, load: () => service.listLocations(db, request.auth!, request.query) },
      )
    },
  )

  app.post(
    '/api/v1/locations',
    {
      config: { scope: 'customers:write', referenceProblems: (request) => service.locationReferenceProblems(db, request.auth!, request.body) },
      schema: { tags, summary: 'Create a customer location', querystring: NoQuery, body: CreateLocationBody, response: { 201: LocationWriteResponse, ...ERROR_RESPONSES } },
    },
    async (request, reply) =>
      answerWrite(
        request,
        reply,
        (beforeCommit) => service.createLocation(db, request.auth!, request.body, beforeCommit),
        (location) => ({ status: 201, headers: { location: `/api/v1/locations?id=${location.customer_location_id}` }, body: written(request, 'Location created successfully', location) }),
      ),
  )

  app.put(
    '/api/v1/locations',
    {
      config: { scope: 'customers:write', referenceProblems: (request) => service.locationReferenceProblems(db, request.auth!, request.body) },
      schema: {
        tags,
        summary: 'Update a customer location (partial)',
        description: 'Only the fields sent change; null clears a nullable field. `customer_id` may move the location to another of the company\'s customers. Honours If-Match; the answer carries the new ETag.',
        querystring: IdQuery('location'),
        body: UpdateLocationBody,
        response: { 200: LocationWriteResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) =>
      answerWrite(
        request,
        reply,
        (beforeCommit) => service.updateLocation(db, request.auth!, request.query.id, request.body, conditionsOf(request), beforeCommit),
        ({ data, etag }) => ({ status: 200, headers: { etag }, body: written(request, 'Location updated successfully', data) }),
      ),
  )
}
