import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { toIso } from '../src/db/time.ts'
import { parseDateBound, parseDateTime } from '../src/http/formats.ts'

describe('timestamps', () => {
  it('toIso agrees with Date#toISOString (whole seconds, Z) across a wide range', () => {
    const samples = [0, 1, 59, 60, 3599, 86_399, 86_400, 951_782_400, 1_709_164_799, 1_772_000_000, 253_402_300_799, -1, -86_401]
    for (let i = 0; i < 2000; i++) samples.push(Math.floor(Math.random() * 4_000_000_000) - 500_000_000)
    for (const s of samples) assert.equal(toIso(s), new Date(s * 1000).toISOString().slice(0, 19) + 'Z', String(s))
    assert.equal(toIso(null), null)
  })

  it('parses RFC 3339 with offsets and fractions, and rejects what is not one', () => {
    assert.equal(parseDateTime('2026-02-25T09:00:00+02:00'), Date.UTC(2026, 1, 25, 7) / 1000)
    assert.equal(parseDateTime('2026-02-25T09:00:00.999Z'), Date.UTC(2026, 1, 25, 9) / 1000)
    assert.equal(parseDateTime('2024-02-29T00:00:00Z'), Date.UTC(2024, 1, 29) / 1000)
    for (const bad of ['2026-02-30T00:00:00Z', '2026-02-25', '2026-02-25T09:00:00', '2026-02-25 09:00:00Z', '2026-13-01T00:00:00Z', '2026-02-25T24:00:00Z', '2026-02-25T09:60:00Z', '2026-02-25T09:00:60Z', '2026-02-25T09:00:00+24:00', 'tomorrow', ''])
      assert.equal(parseDateTime(bad), null, bad)
    assert.equal(parseDateBound('2026-02-24', true), Date.UTC(2026, 1, 24, 23, 59, 59) / 1000)
    assert.equal(parseDateBound('2026-02-24', false), Date.UTC(2026, 1, 24) / 1000)
    assert.equal(parseDateBound('2025-02-29', false), null)
  })

  it('parses every date-time as Date does, years 1 to 9999, leap days and month ends included', () => {
    const pad = (n: number, width = 2) => String(n).padStart(width, '0')
    // Date.UTC maps years 0–99 to 1900–1999; setUTCFullYear does not.
    const reference = (y: number, mo: number, d: number, h: number, mi: number, s: number) => {
      const date = new Date(0)
      date.setUTCFullYear(y, mo - 1, d)
      date.setUTCHours(h, mi, s, 0)
      return date.getUTCDate() === d && date.getUTCMonth() === mo - 1 ? date.getTime() / 1000 : null
    }
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9999 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 31 }),
        fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 59 }),
        fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
        (y, mo, d, h, mi, s, offsetMinutes) => {
          const offset = offsetMinutes === 0 ? 'Z' : `${offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offsetMinutes) / 60))}:${pad(Math.abs(offsetMinutes) % 60)}`
          const text = `${pad(y, 4)}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)}${offset}`
          const local = reference(y, mo, d, h, mi, s)
          const instant = local === null ? null : local - offsetMinutes * 60
          // An offset may carry the instant out of years 1 to 9999 in UTC, which an answer could not write.
          const expected = instant === null || instant < -62_135_596_800 || instant > 253_402_300_799 ? null : instant
          assert.equal(parseDateTime(text), expected, text)
          assert.equal(parseDateBound(text.slice(0, 10), false), reference(y, mo, d, 0, 0, 0), text.slice(0, 10))
        },
      ),
      { numRuns: 20_000 },
    )
    for (const [text, seconds] of [['0001-01-01T00:00:00Z', -62_135_596_800], ['1900-02-28T23:59:59Z', -2_203_891_201], ['2000-02-29T12:00:00Z', 951_825_600], ['9999-12-31T23:59:59Z', 253_402_300_799]] as const) {
      assert.equal(parseDateTime(text), seconds, text)
    }
    for (const bad of ['1900-02-29T00:00:00Z', '2100-02-29T00:00:00Z', '2023-04-31T00:00:00Z', '0000-01-01T00:00:00Z']) assert.equal(parseDateTime(bad), null, bad)
    // The last and first instants an answer can write, reached through an offset, and one second past each.
    assert.equal(parseDateTime('9999-12-31T22:59:59-01:00'), 253_402_300_799)
    assert.equal(parseDateTime('0001-01-01T01:00:00+01:00'), -62_135_596_800)
    for (const bad of ['9999-12-31T23:00:00-01:00', '9999-12-31T23:59:59-01:00', '0001-01-01T00:59:59+01:00', '0001-01-01T00:00:00+01:00']) assert.equal(parseDateTime(bad), null, bad)
  })
})
