//! Reading, exporting, keys, legal holds, retention: per role, and one
//! organisation never sees another's data on any endpoint.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use sealtrail_core::event::{Decision, DecisionOutcome};
use sealtrail_core::EventType;
use sealtrail_server::auth::Role;
use serde_json::{json, Value};

async fn seed(t: &TestDb, org: &str) -> (String, Vec<Value>) {
    let app = t.app();
    let key = t.key(org, Role::Ingest).await;
    let mut events: Vec<_> = (0..30)
        .map(|i| event(if i % 3 == 0 { "agent-b" } else { "agent-a" }, i))
        .collect();
    events[5].kind = EventType::Decision;
    events[5].decision = Some(Decision {
        outcome: DecisionOutcome::Denied,
        by: Some("policy:refund".into()),
        reason: Some("over the refund limit".into()),
    });
    events[7].pii = Some([("email".to_string(), 1u64)].into_iter().collect());
    events[9].inputs = Some(json!({"query": "reconcile the zebra invoices"}));
    let r = ingest(&app, &key, events).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    (key, r.json()["receipts"].as_array().unwrap().clone())
}

#[tokio::test]
async fn query_filters_and_cursor_pages() {
    let t = TestDb::new().await;
    let app = t.app();
    let (_, receipts) = seed(&t, "acme").await;
    let ops = t.key("acme", Role::Ops).await;

    let all = get(&app, "/v1/events?limit=1000", &ops).await.json();
    let evs = all["events"].as_array().unwrap();
    assert_eq!(evs.len(), 30);
    assert!(all["next_cursor"].is_null());
    // Newest first.
    let ts: Vec<&str> = evs
        .iter()
        .map(|e| e["event"]["ts"].as_str().unwrap())
        .collect();
    let mut sorted = ts.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ts, sorted);

    // Cursor pages cover everything exactly once.
    let mut seen = Vec::new();
    let mut path = "/v1/events?limit=7".to_string();
    loop {
        let page = get(&app, &path, &ops).await.json();
        for e in page["events"].as_array().unwrap() {
            seen.push(e["event"]["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/events?limit=7&cursor={c}"),
            None => break,
        }
    }
    let all_ids: Vec<String> = evs
        .iter()
        .map(|e| e["event"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, all_ids);

    let count = |q: &'static str| {
        let app = app.clone();
        let ops = ops.clone();
        async move {
            get(&app, &format!("/v1/events?{q}"), &ops).await.json()["events"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(count("agent_id=agent-b").await, 10);
    assert_eq!(count("actor_id=user-1").await, 10);
    assert_eq!(count("session_id=session-2").await, 7);
    assert_eq!(count("trace_id=trace-3").await, 1);
    assert_eq!(count("type=decision").await, 1);
    assert_eq!(count("name=tool_2").await, 6);
    assert_eq!(count("decision=denied").await, 1);
    assert_eq!(count("has_pii=true").await, 1);
    assert_eq!(count("q=zebra").await, 1);
    assert_eq!(count("q=refund").await, 1);
    assert_eq!(
        count("from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00Z").await,
        30
    );
    assert_eq!(count("from=2999-01-01T00:00:00Z").await, 0);
    let r = get(&app, "/v1/events?type=launch", &ops).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = get(&app, "/v1/events?limit=5000", &ops).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = get(&app, "/v1/events?offset=5", &ops).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // By id: the event as sent, with its chain fields.
    let id = receipts[3]["id"].as_str().unwrap();
    let one = get(&app, &format!("/v1/events/{id}"), &ops).await;
    assert_eq!(one.status, StatusCode::OK);
    let one = one.json();
    assert_eq!(one["event"]["id"], id);
    assert_eq!(one["hash"], receipts[3]["hash"]);
    assert_eq!(one["seq"], receipts[3]["seq"]);
    let r = get(&app, "/v1/events/01JD0000000000000000000000", &ops).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let chains = get(&app, "/v1/chains", &ops).await.json();
    let c = chains["chains"].as_array().unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(c[0]["agent_id"], "agent-a");
    assert_eq!(c[0]["head_seq"], 20);
}

#[tokio::test]
async fn export_jsonl_csv_and_subject() {
    let t = TestDb::new().await;
    let app = t.app();
    seed(&t, "acme").await;
    let comp = t.key("acme", Role::Compliance).await;
    let r = get(&app, "/v1/export?format=jsonl", &comp).await;
    assert_eq!(r.status, StatusCode::OK);
    let mut lines = r.lines();
    assert_eq!(lines.len(), 31);
    // A complete export ends with a trailer that says so and counts rows.
    assert_eq!(lines.pop().unwrap(), json!({"complete": true, "rows": 30}));
    // Each exported event re-hashes to its content hash.
    for l in &lines {
        let e: sealtrail_core::Event = serde_json::from_value(l["event"].clone()).unwrap();
        assert_eq!(
            e.content_hash().to_hex(),
            l["content_hash"].as_str().unwrap()
        );
    }
    let r = get(&app, "/v1/export?format=csv&agent_id=agent-b", &comp).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = r.text();
    assert!(text.starts_with("id,seq,ts,agent_id"));
    assert_eq!(text.lines().count(), 12);
    assert_eq!(text.lines().last(), Some("#complete,rows=10"));
    let r = get(&app, "/v1/subjects/user-2/export", &comp).await;
    assert_eq!(r.status, StatusCode::OK);
    let mut lines = r.lines();
    assert_eq!(lines.pop().unwrap()["rows"], 10);
    assert_eq!(lines.len(), 10);
    assert!(lines.iter().all(|l| l["event"]["actor_id"] == "user-2"));
    let r = get(&app, "/v1/export?format=xml", &comp).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

/// Every endpoint with the roles allowed to call it.
fn endpoints() -> Vec<(Method, &'static str, Option<Value>, Vec<Role>)> {
    use Role::*;
    vec![
        (
            Method::POST,
            "/v1/events",
            Some(json!({"events": []})),
            vec![Ingest],
        ),
        (
            Method::GET,
            "/v1/events",
            None,
            vec![Ops, Compliance, Admin],
        ),
        (
            Method::GET,
            "/v1/events/{id}",
            None,
            vec![Ops, Compliance, Admin],
        ),
        (
            Method::GET,
            "/v1/chains",
            None,
            vec![Ops, Compliance, Admin],
        ),
        (
            Method::GET,
            "/v1/chains/agent-a/verify",
            None,
            vec![Ops, Compliance, Admin],
        ),
        (
            Method::POST,
            "/v1/verify",
            None,
            vec![Ops, Compliance, Admin],
        ),
        (Method::GET, "/v1/export", None, vec![Compliance, Admin]),
        (
            Method::GET,
            "/v1/subjects/user-1/export",
            None,
            vec![Compliance, Admin],
        ),
        (Method::GET, "/v1/keys", None, vec![Admin]),
        (
            Method::POST,
            "/v1/keys",
            Some(json!({"role": "ops"})),
            vec![Admin],
        ),
        (
            Method::DELETE,
            "/v1/keys/00000000-0000-0000-0000-000000000000",
            None,
            vec![Admin],
        ),
        (Method::GET, "/v1/legal-holds", None, vec![Admin]),
        (
            Method::POST,
            "/v1/legal-holds",
            Some(json!({"reason": "litigation"})),
            vec![Admin],
        ),
        (
            Method::DELETE,
            "/v1/legal-holds/00000000-0000-0000-0000-000000000000",
            None,
            vec![Admin],
        ),
        (Method::GET, "/v1/retention", None, vec![Admin]),
        // The log's checkpoints and proofs: any key (agents audit their
        // receipts with their ingest key); hashes of the org only.
        (
            Method::GET,
            "/v1/checkpoints/latest",
            None,
            vec![Ingest, Ops, Compliance, Admin],
        ),
        (
            Method::GET,
            "/v1/checkpoints?since=0",
            None,
            vec![Ingest, Ops, Compliance, Admin],
        ),
        (
            Method::GET,
            "/v1/proofs/inclusion?event_id=01JD0000000000000000000000",
            None,
            vec![Ingest, Ops, Compliance, Admin],
        ),
        (
            Method::GET,
            "/v1/proofs/consistency?from=1",
            None,
            vec![Ingest, Ops, Compliance, Admin],
        ),
        (
            Method::PUT,
            "/v1/retention",
            Some(json!({"days": 365})),
            vec![Admin],
        ),
    ]
}

#[tokio::test]
async fn roles_401_and_403_on_every_endpoint() {
    let t = TestDb::new().await;
    let app = t.app();
    let (_, receipts) = seed(&t, "acme").await;
    let id = receipts[0]["id"].as_str().unwrap().to_string();
    let mut keys = Vec::new();
    for role in role_keys() {
        keys.push((role, t.key("acme", role).await));
    }
    for (method, path, body, allowed) in endpoints() {
        let path = path.replace("{id}", &id);
        let r = call(&app, method.clone(), &path, None, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} without a key"
        );
        assert_eq!(r.json()["error"], "unauthorized");
        let r = call(&app, method.clone(), &path, Some("st_0000"), body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with an unknown key"
        );
        for (role, key) in &keys {
            let r = call(&app, method.clone(), &path, Some(key), body.clone()).await;
            if allowed.contains(role) {
                assert!(
                    r.status.is_success() || r.status == StatusCode::NOT_FOUND,
                    "{method} {path} as {role}: {} {}",
                    r.status,
                    r.text()
                );
            } else {
                assert_eq!(
                    r.status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} as {role}: {}",
                    r.text()
                );
                assert_eq!(r.json()["error"], "forbidden");
            }
        }
    }
    // A deactivated key is refused at once.
    let admin = &keys[3].1;
    let listed = get(&app, "/v1/keys", admin).await.json();
    let ops_id = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["role"] == "ops")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = call(
        &app,
        Method::DELETE,
        &format!("/v1/keys/{ops_id}"),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = get(&app, "/v1/events", &keys[1].1).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn organisations_are_isolated_on_every_endpoint() {
    let t = TestDb::new().await;
    let app = t.app();
    let (_, receipts_a) = seed(&t, "acme").await;
    let a_id = receipts_a[0]["id"].as_str().unwrap().to_string();
    let a_admin = t.key("acme", Role::Admin).await;
    let hold: Value = call(
        &app,
        Method::POST,
        "/v1/legal-holds",
        Some(&a_admin),
        Some(json!({"reason": "audit"})),
    )
    .await
    .json();
    let a_keys = get(&app, "/v1/keys", &a_admin).await.json();
    let a_key_id = a_keys["keys"][0]["id"].as_str().unwrap().to_string();

    // Organisation "other" with every role, and no events of its own.
    let b_ops = t.key("other", Role::Ops).await;
    let b_comp = t.key("other", Role::Compliance).await;
    let b_admin = t.key("other", Role::Admin).await;
    assert!(get(&app, "/v1/events", &b_ops).await.json()["events"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        get(&app, &format!("/v1/events/{a_id}"), &b_ops)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(get(&app, "/v1/chains", &b_ops).await.json()["chains"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        get(&app, "/v1/chains/agent-a/verify", &b_ops).await.status,
        StatusCode::NOT_FOUND
    );
    let v = call(&app, Method::POST, "/v1/verify", Some(&b_ops), None)
        .await
        .lines();
    assert_eq!(v.last().unwrap()["chains"], 0);
    let none = "{\"complete\":true,\"rows\":0}\n";
    assert_eq!(get(&app, "/v1/export", &b_comp).await.text(), none);
    assert_eq!(
        get(&app, "/v1/subjects/user-1/export", &b_comp)
            .await
            .text(),
        none
    );
    let keys = get(&app, "/v1/keys", &b_admin).await.json();
    assert!(keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["id"] != a_key_id.as_str()));
    let r = call(
        &app,
        Method::DELETE,
        &format!("/v1/keys/{a_key_id}"),
        Some(&b_admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        get(&app, "/v1/legal-holds", &b_admin).await.json()["legal_holds"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let r = call(
        &app,
        Method::DELETE,
        &format!("/v1/legal-holds/{}", hold["id"].as_str().unwrap()),
        Some(&b_admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    call(
        &app,
        Method::PUT,
        "/v1/retention",
        Some(&b_admin),
        Some(json!({"days": 30})),
    )
    .await;
    assert!(get(&app, "/v1/retention", &a_admin).await.json()["days"].is_null());
    // Ingest: the same event id in another org is a new event in its own chain.
    let b_ingest = t.key("other", Role::Ingest).await;
    let r = ingest(&app, &b_ingest, vec![event("agent-a", 0)])
        .await
        .json();
    assert_eq!(r["receipts"][0]["seq"], 1);
    assert_eq!(r["receipts"][0]["duplicate"], false);
}

#[tokio::test]
async fn keys_holds_retention_and_ops_endpoints() {
    let t = TestDb::new().await;
    let app = t.app();
    seed(&t, "acme").await;
    let admin = t.key("acme", Role::Admin).await;
    let r = call(
        &app,
        Method::POST,
        "/v1/keys",
        Some(&admin),
        Some(json!({"role": "ingest", "name": "agent fleet"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let new_key = r.json()["key"].as_str().unwrap().to_string();
    assert!(new_key.starts_with("st_") && new_key.len() == 67);
    let r = ingest(&app, &new_key, vec![event("agent-c", 1)]).await;
    assert_eq!(r.status, StatusCode::OK);
    let listed = get(&app, "/v1/keys", &admin).await.json();
    assert!(
        listed.to_string().find(&new_key).is_none(),
        "listing must not show keys"
    );
    let r = call(
        &app,
        Method::POST,
        "/v1/keys",
        Some(&admin),
        Some(json!({"role": "root"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = call(
        &app,
        Method::POST,
        "/v1/legal-holds",
        Some(&admin),
        Some(json!({"reason": "case 42", "from": "2020-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let hold_id = r.json()["id"].as_str().unwrap().to_string();
    // With a policy of 1 day and a hold: nothing current is dropped.
    call(
        &app,
        Method::PUT,
        "/v1/retention",
        Some(&admin),
        Some(json!({"days": 1})),
    )
    .await;
    let actions = sealtrail_server::db::retention_run(&t.pool, true)
        .await
        .unwrap();
    assert!(actions.iter().all(|a| a.action == "kept"), "{actions:?}");
    let r = call(
        &app,
        Method::DELETE,
        &format!("/v1/legal-holds/{hold_id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);

    assert_eq!(
        call(&app, Method::GET, "/healthz", None, None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, Method::GET, "/readyz", None, None).await.status,
        StatusCode::OK
    );
    let m = call(&app, Method::GET, "/metrics", None, None).await.text();
    assert!(m.contains("sealtrail_events_stored_total 1"), "{m}");
    let o = call(&app, Method::GET, "/openapi.json", None, None)
        .await
        .json();
    assert_eq!(o["openapi"], "3.1.0");
    // Every endpoint of the role matrix is documented.
    for (method, path, _, _) in endpoints() {
        let path = path.split('?').next().unwrap();
        let templ = regex_like_template(path);
        let m = method.as_str().to_lowercase();
        assert!(
            o["paths"][&templ][&m].is_object(),
            "{method} {templ} is not in openapi.json"
        );
    }
}

/// `/v1/keys/0000…` → `/v1/keys/{id}` as the OpenAPI document names it.
fn regex_like_template(path: &str) -> String {
    match path {
        p if p.starts_with("/v1/keys/") => "/v1/keys/{id}".into(),
        p if p.starts_with("/v1/legal-holds/") => "/v1/legal-holds/{id}".into(),
        p if p.starts_with("/v1/chains/") && p.ends_with("/verify") => {
            "/v1/chains/{agent_id}/verify".into()
        }
        p if p.starts_with("/v1/subjects/") => "/v1/subjects/{actor_id}/export".into(),
        p => p.into(),
    }
}

#[tokio::test]
async fn retention_drops_old_partitions_but_not_held_ones() {
    let t = TestDb::new().await;
    // The operator widened the window and made the old months' partitions.
    let app = t.app_with_window(wide_window());
    t.partitions(1_500_000_000_000_000, 1_502_000_000_000_000)
        .await;
    let key = t.key("acme", Role::Ingest).await;
    let old = |i: usize, micros: i64| at(event("agent-r", i), micros);
    // Two old months (2017-07, 2017-08), then now.
    let r = ingest(
        &app,
        &key,
        vec![
            old(0, 1_500_000_000_000_000),
            old(1, 1_500_000_000_000_001),
            old(2, 1_502_000_000_000_000),
            event("agent-r", 3),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let admin = t.key("acme", Role::Admin).await;
    // No policy: kept.
    let acts = sealtrail_server::db::retention_run(&t.pool, false)
        .await
        .unwrap();
    assert!(
        acts.iter().any(|a| a.partition == "audit_events_y2017m07"
            && a.action == "kept"
            && a.reason.contains("no retention policy")),
        "{acts:?}"
    );
    call(
        &app,
        Method::PUT,
        "/v1/retention",
        Some(&admin),
        Some(json!({"days": 365})),
    )
    .await;
    // A hold over August 2017 keeps that month.
    let h = call(
        &app,
        Method::POST,
        "/v1/legal-holds",
        Some(&admin),
        Some(
            json!({"reason": "case", "from": "2017-08-01T00:00:00Z", "to": "2017-08-31T00:00:00Z"}),
        ),
    )
    .await;
    assert_eq!(h.status, StatusCode::CREATED);
    let acts = sealtrail_server::db::retention_run(&t.pool, false)
        .await
        .unwrap();
    let find = |p: &str| acts.iter().find(|a| a.partition == p).unwrap().clone();
    assert_eq!(find("audit_events_y2017m07").action, "dropped", "{acts:?}");
    assert_eq!(find("audit_events_y2017m08").reason, "under legal hold");
    // The chain still verifies from the recorded base.
    let ops = t.key("acme", Role::Ops).await;
    let v = get(&app, "/v1/chains/agent-r/verify", &ops).await.lines();
    assert_eq!(v[0]["ok"], true, "{v:?}");
    assert_eq!(v[0]["count"], 2);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM event_ids")
        .fetch_one(&t.su)
        .await
        .unwrap();
    assert_eq!(n, 2);
}

/// A failed export never looks complete: an error before the first row is
/// an HTTP error, and one after it ends the body with a failure line, no
/// trailer, and an aborted transfer.
#[tokio::test]
async fn a_failed_export_does_not_look_complete() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let t = TestDb::new().await;
    let app = t.app();
    let key = t.key("acme", Role::Ingest).await;
    let comp = t.key("acme", Role::Compliance).await;
    for c in 0..3 {
        let events: Vec<_> = (0..900).map(|i| event(&format!("a{c}"), i)).collect();
        assert_eq!(ingest(&app, &key, events).await.status, StatusCode::OK);
    }
    // Mid-stream: the first page is read, then the server loses the right
    // to read (as a killed session or a failed disk would make it fail).
    let req = axum::http::Request::get("/v1/export")
        .header("authorization", format!("Bearer {comp}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    sqlx::raw_sql("REVOKE SELECT ON audit_events FROM sealtrail_app")
        .execute(&t.su)
        .await
        .unwrap();
    let mut body = resp.into_body();
    let mut got = Vec::new();
    let mut failed = false;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => got.extend_from_slice(f.data_ref().map(|d| d.as_ref()).unwrap_or_default()),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the transfer ended cleanly");
    let text = String::from_utf8(got).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["complete"], false, "{last}");
    assert!(last["rows"].as_u64().unwrap() >= 2000, "{last}");
    assert!(!text.contains("\"complete\":true"));
    // Before the first row: an HTTP error, not an empty 200.
    let r = get(&app, "/v1/export", &comp).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.text());
    sqlx::raw_sql("GRANT SELECT ON audit_events TO sealtrail_app")
        .execute(&t.su)
        .await
        .unwrap();
}
