/**
 * buildApp(config): plugins, then modules, then the error and 404 handlers.
 * The app owns nothing global: tests build as many as they like.
 */
import { isUtf8 } from 'node:buffer'
import { randomUUID } from 'node:crypto'
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions, type preValidationHookHandler } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from './config.ts'
import type { DatabaseHandle } from './db/connect.ts'
import { readInstallationId } from './db/installation.ts'
import { hasLatestMigration } from './db/migrator.ts'
import { watchWriteStalls, type WriteStall } from './db/transaction.ts'
import { createAuthenticator } from './http/auth.ts'
import { ApiError, validationError } from './http/errors.ts'
import { createIdempotency } from './http/idempotency.ts'
import { errorBody, errorHandler, sendError } from './http/error-handler.ts'
import { sentMoreThanOnce } from './http/headers.ts'
import { methodNotAllowed, trackRoutes } from './http/method-not-allowed.ts'
import { API_DESCRIPTION, documentedSchema } from './http/openapi.ts'
import { parseQueryString } from './http/query-string.ts'
import { MemoryRateLimitStore, type RateLimitStore } from './http/rate-limit.ts'
import { RedisRateLimitStore } from './http/rate-limit-redis.ts'
import { ErrorEnvelope } from './http/schemas.ts'
import { validatorCompiler } from './http/validation.ts'
import { assetsRoutes } from './modules/assets/assets.routes.ts'
import { customersRoutes } from './modules/customers/customers.routes.ts'
import { jobsRoutes } from './modules/jobs/jobs.routes.ts'
import { locationsRoutes } from './modules/locations/locations.routes.ts'
import { techniciansRoutes } from './modules/technicians/technicians.routes.ts'

export const BODY_LIMIT = 1024 * 1024
/** Log levels at which each request is logged. */
const INFO_OR_LOWER = new Set(['trace', 'debug', 'info'])

export interface AppOptions {
  config: Config
  database: DatabaseHandle
  rateLimits?: RateLimitStore
  logger?: FastifyServerOptions['logger']
  /**
   * SQLite: read jobs (`GET /api/v1/jobs`) on a thread of their own (jobs.reader.ts), as
   * `fsm serve` does unless FSM_SQLITE_READ_THREAD=0. Off by default: a
   * test's or the CLI's app reads on the event loop.
   */
  readThread?: boolean
  /** How long a request may take to arrive in full (REQUEST_TIMEOUT_MS; tests shorten it). */
  requestTimeoutMs?: number
  /** How long a shutdown waits for requests in flight (SHUTDOWN_GRACE_MS; tests shorten it). */
  shutdownGraceMs?: number
}

/**
 * A request (its head and its body) must arrive in full within this time,
 * or it is answered 400 and its connection closed. Without a limit a client
 * that stopped sending half-way through a body held its connection forever,
 * and a SIGTERM waited for it ("finish requests in flight", API.md §7).
 * A 1 MiB body (the limit) in 60 s needs 17 KB/s: any integration's link.
 * Node checks every CONNECTIONS_CHECK_MS, so the answer comes 60-70 s in.
 */
const REQUEST_TIMEOUT_MS = 60_000
const CONNECTIONS_CHECK_MS = 10_000

/**
 * A shutdown finishes the requests in flight (API.md §7), but Node stops
 * timing requests out once its server closes: a client still sending its
 * body would hold the process up forever. Connections still open this long
 * after a shutdown began are closed. A request whose handler runs is done
 * in milliseconds; one still arriving after this long had not been acted
 * on, and its client sees the connection reset and sends it again.
 */
const SHUTDOWN_GRACE_MS = 20_000

/** What every module's routes receive. */
export interface AppContext {
  database: DatabaseHandle
  readThread: boolean
}

/**
 * A key pasted into a URL by mistake must not reach the logs (API.md §7),
 * percent-encoded (`fsm%5F1%5F…`, as a form or a client's URL builder
 * writes it) or in capitals either.
 */
const KEY_IN_URL = /fsm(?:_|%5f)\d+(?:_|%5f)[0-9a-z]+/gi
function redactKeys(url: string): string {
  return /fsm/i.test(url) ? url.replace(KEY_IN_URL, 'fsm_[redacted]') : url
}

/** 16 hex digits of a random UUID (its first three groups), without a regular expression per request. */
function requestId(): string {
  const uuid = randomUUID()
  return uuid.slice(0, 8) + uuid.slice(9, 13) + uuid.slice(14, 18)
}

/**
 * An error in the envelope written straight to a socket, for requests that
 * never became Fastify requests, with its log line (API.md §7: one a
 * request; method and path are unknown, the request was not understood).
 */
function rawError(log: FastifyBaseLogger, socket: Socket, error: ApiError) {
  if (!socket.writable) return socket.destroy()
  const id = requestId()
  const body = JSON.stringify(errorBody(error, id))
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${id}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
  )
  log.info({ method: null, path: null, status: error.status, duration_ms: null, request_id: id, key_id: null, refused: error.message }, 'request')
}

/**
 * Node's response in flight on a socket, which its own handler of refused
 * requests reads too, and the request its parser is reading (neither in
 * Node's typings).
 */
type HttpSocket = Socket & { _httpMessage?: ServerResponse | null; parser?: { incoming?: IncomingMessage | null } | null }

/**
 * A request Node's parser refused. When the connection's earlier requests
 * arrived in full and are still being answered (a client that pipelines,
 * then sends bytes that are not HTTP), the refusal waits for every one of
 * those answers: written at once, it took their place and closed the
 * connection, so creates that were done reached their client as a 400 or
 * not at all (Node's own handler does the same) and would be sent again.
 * A request cut short is the refused request itself, and is answered at once.
 */
function clientError(this: FastifyInstance, error: NodeJS.ErrnoException, socket: HttpSocket) {
  if (error.code === 'ECONNRESET' || error.code === 'EPIPE') return socket.destroy()
  const refusal =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new ApiError('payload_too_large', 'The request line and headers exceed 16 KiB')
      : // API.md §2 has no 408: a request cut short is a request not well-formed.
        error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? validationError([{ field: 'request', message: 'did not arrive in full in time; send it again' }])
        : validationError([{ field: 'request', message: 'is not a well-formed HTTP/1.1 request' }])
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    // A body that stopped arriving after its request was answered (a 401
    // comes before the body is read): the client has its answer, and a 400
    // a minute later answered a request it never sent.
    const incoming = socket.parser?.incoming
    if (incoming && !incoming.complete && !socket._httpMessage) return socket.destroy()
  }
  afterPipelinedAnswers(socket, () => rawError(this.log, socket, refusal))
}

/**
 * Calls `then` once the answers in flight on the connection are written.
 * Node writes a pipelined request's answer after the one before it: when an
 * answer finishes, Node's own 'finish' listener (added before this one)
 * makes the next waiting answer the connection's, so an answer still the
 * connection's has not finished, and this follows the queue to its end.
 */
function afterPipelinedAnswers(socket: HttpSocket, then: () => void) {
  const answering = socket._httpMessage
  if (!answering || !answering.req.complete) return then()
  let finished = false
  answering.once('finish', () => {
    finished = true
    afterPipelinedAnswers(socket, then)
  })
  // A response closes after it finishes, or when its connection is cut first (then there is no one to tell).
  answering.once('close', () => finished || socket.destroy())
}

/** RFC 3986's host (a name, IPv4 address or bracketed IP literal) with an optional port: what RFC 9110 §7.2 allows in Host. */
const HOST = /^(?:\[[0-9A-Za-z:.]+\]|[\w\-.~%!$&'()*+,;=]*)(?::\d*)?$/

/** Why a request's Host is refused (RFC 9112 §3.2), if it is. */
function problemOfHost(host: string, rawHeaders: string[]): string | undefined {
  if (!HOST.test(host)) return 'must be a host name or address, with an optional port'
  if (sentMoreThanOnce(rawHeaders, 'host')) return 'must be sent once'
  return undefined
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH'])

/** The `charset` parameters of a Content-Type, quoted or not (one is allowed: RFC 6838 §4.3). */
const CHARSETS = /;\s*charset\s*=\s*"?([^";\s]*)/gi

/** UTF-8's byte order mark, EF BB BF, at the start of a body. */
const hasByteOrderMark = (bytes: Buffer) => bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf

/** A route's hooks of one kind as an array (a route may give one function, several, or none). */
function hooksOf<T>(hooks: T | T[] | undefined): T[] {
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks]
}

/** A write route's hook: every write needs a JSON body (API.md §1); a missing Content-Type is 415 too, after the auth checks and before validation. */
const requireJsonBody: preValidationHookHandler = (request, _reply, done) => {
  if (request.body !== undefined) return done()
  const type = request.headers['content-type']
  if (!type || !/^application\/json\s*(;|$)/i.test(type)) return done(new ApiError('unsupported_media_type', 'Content-Type must be application/json'))
  done(new ApiError('invalid_json', 'Request body is empty; send a JSON object'))
}

/**
 * SQLite: a group of writes that waits this long in one step (a checkpoint
 * catch-up, the write lock, a COMMIT; each normally a few milliseconds)
 * means a disk slow to sync or another process holding the lock, and every
 * write waits meanwhile: say so in the log (db/transaction.ts).
 */
const WRITE_STALL_MS = 200

/** A warning per write stall, at most one a second (those in between are counted in the next). */
export function logWriteStall(log: Pick<FastifyBaseLogger, 'warn'>): (stall: WriteStall) => void {
  let lastLoggedAt = 0
  let unlogged = 0
  return ({ phase, waitedMs, writes, refused }) => {
    const now = Date.now()
    if (now - lastLoggedAt < 1000) {
      unlogged++
      return
    }
    lastLoggedAt = now
    log.warn({ phase, waited_ms: Math.round(waitedMs), writes, ...(refused && { refused }), unlogged_before: unlogged }, 'writes stalled')
    unlogged = 0
  }
}

export async function buildApp(options: AppOptions) {
  const { config, database } = options
  const requestTimeout = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
  const app = Fastify({
    logger: options.logger ?? { level: config.logLevel },
    genReqId: requestId,
    // One line per request, written by our onResponse hook, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    return503OnClosing: false,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 200, querystringParser: parseQueryString },
    // A request without Host is answered by us (in the envelope, the onRequest hook below), not by Node's bare 400.
    // The request timeout goes to Node's server when it is made: on Node 20
    // the one Fastify sets afterwards (its `requestTimeout`) is never checked.
    http: { requireHostHeader: false, requestTimeout, connectionsCheckingInterval: Math.min(CONNECTIONS_CHECK_MS, requestTimeout) },
    requestTimeout,
    // Requests Node's parser refuses (bad header bytes, unknown method tokens, oversized heads) get the envelope too.
    clientErrorHandler: clientError,
    // A path Fastify cannot decode (`/api/v1/jobs%ZZ`) is a path we do not have.
    frameworkErrors: (_error, request, reply) => {
      reply.header('x-request-id', request.id).header('x-content-type-options', 'nosniff')
      return sendError(new ApiError('not_found', 'No route for this path'), request, reply)
    },
  }).withTypeProvider<TypeBoxTypeProvider>()
  // An Expect other than 100-continue got Node's bare 417; RFC 9110 §10.1.1
  // lets a server ignore an expectation it does not know, and so does this.
  app.server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => app.server.emit('request', request, response))
  // CONNECT asks for a tunnel; Node closes such connections silently unless someone answers.
  app.server.on('connect', (_request: unknown, socket: Socket) => rawError(app.log, socket, new ApiError('not_found', 'CONNECT is not supported')))

  app.setValidatorCompiler(validatorCompiler)
  app.setErrorHandler(errorHandler)
  app.decorateRequest('auth', null)
  app.decorateRequest('revokedKeyId', null)

  app.addHook('preClose', (done) => {
    setTimeout(() => app.server.closeAllConnections(), options.shutdownGraceMs ?? SHUTDOWN_GRACE_MS).unref()
    done()
  })

  let shuttingDown = false
  app.decorate('beginShutdown', () => {
    shuttingDown = true
  })

  // Only JSON bodies exist in this API; anything else is 415 (API.md §1).
  app.removeAllContentTypeParsers()
  // Read as bytes, not as a string: a string is decoded as it arrives, and
  // bytes that are not UTF-8 become U+FFFD, which would then be stored as
  // if the client had sent it. JSON between systems is UTF-8 (RFC 8259 §8.1).
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    // Named twice, the body's charset is anyone's guess (`charset=utf-8; charset=latin1` was read as UTF-8).
    const charsets = [...(request.headers['content-type'] ?? '').matchAll(CHARSETS)].map((match) => match[1]!)
    if (charsets.length > 1) return done(new ApiError('unsupported_media_type', 'Content-Type must name its charset once (charset=utf-8)'), undefined)
    if (charsets.length === 1 && !/^utf-?8$/i.test(charsets[0]!)) return done(new ApiError('unsupported_media_type', 'Content-Type charset must be utf-8'), undefined)
    // A compressed body is not decoded (RFC 9110 §8.4 allows 415): a gzip body was "not valid UTF-8", and `br` on plain JSON was taken as JSON.
    const coding = request.headers['content-encoding']
    if (coding !== undefined && !/^\s*identity\s*$/i.test(coding)) {
      return done(new ApiError('unsupported_media_type', `Content-Encoding ${coding} is not supported; send the body uncompressed`), undefined)
    }
    // A transfer coding other than chunked is not decoded either (RFC 9112 §6.1), and Node reads `gzip, chunked` as chunked alone.
    const transfer = request.headers['transfer-encoding']
    if (transfer !== undefined && !/^\s*chunked\s*$/i.test(transfer)) {
      return done(new ApiError('unsupported_media_type', `Transfer-Encoding ${transfer} is not supported; send the body with chunked alone or a Content-Length`), undefined)
    }
    // Node keeps the first of several Content-Types, so which was taken depended on their order.
    if (sentMoreThanOnce(request.raw.rawHeaders, 'content-type')) return done(new ApiError('unsupported_media_type', 'Content-Type must be sent once'), undefined)
    const bytes = body as Buffer
    if (!isUtf8(bytes)) return done(new ApiError('invalid_json', 'Request body is not valid UTF-8'), undefined)
    // A byte order mark before the JSON is skipped, as RFC 8259 §8.1 allows a
    // parser to do: some Windows tools write one (PowerShell 5.1's UTF-8
    // files), and JSON.parse refused the body for it ("not valid JSON").
    const text = bytes.toString('utf8', hasByteOrderMark(bytes) ? 3 : 0)
    // DELETE takes no body, but clients often send the JSON Content-Type anyway.
    if (text.trim() === '' && request.method === 'DELETE') return done(null, undefined)
    if (text.trim() === '') return done(new ApiError('invalid_json', 'Request body is empty; send a JSON object'), undefined)
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      return done(new ApiError('invalid_json', 'Request body is not valid JSON'), undefined)
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return done(new ApiError('invalid_json', 'Request body must be a JSON object'), undefined)
    }
    // DELETE has no fields: `{}` is taken, anything in it is unknown (API.md §1).
    // Checked here rather than by a body schema on the route, which would
    // put a request body for DELETE in the OpenAPI document.
    if (request.method === 'DELETE' && Object.keys(value).length) {
      return done(validationError(Object.keys(value).map((field) => ({ field, message: 'is not a known field' }))), undefined)
    }
    done(null, value)
  })

  // The hooks every request passes through take a callback rather than
  // returning a promise when they have nothing to wait for: a promise and a
  // microtask per hook per request is measurable at tens of thousands of
  // requests a second (issue 6).
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    reply.header('x-content-type-options', 'nosniff')
    // Liveness stays 200 while the process runs (API.md §7); everything else
    // answers 503 during shutdown so a load balancer moves on.
    if (shuttingDown && request.url !== '/healthz') {
      reply.header('connection', 'close')
      // Retry-After as on every 503 (the OpenAPI document says so): a retry through a load balancer reaches another instance.
      return done(new ApiError('service_unavailable', 'The server is shutting down; retry on another instance', { headers: { 'retry-after': '1' } }))
    }
    // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without
    // Host. Node's own check answers a bare 400, so it is off (Fastify's
    // `requireHostHeader`) and the check is here, in the envelope.
    if (request.headers.host === undefined && request.raw.httpVersion === '1.1') {
      return done(validationError([{ field: 'request', message: 'has no Host header, which HTTP/1.1 requires' }]))
    }
    // The same section: 400 to more than one Host, or one that is not a host (Node keeps the first).
    const hostProblem = request.headers.host === undefined ? undefined : problemOfHost(request.headers.host, request.raw.rawHeaders)
    if (hostProblem) return done(validationError([{ field: 'Host', message: hostProblem }]))
    // A path we do not have is answered here, before its body is read: the
    // route check comes first (API.md §2), and a body refused as too large,
    // of the wrong type or not JSON was answered 413, 415 or 400 instead.
    if (request.is404) {
      void answerUnrouted(request, reply)
      return
    }
    done()
  })

  // The request log line, when the level logs it; at warn (as in the
  // benchmark) the hook is not even added.
  if (INFO_OR_LOWER.has(app.log.level)) {
    app.addHook('onResponse', (request, reply, done) => {
      done()
      request.log.info(
        {
          method: request.method,
          path: redactKeys(request.url),
          status: reply.statusCode,
          duration_ms: Math.round(reply.elapsedTime * 10) / 10,
          request_id: request.id,
          key_id: request.auth?.keyId ?? null,
          ...(request.revokedKeyId !== null && { revoked_key_id: request.revokedKeyId }),
        },
        'request',
      )
    })
  }

  // The error envelope is a component of the document (http/openapi.ts).
  app.addSchema(ErrorEnvelope)
  await app.register(swagger, {
    // Shared schemas are named by their $id in the document.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'FSM Navigator API',
        version: '1.0.0',
        description: API_DESCRIPTION,
        license: { name: 'MIT', identifier: 'MIT' },
      },
      components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } } },
      security: [{ apiKey: [] }],
    },
    // The headers and status codes the schemas do not carry (http/openapi.ts).
    transform: ({ schema, url, route }) => ({ schema: documentedSchema(schema, route) as typeof schema, url }),
  })
  const rateLimits: RateLimitStore =
    options.rateLimits ??
    (config.redisUrl
      ? new RedisRateLimitStore(config.redisUrl, (message, error) => app.log.warn({ err: error }, message))
      : new MemoryRateLimitStore())
  if (!options.rateLimits && !config.redisUrl && database.dialect === 'postgres') {
    // PostgreSQL is for several processes (docs/deployment.md), and API.md
    // §3's limits are shared between them only through Redis: without it,
    // each process would let a key's whole budget through on its own.
    app.log.warn('REDIS_URL is not set: rate limits are counted by this process alone; when more than one process serves this database, set REDIS_URL so they share them (docs/deployment.md)')
  }
  app.addHook('onReady', async () => rateLimits.start?.(await readInstallationId(database.db)))
  app.addHook('onClose', async () => rateLimits.close?.())
  const { guardFor, meterRefusedRoute } = createAuthenticator({
    db: database.db,
    rateLimits,
    defaultRateLimit: config.rateLimitPerMinute,
    cacheMs: config.keyCacheMs,
    onBackgroundError: (error) => app.log.warn({ err: error }, 'background write failed'),
  })
  const idempotency = createIdempotency(database.db, app.log)
  app.decorateRequest('idempotencyClaim', null)
  // The checks of API routes are added to those routes alone (API.md §2's
  // order: auth, rate limit, plan, scope; then the body checks and the
  // Idempotency-Key, before body validation). As global hooks, every request
  // (/healthz, every GET) ran the checks of writes, each asking Fastify for
  // its route's options, which builds an object per call (issue 6). Every
  // route is registered below this hook; a test asks every path and method
  // of the OpenAPI document for its key.
  app.addHook('onRoute', (route) => {
    const { scope, module } = route.config ?? {}
    if (!scope) return
    route.onRequest = [guardFor(scope, module), ...hooksOf(route.onRequest)]
    const methods = [route.method].flat()
    const writes = methods.filter((method) => WRITE_METHODS.has(method)).length
    if (writes === 0) return
    // The write hooks below run for every method of the route they are added to.
    if (writes !== methods.length) throw new Error(`${route.url}: a route with a scope either reads or writes, not both`)
    route.preValidation = [requireJsonBody, idempotency.before, ...hooksOf(route.preValidation)]
    route.onSend = [...hooksOf(route.onSend), idempotency.after]
  })
  const addMethodNotAllowed = trackRoutes(app, meterRefusedRoute)
  // The document as bytes, made once and shared by every answer: it is
  // ~140 KB, and serialised anew for each request, the answers to requests
  // a client pipelined and never read held a copy each (hundreds of MB from
  // one connection, with no key needed).
  let documentBytes: Buffer | undefined
  const sendDocument = (reply: FastifyReply) => reply.type('application/json; charset=utf-8').send((documentBytes ??= Buffer.from(JSON.stringify(app.swagger()))))
  // After trackRoutes: its pages get 405 for other methods too.
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // The UI's own copy of the document (/docs/json) is answered the same way.
    uiHooks: {
      onRequest: (request, reply, done) => {
        if (request.routeOptions.url === '/docs/json') return void sendDocument(reply)
        done()
      },
    },
  })

  let purgeTimer: NodeJS.Timeout | undefined
  const purge = () => idempotency.purgeExpired().catch((error) => app.log.warn({ err: error }, 'idempotency purge failed'))
  app.addHook('onReady', async () => {
    void purge()
    purgeTimer = setInterval(purge, 10 * 60 * 1000).unref()
  })
  app.addHook('onClose', async () => clearInterval(purgeTimer))
  watchWriteStalls(database.db, WRITE_STALL_MS, logWriteStall(app.log))

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }))
  // Ready while the database answers. A rate-limit store that is down does
  // not make the process unready (requests fail open) but is reported.
  app.get('/readyz', { schema: { hide: true } }, async (request, reply) => {
    const limits = rateLimits.status()
    const rate_limit = { store: limits.store, status: limits.healthy ? 'ok' : `${limits.problem ?? 'unreachable'} (failing open)` }
    // A 503 is in the error envelope, as every non-2xx answer (API.md §1, and
    // /readyz's own 503 during a shutdown), with the probe's fields beside it.
    const unready = (database: string, message: string) =>
      reply.code(503).header('retry-after', '1').send({ ...errorBody(new ApiError('service_unavailable', message), request.id), status: 'unavailable', database, rate_limit })
    let migrated: boolean
    try {
      migrated = await hasLatestMigration(database.db)
    } catch {
      return unready('unreachable', 'The database is unavailable; retry shortly')
    }
    // Reachable but without this version's tables (dropped and made again
    // empty, restored from an old backup): every API request would fail.
    if (!migrated) return unready('not migrated (run fsm migrate, or restart fsm serve)', 'The database is not migrated to this version: run fsm migrate, or restart fsm serve')
    return { status: 'ok', database: 'ok', rate_limit }
  })
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, (_request, reply) => sendDocument(reply))

  const context: AppContext = { database, readThread: options.readThread ?? false }
  await app.register(async (api) => {
    await jobsRoutes(api, context)
    await customersRoutes(api, context)
    await locationsRoutes(api, context)
    await techniciansRoutes(api, context)
    await assetsRoutes(api, context)
  })
  addMethodNotAllowed()

  /** 404 for a path we do not have; 405 for a method Fastify does not route (PROPFIND, SEARCH…) on a path we have, like any other. */
  async function answerUnrouted(request: FastifyRequest, reply: FastifyReply) {
    const path = request.url.split('?')[0]!
    await meterRefusedRoute(request, reply)
    const allow = addMethodNotAllowed.allowFor(path)
    if (allow) return sendError(methodNotAllowed(reply, request.method, path, allow), request, reply)
    return sendError(new ApiError('not_found', `No route for ${request.method} ${path}`), request, reply)
  }
  // Reached only if the onRequest hook above did not answer first.
  app.setNotFoundHandler(answerUnrouted)
  return app
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Makes every new request answer 503 while in-flight ones finish. */
    beginShutdown(): void
  }
}
