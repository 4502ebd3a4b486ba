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
  const usage = createRequire(import.meta.url)('./typed/usage.js')
  const out = await usage.run()
  assert.deepEqual(out, { charge: 6, refund: { orderId: 'o-1', ok: true } })
  await st.flush()
  // The usage file runs its calls at load time (the @ts-expect-error lines too).
  const ev = ledgerEvents(ledger)
  const call = ev.find((e) => e.type === 'tool_call' && e.name === 'charge' && e.inputs[0] === 3)
  const result = ev.find((e) => e.type === 'tool_result' && e.parent_id === call.id)
  assert.equal(result.outputs, 6)
  const refund = ev.filter((e) => e.name === 'billing.refund')
  assert.deepEqual(refund.map((e) => e.type), ['tool_call', 'tool_result'])
  assert.deepEqual(refund[0].inputs, ['o-1'])
  assert.equal(refund[1].outputs, undefined)
})
