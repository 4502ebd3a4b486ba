//! Delivery over real HTTP on loopback: batching, compression, retries with
//! backoff and Retry-After, a slow server, refused batches, server down then
//! up, torn spool tail, spool cap.

mod common;

use std::time::{Duration, Instant};

use common::*;
use sealtrail_core::client::{Client, Compression, OverflowPolicy};

#[test]
fn delivers_in_batches_gzip_and_zstd() {
    for comp in [Compression::Gzip, Compression::Zstd, Compression::None] {
        let server = TestServer::start();
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(&server.endpoint(), dir.path());
        cfg.compression = comp;
        cfg.batch_size = 100;
        let client = Client::new(cfg).unwrap();
        for i in 0..1050 {
            assert!(client.record(event("a", &format!("e{i}"), 300)));
        }
        let r = client.flush(Duration::from_secs(10));
        assert!(r.complete, "{r:?}");
        assert_eq!(r.delivered, 1050);
        assert_eq!(server.state.unique(), 1050);
        let (posts, encs) = server.state.with(|i| (i.posts, i.encodings.clone()));
        assert!(posts >= 11, "batches of at most 100: {posts}");
        let want = match comp {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::None => "identity",
        };
        assert!(encs.iter().all(|e| e == want), "{encs:?}");
        let m = client.metrics();
        assert_eq!(
            (m.recorded, m.delivered, m.dropped, m.persisted),
            (1050, 1050, 0, 1050)
        );
        let r = client.shutdown(Duration::from_secs(5));
        assert!(r.complete);
    }
}

#[test]
fn server_down_at_start_then_up() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&format!("http://127.0.0.1:{port}"), dir.path());
    cfg.batch_size = 50;
    let client = Client::new(cfg).unwrap();
    for i in 0..500 {
        client.record(event("a", &format!("e{i}"), 200));
    }
    // Down: everything ends up spooled, flush says so promptly.
    let r = client.flush(Duration::from_secs(10));
    assert!(r.complete, "{r:?}");
    assert_eq!(r.spooled, 500, "{r:?}");
    let m = client.metrics();
    assert!(m.retries >= 1);
    assert!(m.last_error.is_some());
    assert_eq!(m.persisted, 500);
    // Up: the spool replays in order.
    let server = TestServer::start_on(port, Shared::default());
    assert!(
        wait_until(Duration::from_secs(20), || client.metrics().delivered
            == 500),
        "{:?}",
        client.metrics()
    );
    assert_eq!(server.state.unique(), 500);
    let m = client.metrics();
    assert_eq!(m.replayed, 500);
    assert_eq!(m.spool_bytes, 0);
    // Order is record order except that a batch whose send failed while
    // later batches were already spooled is appended after them.
    client.shutdown(Duration::from_secs(5));
}

#[test]
fn retries_500_and_429_with_retry_after() {
    let server = TestServer::start();
    server.state.with(|i| {
        i.fail.push_back(Fail::Status(500));
        i.fail.push_back(Fail::Status(503));
        i.fail.push_back(Fail::StatusRetryAfter(429, 1));
    });
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(config(&server.endpoint(), dir.path())).unwrap();
    for i in 0..100 {
        client.record(event("a", &format!("e{i}"), 200));
    }
    let start = Instant::now();
    assert!(wait_until(Duration::from_secs(20), || client
        .metrics()
        .delivered
        == 100));
    let m = client.metrics();
    assert_eq!(m.retries, 3, "{m:?}");
    assert_eq!(server.state.unique(), 100);
    assert_eq!(m.dropped + m.rejected, 0);
    // The 429 said one second: the next attempt waited at least that long.
    let times = server.state.with(|i| i.post_times.clone());
    assert_eq!(times.len(), 4);
    assert!(
        times[3] - times[2] >= Duration::from_millis(950),
        "{:?}",
        times[3] - times[2]
    );
    assert!(start.elapsed() >= Duration::from_millis(950));
    client.shutdown(Duration::from_secs(5));
}

#[test]
fn slow_server_never_slows_record() {
    let server = TestServer::start();
    server.state.with(|i| i.delay = Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&server.endpoint(), dir.path());
    cfg.batch_size = 100;
    cfg.max_in_memory_batches = 2;
    let client = Client::new(cfg).unwrap();
    for i in 0..5000 {
        let e = event("a", &format!("e{i}"), 300);
        assert!(client.record(e), "record() refused event {i}");
    }
    // record() returned 5000 times while the server, taking 300 ms per batch
    // of 100, had stored only part of them: nothing waited on delivery.
    // (Latency itself is measured by `cargo bench --bench client`, not here.)
    let stored_when_recording_ended = server.state.unique();
    assert!(
        stored_when_recording_ended < 5000,
        "record() waited for the server: {stored_when_recording_ended} stored already"
    );
    let r = client.flush(Duration::from_secs(60));
    assert!(r.complete, "{r:?}");
    let m = client.metrics();
    assert!(m.spooled > 0, "a slow server spills to the spool: {m:?}");
    assert!(wait_until(Duration::from_secs(60), || server
        .state
        .unique()
        == 5000));
    assert_eq!(client.metrics().delivered, 5000);
    client.shutdown(Duration::from_secs(5));
}

#[test]
fn refused_batch_goes_to_rejected_dir() {
    let server = TestServer::start();
    server.state.with(|i| i.fail.push_back(Fail::Status(400)));
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&server.endpoint(), dir.path());
    cfg.batch_size = 10;
    cfg.linger = Duration::from_secs(5);
    let client = Client::new(cfg).unwrap();
    for i in 0..20 {
        client.record(event("a", &format!("e{i}"), 200));
    }
    let r = client.flush(Duration::from_secs(10));
    assert!(r.complete);
    assert_eq!((r.delivered, r.rejected), (10, 10), "{r:?}");
    assert_eq!(server.state.unique(), 10);
    let files: Vec<_> = std::fs::read_dir(dir.path().join("rejected"))
        .unwrap()
        .collect();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["status"], 400);
    assert_eq!(v["answer"]["error"], "test");
    assert_eq!(v["batch"]["events"].as_array().unwrap().len(), 10);
    assert!(client.metrics().last_error.unwrap().contains("400"));

    // Per-event errors inside a 2xx answer.
    server.state.with(|i| i.refuse_name = Some("bad".into()));
    client.record(event("a", "bad", 200));
    client.record(event("a", "good", 200));
    let r = client.flush(Duration::from_secs(10));
    assert_eq!((r.delivered, r.rejected), (11, 11), "{r:?}");
    let files = std::fs::read_dir(dir.path().join("rejected"))
        .unwrap()
        .count();
    assert_eq!(files, 2);
    client.shutdown(Duration::from_secs(5));
}

#[test]
fn torn_spool_tail_is_cut_and_the_rest_replays() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");
    {
        let mut cfg = config(&endpoint, dir.path());
        cfg.batch_size = 100;
        cfg.linger = Duration::from_secs(10);
        let client = Client::new(cfg).unwrap();
        for i in 0..300 {
            client.record(event("a", &format!("e{i}"), 200));
        }
        let r = client.shutdown(Duration::from_secs(10));
        assert_eq!(r.spooled, 300, "{r:?}");
    }
    // A crash mid-write: the last frame loses its end.
    let seg = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .max()
        .unwrap();
    let len = std::fs::metadata(&seg).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(len - 17)
        .unwrap();

    let server = TestServer::start_on(port, Shared::default());
    let client = Client::new(config(&endpoint, dir.path())).unwrap();
    assert!(client.metrics().spool_torn_bytes > 0);
    assert!(
        wait_until(Duration::from_secs(20), || client.metrics().delivered
            == 200),
        "{:?}",
        client.metrics()
    );
    let names = server.state.with(|i| {
        let mut v: Vec<u64> = i
            .events
            .values()
            .map(|(_, n)| n.as_ref().unwrap()[1..].parse().unwrap())
            .collect();
        v.sort();
        v
    });
    assert_eq!(names, (0..200).collect::<Vec<u64>>());
    client.shutdown(Duration::from_secs(5));
}

#[test]
fn spool_cap_counts_logs_and_loses_nothing_else() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut cfg = config(&endpoint, dir.path());
    cfg.batch_size = 100;
    cfg.spool_max_bytes = 200 * 1024;
    let client = Client::new(cfg).unwrap();
    for i in 0..3000 {
        client.record(event("a", &format!("e{i}"), 300));
    }
    let r = client.flush(Duration::from_secs(10));
    let m = client.metrics();
    assert!(m.dropped_spool_full > 0, "{m:?}");
    assert_eq!(m.spooled + m.dropped_spool_full, 3000, "{m:?}");
    assert_eq!(m.dropped, m.dropped_spool_full);
    assert!(m.spool_bytes <= 200 * 1024);
    assert_eq!(r.dropped, m.dropped);
    let spooled = m.spooled;

    let server = TestServer::start_on(port, Shared::default());
    assert!(
        wait_until(Duration::from_secs(20), || client.metrics().delivered
            == spooled),
        "{:?}",
        client.metrics()
    );
    assert_eq!(server.state.unique() as u64, spooled);
    // After the server is back, new events flow normally.
    for i in 0..100 {
        client.record(event("a", &format!("n{i}"), 300));
    }
    let r = client.flush(Duration::from_secs(10));
    assert_eq!(r.delivered, spooled + 100, "{r:?}");
    client.shutdown(Duration::from_secs(5));
}

#[test]
fn queue_full_drops_newest_and_counts() {
    let server = TestServer::start();
    server.state.with(|i| i.delay = Duration::from_millis(500));
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&server.endpoint(), dir.path());
    cfg.queue_capacity = 100;
    cfg.batch_size = 10;
    cfg.max_in_memory_batches = 1;
    cfg.overflow = OverflowPolicy::DropNewest;
    let client = Client::new(cfg).unwrap();
    let mut ok = 0;
    for i in 0..2000 {
        if client.record(event("a", &format!("e{i}"), 100)) {
            ok += 1;
        }
    }
    let m = client.metrics();
    assert!(m.dropped_queue_full > 0, "{m:?}");
    assert_eq!(m.recorded, ok);
    assert_eq!(m.recorded + m.dropped_queue_full, 2000);
    let r = client.shutdown(Duration::from_secs(30));
    assert!(r.complete, "{r:?}");
    assert_eq!(r.delivered + r.spooled, ok, "{r:?}");
    assert!(
        !client.record(event("a", "late", 10)),
        "record after shutdown is refused"
    );
}

/// A tool output a web page can plant (`sk-` repeated over 120 KB) used to
/// cost the worker seconds of redaction per copy; the 50 calls after it sat
/// in the queue past `shutdown(5 s)` and were lost. Redaction is linear now:
/// all 102 events are delivered well within the deadline.
#[test]
fn hostile_tool_output_does_not_stall_the_calls_after_it() {
    use sealtrail_core::capture::Context;
    use sealtrail_core::client::{EndedCall, Payload, ToolSpec};
    use sealtrail_core::{EventId, Timestamp};
    use serde_json::json;

    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(config(&server.endpoint(), dir.path())).unwrap();
    let tool = std::sync::Arc::new(ToolSpec {
        agent_id: "a".into(),
        name: "browse".into(),
        attrs: None,
        redact: None,
    });
    let call = |inputs: serde_json::Value, outputs: serde_json::Value| {
        let t0 = std::time::SystemTime::now();
        EndedCall {
            tool: tool.clone(),
            ctx: Context::default(),
            call_id: EventId::generate_at(t0),
            started: Timestamp::at(t0),
            end_id: EventId::generate(),
            ended: Timestamp::now(),
            latency_ms: Some(1),
            inputs: Some(Payload::Value(inputs)),
            outputs: Some(Payload::Value(outputs)),
            error: None,
        }
    };
    let hostile = "sk-".repeat(40_000);
    assert_eq!(hostile.len(), 120_000);
    assert!(client.record_call(call(
        json!({"url": "https://example.com/planted"}),
        json!({"text": hostile}),
    )));
    for i in 0..50 {
        assert!(client.record_call(call(json!({"i": i}), json!({"ok": i}))));
    }
    let r = client.shutdown(Duration::from_secs(5));
    assert!(r.complete, "{r:?}");
    assert_eq!((r.delivered, r.queued, r.dropped), (102, 0, 0), "{r:?}");
    assert_eq!(server.state.unique(), 102);
}
