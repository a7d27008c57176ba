/**
 * Where the server's time goes: summarises a V8 .cpuprofile (from
 * `npm run bench -- --cpu-prof`, which starts `fsm serve` with node's
 * --cpu-prof) into the functions with the most self time, and the same
 * grouped by package or source file.
 *
 *   node --import tsx bench/profile-summary.ts FILE.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** node_modules/<package> (or the scope/package), src/<file> (dist/<file> when the server runs compiled), or node's own. */
function owner(url: string): string {
  if (!url) return '(native / V8)'
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (modules) return modules[1]!
  const src = /\/((?:src|dist)\/.+|bench\/.+|bin\/.+)$/.exec(url)
  if (src) return src[1]!
  if (url.startsWith('node:')) return url
  return url.replace(/^file:\/\//, '')
}

export interface ProfileWindow {
  /** Monotonic microseconds (process.hrtime.bigint() / 1000): V8 stamps its samples on the same clock. */
  fromUs: number
  toUs: number
}

/** Self time by function and by package within one time window (or the whole profile), as percentages of busy time. */
export function summariseProfile(file: string, top = 25, window?: ProfileWindow): string[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile & { startTime: number }
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
  const selfUs = new Map<number, number>()
  let at = profile.startTime
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0
    at += delta
    if (window && (at < window.fromUs || at > window.toUs)) return
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta)
  })
  // Inclusive time of the project's own functions (src/, or dist/ when
  // `fsm serve` runs the compiled code, as the benchmark's does): self time
  // says the database driver is busy; this says on behalf of which of ours.
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const inclusive = new Map<string, number>()
  for (const [id, us] of selfUs) {
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = nodes.get(at)!.callFrame
      if (!/\/(?:src|dist)\//.test(frame.url) || /node_modules/.test(frame.url)) continue
      const name = `${frame.functionName || '(anonymous)'} ${owner(frame.url)}`
      if (seen.has(name)) continue
      seen.add(name)
      inclusive.set(name, (inclusive.get(name) ?? 0) + us)
    }
  }
  let total = 0
  const byFunction = new Map<string, number>()
  const byOwner = new Map<string, number>()
  for (const [id, us] of selfUs) {
    const frame = nodes.get(id)!.callFrame
    total += us
    const where = frame.url ? `${owner(frame.url)}:${frame.lineNumber + 1}` : ''
    const name = `${frame.functionName || '(anonymous)'} ${where}`.trim()
    byFunction.set(name, (byFunction.get(name) ?? 0) + us)
    const group = frame.url ? owner(frame.url) : frame.functionName || '(native / V8)'
    byOwner.set(group, (byOwner.get(group) ?? 0) + us)
  }
  const idle = byFunction.get('(idle)') ?? 0
  const busy = total - idle
  const lines = [`${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (${((100 * busy) / Math.max(total, 1)).toFixed(0)}%); shares of busy time:`, '  by function:']
  const sorted = (map: Map<string, number>) => [...map].filter(([name]) => !name.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)
  for (const [name, us] of sorted(byFunction)) lines.push(`    ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${name}`)
  lines.push('  inclusive, functions in src/ (time spent in them and everything they called):')
  for (const [name, us] of sorted(inclusive).slice(0, Math.ceil(top / 2))) lines.push(`    ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${name}`)
  lines.push('  by package / file:')
  for (const [name, us] of sorted(byOwner).slice(0, Math.ceil(top / 2))) lines.push(`    ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${name}`)
  return lines
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } })
  for (const file of positionals) console.log(`${file}: ${summariseProfile(file, Number(values.top)).join('\n')}`)
}
