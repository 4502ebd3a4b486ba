// Node half of the cross-language check: prints one JSON line per case,
// {case, canonical, content_hash}, from the binding's sealEvent (core builds,
// validates, canonicalises and hashes).
//   node tests/cross_language/node_side.mjs [vectors.json]
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as st from '../../bindings-node/index.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const vectors = JSON.parse(readFileSync(process.argv[2] ?? join(here, 'vectors.json'), 'utf8'))

function revive(v) {
  if (Array.isArray(v)) return v.map(revive)
  if (v && typeof v === 'object') {
    if ('$bytes' in v) return Buffer.from(v.$bytes, 'base64')
    if ('$bigint' in v) return BigInt(v.$bigint)
    if ('$set' in v) return new Set(v.$set.map(revive))
    if ('$map' in v) return new Map(v.$map.map(([k, x]) => [revive(k), revive(x)]))
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]))
  }
  return v
}

for (const c of vectors.cases) {
  const sealed = st.sealEvent(vectors.agent_id, {
    type: c.type,
    name: c.name,
    id: c.id,
    ts: c.ts,
    inputs: revive(c.inputs),
    outputs: revive(c.outputs),
    attrs: revive(c.attrs),
    decision: c.decision,
    error: c.error,
    tokens: c.tokens,
    costUsd: c.cost_usd,
    latencyMs: c.latency_ms,
  })
  console.log(JSON.stringify({ case: c.case, canonical: sealed.canonical, content_hash: sealed.contentHash }))
}
