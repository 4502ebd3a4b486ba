//! Query and verify speed: loads 1,000,000 events over 200 agents and 90 days
//! (properly chained, straight into PostgreSQL with COPY), then times the
//! first page of each filter, a deep cursor page and by-id lookups through
//! the router, and verification from the database.
//!
//! cargo bench -p sealtrail-server --bench query
//! (BENCH_EVENTS, BENCH_AGENTS, BENCH_REUSE=1 to keep a loaded database,
//! BENCH_DB to name it when several worktrees share one PostgreSQL)

#[path = "support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use sealtrail_core::chain::link_hash;
use sealtrail_core::event::Payload;
use sealtrail_core::hash::Hash;
use sealtrail_core::{Limits, Timestamp};
use sealtrail_server::auth::Role;
use sealtrail_server::{db, AppState};
use sqlx::{Connection, Row};
use support::*;
use tower::ServiceExt;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn esc(out: &mut String, s: Option<&str>) {
    match s {
        None => out.push_str("\\N"),
        Some(s) => {
            for ch in s.chars() {
                match ch {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
    }
}

fn hexcol(out: &mut String, h: &Hash) {
    out.push_str("\\\\x");
    out.push_str(&h.to_hex());
}

#[tokio::main]
async fn main() {
    let n_events = env("BENCH_EVENTS", 1_000_000);
    let n_agents = env("BENCH_AGENTS", 200);
    let name = std::env::var("BENCH_DB").unwrap_or_else(|_| "sealtrail_bench_query".into());
    let name = name.as_str();
    let reuse = std::env::var("BENCH_REUSE").is_ok();
    let opts = if reuse {
        admin().database(name)
    } else {
        fresh_db(name).await
    };
    let pool = db::connect_with(opts.clone(), Some("sealtrail_app"), 8)
        .await
        .unwrap();
    let org = db::keys::org_by_name(&pool, "bench").await.unwrap();
    let ingest_key = db::keys::create(&pool, org, Role::Ingest, None)
        .await
        .unwrap();
    let ops = db::keys::create(&pool, org, Role::Ops, None)
        .await
        .unwrap()
        .key;
    let have: i64 = sqlx::query_scalar("SELECT count(*) FROM event_ids")
        .fetch_one(&pool)
        .await
        .unwrap();
    if have == 0 {
        load(&opts, &pool, org, ingest_key.info.id, n_events, n_agents).await;
    }
    let app = sealtrail_server::app(AppState::new(pool.clone(), Limits::default()));

    let mut su = sqlx::PgConnection::connect_with(&opts).await.unwrap();
    let sample =
        sqlx::query("SELECT trace_id, id FROM audit_events TABLESAMPLE SYSTEM (1) LIMIT 200")
            .fetch_all(&mut su)
            .await
            .unwrap();
    let traces: Vec<String> = sample.iter().map(|r| r.get(0)).collect();
    let ids: Vec<String> = sample
        .iter()
        .map(|r| db::events::event_id_of(r.get(1)).to_string())
        .collect();
    let deep = sqlx::query("SELECT ts, id FROM audit_events WHERE org_id = $1 ORDER BY ts DESC, id DESC OFFSET $2 LIMIT 1")
        .bind(org)
        .bind((have.max(n_events as i64) / 2) as i64)
        .fetch_one(&mut su)
        .await
        .unwrap();
    let deep_ts: chrono::DateTime<chrono::Utc> = deep.get(0);
    let deep_cursor = format!(
        "{}_{}",
        deep_ts.timestamp_micros(),
        db::events::event_id_of(deep.get(1))
    );
    let day = chrono::Utc::now() - chrono::Duration::days(45);
    let day_from = day.format("%Y-%m-%dT00:00:00Z").to_string();
    let day_to = (day + chrono::Duration::days(1))
        .format("%Y-%m-%dT00:00:00Z")
        .to_string();

    let mut rng = Rng::new(11);
    let runs = 40;
    type Gen<'a> = Box<dyn FnMut(&mut Rng) -> String + 'a>;
    let cases: Vec<(&str, Gen)> = vec![
        ("newest page (no filter)", Box::new(|_| "/v1/events".into())),
        (
            "agent_id",
            Box::new(move |r| format!("/v1/events?agent_id=agent-{}", r.below(n_agents as u64))),
        ),
        (
            "actor_id",
            Box::new(|r| format!("/v1/events?actor_id=user-{}", r.below(5000))),
        ),
        (
            "session_id",
            Box::new(|r| format!("/v1/events?session_id=session-{}", r.below(50_000))),
        ),
        (
            "trace_id",
            Box::new(|r| {
                format!(
                    "/v1/events?trace_id={}",
                    traces[r.below(traces.len() as u64) as usize]
                )
            }),
        ),
        ("type=error", Box::new(|_| "/v1/events?type=error".into())),
        (
            "name",
            Box::new(|r| format!("/v1/events?name=tool_{}", r.below(40))),
        ),
        (
            "decision=denied",
            Box::new(|_| "/v1/events?decision=denied".into()),
        ),
        (
            "has_pii=true",
            Box::new(|_| "/v1/events?has_pii=true".into()),
        ),
        (
            "time range (1 day)",
            Box::new(|_| format!("/v1/events?from={day_from}&to={day_to}")),
        ),
        (
            "q (common word)",
            Box::new(|_| "/v1/events?q=refund".into()),
        ),
        (
            "q (rare token)",
            Box::new(|r| format!("/v1/events?q=ref{}", r.below(100_000))),
        ),
        (
            "agent_id + type",
            Box::new(move |r| {
                format!(
                    "/v1/events?agent_id=agent-{}&type=model_call",
                    r.below(n_agents as u64)
                )
            }),
        ),
        (
            "deep cursor (middle of 1M)",
            Box::new(|_| format!("/v1/events?cursor={deep_cursor}")),
        ),
        (
            "by id",
            Box::new(|r| format!("/v1/events/{}", ids[r.below(ids.len() as u64) as usize])),
        ),
    ];
    let mut table = String::new();
    writeln!(table, "\n## Query ({} events, {n_agents} agents, 90 days; first page = 100 events; {runs} runs each)\n", have.max(n_events as i64)).unwrap();
    writeln!(table, "| query | p50 ms | p95 ms | rows |").unwrap();
    writeln!(table, "| --- | --- | --- | --- |").unwrap();
    let host0 = host_ticks();
    for (label, mut gen) in cases {
        let mut lat = Vec::new();
        let mut rows = 0;
        for i in 0..runs + 3 {
            let path = gen(&mut rng);
            let req = Request::get(&path)
                .header("authorization", format!("Bearer {ops}"))
                .body(Body::empty())
                .unwrap();
            let t = Instant::now();
            let resp = app.clone().oneshot(req).await.unwrap();
            let status = resp.status();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            assert!(
                status.is_success(),
                "{path}: {status} {}",
                String::from_utf8_lossy(&body)
            );
            if i >= 3 {
                lat.push(ms);
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                rows = v["events"].as_array().map(|a| a.len()).unwrap_or(1);
            }
        }
        lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
        writeln!(
            table,
            "| {label} | {:.2} | {:.2} | {rows} |",
            percentile(&lat, 0.5),
            percentile(&lat, 0.95)
        )
        .unwrap();
    }
    writeln!(
        table,
        "\nCPU time stolen by the hypervisor during the queries: {:.1}%",
        steal_percent(host0, host_ticks())
    )
    .unwrap();
    print!("{table}");

    // Verify every chain from the database, both ways.
    let heads = db::events::chains(&pool, org, None).await.unwrap();
    let host0 = host_ticks();
    let t = Instant::now();
    let mut total = 0;
    let mut results = std::pin::pin!(db::verify::verify_many(&pool, org, &heads));
    while let Some((_, r)) = futures_util::StreamExt::next(&mut results).await {
        total += r.unwrap().expect("chain verifies").count;
    }
    let per_chain = (total, t.elapsed().as_secs_f64());
    let t = Instant::now();
    let report = db::verify::verify_org(&pool, org, |_| {}).await.unwrap();
    let mut total = 0;
    for (_, r) in &report.chains {
        total += r.as_ref().expect("chain verifies").count;
    }
    let org_scan = (total, t.elapsed().as_secs_f64());
    println!("\n## Verify\n\n| method | chains | events | seconds | events/s |\n| --- | --- | --- | --- | --- |");
    for (label, (n, secs)) in [
        (
            "each chain through the (agent, seq) index, 4 at a time (GET /v1/chains/{a}/verify)",
            per_chain,
        ),
        (
            "whole organisation, one pass in storage order (POST /v1/verify, sealtrail verify)",
            org_scan,
        ),
    ] {
        println!(
            "| {label} | {} | {n} | {secs:.2} | {:.0} |",
            heads.len(),
            n as f64 / secs
        );
    }
    println!(
        "\nCPU time stolen by the hypervisor during verification: {:.1}%",
        steal_percent(host0, host_ticks())
    );
}

#[allow(clippy::needless_range_loop)] // `a` names the agent as well as indexing
async fn load(
    opts: &sqlx::postgres::PgConnectOptions,
    pool: &sqlx::PgPool,
    org: uuid::Uuid,
    key_id: uuid::Uuid,
    n: usize,
    agents: usize,
) {
    let t = Instant::now();
    let now = Timestamp::now().as_micros();
    let span: i64 = 90 * 86_400 * 1_000_000;
    let start = now - span;
    let day = chrono::DateTime::from_timestamp_micros(start)
        .unwrap()
        .date_naive();
    for m in 0..5 {
        if let Some(d) = day.checked_add_months(chrono::Months::new(m)) {
            db::ensure_partition(pool, d).await.unwrap();
        }
    }
    let per = n / agents;
    let mut conn = sqlx::PgConnection::connect_with(opts).await.unwrap();
    let cols = "org_id, agent_id, seq, id, ts, type, actor_id, session_id, trace_id, parent_id, name, prompt_hash, inputs, outputs, decision_outcome, decision_by, decision_reason, error_type, error_message, error_stack, tokens, cost_usd, latency_ms, pii, attrs, content_hash, prev_hash, hash, api_key_id, search";
    let mut rng = Rng::new(3);
    let (org_s, key_s) = (org.to_string(), key_id.to_string());
    let mut ids_buf = String::new();
    let mut heads_buf = String::new();
    let mut cp = conn
        .copy_in_raw(&format!("COPY audit_events ({cols}) FROM STDIN"))
        .await
        .unwrap();
    // Interleave agents over time, as a fleet would write.
    let mut prev = vec![Hash::ZERO; agents];
    let mut buf = String::with_capacity(4 << 20);
    for i in 0..per {
        for a in 0..agents {
            let seq = (i + 1) as u64;
            let ts = Timestamp::from_micros(start + ((i * agents + a) as i64) * (span / n as i64))
                .unwrap();
            let agent = format!("agent-{a}");
            let e = make_event(&mut rng, &agent, ts, 500)
                .seal(&Limits::default())
                .unwrap();
            let h = link_hash(&org_s, &agent, &key_s, seq, &prev[a], &e.content_hash);
            let ev = &e.event;
            // JSON members as the server stores them: canonical text.
            let j = |w: Payload| {
                let mut out = Vec::new();
                ev.write_payload_canonical(w, &mut out)
                    .then(|| String::from_utf8(out).unwrap())
            };
            let uid = db::events::uuid_of(ev.id);
            write!(
                buf,
                "{org_s}\t{agent}\t{seq}\t{uid}\t{}\t{}\t",
                ev.ts,
                ev.kind.as_str()
            )
            .unwrap();
            for s in [
                &ev.actor_id,
                &ev.session_id,
                &ev.trace_id,
                &ev.parent_id,
                &ev.name,
                &ev.prompt_hash,
            ] {
                esc(&mut buf, s.as_deref());
                buf.push('\t');
            }
            esc(&mut buf, j(Payload::Inputs).as_deref());
            buf.push('\t');
            esc(&mut buf, j(Payload::Outputs).as_deref());
            buf.push('\t');
            let d = ev.decision.as_ref();
            esc(&mut buf, d.map(|d| d.outcome.as_str()));
            buf.push('\t');
            esc(&mut buf, d.and_then(|d| d.by.as_deref()));
            buf.push('\t');
            esc(&mut buf, d.and_then(|d| d.reason.as_deref()));
            buf.push('\t');
            let er = ev.error.as_ref();
            esc(&mut buf, er.map(|x| x.kind.as_str()));
            buf.push('\t');
            esc(&mut buf, er.map(|x| x.message.as_str()));
            buf.push('\t');
            esc(&mut buf, er.and_then(|x| x.stack.as_deref()));
            buf.push('\t');
            esc(&mut buf, j(Payload::Tokens).as_deref());
            buf.push('\t');
            esc(&mut buf, ev.cost_usd.as_deref());
            buf.push('\t');
            esc(&mut buf, ev.latency_ms.map(|v| v.to_string()).as_deref());
            buf.push('\t');
            esc(&mut buf, j(Payload::Pii).as_deref());
            buf.push('\t');
            esc(&mut buf, j(Payload::Attrs).as_deref());
            buf.push('\t');
            hexcol(&mut buf, &e.content_hash);
            buf.push('\t');
            hexcol(&mut buf, &prev[a]);
            buf.push('\t');
            hexcol(&mut buf, &h);
            write!(buf, "\t{key_s}\t").unwrap();
            let words = sealtrail_server::search::event_words(ev, &Default::default());
            esc(&mut buf, Some(&words.to_text()));
            buf.push('\n');
            write!(ids_buf, "{org_s}\t{uid}\t{agent}\t{seq}\t{}\t", ev.ts).unwrap();
            hexcol(&mut ids_buf, &h);
            ids_buf.push('\t');
            hexcol(&mut ids_buf, &e.content_hash);
            ids_buf.push('\n');
            prev[a] = h;
            if buf.len() > (4 << 20) {
                cp.send(buf.as_bytes()).await.unwrap();
                buf.clear();
            }
        }
        if i % 500 == 0 {
            eprint!(
                "\rloading: {} events ({:.0}/s)   ",
                i * agents,
                (i * agents) as f64 / t.elapsed().as_secs_f64()
            );
        }
    }
    cp.send(buf.as_bytes()).await.unwrap();
    cp.finish().await.unwrap();
    let mut cp = conn
        .copy_in_raw(
            "COPY event_ids (org_id, id, agent_id, seq, ts, hash, content_hash) FROM STDIN",
        )
        .await
        .unwrap();
    cp.send(ids_buf.as_bytes()).await.unwrap();
    cp.finish().await.unwrap();
    for (a, h) in prev.iter().enumerate() {
        write!(heads_buf, "{org_s}\tagent-{a}\t{per}\t").unwrap();
        hexcol(&mut heads_buf, h);
        heads_buf.push('\n');
    }
    let mut cp = conn
        .copy_in_raw("COPY chain_heads (org_id, agent_id, seq, hash) FROM STDIN")
        .await
        .unwrap();
    cp.send(heads_buf.as_bytes()).await.unwrap();
    cp.finish().await.unwrap();
    // One statement each: several in one simple query form an implicit
    // transaction block, where VACUUM may not run.
    for sql in ["VACUUM ANALYZE audit_events", "ANALYZE event_ids"] {
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    }
    eprintln!(
        "\nloaded {} events in {:.1} s",
        per * agents,
        t.elapsed().as_secs_f64()
    );
}
