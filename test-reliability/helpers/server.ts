/**
 * `fsm serve` as a real process (so it can be killed with SIGKILL, sent
 * SIGTERM, or cut off from its database), and a TCP proxy between a server
 * and PostgreSQL that can refuse, drop or pass traffic. Everything listens
 * on 127.0.0.1 only.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Polls `check` until it is true; returns the time it took, or throws after
 * `timeoutMs`, or as soon as `giveUp` holds (the process waited for has exited).
 */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string, giveUp?: () => boolean): Promise<number> {
  const started = Date.now()
  while (Date.now() - started < timeoutMs) {
    if (await Promise.resolve().then(check).catch(() => false)) return Date.now() - started
    if (giveUp?.()) throw new Error(`gave up waiting for ${what}`)
    await sleep(50)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

export interface ServerOptions {
  databaseUrl: string
  env?: Record<string, string>
  logLevel?: string
  /** How long to wait for /readyz; 60 s by default (the machine may be busy). */
  readyTimeoutMs?: number
}

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

export class ServerProcess {
  readonly base: string
  readonly #output: Buffer[] = []
  readonly exited: Promise<Exit>
  #exit: Exit | undefined

  constructor(readonly child: ChildProcess, readonly port: number) {
    this.base = `http://127.0.0.1:${port}`
    child.stdout?.on('data', (chunk: Buffer) => this.#output.push(chunk))
    child.stderr?.on('data', (chunk: Buffer) => this.#output.push(chunk))
    this.exited = new Promise<Exit>((resolve) =>
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal }
        resolve(this.#exit)
      }),
    )
  }

  get running(): boolean {
    return this.#exit === undefined
  }

  /** Everything the process wrote to stdout and stderr (its log lines). */
  output(): string {
    return Buffer.concat(this.#output).toString('utf8')
  }

  /** SIGKILL: no handler runs, nothing is flushed: a crash. */
  async kill9(): Promise<Exit> {
    if (this.running) this.child.kill('SIGKILL')
    return this.exited
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal)
  }

  /** SIGTERM and wait (SIGKILL after `graceMs` so a test never leaves a process behind). */
  async stop(graceMs = 20_000): Promise<Exit> {
    if (!this.running) return this.exited
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs)
    const exit = await this.exited
    clearTimeout(timer)
    return exit
  }
}

/**
 * `node bin/fsm.mjs serve --port P` on a free port, once /readyz answers
 * 200. A port free when chosen can be taken before the server listens on it
 * (EADDRINUSE, seen in the multi-process test, which hung on it): then it
 * is started again on another port.
 */
export async function spawnServer(options: ServerOptions): Promise<ServerProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnOnce(options)
    } catch (error) {
      if (attempt >= 3 || !(error instanceof PortTaken)) throw error
    }
  }
}

class PortTaken extends Error {}

async function spawnOnce(options: ServerOptions): Promise<ServerProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, ['bin/fsm.mjs', 'serve', '--port', String(port), '--host', '127.0.0.1'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: options.databaseUrl,
      LOG_LEVEL: options.logLevel ?? 'warn',
      FSM_RATE_LIMIT: '10000000',
      FSM_DEMO: '0',
      REDIS_URL: '',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const server = new ServerProcess(child, port)
  try {
    await waitFor(
      async () => {
        if (!server.running) throw new Error('exited')
        return (await fetch(`${server.base}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200
      },
      options.readyTimeoutMs ?? 60_000,
      `fsm serve on port ${port} to be ready`,
      () => !server.running,
    )
  } catch (error) {
    const state = server.running ? 'still running' : `exited ${JSON.stringify(await server.exited)}`
    await server.kill9()
    const output = server.output()
    if (output.includes('EADDRINUSE')) throw new PortTaken(`port ${port} was taken`)
    throw new Error(`fsm serve (${state}) did not become ready: ${(error as Error).message}\noutput: ${output.slice(-4000)}`)
  }
  if (!server.running) throw new Error(`fsm serve exited at start:\n${server.output().slice(-4000)}`)
  return server
}

/**
 * A TCP proxy to PostgreSQL. `down()` closes it (connections refused, open
 * ones reset); `blackhole()` keeps every connection open but drops all
 * bytes both ways (a network partition); `up()` forwards again.
 */
export class TcpProxy {
  #server: net.Server | undefined
  readonly #sockets = new Set<net.Socket>()
  #dropping = false
  /** Connections accepted, for the report. */
  connections = 0

  constructor(readonly port: number, readonly target: { host: string; port: number }) {}

  static async create(target: { host: string; port: number }) {
    const proxy = new TcpProxy(await freePort(), target)
    await proxy.up()
    return proxy
  }

  async up(): Promise<void> {
    this.#dropping = false
    if (this.#server) return
    this.#server = net.createServer((client) => {
      this.connections++
      const upstream = net.connect(this.target.port, this.target.host)
      for (const s of [client, upstream]) {
        this.#sockets.add(s)
        s.on('close', () => this.#sockets.delete(s))
        s.on('error', () => s.destroy())
      }
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
      client.on('data', (data) => {
        if (!this.#dropping) upstream.write(data)
      })
      upstream.on('data', (data) => {
        if (!this.#dropping) client.write(data)
      })
    })
    await new Promise<void>((resolve) => this.#server!.listen(this.port, '127.0.0.1', resolve))
  }

  /** Refuse new connections and reset open ones: the database is down. */
  async down(): Promise<void> {
    this.#dropping = false
    for (const s of this.#sockets) s.destroy()
    const server = this.#server
    this.#server = undefined
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  /** Keep connections open but let nothing through: the database is silent. */
  async blackhole(): Promise<void> {
    await this.up()
    this.#dropping = true
  }

  /** Like `down()`, after a blackhole: drop every connection made meanwhile, then forward again. */
  async reset(): Promise<void> {
    await this.down()
    await this.up()
  }
}
