/**
 * The load generator, in a process of its own (forked by run.ts for every
 * measurement) so that its CPU is never the server's: it receives one
 * LoadJob over IPC, runs autocannon for the job's duration and connections,
 * and sends back a summary.
 *
 * Latency percentiles are computed here from autocannon's per-response
 * times (fractions of a millisecond) rather than from its histogram, which
 * keeps whole milliseconds only: a baseline at 2 ms would otherwise read as
 * 1 or 2. As autocannon does, only 2xx answers count for latency.
 */
import autocannon from 'autocannon'
import { Random } from './random.ts'
import { buildRequests, Unexpected, type LoadJob } from './scenarios.ts'

export interface LoadSummary {
  scenario: string
  requests: number
  duration_s: number
  rps: number
  p50_ms: number
  p90_ms: number
  p99_ms: number
  max_ms: number
  /** Mean size of a 2xx answer, headers included: answers of different sizes are different work. */
  bytes_per_answer: number
  errors: number
  timeouts: number
  non2xx: number
  status_codes: Record<string, number>
  unexpected: Unexpected['samples']
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)
  return Math.round(sorted[Math.max(0, index)]! * 100) / 100
}

function run(job: LoadJob): Promise<LoadSummary> {
  const unexpected = new Unexpected()
  const requests = buildRequests(job, new Random(job.seed), unexpected)
  const latencies: number[] = []
  let bytes = 0
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: job.origin,
        connections: job.connections,
        duration: job.durationS,
        timeout: 10,
        headers: { 'x-api-key': job.apiKey },
        requests,
      },
      (error, result) => {
        if (error) return reject(error)
        const sorted = Float64Array.from(latencies).sort()
        const total = Object.values(result.statusCodeStats).reduce((sum, s) => sum + s.count, 0)
        resolve({
          scenario: job.scenario,
          requests: total,
          duration_s: result.duration,
          rps: Math.round((total / result.duration) * 10) / 10,
          p50_ms: percentile(sorted, 50),
          p90_ms: percentile(sorted, 90),
          p99_ms: percentile(sorted, 99),
          max_ms: percentile(sorted, 100),
          bytes_per_answer: latencies.length ? Math.round(bytes / latencies.length) : 0,
          errors: result.errors,
          timeouts: result.timeouts,
          non2xx: result.non2xx,
          status_codes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count])),
          unexpected: unexpected.samples,
        })
      },
    )
    instance.on('response', (_client: unknown, status: number, size: number, ms: number) => {
      if (status >= 200 && status < 300) {
        latencies.push(ms)
        bytes += size
      }
    })
  })
}

process.once('message', (job: LoadJob) => {
  run(job).then(
    (summary) => process.send!({ ok: true, summary }, undefined, {}, () => process.exit(0)),
    (error: Error) => process.send!({ ok: false, error: error.stack ?? String(error) }, undefined, {}, () => process.exit(1)),
  )
})
