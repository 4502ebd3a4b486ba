// Overhead of a wrapped no-op tool with ~1 KiB of arguments against the bare
// call, beside an OpenTelemetry span (sdk-trace-base, discarding exporter).
// Prints p50/p99 in µs per call and the ratio to OpenTelemetry.
//
//   npm run build && node bindings-node/bench/overhead.mjs [iterations]
//
// Events go to a ledger in a temp dir (no endpoint): the caller's cost is
// capture and enqueue; the worker thread does the rest off the JS thread.
// The arguments are snapshotted (JSON.stringify) before the call; a
// synchronous tool's tool_call is then recorded together with its
// tool_result in one native call once it returns (both events, the call
// with its start time), where an async tool takes two.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import * as st from '../index.mjs'

const N = Number(process.argv[2] ?? 50000)
const WARM = Math.min(20000, N)

const args = {
  query: 'find all invoices for customer ACME Corporation in the last quarter',
  options: { limit: 50, offset: 0, sort: 'date_desc', include: ['lines', 'payments', 'notes'] },
  user: { id: 'u_12345', tier: 'gold', roles: ['finance', 'viewer'] },
  filters: Array.from({ length: 8 }, (_, i) => ({ field: `amount_${i}`, op: 'gt', value: i * 100.5 })),
  note: 'lorem ipsum dolor sit amet '.repeat(12),
}
const argBytes = JSON.stringify([args]).length

function noop(a) {
  return a.options.limit
}

const dir = mkdtempSync(join(tmpdir(), 'sealtrail-bench-'))
const mode = 'record (args stringified before the call; tool_call + tool_result enqueued in one native call after it returns; worker parses, redacts, hashes, writes the ledger)'
st.init({ agentId: 'bench', ledgerPath: join(dir, 'ledger.jsonl'), installExitHooks: false, fsync: false })
const wrapped = st.wrapTool('noop', noop)

const discard = { export(_spans, done) { done({ code: 0 }) }, shutdown: async () => {} }
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(discard)] })
if (typeof provider.addSpanProcessor === 'function' && !provider._registeredSpanProcessors?.length) {
  provider.addSpanProcessor(new SimpleSpanProcessor(discard))
}
const tracer = provider.getTracer('bench')
function otel(a) {
  const span = tracer.startSpan('noop')
  try {
    return noop(a)
  } finally {
    span.end()
  }
}
function otelArgs(a) {
  const span = tracer.startSpan('noop', { attributes: { 'tool.args': JSON.stringify(a) } })
  try {
    return noop(a)
  } finally {
    span.end()
  }
}

function sample(f) {
  const out = new Float64Array(N)
  for (let i = 0; i < WARM; i++) f(args)
  for (let i = 0; i < N; i++) {
    const t = process.hrtime.bigint()
    f(args)
    out[i] = Number(process.hrtime.bigint() - t) / 1000
  }
  out.sort()
  return { p50: out[Math.floor(N * 0.5)], p99: out[Math.floor(N * 0.99)] }
}

const bare = sample(noop)
const rows = [
  ['bare call', bare],
  ['sealtrail wrapTool', sample(wrapped)],
  ['OTel span', sample(otel)],
  ['OTel span + args attribute', sample(otelArgs)],
]
await st.flush(30000)
const m = st.metrics()

const over = (r) => ({ p50: Math.max(0, r.p50 - bare.p50), p99: Math.max(0, r.p99 - bare.p99) })
const sealtrail = over(rows[1][1])
console.log(`node ${process.version}, ${N} calls, args ${argBytes} bytes of JSON; overhead = p(x) − p(bare); sealtrail mode: ${mode}`)
console.log('| | p50 µs | p99 µs | overhead p50 µs | overhead p99 µs | sealtrail ÷ this (p50) |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
for (const [name, r] of rows) {
  const o = over(r)
  const ratio = name === 'bare call' ? '' : (sealtrail.p50 / Math.max(o.p50, 0.001)).toFixed(2)
  console.log(`| ${name} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${o.p50.toFixed(2)} | ${o.p99.toFixed(2)} | ${ratio} |`)
}
console.log(`events recorded ${m?.recorded ?? 'n/a'}, dropped ${m?.dropped ?? 'n/a'}, in ledger ${m?.ledger_written ?? 'n/a'}`)
await st.shutdown(30000)
