/**
 * Turning measurements into the verdict: ratios to the baseline, the
 * issue's targets (met or not, never adjusted), the table printed to the
 * terminal, bench/results/latest.json, and the marked section of
 * docs/performance.md that each full run replaces.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { REPO_DIR, RESULTS_DIR } from './dataset.ts'
import type { LoadSummary } from './load-worker.ts'
import { GROWTH_PAIRS, SCENARIOS, type ScenarioName } from './scenarios.ts'

export interface ScenarioResult {
  name: ScenarioName
  request: string
  rps: number
  /** rps / the mean of the baseline measured just before and just after it. */
  ratio: number
  baseline_rps: number
  p50_ms: number
  p90_ms: number
  p99_ms: number
  max_ms: number
  bytes_per_answer: number
  errors: number
  timeouts: number
  non2xx: number
  status_codes: Record<string, number>
  /** Highest VmRSS of `fsm serve` seen while this scenario ran. */
  peak_rss_mb: number
  /** CPU time `fsm serve` spent per request answered (user + system). */
  server_cpu_ms_per_request: number
  /**
   * The share of the scenario's time the server's event loop (its main
   * thread) was on a CPU: near 1, the scenario is bound by the event loop's
   * CPU per request; well below, by waits (for a core, a checkpoint
   * catch-up, the disk, PostgreSQL) or by the client. Absent in results written before it.
   */
  event_loop_busy?: number
  /** How long the server needed after the load stopped to answer /healthz promptly again. */
  drain_s: number
  unexpected: LoadSummary['unexpected']
  /** Warnings and errors `fsm serve` logged while this scenario ran (the first few lines, and how many). */
  server_warnings: { count: number; first: string[] }
  /** `mixed` only: list totals asked for right after its writes, beside the database's own count (TotalCheck). */
  totals_after_writes?: TotalCheck[]
}

/**
 * A list's total as `fsm serve` answered it right after a scenario's writes
 * stopped, and the jobs the database counts for the same filters then: the
 * issue allows caching totals only if they are exact right after writes.
 */
export interface TotalCheck {
  request: string
  api_total: number
  database_total: number
}

export interface Target {
  what: string
  value: string
  target: string
  met: boolean
}

export interface RunReport {
  baseline_rps: number
  /** CPU time the baseline server spends per request: what "nothing but HTTP and JSON" costs here. */
  baseline_cpu_ms_per_request: number
  /** Its event loop's share of the time on a CPU (median): below 1, autocannon is what bounds it. Absent in results written before it. */
  baseline_event_loop_busy?: number
  scenarios: ScenarioResult[]
  peak_rss_mb: number
  /** Resident memory of fsm serve once ready, before any load. */
  rss_when_ready_mb: number
  dialect: 'sqlite' | 'postgres'
  /** Jobs of the company the scenarios run on. */
  jobs: number
  mode: 'full' | 'quick'
  duration_s: number
  connections: number
  growth: Record<string, Growth>
  targets: Target[]
  targets_met: boolean
  baselines_rps: number[]
  /** Errors and non-2xx answers of every baseline run together: the ratios stand on them. Absent in results written before them. */
  baseline_errors?: number
  baseline_non2xx?: number
  data_set: { seed: number; counts: Record<string, number>; generation_seconds: number; deep_page: number }
  machine: Machine
  code: { commit: string; src_uncommitted_changes: boolean }
  measured_at: string
  notes: string[]
}

/** Requests a second of each slice of a growth pair's alternating runs (big, small, small, big), and any errors or non-2xx answers in them. */
export interface GrowthSlices {
  rps_big: number[]
  rps_small: number[]
  errors: number
  non2xx: number
}

/**
 * A growth figure: cost(big) ÷ cost(small), cost = 1 / req/s, from the
 * pair's alternating slices (`growth` = Σ small req/s ÷ Σ big req/s; the
 * machine is the same for both, within seconds, so no baseline is needed),
 * with the ratios of the pair's own runs beside it (results written before
 * the slices existed took the figure from those: ratio_small ÷ ratio_big).
 */
export interface Growth extends GrowthSlices {
  ratio_big: number
  ratio_small: number
  growth: number
  jobs_big: number
  jobs_small: number
}

export interface Machine {
  nproc: number
  cpu_model: string
  memory_gb: number
  node: string
  kernel: string
  load_average_at_start: number[]
}

export function machineInfo(): Machine {
  return {
    nproc: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    memory_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: release(),
    load_average_at_start: loadavg().map((n) => Math.round(n * 100) / 100),
  }
}

export function codeVersion(): RunReport['code'] {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: REPO_DIR, encoding: 'utf8' }).trim()
  try {
    return { commit: git('rev-parse', '--short', 'HEAD'), src_uncommitted_changes: git('status', '--porcelain', '--', 'src', 'bin').length > 0 }
  } catch {
    return { commit: 'unknown', src_uncommitted_changes: false }
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits

/** The issue's targets, checked against what was measured. */
export function evaluateTargets(
  scenarios: ScenarioResult[],
  slices: ReadonlyMap<ScenarioName, GrowthSlices>,
  peakRssMb: number,
  jobsBig: number,
  jobsSmall: number,
  baseline: { errors: number; non2xx: number },
): { targets: Target[]; growth: RunReport['growth'] } {
  const targets: Target[] = []
  const byName = new Map(scenarios.map((s) => [s.name, s]))
  for (const s of scenarios) {
    const info = SCENARIOS.find((i) => i.name === s.name)
    if (info?.target !== undefined) targets.push({ what: `${s.name}: ratio to baseline`, value: s.ratio.toFixed(3), target: `≥ ${info.target.toFixed(2)}`, met: s.ratio >= info.target })
  }
  for (const s of scenarios) {
    const tail = s.p50_ms > 0 ? s.p99_ms / s.p50_ms : Number.POSITIVE_INFINITY
    const clean = s.errors === 0 && s.non2xx === 0
    targets.push({ what: `${s.name}: errors / non-2xx`, value: `${s.errors} / ${s.non2xx}`, target: '0 / 0', met: clean })
    targets.push({ what: `${s.name}: p99 / p50`, value: Number.isFinite(tail) ? tail.toFixed(1) : 'n/a', target: '≤ 10', met: tail <= 10 })
  }
  const growth: RunReport['growth'] = {}
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0)
  for (const [big, small] of GROWTH_PAIRS) {
    const b = byName.get(big)
    const s = byName.get(small)
    const measured = slices.get(big)
    if (!b || !s || !measured) continue
    const g = sum(measured.rps_big) > 0 ? sum(measured.rps_small) / sum(measured.rps_big) : Number.POSITIVE_INFINITY
    growth[big] = { ratio_big: b.ratio, ratio_small: s.ratio, growth: round(g), jobs_big: jobsBig, jobs_small: jobsSmall, ...measured }
    targets.push({ what: `${big}: cost on the big company / cost on a small one`, value: Number.isFinite(g) ? g.toFixed(2) : 'n/a', target: '≤ 1.5', met: g <= 1.5 })
    targets.push({ what: `${big}: growth slices' errors / non-2xx`, value: `${measured.errors} / ${measured.non2xx}`, target: '0 / 0', met: measured.errors === 0 && measured.non2xx === 0 })
  }
  targets.push({ what: 'peak RSS of fsm serve (MB)', value: peakRssMb.toFixed(0), target: '≤ 300', met: peakRssMb <= 300 })
  for (const s of scenarios) {
    if (!s.totals_after_writes) continue
    const exact = s.totals_after_writes.filter((c) => c.api_total === c.database_total).length
    targets.push({ what: `${s.name}: list totals right after its writes = the database's count`, value: `${exact} of ${s.totals_after_writes.length}`, target: 'all', met: exact === s.totals_after_writes.length })
  }
  // Not a target of the issue: a check that the ratios stand on a baseline that answered every request.
  targets.push({ what: 'baseline runs: errors / non-2xx', value: `${baseline.errors} / ${baseline.non2xx}`, target: '0 / 0', met: baseline.errors === 0 && baseline.non2xx === 0 })
  // (rss_when_ready_mb in the report tells how much of it is there before the first request.)
  return { targets, growth }
}

// ------------------------------------------------------------------ text

function table(headers: string[], rows: string[][], align: Array<'l' | 'r'>): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => (align[i] === 'r' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`
  return [line(headers), `|${widths.map((w, i) => (align[i] === 'r' ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|')}|`, ...rows.map(line)]
}

const fmt = (n: number, digits = 1) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })

/** A share (0.83) as a whole percentage ("83%"). */
export const percent = (share: number) => `${Math.round(share * 100)}%`

/** ", event loop busy N%" for the baseline, when the results have it. */
function baselineBusy(report: RunReport): string {
  return report.baseline_event_loop_busy === undefined ? '' : `, event loop busy ${percent(report.baseline_event_loop_busy)}`
}

export function scenarioTable(report: RunReport): string[] {
  const rows = report.scenarios.map((s) => {
    const target = SCENARIOS.find((i) => i.name === s.name)?.target
    return [
      s.name, fmt(s.rps, 0), s.ratio.toFixed(3), target !== undefined ? `≥ ${target.toFixed(2)}` : '–', fmt(s.p50_ms, 2), fmt(s.p99_ms, 2),
      String(s.errors), String(s.non2xx), fmt(s.server_cpu_ms_per_request, 2),
      s.event_loop_busy === undefined ? '–' : percent(s.event_loop_busy), fmt(s.bytes_per_answer, 0), fmt(s.peak_rss_mb, 0),
    ]
  })
  return table(
    ['scenario', 'req/s', 'ratio', 'target', 'p50 ms', 'p99 ms', 'errors', 'non-2xx', 'server CPU ms/req', 'event loop busy', 'bytes/answer', 'RSS MB'],
    rows,
    ['l', 'r', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  )
}

export function targetTable(report: RunReport): string[] {
  // Only the failures of the per-scenario hygiene checks, to keep it short; every ratio, growth and memory target is listed.
  const shown = report.targets.filter((t) => !/errors|p99/.test(t.what) || !t.met)
  const rows = shown.map((t) => [t.what, t.value, t.target, t.met ? 'met' : '**MISSED**'])
  const hidden = report.targets.length - shown.length
  return [...table(['target', 'measured', 'wanted', ''], rows, ['l', 'r', 'l', 'l']), ...(hidden ? ['', `(${hidden} more checks of errors, non-2xx and p99/p50, all met)`] : [])]
}

export function machineLine(m: Machine): string {
  return `${m.nproc} × ${m.cpu_model}, ${m.memory_gb} GB RAM, Node ${m.node}, Linux ${m.kernel}; load average at start ${m.load_average_at_start.join(' / ')}`
}

export function printReport(report: RunReport): void {
  console.log('')
  console.log(`FSM Navigator benchmark — ${report.dialect}, ${report.mode} (${report.jobs.toLocaleString('en-US')} jobs in the measured company), ${report.duration_s} s × ${report.connections} connections`)
  console.log(`baseline (bare Fastify, ${report.baselines_rps.length} runs): median ${fmt(report.baseline_rps, 0)} req/s, ${fmt(report.baseline_cpu_ms_per_request, 3)} ms CPU per request${baselineBusy(report)}`)
  console.log('')
  for (const line of scenarioTable(report)) console.log(line)
  console.log('')
  for (const line of targetTable(report)) console.log(line)
  console.log('')
  console.log(report.targets_met ? 'ALL TARGETS MET' : `TARGETS MISSED: ${report.targets.filter((t) => !t.met).length} of ${report.targets.length}`)
  for (const s of report.scenarios) {
    for (const u of s.unexpected.slice(0, 3)) console.log(`  ${s.name}: ${u.status} for ${u.request}: ${u.body}`)
  }
}

// ------------------------------------------------------------------ files

/** Written through a .tmp file and renamed, so a reader never sees half a file. */
function writeAtomically(file: string, text: string) {
  writeFileSync(`${file}.tmp`, text)
  renameSync(`${file}.tmp`, file)
}

/**
 * A run of every scenario writes latest.json (committed: the results of
 * issue 6); a run of some (--only) writes partial.json (not committed), so
 * measuring one scenario while working never overwrites the results.
 */
export function writeJson(report: RunReport, partial: boolean): string {
  mkdirSync(RESULTS_DIR, { recursive: true })
  const file = join(RESULTS_DIR, partial ? 'partial.json' : 'latest.json')
  writeAtomically(file, JSON.stringify(report, null, 2) + '\n')
  return file
}

/** Replaces the run's marked section of docs/performance.md (one per dialect and size), or appends it. */
export function writeDocs(report: RunReport): string {
  const file = join(REPO_DIR, 'docs', 'performance.md')
  const id = `${report.dialect}-${report.mode}`
  const begin = `<!-- bench:${id}:begin (written by npm run bench; do not edit by hand) -->`
  const end = `<!-- bench:${id}:end -->`
  const missed = report.targets.filter((t) => !t.met)
  const section = [
    begin,
    `### ${report.dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'}, ${report.mode === 'full' ? 'full data set' : '`--quick`'}`,
    '',
    `Measured ${report.measured_at.slice(0, 16).replace('T', ' ')} UTC on commit \`${report.code.commit}\`${report.code.src_uncommitted_changes ? ' (with uncommitted changes in src/)' : ''}: ` +
      `${report.jobs.toLocaleString('en-US')} jobs in the measured company (${(report.data_set.counts.jobs ?? 0).toLocaleString('en-US')} in all), ` +
      `each scenario ${report.duration_s} s at ${report.connections} connections.`,
    '',
    `Machine: ${machineLine(report.machine)}.`,
    '',
    `Baseline (bare Fastify, ~600-byte JSON): median **${fmt(report.baseline_rps, 0)} req/s** over ${report.baselines_rps.length} runs ` +
      `(${report.baselines_rps.map((n) => fmt(n, 0)).join(', ')}), ${fmt(report.baseline_cpu_ms_per_request, 3)} ms of server CPU per request${baselineBusy(report)}.`,
    '',
    ...scenarioTable(report),
    '',
    ...targetTable(report),
    '',
    `Memory of fsm serve: ${report.rss_when_ready_mb} MB resident when ready, ${report.peak_rss_mb} MB at its peak.`,
    '',
    report.targets_met ? '**All targets met.**' : `**${missed.length} of ${report.targets.length} targets missed.**`,
    ...(report.notes.length ? ['', ...report.notes.map((n) => `- ${n}`)] : []),
    end,
  ].join('\n')
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Performance\n'
  const start = text.indexOf(begin.slice(0, begin.indexOf(' (')))
  const stop = text.indexOf(end)
  if (start >= 0 && stop > start) text = text.slice(0, start) + section + text.slice(stop + end.length)
  else text = `${text.trimEnd()}\n\n${section}\n`
  writeAtomically(file, text)
  return file
}
