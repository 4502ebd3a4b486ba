//! Counters exported at `GET /metrics` in Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Default)]
pub struct Metrics {
    pub batches: AtomicU64,
    pub events_stored: AtomicU64,
    pub events_duplicate: AtomicU64,
    pub events_rejected: AtomicU64,
    pub ingest_micros: AtomicU64,
    pub events_verified: AtomicU64,
    pub chains_broken: AtomicU64,
    pub auth_failures: AtomicU64,
    pub queries: AtomicU64,
    pub exported_rows: AtomicU64,
}

impl Metrics {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Relaxed);
    }

    pub fn render(&self, pool_size: u32, pool_idle: usize) -> String {
        let mut s = String::new();
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter(
            "sealtrail_ingest_batches_total",
            "Batches received.",
            self.batches.load(Relaxed),
        );
        counter(
            "sealtrail_events_stored_total",
            "Events stored and chained.",
            self.events_stored.load(Relaxed),
        );
        counter(
            "sealtrail_events_duplicate_total",
            "Replayed events answered with their first receipt.",
            self.events_duplicate.load(Relaxed),
        );
        counter(
            "sealtrail_events_rejected_total",
            "Events refused (invalid, hash mismatch, too large).",
            self.events_rejected.load(Relaxed),
        );
        counter(
            "sealtrail_ingest_seconds_total",
            "Time spent storing batches.",
            self.ingest_micros.load(Relaxed) / 1_000_000,
        );
        counter(
            "sealtrail_events_verified_total",
            "Events verified.",
            self.events_verified.load(Relaxed),
        );
        counter(
            "sealtrail_chains_broken_total",
            "Chains found broken by verification.",
            self.chains_broken.load(Relaxed),
        );
        counter(
            "sealtrail_auth_failures_total",
            "Requests refused with 401.",
            self.auth_failures.load(Relaxed),
        );
        counter(
            "sealtrail_queries_total",
            "Event queries served.",
            self.queries.load(Relaxed),
        );
        counter(
            "sealtrail_exported_rows_total",
            "Rows exported.",
            self.exported_rows.load(Relaxed),
        );
        let _ = writeln!(s, "# HELP sealtrail_db_pool_connections Open database connections.\n# TYPE sealtrail_db_pool_connections gauge\nsealtrail_db_pool_connections {pool_size}");
        let _ = writeln!(s, "# HELP sealtrail_db_pool_idle Idle database connections.\n# TYPE sealtrail_db_pool_idle gauge\nsealtrail_db_pool_idle {pool_idle}");
        s
    }
}
