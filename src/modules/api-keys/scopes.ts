/** The scopes of API.md §3. Write does not imply read. */
export const SCOPES = [
  'jobs:read',
  'jobs:write',
  'customers:read',
  'customers:write',
  'technicians:read',
  'technicians:write',
  'assets:read',
  'assets:write',
] as const

export type Scope = (typeof SCOPES)[number]

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value)
}
