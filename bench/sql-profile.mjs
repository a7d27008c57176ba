/**
 * Where the server's SQLite time goes, statement by statement: preloaded
 * into `fsm serve` by `npm run bench -- --sql-prof` (best with --only), it
 * times every better-sqlite3 statement call (run, get, all, iterate) by its
 * SQL and writes a table of the statements with the most time, to the file
 * named by FSM_SQL_PROFILE, every 2 s and at exit. Timing costs about a
 * microsecond a call: compare statements with each other, not runs.
 *
 * JavaScript (not TypeScript) so node can preload it whether the server
 * runs the compiled code or the sources.
 */
import { createRequire } from 'node:module'
import { writeFileSync } from 'node:fs'

const output = process.env.FSM_SQL_PROFILE
if (output) {
  const Database = createRequire(new URL('../package.json', import.meta.url))('better-sqlite3')
  const probe = new Database(':memory:')
  const Statement = Object.getPrototypeOf(probe.prepare('select 1'))
  probe.close()
  /** Per statement (its SQL, shortened): calls and nanoseconds. */
  const stats = new Map()
  /** Calls that held the event loop 20 ms or more, each with when it began (ms since the process started). */
  const slow = []
  const SLOW_NS = 20e6
  for (const method of ['run', 'get', 'all', 'iterate']) {
    const original = Statement[method]
    Statement[method] = function timed(...args) {
      const start = process.hrtime.bigint()
      try {
        return original.apply(this, args)
      } finally {
        const ns = Number(process.hrtime.bigint() - start)
        if (ns >= SLOW_NS && slow.length < 100) slow.push({ atMs: Math.round(performance.now() - ns / 1e6), ns, sql: this.source.slice(0, 120) })
        // The start and end of the SQL tell the statements apart (pages of 50 ids end in "?, ?)").
        const sql = this.source.length > 170 ? `${this.source.slice(0, 70)} … ${this.source.slice(-90)} [${this.source.length} chars]` : this.source
        const entry = stats.get(sql)
        if (entry) {
          entry.calls++
          entry.ns += ns
        } else stats.set(sql, { calls: 1, ns })
      }
    }
  }
  const write = () => {
    const total = [...stats.values()].reduce((sum, s) => sum + s.ns, 0)
    const lines = [...stats]
      .sort((a, b) => b[1].ns - a[1].ns)
      .slice(0, 30)
      .map(([sql, s]) => `${(s.ns / 1e6).toFixed(0).padStart(7)} ms ${String(s.calls).padStart(9)} × ${(s.ns / s.calls / 1e3).toFixed(1).padStart(7)} µs  ${sql}`)
    const slowLines = slow.length === 0 ? [] : ['', `Single calls of ${SLOW_NS / 1e6} ms or more (the event loop waited for each), at ms since the server started:`, ...slow.map((c) => `${String(c.atMs).padStart(9)} ms: ${(c.ns / 1e6).toFixed(1).padStart(7)} ms  ${c.sql}`)]
    writeFileSync(output, [`SQLite statements in fsm serve (pid ${process.pid}): ${(total / 1e6).toFixed(0)} ms in all`, '     time     calls      each  statement', ...lines, ...slowLines].join('\n') + '\n')
  }
  setInterval(write, 2000).unref()
  process.on('exit', write)
}
