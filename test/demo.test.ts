/**
 * The demo company (API.md §6: `fsm demo`, and `npm start` on an empty
 * database) is seeded as one transaction: all of it, or nothing.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { DIALECTS, freshDatabase } from './helpers/app.ts'
import { addTrigger, refuse } from './helpers/triggers.ts'
import { databaseIsEmpty, seedDemo, seedDemoIfEmpty } from '../src/modules/demo/demo.service.ts'

const TABLES = ['companies', 'api_keys', 'customers', 'customer_locations', 'technicians', 'assets', 'jobs', 'job_assets', 'job_status_changes'] as const

for (const dialect of DIALECTS) {
  describe(`the demo company (${dialect})`, () => {
    it('a failure part way keeps nothing, so the database is still empty and seeded in full once the cause is gone', async () => {
      const { database, cleanup } = await freshDatabase(dialect)
      try {
        const rows = async () => {
          const counts: Record<string, number> = {}
          for (const table of TABLES) {
            const { n } = await database.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
            counts[table] = Number(n)
          }
          return counts
        }
        // The fifth of the nine jobs cannot be written, as on a disk that fills up half way.
        const removeTrigger = await addTrigger(database, 'demo_fails', 'before insert', 'jobs', "new.job_title = 'Thermostat replacement'", refuse('disk full'))
        await assert.rejects(seedDemo(database.db), /disk full/)
        assert.deepEqual(await rows(), Object.fromEntries(TABLES.map((table) => [table, 0])))
        assert.equal(await databaseIsEmpty(database.db), true)
        await removeTrigger()
        const demo = await seedDemo(database.db)
        assert.match(demo.api_key, /^fsm_/)
        const after = await rows()
        assert.equal(after.companies, 1)
        assert.equal(after.api_keys, 1)
        assert.equal(after.jobs, 9)
      } finally {
        await database.close()
        await cleanup()
      }
    })

    it('npm start seeds only an empty database, once, however many servers start on it at once (two seeded two demo companies on PostgreSQL)', async () => {
      const { database, cleanup } = await freshDatabase(dialect)
      try {
        const seeded = await Promise.all([seedDemoIfEmpty(database.db), seedDemoIfEmpty(database.db), seedDemoIfEmpty(database.db)])
        assert.equal(seeded.filter(Boolean).length, 1, JSON.stringify(seeded))
        const companies = await database.db.selectFrom('companies').select('company_name').execute()
        assert.deepEqual(companies.map((c) => c.company_name), ['Demo HVAC & Plumbing'])
        assert.equal(await seedDemoIfEmpty(database.db), undefined)
      } finally {
        await database.close()
        await cleanup()
      }
    })
  })
}
