import Database from 'better-sqlite3'
const stats = new Map<string, { n: number; ns: bigint }>()
const proto = (Database as any).prototype
const origPrepare = proto.prepare
proto.prepare = function (sql: string) {
  const st = origPrepare.call(this, sql)
  for (const m of ['all', 'run', 'get']) {
    const f = st[m].bind(st)
    st[m] = (...a: any[]) => { const t = process.hrtime.bigint(); try { return f(...a) } finally { const s = stats.get(sql) ?? { n: 0, ns: 0n }; s.n++; s.ns += process.hrtime.bigint() - t; stats.set(sql, s) } }
  }
  return st
}
const { loadConfig } = await import('./src/config.ts')
const { connect } = await import('./src/db/connect.ts')
const { startServer } = await import('./src/server.ts')
const config = loadConfig({ ...process.env, DATABASE_URL: 'sqlite:/tmp/b.db', LOG_LEVEL: 'warn', FSM_DEMO: '0', PORT: '4100', HOST: '127.0.0.1' } as any)
const handle = connect(config.databaseUrl)
await startServer(config, handle)
setInterval(() => {
  const rows = [...stats].map(([sql, s]) => ({ sql: sql.slice(0, 150), n: s.n, us: Number(s.ns / BigInt(s.n)) / 1000, total_ms: Number(s.ns) / 1e6 })).sort((a, b) => b.total_ms - a.total_ms)
  console.log(JSON.stringify(rows.slice(0, 25), null, 1))
  stats.clear()
}, 8000).unref()
