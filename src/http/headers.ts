/**
 * Request headers as they came, before Node joins or drops repeats: does
 * the header (its lower-case name) come more than once in `rawHeaders`
 * (name, value, name, value…)? Node joins most headers sent twice into one
 * value ("a, b"), which then passes for a single one, and keeps the first
 * of some (Host, Content-Type). One check for every header a repeat matters to.
 */
export function sentMoreThanOnce(rawHeaders: string[], name: string): boolean {
  let seen = 0
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.length === name.length && rawHeaders[i]!.toLowerCase() === name && ++seen > 1) return true
  return false
}
