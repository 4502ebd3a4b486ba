//! `POST /v1/events`: validate each event on its own, recompute its content
//! hash, then store and chain the valid ones. See `sealtrail_core::wire` for
//! the status codes.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use sealtrail_core::event::{parse_json_limited, PayloadSpans};
use sealtrail_core::hash::{sha256, Hash};
use sealtrail_core::wire::{EventError, IngestResponse, MAX_BATCH_BYTES, MAX_BATCH_EVENTS};
use sealtrail_core::{ErrorKind, Event, Limits};
use serde_json::Value;

use crate::auth::{Auth, Perm};
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
    let (valid, mut errors) =
        tokio::task::spawn_blocking(move || validate_batch(&bytes, &limits, &search))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??;
    Metrics::add(&state.metrics().batches, 1);

    ensure_partitions(&state, &valid).await?;
    let outcomes = if valid.is_empty() {
        vec![]
    } else {
        db::events::ingest(state.db(), auth.org_id, auth.key_id, &valid).await?
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

/// Reads a (decompressed) body up to `limit` bytes.
pub async fn read_body(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    match axum::body::to_bytes(body, limit).await {
        Ok(b) => Ok(b),
        Err(e) => {
            let mut src: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(s) = src {
                if s.is::<http_body_util::LengthLimitError>() {
                    return Err(ApiError::TooLarge(format!(
                        "the batch is over {limit} bytes (after decompression); send fewer events per batch"
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

/// Splits and validates a batch body: the valid events, and one error per
/// refused event.
pub fn validate_batch(
    bytes: &[u8],
    limits: &Limits,
    search: &SearchConfig,
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
        match validate_one(raw, limits, &wrapper_limits) {
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

fn validate_one(raw: &[u8], limits: &Limits, wrapper: &Limits) -> Result<Valid, Refusal> {
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

/// Creates the month partitions a batch needs, once per month and process.
async fn ensure_partitions(state: &AppState, events: &[NewEvent]) -> Result<(), ApiError> {
    let mut need: Vec<NaiveDate> = Vec::new();
    {
        let known = state
            .0
            .partitions
            .lock()
            .map_err(|_| ApiError::Internal("partition cache poisoned".into()))?;
        for e in events {
            let d = e.event.ts.to_chrono().date_naive();
            let k = db::month_key(d);
            if !known.contains(&k) && !need.iter().any(|n| db::month_key(*n) == k) {
                need.push(d);
            }
        }
    }
    for d in need {
        db::ensure_partition(state.db(), d).await?;
        if let Ok(mut known) = state.0.partitions.lock() {
            known.insert(db::month_key(d));
        }
    }
    Ok(())
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
