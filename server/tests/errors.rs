//! Errors made outside the handlers (query strings, content encodings,
//! routes, methods) get the same JSON body as the handlers' own.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use sealtrail_server::auth::Role;

#[tokio::test]
async fn every_error_body_is_json_with_kind_and_detail() {
    let db = TestDb::new().await;
    let app = db.app();
    let ops = db.key("acme", Role::Ops).await;
    let ingest_key = db.key("acme", Role::Ingest).await;

    let r = get(&app, "/v1/events?limit=abc", &ops).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let j = r.json();
    assert_eq!(j["error"], "bad_request", "{j}");
    assert!(j["detail"].as_str().unwrap().contains("limit"), "{j}");

    let r = get(&app, "/v1/events?has_pii=maybe'--", &ops).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"], "bad_request");

    let r = call_raw(
        &app,
        Method::POST,
        "/v1/events",
        Some(&ingest_key),
        b"{}".to_vec(),
        Some("br"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let j = r.json();
    assert_eq!(j["error"], "unsupported_media_type", "{j}");
    assert!(j["detail"].as_str().unwrap().contains("gzip"), "{j}");

    let r = get(&app, "/v1/nothing-here", &ops).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"], "not_found");

    let r = call(&app, Method::PATCH, "/v1/events", Some(&ops), None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.json()["error"], "method_not_allowed");
    assert!(r.headers.get("allow").is_some(), "the Allow header is kept");

    // Handler errors are untouched.
    let r = get(&app, "/v1/events", "st_not-a-key").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"], "unauthorized");
}

#[tokio::test]
async fn limit_errors_quote_the_configured_limits() {
    let db = TestDb::new().await;
    let app = db.app();
    let key = db.key("acme", Role::Ingest).await;
    let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let body = format!(
        "{{\"events\":[{{\"event\":{{\"id\":\"01JD0000000000000000000000\",\"ts\":\"2026-11-23T11:33:40.123456Z\",\"agent_id\":\"a\",\"type\":\"custom\",\"inputs\":{deep}}},\"content_hash\":\"{}\"}}]}}",
        "0".repeat(64)
    );
    let r = call_raw(
        &app,
        Method::POST,
        "/v1/events",
        Some(&key),
        body.into_bytes(),
        None,
    )
    .await;
    let j = r.json();
    let err = &j["errors"][0];
    assert_eq!(err["error"], "too_deep", "{j}");
    assert!(
        err["detail"]
            .as_str()
            .unwrap()
            .contains("deeper than 64 levels"),
        "{j}"
    );

    let big = "x".repeat(300 * 1024);
    let body = format!(
        "{{\"events\":[{{\"event\":{{\"id\":\"01JD0000000000000000000000\",\"ts\":\"2026-11-23T11:33:40.123456Z\",\"agent_id\":\"a\",\"type\":\"custom\",\"name\":\"{big}\"}},\"content_hash\":\"{}\"}}]}}",
        "0".repeat(64)
    );
    let r = call_raw(
        &app,
        Method::POST,
        "/v1/events",
        Some(&key),
        body.into_bytes(),
        None,
    )
    .await;
    let j = r.json();
    let detail = j["errors"][0]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(detail.contains("limit of 262144 bytes"), "{j}");
}
