// Cross-language: the same inputs through Node and Python give byte-identical
// canonical events and equal content hashes (tests/cross_language/). Skips
// with the reason when the Python package is not importable (set PYTHON or
// PYTHONPATH to a built `sealtrail`).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { root } from './helpers.mjs'

test('Node and Python seal the same inputs to the same bytes', (t) => {
  const r = spawnSync(process.execPath, [join(root, 'tests', 'cross_language', 'compare.mjs')], { encoding: 'utf8' })
  if (r.status === 2) {
    t.skip(r.stdout.trim())
    return
  }
  assert.equal(r.status, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /same native_types/)
})
