"""Overhead of @sealtrail.tool on a no-op tool taking ~1 KiB of arguments,
against the same function undecorated and against an OpenTelemetry SDK span
(BatchSpanProcessor with an exporter that discards), p50/p99 in µs.

    python bindings-python/bench/overhead.py [--n 200000] [--sink capture|ledger]

Overhead = per-call time of the wrapped call minus the bare call (both
measured per call with perf_counter_ns, in interleaved rounds so drift hits
both alike). The events are really recorded: converted in Rust, built,
enqueued; the queue is flushed between rounds so it never fills.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
from time import perf_counter_ns

import sealtrail

ARGS = {
    "customer_id": "cus_8f2a9c1e77",
    "query": "Where is my order? I paid with my card last Tuesday and it has not arrived " * 4,
    "order_ids": [f"A-{1000 + i}" for i in range(20)],
    "filters": {"status": ["shipped", "pending"], "region": "eu-west", "limit": 25, "flag": True},
    "notes": "x" * 300,
}


def noop(customer_id, query, order_ids, filters, notes):
    return None


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def timed(fn, n):
    out = [0] * n
    kw = ARGS
    for i in range(n):
        t0 = perf_counter_ns()
        fn(**kw)
        out[i] = perf_counter_ns() - t0
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000, help="calls per variant")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--sink", choices=["capture", "ledger"], default="ledger",
                    help="capture: in-memory (no core pipeline); ledger: core's client "
                         "writing the local ledger (the default zero-config path)")
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="sealtrail-bench-")
    if a.sink == "capture":
        sealtrail.init(capture=True, agent_id="bench")
    else:
        try:
            sealtrail.init(agent_id="bench", ledger_path=os.path.join(tmp, "ledger.jsonl"))
        except sealtrail.ConfigError as e:
            print(f"ledger sink unavailable ({e}); using --sink capture", file=sys.stderr)
            a.sink = "capture"
            sealtrail.init(capture=True, agent_id="bench")

    from opentelemetry import trace as ot
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Discard(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Discard()))
    tracer = provider.get_tracer("bench")

    audited = sealtrail.tool(noop)

    def otel(**kw):
        with tracer.start_as_current_span("noop") as span:
            span.set_attribute("customer_id", kw["customer_id"])
            return noop(**kw)

    variants = {"bare": noop, "sealtrail": audited, "otel": otel}
    per = a.n // a.rounds
    samples = {k: [] for k in variants}
    for f in variants.values():  # warm up
        timed(f, 2000)
    gc.collect()
    gc.disable()
    try:
        for _ in range(a.rounds):
            for k, f in variants.items():
                samples[k] += timed(f, per)
            if a.sink == "capture":
                sealtrail._state.client.take_captured()
            else:
                sealtrail.flush(10)
    finally:
        gc.enable()
    provider.shutdown()
    report = sealtrail.shutdown(30)

    bare50, bare99 = percentile(samples["bare"], 50), percentile(samples["bare"], 99)
    rows = []
    for k in ("bare", "sealtrail", "otel"):
        p50, p99 = percentile(samples[k], 50), percentile(samples[k], 99)
        rows.append((k, p50 / 1000, p99 / 1000, (p50 - bare50) / 1000, (p99 - bare99) / 1000))
    import json
    arg_bytes = len(json.dumps(ARGS))
    print(f"sealtrail {sealtrail.__version__}  python {sys.version.split()[0]}  sink={a.sink}  "
          f"args={arg_bytes} B JSON  calls/variant={per * a.rounds}")
    print(f"{'variant':<12}{'p50 µs':>10}{'p99 µs':>10}{'overhead p50':>15}{'overhead p99':>15}")
    for k, p50, p99, o50, o99 in rows:
        print(f"{k:<12}{p50:>10.2f}{p99:>10.2f}{o50:>15.2f}{o99:>15.2f}")
    st, ot_ = rows[1][3], rows[2][3]
    print(f"sealtrail/otel overhead ratio (p50): {st / ot_:.2f}" if ot_ > 0 else "otel overhead ~0")
    print(f"shutdown report: {report}")
    print(f"target: sealtrail overhead p50 <= 5 µs: {'PASS' if st <= 5 else 'FAIL'}; "
          f"below otel: {'PASS' if st < ot_ else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
