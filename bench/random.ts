/**
 * A tiny seeded PRNG (mulberry32) and the few distributions the generator and
 * the request generators need. Seeded so that a data set (and the sequence of
 * requests a worker draws) is the same for the same seed.
 */
export class Random {
  #state: number

  constructor(seed: number) {
    this.#state = seed >>> 0
  }

  /** Uniform in [0, 1). mulberry32: 32 bits of state, good enough for test data and fast. */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  /** Integer in [min, max] (both inclusive). */
  between(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!
  }

  /** Exponentially distributed with the given mean (waiting times). */
  exp(mean: number): number {
    return -Math.log(1 - this.next()) * mean
  }

  /** Picks a key of `weights` with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    let total = 0
    for (const key in weights) total += weights[key]
    let r = this.next() * total
    for (const key in weights) {
      r -= weights[key]
      if (r < 0) return key
    }
    return Object.keys(weights)[0] as K
  }

  /** Fisher-Yates, in place. */
  shuffle<T extends { length: number; [i: number]: any }>(items: T): T {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1))
      const tmp = items[i]
      items[i] = items[j]
      items[j] = tmp
    }
    return items
  }
}
