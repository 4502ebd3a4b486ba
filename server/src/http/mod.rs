//! The HTTP API: request and response types, validation, and the router.
//! Handlers check the caller's role, then call into `db`.

pub mod admin;
pub mod events;
pub mod export;
pub mod ingest;
pub mod log;
pub mod ops;
pub mod split;
pub mod verify;

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Json;
use axum::Router;
use bytes::Bytes;
use tokio::sync::mpsc;
use tower_http::decompression::RequestDecompressionLayer;

use crate::state::AppState;

/// The router, without a listener: `serve` binds it, tests drive it with
/// `tower::ServiceExt::oneshot`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v1/events", post(ingest::ingest).get(events::list))
        .route("/v1/events/{id}", get(events::get_one))
        .route("/v1/chains", get(events::chains))
        .route("/v1/chains/{agent_id}/verify", get(verify::verify_agent))
        .route("/v1/verify", post(verify::verify_org))
        .route("/v1/export", get(export::export))
        .route(
            "/v1/subjects/{actor_id}/export",
            get(export::subject_export),
        )
        .route("/v1/keys", post(admin::create_key).get(admin::list_keys))
        .route("/v1/keys/{id}", delete(admin::delete_key))
        .route(
            "/v1/legal-holds",
            post(admin::create_hold).get(admin::list_holds),
        )
        .route("/v1/legal-holds/{id}", delete(admin::release_hold))
        .route(
            "/v1/retention",
            get(admin::get_retention).put(admin::put_retention),
        )
        .route("/v1/checkpoints", get(log::list_checkpoints))
        .route("/v1/checkpoints/latest", get(log::latest_checkpoint))
        .route("/v1/proofs/inclusion", get(log::inclusion))
        .route("/v1/proofs/consistency", get(log::consistency))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        // Ingest reads its body itself, with its own limit and error body.
        .layer(DefaultBodyLimit::disable())
        .layer(RequestDecompressionLayer::new().gzip(true).zstd(true))
        // Outermost: errors made by extractors and layers (a bad query
        // string, an unsupported Content-Encoding, an unknown route) get the
        // same JSON body as the handlers' own.
        .layer(axum::middleware::map_response(json_errors))
        .layer(axum::middleware::map_response(no_store))
        .with_state(state)
}

/// The metrics listener's router (`SEALTRAIL_METRICS_LISTEN`): `/metrics`
/// only, without a key; keep it on an address only the monitoring reaches.
pub fn metrics_app(state: AppState) -> Router {
    state
        .0
        .metrics_elsewhere
        .store(true, std::sync::atomic::Ordering::Relaxed);
    Router::new()
        .route("/metrics", get(ops::metrics_only))
        .layer(axum::middleware::map_response(no_store))
        .with_state(state)
}

/// Every answer may carry PII, a new key or evidence: no cache keeps it,
/// and no browser guesses its type.
async fn no_store(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    h.insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    res
}

/// Gives every error response the `{"error", "detail"}` JSON body of
/// `ApiError`, keeping its status and headers (`Allow`, `Retry-After`, …).
async fn json_errors(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let (kind, default) = match status {
        StatusCode::BAD_REQUEST => ("bad_request", "the request is malformed"),
        StatusCode::NOT_FOUND => ("not_found", "no such endpoint; see GET /openapi.json"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this endpoint does not take that method; see GET /openapi.json",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "unsupported Content-Encoding or Content-Type: send JSON, plain or with \
             Content-Encoding gzip or zstd",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => ("unprocessable", "the request could not be processed"),
        s if s.is_server_error() => ("internal", "the server could not complete the request"),
        _ => ("bad_request", "the request was refused"),
    };
    let detail = if text.is_empty() {
        default.to_string()
    } else {
        text
    };
    let mut out = (
        status,
        Json(serde_json::json!({ "error": kind, "detail": detail })),
    )
        .into_response();
    for (name, value) in parts.headers.iter() {
        if name != CONTENT_TYPE && name != CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// A streaming body fed line by line from a channel.
pub fn channel_body(rx: mpsc::Receiver<Bytes>) -> Body {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<Bytes, std::convert::Infallible>(b), rx))
    });
    Body::from_stream(stream)
}

/// A streaming body that can fail: an `Err` aborts the response (the
/// chunked transfer ends without its last chunk), so the client sees an
/// incomplete transfer, never a cleanly ended one.
pub fn fallible_body(rx: mpsc::Receiver<Result<Bytes, std::io::Error>>) -> Body {
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    Body::from_stream(stream)
}
