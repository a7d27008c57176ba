/**
 * The five endpoints of seed/jobs-api.md on one path, addressed by `?id=`,
 * and a job's history and transitions (`/jobs/history`, `/jobs/transitions`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { AppContext } from '../../app.ts'
import { conditionsOf } from '../../http/conditional.ts'
import { answerWrite } from '../../http/idempotency.ts'
import { ERROR_RESPONSES, NoQuery, queryIdOf } from '../../http/schemas.ts'
import { sendOneOrPage, written } from '../../http/replies.ts'
import {
  CreateJobBody, CreateJobResponse, JobHistoryResponse, JobIdQuery, JobListQuery, JobListResponse, JobResponse, JobTransitionsResponse,
  PatchJobBody, PatchJobResponse, UpdateJobBody, UpdateJobResponse,
} from './jobs.schemas.ts'
import { jobReads } from './jobs.reader.ts'
import * as service from './jobs.service.ts'

const tags = ['Jobs']

/** 403 for `asset_ids` without the module comes before body validation (API.md §2). */
async function assetModuleFirst(request: FastifyRequest) {
  const body = request.body as Record<string, unknown> | undefined
  if (body && Object.hasOwn(body, 'asset_ids') && request.auth) service.requireAssetLinking(request.auth)
}

export async function jobsRoutes(fastify: FastifyInstance, { database, readThread }: AppContext): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const db = database.db
  const reads = jobReads(database, { thread: readThread, log: fastify.log })
  // `fsm serve` listens once reads go where they will, so its first requests already use the thread.
  fastify.addHook('onReady', () => reads.ready)
  fastify.addHook('onClose', () => reads.close())

  app.get(
    '/api/v1/jobs',
    {
      config: { scope: 'jobs:read' },
      schema: {
        tags,
        summary: 'List jobs, or get one job with ?id=',
        description: 'Without `id`: a page of jobs, newest first, with a `Link` header. With `id`: that job, with its linked assets.',
        querystring: JobListQuery,
        response: { 200: Type.Union([JobListResponse, JobResponse]), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      return sendOneOrPage(
        request,
        reply,
        request.query,
        { schema: JobResponse, load: (id) => reads.getJob(request.auth!, id) },
        { schema: JobListResponse, load: () => reads.listJobs(request.auth!, request.query) },
      )
    },
  )

  app.post(
    '/api/v1/jobs',
    {
      config: { scope: 'jobs:write', referenceProblems: (request) => service.jobReferenceProblems(db, request.auth!, request.body) },
      preValidation: assetModuleFirst,
      schema: { tags, summary: 'Create a job', querystring: NoQuery, body: CreateJobBody, response: { 201: CreateJobResponse, ...ERROR_RESPONSES } },
    },
    async (request, reply) =>
      answerWrite(
        request,
        reply,
        (beforeCommit) => service.createJob(db, request.auth!, request.body, beforeCommit),
        (job) => ({ status: 201, headers: { location: `/api/v1/jobs?id=${job.job_id}` }, body: written(request, 'Job created successfully', job) }),
      ),
  )

  app.put(
    '/api/v1/jobs',
    {
      config: { scope: 'jobs:write', referenceProblems: (request) => service.jobReferenceProblems(db, request.auth!, request.body, { jobId: queryIdOf(request) }) },
      preValidation: assetModuleFirst,
      schema: {
        tags,
        summary: 'Update a job',
        description: 'Partial update: only the fields sent change; null clears a nullable field. `asset_ids` replaces every link. Closed and Cancelled jobs are read-only (409 job_locked).',
        querystring: JobIdQuery,
        body: UpdateJobBody,
        response: { 200: UpdateJobResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) =>
      answerWrite(
        request,
        reply,
        (beforeCommit) => service.updateJob(db, request.auth!, request.query.id, request.body, conditionsOf(request), beforeCommit),
        ({ data, etag }) => ({ status: 200, headers: { etag }, body: written(request, 'Job updated successfully', data) }),
      ),
  )

  app.patch(
    '/api/v1/jobs',
    {
      config: { scope: 'jobs:write' },
      schema: {
        tags,
        summary: 'Update job status',
        description: 'Changes only the status; the transition table of the seed is enforced atomically.',
        querystring: JobIdQuery,
        body: PatchJobBody,
        response: { 200: PatchJobResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) =>
      answerWrite(
        request,
        reply,
        (beforeCommit) => service.changeJobStatus(db, request.auth!, request.query.id, request.body.job_status, conditionsOf(request), beforeCommit),
        ({ data, etag }) => ({ status: 200, headers: { etag }, body: written(request, `Job status updated to ${data.job_status}`, data) }),
      ),
  )

  app.get(
    '/api/v1/jobs/history',
    {
      config: { scope: 'jobs:read' },
      schema: {
        tags,
        summary: "A job's status history",
        description: 'Every status change, oldest first, starting with the creation; each names the API key that made it.',
        querystring: JobIdQuery,
        response: { 200: JobHistoryResponse, ...ERROR_RESPONSES },
      },
    },
    async (request) => ({ data: await service.getHistory(db, request.auth!, request.query.id), request_id: request.id }),
  )

  app.get(
    '/api/v1/jobs/transitions',
    {
      config: { scope: 'jobs:read' },
      schema: {
        tags,
        summary: 'The statuses a job may move to now',
        querystring: JobIdQuery,
        response: { 200: JobTransitionsResponse, ...ERROR_RESPONSES },
      },
    },
    async (request) => ({ data: await service.getTransitions(db, request.auth!, request.query.id), request_id: request.id }),
  )
}
