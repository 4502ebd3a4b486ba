//! Reading: `GET /v1/events` (filters, cursor pages), `GET /v1/events/{id}`,
//! `GET /v1/chains`.

use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use sealtrail_core::{EventId, EventType};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{Auth, Perm};
use crate::db::events::{self, BadRow, Cursor, Filter, StoredEvent};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::state::AppState;

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

/// Query parameters shared by listing and export.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterParams {
    pub agent_id: Option<String>,
    pub actor_id: Option<String>,
    pub session_id: Option<String>,
    pub trace_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub name: Option<String>,
    /// approved | denied | escalated
    pub decision: Option<String>,
    pub has_pii: Option<bool>,
    /// RFC 3339, inclusive.
    pub from: Option<String>,
    /// RFC 3339, exclusive.
    pub to: Option<String>,
    /// Full-text search (web search syntax: words, "a phrase", -word, or)
    /// over names, errors, decision reasons and the first words of inputs
    /// and outputs (see crate::search for what is indexed).
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// Export only: jsonl (default) or csv.
    pub format: Option<String>,
}

fn parse_time(field: &str, s: &Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    s.as_deref()
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| ApiError::BadRequest(format!("{field}={s:?} is not RFC 3339 ({e})")))
        })
        .transpose()
}

impl FilterParams {
    pub fn filter(&self) -> Result<Filter, ApiError> {
        for (name, v) in [
            ("agent_id", &self.agent_id),
            ("actor_id", &self.actor_id),
            ("session_id", &self.session_id),
            ("trace_id", &self.trace_id),
            ("name", &self.name),
            ("q", &self.q),
        ] {
            no_nul(name, v.as_deref())?;
        }
        if let Some(t) = &self.kind {
            t.parse::<EventType>()
                .map_err(|e| ApiError::BadRequest(e.message().to_string()))?;
        }
        if let Some(d) = &self.decision {
            if !matches!(d.as_str(), "approved" | "denied" | "escalated") {
                return Err(ApiError::BadRequest(format!(
                    "decision={d:?}; expected approved, denied or escalated"
                )));
            }
        }
        // A search is bounded: its text and its words (each word is a GIN
        // lookup; 5,000 OR-terms held pooled connections for minutes).
        if let Some(q) = &self.q {
            if q.len() > MAX_Q_BYTES {
                return Err(ApiError::BadRequest(format!(
                    "q is {} bytes; a search is at most {MAX_Q_BYTES}",
                    q.len()
                )));
            }
        }
        // Rewritten to the words the index holds (see crate::search).
        let q = match self.q.as_deref().filter(|q| !q.trim().is_empty()) {
            None => None,
            Some(q) => Some(crate::search::websearch_text(q).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "q={q:?} has no letters or digits to search for; search for words"
                ))
            })?),
        };
        if let Some(q) = &q {
            let words = q
                .split_whitespace()
                .filter(|w| !matches!(*w, "or" | "OR"))
                .count();
            if words > MAX_Q_WORDS {
                return Err(ApiError::BadRequest(format!(
                    "q has {words} words; a search is at most {MAX_Q_WORDS} words"
                )));
            }
        }
        Ok(Filter {
            agent_id: self.agent_id.clone(),
            actor_id: self.actor_id.clone(),
            session_id: self.session_id.clone(),
            trace_id: self.trace_id.clone(),
            kind: self.kind.clone(),
            name: self.name.clone(),
            decision: self.decision.clone(),
            has_pii: self.has_pii,
            from: parse_time("from", &self.from)?,
            to: parse_time("to", &self.to)?,
            q,
        })
    }
}

/// PostgreSQL text cannot hold U+0000: a clear 400, not a database error.
pub fn no_nul(name: &str, v: Option<&str>) -> Result<(), ApiError> {
    if v.is_some_and(|v| v.contains('\0')) {
        return Err(ApiError::BadRequest(format!(
            "{name} holds U+0000 (%00), which no stored value can; remove it"
        )));
    }
    Ok(())
}

/// The longest search text and the most words in it.
pub const MAX_Q_BYTES: usize = 1024;
pub const MAX_Q_WORDS: usize = 32;

pub fn encode_cursor(e: &StoredEvent) -> String {
    format!("{}_{}", e.event.ts.as_micros(), e.event.id)
}

fn decode_cursor(s: &str) -> Result<Cursor, ApiError> {
    let bad = || ApiError::BadRequest(format!("cursor {s:?} is not one this server gave out"));
    let (ts, id) = s.split_once('_').ok_or_else(bad)?;
    let micros: i64 = ts.parse().map_err(|_| bad())?;
    // Event times lie in 1970..=9999 (docs/chain-spec.md §1); so do cursors.
    sealtrail_core::Timestamp::from_micros(micros).map_err(|_| bad())?;
    let id: EventId = id.parse().map_err(|_| bad())?;
    Ok(Cursor {
        ts: DateTime::from_timestamp_micros(micros).ok_or_else(bad)?,
        id: events::uuid_of(id),
    })
}

/// Adds each event's `log_index` (its leaf in the organisation's
/// transparency log; null until integrated) to its JSON form.
async fn with_log_indexes(
    state: &AppState,
    org: uuid::Uuid,
    rows: &[Result<StoredEvent, BadRow>],
    out: &mut [Value],
) -> Result<(), ApiError> {
    let links: Vec<(usize, (String, u64))> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.as_ref()
                .ok()
                .map(|s| (i, (s.event.agent_id.clone(), s.seq)))
        })
        .collect();
    let keys: Vec<(String, u64)> = links.iter().map(|(_, k)| k.clone()).collect();
    let idx = crate::db::log::log_indexes(state.db(), org, &keys).await?;
    for ((i, _), li) in links.iter().zip(idx) {
        if let Value::Object(o) = &mut out[*i] {
            o.insert("log_index".into(), json!(li));
        }
    }
    Ok(())
}

/// The JSON form of a stored event (the same for listing, by-id and jsonl export).
pub fn record_json(r: &Result<StoredEvent, BadRow>) -> Value {
    match r {
        Ok(s) => serde_json::to_value(s).unwrap_or(Value::Null),
        Err(b) => json!({ "seq": b.seq, "error": "unreadable", "detail": b.detail }),
    }
}

pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Query(p): Query<FilterParams>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Perm::Read)?;
    let filter = p.filter()?;
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1..={MAX_LIMIT}"
        )));
    }
    let cursor = p.cursor.as_deref().map(decode_cursor).transpose()?;
    let rows = events::query(state.db(), auth.org_id, &filter, cursor, limit).await?;
    Metrics::add(&state.metrics().queries, 1);
    let next = if rows.len() as i64 == limit {
        rows.iter()
            .rev()
            .find_map(|r| r.as_ref().ok())
            .map(encode_cursor)
    } else {
        None
    };
    let mut events: Vec<Value> = rows.iter().map(record_json).collect();
    with_log_indexes(&state, auth.org_id, &rows, &mut events).await?;
    Ok(Json(json!({ "events": events, "next_cursor": next })))
}

pub async fn get_one(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Perm::Read)?;
    let id: EventId = id
        .parse()
        .map_err(|e: sealtrail_core::Error| ApiError::BadRequest(e.message().to_string()))?;
    match events::by_id(state.db(), auth.org_id, id).await? {
        Some(r) => {
            let rows = [r];
            let mut out = [record_json(&rows[0])];
            with_log_indexes(&state, auth.org_id, &rows, &mut out).await?;
            let [v] = out;
            Ok(Json(v))
        }
        None => Err(ApiError::NotFound(format!(
            "no event {id} in this organisation"
        ))),
    }
}

pub async fn chains(State(state): State<AppState>, auth: Auth) -> Result<Json<Value>, ApiError> {
    auth.require(Perm::Read)?;
    let chains = events::chains(state.db(), auth.org_id, None).await?;
    Ok(Json(json!({ "chains": chains })))
}
