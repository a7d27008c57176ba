/**
 * The rule for names given on the command line (companies, API keys):
 * src/modules/one-line-name.ts. The commands' own messages are tested as
 * users run them in test/cli.test.ts; the characters no shell passes
 * easily (a lone surrogate) are tested here.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { oneLineName } from '../src/modules/one-line-name.ts'

describe('one-line names (companies, API keys)', () => {
  it('trims, and counts code points, not UTF-16 units: at most 200 (the limit of API.md §1, written out so that a changed constant fails here)', () => {
    assert.deepEqual(oneLineName('  Acme Heating  '), { name: 'Acme Heating' })
    assert.deepEqual(oneLineName('🔧'.repeat(200)), { name: '🔧'.repeat(200) })
    assert.deepEqual(oneLineName('x'.repeat(201)), { problem: 'too long' })
    assert.deepEqual(oneLineName(''), { name: '' })
  })

  it('refuses control characters, DEL and lone surrogates, and keeps other Unicode', () => {
    for (const bad of ['two\nlines', 'tab\there', 'bell\u0007', 'del\u007f', 'c1\u0085', 'line\u2028separator', 'paragraph\u2029separator', 'half \uD83D pair', 'low \uDD27 half']) {
      assert.deepEqual(oneLineName(bad), { problem: 'not one line' }, JSON.stringify(bad))
    }
    assert.deepEqual(oneLineName('Çalışkan Tesisat 🔧'), { name: 'Çalışkan Tesisat 🔧' })
  })
})
