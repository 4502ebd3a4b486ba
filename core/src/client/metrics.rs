//! Counters the client keeps, readable at any time from any thread (and from
//! both bindings) as a [`MetricsSnapshot`].

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use serde::Serialize;

/// Live counters, shared between `record()`, the worker and readers.
#[derive(Debug, Default)]
pub struct Metrics {
    pub(crate) recorded: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) spooled: AtomicU64,
    pub(crate) replayed: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) dropped_queue_full: AtomicU64,
    pub(crate) dropped_spool_full: AtomicU64,
    pub(crate) invalid: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) ledger_written: AtomicU64,
    pub(crate) persisted: AtomicU64,
    /// Events the worker took from the queue (written by the worker only,
    /// so the caller's path stays one counter): `queue_depth` is
    /// `recorded - taken`.
    pub(crate) taken: AtomicU64,
    pub(crate) spool_bytes: AtomicU64,
    pub(crate) spool_torn_bytes: AtomicU64,
    pub(crate) receipts_kept: AtomicU64,
    pub(crate) receipts_failed: AtomicU64,
    pub(crate) last_error: Mutex<Option<String>>,
}

/// A copy of the counters at one moment. All counts are events since the
/// client started, except the gauges `queue_depth` and `spool_bytes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MetricsSnapshot {
    /// Events `record()` accepted into the queue.
    pub recorded: u64,
    /// Events the server acknowledged with a receipt (directly or replayed
    /// from the spool; a receipt marked duplicate counts too).
    pub delivered: u64,
    /// Of `delivered`, receipts the server marked as duplicates (a resend
    /// whose first answer was lost).
    pub duplicates: u64,
    /// Events written (and fsynced, if `fsync`) to the disk spool.
    pub spooled: u64,
    /// Of `delivered`, events that came from the spool.
    pub replayed: u64,
    /// Events lost: queue full, spool full, or failed validation.
    pub dropped: u64,
    /// Of `dropped`: the queue was full when `record()` was called.
    pub dropped_queue_full: u64,
    /// Of `dropped`: the spool had reached `spool_max_bytes`.
    pub dropped_spool_full: u64,
    /// Of `dropped`: the event failed validation or sealing (too large,
    /// bad field) and was logged, never sent.
    pub invalid: u64,
    /// Events the server refused (non-retryable 4xx or per-event errors),
    /// written to `rejected/` with its answer.
    pub rejected: u64,
    /// HTTP attempts that failed and were retried later.
    pub retries: u64,
    /// Events appended to the local ledger (no endpoint).
    pub ledger_written: u64,
    /// Watermark in record order: the first `persisted` events the worker
    /// took from the queue are settled: acknowledged by the server, fsynced
    /// to the spool or ledger, written to `rejected/`, or counted in
    /// `dropped`. With one recording thread, every event whose `record()`
    /// returned true and that is among the first `persisted` is safe from a
    /// crash of this process (unless counted as dropped).
    pub persisted: u64,
    /// Events waiting in the in-memory queue.
    pub queue_depth: u64,
    /// Bytes of spool segments on disk not yet delivered.
    pub spool_bytes: u64,
    /// Bytes cut from torn spool tails found at start.
    pub spool_torn_bytes: u64,
    /// Receipts appended to `<spool_dir>/receipts.jsonl` (for
    /// `audit_receipts`).
    pub receipts_kept: u64,
    /// Receipts that could not be written there (the events are delivered;
    /// they just cannot be audited from this machine). Logged once.
    pub receipts_failed: u64,
    /// The most recent delivery problem, if any (never contains payloads).
    pub last_error: Option<String>,
}

impl Metrics {
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            recorded: self.recorded.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            spooled: self.spooled.load(Relaxed),
            replayed: self.replayed.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Relaxed),
            dropped_spool_full: self.dropped_spool_full.load(Relaxed),
            invalid: self.invalid.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            retries: self.retries.load(Relaxed),
            ledger_written: self.ledger_written.load(Relaxed),
            persisted: self.persisted.load(Relaxed),
            queue_depth: 0,
            spool_bytes: self.spool_bytes.load(Relaxed),
            spool_torn_bytes: self.spool_torn_bytes.load(Relaxed),
            receipts_kept: self.receipts_kept.load(Relaxed),
            receipts_failed: self.receipts_failed.load(Relaxed),
            last_error: self.last_error.lock().ok().and_then(|g| g.clone()),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(crate) fn set_error(&self, e: impl Into<String>) {
        if let Ok(mut g) = self.last_error.lock() {
            *g = Some(e.into());
        }
    }
}
