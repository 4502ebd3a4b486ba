//! A small sealtrail-compatible test server on loopback (axum): accepts the
//! batch wire format (gzip/zstd bodies), checks content hashes, dedupes by
//! event id, answers with receipts, and can be told to fail.
#![allow(dead_code)]

pub mod loopback;
pub mod tlog_server;

use loopback::Loopback;

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use sealtrail_core::{Event, EventType, SealedEvent};
use serde::Deserialize;
use serde_json::json;

pub const KEY: &str = "test-key";

/// What the server does with the next request.
#[derive(Debug, Clone)]
pub enum Fail {
    Status(u16),
    StatusRetryAfter(u16, u64),
}

#[derive(Default)]
pub struct Inner {
    /// id -> (seq, name)
    pub events: HashMap<String, (u64, Option<String>)>,
    pub posts: u64,
    pub duplicates: u64,
    pub fail: VecDeque<Fail>,
    pub delay: Duration,
    /// Events whose name is this get a per-event error.
    pub refuse_name: Option<String>,
    pub post_times: Vec<Instant>,
    pub encodings: Vec<String>,
}

#[derive(Clone, Default)]
pub struct Shared(pub Arc<Mutex<Inner>>);

impl Shared {
    pub fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }
    pub fn unique(&self) -> usize {
        self.with(|i| i.events.len())
    }
}

#[derive(Deserialize)]
struct Body {
    events: Vec<SealedEvent>,
}

async fn ingest(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (fail, delay) = s.with(|i| {
        i.posts += 1;
        i.post_times.push(Instant::now());
        (i.fail.pop_front(), i.delay)
    });
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {KEY}"))
    {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"error":"unauthorized","detail":"bad key"}"#,
        )
            .into_response();
    }
    match fail {
        Some(Fail::Status(code)) => {
            let code = StatusCode::from_u16(code).unwrap();
            return (
                code,
                format!(r#"{{"error":"test","detail":"told to fail with {code}"}}"#),
            )
                .into_response();
        }
        Some(Fail::StatusRetryAfter(code, secs)) => {
            let code = StatusCode::from_u16(code).unwrap();
            return (
                code,
                [("retry-after", secs.to_string())],
                r#"{"error":"rate_limited"}"#,
            )
                .into_response();
        }
        None => {}
    }
    let enc = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .to_string();
    let raw = match enc.as_str() {
        "gzip" => {
            let mut out = Vec::new();
            if flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut out)
                .is_err()
            {
                return (StatusCode::BAD_REQUEST, "bad gzip").into_response();
            }
            out
        }
        "zstd" => match zstd::stream::decode_all(&body[..]) {
            Ok(v) => v,
            Err(_) => return (StatusCode::BAD_REQUEST, "bad zstd").into_response(),
        },
        _ => body.to_vec(),
    };
    let parsed: Body = match serde_json::from_slice(&raw) {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!(
                    r#"{{"error":"malformed_json","detail":{:?}}}"#,
                    e.to_string()
                ),
            )
                .into_response()
        }
    };
    let mut receipts = Vec::new();
    let mut errors = Vec::new();
    s.with(|i| {
        i.encodings.push(enc);
        for (index, ev) in parsed.events.into_iter().enumerate() {
            if let Err(e) = ev.check() {
                errors.push(json!({"index": index, "id": ev.event.id.to_string(), "error": "hash_mismatch", "detail": e.message()}));
                continue;
            }
            if i.refuse_name.is_some() && ev.event.name == i.refuse_name {
                errors.push(json!({"index": index, "id": ev.event.id.to_string(), "error": "invalid_event", "detail": "refused by test"}));
                continue;
            }
            let id = ev.event.id.to_string();
            let dup = i.events.contains_key(&id);
            if dup {
                i.duplicates += 1;
            }
            let next = i.events.len() as u64 + 1;
            let (seq, _) = i.events.entry(id.clone()).or_insert((next, ev.event.name.clone())).clone();
            receipts.push(json!({"id": id, "seq": seq, "hash": ev.content_hash.to_hex(), "duplicate": dup}));
        }
    });
    (
        StatusCode::OK,
        axum::Json(json!({"receipts": receipts, "errors": errors})),
    )
        .into_response()
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: Shared,
    _server: Loopback,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::start_on(0, Shared::default())
    }

    pub fn start_on(port: u16, state: Shared) -> TestServer {
        let app = Router::new()
            .route("/v1/events", post(ingest))
            .with_state(state.clone());
        let server = Loopback::start(port, app);
        TestServer {
            addr: server.addr,
            state,
            _server: server,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A port nothing listens on (yet).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub fn config(endpoint: &str, spool: &std::path::Path) -> sealtrail_core::client::ClientConfig {
    let mut c = sealtrail_core::client::ClientConfig::default();
    c.set("endpoint", endpoint).unwrap();
    c.api_key = Some(KEY.into());
    c.spool_dir = spool.to_path_buf();
    c.linger = Duration::from_millis(20);
    c.backoff_initial = Duration::from_millis(50);
    c.backoff_max = Duration::from_millis(500);
    c.request_timeout = Duration::from_secs(5);
    c
}

/// An event of about `size` bytes named `name`.
pub fn event(agent: &str, name: &str, size: usize) -> Event {
    let mut e = Event::new(EventType::ToolCall, agent);
    e.name = Some(name.to_string());
    e.inputs = Some(json!({"query": "x".repeat(size.saturating_sub(200))}));
    e
}

/// Polls `f` until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}
