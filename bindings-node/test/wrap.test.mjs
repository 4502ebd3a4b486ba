// wrapTool in every form: sync, async, throwing, rejecting, `this`, nested,
// options; every case checks the recorded events and that the agent sees
// exactly what the tool returned or threw.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import * as st from '../index.mjs'
import { tempDir, ledgerEvents } from './helpers.mjs'

const dir = tempDir()
const ledger = join(dir, 'ledger.jsonl')

before(() => st.init({ agentId: 'wrap-test', ledgerPath: ledger, installExitHooks: false }))

async function eventsAfter(fn) {
  await st.flush()
  const before = ledgerEvents(ledger).length
  await fn()
  assert.equal((await st.flush()).complete, true)
  return ledgerEvents(ledger).slice(before)
}

test('sync tool records tool_call then tool_result with latency', async () => {
  const add = st.wrapTool('add', (a, b) => a + b)
  let r
  const ev = await eventsAfter(() => { r = add(2, 3) })
  assert.equal(r, 5)
  assert.deepEqual(ev.map((e) => e.type), ['tool_call', 'tool_result'])
  assert.equal(ev[0].name, 'add')
  assert.deepEqual(ev[0].inputs, [2, 3])
  assert.equal(ev[1].outputs, 5)
  assert.equal(ev[1].parent_id, ev[0].id)
  assert.equal(typeof ev[1].latency_ms, 'number')
  assert.equal(ev[0].agent_id, 'wrap-test')
})

test('async tool resolves to the same value and records after settling', async () => {
  const slow = st.wrapTool('slow', async (x) => { await new Promise((r) => setTimeout(r, 20)); return { x } })
  let r
  const ev = await eventsAfter(async () => { r = await slow('q') })
  assert.deepEqual(r, { x: 'q' })
  assert.deepEqual(ev.map((e) => e.type), ['tool_call', 'tool_result'])
  assert.deepEqual(ev[1].outputs, { x: 'q' })
  assert.ok(ev[1].latency_ms >= 15, `latency ${ev[1].latency_ms}`)
})

test('sync throw: error event, original error rethrown (same object)', async () => {
  const boom = new RangeError('too big')
  const f = st.wrapTool('boom', () => { throw boom })
  let caught
  const ev = await eventsAfter(() => { try { f() } catch (e) { caught = e } })
  assert.equal(caught, boom)
  assert.deepEqual(ev.map((e) => e.type), ['tool_call', 'error'])
  assert.equal(ev[1].error.type, 'RangeError')
  assert.equal(ev[1].error.message, 'too big')
  assert.match(ev[1].error.stack, /RangeError: too big/)
  assert.equal(ev[1].parent_id, ev[0].id)
})

test('async rejection: error event, same rejection', async () => {
  const err = new Error('nope')
  const f = st.wrapTool('reject', async () => { throw err })
  let caught
  const ev = await eventsAfter(async () => { await f().catch((e) => { caught = e }) })
  assert.equal(caught, err)
  assert.deepEqual(ev.map((e) => e.type), ['tool_call', 'error'])
})

test('non-Error throw values are recorded and rethrown', async () => {
  const f = st.wrapTool('str', () => { throw 'plain string' })
  let caught
  const ev = await eventsAfter(() => { try { f() } catch (e) { caught = e } })
  assert.equal(caught, 'plain string')
  assert.deepEqual(ev[1].error, { type: 'string', message: 'plain string' })
})

test('this is passed through; name and length kept', async () => {
  const obj = { k: 7, get: st.wrapTool('get', function (n) { return this.k + n }) }
  assert.equal(obj.get(1), 8)
  assert.equal(obj.get.length, 1)
})

test('nested tools hang under the outer call', async () => {
  const inner = st.wrapTool('inner', () => 1)
  const outer = st.wrapTool('outer', async () => inner() + 1)
  const ev = await eventsAfter(() => outer())
  const [oc, ic, ir, or] = ev
  assert.deepEqual(ev.map((e) => `${e.type}:${e.name}`), ['tool_call:outer', 'tool_call:inner', 'tool_result:inner', 'tool_result:outer'])
  assert.equal(ic.parent_id, oc.id)
  assert.equal(ir.parent_id, ic.id)
  assert.equal(or.parent_id, oc.id)
})

test('captureArgs / captureResult false leave inputs / outputs out', async () => {
  const f = st.wrapTool('secret', (x) => x, { captureArgs: false, captureResult: false, attrs: { team: 'a' } })
  const ev = await eventsAfter(() => f('pw'))
  assert.equal(ev[0].inputs, undefined)
  assert.equal(ev[1].outputs, undefined)
  assert.deepEqual(ev[0].attrs, { team: 'a' })
})

test('values JSON.stringify cannot carry are recorded, never thrown', async () => {
  const cyc = { a: 1 }
  cyc.self = cyc
  const f = st.wrapTool('odd', (x) => x)
  const v = { big: 2n ** 64n, small: 5n, m: new Map([['k', 1]]), s: new Set(['x']), buf: Buffer.from('hi'), d: new Date(0), cyc }
  const ev = await eventsAfter(() => f(v))
  assert.deepEqual(ev[0].inputs, [{
    big: '18446744073709551616', small: 5, m: { k: 1 }, s: ['x'], buf: 'aGk=', d: '1970-01-01T00:00:00.000Z', cyc: { a: 1, self: '<cycle>' },
  }])
  assert.deepEqual(ev[1].outputs, ev[0].inputs[0])
})

test('fast path (JSON.stringify) and native walker agree', async () => {
  const values = [
    { a: 1, b: [1, 2.5, 'x', null, true], c: { d: 'é€😀' } },
    [undefined, () => 1, NaN, -0, 1e21, 1e-7],
    { u: undefined, f() {}, n: null, nested: { deep: [[[1]]] } },
    { t: new Date(86400000), e: {} },
    new Uint8Array([1, 2, 3]),
    'plain',
    12345678901234,
  ]
  for (const v of values) {
    const ev = await eventsAfter(() => st.record({ type: 'custom', name: 'v', inputs: v }))
    assert.equal(JSON.stringify(ev[0].inputs), JSON.stringify(JSON.parse(st.canonicalJson(v))), st.canonicalJson(v))
  }
})

test('redaction applies to tool arguments before anything is written', async () => {
  const f = st.wrapTool('mail', (to) => `sent to ${to}`)
  const ev = await eventsAfter(() => f('alice@example.com'))
  const text = JSON.stringify(ev)
  assert.ok(!text.includes('alice@example.com'), text)
  assert.ok(ev[0].pii && Object.values(ev[0].pii).reduce((a, b) => a + b, 0) >= 1, JSON.stringify(ev[0]))
})

// A synchronous call records its tool_call once it returns (one native call
// for both events): what follows checks that nothing observable changed.

const ulidMs = (id) => [...id.slice(0, 10)].reduce((n, c) => n * 32 + '0123456789ABCDEFGHJKMNPQRSTVWXYZ'.indexOf(c), 0)

test('sync tool: tool_call carries the start time and the arguments as they were then', async () => {
  const f = st.wrapTool('mutates', (o, m) => {
    const until = performance.now() + 30
    while (performance.now() < until) { /* busy */ }
    o.n = 2
    o.list.push('later')
    if (m instanceof Map) m.set('k', 'later')
    return o.n
  })
  const ev = await eventsAfter(() => f({ n: 1, list: ['a'] }, 'x'))
  assert.deepEqual(ev[0].inputs, [{ n: 1, list: ['a'] }, 'x'])
  const m = new Map([['k', 'then']])
  const ev2 = await eventsAfter(() => f({ n: 1, list: [] }, m))
  // A Map takes the native walker: converted before the tool ran, too.
  assert.deepEqual(ev2[0].inputs, [{ n: 1, list: [] }, { k: 'then' }])
  for (const [call, result] of [ev, ev2]) {
    assert.deepEqual([call.type, result.type], ['tool_call', 'tool_result'])
    const span = Date.parse(result.ts) - Date.parse(call.ts)
    assert.ok(span >= 29 && span < 1000, `call ${call.ts} result ${result.ts}`)
    assert.ok(result.latency_ms >= 29, `latency ${result.latency_ms}`)
    assert.ok(call.id < result.id)
    assert.equal(ulidMs(call.id), Math.floor(Date.parse(call.ts)), 'the id carries the start time')
  }
})

test('events inside a sync tool hang under it and come after its tool_call', async () => {
  let inside
  const inner = st.wrapTool('inner2', () => 1)
  const f = st.wrapTool('outer2', () => {
    inside = st.currentContext()
    st.record({ type: 'custom', name: 'leaf' })
    return inner() + 1
  })
  const ev = await eventsAfter(() => f())
  assert.deepEqual(ev.map((e) => `${e.type}:${e.name}`), ['tool_call:outer2', 'custom:leaf', 'tool_call:inner2', 'tool_result:inner2', 'tool_result:outer2'])
  const [oc, leaf, ic, ir, or] = ev
  assert.deepEqual(inside, { traceId: oc.id, parentId: oc.id })
  assert.equal(leaf.parent_id, oc.id)
  assert.equal(ic.parent_id, oc.id)
  assert.equal(ir.parent_id, ic.id)
  assert.equal(or.parent_id, oc.id)
  for (const e of ev) assert.equal(e.trace_id, oc.id)
  for (let i = 1; i < ev.length; i++) assert.ok(ev[i - 1].id < ev[i].id)
})

test('sync tools nested in sync tools record in call order', async () => {
  const c = st.wrapTool('c', (x) => x)
  const b = st.wrapTool('b', (x) => c(x) + 1)
  const a = st.wrapTool('a', (x) => b(x) + 1)
  let r
  const ev = await eventsAfter(() => st.trace('t', () => { r = a(1) }))
  assert.equal(r, 3)
  assert.deepEqual(ev.map((e) => `${e.type}:${e.name}`), ['custom:t', 'tool_call:a', 'tool_call:b', 'tool_call:c', 'tool_result:c', 'tool_result:b', 'tool_result:a'])
  const [t, ac, bc, cc, cr, br, ar] = ev
  assert.deepEqual([ac.parent_id, bc.parent_id, cc.parent_id, cr.parent_id, br.parent_id, ar.parent_id], [t.id, ac.id, bc.id, cc.id, bc.id, ac.id])
  for (const e of ev) assert.equal(e.trace_id, t.id)
  assert.ok(ac.ts <= bc.ts && bc.ts <= cc.ts && cc.ts <= cr.ts)
})

test('an event recorded in another context during a sync call still comes after its tool_call', async () => {
  const { AsyncResource } = await import('node:async_hooks')
  const elsewhere = AsyncResource.bind(() => st.record({ type: 'custom', name: 'elsewhere' }))
  const f = st.wrapTool('host', () => { elsewhere(); return 1 })
  const ev = await eventsAfter(() => f())
  assert.deepEqual(ev.map((e) => `${e.type}:${e.name}`), ['tool_call:host', 'custom:elsewhere', 'tool_result:host'])
  assert.equal(ev[1].parent_id, undefined)
  assert.notEqual(ev[1].trace_id, ev[0].id)
})

test('work a sync tool leaves behind still names the call as parent', async () => {
  let later
  const done = new Promise((r) => { later = r })
  const f = st.wrapTool('kick', () => {
    setTimeout(() => { st.record({ type: 'custom', name: 'after' }); later() }, 5)
    return 'started'
  })
  const ev = await eventsAfter(async () => { f(); await done })
  assert.deepEqual(ev.map((e) => `${e.type}:${e.name}`), ['tool_call:kick', 'tool_result:kick', 'custom:after'])
  assert.equal(ev[2].parent_id, ev[0].id)
  assert.equal(ev[2].trace_id, ev[0].id)
})

test('a sync function returning a promise is recorded when it returns, ended when it settles', async () => {
  let resolve
  const f = st.wrapTool('deferred', () => new Promise((r) => { resolve = r }))
  await st.flush()
  const before = ledgerEvents(ledger).length
  const pr = f()
  await st.flush()
  assert.deepEqual(ledgerEvents(ledger).slice(before).map((e) => e.type), ['tool_call'])
  resolve(7)
  assert.equal(await pr, 7)
  await st.flush()
  const ev = ledgerEvents(ledger).slice(before)
  assert.deepEqual(ev.map((e) => e.type), ['tool_call', 'tool_result'])
  assert.equal(ev[1].outputs, 7)
})

test('session() inside a sync tool keeps the call as parent', async () => {
  const f = st.wrapTool('sess', () => st.session({ actorId: 'inner-user' }, () => st.record({ type: 'custom', name: 'in' })))
  const ev = await eventsAfter(() => f())
  assert.deepEqual(ev.map((e) => e.type), ['tool_call', 'custom', 'tool_result'])
  assert.equal(ev[1].parent_id, ev[0].id)
  assert.equal(ev[1].actor_id, 'inner-user')
})

test('a tool wrapped before init() records to the client init() made', async () => {
  const f = st.wrapTool('rebound', (x) => x * 2)
  assert.equal(f(1), 2)
  await st.flush()
  const other = join(dir, 'other.jsonl')
  st.init({ agentId: 'wrap-test-2', ledgerPath: other, installExitHooks: false })
  try {
    assert.equal(f(2), 4)
    await st.flush()
    const ev = ledgerEvents(other)
    assert.deepEqual(ev.map((e) => `${e.type}:${e.agent_id}`), ['tool_call:wrap-test-2', 'tool_result:wrap-test-2'])
    assert.deepEqual(ev[0].inputs, [2])
  } finally {
    st.init({ agentId: 'wrap-test', ledgerPath: ledger, installExitHooks: false })
  }
})

test('argument text of any length and script reaches core intact (lone surrogates as U+FFFD)', async () => {
  const f = st.wrapTool('echo', (...a) => a.length)
  const cases = [[''], ['é'], ['a'.repeat(1000) + 'é'], ['€😀'.repeat(300)], ['\ud800 lone', 'x\udfff'], ['ascii'.repeat(500)], [{ k: 'ü', n: 1.5 }]]
  for (const args of cases) {
    const ev = await eventsAfter(() => f(...args))
    assert.deepEqual(ev.map((e) => e.type), ['tool_call', 'tool_result'])
    const expected = JSON.parse(JSON.stringify(args), (k, v) => (typeof v === 'string' ? v.toWellFormed() : v))
    assert.deepEqual(ev[0].inputs, expected, JSON.stringify(args).slice(0, 40))
  }
})

test('tools are named by native slot; an unknown slot records nothing, never throws', async () => {
  const { createRequire } = await import('node:module')
  const native = createRequire(import.meta.url)('../native.js')
  const c = new native.Client([['agent_id', 'slots'], ['ledger_path', join(dir, 'slots.jsonl')]])
  const a = new native.Tool(c, 'a', undefined, undefined, undefined)
  const b = new native.Tool(c, 'b', undefined, undefined, undefined)
  assert.notEqual(a.slot, b.slot)
  assert.equal(native.toolDone(1e6, undefined, undefined, undefined, undefined, 0, '[1]', '2', undefined, undefined), null)
  assert.equal(native.toolCall(1e6, undefined, undefined, undefined, undefined, 0, '[1]', undefined), null)
  native.toolEnd(1e6, undefined, undefined, undefined, 'x', 0, '2', undefined, undefined)
  const id = native.toolDone(b.slot, undefined, undefined, undefined, undefined, 0, '[1]', '2', undefined, undefined)
  assert.match(id, /^[0-9A-Z]{26}$/)
  // Text that is not a string is no text (not an error).
  assert.match(native.toolDone(a.slot, undefined, undefined, undefined, undefined, 0, 42, {}, undefined, undefined), /^[0-9A-Z]{26}$/)
  c.shutdownSync(5000)
  const ev = ledgerEvents(join(dir, 'slots.jsonl'))
  assert.deepEqual(ev.map((e) => [e.type, e.name]), [['tool_call', 'b'], ['tool_result', 'b'], ['tool_call', 'a'], ['tool_result', 'a']])
  assert.equal(ev[0].id, id)
  assert.deepEqual([ev[0].inputs, ev[1].outputs], [[1], 2])
  assert.deepEqual([ev[2].inputs, ev[3].outputs], [undefined, undefined])
  assert.equal(c.metrics().recorded, 4)
})
