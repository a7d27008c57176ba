/**
 * Timestamps: whole Unix seconds in the database, `YYYY-MM-DDTHH:MM:SSZ` in
 * the API (API.md §1). Parsing of incoming text lives in `http/formats.ts`.
 */

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000)
}

export function toIso(seconds: number): string
export function toIso(seconds: number | null): string | null
export function toIso(seconds: number | null): string | null {
  if (seconds === null) return null
  // toISOString gives `…:SS.000Z`; the API speaks whole seconds.
  return new Date(seconds * 1000).toISOString().slice(0, 19) + 'Z'
}
