//! Test support: a fresh database per test on the cluster named by
//! DATABASE_URL (scripts/test.sh starts a throwaway one), the router driven
//! in-process, and event builders.
#![allow(dead_code)]

pub mod attack;

use std::str::FromStr;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use sealtrail_core::event::EventId;
use sealtrail_core::wire::IngestBatch;
use sealtrail_core::{Event, EventType, Limits, SealedEvent, Timestamp};
use sealtrail_server::auth::Role;
use sealtrail_server::config::TimeWindow;
use sealtrail_server::{db, AppState};
use serde_json::Value;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgPool};
use tower::ServiceExt;
use uuid::Uuid;

pub struct TestDb {
    pub name: String,
    admin: PgConnectOptions,
    /// The database as its superuser (for the tamper suite).
    pub su: PgPool,
    /// The database as the server sees it: SET ROLE sealtrail_app.
    pub pool: PgPool,
}

fn admin_options() -> PgConnectOptions {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "DATABASE_URL is not set: run the server tests through scripts/test.sh, which starts \
             a throwaway PostgreSQL cluster (or point DATABASE_URL at a superuser connection)"
        )
    });
    PgConnectOptions::from_str(&url).expect("DATABASE_URL is not a PostgreSQL URL")
}

impl TestDb {
    pub async fn new() -> TestDb {
        let admin = admin_options();
        let name = format!("sealtrail_test_{}", Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect_with(&admin)
            .await
            .expect("connect to DATABASE_URL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let _ = conn.close().await;
        let opts = admin.clone().database(&name);
        db::migrate_with(&opts).await.expect("migrate");
        let su = db::connect_with(opts.clone(), None, 4)
            .await
            .expect("superuser pool");
        let pool = db::connect_with(opts, Some("sealtrail_app"), 20)
            .await
            .expect("app pool");
        TestDb {
            name,
            admin,
            su,
            pool,
        }
    }

    pub fn app(&self) -> Router {
        sealtrail_server::app(AppState::new(self.pool.clone(), Limits::default()))
    }

    pub fn app_with_search(&self, search: sealtrail_server::search::SearchConfig) -> Router {
        sealtrail_server::app(AppState::with_search(
            self.pool.clone(),
            Limits::default(),
            search,
        ))
    }

    pub fn app_with_limits(&self, limits: Limits) -> Router {
        sealtrail_server::app(AppState::new(self.pool.clone(), limits))
    }

    /// A router whose ingest takes times in `window` (the operator widened
    /// it); make the partitions its events need with [`TestDb::partitions`].
    pub fn app_with_window(&self, window: TimeWindow) -> Router {
        sealtrail_server::app(AppState::configured(
            self.pool.clone(),
            Limits::default(),
            Default::default(),
            window,
        ))
    }

    /// Makes the partitions of every month from `from_micros`' through
    /// `to_micros`' (as the owner; the server's maintenance task does this
    /// for its window).
    pub async fn partitions(&self, from_micros: i64, to_micros: i64) {
        let day = |us: i64| Timestamp::from_micros(us).unwrap().to_chrono().date_naive();
        db::ensure_partitions(&self.su, day(from_micros), day(to_micros))
            .await
            .expect("make partitions");
    }

    /// The partitions of audit_events.
    pub async fn partition_count(&self) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'audit_events'::regclass",
        )
        .fetch_one(&self.su)
        .await
        .unwrap()
    }

    /// A key of `role` in organisation `org` (created if missing).
    pub async fn key(&self, org: &str, role: Role) -> String {
        let org_id = db::keys::org_by_name(&self.pool, org).await.unwrap();
        db::keys::create(&self.pool, org_id, role, Some("test"))
            .await
            .unwrap()
            .key
    }

    pub async fn org_id(&self, org: &str) -> Uuid {
        db::keys::org_by_name(&self.pool, org).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(mut c) = sqlx::PgConnection::connect_with(&admin).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut c)
                    .await;
                }
            })
        })
        .join();
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

pub async fn call_raw(
    app: &Router,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Vec<u8>,
    encoding: Option<&str>,
) -> Resp {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    req = req.header("content-type", "application/json");
    let resp = app
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

pub async fn call(
    app: &Router,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let bytes = body
        .map(|b| serde_json::to_vec(&b).unwrap())
        .unwrap_or_default();
    call_raw(app, method, path, key, bytes, None).await
}

pub async fn get(app: &Router, path: &str, key: &str) -> Resp {
    call(app, Method::GET, path, Some(key), None).await
}

/// A window wide enough for any test's times (what an operator sets with
/// SEALTRAIL_MAX_PAST to import old ledgers).
pub fn wide_window() -> TimeWindow {
    TimeWindow {
        max_past: std::time::Duration::from_secs(60 * 366 * 86_400),
        max_future: std::time::Duration::from_secs(300),
    }
}

/// `e` as if it happened at `micros`: its ts and its id's time agree.
pub fn at(mut e: Event, micros: i64) -> Event {
    e.ts = Timestamp::from_micros(micros).unwrap();
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_micros(micros as u64);
    e.id = EventId::generate_at(when);
    e
}

/// A tool call event of `agent`, about 1 KiB with `pad`.
pub fn event(agent: &str, i: usize) -> Event {
    let mut e = Event::new(EventType::ToolCall, agent);
    e.name = Some(format!("tool_{}", i % 5));
    e.actor_id = Some(format!("user-{}", i % 3));
    e.session_id = Some(format!("session-{}", i % 4));
    e.trace_id = Some(format!("trace-{i}"));
    e.inputs = Some(
        serde_json::json!({"query": format!("lookup order {i}"), "n": i, "f": 0.1 + i as f64, "nested": {"list": [1, 2.5, "x", null, true]}}),
    );
    e
}

pub fn seal(e: Event) -> SealedEvent {
    e.seal(&Limits::default()).unwrap()
}

pub fn batch(events: Vec<Event>) -> Value {
    serde_json::to_value(IngestBatch {
        events: events.into_iter().map(seal).collect(),
    })
    .unwrap()
}

pub async fn ingest(app: &Router, key: &str, events: Vec<Event>) -> Resp {
    call(
        app,
        Method::POST,
        "/v1/events",
        Some(key),
        Some(batch(events)),
    )
    .await
}

pub fn role_keys() -> [Role; 4] {
    [Role::Ingest, Role::Ops, Role::Compliance, Role::Admin]
}
