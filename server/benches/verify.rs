//! Verification speed on an already loaded database (by default the one the
//! ingest benchmark leaves: `cargo bench -p sealtrail-server --bench ingest`
//! first), with the CPU each side spent per event.
//!
//! cargo bench -p sealtrail-server --bench verify
//! (BENCH_VERIFY_DB, default sealtrail_bench_ingest; BENCH_ORG, default bench)

#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

use sealtrail_server::db;
use support::*;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let name = std::env::var("BENCH_VERIFY_DB").unwrap_or_else(|_| "sealtrail_bench_ingest".into());
    let org_name = std::env::var("BENCH_ORG").unwrap_or_else(|_| "bench".into());
    let opts = admin().database(&name);
    let pool = db::connect_with(opts, Some("sealtrail_app"), 8)
        .await
        .unwrap();
    let org = db::keys::org_by_name(&pool, &org_name).await.unwrap();
    let pg_pids = postgres_pids(&pool, 8, false).await;
    let me = std::process::id();
    println!("| run | events | seconds | events/s | CPU µs/event: verifier | PostgreSQL | stolen by the hypervisor |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for run in 1..=3 {
        let (pg0, my0) = (cpu_seconds_of(&pg_pids), cpu_seconds(me).unwrap_or(0.0));
        let host0 = host_ticks();
        let t = Instant::now();
        let report = db::verify::verify_org(&pool, org, |_| {}).await.unwrap();
        let secs = t.elapsed().as_secs_f64();
        let n: u64 = report
            .chains
            .iter()
            .map(|(_, r)| r.as_ref().expect("chain verifies").count)
            .sum();
        let pg = (cpu_seconds_of(&pg_pids) - pg0) * 1e6 / n as f64;
        let my = (cpu_seconds(me).unwrap_or(0.0) - my0) * 1e6 / n as f64;
        println!(
            "| {run} | {n} | {secs:.2} | {:.0} | {my:.1} | {pg:.1} | {:.1}% |",
            n as f64 / secs,
            steal_percent(host0, host_ticks())
        );
    }
}
