//! Per-stage cost of the worker's per-event path on the client benchmark's
//! event (`benches/client.rs`): redact, validate, canonicalise, hash, append
//! to the batch body, drop. Each stage runs over a batch of prepared events
//! and is timed by this thread's on-CPU time, so other load on the machine
//! does not count. `cargo bench -p sealtrail-core --bench stages`
//! (`STAGES_N=2000` for a short run, e.g. under `valgrind --tool=callgrind`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use sealtrail_core::client::redaction::redactor_for;
use sealtrail_core::client::wire::BodyBuilder;
use sealtrail_core::client::{ClientConfig, EventRedactor};
use sealtrail_core::hash::sha256;
use sealtrail_core::{Event, EventType, Limits};

fn event_1k(i: usize) -> Event {
    let mut e = Event::new(EventType::ToolCall, "bench-agent");
    e.name = Some("search".into());
    e.session_id = Some(format!("s{}", i % 100));
    e.inputs =
        Some(serde_json::json!({"query": "x".repeat(700), "n": i, "opts": {"k": 5, "lang": "en"}}));
    e.outputs = Some(serde_json::json!({"hits": ["a", "b", "c"]}));
    e
}

/// CPU time of this thread, exact to the nanosecond (Linux:
/// `CLOCK_THREAD_CPUTIME_ID`; `/proc/thread-self/schedstat` is only brought
/// up to date at scheduler ticks while a thread runs), else wall time.
#[cfg(target_os = "linux")]
fn now() -> Duration {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: a valid pointer to a timespec-shaped struct (64-bit Linux).
    if unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
        Duration::new(ts.sec as u64, ts.nsec as u32)
    } else {
        wall()
    }
}

#[cfg(not(target_os = "linux"))]
fn now() -> Duration {
    wall()
}

fn wall() -> Duration {
    static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    T0.get_or_init(Instant::now).elapsed()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("STAGES_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rounds = if n < 10_000 { 1 } else { 5 };
    let redactor = redactor_for(&ClientConfig::default()).expect("default redaction");
    let limits = Limits::default();
    let stages = [
        "redact",
        "validate",
        "canonicalise",
        "sha256",
        "body push + free canonical",
        "drop event",
    ];
    let mut best = [f64::MAX; 6];
    let mut best_fused = f64::MAX;
    // Chunks of a thousand events, so that memory is reused as in the
    // worker (no first-touch page faults in the figures); the body is cut
    // every `batch_size` events, with the capacity the worker gives it.
    const CHUNK: usize = 1000;
    let batch = ClientConfig::default().batch_size;
    for _ in 0..rounds {
        let mut all: Vec<Event> = (0..n).map(event_1k).collect();
        let mut t = [Duration::ZERO; 7];
        let mut fused = Duration::ZERO;
        while !all.is_empty() {
            let mut evs = all.split_off(all.len().saturating_sub(CHUNK));
            let mut s = now();
            let mut lap = |i: usize, t: &mut [Duration; 7]| {
                let e = now();
                t[i] += e - s;
                s = e;
            };
            for e in &mut evs {
                redactor.redact(e);
            }
            lap(0, &mut t);
            for e in &evs {
                black_box(e.validate(&limits)).expect("valid");
            }
            lap(1, &mut t);
            // What the worker does now: canonical form written and hashed
            // in place in the batch body (timed apart, not in the total).
            let f0 = now();
            for es in evs.chunks(batch) {
                let mut body = BodyBuilder::for_events(batch);
                for e in es {
                    body.push_event(e, limits.max_event_bytes).expect("fits");
                }
                black_box(body.finish());
            }
            fused += now() - f0;
            lap(6, &mut t);
            let canon: Vec<Vec<u8>> = evs.iter().map(|e| e.canonical_bytes()).collect();
            lap(2, &mut t);
            let hashes: Vec<_> = canon.iter().map(|c| sha256(c)).collect();
            lap(3, &mut t);
            for (cs, hs) in canon.chunks(batch).zip(hashes.chunks(batch)) {
                let mut body = BodyBuilder::with_capacity(cs[0].len() * batch);
                for (c, h) in cs.iter().zip(hs) {
                    body.push(c, h);
                }
                black_box(body.finish());
            }
            drop(canon);
            lap(4, &mut t);
            drop(evs);
            lap(5, &mut t);
        }
        for i in 0..6 {
            best[i] = best[i].min(t[i].as_secs_f64() * 1e9 / n as f64);
        }
        best_fused = best_fused.min(fused.as_secs_f64() * 1e9 / n as f64);
    }
    let canonical = event_1k(0).canonical_bytes().len();
    println!("worker stages per event ({canonical} bytes canonical), best of {rounds} x {n}, on-CPU ns\n");
    println!("| stage | ns/event |");
    println!("| --- | ---: |");
    for (s, b) in stages.iter().zip(best) {
        println!("| {s} | {b:.0} |");
    }
    let total: f64 = best.iter().sum();
    println!("| total | {total:.0} (= {:.0} events/s) |", 1e9 / total);
    println!(
        "| (worker path: canonicalise + sha256 + push, in place in the body) | {best_fused:.0} |"
    );
}
