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

/// Admin bodies are small: a compressed body that would inflate into a
/// 256 MiB key name is refused after 16 KiB, and so are long names and
/// reasons; a retention policy is 1 day to 100 years.
#[tokio::test]
async fn admin_bodies_and_values_are_bounded() {
    let db = TestDb::new().await;
    let app = db.app();
    let admin = db.key("acme", Role::Admin).await;
    let mut huge = br#"{"role":"ops","name":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 8 << 20));
    huge.extend(br#""}"#);
    let packed = zstd::encode_all(&huge[..], 19).unwrap();
    assert!(packed.len() < 64 * 1024, "{}", packed.len());
    let r = call_raw(
        &app,
        Method::POST,
        "/v1/keys",
        Some(&admin),
        packed,
        Some("zstd"),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    assert!(r.text().contains("16384"), "{}", r.text());
    let r = call(
        &app,
        Method::POST,
        "/v1/keys",
        Some(&admin),
        Some(serde_json::json!({"role": "ops", "name": "n".repeat(300)})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = call(
        &app,
        Method::POST,
        "/v1/keys",
        Some(&admin),
        Some(serde_json::json!({"role": "ops", "name": "ok\n0 broken chain(s)"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = call(
        &app,
        Method::POST,
        "/v1/legal-holds",
        Some(&admin),
        Some(serde_json::json!({"reason": "r".repeat(5000)})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    for days in [0, 3_000_000] {
        let r = call(
            &app,
            Method::PUT,
            "/v1/retention",
            Some(&admin),
            Some(serde_json::json!({ "days": days })),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{days}: {}", r.text());
    }
    let r = call(
        &app,
        Method::PUT,
        "/v1/retention",
        Some(&admin),
        Some(serde_json::json!({"days": 36500})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // Nothing above was stored: the keys are the admin's own.
    let keys = get(&app, "/v1/keys", &admin).await.json();
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
}

/// Every answer, success or error, is kept out of caches and sniffing.
#[tokio::test]
async fn every_response_is_no_store_and_nosniff() {
    let db = TestDb::new().await;
    let app = db.app();
    let ops = db.key("acme", Role::Ops).await;
    for (path, key) in [
        ("/v1/events", Some(ops.as_str())),
        ("/v1/events", None),
        ("/nowhere", Some(ops.as_str())),
        ("/healthz", None),
    ] {
        let r = call(&app, Method::GET, path, key, None).await;
        assert_eq!(r.headers["cache-control"], "no-store", "{path}");
        assert_eq!(r.headers["x-content-type-options"], "nosniff", "{path}");
    }
}

/// U+0000 in a filter or a path, and a cursor outside 1970..9999, are the
/// caller's mistakes: 400, not a database error.
#[tokio::test]
async fn nul_and_out_of_range_cursors_are_400() {
    let db = TestDb::new().await;
    let app = db.app();
    let ops = db.key("acme", Role::Ops).await;
    let comp = db.key("acme", Role::Compliance).await;
    for (path, key) in [
        ("/v1/events?agent_id=a%00b", &ops),
        ("/v1/events?q=a%00b", &ops),
        ("/v1/chains/a%00b/verify", &ops),
        ("/v1/subjects/a%00b/export", &comp),
        (
            "/v1/events?cursor=-210866803200000001_01JD0000000000000000000000",
            &ops,
        ),
        (
            "/v1/events?cursor=253402300800000000_01JD0000000000000000000000",
            &ops,
        ),
    ] {
        let r = get(&app, path, key).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.text());
        assert_eq!(r.json()["error"], "bad_request", "{path}");
    }
}

/// The last admin key of an organisation cannot be deactivated.
#[tokio::test]
async fn the_last_admin_key_stays() {
    let db = TestDb::new().await;
    let app = db.app();
    let admin = db.key("acme", Role::Admin).await;
    let keys = get(&app, "/v1/keys", &admin).await.json();
    let first = keys["keys"][0]["id"].as_str().unwrap().to_string();
    let r = call(
        &app,
        Method::DELETE,
        &format!("/v1/keys/{first}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert!(r.text().contains("last active admin key"), "{}", r.text());
    let r = call(
        &app,
        Method::POST,
        "/v1/keys",
        Some(&admin),
        Some(serde_json::json!({"role": "admin"})),
    )
    .await;
    let second = r.json()["key"].as_str().unwrap().to_string();
    let second_id = r.json()["info"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = call(
        &app,
        Method::DELETE,
        &format!("/v1/keys/{first}"),
        Some(&second),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let keys = get(&app, "/v1/keys", &second).await.json();
    let second_id = if second_id.is_empty() {
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"].as_str() != Some(first.as_str()))
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    } else {
        second_id
    };
    let r = call(
        &app,
        Method::DELETE,
        &format!("/v1/keys/{second_id}"),
        Some(&second),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
}

/// A search is bounded in text and words: a clear 400 before any query.
#[tokio::test]
async fn searches_are_bounded() {
    let db = TestDb::new().await;
    let app = db.app();
    let ops = db.key("acme", Role::Ops).await;
    let many = (0..5000)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let r = get(
        &app,
        &format!("/v1/events?q={}", many.replace(' ', "+")),
        &ops,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.text().contains("at most 1024"), "{}", r.text());
    let forty = (0..40)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join("+");
    let r = get(&app, &format!("/v1/events?q={forty}"), &ops).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.text().contains("40 words"), "{}", r.text());
    let ten = (0..10)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join("+OR+");
    let r = get(&app, &format!("/v1/events?q={ten}"), &ops).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

/// With a metrics listener of its own, the API's /metrics is gone and the
/// metrics router serves them.
#[tokio::test]
async fn metrics_can_move_to_their_own_listener() {
    let db = TestDb::new().await;
    let state = sealtrail_server::AppState::new(db.pool.clone(), Default::default());
    let api = sealtrail_server::app(state.clone());
    let r = call(&api, Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let metrics = sealtrail_server::http::metrics_app(state);
    let r = call(&api, Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    let r = call(&metrics, Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("sealtrail_events_stored_total"));
    let r = call(&metrics, Method::GET, "/v1/events", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
