/** /api/v1/technicians (API.md §5), addressed by `?id=` like jobs. */
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { AppContext } from '../../app.ts'
import { conditionsOf } from '../../http/conditional.ts'
import { answerWrite } from '../../http/idempotency.ts'
import { sendOneOrPage, written } from '../../http/replies.ts'
import { ERROR_RESPONSES, IdQuery, NoQuery } from '../../http/schemas.ts'
import {
  CreateTechnicianBody, TechnicianListQuery, TechnicianListResponse, TechnicianResponse, TechnicianWriteResponse, UpdateTechnicianBody,
} from './technicians.schemas.ts'
import * as service from './technicians.service.ts'

const tags = ['Technicians']

export async function techniciansRoutes(fastify: FastifyInstance, { database }: AppContext): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const db = database.db

  app.get(
    '/api/v1/technicians',
    {
      config: { scope: 'technicians:read' },
      schema: {
        tags,
        summary: 'List technicians, or get one with ?id=',
        querystring: TechnicianListQuery,
        response: { 200: Type.Union([TechnicianListResponse, TechnicianResponse]), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      return sendOneOrPage(
        request,
        reply,
        request.query,
        { schema: TechnicianResponse, load: (id) => service.getTechnician(db, request.auth!, id) },
        { schema: TechnicianListResponse, load: () => service.listTechnicians(db, request.auth!, request.query) },
      )
    },
  )

  app.post(
    '/api/v1/technicians',
    {
      config: { scope: 'technicians:write' },
      schema: { tags, summary: 'Create a technician', querystring: NoQuery, body: CreateTechnicianBody, response: { 201: TechnicianWriteResponse, ...ERROR_RESPONSES } },
    },
    async (request, reply) =>
      answerWrite(
        request,
        reply,
        (beforeCommit) => service.createTechnician(db, request.auth!, request.body, beforeCommit),
        (technician) => ({ status: 201, headers: { location: `/api/v1/technicians?id=${technician.technician_id}` }, body: written(request, 'Technician created successfully', technician) }),
      ),
  )

  app.put(
    '/api/v1/technicians',
    {
      config: { scope: 'technicians:write' },
      schema: {
        tags,
        summary: 'Update a technician (partial)',
        description: 'Only the fields sent change; null clears email or phone. Deactivating leaves already-assigned jobs as they are. Honours If-Match; the answer carries the new ETag.',
        querystring: IdQuery('technician'),
        body: UpdateTechnicianBody,
        response: { 200: TechnicianWriteResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) =>
      answerWrite(
        request,
        reply,
        (beforeCommit) => service.updateTechnician(db, request.auth!, request.query.id, request.body, conditionsOf(request), beforeCommit),
        ({ data, etag }) => ({ status: 200, headers: { etag }, body: written(request, 'Technician updated successfully', data) }),
      ),
  )
}
