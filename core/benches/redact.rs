//! Redaction throughput over a generated mixed agent-log corpus, one core:
//! (a) about one PII item per 200 bytes, (b) no PII at all; plus the cost of
//! redacting one typical tool-call event (`redact_value`).
//!
//! `cargo bench -p sealtrail-core --bench redact` (criterion reports thrpt);
//! a plain timing loop first prints the MB/s figures (1 MB = 10^6 bytes), by
//! wall clock and by on-CPU time (the machine may be shared with other
//! builds). `REDACT_BENCH_QUICK=1` shortens it for CI.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sealtrail_core::redact::{PiiReport, RedactConfig, Redactor};
use serde_json::{json, Value};

#[path = "agentlog.rs"]
mod agentlog;

const SIZE: usize = 2 << 20;

fn quick() -> bool {
    std::env::var_os("REDACT_BENCH_QUICK").is_some()
}

/// Time this thread has spent on a CPU (Linux).
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace()
        .next()?
        .parse()
        .ok()
        .map(Duration::from_nanos)
}

/// Runs `f` repeatedly for the time budget: (runs, wall seconds, on-CPU seconds).
fn timed(mut f: impl FnMut()) -> (u64, f64, Option<f64>) {
    let budget = if quick() {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(2)
    };
    let (start, cpu0) = (Instant::now(), thread_cpu());
    let mut runs = 0u64;
    while start.elapsed() < budget {
        f();
        runs += 1;
    }
    let wall = start.elapsed().as_secs_f64();
    (
        runs,
        wall,
        cpu0.zip(thread_cpu()).map(|(a, b)| (b - a).as_secs_f64()),
    )
}

fn event() -> Value {
    json!({
        "type": "tool_call", "name": "crm.update_contact", "ts": "2026-11-23T11:38:02.123Z",
        "inputs": {"contact_id": "c_01HZX3", "fields": {"email": "maria.silva@exemplo.com.br",
            "phone": "+55 11 91234-5678", "notes": "Called back about order ORD-2026-000123; prefers WhatsApp.",
            "tags": ["vip", "br", "q4"], "address": {"city": "São Paulo", "zip": "01310-100"}}},
        "headers": {"Authorization": "Bearer abcdefghijklmnop", "X-Request-Id": "9f2c1a03-4b5d-4e6f-8a9b-0c1d2e3f4a5b"},
        "attrs": {"model": "gpt-4o", "temperature": 0.2, "max_tokens": 512, "retries": 0}
    })
}

fn bench(c: &mut Criterion) {
    let red = Redactor::new(RedactConfig::default()).expect("default config");
    let pii = agentlog::corpus(SIZE, Some(200), 7);
    let clean = agentlog::corpus(SIZE, None, 7);
    for (name, text, target) in [("pii_1_per_200B", &pii, 200.0), ("no_pii", &clean, 1000.0)] {
        let mut found = 0;
        let (runs, wall, cpu) = timed(|| {
            let mut rep = PiiReport::new();
            black_box(red.redact_text(black_box(text), &mut rep));
            found = rep.total();
        });
        let mb = (runs as f64) * text.len() as f64 / 1e6;
        let cpu = cpu.map_or(String::new(), |c| format!(", {:.0} MB/s on-CPU", mb / c));
        println!(
            "redact/{name}: {:.0} MB/s wall{cpu} over {} bytes, {found} findings (target >= {target:.0} MB/s)",
            mb / wall,
            text.len()
        );
    }
    let ev = event();
    let (runs, wall, cpu) = timed(|| {
        let mut v = ev.clone();
        let mut rep = PiiReport::new();
        red.redact_value(&mut v, &mut rep);
        black_box(v);
    });
    let cpu = cpu.map_or(String::new(), |c| {
        format!(", {:.2} µs on-CPU", c * 1e6 / runs as f64)
    });
    println!(
        "redact/json_event: {:.2} µs wall{cpu} per {}-byte event (clone included)",
        wall * 1e6 / runs as f64,
        ev.to_string().len()
    );

    let mut g = c.benchmark_group("redact");
    if quick() {
        g.sample_size(10)
            .measurement_time(Duration::from_millis(500))
            .warm_up_time(Duration::from_millis(100));
    }
    for (name, text) in [("pii_1_per_200B", &pii), ("no_pii", &clean)] {
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut rep = PiiReport::new();
                black_box(red.redact_text(black_box(text), &mut rep).len())
            })
        });
    }
    g.throughput(Throughput::Bytes(ev.to_string().len() as u64));
    g.bench_function("json_event", |b| {
        b.iter(|| {
            let mut v = ev.clone();
            let mut rep = PiiReport::new();
            red.redact_value(&mut v, &mut rep);
            black_box(v)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
