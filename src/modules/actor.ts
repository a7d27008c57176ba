/**
 * Who is acting, as services see it: the tenant, the key (for the record of
 * changes) and the company's modules. Services know nothing of HTTP; the
 * authenticated request's context satisfies this shape.
 */
export interface Actor {
  companyId: number
  /** The API key making the change; null for changes made outside the API (CLI, demo). */
  keyId: number | null
  modules: ReadonlySet<string>
}
