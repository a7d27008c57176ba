/** /api/v1/customers (API.md §5), addressed by `?id=` like jobs. */
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { AppContext } from '../../app.ts'
import { conditionsOf } from '../../http/conditional.ts'
import { answerWrite } from '../../http/idempotency.ts'
import { sendOneOrPage, written } from '../../http/replies.ts'
import { ERROR_RESPONSES, IdQuery, NoQuery } from '../../http/schemas.ts'
import {
  CreateCustomerBody, CustomerListQuery, CustomerListResponse, CustomerResponse, CustomerWriteResponse, UpdateCustomerBody,
} from './customers.schemas.ts'
import * as service from './customers.service.ts'

const tags = ['Customers']

export async function customersRoutes(fastify: FastifyInstance, { database }: AppContext): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const db = database.db

  app.get(
    '/api/v1/customers',
    {
      config: { scope: 'customers:read' },
      schema: {
        tags,
        summary: 'List customers, or get one with ?id=',
        querystring: CustomerListQuery,
        response: { 200: Type.Union([CustomerListResponse, CustomerResponse]), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      return sendOneOrPage(
        request,
        reply,
        request.query,
        { schema: CustomerResponse, load: (id) => service.getCustomer(db, request.auth!, id) },
        { schema: CustomerListResponse, load: () => service.listCustomers(db, request.auth!, request.query) },
      )
    },
  )

  app.post(
    '/api/v1/customers',
    {
      config: { scope: 'customers:write' },
      schema: { tags, summary: 'Create a customer', querystring: NoQuery, body: CreateCustomerBody, response: { 201: CustomerWriteResponse, ...ERROR_RESPONSES } },
    },
    async (request, reply) =>
      answerWrite(
        request,
        reply,
        (beforeCommit) => service.createCustomer(db, request.auth!, request.body, beforeCommit),
        (customer) => ({ status: 201, headers: { location: `/api/v1/customers?id=${customer.customer_id}` }, body: written(request, 'Customer created successfully', customer) }),
      ),
  )

  app.put(
    '/api/v1/customers',
    {
      config: { scope: 'customers:write' },
      schema: { tags, summary: 'Update a customer (partial)', querystring: IdQuery('customer'), body: UpdateCustomerBody, response: { 200: CustomerWriteResponse, ...ERROR_RESPONSES } },
    },
    async (request, reply) =>
      answerWrite(
        request,
        reply,
        (beforeCommit) => service.updateCustomer(db, request.auth!, request.query.id, request.body, conditionsOf(request), beforeCommit),
        ({ data, etag }) => ({ status: 200, headers: { etag }, body: written(request, 'Customer updated successfully', data) }),
      ),
  )
}
