/**
 * The yardstick: a bare Fastify server in its own process answering one fixed
 * JSON object of about 600 bytes (the size of a job answer). Every scenario
 * is reported as a ratio to what this server does on the same machine, in the
 * same run, with the same load generator, so the figures mean something on
 * any machine and under any background noise.
 *
 *   node --import tsx bench/baseline-server.ts --port 3999
 */
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import Fastify from 'fastify'

/** A job-shaped answer; see BASELINE_BYTES. */
export const BASELINE_BODY = {
  data: {
    job_id: 123456,
    job_title: 'Annual HVAC maintenance',
    job_description: 'Annual service contract visit: inspect, clean, test and record readings',
    job_status: 'Assigned',
    job_priority: 'Medium',
    assigned_technician_id: 45,
    assigned_technician_name: 'Priya Patel',
    customer_location_id: 87,
    customer_location_name: 'Main Office',
    customer_id: 201,
    customer_name: 'Harbor Logistics LLC',
    scheduled_start: '2026-02-25T09:00:00Z',
    scheduled_end: '2026-02-25T11:00:00Z',
    actual_start: null,
    actual_end: null,
    created_at: '2026-02-24T14:30:00Z',
    updated_at: '2026-02-24T14:30:00Z',
    assets: [],
  },
  request_id: 'a1b2c3d4e5f60718',
}
export const BASELINE_BYTES = Buffer.byteLength(JSON.stringify(BASELINE_BODY))

async function main() {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '3999' }, host: { type: 'string', default: '127.0.0.1' } } })
  const app = Fastify({ logger: false })
  app.get('/baseline', async () => BASELINE_BODY)
  await app.listen({ port: Number(values.port), host: values.host })
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void app.close().then(() => process.exit(0))
    })
  }
}

// pathToFileURL: a checkout path with spaces or other letters is percent-encoded in import.meta.url.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    console.error(error)
    process.exit(1)
  })
}
