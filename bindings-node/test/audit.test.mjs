// auditReceipts, ledgerHeads and verifyLedger with kept heads, through the
// package. The server is a tiny node:http stand-in: it acknowledges events,
// then has lost the first (404) and not yet integrated the others (409); it
// publishes no checkpoint (404), so no signing is needed here. The full
// audit (real proofs and signed checkpoints: ok, altered, bad signature,
// rollback, fork) is tested in core (core/tests/client_audit.rs).
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { readFileSync, writeFileSync } from 'node:fs'
import * as st from '../index.mjs'
import { tempDir } from './helpers.mjs'

// The verifier key of a log named log.test/sealtrail (core's test seed).
const LOG_KEY = 'log.test/sealtrail+fb72efad+ARl/ayPhbIUyxqvIOPrNXqeJvgx2spIDNAOb+os9No1h'

const ids = []
const seqs = new Map()
const server = createServer((req, res) => {
  const send = (code, body) => {
    res.writeHead(code, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }
  const url = new URL(req.url, 'http://x')
  if (req.method === 'POST') {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      const receipts = JSON.parse(body).events.map(({ event }) => {
        const seq = (seqs.get(event.agent_id) ?? 0) + 1
        seqs.set(event.agent_id, seq)
        ids.push(event.id)
        const hash = createHash('sha256').update(event.id).digest('hex')
        return { id: event.id, seq, hash, duplicate: false }
      })
      send(200, { receipts, errors: [] })
    })
    return
  }
  if (url.pathname === '/v1/proofs/inclusion') {
    const id = url.searchParams.get('event_id')
    return id === ids[0] ? send(404, { error: 'not_found' }) : send(409, { error: 'not_integrated', detail: 'soon' })
  }
  send(404, { error: 'not_found' })
})
await new Promise((r) => server.listen(0, '127.0.0.1', r))
const endpoint = `http://127.0.0.1:${server.address().port}`
after(async () => {
  await st.shutdown(2000)
  server.close()
})

test('receipts are kept and a lost event is reported missing', async () => {
  const spoolDir = join(tempDir(), 'spool')
  st.init({ endpoint, apiKey: 'k', spoolDir, compression: 'none', lingerMs: 10, agentId: 'js-agent', installExitHooks: false })
  st.record({ type: 'custom', name: 'first' })
  st.record({ type: 'custom', name: 'second' })
  st.record({ type: 'custom', name: 'third' })
  assert.equal((await st.flush(5000)).delivered, 3)
  assert.equal(st.metrics().receipts_kept, 3)
  const kept = readFileSync(join(spoolDir, 'receipts.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  assert.deepEqual(kept.map((k) => [k.agent_id, k.seq]), [['js-agent', 1], ['js-agent', 2], ['js-agent', 3]])

  const report = await st.auditReceipts({ logKey: LOG_KEY })
  assert.deepEqual([report.receipts, report.proved, report.missing, report.pending], [3, 0, 1, 2], JSON.stringify(report))
  assert.equal(report.unprovable, true)
  assert.equal(report.ok, false)
  assert.deepEqual(report.problems.filter((p) => p.status === 'missing').map((p) => p.id), [ids[0]])
  assert.deepEqual(report.log, [])

  await assert.rejects(st.auditReceipts({ logKey: 'not-a-key' }), (e) => e.code === 'config')
})

test('a kept ledger head catches a cut tail', async () => {
  const ledgerPath = join(tempDir(), 'ledger.jsonl')
  st.init({ ledgerPath, agentId: 'js-agent', lingerMs: 10, installExitHooks: false })
  for (let i = 0; i < 4; i++) st.record({ type: 'custom', name: `e${i}` })
  const heads = await st.ledgerHeads()
  assert.equal(heads.length, 1)
  assert.match(heads[0], /^js-agent:4:[0-9a-f]{64}$/)
  await st.shutdown(5000)
  assert.equal((await st.verifyLedger(ledgerPath, { head: heads })).ok, true)

  const lines = readFileSync(ledgerPath, 'utf8').trim().split('\n')
  writeFileSync(ledgerPath, lines.slice(0, 3).join('\n') + '\n')
  assert.equal((await st.verifyLedger(ledgerPath)).ok, true, 'fine without a head')
  const r = await st.verifyLedger(ledgerPath, { head: heads[0] })
  assert.equal(r.ok, false)
  assert.equal(r.heads[0].reason, 'truncated')
  await assert.rejects(st.verifyLedger(ledgerPath, { head: 'nope' }), (e) => e.code === 'config')
})
