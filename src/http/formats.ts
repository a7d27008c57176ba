/**
 * Text formats of API.md §1: RFC 3339 date-times (with `Z` or an offset,
 * fractional seconds truncated) and, in list filters, bare dates.
 */

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$/
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate()
}

function validDate(year: number, month: number, day: number): boolean {
  return year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month)
}

function utcSeconds(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  const date = new Date(0)
  // setUTCFullYear, unlike Date.UTC, does not map years 0–99 to 1900–1999.
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(hour, minute, second, 0)
  return Math.floor(date.getTime() / 1000)
}

/** Unix seconds for an RFC 3339 date-time, or null when the text is not one (or names an impossible instant). */
export function parseDateTime(text: string): number | null {
  const m = DATE_TIME.exec(text)
  if (!m) return null
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as number[] as [number, number, number, number, number, number]
  if (!validDate(year, month, day) || hour > 23 || minute > 59 || second > 59) return null
  let offset = 0
  if (m[9]) {
    const offsetHours = Number(m[10])
    const offsetMinutes = Number(m[11])
    if (offsetHours > 23 || offsetMinutes > 59) return null
    offset = (m[9] === '-' ? -1 : 1) * (offsetHours * 3600 + offsetMinutes * 60)
  }
  return utcSeconds(year, month, day, hour, minute, second) - offset
}

/**
 * A filter bound: a date-time, or a bare date meaning the start of that UTC
 * day (or, with `endOfDay`, its last second, so an inclusive upper bound
 * covers the whole day).
 */
export function parseDateBound(text: string, endOfDay: boolean): number | null {
  const m = DATE.exec(text)
  if (!m) return parseDateTime(text)
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (!validDate(year, month, day)) return null
  return utcSeconds(year, month, day) + (endOfDay ? 86_399 : 0)
}

export const isDateTime = (text: string) => parseDateTime(text) !== null
export const isDateOrDateTime = (text: string) => parseDateBound(text, false) !== null
