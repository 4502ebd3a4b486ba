//! Admin endpoints: API keys, legal holds, retention policy.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::{Auth, Perm, Role};
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

fn parse_uuid(what: &str, s: &str) -> Result<Uuid, ApiError> {
    s.parse()
        .map_err(|_| ApiError::BadRequest(format!("{what} {s:?} is not a UUID")))
}

fn json_body<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(b).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKeyReq {
    role: Role,
    name: Option<String>,
}

pub async fn create_key(
    State(state): State<AppState>,
    auth: Auth,
    body: bytes::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.require(Perm::Admin)?;
    let req: NewKeyReq = json_body(&body)?;
    let k = db::keys::create(state.db(), auth.org_id, req.role, req.name.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(k).unwrap_or(Value::Null)),
    ))
}

pub async fn list_keys(State(state): State<AppState>, auth: Auth) -> Result<Json<Value>, ApiError> {
    auth.require(Perm::Admin)?;
    let keys = db::keys::list(state.db(), auth.org_id).await?;
    Ok(Json(json!({ "keys": keys })))
}

pub async fn delete_key(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Perm::Admin)?;
    let id = parse_uuid("key id", &id)?;
    if db::keys::deactivate(state.db(), auth.org_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!(
            "no key {id} in this organisation"
        )))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewHoldReq {
    agent_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    reason: String,
}

fn time(
    field: &str,
    s: &Option<String>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    s.as_deref()
        .map(|s| {
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|e| ApiError::BadRequest(format!("{field} {s:?} is not RFC 3339 ({e})")))
        })
        .transpose()
}

pub async fn create_hold(
    State(state): State<AppState>,
    auth: Auth,
    body: bytes::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.require(Perm::Admin)?;
    let req: NewHoldReq = json_body(&body)?;
    if req.reason.trim().is_empty() {
        return Err(ApiError::BadRequest("a legal hold needs a reason".into()));
    }
    let (from, to) = (time("from", &req.from)?, time("to", &req.to)?);
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(ApiError::BadRequest("from is after to".into()));
        }
    }
    let h = db::holds::create(
        state.db(),
        auth.org_id,
        req.agent_id.as_deref(),
        from,
        to,
        &req.reason,
        auth.key_id,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(h).unwrap_or(Value::Null)),
    ))
}

pub async fn list_holds(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Value>, ApiError> {
    auth.require(Perm::Admin)?;
    let holds = db::holds::list(state.db(), auth.org_id).await?;
    Ok(Json(json!({ "legal_holds": holds })))
}

pub async fn release_hold(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Perm::Admin)?;
    let id = parse_uuid("legal hold id", &id)?;
    if db::holds::release(state.db(), auth.org_id, id, auth.key_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!(
            "no active legal hold {id} in this organisation"
        )))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionReq {
    /// Days to keep events; null keeps them forever.
    days: Option<i32>,
}

pub async fn get_retention(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Value>, ApiError> {
    auth.require(Perm::Admin)?;
    let days = db::get_retention(state.db(), auth.org_id).await?;
    Ok(Json(json!({ "days": days })))
}

pub async fn put_retention(
    State(state): State<AppState>,
    auth: Auth,
    body: bytes::Bytes,
) -> Result<Json<Value>, ApiError> {
    auth.require(Perm::Admin)?;
    let req: RetentionReq = json_body(&body)?;
    if let Some(d) = req.days {
        if d < 1 {
            return Err(ApiError::BadRequest(
                "days must be at least 1 (or null to keep forever)".into(),
            ));
        }
    }
    db::set_retention(state.db(), auth.org_id, req.days).await?;
    Ok(Json(json!({ "days": req.days })))
}
