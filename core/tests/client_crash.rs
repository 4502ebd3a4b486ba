//! SIGKILL in the middle of a burst of 100,000 events, then a restart with
//! the same spool: every event among the last reported `persisted`
//! watermark is delivered exactly once.
//!
//! The child is this same test binary re-run with `BURST_CHILD_SPOOL` set
//! (the `burst_child` test then records the burst and prints the watermark
//! after every 1,000 records).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use sealtrail_core::client::Client;

const N: usize = 100_000;

#[test]
fn burst_child() {
    let (Ok(spool), Ok(endpoint)) = (
        std::env::var("BURST_CHILD_SPOOL"),
        std::env::var("BURST_CHILD_ENDPOINT"),
    ) else {
        return; // only runs as the child of the test below
    };
    let mut cfg = config(&endpoint, std::path::Path::new(&spool));
    cfg.batch_size = 512;
    cfg.max_in_memory_batches = 2;
    let client = Client::new(cfg).unwrap();
    let mut last = 0;
    for i in 0..N {
        assert!(client.record(event("burst", &format!("b{i}"), 300)));
        if i % 1000 == 999 {
            let p = client.metrics().persisted;
            if std::env::var("BURST_DEBUG").is_ok() && i % 10000 == 9999 {
                eprintln!("{:?}", client.metrics());
            }
            if p != last {
                println!("persisted {p}");
                last = p;
            }
            // Pace the burst a little so the kill lands mid-way.
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    client.flush(Duration::from_secs(60));
    println!("persisted {}", client.metrics().persisted);
    println!("done");
}

#[test]
fn sigkill_mid_burst_then_restart_delivers_exactly_once() {
    let server = TestServer::start();
    server.state.with(|i| i.delay = Duration::from_millis(40));
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "burst_child", "--nocapture", "--test-threads=1"])
        .env("BURST_CHILD_SPOOL", dir.path())
        .env("BURST_CHILD_ENDPOINT", server.endpoint())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut last = 0u64;
    let mut killed = false;
    let mut lines = out.lines();
    while let Some(Ok(line)) = lines.next() {
        if let Some(p) = line.strip_prefix("persisted ") {
            last = p.trim().parse().unwrap();
            if last >= 5_000 && !killed {
                child.kill().unwrap(); // SIGKILL
                killed = true;
            }
        }
    }
    child.wait().unwrap();
    assert!(killed, "the child finished before it could be killed");
    assert!(last >= 5_000 && (last as usize) < N, "{last}");

    // Restart with the same spool and a prompt server.
    server.state.with(|i| i.delay = Duration::ZERO);
    let client = Client::new(config(&server.endpoint(), dir.path())).unwrap();
    let r = client.flush(Duration::from_secs(60));
    assert!(r.complete, "{r:?}");
    let m = client.metrics();
    let stored = server.state.with(|i| {
        let mut names: Vec<usize> = i
            .events
            .values()
            .map(|(_, n)| n.as_ref().unwrap()[1..].parse().unwrap())
            .collect();
        names.sort_unstable();
        names
    });
    // Exactly once: no name stored twice (ids are unique per event and the
    // server dedupes resends; names are unique per event too).
    let mut dedup = stored.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), stored.len(), "an event was stored twice");
    // Every event before the watermark is there.
    let missing: Vec<usize> = (0..last as usize)
        .filter(|i| stored.binary_search(i).is_err())
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "lost events below the watermark {last}: {missing:?} (metrics {m:?})"
    );
    eprintln!(
        "killed at persisted={last}; stored after restart {} (replayed {}, server duplicates {})",
        stored.len(),
        m.replayed,
        server.state.with(|i| i.duplicates)
    );
    client.shutdown(Duration::from_secs(5));
}
