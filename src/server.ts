/**
 * Listen, and shut down gracefully (and the server process's one setting of
 * V8, below): nothing else. On SIGTERM/SIGINT new
 * requests get 503 (so a load balancer moves on), requests in flight finish,
 * the database closes, the process exits 0 (API.md §7).
 */
import type { FastifyInstance } from 'fastify'
import { setFlagsFromString } from 'node:v8'
import { buildApp } from './app.ts'
import type { Config } from './config.ts'
import type { DatabaseHandle } from './db/connect.ts'

export interface RunningServer {
  app: FastifyInstance
  address: string
  stop(): Promise<void>
}

/**
 * Lets V8's old generation grow by 15% of what survived the last full
 * collection before it collects again (V8 picks a factor between 1.1 and 4
 * by itself). Under load, the objects of requests in flight outlive two
 * young-generation collections and land in the old generation as garbage;
 * V8 let it pile up to 2-3 times what was live before collecting, and the
 * resident memory with it. Measured with `npm run bench:ab` (two runs of
 * 3-4 rounds; docs/performance.md): peak resident memory 216-284 -> 181-195
 * MB, requests per second the same within the noise. V8 reads
 * the flag each time it sets the next limit, so setting it after start
 * takes effect; an operator's own `--heap-growing-percent` on node's
 * command line wins (node refuses the flag in NODE_OPTIONS).
 */
export function limitHeapGrowth(): void {
  if (!process.execArgv.some((flag) => /^--heap[-_]growing[-_]percent/.test(flag))) {
    setFlagsFromString('--heap-growing-percent=15')
  }
}

export async function startServer(config: Config, database: DatabaseHandle): Promise<RunningServer> {
  const app = await buildApp({ config, database, readThread: config.sqliteReadThread })
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
