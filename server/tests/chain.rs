//! Chaining under concurrency, and the tamper suite: as a database superuser
//! with triggers disabled, edit each stored column in turn, delete a middle
//! row, swap two rows' seq, insert forged rows, cut the tail; verification
//! must name the first bad seq every time.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use sealtrail_core::chain::link_hash;
use sealtrail_core::event::{Decision, DecisionOutcome, ErrorInfo, Tokens};
use sealtrail_core::hash::Hash;
use sealtrail_core::{EventType, Limits};
use sealtrail_server::auth::Role;
use sealtrail_server::db;
use serde_json::{json, Value};

#[tokio::test]
async fn sixteen_concurrent_writers_to_one_chain() {
    let t = TestDb::new().await;
    let app = t.app();
    let key = t.key("acme", Role::Ingest).await;
    let mut tasks = Vec::new();
    for w in 0..16 {
        let app = app.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for b in 0..5 {
                let events: Vec<_> = (0..20)
                    .map(|i| event("shared-agent", w * 1000 + b * 100 + i))
                    .collect();
                let r = ingest(&app, &key, events).await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.text());
                for rc in r.json()["receipts"].as_array().unwrap() {
                    seqs.push(rc["seq"].as_u64().unwrap());
                }
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=1600).collect::<Vec<u64>>(),
        "seq must be contiguous with no repeats"
    );
    let org = t.org_id("acme").await;
    let heads = db::events::chains(&t.pool, org, None).await.unwrap();
    assert_eq!(heads.len(), 1);
    assert_eq!(heads[0].head_seq, 1600);
    let r = db::verify::verify_chain(&t.pool, org, &heads[0], |_| {})
        .await
        .unwrap();
    assert_eq!(r.unwrap().count, 1600);
    // Every prev_hash is the hash of seq - 1: no fork.
    let forks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events a JOIN audit_events b
           ON a.agent_id = b.agent_id AND b.seq = a.seq + 1 WHERE b.prev_hash <> a.hash",
    )
    .fetch_one(&t.su)
    .await
    .unwrap();
    assert_eq!(forks, 0);
}

/// An event with every field set, so every column holds something to edit.
fn full_event(i: usize) -> sealtrail_core::Event {
    let mut e = event("victim", i);
    e.kind = EventType::ModelCall;
    e.parent_id = Some("parent-1".into());
    e.prompt_hash = Some(sealtrail_core::hash::sha256(b"prompt").to_hex());
    e.outputs = Some(json!({"answer": "42", "score": 0.75}));
    e.decision = Some(Decision {
        outcome: DecisionOutcome::Approved,
        by: Some("alice".into()),
        reason: Some("ok".into()),
    });
    e.error = Some(ErrorInfo {
        kind: "Warn".into(),
        message: "slow".into(),
        stack: Some("at x".into()),
    });
    e.tokens = Some(Tokens {
        input: Some(10),
        output: Some(20),
    });
    e.cost_usd = Some("0.0120".into());
    e.latency_ms = Some(250);
    e.pii = Some([("email".to_string(), 2u64)].into_iter().collect());
    e.attrs = Some(
        json!({"env": "prod", "k": [1, 2]})
            .as_object()
            .unwrap()
            .clone(),
    );
    e
}

struct Tamper {
    t: TestDb,
    org: uuid::Uuid,
}

impl Tamper {
    async fn new() -> Tamper {
        let t = TestDb::new().await;
        let app = t.app();
        let key = t.key("acme", Role::Ingest).await;
        let r = ingest(&app, &key, (0..10).map(full_event).collect()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let org = t.org_id("acme").await;
        Tamper { t, org }
    }

    /// Runs `sql` as the superuser with triggers off (session_replication_role).
    async fn tamper(&self, sql: &str) {
        self.t.tamper(sql).await;
    }

    /// Verifies the victim chain both ways (walking its index, and the
    /// whole-organisation pass in storage order); they must agree.
    async fn verify(&self) -> Result<u64, (u64, String, String)> {
        let heads = db::events::chains(&self.t.pool, self.org, Some("victim"))
            .await
            .unwrap();
        let one = db::verify::verify_chain(&self.t.pool, self.org, &heads[0], |_| {})
            .await
            .unwrap();
        let org = db::verify::verify_org(&self.t.pool, self.org, |_| {})
            .await
            .unwrap();
        let (_, whole) = org
            .chains
            .into_iter()
            .find(|(h, _)| h.agent_id == "victim")
            .unwrap();
        let simplify = |r: db::verify::ChainResult| match r {
            Ok(v) => Ok(v.count),
            Err(b) => Err((b.seq, b.reason.as_str().to_string(), b.detail)),
        };
        let (one, whole) = (simplify(one), simplify(whole));
        assert_eq!(
            one.as_ref().map_err(|e| (e.0, e.1.clone())),
            whole.as_ref().map_err(|e| (e.0, e.1.clone())),
            "per-chain and whole-organisation verification disagree"
        );
        one
    }
}

#[tokio::test]
async fn tamper_each_column() {
    // (column, new value as SQL) applied to seq 4.
    let edits: &[(&str, &str)] = &[
        ("id", "'00000000-0000-0000-0000-000000000001'::uuid"),
        ("ts", "ts + interval '1 microsecond'"),
        ("type", "'tool_call'"),
        ("actor_id", "'someone-else'"),
        ("session_id", "'other-session'"),
        ("trace_id", "NULL"),
        ("parent_id", "'parent-2'"),
        ("name", "'tool_x'"),
        ("prompt_hash", "repeat('a', 64)"),
        ("inputs", "'{\"query\": \"edited\"}'::json"),
        (
            "outputs",
            "(outputs::jsonb || '{\"answer\": \"43\"}'::jsonb)::json",
        ),
        ("decision_outcome", "'denied'"),
        ("decision_by", "'mallory'"),
        ("decision_reason", "NULL"),
        ("error_type", "'Other'"),
        ("error_message", "'fast'"),
        ("error_stack", "NULL"),
        ("tokens", "'{\"input\": 10, \"output\": 2}'::json"),
        ("cost_usd", "'0.012'"),
        ("latency_ms", "1"),
        ("pii", "'{}'::json"),
        ("attrs", "'{\"env\": \"dev\", \"k\": [1, 2]}'::json"),
        // Same text but one character, the fast path's own case.
        ("attrs", "replace(attrs::text, 'prod', 'prud')::json"),
        ("content_hash", "sha256('x'::bytea)"),
        ("prev_hash", "sha256('y'::bytea)"),
        ("hash", "sha256('z'::bytea)"),
        ("api_key_id", "gen_random_uuid()"),
        ("seq", "40"),
        ("agent_id", "'elsewhere'"),
        ("org_id", "gen_random_uuid()"),
    ];
    // One database: each edit is made, verified, then undone (triggers off).
    let tm = Tamper::new().await;
    assert_eq!(tm.verify().await, Ok(10));
    for (col, val) in edits {
        // Keep the original row, edit, verify, put the original back.
        tm.tamper("DROP TABLE IF EXISTS public.tamper_bak; CREATE TABLE public.tamper_bak AS SELECT * FROM audit_events WHERE agent_id = 'victim' AND seq = 4").await;
        tm.tamper(&format!(
            "UPDATE audit_events SET {col} = {val} WHERE agent_id = 'victim' AND seq = 4"
        ))
        .await;
        let r = tm.verify().await;
        let (seq, reason, detail) = r
            .clone()
            .expect_err(&format!("editing {col} went unnoticed"));
        assert_eq!(seq, 4, "editing {col}: {r:?}");
        let expected = match *col {
            "seq" | "agent_id" | "org_id" => "missing",
            _ => "edited",
        };
        assert_eq!(reason, expected, "editing {col}: {detail}");
        tm.tamper(&format!(
            "DELETE FROM audit_events WHERE seq = 40 OR agent_id = 'elsewhere' OR org_id NOT IN (SELECT id FROM organizations) \
             OR (agent_id = 'victim' AND seq = 4);
             INSERT INTO audit_events (org_id, {COLS}) SELECT org_id, {COLS} FROM public.tamper_bak",
            COLS = db::events::SELECT_COLS
        ))
        .await;
        assert_eq!(tm.verify().await, Ok(10), "restoring after {col}");
    }
}

/// The JSON-valued members are stored as the canonical text that was hashed;
/// the same values written another way (jsonb's key order and spacing, as
/// rows stored before migration 4 have them) are not an edit: verification
/// parses them and finds the same canonical form.
#[tokio::test]
async fn reformatted_payloads_still_verify() {
    let tm = Tamper::new().await;
    let canonical: String = sqlx::query_scalar(
        "SELECT inputs::text FROM audit_events WHERE agent_id = 'victim' AND seq = 4",
    )
    .fetch_one(&tm.t.su)
    .await
    .unwrap();
    assert!(
        !canonical.contains(": "),
        "stored as canonical text: {canonical}"
    );
    tm.tamper(
        "UPDATE audit_events SET inputs = inputs::jsonb::json, outputs = outputs::jsonb::json,
             attrs = ('  ' || attrs::jsonb::text || ' ')::json, tokens = tokens::jsonb::json
         WHERE agent_id = 'victim'",
    )
    .await;
    let reformatted: String = sqlx::query_scalar(
        "SELECT inputs::text FROM audit_events WHERE agent_id = 'victim' AND seq = 4",
    )
    .fetch_one(&tm.t.su)
    .await
    .unwrap();
    assert_ne!(reformatted, canonical);
    assert_eq!(tm.verify().await, Ok(10));
}

#[tokio::test]
async fn tamper_rows() {
    let tm = Tamper::new().await;
    // Delete a middle row.
    tm.tamper("DROP TABLE IF EXISTS public.tb; CREATE TABLE public.tb AS SELECT * FROM audit_events WHERE seq = 5").await;
    tm.tamper("DELETE FROM audit_events WHERE seq = 5").await;
    let (seq, reason, _) = tm.verify().await.unwrap_err();
    assert_eq!((seq, reason.as_str()), (5, "missing"));
    let restore = format!(
        "INSERT INTO audit_events (org_id, {c}) SELECT org_id, {c} FROM public.tb",
        c = db::events::SELECT_COLS
    );
    tm.tamper(&restore).await;
    assert_eq!(tm.verify().await, Ok(10));

    // Swap two rows' seq.
    tm.tamper(
        "UPDATE audit_events SET seq = CASE seq WHEN 6 THEN 7 ELSE 6 END WHERE seq IN (6, 7)",
    )
    .await;
    let (seq, reason, detail) = tm.verify().await.unwrap_err();
    assert_eq!((seq, reason.as_str()), (6, "reordered"), "{detail}");
    tm.tamper(
        "UPDATE audit_events SET seq = CASE seq WHEN 6 THEN 7 ELSE 6 END WHERE seq IN (6, 7)",
    )
    .await;
    assert_eq!(tm.verify().await, Ok(10));

    // Replace a middle row by a forged one that hashes correctly by itself
    // (made by someone holding the spec) but links to nothing.
    let row = sqlx::query_as::<_, (uuid::Uuid, Vec<u8>)>(
        "SELECT api_key_id, content_hash FROM audit_events WHERE seq = 3",
    )
    .fetch_one(&tm.t.su)
    .await
    .unwrap();
    let fake_prev = sealtrail_core::hash::sha256(b"not a link");
    let content = Hash::from_slice(&row.1).unwrap();
    let forged = link_hash(
        &tm.org.to_string(),
        "victim",
        &row.0.to_string(),
        3,
        &fake_prev,
        &content,
    );
    tm.tamper("DROP TABLE IF EXISTS public.tb; CREATE TABLE public.tb AS SELECT * FROM audit_events WHERE seq = 3").await;
    tm.tamper(&format!(
        "UPDATE audit_events SET prev_hash = '\\x{}', hash = '\\x{}' WHERE seq = 3",
        fake_prev.to_hex(),
        forged.to_hex()
    ))
    .await;
    let (seq, reason, detail) = tm.verify().await.unwrap_err();
    assert_eq!((seq, reason.as_str()), (3, "forged"), "{detail}");
    tm.tamper(&format!(
        "DELETE FROM audit_events WHERE seq = 3; {restore}"
    ))
    .await;
    assert_eq!(tm.verify().await, Ok(10));

    // Append a forged row past the head, correctly linked: the recorded
    // head (chain_heads) shows it was written around the server.
    let head = db::events::chains(&tm.t.pool, tm.org, Some("victim"))
        .await
        .unwrap()
        .remove(0);
    let mut e = full_event(100);
    e.name = Some("forged".into());
    let sealed = e.seal(&Limits::default()).unwrap();
    let key_id = row.0;
    let h = link_hash(
        &tm.org.to_string(),
        "victim",
        &key_id.to_string(),
        11,
        &head.head_hash,
        &sealed.content_hash,
    );
    tm.tamper(&format!(
        "INSERT INTO audit_events (org_id, agent_id, seq, id, ts, type, content_hash, prev_hash, hash, api_key_id)
         VALUES ('{org}', 'victim', 11, '{id}', now(), 'tool_call', '\\x{c}', '\\x{p}', '\\x{h}', '{k}')",
        org = tm.org,
        id = db::events::uuid_of(sealed.event.id),
        c = sealed.content_hash.to_hex(),
        p = head.head_hash.to_hex(),
        h = h.to_hex(),
        k = key_id,
    ))
    .await;
    let (seq, reason, detail) = tm.verify().await.unwrap_err();
    assert_eq!((seq, reason.as_str()), (11, "forged"), "{detail}");
    tm.tamper("DELETE FROM audit_events WHERE seq = 11").await;
    assert_eq!(tm.verify().await, Ok(10));

    // Cut the tail: the chain still links, but chain_heads says seq 10 exists.
    tm.tamper("DELETE FROM audit_events WHERE seq IN (9, 10)")
        .await;
    let (seq, reason, detail) = tm.verify().await.unwrap_err();
    assert_eq!((seq, reason.as_str()), (9, "missing"), "{detail}");
}

#[tokio::test]
async fn verify_endpoints_report_the_break() {
    let tm = Tamper::new().await;
    let app = tm.t.app();
    let ops = tm.t.key("acme", Role::Ops).await;
    let r = get(&app, "/v1/chains/victim/verify", &ops).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.lines()[0]["ok"], true, "{}", r.text());
    tm.tamper("UPDATE audit_events SET name = 'edited' WHERE seq = 7")
        .await;
    let r = get(&app, "/v1/chains/victim/verify", &ops).await;
    let l = &r.lines()[0];
    assert_eq!(
        (l["ok"].clone(), l["seq"].clone(), l["reason"].clone()),
        (Value::Bool(false), json!(7), json!("edited")),
        "{l}"
    );
    // A row for an agent that has no chain head at all.
    tm.tamper("INSERT INTO audit_events (org_id, agent_id, seq, id, ts, type, content_hash, prev_hash, hash, api_key_id)
               SELECT org_id, 'ghost', 1, gen_random_uuid(), ts, type, content_hash, prev_hash, hash, api_key_id
               FROM audit_events WHERE seq = 1").await;
    let r = call(&app, Method::POST, "/v1/verify", Some(&ops), None).await;
    let lines = r.lines();
    let last = lines.last().unwrap();
    assert_eq!(last["ok"], false);
    assert_eq!(last["broken"], 2, "{}", r.text());
    assert!(lines
        .iter()
        .any(|l| l["agent_id"] == "ghost" && l["reason"] == "forged"));
}
