//! Client benchmarks; prints a table. `cargo bench -p sealtrail-core --bench client`
//!
//! - record() latency p50/p99 for a ~1 KiB event from 1 and 8 threads
//! - worker throughput: events/s redacted (no-op hook), validated,
//!   canonicalised, hashed, batched and delivered to a loopback HTTP sink
//! - bytes of memory per queued event (counting allocator)
//!
//! Worker throughput is printed twice: by wall clock, and per second of the
//! worker thread's own CPU time (`sealtrail-worker`, from
//! `/proc/self/task/TID/schedstat`), which is what "events/s on one core"
//! means on a machine whose other cores are busy with the recording thread,
//! the sink, or other people's work.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sealtrail_core::client::{Client, ClientConfig, Compression};
use sealtrail_core::{Event, EventType};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}
#[global_allocator]
static A: Counting = Counting;

fn event_1k(i: usize) -> Event {
    let mut e = Event::new(EventType::ToolCall, "bench-agent");
    e.name = Some("search".into());
    e.session_id = Some(format!("s{}", i % 100));
    e.inputs =
        Some(serde_json::json!({"query": "x".repeat(700), "n": i, "opts": {"k": 5, "lang": "en"}}));
    e.outputs = Some(serde_json::json!({"hits": ["a", "b", "c"]}));
    e
}

/// A minimal HTTP/1.1 keep-alive sink answering every POST with 200 and an
/// empty receipts list (the client counts the batch as delivered).
fn sink() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let _ = s.set_nodelay(true);
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 20];
                let mut have = Vec::new();
                loop {
                    let n = match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    have.extend_from_slice(&buf[..n]);
                    while let Some(h) = have.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&have[..h]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if have.len() < h + 4 + len {
                            break;
                        }
                        have.drain(..h + 4 + len);
                        let body = br#"{"receipts":[],"errors":[]}"#;
                        let resp = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", body.len());
                        let mut out = resp.into_bytes();
                        out.extend_from_slice(body);
                        if s.write_all(&out).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

fn pct(v: &mut [u64], p: f64) -> u64 {
    v.sort_unstable();
    v[((v.len() as f64 - 1.0) * p) as usize]
}

fn record_latency(endpoint: &str, threads: usize, per_thread: usize) -> (u64, u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ClientConfig::default();
    cfg.set("endpoint", endpoint).unwrap();
    cfg.api_key = Some("k".into());
    cfg.spool_dir = dir.path().to_path_buf();
    cfg.compression = Compression::None;
    cfg.queue_capacity = 1_000_000;
    let client = Arc::new(Client::new(cfg).unwrap());
    let mut hs = Vec::new();
    for t in 0..threads {
        let c = client.clone();
        hs.push(std::thread::spawn(move || {
            let events: Vec<Event> = (0..per_thread)
                .map(|i| event_1k(t * per_thread + i))
                .collect();
            let mut lat = Vec::with_capacity(per_thread);
            for e in events {
                let s = Instant::now();
                c.record(e);
                lat.push(s.elapsed().as_nanos() as u64);
            }
            lat
        }));
    }
    let mut all: Vec<u64> = hs.into_iter().flat_map(|h| h.join().unwrap()).collect();
    client.shutdown(Duration::from_secs(60));
    let dropped = client.metrics().dropped;
    (pct(&mut all, 0.5), pct(&mut all, 0.99), dropped)
}

/// Ids of this process's threads named `name` (Linux; empty elsewhere).
fn threads_named(name: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        // The kernel keeps the first 15 bytes of a thread's name.
        (comm.trim_end() == &name[..name.len().min(15)])
            .then(|| e.file_name().to_str()?.parse().ok())?
    })
    .collect()
}

/// CPU time thread `tid` has used so far: nanoseconds on-CPU from
/// `schedstat`, else utime + stime from `stat` (clock ticks, 100 Hz).
fn thread_cpu(tid: u32) -> Option<Duration> {
    let base = format!("/proc/self/task/{tid}");
    if let Ok(s) = std::fs::read_to_string(format!("{base}/schedstat")) {
        if let Some(ns) = s.split_whitespace().next().and_then(|v| v.parse().ok()) {
            return Some(Duration::from_nanos(ns));
        }
    }
    let stat = std::fs::read_to_string(format!("{base}/stat")).ok()?;
    // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// (events/s by wall clock, events/s of worker CPU time, events spooled)
fn throughput(endpoint: &str, n: usize, comp: Compression) -> (f64, Option<f64>, u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ClientConfig::default();
    cfg.set("endpoint", endpoint).unwrap();
    cfg.api_key = Some("k".into());
    cfg.spool_dir = dir.path().to_path_buf();
    cfg.compression = comp;
    cfg.queue_capacity = n + 1;
    // Measure the send path: no spilling to disk at the high-water mark.
    cfg.high_water = 1.0;
    cfg.max_in_memory_batches = 1_000;
    let before = threads_named("sealtrail-worker");
    let client = Client::new(cfg).unwrap();
    // The new client's worker: the one thread of that name not there before
    // (a new thread names itself once it runs, so give it a moment).
    let mut worker = None;
    for _ in 0..1000 {
        worker = threads_named("sealtrail-worker")
            .into_iter()
            .find(|t| !before.contains(t));
        if worker.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let events: Vec<Event> = (0..n).map(event_1k).collect();
    let cpu0 = worker.and_then(thread_cpu);
    let start = Instant::now();
    for e in events {
        client.record(e);
    }
    let r = client.flush(Duration::from_secs(120));
    let secs = start.elapsed().as_secs_f64();
    let cpu = worker
        .and_then(thread_cpu)
        .zip(cpu0)
        .map(|(b, a)| (b - a).as_secs_f64());
    assert!(r.complete, "{r:?}");
    let m = client.metrics();
    client.shutdown(Duration::from_secs(60));
    (n as f64 / secs, cpu.map(|c| n as f64 / c), m.spooled)
}

fn memory_per_queued(n: usize) -> (f64, f64) {
    // The queue's own types: a bounded tokio mpsc of Box<Event>, as in Client.
    let (tx, rx) = tokio::sync::mpsc::channel::<Box<Event>>(n);
    let before = LIVE.load(Ordering::Relaxed);
    let one = event_1k(0);
    let one_heap = LIVE.load(Ordering::Relaxed) - before;
    drop(one);
    let before = LIVE.load(Ordering::Relaxed);
    for i in 0..n {
        tx.try_send(Box::new(event_1k(i))).unwrap();
    }
    let per_queued = (LIVE.load(Ordering::Relaxed) - before) as f64 / n as f64;
    drop(rx);
    (one_heap as f64, per_queued)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let ep = sink();
    let canonical = event_1k(0).canonical_bytes().len();
    println!("sealtrail client benchmark (event: {canonical} bytes canonical)\n");
    println!("| measure | value |");
    println!("| --- | --- |");
    for threads in [1, 8] {
        let (p50, p99, dropped) = record_latency(&ep, threads, 100_000);
        println!(
            "| record() p50 / p99, {threads} thread(s) | {p50} ns / {p99} ns (dropped {dropped}) |"
        );
    }
    for comp in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let (eps, cpu_eps, spooled) = throughput(&ep, 200_000, comp);
        let cpu_eps = cpu_eps.map_or("n/a".to_string(), |c| format!("{c:.0}"));
        println!(
            "| worker throughput to loopback sink, {} | {eps:.0} events/s wall, {cpu_eps} events/s of worker CPU (spooled {spooled}) |",
            comp.as_str(),
        );
    }
    let (ev, q) = memory_per_queued(100_000);
    println!("| heap of one ~1 KiB event (its JSON values) | {ev:.0} bytes |");
    println!("| memory per queued event (values + boxed Event + queue slot) | {q:.0} bytes |");
}
