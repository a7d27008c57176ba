/**
 * 405 with `Allow` (API.md §2): Fastify answers 404 for a known path with an
 * unknown method, so each path gets a catch-all route for the methods it
 * lacks. It answers in onRequest, before auth and body parsing, because
 * route checks come first.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify'
import { ApiError } from './errors.ts'

/** Every method Fastify routes; anything else never reaches a route and is 404. */
const METHODS: HTTPMethods[] = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE', 'QUERY' as HTTPMethods]
const ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']

/** The 405 for `method` on `path`, whose `Allow` header it sets on `reply`. */
export function methodNotAllowed(reply: FastifyReply, method: string, path: string, allow: string): ApiError {
  reply.header('allow', allow)
  return new ApiError('method_not_allowed', `Method ${method} is not allowed on ${path}; allowed: ${allow}`)
}

/**
 * Call before the routes are registered; call the returned function after.
 * `meter` counts a refused request against its key, if it bears a valid one
 * (auth.ts, `meterRefusedRoute`).
 */
export function trackRoutes(app: FastifyInstance, meter: (request: FastifyRequest, reply: FastifyReply) => Promise<void>): (() => void) & { allowFor(path: string): string | undefined } {
  const byPath = new Map<string, Set<string>>()
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    const set = byPath.get(route.url) ?? new Set<string>()
    for (const m of methods) set.add(m)
    // Fastify adds a HEAD route to each GET route; for the twin of a plugin's
    // root path (`/docs/` beside `/docs`) this hook sees only that HEAD.
    if (set.has('HEAD')) set.add('GET')
    byPath.set(route.url, set)
  })
  /** `Allow` of each path we route, for methods Fastify never routes (PROPFIND…), which end in the 404 handler. */
  const allowByPath = new Map<string, string>()
  const finish = () => {
    for (const [url, allowed] of [...byPath]) {
      const allow = [...allowed].sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b)).join(', ')
      if (!url.includes('*')) allowByPath.set(url, allow)
      const missing = METHODS.filter((m) => !allowed.has(m))
      if (missing.length === 0) continue
      app.route({
        method: missing,
        url,
        schema: { hide: true },
        onRequest: async (request, reply) => {
          await meter(request, reply)
          // A wildcard route (the documentation's static files) is named by the file asked for.
          throw methodNotAllowed(reply, request.method, url.includes('*') ? request.url.split('?')[0]! : url, allow)
        },
        handler: async () => undefined,
      })
    }
  }
  return Object.assign(finish, { allowFor: (path: string) => allowByPath.get(path) })
}
