//! The transparency log's read side: signed checkpoints, and inclusion and
//! consistency proofs against them. Any key of the organisation may read
//! them (agents audit their own receipts with an ingest key): they carry
//! hashes and positions of the caller's own organisation only.

use axum::extract::{Query, State};
use axum::Json;
use sealtrail_core::event::EventId;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{Auth, Perm};
use crate::db;
use crate::db::log::{LogError, StoredCheckpoint};
use crate::error::ApiError;
use crate::log::{consistency_proof, inclusion_proof};
use crate::state::AppState;

impl From<LogError> for ApiError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::Db(e) => ApiError::Db(e),
            e @ LogError::Corrupt { .. } => ApiError::Internal(e.to_string()),
        }
    }
}

fn checkpoint_json(auth: &Auth, c: &StoredCheckpoint) -> Value {
    let origin = c.note.lines().next().unwrap_or_default();
    json!({
        "org_id": auth.org_id,
        "origin": origin,
        "size": c.size,
        "root": c.root,
        "signed_at": c.signed_at,
        "note": c.note,
    })
}

async fn latest(state: &AppState, auth: &Auth) -> Result<StoredCheckpoint, ApiError> {
    db::log::latest_checkpoint(state.db(), auth.org_id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(
                "this organisation has no checkpoint yet: the server signs one every \
                 SEALTRAIL_CHECKPOINT_INTERVAL once events are integrated (and only with a log \
                 key, SEALTRAIL_LOG_KEY_FILE)"
                    .into(),
            )
        })
}

async fn checkpoint_of_size(
    state: &AppState,
    auth: &Auth,
    size: Option<u64>,
) -> Result<StoredCheckpoint, ApiError> {
    match size {
        None => latest(state, auth).await,
        Some(s) => db::log::checkpoint_at(state.db(), auth.org_id, s)
            .await?
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "no checkpoint of tree size {s}; GET /v1/checkpoints lists them"
                ))
            }),
    }
}

/// `GET /v1/checkpoints/latest`
pub async fn latest_checkpoint(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Value>, ApiError> {
    auth.require(Perm::Proof)?;
    let c = latest(&state, &auth).await?;
    Ok(Json(checkpoint_json(&auth, &c)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinceQuery {
    #[serde(default)]
    since: u64,
    limit: Option<i64>,
}

/// `GET /v1/checkpoints?since=SIZE`: every checkpoint of a larger tree,
/// oldest first (at most `limit`, 1,000 by default).
pub async fn list_checkpoints(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<SinceQuery>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Perm::Proof)?;
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::BadRequest("limit is 1 to 10000".into()));
    }
    let list = db::log::checkpoints_since(state.db(), auth.org_id, q.since, limit).await?;
    Ok(Json(json!({
        "checkpoints": list.iter().map(|c| checkpoint_json(&auth, c)).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    event_id: String,
    tree_size: Option<u64>,
}

/// `GET /v1/proofs/inclusion?event_id=…[&tree_size=…]`: the event's log
/// index and audit path against the checkpoint of that size (the latest by
/// default).
pub async fn inclusion(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<InclusionQuery>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Perm::Proof)?;
    let id: EventId = q
        .event_id
        .parse()
        .map_err(|e: sealtrail_core::Error| ApiError::BadRequest(e.message().to_string()))?;
    let leaf = db::log::event_leaf(state.db(), auth.org_id, uuid::Uuid::from_u128(id.0 .0))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no event {id} in this organisation")))?;
    let cp = checkpoint_of_size(&state, &auth, q.tree_size).await;
    let not_yet = |size: Option<u64>| ApiError::Unprocessable {
        kind: "not_integrated",
        detail: format!(
            "event {id} is stored but not yet in {}; the log integrates links within seconds \
             and signs a checkpoint every SEALTRAIL_CHECKPOINT_INTERVAL: ask again later",
            size.map_or("any checkpoint".to_string(), |s| format!(
                "the checkpoint of size {s}"
            ))
        ),
    };
    let cp = match cp {
        Ok(c) => c,
        Err(ApiError::NotFound(_)) if q.tree_size.is_none() => return Err(not_yet(None)),
        Err(e) => return Err(e),
    };
    let index = match leaf.log_index {
        Some(i) if i < cp.size => i,
        _ => return Err(not_yet(Some(cp.size))),
    };
    let proof = inclusion_proof(state.db(), auth.org_id, cp.size, index).await?;
    let leaf_hash = sealtrail_core::tlog::leaf_hash(
        &auth.org_id.to_string(),
        &leaf.agent_id,
        leaf.seq,
        &leaf.hash,
    )
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(json!({
        "event_id": id.to_string(),
        "org_id": auth.org_id,
        "agent_id": leaf.agent_id,
        "seq": leaf.seq,
        "hash": leaf.hash,
        "log_index": index,
        "tree_size": cp.size,
        "leaf_hash": leaf_hash,
        "proof": proof,
        "checkpoint": cp.note,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    from: u64,
    to: Option<u64>,
}

/// `GET /v1/proofs/consistency?from=M[&to=N]`: that the tree of size N
/// (the latest checkpoint's by default) extends the tree of size M.
pub async fn consistency(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Perm::Proof)?;
    let cp = checkpoint_of_size(&state, &auth, q.to).await?;
    if q.from > cp.size {
        return Err(ApiError::BadRequest(format!(
            "from={} is past the checkpoint's tree size {}",
            q.from, cp.size
        )));
    }
    let proof = if q.from == 0 || q.from == cp.size {
        vec![]
    } else {
        consistency_proof(state.db(), auth.org_id, q.from, cp.size).await?
    };
    Ok(Json(json!({
        "from": q.from,
        "to": cp.size,
        "proof": proof,
        "checkpoint": cp.note,
    })))
}
