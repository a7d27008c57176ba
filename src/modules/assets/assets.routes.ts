/** /api/v1/assets (API.md §5), addressed by `?id=` like jobs; every endpoint needs the Asset Management module. */
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { AppContext } from '../../app.ts'
import { conditionsOf } from '../../http/conditional.ts'
import { answerWrite } from '../../http/idempotency.ts'
import { sendOneOrPage, written } from '../../http/replies.ts'
import { ERROR_RESPONSES, IdQuery, NoQuery } from '../../http/schemas.ts'
import {
  AssetDeleteResponse, AssetListQuery, AssetListResponse, AssetResponse, AssetWriteResponse, CreateAssetBody, UpdateAssetBody,
} from './assets.schemas.ts'
import * as service from './assets.service.ts'

const tags = ['Assets']
const moduleNote = 'Needs the Asset Management module (403 plan_upgrade_required otherwise).'

export async function assetsRoutes(fastify: FastifyInstance, { database }: AppContext): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const db = database.db

  app.get(
    '/api/v1/assets',
    {
      config: { scope: 'assets:read', module: 'assets' },
      schema: {
        tags,
        summary: 'List assets, or get one with ?id=',
        description: `Without \`id\`: a page of assets, newest first, with a \`Link\` header. Deleted assets are left out. With \`id\`: that asset, with a strong ETag (If-None-Match answers 304). ${moduleNote}`,
        querystring: AssetListQuery,
        response: { 200: Type.Union([AssetListResponse, AssetResponse]), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      return sendOneOrPage(
        request,
        reply,
        request.query,
        { schema: AssetResponse, load: (id) => service.getAsset(db, request.auth!, id) },
        { schema: AssetListResponse, load: () => service.listAssets(db, request.auth!, request.query) },
      )
    },
  )

  app.post(
    '/api/v1/assets',
    {
      config: { scope: 'assets:write', module: 'assets', referenceProblems: (request) => service.assetReferenceProblems(db, request.auth!, request.body) },
      schema: {
        tags,
        summary: 'Create an asset',
        description: `\`asset_tag\` must be unique among the company's assets that are not deleted (409 conflict). ${moduleNote}`,
        querystring: NoQuery,
        body: CreateAssetBody,
        response: { 201: AssetWriteResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) =>
      answerWrite(
        request,
        reply,
        (beforeCommit) => service.createAsset(db, request.auth!, request.body, beforeCommit),
        (asset) => ({ status: 201, headers: { location: `/api/v1/assets?id=${asset.asset_id}` }, body: written(request, 'Asset created successfully', asset) }),
      ),
  )

  app.put(
    '/api/v1/assets',
    {
      config: { scope: 'assets:write', module: 'assets', referenceProblems: (request) => service.assetReferenceProblems(db, request.auth!, request.body) },
      schema: {
        tags,
        summary: 'Update an asset (partial)',
        description: `Only the fields sent change; null clears a nullable field. Answers the new ETag; honours If-Match (412 precondition_failed). ${moduleNote}`,
        querystring: IdQuery('asset'),
        body: UpdateAssetBody,
        response: { 200: AssetWriteResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) =>
      answerWrite(
        request,
        reply,
        (beforeCommit) => service.updateAsset(db, request.auth!, request.query.id, request.body, conditionsOf(request), beforeCommit),
        ({ data, etag }) => ({ status: 200, headers: { etag }, body: written(request, 'Asset updated successfully', data) }),
      ),
  )

  app.delete(
    '/api/v1/assets',
    {
      config: { scope: 'assets:write', module: 'assets' },
      schema: {
        tags,
        summary: 'Delete an asset (soft delete)',
        description: `The asset is then not_found everywhere, skipped in a job's asset_ids and left out of its assets; its tag can be used again. Honours If-Match (412 precondition_failed). ${moduleNote}`,
        querystring: IdQuery('asset'),
        response: { 200: AssetDeleteResponse, ...ERROR_RESPONSES },
      },
    },
    async (request) => written(request, 'Asset deleted successfully', await service.deleteAsset(db, request.auth!, request.query.id, conditionsOf(request))),
  )
}
