/**
 * The thread behind jobs.reader.ts: reads single jobs (`GET ?id=`) on a
 * read-only connection of its own and answers them as the server thread
 * would, with the same function (`getJob`), so the JSON and the ETag are the
 * same byte for byte.
 *
 * Protocol (plain data; a closure cannot cross threads):
 *   in:  { batch, reads: [companyId, jobId, withAssets (0 or 1), …] }
 *   out: { ready: true } once the connection is open, then per batch
 *        { batch, answers: [ [json, etag] | NOT_FOUND | FAILED, … ] }
 * A read that fails for any reason but "no such job" is answered FAILED and
 * read again on the server thread, which answers its error as always. The
 * actor crosses as its company and whether it has the assets module: all
 * that `getJob` looks at (a test compares the two threads' answers).
 */
import { parentPort, workerData } from 'node:worker_threads'
import { connect } from '../../db/connect.ts'
import { sqliteConnectionOf } from '../../db/prepared.ts'
import { ApiError } from '../../http/errors.ts'
import type { Actor } from '../actor.ts'
import { getJob } from './jobs.service.ts'

export const NOT_FOUND = 0
export const FAILED = 1
export type ReadAnswer = [json: string, etag: string] | typeof NOT_FOUND | typeof FAILED

export interface ReadThreadData {
  databaseUrl: string
}

export interface ReadBatch {
  batch: number
  reads: number[]
}

const ASSETS: ReadonlySet<string> = new Set(['assets'])
const NONE: ReadonlySet<string> = new Set()

async function answer(db: Parameters<typeof getJob>[0], companyId: number, jobId: number, withAssets: number): Promise<ReadAnswer> {
  const actor: Actor = { companyId, keyId: null, modules: withAssets ? ASSETS : NONE }
  try {
    const { json, etag } = await getJob(db, actor, jobId)
    return [json, etag]
  } catch (error) {
    return error instanceof ApiError && error.code === 'not_found' ? NOT_FOUND : FAILED
  }
}

if (parentPort && workerData) {
  const port = parentPort
  const { databaseUrl } = workerData as ReadThreadData
  const { db } = connect(databaseUrl, { sqliteReadOnly: true })
  const connection = sqliteConnectionOf(db)!
  // The reads of one batch share one read transaction (turn-reads.ts), so
  // one snapshot, taken at its first read, after every one of them arrived.
  // It ends with the batch, not with this thread's turn: batches that
  // arrive while one is read are handled in the same turn, and one of them
  // may be a read sent after a write the snapshot predates was answered.
  port.on('message', async ({ batch, reads }: ReadBatch) => {
    const answers: ReadAnswer[] = []
    try {
      for (let i = 0; i < reads.length; i += 3) answers.push(await answer(db, reads[i]!, reads[i + 1]!, reads[i + 2]!))
    } finally {
      connection.reads.end()
    }
    port.postMessage({ batch, answers })
  })
  port.postMessage({ ready: true })
}
