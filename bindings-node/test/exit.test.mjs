// The process ends on its own with events still queued, and they are in the
// ledger (no endpoint) or the spool (server away) — also on process.exit(),
// SIGTERM and SIGINT, whose default outcome is kept.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { readdirSync, statSync, existsSync } from 'node:fs'
import { tempDir, runScript, startScript, ledgerEvents } from './helpers.mjs'

const N = 2000

test('default: local ledger ./sealtrail-ledger.jsonl, process exits by itself, every event there', async () => {
  const dir = tempDir()
  const r = runScript(dir, `
    import * as st from SEALTRAIL_PKG
    const f = st.wrapTool('t', (x) => x)
    for (let i = 0; i < ${N / 2}; i++) f({ i })
  `, { env: { SEALTRAIL_AGENT_ID: 'exit-test' } })
  assert.equal(r.status, 0, r.stderr)
  const ev = ledgerEvents(join(dir, 'sealtrail-ledger.jsonl'))
  assert.equal(ev.length, N)
  const v = runScript(dir, `
    import * as st from SEALTRAIL_PKG
    console.log(JSON.stringify(await st.verifyLedger('sealtrail-ledger.jsonl')))
  `)
  assert.equal(JSON.parse(v.stdout).ok, true, v.stdout + v.stderr)
})

test('process.exit() right after recording still writes everything', () => {
  const dir = tempDir()
  const r = runScript(dir, `
    import * as st from SEALTRAIL_PKG
    for (let i = 0; i < ${N}; i++) st.record({ type: 'custom', name: 'e', inputs: { i } })
    process.exit(3)
  `)
  assert.equal(r.status, 3, r.stderr)
  assert.equal(ledgerEvents(join(dir, 'sealtrail-ledger.jsonl')).length, N)
})

for (const sig of ['SIGTERM', 'SIGINT']) {
  test(`${sig} is not swallowed, and queued events are written`, async () => {
    const dir = tempDir()
    const child = startScript(dir, `
      import * as st from SEALTRAIL_PKG
      for (let i = 0; i < ${N}; i++) st.record({ type: 'custom', name: 'e', inputs: { i } })
      console.log('ready')
      setInterval(() => {}, 1000)
    `)
    await new Promise((res) => child.stdout.once('data', res))
    child.kill(sig)
    const [code, signal] = await new Promise((res) => child.on('exit', (c, s) => res([c, s])))
    assert.equal(signal, sig, `exit code ${code}`)
    assert.equal(ledgerEvents(join(dir, 'sealtrail-ledger.jsonl')).length, N)
  })
}

test('a user SIGTERM handler keeps control of the signal', async () => {
  const dir = tempDir()
  const child = startScript(dir, `
    import * as st from SEALTRAIL_PKG
    st.record({ type: 'custom', name: 'e' })
    process.on('SIGTERM', async () => { await st.flush(); console.log('handled'); process.exit(7) })
    console.log('ready')
    setInterval(() => {}, 1000)
  `)
  await new Promise((res) => child.stdout.once('data', res))
  let out = ''
  child.stdout.on('data', (d) => { out += d })
  child.kill('SIGTERM')
  const code = await new Promise((res) => child.on('exit', (c) => res(c)))
  assert.equal(code, 7)
  assert.match(out, /handled/)
  assert.equal(ledgerEvents(join(dir, 'sealtrail-ledger.jsonl')).length, 1)
})

test('server unreachable: process still exits promptly and events are spooled', () => {
  const dir = tempDir()
  const spool = join(dir, 'spool')
  const r = runScript(dir, `
    import * as st from SEALTRAIL_PKG
    st.init({ endpoint: 'http://127.0.0.1:9', apiKey: 'k', agentId: 'a', spoolDir: ${JSON.stringify(spool)}, exitTimeoutMs: 1500 })
    for (let i = 0; i < 100; i++) st.record({ type: 'custom', name: 'e', inputs: { i } })
  `)
  assert.equal(r.status, 0, r.stderr)
  assert.ok(r.ms < 15000, `took ${r.ms} ms`)
  assert.ok(existsSync(spool), 'spool dir exists')
  const bytes = readdirSync(spool, { recursive: true }).map((f) => join(spool, String(f))).filter((f) => statSync(f).isFile()).reduce((a, f) => a + statSync(f).size, 0)
  assert.ok(bytes > 100 * 50, `spool holds ${bytes} bytes`)
  assert.ok(!existsSync(join(dir, 'sealtrail-ledger.jsonl')))
})
