// Shared helpers: run a child Node process in a fresh directory with the
// package, and read its ledger.
import { spawnSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const pkgCjs = join(root, 'bindings-node', 'dist', 'index.js')
export const pkgEsm = join(root, 'bindings-node', 'index.mjs')

export function tempDir(prefix = 'sealtrail-node-') {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** Env without SEALTRAIL_* from the outer shell, plus `extra`. */
export function cleanEnv(extra = {}) {
  const env = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SEALTRAIL_')) env[k] = v
  return { ...env, ...extra }
}

/** Runs `code` (ESM) in a child process with cwd `dir`. */
export function runScript(dir, code, { env = {}, timeout = 30000 } = {}) {
  const file = join(dir, 'script.mjs')
  writeFileSync(file, code.replaceAll('SEALTRAIL_PKG', JSON.stringify(pkgEsm)))
  const t0 = Date.now()
  const r = spawnSync(process.execPath, [file], { cwd: dir, env: cleanEnv(env), timeout, encoding: 'utf8' })
  return { ...r, ms: Date.now() - t0 }
}

export function startScript(dir, code, { env = {} } = {}) {
  const file = join(dir, 'script.mjs')
  writeFileSync(file, code.replaceAll('SEALTRAIL_PKG', JSON.stringify(pkgEsm)))
  return spawn(process.execPath, [file], { cwd: dir, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
}

/** The events of a ledger file, in order. */
export function ledgerEvents(path) {
  if (!existsSync(path)) return []
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const line = JSON.parse(l)
      return line.event ?? line
    })
}
