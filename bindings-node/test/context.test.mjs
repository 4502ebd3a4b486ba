// session() and trace() on AsyncLocalStorage: attached to every event
// inside, across await, isolated between concurrent promises.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import * as st from '../index.mjs'
import { tempDir, ledgerEvents } from './helpers.mjs'

const dir = tempDir()
const ledger = join(dir, 'ledger.jsonl')
before(() => st.init({ agentId: 'ctx-test', ledgerPath: ledger, installExitHooks: false }))

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

test('Promise.all of 50 sessions: each event carries its own actor, session and trace', async () => {
  const step = st.wrapTool('step', async (i) => { await sleep(Math.random() * 10); return i })
  await Promise.all(Array.from({ length: 50 }, (_, i) =>
    st.session({ actorId: `user-${i}`, sessionId: `s-${i}` }, () =>
      st.trace(`turn-${i}`, async () => {
        st.recordRequest({ i })
        await sleep(Math.random() * 10)
        await step(i)
        st.recordResponse({ i })
      }))))
  assert.equal((await st.flush()).complete, true)
  const ev = ledgerEvents(ledger)
  const traces = ev.filter((e) => e.type === 'custom')
  assert.equal(traces.length, 50)
  for (const e of ev) {
    const i = (e.inputs?.i ?? e.outputs?.i ?? e.inputs?.[0] ?? e.outputs ?? Number(e.name?.split('-')[1]))
    assert.equal(e.actor_id, `user-${i}`, JSON.stringify(e))
    assert.equal(e.session_id, `s-${i}`)
    const t = traces.find((x) => x.name === `turn-${i}`)
    if (e !== t) assert.equal(e.trace_id, t.id, JSON.stringify(e))
  }
  assert.equal(ev.length, 50 * 5)
})

test('nested session overrides only what it names; context ends with the callback', async () => {
  await st.session({ actorId: 'a', sessionId: 's' }, () => st.session({ sessionId: 's2' }, () => {
    assert.deepEqual(st.currentContext(), { actorId: 'a', sessionId: 's2' })
  }))
  assert.deepEqual(st.currentContext(), {})
})

test('nested traces keep the outer trace_id and chain parent_id', async () => {
  st.trace('outer', () => st.trace('inner', () => st.record({ type: 'custom', name: 'leaf' })))
  await st.flush()
  const ev = ledgerEvents(ledger).slice(-3)
  assert.deepEqual(ev.map((e) => e.name), ['outer', 'inner', 'leaf'])
  assert.equal(ev[1].trace_id, ev[0].id)
  assert.equal(ev[1].parent_id, ev[0].id)
  assert.equal(ev[2].trace_id, ev[0].id)
  assert.equal(ev[2].parent_id, ev[1].id)
})
