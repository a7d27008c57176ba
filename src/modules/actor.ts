/**
 * Who is acting, as services see it: the tenant, the key (for the record of
 * changes) and the company's modules. Services know nothing of Fastify; the
 * authenticated request's context satisfies this shape.
 */
import { ApiError } from '../http/errors.ts'

export interface Actor {
  companyId: number
  /** The API key making the change; null for changes made outside the API (CLI, demo). */
  keyId: number | null
  modules: ReadonlySet<string>
}

/** What the Assets API answers a company without the Asset Management module (API.md §2, §5). */
export const ASSETS_API_NEEDS_MODULE = 'The Assets API requires the Asset Management module on Enterprise plans'
/** What a job write with `asset_ids` answers such a company (seed/jobs-api.md). */
export const ASSET_LINKS_NEED_MODULE = 'Asset linking requires the Asset Management module on Enterprise plans'

/** Refuses (`plan_upgrade_required`, with `message`) an actor whose company lacks the Asset Management module. */
export function requireAssetsModule(actor: Actor, message: string): void {
  if (!actor.modules.has('assets')) throw new ApiError('plan_upgrade_required', message)
}
