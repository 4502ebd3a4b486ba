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

/// Largest admin request body, after decompression: a key name or a hold's
/// reason is text a person types.
pub const MAX_ADMIN_BODY: usize = 16 * 1024;
/// Longest key name and legal-hold reason, in bytes.
const MAX_NAME: usize = 256;
const MAX_REASON: usize = 4096;

async fn json_body<T: serde::de::DeserializeOwned>(body: axum::body::Body) -> Result<T, ApiError> {
    let b = super::ingest::read_body_limited(body, MAX_ADMIN_BODY, "an admin request").await?;
    serde_json::from_slice(&b).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

fn text_limit(what: &str, v: &str, max: usize) -> Result<(), ApiError> {
    if v.len() > max {
        return Err(ApiError::BadRequest(format!(
            "{what} is {} bytes; at most {max}",
            v.len()
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "{what} holds a control character (a newline, an escape); write it on one line"
        )));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKeyReq {
    role: Role,
    name: Option<String>,
    /// An ingest key limited to these agent id patterns (`support-*`).
    agents: Option<Vec<String>>,
}

pub async fn create_key(
    State(state): State<AppState>,
    auth: Auth,
    body: axum::body::Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.require(Perm::Admin)?;
    let req: NewKeyReq = json_body(body).await?;
    if let Some(n) = &req.name {
        text_limit("name", n, MAX_NAME)?;
    }
    if let Some(a) = &req.agents {
        crate::auth::check_agent_patterns(req.role, a).map_err(ApiError::BadRequest)?;
    }
    let k = db::keys::create_scoped(
        state.db(),
        auth.org_id,
        req.role,
        req.name.as_deref(),
        req.agents.as_deref(),
    )
    .await?;
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
    match db::keys::deactivate(state.db(), auth.org_id, id).await? {
        db::keys::Deactivated::Done => Ok(StatusCode::NO_CONTENT),
        db::keys::Deactivated::NotFound => Err(ApiError::NotFound(format!(
            "no key {id} in this organisation"
        ))),
        db::keys::Deactivated::LastAdmin => Err(ApiError::Conflict(format!(
            "key {id} is the organisation's last active admin key; create another admin key \
             first (POST /v1/keys with role admin)"
        ))),
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
    body: axum::body::Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.require(Perm::Admin)?;
    let req: NewHoldReq = json_body(body).await?;
    if req.reason.trim().is_empty() {
        return Err(ApiError::BadRequest("a legal hold needs a reason".into()));
    }
    if req.reason.len() > MAX_REASON {
        return Err(ApiError::BadRequest(format!(
            "the reason is {} bytes; at most {MAX_REASON}",
            req.reason.len()
        )));
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
    body: axum::body::Body,
) -> Result<Json<Value>, ApiError> {
    auth.require(Perm::Admin)?;
    let req: RetentionReq = json_body(body).await?;
    if let Some(d) = req.days {
        if !(1..=db::MAX_RETENTION_DAYS).contains(&d) {
            return Err(ApiError::BadRequest(format!(
                "days must be 1 to {} (100 years), or null to keep forever",
                db::MAX_RETENTION_DAYS
            )));
        }
    }
    db::set_retention(state.db(), auth.org_id, req.days).await?;
    Ok(Json(json!({ "days": req.days })))
}
