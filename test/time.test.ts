import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
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
})
