//! Redaction time on hostile text: each detector's own prefixes, key names
//! and separators repeated, at 16 KiB and 256 KiB, in ms per MiB (linear
//! work gives the same figure at both sizes; quadratic work 16 times more
//! at the larger). One core, wall clock.
//!
//! `cargo bench -p sealtrail-core --bench redact_hostile`
//!
//! To compare with another build (an older commit), run that one with
//! `REDACT_HOSTILE_SAVE=/tmp/before.txt`, then this one with
//! `REDACT_HOSTILE_BEFORE=/tmp/before.txt`: a before/after column is added.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use sealtrail_core::redact::{CustomRule, PiiReport, RedactConfig, Redactor};

const PATTERNS: &[(&str, &str)] = &[
    ("sk-", "sk-"),
    ("AKIA", "AKIA"),
    ("xoxb-", "xoxb-"),
    ("AIza", "AIza"),
    ("password:", "password:"),
    ("password=", "password="),
    ("\"password\": \"", "\"password\": \""),
    ("Authorization: ", "Authorization: "),
    ("ghp_", "ghp_"),
    ("eyJ", "eyJ"),
    ("eyJaaaaaaaaaa.", "eyJaaaaaaaaaa."),
    ("-----BEGIN PRIVATE KEY-----", "-----BEGIN PRIVATE KEY-----"),
    ("Bearer ", "Bearer "),
    ("a@", "a@"),
    ("1-", "1-"),
    ("4111 ", "4111 "),
    ("DE89 ", "DE89 "),
    ("1:", "1:"),
    ("custom a[a-z:]*b|a", "a"),
];

fn repeated(unit: &str, size: usize) -> String {
    let mut s = unit.repeat(size / unit.len() + 1);
    let mut cut = size;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s
}

/// ms per MiB of `text`: runs for about 0.2 s (at least once).
fn ms_per_mib(red: &Redactor, text: &str) -> f64 {
    let start = Instant::now();
    let mut runs = 0u32;
    while runs == 0 || start.elapsed() < Duration::from_millis(200) {
        let mut rep = PiiReport::new();
        black_box(red.redact_text(black_box(text), &mut rep).len());
        runs += 1;
    }
    let secs = start.elapsed().as_secs_f64() / f64::from(runs);
    secs * 1e3 * (1 << 20) as f64 / text.len() as f64
}

fn main() {
    let plain = Redactor::new(RedactConfig {
        ip: true,
        ..RedactConfig::default()
    })
    .expect("config");
    let custom = Redactor::new(RedactConfig {
        custom_rules: vec![CustomRule {
            name: "lookahead".into(),
            pattern: r"a[a-z:]*b|a".into(),
        }],
        ..RedactConfig::default()
    })
    .expect("config");
    let before: HashMap<String, f64> = std::env::var("REDACT_HOSTILE_BEFORE")
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| {
            t.lines()
                .filter_map(|l| {
                    let (k, v) = l.rsplit_once('\t')?;
                    Some((k.to_string(), v.parse().ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut save = String::new();
    let sizes = [16 << 10, 256 << 10];
    println!(
        "{:<30} {:>14} {:>14} {:>9}{}",
        "pattern (repeated)",
        "16 KiB ms/MiB",
        "256 KiB ms/MiB",
        "256/16",
        if before.is_empty() {
            ""
        } else {
            "   before 16 KiB  before 256 KiB   speed-up at 256 KiB"
        }
    );
    for &(name, unit) in PATTERNS {
        let red = if name.starts_with("custom") {
            &custom
        } else {
            &plain
        };
        let t: Vec<f64> = sizes
            .iter()
            .map(|&n| ms_per_mib(red, &repeated(unit, n)))
            .collect();
        let mut line = format!(
            "{:<30} {:>14.2} {:>14.2} {:>9.2}",
            name,
            t[0],
            t[1],
            t[1] / t[0]
        );
        for (n, v) in sizes.iter().zip(&t) {
            save.push_str(&format!("{name} {n}\t{v}\n"));
        }
        let b16 = before.get(&format!("{name} {}", sizes[0]));
        let b256 = before.get(&format!("{name} {}", sizes[1]));
        if let (Some(b16), Some(b256)) = (b16, b256) {
            line.push_str(&format!(
                " {:>16.2} {:>15.2} {:>20.0}x",
                b16,
                b256,
                b256 / t[1]
            ));
        }
        println!("{line}");
    }
    if let Ok(p) = std::env::var("REDACT_HOSTILE_SAVE") {
        std::fs::write(&p, save).expect("writing REDACT_HOSTILE_SAVE");
    }
}
