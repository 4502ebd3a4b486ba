// End to end into the real server: a Node agent process records through
// wrapTool and exits on its own; the server chains the events in PostgreSQL
// and `sealtrail verify` passes; `sealtrail export` returns them all.
//
// Runs when a built server binary and a database are available:
//   SEALTRAIL_BIN (default target/{release,debug}/sealtrail) and
//   DATABASE_URL (or SEALTRAIL_DATABASE_URL) of a database it may migrate.
// Skips with the reason otherwise.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { join } from 'node:path'
import { root, tempDir, runScript } from './helpers.mjs'

const bin = [process.env.SEALTRAIL_BIN, join(root, 'target', 'release', 'sealtrail'), join(root, 'target', 'debug', 'sealtrail')].find((p) => p && existsSync(p))
const dbUrl = process.env.SEALTRAIL_DATABASE_URL ?? process.env.DATABASE_URL
const skip = !bin ? 'no sealtrail server binary (set SEALTRAIL_BIN or build it: cargo build -p sealtrail-server --release)' : !dbUrl ? 'no DATABASE_URL' : false

const freePort = () => new Promise((res) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)) }) })
const canConnect = (port) => new Promise((res) => { const c = connect(port, '127.0.0.1', () => { c.end(); res(true) }); c.on('error', () => res(false)) })

test('Node agent → server → PostgreSQL; verify passes', { skip, timeout: 120000 }, async () => {
  const env = { ...process.env, SEALTRAIL_DATABASE_URL: dbUrl }
  const cli = (...args) => {
    const r = spawnSync(bin, args, { env, encoding: 'utf8', timeout: 60000 })
    return r
  }
  let r = cli('migrate')
  assert.equal(r.status, 0, r.stderr)
  const org = `node-e2e-${Date.now()}`
  r = cli('keys', 'create', '--org', org, '--role', 'ingest')
  assert.equal(r.status, 0, r.stderr)
  const key = r.stdout.trim()
  const port = await freePort()
  const server = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`], { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let serverErr = ''
  server.stderr.on('data', (d) => { serverErr += d })
  try {
    for (let i = 0; i < 100 && !(await canConnect(port)); i++) await new Promise((res) => setTimeout(res, 100))
    const CALLS = 250 // 2 events each, plus the trace's own event
    const dir = tempDir()
    const run = runScript(dir, `
      import * as st from SEALTRAIL_PKG
      st.init({ endpoint: 'http://127.0.0.1:${port}', apiKey: ${JSON.stringify(key)}, agentId: 'node-e2e', spoolDir: 'spool' })
      const t = st.wrapTool('lookup', async (q) => ({ q, n: q.length }))
      await st.session({ actorId: 'user-1' }, () => st.trace('turn', async () => {
        for (let i = 0; i < ${CALLS}; i++) await t('query ' + i)
      }))
    `)
    assert.equal(run.status, 0, run.stderr)
    r = cli('verify', '--org', org)
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /"ok":\s*true/)
    r = cli('export', '--org', org)
    assert.equal(r.status, 0, r.stderr)
    const lines = r.stdout.trim().split('\n').filter(Boolean)
    // The events, then the trailer of a complete export.
    assert.equal(lines.length, 2 * CALLS + 2, serverErr)
    assert.deepEqual(JSON.parse(lines.at(-1)), { complete: true, rows: 2 * CALLS + 1 })
  } finally {
    server.kill('SIGTERM')
  }
})
