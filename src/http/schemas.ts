/**
 * Building blocks for the route schemas. One schema validates a request,
 * serialises the answer and documents both in OpenAPI (API.md §7), so the
 * rules of API.md §1 are written here once.
 */
import type { FastifyRequest } from 'fastify'
import { Type, type TObject, type TSchema, type Static } from 'typebox'
import { ERROR_STATUS, type ErrorCode } from './errors.ts'

export const MAX_ID = Number.MAX_SAFE_INTEGER

/** Would `value` pass as an id (`Id`, `QueryId`)? For bodies that failed validation as a whole. */
export function isWellFormedId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_ID
}

/** A request's `?id=` if well-formed, whether or not its query was validated (Fastify validates the body first; a query not validated is text). */
export function queryIdOf(request: FastifyRequest): number | undefined {
  const id = (request.query as Record<string, unknown> | undefined)?.id
  const value = typeof id === 'string' && /^\d+$/.test(id) ? Number(id) : id
  return isWellFormedId(value) ? value : undefined
}

/**
 * No control characters (C0, DEL and C1: the message says "control
 * characters", and C1 in text is nearly always Windows-1252 read as
 * Latin-1), no line or paragraph separator (U+2028, U+2029: a line break to
 * whatever shows the name) and no lone UTF-16 surrogates (names, titles, tags).
 */
export const SINGLE_LINE = '^[^\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029\\uD800-\\uDFFF]*$'
/** As above, but tab, CR and LF are allowed (descriptions, notes, addresses). */
export const MULTI_LINE = '^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F\\uD800-\\uDFFF]*$'

/** Messages for the patterns of the schemas, used when mapping validation errors (http/validation.ts). */
export const PATTERN_MESSAGES = new Map<string, string>([
  [SINGLE_LINE, 'must not contain control characters, line breaks or invalid Unicode'],
  [MULTI_LINE, 'must not contain control characters (other than tab, CR and LF) or invalid Unicode'],
])

/** A pattern of a route's schema, with what a value that does not match is told (instead of "has an invalid format"). */
export function patternWithMessage(pattern: string, message: string): string {
  PATTERN_MESSAGES.set(pattern, message)
  return pattern
}

/**
 * Patterns of text that is a list of enum values (`status=Pending,Assigned`
 * on jobs): exact like any enum value (API.md §1), so validation does not
 * trim it as it trims other text (http/validation.ts).
 */
export const EXACT_PATTERNS = new Set<string>()

/** `pattern` (with its message, as patternWithMessage), for text taken exactly as sent: never trimmed. */
export function exactPattern(pattern: string, message: string): string {
  EXACT_PATTERNS.add(pattern)
  return patternWithMessage(pattern, message)
}

type Options = { description?: string }

/** `null` allowed as well: widens `type` so validation errors stay one per field. */
function nullable<T extends TSchema>(schema: T) {
  const copy = { ...schema } as Record<string, unknown>
  if (Array.isArray(copy.enum)) copy.enum = [...(copy.enum as unknown[]), null]
  if (typeof copy.type === 'string') copy.type = [copy.type, 'null']
  return Type.Unsafe<Static<T> | null>(copy)
}

export const Id = (o: Options = {}) => Type.Integer({ minimum: 1, maximum: MAX_ID, ...o })
export const NullableId = (o: Options = {}) => nullable(Id(o))

/** A title or name: required text of one line, at most 200 code points. */
export const Name = (o: Options = {}) => Type.String({ minLength: 1, maxLength: 200, pattern: SINGLE_LINE, ...o })
export const NullableName = (o: Options = {}) => nullable(Type.String({ maxLength: 200, pattern: SINGLE_LINE, ...o }))
/** Free text (descriptions, notes, addresses): up to 10,000 code points. */
export const NullableText = (o: Options = {}) => nullable(Type.String({ maxLength: 10_000, pattern: MULTI_LINE, ...o }))
/** An address line: up to 200 code points; tab, CR and LF allowed like other address text. */
export const NullableAddressLine = (o: Options = {}) => nullable(Type.String({ maxLength: 200, pattern: MULTI_LINE, ...o }))
/**
 * `local@domain.tld`, as a pattern rather than `format: email`: the format
 * means RFC 5321's ASCII addresses to a validating client, and the check
 * has always taken more than that (`josé@example.com`, docs/decisions.md),
 * so answers with such addresses failed the document's own schema. Each
 * part refuses what one-line text refuses (SINGLE_LINE): `\s` is not the
 * control characters, and a NUL in an email was a 500 on PostgreSQL,
 * stored on SQLite (where `fsm copy` to PostgreSQL then failed on it).
 */
const EMAIL_PART = '[^\\s@\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029\\uD800-\\uDFFF]+'
export const EMAIL_PATTERN = patternWithMessage(`^${EMAIL_PART}@${EMAIL_PART}\\.${EMAIL_PART}$`, 'must be an email address')
export const NullableEmail = (o: Options = {}) => nullable(Type.String({ maxLength: 254, pattern: EMAIL_PATTERN, ...o }))

/** An RFC 3339 date-time in a request; stored as whole UTC seconds. */
export const DateTimeIn = (o: Options = {}) => Type.String({ format: 'date-time', ...o })
export const NullableDateTimeIn = (o: Options = {}) => nullable(DateTimeIn(o))
/** A timestamp in an answer: `YYYY-MM-DDTHH:MM:SSZ`. */
export const Timestamp = (o: Options = {}) => Type.String({ format: 'date-time', description: 'UTC, YYYY-MM-DDTHH:MM:SSZ', ...o })
export const NullableTimestamp = (o: Options = {}) => nullable(Timestamp(o))

export const Enum = <T extends string>(values: readonly T[], o: Options = {}) => Type.Unsafe<T>({ type: 'string', enum: [...values], ...o })
export const NullableEnum = <T extends string>(values: readonly T[], o: Options = {}) => nullable(Enum(values, o))

export { nullable as Nullable }

/**
 * A PUT's body: the fields its POST takes, each optional (only those sent
 * change), and at least one of them, so that the document says what the
 * server answers to `{}`.
 */
export const UpdateBody = <T extends TObject>(create: T, o: Record<string, unknown> = {}) =>
  Type.Partial(create, { additionalProperties: false, minProperties: 1, ...o })

// ---- Query strings: values arrive as text; see validation.ts for coercion.

/** A positive integer in a query string: the body's rule, once compileQuery (validation.ts) has taken decimal digits only. */
export const QueryId = Id
export const QueryPage = () => Type.Integer({ minimum: 1, maximum: MAX_ID, description: 'Page number (default: 1)' })
export const QueryPerPage = () =>
  Type.Integer({ minimum: 1, maximum: MAX_ID, description: 'Results per page (default: 50; values above 100 are treated as 100)' })
/** `?id=N` addressing a single record (PUT, PATCH, DELETE, and a job's history and transitions). */
export const IdQuery = (what: string) => Type.Object({ id: QueryId({ description: `The ${what} id` }) }, { additionalProperties: false })
/** No query parameters at all (POST). */
export const NoQuery = Type.Object({}, { additionalProperties: false })
export const QueryText = (o: Options = {}) => Type.String({ minLength: 1, maxLength: 200, pattern: SINGLE_LINE, ...o })
export const QueryDate = (o: Options = {}) => Type.String({ format: 'date-or-date-time', ...o })

// ---- Envelopes (API.md §1).

export const RequestId = Type.String({ description: 'Unique id of this request, also in the X-Request-Id header' })

export const Pagination = Type.Object({
  page: Type.Integer(),
  per_page: Type.Integer(),
  total: Type.Integer(),
  total_pages: Type.Integer(),
})

export const ReadEnvelope = <T extends TSchema>(data: T) => Type.Object({ data, request_id: RequestId })
export const ListEnvelope = <T extends TSchema>(item: T) =>
  Type.Object({ data: Type.Array(item), pagination: Pagination, request_id: RequestId })
export const WriteEnvelope = <T extends TSchema>(data: T) =>
  Type.Object({ success: Type.Literal(true), message: Type.String(), data, request_id: RequestId })

export const ErrorEnvelope = Type.Object(
  {
    success: Type.Literal(false),
    error: Type.Object({
      code: Enum(Object.keys(ERROR_STATUS) as ErrorCode[], { description: 'What went wrong, for programs (docs/errors.md); the message is for people' }),
      message: Type.String(),
      details: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
    }),
    request_id: RequestId,
  },
  { $id: 'ErrorEnvelope' },
)

/** Every route's error answers, for the OpenAPI document and serialisation. */
export const ERROR_RESPONSES = { '4xx': ErrorEnvelope, '5xx': ErrorEnvelope }
