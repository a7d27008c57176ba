import Database from 'better-sqlite3'
import { copyFileSync, rmSync } from 'node:fs'
const ids = (await import('node:fs')).readFileSync('/tmp/scratch/assigned.txt', 'utf8').trim().split('\n').map(Number)
for (const ckpt of [Number(process.env.CK ?? 1000)]) {
  for (const s of ['', '-wal', '-shm']) rmSync('/tmp/c.db' + s, { force: true })
  copyFileSync('/work/main/bench/data/bench-full-42-v1.db', '/tmp/c.db')
  const db = new Database('/tmp/c.db')
  db.pragma('journal_mode = WAL'); db.pragma('synchronous = NORMAL'); db.pragma('cache_size = -32768'); db.pragma(`wal_autocheckpoint = ${ckpt}`)
  const upd = db.prepare(`update jobs set job_status = ?, updated_at = ?, row_version = row_version + 1 where company_id = 1 and job_id = ? and job_status = ?`)
  const hist = db.prepare(`insert into job_status_changes (job_id, company_id, from_status, to_status, changed_at, key_id) values (?, 1, ?, ?, ?, null)`)
  const cnt = db.prepare(`insert into job_counts (company_id, job_status, job_priority, job_count) values (1, ?, 'High', ?) on conflict (company_id, job_status, job_priority) do update set job_count = job_counts.job_count + excluded.job_count`)
  const seq = db.prepare(`insert into job_write_seqs (company_id, write_seq) values (1, 1) on conflict (company_id) do update set write_seq = job_write_seqs.write_seq + 1`)
  const begin = db.prepare('begin immediate'), commit = db.prepare('commit')
  const state = new Map(ids.map((id) => [id, 'Assigned']))
  let tc = 0n, tw = 0n
  const N = Number(process.env.N ?? 6000)
  const now = Math.floor(Date.now() / 1000)
  for (let i = 0; i < N; i++) {
    const id = ids[i % ids.length]; const from = state.get(id); const to = from === 'Assigned' ? 'On Hold' : 'Assigned'; state.set(id, to)
    const t0 = process.hrtime.bigint()
    begin.run(); upd.run(to, now, id, from); hist.run(id, from, to, now); cnt.run(from, -1); cnt.run(to, 1); seq.run()
    const t1 = process.hrtime.bigint(); commit.run(); const t2 = process.hrtime.bigint()
    tw += t1 - t0; tc += t2 - t1
  }
  console.log(`autocheckpoint ${ckpt}: statements ${(Number(tw) / N / 1000).toFixed(1)} us, commit ${(Number(tc) / N / 1000).toFixed(1)} us`)
  db.close()
}
