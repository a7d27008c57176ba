/**
 * HTTP clients for the suite: `api()` through fetch (keep-alive, a timeout
 * on every request so a hang is a failure, never a stuck test) and `raw()`
 * over a bare socket for what fetch refuses to send (odd methods, bad
 * headers, broken framing).
 */
import net from 'node:net'

export interface Answer {
  status: number
  headers: Headers
  text: string
  /** Parsed JSON, or undefined when the body is not JSON. */
  body: any
  ms: number
}

export interface RequestOptions {
  key?: string
  /** JSON-encoded and sent with Content-Type: application/json. */
  json?: unknown
  /** Sent as-is. */
  raw?: string | Buffer
  headers?: Record<string, string>
  timeoutMs?: number
}

/** A request that got no HTTP answer (connection refused or reset, or the client timeout). */
export class NoAnswer extends Error {
  constructor(readonly reason: string, readonly timedOut: boolean) {
    super(`no answer: ${reason}`)
  }
}

function parse(text: string): unknown {
  if (!text) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

export async function api(base: string, method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = {}
  if (options.key !== undefined) headers['x-api-key'] = options.key
  let body: string | Uint8Array | undefined
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(options.json)
  } else if (options.raw !== undefined) {
    body = options.raw
  }
  Object.assign(headers, options.headers)
  const started = performance.now()
  let response: Response
  try {
    response = await fetch(base + path, { method, headers, body: body as BodyInit | undefined, signal: AbortSignal.timeout(options.timeoutMs ?? 15_000) })
  } catch (error) {
    const e = error as Error & { cause?: { code?: string; message?: string } }
    const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError'
    throw new NoAnswer(e.cause?.code ?? e.cause?.message ?? e.message, timedOut)
  }
  let text: string
  try {
    text = await response.text()
  } catch (error) {
    // Headers arrived but the body was cut: not a complete answer.
    const e = error as Error & { cause?: { code?: string } }
    throw new NoAnswer(`body cut: ${e.cause?.code ?? e.message}`, e.name === 'TimeoutError')
  }
  return { status: response.status, headers: response.headers, text, body: parse(text), ms: performance.now() - started }
}

export interface RawAnswer {
  status: number
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>
  rawHead: string
  text: string
  body: any
}

/**
 * Sends `request` (the whole HTTP/1.1 request as bytes) on a new
 * connection and reads one answer until the server closes or the body is
 * complete. Throws NoAnswer on reset or timeout.
 */
export function raw(port: number, request: string | Buffer, timeoutMs = 15_000): Promise<RawAnswer> {
  const bytes = Buffer.isBuffer(request) ? request : Buffer.from(request, 'utf8')
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let settled = false
    const finish = (error?: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      const all = Buffer.concat(chunks)
      const split = all.indexOf('\r\n\r\n')
      if (split < 0) return reject(error ?? new NoAnswer(all.length ? `incomplete head: ${all.toString('latin1').slice(0, 200)}` : 'connection closed without an answer', false))
      const head = all.subarray(0, split).toString('latin1')
      const [statusLine, ...lines] = head.split('\r\n')
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1])
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const i = line.indexOf(':')
        if (i < 0) continue
        const name = line.slice(0, i).trim().toLowerCase()
        const value = line.slice(i + 1).trim()
        headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
      }
      let bodyBytes: Buffer = all.subarray(split + 4)
      if (headers['transfer-encoding']?.includes('chunked')) bodyBytes = dechunk(bodyBytes)
      else if (headers['content-length'] !== undefined) bodyBytes = bodyBytes.subarray(0, Number(headers['content-length']))
      const text = bodyBytes.toString('utf8')
      resolve({ status, headers, rawHead: head, text, body: parse(text) })
    }
    const timer = setTimeout(() => finish(new NoAnswer(`timeout after ${timeoutMs} ms`, true)), timeoutMs)
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      if (complete(Buffer.concat(chunks))) finish()
    })
    socket.on('end', () => finish())
    socket.on('close', () => finish())
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (chunks.length) finish()
      else finish(new NoAnswer(error.code ?? error.message, false))
    })
    // Large requests go in pieces, and stop once an answer has started (a server may answer 413
    // early and stop reading: writing on would only end in EPIPE).
    const CHUNK = 64 * 1024
    let offset = 0
    const pump = () => {
      while (offset < bytes.length && chunks.length === 0 && !settled) {
        const piece = bytes.subarray(offset, offset + CHUNK)
        offset += piece.length
        if (!socket.write(piece)) return void socket.once('drain', pump)
      }
    }
    if (bytes.length <= CHUNK) socket.write(bytes)
    else pump()
  })
}

/** Has a whole answer (head and declared body) arrived? (HEAD answers are read until close.) */
function complete(all: Buffer): boolean {
  const split = all.indexOf('\r\n\r\n')
  if (split < 0) return false
  const head = all.subarray(0, split).toString('latin1').toLowerCase()
  const length = /\r\ncontent-length:\s*(\d+)/.exec(head)
  if (length) return all.length - split - 4 >= Number(length[1])
  if (/\r\ntransfer-encoding:\s*chunked/.test(head)) return all.subarray(split + 4).includes('\r\n0\r\n\r\n') || all.subarray(split + 4).toString('latin1').startsWith('0\r\n\r\n')
  return false
}

function dechunk(data: Buffer): Buffer {
  const out: Buffer[] = []
  let at = 0
  while (at < data.length) {
    const lineEnd = data.indexOf('\r\n', at)
    if (lineEnd < 0) break
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16)
    if (!size) break
    out.push(data.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
  return Buffer.concat(out)
}

/** Builds a raw HTTP/1.1 request; `headers` are written exactly as given (CR/LF included). */
export function rawRequest(method: string, path: string, headers: Array<[string, string]>, body?: string | Buffer): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...headers.map(([n, v]) => `${n}: ${v}`)]
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')
  if (body !== undefined && !headers.some(([n]) => /^(content-length|transfer-encoding)$/i.test(n))) lines.push(`Content-Length: ${payload.length}`)
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload])
}

/** Runs `work` over `items` with at most `concurrency` at a time. */
export async function pool<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        await work(items[i]!, i)
      }
    }),
  )
}
