// The typed usage file compiles under strict tsc (type preservation), and
// its decorated class records tool calls at run time.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { tempDir, ledgerEvents, root } from './helpers.mjs'
import * as st from '../index.mjs'

test('tsc --noEmit over the typed usage file', () => {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  execFileSync(process.execPath, [tsc, '--noEmit', '-p', join(root, 'bindings-node', 'test', 'typed', 'tsconfig.json')], { stdio: 'pipe' })
})

test('@tool() decorator records calls with the method name', async () => {
  const dir = tempDir()
  const ledger = join(dir, 'l.jsonl')
  st.init({ agentId: 'typed', ledgerPath: ledger, installExitHooks: false })
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  execFileSync(process.execPath, [tsc, '-p', join(root, 'bindings-node', 'test', 'typed', 'tsconfig.json')], { stdio: 'pipe' })
  const usage = createRequire(import.meta.url)('./typed/dist/usage.js')
  const out = await usage.run()
  assert.deepEqual(out, { charge: 6, refund: { orderId: 'o-1', ok: true } })
  await st.flush()
  const ev = ledgerEvents(ledger).filter((e) => ['charge', 'billing.refund'].includes(e.name))
  assert.deepEqual(ev.map((e) => `${e.type}:${e.name}`), ['tool_call:charge', 'tool_result:charge', 'tool_call:billing.refund', 'tool_result:billing.refund'])
  assert.deepEqual(ev[0].inputs, [3])
  assert.equal(ev[3].outputs, undefined)
})
