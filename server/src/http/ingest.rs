//! `POST /v1/events`: validate each event on its own, recompute its content
//! hash, then store and chain the valid ones. See `sealtrail_core::wire` for
//! the status codes.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use sealtrail_core::event::{parse_json_limited, PayloadSpans};
use sealtrail_core::hash::{sha256, Hash};
use sealtrail_core::wire::{EventError, IngestResponse, MAX_BATCH_BYTES, MAX_BATCH_EVENTS};
use sealtrail_core::{ErrorKind, Event, Limits};
use serde_json::Value;

use crate::auth::{Auth, Perm};
use crate::config::TimeWindow;
use crate::db;
use crate::db::events::{NewEvent, Outcome};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::search::{event_words, SearchConfig};
use crate::state::AppState;

/// Room for the `{"event": ..., "content_hash": "..."}` wrapper around an event.
const WRAPPER_BYTES: usize = 128;

pub async fn ingest(
    State(state): State<AppState>,
    auth: Auth,
    body: Body,
) -> Result<Response, ApiError> {
    auth.require(Perm::Ingest)?;
    let started = Instant::now();
    let bytes = read_body(body, MAX_BATCH_BYTES).await?;
    let (limits, search) = (state.0.limits, state.0.search);
    let window = Window::around_now(state.0.window);
    let (mut valid, mut errors) =
        tokio::task::spawn_blocking(move || validate_batch(&bytes, &limits, &search, &window))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??;
    Metrics::add(&state.metrics().batches, 1);
    // A key limited to some agents appends to their chains only.
    if auth.scoped {
        let patterns = db::keys::key_agents(state.db(), auth.key_id)
            .await?
            .unwrap_or_default();
        let allowed = |agent: &str| {
            patterns
                .iter()
                .any(|p| crate::auth::agent_matches(p, agent))
        };
        let (ok, refused): (Vec<_>, Vec<_>) =
            valid.into_iter().partition(|e| allowed(&e.event.agent_id));
        valid = ok;
        for e in refused {
            errors.push(event_error(
                e.index,
                Some(e.event.id.to_string()),
                "forbidden_agent",
                format!(
                    "event {}: this key may append only for agents {patterns:?}, not {:?}; use \
                     that agent's key",
                    e.index, e.event.agent_id
                ),
            ));
        }
    }

    // Partitions are made ahead by the maintenance task, never here: a
    // month without one (the task is behind) answers 503 and the client
    // retries.
    let outcomes = if valid.is_empty() {
        vec![]
    } else {
        match db::events::ingest(state.db(), auth.org_id, auth.key_id, &valid).await {
            Ok(o) => o,
            Err(e) => {
                let e = ApiError::from(e);
                if e.is_missing_partition() {
                    state.0.maintenance.notify_one();
                }
                return Err(e);
            }
        }
    };
    let mut receipts = Vec::with_capacity(outcomes.len());
    let (mut stored, mut dups) = (0, 0);
    for (_, o) in outcomes {
        match o {
            Outcome::Stored(r) => {
                if r.duplicate {
                    dups += 1;
                } else {
                    stored += 1;
                }
                receipts.push(r);
            }
            Outcome::IdReused { index, id } => errors.push(EventError {
                index,
                id: Some(id.to_string()),
                error: "duplicate_id".into(),
                detail: format!(
                    "event id {id} was stored before with different content; \
                     an id names one event forever, make a new one"
                ),
            }),
        }
    }
    errors.sort_by_key(|e| e.index);
    let m = state.metrics();
    Metrics::add(&m.events_stored, stored);
    Metrics::add(&m.events_duplicate, dups);
    Metrics::add(&m.events_rejected, errors.len() as u64);
    Metrics::add(&m.ingest_micros, started.elapsed().as_micros() as u64);
    tracing::debug!(target: "sealtrail::ingest", stored, dups, rejected = errors.len(), "batch");
    let status = match (receipts.is_empty(), errors.is_empty()) {
        (_, true) => StatusCode::OK,
        (false, false) => StatusCode::MULTI_STATUS,
        (true, false) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    Ok((status, Json(IngestResponse { receipts, errors })).into_response())
}

/// Reads a (decompressed) batch body up to `limit` bytes.
pub async fn read_body(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    read_body_limited(body, limit, "the batch").await
}

/// How long a request body may take to arrive, in ms
/// (`SEALTRAIL_BODY_TIMEOUT`, 60 s: 16 MiB in it is about 280 KB/s). A body
/// sent a byte at a time no longer holds its connection. Set once at start.
pub static BODY_TIMEOUT_MS: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(60_000);

fn body_timeout() -> std::time::Duration {
    std::time::Duration::from_millis(BODY_TIMEOUT_MS.load(std::sync::atomic::Ordering::Relaxed))
}

/// Reads a (decompressed) body of `what` up to `limit` bytes, within
/// [`BODY_TIMEOUT_MS`]: a clear 413 past the limit, having read no more
/// than it, and a 408 past the deadline.
pub async fn read_body_limited(
    body: Body,
    limit: usize,
    what: &str,
) -> Result<bytes::Bytes, ApiError> {
    let deadline = body_timeout();
    let read = tokio::time::timeout(deadline, axum::body::to_bytes(body, limit));
    let Ok(read) = read.await else {
        return Err(ApiError::Timeout(format!(
            "{what} did not arrive within {:.1} s; send it faster or smaller",
            deadline.as_secs_f64()
        )));
    };
    match read {
        Ok(b) => Ok(b),
        Err(e) => {
            let mut src: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(s) = src {
                if s.is::<http_body_util::LengthLimitError>() {
                    let hint = if what == "the batch" {
                        "; send fewer events per batch"
                    } else {
                        ""
                    };
                    return Err(ApiError::TooLarge(format!(
                        "{what} is over {limit} bytes (after decompression){hint}"
                    )));
                }
                src = s.source();
            }
            Err(ApiError::BadRequest(format!(
                "could not read the body: {e}"
            )))
        }
    }
}

fn event_error(
    index: usize,
    id: Option<String>,
    kind: &str,
    detail: impl Into<String>,
) -> EventError {
    EventError {
        index,
        id,
        error: kind.to_string(),
        detail: detail.into(),
    }
}

/// The window of times a batch's events must fall in, fixed when the batch
/// arrives.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub config: TimeWindow,
    /// The server's clock when the batch arrived, µs since the epoch.
    pub now_us: i64,
}

impl Window {
    pub fn around_now(config: TimeWindow) -> Self {
        Window {
            config,
            now_us: sealtrail_core::Timestamp::now().as_micros(),
        }
    }

    /// Why `event`'s times are refused, if they are.
    fn refuse(&self, event: &Event) -> Option<(&'static str, String)> {
        let (lo, hi) = self.config.bounds_micros(self.now_us);
        let ts = event.ts.as_micros();
        if ts < lo || ts > hi {
            let at = |us: i64| {
                sealtrail_core::Timestamp::from_micros(us.max(0))
                    .map(|t| t.to_string())
                    .unwrap_or_default()
            };
            return Some((
                "out_of_window",
                format!(
                    "ts {} is outside the times this server takes, {} ({} before its clock, \
                     SEALTRAIL_MAX_PAST) to {} ({} after, SEALTRAIL_MAX_FUTURE); an agent's \
                     clock may be wrong, or its events waited too long to be sent. The client \
                     keeps refused events in its spool's rejected/ folder: ship them with \
                     `sealtrail import` once the operator has widened the window",
                    event.ts,
                    at(lo),
                    humantime::format_duration(self.config.max_past),
                    at(hi),
                    humantime::format_duration(self.config.max_future),
                ),
            ));
        }
        let id_ms = event.id.0.timestamp_ms() as i64;
        let skew = self.config.skew_millis().min(i64::MAX as u64) as i64;
        if (id_ms - ts.div_euclid(1000)).abs() > skew {
            return Some((
                ErrorKind::InvalidEvent.as_str(),
                format!(
                    "the time in id {} ({}) is more than {} away from ts {}; make the id \
                     when the event happens (a ULID's first 48 bits are its time in ms)",
                    event.id,
                    at_ms(id_ms),
                    humantime::format_duration(self.config.max_future),
                    event.ts,
                ),
            ));
        }
        None
    }
}

fn at_ms(ms: i64) -> String {
    sealtrail_core::Timestamp::from_micros(ms.saturating_mul(1000))
        .map(|t| t.to_string())
        .unwrap_or_else(|_| format!("{ms} ms since 1970"))
}

/// Splits and validates a batch body: the valid events, and one error per
/// refused event.
pub fn validate_batch(
    bytes: &[u8],
    limits: &Limits,
    search: &SearchConfig,
    window: &Window,
) -> Result<(Vec<NewEvent>, Vec<EventError>), ApiError> {
    let items = super::split::split_batch(bytes).map_err(ApiError::BadRequest)?;
    if items.len() > MAX_BATCH_EVENTS {
        return Err(ApiError::TooLarge(format!(
            "the batch has {} events, over the limit of {MAX_BATCH_EVENTS}; split it",
            items.len()
        )));
    }
    let wrapper_limits = Limits {
        max_event_bytes: limits.max_event_bytes + WRAPPER_BYTES,
        max_depth: limits.max_depth + 1,
    };
    let mut valid = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (index, raw) in items.into_iter().enumerate() {
        match validate_one(raw, limits, &wrapper_limits, window) {
            Ok((event, content_hash, canonical, spans)) => valid.push(NewEvent {
                index,
                words: event_words(&event, search),
                event,
                content_hash,
                canonical,
                spans,
            }),
            Err((id, kind, detail)) => errors.push(event_error(
                index,
                id,
                kind,
                format!("event {index}: {detail}"),
            )),
        }
    }
    Ok((valid, errors))
}

type Refusal = (Option<String>, &'static str, String);

/// A valid event, its content hash, its canonical bytes and where its JSON
/// members are in them (stored as they are).
type Valid = (Event, Hash, Vec<u8>, PayloadSpans);

fn validate_one(
    raw: &[u8],
    limits: &Limits,
    wrapper: &Limits,
    window: &Window,
) -> Result<Valid, Refusal> {
    // The wrapper limits leave room for `{"event": …}`; errors quote the
    // limits the caller configured.
    let value = parse_json_limited(raw, wrapper).map_err(|e| {
        let msg = match e.kind() {
            ErrorKind::TooDeep => format!(
                "the event nests deeper than {} levels; flatten it or raise SEALTRAIL_MAX_DEPTH",
                limits.max_depth
            ),
            ErrorKind::TooLarge => format!(
                "the event is {} bytes, over the limit of {} bytes; record less or raise \
                 SEALTRAIL_MAX_EVENT_BYTES",
                raw.len(),
                limits.max_event_bytes
            ),
            _ => e.message().to_string(),
        };
        (None, e.kind().as_str(), msg)
    })?;
    let Value::Object(mut obj) = value else {
        return Err((
            None,
            ErrorKind::MalformedJson.as_str(),
            "must be an object {\"event\": {...}, \"content_hash\": \"...\"}".into(),
        ));
    };
    let id = obj
        .get("event")
        .and_then(|e| e.get("id"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let refuse = |kind: ErrorKind, msg: String| (id.clone(), kind.as_str(), msg);
    if let Some(k) = obj.keys().find(|k| *k != "event" && *k != "content_hash") {
        return Err(refuse(
            ErrorKind::InvalidEvent,
            format!("unknown field {k:?} beside event and content_hash"),
        ));
    }
    let hash: Hash = match obj.remove("content_hash") {
        Some(Value::String(s)) => s.parse().map_err(|e: sealtrail_core::Error| {
            refuse(e.kind(), format!("content_hash: {}", e.message()))
        })?,
        _ => {
            return Err(refuse(
                ErrorKind::InvalidEvent,
                "content_hash (64 lower-case hex) is missing".into(),
            ))
        }
    };
    let ev = obj.remove("event").ok_or_else(|| {
        refuse(
            ErrorKind::InvalidEvent,
            "the event object is missing".into(),
        )
    })?;
    let event =
        Event::from_value(ev, limits).map_err(|e| refuse(e.kind(), e.message().to_string()))?;
    let (canonical, spans) = event.canonical_bytes_with_spans();
    if canonical.len() > limits.max_event_bytes {
        return Err(refuse(
            ErrorKind::TooLarge,
            format!(
                "{} bytes in canonical form, over the limit of {} bytes",
                canonical.len(),
                limits.max_event_bytes
            ),
        ));
    }
    if contains_nul(&canonical) {
        return Err(refuse(
            ErrorKind::InvalidEvent,
            "a string holds U+0000, which PostgreSQL cannot store; remove it before recording"
                .into(),
        ));
    }
    let actual = sha256(&canonical);
    if actual != hash {
        return Err(refuse(
            ErrorKind::HashMismatch,
            format!(
                "content_hash is {hash} but the event's canonical form hashes to {actual}; \
                 compute it over the RFC 8785 form of docs/chain-spec.md"
            ),
        ));
    }
    // Last: the event is well formed, but its time is not one this server
    // stores (nothing a request carries may make a partition).
    if let Some((kind, msg)) = window.refuse(&event) {
        return Err((id, kind, msg));
    }
    Ok((event, hash, canonical, spans))
}

/// Whether canonical JSON holds an escaped U+0000 (`\u0000` not preceded by
/// an escaping backslash).
fn contains_nul(c: &[u8]) -> bool {
    let pat = b"\\u0000";
    let finder = memchr::memmem::Finder::new(pat);
    let mut i = 0;
    while let Some(p) = finder.find(&c[i..]) {
        let at = i + p;
        let backslashes = c[..at].iter().rev().take_while(|&&b| b == b'\\').count();
        if backslashes % 2 == 0 {
            return true;
        }
        i = at + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::contains_nul;

    #[test]
    fn nul_detection() {
        assert!(contains_nul(br#"{"a":"x\u0000"}"#));
        assert!(!contains_nul(br#"{"a":"x\\u0000"}"#));
        assert!(contains_nul(br#"{"a":"x\\\u0000"}"#));
        assert!(!contains_nul(br#"{"a":"x"}"#));
    }
}
