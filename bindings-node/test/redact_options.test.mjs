// Per-tool redaction overrides (`wrapTool(…, { redact })`) and the client's
// `promptStorage`, both applied by core's worker: checked in the ledger.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { tempDir, runScript, ledgerEvents } from './helpers.mjs'

test('wrapTool redact override takes effect for that tool only', () => {
  const dir = tempDir()
  const r = runScript(
    dir,
    `import * as st from SEALTRAIL_PKG
st.init({ agentId: 'ro', ledgerPath: 'l.jsonl', installExitHooks: false })
const open = st.wrapTool('open', (to, pin) => 'sent to ' + to, { redact: { mode: 'email=off', sensitive_keys: ['note'] } })
const closed = st.wrapTool('closed', (to) => 'sent to ' + to)
open('keep.me@example.com', { note: 'secret-note' })
closed('gone@example.com')
let threw = null
try { st.wrapTool('bad', () => 1, { redact: 'email=sparkle' }) } catch (e) { threw = e.code }
console.log(JSON.stringify({ threw }))
await st.shutdown()
`,
  )
  assert.equal(r.status, 0, r.stderr)
  assert.equal(JSON.parse(r.stdout).threw, 'config')
  const ev = ledgerEvents(join(dir, 'l.jsonl'))
  const call = ev.find((e) => e.type === 'tool_call' && e.name === 'open')
  assert.deepEqual(call.inputs[0], 'keep.me@example.com')
  assert.notEqual(call.inputs[1].note, 'secret-note')
  const res = ev.find((e) => e.type === 'tool_result' && e.name === 'open')
  assert.equal(res.outputs, 'sent to keep.me@example.com')
  const other = ev.filter((e) => e.name === 'closed')
  assert.equal(other.length, 2)
  assert.ok(!JSON.stringify(other).includes('gone@example.com'))
})

for (const [storage, expect] of [
  ['none', undefined],
  ['redacted', 'mail [EMAIL]'],
  ['full', 'mail raw@example.com'],
]) {
  test(`promptStorage ${storage}`, () => {
    const dir = tempDir()
    const r = runScript(
      dir,
      `import * as st from SEALTRAIL_PKG
st.init({ agentId: 'ps', ledgerPath: 'l.jsonl', installExitHooks: false })
st.recordModelCall({ model: 'm', messages: [{ role: 'user', content: 'mail raw@example.com' }], params: { note: 'cc boss@example.com' } })
await st.shutdown()
`,
      { env: { SEALTRAIL_PROMPT_STORAGE: storage } },
    )
    assert.equal(r.status, 0, r.stderr)
    const [e] = ledgerEvents(join(dir, 'l.jsonl'))
    assert.equal(e.prompt_hash.length, 64)
    assert.equal(e.inputs.messages?.[0].content, expect)
    assert.equal(e.inputs.params.note, 'cc [EMAIL]')
  })
}
