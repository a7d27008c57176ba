/**
 * How big a run is. `FSM_RELIABILITY=short` (CI) keeps every part to a few
 * seconds; anything else is the full run (5–10 minutes on 2 cores).
 * Every loop in the suite is bounded by one of these numbers.
 */
export type Mode = 'short' | 'full'

export const MODE: Mode = process.env.FSM_RELIABILITY === 'short' ? 'short' : 'full'
export const SHORT = MODE === 'short'

/** The short value in a short run, the full value otherwise. */
export function budget<T>(short: T, full: T): T {
  return SHORT ? short : full
}

/** PostgreSQL for the suite (a fresh schema per run, dropped after). */
export const PG_URL = process.env.FSM_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test'

/** A reproducible seed: FSM_RELIABILITY_SEED, or one drawn now (printed in the report). */
export const SEED = process.env.FSM_RELIABILITY_SEED ? Number(process.env.FSM_RELIABILITY_SEED) : Math.floor(Math.random() * 2 ** 31)

/** A small seeded PRNG (mulberry32), so a failing run can be replayed with its seed. */
export function rng(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    chance: (p: number) => next() < p,
  }
}
export type Rng = ReturnType<typeof rng>
