//! Redaction throughput over a generated mixed agent-log corpus, one core:
//! (a) about one PII item per 200 bytes, (b) no PII at all.
//!
//! `cargo bench -p sealtrail-core --bench redact` (criterion reports thrpt);
//! a plain timing loop first prints the MB/s figures (1 MB = 10^6 bytes).
//! `REDACT_BENCH_QUICK=1` shortens it for CI.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sealtrail_core::redact::{PiiReport, RedactConfig, Redactor};

#[path = "agentlog.rs"]
mod agentlog;

const SIZE: usize = 2 << 20;

fn quick() -> bool {
    std::env::var_os("REDACT_BENCH_QUICK").is_some()
}

fn mb_per_s(red: &Redactor, text: &str) -> (f64, u64) {
    let budget = if quick() {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(2)
    };
    let start = Instant::now();
    let (mut bytes, mut found) = (0usize, 0u64);
    while start.elapsed() < budget {
        let mut rep = PiiReport::new();
        black_box(red.redact_text(black_box(text), &mut rep));
        bytes += text.len();
        found = rep.total();
    }
    (bytes as f64 / start.elapsed().as_secs_f64() / 1e6, found)
}

fn bench(c: &mut Criterion) {
    let red = Redactor::new(RedactConfig::default()).expect("default config");
    let pii = agentlog::corpus(SIZE, Some(200), 7);
    let clean = agentlog::corpus(SIZE, None, 7);
    for (name, text, target) in [("pii_1_per_200B", &pii, 200.0), ("no_pii", &clean, 1000.0)] {
        let (mbs, found) = mb_per_s(&red, text);
        println!(
            "redact/{name}: {mbs:.0} MB/s over {} bytes, {found} findings (target >= {target:.0} MB/s)",
            text.len()
        );
    }
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
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
