/**
 * Requests generated from the OpenAPI document with fast-check: valid ones
 * (any documented answer) and ones that must be refused with a 4xx (a wrong
 * type, a value one past a limit, a missing or unknown field, control
 * characters, lone surrogates, numbers past 2^53 or 1e400 sent as raw JSON
 * text, duplicate keys, __proto__ keys, deep nesting, huge arrays and
 * strings, impossible dates, malformed ids, bad headers…).
 */
import fc from 'fast-check'
import { EMAIL_PATTERN } from '../../src/http/schemas.ts'

export interface JsonSchema {
  type?: string | string[]
  enum?: unknown[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  additionalProperties?: boolean
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  maxItems?: number
  items?: JsonSchema
  pattern?: string
  anyOf?: JsonSchema[]
  format?: string
}

export interface Operation {
  method: string
  path: string
  query: Record<string, JsonSchema>
  body?: JsonSchema
}

export interface FuzzRequest {
  category: string
  /** `reject`: must be answered 4xx, with one of `codes` when given. `any`: 2xx or a documented 4xx. */
  expect: 'reject' | 'any'
  codes?: string[]
  method: string
  /** Path with its query, as sent. */
  path: string
  headers: Record<string, string>
  /** Raw body text (JSON or not). */
  body?: string
}

/** Ids of records that exist, per resource path, so only the part under test is wrong. */
export interface Ids {
  jobs: number[]
  customers: number[]
  locations: number[]
  technicians: number[]
  assets: number[]
}

export function operationsOf(doc: any): Operation[] {
  const ops: Operation[] = []
  for (const [path, methods] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(methods)) {
      const query: Record<string, JsonSchema> = {}
      for (const p of op.parameters ?? []) if (p.in === 'query') query[p.name] = p.schema
      const body = op.requestBody?.content?.['application/json']?.schema
      ops.push({ method: method.toUpperCase(), path, query, ...(body && { body }) })
    }
  }
  return ops
}

export function idsFor(path: string, ids: Ids): number[] {
  if (path.startsWith('/api/v1/jobs')) return ids.jobs
  if (path.startsWith('/api/v1/customers')) return ids.customers
  if (path.startsWith('/api/v1/locations')) return ids.locations
  if (path.startsWith('/api/v1/technicians')) return ids.technicians
  return ids.assets
}

/** Known ids for id fields inside bodies, so valid bodies are really valid. */
function idsForField(name: string, ids: Ids): number[] | undefined {
  if (name === 'customer_id') return ids.customers
  if (name === 'customer_location_id') return ids.locations
  if (name === 'assigned_technician_id') return ids.technicians
  if (name === 'asset_ids') return ids.assets
  return undefined
}

const types = (s: JsonSchema) => (Array.isArray(s.type) ? s.type : s.type ? [s.type] : [])
const nullable = (s: JsonSchema) => types(s).includes('null')
/** A query's date bound: the document shows it as `anyOf` a date or a date-time (src/http/openapi.ts). */
const isDateBound = (s: JsonSchema) => !!s.format || !!s.anyOf?.some((alternative) => alternative.format)
/** An email field: checked by a pattern of its own (src/http/schemas.ts), not a text field's. */
const isEmail = (s: JsonSchema) => s.pattern === EMAIL_PATTERN
const isText = (s: JsonSchema) => types(s).includes('string') && !s.enum && !s.format && !isEmail(s)
const isInt = (s: JsonSchema) => types(s).includes('integer')
const isNumber = (s: JsonSchema) => types(s).includes('number')

// ---- Text

/** Code points from several scripts: ASCII, Latin, right-to-left, CJK, emoji (astral), combining marks. */
const codePoint = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0x21, max: 0x7e }) },
  { weight: 2, arbitrary: fc.integer({ min: 0xc0, max: 0x24f }) },
  { weight: 2, arbitrary: fc.integer({ min: 0x5d0, max: 0x5ea }) }, // Hebrew
  { weight: 2, arbitrary: fc.integer({ min: 0x627, max: 0x64a }) }, // Arabic
  { weight: 1, arbitrary: fc.constantFrom(0x200f, 0x202e, 0x2066) }, // RTL marks and overrides
  { weight: 2, arbitrary: fc.integer({ min: 0x4e00, max: 0x9fff }) },
  { weight: 3, arbitrary: fc.integer({ min: 0x1f300, max: 0x1f64f }) }, // emoji: two UTF-16 units each
  { weight: 1, arbitrary: fc.integer({ min: 0x300, max: 0x36f }) }, // combining marks
)

/** A string of exactly `min..max` code points, none of them whitespace (so trimming keeps the length). */
export function text(min: number, max: number) {
  return fc.array(codePoint, { minLength: min, maxLength: max }).map((cps) => String.fromCodePoint(...cps))
}

/** Characters a single-line or multi-line field must refuse, picked per the field's own pattern. */
const BAD_CHARS = ['\u0000', '\u0001', '\u0007', '\u0008', '\u000b', '\u000c', '\u001b', '\u001f', '\t', '\n', '\r', '\ud800', '\udbff', '\udc00', '\udfff']

function refusedChars(schema: JsonSchema): string[] {
  if (!schema.pattern) return []
  const re = new RegExp(schema.pattern, 'u')
  return BAD_CHARS.filter((c) => !re.test(`a${c}b`))
}

// ---- Values

const VALID_DATES = ['2026-02-25T09:00:00Z', '2026-02-25T09:00:00+02:00', '2026-12-31t23:59:59z', '2026-02-25T09:00:00.123456Z', '0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2028-02-29T12:00:00-05:30']
/** Not RFC 3339 date-times. (Blank text is not here: trimmed, it means null for an optional field.) */
export const INVALID_DATES = [
  '2026-02-30T00:00:00Z', '2026-13-01T00:00:00Z', '2026-00-10T00:00:00Z', '2027-02-29T00:00:00Z', '2026-02-24', '2026-02-24T09:00:00',
  '2026-02-24T24:00:00Z', '2026-02-24T23:60:00Z', '2026-02-24T23:59:60Z', '2026-02-24T09:00:00+24:00', '2026-02-24T09:00:00+05:60',
  '0000-01-01T00:00:00Z', '10000-01-01T00:00:00Z', '2026-2-4T9:00:00Z', '2026-02-24 09:00:00Z', 'tomorrow', '1771930800', '-',
  '2026-02-24T09:00:00ZZ', '２０２６-02-24T09:00:00Z', '2026-02-24T09:00:00.Z',
]
const INVALID_EMAILS = ['no-at-sign', 'a@b', 'a@@b.example', 'a b@c.example', '@c.example', 'a@', `${'x'.repeat(250)}@c.example`]

function validValue(name: string, schema: JsonSchema, ids: Ids): fc.Arbitrary<unknown> {
  const known = idsForField(name, ids)
  const options: Array<fc.Arbitrary<unknown>> = []
  if (schema.enum) options.push(fc.constantFrom(...schema.enum.filter((v) => v !== null)))
  else if (schema.format === 'date-time') options.push(fc.constantFrom(...VALID_DATES))
  else if (isEmail(schema)) options.push(fc.constantFrom('ops@harbor.example', 'a.b+c@x-y.example.org', 'ünï@例え.jp'))
  else if (types(schema).includes('array')) options.push(fc.uniqueArray(fc.constantFrom(...(known?.length ? known : [1])), { maxLength: Math.min(schema.maxItems ?? 5, 5) }))
  else if (isInt(schema)) options.push(known?.length ? fc.constantFrom(...known) : fc.integer({ min: schema.minimum ?? 1, max: 1000 }))
  else if (isNumber(schema)) options.push(fc.double({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1000, noNaN: true }))
  else if (types(schema).includes('string')) {
    const max = schema.maxLength ?? 200
    // Lengths at the limit and one below it, and short ones.
    options.push(text(Math.max(schema.minLength ?? 0, 1), Math.min(max, 40)), text(max, max), text(Math.max(max - 1, 1), Math.max(max - 1, 1)))
  }
  if (nullable(schema)) options.push(fc.constant(null))
  return fc.oneof(...options)
}

/** A valid body: every required field and some optional ones. */
export function validBody(schema: JsonSchema, ids: Ids, minFields = 0): fc.Arbitrary<Record<string, unknown>> {
  const props = schema.properties ?? {}
  const required = new Set(schema.required ?? [])
  const entries = Object.entries(props).map(([name, s]) => [name, validValue(name, s, ids)] as const)
  return fc
    .tuple(...entries.map(([name, arb]) => fc.tuple(fc.constant(name), arb, fc.boolean())))
    .map((fields) => {
      const body: Record<string, unknown> = {}
      for (const [name, value, include] of fields) if (required.has(name) || include) body[name] = value
      // Schedules must be ordered; an asset relationship needs asset_ids: keep valid bodies valid.
      if ('scheduled_start' in body && 'scheduled_end' in body) body.scheduled_end = null
      if ('asset_relationship_type' in body && !('asset_ids' in body)) delete body.asset_relationship_type
      return body
    })
    .filter((body) => Object.keys(body).length >= minFields)
}

/** Values of the wrong JSON type for a field (as raw JSON text). */
function wrongTypes(schema: JsonSchema): string[] {
  const out = ['true', '{}', '[]', '{"a":1}']
  if (!types(schema).includes('string')) out.push('"87"', '""')
  if (!isInt(schema) && !isNumber(schema)) out.push('87', '0', '-1.5')
  if (isInt(schema)) out.push('87.5', '"1"', '1.0e-7')
  if (!nullable(schema)) out.push('null')
  if (types(schema).includes('array')) out.splice(out.indexOf('[]'), 1)
  return out
}

/** One field made invalid; returns raw JSON text for the value. */
function invalidValue(schema: JsonSchema): fc.Arbitrary<{ kind: string; json: string }> {
  const options: Array<fc.Arbitrary<{ kind: string; json: string }>> = [fc.constantFrom(...wrongTypes(schema)).map((json) => ({ kind: 'wrong type', json }))]
  if (schema.enum) {
    const values = schema.enum.filter((v): v is string => typeof v === 'string')
    options.push(fc.constantFrom(...values.flatMap((v) => [v.toLowerCase() === v ? v.toUpperCase() : v.toLowerCase(), ` ${v}`, `${v} `, `${v}\u0000`, `${v},${v}`])).map((v) => ({ kind: 'bad enum', json: JSON.stringify(v) })))
  }
  if (schema.format === 'date-time') options.push(fc.constantFrom(...INVALID_DATES).map((v) => ({ kind: 'bad date', json: JSON.stringify(v) })))
  if (isEmail(schema)) options.push(fc.constantFrom(...INVALID_EMAILS).map((v) => ({ kind: 'bad email', json: JSON.stringify(v) })))
  if (isText(schema) && schema.maxLength) {
    // One past the limit, in code points of any script (emoji count once).
    options.push(text(schema.maxLength + 1, schema.maxLength + 1).map((v) => ({ kind: 'length limit+1', json: JSON.stringify(v) })))
    options.push(fc.integer({ min: 100_000, max: 900_000 }).map((n) => ({ kind: 'huge string', json: JSON.stringify('x'.repeat(n)) })))
  }
  const refused = refusedChars(schema)
  if (isText(schema) && refused.length) {
    // Inside the text: at either end some of them would be trimmed away, as API.md §1 says.
    options.push(fc.tuple(text(1, 20), fc.constantFrom(...refused), text(1, 20)).map(([a, c, b]) => ({ kind: `control character U+${c.charCodeAt(0).toString(16).padStart(4, '0')}`, json: JSON.stringify(a + c + b) })))
  }
  if (isInt(schema)) {
    options.push(fc.constantFrom('0', '-1', '-0', '9007199254740992', '9007199254740993', '18446744073709551616', '1e400', '-1e400', '1e308', '123456789012345678901234567890').map((json) => ({ kind: 'integer limit', json })))
  }
  if (isNumber(schema)) {
    options.push(fc.constantFrom(`${(schema.maximum ?? 90) + 0.000001}`, `${(schema.minimum ?? -90) - 1}`, '1e400', '-1e400', '"NaN"').map((json) => ({ kind: 'number limit', json })))
  }
  if (types(schema).includes('array')) {
    const max = schema.maxItems ?? 100
    options.push(
      fc.constantFrom(
        `[${Array.from({ length: max + 1 }, (_, i) => i + 1).join(',')}]`,
        `[${Array.from({ length: 150_000 }, (_, i) => (i % 9) + 1).join(',')}]`,
        '[0]', '[-1]', '[1.5]', '[null]', '["1"]', '[[1]]', '[9007199254740992]', '[1e400]',
      ).map((json) => ({ kind: 'array limit or item', json })),
    )
  }
  return fc.oneof(...options)
}

const UNKNOWN_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'company_id', 'id', 'job_id', 'created_at', 'row_version', 'stauts', '', ' ', 'job_title ', 'JOB_TITLE', '\u0000', '𝓍']

function objectText(fields: Array<[string, string]>): string {
  return `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`
}

/** Deeply nested JSON text (arrays or objects), `depth` levels. */
export function nested(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
}

/**
 * A body refused for one reason: the op's valid body with one thing broken.
 * `base` is a valid body to start from.
 */
export function invalidBody(op: Operation, ids: Ids): fc.Arbitrary<{ kind: string; body: string; codes: string[] }> {
  const schema = op.body!
  const props = Object.entries(schema.properties ?? {})
  const required = schema.required ?? []
  const base = validBody(schema, ids, 1)
  const asFields = (body: Record<string, unknown>) => Object.entries(body).map(([k, v]) => [k, JSON.stringify(v)] as [string, string])
  const validation = ['validation_failed']
  const kinds: Array<fc.Arbitrary<{ kind: string; body: string; codes: string[] }>> = [
    // One field broken.
    fc.tuple(base, fc.constantFrom(...props)).chain(([body, [name, s]]) =>
      invalidValue(s).map(({ kind, json }) => {
        const fields = asFields(body).filter(([k]) => k !== name)
        fields.push([name, json])
        return { kind: `${kind} (${name})`, body: objectText(fields), codes: kind === 'huge string' && json.length > 1024 * 1024 ? ['payload_too_large'] : validation }
      }),
    ),
    // An unknown key, __proto__ and constructor included.
    fc.tuple(base, fc.constantFrom(...UNKNOWN_KEYS), fc.constantFrom('1', '"x"', '{"polluted":true}', 'null', '{"prototype":{"polluted":true}}')).map(([body, key, value]) => ({
      kind: `unknown field ${JSON.stringify(key)}`,
      body: objectText([...asFields(body), [key, value]]),
      codes: validation,
    })),
    // A duplicate key whose last value is invalid (JSON.parse keeps the last).
    fc.tuple(base, fc.constantFrom(...props)).chain(([body, [name, s]]) =>
      invalidValue(s).map(({ json }) => ({
        kind: `duplicate key (${name})`,
        body: objectText([...asFields(body).filter(([k]) => k !== name), [name, JSON.stringify(body[name] ?? 'x')], [name, json]]),
        codes: json.length > 1024 * 1024 ? ['payload_too_large'] : validation,
      })),
    ),
    // Deep nesting as a field's value.
    fc.tuple(base, fc.constantFrom(...props), fc.integer({ min: 1000, max: 100_000 }), fc.constantFrom('array' as const, 'object' as const)).map(([body, [name], depth, kind]) => ({
      kind: `deep nesting ${kind}`,
      body: objectText([...asFields(body).filter(([k]) => k !== name), [name, nested(depth, kind)]]),
      codes: validation,
    })),
    // Not a JSON object, or not JSON (a byte order mark is skipped only as the body's first bytes: docs/decisions.md).
    fc.constantFrom('[]', '[{}]', '"x"', '1', 'null', 'true', '{', '{"a":1,}', "{'a':1}", '{"a":NaN}', '{"a":1}/*c*/', ' \ufeff{}', '{"a":"\\x41"}', '{"a":"\\ud800"', ' ', '\u0000').map((body) => ({
      kind: 'not a JSON object',
      body,
      codes: ['invalid_json'],
    })),
    // Over the 1 MiB body limit.
    fc.integer({ min: 1, max: 5000 }).map((extra) => ({ kind: 'over 1 MiB', body: `{"pad":"${'x'.repeat(1024 * 1024 + extra)}"}`, codes: ['payload_too_large'] })),
  ]
  if (required.length) {
    kinds.push(
      fc.tuple(base, fc.constantFrom(...required), fc.constantFrom('delete', '""', '"   "')).map(([body, name, how]) => {
        const fields = asFields(body).filter(([k]) => k !== name)
        if (how !== 'delete' && isText(schema.properties![name]!)) fields.push([name, how])
        return { kind: `missing ${name}`, body: objectText(fields), codes: validation }
      }),
    )
  }
  if (op.method === 'PUT') kinds.push(fc.constant({ kind: 'empty update', body: '{}', codes: validation }))
  return fc.oneof(...kinds)
}

// ---- Query strings

export const BAD_INTEGERS = ['0', '-1', '+1', '1.0', '1e3', '0x10', ' 1', '%201', '1%20', '%EF%BC%91', '9007199254740992', '99999999999999999999999', 'NaN', 'Infinity', 'null', 'true', 'abc', '1,2', '1;2', '%00', '1%00', '[1]', '%7B%7D', '{}', '1?x=1', '1/1', '1%2F1', '%31%2E%30', '١']

export function invalidQuery(op: Operation, ids: Ids): fc.Arbitrary<{ kind: string; query: string }> {
  const params = Object.entries(op.query)
  const id = fc.constantFrom(...idsFor(op.path, ids))
  const needsId = needsIdOf(op)
  const prefix = (n: number) => (needsId ? `id=${n}&` : '')
  const kinds: Array<fc.Arbitrary<{ kind: string; query: string }>> = [
    fc.tuple(id, fc.constantFrom('stauts=Pending', '__proto__=1', 'constructor=1', 'ID=1', 'id[]=1', 'id%5B%5D=1', 'page%20=1', 'x=1', 'api_key=1', 'a=1&a=2')).map(([n, extra]) => ({ kind: `unknown parameter ${extra}`, query: `${prefix(n)}${extra}` })),
  ]
  if (op.query.id) {
    kinds.push(fc.constantFrom(...BAD_INTEGERS).map((v) => ({ kind: `malformed id ${v}`, query: `id=${v}` })))
    kinds.push(id.map((n) => ({ kind: 'repeated id', query: `id=${n}&id=${n}` })))
    kinds.push(fc.constant({ kind: 'empty id', query: 'id=' }))
  }
  if (needsId) kinds.push(fc.constant({ kind: 'missing id', query: '' }))
  if (op.method === 'POST') kinds.push(id.map((n) => ({ kind: 'id on a create', query: `id=${n}` })))
  const listParams = params.filter(([name]) => name !== 'id')
  if (op.method === 'GET' && !needsId && listParams.length) {
    kinds.push(
      fc.constantFrom(...listParams).chain(([name, s]) => {
        const bad: string[] = ['', `${encodeURIComponent('x')}&${name}=1`]
        if (isInt(s)) bad.push(...BAD_INTEGERS)
        if (s.enum) bad.push(...s.enum.map((v) => String(v)).map((v) => encodeURIComponent(v.toLowerCase() === v ? v.toUpperCase() : v.toLowerCase())), 'Pending%20', '%20Low')
        if (s.pattern && name === 'status') bad.push('Pending,', ',Pending', 'Pending,,Assigned', 'pending', 'Pending%2Cfoo')
        if (isDateBound(s)) bad.push(...INVALID_DATES.filter((d) => !/^\d{4}-\d{2}-\d{2}$/.test(d)).map(encodeURIComponent))
        if (name === 'q') bad.push('%00', 'a%01b', 'a%0Ab', 'a%0D%0ASet-Cookie:%20x=1', encodeURIComponent('y'.repeat(201)), encodeURIComponent('😀'.repeat(201)))
        return fc.constantFrom(...bad).map((v) => ({ kind: `bad ${name}`, query: `${name}=${v}` }))
      }),
    )
    kinds.push(fc.tuple(id, fc.constantFrom(...listParams)).map(([n, [name]]) => ({ kind: `id with ${name}`, query: `id=${n}&${name}=1` })))
  }
  return fc.oneof(...kinds)
}

/** PUT, PATCH, DELETE, history and transitions address one record with ?id=. */
export function needsIdOf(op: Operation): boolean {
  return ['PUT', 'PATCH', 'DELETE'].includes(op.method) || op.path.endsWith('/history') || op.path.endsWith('/transitions')
}

export function validQuery(op: Operation, ids: Ids): fc.Arbitrary<string> {
  if (op.method === 'POST') return fc.constant('')
  const needsId = needsIdOf(op)
  if (needsId || !Object.keys(op.query).length) return fc.constantFrom(...idsFor(op.path, ids)).map((n) => `id=${n}`)
  const params = Object.entries(op.query).filter(([name]) => name !== 'id')
  const value = (name: string, s: JsonSchema): fc.Arbitrary<string> => {
    if (name === 'status' && s.pattern) return fc.uniqueArray(fc.constantFrom('Pending', 'Assigned', 'In Progress', 'On Hold', 'Closed'), { minLength: 1, maxLength: 3 }).map((v) => v.join(','))
    if (s.enum) return fc.constantFrom(...s.enum.map(String))
    if (isDateBound(s)) return fc.constantFrom('2026-02-24', '2026-02-24T00:00:00Z', '2026-02-24T09:00:00+02:00', '2000-01-01')
    if (name === 'per_page') return fc.constantFrom('1', '50', '100', '101', '1000000')
    if (name === 'page') return fc.constantFrom('1', '2', '999999999')
    if (name === 'q') return fc.oneof(text(1, 20), fc.constantFrom('%', '_', '\\', '%_%', 'é', 'É', '😀'))
    const known = idsForField(name, ids)
    if (isInt(s)) return fc.constantFrom(...(known?.length ? known : [1]), 999_999).map(String)
    return fc.constant('x')
  }
  return fc.oneof(
    fc.constant(''),
    fc.constantFrom(...idsFor(op.path, ids)).map((n) => `id=${n}`),
    fc.subarray(params, { minLength: 1, maxLength: Math.min(4, params.length) }).chain((chosen) => fc.tuple(...chosen.map(([name, s]) => value(name, s).map((v) => `${name}=${encodeURIComponent(v)}`))).map((parts) => parts.join('&'))),
  )
}
