//! The transparency log's costs, as ratios measured in one run:
//!
//! 1. Ingest with the log on ÷ with it off: the same load (N HTTP clients,
//!    batches of 500 events of about 1 KiB, as the ingest benchmark) into two
//!    fresh databases, alternating off, on, off, on; with the log on the
//!    integrator runs beside ingest, and the lag from a batch's answer to
//!    the round that took it into the tree is printed.
//! 2. `sealtrail verify --checkpoints` (recompute the tree from the stored
//!    links, check every checkpoint) beside plain verification, on the last
//!    database.
//! 3. Inclusion and consistency proofs through the HTTP API on a log of
//!    BENCH_LOG_LEAVES (1,000,000) links made in 100 integration rounds over
//!    200 chains (links written straight into event_ids and chain_heads).
//!
//! cargo bench -p sealtrail-server --bench log
//! (BENCH_CLIENTS, BENCH_BATCHES, BENCH_LOG_LEAVES, BENCH_DATABASE_URL)

#[path = "support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sealtrail_core::tlog::{Signer, ALG_ED25519};
use sealtrail_core::Limits;
use sealtrail_server::auth::Role;
use sealtrail_server::log::{self as slog, CheckpointKeys, Checkpointer, LogConfig};
use sealtrail_server::{db, AppState};
use sqlx::PgPool;
use support::*;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 500;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct IngestRun {
    rate: f64,
    /// Seconds from a batch's answer to the integration round that covered
    /// it (log on only).
    lag: Vec<f64>,
    pool: PgPool,
    org: uuid::Uuid,
}

async fn ingest_run(name: &str, clients: usize, batches: usize, log: bool) -> IngestRun {
    let BenchServer {
        pool,
        org,
        key,
        addr,
        task: server,
    } = bench_server(fresh_db(name).await, Default::default()).await;
    let (bodies, _) = batch_bodies(clients, batches, BATCH, 1024);
    let total = clients * batches * BATCH;

    // With the log on: the integrator as `serve` runs it (every second, or
    // as soon as a round ends when behind), and a watcher of the tree size.
    let acked = Arc::new(AtomicU64::new(0));
    let answers: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let integrated: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let integrator = log.then(|| {
        let (pool, stop, integrated) = (pool.clone(), stop.clone(), integrated.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let n = slog::integrate_all(&pool).await.unwrap();
                let size = db::log::tree_head(&pool, org).await.unwrap().size;
                integrated.lock().unwrap().push((Instant::now(), size));
                if n == 0 {
                    tokio::time::sleep(Duration::from_millis(1000)).await;
                }
            }
        })
    });

    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mine in bodies {
        let (client, key, acked, answers) =
            (client.clone(), key.clone(), acked.clone(), answers.clone());
        tasks.push(tokio::spawn(async move {
            for body in mine {
                let req = hyper::Request::post(format!("http://{addr}/v1/events"))
                    .header("authorization", format!("Bearer {key}"))
                    .header("content-type", "application/json")
                    .body(Full::new(body))
                    .unwrap();
                let resp = client.request(req).await.unwrap();
                let status = resp.status();
                let _ = resp.into_body().collect().await.unwrap();
                assert!(status.is_success(), "{status}");
                let n = acked.fetch_add(BATCH as u64, Ordering::Relaxed) + BATCH as u64;
                answers.lock().unwrap().push((Instant::now(), n));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let mut lag = Vec::new();
    if let Some(task) = integrator {
        // Let it catch up, then stop it.
        let deadline = Instant::now() + Duration::from_secs(60);
        while db::log::tree_head(&pool, org).await.unwrap().size < total as u64
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.store(true, Ordering::Relaxed);
        task.await.unwrap();
        let done = integrated.lock().unwrap().clone();
        for (t, n) in answers.lock().unwrap().iter() {
            // The first round that ended after this answer with the tree
            // covering at least as many links as were answered by then.
            if let Some((t2, _)) = done.iter().find(|(t2, size)| t2 > t && size >= n) {
                lag.push(t2.duration_since(*t).as_secs_f64());
            }
        }
        lag.sort_by(|a, b| a.partial_cmp(b).unwrap());
    }
    server.abort();
    IngestRun {
        rate: total as f64 / secs,
        lag,
        pool,
        org,
    }
}

#[tokio::main]
async fn main() {
    let clients = env("BENCH_CLIENTS", 8);
    let batches = env("BENCH_BATCHES", 15);
    let host0 = host_ticks();

    // 1. Ingest, log off and on, alternating.
    let mut off = Vec::new();
    let mut on = Vec::new();
    let mut lag = Vec::new();
    let mut last = None;
    let rounds = env("BENCH_ROUNDS", 3);
    for round in 0..rounds {
        let r = ingest_run("sealtrail_bench_log_off", clients, batches, false).await;
        off.push(r.rate);
        r.pool.close().await;
        let r = ingest_run("sealtrail_bench_log_on", clients, batches, true).await;
        on.push(r.rate);
        lag.extend(r.lag.iter().copied());
        eprintln!(
            "round {round}: off {:.0} events/s, on {:.0}",
            off[round], on[round]
        );
        last = Some(r);
    }
    lag.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let steal = steal_percent(host0, host_ticks());
    let total = clients * batches * BATCH;
    println!("\n## The transparency log ({total} events per run: {clients} clients × {batches} batches × {BATCH}; {steal:.1}% CPU stolen)\n");
    let cols = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    println!(
        "| measure | {} |",
        (1..=rounds)
            .map(|r| format!("run {r}"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("| --- |{}", " ---: |".repeat(rounds));
    println!("| ingest events/s, log off | {} |", cols(&off));
    println!(
        "| ingest events/s, log on (integrator running) | {} |",
        cols(&on)
    );
    let ratios: Vec<String> = off
        .iter()
        .zip(&on)
        .map(|(a, b)| format!("{:.3}", b / a))
        .collect();
    println!("| on ÷ off (target ≥ 0.95) | {} |", ratios.join(" | "));
    let (so, sn): (f64, f64) = (off.iter().sum(), on.iter().sum());
    println!("\nAll runs together: on ÷ off = {:.3}", sn / so);
    println!(
        "\nIntegration lag, batch answered → in the tree ({} batches): p50 {:.2} s, p99 {:.2} s, max {:.2} s (target p99 < 2 s)",
        lag.len(),
        percentile(&lag, 0.5),
        percentile(&lag, 0.99),
        lag.last().copied().unwrap_or(0.0)
    );

    // 2. Verification with checkpoints beside plain verification.
    let r = last.unwrap();
    let key = Signer::generate("bench.log", ALG_ED25519).unwrap();
    let cp = Checkpointer::new(
        r.pool.clone(),
        LogConfig {
            key: Some(key.clone()),
            ..Default::default()
        },
    );
    let notes: Vec<String> = cp
        .checkpoint_all()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.note)
        .collect();
    let keys = CheckpointKeys {
        log_key: key.verifier(),
        witness_keys: vec![],
        threshold: 0,
    };
    let mut plain = Vec::new();
    let mut logged = Vec::new();
    for _ in 0..2 {
        let t = Instant::now();
        let rep = db::verify::verify_org(&r.pool, r.org, |_| {})
            .await
            .unwrap();
        let n: u64 = rep
            .chains
            .iter()
            .map(|(_, c)| c.as_ref().map(|v| v.count).unwrap_or(0))
            .sum();
        plain.push(n as f64 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        let rep = slog::verify_log(&r.pool, r.org, &notes, &keys, |_, _| {})
            .await
            .unwrap();
        assert!(!rep.rewritten(), "{:?}", rep.problems);
        logged.push(rep.leaves as f64 / t.elapsed().as_secs_f64());
    }
    println!("\n## Verification ({total} events)\n");
    println!("| measure | run 1 | run 2 |");
    println!("| --- | ---: | ---: |");
    println!(
        "| plain verify (chains), events/s | {:.0} | {:.0} |",
        plain[0], plain[1]
    );
    println!(
        "| log check (--checkpoints: tree recomputed from the stored links), events/s (target ≥ 150,000) | {:.0} | {:.0} |",
        logged[0], logged[1]
    );
    r.pool.close().await;

    // 3. Proofs on a large log.
    let leaves = env("BENCH_LOG_LEAVES", 1_000_000);
    proofs(leaves).await;
}

/// A log of `leaves` links over 200 chains, integrated in 100 rounds, then
/// proofs through the router.
async fn proofs(leaves: usize) {
    let opts = fresh_db("sealtrail_bench_log_proofs").await;
    let owner = db::connect_with(opts.clone(), None, 4).await.unwrap();
    let pool = db::connect_with(opts, Some("sealtrail_app"), 8)
        .await
        .unwrap();
    let org = db::keys::org_by_name(&pool, "bench").await.unwrap();
    let ops = db::keys::create(&pool, org, Role::Ops, None)
        .await
        .unwrap()
        .key;
    let agents = 200usize;
    let per_round = leaves / agents / 100;
    let key = Signer::generate("bench.log", ALG_ED25519).unwrap();
    let cp = Checkpointer::new(
        pool.clone(),
        LogConfig {
            key: Some(key),
            ..Default::default()
        },
    );
    let started = Instant::now();
    let mut ids = Vec::new();
    let mut sizes = Vec::new();
    for round in 0..100usize {
        // Links straight into event_ids, heads moved: what ingest commits.
        let lo = round * per_round;
        sqlx::query(
            "INSERT INTO event_ids (org_id, id, agent_id, seq, ts, hash, content_hash)
             SELECT $1, gen_random_uuid(), 'agent-' || a, s, now(),
                    sha256(('l' || a || '-' || s)::bytea), sha256(('c' || a || '-' || s)::bytea)
             FROM generate_series(0, $2 - 1) a, generate_series($3 + 1, $3 + $4) s",
        )
        .bind(org)
        .bind(agents as i64)
        .bind(lo as i64)
        .bind(per_round as i64)
        .execute(&owner)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO chain_heads (org_id, agent_id, seq, hash)
             SELECT $1, 'agent-' || a, $2, sha256(('l' || a || '-' || $2)::bytea)
             FROM generate_series(0, $3 - 1) a
             ON CONFLICT (org_id, agent_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash",
        )
        .bind(org)
        .bind((lo + per_round) as i64)
        .bind(agents as i64)
        .execute(&owner)
        .await
        .unwrap();
        slog::integrate_all(&pool).await.unwrap();
        if round % 10 == 9 {
            sizes.push(cp.checkpoint_all().await.unwrap()[0].size);
        }
    }
    let head = db::log::tree_head(&pool, org).await.unwrap();
    eprintln!(
        "log of {} leaves made in {:.1} s",
        head.size,
        started.elapsed().as_secs_f64()
    );
    let sample: Vec<uuid::Uuid> = sqlx::query_scalar(
        "SELECT id FROM event_ids WHERE org_id = $1 ORDER BY random() LIMIT 1000",
    )
    .bind(org)
    .fetch_all(&pool)
    .await
    .unwrap();
    ids.extend(sample);
    sqlx::raw_sql("VACUUM ANALYZE")
        .execute(&owner)
        .await
        .unwrap();

    let app = sealtrail_server::app(AppState::new(pool.clone(), Limits::default()));
    let call = |path: String| {
        let app = app.clone();
        let ops = ops.clone();
        async move {
            use tower::ServiceExt;
            let req = axum::http::Request::get(path)
                .header("authorization", format!("Bearer {ops}"))
                .body(axum::body::Body::empty())
                .unwrap();
            let t = Instant::now();
            let resp = app.oneshot(req).await.unwrap();
            let status = resp.status();
            let _ = resp.into_body().collect().await.unwrap();
            assert!(status.is_success(), "{status}");
            t.elapsed().as_secs_f64() * 1000.0
        }
    };
    let mut incl = Vec::new();
    for id in &ids {
        let ulid = ulid::Ulid(id.as_u128());
        incl.push(call(format!("/v1/proofs/inclusion?event_id={ulid}")).await);
    }
    let mut cons = Vec::new();
    let mut rng = Rng::new(3);
    for _ in 0..1000 {
        let from = 1 + rng.below(head.size - 1);
        let to = sizes[rng.below(sizes.len() as u64) as usize];
        let from = from.min(to);
        cons.push(call(format!("/v1/proofs/consistency?from={from}&to={to}")).await);
    }
    incl.sort_by(|a, b| a.partial_cmp(b).unwrap());
    cons.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "\n## Proofs at {} leaves (200 chains, 100 integration rounds; 1,000 of each, through the router)\n",
        head.size
    );
    println!("| proof | p50 ms | p95 ms (target ≤ 5) | p99 ms |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| inclusion (event id → log index → audit path, checkpoint) | {:.2} | {:.2} | {:.2} |",
        percentile(&incl, 0.5),
        percentile(&incl, 0.95),
        percentile(&incl, 0.99)
    );
    println!(
        "| consistency (between a random size and a checkpoint) | {:.2} | {:.2} | {:.2} |",
        percentile(&cons, 0.5),
        percentile(&cons, 0.95),
        percentile(&cons, 0.99)
    );
}
