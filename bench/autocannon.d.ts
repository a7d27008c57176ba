/**
 * The small part of autocannon's programmatic API the benchmark uses
 * (autocannon ships no types; @types/autocannon describes an older major).
 */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  interface Histogram {
    average: number
    mean: number
    stddev: number
    min: number
    max: number
    total: number
    p50: number
    p90: number
    p99: number
  }

  export interface Result {
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    mismatches: number
    resets: number
    statusCodeStats: Record<string, { count: number }>
    requests: Histogram
    latency: Histogram
    throughput: Histogram
  }

  export interface Options {
    url: string
    connections?: number
    duration?: number
    timeout?: number
    pipelining?: number
    headers?: Record<string, string>
    requests?: unknown[]
  }

  export interface Instance extends EventEmitter {
    stop(): void
  }

  function autocannon(options: Options, callback: (error: Error | null, result: Result) => void): Instance
  export default autocannon
}
