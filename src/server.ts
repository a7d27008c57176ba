/**
 * Listen, and shut down gracefully: nothing else. On SIGTERM/SIGINT new
 * requests get 503 (so a load balancer moves on), requests in flight finish,
 * the database closes, the process exits 0 (API.md §7).
 */
import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.ts'
import type { Config } from './config.ts'
import type { DatabaseHandle } from './db/connect.ts'

export interface RunningServer {
  app: FastifyInstance
  address: string
  stop(): Promise<void>
}

export async function startServer(config: Config, database: DatabaseHandle): Promise<RunningServer> {
  const app = await buildApp({ config, database })
  const address = await app.listen({ port: config.port, host: config.host })
  let stopping: Promise<void> | undefined
  const stop = () => {
    stopping ??= (async () => {
      app.beginShutdown()
      await app.close()
      await database.close()
    })()
    return stopping
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      app.log.info({ signal }, 'shutting down: finishing requests in flight')
      stop().then(
        () => process.exit(0),
        (error) => {
          app.log.error({ err: error }, 'shutdown failed')
          process.exit(1)
        },
      )
    })
  }
  return { app, address, stop }
}
