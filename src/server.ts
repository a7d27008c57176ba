/**
 * Listen, with a cap on connections, and shut down gracefully (and the
 * server process's two settings of V8, below): nothing else. On SIGTERM/SIGINT new
 * requests get 503 (so a load balancer moves on), requests in flight finish,
 * the database closes, the process exits 0 (API.md §7).
 */
import type { FastifyInstance } from 'fastify'
import { readFileSync } from 'node:fs'
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
  setV8FlagUnlessGiven('heap-growing-percent', '--heap-growing-percent=15')
}

/**
 * Turns off V8's allocation-site pretenuring. V8 watches how many objects
 * of each allocation site survive young-generation collections, and from
 * a site whose objects mostly survive it allocates straight into the old
 * generation. Its young generation starts at 1 MB, so in the first seconds
 * under load most objects of a request (Node's own request, response and
 * header objects among them) are still in use at each collection; in about
 * half of the benchmark's runs V8 then pretenured them, and for the rest of
 * the process every request's objects went to the old generation, kept
 * what they pointed to alive through each young collection (4.5-5.5 ms
 * each instead of 0.5-1) and filled the old generation 5-6 times a second:
 * ~12% of the event loop, lists answered a quarter to a third slower, p99
 * two to three times longer (docs/performance.md, "The young generation").
 * Without pretenuring, every run measured (five with the flag on node's
 * command line, four set here) ran as the good half did. V8 reads the flag
 * at every collection and when a thread starts, so setting it before the
 * server takes requests covers the reading thread too; an operator's own
 * `--allocation-site-pretenuring` on node's command line wins.
 */
export function stopAllocationSitePretenuring(): void {
  setV8FlagUnlessGiven('allocation-site-pretenuring', '--no-allocation-site-pretenuring')
}

/**
 * Sets a V8 flag (`setting`) unless node's command line already names the
 * flag `name`, in either spelling (dashes or underscores) and with or
 * without `no-`: the operator's choice wins.
 */
function setV8FlagUnlessGiven(name: string, setting: string): void {
  const given = new RegExp(`^--(no-)?${name.replaceAll('-', '[-_]')}(=|$)`)
  if (!process.execArgv.some((flag) => given.test(flag))) setFlagsFromString(setting)
}

/** File descriptors kept free of connections: the database's files and connections, the read thread's, Redis, the documentation's files. */
const DESCRIPTORS_KEPT = 256
/** At most this many connections at once whatever the descriptors allow: idle sockets cost memory too (~3 KB each in Node, more in the kernel). */
const CONNECTIONS_MOST = 10_000

/**
 * How many connections the server holds at once: the process's limit of
 * open files (the soft one, from Linux's /proc/self/limits) less
 * DESCRIPTORS_KEPT, and at most CONNECTIONS_MOST. Without a cap, ~21,000
 * connections opened and left idle used every descriptor of a process
 * limited to 20,000, and PostgreSQL connections, SQLite's files and the
 * documentation's files could not be opened until they closed. Where the
 * limit cannot be read (not Linux), CONNECTIONS_MOST.
 */
export function connectionCap(limits: string | undefined = readProcessLimits()): number {
  const openFiles = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits ?? '')?.[1]
  if (openFiles === undefined || openFiles === 'unlimited') return CONNECTIONS_MOST
  return Math.max(16, Math.min(CONNECTIONS_MOST, Number(openFiles) - DESCRIPTORS_KEPT))
}

function readProcessLimits(): string | undefined {
  try {
    return readFileSync('/proc/self/limits', 'utf8')
  } catch {
    return undefined
  }
}

/**
 * Caps the connections `app` holds at `cap` (Node's `maxConnections`):
 * a connection past it is closed as it arrives, before any request on it
 * is read, so nothing it would have sent was done, and the clients that
 * are connected keep being answered. The first connection closed is
 * logged at once; those closed in the `quietMs` after it are counted in
 * one line when that time is up (and so on while they keep coming), so a
 * flood of connections is a few lines, each with how many were closed.
 */
export function capConnections(app: FastifyInstance, cap: number, quietMs = 10_000): void {
  app.server.maxConnections = cap
  const logClosed = (closed: number) => app.log.warn({ max_connections: cap, closed }, 'connections refused: the server holds as many as it may (its limit of open files)')
  let unlogged = 0
  let quiet: NodeJS.Timeout | undefined
  const endOfQuiet = () => {
    quiet = undefined
    if (unlogged === 0) return
    logClosed(unlogged)
    unlogged = 0
    quiet = setTimeout(endOfQuiet, quietMs).unref()
  }
  app.server.on('drop', () => {
    if (quiet) {
      unlogged++
      return
    }
    logClosed(1)
    quiet = setTimeout(endOfQuiet, quietMs).unref()
  })
}

export async function startServer(config: Config, database: DatabaseHandle): Promise<RunningServer> {
  const app = await buildApp({ config, database, readThread: config.sqliteReadThread })
  capConnections(app, connectionCap())
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
  // Every signal is handled, not only the first: a second SIGTERM or SIGINT
  // (a supervisor repeating itself, Ctrl-C pressed twice) fell through to
  // Node's default and killed the process with answers and a write's reply
  // unsent. The shutdown is bounded by itself (SHUTDOWN_GRACE_MS in app.ts);
  // SIGKILL is there for whoever cannot wait.
  let signalled = false
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (signalled) {
        app.log.warn({ signal }, 'already shutting down: finishing requests in flight (SIGKILL stops at once)')
        return
      }
      signalled = true
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
