/**
 * API keys: made, listed and revoked through the CLI; verified on every
 * request. The key itself is shown once and never stored (only its SHA-256).
 */
import type { Kysely } from 'kysely'
import { MAX_RATE_LIMIT_PER_MINUTE } from '../../config.ts'
import type { Database } from '../../db/types.ts'
import { nowSeconds, toIso } from '../../db/time.ts'
import { inTransaction, singleWrite } from '../../db/transaction.ts'
import { getCompany } from '../companies/companies.service.ts'
import { NAME_MAX, oneLineName } from '../one-line-name.ts'
import { generateKey } from './key-format.ts'
import { isScope, SCOPES, type Scope } from './scopes.ts'

export class KeyInputError extends Error {}

/** Keys are made and listed for a company that exists (`fsm key create` / `list` answer an error otherwise). */
async function requireCompany(db: Kysely<Database>, companyId: number): Promise<void> {
  if (!(await getCompany(db, companyId))) throw new KeyInputError(`company ${companyId} not found`)
}

export interface NewKey {
  companyId: number
  scopes: string[]
  name?: string
  rateLimitPerMinute?: number
}

/** The name a key is stored under (one-line-name.ts); 'API key' when none is given. */
function keyName(name: string | undefined): string {
  const checked = oneLineName(name ?? '')
  if ('problem' in checked) {
    throw new KeyInputError(checked.problem === 'too long' ? `key name must be at most ${NAME_MAX} characters` : 'key name must be one line without control characters')
  }
  return checked.name || 'API key'
}

export function parseScopes(text: string): Scope[] {
  const scopes = [...new Set(text.split(',').map((s) => s.trim()).filter(Boolean))]
  const unknown = scopes.filter((s) => !isScope(s))
  if (unknown.length) throw new KeyInputError(`unknown scope ${unknown.join(', ')}; known: ${SCOPES.join(', ')}`)
  if (scopes.length === 0) throw new KeyInputError('at least one scope is required')
  return scopes as Scope[]
}

export async function createKey(db: Kysely<Database>, input: NewKey): Promise<{ keyId: number; apiKey: string }> {
  const scopes = parseScopes(input.scopes.join(','))
  const name = keyName(input.name)
  await requireCompany(db, input.companyId)
  const limit = input.rateLimitPerMinute
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > MAX_RATE_LIMIT_PER_MINUTE)) {
    throw new KeyInputError(`rate limit must be a whole number from 1 to ${MAX_RATE_LIMIT_PER_MINUTE} requests a minute`)
  }
  return inTransaction(db, async (trx) => {
    // The id is part of the key text, so insert first and fill in the hash.
    const { key_id } = await trx
      .insertInto('api_keys')
      .values({
        company_id: input.companyId,
        key_name: name,
        key_prefix: '',
        key_hash: '',
        scopes: scopes.join(','),
        rate_limit_per_minute: limit ?? null,
        created_at: nowSeconds(),
      })
      .returning('key_id')
      .executeTakeFirstOrThrow()
    const { apiKey, prefix, hash } = generateKey(key_id)
    await trx.updateTable('api_keys').set({ key_prefix: prefix, key_hash: hash }).where('key_id', '=', key_id).execute()
    return { keyId: key_id, apiKey }
  })
}

/** A company's keys; a company that does not exist is an error, not an empty list. */
export async function listKeys(db: Kysely<Database>, companyId: number) {
  await requireCompany(db, companyId)
  const rows = await db.selectFrom('api_keys').selectAll().where('company_id', '=', companyId).orderBy('key_id').execute()
  return rows.map((row) => ({
    key_id: row.key_id,
    name: row.key_name,
    prefix: row.key_prefix,
    scopes: row.scopes.split(','),
    rate_limit_per_minute: row.rate_limit_per_minute,
    created_at: toIso(row.created_at),
    last_used_at: toIso(row.last_used_at),
    revoked_at: toIso(row.revoked_at),
  }))
}

/** Revokes a key (idempotent: revoking twice keeps the first time). */
export async function revokeKey(db: Kysely<Database>, keyId: number): Promise<{ key_id: number; revoked_at: string } | undefined> {
  await db.updateTable('api_keys').set({ revoked_at: nowSeconds() }).where('key_id', '=', keyId).where('revoked_at', 'is', null).execute()
  const row = await db.selectFrom('api_keys').select(['key_id', 'revoked_at']).where('key_id', '=', keyId).executeTakeFirst()
  return row && row.revoked_at !== null ? { key_id: row.key_id, revoked_at: toIso(row.revoked_at) } : undefined
}

/** What authentication needs about a key, in one read. */
export async function findKeyForAuth(db: Kysely<Database>, keyId: number) {
  return db
    .selectFrom('api_keys as k')
    .innerJoin('companies as c', 'c.company_id', 'k.company_id')
    .select(['k.key_id', 'k.key_name', 'k.key_hash', 'k.scopes', 'k.rate_limit_per_minute', 'k.revoked_at', 'k.last_used_at', 'k.company_id', 'c.plan', 'c.modules'])
    .where('k.key_id', '=', keyId)
    .executeTakeFirst()
}

/** The server's one write to keys, at most once a minute per key; on SQLite it joins the group commit like every other write of the server. */
export async function touchKey(db: Kysely<Database>, keyId: number, at: number): Promise<void> {
  await singleWrite(db, (trx) => trx.updateTable('api_keys').set({ last_used_at: at }).where('key_id', '=', keyId).execute())
}
