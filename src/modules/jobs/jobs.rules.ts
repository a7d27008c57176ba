/**
 * Rules across fields of a job write that need nothing but the request
 * (API.md §4). The validator runs them with the schema's own checks so every
 * problem is reported at once; services run them too, for callers that do
 * not come through HTTP.
 */
import type { FieldError } from '../../http/errors.ts'
import { parseDateTime } from '../../http/formats.ts'

/** A scheduled time as Unix seconds: undefined when not sent, null when cleared (or not a date-time). */
export function toSeconds(value: unknown): number | null | undefined {
  if (value === undefined) return undefined
  return typeof value === 'string' ? parseDateTime(value) : null
}

export function scheduleProblem(start: number | null | undefined, end: number | null | undefined, field: 'scheduled_start' | 'scheduled_end'): FieldError[] {
  if (start === null || start === undefined || end === null || end === undefined || end > start) return []
  return [{ field, message: field === 'scheduled_end' ? 'must be after scheduled_start' : 'must be before scheduled_end' }]
}

export function jobRequestRules(body: Record<string, unknown>): FieldError[] {
  const problems = scheduleProblem(toSeconds(body.scheduled_start), toSeconds(body.scheduled_end), 'scheduled_end')
  if (body.asset_relationship_type !== undefined && body.asset_ids === undefined) {
    problems.push({ field: 'asset_relationship_type', message: 'needs asset_ids in the same request' })
  }
  return problems
}
