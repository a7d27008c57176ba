import type { Kysely, Transaction } from 'kysely'
import type { Database } from './types.ts'
import { isRetryableTransactionError } from './dialect.ts'
import { registerSqliteTransaction } from './prepared.ts'

const MAX_ATTEMPTS = 5

/**
 * Runs `work` in one transaction, retrying it whole on a PostgreSQL
 * serialization failure or deadlock (DESIGN.md, durability defaults). On
 * SQLite, transactions are serialised and never need the retry.
 */
export async function inTransaction<T>(db: Kysely<Database>, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute((trx) => {
        registerSqliteTransaction(db, trx)
        return work(trx)
      })
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS || !isRetryableTransactionError(error)) throw error
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt))
    }
  }
}
