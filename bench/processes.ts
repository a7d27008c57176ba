/**
 * The processes of a run: `fsm serve` and the baseline server (each its own
 * process, started once and kept for the whole run), and one load-worker
 * process per measurement. Also what we read about a server from /proc:
 * resident memory (VmRSS, peak VmHWM) and CPU time used.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { BENCH_DIR, REPO_DIR } from './dataset.ts'
import type { LoadSummary } from './load-worker.ts'
import type { LoadJob } from './scenarios.ts'

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

export interface ServerProcess {
  name: string
  child: ChildProcess
  origin: string
  /** The last lines it printed (stdout and stderr), for error messages. */
  output: string[]
  /** Every log line at warning level or above it printed (`fsm serve` logs as JSON lines), in order. */
  warnings: string[]
  stop(): Promise<void>
}

/** pino's number for warnings (errors are 50, fatal 60). */
const WARN = 40

/** The level of a JSON log line; 0 for anything else. */
function logLevel(line: string): number {
  if (!line.startsWith('{')) return 0
  try {
    const level: unknown = JSON.parse(line).level
    return typeof level === 'number' ? level : 0
  } catch {
    return 0
  }
}

function startProcess(name: string, args: string[], env: NodeJS.ProcessEnv, origin: string): ServerProcess {
  const child = spawn(process.execPath, args, { cwd: REPO_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const output: string[] = []
  const warnings: string[] = []
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue
      output.push(line)
      if (logLevel(line) >= WARN) warnings.push(line)
    }
    if (output.length > 50) output.splice(0, output.length - 50)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.once('exit', (code, signal) => {
    if (!stopping) output.push(`[${name} exited unexpectedly: ${signal ? `killed by ${signal}` : `exit code ${code}`} at ${new Date().toISOString()}]`)
  })
  let stopping = false
  return {
    name,
    child,
    origin,
    output,
    warnings,
    async stop() {
      stopping = true
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** `fsm serve` exactly as an operator starts it, on the given database, logging warnings only. */
export function startFsmServer(databaseUrl: string, port: number, nodeArgs: string[] = [], extraEnv: NodeJS.ProcessEnv = {}): ServerProcess {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...extraEnv,
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'warn',
    FSM_DEMO: '0',
    // One process: rate limits in memory, as a single-instance install has them.
    REDIS_URL: '',
  }
  return startProcess('fsm serve', [...nodeArgs, join(REPO_DIR, 'bin/fsm.mjs'), 'serve', '--port', String(port), '--host', '127.0.0.1'], env, `http://127.0.0.1:${port}`)
}

export function startBaselineServer(port: number): ServerProcess {
  return startProcess('baseline', ['--import', 'tsx', join(BENCH_DIR, 'baseline-server.ts'), '--port', String(port)], process.env, `http://127.0.0.1:${port}`)
}

/** Throws if the server is no longer running (a measurement against a dead server means nothing). */
export function assertRunning(server: ServerProcess): void {
  if (server.child.exitCode !== null || server.child.signalCode !== null) {
    throw new Error(`${server.name} (pid ${server.child.pid}) is not running any more:\n${server.output.slice(-15).join('\n')}`)
  }
}

/** Waits until `url` answers 200, or the process dies, or the time is up. */
export async function waitUntilUp(server: ServerProcess, path: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`${server.name} exited with ${server.child.exitCode}:\n${server.output.join('\n')}`)
    try {
      // With a timeout: whatever else holds the port may accept and never answer.
      const response = await fetch(server.origin + path, { signal: AbortSignal.timeout(5000) })
      if (response.ok) return
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`${server.name} did not come up within ${timeoutMs / 1000} s:\n${server.output.join('\n')}`)
}

/**
 * Waits until `server` is up; if it exited at start because its port was
 * taken in the meantime (free when chosen, EADDRINUSE when it listened),
 * starts it again with `restart` on another port. Returns the server that is up.
 */
export async function upOnFreePort(server: ServerProcess, restart: (port: number) => ServerProcess, path: string): Promise<ServerProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      await waitUntilUp(server, path)
      return server
    } catch (error) {
      if (attempt >= 3 || !server.output.some((line) => line.includes('EADDRINUSE'))) throw error
      await server.stop()
      server = restart(await freePort())
    }
  }
}

/**
 * Waits until the server answers /healthz promptly again. A scenario that
 * ends with slow requests in flight leaves the server busy with them (and
 * with requests already read); the next measurement must not share the CPU
 * with that backlog. Returns how long it took (a finding in itself).
 */
export async function drain(server: ServerProcess, timeoutMs = 120_000): Promise<number> {
  const began = Date.now()
  let prompt = 0
  while (Date.now() - began < timeoutMs) {
    const sent = performance.now()
    try {
      await fetch(server.origin + '/healthz', { signal: AbortSignal.timeout(5000) })
      prompt = performance.now() - sent < 20 ? prompt + 1 : 0
    } catch {
      prompt = 0
    }
    if (prompt >= 3) return Date.now() - began
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return Date.now() - began
}

// ------------------------------------------------------------------ /proc

export interface ProcStatus {
  rssMb: number
  hwmMb: number
}

export function procStatus(pid: number): ProcStatus | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0)
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 }
  } catch {
    return undefined
  }
}

/**
 * CPU seconds (user + system) the process has used so far, all its threads;
 * or, given `thread`, that thread's alone (a process's main thread, the
 * event loop, has the process's id).
 */
export function cpuSeconds(pid: number, thread?: number): number {
  try {
    const file = thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`
    const fields = readFileSync(file, 'utf8').split(') ')[1]!.split(' ')
    // utime and stime are fields 14 and 15 of the whole line (11 and 12 after the command name).
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return Number.NaN
  }
}

/** Samples a process's VmRSS until stopped; returns the highest seen. */
export function watchRss(pid: number, everyMs = 200): { stop(): number } {
  let peak = 0
  const sample = () => {
    const status = procStatus(pid)
    if (status) peak = Math.max(peak, status.rssMb)
  }
  sample()
  const timer = setInterval(sample, everyMs)
  return {
    stop() {
      clearInterval(timer)
      sample()
      return peak
    },
  }
}

// ------------------------------------------------------------------ load

/** Runs one measurement in a fresh load-worker process. */
export async function runLoad(job: LoadJob): Promise<LoadSummary> {
  const child = fork(join(BENCH_DIR, 'load-worker.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  return new Promise((resolve, reject) => {
    let answered = false
    child.once('message', (message: { ok: boolean; summary?: LoadSummary; error?: string }) => {
      answered = true
      if (message.ok) resolve(message.summary!)
      else reject(new Error(`load worker failed: ${message.error}`))
    })
    child.once('exit', (code) => {
      if (!answered) reject(new Error(`load worker exited with ${code} without an answer`))
    })
    child.send(job)
  })
}
