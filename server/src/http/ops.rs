//! Operations: liveness, readiness, Prometheus metrics, the OpenAPI document.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use std::time::Duration;

use crate::db;
use crate::state::AppState;

pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok", "version": sealtrail_core::version() }))
}

/// 200 when the server can take requests now; 503 when the database is
/// unreachable, and 503 `degraded` (with the reasons) when every pooled
/// connection is in use, statements wait on locks, or the partition of the
/// current month is missing: the states in which requests hang or fail.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let pool = state.db();
    let mut reasons: Vec<String> = Vec::new();
    if pool.size() >= pool.options().get_max_connections() && pool.num_idle() == 0 {
        reasons.push("every database connection is in use".into());
    }
    let probe = async {
        let waits = db::lock_waits(pool).await?;
        let months = db::partition_months(pool).await?;
        Ok::<_, sqlx::Error>((waits, months))
    };
    match tokio::time::timeout(Duration::from_secs(2), probe).await {
        Ok(Ok((waits, months))) => {
            if waits > 0 {
                reasons.push(format!(
                    "{waits} database statement(s) wait on a lock for over 1 s"
                ));
            }
            let this = db::month_key(chrono::Utc::now().date_naive());
            if !months.contains(&this) {
                reasons.push(
                    "the partition of the current month is missing (the maintenance task is \
                     behind: see the server log)"
                        .into(),
                );
            }
        }
        Ok(Err(e)) => {
            tracing::warn!(target: "sealtrail::http", error = %e, "database unreachable");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "error": "unavailable", "detail": "the database is unreachable" })),
            );
        }
        Err(_) => reasons.push("the database did not answer within 2 s".into()),
    }
    if reasons.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "degraded",
                "error": "degraded",
                "detail": reasons.join("; "),
                "reasons": reasons,
            })),
        )
    }
}

/// Prometheus metrics (server-wide counts, no organisation's data); on
/// the API's listener unless `SEALTRAIL_METRICS_LISTEN` gives them one of
/// their own.
pub async fn metrics(State(state): State<AppState>) -> axum::response::Response {
    if state
        .0
        .metrics_elsewhere
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "not_found", "detail": "metrics are served on SEALTRAIL_METRICS_LISTEN"})),
        )
            .into_response();
    }
    metrics_text(state).await.into_response()
}

/// `/metrics` on the metrics listener.
pub async fn metrics_only(State(state): State<AppState>) -> impl IntoResponse {
    metrics_text(state).await
}

async fn metrics_text(state: AppState) -> impl IntoResponse {
    let pool = state.db();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics().render(pool.size(), pool.num_idle()),
    )
}

pub const OPENAPI: &str = include_str!("../../openapi.json");

pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}
