/**
 * Text formats of API.md §1: RFC 3339 date-times (with `Z` or an offset,
 * fractional seconds truncated) and, in list filters, bare dates.
 */

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$/
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/

// Calendar arithmetic without Date objects: a create or PUT checks each of
// its date-times several times (format, request rules, service), and two
// Date objects per check showed up in profiles (issue 6). The proleptic
// Gregorian calendar, as Date uses; test/time.test.ts checks both agree.

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function validDate(year: number, month: number, day: number): boolean {
  if (year < 1 || month < 1 || month > 12 || day < 1) return false
  return day <= (month === 2 && isLeapYear(year) ? 29 : MONTH_DAYS[month - 1]!)
}

/** Days from 1970-01-01 to a date of year ≥ 1 (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yearOfEra = y - era * 400
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear
  return era * 146_097 + dayOfEra - 719_468
}

function utcSeconds(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  return daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
}

/**
 * The instants a date-time may name: years 0001 to 9999 in UTC, the years
 * an answer can write in its `YYYY-MM-DDTHH:MM:SSZ` form. An offset can carry
 * a local time at either end past them (`9999-12-31T23:59:59-01:00` is in
 * the year 10000), which a client could then not send back.
 */
const FIRST_INSTANT = utcSeconds(1, 1, 1)
const LAST_INSTANT = utcSeconds(9999, 12, 31, 23, 59, 59)

/**
 * Unix seconds for an RFC 3339 date-time, or null when the text is not one,
 * names an impossible instant, or one outside years 0001 to 9999 in UTC.
 */
export function parseDateTime(text: string): number | null {
  const m = DATE_TIME.exec(text)
  if (!m) return null
  const year = Number(m[1])
  const month = Number(m[2])
  const day = Number(m[3])
  const hour = Number(m[4])
  const minute = Number(m[5])
  const second = Number(m[6])
  if (!validDate(year, month, day) || hour > 23 || minute > 59 || second > 59) return null
  let offset = 0
  if (m[9]) {
    const offsetHours = Number(m[10])
    const offsetMinutes = Number(m[11])
    if (offsetHours > 23 || offsetMinutes > 59) return null
    offset = (m[9] === '-' ? -1 : 1) * (offsetHours * 3600 + offsetMinutes * 60)
  }
  const instant = utcSeconds(year, month, day, hour, minute, second) - offset
  return instant >= FIRST_INSTANT && instant <= LAST_INSTANT ? instant : null
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

/**
 * Why `text`, which is not a date-time we take, is refused, when it is
 * close enough to one for a general message to mislead: each of these is
 * valid RFC 3339, or was before a URL turned its `+` into a space.
 * undefined for anything else (the general message says what is wanted).
 */
export function dateTimeProblem(text: string, dateTaken: boolean): string | undefined {
  const date = dateTaken ? DATE.exec(text) : null
  if (date && !validDate(Number(date[1]), Number(date[2]), Number(date[3]))) return `names a day the calendar does not have (${text})`
  const m = DATE_TIME.exec(text)
  if (!m) {
    // A `+` in a query string is a space once decoded (HTML forms' rule, which URL parsers keep).
    return DATE_TIME.test(text.replace(/ (\d{2}:\d{2})$/, '+$1')) ? 'has a space before its offset: in a URL, write its + as %2B' : undefined
  }
  const [year, month, day, second] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[6])]
  if (!validDate(year, month, day)) return `names a day the calendar does not have (${m[1]}-${m[2]}-${m[3]})`
  if (second === 60) return 'has a leap second (:60), which is not taken: send :59'
  if (Number(m[4]) > 23 || Number(m[5]) > 59 || second > 59) return undefined
  if (m[9] && (Number(m[10]) > 23 || Number(m[11]) > 59)) return undefined
  return 'must fall between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z once its offset is applied'
}
