//! The HTTP API: request and response types, validation, and the router.
//! Handlers check the caller's role, then call into `db`.

pub mod admin;
pub mod events;
pub mod export;
pub mod ingest;
pub mod ops;
pub mod split;
pub mod verify;

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
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
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        // Ingest reads its body itself, with its own limit and error body.
        .layer(DefaultBodyLimit::disable())
        .layer(RequestDecompressionLayer::new().gzip(true).zstd(true))
        .with_state(state)
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
