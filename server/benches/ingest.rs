//! Ingest load: N concurrent HTTP clients send batches of 500 events of
//! about 1 KiB to a server (in this process, over TCP, against the machine's
//! PostgreSQL with fsync on), then the same rows are COPYed raw into the same
//! schema for comparison (binary COPY, one stream), with three full-text
//! designs, and as a ceiling in 4 connections committing every 500 rows
//! (`audit_events` only: ingest also writes `event_ids` and `chain_heads`).
//!
//! cargo bench -p sealtrail-server --bench ingest
//! (BENCH_CLIENTS, BENCH_BATCHES per client, BENCH_DATABASE_URL,
//! BENCH_SEARCH_WORDS: words indexed per event, as SEALTRAIL_SEARCH_WORDS)

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sealtrail_server::db;
use sealtrail_server::db::copy::CopyBinary;
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
    let BenchServer {
        pool, key, addr, ..
    } = bench_server(opts.clone(), search).await;
    // Bodies are made (and sealed) before timing: that is the client's work.
    let (bodies, sample) = batch_bodies(clients, batches, BATCH, EVENT_BYTES);
    let total = clients * batches * BATCH;
    eprintln!("prepared {total} events ({sample} bytes canonical each), {clients} clients");

    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    // Every pool connection open now, so their backends can be watched.
    let pg_pids = postgres_pids(&pool, 16, true).await;
    let me = std::process::id();
    let (pg_cpu0, my_cpu0) = (cpu_seconds_of(&pg_pids), cpu_seconds(me).unwrap_or(0.0));

    let host0 = host_ticks();
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
    let steal = steal_percent(host0, host_ticks());
    let pg_us = (cpu_seconds_of(&pg_pids) - pg_cpu0) * 1e6 / total as f64;
    let my_us = (cpu_seconds(me).unwrap_or(0.0) - my_cpu0) * 1e6 / total as f64;
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let ingest_rate = total as f64 / secs;

    // The same rows, raw: PostgreSQL's binary COPY (the format ingest
    // writes), with the stored search words.
    let cols = format!("org_id, {}, search", db::events::SELECT_COLS);
    let mut src = sqlx::PgConnection::connect_with(&opts).await.unwrap();
    let mut data = Vec::new();
    {
        use futures_util::StreamExt;
        let mut s = src
            .copy_out_raw(&format!(
                "COPY (SELECT {cols} FROM audit_events ORDER BY received_at, agent_id, seq) \
                 TO STDOUT (FORMAT binary)"
            ))
            .await
            .unwrap();
        while let Some(chunk) = s.next().await {
            data.extend_from_slice(&chunk.unwrap());
        }
    }
    // Owned once and shared by every run (the 4-connection runs send
    // batches of them from their own tasks).
    let with_search: Arc<Vec<Vec<u8>>> = Arc::new(copy_rows(&data).map(<[u8]>::to_vec).collect());
    // Without the last column (search), for designs that compute it in the database.
    let no_search: Arc<Vec<Vec<u8>>> =
        Arc::new(with_search.iter().map(|r| without_last_field(r)).collect());
    let cols_no_search = format!("org_id, {}", db::events::SELECT_COLS);
    let generated = |expr: &str| {
        format!(
            "DROP INDEX audit_events_search; ALTER TABLE audit_events DROP COLUMN search;
             ALTER TABLE audit_events ADD COLUMN search tsvector GENERATED ALWAYS AS ({expr}) STORED;
             CREATE INDEX audit_events_search ON audit_events USING gin (search)
                 WITH (fastupdate = on, gin_pending_list_limit = 16384);"
        )
    };
    let no_gin = "DROP INDEX audit_events_search;".to_string();
    let mut rows = Vec::new();
    for (label, setup, with_words, streams) in [
        ("raw COPY, words from the server + GIN (kept)", String::new(), true, 1),
        ("raw COPY, no full-text index", no_gin.clone(), true, 1),
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
            1,
        ),
        (
            "raw COPY, to_tsvector of the whole payload + GIN",
            generated(
                "to_tsvector('simple'::regconfig, coalesce(name,'') || ' ' || coalesce(inputs::text,'')
                   || ' ' || coalesce(outputs::text,'') || ' ' || coalesce(attrs::text,''))",
            ),
            false,
            1,
        ),
        (
            "ceiling: raw COPY in 4 connections, a commit per 500 rows, words + GIN (kept)",
            String::new(),
            true,
            4,
        ),
        (
            "ceiling: raw COPY in 4 connections, a commit per 500 rows, no full-text index",
            no_gin,
            true,
            4,
        ),
    ] {
        let copts: PgConnectOptions = fresh_db("sealtrail_bench_copy").await;
        let mut c = sqlx::PgConnection::connect_with(&copts).await.unwrap();
        if !setup.is_empty() {
            sqlx::raw_sql(sqlx::AssertSqlSafe(setup)).execute(&mut c).await.unwrap();
        }
        let (cols, tuples) = if with_words {
            (cols.clone(), with_search.clone())
        } else {
            (cols_no_search.clone(), no_search.clone())
        };
        let sql = format!("COPY audit_events ({cols}) FROM STDIN (FORMAT binary)");
        let rate = if streams == 1 {
            let t = Instant::now();
            let n = copy_binary(&mut c, &sql, &tuples).await;
            n as f64 / t.elapsed().as_secs_f64()
        } else {
            // Batch k goes to connection k % streams, as ingest's clients interleave.
            let mut conns = Vec::new();
            for _ in 0..streams {
                conns.push(sqlx::PgConnection::connect_with(&copts).await.unwrap());
            }
            let t = Instant::now();
            let mut tasks = Vec::new();
            for (k, mut conn) in conns.into_iter().enumerate() {
                let (sql, tuples) = (sql.clone(), tuples.clone());
                tasks.push(tokio::spawn(async move {
                    let mut n = 0;
                    for b in tuples.chunks(BATCH).skip(k).step_by(streams) {
                        n += copy_binary(&mut conn, &sql, b).await;
                    }
                    n
                }));
            }
            let mut n = 0;
            for t in tasks {
                n += t.await.unwrap();
            }
            n as f64 / t.elapsed().as_secs_f64()
        };
        rows.push((label, rate));
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
    println!("| CPU time stolen by the hypervisor during the run | {steal:.1}% |");
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
    println!(
        "| ingest / ceiling (which writes audit_events only) | {:.2} |",
        ingest_rate / rows[4].1
    );
}

/// The rows of a binary COPY stream (each with its field count), without
/// the header and trailer.
fn copy_rows(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let ext = i32::from_be_bytes(data[15..19].try_into().unwrap()) as usize;
    let mut at = 19 + ext;
    std::iter::from_fn(move || {
        let (len, _) = walk_row(&data[at..])?;
        at += len;
        Some(&data[at - len..at])
    })
}

/// The length of the binary row `b` starts with and where its last field
/// starts; `None` at the trailer.
fn walk_row(b: &[u8]) -> Option<(usize, usize)> {
    let fields = i16::from_be_bytes(b[..2].try_into().unwrap());
    if fields < 0 {
        return None;
    }
    let (mut at, mut last) = (2, 2);
    for _ in 0..fields {
        last = at;
        let len = i32::from_be_bytes(b[at..at + 4].try_into().unwrap());
        at += 4 + len.max(0) as usize;
    }
    Some((at, last))
}

/// A row without its last field.
fn without_last_field(row: &[u8]) -> Vec<u8> {
    let (_, last) = walk_row(row).unwrap();
    let fields = i16::from_be_bytes(row[..2].try_into().unwrap());
    let mut out = (fields - 1).to_be_bytes().to_vec();
    out.extend_from_slice(&row[2..last]);
    out
}

/// Sends `rows` as one binary COPY (one transaction); returns the rows stored.
async fn copy_binary(c: &mut sqlx::PgConnection, sql: &str, rows: &[Vec<u8>]) -> u64 {
    let mut stream = CopyBinary::with_capacity(rows.iter().map(Vec::len).sum());
    for r in rows {
        stream.encoded_row(r);
    }
    let buf = stream.finish();
    let mut cp = c.copy_in_raw(sql).await.unwrap();
    for chunk in buf.chunks(1 << 20) {
        cp.send(chunk).await.unwrap();
    }
    cp.finish().await.unwrap()
}
