/**
 * Figures for docs/reliability.md. Each test records what it did (rounds,
 * writes, requests, faults, losses…) under a promise id; the runner
 * (run.ts) gathers the files after the run and writes the table. Figures
 * are recorded whether the test passed or failed, with the outcome.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export type Figures = Record<string, string | number | boolean>

export interface PromiseResult {
  id: string
  outcome: 'pass' | 'FAIL'
  figures: Figures
  error?: string
  seconds: number
}

function file(id: string, part: string): string | undefined {
  const dir = process.env.FSM_RELIABILITY_RESULTS
  if (!dir) return undefined
  mkdirSync(dir, { recursive: true })
  return join(dir, `${id}--${part.replace(/[^\w.-]+/g, '_')}.json`)
}

/**
 * Runs one test part of promise `id` (e.g. `1`, part `sqlite-NORMAL`),
 * recording its figures and outcome. `work` fills `figures` as it goes, so
 * a failure still reports how far it got.
 */
export async function recorded(id: string, part: string, work: (figures: Figures) => Promise<void>): Promise<void> {
  const figures: Figures = {}
  const started = Date.now()
  const path = file(id, part)
  const save = (result: Omit<PromiseResult, 'id'>) => {
    if (path) writeFileSync(path, JSON.stringify({ id, part, ...result }, null, 2))
  }
  try {
    await work(figures)
    save({ outcome: 'pass', figures, seconds: (Date.now() - started) / 1000 })
  } catch (error) {
    save({ outcome: 'FAIL', figures, error: String((error as Error)?.message ?? error).slice(0, 3000), seconds: (Date.now() - started) / 1000 })
    throw error
  }
}

export function readResults(dir: string): Array<PromiseResult & { part: string }> {
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => JSON.parse(readFileSync(join(dir, name), 'utf8')))
}
