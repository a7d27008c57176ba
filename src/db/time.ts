/**
 * Timestamps: whole Unix seconds in the database, `YYYY-MM-DDTHH:MM:SSZ` in
 * the API (API.md §1). Parsing of incoming text lives in `http/formats.ts`.
 */

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000)
}

// A list answer formats hundreds of timestamps; Date#toISOString for each
// showed up in profiles. Days repeat a lot, so their text is remembered and
// only the time of day is built.
const dayText = new Map<number, string>()
const two = (n: number) => (n < 10 ? `0${n}` : `${n}`)

export function toIso(seconds: number): string
export function toIso(seconds: number | null): string | null
export function toIso(seconds: number | null): string | null {
  if (seconds === null) return null
  const day = Math.floor(seconds / 86_400)
  let date = dayText.get(day)
  if (date === undefined) {
    date = new Date(day * 86_400_000).toISOString().slice(0, 10)
    if (dayText.size > 50_000) dayText.clear()
    dayText.set(day, date)
  }
  const inDay = seconds - day * 86_400
  return `${date}T${two(Math.floor(inDay / 3600))}:${two(Math.floor(inDay / 60) % 60)}:${two(inDay % 60)}Z`
}
