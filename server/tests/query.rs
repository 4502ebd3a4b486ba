//! `GET /v1/events` pages against a plain model of the data: cursor pages
//! across monthly partitions and equal timestamps, filters that the query
//! indexes check on their entries, and each of the three ways a full-text
//! search finds its page (see `db::events::query`).

mod common;

use axum::http::StatusCode;
use common::*;
use sealtrail_core::EventType;
use sealtrail_server::auth::Role;
use sealtrail_server::db;
use serde_json::json;

/// One stored event as the model sees it.
struct Row {
    ts: i64,
    id: String,
    agent: String,
    kind: EventType,
    name: String,
    words: Vec<&'static str>,
}

/// Every id of `path`'s pages (`limit` each), following `next_cursor`.
async fn all_pages(app: &axum::Router, key: &str, path: &str, limit: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut url = format!("{path}{sep}limit={limit}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let r = get(app, &url, key).await;
        assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.text());
        let page = r.json();
        let evs = page["events"].as_array().unwrap();
        assert!(evs.len() <= limit);
        ids.extend(
            evs.iter()
                .map(|e| e["event"]["id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(evs.len(), limit, "{url}: a short page with a next cursor");
                cursor = Some(c.to_string());
            }
            None => break,
        }
    }
    ids
}

#[tokio::test]
async fn pages_match_the_model_across_partitions_and_search_strategies() {
    let t = TestDb::new().await;
    let base: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z
    let app = t.app_with_window(wide_window());
    t.partitions(base, base + 121 * 86_400 * 1_000_000).await;
    let ingest_key = t.key("acme", Role::Ingest).await;
    let ops = t.key("acme", Role::Ops).await;

    // 1,300 events over four months from 2026-01-01, three at each instant
    // (so pages also break between equal timestamps, ordered by id).
    // Words: "common" in every event; "medium" in the oldest 1,050 only, so
    // none is among the newest rows a search looks at first and there are
    // more than the GIN probe's cap (1,000): the time-index walk; "rare" in
    // 14 events: the GIN read.
    let n = 1300usize;
    let step: i64 = 120 * 86_400 * 1_000_000 / (n as i64 / 3);
    let mut model = Vec::new();
    let mut events = Vec::new();
    for i in 0..n {
        let mut e = at(
            event(&format!("agent-{}", i % 3), i),
            base + (i as i64 / 3) * step,
        );
        e.kind = if i % 4 == 0 {
            EventType::ModelCall
        } else {
            EventType::ToolCall
        };
        let mut words = vec!["common"];
        if i < 1050 {
            words.push("medium");
        }
        if i % 97 == 5 {
            words.push("rare");
        }
        e.inputs = Some(json!({ "text": words.join(" "), "n": i }));
        model.push(Row {
            ts: e.ts.as_micros(),
            id: e.id.to_string(),
            agent: e.agent_id.clone(),
            kind: e.kind,
            name: e.name.clone().unwrap(),
            words,
        });
        events.push(e);
    }
    for chunk in events.chunks(500) {
        let r = ingest(&app, &ingest_key, chunk.to_vec()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    model.sort_by(|a, b| (b.ts, &b.id).cmp(&(a.ts, &a.id)));
    let parts: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'audit_events'::regclass",
    )
    .fetch_one(&t.su)
    .await
    .unwrap();
    assert!(parts >= 5, "the events span several partitions ({parts})");

    let expect = |keep: &dyn Fn(&Row) -> bool| -> Vec<String> {
        model
            .iter()
            .filter(|r| keep(r))
            .map(|r| r.id.clone())
            .collect()
    };
    let cases: Vec<(&str, usize, Vec<String>)> = vec![
        ("/v1/events", 50, expect(&|_| true)),
        ("/v1/events", 7, expect(&|_| true)),
        (
            "/v1/events?agent_id=agent-1",
            40,
            expect(&|r| r.agent == "agent-1"),
        ),
        (
            "/v1/events?agent_id=agent-2&type=model_call",
            25,
            expect(&|r| r.agent == "agent-2" && r.kind == EventType::ModelCall),
        ),
        (
            "/v1/events?name=tool_3",
            30,
            expect(&|r| r.name == "tool_3"),
        ),
        (
            "/v1/events?type=model_call&name=tool_0",
            30,
            expect(&|r| r.kind == EventType::ModelCall && r.name == "tool_0"),
        ),
        (
            "/v1/events?from=2026-02-01T00:00:00Z&to=2026-03-15T00:00:00Z",
            60,
            expect(&|r| (1_769_904_000_000_000..1_773_532_800_000_000).contains(&r.ts)),
        ),
        (
            "/v1/events?q=common",
            50,
            expect(&|r| r.words.contains(&"common")),
        ),
        (
            "/v1/events?q=rare",
            5,
            expect(&|r| r.words.contains(&"rare")),
        ),
        (
            "/v1/events?q=medium",
            50,
            expect(&|r| r.words.contains(&"medium")),
        ),
        (
            "/v1/events?q=medium&agent_id=agent-0",
            20,
            expect(&|r| r.words.contains(&"medium") && r.agent == "agent-0"),
        ),
        (
            "/v1/events?q=rare%20common",
            3,
            expect(&|r| r.words.contains(&"rare")),
        ),
        ("/v1/events?q=absent", 10, vec![]),
    ];
    for (path, limit, want) in cases {
        assert!(!want.is_empty() || path.contains("absent"), "{path}");
        let got = all_pages(&app, &ops, path, limit).await;
        assert_eq!(got.len(), want.len(), "{path} (limit {limit}): count");
        assert!(got == want, "{path} (limit {limit}): order or content");
    }
}

#[tokio::test]
async fn migrations_apply_once_and_keep_their_checksums() {
    let t = TestDb::new().await;
    assert!(db::pending_migrations(&t.pool).await.unwrap().is_empty());
    let url = std::env::var("DATABASE_URL").unwrap();
    let opts: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    let again = db::migrate_with(&opts.database(&t.name)).await.unwrap();
    assert!(again.is_empty(), "{again:?}");
    let def: String = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'audit_events_agent_ts'",
    )
    .fetch_one(&t.su)
    .await
    .unwrap();
    assert!(
        def.contains("(org_id, agent_id, ts, id, type, name)"),
        "{def}"
    );
}
