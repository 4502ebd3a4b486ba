//! Drives the redactor for `tests/redaction/presidio_compare.py`, so that the
//! comparison runs this crate's code and no logic is repeated in Python.
//!
//! ```text
//! redact_corpus eval  <corpus.jsonl>      per-item findings (char offsets) + MB/s
//! redact_corpus logs  <dir> [--kib N]     writes logs_pii.txt and logs_clean.txt
//! redact_corpus speed <file>              MB/s over the file, in chunks of whole lines
//! ```
//! Output is one JSON object on stdout. IP redaction is on only for corpus
//! items labelled `ip`, as in `core/tests/redact_accuracy.rs`.

use std::time::{Duration, Instant};

use sealtrail_core::redact::{PiiReport, RedactConfig, Redactor};
use serde_json::{json, Value};

#[path = "../benches/agentlog.rs"]
mod agentlog;

fn die(msg: &str) -> ! {
    eprintln!("redact_corpus: {msg}");
    std::process::exit(2)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| die(&format!("{path}: {e}")))
}

/// Char offset of every byte offset we report (Python indexes by code point).
fn char_off(text: &str, byte: usize) -> usize {
    text[..byte].chars().count()
}

/// Redacts every text repeatedly for at least `min`: (MB/s, bytes per round, seconds per round, rounds).
fn throughput(red: &[&Redactor], texts: &[&str], min: Duration) -> (f64, usize, f64, usize) {
    let bytes: usize = texts.iter().map(|t| t.len()).sum();
    let start = Instant::now();
    let mut rounds = 0usize;
    while rounds == 0 || start.elapsed() < min {
        for (k, t) in texts.iter().enumerate() {
            let mut rep = PiiReport::new();
            std::hint::black_box(red[k % red.len()].redact_text(t, &mut rep));
        }
        rounds += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    (
        bytes as f64 * rounds as f64 / secs / 1e6,
        bytes,
        secs / rounds as f64,
        rounds,
    )
}

/// Time this thread has spent on a CPU (Linux): figures on a shared machine
/// are otherwise diluted by waiting for a core.
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace()
        .next()?
        .parse()
        .ok()
        .map(Duration::from_nanos)
}

fn eval(path: &str) -> Value {
    let default = Redactor::new(RedactConfig::default()).unwrap_or_else(|e| die(&e.to_string()));
    let with_ip = Redactor::new(RedactConfig {
        ip: true,
        ..RedactConfig::default()
    })
    .unwrap_or_else(|e| die(&e.to_string()));
    let text = read(path);
    let items: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| die(&format!("{path}: {e}"))))
        .collect();
    let mut out = Vec::new();
    let mut texts = Vec::new();
    let mut reds = Vec::new();
    for it in &items {
        let t = it["text"].as_str().unwrap_or_default();
        let red = if it["type"] == "ip" {
            &with_ip
        } else {
            &default
        };
        let found: Vec<Value> = red
            .find(t)
            .into_iter()
            .map(|f| json!({"start": char_off(t, f.start), "end": char_off(t, f.end), "type": f.pii_type.as_str(), "rule": f.rule}))
            .collect();
        out.push(json!({"id": it["id"], "found": found}));
        texts.push(t);
        reds.push(red);
    }
    // Per-item redactor choice, timed as one pass over all items.
    let cpu0 = thread_cpu();
    let start = Instant::now();
    let mut rounds = 0;
    while rounds == 0 || start.elapsed() < Duration::from_millis(500) {
        for (t, red) in texts.iter().zip(&reds) {
            let mut rep = PiiReport::new();
            std::hint::black_box(red.redact_text(t, &mut rep));
        }
        rounds += 1;
    }
    let secs = start.elapsed().as_secs_f64() / f64::from(rounds);
    let bytes: usize = texts.iter().map(|t| t.len()).sum();
    let on_cpu = cpu0
        .zip(thread_cpu())
        .map(|(a, b)| (bytes as f64 * f64::from(rounds)) / (b - a).as_secs_f64() / 1e6);
    json!({"tool": "sealtrail", "bytes": bytes, "seconds": secs, "mb_per_s": bytes as f64 / secs / 1e6, "mb_per_s_on_cpu": on_cpu, "items": out})
}

/// Chunks of whole lines of at most 4 KiB: the unit both tools are given.
pub fn chunks(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut last_nl = 0;
    for (i, c) in text.char_indices() {
        if c == '\n' {
            if i + 1 - start > 4096 && last_nl > start {
                out.push(&text[start..last_nl]);
                start = last_nl;
            }
            last_nl = i + 1;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| {
        args.get(i)
            .map(String::as_str)
            .unwrap_or_else(|| die("missing argument; see the file header"))
    };
    let result = match arg(0) {
        "eval" => eval(arg(1)),
        "logs" => {
            let dir = std::path::Path::new(arg(1));
            let kib: usize = match args.get(2).map(String::as_str) {
                Some("--kib") => arg(3)
                    .parse()
                    .unwrap_or_else(|_| die("--kib takes a number")),
                _ => 2048,
            };
            std::fs::create_dir_all(dir).unwrap_or_else(|e| die(&e.to_string()));
            let mut files = Vec::new();
            for (name, every) in [("logs_pii.txt", Some(200)), ("logs_clean.txt", None)] {
                let text = agentlog::corpus(kib * 1024, every, 7);
                let p = dir.join(name);
                std::fs::write(&p, &text).unwrap_or_else(|e| die(&e.to_string()));
                files.push(json!({"path": p, "bytes": text.len()}));
            }
            json!({"files": files})
        }
        "speed" => {
            let text = read(arg(1));
            let red =
                Redactor::new(RedactConfig::default()).unwrap_or_else(|e| die(&e.to_string()));
            let parts = chunks(&text);
            let mut rep = PiiReport::new();
            for p in &parts {
                red.redact_text(p, &mut rep);
            }
            let cpu0 = thread_cpu();
            let (mbs, bytes, secs, rounds) = throughput(&[&red], &parts, Duration::from_secs(1));
            let on_cpu = cpu0
                .zip(thread_cpu())
                .map(|(a, b)| (bytes * rounds) as f64 / (b - a).as_secs_f64() / 1e6);
            json!({"tool": "sealtrail", "file": arg(1), "bytes": bytes, "chunks": parts.len(), "rounds": rounds, "seconds": secs, "mb_per_s": mbs, "mb_per_s_on_cpu": on_cpu, "findings": rep.counts()})
        }
        other => die(&format!(
            "unknown command {other:?}; use eval, logs or speed"
        )),
    };
    println!("{result}");
}
