//! `GET /v1/chains/{agent_id}/verify` and `POST /v1/verify`: streamed NDJSON,
//! one line per chain, then a summary line. The whole-organisation verify
//! sends `{"progress": n}` lines while it scans.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::auth::{Auth, Perm};
use crate::db;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::state::AppState;

/// How many of the newest stored checkpoints `POST /v1/verify` checks.
const STORED_CHECKPOINTS: i64 = 1000;

fn line(v: Value) -> Bytes {
    let mut s = v.to_string();
    s.push('\n');
    Bytes::from(s)
}

/// One chain's result as a JSON line.
pub fn chain_line(agent_id: &str, r: &db::verify::ChainResult) -> Value {
    match r {
        Ok(v) => json!({"agent_id": agent_id, "ok": true, "count": v.count,
                        "head_seq": v.head_seq, "head_hash": v.head_hash}),
        Err(b) => json!({"agent_id": agent_id, "ok": false, "seq": b.seq,
                         "reason": b.reason, "detail": b.detail}),
    }
}

/// Adds `"keys": n` to a chain's line when more than one API key appended
/// it: each agent should hold its own key (`keys create --agents`).
pub fn keys_note(line: &mut Value, keys: Option<usize>) {
    if let (Some(n), Value::Object(o)) = (keys, line) {
        if n > 1 {
            o.insert("keys".into(), json!(n));
        }
    }
}

/// The line for events of an agent that has no chain head.
pub fn headless_line(agent_id: &str) -> Value {
    json!({"agent_id": agent_id, "ok": false, "seq": 1, "reason": "forged",
           "detail": "events stored for an agent that has no chain head: written around the server"})
}

fn ndjson(rx: mpsc::Receiver<Bytes>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        super::channel_body(rx),
    )
        .into_response()
}

async fn internal(tx: &mpsc::Sender<Bytes>, e: sqlx::Error) {
    tracing::error!(target: "sealtrail::verify", error = %e, "verify failed");
    let _ = tx
        .send(line(json!({"error": "internal",
                          "detail": "verification stopped: database error (logged)"})))
        .await;
}

pub async fn verify_agent(
    State(state): State<AppState>,
    auth: Auth,
    Path(agent_id): Path<String>,
) -> Result<Response, ApiError> {
    auth.require(Perm::Read)?;
    super::events::no_nul("agent_id", Some(&agent_id))?;
    let heads = db::events::chains(state.db(), auth.org_id, Some(&agent_id)).await?;
    let Some(head) = heads.into_iter().next() else {
        return Err(ApiError::NotFound(format!(
            "no chain for agent {agent_id:?} in this organisation"
        )));
    };
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    tokio::spawn(async move {
        let r = match db::verify::verify_chain(state.db(), auth.org_id, &head, |_| {}).await {
            Ok(r) => r,
            Err(e) => return internal(&tx, e).await,
        };
        let count = r.as_ref().map(|v| v.count).unwrap_or(0);
        Metrics::add(&state.metrics().events_verified, count);
        Metrics::add(&state.metrics().chains_broken, r.is_err() as u64);
        let _ = tx.send(line(chain_line(&head.agent_id, &r))).await;
        let _ = tx
            .send(line(json!({"done": true, "ok": r.is_ok(), "chains": 1,
                              "events": count, "broken": r.is_err() as u64})))
            .await;
    });
    Ok(ndjson(rx))
}

pub async fn verify_org(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    auth.require(Perm::Read)?;
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let org_id = auth.org_id;
    tokio::spawn(async move {
        let progress_tx = tx.clone();
        let report = db::verify::verify_org(state.db(), org_id, |n| {
            let _ = progress_tx.try_send(line(json!({ "progress": n })));
        })
        .await;
        let report = match report {
            Ok(r) => r,
            Err(e) => return internal(&tx, e).await,
        };
        let (mut events, mut broken) = (0u64, 0u64);
        for (head, r) in &report.chains {
            match r {
                Ok(v) => events += v.count,
                Err(_) => broken += 1,
            }
            let mut l = chain_line(&head.agent_id, r);
            keys_note(&mut l, report.keys_used.get(&head.agent_id).copied());
            if tx.send(line(l)).await.is_err() {
                return;
            }
        }
        for a in &report.headless {
            broken += 1;
            let _ = tx.send(line(headless_line(a))).await;
        }
        Metrics::add(&state.metrics().events_verified, events);
        Metrics::add(&state.metrics().chains_broken, broken);
        // The log: the stored links against every stored checkpoint (the
        // server's own copies; `sealtrail verify --checkpoints` checks the
        // published ones, which the database's owner cannot change).
        let mut log = json!(null);
        let mut rewritten = false;
        if let Some(key) = state.0.log_key.get() {
            // The newest stored checkpoints (one every 10 s is 3 million a
            // year): the tree must have each one's root. These are the
            // server's own copies; the published ones are checked with
            // `sealtrail verify --checkpoints`.
            let notes =
                match db::log::latest_checkpoints(state.db(), org_id, STORED_CHECKPOINTS).await {
                    Ok(c) => c.into_iter().map(|c| c.note).collect::<Vec<_>>(),
                    Err(e) => return internal(&tx, e).await,
                };
            let keys = crate::log::CheckpointKeys {
                log_key: key.clone(),
                witness_keys: vec![],
                threshold: 0,
            };
            match crate::log::verify_log(state.db(), org_id, &notes, &keys, |_, _| {}).await {
                Ok(r) => {
                    for p in &r.problems {
                        let _ = tx.send(line(json!({ "log": p }))).await;
                    }
                    rewritten = r.rewritten();
                    log = json!({"checkpoints": r.checkpoints, "checkpoints_ok": r.checkpoints_ok,
                                 "leaves": r.leaves, "rewritten": rewritten});
                }
                Err(crate::db::log::LogError::Db(e)) => return internal(&tx, e).await,
                Err(e) => {
                    rewritten = true;
                    let _ = tx
                        .send(line(
                            json!({"log": {"kind": "log_unreadable", "detail": e.to_string()}}),
                        ))
                        .await;
                }
            }
        }
        let _ = tx
            .send(line(json!({"done": true, "ok": broken == 0 && !rewritten,
                              "chains": report.chains.len() + report.headless.len(),
                              "events": events, "broken": broken, "log": log})))
            .await;
    });
    Ok(ndjson(rx))
}
