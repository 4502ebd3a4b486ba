//! The client pipeline both bindings wrap: `record()` puts an event in a
//! bounded in-memory queue and returns (no I/O, never an error into the
//! agent); one worker thread with its own runtime redacts, validates,
//! canonicalises, hashes, batches and ships events to the server, spooling
//! to disk while the server is away, or appends them to a local chained
//! ledger file when no endpoint is configured.
//!
//! Delivery guarantee: an event is *persisted* once the server has
//! acknowledged it, or it is fsynced to the spool (or ledger), or written
//! to `rejected/` with the server's answer. Persisted events survive a crash
//! of the process and reach the server exactly once in its store (resends
//! are deduplicated by event id). Events still in memory when the process
//! is killed are lost; every other loss (queue full, spool full, invalid
//! event) is counted in [`MetricsSnapshot::dropped`] and logged.

pub mod audit;
pub mod config;
pub mod ledger;
pub mod metrics;
pub mod receipts;
pub mod record;
pub mod redaction;
pub mod spool;
pub mod transport;
pub mod wire;
mod worker;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;

pub use audit::{audit_receipts, AuditReport, AuditStatus, AuditedEvent, LogCheck};
pub use config::{ClientConfig, Compression, OverflowPolicy, PromptStorage, CONFIG_KEYS};
pub use ledger::{
    import, import_with, verify_ledger, verify_ledger_with_heads, HeadCheck, ImportOptions,
    ImportReport, LedgerChain, LedgerHead, LedgerReport, LedgerWriter,
};
pub use metrics::{Metrics, MetricsSnapshot};
pub use receipts::{read_receipts, KeptReceipt, ReceiptLog};
pub use record::{EndedCall, Payload, RecordOptions, ToolSpec};

use crate::error::{Error, ErrorKind, Result};
use crate::event::Event;
use record::{Queued, Slot};
use worker::{Ctrl, Remote, Sink, Worker};

/// Redaction hook applied by the worker to every event before it is
/// validated, hashed, spooled, written or sent. An implementation redacts
/// `inputs`, `outputs`, `error.message`/`error.stack`, `attrs` and
/// `decision.reason` in place and fills `event.pii` with the counts of what
/// it found. A panic in it drops the event (counted), never ships it.
pub trait EventRedactor: Send + Sync {
    fn redact(&self, event: &mut Event);
    /// `text` as the same rules would store it (the bindings' `redact()`).
    fn redact_text(&self, text: &str, report: &mut crate::redact::PiiReport) -> String {
        let _ = report;
        text.to_owned()
    }
}

/// The default hook: leaves events as they are.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoRedaction;

impl EventRedactor for NoRedaction {
    fn redact(&self, _event: &mut Event) {}
}

/// Where a client sends events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// `POST {endpoint}/v1/events`, spool in `spool_dir`.
    Server { endpoint: String },
    /// A local chained ledger file.
    Ledger { path: std::path::PathBuf },
}

/// What `flush` and `shutdown` report: counts since the client started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// True when everything recorded before the call was delivered (or
    /// spooled while the server is unavailable, or written to the ledger)
    /// within the timeout.
    pub complete: bool,
    pub delivered: u64,
    pub spooled: u64,
    pub dropped: u64,
    pub rejected: u64,
    pub ledger_written: u64,
    /// Events still in the queue when the report was made.
    pub queued: u64,
}

/// The client. Cheap to share (`&self` everywhere, `Send + Sync`); wrap it
/// in an `Arc` to use it from several threads.
pub struct Client {
    tx: mpsc::Sender<Slot>,
    ctrl: mpsc::UnboundedSender<Ctrl>,
    metrics: Arc<Metrics>,
    overflow: OverflowPolicy,
    closed: AtomicBool,
    warned_full: AtomicBool,
    worker: Mutex<Option<JoinHandle<()>>>,
    agent_id: String,
    destination: Destination,
    shutdown_timeout: Duration,
    final_report: Mutex<Option<DeliveryReport>>,
    redactor: Arc<dyn EventRedactor>,
    /// The ledger writer's heads as of its last append (ledger destination).
    ledger_heads: Option<ledger::SharedHeads>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("destination", &self.destination)
            .field("agent_id", &self.agent_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client from the environment (`SEALTRAIL_*`) over the defaults.
    pub fn from_env() -> Result<Client> {
        Client::new(ClientConfig::from_env()?)
    }

    /// A client that redacts as `cfg.redact` says (every type on by default).
    pub fn new(cfg: ClientConfig) -> Result<Client> {
        let redactor = redaction::redactor_for(&cfg)?;
        Client::with_redactor(cfg, redactor)
    }

    /// Opens the spool (replaying what a previous run left there) or the
    /// ledger, and starts the worker thread.
    pub fn with_redactor(cfg: ClientConfig, redactor: Arc<dyn EventRedactor>) -> Result<Client> {
        cfg.validate()?;
        let metrics = Arc::new(Metrics::default());
        let mut ledger_heads = None;
        let (sink, destination) = match &cfg.endpoint {
            Some(endpoint) => {
                let transport = transport::Transport::new(&cfg)?;
                let (spool, report) =
                    spool::Spool::open(&cfg.spool_dir, cfg.spool_max_bytes, cfg.fsync)?;
                let torn: u64 = report.torn.iter().map(|(_, n)| *n).sum();
                Metrics::add(&metrics.spool_torn_bytes, torn);
                metrics.spool_bytes.store(spool.bytes(), Relaxed);
                if report.batches > 0 {
                    tracing::info!(
                        target: "sealtrail::spool",
                        batches = report.batches,
                        events = report.events,
                        "spool holds events from a previous run; replaying them first"
                    );
                }
                let receipts = if cfg.receipts_max == 0 {
                    None
                } else {
                    match receipts::ReceiptLog::open(&cfg.spool_dir, cfg.receipts_max) {
                        Ok(log) => Some(log),
                        Err(e) => {
                            // Delivery goes on; only auditing from here is lost.
                            let msg = format!("receipts will not be kept: {e}");
                            tracing::error!(target: "sealtrail::worker", "{msg}");
                            metrics.set_error(msg);
                            None
                        }
                    }
                };
                (
                    Sink::Remote(Box::new(Remote::new(transport, spool, receipts))),
                    Destination::Server {
                        endpoint: endpoint.clone(),
                    },
                )
            }
            None => {
                let (writer, _torn) = LedgerWriter::open(&cfg.ledger_path, cfg.fsync)?;
                ledger_heads = Some(writer.shared_heads());
                (
                    Sink::Ledger(writer),
                    Destination::Ledger {
                        path: cfg.ledger_path.clone(),
                    },
                )
            }
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::new(ErrorKind::Io, format!("worker runtime: {e}")))?;
        let (tx, rx) = mpsc::channel(cfg.queue_capacity);
        let (ctrl_tx, ctrl_rx) = mpsc::unbounded_channel();
        let client_meta = (cfg.overflow, cfg.agent_id.clone(), cfg.shutdown_timeout);
        let worker = Worker::new(cfg, metrics.clone(), redactor.clone(), rx, ctrl_rx, sink);
        let handle = std::thread::Builder::new()
            .name("sealtrail-worker".into())
            .spawn(move || {
                let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    rt.block_on(worker.run())
                }));
                if res.is_err() {
                    tracing::error!(target: "sealtrail::worker", "worker panicked; events recorded from now on are dropped");
                }
            })
            .map_err(|e| Error::new(ErrorKind::Io, format!("spawning the worker thread: {e}")))?;
        Ok(Client {
            tx,
            ctrl: ctrl_tx,
            metrics,
            overflow: client_meta.0,
            closed: AtomicBool::new(false),
            warned_full: AtomicBool::new(false),
            worker: Mutex::new(Some(handle)),
            agent_id: client_meta.1,
            destination,
            shutdown_timeout: client_meta.2,
            final_report: Mutex::new(None),
            redactor,
            ledger_heads,
        })
    }

    /// `text` redacted by this client's rules, with the counts of what was found.
    pub fn redact_text(&self, text: &str) -> (String, crate::redact::PiiReport) {
        let mut report = crate::redact::PiiReport::new();
        let out = self.redactor.redact_text(text, &mut report);
        (out, report)
    }

    /// The agent id from the configuration, for bindings making events.
    pub fn agent_id(&self) -> &str {
        &self.agent_id
    }

    pub fn destination(&self) -> &Destination {
        &self.destination
    }

    /// The head (agent, seq, link hash) of every chain this client's ledger
    /// file holds, as of the worker's last write (call [`Client::flush`]
    /// first to include everything recorded). Keep them somewhere the
    /// ledger's owner cannot edit (print them to a log, send them to an
    /// auditor): `verify_ledger_with_heads` (`sealtrail verify --ledger FILE
    /// --head AGENT:SEQ:HASH`) then catches a ledger cut short or rewritten.
    /// Empty when events go to a server (its receipts play that part).
    pub fn ledger_heads(&self) -> Vec<LedgerHead> {
        match &self.ledger_heads {
            Some(h) => match h.lock() {
                Ok(m) => ledger::heads_of(&m),
                Err(p) => ledger::heads_of(&p.into_inner()),
            },
            None => Vec::new(),
        }
    }

    /// Queues one event and returns at once (policy `block` may wait up to
    /// its timeout for room). No I/O, no error: returns false when the event
    /// was dropped (queue full, or the client is shut down), which is
    /// counted and logged.
    pub fn record(&self, event: Event) -> bool {
        self.record_with(event, RecordOptions::default())
    }

    /// [`Client::record`] with parts the worker finishes off the caller's
    /// thread (JSON text parsed there, with the same limits; a payload that
    /// does not parse is dropped and counted as invalid, never an error here).
    pub fn record_with(&self, event: Event, opts: RecordOptions) -> bool {
        self.send(Slot::One(Box::new(Queued { event, opts })))
    }

    /// Records two events in this order as one queue slot: one allocation
    /// and one send on the caller's thread (a synchronous tool call and its
    /// `tool_result`, recorded once it has returned). Both are queued or
    /// neither is; each is still validated on its own by the worker, and
    /// both count in the metrics.
    pub fn record_pair(&self, first: (Event, RecordOptions), then: (Event, RecordOptions)) -> bool {
        let pair = [
            Queued {
                event: first.0,
                opts: first.1,
            },
            Queued {
                event: then.0,
                opts: then.1,
            },
        ];
        self.send(Slot::Pair(Box::new(pair)))
    }

    /// Records a synchronous tool call that has ended: its `tool_call` and
    /// its `tool_result` (or `error`), made from `call` by the worker, in
    /// one queue slot. The caller's thread only moves what it was given.
    /// Both are queued or neither is.
    pub fn record_call(&self, call: EndedCall) -> bool {
        self.send(Slot::Call(Box::new(call)))
    }

    fn send(&self, slot: Slot) -> bool {
        let n = slot.len();
        if self.closed.load(Relaxed) {
            Metrics::add(&self.metrics.dropped, n);
            return false;
        }
        let mut slot = slot;
        let mut deadline: Option<Instant> = None;
        let mut spins = 0u32;
        loop {
            match self.tx.try_send(slot) {
                Ok(()) => {
                    Metrics::add(&self.metrics.recorded, n);
                    return true;
                }
                Err(mpsc::error::TrySendError::Full(back)) => {
                    if let OverflowPolicy::Block(t) = self.overflow {
                        let now = Instant::now();
                        let d = *deadline.get_or_insert(now + t);
                        if now < d {
                            slot = back;
                            spins += 1;
                            if spins < 64 {
                                std::thread::yield_now();
                            } else {
                                std::thread::sleep(Duration::from_micros(50));
                            }
                            continue;
                        }
                    }
                    Metrics::add(&self.metrics.dropped, n);
                    Metrics::add(&self.metrics.dropped_queue_full, n);
                    if !self.warned_full.swap(true, Relaxed) {
                        tracing::warn!(target: "sealtrail::worker", "event queue full; dropping new events (counted in metrics.dropped; total reported at shutdown)");
                        self.metrics
                            .set_error("event queue full; events dropped".to_string());
                    }
                    return false;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    Metrics::add(&self.metrics.dropped, n);
                    return false;
                }
            }
        }
    }

    /// Counters now.
    pub fn metrics(&self) -> MetricsSnapshot {
        // Taken before recorded, so the depth errs high, never low. (The
        // caller counts an event just after sending it: a reader can see it
        // taken but not yet recorded, hence the saturation.)
        let taken = self.metrics.taken.load(Relaxed);
        let mut s = self.metrics.snapshot();
        s.queue_depth = s.recorded.saturating_sub(taken);
        s
    }

    fn report(&self, complete: bool) -> DeliveryReport {
        let m = self.metrics();
        DeliveryReport {
            complete,
            delivered: m.delivered,
            spooled: m.spooled,
            dropped: m.dropped,
            rejected: m.rejected,
            ledger_written: m.ledger_written,
            queued: m.queue_depth,
        }
    }

    /// Delivers everything recorded so far, or spools it if the server is
    /// unavailable; waits at most `timeout` (then spools what is left in
    /// memory). Blocks the caller: bindings release the GIL around it.
    pub fn flush(&self, timeout: Duration) -> DeliveryReport {
        if self.closed.load(Relaxed) {
            return self.final_report().unwrap_or_else(|| self.report(true));
        }
        let (reply, rx) = std::sync::mpsc::sync_channel(1);
        let deadline = Instant::now() + timeout;
        if self.ctrl.send(Ctrl::Flush { deadline, reply }).is_err() {
            return self.report(false);
        }
        let done = rx
            .recv_timeout(timeout + Duration::from_millis(500))
            .unwrap_or(false);
        self.report(done)
    }

    /// Stops taking events, delivers (or spools) everything queued within
    /// `timeout`, stops the worker and returns the final counts. Later calls
    /// return the same report.
    pub fn shutdown(&self, timeout: Duration) -> DeliveryReport {
        let handle = match self.worker.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        let Some(handle) = handle else {
            return self.final_report().unwrap_or_else(|| self.report(true));
        };
        self.closed.store(true, Relaxed);
        let (reply, rx) = std::sync::mpsc::sync_channel(1);
        let deadline = Instant::now() + timeout;
        let done = if self.ctrl.send(Ctrl::Shutdown { deadline, reply }).is_ok() {
            rx.recv_timeout(timeout + Duration::from_secs(2))
                .unwrap_or(false)
        } else {
            false
        };
        if handle.is_finished() || done {
            let _ = handle.join();
        } else {
            // The worker is stuck (e.g. a disk that does not answer): leave
            // it detached rather than hang the host process.
            tracing::error!(target: "sealtrail::worker", "worker did not stop in time; detaching it");
        }
        let report = self.report(done);
        if report.dropped > 0 {
            let m = self.metrics();
            tracing::warn!(
                target: "sealtrail::worker",
                dropped = m.dropped,
                queue_full = m.dropped_queue_full,
                spool_full = m.dropped_spool_full,
                invalid = m.invalid,
                "events were dropped during this client's life"
            );
        }
        if let Ok(mut g) = self.final_report.lock() {
            *g = Some(report.clone());
        }
        report
    }

    fn final_report(&self) -> Option<DeliveryReport> {
        self.final_report.lock().ok().and_then(|g| g.clone())
    }
}

impl Drop for Client {
    /// Unlike a transport that discards its queue on drop, this drains it:
    /// `shutdown(shutdown_timeout)`.
    fn drop(&mut self) {
        self.shutdown(self.shutdown_timeout);
    }
}
