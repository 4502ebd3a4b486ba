// Overhead of a wrapped no-op tool with ~1 KiB of arguments against the bare
// call, beside an OpenTelemetry span (sdk-trace-base, discarding exporter).
// Prints p50/p99 in µs per call and the ratio to OpenTelemetry.
//
//   npm run build && node bindings-node/bench/overhead.mjs [iterations]
//
// Events go to a ledger in a temp dir (no endpoint): the caller's cost is
// capture and enqueue; the worker thread does the rest off the JS thread.
// The arguments are snapshotted (JSON.stringify) before the call; once a
// synchronous tool returns, one native call queues the call's two ids, its
// start and end times and the JSON text in one queue slot, and core's
// worker makes the tool_call and tool_result from them (an async tool takes
// two native calls). The loop calls faster than the worker seals and
// writes, so the queue grows during the sealtrail row: the depth it reached
// is printed.
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
const mode = 'record (args stringified before the call; after it returns one native call queues both events\' ids, times and JSON text as one slot; the worker makes the events, parses, redacts, hashes, writes the ledger)'
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
const sealtrailRow = sample(wrapped)
const depth = st.metrics()?.queue_depth
const rows = [
  ['bare call', bare],
  ['sealtrail wrapTool', sealtrailRow],
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
console.log(`events recorded ${m?.recorded ?? 'n/a'}, dropped ${m?.dropped ?? 'n/a'}, in ledger ${m?.ledger_written ?? 'n/a'}; queue depth after the sealtrail row ${depth ?? 'n/a'} events (the loop outruns the worker, so the queue grows and its memory is fresh)`)
await st.shutdown(30000)
