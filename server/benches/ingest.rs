//! Ingest load: N concurrent HTTP clients send batches of 500 events of
//! about 1 KiB to a server (in this process, over TCP, against the machine's
//! PostgreSQL with fsync on), then the same rows are COPYed raw into the same
//! schema for comparison, with three full-text designs.
//!
//! cargo bench -p sealtrail-server --bench ingest
//! (BENCH_CLIENTS, BENCH_BATCHES per client, BENCH_DATABASE_URL,
//! BENCH_SEARCH_WORDS: words indexed per event, as SEALTRAIL_SEARCH_WORDS)

#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sealtrail_core::wire::IngestBatch;
use sealtrail_core::{Limits, Timestamp};
use sealtrail_server::auth::Role;
use sealtrail_server::{db, AppState};
use sqlx::postgres::PgConnectOptions;
use sqlx::Connection;
use support::*;

// As the `sealtrail` binary does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 500;
const EVENT_BYTES: usize = 1024;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let clients = env("BENCH_CLIENTS", 8);
    let batches = env("BENCH_BATCHES", 25);
    let search = sealtrail_server::search::SearchConfig {
        max_words: env(
            "BENCH_SEARCH_WORDS",
            sealtrail_server::search::SearchConfig::default().max_words,
        ),
    };
    let opts = fresh_db("sealtrail_bench_ingest").await;
    let pool = db::connect_with(opts.clone(), Some("sealtrail_app"), 16)
        .await
        .unwrap();
    let org = db::keys::org_by_name(&pool, "bench").await.unwrap();
    let key = db::keys::create(&pool, org, Role::Ingest, None)
        .await
        .unwrap()
        .key;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = sealtrail_server::app(AppState::with_search(
        pool.clone(),
        Limits::default(),
        search,
    ));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // Bodies are made (and sealed) before timing: that is the client's work.
    let mut rng = Rng::new(7);
    let mut bodies: Vec<Vec<Bytes>> = Vec::new();
    let mut sample = 0usize;
    for c in 0..clients {
        let mut mine = Vec::new();
        for b in 0..batches {
            let agent = format!("agent-{c}-{}", b % 4);
            let events: Vec<_> = (0..BATCH)
                .map(|_| {
                    make_event(&mut rng, &agent, Timestamp::now(), EVENT_BYTES)
                        .seal(&Limits::default())
                        .unwrap()
                })
                .collect();
            if sample == 0 {
                sample = events[0].event.canonical_bytes().len();
            }
            mine.push(Bytes::from(
                serde_json::to_vec(&IngestBatch { events }).unwrap(),
            ));
        }
        bodies.push(mine);
    }
    let total = clients * batches * BATCH;
    eprintln!("prepared {total} events ({sample} bytes canonical each), {clients} clients");

    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    // Every pool connection open now, so their backends can be watched.
    let pg_pids = postgres_pids(&pool, 16, true).await;
    let me = std::process::id();
    let (pg_cpu0, my_cpu0) = (cpu_seconds_of(&pg_pids), cpu_seconds(me).unwrap_or(0.0));

    let started = Instant::now();
    let mut tasks = Vec::new();
    for mine in bodies {
        let client = client.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for body in mine {
                let req = hyper::Request::post(format!("http://{addr}/v1/events"))
                    .header("authorization", format!("Bearer {key}"))
                    .header("content-type", "application/json")
                    .body(Full::new(body))
                    .unwrap();
                let t = Instant::now();
                let resp = client.request(req).await.unwrap();
                let status = resp.status();
                let body = resp.into_body().collect().await.unwrap().to_bytes();
                assert!(
                    status.is_success(),
                    "{status}: {}",
                    String::from_utf8_lossy(&body)
                );
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    let pg_us = (cpu_seconds_of(&pg_pids) - pg_cpu0) * 1e6 / total as f64;
    let my_us = (cpu_seconds(me).unwrap_or(0.0) - my_cpu0) * 1e6 / total as f64;
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let ingest_rate = total as f64 / secs;

    // The same rows, raw (text COPY, one stream), with the stored search words.
    let cols = format!("org_id, {}, search", db::events::SELECT_COLS);
    let mut src = sqlx::PgConnection::connect_with(&opts).await.unwrap();
    let mut data = Vec::new();
    {
        use futures_util::StreamExt;
        let mut s = src
            .copy_out_raw(&format!("COPY (SELECT {cols} FROM audit_events) TO STDOUT"))
            .await
            .unwrap();
        while let Some(chunk) = s.next().await {
            data.extend_from_slice(&chunk.unwrap());
        }
    }
    // Without the last column (search), for designs that compute it in the database.
    let data_no_search: Vec<u8> = data
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .flat_map(|l| {
            let cut = l.iter().rposition(|b| *b == b'\t').unwrap_or(l.len());
            l[..cut].iter().copied().chain(std::iter::once(b'\n'))
        })
        .collect();
    let cols_no_search = format!("org_id, {}", db::events::SELECT_COLS);
    let generated = |expr: &str| {
        format!(
            "DROP INDEX audit_events_search; ALTER TABLE audit_events DROP COLUMN search;
             ALTER TABLE audit_events ADD COLUMN search tsvector GENERATED ALWAYS AS ({expr}) STORED;
             CREATE INDEX audit_events_search ON audit_events USING gin (search)
                 WITH (fastupdate = on, gin_pending_list_limit = 16384);"
        )
    };
    let mut rows = Vec::new();
    for (label, setup, with_search) in [
        ("raw COPY, words from the server + GIN (kept)", String::new(), true),
        (
            "raw COPY, no full-text index",
            "DROP INDEX audit_events_search;".to_string(),
            true,
        ),
        (
            "raw COPY, to_tsvector of a 1.5 KB summary + GIN (before)",
            generated(
                "to_tsvector('simple'::regconfig,
                   left(coalesce(name, '') || ' ' || coalesce(error_type, '') || ' '
                        || coalesce(error_message, '') || ' ' || coalesce(decision_reason, ''), 512)
                   || ' ' || left(coalesce(inputs::text, ''), 512)
                   || ' ' || left(coalesce(outputs::text, ''), 512))",
            ),
            false,
        ),
        (
            "raw COPY, to_tsvector of the whole payload + GIN",
            generated(
                "to_tsvector('simple'::regconfig, coalesce(name,'') || ' ' || coalesce(inputs::text,'')
                   || ' ' || coalesce(outputs::text,'') || ' ' || coalesce(attrs::text,''))",
            ),
            false,
        ),
    ] {
        let copts: PgConnectOptions = fresh_db("sealtrail_bench_copy").await;
        let mut c = sqlx::PgConnection::connect_with(&copts).await.unwrap();
        if !setup.is_empty() {
            sqlx::raw_sql(sqlx::AssertSqlSafe(setup)).execute(&mut c).await.unwrap();
        }
        let (cols, data) = if with_search {
            (&cols, &data)
        } else {
            (&cols_no_search, &data_no_search)
        };
        let t = Instant::now();
        let mut cp = c.copy_in_raw(&format!("COPY audit_events ({cols}) FROM STDIN")).await.unwrap();
        for chunk in data.chunks(1 << 20) {
            cp.send(chunk).await.unwrap();
        }
        let n = cp.finish().await.unwrap();
        rows.push((label, n as f64 / t.elapsed().as_secs_f64()));
    }
    let fsync: String = sqlx::query_scalar("SHOW fsync")
        .fetch_one(&mut src)
        .await
        .unwrap();
    let words: f64 =
        sqlx::query_scalar("SELECT coalesce(avg(length(search)), 0)::float8 FROM audit_events")
            .fetch_one(&mut src)
            .await
            .unwrap();
    println!("\n## Ingest ({clients} clients × {batches} batches × {BATCH} events of {sample} B; fsync={fsync})\n");
    println!("| measure | value |");
    println!("| --- | --- |");
    println!("| events stored | {total} |");
    println!(
        "| search words per event (avg, cap {}) | {words:.1} |",
        search.max_words
    );
    println!("| wall time | {secs:.2} s |");
    println!("| ingest events/s (HTTP, validated, chained) | {ingest_rate:.0} |");
    println!("| CPU per event, server process (HTTP, validation, hashing, words, COPY; and the load client) | {my_us:.1} µs |");
    println!("| CPU per event, PostgreSQL (the pool's backends, WAL writer, checkpointer, bgwriter) | {pg_us:.1} µs |");
    println!(
        "| events/s that CPU cost allows on 2 cores (2 CPU-s per s ÷ per-event CPU) | {:.0} |",
        2e6 / (pg_us + my_us)
    );
    println!("| batch latency p50 | {:.1} ms |", percentile(&lat, 0.5));
    println!("| batch latency p99 | {:.1} ms |", percentile(&lat, 0.99));
    for (label, rate) in &rows {
        println!("| {label}: rows/s | {rate:.0} |");
    }
    println!(
        "| ingest / raw COPY (same schema) | {:.2} |",
        ingest_rate / rows[0].1
    );
}
