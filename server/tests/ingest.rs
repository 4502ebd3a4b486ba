//! Ingest against a real PostgreSQL: receipts, chaining, replays, per-event
//! errors, limits, compressed bodies, partitions.

mod common;

use std::io::Write;

use axum::http::{Method, StatusCode};
use common::*;
use sealtrail_core::{EventType, Limits};
use sealtrail_server::auth::Role;
use serde_json::json;

#[tokio::test]
async fn ingest_chains_and_replay_is_idempotent() {
    let t = TestDb::new().await;
    let app = t.app();
    let key = t.key("acme", Role::Ingest).await;
    let events: Vec<_> = (0..10)
        .map(|i| event(if i % 2 == 0 { "a1" } else { "a2" }, i))
        .collect();
    let r = ingest(&app, &key, events.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let body = r.json();
    let receipts = body["receipts"].as_array().unwrap();
    assert_eq!(receipts.len(), 10);
    assert!(body["errors"].as_array().unwrap().is_empty());
    // Each agent's chain is 1..=5 in batch order.
    let seqs: Vec<u64> = receipts
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    assert!(receipts.iter().all(|r| r["duplicate"] == false));

    // The same batch again: same receipts, marked duplicate, nothing new stored.
    let r2 = ingest(&app, &key, events.clone()).await;
    assert_eq!(r2.status, StatusCode::OK);
    let b2 = r2.json();
    for (a, b) in receipts.iter().zip(b2["receipts"].as_array().unwrap()) {
        assert_eq!(a["id"], b["id"]);
        assert_eq!(a["seq"], b["seq"]);
        assert_eq!(a["hash"], b["hash"]);
        assert_eq!(b["duplicate"], true);
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events")
        .fetch_one(&t.su)
        .await
        .unwrap();
    assert_eq!(n, 10);
    // A duplicate inside one batch gets the first copy's receipt.
    let e = event("a1", 99);
    let r3 = ingest(&app, &key, vec![e.clone(), e]).await.json();
    assert_eq!(r3["receipts"][0]["seq"], 6);
    assert_eq!(r3["receipts"][1]["seq"], 6);
    assert_eq!(r3["receipts"][1]["duplicate"], true);

    let ops = t.key("acme", Role::Ops).await;
    let v = call(&app, Method::POST, "/v1/verify", Some(&ops), None).await;
    assert_eq!(v.status, StatusCode::OK);
    let last = v.lines().pop().unwrap();
    assert_eq!(last["ok"], true, "{}", v.text());
    assert_eq!(last["events"], 11);
}

#[tokio::test]
async fn per_event_errors_name_the_event_and_keep_the_rest() {
    let t = TestDb::new().await;
    let app = t.app();
    let key = t.key("acme", Role::Ingest).await;
    let good = seal(event("a", 0));
    let mut tampered = seal(event("a", 1));
    tampered.event.name = Some("edited after sealing".into());
    let good_json = serde_json::to_string(&good).unwrap();
    let tampered_json = serde_json::to_string(&tampered).unwrap();
    let bad_type = good_json
        .replace("\"tool_call\"", "\"launch\"")
        .replace(&good.event.id.to_string(), "01JD0000000000000000000001");
    let mut deep = String::from("{\"event\":{\"id\":\"01JD0000000000000000000002\",\"ts\":\"2026-11-23T11:33:40.123456Z\",\"agent_id\":\"a\",\"type\":\"request\",\"inputs\":");
    deep.push_str(&"[".repeat(80));
    deep.push_str(&"]".repeat(80));
    deep.push_str("},\"content_hash\":\"00\"}");
    let good2 = serde_json::to_string(&seal(event("a", 2))).unwrap();
    let mut body =
        format!("{{\"events\":[{good_json},{tampered_json},{bad_type},{deep},\"x\":1,{good2}]}}")
            .into_bytes();
    // Make event 4 malformed JSON (a stray key) and put invalid UTF-8 in event 1's name.
    let pos = body
        .windows(b"edited".len())
        .position(|w| w == b"edited")
        .unwrap();
    body[pos] = 0xff;
    let r = call_raw(&app, Method::POST, "/v1/events", Some(&key), body, None).await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS, "{}", r.text());
    let b = r.json();
    assert_eq!(b["receipts"].as_array().unwrap().len(), 2, "{b}");
    let errs = b["errors"].as_array().unwrap();
    let kinds: Vec<(u64, &str)> = errs
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["error"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (1, "invalid_utf8"),
            (2, "invalid_event"),
            (3, "too_deep"),
            (4, "malformed_json")
        ],
        "{b}"
    );
    assert!(errs[1]["detail"]
        .as_str()
        .unwrap()
        .contains("unknown event type"));
    assert_eq!(errs[1]["id"], "01JD0000000000000000000001");

    // Hash mismatch on its own.
    let r = call(
        &app,
        Method::POST,
        "/v1/events",
        Some(&key),
        Some(json!({"events": [tampered]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["errors"][0]["error"], "hash_mismatch");

    // The same id with other content is refused, not answered as a replay.
    let mut other = good.event.clone();
    other.name = Some("different".into());
    let r = ingest(&app, &key, vec![other]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["errors"][0]["error"], "duplicate_id");

    // U+0000 cannot be stored by PostgreSQL: refused with a reason.
    let mut nul = event("a", 3);
    nul.inputs = Some(json!({"s": "a\u{0}b"}));
    let r = ingest(&app, &key, vec![nul]).await;
    assert_eq!(r.json()["errors"][0]["error"], "invalid_event");
    assert!(r.json()["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("U+0000"));
}

#[tokio::test]
async fn limits_and_bodies() {
    let t = TestDb::new().await;
    let app = t.app_with_limits(Limits {
        max_event_bytes: 2048,
        max_depth: 64,
    });
    let key = t.key("acme", Role::Ingest).await;
    // Not a batch.
    for body in [&b"not json"[..], b"[]", b"{\"events\": 3}"] {
        let r = call_raw(
            &app,
            Method::POST,
            "/v1/events",
            Some(&key),
            body.to_vec(),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        assert_eq!(r.json()["error"], "bad_request");
    }
    // One event over the per-event limit: 422 naming it.
    let mut big = event("a", 0);
    big.inputs = Some(json!({"blob": "x".repeat(4000)}));
    let big = big.seal(&Limits::default()).unwrap();
    let r = call(
        &app,
        Method::POST,
        "/v1/events",
        Some(&key),
        Some(json!({"events": [seal(event("a", 1)), big]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS);
    assert_eq!(r.json()["errors"][0]["index"], 1);
    assert_eq!(r.json()["errors"][0]["error"], "too_large");
    // Over 10,000 events: 413.
    let many = format!("{{\"events\":[{}]}}", vec!["1"; 10_001].join(","));
    let r = call_raw(
        &app,
        Method::POST,
        "/v1/events",
        Some(&key),
        many.into_bytes(),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.json()["detail"].as_str().unwrap().contains("10000"));
    // Over 16 MiB after decompression: 413 even though the gzip body is tiny.
    let huge = vec![b' '; 17 * 1024 * 1024];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&huge).unwrap();
    let r = call_raw(
        &app,
        Method::POST,
        "/v1/events",
        Some(&key),
        gz.finish().unwrap(),
        Some("gzip"),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());

    // gzip and zstd batches are accepted.
    let body = serde_json::to_vec(&batch(vec![event("a", 2), event("a", 3)])).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&body).unwrap();
    let r = call_raw(
        &app,
        Method::POST,
        "/v1/events",
        Some(&key),
        gz.finish().unwrap(),
        Some("gzip"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let body = serde_json::to_vec(&batch(vec![event("a", 4)])).unwrap();
    let z = zstd::encode_all(&body[..], 3).unwrap();
    let r = call_raw(
        &app,
        Method::POST,
        "/v1/events",
        Some(&key),
        z,
        Some("zstd"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["receipts"][0]["seq"], 4);
}

/// The partition flood: an ingest key sends events in hundreds of distinct
/// months. None is stored, no partition is made, and another organisation
/// goes on as before.
#[tokio::test]
async fn an_ingest_key_cannot_create_partitions() {
    let t = TestDb::new().await;
    let app = t.app();
    let a = t.key("attacker", Role::Ingest).await;
    let b_ingest = t.key("victim", Role::Ingest).await;
    let b_ops = t.key("victim", Role::Ops).await;
    let before = t.partition_count().await;
    // One event in each of 300 months from 1970 to 9999, ids agreeing.
    let month_us: i64 = 31 * 86_400 * 1_000_000;
    let flood: Vec<_> = (0..300)
        .map(|i| at(event("agent", i), i as i64 * 27 * month_us))
        .collect();
    let r = ingest(&app, &a, flood).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let errors = r.json()["errors"].as_array().unwrap().clone();
    // Every event but the few that fall in the window (none here: the
    // window is 30 days back) is refused, saying the window.
    assert_eq!(errors.len(), 300);
    for e in &errors {
        assert_eq!(e["error"], "out_of_window", "{e}");
        let d = e["detail"].as_str().unwrap();
        assert!(
            d.contains("SEALTRAIL_MAX_PAST") && d.contains("SEALTRAIL_MAX_FUTURE"),
            "{d}"
        );
    }
    let far = at(event("agent", 1), 253_402_300_799_000_000); // 9999-12-31
    let r = ingest(&app, &a, vec![far]).await;
    assert_eq!(r.json()["errors"][0]["error"], "out_of_window");
    assert_eq!(
        t.partition_count().await,
        before,
        "a request made a partition"
    );
    // Nothing of the attacker's was stored or chained.
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM event_ids")
        .fetch_one(&t.su)
        .await
        .unwrap();
    assert_eq!(stored, 0);
    // The other organisation ingests and reads as before.
    let r = ingest(&app, &b_ingest, vec![event("b", 0), event("b", 1)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = get(&app, "/v1/events?limit=10", &b_ops).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["events"].as_array().unwrap().len(), 2);
    let r = get(&app, "/v1/events?q=pad", &b_ops).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test]
async fn an_id_whose_time_is_far_from_ts_is_refused() {
    let t = TestDb::new().await;
    let app = t.app();
    let key = t.key("acme", Role::Ingest).await;
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let mut e = event("a", 0);
    e.id = sealtrail_core::event::EventId::generate_at(hour_ago);
    let ok = at(
        event("a", 1),
        sealtrail_core::Timestamp::now().as_micros() - 60_000_000,
    );
    let r = ingest(&app, &key, vec![e, ok]).await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS, "{}", r.text());
    let err = &r.json()["errors"][0];
    assert_eq!(err["index"], 0);
    assert_eq!(err["error"], "invalid_event");
    assert!(
        err["detail"].as_str().unwrap().contains("the time in id"),
        "{err}"
    );
    assert_eq!(r.json()["receipts"].as_array().unwrap().len(), 1);
}

/// With a window widened by the operator, old events land in the
/// partitions the owner made; an event of a month that has none is not
/// stored, and the batch is answered 503 (retry) rather than refused.
#[tokio::test]
async fn old_events_need_their_partition_made_ahead() {
    let t = TestDb::new().await;
    let app = t.app_with_window(wide_window());
    let key = t.key("acme", Role::Ingest).await;
    let july_2017 = 1_500_000_000_000_000;
    let r = ingest(&app, &key, vec![at(event("a", 0), july_2017)]).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert_eq!(r.headers["retry-after"], "5");
    assert_eq!(r.json()["error"], "unavailable");
    assert!(r.text().contains("partition"), "{}", r.text());
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM event_ids")
        .fetch_one(&t.su)
        .await
        .unwrap();
    assert_eq!(stored, 0);

    t.partitions(july_2017, july_2017).await;
    let mut e = event("a", 1);
    e.kind = EventType::Error;
    e.error = Some(sealtrail_core::event::ErrorInfo {
        kind: "Timeout".into(),
        message: "upstream timed out".into(),
        stack: None,
    });
    let r = ingest(&app, &key, vec![at(event("a", 0), july_2017), e]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let parts: Vec<String> =
        sqlx::query_scalar("SELECT tableoid::regclass::text FROM audit_events ORDER BY ts")
            .fetch_all(&t.su)
            .await
            .unwrap();
    assert_eq!(parts[0], "audit_events_y2017m07");
    assert_eq!(parts.len(), 2);
    // The partition made ahead has the same indexes and guards as any.
    let indexes: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_indexes WHERE tablename = 'audit_events_y2017m07'",
    )
    .fetch_one(&t.su)
    .await
    .unwrap();
    let parent: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_partitioned_table p JOIN pg_index i ON i.indrelid = p.partrelid
         WHERE p.partrelid = 'audit_events'::regclass",
    )
    .fetch_one(&t.su)
    .await
    .unwrap();
    assert_eq!(indexes, parent);
    let e = sqlx::raw_sql("TRUNCATE audit_events_y2017m07")
        .execute(&t.su)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
}

/// The convoy: a reader that stalls inside a transaction on audit_events
/// (an export whose client stopped reading) while the maintenance task makes
/// a new month's partition. Making it takes no lock that waits for the
/// reader, and ingest and other organisations' reads go on.
#[tokio::test]
async fn a_stalled_reader_does_not_stop_partitions_or_anyone_else() {
    use sqlx::Connection;
    let t = TestDb::new().await;
    let app = t.app();
    let a = t.key("a", Role::Ingest).await;
    let b_ingest = t.key("b", Role::Ingest).await;
    let b_ops = t.key("b", Role::Ops).await;
    ingest(&app, &b_ingest, vec![event("b", 0)]).await;

    let url = std::env::var("DATABASE_URL").unwrap();
    let opts: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    let mut reader = sqlx::PgConnection::connect_with(&opts.database(&t.name))
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN; SELECT count(*) FROM audit_events")
        .execute(&mut reader)
        .await
        .unwrap();

    let bounded = std::time::Duration::from_secs(30);
    let in_six_months = chrono::Utc::now().date_naive() + chrono::Months::new(6);
    let made = tokio::time::timeout(
        bounded,
        sealtrail_server::db::ensure_partition(&t.pool, in_six_months),
    )
    .await
    .expect("making a partition waited behind a reader")
    .unwrap();
    assert!(made);
    let r = tokio::time::timeout(bounded, ingest(&app, &a, vec![event("a", 0)]))
        .await
        .expect("ingest waited behind the reader");
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = tokio::time::timeout(bounded, get(&app, "/v1/events", &b_ops))
        .await
        .expect("a read waited behind the reader");
    assert_eq!(r.status, StatusCode::OK);

    // A lock that does conflict (another schema change holding audit_events)
    // makes the maintenance task give up after its lock timeout (it retries
    // later) instead of queueing everyone behind it.
    sqlx::raw_sql("COMMIT; BEGIN; LOCK TABLE audit_events IN SHARE UPDATE EXCLUSIVE MODE")
        .execute(&mut reader)
        .await
        .unwrap();
    let in_seven_months = chrono::Utc::now().date_naive() + chrono::Months::new(7);
    let err = tokio::time::timeout(
        bounded,
        sealtrail_server::db::ensure_partition(&t.pool, in_seven_months),
    )
    .await
    .expect("making a partition waited past its lock timeout")
    .unwrap_err();
    assert!(err.to_string().contains("lock timeout"), "{err}");
    let r = tokio::time::timeout(bounded, ingest(&app, &a, vec![event("a", 1)]))
        .await
        .expect("ingest waited behind the lock");
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut reader)
        .await
        .unwrap();
}

/// /readyz says degraded while statements wait on a lock, and ready again
/// after.
#[tokio::test]
async fn readyz_reports_lock_waits() {
    use sqlx::Connection;
    let t = TestDb::new().await;
    let app = t.app();
    let r = call(&app, Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let url = std::env::var("DATABASE_URL").unwrap();
    let opts: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    let opts = opts.database(&t.name);
    let mut holder = sqlx::PgConnection::connect_with(&opts).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE legal_holds IN ACCESS EXCLUSIVE MODE")
        .execute(&mut holder)
        .await
        .unwrap();
    let mut waiter = sqlx::PgConnection::connect_with(&opts).await.unwrap();
    let wait = tokio::spawn(async move {
        sqlx::raw_sql("SELECT count(*) FROM legal_holds")
            .execute(&mut waiter)
            .await
            .map(|_| ())
    });
    // readyz counts waits older than a second.
    let mut seen = None;
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let r = call(&app, Method::GET, "/readyz", None, None).await;
        if r.status == StatusCode::SERVICE_UNAVAILABLE {
            seen = Some(r.json());
            break;
        }
    }
    let body = seen.expect("/readyz stayed ready while a statement waited on a lock");
    assert_eq!(body["status"], "degraded");
    assert!(
        body["detail"].as_str().unwrap().contains("wait on a lock"),
        "{body}"
    );
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
    wait.await.unwrap().unwrap();
    let r = call(&app, Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test]
async fn the_server_role_cannot_change_or_remove_events() {
    let t = TestDb::new().await;
    let app = t.app();
    let key = t.key("acme", Role::Ingest).await;
    ingest(&app, &key, vec![event("a", 0), event("a", 1)]).await;
    let this_month = chrono::Utc::now()
        .format("DROP TABLE audit_events_y%Ym%m")
        .to_string();
    for sql in [
        "UPDATE audit_events SET name = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "DELETE FROM event_ids",
        "UPDATE chain_heads SET base_seq = 2",
        "DELETE FROM chain_heads",
        this_month.as_str(),
    ] {
        let e = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&t.pool)
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("permission denied") || e.to_string().contains("must be owner"),
            "{sql}: {e}"
        );
    }
    // Even the owner is refused by the triggers.
    for sql in [
        "UPDATE audit_events SET name = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "UPDATE chain_heads SET seq = 0",
        "DELETE FROM chain_heads",
    ] {
        let e = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&t.su)
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("refused") || e.to_string().contains("only moves forward"),
            "{sql}: {e}"
        );
    }
}

/// The same id sent at once under two agents (two chains, so no shared row
/// lock): one is stored, the other is refused as a reused id, whichever way
/// the race goes, and both chains stay whole.
#[tokio::test]
async fn one_id_raced_under_two_agents_is_stored_once() {
    let t = TestDb::new().await;
    let app = t.app();
    let key = t.key("acme", Role::Ingest).await;
    for round in 0..20 {
        let a = event("race-a", round);
        let mut b = event("race-b", round);
        b.id = a.id;
        let (ra, rb) = tokio::join!(ingest(&app, &key, vec![a]), ingest(&app, &key, vec![b]));
        let (ja, jb) = (ra.json(), rb.json());
        let stored = [&ja, &jb]
            .iter()
            .filter(|j| j["receipts"].as_array().is_some_and(|r| r.len() == 1))
            .count();
        let refused: Vec<&str> = [&ja, &jb]
            .iter()
            .filter_map(|j| j["errors"][0]["error"].as_str())
            .collect();
        assert_eq!(stored, 1, "round {round}: {ja} / {jb}");
        assert_eq!(refused, ["duplicate_id"], "round {round}: {ja} / {jb}");
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events")
        .fetch_one(&t.su)
        .await
        .unwrap();
    assert_eq!(n, 20);
    let ops = t.key("acme", Role::Ops).await;
    let v = call(&app, Method::POST, "/v1/verify", Some(&ops), None).await;
    assert_eq!(v.lines().pop().unwrap()["ok"], true, "{}", v.text());
}

/// Search finds what the server indexed: words in summary order up to the
/// configured cap, an id with punctuation as the phrase of its words, and
/// nothing past the cap.
#[tokio::test]
async fn search_words_are_indexed_in_order_up_to_the_cap() {
    let t = TestDb::new().await;
    let app = t.app_with_search(sealtrail_server::search::SearchConfig { max_words: 6 });
    let key = t.key("acme", Role::Ingest).await;
    let mut e = event("a1", 1);
    e.name = Some("lookup_invoice".into());
    e.inputs = Some(json!({"ref": "INV-2024-0042", "note": "alpha beta gamma delta"}));
    let r = ingest(&app, &key, vec![e]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let ops = t.key("acme", Role::Ops).await;
    let count = |q: &'static str| {
        let (app, ops) = (app.clone(), ops.clone());
        async move {
            let r = get(&app, &format!("/v1/events?q={q}"), &ops).await;
            assert_eq!(r.status, StatusCode::OK, "q={q}: {}", r.text());
            r.json()["events"].as_array().unwrap().len()
        }
    };
    // name (2 words), then input values in key order: note (4 words) fills the cap.
    assert_eq!(count("invoice").await, 1);
    assert_eq!(count("LOOKUP").await, 1);
    assert_eq!(count("gamma%20delta").await, 1);
    assert_eq!(count("%22alpha%20beta%22").await, 1);
    assert_eq!(count("%22beta%20alpha%22").await, 0,);
    // "ref" comes after "note": past the cap of 6 words.
    assert_eq!(count("INV-2024-0042").await, 0);
    let r = get(&app, "/v1/events?q=%21%21", &ops).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());

    // With the default cap the id is found, as a phrase of its words.
    let app = t.app();
    let mut e = event("a1", 2);
    e.inputs = Some(json!({"ref": "INV-2024-0042"}));
    assert_eq!(ingest(&app, &key, vec![e]).await.status, StatusCode::OK);
    let r = get(&app, "/v1/events?q=inv-2024-0042", &ops).await;
    assert_eq!(
        r.json()["events"].as_array().unwrap().len(),
        1,
        "{}",
        r.text()
    );
    let r = get(&app, "/v1/events?q=0042-2024-inv", &ops).await;
    assert_eq!(
        r.json()["events"].as_array().unwrap().len(),
        0,
        "{}",
        r.text()
    );
}

/// Two batches with the same ids under different agents, in opposite
/// orders, at once: one stores them, the other answers duplicate_id for
/// each; never a deadlock's 500.
#[tokio::test]
async fn opposite_order_duplicates_answer_duplicate_id() {
    let t = TestDb::new().await;
    let app = t.app();
    let key = t.key("acme", Role::Ingest).await;
    for round in 0..6 {
        let a: Vec<_> = (0..40).map(|i| event(&format!("a{round}"), i)).collect();
        let mut b: Vec<_> = a
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.agent_id = format!("b{round}");
                e
            })
            .collect();
        b.reverse();
        let (ra, rb) = tokio::join!(ingest(&app, &key, a), ingest(&app, &key, b));
        let mut stored = 0;
        for r in [&ra, &rb] {
            assert!(
                matches!(r.status.as_u16(), 200 | 207 | 422),
                "round {round}: {} {}",
                r.status,
                r.text()
            );
            let j = r.json();
            stored += j["receipts"].as_array().unwrap().len();
            for e in j["errors"].as_array().unwrap() {
                assert_eq!(e["error"], "duplicate_id", "{e}");
            }
        }
        assert_eq!(stored, 40, "round {round}: each id stored once");
    }
}

/// An ingest key limited to `support-*` appends only to those chains;
/// verification names a chain appended by more than one key.
#[tokio::test]
async fn keys_scoped_to_agents_and_chains_with_several_keys() {
    let t = TestDb::new().await;
    let app = t.app();
    let admin = t.key("acme", Role::Admin).await;
    let ops = t.key("acme", Role::Ops).await;
    let r = call(
        &app,
        Method::POST,
        "/v1/keys",
        Some(&admin),
        Some(json!({"role": "ingest", "agents": ["support-*"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["agents"], json!(["support-*"]));
    let scoped = r.json()["key"].as_str().unwrap().to_string();
    let r = call(
        &app,
        Method::POST,
        "/v1/keys",
        Some(&admin),
        Some(json!({"role": "ops", "agents": ["x"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());

    let r = ingest(
        &app,
        &scoped,
        vec![event("support-1", 0), event("billing", 1)],
    )
    .await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS, "{}", r.text());
    let j = r.json();
    assert_eq!(j["receipts"].as_array().unwrap().len(), 1);
    assert_eq!(j["errors"][0]["error"], "forbidden_agent");
    assert_eq!(j["errors"][0]["index"], 1);

    // Another (unscoped) key appends to the same chain: verify says so.
    let other = t.key("acme", Role::Ingest).await;
    let r = ingest(&app, &other, vec![event("support-1", 2)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let lines = call(&app, Method::POST, "/v1/verify", Some(&ops), None)
        .await
        .lines();
    let chain = lines.iter().find(|l| l["agent_id"] == "support-1").unwrap();
    assert_eq!(chain["ok"], true);
    assert_eq!(chain["keys"], 2, "{chain}");
}
