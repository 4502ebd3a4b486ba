//! The worker: one named thread running its own current-thread tokio
//! runtime. It takes events from the bounded queue, redacts, validates,
//! canonicalises and hashes them, batches them (size or linger), and sends
//! one batch at a time while it keeps draining the queue. Batches the server
//! cannot take now go to the disk spool and are replayed in order; with no
//! endpoint they go to the local ledger. Nothing unredacted leaves here.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::time::sleep_until;

use super::config::{ClientConfig, OverflowPolicy};
use super::ledger::LedgerWriter;
use super::metrics::Metrics;
use super::receipts::{now_text, KeptReceipt, ReceiptLog};
use super::record::{Queued, Slot};
use super::redaction::redactor_for;
use super::spool::{Append, Spool};
use super::transport::{Outcome, Transport};
use super::wire::{BodyBuilder, IngestResponse};
use super::EventRedactor;
use crate::event::{Event, EventId};
use crate::hash::{sha256, Hash};
use crate::redact::Redactor;

/// Control messages, on their own unbounded channel so that a full event
/// queue never holds up a flush or a shutdown.
pub(crate) enum Ctrl {
    Flush {
        deadline: Instant,
        reply: std::sync::mpsc::SyncSender<bool>,
    },
    Shutdown {
        deadline: Instant,
        reply: std::sync::mpsc::SyncSender<bool>,
    },
}

pub(crate) enum Sink {
    Ledger(LedgerWriter),
    Remote(Box<Remote>),
}

struct Batch {
    body: Arc<Vec<u8>>,
    count: u32,
    from_spool: bool,
    /// Position in this run's record order (None: read back from the spool).
    no: Option<u64>,
    /// Invalid events dropped while this batch was open, settled with it.
    extra: u64,
    /// (id, agent) of each event, in batch order, to keep the receipts
    /// under (empty when receipts are not kept, or read back from the spool).
    ids: Vec<(EventId, Arc<str>)>,
}

type SendFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;

pub(crate) struct Remote {
    transport: Transport,
    spool: Spool,
    memory: VecDeque<Batch>,
    inflight: Option<(Batch, SendFuture)>,
    backoff_until: Option<Instant>,
    attempt: u32,
    warned_full_at: Option<Instant>,
    full_since_warn: u64,
    marks: Watermark,
    receipts: Option<ReceiptLog>,
    receipts_warned: bool,
}

/// Counts `persisted` as a prefix of record order: batch `n` is added only
/// once batches `0..n` are settled, however their sends finish.
#[derive(Default)]
struct Watermark {
    next_no: u64,
    done_below: u64,
    settled: std::collections::BTreeMap<u64, u64>,
}

impl Watermark {
    fn take_no(&mut self) -> u64 {
        self.next_no += 1;
        self.next_no - 1
    }
    fn all_settled(&self) -> bool {
        self.done_below == self.next_no
    }
    fn settle(&mut self, m: &Metrics, b: &Batch) {
        let Some(no) = b.no else { return };
        self.settled.insert(no, b.count as u64 + b.extra);
        while let Some(n) = self.settled.remove(&self.done_below) {
            Metrics::add(&m.persisted, n);
            self.done_below += 1;
        }
    }
}

impl Remote {
    pub(crate) fn new(transport: Transport, spool: Spool, receipts: Option<ReceiptLog>) -> Self {
        Remote {
            transport,
            spool,
            memory: VecDeque::new(),
            inflight: None,
            backoff_until: None,
            attempt: 0,
            warned_full_at: None,
            full_since_warn: 0,
            marks: Watermark::default(),
            receipts,
            receipts_warned: false,
        }
    }
}

struct Sealed {
    agent: String,
    canonical: Vec<u8>,
    hash: Hash,
}

struct Waiter {
    deadline: Instant,
    reply: std::sync::mpsc::SyncSender<bool>,
}

enum Wake {
    Ctrl(Option<Ctrl>),
    Sent(Outcome),
    Event(Option<Slot>),
    Linger,
    Backoff,
    Deadline,
}

pub(crate) struct Worker {
    cfg: ClientConfig,
    metrics: Arc<Metrics>,
    redactor: Arc<dyn EventRedactor>,
    rx: mpsc::Receiver<Slot>,
    ctrl: mpsc::UnboundedReceiver<Ctrl>,
    sink: Sink,
    body: BodyBuilder,
    sealed: Vec<Sealed>,
    pending: u32,
    linger_at: Option<Instant>,
    waiters: Vec<Waiter>,
    closing: Option<Waiter>,
    high_water: usize,
    ctrl_open: bool,
    open_invalid: u64,
    overrides: HashMap<Arc<str>, Result<Arc<Redactor>, String>>,
    /// The open batch's (id, agent) pairs, when receipts are kept.
    batch_ids: Vec<(EventId, Arc<str>)>,
    keep_receipts: bool,
    last_agent: Option<Arc<str>>,
}

/// Distinct per-call redaction overrides kept compiled (tools × specs is
/// small; past this, extra specs are compiled per event rather than grown).
const MAX_OVERRIDES: usize = 256;

const T: &str = "sealtrail::worker";

/// Longest `Retry-After` honoured as given (the server knows its load).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

impl Worker {
    pub(crate) fn new(
        cfg: ClientConfig,
        metrics: Arc<Metrics>,
        redactor: Arc<dyn EventRedactor>,
        rx: mpsc::Receiver<Slot>,
        ctrl: mpsc::UnboundedReceiver<Ctrl>,
        sink: Sink,
    ) -> Self {
        let high_water = cfg.high_water_mark();
        let keep_receipts = matches!(&sink, Sink::Remote(r) if r.receipts.is_some());
        Worker {
            cfg,
            metrics,
            redactor,
            rx,
            ctrl,
            sink,
            body: BodyBuilder::default(),
            sealed: Vec::new(),
            pending: 0,
            linger_at: None,
            waiters: Vec::new(),
            closing: None,
            high_water,
            ctrl_open: true,
            open_invalid: 0,
            overrides: HashMap::new(),
            batch_ids: Vec::new(),
            keep_receipts,
            last_agent: None,
        }
    }

    pub(crate) async fn run(mut self) {
        let far = || Instant::now() + Duration::from_secs(86_400);
        loop {
            self.start_send();
            if self.check_waiters() {
                break;
            }
            let (has_inflight, can_take, backoff_at) = match &self.sink {
                Sink::Ledger(_) => (false, true, None),
                Sink::Remote(r) => {
                    let can_take = self.cfg.overflow == OverflowPolicy::Spill
                        || !r.spool.is_empty()
                        || r.backoff_until.is_some()
                        || r.memory.len() < self.cfg.max_in_memory_batches;
                    (
                        r.inflight.is_some(),
                        can_take,
                        r.backoff_until.filter(|_| r.inflight.is_none()),
                    )
                }
            };
            let can_take = can_take && self.closing.is_none();
            let linger_at = self.linger_at;
            let deadline_at = self
                .waiters
                .iter()
                .map(|w| w.deadline)
                .chain(self.closing.as_ref().map(|w| w.deadline))
                .min();
            let inflight = match &mut self.sink {
                Sink::Remote(r) => r.inflight.as_mut().map(|(_, f)| f),
                Sink::Ledger(_) => None,
            };
            let wake = tokio::select! {
                biased;
                c = self.ctrl.recv(), if self.ctrl_open => Wake::Ctrl(c),
                o = async {
                    match inflight {
                        Some(f) => f.await,
                        None => std::future::pending().await,
                    }
                }, if has_inflight => Wake::Sent(o),
                _ = sleep_until(deadline_at.unwrap_or_else(far).into()), if deadline_at.is_some() => Wake::Deadline,
                e = self.rx.recv(), if can_take => Wake::Event(e),
                _ = sleep_until(linger_at.unwrap_or_else(far).into()), if linger_at.is_some() => Wake::Linger,
                _ = sleep_until(backoff_at.unwrap_or_else(far).into()), if backoff_at.is_some() => Wake::Backoff,
            };
            match wake {
                Wake::Ctrl(Some(Ctrl::Flush { deadline, reply })) => {
                    self.drain_queue();
                    self.seal_batch();
                    self.waiters.push(Waiter { deadline, reply });
                }
                Wake::Ctrl(Some(Ctrl::Shutdown { deadline, reply })) => {
                    self.begin_close(deadline, Some(reply));
                }
                Wake::Ctrl(None) => {
                    self.ctrl_open = false;
                    // The client is gone without a shutdown: drain with the
                    // default grace period.
                    let d = Instant::now() + self.cfg.shutdown_timeout;
                    self.begin_close(d, None);
                }
                Wake::Sent(outcome) => self.on_outcome(outcome),
                Wake::Event(Some(slot)) => {
                    self.take(slot);
                    // Take what else is queued without going back through
                    // select!, up to one batch.
                    for _ in 1..self.cfg.batch_size {
                        match self.rx.try_recv() {
                            Ok(slot) => self.take(slot),
                            Err(_) => break,
                        }
                    }
                    // Let the runtime poll its I/O and timers: under a
                    // steady stream of events the queue is always ready,
                    // and a send in flight must still make progress.
                    tokio::task::yield_now().await;
                }
                Wake::Event(None) => {
                    let d = Instant::now() + self.cfg.shutdown_timeout;
                    self.begin_close(d, None);
                }
                Wake::Linger => self.seal_batch(),
                Wake::Backoff => {
                    if let Sink::Remote(r) = &mut self.sink {
                        r.backoff_until = None;
                    }
                }
                Wake::Deadline => self.on_deadline(),
            }
        }
        tracing::debug!(target: T, "worker stopped");
    }

    fn begin_close(&mut self, deadline: Instant, reply: Option<std::sync::mpsc::SyncSender<bool>>) {
        self.rx.close();
        self.drain_queue();
        self.seal_batch();
        let (tx, _rx) = std::sync::mpsc::sync_channel(1);
        let reply = reply.unwrap_or(tx);
        if let Some(old) = self.closing.replace(Waiter { deadline, reply }) {
            let _ = old.reply.try_send(false);
        }
    }

    fn drain_queue(&mut self) {
        while let Ok(slot) = self.rx.try_recv() {
            self.take(slot);
        }
    }

    /// The events of one queue slot, in order.
    fn take(&mut self, slot: Slot) {
        Metrics::add(&self.metrics.taken, slot.len());
        match slot {
            Slot::One(mut q) => self.process(&mut q),
            Slot::Pair(mut pair) => {
                for q in pair.iter_mut() {
                    self.process(q);
                }
            }
            Slot::Call(call) => {
                for mut q in call.into_events() {
                    self.process(&mut q);
                }
            }
        }
    }

    /// Redact, validate, canonicalise, hash, append to the open batch.
    fn process(&mut self, q: &mut Queued) {
        let limits = self.cfg.limits;
        let raw_messages = match q.resolve(&limits, self.cfg.prompt_storage) {
            Ok(m) => m,
            Err(e) => return self.invalid(&q.event, &e.to_string()),
        };
        let special = match q.opts.redact.take() {
            None => None,
            Some(spec) => match self.override_redactor(spec) {
                Ok(r) => Some(r),
                Err(e) => return self.invalid(&q.event, &e),
            },
        };
        let ev = &mut q.event;
        let m = &self.metrics;
        let redactor: &dyn EventRedactor = match &special {
            Some(r) => &**r,
            None => &*self.redactor,
        };
        if catch_unwind(AssertUnwindSafe(|| redactor.redact(ev))).is_err() {
            // Never ship what could not be redacted.
            Metrics::add(&m.invalid, 1);
            Metrics::add(&m.dropped, 1);
            m.set_error(format!(
                "redactor panicked on event {}; event dropped",
                ev.id
            ));
            tracing::error!(target: T, id = %ev.id, "redactor panicked; event dropped");
            self.settle_invalid(1);
            return;
        }
        if let Some(msgs) = raw_messages {
            // prompt_storage = full: stored as given, after the rest is redacted.
            super::record::store_messages(ev, msgs);
        }
        if let Err(e) = ev.validate(&limits) {
            return self.invalid(&q.event, &e.to_string());
        }
        let too_large = |len: usize| {
            format!(
                "too_large: {len} bytes in canonical form, over the limit of {}",
                limits.max_event_bytes
            )
        };
        let ev = &mut q.event;
        match &self.sink {
            Sink::Ledger(_) => {
                let canonical = ev.canonical_bytes();
                if canonical.len() > limits.max_event_bytes {
                    return self.invalid(ev, &too_large(canonical.len()));
                }
                let hash = sha256(&canonical);
                self.sealed.push(Sealed {
                    agent: std::mem::take(&mut ev.agent_id),
                    canonical,
                    hash,
                })
            }
            Sink::Remote(_) => {
                if self.body.is_empty() {
                    self.body = BodyBuilder::for_events(self.cfg.batch_size);
                }
                // Canonicalised and hashed in place, in the body.
                if let Err(len) = self.body.push_event(ev, limits.max_event_bytes) {
                    return self.invalid(ev, &too_large(len));
                }
                if self.keep_receipts {
                    // One Arc per run of events of the same agent.
                    let agent = match &self.last_agent {
                        Some(a) if **a == *ev.agent_id => a.clone(),
                        _ => {
                            let a: Arc<str> = ev.agent_id.as_str().into();
                            self.last_agent = Some(a.clone());
                            a
                        }
                    };
                    self.batch_ids.push((ev.id, agent));
                }
            }
        }
        self.pending += 1;
        if self.linger_at.is_none() {
            self.linger_at = Some(Instant::now() + self.cfg.linger);
        }
        if self.pending as usize >= self.cfg.batch_size {
            self.seal_batch();
        }
    }

    /// The redactor for a per-call override, compiled once per distinct spec.
    fn override_redactor(&mut self, spec: Arc<str>) -> Result<Arc<Redactor>, String> {
        if let Some(r) = self.overrides.get(&spec) {
            return r.clone();
        }
        let mut cfg = self.cfg.clone();
        let r = cfg
            .redact
            .apply_override(&spec)
            .map_err(|e| e.to_string())
            .and_then(|()| redactor_for(&cfg).map_err(|e| e.to_string()))
            .map_err(|e| format!("redaction override {spec:?}: {e}"));
        if self.overrides.len() < MAX_OVERRIDES {
            self.overrides.insert(spec, r.clone());
        }
        r
    }

    fn invalid(&mut self, ev: &Event, why: &str) {
        Metrics::add(&self.metrics.invalid, 1);
        Metrics::add(&self.metrics.dropped, 1);
        self.settle_invalid(1);
        let msg = format!("event {} refused before sending: {why}", ev.id);
        tracing::warn!(target: T, id = %ev.id, "{msg}");
        self.metrics.set_error(msg);
    }

    /// An invalid event is settled with the batch open around it, or at once
    /// when nothing before it is pending.
    fn settle_invalid(&mut self, n: u64) {
        let nothing_before = self.pending == 0
            && match &self.sink {
                Sink::Ledger(_) => true,
                Sink::Remote(r) => r.marks.all_settled(),
            };
        if nothing_before {
            Metrics::add(&self.metrics.persisted, n);
        } else {
            self.open_invalid += n;
        }
    }

    /// Closes the open batch and hands it to the ledger or the sender.
    fn seal_batch(&mut self) {
        self.linger_at = None;
        if self.pending == 0 {
            return;
        }
        let count = std::mem::take(&mut self.pending);
        let extra = std::mem::take(&mut self.open_invalid);
        match &mut self.sink {
            Sink::Ledger(w) => {
                let sealed = std::mem::take(&mut self.sealed);
                let res = w.append(
                    sealed
                        .iter()
                        .map(|s| (s.agent.as_str(), s.canonical.as_slice(), &s.hash)),
                );
                match res {
                    Ok(n) => {
                        Metrics::add(&self.metrics.ledger_written, n);
                        Metrics::add(&self.metrics.persisted, n + extra);
                    }
                    Err(e) => {
                        Metrics::add(&self.metrics.dropped, count as u64);
                        Metrics::add(&self.metrics.persisted, count as u64 + extra);
                        tracing::error!(target: "sealtrail::ledger", error = %e, events = count, "ledger write failed; events lost");
                        self.metrics.set_error(e.to_string());
                    }
                }
            }
            Sink::Remote(r) => {
                let body = std::mem::take(&mut self.body).finish();
                let batch = Batch {
                    body: Arc::new(body),
                    count,
                    from_spool: false,
                    no: Some(r.marks.take_no()),
                    extra,
                    ids: std::mem::take(&mut self.batch_ids),
                };
                let spill = !r.spool.is_empty()
                    || r.backoff_until.is_some()
                    || (self.cfg.overflow == OverflowPolicy::Spill
                        && (self.rx.len() > self.high_water
                            || r.memory.len() >= self.cfg.max_in_memory_batches));
                r.memory.push_back(batch);
                if spill {
                    spill_memory(r, &self.metrics);
                }
            }
        }
    }

    /// Starts the next send if none is in flight and no backoff is running:
    /// the spool first (older), then batches held in memory.
    fn start_send(&mut self) {
        let Sink::Remote(r) = &mut self.sink else {
            return;
        };
        if r.inflight.is_some() || r.backoff_until.is_some() {
            return;
        }
        let batch = loop {
            if let Some(rec) = r.spool.peek() {
                match r.spool.read(&rec) {
                    Ok(body) => {
                        break Batch {
                            body: Arc::new(body),
                            count: rec.count,
                            from_spool: true,
                            no: None,
                            extra: 0,
                            ids: Vec::new(),
                        }
                    }
                    Err(e) => {
                        // Unreadable on disk: it can never be sent.
                        tracing::error!(target: "sealtrail::spool", error = %e, events = rec.count, "spooled batch unreadable; events lost");
                        Metrics::add(&self.metrics.dropped, rec.count as u64);
                        self.metrics.set_error(e.to_string());
                        r.spool.ack();
                        continue;
                    }
                }
            }
            match r.memory.pop_front() {
                Some(b) => break b,
                None => return,
            }
        };
        let t = r.transport.clone();
        let body = batch.body.clone();
        r.inflight = Some((batch, Box::pin(async move { t.send(&body).await })));
    }

    fn on_outcome(&mut self, outcome: Outcome) {
        let Sink::Remote(r) = &mut self.sink else {
            return;
        };
        let Some((batch, _)) = r.inflight.take() else {
            return;
        };
        let m = &self.metrics;
        let count = batch.count as u64;
        match outcome {
            Outcome::Accepted { answer, raw } => {
                r.attempt = 0;
                let answer = answer.unwrap_or_else(|| {
                    tracing::warn!(target: "sealtrail::transport", "2xx answer without receipts; counting the batch as delivered");
                    IngestResponse::default()
                });
                let dups = answer.receipts.iter().filter(|x| x.duplicate).count() as u64;
                let refused = (answer.errors.len() as u64).min(count);
                if refused > 0 {
                    write_refused_events(&r.spool, &batch.body, &answer, &raw, m);
                }
                let ok = count - refused;
                // Spool state first: a reader that sees `delivered` move
                // sees the spool it implies.
                if batch.from_spool {
                    r.spool.ack();
                    m.spool_bytes.store(r.spool.bytes(), Relaxed);
                    Metrics::add(&m.replayed, ok);
                } else {
                    r.marks.settle(m, &batch);
                }
                Metrics::add(&m.duplicates, dups);
                Metrics::add(&m.rejected, refused);
                Metrics::add(&m.delivered, ok);
                keep_receipts(r, &batch, &answer, m);
            }
            Outcome::Retry { after, error } => {
                Metrics::add(&m.retries, 1);
                r.attempt = r.attempt.saturating_add(1);
                let delay = match after {
                    Some(a) => a.min(MAX_RETRY_AFTER),
                    None => backoff(self.cfg.backoff_initial, self.cfg.backoff_max, r.attempt),
                };
                if r.attempt == 1 {
                    tracing::warn!(target: "sealtrail::transport", error = %error, retry_in_ms = delay.as_millis() as u64, "server unavailable; spooling and retrying");
                } else {
                    tracing::debug!(target: "sealtrail::transport", error = %error, attempt = r.attempt, retry_in_ms = delay.as_millis() as u64, "retrying");
                }
                m.set_error(error);
                r.backoff_until = Some(Instant::now() + delay);
                if !batch.from_spool {
                    r.memory.push_front(batch);
                    spill_memory(r, m);
                }
            }
            Outcome::Refused { status, answer } => {
                r.attempt = 0;
                let msg = format!(
                    "server refused a batch of {count} events with {status}; written to {}/rejected",
                    r.spool.dir().display()
                );
                tracing::warn!(target: "sealtrail::transport", status, events = count, "{msg}");
                if let Err(e) = r.spool.write_rejected(status, &answer, &batch.body) {
                    tracing::error!(target: "sealtrail::spool", error = %e, "could not write rejected batch");
                }
                m.set_error(format!(
                    "{msg}: {}",
                    answer.chars().take(200).collect::<String>()
                ));
                Metrics::add(&m.rejected, count);
                if batch.from_spool {
                    r.spool.ack();
                    m.spool_bytes.store(r.spool.bytes(), Relaxed);
                } else {
                    r.marks.settle(m, &batch);
                }
            }
        }
    }

    /// Everything handed to the worker so far is delivered, or spooled
    /// while the server is unavailable.
    fn idle(&self) -> bool {
        if self.pending > 0 {
            return false;
        }
        match &self.sink {
            Sink::Ledger(_) => true,
            Sink::Remote(r) => {
                r.memory.is_empty()
                    && r.inflight.is_none()
                    && (r.spool.is_empty() || r.backoff_until.is_some())
            }
        }
    }

    /// Answers finished flushes; returns true when the worker should stop.
    fn check_waiters(&mut self) -> bool {
        if !self.idle() {
            return false;
        }
        for w in self.waiters.drain(..) {
            let _ = w.reply.try_send(true);
        }
        if let Some(w) = self.closing.take() {
            if self.rx.is_empty() {
                let _ = w.reply.try_send(true);
                return true;
            }
            self.closing = Some(w);
            self.drain_queue();
        }
        false
    }

    /// A flush or shutdown ran out of time: put whatever is still in memory
    /// on disk so the report holds (delivered or spooled).
    fn on_deadline(&mut self) {
        let now = Instant::now();
        let expired_flush = self.waiters.iter().any(|w| w.deadline <= now);
        let expired_close = self.closing.as_ref().is_some_and(|w| w.deadline <= now);
        if !expired_flush && !expired_close {
            return;
        }
        self.seal_batch();
        if let Sink::Remote(r) = &mut self.sink {
            if expired_close {
                // Abandon the request in flight; the server deduplicates
                // if it did arrive.
                if let Some((b, _)) = r.inflight.take() {
                    if !b.from_spool {
                        r.memory.push_front(b);
                    }
                }
            }
            spill_memory(r, &self.metrics);
        }
        let mut keep = Vec::new();
        for w in self.waiters.drain(..) {
            if w.deadline <= now {
                let _ = w.reply.try_send(false);
            } else {
                keep.push(w);
            }
        }
        self.waiters = keep;
        if expired_close {
            if let Some(w) = self.closing.as_ref() {
                let _ = w.reply.try_send(false);
            }
            // Stop on the next turn of the loop.
            self.closing = None;
            self.stop_now();
        }
    }

    fn stop_now(&mut self) {
        // Make `idle()` true and the loop end: drop the sender state.
        if let Sink::Remote(r) = &mut self.sink {
            r.inflight = None;
            r.memory.clear();
            r.backoff_until = Some(Instant::now());
        }
        let (tx, _rx) = std::sync::mpsc::sync_channel(1);
        self.closing = Some(Waiter {
            deadline: Instant::now(),
            reply: tx,
        });
        self.rx.close();
        // Anything still queued goes straight to disk.
        self.drain_queue();
        self.seal_batch();
        if let Sink::Remote(r) = &mut self.sink {
            spill_memory(r, &self.metrics);
        }
    }
}

/// Writes every batch held in memory to the spool, oldest first.
fn spill_memory(r: &mut Remote, m: &Metrics) {
    while let Some(b) = r.memory.pop_front() {
        let n = b.count as u64;
        match r.spool.append(b.count, &b.body) {
            Ok(Append::Written) => {
                Metrics::add(&m.spooled, n);
            }
            Ok(Append::Full) => {
                Metrics::add(&m.dropped, n);
                Metrics::add(&m.dropped_spool_full, n);
                r.full_since_warn += n;
                let now = Instant::now();
                if r.warned_full_at
                    .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(10))
                {
                    let msg = format!(
                        "spool {} reached its cap of {} bytes; dropped {} events (total {})",
                        r.spool.dir().display(),
                        r.spool.bytes(),
                        r.full_since_warn,
                        m.dropped_spool_full.load(Relaxed)
                    );
                    tracing::warn!(target: "sealtrail::spool", "{msg}");
                    m.set_error(msg);
                    r.warned_full_at = Some(now);
                    r.full_since_warn = 0;
                }
            }
            Err(e) => {
                Metrics::add(&m.dropped, n);
                tracing::error!(target: "sealtrail::spool", error = %e, events = n, "spool write failed; events lost");
                m.set_error(e.to_string());
            }
        }
        r.marks.settle(m, &b);
    }
    m.spool_bytes.store(r.spool.bytes(), Relaxed);
}

/// Appends the receipts of a delivered batch to the receipt file. Their
/// agents come from the batch's id list, or, for a batch read back from the
/// spool, from its body. A failure is counted and logged once; delivery
/// goes on regardless.
fn keep_receipts(r: &mut Remote, batch: &Batch, answer: &IngestResponse, m: &Metrics) {
    let Some(log) = r.receipts.as_mut() else {
        return;
    };
    if answer.receipts.is_empty() {
        return;
    }
    let parsed;
    let ids: &[(EventId, Arc<str>)] = if batch.ids.is_empty() {
        parsed = ids_in_body(&batch.body);
        &parsed
    } else {
        &batch.ids
    };
    let agents: HashMap<EventId, &Arc<str>> = ids.iter().map(|(id, a)| (*id, a)).collect();
    let received_at = now_text();
    let mut lost = 0u64;
    let kept: Vec<KeptReceipt> = answer
        .receipts
        .iter()
        .filter_map(|x| match agents.get(&x.id) {
            Some(a) => Some(KeptReceipt {
                id: x.id,
                agent_id: a.to_string(),
                seq: x.seq,
                hash: x.hash,
                received_at: received_at.clone(),
            }),
            None => {
                lost += 1;
                None
            }
        })
        .collect();
    let failure = match log.append(&kept) {
        Ok(()) => {
            Metrics::add(&m.receipts_kept, kept.len() as u64);
            (lost > 0).then(|| {
                format!("{lost} receipts name events that were not in their batch; not kept")
            })
        }
        Err(e) => {
            lost += kept.len() as u64;
            Some(format!(
                "could not keep receipts in {}: {e}; delivered events cannot be audited from this machine",
                log.path().display()
            ))
        }
    };
    if let Some(msg) = failure {
        Metrics::add(&m.receipts_failed, lost);
        if !r.receipts_warned {
            r.receipts_warned = true;
            tracing::error!(target: T, "{msg} (counted in metrics.receipts_failed)");
            m.set_error(msg);
        }
    }
}

/// (id, agent) of every event of a batch body.
fn ids_in_body(body: &[u8]) -> Vec<(EventId, Arc<str>)> {
    #[derive(serde::Deserialize)]
    struct Body {
        events: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        event: Ids,
    }
    #[derive(serde::Deserialize)]
    struct Ids {
        id: EventId,
        agent_id: String,
    }
    serde_json::from_slice::<Body>(body)
        .map(|b| {
            b.events
                .into_iter()
                .map(|e| (e.event.id, e.event.agent_id.into()))
                .collect()
        })
        .unwrap_or_default()
}

/// Exponential backoff with jitter: a random delay in [d/2, d] where
/// d = initial * 2^(attempt-1), capped at `max`.
fn backoff(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = initial.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let d = exp.min(max).as_millis() as u64;
    Duration::from_millis(d / 2 + fastrand::u64(0..=d / 2))
}

/// Per-event errors in a 2xx answer: write those events and the answer.
fn write_refused_events(
    spool: &Spool,
    body: &[u8],
    answer: &IngestResponse,
    raw: &str,
    m: &Metrics,
) {
    let picked = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("events").and_then(|e| e.as_array()).cloned())
        .map(|events| {
            let chosen: Vec<serde_json::Value> = answer
                .errors
                .iter()
                .filter_map(|e| events.get(e.index).cloned())
                .collect();
            serde_json::json!({ "events": chosen })
        });
    let out = match picked {
        Some(v) => serde_json::to_vec(&v).unwrap_or_default(),
        None => body.to_vec(),
    };
    tracing::warn!(target: "sealtrail::transport", events = answer.errors.len(), "server refused some events of a batch; written to rejected/");
    m.set_error(format!(
        "server refused {} events: {}",
        answer.errors.len(),
        answer
            .errors
            .first()
            .map(|e| format!("{}: {}", e.error, e.detail))
            .unwrap_or_default()
    ));
    if let Err(e) = spool.write_rejected(200, raw, &out) {
        tracing::error!(target: "sealtrail::spool", error = %e, "could not write rejected events");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let i = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        let d1 = backoff(i, max, 1);
        assert!(d1 >= Duration::from_millis(50) && d1 <= i);
        let d10 = backoff(i, max, 10);
        assert!(d10 >= Duration::from_secs(1) && d10 <= max);
    }
}
