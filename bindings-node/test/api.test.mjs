// The record* functions, redact, metrics, verifyLedger and the error surface.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import * as st from '../index.mjs'
import { tempDir, ledgerEvents } from './helpers.mjs'

const dir = tempDir()
const ledger = join(dir, 'ledger.jsonl')
before(() => st.init({ agentId: 'api-test', ledgerPath: ledger, installExitHooks: false }))

test('CommonJS and ESM entry points are the same module instance', () => {
  const cjs = createRequire(import.meta.url)('../dist/index.js')
  assert.equal(cjs.wrapTool, st.wrapTool)
  assert.equal(cjs.session, st.session)
  assert.equal(typeof st.version(), 'string')
  const publicNames = Object.keys(cjs).filter((k) => !k.startsWith('_')).sort()
  assert.deepEqual(Object.keys(st).filter((k) => k !== 'default').sort(), publicNames)
})

test('recordModelCall: prompt_hash from core over the unredacted prompt', async () => {
  const messages = [{ role: 'user', content: 'my email is bob@example.com' }]
  const id = st.recordModelCall({ model: 'gpt-x', messages, params: { temperature: 0 }, outputs: 'ok', tokens: { input: 12, output: 3 }, costUsd: '0.0012', latencyMs: 41 })
  assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/)
  await st.flush()
  const e = ledgerEvents(ledger).find((x) => x.id === id)
  assert.equal(e.type, 'model_call')
  assert.equal(e.name, 'gpt-x')
  assert.equal(e.prompt_hash, st.promptHash(messages))
  assert.deepEqual(e.tokens, { input: 12, output: 3 })
  assert.equal(e.cost_usd, '0.0012')
  assert.equal(e.latency_ms, 41)
  // The stored prompt is redacted; the hash is over the prompt as given.
  assert.deepEqual(e.inputs, { messages: [{ role: 'user', content: 'my email is [EMAIL]' }], params: { temperature: 0 } })
  assert.equal(e.pii.email, 1)
})

test('recordDecision, recordRequest, recordResponse, record', async () => {
  const ids = [
    st.recordDecision({ action: 'refund', outcome: 'denied', by: 'policy:limit', reason: 'over 500' }),
    st.recordRequest({ text: 'refund order 7' }),
    st.recordResponse({ text: 'done' }),
    st.record({ type: 'custom', name: 'note', attrs: { k: 1 } }),
  ]
  await st.flush()
  const ev = ledgerEvents(ledger)
  const [d, rq, rs, c] = ids.map((id) => ev.find((x) => x.id === id))
  assert.deepEqual(d.decision, { outcome: 'denied', by: 'policy:limit', reason: 'over 500' })
  assert.equal(d.name, 'refund')
  assert.deepEqual(rq.inputs, { text: 'refund order 7' })
  assert.deepEqual(rs.outputs, { text: 'done' })
  assert.deepEqual(c.attrs, { k: 1 })
})

test('invalid fields never throw into the agent: null id and one warning per kind', async () => {
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  assert.equal(st.record({ type: 'launch' }), null)
  assert.equal(st.record({ type: 'decision', decision: { outcome: 'maybe' } }), null)
  assert.equal(st.record({ type: 'custom', ts: 'yesterday' }), null)
  await new Promise((r) => setImmediate(r))
  process.off('warning', onWarning)
  assert.equal(warnings.filter((w) => w.code === 'SEALTRAIL_INVALID_EVENT').length, 1, warnings.map(String).join())
})

test('cost_usd stays a decimal string; a float-looking value is refused by core', async () => {
  assert.equal(st.record({ type: 'custom', costUsd: '1e3' }), null)
  const id = st.record({ type: 'custom', costUsd: '12.50' })
  await st.flush()
  assert.equal(ledgerEvents(ledger).find((x) => x.id === id).cost_usd, '12.50')
})

test('redact uses core rules and reports PII', () => {
  const r = st.redact({ note: 'call me at alice@example.com' })
  assert.ok(!JSON.stringify(r.value).includes('alice@example.com'), JSON.stringify(r))
  assert.ok(Object.values(r.pii).reduce((a, b) => a + b, 0) >= 1)
})

test('metrics counts recorded events', () => {
  const m = st.metrics()
  for (const k of ['recorded', 'dropped', 'ledger_written', 'queue_depth']) assert.equal(typeof m[k], 'number', k)
  assert.ok(m.recorded > 0)
})

test('verifyLedger passes on the ledger and names an edited line', async () => {
  await st.flush()
  const ok = await st.verifyLedger(ledger)
  assert.equal(ok.ok, true, JSON.stringify(ok))
  assert.equal(ok.chains[0].agent_id, 'api-test')
  assert.equal(ok.chains[0].count, ok.lines)
  const lines = readFileSync(ledger, 'utf8').split('\n').filter(Boolean)
  const copy = join(dir, 'tampered.jsonl')
  const i = Math.floor(lines.length / 2)
  lines[i] = lines[i].replace('"agent_id":"api-test"', '"agent_id":"api-tesT"')
  writeFileSync(copy, lines.join('\n') + '\n')
  const bad = await st.verifyLedger(copy)
  assert.equal(bad.ok, false)
  const broken = bad.chains.find((c) => c.broken) ?? {}
  assert.equal(broken.broken?.seq, i + 1, JSON.stringify(bad))
})

test('verifyLedger on a missing file rejects with a code', async () => {
  await assert.rejects(st.verifyLedger(join(dir, 'nope.jsonl')), (e) => typeof e.code === 'string')
})

test('sealEvent is deterministic for fixed id and ts', () => {
  const input = { type: 'tool_call', name: 't', inputs: { q: 1 }, id: '01JD0000000000000000000000', ts: '2026-11-23T11:33:40.123456Z' }
  const a = st.sealEvent('agent', input)
  const b = st.sealEvent('agent', input)
  assert.deepEqual(a, b)
  assert.equal(a.canonical, '{"agent_id":"agent","id":"01JD0000000000000000000000","inputs":{"q":1},"name":"t","trace_id":"01JD0000000000000000000000","ts":"2026-11-23T11:33:40.123456Z","type":"tool_call"}')
  assert.throws(() => st.sealEvent('agent', { ...input, id: 'nope' }), (e) => e.code === 'invalid_event')
})
