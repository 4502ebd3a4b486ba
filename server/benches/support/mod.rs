//! Shared by the benchmarks: a fresh database on the machine's PostgreSQL
//! (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres),
//! and event generation.
#![allow(dead_code)]

use std::str::FromStr;

use sealtrail_core::{Event, EventType, Timestamp};
use sqlx::postgres::PgConnectOptions;
use sqlx::Connection;

pub fn admin() -> PgConnectOptions {
    let url = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    PgConnectOptions::from_str(&url).expect("BENCH_DATABASE_URL")
}

/// Drops and re-creates database `name`, migrated; returns its options.
pub async fn fresh_db(name: &str) -> PgConnectOptions {
    let admin = admin();
    let mut c = sqlx::PgConnection::connect_with(&admin)
        .await
        .expect("connect");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut c)
    .await
    .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut c)
        .await
        .unwrap();
    let opts = admin.database(name);
    sealtrail_server::db::migrate_with(&opts)
        .await
        .expect("migrate");
    opts
}

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: &[&str] = &[
    "invoice",
    "refund",
    "customer",
    "order",
    "shipping",
    "delayed",
    "account",
    "balance",
    "payment",
    "card",
    "declined",
    "approved",
    "ticket",
    "escalate",
    "policy",
    "limit",
    "warehouse",
    "inventory",
    "supplier",
    "contract",
    "renewal",
    "discount",
    "tax",
    "report",
    "quarterly",
    "forecast",
    "anomaly",
    "fraud",
    "review",
    "manager",
    "deadline",
    "meeting",
];

/// Text of about `len` bytes: words from a small vocabulary plus numbered
/// tokens, so a full-text index sees realistic distinct lexemes.
pub fn text(rng: &mut Rng, len: usize) -> String {
    let mut s = String::with_capacity(len + 16);
    while s.len() < len {
        if rng.below(4) == 0 {
            s.push_str(&format!("ref{} ", rng.below(100_000)));
        } else {
            s.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
            s.push(' ');
        }
    }
    s
}

/// A tool call of `agent` at `ts` with about `size` bytes of canonical JSON.
pub fn make_event(rng: &mut Rng, agent: &str, ts: Timestamp, size: usize) -> Event {
    // The id's time agrees with ts, as ingest requires.
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_micros(ts.as_micros() as u64);
    let mut e = Event::new_at(EventType::ToolCall, agent, at);
    e.ts = ts;
    e.kind = match rng.below(20) {
        0 => EventType::Error,
        1 => EventType::Decision,
        2..=5 => EventType::ModelCall,
        6..=9 => EventType::ToolResult,
        _ => EventType::ToolCall,
    };
    e.name = Some(format!("tool_{}", rng.below(40)));
    e.actor_id = Some(format!("user-{}", rng.below(5000)));
    e.session_id = Some(format!("session-{}", rng.below(50_000)));
    e.trace_id = Some(format!("trace-{}", rng.next()));
    match e.kind {
        EventType::Error => {
            e.error = Some(sealtrail_core::event::ErrorInfo {
                kind: "Timeout".into(),
                message: text(rng, 40),
                stack: None,
            })
        }
        EventType::Decision => {
            e.decision = Some(sealtrail_core::event::Decision {
                outcome: if rng.below(3) == 0 {
                    sealtrail_core::event::DecisionOutcome::Denied
                } else {
                    sealtrail_core::event::DecisionOutcome::Approved
                },
                by: Some("policy:refund-limit".into()),
                reason: Some(text(rng, 30)),
            })
        }
        _ => {}
    }
    if rng.below(10) == 0 {
        e.pii = Some([("email".to_string(), 1u64)].into_iter().collect());
    }
    let body = size.saturating_sub(300);
    e.inputs = Some(serde_json::json!({"query": text(rng, body * 2 / 3), "k": rng.below(100)}));
    e.outputs = Some(serde_json::json!({"result": text(rng, body / 3), "ok": true}));
    e.latency_ms = Some(rng.below(2000));
    e
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// CPU time (user + system) a process has used so far, in seconds, from
/// /proc (Linux; `None` elsewhere or when the process is gone).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of proc(5), counted after the command name.
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The machine's CPU time so far, from the first line of /proc/stat, as
/// (all ticks, ticks stolen by the hypervisor); zeros where there is none.
pub fn host_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|v| v.parse().ok())
        .collect();
    (f.iter().sum(), f.get(7).copied().unwrap_or(0))
}

/// The share of the machine's CPU time the hypervisor kept for other guests
/// between two `host_ticks` readings, in percent: on a shared host the
/// figures of a run with much steal are low for that reason.
pub fn steal_percent(before: (u64, u64), after: (u64, u64)) -> f64 {
    let all = after.0.saturating_sub(before.0);
    if all == 0 {
        return 0.0;
    }
    100.0 * after.1.saturating_sub(before.1) as f64 / all as f64
}

/// Summed CPU seconds of `pids` (those still running).
pub fn cpu_seconds_of(pids: &[u32]) -> f64 {
    pids.iter().filter_map(|p| cpu_seconds(*p)).sum()
}

/// Opens `conns` connections of `pool` (so each has its backend) and
/// returns the pids of this database's backends, and with `aux` those of
/// the WAL writer, checkpointer and background writer, to watch their CPU.
pub async fn postgres_pids(pool: &sqlx::PgPool, conns: usize, aux: bool) -> Vec<u32> {
    let mut held = Vec::new();
    for _ in 0..conns {
        held.push(pool.acquire().await.unwrap());
    }
    drop(held);
    sqlx::query_scalar::<_, i32>(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()
            OR ($1 AND backend_type IN ('walwriter', 'checkpointer', 'background writer'))",
    )
    .bind(aux)
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|p| p as u32)
    .collect()
}

/// The ingest benchmarks' server: in this process, on loopback, over a pool
/// of 16 connections in the server's role, for organisation "bench".
pub struct BenchServer {
    pub pool: sqlx::PgPool,
    pub org: uuid::Uuid,
    /// An ingest key of "bench".
    pub key: String,
    pub addr: std::net::SocketAddr,
    pub task: tokio::task::JoinHandle<()>,
}

pub async fn bench_server(
    opts: PgConnectOptions,
    search: sealtrail_server::search::SearchConfig,
) -> BenchServer {
    use sealtrail_server::db;
    let pool = db::connect_with(opts, Some("sealtrail_app"), 16)
        .await
        .unwrap();
    let org = db::keys::org_by_name(&pool, "bench").await.unwrap();
    let key = db::keys::create(&pool, org, sealtrail_server::auth::Role::Ingest, None)
        .await
        .unwrap()
        .key;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = sealtrail_server::app(sealtrail_server::AppState::with_search(
        pool.clone(),
        sealtrail_core::Limits::default(),
        search,
    ));
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    BenchServer {
        pool,
        org,
        key,
        addr,
        task,
    }
}

/// Each client's batch bodies, made (and sealed) before timing, as a client
/// does: `batches` batches of `batch` events of about `size` bytes, for
/// agents `agent-{client}-{0..4}`. Also the canonical size of one event.
pub fn batch_bodies(
    clients: usize,
    batches: usize,
    batch: usize,
    size: usize,
) -> (Vec<Vec<bytes::Bytes>>, usize) {
    let limits = sealtrail_core::Limits::default();
    let mut rng = Rng::new(7);
    let mut sample = 0;
    let bodies = (0..clients)
        .map(|c| {
            (0..batches)
                .map(|b| {
                    let agent = format!("agent-{c}-{}", b % 4);
                    let events: Vec<_> = (0..batch)
                        .map(|_| {
                            make_event(&mut rng, &agent, Timestamp::now(), size)
                                .seal(&limits)
                                .unwrap()
                        })
                        .collect();
                    if sample == 0 {
                        sample = events[0].event.canonical_bytes().len();
                    }
                    let body = sealtrail_core::wire::IngestBatch { events };
                    bytes::Bytes::from(serde_json::to_vec(&body).unwrap())
                })
                .collect()
        })
        .collect();
    (bodies, sample)
}
