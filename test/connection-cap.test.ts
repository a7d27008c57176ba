/**
 * The cap on connections `fsm serve` holds at once (src/server.ts): derived
 * from the process's limit of open files, and what a client past it sees.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { once } from 'node:events'
import { collectedLog, freshDatabase } from './helpers/app.ts'
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import { capConnections, connectionCap } from '../src/server.ts'

/** /proc/self/limits as Linux writes it, with the given soft limit of open files. */
const limitsWith = (openFiles: string) =>
  [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max processes             63704                63704                processes ',
    `Max open files            ${openFiles.padEnd(20)} 1048576              files     `,
    'Max locked memory         8388608              8388608              bytes     ',
  ].join('\n')

describe('the cap on connections', () => {
  it('is the limit of open files less 256 kept for the database and the rest, at most 10,000', () => {
    assert.equal(connectionCap(limitsWith('1024')), 768)
    assert.equal(connectionCap(limitsWith('20000')), 10_000)
    assert.equal(connectionCap(limitsWith('10256')), 10_000)
    assert.equal(connectionCap(limitsWith('4096')), 3840)
    assert.equal(connectionCap(limitsWith('unlimited')), 10_000)
    assert.equal(connectionCap(limitsWith('200')), 16, 'a tiny limit still serves a few')
    assert.equal(connectionCap(undefined), 10_000, 'no /proc (not Linux)')
    assert.equal(connectionCap('garbage'), 10_000)
    // This machine's own limit, read for real.
    const cap = connectionCap()
    assert.ok(Number.isInteger(cap) && cap >= 16 && cap <= 10_000, String(cap))
  })

  it('a connection past it is closed unanswered and logged (a flood in a few lines); those held are still answered, and a freed place is taken again', async () => {
    const { database, cleanup } = await freshDatabase('sqlite')
    const { stream, lines: warnings } = collectedLog()
    const app = await buildApp({ config: { ...loadConfig({}), logLevel: 'warn' }, database, logger: { level: 'warn', stream } })
    capConnections(app, 3, 300)
    const sockets: Socket[] = []
    try {
      await app.listen({ port: 0, host: '127.0.0.1' })
      const port = (app.server.address() as AddressInfo).port
      const open = async () => {
        const socket = connect(port, '127.0.0.1')
        sockets.push(socket)
        await once(socket, 'connect')
        return socket
      }
      /** Sends a GET /healthz on `socket` (kept alive) and reads its answer, or '' when the server closes the connection instead. */
      const ask = (socket: Socket) =>
        new Promise<string>((resolve) => {
          let answer = ''
          const onData = (chunk: Buffer) => {
            answer += chunk.toString('latin1')
            if (answer.includes('{"status":"ok"}')) done()
          }
          const done = () => {
            socket.off('data', onData).off('close', done)
            resolve(answer)
          }
          socket.on('data', onData).on('close', done).on('error', () => {})
          socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
        })

      const held = [await open(), await open(), await open()]
      for (const socket of held) assert.match(await ask(socket), /^HTTP\/1\.1 200 /)
      const extra = await open()
      assert.equal(await ask(extra), '', 'the fourth connection is closed without an answer')
      assert.ok(extra.destroyed || extra.readableEnded)
      for (const socket of held) assert.match(await ask(socket), /^HTTP\/1\.1 200 /, 'the connections held are still answered')

      // The first connection refused is logged at once; the next ones within 300 ms in one line after it.
      const refusals = () => warnings.filter((line) => /connections refused/.test(String(line.msg)))
      assert.deepEqual(refusals().map((line) => [line.max_connections, line.closed]), [[3, 1]])
      for (const socket of [await open(), await open()]) assert.equal(await ask(socket), '')
      assert.equal(refusals().length, 1, 'no line a connection')
      await new Promise((resolve) => setTimeout(resolve, 450))
      assert.deepEqual(refusals().map((line) => line.closed), [1, 2])

      // A place freed is taken by the next connection.
      held[0]!.destroy()
      const deadline = Date.now() + 5000
      while ((await new Promise<number>((resolve, reject) => app.server.getConnections((error, n) => (error ? reject(error) : resolve(n))))) > 2) {
        assert.ok(Date.now() < deadline, 'the server never saw the connection close')
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      assert.match(await ask(await open()), /^HTTP\/1\.1 200 /)
    } finally {
      for (const socket of sockets) socket.destroy()
      await app.close()
      await database.close()
      await cleanup()
    }
  })
})
