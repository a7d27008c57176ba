/**
 * Request validation (API.md §1, DESIGN.md habit 2). Fastify's default Ajv
 * coerces `"87"` into 87 and silently drops unknown fields; we want neither.
 * Bodies: trimmed, then checked strictly (no coercion, unknown fields
 * rejected, every error reported). Query strings: text trimmed as in
 * bodies, a repeated or empty parameter is an error, integers are decimal
 * digits only, then the same strict check. Errors become
 * `validation_failed` with one detail per field.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import type { FastifyRequest, FastifySchema, FastifySchemaCompiler } from 'fastify'
import { NOTHING_TO_UPDATE, validationError, type FieldError } from './errors.ts'
import { dateTimeProblem, isDateOrDateTime, isDateTime } from './formats.ts'
import { type ParsedQuery, UNDECODABLE } from './query-string.ts'
import { EXACT_PATTERNS, PATTERN_MESSAGES, MAX_ID } from './schemas.ts'

type JsonSchema = {
  type?: string | string[]
  enum?: unknown[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  format?: string
  pattern?: string
  maxItems?: number
  /** Better messages for fields that exist elsewhere but may not be sent here. */
  'x-field-hints'?: Record<string, string>
}

function createAjv(): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    coerceTypes: false,
    useDefaults: false,
    removeAdditional: false,
    allowUnionTypes: true,
    strict: false,
    // Errors carry the value refused, for the messages of date-times (messageOf).
    verbose: true,
  })
  ajv.addFormat('date-time', { type: 'string', validate: isDateTime })
  ajv.addFormat('date-or-date-time', { type: 'string', validate: isDateOrDateTime })
  return ajv
}

const ajv = createAjv()

const FORMAT_MESSAGES: Record<string, string> = {
  'date-time': 'must be an RFC 3339 date-time with a time zone, e.g. 2026-02-25T09:00:00Z',
  'date-or-date-time': 'must be a date (2026-02-24) or an RFC 3339 date-time with a time zone',
}

function typeMessage(type: unknown): string {
  const types = (Array.isArray(type) ? type : [type]).filter((t) => t !== 'null')
  const nullable = Array.isArray(type) && type.includes('null')
  const names = types.map((t) => (t === 'integer' ? 'an integer' : t === 'array' ? 'an array' : t === 'object' ? 'an object' : `a ${t}`))
  return `must be ${names.join(' or ')}${nullable ? ' or null' : ''}`
}

function enumMessage(values: unknown[]): string {
  return `must be one of: ${values.filter((v) => v !== null).join(', ')}`
}

function fieldOf(error: ErrorObject): string {
  const parts = error.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
  if (error.keyword === 'required') parts.push((error.params as { missingProperty: string }).missingProperty)
  if (error.keyword === 'additionalProperties') parts.push((error.params as { additionalProperty: string }).additionalProperty)
  // The body itself (its type, minProperties); a field named "" is field "", as a query parameter without a name is.
  if (parts.length === 0) return 'body'
  let field = ''
  for (const part of parts) field += /^\d+$/.test(part) && field ? `[${part}]` : field ? `.${part}` : part
  return field
}

function messageOf(error: ErrorObject, unknownWord: string): string {
  const params = error.params as Record<string, any>
  switch (error.keyword) {
    case 'required':
      return 'is required'
    case 'additionalProperties':
      return (error.params as { additionalProperty: string }).additionalProperty === '' ? `a ${unknownWord} must have a name` : `is not a known ${unknownWord}`
    case 'type': {
      // An enum field sent null or a number is told its values, not "must be a string": that one message says what to send.
      const values = (error.parentSchema as JsonSchema | undefined)?.enum
      return values ? enumMessage(values) : typeMessage(params.type)
    }
    case 'enum':
      return enumMessage(params.allowedValues as unknown[])
    case 'const':
      return `must be ${JSON.stringify(params.allowedValue)}`
    case 'minLength':
      return params.limit === 1 ? 'must not be empty' : `must be at least ${params.limit} characters`
    case 'maxLength':
      return `must be at most ${params.limit} characters`
    case 'minimum':
      return params.limit === 1 ? 'must be a positive integer' : `must be at least ${params.limit}`
    case 'maximum':
      return params.limit === MAX_ID ? `must be at most ${MAX_ID}` : `must be at most ${params.limit}`
    case 'maxItems':
      return `must have at most ${params.limit} items`
    case 'minProperties':
      // Only the update bodies (PUT) say it (UpdateBody).
      return NOTHING_TO_UPDATE
    case 'pattern':
      return PATTERN_MESSAGES.get(params.pattern) ?? 'has an invalid format'
    case 'format': {
      // `error.data` is the value refused (Ajv's `verbose`).
      const problem = typeof error.data !== 'string' ? undefined : dateTimeProblem(error.data, params.format === 'date-or-date-time')
      return problem ?? FORMAT_MESSAGES[params.format] ?? `must be a valid ${params.format}`
    }
    default:
      return error.message ?? 'is invalid'
  }
}

/** Ajv errors → one detail per field (the first, most basic problem), in order. */
export function toFieldErrors(errors: ErrorObject[] | null | undefined, unknownWord = 'field'): FieldError[] {
  const seen = new Map<string, FieldError>()
  for (const error of errors ?? []) {
    const field = fieldOf(error)
    if (!seen.has(field)) seen.set(field, { field, message: messageOf(error, unknownWord) })
  }
  return [...seen.values()]
}

/**
 * `target[name] = value` as an own field whatever the name: by
 * defineProperty, not assignment, so that a "__proto__" key of a body or
 * query string stays an ordinary (unknown, so refused) field, never the
 * object's prototype.
 */
function setOwnField(target: Record<string, unknown>, name: string, value: unknown): void {
  Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true })
}

function isTrimmedText(schema: JsonSchema | undefined): boolean {
  // Enum values are exact (API.md §1), and so is a list of them (exactPattern, schemas.ts).
  if (!schema || schema.enum || (schema.pattern !== undefined && EXACT_PATTERNS.has(schema.pattern))) return false
  const types = Array.isArray(schema.type) ? schema.type : [schema.type]
  return types.includes('string')
}

function isNullable(schema: JsonSchema | undefined): boolean {
  return Array.isArray(schema?.type) ? schema.type.includes('null') : false
}

/**
 * Trim text fields (enums are exact and are left alone). Text that is empty
 * after trimming is absent when the field is required (so the error says
 * "is required"), null when the field is nullable, and left empty otherwise
 * (so the error says "must not be empty").
 */
function normaliseBody(body: Record<string, unknown>, schema: JsonSchema): Record<string, unknown> {
  const properties = schema.properties ?? {}
  const required = new Set(schema.required ?? [])
  const out: Record<string, unknown> = {}
  const set = (name: string, value: unknown) => setOwnField(out, name, value)
  for (const [name, value] of Object.entries(body)) {
    const property = Object.hasOwn(properties, name) ? properties[name] : undefined
    if (typeof value !== 'string' || !isTrimmedText(property)) {
      set(name, value)
      continue
    }
    const trimmed = value.trim()
    if (trimmed !== '') set(name, trimmed)
    else if (required.has(name)) continue
    else set(name, isNullable(property) ? null : '')
  }
  return out
}

/**
 * Rules across fields of a body (e.g. `scheduled_end` after
 * `scheduled_start`): registered per schema so their problems are listed
 * together with every other problem of the request. A check sees the
 * normalised body and must ignore fields that fail their own rules.
 */
export type BodyCheck = (body: Record<string, unknown>) => FieldError[]
const bodyChecks = new WeakMap<object, BodyCheck>()

export function addBodyCheck(schema: object, check: BodyCheck): void {
  bodyChecks.set(schema, check)
}

/**
 * The body as validated: an array field longer than its `maxItems` as its
 * first `maxItems` + 1 items. Its length is refused either way, and a 1 MiB
 * body of 100,000 bad items held the event loop ~2 s to list each of them
 * (a 6 MB answer, stored as well under an Idempotency-Key); its details
 * now name the length and the problems of the items kept.
 */
function withArraysCut(body: Record<string, unknown>, limits: Array<[string, number]>): Record<string, unknown> {
  let cut: Record<string, unknown> | undefined
  for (const [name, maxItems] of limits) {
    const value = Object.hasOwn(body, name) ? body[name] : undefined
    if (Array.isArray(value) && value.length > maxItems) (cut ??= { ...body })[name] = value.slice(0, maxItems + 1)
  }
  return cut ?? body
}

/**
 * Unknown fields named one by one in an answer; past them, one detail says
 * how many more there are. A 1 MiB body of 80,000 unknown fields held the
 * event loop ~0.6 s to name each of them (a 1.6 MB answer, stored as well
 * under an Idempotency-Key); the body is refused either way. Naming 1,000
 * costs a few milliseconds, and no client sends that many by mistake.
 */
const MAX_UNKNOWN_FIELDS_NAMED = 1_000

/**
 * The body as validated: with more unknown fields than are named, its
 * known fields and its first MAX_UNKNOWN_FIELDS_NAMED unknown ones, and
 * how many unknown fields were left out.
 */
function withUnknownFieldsCut(body: Record<string, unknown>, properties: Record<string, JsonSchema>): { body: Record<string, unknown>; leftOut: number } {
  const names = Object.keys(body)
  // The bodies of every day pay one count of their fields.
  if (names.length <= MAX_UNKNOWN_FIELDS_NAMED) return { body, leftOut: 0 }
  const cut: Record<string, unknown> = {}
  let unknown = 0
  for (const name of names) {
    if (!Object.hasOwn(properties, name) && ++unknown > MAX_UNKNOWN_FIELDS_NAMED) continue
    setOwnField(cut, name, body[name])
  }
  return unknown > MAX_UNKNOWN_FIELDS_NAMED ? { body: cut, leftOut: unknown - MAX_UNKNOWN_FIELDS_NAMED } : { body, leftOut: 0 }
}

function compileBody(schema: JsonSchema) {
  const validate = ajv.compile(schema)
  const check = bodyChecks.get(schema)
  const properties = schema.properties ?? {}
  const arrayLimits = Object.entries(properties).flatMap(([name, property]): Array<[string, number]> => (property.maxItems === undefined ? [] : [[name, property.maxItems]]))
  return (data: unknown) => {
    // The JSON parser only lets objects through; a missing body is checked
    // (415) before validation runs, so anything else here is an empty body.
    const { body: given, leftOut } = withUnknownFieldsCut((data ?? {}) as Record<string, unknown>, properties)
    const body = normaliseBody(given, schema)
    const valid = validate(arrayLimits.length ? withArraysCut(body, arrayLimits) : body)
    const hints = schema['x-field-hints'] ?? {}
    const details = valid ? [] : toFieldErrors(validate.errors, 'field').map((d) => (hints[d.field] && !(d.field in properties) ? { field: d.field, message: hints[d.field]! } : d))
    if (leftOut > 0) details.push({ field: 'body', message: `has ${leftOut} more unknown ${leftOut === 1 ? 'field' : 'fields'}` })
    if (check) {
      const seen = new Set(details.map((d) => d.field))
      details.push(...check(body).filter((d) => !seen.has(d.field)))
    }
    return details.length ? { error: validationError(details) } : { value: body }
  }
}

function wantsInteger(schema: JsonSchema | undefined): boolean {
  return schema?.type === 'integer'
}

function compileQuery(schema: JsonSchema) {
  const validate: ValidateFunction = ajv.compile(schema)
  const properties = schema.properties ?? {}
  return (data: unknown) => {
    const raw = (data ?? {}) as ParsedQuery
    const undecodable = raw[UNDECODABLE]
    const value: Record<string, unknown> = {}
    const set = (name: string, v: unknown) => setOwnField(value, name, v)
    const early: FieldError[] = []
    for (const [name, given] of Object.entries(raw)) {
      // Text is trimmed as in bodies (API.md §1): `?q=+acme+` searches for
      // "acme", and `?q=%20` is as empty as `?q=`.
      const v = typeof given === 'string' && Object.hasOwn(properties, name) && isTrimmedText(properties[name]) ? given.trim() : given
      // `?=x`: reported as itself, not as an unknown parameter (Ajv would name it `body`).
      if (undecodable?.includes(name)) early.push({ field: name, message: 'is not valid percent-encoded UTF-8' })
      else if (name === '') early.push({ field: '', message: 'a query parameter must have a name' })
      else if (Array.isArray(v)) early.push({ field: name, message: 'must not be repeated' })
      else if (v === '') early.push({ field: name, message: 'must not be empty' })
      else if (Object.hasOwn(properties, name) && wantsInteger(properties[name])) {
        if (/^\d+$/.test(String(v))) set(name, Number(v))
        // `-1` is an integer, just not one these take (as `0`, which the schema's minimum refuses).
        else early.push({ field: name, message: /^-\d+$/.test(String(v)) ? 'must be a positive integer' : 'must be an integer' })
      } else set(name, v)
    }
    const ok = validate(value)
    const details = [...early, ...toFieldErrors(ok ? [] : validate.errors, 'parameter')]
    if (details.length === 0) return { value }
    // Keep the first problem of each parameter (the most basic: it was found
    // first), listed in the order the parameters come in the query string,
    // as a body's unknown fields are; a required one that is missing, last.
    // Found-order put every non-integer first, whatever came before it.
    const unique = new Map<string, FieldError>()
    for (const detail of details) if (!unique.has(detail.field)) unique.set(detail.field, detail)
    const names = Object.keys(raw)
    const place = (field: string) => (names.includes(field) ? names.indexOf(field) : names.length)
    return { error: validationError([...unique.values()].sort((a, b) => place(a.field) - place(b.field))) }
  }
}

/** Fastify validator compiler: picks the rules by the part of the request. */
export const validatorCompiler: FastifySchemaCompiler<FastifySchema> = ({ schema, httpPart }) => {
  if (httpPart === 'body') return compileBody(schema as JsonSchema)
  if (httpPart === 'querystring') return compileQuery(schema as JsonSchema)
  const validate = ajv.compile(schema as object)
  return (data: unknown) => (validate(data) ? { value: data } : { error: validationError(toFieldErrors(validate.errors)) })
}

/**
 * The problems the route's validation finds in one part of a request, for
 * an answer refused for another part before that one was checked: API.md
 * §1 lists every offending field, and Fastify stops at the first part that
 * fails (its body before its query string) as do the checks that run before
 * its validation (a malformed Idempotency-Key).
 */
export function problemsIn(request: FastifyRequest, part: 'querystring' | 'body'): FieldError[] {
  const validate = request.getValidationFunction(part) as ((value: unknown) => { error?: { details?: FieldError[] } }) | undefined
  return validate?.(part === 'body' ? request.body : (request.query ?? {})).error?.details ?? []
}
