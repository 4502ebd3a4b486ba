//! `GET /v1/chains/{agent_id}/verify` and `POST /v1/verify`: streamed NDJSON,
//! one line per chain as it finishes, then a summary line.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::auth::{Auth, Perm};
use crate::db;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::state::AppState;

pub async fn verify_agent(
    State(state): State<AppState>,
    auth: Auth,
    Path(agent_id): Path<String>,
) -> Result<Response, ApiError> {
    auth.require(Perm::Read)?;
    let heads = db::events::chains(state.db(), auth.org_id, Some(&agent_id)).await?;
    if heads.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no chain for agent {agent_id:?} in this organisation"
        )));
    }
    Ok(stream_verify(state, auth.org_id, heads, false))
}

pub async fn verify_org(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    auth.require(Perm::Read)?;
    let heads = db::events::chains(state.db(), auth.org_id, None).await?;
    Ok(stream_verify(state, auth.org_id, heads, true))
}

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

fn stream_verify(
    state: AppState,
    org_id: Uuid,
    heads: Vec<db::events::ChainHead>,
    whole_org: bool,
) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let (mut events, mut broken) = (0u64, 0u64);
        let chains = heads.len();
        let mut results = std::pin::pin!(db::verify::verify_many(state.db(), org_id, &heads));
        while let Some((head, r)) = results.next().await {
            let r = match r {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(target: "sealtrail::verify", error = %e, "verify failed");
                    let _ = tx.send(line(json!({"error": "internal", "detail": "verification stopped: database error (logged)"}))).await;
                    return;
                }
            };
            match &r {
                Ok(v) => events += v.count,
                Err(_) => broken += 1,
            }
            Metrics::add(
                &state.metrics().events_verified,
                r.as_ref().map(|v| v.count).unwrap_or(0),
            );
            if tx.send(line(chain_line(&head.agent_id, &r))).await.is_err() {
                return;
            }
        }
        let mut headless = vec![];
        if whole_org {
            match db::verify::headless_agents(state.db(), org_id).await {
                Ok(h) => headless = h,
                Err(e) => {
                    tracing::error!(target: "sealtrail::verify", error = %e, "headless check failed")
                }
            }
            for a in &headless {
                broken += 1;
                let _ = tx
                    .send(line(json!({"agent_id": a, "ok": false, "seq": 1, "reason": "forged",
                        "detail": "events stored for an agent that has no chain head: written around the server"})))
                    .await;
            }
        }
        Metrics::add(&state.metrics().chains_broken, broken);
        let _ = tx
            .send(line(
                json!({"done": true, "ok": broken == 0, "chains": chains + headless.len(),
                              "events": events, "broken": broken}),
            ))
            .await;
    });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        super::channel_body(rx),
    )
        .into_response()
}
