/**
 * The OpenAPI document (API.md §7) as tools outside this server read it: a
 * standard validator finds it valid OpenAPI 3.1, a standard JSON Schema
 * validator in strict mode compiles every schema in it, and real answers of
 * every kind match the schema it documents for their status. A client
 * generated from it, validating its requests or our answers, must not
 * refuse what the server does (an email the server took once failed the
 * document's `format: email` in every list holding it), and should refuse
 * what the server refuses.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Validator } from '@seriousme/openapi-schema-validator'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { ERROR_STATUS } from '../src/http/errors.ts'
import { DIALECTS, startTestApp, type TestApp } from './helpers/app.ts'
import { call, createAssetVia, createBasics, createTenant, type ApiResponse, type CallOptions, type Tenant } from './helpers/factories.ts'

type Schema = Record<string, any>

/** A validator as a client's would be: the JSON Schema of OpenAPI 3.1, standard formats, unknown keywords and formats refused. */
function standardAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true })
  addFormats.default(ajv)
  return ajv
}

/** Every schema of a parameter, a request body and an answer in the document, with where it is. */
function schemasIn(doc: Schema): Array<[where: string, schema: Schema]> {
  const found: Array<[string, Schema]> = []
  for (const [path, item] of Object.entries(doc.paths as Record<string, Schema>)) {
    for (const [method, op] of Object.entries(item)) {
      for (const parameter of op.parameters ?? []) found.push([`${method} ${path} ${parameter.in} ${parameter.name}`, parameter.schema])
      for (const [type, content] of Object.entries(op.requestBody?.content ?? {})) found.push([`${method} ${path} body ${type}`, (content as Schema).schema])
      for (const [status, answer] of Object.entries(op.responses as Record<string, Schema>)) {
        for (const [type, content] of Object.entries(answer.content ?? {})) found.push([`${method} ${path} ${status} ${type}`, (content as Schema).schema])
        for (const [name, header] of Object.entries(answer.headers ?? {})) found.push([`${method} ${path} ${status} header ${name}`, (header as Schema).schema])
      }
    }
  }
  return found
}

for (const dialect of DIALECTS) {
  describe(`the OpenAPI document, read by standard tools (${dialect})`, () => {
    let t: TestApp
    let owner: Tenant
    let doc: Schema
    const ajv = standardAjv()
    const compiled = new Map<Schema, ValidateFunction>()
    /** A schema's validator; its references to the document's components point at them in Ajv. */
    const validatorOf = (schema: Schema) => {
      if (!compiled.has(schema)) {
        if (!ajv.getSchema('components')) ajv.addSchema({ $id: 'components', $defs: doc.components.schemas })
        compiled.set(schema, ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"components#/$defs/'))))
      }
      return compiled.get(schema)!
    }
    let checked = 0

    before(async () => {
      t = await startTestApp(dialect)
      owner = await createTenant(t.database, { name: 'Documented Co' })
      doc = (await call(t.app, 'GET', '/api/v1/openapi.json')).body
    })
    after(() => t.close())

    /** The operation the document gives for a method and path (without its query string). */
    const operationOf = (method: string, url: string): Schema => {
      const op = doc.paths[url.split('?')[0]!]?.[method.toLowerCase()]
      assert.ok(op, `${method} ${url} is documented`)
      return op
    }

    /**
     * Sends a request and checks its answer against the document: its
     * status is documented (exactly, or by its class as `4XX`), its body
     * matches that answer's schema, and the headers documented for it that
     * it sends match theirs.
     */
    async function documentedCall(method: string, url: string, options: CallOptions = {}): Promise<ApiResponse> {
      const res = await call(t.app, method, url, { key: owner.apiKey, ...options })
      const answers = operationOf(method, url).responses as Record<string, Schema>
      const answer = answers[String(res.status)] ?? answers[`${String(res.status)[0]}XX`]
      assert.ok(answer, `${method} ${url}: ${res.status} is documented (${Object.keys(answers).join(', ')})`)
      const schema = answer.content?.['application/json']?.schema
      if (schema) {
        const valid = validatorOf(schema)
        assert.ok(valid(res.body), `${method} ${url} ${res.status}: ${JSON.stringify(valid.errors)} in ${JSON.stringify(res.body)}`)
      } else {
        assert.equal(res.body, undefined, `${method} ${url} ${res.status}: documented without a body`)
      }
      for (const [name, header] of Object.entries((answer.headers ?? {}) as Record<string, Schema>)) {
        const sent = res.headers[name.toLowerCase()]
        if (sent === undefined) continue
        const value = header.schema.type === 'integer' ? Number(sent) : sent
        const valid = validatorOf(header.schema)
        assert.ok(valid(value), `${method} ${url} ${res.status} header ${name}: ${String(sent)} ${JSON.stringify(valid.errors)}`)
      }
      checked++
      return res
    }

    /** Whether the document's schema for a write's body takes `body`. */
    const documentTakes = (method: string, url: string, body: unknown) => validatorOf(operationOf(method, url).requestBody.content['application/json'].schema)(body)

    it('is valid OpenAPI 3.1 to a standard validator', async () => {
      const result = await new Validator().validate(structuredClone(doc))
      assert.equal(result.valid, true, JSON.stringify(result.errors))
    })

    it('has only standard keywords and formats: every schema in it compiles in strict mode', () => {
      const schemas = schemasIn(doc)
      assert.ok(schemas.length > 100, `${schemas.length} schemas`)
      for (const [where, schema] of schemas) assert.doesNotThrow(() => validatorOf(schema), where)
    })

    it('describes every answer, and every error answer by the one envelope schema', () => {
      let errors = 0
      for (const [path, item] of Object.entries(doc.paths as Record<string, Schema>)) {
        for (const [method, op] of Object.entries(item)) {
          for (const [status, answer] of Object.entries(op.responses as Record<string, Schema>)) {
            assert.ok(answer.description && answer.description !== 'Default Response', `${method} ${path} ${status}: ${answer.description}`)
            if (!/^[45]/.test(status)) continue
            assert.deepEqual(answer.content['application/json'].schema, { $ref: '#/components/schemas/ErrorEnvelope' }, `${method} ${path} ${status}`)
            errors++
          }
        }
      }
      assert.ok(errors >= 38, `${errors} error answers`)
      assert.deepEqual(doc.components.schemas.ErrorEnvelope.properties.error.properties.code.enum, Object.keys(ERROR_STATUS))
    })

    it('names for each operation the scope its key needs, as its security requirement', () => {
      for (const [path, item] of Object.entries(doc.paths as Record<string, Schema>)) {
        for (const [method, op] of Object.entries(item)) {
          const [requirement, ...others] = op.security ?? []
          assert.equal(others.length, 0, `${method} ${path}`)
          const [scope, ...more] = requirement?.apiKey ?? []
          assert.equal(more.length, 0, `${method} ${path}`)
          const resource = path === '/api/v1/locations' ? 'customers' : path.split('/')[3]
          assert.equal(scope, `${resource}:${method === 'get' ? 'read' : 'write'}`, `${method} ${path}`)
          assert.match(op.description, new RegExp(`\`${scope}\` scope`), `${method} ${path}`)
          if (path === '/api/v1/assets') assert.match(op.description, /assets module/, `${method} ${path}`)
        }
      }
    })

    it('documents every answer the API gives, and each matches its schema', async () => {
      const customer = await documentedCall('POST', '/api/v1/customers', { body: { customer_name: 'Señora Núñez', customer_email: 'josé@example.com' } })
      assert.equal(customer.status, 201)
      assert.ok(documentTakes('POST', '/api/v1/customers', { customer_name: 'Señora Núñez', customer_email: 'josé@example.com' }), 'the document takes the email the server took')
      const customerId = customer.body.data.customer_id
      const { locationId, technicianId } = await createBasics(t.app, owner.apiKey)
      await documentedCall('PUT', `/api/v1/technicians?id=${technicianId}`, { body: { technician_email: 'tech@example.co.uk' } })
      const assetId = await createAssetVia(t.app, owner.apiKey, 'DOC-1', { customer_location_id: locationId, installed_at: '2025-06-01T08:00:00Z' })

      const created = await documentedCall('POST', '/api/v1/jobs', {
        body: {
          job_title: 'Boiler service',
          customer_location_id: locationId,
          assigned_technician_id: technicianId,
          scheduled_start: '2026-12-02T09:00:00+01:00',
          scheduled_end: '2026-12-02T11:30:00+01:00',
          asset_ids: [assetId],
        },
      })
      assert.equal(created.status, 201)
      const jobId = created.body.data.job_id
      const job = await documentedCall('GET', `/api/v1/jobs?id=${jobId}`)
      assert.equal(job.body.data.assets.length, 1)
      assert.equal((await documentedCall('GET', `/api/v1/jobs?id=${jobId}`, { headers: { 'if-none-match': String(job.headers.etag) } })).status, 304)
      await documentedCall('GET', '/api/v1/jobs?status=Pending,Assigned&per_page=5&sort=-updated_at&updated_after=2026-01-01')
      await documentedCall('PUT', `/api/v1/jobs?id=${jobId}`, { body: { job_priority: 'High' }, headers: { 'idempotency-key': 'doc-put-1' } })
      await documentedCall('PUT', `/api/v1/jobs?id=${jobId}`, { body: { job_priority: 'High' }, headers: { 'idempotency-key': 'doc-put-1' } })
      for (const status of ['Assigned', 'In Progress', 'Completed']) assert.equal((await documentedCall('PATCH', `/api/v1/jobs?id=${jobId}`, { body: { job_status: status } })).status, 200)
      await documentedCall('GET', `/api/v1/jobs/history?id=${jobId}`)
      await documentedCall('GET', `/api/v1/jobs/transitions?id=${jobId}`)
      for (const path of ['/api/v1/customers', '/api/v1/locations', '/api/v1/technicians', '/api/v1/assets']) await documentedCall('GET', `${path}?per_page=3`)
      await documentedCall('GET', `/api/v1/customers?id=${customerId}`)
      await documentedCall('GET', `/api/v1/assets?id=${assetId}`)

      // Refusals, each in its envelope.
      assert.equal((await documentedCall('GET', '/api/v1/jobs', { key: undefined })).status, 401)
      assert.equal((await documentedCall('GET', '/api/v1/jobs?id=999999')).status, 404)
      assert.equal((await documentedCall('PATCH', `/api/v1/jobs?id=${jobId}`, { body: { job_status: 'Pending' } })).status, 400)
      assert.equal((await documentedCall('PUT', `/api/v1/jobs?id=${jobId}`, { body: { job_title: 'x' }, headers: { 'if-match': '"stale"' } })).status, 412)
      assert.equal((await documentedCall('POST', '/api/v1/customers', { body: { customer_name: 'X', customer_email: 'not an email' } })).status, 400)
      assert.equal((await documentedCall('POST', '/api/v1/jobs', { rawBody: '{', headers: { 'content-type': 'application/json' } })).status, 400)
      assert.equal((await documentedCall('DELETE', `/api/v1/assets?id=${assetId}`)).status, 200)
      assert.equal((await documentedCall('DELETE', `/api/v1/assets?id=${assetId}`)).status, 404)
      assert.ok(checked >= 25, `${checked} answers checked`)
    })

    it('refuses in its schemas what the server refuses: an empty update, a malformed email, a non-ASCII Idempotency-Key', async () => {
      const { locationId, technicianId } = await createBasics(t.app, owner.apiKey, ' (refusals)')
      for (const path of ['/api/v1/jobs', '/api/v1/customers', '/api/v1/locations', '/api/v1/technicians', '/api/v1/assets']) {
        assert.equal(documentTakes('PUT', path, {}), false, `PUT ${path} {} is refused by the document`)
      }
      const empty = await documentedCall('PUT', `/api/v1/technicians?id=${technicianId}`, { body: {} })
      assert.equal(empty.status, 400)
      assert.deepEqual(empty.body.error.details, [{ field: 'body', message: 'Request body must contain at least one field to update' }])
      for (const email of ['not an email', 'a@b', '@example.com']) assert.equal(documentTakes('POST', '/api/v1/customers', { customer_name: 'X', customer_email: email }), false, email)

      const keySchema = operationOf('POST', '/api/v1/jobs').parameters.find((p: Schema) => p.name === 'Idempotency-Key').schema
      assert.equal(validatorOf(keySchema)('clé-1'), false, 'the document refuses a non-ASCII key')
      assert.equal(validatorOf(keySchema)('key 1 ~'), true)
      const refused = await documentedCall('POST', '/api/v1/jobs', { body: { job_title: 'T', customer_location_id: locationId }, headers: { 'idempotency-key': 'clé-1' } })
      assert.equal(refused.status, 400)
    })
  })
}
