/** Request headers as they came, before Node joins or drops repeats. */

/**
 * Does the header (its lower-case name) come more than once in `rawHeaders`
 * (name, value, name, value…)? Node joins most headers sent twice into one
 * value ("a, b"), which then passes for a single one.
 */
export function sentMoreThanOnce(rawHeaders: string[], name: string): boolean {
  let seen = 0
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.length === name.length && rawHeaders[i]!.toLowerCase() === name && ++seen > 1) return true
  return false
}
